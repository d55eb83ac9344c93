//! `homeostat backtest`: the last span of each workload's data replayed.

use super::{process_histories, with_planning_budget, RunContext};
use crate::app::config::Config;
use crate::core::plan::Fleet;
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
    let profiled = if settings.cold_start.is_some() {
        fleet_before(run, &extend(fleet), settings.span.secs())
    } else {
        Vec::new()
    };
    process_histories(
        run,
        &extended,
        |extended, loaded| {
            let mut workload = extended.clone();
            workload.history = Span::from_secs(workload.history.secs() - settings.span.secs())
                .expect("extended above");
            let (loaded, _planning) = with_planning_budget(&workload, loaded, at);
            let loaded = loaded.map_err(|failure| (failure.status.as_str(), failure.reason));
            // The others as the fleet (learned per workload: its own
            // shape must not tell it what it will be).
            let shapes = settings.cold_start.and_then(|_| {
                let others: Vec<shapes::Profiled> = profiled
                    .iter()
                    .filter(|p| p.id != workload.id())
                    .cloned()
                    .collect();
                shapes::learn(&others, "backtest")
            });
            // `like:` names another workload: its profile before the replay.
            let like = workload.like.as_deref().and_then(|id| {
                profiled
                    .iter()
                    .find(|p| p.id == id && id != workload.id())
                    .map(|p| (id, p.profile.as_slice()))
            });
            let fleet = shapes
                .as_ref()
                .map_or(Fleet::Alone, |shapes| Fleet::Shapes { shapes, like });
            loaded.and_then(|loaded| {
                let to = loaded.now;
                crate::core::replay::replay_in_fleet(
                    &workload,
                    &loaded.raw,
                    &crate::core::replay::ReplaySettings {
                        from: to - settings.span.secs(),
                        to,
                        replan: settings.replan.secs(),
                        startup: settings.startup.secs(),
                        target_utilization: settings.target_utilization,
                        buffer: settings.buffer,
                        schedule_level: settings.schedule_level,
                        learning: settings.learning,
                        cold_start: settings.cold_start.map(Span::secs),
                    },
                    &fleet,
                )
                .map_err(|e| (e.label(), e.to_string()))
            })
        },
        |workload, replayed| match replayed {
            Ok(replay) => workloads.push(replay),
            Err((label, reason)) => {
                failures.push((workload.id(), reason));
                failure_labels.push(label);
            }
        },
    );
    Backtest {
        generated_at: format_timestamp(run.clock_now),
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
            let raw = loaded.raw.window(before, workload.history.secs() - span);
            let options = crate::core::series::GridOptions {
                step: workload.step,
                max_gap: workload.max_gap,
                ..crate::core::series::GridOptions::default()
            };
            let series = crate::core::series::resample(&raw, &options).ok()?;
            shapes::contribution(&series)
        },
        |workload, contribution| {
            if let Some(contribution) = contribution {
                shapes::Profiled::add_to(&mut profiled, workload.id(), contribution);
            }
        },
    );
    profiled
}
