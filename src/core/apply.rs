//! Apply stage (pure): what to change on each HPA, after the safety rules.
//!
//! A recommendation is not applied as is. Each rule that holds a change
//! back says so in words, so that the report shows why an HPA did not get
//! what was recommended:
//! - nothing is applied for a workload whose status is not `ok`;
//! - a step limit per run: at most ×`max_step_up` up and ×`max_step_down`
//!   down (always at least one replica either way);
//! - min is not lowered while a spike is going on, while the HPA sits at
//!   its max, or when the forecast is in doubt (its interval rests on too
//!   few backtest errors);
//! - max is not lowered below the replicas the HPA runs now (that would
//!   stop pods at once);
//! - hysteresis: a change of less than `hysteresis` (10%) of the current
//!   value is not worth a patch;
//! - and none of these keeps or sets a bound outside the configured floors
//!   and ceilings: a bound outside them goes to the edge at once.
//!
//! The cluster I/O is in [`crate::edge::cluster`]; this module only decides.

use crate::core::bounds::ReplicaRange;
use crate::core::plan::{Status, WorkloadPlan};
use crate::core::workload::CurrentBounds;
use serde::Serialize;

/// The safety rules' settings (`apply:` in the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApplyRules {
    /// Largest factor up per run (1.5).
    pub max_step_up: f64,
    /// Smallest factor down per run (0.8).
    pub max_step_down: f64,
    /// Relative change below which nothing is patched (0.1).
    pub hysteresis: f64,
    /// Seconds: a run this soon after the last (by the clock) that finds
    /// the bounds it left is a rerun of it (a Job retried after exit 1, a
    /// run started again by hand), and steps from where it started. Ten
    /// minutes, under the shipped `CronJob`'s 15; 0 makes every run step.
    pub rerun_window: i64,
    /// Seconds between two runs of `apply` (the shipped `CronJob`'s 15
    /// minutes): a run in `mode: schedule` makes the rises due before
    /// the next one.
    pub every: i64,
}

impl Default for ApplyRules {
    fn default() -> Self {
        ApplyRules {
            max_step_up: 1.5,
            max_step_down: 0.8,
            hysteresis: 0.1,
            rerun_window: 600,
            every: 900,
        }
    }
}

/// An HPA as read from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveHpa {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// `status.currentReplicas`, when the HPA has a status.
    pub current_replicas: Option<u32>,
    /// The bounds homeostat's annotation says it last applied, if any.
    pub last_applied: Option<(u32, u32)>,
    /// Field managers other than homeostat that own `minReplicas` or
    /// `maxReplicas` (`kubectl`, `argocd-controller`, ...), and which.
    pub other_managers: Vec<BoundOwner>,
}

/// A field manager that owns one or both of an HPA's bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundOwner {
    pub manager: String,
    pub min: bool,
    pub max: bool,
}

/// Field managers of imperative writes (`kubectl create`, `autoscale`,
/// `edit`, `patch`, `scale`; older kubectl wrote as `kubectl`): a field
/// they wrote is owned by them in the server's bookkeeping, yet nothing of
/// theirs will write it back, so homeostat may take it over once, on first
/// contact (server-side apply with force), instead of failing on every HPA
/// made with kubectl.
/// A declarative owner — a server-side apply manager (Argo CD, Flux,
/// `kubectl apply --server-side`), Helm, or client-side `kubectl apply`
/// (`kubectl-client-side-apply`), whose next apply of the manifest writes
/// drifted fields back by a three-way merge — is never taken over: the
/// conflict is reported. (Client-side apply was taken over until
/// 2026-12-07: the pipeline's next `kubectl apply` put the manifest's
/// bounds back, and every run after failed on the conflict.)
pub const IMPERATIVE_MANAGERS: [&str; 8] = [
    "kubectl",
    "kubectl-autoscale",
    "kubectl-create",
    "kubectl-edit",
    "kubectl-patch",
    "kubectl-scale",
    "kubectl-replace",
    "kubectl-set",
];

impl LiveHpa {
    /// Whether homeostat may take the bounds over: it has never applied
    /// them (no annotation of its own: the handover from whoever created
    /// the HPA) and every other owner wrote them imperatively (see
    /// [`IMPERATIVE_MANAGERS`]). Once homeostat has applied them, another
    /// writer's change is an operator's decision — the doctor's fix of
    /// issue 21 — and is reported and learned from, never overwritten.
    #[must_use]
    pub fn bounds_taken_over_safely(&self) -> bool {
        self.last_applied.is_none() && self.written_imperatively()
    }

    /// The bounds' other owners all wrote them imperatively (see
    /// [`IMPERATIVE_MANAGERS`]): nothing of theirs writes them back.
    #[must_use]
    pub fn written_imperatively(&self) -> bool {
        !self.other_managers.is_empty()
            && self
                .other_managers
                .iter()
                .all(|o| IMPERATIVE_MANAGERS.contains(&o.manager.as_str()))
    }

    /// The HPA's bounds changed by someone else since homeostat last
    /// applied them, in words (`maxReplicas 3 → 40 (by kubectl)`).
    #[must_use]
    pub fn changed_by_others(&self) -> Option<String> {
        self.changed_since(self.last_applied?)
    }

    /// The HPA's bounds changed from `(min, max)`, in words, with the field
    /// managers that own the bounds that changed.
    #[must_use]
    pub fn changed_since(&self, (min, max): (u32, u32)) -> Option<String> {
        let mut parts = Vec::new();
        if min != self.min_replicas {
            parts.push(format!("minReplicas {min} → {}", self.min_replicas));
        }
        if max != self.max_replicas {
            parts.push(format!("maxReplicas {max} → {}", self.max_replicas));
        }
        if parts.is_empty() {
            return None;
        }
        // The owners of the bounds that changed.
        let owners: Vec<&str> = self
            .other_managers
            .iter()
            .filter(|o| (o.min && min != self.min_replicas) || (o.max && max != self.max_replicas))
            .map(|o| o.manager.as_str())
            .collect();
        let by = if owners.is_empty() {
            String::new()
        } else {
            format!(" (by {})", owners.join(", "))
        };
        Some(format!("HPA {}{by}", parts.join(", ")))
    }
}

/// What the recommendation is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// The HPA read from the cluster.
    Live(LiveHpa),
    /// `current:` in the config (no cluster, e.g. a `GitOps` pipeline).
    Config(CurrentBounds),
    /// The bounds in the `GitOps` YAML the last run wrote (no cluster).
    Yaml(CurrentBounds),
    /// Neither.
    Unknown,
}

/// What `apply` does to one HPA, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub namespace: String,
    pub name: String,
    pub hpa: String,
    pub status: Status,
    /// `cluster`, `config`, `yaml` (the last run's `GitOps` YAML) or
    /// `nothing`: what the values were compared with.
    pub compared_with: &'static str,
    pub from_min: Option<u32>,
    pub from_max: Option<u32>,
    pub recommended_min: Option<u32>,
    pub recommended_max: Option<u32>,
    /// The values to set (after the rules); `None` when nothing is applied.
    pub to_min: Option<u32>,
    pub to_max: Option<u32>,
    /// Whether the HPA needs a patch.
    pub patch: bool,
    /// Each rule that held the recommendation back, in words.
    pub held_back: Vec<String>,
}

/// `current` moved towards `wanted` by at most the step limits.
fn step_limited(current: u32, wanted: u32, rules: &ApplyRules) -> u32 {
    let up =
        ((f64::from(current) * rules.max_step_up).floor() as u32).max(current.saturating_add(1));
    let down = ((f64::from(current) * rules.max_step_down).ceil() as u32)
        .min(current.saturating_sub(1))
        .max(1);
    wanted.clamp(down.min(current), up)
}

/// The configured ranges of min and max: no rule keeps or sets a bound
/// outside them (a max left at 21 under a ceiling of 20 stayed there run
/// after run).
fn configured_ranges(
    plan: &WorkloadPlan,
) -> (std::ops::RangeInclusive<u32>, std::ops::RangeInclusive<u32>) {
    match plan.limits {
        Some(limits) => limit_ranges(limits),
        None => (1..=u32::MAX, 1..=u32::MAX),
    }
}

/// The ranges of min and max the config's `min_replicas` and
/// `max_replicas` allow.
#[must_use]
pub fn limit_ranges(
    (low, high): (ReplicaRange, ReplicaRange),
) -> (std::ops::RangeInclusive<u32>, std::ops::RangeInclusive<u32>) {
    (
        low.floor()..=low.ceiling().min(high.ceiling()).max(low.floor()),
        high.floor()..=high.ceiling().max(high.floor()),
    )
}

/// The min `apply` sets in `mode: schedule` on an HPA whose min is `from`,
/// for this run's scheduled min `wanted`, after a run (`every` before,
/// within the hour) that wanted `wanted_before`, within `range` (the configured one):
/// [`decide`]'s rules for min — a rise made whatever its size, a drop
/// within the hysteresis not made, each step limited — then
/// [`hold_schedule_drop`]'s. The replay runs the schedule by it; the holds
/// that read the live HPA (a spike going on, the HPA at its max) are not
/// in it.
#[must_use]
pub fn scheduled_min_applied(
    from: u32,
    wanted: u32,
    wanted_before: Option<u32>,
    rules: &ApplyRules,
    range: &std::ops::RangeInclusive<u32>,
) -> u32 {
    let small = f64::from(wanted.abs_diff(from)) < rules.hysteresis * f64::from(from);
    let to = if wanted < from && small && range.contains(&from) {
        from
    } else {
        wanted
    };
    let to = step_limited(from, to, rules).clamp(*range.start(), *range.end());
    match wanted_before {
        Some(before) if to < from && before > to => {
            before.min(from).clamp(*range.start(), *range.end())
        }
        _ => to,
    }
}

/// Bounds kept as someone else set them (a hand edit of the `GitOps` YAML),
/// but within the configured ranges: the part outside goes to the range's
/// edge at once, as any bound does. What moved, in words, when any.
#[must_use]
pub fn kept_within_ranges(
    plan: &WorkloadPlan,
    (min, max): (u32, u32),
) -> ((u32, u32), Vec<String>) {
    let (min_range, max_range) = configured_ranges(plan);
    let mut said = Vec::new();
    let mut edge = |name: &str, value: u32, range: &std::ops::RangeInclusive<u32>| {
        let moved = value.clamp(*range.start(), *range.end());
        if moved != value {
            said.push(format!(
                "{name} {value} → {moved}: the edge of its configured range {}..{} at once",
                range.start(),
                range.end()
            ));
        }
        moved
    };
    let min = edge("min", min, &min_range);
    let max = edge("max", max, &max_range).max(min);
    ((min, max), said)
}

/// Decides what to do with `plan`'s recommendation against `baseline`.
#[must_use]
pub fn decide(plan: &WorkloadPlan, baseline: Baseline, rules: &ApplyRules) -> Change {
    // In schedule mode, min is the schedule's for now.
    let wanted_min = plan.scheduled_min.or(plan.min_replicas);
    let (compared_with, from, live) = match baseline {
        Baseline::Live(live) => (
            "cluster",
            Some((live.min_replicas, live.max_replicas)),
            Some(live),
        ),
        Baseline::Config(c) => ("config", Some((c.min_replicas, c.max_replicas)), None),
        Baseline::Yaml(c) => ("yaml", Some((c.min_replicas, c.max_replicas)), None),
        Baseline::Unknown => ("nothing", None, None),
    };
    let mut change = Change {
        namespace: plan.namespace.clone(),
        name: plan.name.clone(),
        hpa: plan.hpa.clone(),
        status: plan.status,
        compared_with,
        from_min: from.map(|f| f.0),
        from_max: from.map(|f| f.1),
        recommended_min: wanted_min,
        recommended_max: plan.max_replicas,
        to_min: None,
        to_max: None,
        patch: false,
        held_back: Vec::new(),
    };
    // Paging for a ceiling too low (`needs_operator`): the bounds are the
    // operator's to decide, but max still rises towards the recommended
    // one, by the rules of any change (it stayed at 9 of a ceiling of 12
    // for seven hours of pages). Never lowered, min left as it is: an
    // operator's raise stands.
    let paging = plan.status == Status::NeedsOperator;
    let (Status::Ok | Status::NeedsOperator, Some(min), Some(max), false) = (
        plan.status,
        wanted_min,
        plan.max_replicas,
        paging && from.is_none(),
    ) else {
        change
            .held_back
            .push(format!("status {}: nothing applied", plan.status.as_str()));
        return change;
    };
    // A load out of proportion to `target_per_replica` (a unit mistake,
    // most likely): its range is no one's to apply until the config is
    // checked (40,000,000 for 40,000 walked max down to its floor).
    if plan.bounds.as_ref().is_some_and(|b| b.unit_suspect) {
        change.held_back.push(
            "target_per_replica is in doubt (the load needs under a tenth of a replica, or 100 times today's max: see the reasons): nothing applied until the config is checked".to_string(),
        );
        return change;
    }
    let Some((from_min, from_max)) = from else {
        if plan.untrustworthy_model {
            change.held_back.push(format!(
                "the model is not trusted{} and the HPA's bounds are unknown (no cluster, no `current:`): nothing applied",
                untrusted_error(plan)
            ));
            return change;
        }
        change.held_back.push(
            "the HPA's bounds are unknown (no cluster, no `current:`): the recommendation is written as is, without step limits".to_string(),
        );
        change.to_min = Some(min);
        change.to_max = Some(max);
        change.patch = true;
        return change;
    };
    let held = &mut change.held_back;
    let (min_range, max_range) = configured_ranges(plan);
    // A rerun of the last run steps from where that run started, as its
    // plan did (see `Workload::step_base`).
    let (base_min, base_max) = plan
        .step_base
        .filter(|_| {
            plan.current
                .is_some_and(|c| (c.min_replicas, c.max_replicas) == (from_min, from_max))
        })
        .map_or((from_min, from_max), |b| (b.min_replicas, b.max_replicas));
    let (min, max) = if paging {
        (from_min, max.max(from_max))
    } else {
        (min, max)
    };
    // A model that fails its backtest (`untrustworthy_model`) moves no
    // bound that rests on its forecast: min stays where it is and max only
    // rises (room to heal), within the configured ranges. The reports list
    // no change for such a workload, yet `apply` set the new min all the
    // same (a VM's min 2 → 5 on a model with twice the seasonal naive's
    // error). Before the hysteresis, which then sees what is wanted. A
    // schedule's min is followed still: held, it stays at a peak's count
    // all night (replayed on a VM: replica-hours +120% → +217%).
    let untrusted_min = plan.untrustworthy_model && plan.scheduled_min.is_none();
    let (min, max) = if plan.untrustworthy_model {
        let error = untrusted_error(plan);
        if untrusted_min && min != base_min && min_range.contains(&base_min) {
            held.push(format!(
                "min {base_min} → {min} not made: the model is not trusted{error}"
            ));
        }
        if max < base_max && max_range.contains(&base_max) {
            held.push(format!(
                "max not lowered ({base_max} → {max}): the model is not trusted{error}"
            ));
        }
        (
            if untrusted_min { base_min } else { min },
            max.max(base_max),
        )
    } else {
        (min, max)
    };
    // Hysteresis on the whole recommended change (on the step-limited one,
    // a large change cut to a small step would never be made).
    let wanted_max = max;
    let [min, mut max] = [
        ("min", base_min, min, &min_range),
        ("max", base_max, max, &max_range),
    ]
    .map(|(name, from, to, range)| {
        let step = f64::from(to.abs_diff(from));
        // A paging max is not held for a small step: 17 of a ceiling of
        // 18 stayed 17, run after run, while the load needed more. Nor is
        // a scheduled min's rise: it pre-scales for the expected load (a
        // review saw min held at 11 against a scheduled 12 through an
        // evening peak that needed 13 to 15).
        let scheduled_rise = name == "min" && plan.scheduled_min.is_some() && to > from;
        let small = step < rules.hysteresis * f64::from(from)
            && !(paging && name == "max")
            && !scheduled_rise;
        if to != from && small && range.contains(&from) {
            held.push(format!(
                "{name} {from} → {to}: less than the {}% hysteresis, unchanged",
                rules.hysteresis * 100.0
            ));
            from
        } else {
            to
        }
    });
    // Never held down onto min when the recommendation has room above it:
    // min = max is an HPA that cannot scale.
    if max != wanted_max && max <= min && wanted_max > min {
        held.retain(|h| !h.starts_with("max "));
        max = wanted_max;
    }
    // The step limit, but never outside the range: a bound outside it goes
    // to its edge at once.
    // Said as what moved it: the step limit, or the range's edge (a bound
    // outside the configured range goes there at once).
    let limited = |name: &str, from: u32, to: u32, range: &std::ops::RangeInclusive<u32>| {
        let stepped = step_limited(from, to, rules);
        let moved = stepped.clamp(*range.start(), *range.end());
        let why = if moved != stepped {
            Some(format!(
                "{name} {from} → {to}: {moved} this run, the edge of its configured range {}..{} at once (then at most ×{} up, ×{} down per run)",
                range.start(),
                range.end(),
                rules.max_step_up,
                rules.max_step_down
            ))
        } else if moved != to {
            Some(format!(
                "{name} {from} → {to} limited to {moved} this run (at most ×{} up, ×{} down per run)",
                rules.max_step_up, rules.max_step_down
            ))
        } else {
            None
        };
        (moved, why)
    };
    let (mut to_min, why) = limited("min", base_min, min, &min_range);
    held.extend(why);
    let (mut to_max, why) = limited("max", base_max, max, &max_range);
    held.extend(why);
    let running = live.and_then(|l| l.current_replicas);
    if to_min < from_min {
        let why = if plan.in_spike {
            Some("a spike is going on".to_string())
        } else if let Some(r) = running.filter(|&r| r >= from_max) {
            Some(format!("the HPA sits at its max ({r} replicas)"))
        } else if plan.thin_interval {
            Some(
                "the forecast is in doubt (its interval rests on too few backtest errors)"
                    .to_string(),
            )
        } else {
            None
        };
        if let Some(why) = why {
            held.push(format!("min not lowered ({from_min} → {to_min}): {why}"));
            to_min = from_min;
        }
    }
    if let Some(r) = running.filter(|&r| to_max < from_max && to_max < r) {
        let kept = r.min(from_max);
        held.push(format!(
            "max not lowered below the {r} replicas the HPA runs now ({from_max} → {to_max}: {kept})"
        ));
        to_max = kept;
    }
    // Whatever held a bound back, it stays inside the configured range.
    to_min = to_min.clamp(*min_range.start(), *min_range.end());
    to_max = to_max.clamp(*max_range.start(), *max_range.end());
    if to_max < to_min {
        to_max = to_min;
    }
    if paging {
        // Min as it is, whatever the rules above said of it; only a raise
        // of max is made, and said with what held it.
        change.held_back.retain(|h| !h.starts_with("min "));
        if to_max <= from_max {
            change
                .held_back
                .insert(0, "status needs_operator: nothing applied".to_string());
            return change;
        }
        change.held_back.insert(
            0,
            format!(
                "status needs_operator: only max raised ({from_max} → {to_max}, {} recommended); the rest waits for the operator",
                plan.max_replicas.unwrap_or(to_max)
            ),
        );
        to_min = from_min;
        to_max = to_max.max(to_min);
    }
    change.to_min = Some(to_min);
    change.to_max = Some(to_max);
    change.patch = (to_min, to_max) != (from_min, from_max);
    change
}

/// " (its backtest error is N times a daily seasonal naive's)", when
/// known: why an untrusted model's change is held.
fn untrusted_error(plan: &WorkloadPlan) -> String {
    plan.validation_mase.map_or(String::new(), |m| {
        format!(
            " (its backtest error is {} times a daily seasonal naive's)",
            crate::core::bounds::readable(m, 3)
        )
    })
}

impl Change {
    /// The max the HPA has after this run: the one applied (or that would
    /// be, in a dry run), else the one it had; `None` when neither is known.
    #[must_use]
    pub fn in_force_max(&self) -> Option<u32> {
        self.to_max.or(self.from_max)
    }
}

/// Annotation holding the last applied recommendation (JSON) on an HPA
/// and its `GitOps` document.
pub const ANNOTATION: &str = "homeostat.io/last-recommendation";

/// Seconds within which the last run's schedule counts for
/// [`hold_schedule_drop`]: an hour (runs come every 15 minutes).
pub const SCHEDULE_AGREE_WITHIN: i64 = 3_600;

/// The part of a run's `schedule` a later run reads to agree with it
/// ([`wanted_by_last_run`]): the entry in force at `now` and those that
/// begin before any run within [`SCHEDULE_AGREE_WITHIN`] has looked
/// `every` ahead. Not the whole week: the store keeps it per run.
#[must_use]
pub fn schedule_ahead(
    schedule: &[crate::core::bounds::ScheduledMin],
    now: i64,
    every: i64,
) -> Vec<crate::core::bounds::ScheduledMin> {
    let in_force = schedule
        .partition_point(|e| e.from <= now)
        .saturating_sub(1);
    schedule
        .iter()
        .skip(in_force)
        .take_while(|e| e.from < now + SCHEDULE_AGREE_WITHIN + every)
        .copied()
        .collect()
}

/// What the last run wanted for this run's moment, and how that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastWish {
    /// The min its schedule had due at this run's moment.
    ForNow(u32),
    /// Only the min it wanted at its own moment: its schedule is not in
    /// the store (written by an older homeostat, or trimmed: a replay of
    /// a moment long before the store's last run).
    AtItsTime(u32),
}

impl LastWish {
    #[must_use]
    pub fn min(self) -> u32 {
        match self {
            LastWish::ForNow(min) | LastWish::AtItsTime(min) => min,
        }
    }
}

/// What the last run wanted for a run at `now`: the min its schedule
/// (`ahead`, see [`schedule_ahead`]) has due then, as this run reads its
/// own ([`crate::core::plan::min_due`]); without it the min it wanted at
/// its own time, `wanted_then`. The same moment, not the last run's: a
/// planned drop at 14:00 was held to 14:15 because the 13:45 run wanted
/// the busier 13:45's min, though its schedule already had the drop for
/// 14:00.
#[must_use]
pub fn wanted_by_last_run(
    ahead: &[crate::core::bounds::ScheduledMin],
    wanted_then: Option<u32>,
    now: i64,
    every: i64,
) -> Option<LastWish> {
    crate::core::plan::min_due(ahead, now, every)
        .map(LastWish::ForNow)
        .or(wanted_then.map(LastWish::AtItsTime))
}

/// The wish of the last run before a run at `now`, from a workload's run
/// history: the latest record whose moment is more than
/// `rules.rerun_window` before now and at most
/// [`SCHEDULE_AGREE_WITHIN`]. A run sooner is a rerun of this one, not a
/// second opinion: a Job retried 40 seconds later agreed with the run it
/// retried, and dropped what that run had held.
#[must_use]
pub fn last_wish(
    history: &[crate::core::incident::RunRecord],
    now: i64,
    rules: &ApplyRules,
) -> Option<LastWish> {
    let ago = |r: &crate::core::incident::RunRecord| {
        crate::core::time::parse_timestamp(&r.at)
            .ok()
            .map(|then| now - then)
    };
    let last = history
        .iter()
        .rev()
        .find(|r| ago(r).is_some_and(|a| a > rules.rerun_window.max(0)))?;
    if ago(last).is_none_or(|a| a > SCHEDULE_AGREE_WITHIN) {
        return None;
    }
    wanted_by_last_run(&last.schedule_ahead, last.scheduled_min, now, rules.every)
}

/// In `mode: schedule`, min is lowered only when the last run (within
/// [`SCHEDULE_AGREE_WITHIN`]) wanted a min as low too for this moment
/// (`wanted_before`, see [`wanted_by_last_run`]):
/// a forecast hovering at the edge of a replica made each run's schedule
/// say 2, then 3, then 2 for the same hour, and min flipped with every
/// run (5 patches in 2.5 hours on a tweet-volume trace, drops lasting 15
/// minutes). A raise is never held: it is the safe side. Without a
/// recent run to agree with, nothing is held (the first run, a day's gap).
pub fn hold_schedule_drop(
    change: &mut Change,
    plan: &WorkloadPlan,
    wanted_before: Option<LastWish>,
) {
    let (Some(_), Some(wish), Some(from), Some(to)) = (
        plan.scheduled_min,
        wanted_before,
        change.from_min,
        change.to_min,
    ) else {
        return;
    };
    let before = wish.min();
    let wanted = match wish {
        LastWish::ForNow(_) => format!("the last run's schedule wanted {before} for now"),
        LastWish::AtItsTime(_) => format!(
            "the last run wanted {before} at its own time (its schedule is not in the model store)"
        ),
    };
    if to < from && before > to {
        // As low as both runs want (a schedule falling one replica a run
        // still falls, a run behind), inside the configured range.
        let (min_range, max_range) = configured_ranges(plan);
        let held = before.min(from).clamp(*min_range.start(), *min_range.end());
        change.held_back.push(if held < from {
            format!(
                "min lowered only to {held} ({from} → {to}): {wanted}, and the schedule lowers min only as far as two runs in a row want it (a forecast at the edge of a replica would flip it every run)"
            )
        } else {
            format!(
                "min not lowered ({from} → {to}): {wanted}, and the schedule lowers min only as far as two runs in a row want it (a forecast at the edge of a replica would flip it every run)"
            )
        });
        change.to_min = Some(held);
        change.to_max = change
            .to_max
            .map(|max| max.clamp(*max_range.start(), *max_range.end()).max(held));
        change.patch = (change.to_min, change.to_max) != (change.from_min, change.from_max);
    }
}

/// An HPA at its max for longer than this (in a row) calls an operator.
pub const AT_MAX_ALERT: i64 = 15 * 60;

/// Where the time-at-max check looks from: the last run (an hour back for
/// a first run), but at least twice [`AT_MAX_ALERT`] back, so that a stretch
/// begun before the last run is seen whole; never more than a day back.
#[must_use]
pub fn at_max_window_start(last_run: Option<i64>, now: i64) -> i64 {
    last_run
        .filter(|&t| t < now)
        .unwrap_or(now - 3_600)
        .min(now - 2 * AT_MAX_ALERT)
        .max(now - 86_400)
}

/// The kube-state-metrics query that is 1 while the HPA sits at its max.
#[must_use]
pub fn at_max_query(namespace: &str, hpa: &str) -> String {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let selector = format!(
        "{{namespace=\"{}\",horizontalpodautoscaler=\"{}\"}}",
        quote(namespace),
        quote(hpa)
    );
    format!(
        "max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{selector}) >= bool max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{selector})"
    )
}

/// The longest run of consecutive samples (`step` apart) at 1, in seconds
/// (each sample stands for one step), among the runs that last until
/// `after` or later (those over before it were an earlier run's to report).
#[must_use]
pub fn longest_at_max(samples: &[crate::core::series::Sample], step: i64, after: i64) -> i64 {
    let (mut longest, mut run, mut previous) = (0, 0, None);
    for s in samples {
        let at_max = s.value >= 1.0;
        run = match (at_max, previous) {
            (false, _) => 0,
            (true, Some(p)) if s.ts - p == step && run > 0 => run + step,
            (true, _) => step,
        };
        if s.ts >= after {
            longest = longest.max(run);
        }
        previous = Some(s.ts);
    }
    longest
}

/// A problem found outside the plan (applying a patch, reading the
/// cluster) that an operator must hear of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trouble {
    pub namespace: String,
    pub workload: String,
    /// The `reason` label: `patch_failed`, `at_max`, ….
    pub reason: String,
    /// `critical` or `warning`.
    pub severity: String,
    pub summary: String,
    pub description: String,
    pub fix: String,
}

/// What `homeostat apply` did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApplyRun {
    pub generated_at: String,
    pub dry_run: bool,
    /// Whether the HPAs were read from a cluster (else from `current:`).
    pub cluster: bool,
    pub changes: Vec<Change>,
    /// `(namespace/name, what failed)`: reading or patching an HPA.
    pub failures: Vec<(String, String)>,
    /// Patches that were (or, in a dry run, would be) applied: server-side
    /// apply bodies.
    #[serde(skip)]
    pub patches: Vec<serde_json::Value>,
    /// Every HPA's bounds as they should be after this run, for the
    /// `GitOps` YAML: the patches, and the HPAs left as they are (a file
    /// that lists only this run's changes would drop the last run's from
    /// the repository, and the bounds would flap back to the base).
    #[serde(skip)]
    pub desired: Vec<serde_json::Value>,
    /// Workloads with no bounds to put there (no recommendation this run,
    /// or one not applied, and no live HPA read): `namespace/name` and why.
    #[serde(skip)]
    pub not_desired: Vec<(String, String)>,
    /// HPAs (namespace, name) whose document this run writes anew even
    /// when its bounds stay: a person's edit homeostat took back.
    #[serde(skip)]
    pub rewritten: std::collections::HashSet<(String, String)>,
    /// HPAs (namespace, name) planned for a moment (`--at`) earlier than
    /// their store's last run: a replay, whose `GitOps` document stays as
    /// the last run wrote it (a replay must not move the repository back
    /// in time, as it does not move the store).
    #[serde(skip)]
    pub replayed: std::collections::HashSet<(String, String)>,
    /// Per workload (namespace, name): the max its HPA has after the run,
    /// when known — the one applied (or that a dry run or the `GitOps`
    /// YAML would set), the one it had when the patch failed.
    #[serde(skip)]
    pub in_force_max: std::collections::HashMap<(String, String), u32>,
    /// The alerts this run raises beyond the plan's: an HPA that sat at
    /// its max, a read or patch that failed (in the JSON as `alerts`).
    #[serde(rename = "alerts")]
    pub troubles: Vec<Trouble>,
    /// What changed since the last run, per workload, from the model store.
    pub since_last_run: Vec<(String, String)>,
    /// Model store files set aside or not written, in words.
    pub store_problems: Vec<String>,
    /// Checks that could not be made (e.g. time at max from Prometheus).
    pub warnings: Vec<String>,
    /// Incidents opened and closed by this run (see [`crate::core::incident`]),
    /// and how many are open after it.
    pub incidents_opened: Vec<crate::core::incident::Incident>,
    pub incidents_closed: Vec<crate::core::incident::Incident>,
    pub incidents_open: usize,
    /// Per workload with any incident: its open incidents and its repeats
    /// (incidents of a cause it had had before), for the run metrics.
    #[serde(skip)]
    pub incident_tallies: Vec<crate::core::incident::Tally>,
    /// The stable label of each failure and store problem (e.g.
    /// `field_conflict`, `store_unwritable`), for the logs' run summary.
    #[serde(skip)]
    pub error_labels: Vec<&'static str>,
}

/// An HPA document of the `GitOps` YAML, by (namespace, name).
pub type HpaDocument = ((String, String), serde_json::Value);

impl ApplyRun {
    /// Every HPA's desired bounds as YAML documents (`---` between them),
    /// then, for each HPA in `wanted` this run has no document for (a
    /// signal stopped it first, or it had no recommendation and no live
    /// HPA to read), its document in `earlier` (the file the last run
    /// wrote) as it was: the file is the repository's record, and an HPA
    /// missing from it would fall back to its base bounds at the next sync.
    #[must_use]
    pub fn patches_yaml(
        &self,
        earlier: &[HpaDocument],
        wanted: &std::collections::HashSet<(String, String)>,
    ) -> String {
        let key = |body: &serde_json::Value| {
            let field = |f: &str| body["metadata"][f].as_str().unwrap_or_default().to_string();
            (field("namespace"), field("name"))
        };
        let written: std::collections::HashSet<(String, String)> =
            self.desired.iter().map(key).collect();
        // A patch is written with its own record, always.
        let patched: std::collections::HashSet<(String, String)> =
            self.patches.iter().map(key).collect();
        // A bound as a number, or as a quoted one (`"10"`, as `yq` and
        // templates write them): the same bound.
        let bound = |v: &serde_json::Value| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        };
        let bounds = |body: &serde_json::Value| {
            (
                bound(&body["spec"]["minReplicas"]),
                bound(&body["spec"]["maxReplicas"]),
            )
        };
        // The run's bounds (and record, when it writes one) in `before`,
        // everything else of it kept: labels, other annotations,
        // `spec.behavior`, whatever a person or another tool put there.
        let onto = |before: &serde_json::Value, body: &serde_json::Value, record: bool| {
            let mut merged = before.clone();
            for field in ["minReplicas", "maxReplicas"] {
                merged["spec"][field] = body["spec"][field].clone();
            }
            let annotation = &body["metadata"]["annotations"][ANNOTATION];
            if record && !annotation.is_null() {
                merged["metadata"]["annotations"][ANNOTATION] = annotation.clone();
            }
            merged
        };
        // An HPA whose bounds stay keeps its document as it was, the last
        // change's record in its annotation with it: a document changes
        // only when its bounds do (rewritten with the bounds alone, every
        // patch made a second commit 6 hours later that lost its reasons).
        let documents: Vec<serde_json::Value> = self
            .desired
            .iter()
            .map(|body| {
                let k = key(body);
                match earlier.iter().find(|(e, _)| *e == k) {
                    Some((e, before)) if self.replayed.contains(e) => before.clone(),
                    Some((e, before))
                        if bounds(before) == bounds(body)
                            && !self.rewritten.contains(e)
                            && !patched.contains(e) =>
                    {
                        // Quoted bounds written as numbers: the API takes
                        // no string for them.
                        onto(before, body, false)
                    }
                    Some((_, before)) => onto(before, body, true),
                    None => body.clone(),
                }
            })
            .chain(
                earlier
                    .iter()
                    .filter(|(k, _)| wanted.contains(k) && !written.contains(k))
                    .map(|(_, body)| body.clone()),
            )
            .collect();
        serde_saphyr::to_string_multiple(&documents).expect("JSON values always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedules_min_is_lowered_when_the_last_run_wanted_it_as_low() {
        let change = |from: u32, to: u32| Change {
            namespace: "shop".into(),
            name: "cart".into(),
            hpa: "cart".into(),
            status: Status::Ok,
            compared_with: "cluster",
            from_min: Some(from),
            from_max: Some(10),
            recommended_min: Some(to),
            recommended_max: Some(10),
            to_min: Some(to),
            to_max: Some(10),
            patch: from != to,
            held_back: Vec::new(),
        };
        let scheduled = |min: Option<u32>| WorkloadPlan {
            scheduled_min: min,
            ..plan(Status::Ok, 2, 10)
        };
        // The last run wanted 3: held, and said.
        let mut c = change(3, 2);
        hold_schedule_drop(&mut c, &scheduled(Some(2)), Some(LastWish::ForNow(3)));
        assert_eq!((c.to_min, c.patch), (Some(3), false));
        assert!(c.held_back[0]
            .starts_with("min not lowered (3 → 2): the last run's schedule wanted 3 for now"));
        // Known only at its own time: held all the same, and said so.
        let mut c = change(3, 2);
        hold_schedule_drop(&mut c, &scheduled(Some(2)), Some(LastWish::AtItsTime(3)));
        assert_eq!(c.to_min, Some(3));
        assert!(c.held_back[0].starts_with(
            "min not lowered (3 → 2): the last run wanted 3 at its own time (its schedule is not in the model store)"
        ));
        // It wanted 2 too, or there is no recent run, or it is no schedule:
        // lowered.
        for (min, before) in [
            (Some(2), Some(LastWish::ForNow(2))),
            (Some(2), None),
            (None, Some(LastWish::ForNow(3))),
        ] {
            let mut c = change(3, 2);
            hold_schedule_drop(&mut c, &scheduled(min), before);
            assert_eq!((c.to_min, c.patch), (Some(2), true), "{min:?} {before:?}");
        }
        // A schedule falling a replica a run falls a run behind, not held
        // at its peak: 20 → 16 wanted after a run that wanted 17 is 17.
        let mut c = change(20, 16);
        c.from_max = Some(30);
        c.to_max = Some(30);
        hold_schedule_drop(&mut c, &scheduled(Some(16)), Some(LastWish::ForNow(17)));
        assert_eq!((c.to_min, c.patch), (Some(17), true));
        assert!(c.held_back[0].starts_with("min lowered only to 17 (20 → 16)"));
        // A raise is never held.
        let mut c = change(2, 3);
        hold_schedule_drop(&mut c, &scheduled(Some(3)), Some(LastWish::ForNow(2)));
        assert_eq!(c.to_min, Some(3));
    }

    #[test]
    fn the_last_runs_wish_is_what_its_schedule_has_due_at_this_runs_moment() {
        use crate::core::bounds::ScheduledMin;
        let entry = |from: i64, min_replicas: u32| ScheduledMin { from, min_replicas };
        let (t, every) = (1_000_000, 900);
        // 5 until t + 15 minutes, 3 after it, 6 in two hours.
        let schedule = [entry(t - 3600, 5), entry(t + 900, 3), entry(t + 7200, 6)];
        // Kept: the entry in force and those an hour's runs look at.
        let ahead = schedule_ahead(&schedule, t, every);
        assert_eq!(ahead, schedule[..2]);
        // The run at t wanted 5; for the run at t + 15 minutes its
        // schedule had the drop to 3 due: the drop is agreed at once.
        assert_eq!(
            wanted_by_last_run(&ahead, Some(5), t, every),
            Some(LastWish::ForNow(5))
        );
        assert_eq!(
            wanted_by_last_run(&ahead, Some(5), t + every, every),
            Some(LastWish::ForNow(3))
        );
        // A record without its schedule (an older homeostat): what it wanted.
        assert_eq!(
            wanted_by_last_run(&[], Some(5), t + every, every),
            Some(LastWish::AtItsTime(5))
        );
        assert_eq!(wanted_by_last_run(&[], None, t + every, every), None);
    }

    #[test]
    fn the_last_run_is_the_latest_outside_the_rerun_window_within_the_hour() {
        use crate::core::bounds::ScheduledMin;
        use crate::core::incident::RunRecord;
        use crate::core::time::format_timestamp;
        let t = 1_428_000_000;
        let rules = ApplyRules::default();
        let record = |at: i64, wanted: u32, ahead: Vec<ScheduledMin>| RunRecord {
            at: format_timestamp(at),
            status: "ok".into(),
            scheduled_min: Some(wanted),
            schedule_ahead: ahead,
            ..RunRecord::default()
        };
        // The run 15 minutes ago wanted 6 then, and its schedule 5 from now.
        let entries = vec![
            ScheduledMin {
                from: t - 900,
                min_replicas: 6,
            },
            ScheduledMin {
                from: t,
                min_replicas: 5,
            },
        ];
        let mut history = vec![record(t - 900, 6, entries)];
        assert_eq!(last_wish(&history, t, &rules), Some(LastWish::ForNow(5)));
        // A retry of this moment 40 seconds after it is a rerun, not the
        // run to agree with: the one 15 minutes before still is.
        history.push(record(t + 40, 6, Vec::new()));
        assert_eq!(
            last_wish(&history, t + 80, &rules),
            Some(LastWish::ForNow(5))
        );
        // Without its schedule: what it wanted at its own time.
        history[0].schedule_ahead.clear();
        assert_eq!(last_wish(&history, t, &rules), Some(LastWish::AtItsTime(6)));
        // The last run more than an hour ago: none to agree with.
        assert_eq!(last_wish(&history, t + 40 + 3601, &rules), None);
    }

    #[test]
    fn the_replays_scheduled_min_is_what_decide_and_the_drop_hold_set() {
        // Every move of a scheduled min between 1 and 14, after a run that
        // wanted any of them or none, with the default rules and a floor
        // of 2: the replay's rule and `apply`'s agree.
        let rules = ApplyRules::default();
        let floor = ReplicaRange::new(2, 40).unwrap();
        let ceiling = ReplicaRange::new(1, 50).unwrap();
        let (range, _) = limit_ranges((floor, ceiling));
        for from in 1..15 {
            for wanted in 1..15 {
                for before in std::iter::once(None).chain((1..15).map(Some)) {
                    let wish = before.map(LastWish::ForNow);
                    let plan = WorkloadPlan {
                        scheduled_min: Some(wanted),
                        limits: Some((floor, ceiling)),
                        ..plan(Status::Ok, 2, 30)
                    };
                    let baseline = Baseline::Config(CurrentBounds {
                        min_replicas: from,
                        max_replicas: 30,
                    });
                    let mut change = decide(&plan, baseline, &rules);
                    hold_schedule_drop(&mut change, &plan, wish);
                    assert_eq!(
                        change.to_min,
                        Some(scheduled_min_applied(from, wanted, before, &rules, &range)),
                        "{from} → {wanted} after {before:?}: {:?}",
                        change.held_back
                    );
                }
            }
        }
    }

    #[test]
    fn a_range_whose_target_per_replica_is_in_doubt_is_not_applied() {
        let mut plan = plan(Status::Ok, 2, 16);
        let derivation = crate::core::bounds::Derivation {
            replicas: 2,
            load: 1.0,
            at: None,
            quantile: 0.5,
            basis: crate::core::bounds::Basis::Expected,
            raw: 1.0,
            clamp: None,
        };
        let mut bounds = crate::core::bounds::ReplicaBounds {
            min: derivation.clone(),
            max: derivation,
            expected_low: 0.0,
            expected_high: 0.0,
            needs_operator: Vec::new(),
            notes: Vec::new(),
            unit_suspect: true,
        };
        plan.bounds = Some(bounds.clone());
        let c = decide(&plan, live(4, 24, 4), &ApplyRules::default());
        assert_eq!(to(&c), (None, None, false));
        assert!(c.held_back[0].contains("target_per_replica is in doubt"));
        bounds.unit_suspect = false;
        plan.bounds = Some(bounds);
        let c = decide(&plan, live(4, 24, 4), &ApplyRules::default());
        assert!(c.patch);
    }

    fn plan(status: Status, min: u32, max: u32) -> WorkloadPlan {
        WorkloadPlan {
            min_replicas: Some(min),
            max_replicas: Some(max),
            ..WorkloadPlan::empty("shop", "cart", "cart-hpa", status)
        }
    }

    fn live(min: u32, max: u32, running: u32) -> Baseline {
        Baseline::Live(LiveHpa {
            min_replicas: min,
            max_replicas: max,
            current_replicas: Some(running),
            last_applied: None,
            other_managers: Vec::new(),
        })
    }

    fn to(change: &Change) -> (Option<u32>, Option<u32>, bool) {
        (change.to_min, change.to_max, change.patch)
    }

    #[test]
    fn a_small_change_is_applied_as_recommended() {
        let c = decide(
            &plan(Status::Ok, 4, 12),
            live(3, 10, 5),
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (Some(4), Some(12), true));
        assert!(c.held_back.is_empty(), "{:?}", c.held_back);
        assert_eq!(c.compared_with, "cluster");
    }

    #[test]
    fn steps_are_limited_per_run_and_say_so() {
        let c = decide(
            &plan(Status::Ok, 10, 40),
            live(2, 10, 3),
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (Some(3), Some(15), true));
        assert!(
            c.held_back[0].contains("min 2 → 10 limited to 3"),
            "{:?}",
            c.held_back
        );
        // Down: at most ×0.8, yet always one replica.
        let c = decide(
            &plan(Status::Ok, 1, 4),
            live(3, 20, 3),
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (Some(2), Some(16), true));
    }

    #[test]
    fn a_large_change_cut_to_a_small_step_still_moves() {
        let rules = ApplyRules {
            max_step_up: 1.05,
            ..ApplyRules::default()
        };
        let c = decide(&plan(Status::Ok, 3, 80), live(3, 40, 4), &rules);
        assert_eq!(to(&c), (Some(3), Some(42), true));
        // An overflowing `current:` saturates instead of panicking.
        let huge = Baseline::Config(CurrentBounds {
            min_replicas: 1,
            max_replicas: u32::MAX,
        });
        assert_eq!(
            decide(&plan(Status::Ok, 1, 8), huge, &rules)
                .to_max
                .map(|m| m >= 8),
            Some(true)
        );
    }

    #[test]
    fn min_is_not_lowered_in_a_spike_at_max_or_in_doubt() {
        let rules = ApplyRules::default();
        let mut spiking = plan(Status::Ok, 4, 20);
        spiking.in_spike = true;
        let c = decide(&spiking, live(5, 20, 12), &rules);
        assert_eq!(to(&c), (Some(5), Some(20), false));
        assert!(
            c.held_back[0].contains("a spike is going on"),
            "{:?}",
            c.held_back
        );
        let c = decide(&plan(Status::Ok, 4, 20), live(5, 20, 20), &rules);
        assert!(c.held_back[0].contains("sits at its max (20 replicas)"));
        assert_eq!(c.to_min, Some(5));
        let mut doubtful = plan(Status::Ok, 4, 20);
        doubtful.thin_interval = true;
        let c = decide(&doubtful, live(5, 20, 6), &rules);
        assert_eq!(c.to_min, Some(5));
        assert!(c.held_back[0].contains("in doubt"));
    }

    #[test]
    fn an_untrusted_model_moves_no_min_and_only_raises_max() {
        let rules = ApplyRules::default();
        let mut untrusted = plan(Status::Ok, 5, 8);
        untrusted.untrustworthy_model = true;
        untrusted.validation_mase = Some(2.06);
        let c = decide(&untrusted, live(2, 10, 3), &rules);
        assert_eq!(to(&c), (Some(2), Some(10), false));
        assert!(
            c.held_back
                .iter()
                .any(|h| h.starts_with("min 2 → 5 not made") && h.contains("2.06 times")),
            "{:?}",
            c.held_back
        );
        assert!(c.held_back.iter().any(|h| h.starts_with("max not lowered")));
        // Room to heal still grows.
        let mut rising = plan(Status::Ok, 1, 14);
        rising.untrustworthy_model = true;
        let c = decide(&rising, live(2, 10, 3), &rules);
        assert_eq!(to(&c), (Some(2), Some(14), true));
        // What is wanted meets the hysteresis: max 20 → 21 is held
        // (the min of 20 that would lift it is not made).
        let mut near = plan(Status::Ok, 20, 21);
        near.untrustworthy_model = true;
        let c = decide(&near, live(2, 20, 3), &rules);
        assert_eq!(to(&c), (Some(2), Some(20), false));
        // Without the HPA's bounds, nothing is applied.
        let c = decide(&untrusted, Baseline::Unknown, &rules);
        assert_eq!(to(&c), (None, None, false));
        assert!(c.held_back[0].contains("nothing applied"));
        // A schedule's min is followed (held, it would stay at a peak's
        // count all night); max still only rises.
        let mut scheduled = plan(Status::Ok, 2, 8);
        scheduled.untrustworthy_model = true;
        scheduled.scheduled_min = Some(5);
        let c = decide(&scheduled, live(4, 10, 3), &rules);
        assert_eq!(to(&c), (Some(5), Some(10), true));
        // A trusted model's min moves (by the step limit).
        let c = decide(&plan(Status::Ok, 5, 8), live(2, 10, 3), &rules);
        assert_eq!(c.to_min, Some(3));
    }

    #[test]
    fn max_is_not_lowered_below_the_running_replicas() {
        let c = decide(
            &plan(Status::Ok, 2, 9),
            live(2, 10, 10),
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (Some(2), Some(10), false));
        assert!(
            c.held_back.iter().any(|h| h.contains("runs now")),
            "{:?}",
            c.held_back
        );
    }

    #[test]
    fn the_longest_stretch_at_max_counts_consecutive_minutes_only() {
        let at = |ts: i64, value: f64| crate::core::series::Sample { ts, value };
        let samples = [
            at(0, 1.0),
            at(60, 1.0),
            at(120, 0.0),
            at(180, 1.0),
            at(240, 1.0),
            at(300, 1.0),
            // A gap breaks the stretch.
            at(600, 1.0),
        ];
        assert_eq!(longest_at_max(&samples, 60, 0), 180);
        // Only stretches lasting until the last run or later.
        assert_eq!(longest_at_max(&samples, 60, 250), 180);
        assert_eq!(longest_at_max(&samples, 60, 400), 60);
        assert_eq!(longest_at_max(&[], 60, 0), 0);
        assert_eq!(at_max_window_start(None, 10_000), 6_400);
        // Never less than twice the alert's span back.
        assert_eq!(at_max_window_start(Some(9_000), 10_000), 8_200);
        assert_eq!(at_max_window_start(Some(1), 100_000), 100_000 - 86_400);
        assert!(at_max_query("shop", "cart")
            .contains("kube_horizontalpodautoscaler_spec_max_replicas{namespace=\"shop\",horizontalpodautoscaler=\"cart\"}"));
    }

    #[test]
    fn in_schedule_mode_the_scheduled_min_is_applied() {
        let mut scheduled = plan(Status::Ok, 2, 12);
        scheduled.scheduled_min = Some(6);
        let c = decide(&scheduled, live(5, 12, 5), &ApplyRules::default());
        assert_eq!((c.recommended_min, c.to_min), (Some(6), Some(6)));
    }

    #[test]
    fn no_rule_keeps_or_sets_a_bound_outside_the_configured_ranges() {
        let ranges = |min: (u32, u32), max: (u32, u32)| {
            Some((
                crate::core::bounds::ReplicaRange::new(min.0, min.1).unwrap(),
                crate::core::bounds::ReplicaRange::new(max.0, max.1).unwrap(),
            ))
        };
        let rules = ApplyRules::default();
        // Max 21 under a ceiling of 20: not "within the hysteresis".
        let mut over = plan(Status::Ok, 3, 20);
        over.limits = ranges((1, 1000), (1, 20));
        assert_eq!(
            to(&decide(&over, live(3, 21, 3), &rules)),
            (Some(3), Some(20), true)
        );
        // Min 18 under a floor of 19 likewise.
        let mut under = plan(Status::Ok, 19, 24);
        under.limits = ranges((19, 1000), (1, 1000));
        assert_eq!(
            to(&decide(&under, live(18, 24, 18), &rules)),
            (Some(19), Some(24), true)
        );
        // A step down from 30 stops at the ceiling 19, not at 24.
        let mut stepped = plan(Status::Ok, 3, 9);
        stepped.limits = ranges((1, 1000), (1, 19));
        let c = decide(&stepped, live(2, 30, 2), &rules);
        assert_eq!(to(&c).1, Some(19));
        // Said as what moved it: the range's edge, not the step.
        assert!(
            c.held_back.iter().any(|h| h
                == "max 30 → 9: 19 this run, the edge of its configured range 1..19 at once (then at most ×1.5 up, ×0.8 down per run)"),
            "{:?}",
            c.held_back
        );
        // A min held up by a spike still respects its ceiling.
        let mut spiking = plan(Status::Ok, 2, 10);
        spiking.limits = ranges((1, 5), (1, 10));
        spiking.in_spike = true;
        assert_eq!(to(&decide(&spiking, live(8, 10, 8), &rules)).0, Some(5));
    }

    #[test]
    fn a_scheduled_min_rises_past_the_hysteresis_and_falls_within_it() {
        let mut scheduled = plan(Status::Ok, 3, 20);
        scheduled.scheduled_min = Some(12);
        let c = decide(&scheduled, live(11, 20, 11), &ApplyRules::default());
        assert_eq!(to(&c), (Some(12), Some(20), true), "{:?}", c.held_back);
        // A one-replica drop under 10% still waits (fewer patches).
        scheduled.scheduled_min = Some(11);
        let c = decide(&scheduled, live(12, 20, 12), &ApplyRules::default());
        assert_eq!(to(&c), (Some(12), Some(20), false), "{:?}", c.held_back);
    }

    #[test]
    fn changes_within_the_hysteresis_are_not_patched() {
        let c = decide(
            &plan(Status::Ok, 3, 21),
            live(3, 20, 4),
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (Some(3), Some(20), false));
        assert!(c.held_back[0].contains("max 20 → 21: less than the 10% hysteresis"));
        // Never held onto min: 20..20 would be an HPA that cannot scale.
        let c = decide(
            &plan(Status::Ok, 20, 21),
            live(15, 20, 15),
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (Some(20), Some(21), true));
        assert!(
            c.held_back.iter().all(|h| !h.starts_with("max ")),
            "{:?}",
            c.held_back
        );
    }

    #[test]
    fn only_ok_workloads_are_applied_but_a_paging_max_rises_and_config_or_nothing_can_be_the_baseline(
    ) {
        // Paging, max where the recommendation is (or an operator's above
        // it): nothing applied.
        for hpa_max in [20, 40] {
            let c = decide(
                &plan(Status::NeedsOperator, 3, 20),
                live(3, hpa_max, 4),
                &ApplyRules::default(),
            );
            assert_eq!(to(&c), (None, None, false));
            assert_eq!(c.held_back, ["status needs_operator: nothing applied"]);
        }
        let c = decide(
            &plan(Status::InsufficientData, 3, 20),
            live(3, 10, 4),
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (None, None, false));
        // Paging one replica under the recommendation: raised all the same
        // (no hysteresis), and min's rules say nothing (min stays 5, even
        // outside its range).
        let mut paging = plan(Status::NeedsOperator, 3, 18);
        paging.limits = Some((
            crate::core::bounds::ReplicaRange::new(2, 3).unwrap(),
            crate::core::bounds::ReplicaRange::new(2, 18).unwrap(),
        ));
        let c = decide(&paging, live(5, 17, 17), &ApplyRules::default());
        assert_eq!(to(&c), (Some(5), Some(18), true));
        assert_eq!(
            c.held_back,
            ["status needs_operator: only max raised (17 → 18, 18 recommended); the rest waits for the operator"]
        );
        // Paging with max under the recommendation: max alone rises
        // towards it, a step at a time.
        let c = decide(
            &plan(Status::NeedsOperator, 3, 40),
            live(5, 20, 4),
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (Some(5), Some(30), true));
        assert_eq!(
            c.held_back,
            [
                "status needs_operator: only max raised (20 → 30, 40 recommended); the rest waits for the operator",
                "max 20 → 40 limited to 30 this run (at most ×1.5 up, ×0.8 down per run)"
            ]
        );
        let current = CurrentBounds {
            min_replicas: 2,
            max_replicas: 10,
        };
        let c = decide(
            &plan(Status::Ok, 3, 12),
            Baseline::Config(current),
            &ApplyRules::default(),
        );
        assert_eq!((c.compared_with, c.patch), ("config", true));
        let c = decide(
            &plan(Status::Ok, 3, 12),
            Baseline::Unknown,
            &ApplyRules::default(),
        );
        assert_eq!(to(&c), (Some(3), Some(12), true));
        assert_eq!(c.compared_with, "nothing");
    }
}
