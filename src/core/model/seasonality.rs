//! Detects daily and weekly seasonality from the data, never assuming it.
//!
//! Daily: the series minus its centred one-day moving average (trend and
//! weekly movement removed) is grouped by hour of day; the share of its
//! variance the hourly means explain, adjusted for the 23 degrees of freedom
//! they use, must reach [`DAILY_MIN_STRENGTH`].
//!
//! Weekly: the mean of each complete day, minus a straight-line trend over
//! the days, is grouped by day of week; the adjusted share of variance the
//! weekday means explain must reach [`WEEKLY_MIN_STRENGTH`], over at least
//! two full weeks of complete days.
//!
//! Both measures winsorise the residuals at 5 robust standard deviations
//! first, so that a few bursts (heavy-tailed load) cannot hide a pattern,
//! and one holiday cannot invent one.
//!
//! [`detect_seasonality_robust`] (what the events stage reads its rhythm
//! with) measures the daily shape by hourly medians and absolute
//! deviations instead: a load that spends hours of most days in bursts
//! (a fifth of the month, as the events tests inject) keeps a daily shape
//! the hourly means lose to the bursts' variance. The weekly test stays on
//! squares there: with four or five days per weekday, medians fit noise
//! (a month of noise read as weekly).

use crate::core::stats::{median, robust_sd};
use crate::core::time::{DAY, WEEK};

/// Least adjusted share of variance explained by the hour of day.
pub const DAILY_MIN_STRENGTH: f64 = 0.1;
/// Least adjusted share of day-to-day variance explained by the weekday.
pub const WEEKLY_MIN_STRENGTH: f64 = 0.25;
/// A day counts for the weekly test when this share of its steps is known.
const COMPLETE_DAY: f64 = 0.8;

/// Which seasonal periods a series has, in steps, with the measured strengths.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Seasonality {
    /// Steps per day, when the daily pattern is strong enough.
    pub daily: Option<usize>,
    /// Steps per week, when the weekly pattern is strong enough.
    pub weekly: Option<usize>,
    /// Adjusted share of variance explained by hour of day (0 when not measurable).
    pub daily_strength: f64,
    /// Adjusted share of day-to-day variance explained by weekday (0 when not measurable).
    pub weekly_strength: f64,
}

impl Seasonality {
    /// Short description: `daily+weekly`, `daily`, `weekly` or `none`.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match (self.daily.is_some(), self.weekly.is_some()) {
            (true, true) => "daily+weekly",
            (true, false) => "daily",
            (false, true) => "weekly",
            (false, false) => "none",
        }
    }
}

/// Detects seasonality of `values` (NaN = unknown) on a grid starting at
/// `start` with `step` seconds.
#[must_use]
pub fn detect_seasonality(values: &[f64], start: i64, step: i64) -> Seasonality {
    detect_with(values, start, step, Spread::Squares)
}

/// [`detect_seasonality`] with the daily shape measured by medians and
/// absolute deviations instead of means and squares (see the module
/// docs): for load that holds many departures of its own.
#[must_use]
pub fn detect_seasonality_robust(values: &[f64], start: i64, step: i64) -> Seasonality {
    detect_with(values, start, step, Spread::AbsoluteDeviations)
}

/// How the share of the spread a grouping explains is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spread {
    /// Group means and squared deviations: the adjusted R².
    Squares,
    /// Group medians and absolute deviations, the ratio squared (on the
    /// same scale as R² for normal noise, so the thresholds hold).
    AbsoluteDeviations,
}

fn detect_with(values: &[f64], start: i64, step: i64, spread: Spread) -> Seasonality {
    let mut found = Seasonality {
        daily: None,
        weekly: None,
        daily_strength: 0.0,
        weekly_strength: 0.0,
    };
    // Any step works (the hour-of-day bins come from the clock); a day must
    // hold at least 4 steps for a daily shape to be seen.
    if step <= 0 || DAY / step < 4 {
        return found;
    }
    let per_day = (DAY as f64 / step as f64).round() as usize;
    found.daily_strength = daily_strength(values, start, step, per_day, spread);
    if found.daily_strength >= DAILY_MIN_STRENGTH {
        found.daily = Some(per_day);
    }
    found.weekly_strength = weekly_strength(values, start, step, per_day);
    if found.weekly_strength >= WEEKLY_MIN_STRENGTH {
        found.weekly = Some(per_day * 7);
    }
    found
}

fn daily_strength(values: &[f64], start: i64, step: i64, per_day: usize, spread: Spread) -> f64 {
    if values.len() < 2 * per_day {
        return 0.0;
    }
    let detrended = minus_moving_average(values, per_day);
    let bins = per_day.min(24);
    let groups: Vec<(usize, f64)> = detrended
        .iter()
        .enumerate()
        .filter(|(_, x)| !x.is_nan())
        .map(|(i, &x)| {
            let second_of_day = (start + i as i64 * step).rem_euclid(DAY);
            ((second_of_day * bins as i64 / DAY) as usize, x)
        })
        .collect();
    adjusted_group_r2(&groups, bins, spread)
}

fn weekly_strength(values: &[f64], start: i64, step: i64, per_day: usize) -> f64 {
    // Mean of each complete calendar day (UTC), keyed by its day number.
    let mut days: Vec<(i64, f64, usize)> = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        let day = (start + i as i64 * step).div_euclid(DAY);
        if days.last().is_none_or(|d| d.0 != day) {
            days.push((day, 0.0, 0));
        }
        if !v.is_nan() {
            let entry = days.last_mut().expect("pushed above");
            entry.1 += v;
            entry.2 += 1;
        }
    }
    let complete: Vec<(f64, f64)> = days
        .iter()
        .filter(|d| d.2 as f64 >= COMPLETE_DAY * per_day as f64)
        .map(|d| (d.0 as f64, d.1 / d.2 as f64))
        .collect();
    if complete.len() < 14 {
        return 0.0;
    }
    let (intercept, slope) = line_fit(&complete);
    let groups: Vec<(usize, f64)> = complete
        .iter()
        .map(|&(day, mean)| {
            let weekday = ((day as i64 * DAY).rem_euclid(WEEK) / DAY) as usize;
            (weekday, mean - (intercept + slope * day))
        })
        .collect();
    adjusted_group_r2(&groups, 7, Spread::Squares)
}

/// `values` minus their centred moving average over `window` steps (NaN
/// where fewer than half the window is known).
fn minus_moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let n = values.len();
    let mut sum = vec![0.0; n + 1];
    let mut count = vec![0usize; n + 1];
    for (i, &v) in values.iter().enumerate() {
        let known = !v.is_nan();
        sum[i + 1] = sum[i] + if known { v } else { 0.0 };
        count[i + 1] = count[i] + usize::from(known);
    }
    let half = window / 2;
    (0..n)
        .map(|i| {
            if i < half || i + half >= n || values[i].is_nan() {
                return f64::NAN;
            }
            let (lo, hi) = (i - half, i + half + 1);
            let known = count[hi] - count[lo];
            if known * 2 < window {
                return f64::NAN;
            }
            values[i] - (sum[hi] - sum[lo]) / known as f64
        })
        .collect()
}

/// Least-squares line `y = a + b x` through the points.
fn line_fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (mean_y - slope * mean_x, slope)
}

/// Adjusted R² of the group means of winsorised values (with
/// [`Spread::AbsoluteDeviations`], of their group medians: one minus the
/// squared ratio of absolute deviations within the groups to those about
/// the overall median).
fn adjusted_group_r2(groups: &[(usize, f64)], group_count: usize, spread: Spread) -> f64 {
    let n = groups.len();
    if n <= group_count + 1 {
        return 0.0;
    }
    let mut xs: Vec<f64> = groups.iter().map(|g| g.1).collect();
    let center = median(&mut xs.clone());
    let sd = robust_sd(&xs);
    if sd > 0.0 {
        let (lo, hi) = (center - 5.0 * sd, center + 5.0 * sd);
        for x in &mut xs {
            *x = x.clamp(lo, hi);
        }
    }
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); group_count];
    for (&(group, _), &x) in groups.iter().zip(&xs) {
        members[group].push(x);
    }
    let used = members.iter().filter(|m| !m.is_empty()).count();
    let (within, total) = match spread {
        Spread::Squares => {
            let mean = xs.iter().sum::<f64>() / n as f64;
            let total: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
            if total <= f64::EPSILON * mean.abs().max(1.0) * n as f64 {
                return 0.0;
            }
            let within: f64 = members
                .iter()
                .filter(|m| !m.is_empty())
                .map(|m| {
                    let mean = m.iter().sum::<f64>() / m.len() as f64;
                    m.iter().map(|x| (x - mean).powi(2)).sum::<f64>()
                })
                .sum();
            (within, total)
        }
        Spread::AbsoluteDeviations => {
            let centre = median(&mut xs.clone());
            let total: f64 = xs.iter().map(|x| (x - centre).abs()).sum();
            if total <= f64::EPSILON * centre.abs().max(1.0) * n as f64 {
                return 0.0;
            }
            let within: f64 = members
                .iter_mut()
                .filter(|m| !m.is_empty())
                .map(|m| {
                    let centre = median(m);
                    m.iter().map(|x| (x - centre).abs()).sum::<f64>()
                })
                .sum();
            ((within / total).powi(2), 1.0)
        }
    };
    let r2 = 1.0 - within / total;
    1.0 - (1.0 - r2) * (n - 1) as f64 / (n - used) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::synthetic;

    const STEP: i64 = 300;

    fn detect(daily: f64, weekly: f64) -> Seasonality {
        let values = synthetic::load(28, STEP, 100.0, daily, weekly, 0.0, 5.0, 7);
        detect_seasonality(&values, 0, STEP)
    }

    #[test]
    fn daily_only_is_detected_as_daily() {
        let found = detect(30.0, 0.0);
        assert_eq!(found.label(), "daily", "{found:?}");
        assert_eq!(found.daily, Some(288));
    }

    #[test]
    fn weekly_only_is_detected_as_weekly() {
        let found = detect(0.0, 30.0);
        assert_eq!(found.label(), "weekly", "{found:?}");
        assert_eq!(found.weekly, Some(2016));
    }

    #[test]
    fn both_are_detected() {
        assert_eq!(detect(30.0, 20.0).label(), "daily+weekly");
    }

    #[test]
    fn bursts_for_hours_every_day_hide_a_daily_shape_from_variance_not_from_medians() {
        // A daily ±30% and, every 14 hours, three hours at ×6: a fifth of
        // the month in bursts that move across the hours of the day.
        let mut values = synthetic::load(28, STEP, 100.0, 30.0, 0.0, 0.0, 5.0, 7);
        let per_hour = (3600 / STEP) as usize;
        let mut at = 0;
        while at + 3 * per_hour < values.len() {
            for v in &mut values[at..at + 3 * per_hour] {
                *v *= 6.0;
            }
            at += 14 * per_hour;
        }
        let squares = detect_seasonality(&values, 0, STEP);
        let robust = detect_seasonality_robust(&values, 0, STEP);
        assert!(
            robust.daily_strength > squares.daily_strength && robust.daily.is_some(),
            "squares {squares:?}, robust {robust:?}"
        );
        // Without bursts the two agree on what is there.
        let clean = synthetic::load(28, STEP, 100.0, 30.0, 20.0, 0.0, 5.0, 7);
        assert_eq!(
            detect_seasonality_robust(&clean, 0, STEP).label(),
            "daily+weekly"
        );
        let noise = synthetic::load(28, STEP, 100.0, 0.0, 0.0, 0.0, 5.0, 7);
        assert_eq!(detect_seasonality_robust(&noise, 0, STEP).label(), "none");
    }

    #[test]
    fn noise_has_no_seasonality() {
        let found = detect(0.0, 0.0);
        assert_eq!(found.label(), "none", "{found:?}");
    }

    #[test]
    fn weekly_needs_two_weeks_and_a_day_needs_four_steps() {
        let values = synthetic::load(10, STEP, 100.0, 30.0, 30.0, 0.0, 5.0, 7);
        assert_eq!(detect_seasonality(&values, 0, STEP).weekly, None);
        assert_eq!(detect_seasonality(&values, 0, 7 * 3600).label(), "none");
    }

    #[test]
    fn steps_that_do_not_divide_a_day_still_show_seasonality() {
        let step = 420;
        let values = synthetic::load(28, step, 100.0, 30.0, 20.0, 0.0, 5.0, 7);
        assert_eq!(detect_seasonality(&values, 0, step).label(), "daily+weekly");
    }
}
