//! Model stage: detects seasonality, fits candidate forecasters, picks the
//! best by backtest on the series' own recent history, and forecasts with
//! an interval for any level.
//!
//! Takes plain values (`&[f64]`, `NaN` = unknown) plus their [`Grid`], never
//! a data frame. Gives a [`Forecast`]: the mean per future step, and
//! intervals calibrated on the chosen model's out-of-sample errors.
//!
//! Selection: rolling-origin backtest on the series' own history, never
//! beyond it. Each origin holds out the `validation` steps after it (a
//! quarter of the history in whole days, at least one, at most the horizon);
//! the last origin is the end of the history minus that window, and up to
//! [`MAX_ORIGINS`] − 1 more sit back to back before it while they still
//! train on at least half the history. Every candidate is fitted at every
//! origin and scored by mean absolute error over all held-out known steps;
//! the mean of the best two or three competes on the same backtest and wins
//! when it does better. The winner is refitted on everything.
//!
//! Intervals (split-conformal, per lead time): the winner's backtest errors
//! (actual − forecast) are grouped by lead time into buckets of doubling
//! length, each with at least [`MIN_BUCKET_ERRORS`] (the longest leads
//! may have fewer: they are what there is); the interval at a lead
//! is the forecast plus that bucket's error quantiles, never narrower than
//! at a shorter lead. Beyond the longest lead the backtest reached, it
//! widens as a power of the lead fitted to how the backtest errors grew
//! (from 0 for errors that did not grow to ½ for a random walk's).
//! Measured on the shared traces (`homeostat evaluate --input data`): 90%
//! intervals cover 0.91 over a week and 0.92 over a day, mean of 13 series.

pub mod naive;
pub mod regression;
pub mod seasonality;
pub mod smoothing;
pub mod spectral;

pub use naive::{RecentLevel, SeasonalMedian, SeasonalNaive};
pub use regression::{FourierTrend, Loss};
pub use seasonality::{detect_seasonality, Seasonality};
pub use smoothing::DampedTrend;

use crate::core::series::Series;
use std::fmt;

/// Where a series' values sit in time: step `i` is at `start + i * step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub start: i64,
    pub step: i64,
}

/// A forecasting method, before fitting.
pub trait Forecaster {
    /// Name with its settings, as shown in reports (`seasonal_naive(daily)`).
    fn name(&self) -> String;
    /// Fits on `values` (`NaN` = unknown) laid on `grid`.
    fn fit(&self, values: &[f64], grid: Grid) -> Result<Box<dyn Fitted>, ModelError>;
    /// Models fitted on the way to this one, which are candidates in their
    /// own right (the smoothing model's seasonal regression): the backtest
    /// scores them from this model's fits instead of fitting them again.
    /// Their fits are [`Fitted::companions`], in the same order.
    fn companions(&self) -> Vec<Box<dyn Forecaster>> {
        Vec::new()
    }
}

/// A fitted forecaster: predicts the steps right after its history.
///
/// Point forecasts only: every model's intervals are calibrated the same way,
/// on its own held-out errors (see the module docs), so the interval for any
/// level comes with the [`Forecast`] that [`forecast`] returns.
pub trait Fitted {
    /// Point forecasts for the next `steps` steps.
    fn predict(&self, steps: usize) -> Vec<f64>;
    /// The fits of [`Forecaster::companions`], in the same order.
    fn companions(&self) -> Vec<&dyn Fitted> {
        Vec::new()
    }
}

/// Why no forecast could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("{model}: {have} known steps, need at least {need}")]
    TooShort {
        model: String,
        have: usize,
        need: usize,
    },
    #[error("{model}: fit failed: {message}")]
    Fit { model: String, message: String },
    #[error("{model}: no known held-out steps to score it on")]
    Unscored { model: String },
    #[error("no model could be fitted: {0}")]
    NoCandidate(String),
    #[error("forecast horizon must be at least one step")]
    EmptyHorizon,
    #[error("{model}: no load in its {history} of history: a cold start scales the fleet's shapes to the load seen, so nothing sizes its bounds yet (its HPA is left as it is)")]
    NoLoad { model: String, history: String },
}

impl ModelError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            ModelError::TooShort { .. } | ModelError::NoLoad { .. } => "insufficient_data",
            ModelError::EmptyHorizon => "empty_horizon",
            ModelError::Fit { .. } | ModelError::Unscored { .. } | ModelError::NoCandidate(_) => {
                "no_forecast"
            }
        }
    }
}

/// A central interval level, strictly between 0 and 1 (0.9 = 90%).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize)]
pub struct Level(f64);

impl Level {
    /// From a fraction in (0, 1).
    #[must_use]
    pub fn new(fraction: f64) -> Option<Self> {
        (fraction > 0.0 && fraction < 1.0).then_some(Level(fraction))
    }

    /// From a percentage in [1, 100), as users write it (`90`). Below 1 is
    /// refused: `0.9` is far more likely a fraction meant as 90% than a
    /// 0.9% interval.
    #[must_use]
    pub fn from_percent(percent: f64) -> Option<Self> {
        if percent >= 1.0 {
            Self::new(percent / 100.0)
        } else {
            None
        }
    }

    #[must_use]
    pub fn fraction(self) -> f64 {
        self.0
    }

    /// Quantile of the lower end of the central interval.
    #[must_use]
    pub fn lower_quantile(self) -> f64 {
        (1.0 - self.0) / 2.0
    }

    /// Quantile of the upper end of the central interval.
    #[must_use]
    pub fn upper_quantile(self) -> f64 {
        f64::midpoint(1.0, self.0)
    }
}

/// The message for a level that [`Level::from_percent`] refused.
#[must_use]
pub fn level_error(percent: f64) -> String {
    let hint = if percent > 0.0 && percent < 1.0 {
        format!(" (did you mean {}?)", percent * 100.0)
    } else {
        String::new()
    };
    format!("level must be a percentage from 1 to below 100 (e.g. 90), got {percent}{hint}")
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0 * 100.0)
    }
}

/// A forecast: the mean for each future step and the backtest errors that
/// calibrate its intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Timestamp of the first forecast step (one step after the history).
    pub start: i64,
    pub step: i64,
    /// Expected load per step (never negative).
    pub mean: Vec<f64>,
    /// Name of the model that made it.
    pub model: String,
    pub seasonality: Seasonality,
    /// The chosen model's backtest errors, by lead time.
    calibration: Calibration,
    /// Errors the interval is never narrower than (see [`Forecast::widen_to`]).
    floor: Option<Calibration>,
    /// Errors the interval is averaged with, and this forecast's own share
    /// (see [`Forecast::mix_interval`]).
    mix: Option<(Calibration, f64)>,
    /// Mean absolute error of the chosen model over the backtest.
    pub validation_mae: f64,
    /// Backtest origins the choice rests on.
    pub origins: usize,
}

/// Lower and upper end of an interval at one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

/// Backtest errors (actual − forecast) grouped by lead time: bucket `b`
/// holds the errors at leads up to `last_lead[b]` (and above the previous
/// bucket's), each sorted.
#[derive(Debug, Clone, PartialEq)]
struct Calibration {
    last_lead: Vec<usize>,
    errors: Vec<Vec<f64>>,
    /// The spread placed about the forecast (see `quantiles`): a
    /// workload's own backtest. Not the fleet's simulated cold starts,
    /// whose errors lean the same way for every young workload (a shape
    /// fitted to hours of history): centred, a synthetic fleet's cold
    /// starts covered 0.843 at 6 hours instead of 0.85 or more.
    centred: bool,
}

/// Errors a lead-time bucket needs before it stands on its own; smaller
/// buckets are merged into the next (a 95% quantile from fewer is noise).
pub const MIN_BUCKET_ERRORS: usize = 200;

impl Calibration {
    /// Groups `(lead, error)` pairs (leads from 1) into buckets of doubling
    /// lead time, merging buckets with too few errors.
    fn new(mut errors: Vec<(usize, f64)>) -> Self {
        errors.sort_by_key(|&(lead, _)| lead);
        let mut calibration = Calibration {
            last_lead: Vec::new(),
            errors: Vec::new(),
            centred: true,
        };
        let mut current: Vec<f64> = Vec::new();
        let mut bound = 1;
        for (k, &(lead, error)) in errors.iter().enumerate() {
            while lead > bound {
                bound *= 2;
            }
            current.push(error);
            let bucket_ends = errors.get(k + 1).is_none_or(|&(next, _)| next > bound);
            let is_last = k + 1 == errors.len();
            if bucket_ends && (current.len() >= MIN_BUCKET_ERRORS || is_last) {
                current.sort_by(f64::total_cmp);
                calibration.last_lead.push(lead);
                calibration.errors.push(std::mem::take(&mut current));
            }
        }
        calibration
    }

    /// Lower and upper error quantiles for each bucket, less the bucket's
    /// median error when `centred`, widening (never narrowing) with lead time. Less the
    /// median: the interval is the errors' spread placed about the
    /// forecast, whose middle is then the forecast itself. The median
    /// error of a backtest's two windows is a bias the mean does not
    /// carry and the next week mostly does not repeat: centred, the 90%
    /// interval's coverage over six origins went 0.852 / 0.837 / 0.860 /
    /// 0.861 → 0.858 / 0.850 / 0.874 / 0.871 at 1 h / 6 h / 1 d / 7 d on
    /// the decision traces and 0.894 / 0.873 / 0.887 / 0.903 → 0.922 /
    /// 0.886 / 0.900 / 0.911 on `data/`, with fewer series under 0.7
    /// (2026-12-07; README, Forecast quality).
    fn quantiles(&self, level: Level) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = Vec::with_capacity(self.errors.len());
        for errors in &self.errors {
            let centre = if self.centred {
                conformal_quantile(errors, 0.5)
            } else {
                0.0
            };
            let low = conformal_quantile(errors, level.lower_quantile()) - centre;
            let high = conformal_quantile(errors, level.upper_quantile()) - centre;
            let (low, high) = match out.last() {
                Some(&(l, h)) => (low.min(l), high.max(h)),
                None => (low, high),
            };
            out.push((low, high));
        }
        out
    }
}

impl Calibration {
    /// How fast the interval grows with lead time beyond the backtest: the
    /// power of the lead by which its width grew from the first bucket to
    /// the last, between 0 (errors that do not grow, as a stable seasonal
    /// model's) and ½ (a random walk's). One bucket shows no growth, so it
    /// gets the cautious ½.
    /// The lead a bucket stands for: the middle of its leads.
    fn middle(&self, bucket: usize) -> f64 {
        let first = if bucket == 0 {
            1
        } else {
            self.last_lead[bucket - 1] + 1
        };
        f64::midpoint(first as f64, self.last_lead[bucket] as f64)
    }

    fn growth(&self, quantiles: &[(f64, f64)]) -> f64 {
        let (Some(first), Some(last)) = (quantiles.first(), quantiles.last()) else {
            return 0.5;
        };
        let buckets = self.last_lead.len();
        if buckets < 2 {
            return 0.5;
        }
        let (near, far) = (self.middle(0), self.middle(buckets - 1));
        let (w_near, w_far) = (first.1 - first.0, last.1 - last.0);
        if w_near <= 0.0 || w_far <= 0.0 {
            return 0.5;
        }
        ((w_far / w_near).ln() / (far / near).ln()).clamp(0.0, 0.5)
    }
}

/// The `q` quantile of sorted `errors` with the split-conformal finite
/// sample correction: the ⌈(m+1)q⌉-th of m errors, so that the interval
/// covers at least its level. When that rank is beyond m (fewer than
/// 1/(1−q) − 1 errors: 19 for a 95% end) no finite interval is guaranteed;
/// the extreme error is used, and the interval is only as good as it.
pub(crate) fn conformal_quantile(errors: &[f64], q: f64) -> f64 {
    let m = errors.len();
    if m == 0 {
        return 0.0;
    }
    if q >= 0.5 {
        let rank = ((m + 1) as f64 * q).ceil() as usize;
        errors[rank.clamp(1, m) - 1]
    } else {
        let rank = ((m + 1) as f64 * (1.0 - q)).ceil() as usize;
        errors[m - rank.clamp(1, m)]
    }
}

impl Forecast {
    /// A forecast whose interval is calibrated on errors measured
    /// elsewhere (the fleet's simulated cold starts): `buckets` are each
    /// lead-time bucket's last lead and its errors, by increasing lead.
    #[must_use]
    pub fn calibrated_elsewhere(
        start: i64,
        step: i64,
        mean: Vec<f64>,
        model: String,
        seasonality: Seasonality,
        buckets: Vec<(usize, Vec<f64>)>,
        validation_mae: f64,
    ) -> Forecast {
        let (last_lead, mut errors): (Vec<usize>, Vec<Vec<f64>>) = buckets.into_iter().unzip();
        for e in &mut errors {
            e.sort_by(f64::total_cmp);
        }
        Forecast {
            start,
            step,
            mean,
            model,
            seasonality,
            calibration: Calibration {
                last_lead,
                errors,
                centred: false,
            },
            floor: None,
            mix: None,
            validation_mae,
            origins: 0,
        }
    }

    /// Timestamp of forecast step `i`.
    #[must_use]
    pub fn timestamp(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// Backtest errors the interval rests on, in its thinnest lead-time
    /// bucket, and how many a `level` interval needs there to be guaranteed
    /// (⌈(m+1)q⌉ ≤ m: 19 for a 90% interval's 95% end). Fewer, and the
    /// interval is only as wide as the worst error seen.
    #[must_use]
    pub fn interval_support(&self, level: Level) -> (usize, usize) {
        let thinnest = self
            .calibration
            .errors
            .iter()
            .map(Vec::len)
            .min()
            .unwrap_or(0);
        let q = level.upper_quantile();
        let needed = (q / (1.0 - q) - 1e-9).ceil() as usize;
        (thinnest, needed)
    }

    /// The central `level` interval at every step (lower never below 0):
    /// the mean plus the backtest error quantiles at that lead time; beyond
    /// the longest lead the backtest reached, the last bucket's quantiles
    /// (which stand for the middle of its leads) widened by a power of the
    /// lead fitted to how the backtest errors grew (see `growth`). With a
    /// floor (see [`Forecast::widen_to`]), never narrower than the floor's.
    #[must_use]
    pub fn interval(&self, level: Level) -> Vec<Interval> {
        let mut own = self.calibration.offsets(level, self.mean.len());
        if let Some((other, share)) = &self.mix {
            let other = other.offsets(level, self.mean.len());
            for ((low, high), (other_low, other_high)) in own.iter_mut().zip(other) {
                *low = share * *low + (1.0 - share) * other_low;
                *high = high.max(other_high);
            }
        }
        let floor = self
            .floor
            .as_ref()
            .map(|f| f.offsets(level, self.mean.len()));
        self.mean
            .iter()
            .enumerate()
            .map(|(i, &mean)| {
                let (mut low, mut high) = own[i];
                if let Some(floor) = &floor {
                    low = low.min(floor[i].0);
                    high = high.max(floor[i].1);
                }
                Interval {
                    lower: (mean + low).max(0.0),
                    upper: (mean + high).max(0.0),
                }
            })
            .collect()
    }

    /// Never narrower than `other`'s interval at the same lead (a cold
    /// start's interval never narrower than its own noise).
    pub fn widen_to(&mut self, other: &Forecast) {
        self.floor = Some(other.calibration.clone());
    }

    /// A young workload's interval from its own backtest (a day or two of
    /// it) and `other`'s (the fleet's calibrated cold starts), weighed as
    /// the means are (`own_share` of its own): the lower end is the two
    /// lower ends averaged, `own_share` of its own (quantile averaging,
    /// which keeps the coverage of two calibrated forecasts); the upper end
    /// is the wider of the two, because max rests on it and a backtest of a
    /// day or two can be far too narrow. Measured on `data/` and the
    /// decision set (`evaluate --cold-start`): the union at both ends
    /// covered 0.955 on `data/` at 48 h; averaging both ends covered 0.842
    /// on the decision set.
    pub fn mix_interval(&mut self, other: &Forecast, own_share: f64) {
        self.mix = Some((other.calibration.clone(), own_share.clamp(0.0, 1.0)));
    }
}

impl Calibration {
    /// The interval's offsets from the mean (lower, upper) at each of
    /// `steps` leads: see [`Forecast::interval`].
    fn offsets(&self, level: Level, steps: usize) -> Vec<(f64, f64)> {
        let quantiles = self.quantiles(level);
        let leads = &self.last_lead;
        let growth = self.growth(&quantiles);
        let mut bucket = 0;
        (1..=steps)
            .map(|lead| {
                while bucket + 1 < leads.len() && lead > leads[bucket] {
                    bucket += 1;
                }
                let (low, high) = quantiles.get(bucket).copied().unwrap_or((0.0, 0.0));
                let reached = leads.get(bucket).copied().unwrap_or(1).max(1);
                let widen = if lead > reached {
                    let middle = self.middle(bucket);
                    (lead as f64 / middle).powf(growth).max(1.0)
                } else {
                    1.0
                };
                (low * widen, high * widen)
            })
            .collect()
    }
}

/// The candidates worth trying for a series with this seasonality.
#[must_use]
pub fn candidates(seasonality: &Seasonality, per_day: Option<usize>) -> Vec<Box<dyn Forecaster>> {
    let mut list: Vec<Box<dyn Forecaster>> = Vec::new();
    let (daily, weekly) = (seasonality.daily.is_some(), seasonality.weekly.is_some());
    // Seasonal naive needs a whole number of steps per season.
    if let (Some(_), Some(day)) = (seasonality.weekly, per_day) {
        list.push(Box::new(SeasonalNaive {
            period: 7 * day,
            label: "weekly",
        }));
    }
    if let Some(period) = per_day {
        list.push(Box::new(SeasonalNaive {
            period,
            label: "daily",
        }));
        list.push(Box::new(RecentLevel {
            window: period,
            label: "1d",
        }));
        // The median of the last week's days: every weekday once, so a
        // weekday of its own does not bend it (3, 5, 10 and 14 days were
        // tried: see README "Forecast quality"). Only for a daily rhythm
        // the data shows: without one, a median per time of day keeps
        // whatever the week's noise left there.
        if daily {
            list.push(Box::new(SeasonalMedian {
                period,
                seasons: 7,
                label: "daily",
            }));
        }
    }
    list.push(Box::new(FourierTrend {
        daily,
        weekly,
        trend: true,
        loss: Loss::Huber,
    }));
    // With its companion, the same regression without the trend.
    list.push(Box::new(DampedTrend { daily, weekly }));
    list
}

/// Steps each backtest origin forecasts: a quarter of the history, at least
/// a day, at most the horizon rounded up to whole days (a shorter horizon is
/// still scored on whole days), in whole days when a day is a whole number of
/// steps. A history two steps or less short of a whole day counts as that
/// day: a file and a server holding the same 28 days differ by a point at
/// either end (Prometheus fills one in from its lookback), and that point
/// must not turn 7 days of validation into 6 and change the bounds. (Any
/// other length keeps its whole days: rounding them all moved the model
/// chosen on histories of 19.9 days, and max with it.)
fn validation_steps(len: usize, horizon: usize, per_day: Option<usize>) -> usize {
    let quarter = len / 4;
    match per_day {
        Some(day) => {
            let history_days = (len + 2) / day;
            let days = (history_days / 4).clamp(1, horizon.div_ceil(day).max(1));
            (days * day).min(len / 2)
        }
        // No whole-day unit: at least two dozen steps, so that the interval
        // rests on more than a handful of errors.
        None => quarter.min(horizon.max(24)).max(1),
    }
}

/// Backtest origins at most: the last window and the one before it (three
/// covered 0.934 over a week on the shared traces when tried with the first
/// version of this backtest, above the 0.93 target).
pub const MAX_ORIGINS: usize = 2;

/// Where the backtest forecasts from: origin `o` trains on `..o` and is
/// scored on `o..o + validation`. Back to back from the end of the history,
/// as long as each trains on at least half of it.
fn origins(len: usize, validation: usize) -> Vec<usize> {
    (1..=MAX_ORIGINS)
        .map_while(|j| len.checked_sub(j * validation))
        .filter(|&o| o >= len / 2 || o == len - validation)
        .collect()
}

/// One candidate's backtest: its forecast from each origin, its errors by
/// lead time and their mean size.
struct Backtest {
    predictions: Vec<Vec<f64>>,
    errors: Vec<(usize, f64)>,
    mae: f64,
}

impl Backtest {
    /// Scores forecasts made from `origins` against what followed them.
    fn score(
        name: &str,
        predictions: Vec<Vec<f64>>,
        values: &[f64],
        origins: &[usize],
    ) -> Result<Self, ModelError> {
        let mut errors = Vec::new();
        for (&origin, predicted) in origins.iter().zip(&predictions) {
            errors.extend(
                values[origin..]
                    .iter()
                    .zip(predicted)
                    .enumerate()
                    .filter(|(_, (actual, _))| !actual.is_nan())
                    .map(|(i, (&actual, &p))| (i + 1, actual - p)),
            );
        }
        if errors.is_empty() {
            return Err(ModelError::Unscored {
                model: name.to_string(),
            });
        }
        let mae = errors.iter().map(|(_, e)| e.abs()).sum::<f64>() / errors.len() as f64;
        Ok(Backtest {
            predictions,
            errors,
            mae,
        })
    }

    /// Backtests `candidate` and its companions, from the same fits: one
    /// result per model, the candidate first.
    fn run(
        candidate: &dyn Forecaster,
        companions: &[Box<dyn Forecaster>],
        values: &[f64],
        grid: Grid,
        origins: &[usize],
        validation: usize,
    ) -> Result<Vec<Result<Self, ModelError>>, ModelError> {
        let forecast = |fitted: &dyn Fitted| -> Vec<f64> {
            fitted
                .predict(validation)
                .into_iter()
                .map(|p| p.max(0.0))
                .collect()
        };
        // predictions[model][origin]
        let mut predictions = vec![Vec::with_capacity(origins.len()); 1 + companions.len()];
        for &origin in origins {
            let fitted = candidate.fit(&values[..origin], grid)?;
            predictions[0].push(forecast(fitted.as_ref()));
            for (k, companion) in fitted.companions().into_iter().enumerate() {
                predictions[k + 1].push(forecast(companion));
            }
        }
        let names = std::iter::once(candidate.name()).chain(companions.iter().map(|c| c.name()));
        Ok(predictions
            .into_iter()
            .zip(names)
            .map(|(p, name)| Self::score(&name, p, values, origins))
            .collect())
    }
}

/// The mean of several models' forecasts: where no single model is best on
/// every stretch of history, the average of the best few often beats each.
pub struct Combination(pub Vec<Box<dyn Forecaster>>);

/// A fitted [`Combination`]: its own fits, and the members that came with
/// another member's fit (a companion: member `of`, companion `index`),
/// so that a seasonal regression is not fitted twice.
struct FittedCombination {
    fits: Vec<Box<dyn Fitted>>,
    members: Vec<Member>,
}

enum Member {
    Own(usize),
    Companion { of: usize, index: usize },
}

impl Forecaster for Combination {
    fn name(&self) -> String {
        let names: Vec<String> = self.0.iter().map(|m| m.name()).collect();
        format!("mean({})", names.join(", "))
    }

    fn fit(&self, values: &[f64], grid: Grid) -> Result<Box<dyn Fitted>, ModelError> {
        let names: Vec<String> = self.0.iter().map(|m| m.name()).collect();
        // Members that are another member's companions ride on its fit.
        let found: Vec<Option<(usize, usize)>> = names
            .iter()
            .map(|name| {
                self.0.iter().enumerate().find_map(|(of, other)| {
                    let index = other.companions().iter().position(|c| c.name() == *name)?;
                    Some((of, index))
                })
            })
            .collect();
        // Only a member fitted itself can carry another.
        let carried: Vec<Option<(usize, usize)>> = found
            .iter()
            .map(|c| c.filter(|(of, _)| found[*of].is_none()))
            .collect();
        let mut fits = Vec::new();
        let mut own = vec![None; self.0.len()];
        for (i, member) in self.0.iter().enumerate() {
            if carried[i].is_none() {
                own[i] = Some(fits.len());
                fits.push(member.fit(values, grid)?);
            }
        }
        let members = carried
            .iter()
            .zip(&own)
            .map(|(carried, fitted)| match (carried, fitted) {
                (_, Some(fit)) => Member::Own(*fit),
                (Some((of, index)), None) => Member::Companion {
                    of: own[*of].expect("a carrier is fitted itself"),
                    index: *index,
                },
                (None, None) => unreachable!("every member is fitted or carried"),
            })
            .collect();
        Ok(Box::new(FittedCombination { fits, members }))
    }
}

impl Fitted for FittedCombination {
    fn predict(&self, steps: usize) -> Vec<f64> {
        let mut sum = vec![0.0; steps];
        for member in &self.members {
            let predicted = match *member {
                Member::Own(fit) => self.fits[fit].predict(steps),
                Member::Companion { of, index } => self.fits[of].companions()[index].predict(steps),
            };
            for (s, p) in sum.iter_mut().zip(predicted) {
                *s += p.max(0.0);
            }
        }
        let count = self.members.len().max(1) as f64;
        sum.into_iter().map(|s| s / count).collect()
    }
}

/// Models averaged at most, best first by backtest.
pub const MAX_COMBINED: usize = 3;

/// The mean of the best `k` of `tried` (sorted best first) for the `k` in
/// `2..=MAX_COMBINED` whose backtest beats the best single model and every
/// smaller mean: `k` and its backtest, or `None` when no mean does better.
fn best_combination(
    tried: &[(Backtest, Box<dyn Forecaster>)],
    values: &[f64],
    origins: &[usize],
    validation: usize,
) -> Option<(usize, Backtest)> {
    let mut best: Option<(usize, Backtest)> = None;
    for k in 2..=MAX_COMBINED.min(tried.len()) {
        let predictions = (0..origins.len())
            .map(|o| {
                let mut mean = vec![0.0; validation];
                for (member, _) in &tried[..k] {
                    for (m, p) in mean.iter_mut().zip(&member.predictions[o]) {
                        *m += p / k as f64;
                    }
                }
                mean
            })
            .collect();
        let Ok(result) = Backtest::score("mean", predictions, values, origins) else {
            continue;
        };
        let to_beat = best.as_ref().map_or(tried[0].0.mae, |(_, b)| b.mae);
        if result.mae < to_beat {
            best = Some((k, result));
        }
    }
    best
}

/// Forecasts `horizon` steps after the end of `series`, choosing the model
/// by backtest (see the module docs).
pub fn forecast(series: &Series, horizon: usize) -> Result<Forecast, ModelError> {
    if horizon == 0 {
        return Err(ModelError::EmptyHorizon);
    }
    let values = &series.values;
    if values.len() < 2 {
        return Err(ModelError::TooShort {
            model: "backtest".into(),
            have: values.len(),
            need: 2,
        });
    }
    let grid = Grid {
        start: series.start,
        step: series.step,
    };
    let per_day = series.steps_per_day();
    let seasonality = detect_seasonality(values, series.start, series.step);
    let validation = validation_steps(values.len(), horizon, per_day);
    let origins = origins(values.len(), validation);

    let mut tried: Vec<(Backtest, Box<dyn Forecaster>)> = Vec::new();
    let mut failures = Vec::new();
    for candidate in candidates(&seasonality, per_day) {
        let companions = candidate.companions();
        match Backtest::run(
            candidate.as_ref(),
            &companions,
            values,
            grid,
            &origins,
            validation,
        ) {
            Ok(results) => {
                let models = std::iter::once(candidate).chain(companions);
                for (result, model) in results.into_iter().zip(models) {
                    match result {
                        Ok(result) => tried.push((result, model)),
                        Err(e) => failures.push(e.to_string()),
                    }
                }
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if tried.is_empty() {
        return Err(ModelError::NoCandidate(failures.join("; ")));
    }
    tried.sort_by(|a, b| a.0.mae.total_cmp(&b.0.mae));
    // The best single model, or the mean of the best two or three when
    // that does better on the same backtest.
    let mut choices: Vec<(Backtest, Box<dyn Forecaster>)> = Vec::new();
    if let Some((members, result)) = best_combination(&tried, values, &origins, validation) {
        // Members in the order of their names, not of their scores: the
        // same mean is named the same run after run (a review counted 20
        // "switches" on taxi that were one mean named in either order).
        let mut members: Vec<Box<dyn Forecaster>> =
            tried.drain(..members).map(|(_, m)| m).collect();
        members.sort_by_cached_key(|m| m.name());
        choices.push((result, Box::new(Combination(members))));
    }
    choices.extend(tried);
    // The best by backtest, refitted on the whole history; should that fit
    // fail (the last stretch unlike the backtest's), the next best.
    let mut refit_failures = Vec::new();
    let (result, chosen, fitted) = choices
        .into_iter()
        .find_map(|(result, chosen)| match chosen.fit(values, grid) {
            Ok(fitted) => Some((result, chosen, fitted)),
            Err(e) => {
                refit_failures.push(e.to_string());
                None
            }
        })
        .ok_or_else(|| ModelError::NoCandidate(refit_failures.join("; ")))?;
    let mean = fitted
        .predict(horizon)
        .into_iter()
        .map(|m| m.max(0.0))
        .collect();
    Ok(Forecast {
        start: series.end() + series.step,
        step: series.step,
        mean,
        model: chosen.name(),
        seasonality,
        calibration: Calibration::new(result.errors),
        floor: None,
        mix: None,
        validation_mae: result.mae,
        origins: origins.len(),
    })
}

/// Steps of `step` seconds in `secs` seconds, rounded up.
#[must_use]
pub fn steps_in(secs: i64, step: i64) -> usize {
    (secs.max(0) + step - 1).div_euclid(step) as usize
}

#[cfg(test)]
mod tests;
