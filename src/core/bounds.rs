//! Bounds stage: turns a forecast into `minReplicas`/`maxReplicas`.
//!
//! Takes the forecast window (the steps from "now" to the horizon), the
//! interval level, the capacity of one replica (`target_per_replica`: the
//! load it carries at the HPA's target), the policy (floors, ceilings,
//! healing headroom) and what the history says besides the forecast
//! ([`Evidence`]: the recent ordinary peak, the HPA's range today). Gives
//! [`ReplicaBounds`] where every number carries its [`Derivation`]: which
//! load at which time, the raw replica count and what changed it.
//!
//! - `min_replicas` = ⌈lowest expected load / capacity⌉: the trough of the
//!   forecast mean (the load we expect at the quietest moment), not the
//!   bottom of an interval: a 90% interval's lower end is the load of the
//!   rarest quiet minute, often clipped to 0, and a min sized for it is the
//!   floor whatever the data says. The HPA follows the load above min.
//! - `max_replicas` = ⌈highest expected load × headroom / capacity⌉, where
//!   the highest expected load is the upper end of the interval, and never
//!   below the recent weeks' ordinary peak (their 99th percentile with
//!   spikes left out and the level re-based after drops), nor, after a
//!   followed drop, the last week's as the load was (room for the level
//!   before it for a week), nor the median day's highest load (a
//!   five-minute burst every morning is each day's peak, and a percentile
//!   of two weeks never sees it): one quiet forecast must not take away
//!   the room last week's peaks needed.
//! - The time-of-day schedule's min never goes below the lowest expected
//!   load's need ([`schedule_floor`]).
//! - Hysteresis: when the HPA's range today is known and the new count is
//!   within a small band of it, today's count is kept (a max that moves
//!   every run is one nobody trusts, and each move is a patch).
//! - Both are clamped to their floor and ceiling; `min ≤ max` always.
//! - When the expected load itself needs more than a ceiling allows, the
//!   cluster cannot heal by itself: `needs_operator` says why. For the max
//!   ceiling, only once the load of the last [`HIGHEST_SEEN_DAYS`] days has
//!   needed more than it; for the min ceiling, only once even the last
//!   [`LOWEST_SEEN_DAYS`] day's lowest load has. A forecast beyond what the
//!   load has done is a note (`notes`) until then. A ceiling that only cuts the headroom above it
//!   is said in the reasons.

use crate::core::model::{Forecast, Interval, Level};
use serde::{Deserialize, Serialize};

/// A replica count range `[floor, ceiling]`, validated `1 ≤ floor ≤ ceiling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplicaRange {
    floor: u32,
    ceiling: u32,
}

impl ReplicaRange {
    /// `None` unless `1 <= floor <= ceiling`.
    #[must_use]
    pub fn new(floor: u32, ceiling: u32) -> Option<Self> {
        (floor >= 1 && floor <= ceiling).then_some(ReplicaRange { floor, ceiling })
    }

    #[must_use]
    pub fn floor(self) -> u32 {
        self.floor
    }

    #[must_use]
    pub fn ceiling(self) -> u32 {
        self.ceiling
    }
}

/// How load becomes replicas for one workload (validated by `config`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundsPolicy {
    /// Load one replica carries at the HPA target (> 0).
    pub target_per_replica: f64,
    pub min_replicas: ReplicaRange,
    pub max_replicas: ReplicaRange,
    /// Factor (≥ 1) on the highest expected load, room for the HPA to heal.
    pub headroom: f64,
    pub level: Level,
    /// Largest factor max may rise by in one run: [`MAX_STEP`], or the
    /// config's `apply.max_step_up` where that allows more (a plan that
    /// knows the HPA's bounds must not hold back what `apply` would allow).
    pub max_step_up: f64,
}

/// What the history says besides the forecast (measured by `plan`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Evidence {
    /// The recent weeks' ordinary peak: the 99th percentile of the load,
    /// spikes and dips left out, re-based after shifts down (as it was
    /// before a rise, which reaches max through the forecast).
    pub ordinary_peak: Option<f64>,
    /// When the last week was re-based down after a drop: its ordinary
    /// peak as the load was (spikes and dips left out, nothing re-based).
    /// Max keeps room for the level before a drop for a week.
    pub last_week_peak: Option<f64>,
    /// The median day's highest load over the same weeks (spikes out): a
    /// short burst that comes every day is each day's peak, and expected.
    pub typical_day_peak: Option<f64>,
    /// The highest load the history actually held over its last
    /// [`HIGHEST_SEEN_DAYS`] days (spikes in, nothing re-based; a 15-minute
    /// mean, so that one scrape glitch is not load): a page needs load
    /// that has been.
    pub highest_seen: Option<f64>,
    /// The lowest load of the history's last [`LOWEST_SEEN_DAYS`] day (a
    /// 15-minute mean, as it was): a min-ceiling page needs load that has
    /// stayed above the ceiling's capacity for a whole day.
    pub lowest_seen: Option<f64>,
    /// The HPA's `(min, max)` today, when known: changes within the
    /// hysteresis band are held back.
    pub current: Option<(u32, u32)>,
    /// The highest load a known event in the horizon expects (the forecast
    /// raised for it): declared by a person, so a ceiling too low for it
    /// pages though no load of the history needed as much.
    pub declared_peak: Option<f64>,
    /// The peak load of a spike going on at the history's end: the HPA is
    /// healing it inside today's range, so max is not lowered under what
    /// carries it (today's max at most: above that, it pages).
    pub ongoing_spike: Option<f64>,
    /// A page for a max ceiling too low is open ([`crate::core::workload::Workload::paging`]).
    pub paging: bool,
}

/// A page for a max ceiling too low stands while the expected peak needs
/// more than this share of the ceiling: a need at the edge (60 then 61
/// at 5 per replica against a ceiling of 12) opened, closed and opened
/// the incident run after run, the alert resolved and fired with it.
/// Only once the HPA's max is at the ceiling: before, the page is left to
/// the need alone, so that nothing keeps max from getting there.
pub const PAGE_CLEAR: f64 = 0.9;

/// Relative band around today's max within which it is kept: from
/// [`MAX_HOLD_BELOW`] under what the run wants (which has headroom on top
/// of the expected load already, at least ×1.2) to this much above it.
pub const MAX_HOLD: f64 = 0.50;
/// How far under the wanted max today's may be and still be kept.
pub const MAX_HOLD_BELOW: f64 = 0.10;
/// Relative band around today's min within which it is kept (at least one
/// replica either way).
pub const MIN_HOLD: f64 = 0.10;
/// Days of history whose highest load a max-ceiling page needs beyond
/// the ceiling (issue 18: no page on a workload whose last 28 days stayed
/// within its ceiling's capacity).
pub const HIGHEST_SEEN_DAYS: i64 = 28;
/// Days of history whose lowest load a min-ceiling page needs beyond the
/// min ceiling: one daily cycle, so that a lasting rise pages within a
/// day and a burst (or a shift read into one) does not.
pub const LOWEST_SEEN_DAYS: i64 = 1;

/// Step limit: one run moves max at most this factor from today's, up or
/// down (up, more when `apply.max_step_up` allows more).
pub const MAX_STEP: f64 = 1.5;

/// What a bound was sized for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The forecast mean: the load expected.
    Expected,
    /// The upper end of the forecast interval.
    IntervalUpper,
    /// The recent weeks' ordinary peak (99th percentile of the history).
    OrdinaryPeak,
    /// The last week's ordinary peak as the load was (after a drop).
    LastWeekPeak,
    /// The recent weeks' median day's highest load (a burst that comes
    /// every day).
    TypicalDayPeak,
}

/// Which clamp changed a replica count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clamp {
    /// Today's count kept: the change would be within the hysteresis band.
    Held,
    /// Moved only [`MAX_STEP`] times today's count this run.
    StepLimit,
    Floor,
    Ceiling,
    /// `max` raised to `min` so that `min <= max`.
    RaisedToMin,
    /// `min` cut to the max ceiling, the hard limit of the whole range.
    MaxCeiling,
    /// `max` not lowered under a spike going on (as far as today's max
    /// carries it): healing happens inside today's range.
    InSpike,
}

/// How one replica count was derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derivation {
    pub replicas: u32,
    /// Load the count was sized for (before headroom).
    #[serde(serialize_with = "serialize_significant")]
    pub load: f64,
    /// When that load is expected (unix seconds; RFC3339 in reports):
    /// `None` (`""`) for a load read from the history (an ordinary or
    /// typical peak), which no moment of the forecast stands for.
    #[serde(
        serialize_with = "crate::core::time::serialize_optional_timestamp",
        deserialize_with = "crate::core::time::deserialize_optional_timestamp"
    )]
    pub at: Option<i64>,
    /// Quantile of the forecast distribution used (0.95 = upper end of a
    /// 90% interval; 0.5 for the forecast mean).
    pub quantile: f64,
    /// What the load is: the forecast mean, the interval's upper end or
    /// the recent ordinary peak.
    pub basis: Basis,
    /// Replicas before rounding and clamps: load × headroom / capacity.
    #[serde(serialize_with = "serialize_significant")]
    pub raw: f64,
    pub clamp: Option<Clamp>,
}

/// The recommended range and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaBounds {
    pub min: Derivation,
    pub max: Derivation,
    /// Expected load: the lowest the forecast mean goes (what min is
    /// sized for) and the highest load max is sized for (before headroom).
    #[serde(serialize_with = "serialize_significant")]
    pub expected_low: f64,
    #[serde(serialize_with = "serialize_significant")]
    pub expected_high: f64,
    /// Why the cluster cannot heal by itself, when it cannot.
    pub needs_operator: Vec<String>,
    /// What the operator should know without being called: the expected
    /// load needs more than the max ceiling allows, but no load of the
    /// last weeks did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The load needs a tenth of a replica at most, or a hundred times
    /// today's max: `target_per_replica` is likely in another unit than
    /// the load (said in `notes`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unit_suspect: bool,
}

/// Below this many replicas at its highest, a load is too small for its
/// `target_per_replica` to be in the load's unit.
pub const UNIT_TOO_FEW: f64 = 0.1;
/// Above this many times today's max, likewise too large.
pub const UNIT_TOO_MANY: f64 = 100.0;

/// What is said when the load's highest need, `high / capacity` replicas,
/// is out of all proportion (a review's `target_per_replica` of 40,000,000
/// for 40,000 was recommended as a change, 4..24 → 2..16, and 0.0092 for
/// 9.2 paged for a ceiling of 1000): `target_per_replica` is most likely
/// in another unit than the load.
fn unit_check(high: f64, capacity: f64, current: Option<(u32, u32)>) -> Option<String> {
    let need = high / capacity;
    let check = "is target_per_replica in the load's unit (per second or per minute, bytes or kilobytes)? The range rests on it";
    if need > 0.0 && need < UNIT_TOO_FEW {
        return Some(format!(
            "the highest load expected or seen, {}, needs {} of a replica at {} per replica: {check}",
            readable(high, 4),
            readable(need, 2),
            readable(capacity, 4)
        ));
    }
    let (_, max) = current?;
    (need > UNIT_TOO_MANY * f64::from(max)).then(|| {
        format!(
            "the highest load expected or seen, {}, needs {} replicas at {} per replica, {}× today's max {max}: {check}",
            readable(high, 4),
            readable(need.ceil(), 6),
            readable(capacity, 4),
            readable(need / f64::from(max), 2)
        )
    })
}

/// Derives the bounds from the forecast steps `window` (indices into the
/// forecast; the steps between now and the horizon).
#[must_use]
pub fn derive_bounds(
    forecast: &Forecast,
    window: std::ops::Range<usize>,
    policy: &BoundsPolicy,
    evidence: &Evidence,
) -> ReplicaBounds {
    let intervals: Vec<Interval> = forecast.interval(policy.level);
    let window = window.start.min(intervals.len())..window.end.min(intervals.len());
    let (low_at, low) = window
        .clone()
        .map(|i| (i, forecast.mean[i]))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0));
    let (high_at, upper) = window
        .clone()
        .map(|i| (i, intervals[i].upper))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0));
    let (mut high, mut basis, mut quantile) =
        (upper, Basis::IntervalUpper, policy.level.upper_quantile());
    for (peak, peak_basis, peak_quantile) in [
        (evidence.ordinary_peak, Basis::OrdinaryPeak, 0.99),
        (evidence.last_week_peak, Basis::LastWeekPeak, 0.99),
        (evidence.typical_day_peak, Basis::TypicalDayPeak, 0.5),
    ] {
        if let Some(peak) = peak.filter(|&peak| peak > high) {
            (high, basis, quantile) = (peak, peak_basis, peak_quantile);
        }
    }
    let capacity = policy.target_per_replica;
    let mut needs_operator = Vec::new();
    let mut notes = Vec::new();
    let unit = unit_check(high, capacity, evidence.current);
    let unit_suspect = unit.is_some();

    let min_raw = low / capacity;
    let (mut min_replicas, mut min_clamp) = settle(min_raw, policy.min_replicas, |wanted| {
        let current = f64::from(evidence.current?.0);
        let band = (MIN_HOLD * f64::from(wanted)).max(1.0);
        ((current - f64::from(wanted)).abs() <= band).then_some(current as u32)
    });
    if min_clamp == Some(Clamp::Ceiling) {
        let (page, text) = min_above_ceiling(low, policy, evidence);
        if page {
            &mut needs_operator
        } else {
            &mut notes
        }
        .push(text);
    }
    // The max ceiling is the hard limit of the whole range: min may not pass it either.
    if min_replicas > policy.max_replicas.ceiling() {
        needs_operator.push(format!(
            "min {min_replicas} is above the max ceiling {}: cut to it",
            policy.max_replicas.ceiling()
        ));
        min_replicas = policy.max_replicas.ceiling();
        min_clamp = Some(Clamp::MaxCeiling);
    }
    let max_raw = high * policy.headroom / capacity;
    let (mut max_replicas, mut max_clamp) = settle(max_raw, policy.max_replicas, |wanted| {
        let current = evidence.current?.1;
        let highest = (f64::from(wanted) * (1.0 + MAX_HOLD)).ceil();
        let lowest = (f64::from(wanted) * (1.0 - MAX_HOLD_BELOW)).floor();
        let kept = f64::from(current) >= lowest && f64::from(current) <= highest;
        // Never held down onto min when the run wants room above it: a
        // steady load at 100 (10 per replica) gave 10..10, an HPA that
        // cannot scale at all.
        let pinned = current <= min_replicas && wanted > min_replicas;
        (kept && !pinned).then_some(current)
    });
    if max_clamp == Some(Clamp::Ceiling) {
        if let Some((page, text)) = max_above_ceiling(forecast, window.clone(), policy, evidence) {
            if page {
                &mut needs_operator
            } else {
                &mut notes
            }
            .push(text);
        }
    }
    if let Some(limited) = step_limited(max_replicas, policy, evidence) {
        max_replicas = limited;
        max_clamp = Some(Clamp::StepLimit);
    }
    // A spike is being healed now: cutting max under it (the step down of
    // a run that wants less) would take the room the HPA is using, and page
    // about the cap the run just made.
    if let (Some(load), Some((_, today))) = (evidence.ongoing_spike, evidence.current) {
        let carries = ((load / capacity - 1e-9).ceil().max(1.0) as u32)
            .min(today)
            .min(policy.max_replicas.ceiling());
        if max_replicas < carries {
            max_replicas = carries;
            max_clamp = Some(Clamp::InSpike);
        }
    }
    // Nor is min held up onto max: today's min kept where the run's max
    // is would leave the HPA no room (min 3 held for a need of 2, max 3).
    if min_clamp == Some(Clamp::Held) && min_replicas >= max_replicas {
        let (unheld, clamp) = settle(min_raw, policy.min_replicas, |_| None);
        if unheld < max_replicas {
            (min_replicas, min_clamp) = (unheld, clamp);
        }
    }
    if max_replicas < min_replicas {
        max_replicas = min_replicas;
        max_clamp = Some(Clamp::RaisedToMin);
    }
    // A page for a ceiling too low says why it may be no capacity problem.
    if needs_operator.is_empty() {
        notes.extend(unit);
    } else {
        needs_operator.extend(unit);
    }
    ReplicaBounds {
        min: Derivation {
            replicas: min_replicas,
            load: low,
            at: Some(forecast.timestamp(low_at)),
            quantile: 0.5,
            basis: Basis::Expected,
            raw: min_raw,
            clamp: min_clamp,
        },
        max: Derivation {
            replicas: max_replicas,
            load: high,
            // The forecast's moment only when the forecast is what max rests on.
            at: (basis == Basis::IntervalUpper).then(|| forecast.timestamp(high_at)),
            quantile: significant(quantile, 6),
            basis,
            raw: max_raw,
            clamp: max_clamp,
        },
        expected_low: low,
        expected_high: high,
        needs_operator,
        notes,
        unit_suspect,
    }
}

/// The lowest expected load needs more than the min ceiling allows: a
/// page (true) unless the last day's lowest load fitted under it, then a
/// note. The words either way.
fn min_above_ceiling(low: f64, policy: &BoundsPolicy, evidence: &Evidence) -> (bool, String) {
    let capacity = policy.target_per_replica;
    let min_raw = low / capacity;
    let ceiling = f64::from(policy.min_replicas.ceiling());
    match evidence.lowest_seen {
        Some(seen) if whole(seen / capacity) <= ceiling => (false, format!(
            "even the lowest expected load {} would need {} replicas, above the min ceiling {}; the lowest load of the history's last day (15-minute mean), {}, needed {}: no page for it until the load stays above the ceiling for a day",
            readable(low, 4),
            readable(min_raw.ceil(), 15),
            policy.min_replicas.ceiling(),
            readable(seen, 4),
            readable(whole(seen / capacity), 15)
        )),
        _ => (true, format!(
            "even the lowest expected load {} needs {} replicas, above the min ceiling {}",
            readable(low, 4),
            readable(min_raw.ceil(), 15),
            policy.min_replicas.ceiling()
        )),
    }
}

/// Max was cut to its ceiling: whether the load we expect (not the
/// headroom, not the interval's tail) needs more, as a page (true) or, when
/// no load of the last weeks needed more, a note; `None` when it does not.
fn max_above_ceiling(
    forecast: &Forecast,
    window: std::ops::Range<usize>,
    policy: &BoundsPolicy,
    evidence: &Evidence,
) -> Option<(bool, String)> {
    let capacity = policy.target_per_replica;
    // The expected peak the operator is called for: the 99th percentile
    // of the forecast mean over the window, so that one burst a seasonal
    // naive repeats each day (a workload whose bursts are its texture)
    // is not a page on its own.
    let mut means: Vec<f64> = window
        .map(|i| forecast.mean[i])
        .filter(|m| m.is_finite())
        .collect();
    let mean_peak = crate::core::stats::nearest_rank(&mut means, 0.99).map_or(0.0, |p| p.max(0.0));
    let expected = mean_peak.max(evidence.ordinary_peak.unwrap_or(0.0));
    let expected_need = whole(expected / capacity);
    // Said as what it is: a page read "the forecast's mean" for what was
    // the history's 99th percentile.
    let what = if evidence.ordinary_peak.is_some_and(|p| p > mean_peak) {
        format!(
            "the recent weeks' ordinary peak load {} (99th percentile of the history, before headroom)",
            readable(expected, 4)
        )
    } else {
        format!(
            "the expected peak load {} (the forecast's mean, before the interval and headroom max adds)",
            readable(expected, 4)
        )
    };
    let ceiling = f64::from(policy.max_replicas.ceiling());
    // A known event's load was declared, not extrapolated: a ceiling too
    // low for it pages before it begins (the history cannot have held it),
    // however short it is (the 99th percentile above passes over an hour
    // of a week).
    if let Some(declared) = evidence
        .declared_peak
        .filter(|&d| whole(d / capacity) > ceiling)
    {
        return Some((
            true,
            format!(
                "a known event in the horizon expects load {}, which needs {} replicas, above the max ceiling {}: raise the ceiling, or the HPA cannot scale past it while the event lasts",
                readable(declared, 4),
                readable(whole(declared / capacity), 15),
                policy.max_replicas.ceiling()
            ),
        ));
    }
    if expected_need <= ceiling {
        // An open page stands while the need stays near the ceiling, once
        // the HPA's max is there (before, the page is the need's alone).
        let near = expected / capacity > PAGE_CLEAR * ceiling;
        let at_ceiling = evidence
            .current
            .is_some_and(|(_, max)| f64::from(max) >= ceiling);
        return (evidence.paging && near && at_ceiling).then(|| {
            (
                true,
                format!(
                    "{what} needs {} replicas ({}), above {} ({}% of the max ceiling {}): the open page stands until the need is under that",
                    readable(expected_need, 15),
                    readable(expected / capacity, 3),
                    readable(PAGE_CLEAR * ceiling, 3),
                    readable(PAGE_CLEAR * 100.0, 3),
                    policy.max_replicas.ceiling()
                ),
            )
        });
    }
    // Called only once load has needed more than the ceiling: an expected
    // peak beyond anything the last weeks held (a re-based history's
    // bursts, a trend carried on) is a note in the reasons until the load
    // gets there, not a page.
    Some(match evidence.highest_seen {
        Some(seen) if whole(seen / capacity) <= ceiling => (false, format!(
            "{what} would need {} replicas, above the max ceiling {}; the highest load the history holds (15-minute mean; its last {HIGHEST_SEEN_DAYS} days at most, the configured history when shorter), {}, needed {} replicas: no page for it until the load needs more than the ceiling",
            readable(expected_need, 15),
            policy.max_replicas.ceiling(),
            readable(seen, 4),
            readable(whole(seen / capacity), 15)
        )),
        _ => (true, format!(
            "{what} needs {} replicas, above the max ceiling {}",
            readable(expected_need, 15),
            policy.max_replicas.ceiling()
        )),
    })
}

impl BoundsPolicy {
    /// The factor max may rise by in one run: see [`BoundsPolicy::max_step_up`].
    #[must_use]
    pub fn step_up(&self) -> f64 {
        self.max_step_up.max(MAX_STEP)
    }
}

/// Step limit: one run moves max at most ×[`MAX_STEP`] from today's, up or
/// down; the rest follows if the next runs still want it. A 6-hourly job
/// still follows a doubling within a day (×1.5 twice is ×2.25), and a false
/// alarm that the next run withdraws costs little. The limited max, when
/// `max_replicas` is beyond the step.
fn step_limited(max_replicas: u32, policy: &BoundsPolicy, evidence: &Evidence) -> Option<u32> {
    let (_, today) = evidence.current?;
    let today = f64::from(today.max(1));
    let up = (today * policy.step_up()).floor().max(today + 1.0);
    let down = (today / MAX_STEP).ceil();
    // The floor and the ceiling are the owner's hard limits: the step
    // never leaves them (a max of 30 under a new ceiling of 19 goes to 19,
    // not to 20 nor past the step to what the load wants).
    let range = policy.max_replicas;
    let limited = f64::from(max_replicas)
        .clamp(down, up)
        .clamp(f64::from(range.floor()), f64::from(range.ceiling())) as u32;
    (limited != max_replicas).then_some(limited)
}

/// One entry of a time-of-day schedule: `min_replicas` in force from `from`
/// (unix seconds) until the next entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledMin {
    #[serde(
        serialize_with = "crate::core::time::serialize_timestamp",
        deserialize_with = "crate::core::time::deserialize_timestamp"
    )]
    pub from: i64,
    pub min_replicas: u32,
}

/// The load each forecast step's scheduled min is sized for: the mean (the
/// expected curve), or with `level`, the upper end of that central interval
/// — more replicas, fewer overloads from the noise around the curve.
#[must_use]
pub fn schedule_loads(forecast: &Forecast, level: Option<Level>) -> Vec<f64> {
    match level {
        Some(level) => forecast.interval(level).iter().map(|i| i.upper).collect(),
        None => forecast.mean.clone(),
    }
}

/// The HPA's tolerance (Kubernetes' default
/// `--horizontal-pod-autoscaler-tolerance`): it leaves the replica count
/// alone while the load per replica is within 10% of its target.
pub const HPA_TOLERANCE: f64 = 0.1;
/// The HPA's scale-down stabilization window, seconds (Kubernetes' default
/// `behavior.scaleDown.stabilizationWindowSeconds`).
pub const HPA_SCALE_DOWN_STABILIZATION: i64 = 300;

/// The time-of-day schedule for min over the forecast steps `window`.
///
/// `loads[i]` is the load forecast step `i` is sized for. A pod asked for
/// at `t` serves from `t + lead`, so at every moment `t` min is the most
/// that any step overlapping `[t, t + lead]` needs: the fewest replicas
/// the HPA keeps at that load, `⌈load / (target_per_replica × (1 +
/// HPA_TOLERANCE))⌉` (more would be replicas the HPA itself would not
/// run at the expected load), within `[low, high]` (the horizon's min
/// without its hysteresis, [`schedule_floor`], and max):
/// raised `lead` before a step that needs more, lowered only when the step
/// that needed it is over, and not lowered at all for less than
/// [`SCHEDULE_DIP_HOLD`]. One entry per change.
#[must_use]
pub fn schedule_min(
    forecast: &Forecast,
    loads: &[f64],
    window: std::ops::Range<usize>,
    lead: i64,
    target_per_replica: f64,
    (low, high): (u32, u32),
) -> Vec<ScheduledMin> {
    let end = window.end.min(loads.len());
    if window.start >= end {
        return Vec::new();
    }
    let needs = |i: usize| schedule_need(loads[i], target_per_replica, (low, high));
    let step_at = |t: i64| {
        usize::try_from((t - forecast.start).div_euclid(forecast.step))
            .unwrap_or(0)
            .clamp(window.start, end - 1)
    };
    // min can only change where a step enters `[t, t + lead]` or leaves it.
    let mut changes: Vec<i64> = (window.start..end)
        .flat_map(|k| [forecast.timestamp(k) - lead, forecast.timestamp(k)])
        .collect();
    changes.sort_unstable();
    changes.dedup();
    let mut schedule: Vec<ScheduledMin> = Vec::new();
    for from in changes {
        let min_replicas = (step_at(from)..=step_at(from + lead))
            .map(needs)
            .max()
            .unwrap_or(low);
        if schedule.last().map(|e| e.min_replicas) != Some(min_replicas) {
            schedule.push(ScheduledMin { from, min_replicas });
        }
    }
    fill_short_dips(&mut schedule, SCHEDULE_DIP_HOLD);
    schedule
}

/// The replicas the schedule keeps for `load`: the fewest the HPA keeps
/// at it, `⌈load / (target_per_replica × (1 + HPA_TOLERANCE))⌉`, within
/// `[low, high]` (see [`schedule_min`]).
#[must_use]
pub fn schedule_need(load: f64, target_per_replica: f64, (low, high): (u32, u32)) -> u32 {
    let replicas = (load / (target_per_replica * (1.0 + HPA_TOLERANCE)) - 1e-9)
        .ceil()
        .max(1.0);
    // Float to int saturates; the clamp keeps it inside the range.
    (replicas as u32).clamp(low, high.max(low))
}

/// `schedule` as a run at `now` sets it, when its first entry lies ahead
/// (a data step longer than the lead leaves time before it: 23.5 minutes
/// of a 30-minute step): until `until`, the end of the step in progress,
/// min is at least what that step needs, `need_now`, and before the first
/// entry exactly that — not the first entry's (a review saw min 9, for the
/// step beginning at 22:00, set at 21:30 when the load then needed 7, and
/// the reason say "over the next 6m 30s"), nor a lower entry's before the
/// step in progress is over.
#[must_use]
pub fn from_now(
    schedule: Vec<ScheduledMin>,
    now: i64,
    need_now: u32,
    until: i64,
) -> Vec<ScheduledMin> {
    if schedule.first().is_none_or(|first| first.from <= now) {
        return schedule;
    }
    let at = |from: i64, min_replicas: u32| ScheduledMin { from, min_replicas };
    let mut out = Vec::with_capacity(schedule.len() + 2);
    out.push(at(now, need_now));
    // The entry in force when the step in progress ends, held back to then.
    let mut pending: Option<u32> = None;
    for e in schedule {
        if e.from < until {
            pending = Some(e.min_replicas);
            out.push(at(e.from, e.min_replicas.max(need_now)));
        } else {
            if let Some(min) = pending.take().filter(|_| e.from > until) {
                out.push(at(until, min));
            }
            out.push(e);
        }
    }
    if let Some(min) = pending {
        out.push(at(until, min));
    }
    out.dedup_by(|later, earlier| later.min_replicas == earlier.min_replicas);
    out
}

/// The shortest drop of a scheduled min worth making, seconds: a shorter
/// one saves a few replica-minutes for two patches (two commits in a
/// `GitOps` repository). Measured on the decision benchmark (2026-12-06):
/// schedule changes per day, median over 34 traces, 22.9 → 16.4 (mean
/// 34.0 → 19.3), replica-hours against the tight range +5.4% → +5.8%
/// (median), overload minutes 10,351 → 10,295 in all.
pub const SCHEDULE_DIP_HOLD: i64 = 30 * 60;

/// A drop of min that comes back within `hold` seconds is not made: the
/// dip is filled to the lower of the levels on either side (two patches
/// for a few minutes' worth of replicas, and a min that flickers with
/// the forecast's noise). Longer dips, and every rise, stay.
fn fill_short_dips(schedule: &mut Vec<ScheduledMin>, hold: i64) {
    // A local low shorter than `hold` is raised to its lower neighbour and
    // merged with it; a dip in steps (2 inside a 4) is filled from its
    // bottom up while what is left stays short. One pass, stepping back
    // after each fill: the schedule of a week can hold hundreds of entries.
    let mut i = 1;
    while i + 1 < schedule.len() {
        let (before, here, after) = (
            schedule[i - 1].min_replicas,
            schedule[i].min_replicas,
            schedule[i + 1].min_replicas,
        );
        if here < before && here < after && schedule[i + 1].from - schedule[i].from < hold {
            if before <= after {
                // Raised to the level before: one entry with it.
                if before == after {
                    schedule.remove(i + 1);
                }
                schedule.remove(i);
            } else {
                // Raised to the level after, from the dip's start.
                schedule[i].min_replicas = after;
                schedule.remove(i + 1);
            }
            i = (i - 1).max(1);
        } else {
            i += 1;
        }
    }
}

/// `x` rounded to `digits` significant digits: what a report can honestly
/// claim of a forecast, and stable against last-digit float noise.
#[must_use]
pub fn significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let decimals = digits - x.abs().log10().ceil() as i32;
    let scale = 10f64.powi(decimals.clamp(-300, 300));
    (x * scale).round() / scale
}

/// `x` for a sentence: [`significant`] to `digits`, or outside
/// `1e-4..1e15`, where plain digits run to hundreds of characters (a
/// `target_per_replica` of `1e-300` made one reason 2,000 characters
/// long), in exponent form to at most 4 digits (`1e-300`, `6.987e300`).
#[must_use]
pub fn readable(x: f64, digits: i32) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e15).contains(&x.abs()) {
        let decimals = usize::try_from(digits.clamp(1, 4) - 1).unwrap_or(0);
        let text = format!("{x:.decimals$e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        format!("{mantissa}e{exponent}")
    } else {
        format!("{}", significant(x, digits))
    }
}

/// Serialises a derived number to 6 significant digits.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes a reference
fn serialize_significant<S: serde::Serializer>(x: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(significant(*x, 6))
}

/// `raw` rounded up to whole replicas (a tiny tolerance so that
/// 3.0000000001, float noise, is 3, not 4).
fn whole(raw: f64) -> f64 {
    (raw - 1e-9).ceil()
}

/// The lowest min a time-of-day schedule may set: the lowest expected
/// load's need inside the min range, as `bounds.min` without its
/// hysteresis. The hold keeps one min that stands all week from moving
/// run after run; a schedule moves by the hour anyway, and a min held at
/// yesterday's count would only keep replicas idle at every trough.
#[must_use]
pub fn schedule_floor(bounds: &ReplicaBounds, policy: &BoundsPolicy) -> u32 {
    settle(bounds.min.raw, policy.min_replicas, |_| None)
        .0
        .min(bounds.min.replicas)
}

/// The max the range is moving to: the need `bounds.max` was derived
/// from, inside the max range, without its step limit or hysteresis.
#[must_use]
pub fn max_moving_to(bounds: &ReplicaBounds, policy: &BoundsPolicy) -> u32 {
    settle(bounds.max.raw, policy.max_replicas, |_| None).0
}

/// The highest min a time-of-day schedule may set: max, and never above
/// the min ceiling (an owner who caps min for cost or quota caps the
/// schedule's min too; the HPA still scales above it within max).
#[must_use]
pub fn schedule_ceiling(max_replicas: u32, policy: &BoundsPolicy) -> u32 {
    max_replicas.min(policy.min_replicas.ceiling())
}

/// Rounds `raw` up to whole replicas and clamps it into `range`; then
/// keeps today's count instead when `held` says it is within the
/// hysteresis band of that (and it is inside the range too).
fn settle(
    raw: f64,
    range: ReplicaRange,
    held: impl Fn(u32) -> Option<u32>,
) -> (u32, Option<Clamp>) {
    let wanted = whole(raw);
    let (replicas, why) = if wanted < f64::from(range.floor) {
        (range.floor, Some(Clamp::Floor))
    } else if wanted > f64::from(range.ceiling) {
        (range.ceiling, Some(Clamp::Ceiling))
    } else {
        (wanted as u32, None)
    };
    // A count cut to the ceiling is never held below it: today's smaller
    // count would hide that the load needs more than the ceiling allows
    // (no page), and the ceiling itself is closer to the need.
    if why == Some(Clamp::Ceiling) {
        return (replicas, why);
    }
    match held(replicas) {
        Some(today) if today != replicas && (range.floor..=range.ceiling).contains(&today) => {
            (today, Some(Clamp::Held))
        }
        _ => (replicas, why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model;
    use crate::core::series::{GridStats, Series};
    use crate::core::synthetic;
    use proptest::prelude::*;

    fn policy(target: f64, floors: (u32, u32), ceilings: (u32, u32)) -> BoundsPolicy {
        BoundsPolicy {
            target_per_replica: target,
            min_replicas: ReplicaRange::new(floors.0, ceilings.0).unwrap(),
            max_replicas: ReplicaRange::new(floors.1, ceilings.1).unwrap(),
            headroom: 1.2,
            level: Level::new(0.9).unwrap(),
            max_step_up: MAX_STEP,
        }
    }

    fn forecast_of(values: Vec<f64>) -> Forecast {
        let series = Series {
            start: 0,
            step: 300,
            values,
            stats: GridStats::default(),
        };
        model::forecast(&series, 288).unwrap()
    }

    #[test]
    fn numbers_in_words_stay_short_at_any_magnitude() {
        assert_eq!(readable(676_700.4, 4), "676700");
        assert_eq!(readable(0.123_456, 4), "0.1235");
        assert_eq!(readable(1e-300, 4), "1e-300");
        assert_eq!(readable(6.986_56e300, 15), "6.987e300");
        assert_eq!(readable(-2.5e-7, 4), "-2.5e-7");
        assert_eq!(readable(0.0, 4), "0");
        assert_eq!(readable(999_999_999_999_999.0, 15), "999999999999999");
    }

    #[test]
    fn constant_load_gives_exact_replicas() {
        let forecast = forecast_of(vec![100.0; 3 * 288]);
        let bounds = derive_bounds(
            &forecast,
            0..288,
            &policy(25.0, (1, 1), (100, 100)),
            &Evidence::default(),
        );
        assert_eq!(bounds.min.replicas, 4);
        // 100 × 1.2 / 25 = 4.8 → 5
        assert_eq!(bounds.max.replicas, 5);
        assert!(bounds.needs_operator.is_empty());
    }

    #[test]
    fn max_is_sized_for_the_highest_of_forecast_ordinary_last_week_and_typical_day_peak() {
        let forecast = forecast_of(vec![100.0; 3 * 288]);
        let policy = policy(10.0, (1, 1), (100, 100));
        let max = |ordinary: Option<f64>, typical: Option<f64>| {
            let evidence = Evidence {
                ordinary_peak: ordinary,
                typical_day_peak: typical,
                ..Evidence::default()
            };
            let max = derive_bounds(&forecast, 0..288, &policy, &evidence).max;
            (max.replicas, max.basis, max.at.is_some())
        };
        // Only a forecast load has a moment of the forecast (`at`).
        assert_eq!(max(None, None), (12, Basis::IntervalUpper, true));
        assert_eq!(
            max(Some(150.0), Some(120.0)),
            (18, Basis::OrdinaryPeak, false)
        );
        // A burst every morning: the day's peak, above the 99th percentile.
        assert_eq!(
            max(Some(150.0), Some(300.0)),
            (36, Basis::TypicalDayPeak, false)
        );
        // After a drop: the last week as it was.
        let evidence = Evidence {
            ordinary_peak: Some(150.0),
            last_week_peak: Some(250.0),
            typical_day_peak: Some(120.0),
            ..Evidence::default()
        };
        let max = derive_bounds(&forecast, 0..288, &policy, &evidence).max;
        assert_eq!(
            (max.replicas, max.basis, max.at),
            (30, Basis::LastWeekPeak, None)
        );
    }

    #[test]
    fn max_is_not_cut_under_a_spike_going_on_as_far_as_today_carries_it() {
        // 100 × 1.2 / 10 wants max 12; today's is 40 (÷1.5: 27 this run).
        let forecast = forecast_of(vec![100.0; 3 * 288]);
        let policy = policy(10.0, (1, 1), (2, 100));
        let max = |today: u32, spike: Option<f64>| {
            let evidence = Evidence {
                current: Some((2, today)),
                ongoing_spike: spike,
                ..Evidence::default()
            };
            let max = derive_bounds(&forecast, 0..288, &policy, &evidence).max;
            (max.replicas, max.clamp)
        };
        assert_eq!(max(40, None), (27, Some(Clamp::StepLimit)));
        // A spike of 298 being healed: the 30 that carry it stay.
        assert_eq!(max(40, Some(298.0)), (30, Some(Clamp::InSpike)));
        // One the step-limited max carries already changes nothing.
        assert_eq!(max(40, Some(150.0)), (27, Some(Clamp::StepLimit)));
        // Above today's max: today's stays, no more (beyond it, it pages).
        assert_eq!(max(20, Some(298.0)), (20, Some(Clamp::InSpike)));
    }

    #[test]
    fn ceilings_clamp_and_call_the_operator() {
        let forecast = forecast_of(vec![1000.0; 3 * 288]);
        let bounds = derive_bounds(
            &forecast,
            0..288,
            &policy(10.0, (1, 1), (20, 50)),
            &Evidence::default(),
        );
        assert_eq!((bounds.min.replicas, bounds.max.replicas), (20, 50));
        assert_eq!(bounds.min.clamp, Some(Clamp::Ceiling));
        assert_eq!(bounds.needs_operator.len(), 2);
        assert!(bounds.needs_operator[1]
            .starts_with("the expected peak load 1000 (the forecast's mean"));
        // A page for the history's ordinary peak says so, not "the forecast's mean".
        let evidence = Evidence {
            ordinary_peak: Some(900.0),
            ..Evidence::default()
        };
        let low = forecast_of(vec![100.0; 3 * 288]);
        let bounds = derive_bounds(&low, 0..288, &policy(10.0, (1, 1), (20, 50)), &evidence);
        assert_eq!(
            bounds.needs_operator,
            ["the recent weeks' ordinary peak load 900 (99th percentile of the history, before headroom) needs 90 replicas, above the max ceiling 50"]
        );
    }

    #[test]
    fn an_open_page_stands_while_the_need_stays_near_the_ceiling() {
        // 115 needs 12 of a ceiling of 12: no page. With one open, it
        // stands while the need is above 90% of the ceiling (10.8).
        let policy = policy(10.0, (1, 1), (100, 12));
        let page = |load: f64, paging: bool| {
            let evidence = Evidence {
                paging,
                current: Some((2, 12)),
                ..Evidence::default()
            };
            derive_bounds(
                &forecast_of(vec![load; 3 * 288]),
                0..288,
                &policy,
                &evidence,
            )
            .needs_operator
        };
        assert!(!page(125.0, false).is_empty());
        assert!(page(115.0, false).is_empty());
        assert_eq!(
            page(115.0, true),
            ["the expected peak load 115 (the forecast's mean, before the interval and headroom max adds) needs 12 replicas (11.5), above 10.8 (90% of the max ceiling 12): the open page stands until the need is under that"]
        );
        assert!(page(105.0, true).is_empty());
        // Not while the HPA's max is under the ceiling: the run that does
        // not page raises it.
        let evidence = Evidence {
            paging: true,
            current: Some((2, 8)),
            ..Evidence::default()
        };
        let bounds = derive_bounds(
            &forecast_of(vec![115.0; 3 * 288]),
            0..288,
            &policy,
            &evidence,
        );
        assert!(bounds.needs_operator.is_empty());
        assert_eq!(bounds.max.replicas, 12);
    }

    #[test]
    fn the_step_limit_never_leaves_the_floor_and_ceiling() {
        // 70 × 1.2 / 10 wants max 9.
        let forecast = forecast_of(vec![70.0; 3 * 288]);
        let max = |floors: (u32, u32), ceilings: (u32, u32), today: (u32, u32)| {
            let evidence = Evidence {
                current: Some(today),
                ..Evidence::default()
            };
            derive_bounds(
                &forecast,
                0..288,
                &policy(10.0, floors, ceilings),
                &evidence,
            )
            .max
        };
        // From 30 the step allows 20 at the least, but the ceiling is 19.
        let cut = max((1, 1), (100, 19), (2, 30));
        assert_eq!((cut.replicas, cut.clamp), (19, Some(Clamp::StepLimit)));
        // Within the ceiling the step holds it at 20.
        assert_eq!(max((1, 1), (100, 20), (2, 30)).replicas, 20);
        // A max floor of 50 is the owner's limit, not a step away.
        let floored = max((1, 50), (100, 100), (2, 10));
        assert_eq!((floored.replicas, floored.clamp), (50, Some(Clamp::Floor)));
    }

    #[test]
    fn the_schedule_never_sets_min_above_the_min_ceiling() {
        let policy = policy(10.0, (1, 1), (3, 40));
        assert_eq!(schedule_ceiling(15, &policy), 3);
        assert_eq!(schedule_ceiling(2, &policy), 2);
    }

    #[test]
    fn a_need_above_the_ceiling_is_never_held_at_todays_smaller_count() {
        // 1000 at 10 per replica needs 100, above the ceiling 90; today's
        // 82..89 is within the hold band of 90 but must not hide that.
        let forecast = forecast_of(vec![1000.0; 3 * 288]);
        let policy = policy(10.0, (1, 1), (200, 90));
        for today in [82, 85, 89] {
            let evidence = Evidence {
                current: Some((60, today)),
                highest_seen: Some(1200.0),
                ..Evidence::default()
            };
            let bounds = derive_bounds(&forecast, 0..288, &policy, &evidence);
            assert_eq!(bounds.max.replicas, 90, "today {today}");
            assert_eq!(bounds.max.clamp, Some(Clamp::Ceiling), "today {today}");
            assert!(
                bounds
                    .needs_operator
                    .iter()
                    .any(|m| m.starts_with("the expected peak load 1000 (the forecast's mean, before the interval and headroom max adds) needs 100 replicas")),
                "today {today}: {bounds:?}"
            );
        }
    }

    #[test]
    fn a_forecast_beyond_the_max_ceiling_pages_only_once_load_has_needed_more() {
        // Nights at 300, days at 1000: at 10 per replica min 30, and the
        // days need 100, above the max ceiling 50.
        let forecast = forecast_of(
            (0..3 * 288)
                .map(|i| if i % 288 < 144 { 300.0 } else { 1000.0 })
                .collect(),
        );
        let policy = policy(10.0, (1, 1), (200, 50));
        let seen = |highest: f64| {
            let evidence = Evidence {
                highest_seen: Some(highest),
                ..Evidence::default()
            };
            derive_bounds(&forecast, 0..288, &policy, &evidence)
        };
        // The last weeks peaked at 450 (45 replicas): said, not paged.
        let warned = seen(450.0);
        assert_eq!(warned.max.replicas, 50);
        assert!(warned.needs_operator.is_empty(), "{warned:?}");
        assert_eq!(warned.notes.len(), 1, "{warned:?}");
        assert!(warned.notes[0].contains("needed 45 replicas"), "{warned:?}");
        // They reached 520 (52 replicas): the operator is called.
        let paged = seen(520.0);
        assert_eq!(paged.needs_operator.len(), 1, "{paged:?}");
        assert!(paged.notes.is_empty(), "{paged:?}");
    }

    #[test]
    fn a_forecast_low_beyond_the_min_ceiling_pages_only_once_a_whole_day_needed_more() {
        // A flat 300 at 10 per replica wants min 30, above the min ceiling 20.
        let forecast = forecast_of(vec![300.0; 3 * 288]);
        let policy = policy(10.0, (1, 1), (20, 100));
        let seen = |lowest: f64| {
            let evidence = Evidence {
                lowest_seen: Some(lowest),
                ..Evidence::default()
            };
            derive_bounds(&forecast, 0..288, &policy, &evidence)
        };
        // The last day went as low as 150 (15 replicas): said, not paged.
        let noted = seen(150.0);
        assert_eq!(noted.min.replicas, 20);
        assert!(noted.needs_operator.is_empty(), "{noted:?}");
        assert_eq!(noted.notes.len(), 1, "{noted:?}");
        assert!(noted.notes[0].contains("needed 15"), "{noted:?}");
        // Its lowest needed 25: the operator is called.
        let paged = seen(250.0);
        assert_eq!(paged.needs_operator.len(), 1, "{paged:?}");
        assert!(paged.notes.is_empty(), "{paged:?}");
    }

    #[test]
    fn min_never_passes_the_max_ceiling() {
        let forecast = forecast_of(vec![1000.0; 3 * 288]);
        let bounds = derive_bounds(
            &forecast,
            0..288,
            &policy(10.0, (1, 1), (1000, 5)),
            &Evidence::default(),
        );
        assert_eq!((bounds.min.replicas, bounds.max.replicas), (5, 5));
        assert!(bounds
            .needs_operator
            .iter()
            .any(|r| r.contains("above the max ceiling 5")));
    }

    #[test]
    fn max_moves_at_most_the_step_limit_per_run_and_holds_inside_the_band() {
        // Constant 100 at 10 per replica: min 10, max 100 × 1.2 / 10 = 12.
        let forecast = forecast_of(vec![100.0; 3 * 288]);
        let policy = policy(10.0, (1, 1), (100, 100));
        let with_today = |today: (u32, u32)| {
            let evidence = Evidence {
                current: Some(today),
                ..Evidence::default()
            };
            derive_bounds(&forecast, 0..288, &policy, &evidence).max
        };
        // Far below: up ×1.5 this run, even though the expected load needs
        // more (min follows at once, and max is raised to it).
        let up = with_today((2, 4));
        assert_eq!((up.replicas, up.clamp), (10, Some(Clamp::RaisedToMin)));
        let up = with_today((10, 7));
        assert_eq!((up.replicas, up.clamp), (10, Some(Clamp::StepLimit)));
        // Far above: down ÷1.5 this run.
        let down = with_today((10, 60));
        assert_eq!((down.replicas, down.clamp), (40, Some(Clamp::StepLimit)));
        // Inside the band (−10% .. +50% of the 12 wanted): kept.
        for kept in [11, 12, 18] {
            let held = with_today((10, kept));
            assert_eq!(held.replicas, kept, "{held:?}");
        }
        // But never held down onto min: 10..10 is an HPA that cannot scale.
        assert_eq!(with_today((10, 10)).replicas, 12);
        // Nor min held up onto max: today's 12 is within min's band of the
        // 10 needed, but max wants 12.
        let evidence = Evidence {
            current: Some((12, 12)),
            ..Evidence::default()
        };
        let bounds = derive_bounds(&forecast, 0..288, &policy, &evidence);
        assert_eq!((bounds.min.replicas, bounds.max.replicas), (10, 12));
        assert_eq!(with_today((10, 19)).replicas, 13);
        assert_eq!(with_today((10, 9)).replicas, 12);
    }

    #[test]
    fn the_schedule_floor_is_the_lowest_expected_loads_need_without_the_hold() {
        // Constant 100 at 10 per replica: min 10; today's 11 is inside the
        // hysteresis band and kept, but the schedule may go to the need.
        let forecast = forecast_of(vec![100.0; 3 * 288]);
        let policy = policy(10.0, (2, 1), (100, 100));
        let bounds = |current| {
            let evidence = Evidence {
                current,
                ..Evidence::default()
            };
            derive_bounds(&forecast, 0..288, &policy, &evidence)
        };
        let held = bounds(Some((11, 12)));
        assert_eq!((held.min.replicas, held.min.clamp), (11, Some(Clamp::Held)));
        assert_eq!(schedule_floor(&held, &policy), 10);
        assert_eq!(schedule_floor(&bounds(None), &policy), 10);
        // Never under the configured floor, never above the min itself.
        let low = derive_bounds(
            &forecast_of(vec![1.0; 3 * 288]),
            0..288,
            &policy,
            &Evidence::default(),
        );
        assert_eq!((low.min.replicas, schedule_floor(&low, &policy)), (2, 2));
        let cut = derive_bounds(
            &forecast,
            0..288,
            &self::policy(10.0, (1, 1), (100, 5)),
            &Evidence::default(),
        );
        assert_eq!((cut.min.replicas, schedule_floor(&cut, &policy)), (5, 5));
    }

    #[test]
    fn max_is_raised_to_min_when_floors_demand_it() {
        let forecast = forecast_of(vec![1.0; 3 * 288]);
        let bounds = derive_bounds(
            &forecast,
            0..288,
            &policy(10.0, (5, 1), (8, 8)),
            &Evidence::default(),
        );
        assert_eq!((bounds.min.replicas, bounds.max.replicas), (5, 5));
        assert_eq!(bounds.max.clamp, Some(Clamp::RaisedToMin));
    }

    #[test]
    fn a_load_out_of_proportion_to_target_per_replica_is_said_to_be_a_unit_question() {
        // 40,000,000 per replica for a load of 943,900: a fortieth of one.
        let too_few = unit_check(943_900.0, 4e7, Some((4, 24))).unwrap();
        assert!(too_few.contains("needs 0.024 of a replica"), "{too_few}");
        // 0.0092 per replica for a peak of 693, today's max 20.
        let too_many = unit_check(693.0, 0.0092, Some((2, 20))).unwrap();
        assert!(too_many.contains("3800× today's max 20"), "{too_many}");
        // In proportion, no load at all, or no max to compare with: nothing.
        assert_eq!(unit_check(100.0, 10.0, Some((2, 20))), None);
        assert_eq!(unit_check(0.0, 10.0, Some((2, 20))), None);
        assert_eq!(unit_check(693.0, 0.0092, None), None);
    }

    #[test]
    fn before_its_first_entry_a_schedule_sets_what_the_step_in_progress_needs() {
        let at = |from: i64, min_replicas: u32| ScheduledMin { from, min_replicas };
        // 30-minute steps, the step in progress ending at 1800: the first
        // entry is for the next step, 23.5 minutes ahead; until then, the
        // need now.
        let ahead = vec![at(1410, 9), at(3210, 10)];
        assert_eq!(
            from_now(ahead.clone(), 0, 7, 1800),
            [at(0, 7), at(1410, 9), at(3210, 10)]
        );
        // The same min: one entry from now.
        assert_eq!(from_now(ahead, 0, 9, 1800), [at(0, 9), at(3210, 10)]);
        // A lower next step: min falls when the step in progress is over,
        // not at the next step's entry.
        let lower = vec![at(1410, 6), at(3210, 7)];
        assert_eq!(
            from_now(lower, 0, 7, 1800),
            [at(0, 7), at(1800, 6), at(3210, 7)]
        );
        // An entry already in force (fine data): nothing added.
        let in_force = vec![at(-30, 4), at(600, 5)];
        assert_eq!(from_now(in_force.clone(), 0, 2, 60), in_force);
        assert!(from_now(Vec::new(), 0, 3, 1800).is_empty());
    }

    #[test]
    fn the_schedule_raises_min_a_lead_ahead_and_lowers_it_when_the_step_is_over() {
        let forecast = forecast_of(vec![100.0; 3 * 288]);
        let (t0, step) = (forecast.start, forecast.step);
        // Steps of 5 min needing 2, 2, 6, 6, 3, 3 replicas of 10.
        let loads = [20.0, 20.0, 60.0, 60.0, 30.0, 30.0];
        let lead = 390; // 90 s startup + 5 min buffer: more than a step
        let schedule = schedule_min(&forecast, &loads, 0..6, lead, 10.0, (1, 50));
        let at = |from: i64, min_replicas: u32| ScheduledMin { from, min_replicas };
        assert_eq!(
            schedule,
            [
                at(t0 - lead, 2),
                // 6.5 min before the rise, while step 0 still runs.
                at(t0 + 2 * step - lead, 6),
                // Down only once the last step needing 6 is over.
                at(t0 + 4 * step, 3),
            ]
        );
        // Clamped to the horizon's range; a flat need is one entry.
        let clamped = schedule_min(&forecast, &loads, 0..6, lead, 10.0, (3, 5));
        assert_eq!(
            clamped,
            [
                at(t0 - lead, 3),
                at(t0 + 2 * step - lead, 5),
                at(t0 + 4 * step, 3)
            ]
        );
        let flat = schedule_min(&forecast, &[20.0; 6], 0..6, 90, 10.0, (1, 50));
        assert_eq!(flat, [at(t0 - 90, 2)]);
        // Within the HPA's 10% tolerance of a count, that count: at 21 the
        // HPA keeps 2 replicas of 10 (1.05 of target), at 23 it wants 3.
        let tolerant = schedule_min(&forecast, &[21.0; 6], 0..6, 90, 10.0, (1, 50));
        assert_eq!(tolerant, [at(t0 - 90, 2)]);
        let over = schedule_min(&forecast, &[23.0; 6], 0..6, 90, 10.0, (1, 50));
        assert_eq!(over, [at(t0 - 90, 3)]);
        assert!(schedule_min(&forecast, &loads, 6..6, lead, 10.0, (1, 50)).is_empty());
    }

    #[test]
    fn a_scheduled_min_is_not_lowered_for_less_than_half_an_hour() {
        let at = |minutes: i64, min_replicas: u32| ScheduledMin {
            from: minutes * 60,
            min_replicas,
        };
        // 6 → 4 for 10 minutes → 7: not lowered; 7 → 2 for an hour: lowered;
        // a nested dip 5 → 3 → 4 → 5 within 20 minutes: filled to 5.
        let mut schedule = vec![
            at(0, 6),
            at(10, 4),
            at(20, 7),
            at(30, 2),
            at(90, 5),
            at(100, 3),
            at(105, 4),
            at(120, 5),
            at(200, 1),
        ];
        fill_short_dips(&mut schedule, SCHEDULE_DIP_HOLD);
        assert_eq!(
            schedule,
            [at(0, 6), at(20, 7), at(30, 2), at(90, 5), at(200, 1)]
        );
        // A dip to a lower level after it is filled only to that level.
        let mut schedule = vec![at(0, 6), at(10, 2), at(20, 4), at(100, 6)];
        fill_short_dips(&mut schedule, SCHEDULE_DIP_HOLD);
        assert_eq!(schedule, [at(0, 6), at(10, 4), at(100, 6)]);
    }

    #[test]
    fn the_schedule_follows_the_mean_or_an_interval_upper_end() {
        let values = synthetic::load(4, 300, 100.0, 40.0, 0.0, 0.0, 5.0, 7);
        let forecast = forecast_of(values);
        assert_eq!(schedule_loads(&forecast, None), forecast.mean);
        let upper = schedule_loads(&forecast, Level::new(0.5));
        assert!(upper.iter().zip(&forecast.mean).all(|(u, m)| u >= m));
        assert!(upper.iter().zip(&forecast.mean).any(|(u, m)| u > m));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn bounds_are_ordered_and_inside_floor_and_ceiling(
            level in 1.0f64..500.0,
            daily in 0.0f64..200.0,
            target in 0.5f64..80.0,
            min_floor in 1u32..5, min_span in 0u32..30,
            max_floor in 1u32..5, max_span in 0u32..60,
            seed in 0u64..1000,
        ) {
            let values = synthetic::load(3, 300, level, daily, 0.0, 0.0, level / 10.0, seed);
            let forecast = forecast_of(values);
            let max_ceiling = (max_floor + max_span).max(min_floor);
            let p = policy(target, (min_floor, max_floor), (min_floor + min_span, max_ceiling));
            let b = derive_bounds(&forecast, 0..288, &p, &Evidence::default());
            prop_assert!(b.min.replicas <= b.max.replicas);
            prop_assert!(b.min.replicas >= min_floor && b.min.replicas <= min_floor + min_span);
            prop_assert!(b.max.replicas >= max_floor);
            prop_assert!(b.max.replicas <= max_ceiling);
            prop_assert!(b.expected_low <= b.expected_high);
        }

        #[test]
        fn scaling_the_load_by_k_scales_the_replicas_by_about_k(
            k in 2.0f64..10.0,
            seed in 0u64..1000,
        ) {
            let values = synthetic::load(4, 300, 100.0, 40.0, 0.0, 0.0, 5.0, seed);
            let scaled: Vec<f64> = values.iter().map(|v| v * k).collect();
            let p = policy(10.0, (1, 1), (100_000, 100_000));
            let base = derive_bounds(&forecast_of(values), 0..288, &p, &Evidence::default());
            let big = derive_bounds(&forecast_of(scaled), 0..288, &p, &Evidence::default());
            // Up to one replica of rounding on each side, times k.
            for (small, large) in [(base.min.replicas, big.min.replicas), (base.max.replicas, big.max.replicas)] {
                let expected = f64::from(small) * k;
                prop_assert!((f64::from(large) - expected).abs() <= k + 1.0,
                    "{small} × {k} vs {large}");
            }
        }
    }
}
