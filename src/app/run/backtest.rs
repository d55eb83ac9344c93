//! `homeostat backtest`: the last span of each workload's data replayed.

use super::{process_histories, with_planning_budget, RunContext};
use crate::app::config::Config;
use crate::core::replay::Backtest;
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
}

/// `homeostat backtest`: replays the last `span` of each workload's data
/// (up to `at`, or its last sample). The history read reaches `span` further
/// back than `recommend`'s, so that the first replan sees a whole history.
#[must_use]
pub fn backtest(run: &RunContext, config: &Config, settings: &BacktestSettings) -> Backtest {
    let mut extended = config.clone();
    for w in &mut extended.workloads {
        w.history = Span::from_secs(w.history.secs() + settings.span.secs()).expect("positive");
    }
    let mut workloads = Vec::new();
    let mut failures = Vec::new();
    let mut failure_labels = Vec::new();
    let at = run.at;
    process_histories(
        run,
        &extended,
        |extended, loaded| {
            let mut workload = extended.clone();
            workload.history = Span::from_secs(workload.history.secs() - settings.span.secs())
                .expect("extended above");
            let (loaded, _planning) = with_planning_budget(&workload, loaded, at);
            let loaded = loaded.map_err(|failure| (failure.status.as_str(), failure.reason));
            loaded.and_then(|loaded| {
                let to = loaded.now;
                crate::core::replay::replay_workload(
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
                    },
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
        failures,
        failure_labels,
    }
}
