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
    found.daily_strength = daily_strength(values, start, step, per_day);
    if found.daily_strength >= DAILY_MIN_STRENGTH {
        found.daily = Some(per_day);
    }
    found.weekly_strength = weekly_strength(values, start, step, per_day);
    if found.weekly_strength >= WEEKLY_MIN_STRENGTH {
        found.weekly = Some(per_day * 7);
    }
    found
}

fn daily_strength(values: &[f64], start: i64, step: i64, per_day: usize) -> f64 {
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
    adjusted_group_r2(&groups, bins)
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
    adjusted_group_r2(&groups, 7)
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

/// Adjusted R² of the group means of winsorised values.
fn adjusted_group_r2(groups: &[(usize, f64)], group_count: usize) -> f64 {
    let n = groups.len();
    if n <= group_count + 1 {
        return 0.0;
    }
    let mut xs: Vec<f64> = groups.iter().map(|g| g.1).collect();
    let center = median(&mut xs.clone());
    let spread = robust_sd(&xs);
    if spread > 0.0 {
        let (lo, hi) = (center - 5.0 * spread, center + 5.0 * spread);
        for x in &mut xs {
            *x = x.clamp(lo, hi);
        }
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let total: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
    if total <= f64::EPSILON * mean.abs().max(1.0) * n as f64 {
        return 0.0;
    }
    let mut sums = vec![0.0; group_count];
    let mut counts = vec![0usize; group_count];
    for (&(group, _), &x) in groups.iter().zip(&xs) {
        sums[group] += x;
        counts[group] += 1;
    }
    let within: f64 = groups
        .iter()
        .zip(&xs)
        .map(|(&(group, _), &x)| (x - sums[group] / counts[group] as f64).powi(2))
        .sum();
    let used = counts.iter().filter(|&&c| c > 0).count();
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
