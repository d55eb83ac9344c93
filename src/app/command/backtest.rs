//! `homeostat backtest`: the replay of past weeks, rendered.

use super::{emit, Flags};
use crate::app::run;
use crate::report::{self, ResultFormat};
use anyhow::Result;
use std::path::{Path, PathBuf};

#[allow(clippy::too_many_arguments)] // one per flag of the command
pub(super) fn backtest(
    flags: &Flags,
    config: Option<PathBuf>,
    workload: Option<&str>,
    at: Option<i64>,
    settings: &run::BacktestSettings,
    format: ResultFormat,
    chart_week: Option<i64>,
    output: Option<&Path>,
) -> Result<u8> {
    // The fleet whose shapes a cold start (or a young workload) starts from
    // is the whole config, whichever are replayed (`--workload`, `--shard`).
    let whole = if flags.shard.is_some() {
        Some(super::load_config(config.clone(), None)?)
    } else {
        None
    };
    let mut config = flags.load_config(config)?;
    let fleet = whole.or_else(|| workload.map(|_| config.clone()));
    if let Some(wanted) = workload {
        // `name` or `namespace/name`, as the report names it.
        let named =
            |namespace: &str, name: &str| name == wanted || format!("{namespace}/{name}") == wanted;
        config.workloads.retain(|w| named(&w.namespace, &w.name));
        config.rejected.retain(|r| {
            r.names
                .as_ref()
                .is_some_and(|(namespace, name, _)| named(namespace, name))
        });
        if config.workloads.is_empty() && config.rejected.is_empty() {
            // It may be one whose name the config cannot read: say those.
            let unreadable: Vec<String> = fleet
                .iter()
                .flat_map(|c| &c.rejected)
                .filter(|r| r.names.is_none())
                .map(|r| r.problem.clone())
                .collect();
            if unreadable.is_empty() {
                anyhow::bail!("--workload {wanted}: no workload of that name in the config");
            }
            anyhow::bail!(
                "--workload {wanted}: no workload of that name in the config; it may be one of those whose names cannot be read: {}",
                unreadable.join("; ")
            );
        }
    }
    let progress = flags.progress(config.workloads.len(), "replay");
    let mut backtest = run::backtest_in(
        &flags.run_at(at).with_progress(progress.clone()),
        &config,
        fleet.as_ref().unwrap_or(&config),
        settings,
    );
    for rejected in &config.rejected {
        backtest.failures.push((
            rejected.id(),
            format!("the config is invalid for it: {}", rejected.problem),
        ));
        backtest.failure_labels.push("config_invalid");
    }
    progress.finish();
    // A week the charts cannot draw is said, not silently replaced.
    if let Some(week) = chart_week {
        if format != ResultFormat::Html {
            tracing::warn!("--chart-week is drawn only by --format html: ignored");
        }
        // Which week is drawn matters only where one is.
        for w in backtest
            .workloads
            .iter()
            .filter(|_| format == ResultFormat::Html)
        {
            if !crate::report::chart::week_overlaps(week, w.from, w.to) {
                let id = format!("{}/{}", w.namespace, w.name);
                tracing::warn!(
                    workload = %id,
                    "--chart-week {} is outside the replay of {id} ({} to {}): its last week is drawn",
                    crate::core::time::format_timestamp(week),
                    crate::core::time::format_timestamp(w.from),
                    crate::core::time::format_timestamp(w.to)
                );
            }
        }
    }
    let text = match format {
        ResultFormat::Table => report::render_backtest_table(&backtest),
        ResultFormat::Json => report::render_backtest_json(&backtest),
        ResultFormat::Csv => report::render_backtest_csv(&backtest),
        ResultFormat::Markdown => report::markdown::render_backtest(&backtest),
        ResultFormat::Html => report::html::render_backtest(&backtest, chart_week),
    };
    emit(output, &text)?;
    for ((id, reason), label) in backtest.failures.iter().zip(&backtest.failure_labels) {
        tracing::error!(workload = %id, error = label, "{id}: not replayed: {reason}");
    }
    Ok(u8::from(!backtest.failures.is_empty()))
}
