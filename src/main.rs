//! The `homeostat` binary: parses arguments, dispatches, maps the result to
//! an exit code (0 all fine, 1 some workloads failed or need an operator,
//! 2 could not run at all). Everything else lives in the library.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use homeostat::app::{config, run};
use homeostat::core::evaluate;
use homeostat::core::model::{self, Level};
use homeostat::core::series::{self, GridOptions};
use homeostat::core::time::{parse_timestamp, Span};
use homeostat::edge::source;
use homeostat::report::{self, Format, ResultFormat};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "homeostat",
    version,
    about = "Predictive autoscaler for Kubernetes: forecasts load and recommends HPA min/max replicas"
)]
struct Cli {
    /// Diagnostics on stderr: `text` for people, `json` (one object per
    /// line, with the run's summary) for a batch job's log collector.
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
    /// Threads that plan workloads at once (0: one per core).
    #[arg(long, default_value_t = 0, global = true)]
    threads: usize,
    /// Memory for reading histories at once, e.g. `512Mi` or `2G`: a file
    /// or answer that needs more fails alone; reads that together would
    /// pass it wait their turn. Default: half of the container's memory
    /// limit (cgroup), else half of the machine's RAM.
    #[arg(long, global = true, value_name = "SIZE", value_parser = homeostat::edge::budget::parse_size)]
    memory_budget: Option<u64>,
    /// Only the workloads of shard INDEX of COUNT (by a fixed hash of
    /// namespace/name; INDEX from 0, as Kubernetes' `JOB_COMPLETION_INDEX`):
    /// for the commands that read a config. `report merge` combines the
    /// shards' JSON reports.
    #[arg(long, global = true, value_name = "INDEX/COUNT")]
    shard: Option<config::Shard>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: read each workload's load, forecast it, recommend HPA bounds.
    Recommend {
        /// Configuration file (YAML). Default: the bundled example, data/homeostat.yaml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Fix "now" (RFC3339 or unix seconds): only data up to it is used.
        /// Default: the time of each file's last sample.
        #[arg(long, value_parser = parse_timestamp)]
        at: Option<i64>,
        /// `table` (colours on a terminal unless `NO_COLOR` is set), `json`
        /// (the full report), `csv` (a row per workload), `markdown` (for a
        /// pull request or a chat message), `html` (one page with a chart
        /// per workload), `parquet` (each workload's history and forecast,
        /// and report.json, into the folder --output).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Write the report to this file (a folder for `parquet`) instead
        /// of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Send the run's alerts to Alertmanager and its metrics to the
        /// Pushgateway (those configured). A failure to notify is reported
        /// and makes the exit code 1; the report is written all the same.
        #[arg(long)]
        notify: bool,
    },
    /// Apply the recommendations to the HPAs: read each HPA (kube-rs:
    /// kubeconfig or in-cluster service account), hold changes back by the
    /// safety rules, patch minReplicas/maxReplicas by server-side apply
    /// (field manager `homeostat`), alert and push run metrics.
    Apply {
        /// Configuration file (YAML). Default: the bundled example, data/homeostat.yaml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Fix "now" (RFC3339 or unix seconds).
        #[arg(long, value_parser = parse_timestamp)]
        at: Option<i64>,
        /// Change no HPA: show what would change. Without a reachable
        /// cluster, compare with `current:` in the config.
        #[arg(long)]
        dry_run: bool,
        /// Send no alerts and push no metrics (they are sent in a dry run too).
        #[arg(long)]
        no_notify: bool,
        /// `yaml`: write the patches as YAML documents (to commit to the
        /// repository Argo CD or Flux syncs, or as kustomize patches) instead
        /// of the report; the report goes to stderr.
        #[arg(long, value_enum)]
        output_format: Option<PatchFormat>,
        #[arg(long, value_enum, default_value = "table")]
        format: ApplyFormat,
        /// Write the output to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Replay the last `--span` of each workload's data: rerun the batch job
    /// every `--replan` on the data before that moment, and simulate the HPA
    /// on the real load under reactive-only bounds (`current:`), the
    /// recommended bounds, the time-of-day schedule and an oracle.
    Backtest {
        /// Configuration file (YAML). Default: the bundled example, data/homeostat.yaml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Replay only this workload (`name` or `namespace/name`).
        #[arg(long)]
        workload: Option<String>,
        /// End of the replay (RFC3339 or unix seconds). Default: each
        /// workload's last sample.
        #[arg(long, value_parser = parse_timestamp)]
        at: Option<i64>,
        /// How much time to replay.
        #[arg(long, default_value = "7d")]
        span: Span,
        /// Time between the batch job's runs.
        #[arg(long, default_value = "1d")]
        replan: Span,
        /// From asking for a pod until it serves.
        #[arg(long, default_value = "90s")]
        startup: Span,
        /// The HPA's target utilization (a replica is overloaded above 1.0).
        #[arg(long, default_value_t = 0.7)]
        target_utilization: f64,
        /// The schedule raises min this long before the expected load, on top of the startup.
        #[arg(long, default_value = "5m", value_parser = homeostat::core::time::parse_span_or_zero)]
        buffer: i64,
        /// Size the schedule's min for the upper end of this central
        /// interval (percent) instead of the forecast mean: fewer overloads
        /// from the noise around the expected curve, more replica-hours.
        #[arg(long)]
        schedule_level: Option<f64>,
        /// `html`: a page with each policy's overload and replica-hours and
        /// the simulated replicas against the load over one week.
        #[arg(long, value_enum, default_value = "table")]
        format: ResultFormat,
        /// The week the HTML charts draw, from this time (RFC3339 or unix
        /// seconds). Default: the last week of the replay.
        #[arg(long, value_parser = parse_timestamp)]
        chart_week: Option<i64>,
        /// Write the result to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Forecast accuracy over many series: hold out the last `--test` span of
    /// each, forecast it, score MASE, sMAPE, interval coverage and width.
    Evaluate {
        /// Folder of series files (CSV or Parquet with `timestamp,value`).
        #[arg(long)]
        input: PathBuf,
        /// Held-out span at the end of each series.
        #[arg(long, default_value = "7d")]
        test: Span,
        /// Central interval level, percent.
        #[arg(long, default_value = "90", value_parser = parse_level)]
        level: Level,
        #[arg(long, value_enum, default_value = "table")]
        format: EvaluateFormat,
        /// Write the result to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Also write each series' history, held-out actuals and forecast
        /// to `DIR/<series>.parquet` (`timestamp, load, mean, lower, upper`).
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Export each workload's history, as `recommend` would use it, one
    /// file per workload (`<namespace>_<name>.csv`, columns `timestamp,value`).
    Fetch {
        /// Configuration file (YAML). Default: the bundled example, data/homeostat.yaml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Fix "now" (RFC3339 or unix seconds): the history ends there.
        /// Default: the clock for Prometheus queries, the last sample for files.
        #[arg(long, value_parser = parse_timestamp)]
        at: Option<i64>,
        /// Folder to write the files to (made when missing).
        #[arg(long)]
        output: PathBuf,
        #[arg(long, value_enum, default_value = "csv")]
        format: run::SeriesFormat,
    },
    /// Find the spikes, dips and level shifts of one series: a JSON array
    /// of `{"kind", "start", "end", "before", "after"}`.
    Events {
        /// Load file: CSV or Parquet with columns `timestamp,value`.
        #[arg(long)]
        input: PathBuf,
        /// Grid step (default: the most common spacing of the input).
        #[arg(long)]
        step: Option<Span>,
        /// A departure lasting longer than this is a shift.
        #[arg(long, default_value = "6h")]
        persistence: Span,
        /// Least size, in robust noise standard deviations.
        #[arg(long, default_value_t = 3.0)]
        min_z: f64,
        /// Least size relative to the expected level, percent.
        #[arg(long, default_value_t = 15.0)]
        min_change: f64,
        /// Write the JSON to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Make a synthetic fleet for trials and benchmarks: one load file per
    /// workload (daily and weekly seasonality, trend, noise, spikes, level
    /// shifts, gaps; seeded), and `homeostat.yaml` to run it.
    Synth {
        /// How many workloads.
        #[arg(long, default_value_t = 100)]
        workloads: usize,
        /// Days of history each.
        #[arg(long, default_value = "28d")]
        days: Span,
        /// Time between samples.
        #[arg(long, default_value = "5m")]
        step: Span,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The last sample's time (RFC3339 or unix seconds).
        #[arg(long, default_value = "2026-01-01T00:00:00Z", value_parser = parse_timestamp)]
        end: i64,
        /// Folder to write to (made when missing).
        #[arg(long)]
        output: PathBuf,
        #[arg(long, value_enum, default_value = "parquet")]
        format: run::SeriesFormat,
        /// Also write `fleet.om` (`OpenMetrics`, gauge
        /// `homeostat_synthetic_load{namespace, workload}`) for `promtool
        /// tsdb create-blocks-from openmetrics`, and
        /// `homeostat-prometheus.yaml` querying it.
        #[arg(long)]
        openmetrics: bool,
    },
    /// Work on reports already written.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Check a configuration before a run.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Forecast one series: CSV `timestamp,mean,lower,upper`, one row per step after the input.
    Forecast {
        /// Load file: CSV or Parquet with columns `timestamp,value`.
        #[arg(long)]
        input: PathBuf,
        /// How far ahead to forecast (e.g. 1d, 7d).
        #[arg(long, default_value = "7d")]
        horizon: Span,
        /// Central interval level, percent.
        #[arg(long, default_value = "90", value_parser = parse_level)]
        level: Level,
        /// Grid step (default: the most common spacing of the input).
        #[arg(long)]
        step: Option<Span>,
        /// Write the CSV to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Combine the JSON reports of `recommend --shard i/n` into the fleet's
    /// report (charts are not redrawn: the HTML has none).
    Merge {
        /// The shards' JSON reports (`recommend --format json`).
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// The fleet's config: workloads in its order, and any that no
        /// shard holds named (exit code 1). Without it: sorted by
        /// namespace and name.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Write the report to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration and read every workload's file, touching
    /// no server (queries are not run): every problem listed, one line
    /// per workload. Exit code 2 for an invalid configuration, 1 when a
    /// file cannot be read, else 0.
    Check {
        /// Configuration file (YAML). Default: the bundled example.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Fix "now" (RFC3339 or unix seconds), as for `recommend`.
        #[arg(long, value_parser = parse_timestamp)]
        at: Option<i64>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PatchFormat {
    Yaml,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ApplyFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EvaluateFormat {
    Table,
    Json,
    Csv,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logs(cli.log_format);
    homeostat::app::stop::install();
    run::set_threads(cli.threads);
    if let Some(bytes) = cli.memory_budget {
        homeostat::edge::budget::set_run_budget(homeostat::edge::budget::MemoryBudget::new(
            bytes,
            "set by --memory-budget",
        ));
    }
    match execute(cli.command, cli.log_format, cli.shard) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(2)
        }
    }
}

/// `homeostat: warning: …` lines for people (warnings and errors only), or
/// JSON objects for a log collector (with the runs' summaries too).
fn init_logs(format: LogFormat) {
    let builder = tracing_subscriber::fmt().with_writer(|| LogWriter);
    match format {
        LogFormat::Text => builder
            .with_max_level(tracing::Level::WARN)
            .event_format(PlainLog)
            .init(),
        LogFormat::Json => builder
            .with_max_level(tracing::Level::INFO)
            .json()
            .flatten_event(true)
            .init(),
    }
}

/// `homeostat: warning: message key=value`: the CLI's diagnostics as they
/// read before logs went through tracing.
struct PlainLog;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for PlainLog
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error: ",
            tracing::Level::WARN => "warning: ",
            _ => "",
        };
        // The message only: it names the workload already; the fields
        // are for the JSON logs.
        let mut message = Message(String::new());
        event.record(&mut message);
        writeln!(writer, "homeostat: {level}{}", message.0)
    }
}

/// The `message` field of an event.
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// Standard error for the logs, with the progress bars (if any) lifted
/// while a line is written, so that lines and bars do not garble each other.
struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        run::Progress::suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
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

fn execute(command: Command, logs: LogFormat, shard: Option<config::Shard>) -> Result<u8> {
    let load_config = |path| load_config(path, shard);
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
            let (plan, extras) = run::recommend_with(
                &config,
                at,
                chrono::Utc::now().timestamp(),
                &progress,
                |workload, plan, fitted| {
                    let chart = (format == Format::Html)
                        .then(|| fitted.map(|f| report::chart::workload_chart(plan, f)))
                        .flatten();
                    let exported = parquet_dir
                        .as_ref()
                        .map_or(Ok(None), |dir| run::export_fitted(dir, workload, fitted));
                    (chart, exported)
                },
            );
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
            let (plan, _) = run::recommend_with(&config, at, clock, &progress, |_, _, _| ());
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
            let backtest = run::backtest_with(
                &config,
                at,
                chrono::Utc::now().timestamp(),
                &settings,
                &progress,
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
                EvaluateFormat::Table => evaluate::render_table(&evaluation),
                EvaluateFormat::Json => evaluate::render_json(&evaluation),
                EvaluateFormat::Csv => evaluate::render_csv(&evaluation),
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
            let exported =
                run::export_histories(&config, at, chrono::Utc::now().timestamp(), &output, format)
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
                &homeostat::core::events::render_json(&events),
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
            run::write_fleet(&spec, &output, format, openmetrics).map_err(anyhow::Error::msg)?;
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
            let text = run::check_files(&config, at, chrono::Utc::now().timestamp());
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

/// `--level`: a percentage, validated once (a fraction like `0.9` is refused with a hint).
fn parse_level(text: &str) -> Result<Level, String> {
    let percent: f64 = text
        .parse()
        .map_err(|_| format!("expected a percentage such as 90, got `{text}`"))?;
    Level::from_percent(percent).ok_or_else(|| model::level_error(percent))
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
