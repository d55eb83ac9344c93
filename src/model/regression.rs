//! Trend + multi-seasonal regression: ordinary least squares (linfa-linear on
//! ndarray) on a linear trend and Fourier terms for each detected period.
//!
//! The Fourier phases are taken from the wall clock (seconds since midnight
//! UTC, seconds since the start of the unix week), not from the first sample,
//! so that a fitted shape means the same hour of day whatever the history's
//! start. Weekly harmonics that coincide with daily ones (every 7th) are left
//! out when both are present, keeping the design matrix full rank.

use super::{Fitted, Forecaster, Grid, ModelError};
use crate::time::{DAY, WEEK};
use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2};
use std::f64::consts::TAU;

/// Harmonics of the daily period (shapes as sharp as about 1.5 hours).
pub const DAILY_HARMONICS: usize = 8;
/// Harmonics of the weekly period (day-of-week levels and their transitions).
pub const WEEKLY_HARMONICS: usize = 13;

/// Which terms the regression has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FourierTrend {
    pub daily: bool,
    pub weekly: bool,
    pub trend: bool,
}

/// A fitted [`FourierTrend`]: the coefficients and where the history ended.
#[derive(Debug, Clone)]
pub struct FittedFourierTrend {
    spec: FourierTrend,
    grid: Grid,
    /// Steps in the history (the first forecast step is this index).
    fitted_len: usize,
    intercept: f64,
    coefficients: Array1<f64>,
    harmonics: Harmonics,
}

#[derive(Debug, Clone, Copy)]
struct Harmonics {
    daily: usize,
    weekly: usize,
}

impl FourierTrend {
    fn harmonics(self, grid: Grid) -> Harmonics {
        // No harmonic faster than the grid can show (Nyquist).
        let daily_nyquist = ((DAY / grid.step) / 2).saturating_sub(1).max(0) as usize;
        let weekly_nyquist = ((WEEK / grid.step) / 2).saturating_sub(1).max(0) as usize;
        Harmonics {
            daily: if self.daily {
                DAILY_HARMONICS.min(daily_nyquist)
            } else {
                0
            },
            weekly: if self.weekly {
                WEEKLY_HARMONICS.min(weekly_nyquist)
            } else {
                0
            },
        }
    }

    /// Writes the regressors of step `index` into `row`.
    fn features(
        self,
        harmonics: Harmonics,
        grid: Grid,
        scale: f64,
        index: usize,
        row: &mut Vec<f64>,
    ) {
        row.clear();
        let ts = grid.start + index as i64 * grid.step;
        if self.trend {
            row.push(index as f64 / scale);
        }
        let day_phase = TAU * ts.rem_euclid(DAY) as f64 / DAY as f64;
        push_harmonics(row, day_phase, harmonics.daily, None);
        let week_phase = TAU * ts.rem_euclid(WEEK) as f64 / WEEK as f64;
        let skip = (harmonics.daily > 0).then_some(7);
        push_harmonics(row, week_phase, harmonics.weekly, skip);
    }
}

/// Pushes `sin(kθ), cos(kθ)` for `k = 1..=count` (leaving out multiples of
/// `skip`), by the angle-addition recurrence: two trigonometric calls per
/// row instead of two per harmonic. With at most 13 harmonics the rounding
/// it adds stays below 1e-14.
fn push_harmonics(row: &mut Vec<f64>, angle: f64, count: usize, skip: Option<usize>) {
    let (s1, c1) = angle.sin_cos();
    let (mut s, mut c) = (s1, c1);
    for k in 1..=count {
        if skip.is_none_or(|m| k % m != 0) {
            row.push(s);
            row.push(c);
        }
        (s, c) = (s * c1 + c * s1, c * c1 - s * s1);
    }
}

impl Forecaster for FourierTrend {
    fn name(&self) -> String {
        let mut terms = Vec::new();
        if self.trend {
            terms.push("trend");
        }
        if self.daily {
            terms.push("daily");
        }
        if self.weekly {
            terms.push("weekly");
        }
        if terms.is_empty() {
            terms.push("level");
        }
        format!("fourier_regression({})", terms.join("+"))
    }

    fn fit(&self, values: &[f64], grid: Grid) -> Result<Box<dyn Fitted>, ModelError> {
        let harmonics = self.harmonics(grid);
        let scale = values.len().max(1) as f64;
        let mut row = Vec::new();
        self.features(harmonics, grid, scale, 0, &mut row);
        let width = row.len();
        let known: Vec<usize> = (0..values.len()).filter(|&i| !values[i].is_nan()).collect();
        if known.len() < 2 * (width + 1) {
            return Err(ModelError::TooShort {
                model: self.name(),
                have: known.len(),
                need: 2 * (width + 1),
            });
        }
        let targets: Array1<f64> = known.iter().map(|&i| values[i]).collect();
        let fitted = if width == 0 {
            // Only an intercept: its least-squares value is the mean.
            (targets.mean().unwrap_or(0.0), Array1::zeros(0))
        } else {
            let mut records = Array2::zeros((known.len(), width));
            for (r, &i) in known.iter().enumerate() {
                self.features(harmonics, grid, scale, i, &mut row);
                for (c, &x) in row.iter().enumerate() {
                    records[[r, c]] = x;
                }
            }
            let model = LinearRegression::new()
                .fit(&DatasetBase::new(records, targets))
                .map_err(|e| ModelError::Fit {
                    model: self.name(),
                    message: e.to_string(),
                })?;
            (model.intercept(), model.params().clone())
        };
        if !fitted.0.is_finite() || fitted.1.iter().any(|c| !c.is_finite()) {
            return Err(ModelError::Fit {
                model: self.name(),
                message: "least squares gave non-finite coefficients".into(),
            });
        }
        Ok(Box::new(FittedFourierTrend {
            spec: *self,
            grid,
            fitted_len: values.len(),
            intercept: fitted.0,
            coefficients: fitted.1,
            harmonics,
        }))
    }
}

impl Fitted for FittedFourierTrend {
    fn predict(&self, steps: usize) -> Vec<f64> {
        let scale = self.fitted_len.max(1) as f64;
        let mut row = Vec::new();
        (self.fitted_len..self.fitted_len + steps)
            .map(|i| {
                self.spec
                    .features(self.harmonics, self.grid, scale, i, &mut row);
                self.intercept
                    + row
                        .iter()
                        .zip(&self.coefficients)
                        .map(|(x, c)| x * c)
                        .sum::<f64>()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    #[test]
    fn recovers_a_noise_free_daily_weekly_trend_series() {
        let step = 300;
        let values = synthetic::load(35, step, 100.0, 30.0, 20.0, 0.5, 0.0, 1);
        let (train, test) = values.split_at(28 * 288);
        let spec = FourierTrend {
            daily: true,
            weekly: true,
            trend: true,
        };
        let fitted = spec.fit(train, Grid { start: 0, step }).unwrap();
        let forecast = fitted.predict(test.len());
        let worst = forecast
            .iter()
            .zip(test)
            .map(|(f, a)| (f - a).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-6, "worst error {worst}");
    }

    #[test]
    fn harmonics_by_recurrence_match_direct_trigonometry() {
        let mut row = Vec::new();
        let angle = 1.234_567;
        push_harmonics(&mut row, angle, 13, Some(7));
        let direct: Vec<f64> = (1..=13)
            .filter(|k| k % 7 != 0)
            .flat_map(|k| {
                let a = f64::from(k) * angle;
                [a.sin(), a.cos()]
            })
            .collect();
        assert_eq!(row.len(), direct.len());
        for (r, d) in row.iter().zip(&direct) {
            assert!((r - d).abs() < 1e-13, "{r} vs {d}");
        }
    }

    #[test]
    fn level_only_forecasts_the_mean_and_skips_unknown_steps() {
        let values = [1.0, f64::NAN, 3.0, 2.0, 2.0, 4.0];
        let spec = FourierTrend {
            daily: false,
            weekly: false,
            trend: false,
        };
        let fitted = spec
            .fit(
                &values,
                Grid {
                    start: 0,
                    step: 300,
                },
            )
            .unwrap();
        assert_eq!(fitted.predict(2), [2.4, 2.4]);
    }
}
