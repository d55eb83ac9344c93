//! `homeostat backtest`: the last span of each workload's data replayed.

use super::{process_histories, with_planning_budget, RunContext};
use crate::app::config::Config;
use crate::core::plan::{Fleet, Status};
use crate::core::replay::Backtest;
use crate::core::shapes;
use crate::core::time::{format_timestamp, Span};

/// What `homeostat backtest` replays, besides each workload's config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BacktestSettings {
    /// How much of the end of each workload's data is replayed.
    pub span: Span,
    pub replan: Span,
    pub startup: Span,
    pub target_utilization: f64,
    /// Seconds (may be 0).
    pub buffer: i64,
    pub schedule_level: Option<crate::core::model::Level>,
    /// Also replay the runs with learning (`--learning`).
    pub learning: bool,
    /// Start each workload with only this much history before the replay
    /// (`--cold-start`), the fleet's shapes learned from the others'.
    pub cold_start: Option<Span>,
}

/// `homeostat backtest`: replays the last `span` of each workload's data
/// (up to `at`, or its last sample). The history read reaches `span` further
/// back than `recommend`'s, so that the first replan sees a whole history.
#[must_use]
pub fn backtest(run: &RunContext, config: &Config, settings: &BacktestSettings) -> Backtest {
    backtest_in(run, config, config, settings)
}

/// [`backtest`] of `config`'s workloads, a cold start's fleet being
/// `fleet`'s (all of a config's workloads when only some are replayed).
#[must_use]
pub fn backtest_in(
    run: &RunContext,
    config: &Config,
    fleet: &Config,
    settings: &BacktestSettings,
) -> Backtest {
    let extend = |config: &Config| {
        let mut extended = config.clone();
        for w in &mut extended.workloads {
            w.history = Span::from_secs(w.history.secs() + settings.span.secs()).expect("positive");
        }
        extended
    };
    let extended = extend(config);
    let mut workloads = Vec::new();
    let mut failures = Vec::new();
    let mut failure_labels = Vec::new();
    let at = run.at;
    // A cold start's fleet: every workload's profile before the replay.
    let cold_fleet = if settings.cold_start.is_some() {
        fleet_before(run, &extend(fleet), settings.span.secs())
    } else {
        Vec::new()
    };
    let replay_settings = |to: i64| crate::core::replay::ReplaySettings {
        from: to - settings.span.secs(),
        to,
        replan: settings.replan.secs(),
        startup: settings.startup.secs(),
        target_utilization: settings.target_utilization,
        buffer: settings.buffer,
        schedule_level: settings.schedule_level,
        learning: settings.learning,
        cold_start: settings.cold_start.map(Span::secs),
        apply_rules: config.apply_rules,
    };
    // Without `--cold-start`, a workload whose runs have less than two
    // weeks of history (a young one, or a short file) is replayed as
    // `recommend` plans it: from the fleet's shapes, learned from the
    // others' history before the replay. Such workloads are put aside
    // (their history is short) until every profile is in.
    let mut profiled: Vec<shapes::Profiled> = Vec::new();
    let mut young: Vec<(crate::core::workload::Workload, super::Loaded)> = Vec::new();
    process_histories(
        run,
        &extended,
        |extended, loaded| {
            let mut workload = extended.clone();
            workload.history = Span::from_secs(workload.history.secs() - settings.span.secs())
                .expect("extended above");
            let (loaded, _planning) = with_planning_budget(&workload, loaded, at);
            let loaded = match loaded {
                Ok(loaded) => loaded,
                Err(failure) => {
                    return Replayed::Done(Err((failure.status.as_str(), failure.reason)), None)
                }
            };
            if settings.cold_start.is_some() {
                let fleet = fleet_without(&workload, &cold_fleet);
                let replayed =
                    replay_with(&workload, &loaded, &replay_settings(loaded.now), &fleet);
                return Replayed::Done(replayed.map(Box::new), None);
            }
            let from = loaded.now - settings.span.secs();
            let contribution =
                profile_before(&workload, &loaded.raw, from, workload.history.secs());
            let first = loaded.raw.samples.iter().map(|s| s.ts).min();
            if first.is_some_and(|first| first > from - shapes::OWN_HISTORY) {
                return Replayed::Young(Box::new((workload, loaded)), contribution);
            }
            let replayed = replay_with(
                &workload,
                &loaded,
                &replay_settings(loaded.now),
                &FleetFor::Alone,
            );
            Replayed::Done(replayed.map(Box::new), contribution)
        },
        |workload, replayed| {
            let (replayed, contribution) = match replayed {
                Replayed::Done(replayed, contribution) => (Some(replayed), contribution),
                Replayed::Young(pair, contribution) => {
                    young.push(*pair);
                    (None, contribution)
                }
            };
            if let Some(contribution) = contribution {
                shapes::Profiled::add_to(&mut profiled, workload.id(), contribution);
            }
            match replayed {
                Some(Ok(replay)) => workloads.push((workload.id(), *replay)),
                Some(Err((label, reason))) => {
                    failures.push((workload.id(), reason));
                    failure_labels.push(label);
                }
                None => {}
            }
        },
    );
    // Replaying some of the fleet (`--workload`): the shapes are the whole
    // fleet's, as a run of the config would learn them.
    if !young.is_empty() && fleet.workloads.len() > config.workloads.len() {
        profiled = fleet_before(run, &extend(fleet), settings.span.secs());
    }
    for (workload, loaded) in young {
        let fleet = fleet_without(&workload, &profiled);
        let replayed = replay_with(&workload, &loaded, &replay_settings(loaded.now), &fleet);
        match replayed {
            Ok(mut replay) => {
                let window = workload.history.secs() + settings.span.secs();
                let note = young_note(&loaded, window, &fleet, &replay);
                replay.verdict.push_str(&note);
                workloads.push((workload.id(), replay));
            }
            Err((label, reason)) => {
                failures.push((workload.id(), reason));
                failure_labels.push(label);
            }
        }
    }
    // In config order, the young ones among the others.
    let order: std::collections::HashMap<String, usize> = config
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| (w.id(), i))
        .collect();
    workloads.sort_by_key(|(id, _)| order.get(id).copied().unwrap_or(usize::MAX));
    let workloads: Vec<crate::core::replay::WorkloadReplay> =
        workloads.into_iter().map(|(_, replay)| replay).collect();
    Backtest {
        generated_at: format_timestamp(run.clock_now),
        settings: crate::core::replay::ReplayedWith {
            span: settings.span.to_string(),
            replan: settings.replan.to_string(),
            startup: settings.startup.to_string(),
            lead: crate::core::series::human_span(settings.startup.secs() + settings.buffer),
            target_utilization: settings.target_utilization,
            schedule_level: settings.schedule_level.map(|l| l.to_string()),
            apply_every: crate::core::series::human_span(config.apply_rules.every),
        },
        fleet: crate::core::replay::fleet_changes(&workloads),
        workloads,
        cold_start: settings.cold_start.map(|span| {
            format!(
                "cold start: each workload replayed as new, its runs seeing {span} of history before the replay, growing as it goes; the fleet's shapes from the other workloads' history before the replay; the tight range set from its whole history before the replay, as without it"
            )
        }),
        failures,
        failure_labels,
    }
}

/// What the replay of one workload gave, or the young workload put aside
/// for the fleet's shapes; with its profile before the replay, if any.
enum Replayed {
    Done(
        Result<Box<crate::core::replay::WorkloadReplay>, (&'static str, String)>,
        Option<(Vec<f64>, crate::core::series::Series)>,
    ),
    Young(
        Box<(crate::core::workload::Workload, super::Loaded)>,
        Option<(Vec<f64>, crate::core::series::Series)>,
    ),
}

/// The fleet a replayed workload is planned with: the shapes learned from
/// the others' profiles (its own must not tell it what it will be), and
/// the profile its `like:` names.
enum FleetFor {
    Alone,
    Shapes {
        shapes: Option<shapes::FleetShapes>,
        like: Option<(String, Vec<f64>)>,
        /// Workloads the shapes were learned from.
        members: usize,
    },
}

fn fleet_without(
    workload: &crate::core::workload::Workload,
    profiled: &[shapes::Profiled],
) -> FleetFor {
    let others: Vec<shapes::Profiled> = profiled
        .iter()
        .filter(|p| p.id != workload.id())
        .cloned()
        .collect();
    let like = workload.like.as_deref().and_then(|id| {
        others
            .iter()
            .find(|p| p.id == id)
            .map(|p| (id.to_string(), p.profile.clone()))
    });
    // Too few others for shapes: a `like:` of one of them still starts it
    // (as `recommend` does).
    let shapes = shapes::learn(&others, "backtest").or_else(|| {
        like.as_ref()
            .and_then(|_| shapes::learn_small(&others, "backtest"))
    });
    FleetFor::Shapes {
        shapes,
        like,
        members: others.len(),
    }
}

fn replay_with(
    workload: &crate::core::workload::Workload,
    loaded: &super::Loaded,
    settings: &crate::core::replay::ReplaySettings,
    fleet: &FleetFor,
) -> Result<crate::core::replay::WorkloadReplay, (&'static str, String)> {
    let fleet = match fleet {
        FleetFor::Shapes {
            shapes: Some(shapes),
            like,
            ..
        } => Fleet::Shapes {
            shapes,
            like: like.as_ref().map(|(id, p)| (id.as_str(), p.as_slice())),
        },
        _ => Fleet::Alone,
    };
    crate::core::replay::replay_in_fleet(workload, &loaded.raw, settings, &fleet)
        .map_err(|e| (e.label(), e.to_string()))
}

/// What the verdict of a young workload's replay says about its start:
/// when its history begins, and how its runs were planned (as many as
/// were: a run before the history a plan needs kept today's range).
fn young_note(
    loaded: &super::Loaded,
    window: i64,
    fleet: &FleetFor,
    replay: &crate::core::replay::WorkloadReplay,
) -> String {
    let first = loaded
        .raw
        .samples
        .iter()
        .map(|s| s.ts)
        .min()
        .unwrap_or(loaded.now);
    // Its data, or only the window of it a run reads (`history:` plus the
    // replay).
    let begins = if first - (loaded.now - window) > crate::core::time::DAY {
        format!("its data begins {}", format_timestamp(first))
    } else {
        format!(
            "its history window (`history:` and the replay) begins {}",
            format_timestamp(first)
        )
    };
    let runs = replay.replans.len();
    let planned = replay
        .replans
        .iter()
        .filter(|r| matches!(r.status, Status::Ok | Status::NeedsOperator))
        .count();
    let none_planned = "no run had the history to plan from, and each kept today's range (a shorter `--replan` replans sooner)";
    let how = match fleet {
        FleetFor::Shapes {
            shapes: Some(shapes),
            ..
        } => {
            if planned == 0 {
                format!("{none_planned}: a cold start needs 1h of history")
            } else {
                let from = if shapes.shapes.is_empty() {
                    format!(
                        "from the profile its `like:` names (too few other workloads for fleet shapes: {} with a week of history before the replay)",
                        shapes.workloads
                    )
                } else {
                    format!(
                        "from the fleet's {} shapes (learned from the other workloads' history before the replay)",
                        shapes.shapes.len()
                    )
                };
                format!(
                    "{planned} of its {runs} runs {} planned as `recommend` plans a workload under two weeks old, {from}, blended with its own model from 2d of history",
                    if planned == 1 { "was" } else { "were" },
                )
            }
        }
        FleetFor::Shapes { members, .. } => {
            let others = if *members == 1 {
                "1 other workload".to_string()
            } else {
                format!("{members} other workloads")
            };
            let fleet = format!(
                "no fleet shapes to start from ({others} with a week of history before the replay, {} needed)",
                shapes::MIN_FLEET
            );
            if planned == 0 {
                format!("{fleet}: {none_planned}: its own model needs 2d of history")
            } else {
                format!(
                    "{fleet}: {planned} of its {runs} runs {} planned by its own model alone, from 2d of history",
                    if planned == 1 { "was" } else { "were" }
                )
            }
        }
        FleetFor::Alone => return String::new(),
    };
    format!("; {begins}, under two weeks before the replay: {how}")
}

/// The profile (and probe) of the `history` of `raw` before `from`, when
/// it holds a week.
fn profile_before(
    workload: &crate::core::workload::Workload,
    raw: &crate::core::series::RawSeries,
    from: i64,
    history: i64,
) -> Option<(Vec<f64>, crate::core::series::Series)> {
    let raw = raw.window(from, history);
    let options = crate::core::series::GridOptions {
        step: workload.step,
        max_gap: workload.max_gap,
        ..crate::core::series::GridOptions::default()
    };
    let series = crate::core::series::resample(&raw, &options).ok()?;
    shapes::contribution(&series)
}

/// Each workload's profile (and probe) from its history before the replay
/// (`span` before its end), for the cold starts' fleet.
fn fleet_before(run: &RunContext, config: &Config, span: i64) -> Vec<shapes::Profiled> {
    let mut profiled = Vec::new();
    process_histories(
        run,
        config,
        |workload, loaded| {
            let loaded = loaded.ok()?;
            let before = loaded.now - span;
            profile_before(
                workload,
                &loaded.raw,
                before,
                workload.history.secs() - span,
            )
        },
        |workload, contribution| {
            if let Some(contribution) = contribution {
                shapes::Profiled::add_to(&mut profiled, workload.id(), contribution);
            }
        },
    );
    profiled
}
