//! Series stage: puts raw samples on one regular time grid.
//!
//! Takes the samples of a source in any order; gives a [`Series`]: a start,
//! a step and one value per step. Guarantees:
//! - the grid is anchored at the first sample and its step is the most common
//!   spacing (or the one asked for); off-grid samples go to the nearest step;
//! - samples that land on the same step are merged by their mean;
//! - gaps up to `max_gap` are filled by linear interpolation; longer gaps stay
//!   `NaN` ("unknown"), so that no model learns from invented values;
//! - the result holds at least `min_history` of known values, or is an error
//!   naming the origin and the counts.

use crate::core::time::{format_timestamp, Span, DAY};

/// One sample as read: unix seconds and load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ts: i64,
    pub value: f64,
}

/// All samples of one file, in file order (not yet sorted or gridded).
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeries {
    /// Where the samples came from, for error messages and reports.
    pub origin: String,
    pub samples: Vec<Sample>,
}

impl RawSeries {
    /// The time of the newest sample, the natural "now" of a file (0 when empty).
    #[must_use]
    pub fn latest(&self) -> i64 {
        self.samples.iter().map(|s| s.ts).max().unwrap_or(0)
    }

    /// The samples in the history window `(now − history, now]`, from the
    /// same origin: what a run at `now` may use.
    #[must_use]
    pub fn window(&self, now: i64, history: i64) -> RawSeries {
        let earliest = now - history;
        RawSeries {
            origin: self.origin.clone(),
            samples: self
                .samples
                .iter()
                .filter(|s| s.ts <= now && s.ts > earliest)
                .copied()
                .collect(),
        }
    }
}

/// Default longest gap that is filled by interpolation.
pub const DEFAULT_MAX_GAP: i64 = 3_600;
/// Least history a workload needs: two days, so that a daily pattern is seen twice.
pub const DEFAULT_MIN_HISTORY: i64 = 2 * DAY;

/// How to grid a raw series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridOptions {
    /// The grid step; the most common spacing of the samples when `None`.
    pub step: Option<Span>,
    /// Longest gap (missing time between two samples) filled by interpolation.
    pub max_gap: Span,
    /// Least known history (count of known steps × step) to accept.
    pub min_history: Span,
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            step: None,
            max_gap: Span::from_secs(DEFAULT_MAX_GAP).expect("positive constant"),
            min_history: Span::from_secs(DEFAULT_MIN_HISTORY).expect("positive constant"),
        }
    }
}

/// A load series on a regular grid. `values[i]` is the load at
/// `start + i * step`; `NaN` marks a step inside a long gap (unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub start: i64,
    pub step: i64,
    pub values: Vec<f64>,
    pub stats: GridStats,
}

/// What gridding did, for reports and debugging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct GridStats {
    /// Samples read.
    pub samples: usize,
    /// Samples merged into a step that already had one.
    pub merged: usize,
    /// Steps filled by interpolation (short gaps).
    pub interpolated: usize,
    /// Steps left unknown (long gaps).
    pub unknown: usize,
}

/// Why a series could not be put on a grid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    #[error("{origin}: no samples")]
    NoSamples { origin: String },
    #[error("{}", no_spacing(origin, *samples, at))]
    NoSpacing {
        origin: String,
        samples: usize,
        at: String,
    },
    #[error(
        "{origin}: {known} known steps of {step} cover {covered}, need at least {need} of usable data"
    )]
    TooShort {
        origin: String,
        known: usize,
        step: Span,
        covered: String,
        need: Span,
    },
    #[error("{origin}: the data comes every {data_step}, the step is {step}: {made_up} of every {every} steps would be made up by interpolation (and the noise and events read from them); set the step to {data_step} (`step:` in the config, `--step` on the command line), or leave it out to use the data's own spacing")]
    StepFinerThanData {
        origin: String,
        step: Span,
        data_step: Span,
        made_up: i64,
        every: i64,
    },
    #[error("{origin}: the grid would have {steps} steps of {step} (from {from} to {to}); is the step right?")]
    TooManySteps {
        origin: String,
        steps: i64,
        step: Span,
        from: String,
        to: String,
    },
}

impl SeriesError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            SeriesError::NoSamples { .. } => "no_data",
            SeriesError::TooManySteps { .. } => "grid_too_large",
            SeriesError::StepFinerThanData { .. } => "step_finer_than_data",
            _ => "insufficient_data",
        }
    }
}

/// Largest grid accepted: a year of 1-second steps. Guards against a bad
/// timestamp (say a year 2200) turning into a multi-gigabyte allocation.
const MAX_STEPS: i64 = 366 * DAY;

impl Series {
    /// Number of steps on the grid.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the grid has no steps (never true for a gridded series).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Timestamp of step `i`.
    #[must_use]
    pub fn timestamp(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// Timestamp of the last step.
    #[must_use]
    pub fn end(&self) -> i64 {
        self.timestamp(self.len().saturating_sub(1))
    }

    /// Keeps only the last `secs` seconds of steps (at least one).
    pub fn keep_last(&mut self, secs: i64) {
        let keep = usize::try_from(secs / self.step)
            .unwrap_or(usize::MAX)
            .max(1);
        let drop = self.values.len().saturating_sub(keep);
        if drop > 0 {
            self.values.drain(..drop);
            self.start += drop as i64 * self.step;
        }
    }

    /// Number of steps with a known value.
    #[must_use]
    pub fn known(&self) -> usize {
        self.values.iter().filter(|v| !v.is_nan()).count()
    }

    /// Steps in one day, when a day is a whole number (at least 2) of steps.
    #[must_use]
    pub fn steps_per_day(&self) -> Option<usize> {
        (DAY % self.step == 0 && DAY / self.step >= 2).then(|| (DAY / self.step) as usize)
    }
}

/// Steps that scrapers and exporters commonly use, for snapping jittery spacing.
const COMMON_STEPS: [i64; 16] = [
    1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 86_400,
];

/// A configured `step` at most half the data's own spacing is refused:
/// most of the grid would be interpolated, and the events stage would
/// read the straight lines between samples as the load's noise (a step of
/// 1m on 5-minute data made one spike every 5 minutes "texture" and raised
/// max by a third). A step up to the data's spacing (5m data read at 3m)
/// only rounds where samples land.
///
/// # Errors
///
/// [`SeriesError::StepFinerThanData`], naming both spacings.
pub fn check_step_against_data(
    sorted: &[i64],
    step: Span,
    origin: &str,
) -> Result<(), SeriesError> {
    // A handful of samples says little about their spacing (a gap is
    // most of it): judged from a dozen on.
    if sorted.len() < 12 {
        return Ok(());
    }
    match infer_step(sorted) {
        Some(data) if data >= 2 * step.secs() => Err(SeriesError::StepFinerThanData {
            origin: origin.to_string(),
            step,
            data_step: Span::from_secs(data).expect("a positive spacing"),
            made_up: (data / step.secs()) - 1,
            every: data / step.secs(),
        }),
        _ => Ok(()),
    }
}

/// The grid step of sorted timestamps: the most common positive spacing when
/// at least half the spacings agree on it; otherwise (jittery timestamps) the
/// median spacing, snapped to a common step (`5m`, `1m`, ...) within 10%.
///
/// Data whose rate changed (an exporter moved from 5m to 1m a week ago)
/// has two regular spacings: of those that make up a quarter of the
/// spacings or more (and a dozen: a gap among a few samples is no rate),
/// the one that covers the most time is the step. Read
/// at 5 minutes, the week of 1-minute samples is averaged; read at 1
/// minute, four of every five steps of the other three weeks would be
/// made up by interpolation, and the events stage would take the straight
/// lines between samples for the load's noise.
#[must_use]
pub fn infer_step(sorted: &[i64]) -> Option<i64> {
    let mut diffs: Vec<i64> = sorted
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .collect();
    diffs.sort_unstable();
    let mut best: Option<(usize, i64)> = None;
    for run in diffs.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(count, _)| run.len() > count) {
            best = Some((run.len(), run[0]));
        }
    }
    let (count, mode) = best?;
    if 2 * count >= diffs.len() {
        let covering = diffs
            .chunk_by(|a, b| a == b)
            .filter(|run| run[0] == mode || (4 * run.len() >= diffs.len() && run.len() >= 12))
            .max_by_key(|run| run.len() as i128 * i128::from(run[0]))
            .map_or(mode, |run| run[0]);
        return Some(covering);
    }
    let median = diffs[diffs.len() / 2];
    Some(
        COMMON_STEPS
            .iter()
            .copied()
            .find(|&common| (median - common).abs() * 10 <= common)
            .unwrap_or(median),
    )
}

/// Puts `raw` on a regular grid (see the module docs for the rules).
pub fn resample(raw: &RawSeries, options: &GridOptions) -> Result<Series, SeriesError> {
    let origin = raw.origin.clone();
    let mut samples: Vec<(i64, f64)> = raw.samples.iter().map(|s| (s.ts, s.value)).collect();
    // Sorting by value too makes merges independent of input row order.
    samples.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let (first, last) = match (samples.first(), samples.last()) {
        (Some(first), Some(last)) => (first.0, last.0),
        _ => return Err(SeriesError::NoSamples { origin }),
    };
    let timestamps: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let step = match options.step {
        Some(step) => {
            check_step_against_data(&timestamps, step, &origin)?;
            step.secs()
        }
        None => infer_step(&timestamps).ok_or_else(|| SeriesError::NoSpacing {
            origin: origin.clone(),
            samples: samples.len(),
            at: format_timestamp(first),
        })?,
    };
    let span_steps = (last - first + step / 2) / step;
    if span_steps >= MAX_STEPS {
        return Err(SeriesError::TooManySteps {
            origin,
            steps: span_steps + 1,
            step: Span::from_secs(step).expect("step is positive"),
            from: format_timestamp(first),
            to: format_timestamp(last),
        });
    }
    let len = span_steps as usize + 1;
    let mut sums = vec![0.0; len];
    let mut counts = vec![0usize; len];
    for &(ts, value) in &samples {
        // Nearest step; a sample exactly half-way goes to the later one.
        let index = ((ts - first + step / 2).div_euclid(step)) as usize;
        let index = index.min(len - 1);
        sums[index] += value;
        counts[index] += 1;
    }
    let mut stats = GridStats {
        samples: samples.len(),
        ..GridStats::default()
    };
    let mut values: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(&sum, &count)| {
            if count == 0 {
                f64::NAN
            } else {
                stats.merged += count - 1;
                sum / count as f64
            }
        })
        .collect();
    fill_gaps(&mut values, step, options.max_gap.secs(), &mut stats);
    let series = Series {
        start: first,
        step,
        values,
        stats,
    };
    let known = series.known();
    if (known as i64) * step < options.min_history.secs() {
        return Err(SeriesError::TooShort {
            origin,
            known,
            step: Span::from_secs(step).expect("step is positive"),
            covered: human_span(known as i64 * step),
            need: options.min_history,
        });
    }
    Ok(series)
}

/// Why no step can be inferred, in words: one sample is not "all 1
/// samples have the same timestamp".
fn no_spacing(origin: &str, samples: usize, at: &str) -> String {
    if samples == 1 {
        format!("{origin}: only 1 sample (at {at}): a step cannot be inferred from one")
    } else {
        format!("{origin}: all {samples} samples have the same timestamp {at}; cannot infer a step")
    }
}

/// Interpolates runs of `NaN` whose missing time is at most `max_gap`.
fn fill_gaps(values: &mut [f64], step: i64, max_gap: i64, stats: &mut GridStats) {
    let mut previous: Option<usize> = None;
    for i in 0..values.len() {
        if values[i].is_nan() {
            continue;
        }
        if let Some(p) = previous {
            let missing = i - p - 1;
            if missing > 0 {
                if missing as i64 * step <= max_gap {
                    let (a, b) = (values[p], values[i]);
                    for k in 1..=missing {
                        let f = k as f64 / (missing + 1) as f64;
                        values[p + k] = a + (b - a) * f;
                    }
                    stats.interpolated += missing;
                } else {
                    stats.unknown += missing;
                }
            }
        }
        previous = Some(i);
    }
}

/// A duration for messages: `2d 3h`, `45m`, `30s`.
#[must_use]
pub fn human_span(secs: i64) -> String {
    let (days, hours, minutes) = (secs / DAY, (secs % DAY) / 3600, (secs % 3600) / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        // Under an hour the seconds count (a lead of 6m 30s is not 6m).
        (0, 0, m) if secs % 60 != 0 => format!("{m}m {}s", secs % 60),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::series::Sample;

    fn raw(points: &[(i64, f64)]) -> RawSeries {
        RawSeries {
            origin: "test.csv".into(),
            samples: points
                .iter()
                .map(|&(ts, value)| Sample { ts, value })
                .collect(),
        }
    }

    fn short_history() -> GridOptions {
        GridOptions {
            min_history: Span::from_secs(60).unwrap(),
            ..GridOptions::default()
        }
    }

    #[test]
    fn step_is_the_most_common_spacing() {
        assert_eq!(infer_step(&[0, 300, 600, 900, 1500, 1501]), Some(300));
        assert_eq!(infer_step(&[5, 5]), None);
        // Scrape jitter: no spacing repeats enough, the median snaps to 5m.
        assert_eq!(infer_step(&[0, 301, 599, 900, 1202, 1500]), Some(300));
        // Three weeks every 5 minutes, then a week every minute: most
        // spacings are a minute, most of the time is read every 5.
        let mut mixed: Vec<i64> = (0..21 * 288).map(|i| i * 300).collect();
        let switch = 21 * 288 * 300;
        mixed.extend((0..7 * 1440).map(|i| switch + i * 60));
        assert_eq!(infer_step(&mixed), Some(300));
        // A week every 5 minutes, then three weeks every minute: the minute.
        let mut mixed: Vec<i64> = (0..7 * 288).map(|i| i * 300).collect();
        let switch = 7 * 288 * 300;
        mixed.extend((0..21 * 1440).map(|i| switch + i * 60));
        assert_eq!(infer_step(&mixed), Some(60));
        // Gaps are not a rate: a day's gap among 5-minute samples.
        let mut gappy: Vec<i64> = (0..288).map(|i| i * 300).collect();
        gappy.extend((0..288).map(|i| 2 * 86_400 + i * 300));
        assert_eq!(infer_step(&gappy), Some(300));
    }

    #[test]
    fn a_step_at_most_half_the_datas_spacing_is_refused_and_a_bit_finer_one_is_not() {
        let five_minutes: Vec<(i64, f64)> = (0..100).map(|i| (i * 300, 1.0)).collect();
        let at = |step: i64| GridOptions {
            step: Span::from_secs(step),
            ..short_history()
        };
        let refused = resample(&raw(&five_minutes), &at(60)).unwrap_err();
        assert_eq!(refused.label(), "step_finer_than_data");
        assert!(
            refused.to_string().contains(
                "the data comes every 5m, the step is 1m: 4 of every 5 steps would be made up"
            ),
            "{refused}"
        );
        assert!(resample(&raw(&five_minutes), &at(150)).is_err());
        assert!(resample(&raw(&five_minutes), &at(180)).is_ok());
        assert!(resample(&raw(&five_minutes), &at(300)).is_ok());
        assert!(resample(&raw(&five_minutes), &at(900)).is_ok());
    }

    #[test]
    fn unsorted_and_duplicate_samples_are_sorted_and_merged() {
        let series = resample(
            &raw(&[(600, 3.0), (0, 1.0), (300, 2.0), (300, 4.0), (900, 5.0)]),
            &short_history(),
        )
        .unwrap();
        assert_eq!(series.values, [1.0, 3.0, 3.0, 5.0]);
        assert_eq!(series.stats.merged, 1);
    }

    #[test]
    fn short_gaps_are_interpolated_and_long_gaps_stay_unknown() {
        let mut points: Vec<(i64, f64)> = vec![(0, 0.0), (900, 30.0)];
        // 2 hours later: a long gap.
        points.push((900 + 7_500, 10.0));
        points.push((900 + 7_800, 10.0));
        let options = GridOptions {
            step: Span::from_secs(300),
            ..short_history()
        };
        let series = resample(&raw(&points), &options).unwrap();
        assert_eq!(&series.values[..4], &[0.0, 10.0, 20.0, 30.0]);
        assert!(series.values[4..series.len() - 2]
            .iter()
            .all(|v| v.is_nan()));
        assert_eq!(series.stats.interpolated, 2);
        assert_eq!(series.stats.unknown, 24);
    }

    #[test]
    fn off_grid_samples_go_to_the_nearest_step() {
        let series = resample(
            &raw(&[
                (0, 1.0),
                (310, 2.0),
                (590, 3.0),
                (900, 4.0),
                (1195, 5.0),
                (1500, 6.0),
            ]),
            &short_history(),
        )
        .unwrap();
        assert_eq!(series.step, 300);
        assert_eq!(series.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn too_little_data_is_an_error_with_counts() {
        let points: Vec<(i64, f64)> = (0..100).map(|i| (i * 300, 1.0)).collect();
        let err = resample(&raw(&points), &GridOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.csv: 100 known steps of 5m cover 8h 20m, need at least 2d of usable data"
        );
    }

    #[test]
    fn a_far_future_timestamp_does_not_allocate_the_world() {
        let err = resample(
            &raw(&[(0, 1.0), (60, 1.0), (4_000_000_000, 1.0)]),
            &short_history(),
        )
        .unwrap_err();
        assert!(matches!(err, SeriesError::TooManySteps { .. }), "{err}");
    }
}
