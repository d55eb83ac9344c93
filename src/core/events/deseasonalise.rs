//! The events stage's reading of a series: its log scale and counting
//! unit, a flapping load's period means, the daily and weekly seasonality
//! removed robustly, and the noise and wander scales left.

use super::{known_median, PrefixSums};
use crate::core::series::Series;
use crate::core::stats::{median, robust_sd_in_place};
use crate::core::time::DAY;

/// The series with seasonality removed, in log space, and its noise scale.
pub(super) struct Deseasonalised {
    /// ln(load + offset) − seasonal profile; NaN where unknown.
    pub(super) level: Vec<f64>,
    /// The seasonal profile at each step (log space).
    pub(super) seasonal: Vec<f64>,
    /// The load read (a flapping load's mean over its period, else the
    /// series' values).
    pub(super) load: Vec<f64>,
    pub(super) offset: f64,
    /// The load's counting unit (0 for load that is no count), measured
    /// on `load`.
    pub(super) unit: f64,
    /// The period `load` is a mean over (1: the values as they are).
    pub(super) flap: usize,
    /// Noise scale from first differences (the white part of the noise).
    pub(super) sigma: f64,
    /// Scale of the wander about each day's median level: how far the
    /// level drifts for hours without anything happening (a typical day's:
    /// the median over days of each day's robust spread).
    pub(super) wander: f64,
}

/// Per phase, the median of the known values given as (phase, value); 0
/// for a phase without any.
pub(super) fn phase_medians(phases: usize, values: impl Iterator<Item = (usize, f64)>) -> Vec<f64> {
    let mut by_phase: Vec<Vec<f64>> = vec![Vec::new(); phases];
    for (phase, v) in values {
        if v.is_finite() {
            by_phase[phase].push(v);
        }
    }
    by_phase
        .iter_mut()
        .map(|p| if p.is_empty() { 0.0 } else { median(p) })
        .collect()
}

/// `values` on the scale events are measured on, `ln(load + offset)`
/// (NaN where unknown), and the offset: 5% of the median load, so that a
/// quiet night's near-zero steps are not departures of their own, and at
/// least the load's counting unit `unit` (see [`counting_unit`]), so that
/// a step that counted no request of the four expected is not an 80% dip
/// that swells the noise scale.
pub(super) fn log_scale(values: &[f64], unit: f64) -> (Vec<f64>, f64) {
    let mut known: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let offset = (0.05 * median(&mut known)).max(unit).max(1e-6);
    let x = values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                (v + offset).ln()
            } else {
                f64::NAN
            }
        })
        .collect();
    (x, offset)
}

/// The load's counting unit: how much one more request (tweet, job)
/// adds. Load that arrives as whole events varies, at level `m`, by `a·m`
/// (Poisson: `a` is the unit) on top of the `b·m²` of its multiplicative
/// wander; on a log scale the first makes the quiet steps of a low-count
/// series look like deep dips. Measured on blocks of `block` steps (an
/// hour; at least 6 steps): each block's mean and the variance of its step-to-step
/// differences (which the slow level does not move); the blocks grouped
/// by level into tenths, the unit is the least ratio of the tenths'
/// median variance to their median level, `a + b·m` where it is smallest.
/// (Fitting `a` and `b` apart was tried: on a flat series the fit has
/// nothing to tell them by, and it fell to a twentieth of the unit.) On
/// thousands of requests a step it is a small fraction of the level and
/// changes nothing. Only the level decides, not whether the values are
/// whole numbers: a rate per second of a few requests a minute is none.
/// 0 with fewer than 20 blocks.
pub(super) fn counting_unit(values: &[f64], block: usize) -> f64 {
    const GROUPS: usize = 10;
    let block = block.max(6);
    let mut blocks: Vec<(f64, f64)> = values
        .chunks(block)
        .filter_map(|chunk| {
            // Sums, not collected values: this runs on every hour of
            // every workload.
            let (sum, known) = chunk
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0, 0_usize), |(s, k), v| (s + v, k + 1));
            let (squares, pairs) = chunk
                .windows(2)
                .map(|w| w[1] - w[0])
                .filter(|d| d.is_finite())
                .fold((0.0, 0_usize), |(s, k), d| (s + d * d, k + 1));
            if pairs * 2 < block || pairs < 3 {
                return None;
            }
            let mean = sum / known as f64;
            let variance = squares / (2 * pairs) as f64;
            (mean > 0.0).then_some((mean, variance))
        })
        .collect();
    if blocks.len() < 2 * GROUPS {
        return 0.0;
    }
    blocks.sort_by(|x, y| x.0.total_cmp(&y.0));
    let size = blocks.len() / GROUPS;
    blocks
        .chunks(size)
        .filter(|g| g.len() * 2 >= size)
        .map(|g| {
            let mut levels: Vec<f64> = g.iter().map(|b| b.0).collect();
            let mut variances: Vec<f64> = g.iter().map(|b| b.1).collect();
            median(&mut variances) / median(&mut levels)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The period (2 or 3 steps) of a load that flaps: a VM whose load
/// alternates between two levels every step (3, 18, 3, 18: a ten-minute
/// job seen at five) has a step-to-step noise ten times its real one, and
/// its medians jump between the two levels whenever a few steps move, so
/// that even ×6 spikes of three hours hide in it. Flapping when the
/// differences of `x` (the log scale) at a lag of 2 or 3 steps are less
/// than half as spread as those of 1 (white noise spreads them alike; a
/// smooth drift spreads the longer lags more). Longer periods (a 20-minute
/// job at 5 minutes) are not looked for.
pub(super) fn flapping_period(x: &[f64]) -> Option<usize> {
    let spread = |lag: usize| {
        let mut diffs: Vec<f64> = x
            .iter()
            .zip(x.iter().skip(lag))
            .map(|(a, b)| b - a)
            .filter(|d| d.is_finite())
            .collect();
        (diffs.len() >= 20).then(|| robust_sd_in_place(&mut diffs))
    };
    let one = spread(1)?;
    [2_usize, 3]
        .into_iter()
        .filter_map(|p| Some((p, spread(p)?)))
        .filter(|&(_, s)| s < 0.5 * one)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| p)
}

/// Each known value of `values` replaced by the mean of the `period`
/// steps about it, unknown when any of them is (nothing is invented inside
/// a gap, nor read from half a flap at its edge).
pub(super) fn period_means(values: &[f64], period: usize) -> Vec<f64> {
    let sums = PrefixSums::new(values);
    let n = values.len();
    (0..n)
        .map(|i| {
            if !values[i].is_finite() {
                return f64::NAN;
            }
            // Every step of the period, or none: next to a gap, a mean of
            // the one known step is half the flap (a VM at 3 and 17 read
            // 3 after each gap, a dip against the 10 expected).
            let from = i.saturating_sub(period / 2).min(n - period.min(n));
            sums.mean(from, (from + period).min(n)).unwrap_or(f64::NAN)
        })
        .collect()
}

pub(super) fn deseasonalise(
    series: &Series,
    period: Option<usize>,
    weekday_levels: bool,
) -> Deseasonalised {
    // A flapping load is read through its mean over the flap's period,
    // on the load's own scale, so that the counting unit and the counting
    // test see the same load as the log scale.
    let flap = flapping_period(&log_scale(&series.values, 0.0).0).unwrap_or(1);
    let load = if flap > 1 {
        period_means(&series.values, flap)
    } else {
        series.values.clone()
    };
    let unit = counting_unit(&load, (3600 / series.step.max(1)) as usize);
    let (x, offset) = log_scale(&load, unit);
    let seasonal = match period.filter(|&p| p > 1) {
        Some(period) => Profile::new(series, &x, period).seasonal(weekday_levels),
        None => vec![0.0; x.len()],
    };
    let level: Vec<f64> = x.iter().zip(&seasonal).map(|(v, s)| v - s).collect();
    let (sigma, wander) = noise_scales(series, &level);
    Deseasonalised {
        level,
        seasonal,
        load,
        offset,
        unit,
        flap,
        sigma,
        wander,
    }
}

/// A log-scale series read against its days: each day's median is its
/// level, and the seasonal profile is what repeats about those levels.
struct Profile<'a> {
    series: &'a Series,
    x: &'a [f64],
    /// The seasonal period in steps (a day, or a week).
    period: usize,
    first_day: i64,
    day_level: Vec<f64>,
    /// Steps per day (at most the period).
    per_day: usize,
}

impl<'a> Profile<'a> {
    fn new(series: &'a Series, x: &'a [f64], period: usize) -> Self {
        let day_of = |i: usize| (series.start + i as i64 * series.step).div_euclid(DAY);
        let first_day = day_of(0);
        let days = (day_of(x.len().saturating_sub(1)) - first_day + 1) as usize;
        let mut by_day: Vec<Vec<f64>> = vec![Vec::new(); days];
        for (i, &v) in x.iter().enumerate() {
            if v.is_finite() {
                by_day[(day_of(i) - first_day) as usize].push(v);
            }
        }
        let day_level: Vec<f64> = by_day
            .iter_mut()
            .map(|d| if d.is_empty() { f64::NAN } else { median(d) })
            .collect();
        Profile {
            series,
            x,
            period,
            first_day,
            day_level,
            per_day: ((DAY / series.step) as usize).clamp(1, period),
        }
    }

    fn time(&self, i: usize) -> i64 {
        self.series.start + i as i64 * self.series.step
    }

    /// The index of step `i`'s day in `day_level`.
    fn day(&self, i: usize) -> usize {
        (self.time(i).div_euclid(DAY) - self.first_day) as usize
    }

    fn level_at(&self, i: usize) -> f64 {
        self.day_level[self.day(i)]
    }

    /// The seasonal profile at each step: the daily shape, then (from three
    /// weeks of a weekly period) the week's shape and, when `weekday_levels`
    /// and the days' totals follow the weekday, each weekday's level.
    fn seasonal(&self, weekday_levels: bool) -> Vec<f64> {
        // The daily shape: per phase of the day, the median over days.
        let day_phase =
            |i: usize| (self.time(i).rem_euclid(DAY) / self.series.step) as usize % self.per_day;
        let daily = phase_medians(
            self.per_day,
            (0..self.x.len()).map(|i| (day_phase(i), self.x[i] - self.level_at(i))),
        );
        let mut seasonal: Vec<f64> = (0..self.x.len()).map(|i| daily[day_phase(i)]).collect();
        if self.period > self.per_day && self.x.len() >= 3 * self.period {
            self.add_weekly_shape(&mut seasonal);
            if weekday_levels {
                self.add_weekday_levels(&mut seasonal);
            }
        }
        seasonal
    }

    /// A weekly shape (Saturday mornings are quiet) on top, from three
    /// weeks or more: per phase of the week, the median over the five
    /// weeks about this one of what the day's level and shape leave (near
    /// weeks only: a clock change or a season moves the hours of a
    /// weekend), smoothed over two hours, since a median of a few weeks
    /// alone would follow the noise. Kept only where it explains
    /// something: at least a tenth of the spread that the day's level and
    /// shape leave. (Without a weekly shape it adds noise, and on a day
    /// with a shift, that day's step at the same hours of other weeks.)
    fn add_weekly_shape(&self, seasonal: &mut [f64]) {
        let (x, period, step) = (self.x, self.period, self.series.step);
        let week_secs = period as i64 * step;
        let week_of = |i: usize| {
            (self.time(i) - self.time(0) + self.time(0).rem_euclid(week_secs)).div_euclid(week_secs)
                as usize
        };
        let week_phase = |i: usize| (self.time(i).rem_euclid(week_secs) / step) as usize % period;
        let weeks = week_of(x.len() - 1) + 1;
        // remainder[week][phase]
        let mut remainder = vec![vec![f64::NAN; period]; weeks];
        for i in 0..x.len() {
            remainder[week_of(i)][week_phase(i)] = x[i] - self.level_at(i) - seasonal[i];
        }
        let half = ((3600 / step) as usize).max(1);
        let mut around = Vec::with_capacity(5);
        let corrections: Vec<Vec<f64>> = (0..weeks)
            .map(|w| {
                let (from, to) = (
                    w.saturating_sub(2).min(weeks.saturating_sub(5)),
                    (w + 3).max(5).min(weeks),
                );
                let raw: Vec<f64> = (0..period)
                    .map(|p| {
                        around.clear();
                        around.extend(
                            remainder[from..to]
                                .iter()
                                .map(|r| r[p])
                                .filter(|v| v.is_finite()),
                        );
                        if around.len() >= 3 {
                            median(&mut around)
                        } else {
                            0.0
                        }
                    })
                    .collect();
                // Around the week's end the window wraps to its start: the
                // phases in `raw` twice over, no modulo in this loop (it
                // runs for every step of every week).
                let wrapped: Vec<f64> = raw.iter().chain(&raw).chain(&raw).copied().collect();
                (0..period)
                    .map(|p| {
                        let from = p + period - half;
                        let sum: f64 = wrapped[from..=from + 2 * half].iter().sum();
                        sum / (2 * half + 1) as f64
                    })
                    .collect()
            })
            .collect();
        let mut before: Vec<f64> = (0..x.len())
            .map(|i| x[i] - self.level_at(i) - seasonal[i])
            .collect();
        let mut after: Vec<f64> = (0..x.len())
            .map(|i| before[i] - corrections[week_of(i)][week_phase(i)])
            .collect();
        if robust_sd_in_place(&mut after) <= 0.9 * robust_sd_in_place(&mut before) {
            for (i, s) in seasonal.iter_mut().enumerate() {
                *s += corrections[week_of(i)][week_phase(i)];
            }
        }
    }

    /// The weekday's own level (a busier Saturday), when the day totals
    /// follow the weekday, by the same rule: per weekday, the median of
    /// each day's level over the median of the week about it. Otherwise
    /// every weekend would be a shift up and back down.
    fn add_weekday_levels(&self, seasonal: &mut [f64]) {
        let (day_level, days) = (&self.day_level, self.day_level.len());
        let reference: Vec<f64> = (0..days)
            .map(|d| {
                let mut week: Vec<f64> = day_level[d.saturating_sub(3)..(d + 4).min(days)]
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .collect();
                median(&mut week)
            })
            .collect();
        let deviation: Vec<f64> = (0..days).map(|d| day_level[d] - reference[d]).collect();
        let mut known: Vec<f64> = deviation
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let known_sd = robust_sd_in_place(&mut known).max(1e-12);
        // What grouping the days by `cycle` leaves of their spread.
        let grouped = |cycle: usize| {
            let group = |d: usize| (self.first_day + d as i64).rem_euclid(cycle as i64) as usize;
            let effect = phase_medians(cycle, (0..days).map(|d| (group(d), deviation[d])));
            let mut left: Vec<f64> = (0..days)
                .filter(|&d| deviation[d].is_finite())
                .map(|d| deviation[d] - effect[group(d)])
                .collect();
            (robust_sd_in_place(&mut left) / known_sd, effect)
        };
        let (left, effect) = grouped(7);
        // Grouped by 6 or 8 days, nothing real is grouped: a week that
        // explains no more than those is shifts and noise (in a month
        // with a few shifts, any grouping explains some).
        let null = grouped(6).0.min(grouped(8).0);
        let weekday = |d: usize| (self.first_day + d as i64).rem_euclid(7) as usize;
        if left <= 0.9 && left <= null - 0.1 {
            for (i, s) in seasonal.iter_mut().enumerate() {
                *s += effect[weekday(self.day(i))];
            }
        }
    }
}

/// The noise scale of `level` from first differences (the white part of
/// the noise), and the wander about each day's median (how far the level
/// drifts for hours without anything happening), at least the noise.
fn noise_scales(series: &Series, level: &[f64]) -> (f64, f64) {
    let mut diffs: Vec<f64> = level
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| d.is_finite())
        .collect();
    let sigma = (robust_sd_in_place(&mut diffs) / std::f64::consts::SQRT_2).max(1e-9);
    // The wander of a typical day: each day's robust spread about its
    // median, then the median over days. Pooled over the month, the few
    // days that hold a shift (half the day at each level) or a long burst
    // raised it, and with it the bar of every other shift.
    let day_of = |i: usize| (series.start + i as i64 * series.step).div_euclid(DAY);
    // (known steps, spread) per day
    let mut days: Vec<(usize, f64)> = Vec::new();
    let mut day = Vec::new();
    let mut i = 0;
    while i < level.len() {
        let mut j = i;
        while j < level.len() && day_of(j) == day_of(i) {
            j += 1;
        }
        day.clear();
        day.extend(level[i..j].iter().copied().filter(|v| v.is_finite()));
        if day.len() >= 3 {
            days.push((day.len(), robust_sd_in_place(&mut day)));
        }
        i = j;
    }
    // A day with under half the known steps of a typical one (a history's
    // first or last hours) says little of a day's spread; a load seen
    // only in business hours has every day alike, and all count.
    let mut known: Vec<f64> = days.iter().map(|&(k, _)| k as f64).collect();
    let typical = median(&mut known);
    let mut spreads: Vec<f64> = days
        .iter()
        .filter(|&&(k, _)| 2.0 * k as f64 >= typical)
        .map(|&(_, spread)| spread)
        .collect();
    // None (a history of a day or two): the sample noise.
    let wander = median(&mut spreads).max(sigma);
    (sigma, wander)
}

/// The seasonal period `detect` reads `series` against, found in
/// `values` (the series' own, or them with its shifts undone), and
/// whether weekly seasonality was seen. The daily shape by medians: on the
/// real traces with known events injected, hours of bursts most days hid
/// it from the hourly means in half of the injected months, and the
/// weekend then read as events (shifts recall 0.771 → 0.804,
/// spikes+dips 0.894 → 0.901).
pub(super) fn rhythm_of(series: &Series, values: &[f64]) -> (Option<usize>, bool) {
    let seasonality = crate::core::model::seasonality::detect_seasonality_robust(
        &seasonality_input(values, series.start, series.step),
        series.start,
        series.step,
    );
    // The weekly shape is looked for whenever there is a daily one: the
    // weekly test looks at day totals, and a city's weekend can keep its
    // total while moving its hours (late nights busy, mornings quiet).
    let per_week = (7 * DAY / series.step.max(1)) as usize;
    let period = seasonality
        .weekly
        .or(seasonality.daily.map(|_| per_week))
        .filter(|&p| p > 1);
    (period, seasonality.weekly.is_some())
}

/// What the seasonality test looks at for events: the load on the log
/// scale (events multiply it), each value held within 3 robust SD of the
/// day around it. The events themselves must not hide the rhythm they are
/// measured against: a ×6 spike of three hours or a halving for a day
/// would otherwise swamp a daily shape of ±30% in the test's variance.
pub(super) fn seasonality_input(values: &[f64], start: i64, step: i64) -> Vec<f64> {
    if !values.iter().any(|v| v.is_finite()) {
        return values.to_vec();
    }
    let (x, _) = log_scale(values, counting_unit(values, (3600 / step.max(1)) as usize));
    // The day around each step: a centred moving mean of the known values.
    let half = ((DAY / step.max(1)) as usize / 2).max(1);
    let sums = PrefixSums::new(&x);
    let around: Vec<f64> = (0..x.len())
        .map(|i| {
            sums.mean_of_known(i.saturating_sub(half), (i + half + 1).min(x.len()))
                .unwrap_or(f64::NAN)
        })
        .collect();
    let mut residual: Vec<f64> = x
        .iter()
        .zip(&around)
        .map(|(v, m)| v - m)
        .filter(|r| r.is_finite())
        .collect();
    let limit = 3.0 * robust_sd_in_place(&mut residual);
    if !limit.is_finite() || limit <= 0.0 {
        return x;
    }
    let held: Vec<f64> = x
        .iter()
        .zip(&around)
        .map(|(&v, &m)| {
            if v.is_finite() {
                m + (v - m).clamp(-limit, limit)
            } else {
                v
            }
        })
        .collect();
    without_week_levels(&held, start, step)
}

/// `x` less, on each calendar day, the median of the day means of the
/// week centred on it: a median of seven days, one of each weekday, holds
/// no weekly shape but follows a lasting change of level within a day or
/// so of it. What is left keeps the day's and the week's shape, and no
/// step for the weekly test to mistake for a rhythm (or to drown one in).
pub(super) fn without_week_levels(x: &[f64], start: i64, step: i64) -> Vec<f64> {
    let day_of = |i: usize| (start + i as i64 * step).div_euclid(DAY);
    let Some(first) = x.first().map(|_| day_of(0)) else {
        return Vec::new();
    };
    let days = (day_of(x.len() - 1) - first + 1) as usize;
    let mut sums = vec![(0.0, 0usize); days];
    for (i, v) in x.iter().enumerate() {
        if v.is_finite() {
            let d = &mut sums[(day_of(i) - first) as usize];
            d.0 += v;
            d.1 += 1;
        }
    }
    let means: Vec<f64> = sums
        .iter()
        .map(|&(s, c)| if c == 0 { f64::NAN } else { s / c as f64 })
        .collect();
    if days < 7 {
        return x.to_vec();
    }
    let mut scratch = Vec::with_capacity(7);
    let level: Vec<f64> = (0..days)
        .map(|d| {
            let from = d.saturating_sub(3).min(days - 7);
            known_median(&means[from..from + 7], 4, &mut scratch).unwrap_or(f64::NAN)
        })
        .collect();
    x.iter()
        .enumerate()
        .map(|(i, v)| {
            let l = level[(day_of(i) - first) as usize];
            if l.is_finite() {
                v - l
            } else {
                *v
            }
        })
        .collect()
}
