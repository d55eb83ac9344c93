//! `homeostat recommend`: the main job's report (and `--notify`).

use super::{colour_wanted, emit, log_summary, notify_and_say, stopped_early, Flags};
use crate::app::run;
use crate::report::{self, Format};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The label of a workload's Parquet files not written.
const EXPORT_FAILED: &str = "export_unwritable";

pub(super) fn recommend(
    flags: &Flags,
    config: Option<PathBuf>,
    at: Option<i64>,
    format: Format,
    output: Option<&Path>,
    notify: bool,
) -> Result<u8> {
    let started = std::time::Instant::now();
    let mut config = flags.load_config(config)?;
    let learned = run::use_learned(&mut config);
    run::mark_from_store(&mut config, at, None);
    // `--format parquet` has its folder (checked with the flags).
    let parquet_dir = match (format, output) {
        (Format::Parquet, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Some(dir)
        }
        _ => None,
    };
    let progress = flags.progress(config.workloads.len(), "fit");
    let context = flags.run_at(at).with_progress(progress.clone());
    let (mut plan, extras) = run::recommend_with(&context, &config, |workload, plan, fitted| {
        let chart = (format == Format::Html)
            .then(|| fitted.map(|f| report::chart::workload_chart(plan, f)))
            .flatten();
        let exported =
            parquet_dir.map_or(Ok(None), |dir| run::export_fitted(dir, workload, fitted));
        (chart, exported)
    });
    progress.finish();
    run::note_learned(&mut plan, &learned);
    if let Some(code) = stopped_early(plan.workloads.len(), config.workloads.len()) {
        return Ok(code);
    }
    let unnamed = super::add_rejected(&config, &mut plan);
    let mut charts = Vec::with_capacity(extras.len());
    let mut other_failures = unnamed;
    for ((chart, exported), w) in extras.into_iter().zip(&plan.workloads) {
        charts.push(chart);
        if let Err(e) = exported {
            tracing::error!(workload = %format!("{}/{}", w.namespace, w.name), error = EXPORT_FAILED, "{e}");
            other_failures.push(EXPORT_FAILED);
        }
    }
    let text = match format {
        Format::Table => report::render_table(&plan, colour_wanted(output)),
        Format::Json | Format::Parquet => report::render_json(&plan),
        Format::Csv => report::render_csv(&plan),
        Format::Markdown => report::markdown::render(&plan),
        Format::Html => report::html::render(&plan, &charts),
    };
    // Alerts go out even if the report cannot be written.
    let written = match parquet_dir {
        Some(dir) => emit(Some(&dir.join("report.json")), &text),
        None => emit(output, &text),
    };
    let mut code = (plan.exit_code() as u8).max(u8::from(!other_failures.is_empty()));
    if notify && config.alertmanager.is_none() && config.pushgateway.is_none() {
        tracing::warn!(
            "--notify: {} configures neither `alertmanager:` nor `pushgateway:`",
            config.path.display()
        );
    }
    // Before the summary, which counts its failures.
    let mut failures = other_failures;
    if notify {
        let unsent = notify_and_say(&context, &config, &plan, None, started);
        code = code.max(u8::from(!unsent.is_empty()));
        failures.extend(unsent);
    }
    log_summary("recommend", &plan, started, &failures, None);
    written?;
    Ok(code)
}
