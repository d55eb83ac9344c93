//! Seasonal naive and recent level: the baselines every forecast must beat,
//! and often the best choice for bursty series with little structure.

use super::{Fitted, Forecaster, Grid, ModelError};
use crate::core::stats::median;

/// Repeats the last full season: the forecast for step `n + i` is the value
/// at `n + i - period` (an unknown value there is taken from the same phase
/// of an earlier season, or the median when no season has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeasonalNaive {
    /// Season length in steps (at least 2).
    pub period: usize,
    /// What the season is, for the model's name (`daily`, `weekly`).
    pub label: &'static str,
}

/// A fitted [`SeasonalNaive`]: the last season, gaps filled.
#[derive(Debug, Clone)]
pub struct FittedSeasonalNaive {
    season: Vec<f64>,
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> String {
        format!("seasonal_naive({})", self.label)
    }

    fn fit(&self, values: &[f64], _grid: Grid) -> Result<Box<dyn Fitted>, ModelError> {
        let n = values.len();
        if self.period < 2 || n < self.period {
            return Err(ModelError::TooShort {
                model: self.name(),
                have: n,
                need: self.period.max(2),
            });
        }
        // The median of the history stands in where no season has a value
        // (computed only then: it costs a pass over the whole history).
        let mut fallback = None;
        let season = (n - self.period..n)
            .map(|i| {
                (0..=i / self.period)
                    .map(|k| values[i - k * self.period])
                    .find(|v| !v.is_nan())
                    .unwrap_or_else(|| *fallback.get_or_insert_with(|| known_median(values)))
            })
            .collect();
        Ok(Box::new(FittedSeasonalNaive { season }))
    }
}

impl Fitted for FittedSeasonalNaive {
    fn predict(&self, steps: usize) -> Vec<f64> {
        (0..steps)
            .map(|i| self.season[i % self.season.len()])
            .collect()
    }
}

/// The median of the last `window` steps, held flat: the forecast for
/// series whose only structure is their current level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentLevel {
    /// Steps whose median is the level (at least 1).
    pub window: usize,
    /// How long the window is, for the model's name (`1d`).
    pub label: &'static str,
}

/// A fitted [`RecentLevel`].
#[derive(Debug, Clone, Copy)]
pub struct FittedRecentLevel {
    level: f64,
}

impl Forecaster for RecentLevel {
    fn name(&self) -> String {
        format!("recent_level({})", self.label)
    }

    fn fit(&self, values: &[f64], _grid: Grid) -> Result<Box<dyn Fitted>, ModelError> {
        let tail = &values[values.len().saturating_sub(self.window.max(1))..];
        let mut known: Vec<f64> = tail.iter().copied().filter(|v| !v.is_nan()).collect();
        if known.is_empty() {
            return Err(ModelError::TooShort {
                model: self.name(),
                have: 0,
                need: 1,
            });
        }
        Ok(Box::new(FittedRecentLevel {
            level: median(&mut known),
        }))
    }
}

impl Fitted for FittedRecentLevel {
    fn predict(&self, steps: usize) -> Vec<f64> {
        vec![self.level; steps]
    }
}

/// The median of the known values: what stands in for a phase no season
/// has a value at (computed only then: it costs a pass over the history).
fn known_median(values: &[f64]) -> f64 {
    median(
        &mut values
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect::<Vec<_>>(),
    )
}

/// Per phase of the season, the median of the last `seasons` seasons'
/// values there: seasonal naive with one season's noise averaged out,
/// keeping what a few harmonics smooth away (a VM's ten-minute nightly job).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeasonalMedian {
    /// Season length in steps (at least 2).
    pub period: usize,
    /// Seasons whose values are taken (at least 2).
    pub seasons: usize,
    /// What the season is, for the model's name (`daily`).
    pub label: &'static str,
}

impl Forecaster for SeasonalMedian {
    fn name(&self) -> String {
        format!("seasonal_median({}, {})", self.label, self.seasons)
    }

    fn fit(&self, values: &[f64], _grid: Grid) -> Result<Box<dyn Fitted>, ModelError> {
        let n = values.len();
        if self.period < 2 || n < self.seasons.max(2) * self.period {
            return Err(ModelError::TooShort {
                model: self.name(),
                have: n,
                need: self.seasons.max(2) * self.period,
            });
        }
        let mut fallback = None;
        let mut same_phase = Vec::with_capacity(self.seasons);
        let season = (n - self.period..n)
            .map(|i| {
                same_phase.clear();
                same_phase.extend(
                    (0..self.seasons)
                        .map(|k| values[i - k * self.period])
                        .filter(|v| !v.is_nan()),
                );
                if same_phase.is_empty() {
                    *fallback.get_or_insert_with(|| known_median(values))
                } else {
                    median(&mut same_phase)
                }
            })
            .collect();
        Ok(Box::new(FittedSeasonalNaive { season }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: Grid = Grid {
        start: 0,
        step: 300,
    };

    #[test]
    fn seasonal_naive_repeats_the_last_season() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let fitted = SeasonalNaive {
            period: 3,
            label: "test",
        }
        .fit(&values, GRID)
        .unwrap();
        assert_eq!(fitted.predict(5), [4.0, 5.0, 6.0, 4.0, 5.0]);
    }

    #[test]
    fn seasonal_naive_fills_unknown_steps_from_earlier_seasons() {
        let values = [1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0];
        let fitted = SeasonalNaive {
            period: 3,
            label: "test",
        }
        .fit(&values, GRID)
        .unwrap();
        assert_eq!(fitted.predict(3), [4.0, 2.0, 6.0]);
    }

    #[test]
    fn seasonal_median_takes_each_phase_median_over_the_last_seasons() {
        // Three seasons of two phases; the oldest is out of the window, a
        // spike in one season does not move its phase, an unknown value
        // leaves the others, and a phase nobody saw takes the median.
        let values = [
            90.0,
            90.0, // out of the window
            10.0,
            20.0, //
            11.0,
            f64::NAN, //
            500.0,
            22.0,
        ];
        let model = SeasonalMedian {
            period: 2,
            seasons: 3,
            label: "test",
        };
        assert_eq!(model.name(), "seasonal_median(test, 3)");
        let fitted = model.fit(&values, GRID).unwrap();
        assert_eq!(fitted.predict(4), [11.0, 21.0, 11.0, 21.0]);
        let unseen = [1.0, f64::NAN, 3.0, f64::NAN, 5.0, f64::NAN];
        let fitted = model.fit(&unseen, GRID).unwrap();
        assert_eq!(fitted.predict(2), [3.0, 3.0]);
        assert!(model.fit(&values[..5], GRID).is_err(), "needs 3 seasons");
    }

    #[test]
    fn recent_level_is_the_median_of_the_window() {
        let values = [100.0, 1.0, 2.0, 50.0];
        let fitted = RecentLevel {
            window: 3,
            label: "test",
        }
        .fit(&values, GRID)
        .unwrap();
        assert_eq!(fitted.predict(2), [2.0, 2.0]);
    }
}
