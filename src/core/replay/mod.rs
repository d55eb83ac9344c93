//! Replay (pure): what an HPA would have done on a workload's real load
//! under several policies for its bounds, replanned as the batch job would
//! have been (the simulated HPA is in `hpa`).

mod hpa;
mod incidents;

pub use hpa::*;
pub use incidents::{replay_learning, IncidentCounts, ReplayIncidents};

use crate::core::apply::scheduled_min_applied;
use crate::core::bounds::{
    from_now, schedule_ceiling, schedule_floor, schedule_loads, schedule_min, schedule_need,
    ScheduledMin,
};
use crate::core::evaluate::mase_scale;
use crate::core::model::Forecast;
use crate::core::model::Level;
use crate::core::plan::{
    min_due, plan_in_fleet, scheduled_load_now, signed_percent, step_in_progress_end, Fleet, Status,
};
use crate::core::series::RawSeries;
use crate::core::series::{resample, GridOptions, Series};
use crate::core::workload::Workload;
use serde::Serialize;

/// How a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplaySettings {
    /// Replayed time: `[from, to)`, unix seconds.
    pub from: i64,
    pub to: i64,
    /// Seconds between the batch job's runs.
    pub replan: i64,
    /// Startup and utilization of the simulated HPA (its target comes from
    /// the workload).
    pub startup: i64,
    pub target_utilization: f64,
    /// The schedule raises min this long before the expected load, on top
    /// of `startup`.
    pub buffer: i64,
    /// The schedule follows the upper end of this interval; `None`: the
    /// workload's `schedule_level` (by default the forecast mean).
    pub schedule_level: Option<Level>,
    /// Also replay the runs with learning (see [`replay_learning`]).
    pub learning: bool,
    /// Seconds of history the workload has at `from` (a cold start: the
    /// runs see nothing older); `None`: all of it.
    pub cold_start: Option<i64>,
    /// `apply`'s rules (`apply:` in the config): the schedule policy's min
    /// is set as `apply` sets it, every `apply_rules.every` (see
    /// [`crate::core::apply::scheduled_min_applied`]).
    pub apply_rules: crate::core::apply::ApplyRules,
}

/// One run of the batch job inside the replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replan {
    #[serde(serialize_with = "crate::core::time::serialize_timestamp")]
    pub at: i64,
    pub status: Status,
    pub min_replicas: Option<u32>,
    pub max_replicas: Option<u32>,
    /// The range `apply` set from it (min, max): the HPA's until the next
    /// run; none when the run set nothing (no recommendation).
    pub applied: Option<(u32, u32)>,
    /// MASE of its forecast mean over the day that followed (scaled by the
    /// daily seasonal naive's in-sample error), when both are known.
    pub mase_next_day: Option<f64>,
}

/// The bounds policies a replay compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// The HPA's bounds of today, unchanged.
    Reactive,
    /// An operator's rule of thumb, set once at the start of the replay
    /// from the history before it: min for the last week's 5th-percentile
    /// load, max 1.2 × the last 28 days' highest load, inside the
    /// workload's floors and ceilings.
    Tight,
    /// homeostat's recommended min and max, replaced at every replan.
    Horizon,
    /// The recommended max; min following the expected load ahead.
    Schedule,
    /// Perfect knowledge of the load: what no policy can beat.
    Oracle,
}

impl Policy {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Reactive => "reactive",
            Policy::Tight => "tight",
            Policy::Horizon => "horizon",
            Policy::Schedule => "schedule",
            Policy::Oracle => "oracle",
        }
    }
}

/// One policy's outcome (DESIGN.md's `{"policy", "overload_minutes", …}`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PolicyOutcome {
    pub policy: Policy,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// One workload's replay: each policy's outcome on the same load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadReplay {
    pub name: String,
    pub namespace: String,
    #[serde(serialize_with = "crate::core::time::serialize_timestamp")]
    pub from: i64,
    #[serde(serialize_with = "crate::core::time::serialize_timestamp")]
    pub to: i64,
    /// Reactive, tight, horizon, schedule, oracle, in that order.
    pub policies: Vec<PolicyOutcome>,
    pub verdict: String,
    pub replans: Vec<Replan>,
    /// How much the recommendation moved from one replan to the next.
    pub stability: Stability,
    /// The incidents the runs opened, without learning and with it.
    pub incidents: ReplayIncidents,
    /// The tight rule had the week of load before the replay that it reads
    /// to set its range from. Without it, its outcome is no baseline: the
    /// table, Markdown and HTML show `-` (a young workload's tight row read
    /// 100% overload minutes beside a verdict saying "no baseline here").
    pub tight_baseline: bool,
    /// What the backtest's chart draws (not in the JSON report).
    #[serde(skip)]
    pub chart: ReplayChart,
}

/// The replayed load and each simulated policy's ready replicas.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplayChart {
    /// The load over the replayed time, on its grid.
    pub load: Vec<(i64, f64)>,
    /// What one ready replica serves before it is overloaded.
    pub capacity: f64,
    /// Schedule, horizon, tight and reactive (the order they are drawn
    /// in): `(t, ready replicas)` at each change.
    pub replicas: Vec<(Policy, Vec<(i64, u32)>)>,
}

impl WorkloadReplay {
    /// Whether `policy`'s outcome is shown in the reports for people:
    /// every policy's but tight's without its week (see
    /// [`Self::tight_baseline`]).
    #[must_use]
    pub fn shown(&self, policy: Policy) -> bool {
        policy != Policy::Tight || self.tight_baseline
    }

    /// The outcome of `policy`.
    #[must_use]
    pub fn outcome(&self, policy: Policy) -> &Outcome {
        &self
            .policies
            .iter()
            .find(|p| p.policy == policy)
            .expect("every policy is replayed")
            .outcome
    }
}

/// Why a workload cannot be replayed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplayError {
    #[error("workload {id}: `current:` (the HPA's bounds today) is needed to compare with a reactive-only HPA")]
    NoCurrent { id: String },
    #[error("workload {id}: nothing to replay")]
    Empty { id: String },
    #[error("workload {id}: {cause}")]
    Grid {
        id: String,
        // `cause`, not `source`: the message already says it.
        cause: crate::core::series::SeriesError,
    },
}

impl ReplayError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            ReplayError::NoCurrent { .. } => "no_current_range",
            ReplayError::Empty { .. } => "nothing_to_replay",
            ReplayError::Grid { .. } => "insufficient_data",
        }
    }
}

/// Replays `workload` on `raw` (which must hold its history before
/// `settings.from` as well as the replayed time). Each replan sees only the
/// samples up to its own time, exactly as the batch job would have.
pub fn replay_workload(
    workload: &Workload,
    raw: &RawSeries,
    settings: &ReplaySettings,
) -> Result<WorkloadReplay, ReplayError> {
    replay_in_fleet(workload, raw, settings, &Fleet::Alone)
}

/// [`replay_workload`], each run planned in `fleet` (see
/// [`crate::core::plan::plan_in_fleet`]).
///
/// # Errors
/// As [`replay_workload`].
pub fn replay_in_fleet(
    workload: &Workload,
    raw: &RawSeries,
    settings: &ReplaySettings,
    fleet: &Fleet,
) -> Result<WorkloadReplay, ReplayError> {
    let id = workload.id();
    let current = workload
        .current
        .ok_or_else(|| ReplayError::NoCurrent { id: id.clone() })?;
    if settings.to <= settings.from || settings.replan <= 0 {
        return Err(ReplayError::Empty { id });
    }
    // A span reaching before the data replays from its first sample: the
    // HPA simulated on load that is not there made an oracle overload 77%
    // of the time. (Runs with too little history to plan from keep today's
    // range, as a batch job's would: under two days, or one hour with the
    // fleet's shapes.)
    let first = raw.samples.iter().map(|s| s.ts).min();
    let asked_from = settings.from;
    let settings = &ReplaySettings {
        from: first.map_or(settings.from, |first| settings.from.max(first)),
        ..*settings
    };
    if settings.to <= settings.from {
        return Err(ReplayError::Empty { id });
    }
    let actual = resample(
        &raw.window(
            settings.to,
            settings.to - settings.from + workload.history.secs(),
        ),
        &GridOptions {
            step: workload.step,
            max_gap: workload.max_gap,
            // The load replayed, not a history to fit: a young workload's
            // hours are enough (its runs say what they can plan from).
            min_history: crate::core::time::Span::from_secs(crate::core::shapes::COLD_MIN_HISTORY)
                .expect("positive constant"),
        },
    )
    .map_err(|cause| ReplayError::Grid {
        id: id.clone(),
        cause,
    })?;
    // A replan shorter than the data's step sees nothing new (and at 1s a
    // week is 604,800 runs).
    let settings = &ReplaySettings {
        replan: settings.replan.max(actual.step),
        ..*settings
    };
    let mut hpa = Hpa::new(workload.policy.target_per_replica);
    hpa.startup = settings.startup;
    hpa.target_utilization = settings.target_utilization;

    let reactive_bounds = vec![BoundsAt {
        from: settings.from,
        min: current.min_replicas,
        max: current.max_replicas,
    }];
    // Today's range until the replay starts: the tight range's move from
    // it is a bound change, as the recommendation's is.
    let tight_bounds = vec![
        BoundsAt {
            from: settings.from - 1,
            min: current.min_replicas,
            max: current.max_replicas,
        },
        tight_bounds(workload, &actual, settings.from),
    ];
    let Replanned {
        horizon: horizon_bounds,
        schedule: schedule_bounds,
        replans,
        incidents: without_learning,
    } = match settings.cold_start {
        Some(history) => {
            let earliest = settings.from - history;
            let young = RawSeries {
                origin: raw.origin.clone(),
                samples: raw
                    .samples
                    .iter()
                    .filter(|s| s.ts > earliest)
                    .copied()
                    .collect(),
            };
            replan(workload, &young, settings, &actual, &hpa, current, fleet)
        }
        None => replan(workload, raw, settings, &actual, &hpa, current, fleet),
    };
    let (with_learning, learned) = if settings.learning {
        let (counts, learned) =
            replay_learning(workload, raw, (settings.from, settings.to, settings.replan));
        (Some(counts), learned)
    } else {
        (None, Vec::new())
    };
    let (from, to) = (settings.from, settings.to);
    let (reactive, reactive_replicas) = simulate_traced(&actual, from, to, &reactive_bounds, &hpa);
    let (tight, tight_replicas) = simulate_traced(&actual, from, to, &tight_bounds, &hpa);
    let (horizon, horizon_replicas) = simulate_traced(&actual, from, to, &horizon_bounds, &hpa);
    let (schedule, schedule_replicas) = simulate_traced(&actual, from, to, &schedule_bounds, &hpa);
    let oracle = oracle(&actual, from, to, &hpa);
    let chart = ReplayChart {
        load: (0..actual.len())
            .map(|i| (actual.timestamp(i), actual.values[i]))
            .filter(|&(t, load)| t >= from && t < to && load.is_finite())
            .collect(),
        capacity: hpa.capacity(),
        // Drawn in this order: today's range last, on top (under the
        // others a review could not see where it sat at its max).
        replicas: vec![
            (Policy::Schedule, schedule_replicas),
            (Policy::Horizon, horizon_replicas),
            (Policy::Tight, tight_replicas),
            (Policy::Reactive, reactive_replicas),
        ],
    };
    let (tight_baseline, tight_said) = tight_caveat(&actual, settings.from);
    Ok(WorkloadReplay {
        name: workload.name.clone(),
        namespace: workload.namespace.clone(),
        from,
        to,
        verdict: verdict(&reactive, &horizon, &schedule)
            + &tight_said
            + &shortened(asked_from, settings.from)
            + &coarse(actual.step),
        tight_baseline,
        policies: [
            (Policy::Reactive, reactive),
            (Policy::Tight, tight),
            (Policy::Horizon, horizon),
            (Policy::Schedule, schedule),
            (Policy::Oracle, oracle),
        ]
        .into_iter()
        .map(|(policy, outcome)| PolicyOutcome { policy, outcome })
        .collect(),
        stability: Stability::of(&replans),
        replans,
        incidents: ReplayIncidents {
            without_learning,
            with_learning,
            learned,
        },
        chart,
    })
}

/// The bounds each replan put in force, and the replans themselves.
struct Replanned {
    horizon: Vec<BoundsAt>,
    schedule: Vec<BoundsAt>,
    replans: Vec<Replan>,
    /// The incidents the runs opened (no one fixing anything).
    incidents: IncidentCounts,
}

/// The batch job rerun every `settings.replan` over the replayed time, each
/// run on the data before it and seeing the range the previous one left on
/// the HPA (as the job reads it from the cluster).
fn replan(
    workload: &Workload,
    raw: &RawSeries,
    settings: &ReplaySettings,
    actual: &Series,
    hpa: &Hpa,
    current: crate::core::workload::CurrentBounds,
    fleet: &Fleet,
) -> Replanned {
    let lead = settings.startup + settings.buffer;
    // Today's range, in force until the first run: its move from it is
    // counted among the bound changes.
    let today = BoundsAt {
        from: settings.from - 1,
        min: current.min_replicas,
        max: current.max_replicas,
    };
    let mut horizon_bounds = vec![today];
    let mut schedule_bounds = vec![today];
    // The schedule's min as `apply` left it, and what the last run wanted.
    let mut scheduled = ScheduleRuns {
        applied: current.min_replicas,
        wanted_before: None,
    };
    let (min_range, _) = crate::core::apply::limit_ranges((
        workload.policy.min_replicas,
        workload.policy.max_replicas,
    ));
    let mut replans = Vec::new();
    let mut last = BoundsAt {
        from: settings.from,
        ..today
    };
    let mut at = settings.from;
    // Each run sees the range the previous one left on the HPA, as the
    // batch job reads it from the cluster.
    let mut running = workload.clone();
    let mut follower = incidents::Follower::default();
    while at < settings.to {
        running.paging = follower.paging();
        let (plan, fitted) = plan_in_fleet(&running, raw, Some(at), fleet);
        follower.observe(&plan, at);
        let fitted_recent = fitted.as_ref().and_then(|f| f.recent_load);
        let forecast = fitted.map(|f| f.forecast);
        let until = (at + settings.replan).min(settings.to);
        // The forecast's next day, scored whatever `apply` made of it.
        let mase_next_day = forecast
            .as_ref()
            .filter(|_| matches!(plan.status, Status::Ok | Status::NeedsOperator))
            .and_then(|forecast| {
                let mean_at = |t: i64| {
                    let i = (t - forecast.start).div_euclid(forecast.step);
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| forecast.mean.get(i))
                        .copied()
                };
                next_day_mase(actual, forecast, at, &mean_at)
            });
        // This run's schedule (a page leaves min as it is: `apply` changes
        // only max then).
        let entries = match (&forecast, plan.status, plan.min_replicas, plan.max_replicas) {
            (Some(forecast), Status::Ok, Some(min), Some(max)) => {
                let level = settings.schedule_level.or(workload.schedule_level);
                let loads = schedule_loads(forecast, level);
                // The steps whose min is due before the next replan.
                let steps = usize::try_from(
                    (until + lead - forecast.start + forecast.step - 1).div_euclid(forecast.step),
                )
                .unwrap_or(0);
                let range = (
                    plan.bounds
                        .as_ref()
                        .map_or(min, |b| schedule_floor(b, &workload.policy)),
                    schedule_ceiling(max, &workload.policy),
                );
                let entries = schedule_min(
                    forecast,
                    &loads,
                    0..steps,
                    lead,
                    hpa.target_per_replica,
                    range,
                );
                let need_now = scheduled_load_now(forecast, &loads, at, fitted_recent)
                    .map_or(range.0, |load| {
                        schedule_need(load, hpa.target_per_replica, range)
                    });
                Some(from_now(
                    entries,
                    at,
                    need_now,
                    step_in_progress_end(forecast, at),
                ))
            }
            _ => None,
        };
        // The range `apply` sets from the plan, at each of its runs until
        // the next replan (every `apply.every`, on a grid from the replay's
        // start): its rules (step limits, hysteresis, only max raised while
        // paging) from the range the last run left. Until 2026-12-07 the
        // replay put the plan's range in force as it was, which no run of
        // `apply` does (a review saw min 2 → 5 → 3 → 6, and a unit
        // mistake's 1000..1000 at once), and the schedule's entries at
        // their exact times.
        let horizon_plan = crate::core::plan::WorkloadPlan {
            // The horizon's min: the schedule's is the schedule policy's.
            scheduled_min: None,
            ..plan.clone()
        };
        let every = settings.apply_rules.every.max(1);
        let mut t = settings.from + (at - settings.from + every - 1).div_euclid(every) * every;
        while t < until {
            let applied = crate::core::apply::decide(
                &horizon_plan,
                crate::core::apply::Baseline::Config(crate::core::workload::CurrentBounds {
                    min_replicas: last.min,
                    max_replicas: last.max,
                }),
                &settings.apply_rules,
            );
            if let (Status::Ok | Status::NeedsOperator, Some(min), Some(max)) =
                (plan.status, applied.to_min, applied.to_max)
            {
                if (min, max) != (last.min, last.max) {
                    last = BoundsAt { from: t, min, max };
                    horizon_bounds.push(last);
                }
            }
            let min = entries.as_ref().map_or(scheduled.applied, |entries| {
                scheduled.at_run(entries, t, &settings.apply_rules, &min_range)
            });
            let bounds = scheduled.kept(BoundsAt {
                from: t,
                min,
                ..last
            });
            if schedule_bounds
                .last()
                .is_none_or(|b: &BoundsAt| (b.min, b.max) != (bounds.min, bounds.max))
            {
                schedule_bounds.push(bounds);
            }
            t += every;
        }
        // The next run plans from the range this one left on the HPA.
        running.current = Some(crate::core::workload::CurrentBounds {
            min_replicas: last.min,
            max_replicas: last.max,
        });
        replans.push(Replan {
            at,
            status: plan.status,
            min_replicas: plan.min_replicas,
            max_replicas: plan.max_replicas,
            // In force after the run: what it set, else what it kept.
            applied: plan
                .min_replicas
                .and(plan.max_replicas)
                .map(|_| (last.min, last.max)),
            mase_next_day,
        });
        at = until;
    }
    Replanned {
        horizon: horizon_bounds,
        schedule: schedule_bounds,
        replans,
        incidents: follower.counts(),
    }
}

/// The tight baseline's bounds from the load before `from`: min for the
/// last week's 5th percentile, max for 1.2 × the last 28 days' highest,
/// each `⌈load / target_per_replica⌉` inside its floor and ceiling.
fn tight_bounds(workload: &Workload, actual: &Series, from: i64) -> BoundsAt {
    let known_before = |days: i64| -> Vec<f64> {
        (0..actual.len())
            .filter(|&i| {
                let t = actual.timestamp(i);
                t < from && t >= from - days * 86_400
            })
            .map(|i| actual.values[i])
            .filter(|v| v.is_finite())
            .collect()
    };
    let capacity = workload.policy.target_per_replica;
    let (min_range, max_range) = (workload.policy.min_replicas, workload.policy.max_replicas);
    let need = |load: f64, range: crate::core::bounds::ReplicaRange| {
        ((load / capacity - 1e-9).ceil().max(1.0) as u32).clamp(range.floor(), range.ceiling())
    };
    let mut week = known_before(7);
    let p5 = if week.is_empty() {
        0.0
    } else {
        week.sort_by(f64::total_cmp);
        week[((0.05 * week.len() as f64) as usize).min(week.len() - 1)]
    };
    let highest = known_before(28).into_iter().fold(0.0, f64::max);
    let min = need(p5, min_range).min(max_range.ceiling());
    let max = need(1.2 * highest, max_range).max(min);
    BoundsAt { from, min, max }
}

/// What the verdict adds when the tight baseline had less than the week of
/// load before the replay that its rule reads (a `--span` as long as the
/// data leaves it nothing, and its bounds then say nothing of an operator's).
/// A replay that began later than asked (the data begins after the
/// span's start), said: the table read as the span asked for.
fn shortened(asked: i64, from: i64) -> String {
    if from <= asked {
        return String::new();
    }
    format!(
        "; replayed from the data's first sample, {} ({} of the span asked for, which began {}, had no data)",
        crate::core::time::format_timestamp(from),
        crate::core::series::human_span(from - asked),
        crate::core::time::format_timestamp(asked)
    )
}

/// Data steps longer than this hide the bursts an HPA meets within them.
const COARSE_STEP: i64 = 300;

/// What the verdict adds when the data's step is coarse: the load is held
/// at each step's value, so overload inside a step is not seen (a review's
/// week at 15-minute steps counted 9 overload minutes where the same
/// week at 1-minute steps counted 120).
fn coarse(step: i64) -> String {
    if step <= COARSE_STEP {
        return String::new();
    }
    format!(
        "; the load is known only every {} (the data's step), held at each step's value: bursts within a step are not seen, so every policy's overload is understated",
        crate::core::series::human_span(step)
    )
}

/// Whether the tight rule had its week of load before the replay, and
/// what the verdict says when it had not.
fn tight_caveat(actual: &Series, from: i64) -> (bool, String) {
    let first_known = (0..actual.len())
        .find(|&i| actual.values[i].is_finite())
        .map(|i| actual.timestamp(i));
    let before = first_known.map_or(0, |t| (from - t).max(0));
    if before >= 7 * 86_400 {
        return (true, String::new());
    }
    if before == 0 {
        return (false, "; tight has no load before the replay to set its range from (its rule reads the last week and 28 days): no baseline here".to_string());
    }
    (
        false,
        format!(
            "; tight rests on {} of load before the replay (its rule reads the last week and 28 days): no fair baseline here",
            crate::core::series::human_span(before)
        ),
    )
}

/// How much the range in force moved between consecutive replans (run to
/// run stability: a max that changes every run is not one an owner trusts),
/// as `apply` set it: the recommendation steps from the HPA's range, so
/// two recommendations in a row differ by what `apply` held back too (49
/// then 88, when `apply` had set 59 and 88).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Stability {
    /// Replans with a recommendation.
    pub runs: usize,
    /// Share of consecutive pairs of them in which max (min) changed.
    pub max_changed_share: f64,
    pub min_changed_share: f64,
    /// Largest ratio between two consecutive maxes (≥ 1; 1 = never moved).
    pub largest_max_jump: f64,
    /// Times a replan entered `needs_operator` (a page) after one that
    /// did not, and that per week of replayed time.
    pub pages: usize,
    pub pages_per_week: f64,
}

impl Stability {
    #[must_use]
    pub fn of(replans: &[Replan]) -> Stability {
        let bounds: Vec<(u32, u32)> = replans.iter().filter_map(|r| r.applied).collect();
        let pairs = bounds.len().saturating_sub(1);
        let share = |changed: usize| {
            if pairs == 0 {
                0.0
            } else {
                changed as f64 / pairs as f64
            }
        };
        let max_changes = bounds.windows(2).filter(|w| w[0].1 != w[1].1).count();
        let min_changes = bounds.windows(2).filter(|w| w[0].0 != w[1].0).count();
        let largest_max_jump = bounds
            .windows(2)
            .map(|w| {
                let (a, b) = (f64::from(w[0].1.max(1)), f64::from(w[1].1.max(1)));
                a.max(b) / a.min(b)
            })
            .fold(1.0, f64::max);
        let mut pages = 0;
        let mut paging = false;
        for r in replans {
            let now = r.status == Status::NeedsOperator;
            pages += usize::from(now && !paging);
            paging = now;
        }
        let weeks = match (replans.first(), replans.last()) {
            (Some(first), Some(last)) if replans.len() > 1 => {
                // The replans are evenly spaced: the span they cover.
                let every = (last.at - first.at) as f64 / (replans.len() - 1) as f64;
                (last.at - first.at) as f64 + every
            }
            _ => 0.0,
        } / (7.0 * 86_400.0);
        Stability {
            runs: bounds.len(),
            max_changed_share: share(max_changes),
            min_changed_share: share(min_changes),
            largest_max_jump,
            pages,
            pages_per_week: if weeks > 0.0 {
                pages as f64 / weeks
            } else {
                0.0
            },
        }
    }
}

/// The schedule policy's min as `apply` sets it, run after run.
struct ScheduleRuns {
    /// The min the last run left on the HPA.
    applied: u32,
    /// When the last run was, its schedule over the next hour and the min
    /// it wanted then.
    wanted_before: Option<(i64, Vec<ScheduledMin>, u32)>,
}

impl ScheduleRuns {
    /// `bounds` with the min the schedule left (max raised to it, as
    /// `apply` does).
    fn kept(&self, bounds: BoundsAt) -> BoundsAt {
        BoundsAt {
            min: self.applied,
            max: bounds.max.max(self.applied),
            ..bounds
        }
    }

    /// The min a run of `apply` at `t` sets from a replan's schedule
    /// `entries`: [`min_due`] before the next run (`rules.every` later),
    /// by [`scheduled_min_applied`]'s rules; the last run's wish counts
    /// only within [`crate::core::apply::SCHEDULE_AGREE_WITHIN`], as in
    /// `apply`.
    fn at_run(
        &mut self,
        entries: &[ScheduledMin],
        t: i64,
        rules: &crate::core::apply::ApplyRules,
        range: &std::ops::RangeInclusive<u32>,
    ) -> u32 {
        if let Some(wanted) = min_due(entries, t, rules.every) {
            let before = self
                .wanted_before
                .as_ref()
                .filter(|(at, ..)| t - at <= crate::core::apply::SCHEDULE_AGREE_WITHIN)
                .and_then(|(_, ahead, then)| {
                    crate::core::apply::wanted_by_last_run(ahead, Some(*then), t, rules.every)
                })
                .map(crate::core::apply::LastWish::min);
            self.applied = scheduled_min_applied(self.applied, wanted, before, rules, range);
            let ahead = crate::core::apply::schedule_ahead(entries, t, rules.every);
            self.wanted_before = Some((t, ahead, wanted));
        }
        self.applied
    }
}

/// MASE of the forecast mean over the day after `at`.
fn next_day_mase(
    actual: &Series,
    forecast: &Forecast,
    at: i64,
    mean_at: &dyn Fn(i64) -> Option<f64>,
) -> Option<f64> {
    let per_day = actual.steps_per_day()?;
    let index = |t: i64| usize::try_from((t - actual.start).div_euclid(actual.step)).ok();
    // A day the data does not reach to its end is no next day's score
    // (a replan near the end of the data was scored on its first hours).
    if index(at + (per_day as i64 - 1) * actual.step)? >= actual.len() {
        return None;
    }
    let cut = index(at)?.min(actual.len());
    let scale = mase_scale(&actual.values[..cut], per_day);
    let errors: Vec<f64> = (0..per_day)
        .filter_map(|k| {
            let t = at + k as i64 * actual.step;
            let a = *actual.values.get(index(t)?)?;
            let m = mean_at(t)?;
            (a.is_finite() && t >= forecast.start).then(|| (a - m).abs())
        })
        .collect();
    (scale > 0.0 && !errors.is_empty())
        .then(|| errors.iter().sum::<f64>() / errors.len() as f64 / scale)
}

/// `schedule: −83% overload minutes at +6% replica-hours vs reactive`.
fn verdict(reactive: &Outcome, horizon: &Outcome, schedule: &Outcome) -> String {
    use std::fmt::Write as _;
    // `−83% overload minutes`; against a reactive total of zero there is no
    // percentage, so the phrase says so in words.
    let change = |new: f64, old: f64, what: &str| {
        if old > 0.0 {
            format!("{} {what}", signed_percent(new / old))
        } else if new > 0.0 {
            format!("{new:.0} {what} (reactive had none)")
        } else {
            format!("no {what} (nor reactive)")
        }
    };
    let line = |name: &str, o: &Outcome| {
        format!(
            "{name}: {} at {}",
            change(
                o.overload_minutes,
                reactive.overload_minutes,
                "overload minutes"
            ),
            change(o.replica_hours, reactive.replica_hours, "replica-hours")
        )
    };
    // Reactive's own numbers first: in brackets after the schedule's
    // change they read as the schedule's.
    let mut said = format!(
        "reactive had {} overload minutes and {:.0} replica-hours; {}; {}",
        minutes(reactive.overload_minutes),
        reactive.replica_hours,
        line("schedule", schedule),
        line("horizon", horizon)
    );
    if reactive.unknown_minutes > 0.0 {
        let _ = write!(
            said,
            "; {} of the replayed time had no load data (a gap longer than max_gap): left out of every count, for every policy",
            crate::core::series::human_span((reactive.unknown_minutes * 60.0).round() as i64)
        );
    }
    said
}

/// Overload minutes as the table shows them: whole, or to a tenth when
/// the replay's 15-second syncs left a fraction (`{:.0}` rounds a half to
/// even: the table's 168.5 read 168 in the verdict, its 23.5 read 24).
fn minutes(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// One policy against reactive-only over all replayed workloads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetChange {
    pub policy: Policy,
    /// Workloads replayed.
    pub workloads: usize,
    /// Median over the workloads of (policy ÷ reactive), for overload
    /// minutes (workloads where reactive never overloads left out) and
    /// replica-hours.
    pub median_overload_ratio: Option<f64>,
    pub median_replica_hours_ratio: Option<f64>,
    /// Workloads the overload median is over (those reactive overloads).
    pub with_reactive_overload: usize,
    /// Workloads (namespace/name) where it overloads more than reactive.
    pub worse_on_overload: Vec<String>,
}

/// Horizon and schedule against reactive-only over all `replays`.
#[must_use]
pub fn fleet_changes(replays: &[WorkloadReplay]) -> Vec<FleetChange> {
    [Policy::Horizon, Policy::Schedule]
        .into_iter()
        .map(|policy| {
            let mut overload = Vec::new();
            let mut hours = Vec::new();
            let mut worse_on_overload = Vec::new();
            for w in replays {
                let (reactive, own) = (w.outcome(Policy::Reactive), w.outcome(policy));
                if reactive.overload_minutes > 0.0 {
                    overload.push(own.overload_minutes / reactive.overload_minutes);
                }
                if reactive.replica_hours > 0.0 {
                    hours.push(own.replica_hours / reactive.replica_hours);
                }
                if own.overload_minutes > reactive.overload_minutes {
                    worse_on_overload.push(format!("{}/{}", w.namespace, w.name));
                }
            }
            FleetChange {
                policy,
                workloads: replays.len(),
                with_reactive_overload: overload.len(),
                median_overload_ratio: median(overload),
                median_replica_hours_ratio: median(hours),
                worse_on_overload,
            }
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    (!xs.is_empty()).then(|| crate::core::stats::median(&mut xs))
}

impl FleetChange {
    /// "schedule, median of 8 workloads: −55% overload minutes, +12%
    /// replica-hours vs reactive; more overload than reactive: none".
    #[must_use]
    pub fn describe(&self) -> String {
        let ratio = |r: Option<f64>| r.map_or_else(|| "n/a".to_string(), signed_percent);
        // The overload median leaves out workloads reactive never overloads.
        let over = if self.with_reactive_overload == self.workloads {
            String::new()
        } else {
            format!(
                " (overload: of the {} with reactive overload)",
                self.with_reactive_overload
            )
        };
        format!(
            "{}, median of {} workloads{over}: {} overload minutes, {} replica-hours vs reactive; more overload than reactive: {}",
            self.policy.as_str(),
            self.workloads,
            ratio(self.median_overload_ratio),
            ratio(self.median_replica_hours_ratio),
            if self.worse_on_overload.is_empty() {
                "none".to_string()
            } else {
                self.worse_on_overload.join(", ")
            }
        )
    }
}

/// Every workload's replay, and those that could not be replayed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Backtest {
    pub generated_at: String,
    /// How the replay ran (`--span`, `--replan`, …): two reports made with
    /// different settings looked alike and said neither.
    pub settings: ReplayedWith,
    pub workloads: Vec<WorkloadReplay>,
    /// Horizon and schedule against reactive over all the workloads.
    pub fleet: Vec<FleetChange>,
    /// `--cold-start`: how the workloads were replayed as new, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<String>,
    /// `(namespace/name, reason)`.
    pub failures: Vec<(String, String)>,
    /// The stable label of each failure (`insufficient_data`,
    /// `no_current_range`, ...), for the logs.
    #[serde(skip)]
    pub failure_labels: Vec<&'static str>,
}

/// The settings a backtest ran with, as the report states them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayedWith {
    /// Each workload's last `span` of data, rerun every `replan`.
    pub span: String,
    pub replan: String,
    /// From asking for a pod until it serves, and the schedule's lead
    /// (`startup + buffer`).
    pub startup: String,
    pub lead: String,
    /// Load per replica over `target_per_replica` at which a replica is
    /// overloaded: capacity is `target_per_replica / target_utilization`.
    pub target_utilization: f64,
    /// The schedule sized for the upper end of this interval, else the mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_level: Option<String>,
    /// How often `apply` sets the schedule's min (`apply.every`).
    pub apply_every: String,
}

impl ReplayedWith {
    /// The settings in a sentence, with what the report's terms mean.
    #[must_use]
    pub fn describe(&self) -> String {
        let level = self.schedule_level.as_ref().map_or_else(
            || "the forecast mean".to_string(),
            |l| format!("the upper end of the central {l} interval"),
        );
        format!(
            "replayed: each workload's last {} of data, the batch job rerun every {} on the data before it; an HPA simulated on the real load, its new pods serving {} after it asks, a replica at target_per_replica running at {:.0}% of its capacity (`--target-utilization`); the schedule sized for {level}, raised {} (startup + buffer) before each rise and set by `apply` every {}. Overload minutes: time the load was above what the ready replicas carry; unserved: the share of the load above it; replica-hours: replicas running (starting ones too) × hours; at max: overload minutes while the HPA wanted more than its max",
            self.span,
            self.replan,
            self.startup,
            100.0 * self.target_utilization,
            self.lead,
            self.apply_every,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000 / 3600 * 3600;

    #[test]
    fn the_verdict_says_overload_minutes_as_the_table_does() {
        let outcome = |overload_minutes: f64| Outcome {
            overload_minutes,
            replica_hours: 100.0,
            ..Outcome::default()
        };
        let said = verdict(&outcome(168.5), &outcome(23.5), &outcome(1.5));
        assert!(
            said.starts_with(
                "reactive had 168.5 overload minutes and 100 replica-hours; schedule: "
            ),
            "{said}"
        );
        let said = verdict(&outcome(30.0), &outcome(30.0), &outcome(30.0));
        assert!(said.contains("had 30 overload minutes"), "{said}");
    }

    #[test]
    fn the_schedule_is_replayed_as_apply_sets_it_every_15_minutes() {
        let entry = |from: i64, min_replicas: u32| ScheduledMin { from, min_replicas };
        let rules = crate::core::apply::ApplyRules::default();
        let mut runs = ScheduleRuns {
            applied: 2,
            wanted_before: None,
        };
        // Each run sets the highest min due before the next run: at T0 the
        // 4 due at +10 minutes (3 for now: at most ×1.5 a run), at +45 the
        // 30-second 5 of +50 minutes. The drop to 3 due at +50 is made by
        // the run at +60, whose moment the +45 run's schedule wanted 3 for
        // too, at most ×0.8 a run.
        let entries = [
            entry(T0 + 600, 4),
            entry(T0 + 2400, 3),
            entry(T0 + 2990, 5),
            entry(T0 + 3020, 3),
        ];
        let set: Vec<u32> = (0..7)
            .map(|k| runs.at_run(&entries, T0 + k * 900, &rules, &(1..=20)))
            .collect();
        assert_eq!(set, [3, 4, 4, 5, 4, 3, 3]);
        // A run whose schedule wants less than the last run's wanted for
        // the same moment (a forecast at the edge of a replica) is held to
        // the last run's; the run after, agreeing, drops.
        let mut flip = ScheduleRuns {
            applied: 3,
            wanted_before: None,
        };
        let flipped: Vec<u32> = [3, 2, 2]
            .into_iter()
            .zip(0..)
            .map(|(min, k)| flip.at_run(&[entry(T0 - 60, min)], T0 + k * 900, &rules, &(1..=20)))
            .collect();
        assert_eq!(flipped, [3, 3, 2]);
        // A last run more than an hour before is no run to agree with: the
        // drop is made at once (within the step limit).
        let mut late = ScheduleRuns {
            applied: 5,
            wanted_before: Some((T0 - 7200, vec![entry(T0 - 7200, 5)], 5)),
        };
        assert_eq!(late.at_run(&[entry(T0 - 60, 4)], T0, &rules, &(1..=20)), 4);
        // Without a schedule nothing changes.
        assert_eq!(late.at_run(&[], T0 + 900, &rules, &(1..=20)), 4);
    }

    fn replay_with(name: &str, outcomes: [(f64, f64); 3]) -> WorkloadReplay {
        let policies = [Policy::Reactive, Policy::Horizon, Policy::Schedule]
            .into_iter()
            .zip(outcomes)
            .map(
                |(policy, (overload_minutes, replica_hours))| PolicyOutcome {
                    policy,
                    outcome: Outcome {
                        overload_minutes,
                        replica_hours,
                        ..Outcome::default()
                    },
                },
            )
            .collect();
        WorkloadReplay {
            name: name.to_string(),
            namespace: "ns".to_string(),
            from: T0,
            to: T0 + 86_400,
            policies,
            verdict: String::new(),
            replans: Vec::new(),
            stability: Stability::default(),
            incidents: ReplayIncidents::default(),
            tight_baseline: true,
            chart: ReplayChart::default(),
        }
    }

    #[test]
    fn the_fleet_summary_takes_medians_of_ratios_and_names_the_worse() {
        let replays = [
            replay_with("a", [(100.0, 10.0), (50.0, 11.0), (20.0, 12.0)]),
            replay_with("b", [(10.0, 10.0), (20.0, 10.0), (6.0, 10.0)]),
            // Reactive never overloads: no overload ratio, but worse.
            replay_with("c", [(0.0, 10.0), (0.0, 10.0), (1.5, 13.0)]),
        ];
        let [horizon, schedule] = &fleet_changes(&replays)[..] else {
            panic!("two policies");
        };
        assert_eq!(horizon.median_overload_ratio, Some(1.25));
        assert_eq!(horizon.worse_on_overload, ["ns/b"]);
        assert_eq!(schedule.median_overload_ratio, Some(0.4));
        assert_eq!(schedule.median_replica_hours_ratio, Some(1.2));
        assert_eq!(schedule.worse_on_overload, ["ns/c"]);
        assert_eq!(
            schedule.describe(),
            "schedule, median of 3 workloads (overload: of the 2 with reactive overload): −60% overload minutes, +20% replica-hours vs reactive; more overload than reactive: ns/c"
        );
    }
}
