//! The commands of the CLI: each reads its flags (already checked by
//! [`crate::app::cli`]), runs its flow from [`crate::app::run`], renders
//! with [`crate::report`], writes the output and says which exit code the
//! run calls for. One file per command; the series tools share one.

mod apply;
mod backtest;
mod recommend;
mod tools;

use crate::app::cli::{Cli, Command, ConfigCommand, IncidentCommand, LogFormat, ReportCommand};
use crate::app::{config, run, stop};
use crate::core::plan::{Plan, Status};
use crate::core::series::{self, GridOptions};
use crate::core::time::Span;
use crate::edge::{atomic, budget, source};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Runs the command `cli` names and returns its exit code: 0 all went
/// well, 1 some workloads (or servers) failed, 2 the run could not start.
///
/// Long only because it is the dispatch: one arm per command,
/// each destructuring its flags and calling that command's function.
///
/// # Errors
/// Why the run could not start or its output could not be written.
pub fn execute(cli: Cli) -> Result<u8> {
    stop::install();
    if let Some(bytes) = cli.memory_budget {
        budget::set_run_budget(budget::MemoryBudget::new(bytes, "set by --memory-budget"));
    }
    cli.command.check().map_err(anyhow::Error::msg)?;
    if cli.shard.is_some() && !cli.command.reads_config_workloads() {
        // Silently running the whole input would look like a shard's work.
        anyhow::bail!(
            "--shard selects a config's workloads (recommend, apply, backtest, fetch, config check, postmortem, learned, incident note); this command reads no config"
        );
    }
    let flags = Flags {
        logs: cli.log_format,
        shard: cli.shard,
        threads: cli.threads,
    };
    match cli.command {
        Command::Recommend {
            config,
            at,
            format,
            output,
            notify,
        } => recommend::recommend(&flags, config, at, format, output.as_deref(), notify),
        Command::Apply {
            config,
            at,
            dry_run,
            no_notify,
            output_format,
            format,
            output,
        } => apply::apply(
            &flags,
            config,
            at,
            &apply::Output {
                dry_run,
                notify: !no_notify,
                patches: output_format,
                format,
                path: output.as_deref(),
            },
        ),
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
            learning,
            cold_start,
            format,
            chart_week,
            output,
        } => backtest::backtest(
            &flags,
            config,
            workload.as_deref(),
            at,
            &run::BacktestSettings {
                span,
                replan,
                startup,
                target_utilization,
                buffer,
                schedule_level,
                learning,
                cold_start,
            },
            format,
            chart_week,
            output.as_deref(),
        ),
        Command::Evaluate {
            input,
            test,
            level,
            format,
            output,
            export,
            cold_start,
        } => {
            if cold_start.is_empty() {
                tools::evaluate(
                    &input,
                    test,
                    level,
                    format,
                    output.as_deref(),
                    export.as_deref(),
                )
            } else {
                tools::evaluate_cold_start(
                    &input,
                    test,
                    &cold_start,
                    level,
                    format,
                    output.as_deref(),
                )
            }
        }
        Command::Fetch {
            config,
            at,
            output,
            format,
        } => tools::fetch(&flags, config, at, &output, format),
        Command::Events {
            input,
            step,
            history,
            persistence,
            min_z,
            min_change,
            output,
        } => tools::events(
            &input,
            (step, history),
            &crate::core::events::EventSettings {
                persistence,
                min_z,
                min_relative: min_change / 100.0,
            },
            output.as_deref(),
        ),
        Command::Synth {
            workloads,
            days,
            step,
            seed,
            end,
            output,
            format,
            openmetrics,
        } => tools::synth(
            &flags,
            &crate::core::synthetic::FleetSpec {
                workloads,
                days: days.secs() / crate::core::time::DAY,
                step: step.secs(),
                end,
                seed,
            },
            &output,
            format,
            openmetrics,
        ),
        Command::Config {
            command: ConfigCommand::Check { config, at },
        } => tools::config_check(&flags, config, at),
        Command::Report {
            command:
                ReportCommand::Merge {
                    reports,
                    config,
                    format,
                    output,
                },
        } => tools::report_merge(&reports, config, format.into(), output.as_deref()),
        Command::Forecast {
            input,
            horizon,
            level,
            step,
            history,
            output,
            bare,
        } => tools::forecast(
            &input,
            (horizon, level, step),
            history,
            bare,
            output.as_deref(),
        ),
        Command::Incident {
            command:
                IncidentCommand::Note {
                    workload,
                    text,
                    config,
                    at,
                },
        } => tools::incident_note(&flags, config, &workload, &text, at),
        Command::Learned {
            config,
            format,
            output,
        } => tools::learned(&flags, config, format, output.as_deref()),
        Command::Postmortem {
            config,
            workload,
            incident,
            format,
            output,
        } => tools::postmortem(
            &flags,
            config,
            (workload.as_deref(), incident.as_deref()),
            format,
            output.as_deref(),
        ),
    }
}

/// The stable label of the error that stopped a run, for the log: the
/// first error of a layer's own type in the chain, else `run_failed`.
#[must_use]
pub fn error_label(error: &anyhow::Error) -> &'static str {
    for cause in error.chain() {
        let label = if let Some(e) = cause.downcast_ref::<config::ConfigError>() {
            e.label()
        } else if let Some(e) = cause.downcast_ref::<run::RunError>() {
            e.label()
        } else if let Some(e) = cause.downcast_ref::<crate::edge::store::StoreError>() {
            e.label()
        } else if let Some(e) = cause.downcast_ref::<source::SourceError>() {
            e.label()
        } else if let Some(e) = cause.downcast_ref::<series::SeriesError>() {
            e.label()
        } else if let Some(e) = cause.downcast_ref::<crate::core::model::ModelError>() {
            e.label()
        } else {
            continue;
        };
        return label;
    }
    "run_failed"
}

/// The global flags every command may read.
struct Flags {
    logs: LogFormat,
    shard: Option<config::Shard>,
    threads: usize,
}

impl Flags {
    /// A run at `at` (`--at`), started now: the clock is read here, once
    /// per run.
    fn run_at(&self, at: Option<i64>) -> run::RunContext {
        run::RunContext::new(at, chrono::Utc::now().timestamp()).with_threads(self.threads)
    }

    /// `--config`, or the bundled example, read and validated; only the
    /// shard's workloads when `--shard` is given.
    fn load_config(&self, path: Option<PathBuf>) -> Result<config::Config> {
        load_config(path, self.shard)
    }

    /// Progress bars for `total` workloads, unless the logs are JSON (a
    /// batch job).
    fn progress(&self, total: usize, planning: &str) -> run::Progress {
        match self.logs {
            LogFormat::Text => run::Progress::on_stderr(total, planning),
            LogFormat::Json => run::Progress::hidden(),
        }
    }
}

/// `path`, or the bundled example, read and validated; only `shard`'s
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

/// A series file on its grid (`--step`, or the most common spacing); with
/// `history`, only the samples of the last `history` before its newest
/// one, as `recommend` windows a workload's, and then checked for the 2
/// days of known data the same way.
fn read_series(input: &Path, step: Option<Span>, history: Option<Span>) -> Result<series::Series> {
    let mut raw = source::read_file(input)?;
    if let Some(history) = history {
        raw = raw.window(raw.latest(), history.secs());
    }
    let options = GridOptions {
        step,
        ..GridOptions::default()
    };
    series::resample(&raw, &options).map_err(|e| match history {
        Some(history) => anyhow::anyhow!("{e} (in the last {history} of it, --history)"),
        None => e.into(),
    })
}

/// Colours in the table: only for a terminal, and never when `NO_COLOR`
/// is set (<https://no-color.org>).
fn colour_wanted(output: Option<&Path>) -> bool {
    use std::io::IsTerminal as _;
    output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes `text` to `path` (atomically: a temporary file renamed into
/// place, so a reader never sees half a report) or to standard output.
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
        Some(path) => atomic::write_atomically(path, |file| file.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display())),
    }
}

/// The config's workloads that cannot run as written, as failed
/// workloads of `plan` (status `error`, the problem as the reason), after
/// the others; one without valid names as a `config_errors` entry of
/// `plan`, and said on stderr. Returns a `config_invalid` label for each of
/// those (for the run's summary).
fn add_rejected(config: &config::Config, plan: &mut Plan) -> Vec<&'static str> {
    let mut unnamed = Vec::new();
    for rejected in &config.rejected {
        if let Some((namespace, name, hpa)) = &rejected.names {
            let mut failed =
                crate::core::plan::WorkloadPlan::empty(namespace, name, hpa, Status::Error)
                    .with_error_kind("config_invalid");
            failed.reasons.push(rejected_reason(rejected));
            plan.workloads.push(failed);
        } else {
            let id = rejected.id();
            tracing::error!(workload = %id, error = "config_invalid", "{}", rejected_reason(rejected));
            plan.config_errors
                .push(config_error(&config.path, rejected));
            unnamed.push("config_invalid");
        }
    }
    unnamed
}

/// A workload entry without valid names, as the report lists it.
fn config_error(path: &Path, rejected: &config::Rejected) -> crate::core::plan::ConfigError {
    crate::core::plan::ConfigError {
        workload: rejected.id(),
        problem: rejected.problem.clone(),
        config: run::config_id(path),
    }
}

/// Why a rejected workload did not run, in the report's words.
fn rejected_reason(rejected: &config::Rejected) -> String {
    crate::core::plan::not_run_reason(&rejected.problem)
}

/// When a signal stopped the run before it finished planning: says so and
/// gives the exit code (nothing is written: a report or alerts for part of
/// the fleet would read as the whole).
fn stopped_early(planned: usize, total: usize) -> Option<u8> {
    let signal = stop::requested()?;
    tracing::error!(
        "stopped by {} after planning {planned} of {total} workloads: no report written, no alert sent, no HPA changed",
        stop::name(signal)
    );
    Some(stop::exit_code(signal))
}

/// Sends the run's alerts and metrics; says on stderr what went wrong.
/// Returns the failures' labels (for the run's summary): a server that
/// could not be told makes the exit code 1.
fn notify_and_say(
    run: &run::RunContext,
    config: &config::Config,
    plan: &Plan,
    applied: Option<&crate::core::apply::ApplyRun>,
    started: std::time::Instant,
) -> Vec<&'static str> {
    let elapsed = started.elapsed().as_secs_f64();
    // The clock is not read again: the run's start plus its duration,
    // whole seconds down (rounded, it could be ahead of the clock, and an
    // alert's `startsAt` in the future: a test flaked on it).
    let now = run.clock_now + elapsed.floor() as i64;
    let notified = run::notify(run, config, plan, applied, elapsed, now);
    for line in &notified.warnings {
        tracing::warn!("{line}");
    }
    for error in &notified.report.errors {
        tracing::error!(error = error.label(), "notify: {error}");
    }
    notified
        .report
        .errors
        .iter()
        .map(crate::edge::notify::NotifyError::label)
        .collect()
}

/// The run's summary, for the batch job's log (`--log-format json`).
/// `error`: the workloads in error; `other_errors`: the labels of
/// failures outside the workloads' statuses (the model store's, the
/// Kubernetes API's, an export's), counted apart; `error_kinds` counts
/// both by label (`prometheus_unreachable=3,store_unwritable=2`).
/// `incidents`: open after the run, opened and closed by it, and repeats
/// (incidents of a cause a workload had had before) (`apply`).
fn log_summary(
    command: &str,
    plan: &Plan,
    started: std::time::Instant,
    other_errors: &[&'static str],
    incidents: Option<[usize; 4]>,
) {
    // Each workload without a usable recommendation, by name, so that
    // the batch job's log says which and why (the report may be a file).
    // The reason is why an operator is needed (the ceiling, the spike above
    // max, the failure), not the first reason of the report (its history).
    // An `ok` one here is critical (a spike above max) or a warning (its
    // model not trusted), and said so: "ok: a spike …" read as fine.
    let critical = |w: &&crate::core::plan::WorkloadPlan| {
        w.status != Status::Ok
            || w.spike_above_max().is_some()
            || w.untrustworthy_model
            || w.bounds.as_ref().is_some_and(|b| b.unit_suspect)
    };
    for w in plan.workloads.iter().filter(critical) {
        let workload = format!("{}/{}", w.namespace, w.name);
        let (status, severity) = (w.status.as_str(), crate::report::severity(w).as_str());
        // Said by its severity when `ok`: "ok: a spike …" read as fine.
        let said = if w.status == Status::Ok {
            severity
        } else {
            status
        };
        let reasons = crate::report::operator_reasons(w);
        let reason = if reasons.is_empty() {
            w.reasons.first().cloned().unwrap_or_default()
        } else {
            reasons.join("; ")
        };
        let error = w.error_kind.as_deref();
        // The log line already begins "warning: "; said twice, it read as
        // two warnings.
        let said = if said == "warning" {
            String::new()
        } else {
            format!("{said}: ")
        };
        tracing::warn!(
            workload,
            status,
            severity,
            error,
            reason,
            "{workload}: {said}{reason}"
        );
    }
    let count = |status: Status| plan.workloads.iter().filter(|w| w.status == status).count();
    let mut kinds = std::collections::BTreeMap::new();
    let workload_errors = plan
        .workloads
        .iter()
        .filter(|w| w.status == Status::Error)
        .map(|w| w.error_kind.as_deref().unwrap_or("error"));
    for label in other_errors.iter().copied().chain(workload_errors) {
        *kinds.entry(label).or_insert(0) += 1;
    }
    let error_kinds = kinds
        .iter()
        .map(|(label, n)| format!("{label}={n}"))
        .collect::<Vec<_>>()
        .join(",");
    tracing::info!(
        command,
        // A workload the config cannot even name is no row of the plan,
        // but one of the run's workloads all the same (an error).
        workloads = plan.workloads.len()
            + other_errors
                .iter()
                .filter(|label| **label == "config_invalid")
                .count(),
        ok = count(Status::Ok),
        needs_operator = count(Status::NeedsOperator),
        // `ok` but critical: the exit code 1 of a run whose workloads are
        // all `ok` comes from these.
        spike_above_max = plan
            .workloads
            .iter()
            .filter(|w| w.status == Status::Ok && w.spike_above_max().is_some())
            .count(),
        insufficient_data = count(Status::InsufficientData),
        no_data = count(Status::NoData),
        cold_start = plan
            .workloads
            .iter()
            .filter(|w| w.cold_start.as_ref().is_some_and(|c| c.own_weight == 0.0))
            .count(),
        // Workloads (a config entry without valid names is one too); the
        // run's other failures apart (until 2026-12-07 added in, so that
        // the statuses added up to more workloads than the run had).
        error = count(Status::Error)
            + other_errors
                .iter()
                .filter(|label| **label == "config_invalid")
                .count(),
        other_errors = other_errors
            .iter()
            .filter(|label| **label != "config_invalid")
            .count(),
        error_kinds,
        incidents_open = incidents.map(|i| i[0]),
        incidents_opened = incidents.map(|i| i[1]),
        incidents_closed = incidents.map(|i| i[2]),
        incidents_repeated = incidents.map(|i| i[3]),
        seconds = started.elapsed().as_secs_f64(),
        peak_rss_kib = budget::peak_rss_kib(),
        memory_budget_mib = budget::run_budget().total() >> 20,
        "run finished"
    );
}
