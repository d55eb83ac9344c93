//! Incidents (pure): the times a workload was in a state homeostat could
//! not heal by itself, kept in the model store so that the operator's fix
//! can be attributed to them and learned from (issue 21).
//!
//! A run finds a workload's conditions ([`findings`]): its bounds need an
//! operator (`needs_operator`: a ceiling below what the expected load
//! needs), a spike is going on above what the recommended max carries, or
//! the HPA sat at its max too long since the last run. [`advance`] opens an
//! incident for a condition that has none open, counts the runs of one
//! that is open, and closes it on the first run that no longer finds it (a
//! whole run in which the condition had cleared).

use crate::core::apply::Trouble;
use crate::core::bounds::BoundsPolicy;
use crate::core::plan::{Status, WorkloadPlan};
use serde::{Deserialize, Serialize};

/// Incidents kept per workload: the open ones and the latest closed.
pub const INCIDENTS_KEPT: usize = 100;

/// One run's outcome for a workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The recommendation's "now" (RFC3339).
    pub at: String,
    pub status: String,
    pub recommended_min: Option<u32>,
    pub recommended_max: Option<u32>,
    /// What the HPA was set to, when a patch was applied.
    pub applied_min: Option<u32>,
    pub applied_max: Option<u32>,
    pub dry_run: bool,
    /// The HPA's bounds as the run read them from the cluster (before any
    /// patch): what a change by someone else is seen against while
    /// homeostat has not patched the HPA yet (no annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<(u32, u32)>,
    /// A change of the HPA's bounds by someone else that the run saw, in
    /// words: one no incident remembers is reported on the run that first
    /// sees it, not again on every run that finds the HPA as it was left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_change: Option<String>,
    /// The bounds its step limits started from, and those it left (patched
    /// or written to the `GitOps` YAML): a rerun that finds them still in
    /// force steps from the same start (see `Workload::step_base`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_from: Option<(u32, u32)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<(u32, u32)>,
    /// When it ran, by the clock (RFC3339): what tells a rerun.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_at: Option<String>,
    /// In `mode: schedule`: the schedule's min for then, which the run
    /// wanted (see [`crate::core::apply::hold_schedule_drop`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_min: Option<u32>,
    /// In `mode: schedule`: its schedule over the next hour, from which a
    /// later run reads what this one wanted for that run's moment
    /// ([`crate::core::apply::wanted_by_last_run`]). Kept on the last
    /// runs only (see `WorkloadState::record`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule_ahead: Vec<crate::core::bounds::ScheduledMin>,
}

/// What homeostat could not heal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The expected load needs more than a ceiling allows.
    NeedsOperator,
    /// A spike is going on above what the recommended max carries.
    SpikeAboveMax,
    /// The HPA sat at its max too long since the last run.
    AtMax,
}

impl Cause {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::NeedsOperator => "needs_operator",
            Cause::SpikeAboveMax => "spike_above_max",
            Cause::AtMax => "at_max",
        }
    }
}

/// One condition a run found, with the numbers the operator needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub cause: Cause,
    /// The load that could not be served (expected peak, spike, …).
    pub load: Option<f64>,
    /// What the recommended range carries at most (max × target per
    /// replica).
    pub capacity: Option<f64>,
    /// When the trouble itself began, when the run knows (a spike's
    /// start, RFC3339).
    pub started: Option<String>,
    /// What blocked healing, in words.
    pub blocked_by: String,
}

/// One incident of one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `<namespace>/<name>#<n>`, `n` counting the workload's incidents
    /// from 1.
    pub id: String,
    pub cause: Cause,
    /// The run that opened it ("now" of that run, RFC3339).
    pub opened: String,
    /// When the trouble itself began, when known (a spike's start, before
    /// the run that saw it): what a recurrence is read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// The first run that no longer found the condition.
    pub closed: Option<String>,
    /// Why it closed, when not because the condition cleared (the
    /// workload left the config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_why: Option<String>,
    /// The latest run that found it, and how many did.
    pub last_seen: String,
    pub runs: u32,
    /// The highest load the runs found that could not be served, and the
    /// capacity of the max in force then (the recommended one, or after
    /// `apply` the one it left on the HPA).
    pub load: Option<f64>,
    pub capacity: Option<f64>,
    /// What homeostat recommended when it opened.
    pub recommended_min: Option<u32>,
    pub recommended_max: Option<u32>,
    /// What blocked healing, in words (the latest run's).
    pub blocked_by: String,
    /// What the operator changed while it was open (or after it, before
    /// the next incident), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_changes: Vec<OperatorChange>,
}

/// A change homeostat did not make, seen by a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorChange {
    /// The run that saw it (RFC3339).
    pub at: String,
    pub what: String,
}

/// A setting an operator chose while healing an incident, suggested for
/// the config (`learning: suggest`): homeostat reports it until the config
/// takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learned {
    /// The config's setting, as its YAML path: `max_replicas.ceiling`.
    pub setting: String,
    pub value: u32,
    /// The incident it healed, and the operator's change it comes from.
    pub incident: String,
    pub because: String,
    /// The run that saw it (RFC3339).
    pub at: String,
}

/// The ceilings a learned setting can be, with the config's value of each.
fn ceilings(config: &Fingerprint) -> [(&'static str, u32); 2] {
    [
        ("min_replicas.ceiling", config.min_ceiling),
        ("max_replicas.ceiling", config.max_ceiling),
    ]
}

impl Learned {
    /// Whether `config` has taken it: its ceiling at least the value (a
    /// suggestion below the config's would lower it).
    #[must_use]
    pub fn taken_by(&self, config: &Fingerprint) -> bool {
        ceilings(config)
            .iter()
            .any(|(setting, ceiling)| self.setting == *setting && self.value <= *ceiling)
    }
}

/// The learned settings after a run: an HPA's max or min (`hpa`: both now,
/// with the change in words) raised above the config's ceiling for it
/// while `noted_on` incidents were open is a ceiling to suggest; a
/// suggestion the config has taken (its ceiling at least the value) is
/// dropped. The settings newly learned.
pub fn learn(
    learned: &mut Vec<Learned>,
    config: &Fingerprint,
    hpa: Option<((u32, u32), &str)>,
    noted_on: &[String],
    at: &str,
) -> Vec<Learned> {
    learned.retain(|l| !l.taken_by(config));
    let (Some(((min, max), because)), Some(incident)) = (hpa, noted_on.first()) else {
        return Vec::new();
    };
    let mut new = Vec::new();
    for ((setting, ceiling), value) in ceilings(config).into_iter().zip([min, max]) {
        if value <= ceiling {
            continue;
        }
        // Learned already from this incident (the HPA still as the operator
        // left it): kept as first learned, and no news. From another
        // incident, it is learned again from that one.
        if learned.iter().any(|old| {
            old.setting == setting && old.value == value && noted_on.contains(&old.incident)
        }) {
            continue;
        }
        let l = Learned {
            setting: setting.to_string(),
            value,
            incident: incident.clone(),
            because: because.to_string(),
            at: at.to_string(),
        };
        learned.retain(|old| old.setting != l.setting);
        learned.push(l.clone());
        new.push(l);
    }
    new
}

/// The settings of a workload's config that an operator changes to heal
/// it, kept per workload so that the next run sees what changed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub min_floor: u32,
    pub min_ceiling: u32,
    pub max_floor: u32,
    pub max_ceiling: u32,
    pub target_per_replica: f64,
    pub headroom: f64,
}

impl Fingerprint {
    #[must_use]
    pub fn of(policy: &BoundsPolicy) -> Fingerprint {
        Fingerprint {
            min_floor: policy.min_replicas.floor(),
            min_ceiling: policy.min_replicas.ceiling(),
            max_floor: policy.max_replicas.floor(),
            max_ceiling: policy.max_replicas.ceiling(),
            target_per_replica: policy.target_per_replica,
            headroom: policy.headroom,
        }
    }

    /// What changed from `before` to `self`, one phrase per setting
    /// (`max_replicas.ceiling 3 → 40`).
    #[must_use]
    pub fn changes_since(&self, before: &Fingerprint) -> Vec<String> {
        let mut changes = Vec::new();
        let mut whole = |name: &str, a: u32, b: u32| {
            if a != b {
                changes.push(format!("{name} {a} → {b}"));
            }
        };
        whole("min_replicas.floor", before.min_floor, self.min_floor);
        whole("min_replicas.ceiling", before.min_ceiling, self.min_ceiling);
        whole("max_replicas.floor", before.max_floor, self.max_floor);
        whole("max_replicas.ceiling", before.max_ceiling, self.max_ceiling);
        for (name, a, b) in [
            (
                "target_per_replica",
                before.target_per_replica,
                self.target_per_replica,
            ),
            ("headroom", before.headroom, self.headroom),
        ] {
            if a.to_bits() != b.to_bits() {
                changes.push(format!("{name} {a} → {b}"));
            }
        }
        changes
    }
}

/// Attributes `what` (seen by the run at `at`) to the open incidents, else
/// to the latest one: the doctor's fix belongs to the problem it fixed.
/// The incidents it was noted on.
pub fn attribute(incidents: &mut [Incident], what: &str, at: &str) -> Vec<String> {
    attribute_to(incidents, &[], what, at)
}

/// [`attribute`] to the incidents `ids` names (those open before a run's
/// findings moved them, and those the run opened: a config change is seen
/// by the run that may also close the incident it fixed), else as
/// [`attribute`] does.
pub fn attribute_to(
    incidents: &mut [Incident],
    ids: &[String],
    what: &str,
    at: &str,
) -> Vec<String> {
    attribute_anew(incidents, ids, what, at, false).0
}

/// [`attribute_to`], and whether the change was new to any incident it
/// was noted on (seen again, the HPA left as the operator left it, it is
/// no news). `found_again`: a change of the HPA (or its `GitOps` YAML)
/// found as the operator left it, which stays the incident's that holds
/// it when none is open (a note or a config change with the same words
/// is news, for the latest).
pub fn attribute_anew(
    incidents: &mut [Incident],
    ids: &[String],
    what: &str,
    at: &str,
    found_again: bool,
) -> (Vec<String>, bool) {
    let change = OperatorChange {
        at: at.to_string(),
        what: what.to_string(),
    };
    let named: Vec<usize> = (0..incidents.len())
        .filter(|&k| ids.contains(&incidents[k].id))
        .collect();
    let open: Vec<usize> = (0..incidents.len())
        .filter(|&k| incidents[k].is_open())
        .collect();
    // With none open, the change is the latest incident's, unless an
    // incident holds it already: the same hand edit found again after
    // its incident closed went on a spike that had closed before it.
    let holding = incidents
        .iter()
        .rposition(|i| i.operator_changes.iter().any(|c| c.what == change.what))
        .filter(|_| found_again);
    let targets = if !named.is_empty() {
        named
    } else if open.is_empty() {
        holding
            .or_else(|| incidents.len().checked_sub(1))
            .into_iter()
            .collect()
    } else {
        open
    };
    let mut anew = false;
    let ids = targets
        .into_iter()
        .map(|k| {
            // Seen again (the HPA stays as the operator left it): once.
            if !incidents[k]
                .operator_changes
                .iter()
                .any(|c| c.what == change.what)
            {
                incidents[k].operator_changes.push(change.clone());
                anew = true;
            }
            incidents[k].id.clone()
        })
        .collect();
    (ids, anew)
}

impl Incident {
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.closed.is_none()
    }
}

/// A workload's incidents counted, for the run metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub namespace: String,
    pub workload: String,
    pub open: usize,
    /// Incidents of a cause the workload had had before: the same problem
    /// again (the count homeostat's learning is meant to bring to 0).
    pub repeats: usize,
    /// The open incidents' ids by cause: the alert of a cause names its
    /// incident, for `incident note` and `postmortem --incident`.
    pub open_ids: Vec<(Cause, String)>,
}

impl Tally {
    #[must_use]
    pub fn of(namespace: &str, workload: &str, incidents: &[Incident]) -> Tally {
        let repeats = incidents
            .iter()
            .enumerate()
            .filter(|(k, i)| incidents[..*k].iter().any(|before| before.cause == i.cause))
            .count();
        Tally {
            namespace: namespace.to_string(),
            workload: workload.to_string(),
            open: incidents.iter().filter(|i| i.is_open()).count(),
            repeats,
            open_ids: incidents
                .iter()
                .filter(|i| i.is_open())
                .map(|i| (i.cause, i.id.clone()))
                .collect(),
        }
    }
}

/// What one run did to a workload's incidents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub opened: Vec<Incident>,
    pub closed: Vec<Incident>,
}

/// The conditions `plan` (and the run's `troubles` for the same workload)
/// show that homeostat cannot heal, one per cause.
#[must_use]
pub fn findings(plan: &WorkloadPlan, troubles: &[Trouble]) -> Vec<Finding> {
    findings_under(plan, troubles, plan.capping_max())
}

/// What an on-call person raising max needs: the replicas that carry the
/// spike's load now and at its peak (`: it needs 24 replicas now, 60 at
/// its peak, at 5 a replica`).
fn replicas_needed(spike: &crate::core::plan::SpikeAboveMax, per: Option<f64>) -> String {
    let Some(per) = per.filter(|p| p.is_finite() && *p > 0.0) else {
        return String::new();
    };
    let needed = |load: f64| ((load / per - 1e-9).ceil().max(1.0)) as u64;
    let per = crate::core::bounds::readable(per, 4);
    match spike.now {
        Some(now) => format!(
            ": it needs {} replicas now, {} at its peak, at {per} a replica",
            needed(now),
            needed(spike.load)
        ),
        None => format!(
            ": its peak needs {} replicas at {per} a replica",
            needed(spike.load)
        ),
    }
}

/// [`findings`] with `max` the max that caps the HPA (`apply`'s decision
/// for it, which the plan does not hold yet while it is being applied).
#[must_use]
pub fn findings_under(plan: &WorkloadPlan, troubles: &[Trouble], max: Option<u32>) -> Vec<Finding> {
    let capacity = max
        .zip(plan.target_per_replica)
        .map(|(max, per)| f64::from(max) * per);
    let mut found = Vec::new();
    if plan.status == Status::NeedsOperator {
        let blocked_by = plan
            .bounds
            .as_ref()
            .and_then(|b| b.needs_operator.first().cloned())
            .unwrap_or_else(|| "a ceiling is below what the expected load needs".to_string());
        found.push(Finding {
            cause: Cause::NeedsOperator,
            load: plan.expected_load.as_ref().map(|e| e.high),
            capacity,
            started: None,
            blocked_by,
        });
    }
    // An ongoing spike above the recommended max: healing needs more than
    // the range allows (the HPA is capped until it passes).
    if let Some(spike) = max.and_then(|max| plan.spike_above(max)) {
        found.push(Finding {
            cause: Cause::SpikeAboveMax,
            load: Some(spike.load),
            capacity: Some(spike.capacity),
            started: Some(spike.start.clone()),
            blocked_by: format!(
                "a spike peaking at {}{} is going on above the {} that max {} carries{}{}",
                crate::core::bounds::significant(spike.load, 4),
                spike.now.map_or(String::new(), |now| format!(
                    " (at {} over the last {} minutes)",
                    crate::core::bounds::significant(now, 4),
                    crate::core::plan::LOAD_NOW_WINDOW / 60
                )),
                crate::core::bounds::significant(spike.capacity, 4),
                max.unwrap_or(0),
                match (max, plan.max_replicas) {
                    (Some(in_force), Some(recommended)) if in_force != recommended =>
                        format!(" (the max in force after this run; {recommended} recommended)"),
                    _ => String::new(),
                },
                replicas_needed(&spike, plan.target_per_replica),
            ),
        });
    }
    if let Some(trouble) = troubles
        .iter()
        .find(|t| t.reason == "at_max" && t.namespace == plan.namespace && t.workload == plan.name)
    {
        found.push(Finding {
            cause: Cause::AtMax,
            load: None,
            capacity,
            started: None,
            blocked_by: trouble.description.clone(),
        });
    }
    found
}

/// Whether a page for a ceiling too low is open among `incidents` as of
/// `at` (RFC3339; `None`: now): what keeps a page standing near the
/// ceiling (see `Workload::paging`).
#[must_use]
pub fn paging(incidents: &[Incident], at: Option<&str>) -> bool {
    incidents.iter().any(|i| {
        i.cause == Cause::NeedsOperator
            && match at {
                None => i.is_open(),
                Some(at) => {
                    i.opened.as_str() <= at && i.closed.as_deref().is_none_or(|closed| closed > at)
                }
            }
    })
}

/// An open `spike_above_max` incident closes once the spike is over or the
/// load has come below this share of what max carries.
pub const SPIKE_CLEAR: f64 = 0.9;

/// Opens, continues and closes `incidents` (a workload's, oldest first)
/// after a run at `now` (RFC3339) that found `findings` for `plan`.
pub fn advance(
    incidents: &mut Vec<Incident>,
    findings: &[Finding],
    plan: &WorkloadPlan,
    now: &str,
) -> Changes {
    advance_after(incidents, findings, plan, now, 0)
}

/// [`advance`], numbering new incidents after `counted` too (the highest
/// number given before, kept beyond the incidents the store still holds).
pub fn advance_after(
    incidents: &mut Vec<Incident>,
    findings: &[Finding],
    plan: &WorkloadPlan,
    now: &str,
    counted: u32,
) -> Changes {
    let mut changes = Changes::default();
    for incident in incidents.iter_mut().filter(|i| i.is_open()) {
        if let Some(finding) = findings.iter().find(|f| f.cause == incident.cause) {
            incident.runs += 1;
            incident.last_seen = now.to_string();
            incident.blocked_by.clone_from(&finding.blocked_by);
            // The highest load, with the capacity in force at it: a later
            // run's (after the operator raised max) made a post-mortem
            // read "63 against the 100 the max in force carries" for an
            // incident whose load was twice its capacity.
            let higher = match (incident.load, finding.load) {
                (Some(a), Some(b)) => b > a,
                (None, Some(_)) => true,
                _ => false,
            };
            if higher {
                incident.load = finding.load;
                incident.capacity = finding.capacity.or(incident.capacity);
            } else {
                incident.capacity = incident.capacity.or(finding.capacity);
            }
        } else if incident.cause == Cause::SpikeAboveMax
            && plan.in_spike
            && plan
                .load_now
                .zip(incident.capacity)
                .is_some_and(|(load, capacity)| load > SPIKE_CLEAR * capacity)
        {
            // The spike still going on near the cap: not closed on one run
            // a little under it (the next run above would open another).
            incident.runs += 1;
            incident.last_seen = now.to_string();
        } else {
            incident.closed = Some(now.to_string());
            changes.closed.push(incident.clone());
        }
    }
    let counted = incidents
        .iter()
        .filter_map(|i| {
            i.id.rsplit_once('#')
                .and_then(|(_, n)| n.parse::<u32>().ok())
        })
        .max()
        .unwrap_or(0)
        .max(counted);
    for (k, finding) in findings
        .iter()
        .filter(|f| !incidents.iter().any(|i| i.is_open() && i.cause == f.cause))
        .enumerate()
    {
        let incident = Incident {
            id: format!(
                "{}/{}#{}",
                plan.namespace,
                plan.name,
                counted + 1 + k as u32
            ),
            cause: finding.cause,
            opened: now.to_string(),
            started: finding.started.clone(),
            closed: None,
            closed_why: None,
            last_seen: now.to_string(),
            runs: 1,
            load: finding.load,
            capacity: finding.capacity,
            recommended_min: plan.min_replicas,
            recommended_max: plan.max_replicas,
            blocked_by: finding.blocked_by.clone(),
            operator_changes: Vec::new(),
        };
        changes.opened.push(incident);
    }
    incidents.extend(changes.opened.iter().cloned());
    // The open ones are all kept; of the closed, the latest.
    let excess = incidents.len().saturating_sub(INCIDENTS_KEPT);
    let mut dropped = 0;
    incidents.retain(|i| {
        let drop = dropped < excess && !i.is_open();
        dropped += usize::from(drop);
        !drop
    });
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::events::EventKind;

    fn plan(status: Status) -> WorkloadPlan {
        let yaml = "workloads:\n  - name: api\n    namespace: web\n    file: api.csv\n    target_per_replica: 100\n";
        let config = crate::app::config::parse(
            yaml,
            std::path::Path::new("t.yaml"),
            std::path::Path::new("."),
        )
        .unwrap();
        let mut plan = WorkloadPlan::failed(&config.workloads[0], Some(0), status, String::new());
        plan.status = status;
        plan.min_replicas = Some(2);
        plan.max_replicas = Some(10);
        plan.target_per_replica = Some(100.0);
        plan
    }

    fn finding(cause: Cause) -> Finding {
        Finding {
            cause,
            load: Some(1500.0),
            capacity: Some(1000.0),
            started: None,
            blocked_by: "max ceiling 10".into(),
        }
    }

    #[test]
    fn an_incident_opens_continues_and_closes_on_the_first_clear_run() {
        let plan = plan(Status::NeedsOperator);
        let mut incidents = Vec::new();
        let first = advance(
            &mut incidents,
            &[finding(Cause::NeedsOperator)],
            &plan,
            "t1",
        );
        assert_eq!(first.opened.len(), 1);
        assert_eq!(first.opened[0].id, "web/api#1");
        assert_eq!(incidents.iter().filter(|i| i.is_open()).count(), 1);
        let second = advance(
            &mut incidents,
            &[finding(Cause::NeedsOperator)],
            &plan,
            "t2",
        );
        assert!(second.opened.is_empty() && second.closed.is_empty());
        assert_eq!(
            (incidents[0].runs, incidents[0].last_seen.as_str()),
            (2, "t2")
        );
        // The operator raised max: a lower load against more capacity. The
        // incident keeps its highest load with the capacity it met.
        // Each run's load against the capacity it met, and what the
        // incident keeps: its highest load with that capacity.
        for (at, load, capacity, kept) in [
            // The operator raised max: a lower load against more capacity.
            ("t2b", 1200.0, 3000.0, (1500.0, 1000.0)),
            ("t2c", 2000.0, 1200.0, (2000.0, 1200.0)),
        ] {
            let found = Finding {
                load: Some(load),
                capacity: Some(capacity),
                ..finding(Cause::NeedsOperator)
            };
            advance(&mut incidents, &[found], &plan, at);
            assert_eq!(
                (incidents[0].load, incidents[0].capacity),
                (Some(kept.0), Some(kept.1)),
                "{at}"
            );
        }
        let third = advance(&mut incidents, &[], &plan, "t3");
        assert_eq!(third.closed.len(), 1);
        assert_eq!(incidents[0].closed.as_deref(), Some("t3"));
        assert_eq!(incidents.iter().filter(|i| i.is_open()).count(), 0);
        // The same cause again is a new incident, counted on.
        let again = advance(
            &mut incidents,
            &[finding(Cause::NeedsOperator)],
            &plan,
            "t4",
        );
        assert_eq!(again.opened[0].id, "web/api#2");
    }

    #[test]
    fn a_spike_incident_stays_open_while_the_spike_hovers_near_the_cap() {
        let mut plan = plan(Status::Ok);
        plan.in_spike = true;
        let mut incidents = Vec::new();
        advance(
            &mut incidents,
            &[finding(Cause::SpikeAboveMax)],
            &plan,
            "t1",
        );
        // A run a little under what max carries (1000), the spike going on:
        // still open, not closed to be opened again by the next run above.
        plan.load_now = Some(950.0);
        let near = advance(&mut incidents, &[], &plan, "t2");
        assert!(near.closed.is_empty(), "{near:?}");
        assert_eq!(incidents[0].last_seen, "t2");
        // Well under it, or the spike over: closed.
        plan.load_now = Some(850.0);
        let under = advance(&mut incidents, &[], &plan, "t3");
        assert_eq!(under.closed.len(), 1);
        let mut other = Vec::new();
        plan.load_now = Some(950.0);
        advance(&mut other, &[finding(Cause::SpikeAboveMax)], &plan, "t1");
        plan.in_spike = false;
        assert_eq!(advance(&mut other, &[], &plan, "t2").closed.len(), 1);
    }

    #[test]
    fn each_cause_has_its_own_incident() {
        let plan = plan(Status::NeedsOperator);
        let mut incidents = Vec::new();
        let both = [finding(Cause::NeedsOperator), finding(Cause::AtMax)];
        let changes = advance(&mut incidents, &both, &plan, "t1");
        let ids: Vec<&str> = changes.opened.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["web/api#1", "web/api#2"]);
        let changes = advance(&mut incidents, &both[1..], &plan, "t2");
        assert_eq!(changes.closed.len(), 1);
        assert_eq!(changes.closed[0].cause, Cause::NeedsOperator);
        assert_eq!(incidents.iter().filter(|i| i.is_open()).count(), 1);
    }

    #[test]
    fn open_incidents_are_kept_and_old_closed_ones_dropped() {
        let plan = plan(Status::NeedsOperator);
        let mut incidents = Vec::new();
        advance(&mut incidents, &[finding(Cause::AtMax)], &plan, "t0");
        for k in 0..INCIDENTS_KEPT + 5 {
            advance(
                &mut incidents,
                &[finding(Cause::AtMax), finding(Cause::NeedsOperator)],
                &plan,
                &format!("a{k}"),
            );
            advance(
                &mut incidents,
                &[finding(Cause::AtMax)],
                &plan,
                &format!("b{k}"),
            );
        }
        assert_eq!(incidents.len(), INCIDENTS_KEPT);
        assert_eq!(incidents.iter().filter(|i| i.is_open()).count(), 1);
        assert_eq!(
            incidents.iter().find(|i| i.is_open()).unwrap().id,
            "web/api#1"
        );
    }

    #[test]
    fn a_page_is_open_as_of_a_moment_between_its_opening_and_closing() {
        let plan = plan(Status::NeedsOperator);
        let mut incidents = Vec::new();
        advance(
            &mut incidents,
            &[finding(Cause::NeedsOperator)],
            &plan,
            "2026-01-02T00:00:00Z",
        );
        assert!(paging(&incidents, None));
        advance(&mut incidents, &[], &plan, "2026-01-02T06:00:00Z");
        assert!(!paging(&incidents, None));
        assert!(paging(&incidents, Some("2026-01-02T03:00:00Z")));
        assert!(!paging(&incidents, Some("2026-01-01T23:00:00Z")));
        assert!(!paging(&incidents, Some("2026-01-02T06:00:00Z")));
    }

    #[test]
    fn an_operator_change_goes_to_the_open_incident_else_the_latest() {
        let plan = plan(Status::NeedsOperator);
        let mut incidents = Vec::new();
        assert!(attribute(&mut incidents, "max 3 → 40", "t0").is_empty());
        advance(
            &mut incidents,
            &[finding(Cause::NeedsOperator)],
            &plan,
            "t1",
        );
        assert_eq!(attribute(&mut incidents, "max 3 → 40", "t2"), ["web/api#1"]);
        advance(&mut incidents, &[], &plan, "t2");
        // Closed: a later change still belongs to the last incident.
        assert_eq!(attribute(&mut incidents, "headroom", "t3"), ["web/api#1"]);
        let changes: Vec<&str> = incidents[0]
            .operator_changes
            .iter()
            .map(|c| c.what.as_str())
            .collect();
        assert_eq!(changes, ["max 3 → 40", "headroom"]);
        // A spike opens and closes after it; the same edit found again
        // (the HPA left as the operator left it) stays #1's, noted once.
        let mut spike = finding(Cause::SpikeAboveMax);
        spike.started = Some("t4".into());
        advance(&mut incidents, &[spike], &plan, "t4");
        advance(&mut incidents, &[], &plan, "t5");
        let (noted, anew) = attribute_anew(&mut incidents, &[], "max 3 → 40", "t6", true);
        assert_eq!((noted, anew), (vec!["web/api#1".to_string()], false));
        assert!(incidents[1].operator_changes.is_empty());
        // A new change after both: the latest incident's; so is a note in
        // the same words as one before (news, not a change found again).
        assert_eq!(
            attribute(&mut incidents, "max 40 → 60", "t7"),
            ["web/api#2"]
        );
        assert_eq!(attribute(&mut incidents, "max 3 → 40", "t8"), ["web/api#2"]);
    }

    #[test]
    fn a_max_raised_on_the_hpa_above_the_ceiling_is_suggested_until_the_config_takes_it() {
        let config = Fingerprint {
            min_floor: 2,
            min_ceiling: 100,
            max_floor: 2,
            max_ceiling: 3,
            target_per_replica: 100.0,
            headroom: 1.2,
        };
        let mut learned = Vec::new();
        let noted = ["web/api#1".to_string()];
        // Not during an incident: nothing to learn from.
        assert_eq!(
            learn(&mut learned, &config, Some(((2, 40), "HPA max")), &[], "t1"),
            []
        );
        let new = learn(
            &mut learned,
            &config,
            Some(((2, 40), "HPA max")),
            &noted,
            "t1",
        );
        assert_eq!(
            (new[0].setting.as_str(), new[0].value),
            ("max_replicas.ceiling", 40)
        );
        assert_eq!(learned.len(), 1);
        // A min raised above its ceiling too; the max, learned already, is
        // no news.
        let low_min = Fingerprint {
            min_ceiling: 4,
            ..config
        };
        let new = learn(
            &mut learned,
            &low_min,
            Some(((8, 40), "HPA min")),
            &noted,
            "t1",
        );
        assert_eq!(
            new.iter()
                .map(|l| (l.setting.as_str(), l.value))
                .collect::<Vec<_>>(),
            [("min_replicas.ceiling", 8)]
        );
        assert_eq!(learned.len(), 2);
        learn(&mut learned, &config, None, &[], "t2");
        assert_eq!(learned.len(), 1, "the config's min ceiling 100 takes 8");
        // Kept while the config has not taken it; dropped once it has.
        learn(&mut learned, &config, None, &[], "t2");
        assert_eq!(learned.len(), 1);
        let taken = Fingerprint {
            max_ceiling: 40,
            ..config
        };
        learn(&mut learned, &taken, None, &[], "t3");
        assert!(learned.is_empty());
    }

    #[test]
    fn a_cause_seen_again_is_a_repeat() {
        let plan = plan(Status::NeedsOperator);
        let mut incidents = Vec::new();
        advance(
            &mut incidents,
            &[finding(Cause::NeedsOperator)],
            &plan,
            "t1",
        );
        advance(&mut incidents, &[finding(Cause::AtMax)], &plan, "t2");
        advance(
            &mut incidents,
            &[finding(Cause::NeedsOperator)],
            &plan,
            "t3",
        );
        let tally = Tally::of("web", "api", &incidents);
        assert_eq!((tally.open, tally.repeats), (1, 1), "{incidents:?}");
    }

    #[test]
    fn a_fingerprint_names_each_setting_that_changed() {
        let before = Fingerprint {
            min_floor: 2,
            min_ceiling: 100,
            max_floor: 2,
            max_ceiling: 3,
            target_per_replica: 2000.0,
            headroom: 1.2,
        };
        let after = Fingerprint {
            max_ceiling: 40,
            headroom: 1.5,
            ..before
        };
        assert_eq!(
            after.changes_since(&before),
            ["max_replicas.ceiling 3 → 40", "headroom 1.2 → 1.5"]
        );
        assert!(before.changes_since(&before).is_empty());
    }

    #[test]
    fn an_ongoing_spike_above_what_max_carries_is_a_finding() {
        let spike = |start: &str, after: f64| crate::core::plan::Event {
            kind: EventKind::Spike,
            start: start.into(),
            end: Some("2026-01-02T00:00:00Z".into()),
            before: 500.0,
            after,
        };
        let mut plan = plan(Status::Ok);
        plan.events = vec![
            spike("2026-01-01T23:00:00Z", 1800.0),
            spike("2026-01-01T10:00:00Z", 900.0),
        ];
        // The latest spike is going on, above what max 10 × 100 carries.
        plan.in_spike = true;
        let found = findings(&plan, &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].cause, Cause::SpikeAboveMax);
        assert_eq!(
            (found[0].load, found[0].capacity),
            (Some(1800.0), Some(1000.0))
        );
        // The same spikes, over: nothing to heal.
        plan.in_spike = false;
        assert!(findings(&plan, &[]).is_empty());

        // Judged against the max in force after `apply`: one kept at 20
        // (the replicas running) carries the 1800; one held at 8 by the
        // step limit does not carry a spike of 900 that max 10 would, and
        // the finding says which max is which.
        plan.in_spike = true;
        plan.in_force_max = Some(20);
        assert!(findings(&plan, &[]).is_empty());
        plan.events.truncate(1);
        plan.events[0].after = 900.0;
        plan.in_force_max = None;
        assert!(findings(&plan, &[]).is_empty());
        plan.in_force_max = Some(8);
        let found = findings(&plan, &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].capacity, Some(800.0));
        assert!(
            found[0]
                .blocked_by
                .ends_with("above the 800 that max 8 carries (the max in force after this run; 10 recommended): its peak needs 9 replicas at 100 a replica"),
            "{}",
            found[0].blocked_by
        );
        assert!(plan.spike_above_max().is_some());
        assert_eq!(findings_under(&plan, &[], Some(10)), Vec::new());

        // Come down within what max carries, though still above where it
        // rose from: nothing is capped, nothing to page for.
        plan.in_force_max = None;
        plan.events[0].after = 1800.0;
        plan.load_now = Some(700.0);
        assert!(findings(&plan, &[]).is_empty());
        assert!(plan.spike_above_max().is_none());
        // Still above it: capped now, and the finding says the load now.
        plan.load_now = Some(1200.0);
        let found = findings(&plan, &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].blocked_by,
            "a spike peaking at 1800 (at 1200 over the last 15 minutes) is going on above the 1000 that max 10 carries: it needs 12 replicas now, 18 at its peak, at 100 a replica"
        );
    }

    #[test]
    fn a_plan_needing_an_operator_is_a_finding_with_its_numbers() {
        let mut plan = plan(Status::NeedsOperator);
        plan.expected_load = Some(crate::core::plan::ExpectedLoad {
            low: 100.0,
            high: 1500.0,
        });
        let found = findings(&plan, &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].cause, Cause::NeedsOperator);
        assert_eq!(
            (found[0].load, found[0].capacity),
            (Some(1500.0), Some(1000.0))
        );
        assert!(findings(&self::plan(Status::Ok), &[]).is_empty());
    }
}
