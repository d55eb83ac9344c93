//! Fleet shapes stage: the typical weekly load shapes of a fleet, and the
//! cold start of a workload too young for a model of its own.
//!
//! A new service rarely has a shape of its own: a new API behind the same
//! frontend, a new shard of a queue follow the daily and weekly rhythm of
//! workloads the fleet already knows. So:
//! - every workload with a week or more of history gives its **profile**:
//!   the median load of each of the 168 hours of the week over its last 28
//!   days, divided by their mean (a shape, not a level);
//! - [`learn`] clusters the profiles by k-means (linfa), the number of
//!   shapes chosen by BIC (below), and calibrates cold starts on the fleet
//!   itself: for a sample of workloads it hides all but the last H hours
//!   before a moment (H = 1 … 48), forecasts the next day the way a new
//!   workload would be, and keeps the errors' quantiles by lead time;
//! - [`cold_forecast`] matches a young workload to the shape that best
//!   explains what it has seen (its level fitted by least squares), or to a
//!   flat line when no shape explains it better; the interval comes from
//!   the fleet's errors at that much history (wider the less it has seen);
//! - [`blend`] gives a workload between two and fourteen days old a mean of
//!   its own model and its shape, its own weight growing with its history.
//!
//! Why BIC: the profiles are points in 168 dimensions; a spherical
//! Gaussian mixture with one shared variance scores `k` clusters by
//! `n·d·ln(W/(n·d)) + k·(d+1)·ln n` (W the within-cluster sum of squares),
//! so a shape is split only when the split explains more than its 169
//! parameters cost — and, unlike silhouette or Calinski–Harabasz, one
//! shape is an answer (a fleet that all looks alike is one shape).

use crate::core::bounds::significant;
use crate::core::model::{conformal_quantile, Forecast, ModelError, Seasonality};
use crate::core::series::Series;
use crate::core::time::{DAY, WEEK};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Hours in a week: the length of a profile.
pub const WEEK_HOURS: usize = 168;
/// Least history that gives a profile: every hour of the week seen.
pub const PROFILE_MIN_HISTORY: i64 = WEEK;
/// History a profile is taken from (its end).
pub const PROFILE_HISTORY: i64 = 28 * DAY;
/// Least fleet that shapes are learned from.
pub const MIN_FLEET: usize = 5;
/// Least history a cold start rests on.
pub const COLD_MIN_HISTORY: i64 = 3_600;
/// History below which a workload has no model of its own: the fleet's
/// shape alone (the model needs two days).
pub const COLD_HISTORY: i64 = crate::core::series::DEFAULT_MIN_HISTORY;
/// History from which the fleet shape no longer matters.
pub const OWN_HISTORY: i64 = 14 * DAY;
/// Most shapes tried.
pub const MAX_SHAPES: usize = 8;
/// Profiles the number of shapes is chosen on (evenly spaced over the
/// fleet); every profile is then assigned to its nearest shape.
const CLUSTER_SAMPLE: usize = 1_000;
/// Workloads cold starts are simulated on to calibrate the intervals.
pub const PROBES: usize = 256;
/// History a cold start is simulated on: two days to start from, one to
/// forecast.
pub const PROBE_HISTORY: i64 = 3 * DAY;
/// History a probe keeps: a fleet of shapes simulates one cold start at its
/// end; a fleet too small for shapes ([`learn_small`]) one every
/// [`SMALL_FLEET_EVERY`] over it.
pub const PROBE_KEPT: i64 = 14 * DAY;
/// How often a fleet too small for shapes simulates a cold start on each
/// probe: every 6 hours, so that every time of day is a start.
pub const SMALL_FLEET_EVERY: i64 = 6 * 3_600;
/// Histories (hours) the cold starts are simulated with.
pub const CALIBRATION_HOURS: [i64; 6] = [1, 3, 6, 12, 24, 48];
/// Version of the fleet-shapes file this homeostat writes and reads.
pub const SHAPES_VERSION: u32 = 1;
/// How long shapes kept in the model store serve before a run learns them
/// anew (seconds of the data's time): a day. Learned at every run, their
/// calibration rested on cold starts simulated over the last day before
/// each run, a window that slid by 15 minutes from one run to the next,
/// and a young workload's max with it (a review measured 37 → 118 → 26
/// replicas within 90 minutes on a fleet of 11).
pub const RELEARN_EVERY: i64 = DAY;

/// Whether shapes learned at `learned_at` (unix seconds) still serve a
/// run whose data ends at `now`: learned before it, less than
/// [`RELEARN_EVERY`] before.
#[must_use]
pub fn still_fresh(learned_at: i64, now: i64) -> bool {
    learned_at <= now && now - learned_at < RELEARN_EVERY
}

/// Hour of the week of `ts` (Monday 00:00–01:00 UTC is 0): the epoch was a
/// Thursday.
#[must_use]
pub fn hour_of_week(ts: i64) -> usize {
    ((ts + 3 * DAY).rem_euclid(WEEK) / 3_600) as usize
}

/// A profile's value at `ts`, interpolated between the hours' middles.
#[must_use]
pub fn at(profile: &[f64], ts: i64) -> f64 {
    let position = (ts + 3 * DAY).rem_euclid(WEEK) as f64 / 3_600.0 - 0.5;
    let below = position.floor();
    let f = position - below;
    let i = (below as i64).rem_euclid(WEEK_HOURS as i64) as usize;
    profile[i] * (1.0 - f) + profile[(i + 1) % WEEK_HOURS] * f
}

/// The profile of a history on its grid: per hour of the week, the median
/// of its last [`PROFILE_HISTORY`], divided by the mean of the 168
/// medians. `None` when some hour of the week was never seen, or the load
/// is all zero.
#[must_use]
pub fn profile(values: &[f64], start: i64, step: i64) -> Option<Vec<f64>> {
    if step > 3_600 || step <= 0 {
        return None;
    }
    let steps = (PROFILE_HISTORY / step) as usize;
    let from = values.len().saturating_sub(steps);
    let mut hours: Vec<Vec<f64>> = vec![Vec::new(); WEEK_HOURS];
    for (i, &v) in values.iter().enumerate().skip(from) {
        if v.is_finite() {
            hours[hour_of_week(start + i as i64 * step)].push(v);
        }
    }
    if hours.iter().any(Vec::is_empty) {
        return None;
    }
    let medians: Vec<f64> = hours
        .iter_mut()
        .map(|h| crate::core::stats::median(h))
        .collect();
    let mean = medians.iter().sum::<f64>() / WEEK_HOURS as f64;
    (mean > 0.0).then(|| medians.iter().map(|m| m / mean).collect())
}

/// One workload's contribution to the fleet: its profile and, for a
/// sample of the fleet, the end of its history to simulate cold starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiled {
    /// `namespace/name`.
    pub id: String,
    pub profile: Vec<f64>,
    pub probe: Option<Series>,
}

/// What a history gives the fleet, when it gives a profile: its profile
/// and its probe.
#[must_use]
pub fn contribution(series: &Series) -> Option<(Vec<f64>, Series)> {
    profile(&series.values, series.start, series.step).map(|p| (p, probe(series)))
}

impl Profiled {
    /// Adds workload `id`'s contribution to `fleet`, its probe kept while
    /// fewer than [`PROBES`] members have one.
    pub fn add_to(fleet: &mut Vec<Profiled>, id: String, (profile, probe): (Vec<f64>, Series)) {
        let probe = (fleet.len() < PROBES).then_some(probe);
        fleet.push(Profiled { id, profile, probe });
        // A fleet with shapes simulates one start at each probe's end:
        // the rest of the [`PROBE_KEPT`] a small fleet uses is let go. (A
        // replay learns from the fleet without the workload it replays:
        // one more than the least fleet keeps its whole probes.)
        if fleet.len() > MIN_FLEET {
            let first = if fleet.len() == MIN_FLEET + 1 {
                0
            } else {
                fleet.len() - 1
            };
            for p in &mut fleet[first..] {
                if let Some(probe) = &mut p.probe {
                    probe.keep_last(PROBE_HISTORY);
                }
            }
        }
    }
}

/// The last [`PROBE_KEPT`] of a history, to simulate cold starts on.
#[must_use]
pub fn probe(series: &Series) -> Series {
    let steps = (PROBE_KEPT / series.step) as usize;
    let from = series.len().saturating_sub(steps);
    Series {
        start: series.timestamp(from),
        step: series.step,
        values: series.values[from..].to_vec(),
        stats: series.stats,
    }
}

/// One typical shape of the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// `shape-1`, … (largest first).
    pub name: String,
    /// Workloads of the fleet nearest to it.
    pub members: usize,
    /// The member nearest to it, to name it by.
    pub example: String,
    /// Load per hour of the week (Monday 00:00 UTC first), mean 1.
    pub profile: Vec<f64>,
}

/// Cold-start errors at one lead time: up to `until` seconds ahead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadErrors {
    pub until: i64,
    /// (actual − forecast) / the fit's spread on the history seen (its mean
    /// absolute misfit), at the 101 percentiles 0, 1, …, 100: a noisy
    /// workload's interval is wider than a smooth one's.
    pub percentiles: Vec<f64>,
}

/// The fleet's cold-start errors for one length of history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColdErrors {
    /// Hours of history the cold starts had.
    pub hours: i64,
    /// Cold starts simulated.
    pub starts: usize,
    /// Weight of the workload's own earlier days (where it has seen the
    /// same time of day) against the shape's fit: the one that served the
    /// simulated cold starts best.
    pub own_weight: f64,
    /// How much better than a flat line a shape must explain the history
    /// seen (see [`match_shape`]): the one that served the simulated cold
    /// starts best.
    #[serde(default = "no_gain")]
    pub shape_gain: f64,
    /// The factor the errors' percentiles were scaled by, about their
    /// median, so that the 90% intervals they give covered 90% of the
    /// simulated starts' next days (see `self_calibrated`); 1 in files
    /// written before.
    #[serde(default = "no_scale")]
    pub interval_scale: f64,
    /// Errors of the forecast a cold start makes (shape or flat, as matched).
    pub matched: Vec<LeadErrors>,
    /// Errors of a flat line at the level seen (the fallback's).
    pub flat: Vec<LeadErrors>,
}

/// The fleet's shapes, as kept in the model store
/// (`<store>/fleet-shapes.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetShapes {
    pub version: u32,
    /// When they were learned (the run's "now", RFC3339).
    pub learned_at: String,
    /// Profiles they were learned from.
    pub workloads: usize,
    /// How the number of shapes was chosen: BIC of each `k` tried.
    pub bic: Vec<f64>,
    pub shapes: Vec<Shape>,
    /// Each profiled workload's shape (index into `shapes`).
    pub members: BTreeMap<String, usize>,
    /// Interval calibration, shortest history first.
    pub calibration: Vec<ColdErrors>,
}

impl FleetShapes {
    /// What a file of shapes must hold to be used (a hand-edited or
    /// truncated one is refused, not half-used): the first thing wrong.
    ///
    /// # Errors
    /// Says which shape, member or calibration is wrong and what was
    /// expected.
    pub fn check(&self) -> Result<(), String> {
        if self.shapes.is_empty() {
            return Err("no shapes".into());
        }
        for shape in &self.shapes {
            if shape.profile.len() != WEEK_HOURS {
                return Err(format!(
                    "shape {}: profile of {} hours, expected {WEEK_HOURS} (one per hour of the week)",
                    shape.name,
                    shape.profile.len()
                ));
            }
            if let Some(v) = shape.profile.iter().find(|v| !v.is_finite() || **v < 0.0) {
                return Err(format!(
                    "shape {}: profile value {v}, expected a finite value ≥ 0",
                    shape.name
                ));
            }
        }
        if let Some((id, &shape)) = self.members.iter().find(|(_, &s)| s >= self.shapes.len()) {
            return Err(format!(
                "member {id}: shape {shape}, expected one of the {} shapes (0 to {})",
                self.shapes.len(),
                self.shapes.len() - 1
            ));
        }
        if self.calibration.is_empty() {
            return Err("no calibration".into());
        }
        for c in &self.calibration {
            // Numbers a hand edit can make absurd: a weight of 5 gave a
            // negative expected load, a gain of −3 made every young
            // workload flat, 0 hours took the shortest row for every age.
            if c.hours <= 0 {
                return Err(format!(
                    "calibration {}h: hours of history must be 1 or more",
                    c.hours
                ));
            }
            if !(0.0..=1.0).contains(&c.own_weight) {
                return Err(format!(
                    "calibration {}h: own_weight {}, expected 0 to 1",
                    c.hours, c.own_weight
                ));
            }
            if !(c.shape_gain > 0.0 && c.shape_gain <= 1.0) {
                return Err(format!(
                    "calibration {}h: shape_gain {}, expected more than 0 and at most 1",
                    c.hours, c.shape_gain
                ));
            }
            if !(c.interval_scale.is_finite() && c.interval_scale > 0.0) {
                return Err(format!(
                    "calibration {}h: interval_scale {}, expected a positive number",
                    c.hours, c.interval_scale
                ));
            }
            for (which, leads) in [("matched", &c.matched), ("flat", &c.flat)] {
                if leads.is_empty() {
                    return Err(format!("calibration {}h: no {which} errors", c.hours));
                }
                if let Some(lead) = leads.iter().find(|l| {
                    l.percentiles.len() != 101 || l.percentiles.iter().any(|e| !e.is_finite())
                }) {
                    return Err(format!(
                        "calibration {}h, {which} errors up to {}s: {} percentiles, expected 101 finite ones",
                        c.hours,
                        lead.until,
                        lead.percentiles.len()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Learns the fleet's shapes from `profiled` (at least [`MIN_FLEET`]),
/// stamped `learned_at`; `None` for a smaller fleet.
#[must_use]
pub fn learn(profiled: &[Profiled], learned_at: &str) -> Option<FleetShapes> {
    if profiled.len() < MIN_FLEET {
        return None;
    }
    let sample: Vec<&Profiled> = if profiled.len() <= CLUSTER_SAMPLE {
        profiled.iter().collect()
    } else {
        (0..CLUSTER_SAMPLE)
            .map(|i| &profiled[i * profiled.len() / CLUSTER_SAMPLE])
            .collect()
    };
    let (centroids, bic) = cluster(&sample);
    let mut assigned = vec![0usize; profiled.len()];
    let mut nearest: Vec<Option<(f64, usize)>> = vec![None; centroids.len()];
    for (i, p) in profiled.iter().enumerate() {
        let (shape, distance) = nearest_centroid(&centroids, &p.profile);
        assigned[i] = shape;
        if nearest[shape].is_none_or(|(d, _)| distance < d) {
            nearest[shape] = Some((distance, i));
        }
    }
    // Largest shape first; empty ones dropped.
    let mut order: Vec<usize> = (0..centroids.len())
        .filter(|&c| nearest[c].is_some())
        .collect();
    let count = |c: usize| assigned.iter().filter(|&&a| a == c).count();
    order.sort_by_key(|&c| (std::cmp::Reverse(count(c)), c));
    let renumber: BTreeMap<usize, usize> = order.iter().enumerate().map(|(n, &c)| (c, n)).collect();
    let shapes: Vec<Shape> = order
        .iter()
        .enumerate()
        .map(|(n, &c)| {
            let mean = centroids[c].iter().sum::<f64>() / WEEK_HOURS as f64;
            Shape {
                name: format!("shape-{}", n + 1),
                members: count(c),
                example: profiled[nearest[c].expect("kept non-empty").1].id.clone(),
                profile: centroids[c].iter().map(|v| v / mean).collect(),
            }
        })
        .collect();
    let members = profiled
        .iter()
        .zip(&assigned)
        .map(|(p, a)| (p.id.clone(), renumber[a]))
        .collect();
    let mut fleet = FleetShapes {
        version: SHAPES_VERSION,
        learned_at: learned_at.to_string(),
        workloads: profiled.len(),
        bic,
        shapes,
        members,
        calibration: Vec::new(),
    };
    let probes: Vec<&Series> = profiled
        .iter()
        .filter_map(|p| p.probe.as_ref())
        .take(PROBES)
        .collect();
    fleet.calibration = calibrate(&fleet, &probes);
    Some(fleet)
}

/// For a fleet too small to learn shapes from (1 to [`MIN_FLEET`] − 1
/// profiles): no shapes, so that no workload is put in one on the say of
/// so few, and the intervals of cold starts simulated on the profiled
/// workloads every [`SMALL_FLEET_EVERY`] of their probes (a flat line's
/// errors there, the cautious ones). A young workload whose `like:` names
/// one of them starts from that workload's profile with these intervals
/// (a new region of the one app a small team runs). `None` without a
/// profile, for a fleet that has shapes, or when no start could be
/// simulated.
#[must_use]
pub fn learn_small(profiled: &[Profiled], learned_at: &str) -> Option<FleetShapes> {
    if profiled.is_empty() || profiled.len() >= MIN_FLEET {
        return None;
    }
    let windows: Vec<Series> = profiled
        .iter()
        .filter_map(|p| p.probe.as_ref())
        .flat_map(probe_windows)
        .collect();
    let mut fleet = FleetShapes {
        version: SHAPES_VERSION,
        learned_at: learned_at.to_string(),
        workloads: profiled.len(),
        bic: Vec::new(),
        shapes: Vec::new(),
        members: BTreeMap::new(),
        calibration: Vec::new(),
    };
    fleet.calibration = calibrate(&fleet, &windows.iter().collect::<Vec<_>>());
    (!fleet.calibration.is_empty()).then_some(fleet)
}

/// The [`PROBE_HISTORY`]-long stretches of `probe` ending at its end and
/// every [`SMALL_FLEET_EVERY`] before it.
fn probe_windows(probe: &Series) -> Vec<Series> {
    let (len, every) = (
        (PROBE_HISTORY / probe.step) as usize,
        ((SMALL_FLEET_EVERY / probe.step) as usize).max(1),
    );
    if probe.len() < len {
        return Vec::new();
    }
    (0..=probe.len() - len)
        .step_by(every)
        .map(|back| {
            let from = probe.len() - back - len;
            Series {
                start: probe.timestamp(from),
                step: probe.step,
                values: probe.values[from..from + len].to_vec(),
                stats: probe.stats,
            }
        })
        .collect()
}

/// k-means (linfa) for k = 1 … [`MAX_SHAPES`] on `sample`: the centroids
/// of the k with the lowest BIC, and every k's BIC.
fn cluster(sample: &[&Profiled]) -> (Vec<Vec<f64>>, Vec<f64>) {
    use linfa::prelude::*;
    use linfa_clustering::KMeans;
    let n = sample.len();
    let d = WEEK_HOURS;
    let records = ndarray::Array2::from_shape_fn((n, d), |(i, j)| sample[i].profile[j]);
    let dataset = linfa::DatasetBase::from(records.clone());
    let bic = |within: f64, k: usize| {
        let nd = (n * d) as f64;
        nd * (within.max(1e-12) / nd).ln() + (k * (d + 1)) as f64 * (n as f64).ln()
    };
    let mean: Vec<f64> = (0..d)
        .map(|j| records.column(j).mean().unwrap_or(1.0))
        .collect();
    let mut best = (
        bic(within(&records, std::slice::from_ref(&mean)), 1),
        vec![mean],
    );
    let mut scores = vec![best.0];
    // Each cluster needs a few members to stand for a shape.
    for k in 2..=MAX_SHAPES.min(n / 3) {
        let Ok(model) = KMeans::params(k)
            .n_runs(3)
            .max_n_iterations(100)
            .tolerance(1e-6)
            .fit(&dataset)
        else {
            break;
        };
        let centroids: Vec<Vec<f64>> = model
            .centroids()
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect();
        let score = bic(within(&records, &centroids), k);
        scores.push(score);
        if score < best.0 {
            best = (score, centroids);
        }
    }
    (best.1, scores)
}

/// Sum of squared distances of `records` to their nearest centroid.
fn within(records: &ndarray::Array2<f64>, centroids: &[Vec<f64>]) -> f64 {
    records
        .rows()
        .into_iter()
        .map(|r| nearest_centroid(centroids, r.as_slice().expect("rows of a standard array")).1)
        .sum()
}

/// The centroid nearest to `profile` and its squared distance.
fn nearest_centroid(centroids: &[Vec<f64>], profile: &[f64]) -> (usize, f64) {
    centroids
        .iter()
        .map(|c| {
            c.iter()
                .zip(profile)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
        })
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("at least one centroid")
}

/// What a young workload was matched to.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The shape's profile (`None`: a flat line).
    pub profile: Option<Vec<f64>>,
    /// What the shape is called in reasons (`shape-2`, `like team/api`).
    pub label: String,
    /// The load the shape's weekly mean stands for.
    pub level: f64,
    /// How much of the shape's swing the workload shows (1: all of it).
    pub amplitude: f64,
    /// Mean absolute misfit over the history seen, relative to its load.
    pub misfit: f64,
    /// The flat line's misfit, for the reason.
    pub flat_misfit: f64,
    /// Mean absolute misfit in load units (at least 1% of the level): the
    /// unit the fleet's cold-start errors are kept in.
    pub spread: f64,
}

/// Least amplitude that makes a shape: below it the workload shows too
/// little of the shape's swing to tell it from a flat line.
const MIN_AMPLITUDE: f64 = 0.25;
/// Largest amplitude believed (a swing twice the shape's).
const MAX_AMPLITUDE: f64 = 2.0;

/// Fits `profile` (or a flat line) to the known values of `series`:
/// load = level × (1 + amplitude × (shape − 1)), by Huber-weighted least
/// squares (a burst in a few hours of history must not set the level),
/// the amplitude held towards 1 (the shape as the fleet has it) with the
/// weight of one hour of data — with an hour seen, the fleet's shape is
/// most of what is known. A flat line is the median.
fn fit(profile: Option<&[f64]>, series: &Series) -> Option<Match> {
    let points: Vec<(f64, f64)> = series
        .values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, &v)| {
            let x = profile.map_or(0.0, |p| at(p, series.timestamp(i)) - 1.0);
            (x, v)
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let mut values: Vec<f64> = points.iter().map(|&(_, v)| v).collect();
    let median = crate::core::stats::median(&mut values);
    let (mut b0, mut b1) = (median, 0.0);
    if let Some(profile) = profile {
        let swing = profile.iter().map(|s| (s - 1.0).powi(2)).sum::<f64>() / WEEK_HOURS as f64;
        let lambda = (3_600 / series.step).max(1) as f64 * swing;
        let mut weights = vec![1.0; points.len()];
        for _ in 0..5 {
            let (mut sw, mut swx, mut swxx, mut swv, mut swxv) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (&(x, v), w) in points.iter().zip(&weights) {
                sw += w;
                swx += w * x;
                swxx += w * x * x;
                swv += w * v;
                swxv += w * x * v;
            }
            // Normal equations of Σw(v − b0 − b1·x)² + λ(b1 − b0)².
            let (a11, a12, a22) = (sw + lambda, swx - lambda, swxx + lambda);
            let det = a11 * a22 - a12 * a12;
            if det.abs() < 1e-12 {
                break;
            }
            b0 = (swv * a22 - a12 * swxv) / det;
            b1 = (a11 * swxv - a12 * swv) / det;
            let mut residuals: Vec<f64> = points.iter().map(|&(x, v)| v - b0 - b1 * x).collect();
            let sigma = crate::core::stats::robust_sd(&residuals).max(1e-9 * b0.abs());
            for (w, r) in weights.iter_mut().zip(residuals.iter_mut()) {
                *w = (1.345 * sigma / r.abs().max(1e-300)).min(1.0);
            }
        }
        if b0 <= 0.0 {
            return None;
        }
    }
    let level = b0.max(0.0);
    let amplitude = if level > 0.0 {
        (b1 / level).clamp(0.0, MAX_AMPLITUDE)
    } else {
        0.0
    };
    // Misfit and spread with the history's spikes cut to what max heals (a
    // young workload's one ×100 burst made its interval, and max with it,
    // grow run after run).
    let fitted: Vec<f64> = points
        .iter()
        .map(|&(x, _)| level * (1.0 + amplitude * x))
        .collect();
    let values: Vec<f64> = points.iter().map(|&(_, v)| v).collect();
    let values = clipped(&values, &fitted);
    let (mut absolute, mut total) = (0.0, 0.0);
    for (v, f) in values.iter().zip(&fitted) {
        absolute += (v - f).abs();
        total += v.abs();
    }
    Some(Match {
        profile: profile.map(<[f64]>::to_vec),
        label: if profile.is_some() {
            String::new()
        } else {
            "flat".into()
        },
        level,
        amplitude,
        misfit: if total > 0.0 { absolute / total } else { 0.0 },
        flat_misfit: 0.0,
        spread: (absolute / values.len() as f64).max(0.01 * level).max(1e-9),
    })
}

/// `history` with its short spikes (against the flat line `line`, see
/// [`ordinary`]) unknown: what its own earlier days are read from (one
/// burst at midnight otherwise came back in every night's forecast).
fn without_spikes(history: &Series, line: &Match) -> Series {
    let fitted = project(line, history.start, history.step, history.len());
    let mut keep = ordinary(&history.values, &fitted);
    // Only short departures (a step or two): a longer one seen once may be
    // the workload's own rhythm (a nightly batch no shape has), which is
    // what its earlier days are read for.
    let mut i = 0;
    while i < keep.len() {
        if keep[i] || !history.values[i].is_finite() {
            i += 1;
            continue;
        }
        let from = i;
        while i < keep.len() && !keep[i] && history.values[i].is_finite() {
            i += 1;
        }
        if i - from > SPIKE_STEPS {
            keep[from..i].fill(true);
        }
    }
    Series {
        values: history
            .values
            .iter()
            .zip(keep)
            .map(|(v, k)| if k { *v } else { f64::NAN })
            .collect(),
        ..history.clone()
    }
}

/// A spike above this many times a young workload's fit is the operator's
/// decision, not room max keeps (`events.max_spike_headroom`'s default).
const SPIKE_FACTOR: f64 = 3.0;

/// Longest departure (steps) left out of a young workload's own earlier
/// days: a spike.
const SPIKE_STEPS: usize = 2;

/// The residuals of `m`'s fit on `history`, its spikes cut (see
/// [`clipped`]): the workload's own noise.
fn ordinary_residuals(m: &Match, history: &Series) -> Vec<f64> {
    let fitted = project(m, history.start, history.step, history.len());
    clipped(&history.values, &fitted)
        .iter()
        .zip(&fitted)
        .filter(|(v, _)| v.is_finite())
        .map(|(v, f)| v - f)
        .collect()
}

/// `values` with their spikes (see [`ordinary`]) cut to [`SPIKE_FACTOR`]
/// times the fit: as tall as max leaves room to heal, no taller.
fn clipped(values: &[f64], fitted: &[f64]) -> Vec<f64> {
    values
        .iter()
        .zip(fitted)
        .zip(ordinary(values, fitted))
        .map(|((v, f), keep)| {
            if keep || !v.is_finite() {
                *v
            } else {
                SPIKE_FACTOR * f
            }
        })
        .collect()
}

/// Which of `values` are ordinary against a fit (`fitted`): all but the
/// spikes beyond 4.5 robust SD of the residuals (the events stage's bar
/// for one sample) and beyond [`SPIKE_FACTOR`] times the fit (a smaller
/// one is what max leaves room to heal, as for a workload with its own
/// model; dips, which no max is sized from, stay), when they are rare (at
/// most a tenth of the steps: more, and they are the load's own heavy
/// tail, kept). NaN is not ordinary.
fn ordinary(values: &[f64], fitted: &[f64]) -> Vec<bool> {
    let residuals: Vec<f64> = values.iter().zip(fitted).map(|(v, f)| v - f).collect();
    let known: Vec<f64> = residuals
        .iter()
        .copied()
        .filter(|r| r.is_finite())
        .collect();
    let cap = 4.5 * crate::core::stats::robust_sd(&known);
    let keep: Vec<bool> = residuals
        .iter()
        .zip(values.iter().zip(fitted))
        .map(|(r, (v, f))| {
            let beyond = cap > 0.0 && r.abs() > cap;
            r.is_finite() && !(beyond && *v > SPIKE_FACTOR * f)
        })
        .collect();
    let dropped = keep.iter().filter(|k| !**k).count() - (residuals.len() - known.len());
    if 10 * dropped > known.len() {
        residuals.iter().map(|r| r.is_finite()).collect()
    } else {
        keep
    }
}

/// The fleet's shape that explains `series` best, fitted (labelled by the
/// shape's name), when one shows at least [`MIN_AMPLITUDE`] of its swing.
fn best_shape(series: &Series, shapes: &[Shape]) -> Option<Match> {
    shapes
        .iter()
        .filter_map(|s| {
            fit(Some(&s.profile), series).map(|mut m| {
                m.label.clone_from(&s.name);
                m
            })
        })
        .min_by(|a, b| a.misfit.total_cmp(&b.misfit))
        .filter(|m| m.amplitude >= MIN_AMPLITUDE)
}

/// Matches `series` (a young workload's history) to the fleet's shape that
/// explains it best, or to `like` when given (the workload it names and
/// its profile: labelled `like namespace/name`); a flat line when no shape
/// explains it `gain` times as well (a misfit at most `gain` × the flat
/// line's: with its level and amplitude fitted, a shape matches a flat
/// stretch as well as a flat line does, and then forecasts its swing — a
/// nightly batch at a hundred times the day — on a workload that showed
/// none; the fleet's simulated cold starts choose the gain), or the
/// workload shows little of its swing.
#[must_use]
pub fn match_shape(
    series: &Series,
    shapes: &[Shape],
    like: Option<(&str, &[f64])>,
    gain: f64,
) -> Option<Match> {
    let mut flat = fit(None, series)?;
    flat.flat_misfit = flat.misfit;
    if let Some((label, profile)) = like {
        // No positive level to scale the named shape by (no load seen
        // yet): the flat line.
        return Some(fit(Some(profile), series).map_or(flat.clone(), |mut m| {
            m.label = format!("like {label}");
            m.flat_misfit = flat.misfit;
            m
        }));
    }
    Some(match best_shape(series, shapes) {
        Some(mut m) if m.misfit <= gain * flat.misfit => {
            m.flat_misfit = flat.misfit;
            m
        }
        _ => flat,
    })
}

/// The mean forecast of a match for `steps` steps from `start`.
fn project(m: &Match, start: i64, step: i64, steps: usize) -> Vec<f64> {
    (0..steps)
        .map(|i| {
            let ts = start + i as i64 * step;
            let swing = m.profile.as_deref().map_or(0.0, |p| at(p, ts) - 1.0);
            (m.level * (1.0 + m.amplitude * swing)).max(0.0)
        })
        .collect()
}

/// Lead-time buckets of the calibration (seconds ahead, doubling).
fn lead_buckets() -> Vec<i64> {
    let mut until = vec![900];
    while until.last().is_some_and(|&u| u < DAY) {
        let next = (until.last().expect("non-empty") * 2).min(DAY);
        until.push(next);
    }
    until
}

/// Simulates cold starts on `probes`, each at its end: for each length of
/// history in [`CALIBRATION_HOURS`], the errors of the day forecast from
/// it.
fn calibrate(fleet: &FleetShapes, probes: &[&Series]) -> Vec<ColdErrors> {
    let buckets = lead_buckets();
    CALIBRATION_HOURS
        .iter()
        .map(|&hours| {
            let starts: Vec<Start> = probes
                .iter()
                .filter_map(|probe| Start::simulate(probe, hours, &fleet.shapes))
                .collect();
            // The gain a shape must show and the weight of the workload's
            // own earlier days that served these cold starts best (errors
            // in units of each one's flat spread).
            let mut best = (f64::INFINITY, 1.0, 0.0);
            for gain in SHAPE_GAINS {
                for own_weight in OWN_WEIGHTS {
                    let cost: f64 = starts
                        .iter()
                        .map(|start| start.cost(gain, own_weight))
                        .sum();
                    if cost < best.0 {
                        best = (cost, gain, own_weight);
                    }
                }
            }
            let (_, shape_gain, own_weight) = best;
            let mut matched = Combined::new(&buckets);
            let mut flat = Combined::new(&buckets);
            for start in &starts {
                let (m, f) = start.errors(&buckets, shape_gain, own_weight);
                matched.add(m);
                flat.add(f);
            }
            let (interval_scale, matched, flat) = self_calibrated(
                &starts,
                &buckets,
                shape_gain,
                own_weight,
                matched.finish(),
                flat.finish(),
            );
            ColdErrors {
                hours,
                starts: starts.len(),
                own_weight,
                shape_gain,
                interval_scale,
                matched,
                flat,
            }
        })
        .filter(|c| c.starts > 0)
        .collect()
}

/// Gains tried (see [`match_shape`]): a shape used when it fits as well as
/// a flat line, down to 20% better.
const SHAPE_GAINS: [f64; 4] = [1.0, 0.95, 0.9, 0.8];

/// One simulated cold start: the day after a moment, forecast from `hours`
/// before it.
struct Start<'a> {
    actual: &'a [f64],
    step: i64,
    /// The best shape's fit, if one is fitted.
    shape: Option<Fitted>,
    /// The flat line's.
    flat: Fitted,
    /// The workload's own earlier days at each step, where seen.
    own: Vec<Option<f64>>,
}

/// A cold start's fit (shape or flat line): its forecast of the next day,
/// misfit and spread on the history seen, and the 90% interval of its
/// residuals there (the floor [`cold_forecast`] puts under the interval).
struct Fitted {
    mean: Vec<f64>,
    misfit: f64,
    spread: f64,
    noise: (f64, f64),
}

impl Fitted {
    fn new(m: &Match, history: &Series, start: i64, steps: usize) -> Self {
        let mut residuals = ordinary_residuals(m, history);
        residuals.sort_by(f64::total_cmp);
        let tail = (1.0 - CALIBRATION_LEVEL) / 2.0;
        Fitted {
            mean: project(m, start, history.step, steps),
            misfit: m.misfit,
            spread: m.spread,
            noise: (
                conformal_quantile(&residuals, tail),
                conformal_quantile(&residuals, 1.0 - tail),
            ),
        }
    }
}

impl<'a> Start<'a> {
    fn simulate(probe: &'a Series, hours: i64, shapes: &[Shape]) -> Option<Self> {
        let day = (DAY / probe.step) as usize;
        let seen = (hours * 3_600 / probe.step).max(1) as usize;
        if probe.len() < day + seen {
            return None;
        }
        let origin = probe.len() - day;
        let history = Series {
            start: probe.timestamp(origin - seen),
            step: probe.step,
            values: probe.values[origin - seen..origin].to_vec(),
            stats: probe.stats,
        };
        let line = fit(None, &history)?;
        let actual = &probe.values[origin..];
        // A start that saw no load (level 0: its spread is no unit) or
        // whose next day is mostly unknown says nothing of the errors.
        let known = actual.iter().filter(|v| v.is_finite()).count();
        if line.level <= 0.0 || 2 * known < actual.len() {
            return None;
        }
        let start = probe.timestamp(origin);
        let shape = best_shape(&history, shapes).map(|m| Fitted::new(&m, &history, start, day));
        Some(Start {
            actual,
            step: probe.step,
            shape,
            flat: Fitted::new(&line, &history, start, day),
            own: {
                let ordinary = without_spikes(&history, &line);
                (0..day)
                    .map(|i| own_day(&ordinary, start + i as i64 * probe.step))
                    .collect()
            },
        })
    }

    /// The fit a cold start with this `gain` uses (a shape's, or the flat
    /// line's).
    fn chosen(&self, gain: f64) -> &Fitted {
        match &self.shape {
            Some(shape) if self.shape_chosen(gain) => shape,
            _ => &self.flat,
        }
    }

    /// Does a cold start with this `gain` use the shape (else the flat line)?
    fn shape_chosen(&self, gain: f64) -> bool {
        self.shape
            .as_ref()
            .is_some_and(|shape| shape.misfit <= gain * self.flat.misfit)
    }

    /// The lead-time bucket of each step of the day (`buckets`: seconds ahead).
    fn bucket(&self, i: usize, buckets: &[i64]) -> usize {
        let ahead = (i as i64 + 1) * self.step;
        buckets
            .iter()
            .position(|&u| ahead <= u)
            .unwrap_or(buckets.len() - 1)
    }

    fn mix(&self, i: usize, f: f64, own_weight: f64) -> f64 {
        self.own[i].map_or(f, |o| own_weight * o + (1.0 - own_weight) * f)
    }

    /// Absolute error over the day in units of the flat spread.
    fn cost(&self, gain: f64, own_weight: f64) -> f64 {
        let mean = &self.chosen(gain).mean;
        self.actual
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_finite())
            .map(|(i, a)| (a - self.mix(i, mean[i], own_weight)).abs())
            .sum::<f64>()
            / self.flat.spread
    }

    /// Per lead-time bucket, the errors of the forecast made (in units of
    /// its spread) and of the flat line (in units of its own).
    fn errors(
        &self,
        buckets: &[i64],
        gain: f64,
        own_weight: f64,
    ) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let chosen = self.chosen(gain);
        let (mut matched, mut flat) = (
            vec![Vec::new(); buckets.len()],
            vec![Vec::new(); buckets.len()],
        );
        for (i, &a) in self.actual.iter().enumerate() {
            if !a.is_finite() {
                continue;
            }
            let b = self.bucket(i, buckets);
            matched[b].push((a - self.mix(i, chosen.mean[i], own_weight)) / chosen.spread);
            flat[b].push((a - self.mix(i, self.flat.mean[i], own_weight)) / self.flat.spread);
        }
        (matched, flat)
    }

    /// The share of the known steps of the day inside the 90% interval a
    /// cold start gives with `leads`' errors scaled by `scale` (see
    /// [`self_calibrated`]): as [`cold_forecast`] makes it, never narrower
    /// than the fit's own noise.
    fn covered(
        &self,
        chosen: &Fitted,
        own_weight: f64,
        buckets: &[i64],
        ends: &[(f64, f64)],
    ) -> f64 {
        let (mut inside, mut known) = (0_usize, 0_usize);
        for (i, &a) in self.actual.iter().enumerate() {
            if !a.is_finite() {
                continue;
            }
            let (low, high) = ends[self.bucket(i, buckets).min(ends.len() - 1)];
            let error = a - self.mix(i, chosen.mean[i], own_weight);
            let low = (low * chosen.spread).min(chosen.noise.0);
            let high = (high * chosen.spread).max(chosen.noise.1);
            known += 1;
            inside += usize::from(low <= error && error <= high);
        }
        inside as f64 / known.max(1) as f64
    }
}

/// The level the fleet's cold-start intervals are calibrated at: the
/// default interval's.
const CALIBRATION_LEVEL: f64 = 0.9;

/// `matched` and `flat` (the starts' errors, combined) with their
/// percentiles scaled about the median by the one factor that makes the
/// 90% intervals of the simulated cold starts cover 90% of their next
/// days (the mean over starts, each with the errors it would be given:
/// a shape's or the flat line's, and its own noise as the floor), and the
/// factor. The combination fixes the intervals' shape; this fixes their
/// width on the fleet itself: pooled and averaged errors, and the noise
/// floor on top, covered 0.92–0.96 of the next day out of sample where
/// 0.90 was asked for.
fn self_calibrated(
    starts: &[Start],
    buckets: &[i64],
    gain: f64,
    own_weight: f64,
    matched: Vec<LeadErrors>,
    flat: Vec<LeadErrors>,
) -> (f64, Vec<LeadErrors>, Vec<LeadErrors>) {
    let tail = (1.0 - CALIBRATION_LEVEL) / 2.0;
    // Per bucket of `leads` (their lead times as `buckets`), the median
    // and the interval's ends, each end never inside a shorter lead's (as
    // the forecast widens them).
    let ends_at = |leads: &[LeadErrors], scale: f64| -> Vec<(f64, f64)> {
        let mut ends: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
        let mut lead = leads.iter().peekable();
        for &until in buckets {
            while lead.peek().is_some_and(|l| l.until < until) {
                lead.next();
            }
            let Some(l) = lead.peek() else { break };
            let median = l.percentiles[50];
            let low = median + scale * (conformal_quantile(&l.percentiles, tail) - median);
            let high = median + scale * (conformal_quantile(&l.percentiles, 1.0 - tail) - median);
            let (low, high) = match ends.last() {
                Some(&(l, h)) => (low.min(l), high.max(h)),
                None => (low, high),
            };
            ends.push((low, high));
        }
        ends
    };
    let coverage = |scale: f64| -> f64 {
        let (for_shape, for_flat) = (ends_at(&matched, scale), ends_at(&flat, scale));
        let shares: Vec<f64> = starts
            .iter()
            .filter_map(|start| {
                let chosen = start.chosen(gain);
                let ends = if start.shape_chosen(gain) {
                    &for_shape
                } else {
                    &for_flat
                };
                (!ends.is_empty()).then(|| start.covered(chosen, own_weight, buckets, ends))
            })
            .collect();
        shares.iter().sum::<f64>() / shares.len().max(1) as f64
    };
    // Too few starts to say how wide: as combined.
    if starts.len() < MIN_FLEET {
        return (1.0, matched, flat);
    }
    // Coverage grows with the scale: the least scale that covers 90%,
    // between a quarter (where the fits' own noise, the floor, covers 90%
    // alone, as a steady workload's does, the fleet's errors still widen
    // the interval a little) and four times the combined errors.
    let (mut low, mut high) = (0.25_f64, 4.0_f64);
    if coverage(high) < CALIBRATION_LEVEL {
        low = high;
    } else if coverage(low) >= CALIBRATION_LEVEL {
        high = low;
    }
    for _ in 0..20 {
        if high - low < 0.005 {
            break;
        }
        let middle = f64::midpoint(low, high);
        if coverage(middle) >= CALIBRATION_LEVEL {
            high = middle;
        } else {
            low = middle;
        }
    }
    let scale = significant(high, 3);
    let scaled = |leads: Vec<LeadErrors>| -> Vec<LeadErrors> {
        leads
            .into_iter()
            .map(|l| {
                let median = l.percentiles[50];
                LeadErrors {
                    until: l.until,
                    percentiles: l
                        .percentiles
                        .iter()
                        .map(|p| median + scale * (p - median))
                        .collect(),
                }
            })
            .collect()
    };
    (scale, scaled(matched), scaled(flat))
}

/// [`ColdErrors::interval_scale`] of files written before it was measured.
fn no_scale() -> f64 {
    1.0
}

/// Weights of a workload's own earlier days tried against the shape's fit.
const OWN_WEIGHTS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// [`ColdErrors::shape_gain`] of files written before it was chosen.
fn no_gain() -> f64 {
    1.0
}

/// The workload's own load at `ts`, a whole number of days earlier: the
/// mean of the known steps within a step of `ts − k days`, averaged over
/// the (at most two) latest such days its history holds. A day seen once
/// is the best guess of the next for a workload with a rhythm of its own
/// (a nightly batch no fleet shape has).
fn own_day(series: &Series, ts: i64) -> Option<f64> {
    let mut days = Vec::new();
    let mut k = 1;
    while days.len() < 2 {
        let then = ts - k * DAY;
        if then < series.start - series.step {
            break;
        }
        let centre = (then - series.start).div_euclid(series.step);
        let near: Vec<f64> = (centre - 1..=centre + 1)
            .filter_map(|i| usize::try_from(i).ok())
            .filter_map(|i| series.values.get(i).copied())
            .filter(|v| v.is_finite())
            .collect();
        if !near.is_empty() {
            days.push(near.iter().sum::<f64>() / near.len() as f64);
        }
        k += 1;
    }
    (!days.is_empty()).then(|| days.iter().sum::<f64>() / days.len() as f64)
}

/// The cold starts' errors per lead-time bucket, combined halfway between
/// the two usual ways to combine distributions: pooling them (each start
/// weighs the same; one with errors a hundred times its spread, a nightly
/// batch no shape has, stretches every interval: out of sample 0.92–0.97
/// of the next day covered on the shared sets) and averaging their
/// percentiles (Vincentization: sharper, 0.80–0.91 covered). The mean of
/// the two covered 0.885–0.954 (`homeostat evaluate --cold-start`); their
/// width is then set on the fleet itself ([`self_calibrated`]).
struct Combined<'a> {
    buckets: &'a [i64],
    sums: Vec<Vec<f64>>,
    counts: Vec<usize>,
    pooled: Vec<Vec<f64>>,
}

impl<'a> Combined<'a> {
    fn new(buckets: &'a [i64]) -> Self {
        Combined {
            buckets,
            sums: vec![vec![0.0; 101]; buckets.len()],
            counts: vec![0; buckets.len()],
            pooled: vec![Vec::new(); buckets.len()],
        }
    }

    /// One start's errors, per bucket.
    fn add(&mut self, errors: Vec<Vec<f64>>) {
        for (b, mut e) in errors.into_iter().enumerate() {
            if e.is_empty() {
                continue;
            }
            e.sort_by(f64::total_cmp);
            self.pooled[b].extend_from_slice(&e);
            for (p, sum) in self.sums[b].iter_mut().enumerate() {
                *sum += crate::core::stats::quantile(&e, p as f64 / 100.0);
            }
            self.counts[b] += 1;
        }
    }

    /// The averaged percentiles (buckets no start reached left out).
    fn finish(self) -> Vec<LeadErrors> {
        self.buckets
            .iter()
            .zip(self.sums)
            .zip(self.counts)
            .zip(self.pooled)
            .filter(|((_, n), _)| *n > 0)
            .map(|(((&until, sums), n), mut pooled)| {
                pooled.sort_by(f64::total_cmp);
                LeadErrors {
                    until,
                    percentiles: sums
                        .into_iter()
                        .enumerate()
                        .map(|(p, s)| {
                            let q = crate::core::stats::quantile(&pooled, p as f64 / 100.0);
                            0.5 * (s / n as f64) + 0.5 * q
                        })
                        .collect(),
                }
            })
            .collect()
    }
}

/// How a plan rests on the fleet's shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColdStart {
    /// The shape matched (`shape-2`), `like namespace/name`, or `flat`.
    pub shape: String,
    /// Seconds of history the workload has.
    pub history: i64,
    /// Weight of the workload's own model in the forecast (0: the shape
    /// alone).
    pub own_weight: f64,
    /// Workloads the shapes were learned from.
    pub fleet: usize,
    /// The match's misfit and a flat line's on the history seen.
    pub misfit: f64,
    pub flat_misfit: f64,
}

/// Seconds of known history in `series`.
#[must_use]
pub fn known_history(series: &Series) -> i64 {
    series.known() as i64 * series.step
}

/// A young workload's forecast of `steps` steps after `series` from the
/// fleet's shapes (or `like`'s profile): see the module docs. `seen` is
/// the seconds of history it has (as observed: `series` may be adapted,
/// its spikes unknown).
///
/// # Errors
/// No known value to fit a level to, or no calibration in `fleet`.
pub fn cold_forecast(
    series: &Series,
    seen: i64,
    steps: usize,
    fleet: &FleetShapes,
    like: Option<(&str, &[f64])>,
) -> Result<(Forecast, ColdStart), ModelError> {
    let model = "fleet_shape".to_string();
    let calibration = fleet
        .calibration
        .iter()
        .rev()
        .find(|c| c.hours * 3_600 <= seen)
        .or(fleet.calibration.first())
        .ok_or_else(|| ModelError::Fit {
            model: model.clone(),
            message: "the fleet's shapes have no calibration".into(),
        })?;
    // No load at all yet (deployed, no traffic): the shapes scale with the
    // load seen, so nothing sizes the bounds; a max walked down to its
    // floor run after run would cap the HPA when traffic arrives.
    if !series.values.iter().any(|v| v.is_finite() && *v > 0.0) {
        return Err(ModelError::NoLoad {
            model,
            history: crate::core::time::Span::from_secs(seen)
                .map_or_else(|| format!("{seen}s"), |s| s.to_string()),
        });
    }
    let m = match_shape(series, &fleet.shapes, like, calibration.shape_gain).ok_or_else(|| {
        ModelError::TooShort {
            model: model.clone(),
            have: 0,
            need: 1,
        }
    })?;
    // A flat line's interval: the fleet's errors of flat lines (wide
    // where the fleet has shapes: they missed every swing).
    let errors = if m.profile.is_some() {
        calibration.matched.clone()
    } else {
        calibration.flat.clone()
    };
    let start = series.end() + series.step;
    let w = calibration.own_weight;
    let ordinary =
        fit(None, series).map_or_else(|| series.clone(), |line| without_spikes(series, &line));
    let mean: Vec<f64> = project(&m, start, series.step, steps)
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            own_day(&ordinary, start + i as i64 * series.step).map_or(f, |o| w * o + (1.0 - w) * f)
        })
        .collect();
    let mut buckets: Vec<(usize, Vec<f64>)> = Vec::new();
    for lead in &errors {
        let last = (lead.until / series.step).max(1) as usize;
        let scaled: Vec<f64> = lead.percentiles.iter().map(|e| e * m.spread).collect();
        match buckets.last_mut() {
            Some((l, e)) if *l >= last => *e = scaled,
            _ => buckets.push((last, scaled)),
        }
    }
    let mae = errors
        .iter()
        .flat_map(|l| l.percentiles.iter())
        .map(|e| e.abs())
        .sum::<f64>()
        / errors
            .iter()
            .map(|l| l.percentiles.len())
            .sum::<usize>()
            .max(1) as f64
        * m.spread;
    let per_day = series.steps_per_day();
    let seasonality = Seasonality {
        daily: m.profile.as_ref().and(per_day),
        weekly: m.profile.as_ref().and(per_day).map(|d| 7 * d),
        daily_strength: 0.0,
        weekly_strength: 0.0,
    };
    let name = match &m.profile {
        Some(_) => format!("fleet_shape({})", m.label),
        None => "fleet_shape(flat)".to_string(),
    };
    // Never narrower than the workload's own noise around the fit on what
    // it has seen: the fleet's errors are in units of each start's misfit,
    // which for a steady workload is its noise's mean size, and a 90%
    // interval of noise is wider than that (a steady flat workload's
    // interval covered half of its next day without this).
    let noise = ordinary_residuals(&m, series);
    let noise = Forecast::calibrated_elsewhere(
        start,
        series.step,
        mean.clone(),
        String::new(),
        seasonality,
        vec![(steps.max(1), noise)],
        0.0,
    );
    let mut forecast =
        Forecast::calibrated_elsewhere(start, series.step, mean, name, seasonality, buckets, mae);
    forecast.widen_to(&noise);
    let cold = ColdStart {
        shape: m.label.clone(),
        history: seen,
        own_weight: 0.0,
        fleet: fleet.workloads,
        misfit: significant(m.misfit, 3),
        flat_misfit: significant(m.flat_misfit, 3),
    };
    Ok((forecast, cold))
}

/// The forecast of `steps` steps after `series` with the fleet's shapes:
/// the shape's alone below [`COLD_HISTORY`] of history ([`cold_forecast`]),
/// the workload's own model blended with it up to [`OWN_HISTORY`]
/// ([`blend`]), its own model's beyond; and how it rests on the shapes.
/// `history` is the seconds of history it has, as observed (the adapted
/// `series` leaves its spikes and dips unknown).
///
/// # Errors
/// No forecast could be made.
pub fn forecast_in_fleet(
    series: &Series,
    history: i64,
    steps: usize,
    fleet: &FleetShapes,
    like: Option<(&str, &[f64])>,
) -> Result<(Forecast, Option<ColdStart>), ModelError> {
    if history < COLD_HISTORY {
        let (forecast, cold) = cold_forecast(series, history, steps, fleet, like)?;
        return Ok((forecast, Some(cold)));
    }
    let mut forecast = crate::core::model::forecast(series, steps)?;
    let cold = blend(&mut forecast, series, history, fleet, like);
    Ok((forecast, cold))
}

/// The weight of a workload's own model with `history` seconds of it:
/// growing linearly to 1 at [`OWN_HISTORY`] (below [`COLD_HISTORY`] it has
/// no model: the shape alone).
#[must_use]
pub fn own_weight(history: i64) -> f64 {
    (history as f64 / OWN_HISTORY as f64).clamp(0.0, 1.0)
}

/// A workload younger than [`OWN_HISTORY`] with a model of its own: its
/// forecast's mean moved towards the shape that explains its last two days
/// (or `like`'s), by the shape's share of the weight (none when no shape
/// explains them better than a flat line); its interval mixed with the
/// fleet's cold starts' with two days of history (see
/// [`Forecast::mix_interval`]). `None` when
/// the `history` (seconds, as observed) is old enough.
#[must_use]
pub fn blend(
    forecast: &mut Forecast,
    series: &Series,
    history: i64,
    fleet: &FleetShapes,
    like: Option<(&str, &[f64])>,
) -> Option<ColdStart> {
    let own = own_weight(history);
    if own >= 1.0 {
        return None;
    }
    let recent = (COLD_HISTORY / series.step) as usize;
    let from = series.len().saturating_sub(recent);
    let last_days = Series {
        start: series.timestamp(from),
        step: series.step,
        values: series.values[from..].to_vec(),
        stats: series.stats,
    };
    let gain = fleet.calibration.last().map_or(1.0, |c| c.shape_gain);
    let m = match_shape(&last_days, &fleet.shapes, like, gain)?;
    // The interval: the model's own backtest (a day or two of it) and the
    // fleet's cold starts with two days of history, weighed as the means.
    let seen = history.min(COLD_HISTORY);
    if let Ok((cold, _)) = cold_forecast(&last_days, seen, forecast.mean.len(), fleet, like) {
        forecast.mix_interval(&cold, own);
    }
    if m.profile.is_some() {
        let shaped = project(&m, forecast.start, forecast.step, forecast.mean.len());
        for (mean, s) in forecast.mean.iter_mut().zip(shaped) {
            *mean = own * *mean + (1.0 - own) * s;
        }
        forecast.model = format!("{} blended with fleet_shape({})", forecast.model, m.label);
    }
    Some(ColdStart {
        shape: m.label,
        history,
        own_weight: significant(own, 3),
        fleet: fleet.workloads,
        misfit: significant(m.misfit, 3),
        flat_misfit: significant(m.flat_misfit, 3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A week-long profile peaking at `peak_hour` of each day.
    fn daily(peak_hour: f64) -> impl Fn(i64) -> f64 {
        move |ts: i64| {
            let hour = (ts.rem_euclid(DAY)) as f64 / 3_600.0;
            1.0 + 0.6 * ((hour - peak_hour) / 24.0 * std::f64::consts::TAU).cos()
        }
    }

    fn series(shape: &dyn Fn(i64) -> f64, level: f64, start: i64, steps: usize) -> Series {
        let step = 300;
        let mut seed = 7_u64;
        let values = (0..steps)
            .map(|i| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let noise = ((seed >> 33) as f64 / f64::from(u32::MAX) - 0.5) * 0.06;
                level * shape(start + i as i64 * step) * (1.0 + noise)
            })
            .collect();
        Series {
            start,
            step,
            values,
            stats: crate::core::series::GridStats::default(),
        }
    }

    const START: i64 = 1_700_006_400; // a Wednesday, 00:00 UTC

    /// Fleet member `ns/w<i>` with the history `s`.
    fn member(i: impl std::fmt::Display, s: &Series) -> Profiled {
        Profiled {
            id: format!("ns/w{i}"),
            profile: profile(&s.values, s.start, s.step).unwrap(),
            probe: Some(probe(s)),
        }
    }

    fn fleet(n: usize) -> Vec<Profiled> {
        (0..n)
            .map(|i| {
                let peak = if i % 2 == 0 { 10.0 } else { 21.0 };
                member(
                    i,
                    &series(&daily(peak), 50.0 + i as f64 * 30.0, START, 28 * 288),
                )
            })
            .collect()
    }

    #[test]
    fn hour_of_week_starts_on_monday() {
        // 1970-01-05 was a Monday.
        assert_eq!(hour_of_week(4 * DAY), 0);
        assert_eq!(hour_of_week(4 * DAY - 1), 167);
        assert_eq!(hour_of_week(0), 72);
    }

    #[test]
    fn two_rhythms_are_two_shapes_and_a_copy_at_another_level_matches_its_own() {
        let shapes = learn(&fleet(12), "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(shapes.shapes.len(), 2, "BIC {:?}", shapes.bic);
        let evening = shapes.members["ns/w1"];
        // A new workload with the evening rhythm at a level none has, an
        // hour of history (rising towards its peak at 21:00).
        let young = series(&daily(21.0), 7_000.0, START + 30 * DAY + 15 * 3_600, 12);
        let m = match_shape(&young, &shapes.shapes, None, 1.0).unwrap();
        assert_eq!(m.label, shapes.shapes[evening].name, "{m:?}");
        assert!((m.level / 7_000.0 - 1.0).abs() < 0.1, "{m:?}");
        assert!(!shapes.calibration.is_empty());
    }

    #[test]
    fn one_rhythm_is_one_shape_and_a_flat_workload_is_not_forced_into_it() {
        let fleet: Vec<Profiled> = (0..8)
            .map(|i| {
                member(
                    i,
                    &series(&daily(14.0), 100.0 * f64::from(i + 1), START, 28 * 288),
                )
            })
            .collect();
        let shapes = learn(&fleet, "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(shapes.shapes.len(), 1, "BIC {:?}", shapes.bic);
        let flat = series(&|_| 1.0, 300.0, START + 30 * DAY, 12 * 12);
        let (forecast, cold) =
            cold_forecast(&flat, known_history(&flat), 288, &shapes, None).unwrap();
        assert_eq!(cold.shape, "flat");
        assert!(forecast.mean.iter().all(|m| (m / 300.0 - 1.0).abs() < 0.02));
        // Its interval holds what the same steady load does next: the flat
        // line's errors (the fleet's flat lines', in units of each one's
        // misfit) scaled by its own misfit.
        let level = crate::core::model::Level::new(0.9).unwrap();
        let next = series(&|_| 1.0, 300.0, forecast.start, 288);
        let inside = forecast
            .interval(level)
            .iter()
            .zip(&next.values)
            .filter(|(i, v)| i.lower <= **v && **v <= i.upper)
            .count();
        assert!(inside as f64 / 288.0 >= 0.85, "{inside} of 288");
        // A shaped workload of the same level gets the shape, and an
        // interval around its swing.
        let shaped = series(&daily(14.0), 300.0, START + 30 * DAY, 12 * 12);
        let (shaped_forecast, shaped_cold) =
            cold_forecast(&shaped, known_history(&shaped), 288, &shapes, None).unwrap();
        assert_eq!(shaped_cold.shape, "shape-1");
        let swing = shaped_forecast.mean.iter().copied().fold(0.0, f64::max)
            / shaped_forecast
                .mean
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
        assert!(swing > 2.0, "{swing}");
    }

    #[test]
    fn the_fleets_cold_start_errors_shrink_as_history_grows() {
        let shapes = learn(&fleet(10), "2026-01-01T00:00:00Z").unwrap();
        // Per history length, the mean width of the 90% range of the
        // simulated cold starts' errors (in units of each one's misfit).
        let width = |hours: i64| {
            let row = shapes
                .calibration
                .iter()
                .find(|c| c.hours == hours)
                .unwrap();
            row.matched
                .iter()
                .map(|l| l.percentiles[95] - l.percentiles[5])
                .sum::<f64>()
                / row.matched.len() as f64
        };
        assert!(width(1) > width(24), "{} {}", width(1), width(24));
        assert!(width(3) > width(48), "{} {}", width(3), width(48));
    }

    /// `series` with a burst (×4 for three steps) every `every` steps.
    fn bursty(mut s: Series, every: usize) -> Series {
        for (i, v) in s.values.iter_mut().enumerate() {
            if i % every < 3 {
                *v *= 4.0;
            }
        }
        s
    }

    /// The fleet's intervals are set to cover 90% of its own simulated cold
    /// starts' next days; new workloads of the same kinds, never seen by
    /// the fleet, are then covered about as often. A third of this fleet
    /// bursts every two hours (an eighth of its steps: its own heavy tail,
    /// not spikes): pooled with the others' errors, its bursts stretched
    /// every interval (0.95 of the next days covered from 24 hours).
    #[test]
    fn the_cold_start_interval_covers_about_ninety_percent_of_unseen_workloads() {
        let fleet: Vec<Profiled> = (0..12_u32)
            .map(|i| {
                let peak = if i % 2 == 0 { 10.0 } else { 21.0 };
                let s = series(&daily(peak), 50.0 + f64::from(i) * 30.0, START, 28 * 288);
                let s = if i % 3 == 0 { bursty(s, 24) } else { s };
                member(i, &s)
            })
            .collect();
        let shapes = learn(&fleet, "2026-01-01T00:00:00Z").unwrap();
        for c in &shapes.calibration {
            assert!(
                (0.25..=4.0).contains(&c.interval_scale),
                "{}h: {}",
                c.hours,
                c.interval_scale
            );
        }
        let level = crate::core::model::Level::new(0.9).unwrap();
        for hours in [6, 24] {
            let seen = hours as usize * 12;
            let (mut inside, mut total) = (0_usize, 0_usize);
            for i in 0..6_u32 {
                let peak = if i % 2 == 0 { 10.0 } else { 21.0 };
                let whole = series(
                    &daily(peak),
                    75.0 + 170.0 * f64::from(i),
                    START + 30 * DAY,
                    seen + 288,
                );
                let whole = if i % 3 == 0 { bursty(whole, 24) } else { whole };
                let young = Series {
                    values: whole.values[..seen].to_vec(),
                    ..whole.clone()
                };
                let (forecast, _) =
                    cold_forecast(&young, known_history(&young), 288, &shapes, None).unwrap();
                for (interval, v) in forecast.interval(level).iter().zip(&whole.values[seen..]) {
                    inside += usize::from(interval.lower <= *v && *v <= interval.upper);
                    total += 1;
                }
            }
            let share = inside as f64 / total as f64;
            assert!((0.85..=0.95).contains(&share), "{hours}h: {share:.3}");
        }
    }

    /// One five-minute burst in a young workload's hours is a spike, left
    /// to the HPA: it neither widens the interval (whose unit is the fit's
    /// spread) nor comes back each day through the workload's own earlier
    /// days. (It made max grow ×1.5 run after run.)
    #[test]
    fn a_young_workloads_one_burst_does_not_set_its_interval_or_its_days() {
        let shapes = learn(&fleet(10), "2026-01-01T00:00:00Z").unwrap();
        let level = crate::core::model::Level::new(0.9).unwrap();
        let young = series(&daily(10.0), 300.0, START + 30 * DAY, 6 * 12);
        let mut burst = young.clone();
        let last = burst.values.len() - 1;
        burst.values[last] *= 100.0;
        let highest = |s: &Series| {
            let (forecast, _) = cold_forecast(s, known_history(s), 7 * 288, &shapes, None).unwrap();
            forecast
                .interval(level)
                .iter()
                .map(|i| i.upper)
                .fold(0.0, f64::max)
        };
        let (calm, spiked) = (highest(&young), highest(&burst));
        assert!(
            spiked < 1.2 * calm,
            "{spiked} against {calm} without the burst"
        );
    }

    #[test]
    fn like_overrides_the_match() {
        let shapes = learn(&fleet(10), "2026-01-01T00:00:00Z").unwrap();
        let young = series(&daily(10.0), 400.0, START + 30 * DAY, 24 * 12);
        let evening = &shapes.shapes[shapes.members["ns/w1"]].profile;
        let m = match_shape(&young, &shapes.shapes, Some(("ns/w1", evening)), 1.0).unwrap();
        assert_eq!(m.label, "like ns/w1");
        let free = match_shape(&young, &shapes.shapes, None, 1.0).unwrap();
        assert_ne!(free.label, shapes.shapes[shapes.members["ns/w1"]].name);
        // No load seen yet: nothing to scale the named shape by, a flat
        // line at 0 (not an error).
        let idle = series(&|_| 0.0, 0.0, START + 30 * DAY, 24 * 12);
        let m = match_shape(&idle, &shapes.shapes, Some(("ns/w1", evening)), 1.0).unwrap();
        assert_eq!((m.label.as_str(), m.level), ("flat", 0.0));
    }

    /// A fleet too small for shapes (one workload) still starts a young
    /// workload whose `like:` names that one: no shape to be put in on the
    /// say of one workload, intervals from cold starts simulated every six
    /// hours over its probe, and a forecast that follows the named profile
    /// at the young one's level; its interval holds its next day.
    #[test]
    fn a_small_fleet_starts_a_like_from_the_named_profile() {
        let one = fleet(1);
        assert!(learn(&one, "2026-01-01T00:00:00Z").is_none());
        let small = learn_small(&one, "2026-01-01T00:00:00Z").unwrap();
        assert!(small.shapes.is_empty() && small.members.is_empty());
        // 14 days kept, a 3-day stretch ending every 6 hours: 45 starts.
        assert_eq!(small.calibration.len(), CALIBRATION_HOURS.len());
        assert!(
            small.calibration.iter().all(|c| c.starts == 45),
            "{:?}",
            small
                .calibration
                .iter()
                .map(|c| c.starts)
                .collect::<Vec<_>>()
        );
        let young = series(&daily(10.0), 400.0, START + 30 * DAY, 24 * 12);
        let like = Some(("ns/w0", one[0].profile.as_slice()));
        let (forecast, cold) =
            cold_forecast(&young, known_history(&young), 288, &small, like).unwrap();
        assert_eq!((cold.shape.as_str(), cold.fleet), ("like ns/w0", 1));
        let next = series(&daily(10.0), 400.0, forecast.start, 288);
        let error = forecast
            .mean
            .iter()
            .zip(&next.values)
            .map(|(m, a)| (m - a).abs() / a)
            .sum::<f64>()
            / 288.0;
        assert!(error < 0.05, "mean relative error {error}");
        let level = crate::core::model::Level::new(0.9).unwrap();
        let inside = forecast
            .interval(level)
            .iter()
            .zip(&next.values)
            .filter(|(i, a)| i.lower <= **a && **a <= i.upper)
            .count();
        assert!(inside >= 270, "{inside} of 288 inside");
        // Without a `like:` there is nothing to match it to: flat.
        let (_, free) = cold_forecast(&young, known_history(&young), 288, &small, None).unwrap();
        assert_eq!(free.shape, "flat");
        // A fleet with shapes, or none at all, is not a small one.
        assert!(learn_small(&fleet(5), "t").is_none() && learn_small(&[], "t").is_none());
    }

    /// Probes keep 14 days while the fleet is small (a replay's fleet is
    /// the others: five with the replayed one is four without it, still a
    /// small fleet), and 3 days once it has shapes for sure (review: four
    /// 3-day probes gave a replay 4 starts instead of 45 each).
    #[test]
    fn probes_are_whole_until_the_fleet_has_shapes_for_sure() {
        let history = series(&daily(10.0), 50.0, START, 28 * 288);
        let mut fleet = Vec::new();
        let lengths = |fleet: &[Profiled]| -> Vec<usize> {
            fleet
                .iter()
                .map(|p| p.probe.as_ref().map_or(0, Series::len))
                .collect()
        };
        for i in 0..MIN_FLEET {
            Profiled::add_to(
                &mut fleet,
                format!("ns/w{i}"),
                contribution(&history).unwrap(),
            );
        }
        assert_eq!(lengths(&fleet), vec![14 * 288; MIN_FLEET]);
        let others = &fleet[1..];
        let small = learn_small(others, "t").unwrap();
        assert!(small.calibration.iter().all(|c| c.starts == 4 * 45));
        Profiled::add_to(&mut fleet, "ns/w5".into(), contribution(&history).unwrap());
        Profiled::add_to(&mut fleet, "ns/w6".into(), contribution(&history).unwrap());
        assert_eq!(lengths(&fleet), vec![3 * 288; MIN_FLEET + 2]);
    }

    /// Deployed, no traffic yet: no bounds from a load of 0 (a max of
    /// 20 walked down to 2 in seven runs, status ok), but insufficient
    /// data, so that its HPA is left as it is.
    #[test]
    fn a_young_workload_without_load_has_no_cold_start() {
        let shapes = learn(&fleet(10), "2026-01-01T00:00:00Z").unwrap();
        let idle = series(&|_| 0.0, 0.0, START + 30 * DAY, 6 * 12);
        let e = cold_forecast(&idle, known_history(&idle), 288, &shapes, None).unwrap_err();
        assert_eq!(e.label(), "insufficient_data", "{e}");
        assert!(
            e.to_string().contains("no load in its 6h of history"),
            "{e}"
        );
        let mut one = idle.clone();
        one.values[3] = 1.0;
        assert!(cold_forecast(&one, known_history(&one), 288, &shapes, None).is_ok());
    }

    #[test]
    fn a_workload_gone_idle_does_not_set_the_fleets_errors() {
        let calm = learn(&fleet(10), "2026-01-01T00:00:00Z").unwrap();
        let mut with_idle = fleet(10);
        for p in with_idle.iter_mut().take(3) {
            // Idle until the day the cold starts forecast.
            let probe = p.probe.as_mut().unwrap();
            let day = probe.len() - (DAY / probe.step) as usize;
            probe.values[..day].iter_mut().for_each(|v| *v = 0.0);
        }
        let idle = learn(&with_idle, "2026-01-01T00:00:00Z").unwrap();
        let widest = |f: &FleetShapes| {
            f.calibration
                .iter()
                .flat_map(|c| c.matched.iter().chain(&c.flat))
                .flat_map(|l| l.percentiles.iter())
                .fold(0.0_f64, |m, e| m.max(e.abs()))
        };
        // Errors in units of a spread of 1e-9 would be ~1e11.
        assert!(
            widest(&idle) <= 2.0 * widest(&calm),
            "{} vs {}",
            widest(&idle),
            widest(&calm)
        );
    }

    #[test]
    fn a_damaged_shapes_file_is_refused() {
        let shapes = learn(&fleet(12), "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(shapes.check(), Ok(()));
        let mut short = shapes.clone();
        short.shapes[0].profile.pop();
        assert!(short.check().unwrap_err().contains("167 hours"));
        let mut stray = shapes.clone();
        stray.members.insert("ns/x".into(), 99);
        assert!(stray
            .check()
            .unwrap_err()
            .starts_with("member ns/x: shape 99"));
        let mut cut = shapes.clone();
        cut.calibration[0].matched[0].percentiles.truncate(50);
        assert!(cut.check().unwrap_err().contains("50 percentiles"));
        let mut heavy = shapes.clone();
        heavy.calibration[1].own_weight = 5.0;
        assert!(heavy
            .check()
            .unwrap_err()
            .contains("own_weight 5, expected 0 to 1"));
        let mut negative = shapes.clone();
        negative.calibration[0].shape_gain = -3.0;
        assert!(negative.check().unwrap_err().contains("shape_gain -3"));
        let mut ageless = shapes;
        ageless.calibration[2].hours = 0;
        assert!(ageless
            .check()
            .unwrap_err()
            .contains("0h: hours of history"));
    }

    #[test]
    fn a_small_fleet_learns_nothing() {
        assert!(learn(&fleet(4), "x").is_none());
    }

    #[test]
    fn own_weight_grows_to_one_at_two_weeks() {
        assert_eq!(own_weight(0), 0.0);
        assert!((own_weight(7 * DAY) - 0.5).abs() < 1e-12);
        assert_eq!(own_weight(20 * DAY), 1.0);
    }
}
