//! The `homeostat` binary: parses arguments, dispatches, maps the result to
//! an exit code (0 all fine, 1 some workloads failed or need an operator,
//! 2 could not run at all). Everything else lives in the library.

// The clock is read here and in src/app/ only (clippy.toml).
#![allow(clippy::disallowed_methods)]

mod cli;
mod logs;

use anyhow::{Context, Result};
use clap::Parser as _;
use cli::{
    ApplyFormat, Cli, Command, ConfigCommand, EvaluateFormat, LogFormat, PatchFormat, ReportCommand,
};
use homeostat::app::{config, run};
use homeostat::core::model::{self, Level};
use homeostat::core::series::{self, GridOptions};
use homeostat::core::time::Span;
use homeostat::edge::source;
use homeostat::report::{self, Format, ResultFormat};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    logs::init_logs(cli.log_format);
    homeostat::app::stop::install();
    if let Some(bytes) = cli.memory_budget {
        homeostat::edge::budget::set_run_budget(homeostat::edge::budget::MemoryBudget::new(
            bytes,
            "set by --memory-budget",
        ));
    }
    match execute(cli.command, cli.log_format, cli.shard, cli.threads) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(2)
        }
    }
}

/// Colours in the table: only for a terminal, and never when `NO_COLOR`
/// is set (<https://no-color.org>).
fn colour_wanted(output: Option<&Path>) -> bool {
    use std::io::IsTerminal as _;
    output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Progress bars, unless the logs are JSON (a batch job).
fn progress(total: usize, planning: &str, logs: LogFormat) -> run::Progress {
    match logs {
        LogFormat::Text => run::Progress::on_stderr(total, planning),
        LogFormat::Json => run::Progress::hidden(),
    }
}

fn execute(
    command: Command,
    logs: LogFormat,
    shard: Option<config::Shard>,
    threads: usize,
) -> Result<u8> {
    let load_config = |path| load_config(path, shard);
    // Each run's context: "now" (`--at`), the clock read once, here, the
    // threads and the progress bars.
    let run_at =
        |at: Option<i64>, clock: i64| run::RunContext::new(at, clock).with_threads(threads);
    match command {
        Command::Recommend {
            config,
            at,
            format,
            output,
            notify,
        } => {
            let started = std::time::Instant::now();
            let config = load_config(config)?;
            let parquet_dir = match (format, &output) {
                (Format::Parquet, Some(dir)) => {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    Some(dir.clone())
                }
                (Format::Parquet, None) => {
                    anyhow::bail!("--format parquet writes a file per workload: give the folder with --output DIR")
                }
                _ => None,
            };
            let progress = progress(config.workloads.len(), "fit", logs);
            let context =
                run_at(at, chrono::Utc::now().timestamp()).with_progress(progress.clone());
            let (plan, extras) =
                run::recommend_with(&context, &config, |workload, plan, fitted| {
                    let chart = (format == Format::Html)
                        .then(|| fitted.map(|f| report::chart::workload_chart(plan, f)))
                        .flatten();
                    let exported = parquet_dir
                        .as_ref()
                        .map_or(Ok(None), |dir| run::export_fitted(dir, workload, fitted));
                    (chart, exported)
                });
            progress.finish();
            if let Some(signal) = homeostat::app::stop::requested() {
                return Ok(stopped(
                    signal,
                    plan.workloads.len(),
                    config.workloads.len(),
                ));
            }
            let mut charts = Vec::with_capacity(extras.len());
            let mut export_failures = 0;
            for ((chart, exported), w) in extras.into_iter().zip(&plan.workloads) {
                charts.push(chart);
                if let Err(e) = exported {
                    tracing::error!(workload = %format!("{}/{}", w.namespace, w.name), "{e}");
                    export_failures += 1;
                }
            }
            let text = match format {
                Format::Table => report::render_table(&plan, colour_wanted(output.as_deref())),
                Format::Json | Format::Parquet => report::render_json(&plan),
                Format::Csv => report::render_csv(&plan),
                Format::Markdown => report::markdown::render(&plan),
                Format::Html => report::html::render(&plan, &charts),
            };
            // Alerts go out even if the report cannot be written.
            let written = match &parquet_dir {
                Some(dir) => emit(Some(&dir.join("report.json")), &text),
                None => emit(output.as_deref(), &text),
            };
            let mut code = (plan.exit_code() as u8).max(u8::from(export_failures > 0));
            log_summary("recommend", &plan, started, export_failures);
            if notify && config.alertmanager.is_none() && config.pushgateway.is_none() {
                tracing::warn!(
                    "--notify: {} configures neither `alertmanager:` nor `pushgateway:`",
                    config.path.display()
                );
            }
            if notify {
                code = code.max(notify_and_say(&config, &plan, &[], started));
            }
            written?;
            Ok(code)
        }
        Command::Apply {
            config,
            at,
            dry_run,
            no_notify,
            output_format,
            format,
            output,
        } => {
            let started = std::time::Instant::now();
            let clock = chrono::Utc::now().timestamp();
            if let Some(at) = at.filter(|&at| !dry_run && (at - clock).abs() > 900) {
                anyhow::bail!(
                    "--at {}: a recommendation for another time than now is never applied to live HPAs; add --dry-run to see it",
                    homeostat::core::time::format_timestamp(at)
                );
            }
            let config = load_config(config)?;
            // One writer per store: taken before the plan, so that a second
            // run learns at once (or after a short wait) that it must not run.
            let _store_lock = run::store_of(&config)
                .lock(homeostat::edge::store::LOCK_WAIT)
                .map_err(anyhow::Error::msg)?;
            let progress = progress(config.workloads.len(), "fit", logs);
            let plan = run::recommend(&run_at(at, clock).with_progress(progress.clone()), &config);
            progress.finish();
            if let Some(signal) = homeostat::app::stop::requested() {
                return Ok(stopped(
                    signal,
                    plan.workloads.len(),
                    config.workloads.len(),
                ));
            }
            let settings = run::ApplySettings {
                dry_run,
                rules: config.apply_rules,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let applied = runtime.block_on(async {
                let cluster = match kube::Client::try_default().await {
                    Ok(client) => Some(client),
                    Err(e) if dry_run => {
                        tracing::warn!(
                            "no Kubernetes API ({e}): comparing with `current:` in {}",
                            config.path.display()
                        );
                        None
                    }
                    Err(e) => {
                        return Err(anyhow::anyhow!(
                            "cannot reach the Kubernetes API: {e} (a kubeconfig or an in-cluster service account is needed; `--dry-run` works from `current:` without one)"
                        ))
                    }
                };
                Ok(run::apply_changes(&config, &plan, cluster.as_ref(), &settings).await)
            })?;
            drop(runtime);
            let mut code = plan.exit_code() as u8;
            if !applied.failures.is_empty() || !applied.store_problems.is_empty() {
                code = code.max(1);
            }
            // Not only in the report (which may be a file nobody reads).
            for problem in &applied.store_problems {
                tracing::error!("model store: {problem}");
            }
            let report = match format {
                ApplyFormat::Table => report::render_apply_table(
                    &applied,
                    output_format.is_none() && colour_wanted(output.as_deref()),
                ),
                ApplyFormat::Json => report::render_apply_json(&applied),
            };
            log_summary("apply", &plan, started, applied.store_problems.len());
            // HPAs may have been patched by now: notify even if the report
            // cannot be written.
            let written = match output_format {
                Some(PatchFormat::Yaml) => {
                    eprint!("{report}");
                    emit(output.as_deref(), &applied.patches_yaml())
                }
                None => emit(output.as_deref(), &report),
            };
            if !no_notify {
                code = code.max(notify_and_say(&config, &plan, &applied.troubles, started));
            }
            written?;
            // Stopped between two patches: what was applied is reported
            // above; the exit code says the run did not finish.
            if let Some(signal) = homeostat::app::stop::requested() {
                code = homeostat::app::stop::exit_code(signal);
            }
            Ok(code)
        }
        Command::Backtest {
            config,
            workload,
            at,
            span,
            replan,
            startup,
            target_utilization,
            buffer,
            schedule_level,
            format,
            chart_week,
            output,
        } => {
            if !(target_utilization.is_finite()
                && target_utilization > 0.0
                && target_utilization <= 1.0)
            {
                anyhow::bail!(
                    "--target-utilization is a share between 0 and 1 (e.g. 0.7), got {target_utilization}"
                );
            }
            let mut config = load_config(config)?;
            if let Some(wanted) = workload {
                config
                    .workloads
                    .retain(|w| w.name == wanted || w.id() == wanted);
                if config.workloads.is_empty() {
                    anyhow::bail!("--workload {wanted}: no workload of that name in the config");
                }
            }
            let schedule_level = schedule_level
                .map(|percent| {
                    Level::from_percent(percent).ok_or_else(|| {
                        anyhow::anyhow!("--schedule-level: {}", model::level_error(percent))
                    })
                })
                .transpose()?;
            let settings = run::BacktestSettings {
                span,
                replan,
                startup,
                target_utilization,
                buffer,
                schedule_level,
            };
            let progress = progress(config.workloads.len(), "replay", logs);
            let backtest = run::backtest(
                &run_at(at, chrono::Utc::now().timestamp()).with_progress(progress.clone()),
                &config,
                &settings,
            );
            progress.finish();
            let text = match format {
                ResultFormat::Table => report::render_backtest_table(&backtest),
                ResultFormat::Json => report::render_backtest_json(&backtest),
                ResultFormat::Csv => report::render_backtest_csv(&backtest),
                ResultFormat::Markdown => report::markdown::render_backtest(&backtest),
                ResultFormat::Html => report::html::render_backtest(&backtest, chart_week),
            };
            emit(output.as_deref(), &text)?;
            for (id, reason) in &backtest.failures {
                tracing::error!(workload = %id, "{id}: not replayed: {reason}");
            }
            Ok(u8::from(!backtest.failures.is_empty()))
        }
        Command::Evaluate {
            input,
            test,
            level,
            format,
            output,
            export,
        } => {
            let evaluation = run::evaluate_dir(&input, test, level, export.as_deref())
                .map_err(anyhow::Error::msg)?;
            let text = match format {
                EvaluateFormat::Table => report::evaluation::render_table(&evaluation),
                EvaluateFormat::Json => report::evaluation::render_json(&evaluation),
                EvaluateFormat::Csv => report::evaluation::render_csv(&evaluation),
            };
            emit(output.as_deref(), &text)?;
            for (series, reason) in &evaluation.failures {
                tracing::error!(series = %series, "{series}: not evaluated: {reason}");
            }
            Ok(u8::from(!evaluation.failures.is_empty()))
        }
        Command::Fetch {
            config,
            at,
            output,
            format,
        } => {
            let config = load_config(config)?;
            let exported = run::export_histories(
                &run_at(at, chrono::Utc::now().timestamp()),
                &config,
                &output,
                format,
            )
            .map_err(anyhow::Error::msg)?;
            emit(None, &render_exported(&exported))?;
            let failed = exported.iter().filter(|e| e.result.is_err()).count();
            for entry in exported.iter().filter(|e| e.result.is_err()) {
                if let Err(failure) = &entry.result {
                    tracing::error!(workload = %entry.workload, "{}: {}", entry.workload, failure.reason);
                }
            }
            Ok(u8::from(failed > 0))
        }
        Command::Events {
            input,
            step,
            persistence,
            min_z,
            min_change,
            output,
        } => {
            if !(min_z.is_finite() && min_z > 0.0) {
                anyhow::bail!(
                    "--min-z must be a positive number of standard deviations, got {min_z}"
                );
            }
            if !(min_change.is_finite() && min_change > 0.0 && min_change < 100.0) {
                anyhow::bail!(
                    "--min-change is a percentage between 0 and 100 (e.g. 15), got {min_change}"
                );
            }
            let series = read_series(&input, step)?;
            let settings = homeostat::core::events::EventSettings {
                persistence,
                min_z,
                min_relative: min_change / 100.0,
            };
            let events = homeostat::core::events::detect_in(&series, &settings);
            emit(
                output.as_deref(),
                &report::events::render_events_json(&events),
            )?;
            Ok(0)
        }
        Command::Synth {
            workloads,
            days,
            step,
            seed,
            end,
            output,
            format,
            openmetrics,
        } => {
            let spec = homeostat::core::synthetic::FleetSpec {
                workloads,
                days: days.secs() / homeostat::core::time::DAY,
                step: step.secs(),
                end,
                seed,
            };
            if spec.days < 1 {
                anyhow::bail!("--days {days}: at least one day");
            }
            let threads = run_at(None, 0).threads;
            run::write_fleet(&spec, &output, format, openmetrics, threads)
                .map_err(anyhow::Error::msg)?;
            println!(
                "{} workloads × {} days in {}; run them with: homeostat recommend --config {}",
                workloads,
                spec.days,
                output.display(),
                output.join("homeostat.yaml").display()
            );
            Ok(0)
        }
        Command::Config {
            command: ConfigCommand::Check { config, at },
        } => {
            let config = load_config(config)?;
            let text = run::check_files(&run_at(at, chrono::Utc::now().timestamp()), &config);
            emit(None, &text.report)?;
            Ok(u8::from(text.problems > 0))
        }
        Command::Report {
            command:
                ReportCommand::Merge {
                    reports,
                    config,
                    format,
                    output,
                },
        } => {
            let mut shards = Vec::with_capacity(reports.len());
            for path in &reports {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let plan: homeostat::core::plan::Plan =
                    serde_json::from_str(&text).with_context(|| {
                        format!(
                            "{}: not a JSON report of `homeostat recommend --format json`",
                            path.display()
                        )
                    })?;
                shards.push((path.display().to_string(), plan));
            }
            let order = config
                .map(|path| crate::load_config(Some(path), None))
                .transpose()?
                .map(|c| {
                    c.workloads
                        .iter()
                        .map(homeostat::core::workload::Workload::id)
                        .collect::<Vec<_>>()
                });
            let (plan, problems) =
                report::merge(shards, order.as_deref()).map_err(anyhow::Error::msg)?;
            let text = match format {
                Format::Table => report::render_table(&plan, colour_wanted(output.as_deref())),
                Format::Json => report::render_json(&plan),
                Format::Csv => report::render_csv(&plan),
                Format::Markdown => report::markdown::render(&plan),
                Format::Html => report::html::render(&plan, &[]),
                Format::Parquet => anyhow::bail!(
                    "--format parquet: the shards write their own Parquet files (recommend --shard i/n --format parquet)"
                ),
            };
            emit(output.as_deref(), &text)?;
            for problem in &problems {
                tracing::error!("{problem}");
            }
            Ok((plan.exit_code() as u8).max(u8::from(!problems.is_empty())))
        }
        Command::Forecast {
            input,
            horizon,
            level,
            step,
            output,
        } => {
            let series = read_series(&input, step)?;
            let steps = model::steps_in(horizon.secs(), series.step);
            let forecast = model::forecast(&series, steps)
                .with_context(|| format!("{}: cannot forecast", input.display()))?;
            emit(
                output.as_deref(),
                &report::render_forecast_csv(&forecast, level),
            )?;
            Ok(0)
        }
    }
}

/// The summary `fetch` prints: one aligned line per workload.
fn render_exported(exported: &[run::Exported]) -> String {
    let rows: Vec<[String; 6]> = exported
        .iter()
        .map(|e| {
            let (status, file) = match &e.result {
                Ok(path) => ("ok".to_string(), path.display().to_string()),
                Err(failure) => (failure.status.as_str().to_string(), "-".to_string()),
            };
            let time = |t: Option<i64>| {
                t.map_or_else(|| "-".to_string(), homeostat::core::time::format_timestamp)
            };
            [
                e.workload.clone(),
                status,
                e.samples.to_string(),
                e.requests.to_string(),
                format!("{} .. {}", time(e.first), time(e.last)),
                file,
            ]
        })
        .collect();
    let header = ["WORKLOAD", "STATUS", "SAMPLES", "REQUESTS", "RANGE", "FILE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(homeostat::report::columns(cell));
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| {
                let pad = width - homeostat::report::columns(cell);
                format!("{cell}{:pad$}", "")
            })
            .collect();
        padded.join("  ").trim_end().to_string() + "\n"
    };
    let mut text = line(header.to_vec());
    for row in &rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// `--config`, or the bundled example, read and validated; only `shard`'s
/// workloads when given.
fn load_config(path: Option<PathBuf>, shard: Option<config::Shard>) -> Result<config::Config> {
    let path = match path {
        Some(path) => path,
        None => bundled_config()?,
    };
    let mut config = config::load(&path)?;
    if let Some(shard) = shard {
        config.select_shard(shard);
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(config)
}

/// A series file on its grid (`--step`, or the most common spacing).
fn read_series(input: &Path, step: Option<Span>) -> Result<series::Series> {
    let raw = source::read_file(input)?;
    let options = GridOptions {
        step,
        ..GridOptions::default()
    };
    Ok(series::resample(&raw, &options)?)
}

/// The bundled example configuration: `data/homeostat.yaml` under the
/// current folder, else in the source tree this binary was built from.
fn bundled_config() -> Result<PathBuf> {
    let candidates = [
        PathBuf::from("data/homeostat.yaml"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/homeostat.yaml"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "no --config given and the bundled example is neither at {} nor at {}; pass --config FILE",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// Writes `text` to `path` (atomically: a temporary file renamed into
/// place, so a reader never sees half a report) or to standard output.
/// Sends the run's alerts and metrics; says on stderr what went wrong.
/// Returns the exit code it calls for: 1 when a server could not be told.
fn notify_and_say(
    config: &config::Config,
    plan: &homeostat::core::plan::Plan,
    troubles: &[homeostat::core::apply::Trouble],
    started: std::time::Instant,
) -> u8 {
    let notified = run::notify(
        config,
        plan,
        troubles,
        started.elapsed().as_secs_f64(),
        chrono::Utc::now().timestamp(),
    );
    for line in &notified.warnings {
        tracing::warn!("{line}");
    }
    for error in &notified.report.errors {
        tracing::error!("notify: {error}");
    }
    u8::from(!notified.report.errors.is_empty())
}

/// The run's summary, for the batch job's log (`--log-format json`).
/// A run stopped by `signal` before it finished planning: says so and
/// gives the exit code (nothing is written: a report or alerts for part of
/// the fleet would read as the whole).
fn stopped(signal: i32, planned: usize, total: usize) -> u8 {
    tracing::error!(
        "stopped by {} after planning {planned} of {total} workloads: no report written, no alert sent, no HPA changed",
        homeostat::app::stop::name(signal)
    );
    homeostat::app::stop::exit_code(signal)
}

/// `other_errors`: failures outside the workloads' statuses (the model
/// store's), counted in `error` too.
fn log_summary(
    command: &str,
    plan: &homeostat::core::plan::Plan,
    started: std::time::Instant,
    other_errors: usize,
) {
    // Each workload without a usable recommendation, by name, so that
    // the batch job's log says which and why (the report may be a file).
    for w in plan
        .workloads
        .iter()
        .filter(|w| w.status != homeostat::core::plan::Status::Ok)
    {
        let (workload, status) = (format!("{}/{}", w.namespace, w.name), w.status.as_str());
        let reason = w.reasons.first().map_or("", String::as_str);
        tracing::warn!(workload, status, reason, "{workload}: {status}: {reason}");
    }
    let count = |status: homeostat::core::plan::Status| {
        plan.workloads.iter().filter(|w| w.status == status).count()
    };
    tracing::info!(
        command,
        workloads = plan.workloads.len(),
        ok = count(homeostat::core::plan::Status::Ok),
        needs_operator = count(homeostat::core::plan::Status::NeedsOperator),
        insufficient_data = count(homeostat::core::plan::Status::InsufficientData),
        no_data = count(homeostat::core::plan::Status::NoData),
        error = count(homeostat::core::plan::Status::Error) + other_errors,
        other_errors,
        seconds = started.elapsed().as_secs_f64(),
        peak_rss_kib = peak_rss_kib(),
        memory_budget_mib = homeostat::edge::budget::run_budget().total() >> 20,
        "run finished"
    );
}

/// The process' peak resident memory (`VmHWM`, Linux), 0 where unknown.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn emit(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        None => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Some(path) => {
            homeostat::edge::atomic::write_atomically(path, |file| file.write_all(text.as_bytes()))
                .with_context(|| format!("cannot write {}", path.display()))
        }
    }
}
