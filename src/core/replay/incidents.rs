//! The loop of issue 21 replayed: the incidents the batch job would have
//! opened run after run, and — with `backtest --learning` — what learning
//! would have spared: the operator's fix simulated as raising the ceiling
//! to what the expected load needed at the alert (kept, as a learned
//! ceiling is), and recurring incidents learned as known events used at
//! once (`learning: apply`).
//!
//! Conditions a replay can judge: a ceiling below the expected load
//! (`needs_operator`) and a spike above max going on at a run. Time at max
//! needs the cluster's metrics and is not replayed.

use crate::core::bounds::ReplicaRange;
use crate::core::incident::{self, Cause, Incident};
use crate::core::known::KnownEvent;
use crate::core::plan::{plan_workload, Status, WorkloadPlan};
use crate::core::recurring::{self, LearnedEvent};
use crate::core::series::RawSeries;
use crate::core::time::format_timestamp;
use crate::core::workload::{CurrentBounds, Workload};
use serde::Serialize;
use std::fmt::Write as _;

/// Incidents the replayed runs opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IncidentCounts {
    pub opened: usize,
    /// Of them, of a cause the workload had had before in the replay: the
    /// same problem again.
    pub repeats: usize,
    pub needs_operator: usize,
    pub spike_above_max: usize,
    /// Of them, of a cause something had been learned from already (a
    /// raised ceiling, a known event): what learning is meant to keep at 0.
    pub after_learning: usize,
}

/// A replay's incidents without learning and, when asked, with it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayIncidents {
    pub without_learning: IncidentCounts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_learning: Option<IncidentCounts>,
    /// What the learning replay learned, in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<String>,
}

impl IncidentCounts {
    fn describe(&self) -> String {
        format!(
            "{} opened ({} repeats, {} after learning from the same cause; needs_operator {}, spike_above_max {})",
            self.opened,
            self.repeats,
            self.after_learning,
            self.needs_operator,
            self.spike_above_max
        )
    }
}

impl ReplayIncidents {
    /// In words: `incidents: 4 opened (3 repeats; …); with learning: 1
    /// opened (0 repeats; …); learned: …`. `None` when the runs opened none
    /// and learning was not replayed.
    #[must_use]
    pub fn describe(&self) -> Option<String> {
        if self.without_learning.opened == 0 && self.with_learning.is_none() {
            return None;
        }
        let mut text = format!("incidents: {}", self.without_learning.describe());
        if let Some(with) = &self.with_learning {
            let _ = write!(text, "; with learning: {}", with.describe());
        }
        if !self.learned.is_empty() {
            let _ = write!(text, "; learned: {}", self.learned.join("; "));
        }
        Some(text)
    }
}

/// Follows a workload's incidents through the plans of a replay.
#[derive(Debug, Default)]
pub(super) struct Follower {
    incidents: Vec<Incident>,
    counts: IncidentCounts,
    /// The causes something was learned from.
    learned: Vec<Cause>,
}

impl Follower {
    /// Advances the incidents after the run at `at` that made `plan`; the
    /// incidents it opened. A run without a plan judges nothing.
    pub(super) fn observe(&mut self, plan: &WorkloadPlan, at: i64) -> Vec<Incident> {
        if !matches!(plan.status, Status::Ok | Status::NeedsOperator) {
            return Vec::new();
        }
        let found = incident::findings(plan, &[]);
        let changes = incident::advance(&mut self.incidents, &found, plan, &format_timestamp(at));
        for opened in &changes.opened {
            self.counts.opened += 1;
            match opened.cause {
                Cause::NeedsOperator => self.counts.needs_operator += 1,
                Cause::SpikeAboveMax => self.counts.spike_above_max += 1,
                Cause::AtMax => {}
            }
            if self
                .incidents
                .iter()
                .any(|i| i.cause == opened.cause && i.id != opened.id)
            {
                self.counts.repeats += 1;
            }
            if self.learned.contains(&opened.cause) {
                self.counts.after_learning += 1;
            }
        }
        changes.opened
    }

    pub(super) fn counts(&self) -> IncidentCounts {
        self.counts
    }

    /// Whether a page for a ceiling too low is open (what `apply` reads
    /// from the model store into [`crate::core::workload::Workload::paging`]).
    pub(super) fn paging(&self) -> bool {
        incident::paging(&self.incidents, None)
    }

    /// Something was learned from incidents of `cause`.
    fn learned_from(&mut self, cause: Cause) {
        if !self.learned.contains(&cause) {
            self.learned.push(cause);
        }
    }
}

/// The runs every `replan` over `[from, to)` with learning: each run plans
/// with what earlier runs learned, the operator raises the ceiling a
/// `needs_operator` incident asks for when it opens, and recurring
/// incidents become known events. Each run sees the range the previous
/// one left on the HPA, as in the replay.
#[must_use]
pub fn replay_learning(
    workload: &Workload,
    raw: &RawSeries,
    (from, to, replan): (i64, i64, i64),
) -> (IncidentCounts, Vec<String>) {
    let mut running = workload.clone();
    let mut follower = Follower::default();
    let mut learned_events: Vec<LearnedEvent> = Vec::new();
    let mut learned = Vec::new();
    let mut at = from;
    while at < to {
        running.paging = follower.paging();
        let plan = plan_workload(&running, raw, Some(at));
        if let (Some(min), Some(max)) = (plan.min_replicas, plan.max_replicas) {
            running.current = Some(CurrentBounds {
                min_replicas: min,
                max_replicas: max,
            });
        }
        for opened in follower.observe(&plan, at) {
            if opened.cause == Cause::NeedsOperator {
                let raised = raise_ceilings(&mut running, &plan, &opened.id);
                if !raised.is_empty() {
                    follower.learned_from(Cause::NeedsOperator);
                }
                learned.extend(raised);
            }
        }
        let declared: &[KnownEvent] = &workload.calendar;
        if let Some(new) = recurring::learn(
            &mut learned_events,
            (&workload.namespace, &workload.name),
            &follower.incidents,
            declared,
            &format_timestamp(at),
        ) {
            learned.push(format!(
                "known event {} ({}) from incidents {}",
                new.event.name,
                new.event.effect(),
                new.incidents.join(", ")
            ));
            for cause in follower
                .incidents
                .iter()
                .filter(|i| new.incidents.contains(&i.id))
                .map(|i| i.cause)
                .collect::<Vec<_>>()
            {
                follower.learned_from(cause);
            }
            running.calendar.retain(|e| e.name != new.event.name);
            running.calendar.push(new.event);
        }
        at += replan;
    }
    (follower.counts(), learned)
}

/// The operator's fix at a `needs_operator` alert: each ceiling raised to
/// what the expected load needed; in words, for the report.
fn raise_ceilings(running: &mut Workload, plan: &WorkloadPlan, incident: &str) -> Vec<String> {
    let Some(bounds) = &plan.bounds else {
        return Vec::new();
    };
    let mut raised = Vec::new();
    let policy = &mut running.policy;
    for (name, range, wanted) in [
        ("max", &mut policy.max_replicas, bounds.max.raw),
        ("min", &mut policy.min_replicas, bounds.min.raw),
    ] {
        let needed = (wanted - 1e-9).ceil().max(1.0) as u32;
        if needed > range.ceiling() {
            if let Some(wider) = ReplicaRange::new(range.floor(), needed) {
                raised.push(format!(
                    "{name} ceiling {} → {needed} at incident {incident}",
                    range.ceiling()
                ));
                *range = wider;
            }
        }
    }
    // A min ceiling above the max ceiling cannot be: max follows.
    if policy.min_replicas.ceiling() > policy.max_replicas.ceiling() {
        if let Some(wider) =
            ReplicaRange::new(policy.max_replicas.floor(), policy.min_replicas.ceiling())
        {
            policy.max_replicas = wider;
        }
    }
    raised
}
