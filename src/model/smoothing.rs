//! Seasonal regression + damped-trend exponential smoothing.
//!
//! The seasonal shape (daily and weekly Fourier terms, no trend) is fitted by
//! least squares; what remains is followed by Holt's linear method with a
//! damped trend (Gardner & McKenzie):
//!
//! ```text
//! level_t = α·d_t + (1 − α)(level_{t−1} + φ·trend_{t−1})
//! trend_t = β(level_t − level_{t−1}) + (1 − β)·φ·trend_{t−1}
//! ŷ_{T+h} = season_{T+h} + level_T + (φ + φ² + … + φ^h)·trend_T
//! ```
//!
//! The state is two numbers whatever the season length (288, 2016, 1440 or
//! 10080 steps), unlike Holt-Winters' one state per step of the season. The
//! level follows the load as it moves, and the damped trend flattens out
//! instead of running away over a week-long horizon. α, β and φ are fitted
//! by a grid search for the least sum of squared one-step errors; unknown
//! steps advance the state without an update.

use super::regression::FourierTrend;
use super::{Fitted, Forecaster, Grid, ModelError};

/// Smoothing of the level: from nearly fixed to nearly the last value.
const ALPHAS: [f64; 8] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7];
/// Smoothing of the trend, as a share of α (β ≤ α keeps the trend calmer than the level).
const BETA_SHARES: [f64; 3] = [0.0, 0.05, 0.2];
/// Damping per step; 0.999 per 5-minute step still halves a trend in about 2.4 days.
const PHIS: [f64; 3] = [0.98, 0.995, 0.999];

/// Seasonal regression + damped Holt on what it leaves.
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
    season: super::regression::FittedFourierTrend,
    pub smoothing: Smoothing,
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

    fn fit(&self, values: &[f64], grid: Grid) -> Result<Box<dyn Fitted>, ModelError> {
        let season = FourierTrend {
            daily: self.daily,
            weekly: self.weekly,
            trend: false,
        }
        .fit_regression(values, grid)?;
        let seasonal = season.values(0..values.len());
        let remainder: Vec<f64> = values.iter().zip(&seasonal).map(|(y, s)| y - s).collect();
        let smoothing = fit_smoothing(&remainder).ok_or_else(|| ModelError::TooShort {
            model: self.name(),
            have: 0,
            need: 2,
        })?;
        Ok(Box::new(FittedDampedTrend { season, smoothing }))
    }
}

impl Fitted for FittedDampedTrend {
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

/// Runs the recursion with the given parameters: the sum of squared
/// one-step errors and the final state. `None` without two known values.
fn run(d: &[f64], alpha: f64, beta: f64, phi: f64) -> Option<(f64, f64, f64)> {
    let first = d.iter().position(|v| !v.is_nan())?;
    let mut level = d[first];
    let mut trend = 0.0;
    let mut sse = 0.0;
    let mut seen = 0usize;
    for &y in &d[first + 1..] {
        let expected = level + phi * trend;
        if y.is_nan() {
            level = expected;
            trend *= phi;
            continue;
        }
        let error = y - expected;
        sse += error * error;
        seen += 1;
        let new_level = expected + alpha * error;
        trend = phi * trend + alpha * beta * error;
        level = new_level;
    }
    (seen > 0).then_some((sse, level, trend))
}

/// Grid search for the parameters with the least one-step squared error.
fn fit_smoothing(d: &[f64]) -> Option<Smoothing> {
    let mut best: Option<(f64, Smoothing)> = None;
    for alpha in ALPHAS {
        for share in BETA_SHARES {
            for phi in PHIS {
                let beta = share;
                let Some((sse, level, trend)) = run(d, alpha, beta, phi) else {
                    continue;
                };
                if best.as_ref().is_none_or(|(b, _)| sse < *b) {
                    best = Some((
                        sse,
                        Smoothing {
                            alpha,
                            beta: alpha * beta,
                            phi,
                            level,
                            trend,
                        },
                    ));
                }
            }
        }
    }
    best.map(|(_, smoothing)| smoothing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    #[test]
    fn the_level_follows_a_lasting_shift_at_once() {
        let step = 300;
        let mut values = synthetic::load(14, step, 100.0, 30.0, 0.0, 0.0, 1.0, 4);
        let n = values.len();
        for v in &mut values[n - 288..] {
            *v += 40.0;
        }
        let model = DampedTrend {
            daily: true,
            weekly: false,
        };
        let forecast = model
            .fit(&values, Grid { start: 0, step })
            .unwrap()
            .predict(288);
        let truth = synthetic::load(15, step, 140.0, 30.0, 0.0, 0.0, 0.0, 4);
        let mae = forecast
            .iter()
            .zip(&truth[n..])
            .map(|(f, t)| (f - t).abs())
            .sum::<f64>()
            / 288.0;
        assert!(mae < 5.0, "mae {mae}");
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
        .fit(
            &values,
            Grid {
                start: 0,
                step: 300,
            },
        )
        .unwrap();
        let forecast = fitted.predict(2000);
        assert!((forecast[0] - 2000.0).abs() < 5.0, "{}", forecast[0]);
        assert!(
            forecast[1999] > 2100.0 && forecast[1999] < 3999.0,
            "{}",
            forecast[1999]
        );
    }

    #[test]
    fn unknown_steps_are_skipped() {
        let mut values = vec![10.0; 600];
        for v in &mut values[100..300] {
            *v = f64::NAN;
        }
        let fitted = DampedTrend {
            daily: false,
            weekly: false,
        }
        .fit(
            &values,
            Grid {
                start: 0,
                step: 300,
            },
        )
        .unwrap();
        assert!(fitted.predict(10).iter().all(|v| (v - 10.0).abs() < 1e-9));
    }
}
