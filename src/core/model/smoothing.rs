//! Seasonal regression + robust damped-trend exponential smoothing.
//!
//! The seasonal shape (daily and weekly Fourier terms, no trend, robust fit)
//! is removed first; what remains is followed by Holt's linear method with a
//! damped trend (Gardner & McKenzie):
//!
//! ```text
//! level_t = level_{t−1} + φ·trend_{t−1} + α·e_t
//! trend_t = φ·trend_{t−1} + β·e_t            e_t = d_t − (level_{t−1} + φ·trend_{t−1})
//! ŷ_{T+h} = season_{T+h} + level_T + (φ + φ² + … + φ^h)·trend_T
//! ```
//!
//! The state is two numbers whatever the season length (288, 2016, 1440 or
//! 10080 steps), where Holt-Winters keeps one per step of the season.
//!
//! Robustness (the failure of MSTL+ETS and undamped Holt-Winters on real
//! traces is to carry a burst at the end of the history through the whole
//! horizon): an error beyond [`OUTLIER_SIGMAS`] robust standard deviations
//! does not move the state. Only when such errors persist, all on one side,
//! for [`CONFIRM_SECS`] does the level move, at once, to their median: a
//! lasting shift. Shorter bursts are left to the intervals.
//!
//! α, β and φ are fitted: the combination with the least Huber loss of the
//! one-step errors over the last [`SMOOTHING_WINDOW`] steps (or two
//! confirmation spans, if longer) wins. Unknown steps advance the state
//! without an update.

use super::regression::{FittedFourierTrend, FourierTrend, Loss};
use super::{Fitted, Forecaster, Grid, ModelError};
use crate::core::stats::median;

/// Smoothing of the level: from nearly fixed to nearly the last value.
const ALPHAS: [f64; 6] = [0.01, 0.03, 0.1, 0.2, 0.4, 0.7];
/// Smoothing of the trend, as a share of α (β ≤ α keeps the trend calmer
/// than the level); 0 is no trend.
const BETA_SHARES: [f64; 2] = [0.0, 0.1];
/// Trend damping per step: 0.98 halves a trend in 34 steps, 0.998 in 346.
/// (0.9, a trend gone within the hour, won 1 of the 8 fits on the shared
/// traces that learnt a trend, and no score changed when it was dropped;
/// measured before the trend gain was corrected from α²·share to α·share.)
const PHIS: [f64; 2] = [0.98, 0.998];
/// An error this many robust standard deviations from the expected value is
/// an outlier: it does not move the state on its own.
pub const OUTLIER_SIGMAS: f64 = 4.0;
/// Outliers all on one side for this long are a level shift (6 hours).
pub const CONFIRM_SECS: i64 = 6 * 3600;
/// Steps of the seasonal remainder the smoothing runs over: the last ones.
/// The state forgets what is older (with the smallest α, 0.01, a value
/// 4096 steps back keeps a weight of 1e-18), so running over the whole
/// history would only cost time; the parameters are chosen on how they
/// followed this recent stretch.
pub const SMOOTHING_WINDOW: usize = 4096;
/// Huber's constant for the loss that fits α, β, φ (in robust standard deviations).
const LOSS_K: f64 = 2.0;

/// Seasonal regression + robust damped Holt on what it leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DampedTrend {
    pub daily: bool,
    pub weekly: bool,
}

/// The smoothing parameters and the state at the end of the history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Smoothing {
    pub alpha: f64,
    pub beta: f64,
    pub phi: f64,
    pub level: f64,
    pub trend: f64,
}

/// A fitted [`DampedTrend`].
#[derive(Debug, Clone)]
pub struct FittedDampedTrend {
    season: FittedFourierTrend,
    pub smoothing: Smoothing,
}

impl DampedTrend {
    /// The seasonal regression it smooths the remainder of.
    fn season(self) -> FourierTrend {
        FourierTrend {
            daily: self.daily,
            weekly: self.weekly,
            trend: false,
            loss: Loss::Huber,
        }
    }
}

impl Forecaster for DampedTrend {
    fn name(&self) -> String {
        let season = match (self.daily, self.weekly) {
            (true, true) => "daily+weekly",
            (true, false) => "daily",
            (false, true) => "weekly",
            (false, false) => "none",
        };
        format!("damped_trend({season})")
    }

    fn companions(&self) -> Vec<Box<dyn Forecaster>> {
        vec![Box::new(self.season())]
    }

    fn fit(&self, values: &[f64], grid: Grid) -> Result<Box<dyn Fitted>, ModelError> {
        let season = self.season().fit_regression(values, grid)?;
        let confirm = usize::try_from(CONFIRM_SECS / grid.step)
            .unwrap_or(0)
            .max(3);
        // Only the recent past shapes the state (see SMOOTHING_WINDOW); the
        // window holds at least two confirmation spans, so that a lasting
        // shift can be confirmed at any step.
        let window = SMOOTHING_WINDOW.max(2 * confirm);
        let from = values.len().saturating_sub(window);
        let seasonal = season.values(from..values.len());
        let remainder: Vec<f64> = values[from..]
            .iter()
            .zip(&seasonal)
            .map(|(y, s)| y - s)
            .collect();
        let smoothing = fit_smoothing(&remainder, confirm).ok_or_else(|| ModelError::TooShort {
            model: self.name(),
            have: remainder.iter().filter(|v| !v.is_nan()).count(),
            need: 3,
        })?;
        Ok(Box::new(FittedDampedTrend { season, smoothing }))
    }
}

impl Fitted for FittedDampedTrend {
    fn companions(&self) -> Vec<&dyn Fitted> {
        vec![&self.season]
    }

    fn predict(&self, steps: usize) -> Vec<f64> {
        let s = self.smoothing;
        let mut damped = 0.0;
        let mut factor = 1.0;
        self.season
            .predict(steps)
            .into_iter()
            .map(|seasonal| {
                factor *= s.phi;
                damped += factor;
                seasonal + s.level + damped * s.trend
            })
            .collect()
    }
}

/// One parameter combination's state while running over the history.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// The parameters, and the state so far.
    state: Smoothing,
    loss: f64,
    /// Consecutive outliers on one side so far (negative: below).
    outliers: i64,
}

/// Runs the recursion over `d` for every combination at once (one pass over
/// the data, the combinations' independent updates side by side); `sigma`
/// is the robust scale of one-step errors, `confirm` the steps a one-sided
/// run of outliers needs to count as a level shift.
fn run_all(d: &[f64], runs: &mut [Run], sigma: f64, confirm: usize) {
    let cut = OUTLIER_SIGMAS * sigma;
    let huber = LOSS_K * sigma;
    let confirm = i64::try_from(confirm).unwrap_or(i64::MAX);
    for (t, &y) in d.iter().enumerate() {
        if y.is_nan() {
            for Run { state: s, .. } in runs.iter_mut() {
                s.level += s.phi * s.trend;
                s.trend *= s.phi;
            }
            continue;
        }
        for Run {
            state: s,
            loss,
            outliers,
        } in runs.iter_mut()
        {
            let expected = s.level + s.phi * s.trend;
            let error = y - expected;
            let size = error.abs();
            *loss += if size <= huber {
                0.5 * error * error
            } else {
                huber * (size - 0.5 * huber)
            };
            if size <= cut {
                *outliers = 0;
                s.level = expected + s.alpha * error;
                s.trend = s.phi * s.trend + s.beta * error;
                continue;
            }
            // An outlier moves nothing, unless it extends a one-sided run
            // to a lasting shift: then the level moves to where the run is.
            let side = if error > 0.0 { 1 } else { -1 };
            *outliers = if outliers.signum() == side {
                *outliers + side
            } else {
                side
            };
            s.level = expected;
            s.trend *= s.phi;
            if outliers.abs() >= confirm {
                let run = usize::try_from(outliers.unsigned_abs()).unwrap_or(usize::MAX);
                let mut recent: Vec<f64> = d[t + 1 - run.min(t + 1)..=t]
                    .iter()
                    .copied()
                    .filter(|v| !v.is_nan())
                    .collect();
                s.level = median(&mut recent);
                s.trend = 0.0;
                *outliers = 0;
            }
        }
    }
}

/// The parameters with the least loss, and the state they end in. `None`
/// without three known values.
fn fit_smoothing(d: &[f64], confirm: usize) -> Option<Smoothing> {
    let known: Vec<f64> = d.iter().copied().filter(|v| !v.is_nan()).collect();
    if known.len() < 3 {
        return None;
    }
    // Robust scale of the noise from one-step changes (for white noise a
    // change has √2 times its spread), so that what counts as an outlier
    // does not depend on the outliers.
    let mut changes: Vec<f64> = known.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    let mean_change = changes.iter().sum::<f64>() / changes.len() as f64;
    let mut sigma = median(&mut changes) / 0.674_489_75 / std::f64::consts::SQRT_2;
    if sigma <= 0.0 {
        // A remainder that mostly stays put (a gauge that steps now and
        // then): the mean change, as a normal spread, instead of zero.
        sigma = mean_change * 1.253_314 / std::f64::consts::SQRT_2;
    }
    // A flat remainder still needs a positive scale.
    let sigma = sigma.max(1e-9 * known.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300));
    // Start from the median of the first few hours, not one sample.
    let mut head = known[..known.len().min(confirm.max(3))].to_vec();
    let start = median(&mut head);
    // Without trend smoothing the trend stays 0 and φ does not matter: one
    // run per α, then every φ for the trend-smoothing shares.
    let mut runs: Vec<Run> = Vec::new();
    for alpha in ALPHAS {
        for share in BETA_SHARES {
            let phis: &[f64] = if share == 0.0 { &[1.0] } else { &PHIS };
            for &phi in phis {
                runs.push(Run {
                    state: Smoothing {
                        alpha,
                        beta: alpha * share,
                        phi,
                        level: start,
                        trend: 0.0,
                    },
                    loss: 0.0,
                    outliers: 0,
                });
            }
        }
    }
    run_all(d, &mut runs, sigma, confirm);
    runs.iter()
        .min_by(|a, b| a.loss.total_cmp(&b.loss))
        .map(|best| best.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::synthetic;

    const GRID: Grid = Grid {
        start: 0,
        step: 300,
    };

    fn mae(forecast: &[f64], truth: &[f64]) -> f64 {
        forecast
            .iter()
            .zip(truth)
            .map(|(f, t)| (f - t).abs())
            .sum::<f64>()
            / forecast.len() as f64
    }

    #[test]
    fn a_lasting_shift_is_followed_once_confirmed() {
        let mut values = synthetic::load(14, 300, 100.0, 30.0, 0.0, 0.0, 1.0, 4);
        let n = values.len();
        // The last half day 40 higher.
        for v in &mut values[n - 144..] {
            *v += 40.0;
        }
        let model = DampedTrend {
            daily: true,
            weekly: false,
        };
        let forecast = model.fit(&values, GRID).unwrap().predict(288);
        let truth = synthetic::load(15, 300, 140.0, 30.0, 0.0, 0.0, 0.0, 4);
        let error = mae(&forecast, &truth[n..]);
        assert!(error < 5.0, "mae {error}");
    }

    #[test]
    fn a_burst_shorter_than_the_confirmation_is_not_followed() {
        let mut values = synthetic::load(14, 300, 100.0, 30.0, 0.0, 0.0, 1.0, 4);
        let n = values.len();
        // The last three hours five times higher.
        for v in &mut values[n - 36..] {
            *v *= 5.0;
        }
        let model = DampedTrend {
            daily: true,
            weekly: false,
        };
        let forecast = model.fit(&values, GRID).unwrap().predict(288);
        let truth = synthetic::load(15, 300, 100.0, 30.0, 0.0, 0.0, 0.0, 4);
        let error = mae(&forecast, &truth[n..]);
        assert!(error < 3.0, "mae {error}");
    }

    #[test]
    fn a_step_in_a_gauge_that_mostly_stays_put_is_taken_once_confirmed() {
        // Most one-step changes are zero: the outlier scale must not be.
        let mut values = vec![10.0; 2000];
        values.extend(vec![20.0; 100]);
        let fitted = DampedTrend {
            daily: false,
            weekly: false,
        }
        .fit(&values, GRID)
        .unwrap();
        let forecast = fitted.predict(10);
        assert!(
            forecast.iter().all(|f| (f - 20.0).abs() < 0.5),
            "{forecast:?}"
        );
    }

    #[test]
    fn a_shift_is_confirmed_at_a_five_second_step_too() {
        // Six hours are 4320 steps: more than the usual smoothing window.
        let mut rng = synthetic::Rng::new(3);
        let values: Vec<f64> = (0..20_000)
            .map(|i| if i < 14_000 { 50.0 } else { 80.0 } + rng.normal())
            .collect();
        let grid = Grid { start: 0, step: 5 };
        let fitted = DampedTrend {
            daily: false,
            weekly: false,
        }
        .fit(&values, grid)
        .unwrap();
        let level = fitted.predict(1)[0];
        assert!((level - 80.0).abs() < 2.0, "{level}");
    }

    #[test]
    fn a_steady_ramp_is_followed_and_then_damped() {
        // A level rising 1 per step with no season: the trend is learnt, and
        // the forecast rises, but by less than an undamped line would.
        let values: Vec<f64> = (0..2000).map(f64::from).collect();
        let fitted = DampedTrend {
            daily: false,
            weekly: false,
        }
        .fit(&values, GRID)
        .unwrap();
        let forecast = fitted.predict(1000);
        assert!(
            forecast[0] > 1999.0 && forecast[0] < 2001.5,
            "{}",
            forecast[0]
        );
        assert!(forecast[999] > forecast[0], "{}", forecast[999]);
        assert!(forecast[999] < 2999.0, "{}", forecast[999]);
    }
}
