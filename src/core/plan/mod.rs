//! Plan stage: for each workload, what the HPA has, what is recommended,
//! and why. Pure data, serialisable as the JSON report of DESIGN.md.
//!
//! [`plan_workload`] is the pure core of one workload's run: raw samples and
//! "now" in, a [`WorkloadPlan`] out. It never fails: a problem becomes the
//! workload's status and reasons, so that one bad workload never stops the
//! others.

use crate::core::bounds::{significant, ReplicaBounds, ReplicaRange, ScheduledMin};
use crate::core::events::{self, EventKind};
use crate::core::time::{format_timestamp, Span};
use crate::core::workload::{CurrentBounds, Workload};
use serde::{Deserialize, Serialize};

mod describe;
mod pipeline;

pub use pipeline::*;

/// The whole run's recommendations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// When the report was made (wall clock, RFC3339).
    pub generated_at: String,
    pub workloads: Vec<WorkloadPlan>,
    /// The config's workload entries that did not run and cannot be a row
    /// of `workloads` (their `namespace`, `name` or `hpa` cannot be read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_errors: Vec<ConfigError>,
}

/// A workload entry of the config that could not run and has no valid
/// names: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    /// `workload #N (counting from 1)`: its place in `workloads:`.
    pub workload: String,
    /// What is wrong, with the file, line and column.
    pub problem: String,
    /// The config file (its absolute path when it exists): with
    /// `workload`, what tells this entry from another config's.
    #[serde(default)]
    pub config: String,
}

impl ConfigError {
    /// Why it did not run, in the report's words (those of a workload's
    /// reason when the config entry has names).
    #[must_use]
    pub fn reason(&self) -> String {
        not_run_reason(self.detail())
    }

    /// The problem without the entry's place in front (`workload #2
    /// (counting from 1) (h.yaml:9:5: …)` is `h.yaml:9:5: …`), for lines
    /// that name the entry already.
    #[must_use]
    pub fn detail(&self) -> &str {
        self.problem
            .strip_prefix(&self.workload)
            .and_then(|rest| rest.strip_prefix(" ("))
            .and_then(|rest| rest.strip_suffix(')'))
            .or_else(|| {
                self.problem
                    .strip_prefix(&self.workload)
                    .and_then(|rest| rest.strip_prefix(": "))
            })
            .unwrap_or(&self.problem)
    }
}

/// Why a workload entry of the config did not run: `problem`, the config's
/// mistake in it.
#[must_use]
pub fn not_run_reason(problem: &str) -> String {
    format!("not run, the config is invalid for it (the others ran): {problem}")
}

impl Plan {
    /// 0 when every workload is `ok`, none has a spike going on above its
    /// max and every workload entry of the config ran, else 1: some
    /// workload failed or needs an operator.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        i32::from(
            !self.config_errors.is_empty()
                || self
                    .workloads
                    .iter()
                    .any(|w| w.status != Status::Ok || w.spike_above_max().is_some()),
        )
    }
}

/// How a workload's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Bounds recommended; the cluster can heal within them.
    Ok,
    /// Bounds recommended, but an operator must act (a ceiling is too low).
    NeedsOperator,
    /// Too little, or too old, data to recommend anything.
    InsufficientData,
    /// The workload's query matched no series at all (a wrong label, a
    /// workload not deployed yet): nothing to recommend from.
    NoData,
    /// The workload could not be processed (unreadable source, failed fit).
    Error,
}

impl Status {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NeedsOperator => "needs_operator",
            Status::InsufficientData => "insufficient_data",
            Status::NoData => "no_data",
            Status::Error => "error",
        }
    }
}

/// A detected event in the history, as DESIGN.md's `events` output
/// writes it (`after` is the peak, trough or new level; `end` is null for
/// a shift).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub start: String,
    pub end: Option<String>,
    pub before: f64,
    pub after: f64,
}

impl From<&events::Event> for Event {
    fn from(e: &events::Event) -> Self {
        Event {
            kind: e.kind,
            start: format_timestamp(e.start),
            end: e.end.map(format_timestamp),
            before: significant(e.before, 4),
            after: significant(e.after, 4),
        }
    }
}

/// Expected load over the horizon: lowest lower end and highest upper end
/// of the forecast interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExpectedLoad {
    pub low: f64,
    pub high: f64,
}

/// The history a recommendation was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    pub from: String,
    pub to: String,
    pub step: Span,
    pub steps: usize,
    pub interpolated: usize,
    pub unknown: usize,
}

/// One workload's recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadPlan {
    pub name: String,
    pub namespace: String,
    pub hpa: String,
    pub status: Status,
    pub min_replicas: Option<u32>,
    pub max_replicas: Option<u32>,
    pub expected_load: Option<ExpectedLoad>,
    pub model: Option<String>,
    pub events: Vec<Event>,
    pub reasons: Vec<String>,
    /// The reasons about the bounds themselves (min, max, the change from
    /// today's range, a raised headroom), as `apply` records them in the
    /// HPA's annotation; all of them are in `reasons` too.
    #[serde(skip)]
    pub annotation: Vec<String>,
    /// The configured `(min_replicas, max_replicas)` ranges the HPA's
    /// bounds must stay in: `apply`'s hysteresis and step limits never
    /// keep or set a bound outside them.
    #[serde(skip)]
    pub limits: Option<(ReplicaRange, ReplicaRange)>,
    /// The "now" the recommendation was made at (unix seconds; RFC3339 in
    /// JSON, `""` when the workload failed before it had one).
    #[serde(
        serialize_with = "crate::core::time::serialize_optional_timestamp",
        deserialize_with = "crate::core::time::deserialize_optional_timestamp"
    )]
    pub now: Option<i64>,
    /// What the HPA has today, when known.
    pub current: Option<CurrentBounds>,
    /// In a rerun of the last `apply` (see [`Workload::step_base`]), the
    /// bounds that run stepped from, which this one steps from too.
    #[serde(skip)]
    pub step_base: Option<CurrentBounds>,
    /// The load one replica carries at the HPA's target: a bound of `n`
    /// replicas is a load of `n × target_per_replica`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_per_replica: Option<f64>,
    /// Detected seasonality (`daily+weekly`, `daily`, `weekly`, `none`).
    pub seasonality: Option<String>,
    pub data: Option<DataSummary>,
    /// Full derivation of each bound.
    pub bounds: Option<ReplicaBounds>,
    /// A spike is still going on at the end of the history: `apply` does
    /// not lower min now.
    pub in_spike: bool,
    /// The interval rests on fewer backtest errors than its level needs:
    /// `apply` does not lower min.
    pub thin_interval: bool,
    /// In `mode: schedule`: the min that applies now (the schedule's
    /// windows beginning within the buffer), which `apply` sets.
    pub scheduled_min: Option<u32>,
    /// In `mode: schedule`: min over the horizon, one entry per change.
    pub schedule: Vec<ScheduledMin>,
    /// The chosen model's backtest error in units of the daily seasonal
    /// naive's in-sample error (1 = as good as "same as yesterday").
    pub validation_mase: Option<f64>,
    /// `validation_mase` is above the workload's `max_mase`: the reports
    /// list no change, and `apply` moves no min (but a schedule's) and
    /// lowers no max.
    pub untrustworthy_model: bool,
    /// The known events in the horizon that the bounds make room for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_events: Vec<crate::core::known::Upcoming>,
    /// The forecast rests on the fleet's shapes (a young workload): which,
    /// and how much.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<crate::core::shapes::ColdStart>,
    /// After `apply`: the max its HPA has now, when it is not the
    /// recommended one (a step limit, the hysteresis, the replicas running
    /// or nothing applied kept another). A spike is judged against the
    /// max that caps the HPA, not the one recommended.
    #[serde(skip)]
    pub in_force_max: Option<u32>,
    /// The load now: the median over the last [`LOAD_NOW_WINDOW`] seconds
    /// of history (the last sample when they hold one). A spike pages only
    /// while this is above what max carries: the HPA is capped now, not
    /// merely still above the level the spike rose from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_now: Option<f64>,
    /// With status `error`: what kind of failure (`prometheus_unreachable`,
    /// `file_invalid`, `config_invalid`, …), the `error` of its log line
    /// and alert, so that a route can tell a Prometheus that is down from
    /// a query or a file that is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
}

/// Seconds of history [`WorkloadPlan::load_now`] is the median of: as long
/// as an HPA must sit at its max before `at_max` pages.
pub const LOAD_NOW_WINDOW: i64 = crate::core::apply::AT_MAX_ALERT;

/// A spike going on at the end of the history above what the recommended
/// max carries: healing needs more than the range allows (the HPA is
/// capped until it passes).
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeAboveMax {
    /// The spike's peak load.
    pub load: f64,
    /// The load now ([`WorkloadPlan::load_now`]), when known.
    pub now: Option<f64>,
    /// `max_replicas × target_per_replica`.
    pub capacity: f64,
    /// When the spike began (RFC3339).
    pub start: String,
}

impl WorkloadPlan {
    /// The max that caps the HPA: the one `apply` left in force, else the
    /// recommended one.
    #[must_use]
    pub fn capping_max(&self) -> Option<u32> {
        self.in_force_max.or(self.max_replicas)
    }

    /// The ongoing spike (the latest spike, when `in_spike`) above what the
    /// max that caps the HPA ([`Self::capping_max`]) carries, if any: an
    /// operator has to act, as for `needs_operator`.
    #[must_use]
    pub fn spike_above_max(&self) -> Option<SpikeAboveMax> {
        self.spike_above(self.capping_max()?)
    }

    /// The ongoing spike above what `max` replicas carry, if any.
    #[must_use]
    pub fn spike_above(&self, max: u32) -> Option<SpikeAboveMax> {
        let capacity = f64::from(max) * self.target_per_replica?;
        let spike = self
            .events
            .iter()
            .filter(|e| self.in_spike && e.kind == EventKind::Spike)
            .max_by(|a, b| a.start.cmp(&b.start))?;
        // Above what max carries at its peak and now: a spike that has
        // come down within max, though still above where it rose from,
        // caps nothing (a page then would be a false alarm).
        let capped_now = self.load_now.is_none_or(|now| now > capacity);
        (spike.after > capacity && capped_now).then(|| SpikeAboveMax {
            load: spike.after,
            now: self.load_now,
            capacity,
            start: spike.start.clone(),
        })
    }

    /// A plan with only a status and reasons: nothing could be recommended.
    #[must_use]
    pub fn failed(workload: &Workload, now: Option<i64>, status: Status, reason: String) -> Self {
        WorkloadPlan {
            reasons: vec![reason],
            annotation: Vec::new(),
            limits: Some((workload.policy.min_replicas, workload.policy.max_replicas)),
            now,
            current: workload.current,
            target_per_replica: Some(workload.policy.target_per_replica),
            ..WorkloadPlan::empty(&workload.namespace, &workload.name, &workload.hpa, status)
        }
    }

    /// The plan with `kind` as its failure's kind (see [`Self::error_kind`]).
    #[must_use]
    pub fn with_error_kind(mut self, kind: &str) -> Self {
        self.error_kind = Some(kind.to_string());
        self
    }

    /// A plan for the HPA `hpa` of `namespace/name` with only a status: no
    /// recommendation, no reasons (what the other constructors build on).
    #[must_use]
    pub fn empty(namespace: &str, name: &str, hpa: &str, status: Status) -> Self {
        WorkloadPlan {
            name: name.to_string(),
            namespace: namespace.to_string(),
            hpa: hpa.to_string(),
            status,
            min_replicas: None,
            max_replicas: None,
            expected_load: None,
            model: None,
            events: Vec::new(),
            reasons: Vec::new(),
            annotation: Vec::new(),
            limits: None,
            now: None,
            current: None,
            step_base: None,
            target_per_replica: None,
            seasonality: None,
            data: None,
            bounds: None,
            in_spike: false,
            thin_interval: false,
            known_events: Vec::new(),
            cold_start: None,
            in_force_max: None,
            load_now: None,
            error_kind: None,
            scheduled_min: None,
            schedule: Vec::new(),
            validation_mase: None,
            untrustworthy_model: false,
        }
    }
}

/// The min a run at `now` sets from a schedule: the highest of the entry
/// in force then (the first, before the schedule begins) and those that
/// begin before the next run, `every` later — nothing changes min between
/// two runs, so a rise due before the next one is made now (with the
/// buffer alone, 5 minutes, the shipped 15-minute `CronJob` made a rise
/// due 5 to 15 minutes after a run at the next run: with no lead, or
/// after the load). A drop waits for the run after its time.
#[must_use]
pub fn min_due(schedule: &[ScheduledMin], now: i64, every: i64) -> Option<u32> {
    let in_force = schedule
        .partition_point(|e| e.from <= now)
        .saturating_sub(1);
    let first = schedule.get(in_force)?;
    let soon = schedule[in_force + 1..]
        .iter()
        .take_while(|e| e.from < now + every)
        .map(|e| e.min_replicas);
    soon.chain([first.min_replicas]).max()
}

/// A ratio as a change in whole percent: 1.32 → `+32%`, 0.5 → `−50%`.
#[must_use]
pub fn signed_percent(ratio: f64) -> String {
    let percent = (ratio - 1.0) * 100.0;
    if percent.round() >= 0.0 {
        format!("+{:.0}%", percent.abs())
    } else {
        format!("−{:.0}%", -percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config;
    use crate::core::series::{RawSeries, Sample};
    use crate::core::synthetic;
    use proptest::prelude::*;
    use std::path::Path;

    fn workload(extra: &str) -> Workload {
        let text = format!(
            "workloads:\n  - name: api\n    namespace: web\n    file: api.csv\n    target_per_replica: 10\n{extra}"
        );
        config::parse(&text, Path::new("t.yaml"), Path::new("."))
            .unwrap()
            .workloads
            .remove(0)
    }

    fn raw(values: &[f64]) -> RawSeries {
        RawSeries {
            origin: "api.csv".into(),
            samples: values
                .iter()
                .enumerate()
                .map(|(i, &value)| Sample {
                    ts: 1_400_000_000 + i as i64 * 300,
                    value,
                })
                .collect(),
        }
    }

    #[test]
    fn a_history_without_load_leaves_the_hpa_as_it_is() {
        let plan = plan_workload(
            &workload("    current: {min_replicas: 3, max_replicas: 10}\n"),
            &raw(&vec![0.0; 28 * 288]),
            None,
        );
        assert_eq!(plan.status, Status::InsufficientData, "{:?}", plan.reasons);
        assert_eq!(plan.max_replicas, None);
        assert_eq!(
            plan.reasons[0],
            "api.csv: no load in its 28d of history (every known value is 0): nothing sizes its bounds, so its HPA is left as it is; if it serves traffic, check the metric (a wrong label or selector reads 0)"
        );
    }

    #[test]
    fn a_healthy_series_gets_ok_bounds_with_reasons() {
        let values = synthetic::load(14, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 1);
        let plan = plan_workload(
            &workload("    current: {min_replicas: 2, max_replicas: 14}\n"),
            &raw(&values),
            None,
        );
        assert_eq!(plan.status, Status::Ok, "{:?}", plan.reasons);
        let (min, max) = (plan.min_replicas.unwrap(), plan.max_replicas.unwrap());
        // Load swings 60..140: min covers the trough, max the peak with headroom.
        assert!((5..=7).contains(&min), "min {min}");
        assert!((17..=20).contains(&max), "max {max}");
        assert!(plan
            .reasons
            .iter()
            .any(|r| r.starts_with("change: min 2 →")));
    }

    #[test]
    fn in_schedule_mode_min_follows_the_daily_curve_inside_the_horizon_bounds() {
        let values = synthetic::load(14, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 1);
        let schedule = workload("    mode: schedule\n    horizon: 1d\n");
        let horizon = plan_workload(&workload("    horizon: 1d\n"), &raw(&values), None);
        assert!(horizon.schedule.is_empty() && horizon.scheduled_min.is_none());
        // "now" at each of the 12 two-hour marks of the last day.
        let end = 1_400_000_000 + (values.len() as i64 - 1) * 300;
        let mut now_mins = Vec::new();
        for k in 0..12 {
            let now = end - k * 7_200;
            let plan = plan_workload(&schedule, &raw(&values), Some(now));
            assert_eq!(plan.status, Status::Ok, "{:?}", plan.reasons);
            let (min, max) = (plan.min_replicas.unwrap(), plan.max_replicas.unwrap());
            assert!(plan
                .schedule
                .iter()
                .all(|e| (min..=max).contains(&e.min_replicas)));
            let now_min = plan.scheduled_min.unwrap();
            assert!(plan
                .reasons
                .iter()
                .any(|r| r.starts_with(&format!("schedule: min {now_min} now"))));
            now_mins.push(now_min);
        }
        // Load swings 60..140 a day (6..14 replicas of 10): the schedule's
        // min goes from about the trough's to about the peak's.
        let (low, high) = (
            now_mins.iter().min().unwrap(),
            now_mins.iter().max().unwrap(),
        );
        assert!(*low <= 8 && *high >= 12, "{now_mins:?}");
    }

    #[test]
    fn a_model_worse_than_max_mase_is_flagged_with_a_reason() {
        let values = synthetic::load(14, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 1);
        let plan = plan_workload(&workload(""), &raw(&values), None);
        let mase = plan.validation_mase.unwrap();
        assert!(mase > 0.0 && mase < 2.0, "{mase}");
        assert!(!plan.untrustworthy_model);
        let strict = plan_workload(
            &workload(&format!("    max_mase: {}\n", mase / 2.0)),
            &raw(&values),
            None,
        );
        assert!(strict.untrustworthy_model);
        assert_eq!(strict.status, Status::Ok, "bounds are still recommended");
        assert!(strict
            .reasons
            .iter()
            .any(|r| r.starts_with("model not trusted")));
    }

    #[test]
    fn the_min_due_is_the_one_in_force_or_a_higher_one_before_the_next_run() {
        let at = |from: i64, min_replicas: u32| ScheduledMin { from, min_replicas };
        let schedule = [at(0, 3), at(600, 5), at(1200, 2)];
        assert_eq!(min_due(&schedule, 100, 300), Some(3));
        assert_eq!(
            min_due(&schedule, 400, 300),
            Some(5),
            "rises before the next run"
        );
        assert_eq!(
            min_due(&schedule, 300, 300),
            Some(3),
            "a rise at the next run is the next run's"
        );
        assert_eq!(
            min_due(&schedule, 0, 900),
            Some(5),
            "a run 15 minutes from the next makes the rise due 10 minutes after it"
        );
        assert_eq!(
            min_due(&schedule, 1000, 300),
            Some(5),
            "falls only when due"
        );
        assert_eq!(min_due(&schedule, 1300, 300), Some(2));
        assert_eq!(
            min_due(&schedule, -900, 300),
            Some(3),
            "before it begins: the first"
        );
        assert_eq!(min_due(&[], 0, 300), None);
    }

    #[test]
    fn an_interval_on_too_few_held_out_errors_says_so() {
        // Three days; the last (the held-out day) mostly unknown: a
        // 12-sample stretch at its end is all the backtest can score.
        let values = synthetic::load(3, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 1);
        let mut series = raw(&values);
        let n = series.samples.len();
        series.samples.drain(n - 288..n - 12);
        let plan = plan_workload(&workload(""), &series, None);
        assert!(
            plan.reasons
                .iter()
                .any(|r| r.starts_with("interval: only 12 backtest errors")),
            "{:?}",
            plan.reasons
        );
        // A whole held-out day is plenty.
        let plan = plan_workload(&workload(""), &raw(&values), None);
        assert!(!plan.reasons.iter().any(|r| r.starts_with("interval:")));
    }

    #[test]
    fn now_cuts_the_history_and_stale_data_is_insufficient() {
        let values = synthetic::load(14, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 1);
        let series = raw(&values);
        let last = series.samples.last().unwrap().ts;
        let stale = plan_workload(&workload(""), &series, Some(last + 3 * 3600));
        assert_eq!(stale.status, Status::InsufficientData);
        assert!(
            stale.reasons[0].contains("3h older than now"),
            "{:?}",
            stale.reasons
        );
        // Too short and stale: both said (the shortness alone read as if
        // waiting would help).
        let young = raw(&values[..72]);
        let last = young.samples.last().unwrap().ts;
        let stale_young = plan_workload(&workload(""), &young, Some(last + 3 * 3600));
        assert_eq!(stale_young.status, Status::InsufficientData);
        assert!(
            stale_young.reasons[0].contains("need at least 2d")
                && stale_young.reasons[0].contains("is 3h older than now"),
            "{:?}",
            stale_young.reasons
        );
        let early = plan_workload(&workload(""), &series, Some(1_400_000_000 + 86_400));
        assert_eq!(early.status, Status::InsufficientData);
        assert!(
            early.reasons[0].contains("need at least 2d"),
            "{:?}",
            early.reasons
        );
    }

    #[test]
    fn only_events_that_move_pods_are_reported() {
        // 10 per replica, min floor 2, headroom 1.2.
        let policy = workload("").policy;
        let event = |kind, minutes: i64, before: f64, after: f64, day_peak: f64| events::Event {
            kind,
            start: 0,
            end: Some(minutes * 60),
            before,
            after,
            z: 10.0,
            day_peak,
        };
        let reaction = 150;
        let matters =
            |e: &events::Event, min: u32| matters_to_capacity(e, reaction, &policy, min, None);
        // A spike above the day's peak with headroom, long enough: reported.
        assert!(matters(&event(EventKind::Spike, 10, 50.0, 200.0, 100.0), 2));
        // One that stays within the day's peak × 1.2: the HPA's daily business.
        assert!(!matters(
            &event(EventKind::Spike, 10, 50.0, 110.0, 100.0),
            2
        ));
        // Shorter than the HPA's reaction: nothing it could answer.
        assert!(!matters(&event(EventKind::Spike, 2, 50.0, 200.0, 100.0), 2));
        // A dip outlasting reaction + the scale-down stabilization window.
        assert!(matters(&event(EventKind::Dip, 10, 50.0, 5.0, 100.0), 2));
        // One inside the window moves no pod.
        assert!(!matters(&event(EventKind::Dip, 6, 50.0, 5.0, 100.0), 2));
        // Nor one from a load min already holds (min 5 = 50 load).
        assert!(!matters(&event(EventKind::Dip, 10, 50.0, 5.0, 100.0), 5));
        // A texture's spike (ordinary load, in the fit) only above what
        // the recommended max carries.
        let texture_spike = event(EventKind::Spike, 10, 50.0, 200.0, 100.0);
        assert!(!matters_to_capacity(
            &texture_spike,
            reaction,
            &policy,
            2,
            Some(250.0)
        ));
        assert!(matters_to_capacity(
            &texture_spike,
            reaction,
            &policy,
            2,
            Some(150.0)
        ));
        // A shift always.
        let shift = events::Event {
            end: None,
            ..event(EventKind::Shift, 0, 50.0, 60.0, 60.0)
        };
        assert!(matters(&shift, 2));
    }

    #[test]
    fn bounds_cover_exactly_the_steps_after_now_through_the_horizon() {
        let values = synthetic::load(4, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 1);
        let series = raw(&values);
        let last = series.samples.last().unwrap().ts;
        // "now" half-way between two grid steps, and a 1-hour horizon.
        let w = workload("    horizon: 1h\n");
        for now in [last, last + 150, last + 299] {
            let plan = plan_workload(&w, &series, Some(now));
            let bounds = plan.bounds.unwrap();
            for d in [&bounds.min, &bounds.max] {
                // A load read from the history has no moment of the forecast.
                let Some(at) = d.at else {
                    assert_ne!(d.basis, crate::core::bounds::Basis::IntervalUpper);
                    assert_ne!(d.basis, crate::core::bounds::Basis::Expected);
                    continue;
                };
                assert!(
                    at > now && at <= now + 3600,
                    "{at} outside ({now}, {}]",
                    now + 3600
                );
            }
        }
        // A horizon shorter than a step still covers the next step.
        let plan = plan_workload(&workload("    horizon: 60s\n"), &series, Some(last));
        assert_eq!(plan.bounds.unwrap().min.at, Some(last + 300));
    }

    #[test]
    fn a_last_sample_just_before_its_grid_step_is_not_in_the_future() {
        let values = synthetic::load(3, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 1);
        let mut series = raw(&values);
        // Scrape jitter: the last sample arrives 100 s early; it still rounds
        // to its grid step, which lies after "now" (the last sample's time).
        series.samples.last_mut().unwrap().ts -= 100;
        let plan = plan_workload(&workload(""), &series, None);
        assert_eq!(plan.status, Status::Ok, "{:?}", plan.reasons);
        let bounds = plan.bounds.unwrap();
        assert!(bounds.min.load > 0.0 && bounds.max.load > 0.0);
    }

    #[test]
    fn a_low_ceiling_calls_the_operator() {
        let values = synthetic::load(7, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 1);
        let plan = plan_workload(
            &workload("    max_replicas: {ceiling: 5}\n"),
            &raw(&values),
            None,
        );
        assert_eq!(plan.status, Status::NeedsOperator);
        assert_eq!(plan.max_replicas, Some(5));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]

        #[test]
        fn input_row_order_does_not_matter(seed in 0u64..1000) {
            let values = synthetic::load(4, 300, 50.0, 20.0, 0.0, 0.0, 4.0, seed);
            let ordered = raw(&values);
            let mut shuffled = ordered.clone();
            let mut rng = synthetic::Rng::new(seed);
            for i in (1..shuffled.samples.len()).rev() {
                let j = (rng.uniform() * (i + 1) as f64) as usize;
                shuffled.samples.swap(i, j);
            }
            let w = workload("");
            prop_assert_eq!(plan_workload(&w, &ordered, None), plan_workload(&w, &shuffled, None));
        }
    }
}
