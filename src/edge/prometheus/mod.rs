//! Prometheus HTTP API. This module is the pure part: how a history is
//! split into `query_range` requests, how an answer is read, and how the
//! answers of one workload become one history. The I/O (HTTP, retries, the
//! run-wide concurrency bound) is in [`client`].
//!
//! Prometheus (and Thanos, Mimir, `VictoriaMetrics`, which serve the same API)
//! refuses a range query with more than 11,000 points per series
//! (`floor((end − start) / step) > 11000`: HTTP 400 "exceeded maximum
//! resolution"), so a history is asked for in chunks of at most 11,001
//! points, start and end on multiples of the step, each chunk starting one
//! step after the previous one ends: no step asked twice or skipped.
//!
//! An answer's values are strings (`"NaN"`, `"+Inf"` possible) and its
//! timestamps JSON numbers in seconds with optional millisecond fractions.
//! Missing points are absent, never null: samples are matched by their
//! timestamp, never by their index.

pub mod client;
pub mod settings;

use crate::core::workload::Aggregate;
use crate::edge::source::Sample;
use serde::Deserialize;
use std::collections::BTreeMap;

pub use client::{Client, FetchError, History, RetryPolicy};
pub use settings::{Lookback, Prometheus, DEFAULT_LOOKBACK};

/// Most points Prometheus returns per series and request: it refuses
/// `floor((end − start) / step) > 11000`, so a request may hold 11,001
/// (both ends count). The default of `prometheus.max_points_per_request`.
pub const MAX_POINTS_PER_REQUEST: u32 = 11_001;

/// One `query_range` request's time range: `start` and `end` inclusive, on
/// multiples of `step` (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Chunk {
    /// Points the request asks for.
    #[must_use]
    pub fn points(&self) -> i64 {
        (self.end - self.start) / self.step + 1
    }
}

/// The requests that cover `[start, end]` at `step` seconds: start rounded
/// up and end rounded down to multiples of the step (so that every run asks
/// for the same grid), each request at most `max_points` points (both
/// ends count, as every server counts them; Prometheus: 11,001). Empty
/// when no multiple of the step lies in the range.
#[must_use]
pub fn plan_chunks(start: i64, end: i64, step: i64, max_points: u32) -> Vec<Chunk> {
    assert!(step > 0, "step must be positive");
    let max_steps = i64::from(max_points.max(2) - 1);
    let first = start.div_euclid(step) * step + if start.rem_euclid(step) == 0 { 0 } else { step };
    let last = end.div_euclid(step) * step;
    let mut chunks = Vec::new();
    let mut from = first;
    while from <= last {
        let to = (from + max_steps * step).min(last);
        chunks.push(Chunk {
            start: from,
            end: to,
            step,
        });
        from = to + step;
    }
    chunks
}

/// One series of a range answer: its labels and samples, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    pub labels: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
    /// Points that were `+Inf` or `-Inf`, read as unknown (NaN).
    pub infinite: usize,
}

/// Why an answer could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    /// Prometheus said no, with its own words (`bad_data`, `timeout`, …).
    #[error("Prometheus refused the query ({kind}): {message}")]
    Refused { kind: String, message: String },
    #[error("Prometheus answered with something that is not a range result: {0}")]
    Malformed(String),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    status: String,
    #[serde(borrow)]
    data: Option<Data<'a>>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(borrow)]
    result: Vec<RawRangeSeries<'a>>,
}

// Values are borrowed from the body (a number never holds an escape; a
// value that did would be refused as malformed): a month of minutes is
// 40,000 values, one allocation each otherwise.
#[derive(Deserialize)]
struct RawRangeSeries<'a> {
    metric: BTreeMap<String, String>,
    #[serde(borrow)]
    values: Vec<(f64, &'a str)>,
}

/// Reads a `query_range` answer (the body, whatever the HTTP status:
/// Prometheus explains refusals in the same envelope). `NaN` values are
/// left out (unknown, as a gap); infinite ones are an error. Timestamps are
/// rounded to whole seconds.
pub fn parse_range_answer(body: &[u8]) -> Result<Vec<RangeSeries>, AnswerError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| AnswerError::Malformed(e.to_string()))?;
    if envelope.status != "success" {
        return Err(AnswerError::Refused {
            kind: envelope.error_type.unwrap_or_else(|| "unknown".into()),
            message: envelope
                .error
                .unwrap_or_else(|| format!("status {}", envelope.status)),
        });
    }
    let data = envelope
        .data
        .ok_or_else(|| AnswerError::Malformed("no `data`".into()))?;
    if data.result_type != "matrix" {
        return Err(AnswerError::Malformed(format!(
            "result type `{}`, expected `matrix`",
            data.result_type
        )));
    }
    data.result
        .into_iter()
        .map(|raw| {
            let mut samples = Vec::with_capacity(raw.values.len());
            let mut infinite = 0;
            for (seconds, value) in raw.values {
                let ts = seconds;
                let parsed: f64 = value.parse().map_err(|_| {
                    AnswerError::Malformed(format!("value {value:?} at {ts} is not a number"))
                })?;
                // NaN stays until the lookback clean-up has seen it as a
                // point (not a hole); `combine` drops it. ±Inf (a ratio
                // over a zero denominator at one step) is no load either:
                // a NaN too, counted, so that the history's reason says
                // so, instead of one point failing the whole workload.
                let parsed = if parsed.is_infinite() {
                    infinite += 1;
                    f64::NAN
                } else {
                    parsed
                };
                samples.push(Sample {
                    ts: seconds.round() as i64,
                    value: parsed,
                });
            }
            Ok(RangeSeries {
                labels: raw.metric,
                samples,
                infinite,
            })
        })
        .collect()
}

/// Joins the samples of consecutive chunks into one time-ordered history:
/// matched by timestamp, each timestamp once (the first answer wins).
#[must_use]
pub fn stitch(chunks: Vec<Vec<Sample>>) -> Vec<Sample> {
    let mut all: Vec<Sample> = chunks.into_iter().flatten().collect();
    all.sort_by_key(|s| s.ts);
    all.dedup_by_key(|s| s.ts);
    all
}

/// Why a workload's answers do not make one history.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CombineError {
    #[error("the query returned no series over the whole history")]
    NoSeries,
    #[error(
        "the query returned {count} series ({examples}); a workload's load must be one series: \
         aggregate it in PromQL (sum(...)) or set `aggregate: sum` (or `max`) on the workload"
    )]
    TooManySeries { count: usize, examples: String },
}

/// How many steps each value of `samples` (one series at `step`) holds
/// for, when the series changes only every k ≥ 2 steps: data coarser than
/// the step it was asked at. `VictoriaMetrics` fills the steps between two
/// samples with the last one (a staircase: 30-minute data at a 5-minute
/// step repeats each value 6 times), where Prometheus leaves holes after
/// its lookback; either way the step asks for a resolution the data does
/// not have. Read off the runs of equal values over consecutive steps: at
/// least 20 whole runs (the first and last may be cut), 90% of them k long.
#[must_use]
pub fn coarser_than_step(samples: &[Sample], step: i64) -> Option<usize> {
    let mut runs: Vec<usize> = Vec::new();
    let mut length = 1;
    for pair in samples.windows(2) {
        // The same value repeated, bit for bit.
        if pair[1].ts - pair[0].ts == step && pair[1].value.to_bits() == pair[0].value.to_bits() {
            length += 1;
        } else {
            runs.push(length);
            length = 1;
        }
    }
    runs.push(length);
    let whole = runs.get(1..runs.len().saturating_sub(1))?;
    if whole.len() < 20 {
        return None;
    }
    let mut counts = BTreeMap::new();
    for &run in whole {
        *counts.entry(run).or_insert(0_usize) += 1;
    }
    let (&k, &count) = counts.iter().max_by_key(|&(_, &count)| count)?;
    (k >= 2 && count * 10 >= whole.len() * 9).then_some(k)
}

/// Turns the series of every chunk's answer into one history: series are
/// matched by their labels across chunks, each series' lookback repeats are
/// dropped (see [`drop_lookback_repeats`]), and several series are an error
/// unless `aggregate` says how to combine them (at each timestamp, over the
/// series that have a sample there). `requested_end` is the last step asked for.
pub fn combine(
    answers: Vec<Vec<RangeSeries>>,
    aggregate: Option<Aggregate>,
    step: i64,
    lookback: i64,
    requested_end: i64,
) -> Result<Vec<Sample>, CombineError> {
    let mut by_labels: BTreeMap<BTreeMap<String, String>, Vec<Vec<Sample>>> = BTreeMap::new();
    for series in answers.into_iter().flatten() {
        by_labels
            .entry(series.labels)
            .or_default()
            .push(series.samples);
    }
    if by_labels.is_empty() {
        return Err(CombineError::NoSeries);
    }
    let count = by_labels.len();
    let aggregate = match aggregate {
        Some(aggregate) => aggregate,
        None if count == 1 => Aggregate::Sum,
        None => {
            return Err(CombineError::TooManySeries {
                count,
                examples: label_examples(by_labels.keys()),
            });
        }
    };
    if count == 1 {
        let chunks = by_labels.into_values().next().expect("one series");
        let mut samples = drop_lookback_repeats(&stitch(chunks), step, lookback, requested_end);
        samples.retain(|s| !s.value.is_nan());
        return Ok(samples);
    }
    let mut total: BTreeMap<i64, f64> = BTreeMap::new();
    for chunks in by_labels.into_values() {
        let samples = drop_lookback_repeats(&stitch(chunks), step, lookback, requested_end);
        for sample in samples.into_iter().filter(|s| !s.value.is_nan()) {
            total
                .entry(sample.ts)
                .and_modify(|v| *v = aggregate.apply(*v, sample.value))
                .or_insert(sample.value);
        }
    }
    Ok(total
        .into_iter()
        .map(|(ts, value)| Sample { ts, value })
        .collect())
}

/// The first three label sets, and "..." when there are more.
fn label_examples<'a>(labels: impl Iterator<Item = &'a BTreeMap<String, String>>) -> String {
    let mut examples: Vec<String> = Vec::new();
    for (i, l) in labels.enumerate() {
        if i == 3 {
            examples.push("...".into());
            break;
        }
        examples.push(format_labels(l));
    }
    examples.join(", ")
}

/// `label_examples` of one answer's series.
#[must_use]
pub fn describe_series(series: &[RangeSeries]) -> String {
    label_examples(series.iter().map(|s| &s.labels))
}

/// `{job="api", pod="a"}`, as Prometheus writes a label set.
#[must_use]
pub fn format_labels(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// Drops the values Prometheus made up after a series stopped.
///
/// A range query's point at `t` is the newest sample in the `lookback`
/// window before `t` (5 minutes unless Prometheus runs with another
/// `--query.lookback-delta`), so when a series stops, its last value is
/// repeated at each step for up to `lookback` and only then do points go
/// missing. So before each hole in the answer (and before an answer that
/// ends short of `requested_end`), the points of the run of identical
/// values that lie within `lookback` of the run's end are dropped, the
/// run's first point always kept: they become the gap they really are. A
/// real series that is flat up to a gap loses at most `lookback` of points
/// equal to the ones kept. `samples` must be sorted.
#[must_use]
pub fn drop_lookback_repeats(
    samples: &[Sample],
    step: i64,
    lookback: i64,
    requested_end: i64,
) -> Vec<Sample> {
    // With a step longer than the lookback, no point can repeat another.
    // At a step equal to it one can: Prometheus before 3.0 takes a sample
    // exactly a lookback old (the fleet benchmark found one made-up point
    // after each gap of its 5-minute series).
    if step > lookback {
        return samples.to_vec();
    }
    let mut keep = vec![true; samples.len()];
    for (i, sample) in samples.iter().enumerate() {
        let hole_after = samples
            .get(i + 1)
            .map_or(sample.ts + step <= requested_end, |next| {
                next.ts - sample.ts > step
            });
        if !hole_after {
            continue;
        }
        // Walk back over the run of identical values ending here.
        let mut first = i;
        while first > 0
            && samples[first - 1].value.to_bits() == sample.value.to_bits()
            && samples[first].ts - samples[first - 1].ts == step
        {
            first -= 1;
        }
        let made_up_after = sample.ts - lookback;
        for j in first + 1..=i {
            keep[j] = samples[j].ts <= made_up_after;
        }
    }
    samples
        .iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(*s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staircase_of_coarse_data_is_told_from_a_series_with_some_repeats() {
        let at = |i: i64, value: f64| Sample { ts: i * 300, value };
        // 30-minute data at 5 minutes, as VictoriaMetrics answers it.
        let stairs: Vec<Sample> = (0..300)
            .map(|i| at(i, 100.0 + ((i / 6) % 7) as f64))
            .collect();
        assert_eq!(coarser_than_step(&stairs, 300), Some(6));
        // Offset: the first and last runs cut short.
        assert_eq!(coarser_than_step(&stairs[3..290], 300), Some(6));
        // Small counts repeat by chance, in runs of every length.
        let counts: Vec<Sample> = (0..300)
            .map(|i| at(i, ((i * 7919) % 13 / 5) as f64))
            .collect();
        assert_eq!(coarser_than_step(&counts, 300), None);
        // Data at the step, and a flat series.
        let fine: Vec<Sample> = (0..300).map(|i| at(i, i as f64)).collect();
        assert_eq!(coarser_than_step(&fine, 300), None);
        let flat: Vec<Sample> = (0..300).map(|i| at(i, 5.0)).collect();
        assert_eq!(coarser_than_step(&flat, 300), None);
        // Prometheus' answer of the same data: one point per 30 minutes.
        let holes: Vec<Sample> = stairs.iter().step_by(6).copied().collect();
        assert_eq!(coarser_than_step(&holes, 300), None);
    }

    #[test]
    fn two_months_at_one_minute_take_eight_requests_with_no_step_lost_or_repeated() {
        let (start, step) = (1_700_000_000, 60);
        let end = start + 61 * 86_400;
        let chunks = plan_chunks(start, end, step, MAX_POINTS_PER_REQUEST);
        assert_eq!(chunks.len(), 8);
        assert_eq!(chunks[0].start % step, 0);
        assert!(chunks[0].start >= start && chunks[0].start < start + step);
        for pair in chunks.windows(2) {
            assert_eq!(pair[1].start, pair[0].end + step);
        }
        for chunk in &chunks {
            // What Prometheus checks: floor((end - start) / step) <= 11000.
            assert!((chunk.end - chunk.start) / step < i64::from(MAX_POINTS_PER_REQUEST));
        }
        let total: i64 = chunks.iter().map(Chunk::points).sum();
        let last = chunks.last().unwrap();
        assert_eq!(total, (last.end - chunks[0].start) / step + 1);
        assert!(last.end <= end && last.end > end - step);
    }

    #[test]
    fn a_range_holding_no_step_needs_no_request_and_one_step_needs_one() {
        assert!(plan_chunks(61, 119, 60, MAX_POINTS_PER_REQUEST).is_empty());
        assert_eq!(
            plan_chunks(60, 119, 60, MAX_POINTS_PER_REQUEST),
            [Chunk {
                start: 60,
                end: 60,
                step: 60
            }]
        );
        // Exactly 11,001 points fit one request.
        assert_eq!(
            plan_chunks(0, 11_000 * 60, 60, MAX_POINTS_PER_REQUEST).len(),
            1
        );
        // A server with a lower limit (VictoriaMetrics'
        // -search.maxPointsPerTimeseries=3000 refuses 3,001): 3,000 points,
        // ends included.
        let low = plan_chunks(0, 11_000 * 60, 60, 3_000);
        assert_eq!(low.len(), 4);
        assert!(low.iter().all(|c| c.points() <= 3_000));
        assert_eq!(
            plan_chunks(0, 11_001 * 60, 60, MAX_POINTS_PER_REQUEST).len(),
            2
        );
    }

    #[test]
    fn an_answer_is_read_by_timestamp_and_nan_is_left_out_after_the_lookback_clean_up() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"job":"api"},"values":[[1435781430.781,"1"],[1435781445,"NaN"],[1435781460,"2.5e3"]]}
        ]}}"#;
        let series = parse_range_answer(body).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].labels["job"], "api");
        assert!(series[0].samples[1].value.is_nan());
        let combined = combine(vec![series], None, 15, 300, 1_435_781_460).unwrap();
        assert_eq!(
            combined,
            [
                Sample {
                    ts: 1_435_781_431,
                    value: 1.0
                },
                Sample {
                    ts: 1_435_781_460,
                    value: 2500.0
                }
            ]
        );
        let empty = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(parse_range_answer(empty).unwrap().is_empty());
    }

    #[test]
    fn refusals_and_nonsense_say_what_prometheus_said() {
        let refused = br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected character"}"#;
        assert_eq!(
            parse_range_answer(refused).unwrap_err().to_string(),
            "Prometheus refused the query (bad_data): 1:5: parse error: unexpected character"
        );
        // ±Inf is no load: an unknown point, counted, not a failed workload.
        let infinite = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[10,"+Inf"],[20,"3"],[30,"-Inf"]]}]}}"#;
        let series = &parse_range_answer(infinite).unwrap()[0];
        assert_eq!(series.infinite, 2);
        assert!(series.samples[0].value.is_nan() && series.samples[2].value.is_nan());
        assert_eq!(series.samples[1].value, 3.0);
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(parse_range_answer(vector)
            .unwrap_err()
            .to_string()
            .contains("expected `matrix`"));
        assert!(matches!(
            parse_range_answer(b"<html>502 Bad Gateway</html>"),
            Err(AnswerError::Malformed(_))
        ));
    }

    #[test]
    fn stitched_chunks_keep_each_timestamp_once_in_order() {
        let s = |ts, value| Sample { ts, value };
        let joined = stitch(vec![
            vec![s(60, 1.0), s(120, 2.0)],
            vec![s(120, 9.0), s(180, 3.0)],
        ]);
        assert_eq!(joined, [s(60, 1.0), s(120, 2.0), s(180, 3.0)]);
    }

    fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(ts, value)| Sample { ts, value })
            .collect()
    }

    #[test]
    fn values_repeated_by_the_lookback_before_a_hole_become_the_gap_they_are() {
        // A 1-minute series stops after 300 (value 7), Prometheus repeats 7
        // at 360..600, then omits points until the series returns at 3600.
        let mut points = vec![(240, 5.0), (300, 7.0)];
        points.extend((360..=600).step_by(60).map(|ts| (ts, 7.0)));
        points.push((3600, 8.0));
        let cleaned = drop_lookback_repeats(&samples(&points), 60, 300, 3600);
        assert_eq!(cleaned, samples(&[(240, 5.0), (300, 7.0), (3600, 8.0)]));
        // The same at the end of an answer that stops short of the end asked for.
        let tail = samples(&[(0, 1.0), (60, 2.0), (120, 2.0), (180, 2.0)]);
        assert_eq!(
            drop_lookback_repeats(&tail, 60, 300, 3600),
            samples(&[(0, 1.0), (60, 2.0)])
        );
        // An answer that reaches the end asked for has no hole to explain.
        assert_eq!(drop_lookback_repeats(&tail, 60, 300, 180), tail);
    }

    #[test]
    fn a_step_of_the_lookback_repeats_once_a_longer_one_never_and_nan_is_no_hole() {
        // 5-minute steps with a 5-minute lookback: the point after the last
        // sample can be that sample again (it is exactly a lookback old).
        let flat = samples(&[(0, 3.0), (300, 3.0), (600, 3.0), (3600, 4.0)]);
        assert_eq!(
            drop_lookback_repeats(&flat, 300, 300, 3600),
            samples(&[(0, 3.0), (300, 3.0), (3600, 4.0)])
        );
        let changing = samples(&[(0, 1.0), (300, 2.0), (3600, 4.0)]);
        assert_eq!(drop_lookback_repeats(&changing, 300, 300, 3600), changing);
        // A step longer than the lookback: a flat run before a hole is real.
        let hourly = samples(&[(0, 3.0), (3600, 3.0), (7200, 3.0), (14_400, 4.0)]);
        assert_eq!(drop_lookback_repeats(&hourly, 3600, 300, 14_400), hourly);
        // A NaN point is a point: the equal values before it stay.
        let with_nan = samples(&[(0, 3.0), (60, 3.0), (120, f64::NAN), (180, 5.0)]);
        let kept = drop_lookback_repeats(&with_nan, 60, 300, 180);
        assert_eq!(kept.len(), 4);
    }

    #[test]
    fn a_flat_stretch_before_a_hole_loses_only_its_last_lookback() {
        // Real 4.0 from 0 to 300, then repeats up to 600: which are real
        // cannot be told, and the ones dropped equal the ones kept.
        let mut points: Vec<(i64, f64)> = (0..=10).map(|i| (i * 60, 4.0)).collect();
        points.push((3600, 5.0));
        let cleaned = drop_lookback_repeats(&samples(&points), 60, 300, 3600);
        let kept: Vec<(i64, f64)> = (0..=5)
            .map(|i| (i * 60, 4.0))
            .chain([(3600, 5.0)])
            .collect();
        assert_eq!(cleaned, samples(&kept));
        // Values that change up to the hole are all real.
        let changing = samples(&[(0, 1.0), (60, 2.0), (120, 3.0), (3600, 4.0)]);
        assert_eq!(drop_lookback_repeats(&changing, 60, 300, 3600), changing);
    }

    #[test]
    fn several_series_need_an_aggregate_and_are_matched_by_labels_across_chunks() {
        let series = |pod: &str, points: &[(i64, f64)]| RangeSeries {
            labels: BTreeMap::from([("pod".to_string(), pod.to_string())]),
            samples: samples(points),
            infinite: 0,
        };
        let answers = || {
            vec![
                vec![
                    series("a", &[(0, 1.0), (60, 2.0)]),
                    series("b", &[(60, 10.0)]),
                ],
                vec![series("b", &[(120, 20.0)]), series("a", &[(120, 3.0)])],
            ]
        };
        let err = combine(answers(), None, 60, 300, 120).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"2 series ({pod="a"}, {pod="b"})"#),
            "{err}"
        );
        let sum = combine(answers(), Some(Aggregate::Sum), 60, 300, 120).unwrap();
        assert_eq!(sum, samples(&[(0, 1.0), (60, 12.0), (120, 23.0)]));
        let max = combine(answers(), Some(Aggregate::Max), 60, 300, 120).unwrap();
        assert_eq!(max, samples(&[(0, 1.0), (60, 10.0), (120, 20.0)]));
        assert_eq!(
            combine(vec![vec![], vec![]], None, 60, 300, 120),
            Err(CombineError::NoSeries)
        );
    }
}
