//! The command line: clap's types for every command and flag, the checks
//! of flag values that clap runs while parsing (`--level`, `--min-change`,
//! ...), and [`Command::check`] for the combinations of flags, so that the
//! commands only run.

use crate::app::{config, run};
use crate::core::model::{level_error, Level};
use crate::core::time::{parse_timestamp, Span};
use crate::report::{Format, ResultFormat};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "homeostat",
    version,
    about = "Predictive autoscaler for Kubernetes: forecasts load and recommends HPA min/max replicas"
)]
pub struct Cli {
    /// Diagnostics on stderr: `text` for people, `json` (one object per
    /// line, with the run's summary) for a batch job's log collector.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Threads that plan workloads at once (0: one per core).
    #[arg(long, default_value_t = 0, global = true)]
    pub threads: usize,
    /// Memory for reading histories at once, e.g. `512Mi` or `2G`: a file
    /// or answer that needs more fails alone; reads that together would
    /// pass it wait their turn. Default: three quarters of the container's
    /// memory limit (cgroup), else of the machine's RAM.
    #[arg(long, global = true, value_name = "SIZE", value_parser = crate::edge::budget::parse_size)]
    pub memory_budget: Option<u64>,
    /// Only the workloads of shard INDEX of COUNT (by a fixed hash of
    /// namespace/name; INDEX from 0, as Kubernetes' `JOB_COMPLETION_INDEX`):
    /// for the commands that read a config (the others refuse it). `report
    /// merge` combines the shards' JSON reports.
    #[arg(long, global = true, value_name = "INDEX/COUNT")]
    pub shard: Option<config::Shard>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// The main job: read each workload's load, forecast it, recommend HPA bounds.
    Recommend {
        /// Configuration file (YAML). Default: the bundled example, data/homeostat.yaml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Fix "now" (RFC3339, `YYYY-MM-DD HH:MM:SS` in UTC, or unix seconds): only data up to it is used.
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
        /// Fix "now" (RFC3339, `YYYY-MM-DD HH:MM:SS` in UTC, or unix
        /// seconds); more than 15 minutes from the clock needs `--dry-run`
        /// (a recommendation for another time is never applied).
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
        /// The report of what was applied, held back or refused, per
        /// workload: `table` for people, `json` for tools.
        #[arg(long, value_enum, default_value = "table")]
        format: ApplyFormat,
        /// Write the output to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Replay the last `--span` of each workload's data: rerun the batch job
    /// every `--replan` on the data before that moment, and simulate the HPA
    /// on the real load under reactive-only bounds (`current:`), a tight
    /// rule of thumb set once from the history before the replay (min for
    /// the last week's 5th percentile, max 1.2 × the last 28 days'
    /// highest), the recommended bounds, the time-of-day schedule and an
    /// oracle.
    Backtest {
        /// Configuration file (YAML). Default: the bundled example, data/homeostat.yaml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Replay only this workload (`name` or `namespace/name`).
        #[arg(long)]
        workload: Option<String>,
        /// End of the replay (RFC3339, `YYYY-MM-DD HH:MM:SS` in UTC, or unix seconds). Default: each
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
        #[arg(long, default_value_t = 0.7, value_parser = parse_share)]
        target_utilization: f64,
        /// The schedule raises min this long before the expected load, on top of the startup.
        #[arg(long, default_value = "5m", value_parser = crate::core::time::parse_span_or_zero)]
        buffer: i64,
        /// Size the schedule's min for the upper end of this central
        /// interval (percent) instead of the forecast mean: fewer overloads
        /// from the noise around the expected curve, more replica-hours.
        #[arg(long, value_parser = parse_level)]
        schedule_level: Option<Level>,
        /// Replay the runs a second time with learning, as `learning:
        /// apply` would have had it: the operator's fix simulated as
        /// raising the ceiling at each `needs_operator` alert, recurring
        /// incidents learned as known events; the report compares the
        /// incidents opened (and repeated) without and with it.
        #[arg(long)]
        learning: bool,
        /// Replay each workload as if it were new: its runs see only this
        /// much history before the replay (growing as it goes), the
        /// fleet's shapes learned from the other workloads' history before
        /// the replay.
        #[arg(long, value_name = "SPAN")]
        cold_start: Option<Span>,
        /// `html`: a page with each policy's overload and replica-hours and
        /// the simulated replicas against the load over one week.
        #[arg(long, value_enum, default_value = "table")]
        format: ResultFormat,
        /// The week the HTML charts draw, from this time (RFC3339,
        /// `YYYY-MM-DD HH:MM:SS` in UTC, or unix seconds). Default: the last
        /// week of the replay.
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
        /// Simulate cold starts instead: for each series, the next day
        /// forecast from only its last SPANS of history (comma-separated,
        /// e.g. `6h,24h,48h`), the fleet's shapes learned from the other
        /// series of the folder; scored against its own model and a flat line.
        #[arg(long, value_name = "SPANS", value_delimiter = ',')]
        cold_start: Vec<Span>,
    },
    /// Export each workload's history, as `recommend` would use it, one
    /// file per workload (`<namespace>_<name>.csv`, columns `timestamp,value`).
    Fetch {
        /// Configuration file (YAML). Default: the bundled example, data/homeostat.yaml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Fix "now" (RFC3339, `YYYY-MM-DD HH:MM:SS` in UTC, or unix seconds): the history ends there.
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
        /// Only the last HISTORY of the file (e.g. 28d, `recommend`'s
        /// default `history:`: the events a run's report lists); default:
        /// all of it.
        #[arg(long)]
        history: Option<Span>,
        /// A departure lasting longer than this is a shift.
        #[arg(long, default_value = "6h")]
        persistence: Span,
        /// Least size, in robust noise standard deviations.
        #[arg(long, default_value_t = 3.0, value_parser = parse_deviations)]
        min_z: f64,
        /// Least size relative to the expected level, percent.
        #[arg(long, default_value_t = 15.0, value_parser = parse_change)]
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
        /// Days of history each (at least 2d, what a workload's own model needs).
        #[arg(long, default_value = "28d", value_parser = parse_days)]
        days: Span,
        /// Time between samples.
        #[arg(long, default_value = "5m")]
        step: Span,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The last sample's time (RFC3339, `YYYY-MM-DD HH:MM:SS` in UTC, or unix seconds).
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
    /// A draft post-mortem of an incident homeostat could not heal, from
    /// the model store: summary, why, what the operator changed, timeline,
    /// what homeostat does now (Markdown, for a pull request or an
    /// incident tracker).
    Postmortem {
        /// Configuration file (YAML): its model store and workloads.
        /// Default: the bundled example.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The latest incident of this workload (`name` or
        /// `namespace/name`). Default: the latest of any workload.
        #[arg(long)]
        workload: Option<String>,
        /// This incident (`namespace/name#n`, as `apply` reports it).
        #[arg(long)]
        incident: Option<String>,
        /// `html` draws the load around the incident against the range in
        /// force (it reads the workload's history, from its file or
        /// Prometheus).
        #[arg(long, value_enum, default_value = "markdown")]
        format: PostmortemFormat,
        /// Write the draft to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The settings operators chose while healing incidents (an HPA max
    /// raised above the config's ceiling), as a YAML patch of the config
    /// to review and merge: each with the incident and change it comes
    /// from. Reads the model store without changing it.
    Learned {
        /// Configuration file (YAML): its model store and workloads.
        /// Default: the bundled example.
        #[arg(long)]
        config: Option<PathBuf>,
        /// `yaml`: a patch of the config to review and merge; `json`:
        /// everything learned per workload, with where it came from, for
        /// tools.
        #[arg(long, value_enum, default_value = "yaml")]
        format: LearnedFormat,
        /// Write the patch to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Work on the incidents of the model store.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
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
    /// Forecast one series as `recommend` does (events found in the history, spikes and dips out, levels re-based after shifts; `--bare` for the model alone): CSV `timestamp,mean,lower,upper`, one row per step after the input.
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
        /// Only the last HISTORY of the file (e.g. 28d, `recommend`'s
        /// default `history:`); default: all of it.
        #[arg(long)]
        history: Option<Span>,
        /// Write the CSV to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// The model fitted to the history as it is, without the events
        /// stage (what `evaluate` scores as `MASE`, beside `ADAPTED`).
        #[arg(long)]
        bare: bool,
    },
}

#[derive(Subcommand)]
pub enum ReportCommand {
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
        format: MergeFormat,
        /// Write the report to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// Output formats of `report merge`: `recommend`'s, but for Parquet (the
/// shards write their own files) and without charts (the shards' data is
/// not in their JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MergeFormat {
    /// Aligned columns for a terminal.
    Table,
    /// The fleet's JSON report, as `recommend --format json` writes one.
    Json,
    /// One row per workload.
    Csv,
    /// The table and one line per change, for a pull request or a chat message.
    Markdown,
    /// One self-contained page, without charts.
    Html,
}

impl From<MergeFormat> for Format {
    fn from(format: MergeFormat) -> Format {
        match format {
            MergeFormat::Table => Format::Table,
            MergeFormat::Json => Format::Json,
            MergeFormat::Csv => Format::Csv,
            MergeFormat::Markdown => Format::Markdown,
            MergeFormat::Html => Format::Html,
        }
    }
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Note what the operator did that homeostat cannot see (a code fix, a
    /// new node pool) on the workload's open incident, else its latest:
    /// the post-mortem's timeline shows it.
    Note {
        /// The workload (`name` or `namespace/name`).
        workload: String,
        /// What was done, in words.
        #[arg(long)]
        text: String,
        /// Configuration file (YAML): its model store and workloads.
        /// Default: the bundled example.
        #[arg(long)]
        config: Option<PathBuf>,
        /// When it was done (RFC3339, `YYYY-MM-DD HH:MM:SS` in UTC, or unix
        /// seconds), as `--at` fixes "now" for `apply`: a store of replayed
        /// runs gets its notes at the replay's time. Default: the clock.
        #[arg(long, value_parser = parse_timestamp)]
        at: Option<i64>,
    },
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration and read every workload's file, touching
    /// no server (queries are not run): every problem listed, one line
    /// per workload. Exit code 2 for an invalid configuration, 1 when a
    /// file it names cannot be read (a load file, or a token or CA file)
    /// or the run would refuse what a load file holds, else 0.
    Check {
        /// Configuration file (YAML). Default: the bundled example.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Fix "now" (RFC3339, `YYYY-MM-DD HH:MM:SS` in UTC, or unix seconds), as for `recommend`.
        #[arg(long, value_parser = parse_timestamp)]
        at: Option<i64>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PatchFormat {
    Yaml,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ApplyFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LearnedFormat {
    Yaml,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PostmortemFormat {
    /// For a pull request or an incident tracker.
    Markdown,
    /// A self-contained page with the chart of the load against the range.
    Html,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum EvaluateFormat {
    Table,
    Json,
    Csv,
}

/// `--level`: a percentage, validated once (a fraction like `0.9` is refused with a hint).
pub fn parse_level(text: &str) -> Result<Level, String> {
    let percent: f64 = text
        .parse()
        .map_err(|_| format!("expected a percentage such as 90, got `{text}`"))?;
    Level::from_percent(percent).ok_or_else(|| level_error(percent))
}

/// `--target-utilization`: a share of a replica's capacity.
pub fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(share) if share.is_finite() && share > 0.0 && share <= 1.0 => Ok(share),
        _ => Err(format!("a share between 0 and 1 (e.g. 0.7), got {text}")),
    }
}

/// `--min-z`: a number of standard deviations.
pub fn parse_deviations(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(z) if z.is_finite() && z > 0.0 => Ok(z),
        _ => Err(format!(
            "a positive number of standard deviations, got {text}"
        )),
    }
}

/// `--min-change`: a percentage of the expected level.
pub fn parse_change(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p.is_finite() && p > 0.0 && p < 100.0 => Ok(p),
        _ => Err(format!(
            "a percentage between 0 and 100 (e.g. 15), got {text}"
        )),
    }
}

/// `synth --days`: whole days, at least the history a workload's own model
/// needs (two days: a shorter fleet's config could not run).
pub fn parse_days(text: &str) -> Result<Span, String> {
    let span: Span = text.parse()?;
    let least = crate::core::series::DEFAULT_MIN_HISTORY;
    if span.secs() < least {
        return Err(format!(
            "at least {} days, the history a workload's own model needs, got {text}",
            least / crate::core::time::DAY
        ));
    }
    Ok(span)
}

impl Command {
    /// Whether the command plans the workloads of a config, the only ones
    /// `--shard` can select from (`report merge` reads the whole config to
    /// combine the shards).
    #[must_use]
    pub fn reads_config_workloads(&self) -> bool {
        match self {
            Command::Recommend { .. }
            | Command::Apply { .. }
            | Command::Backtest { .. }
            | Command::Fetch { .. }
            | Command::Postmortem { .. }
            | Command::Learned { .. }
            | Command::Incident { .. }
            | Command::Config { .. } => true,
            Command::Evaluate { .. }
            | Command::Events { .. }
            | Command::Synth { .. }
            | Command::Report { .. }
            | Command::Forecast { .. } => false,
        }
    }

    /// The checks of flags that only make sense together.
    ///
    /// # Errors
    /// What is wrong, naming the flags.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Command::Recommend {
                format: Format::Parquet,
                output: None,
                ..
            } => Err(
                "--format parquet writes a file per workload: give the folder with --output DIR"
                    .to_string(),
            ),
            Command::Evaluate {
                export: Some(_),
                cold_start,
                ..
            } if !cold_start.is_empty() => Err(
                "--export writes each series' forecast of its held-out span, which --cold-start does not make (it forecasts a day from each series' last hours): leave one of them out"
                    .to_string(),
            ),
            // As `evaluate --cold-start`: under the hour a cold start needs,
            // a replay "seeing 1m of history" on 5-minute data saw nothing.
            Command::Backtest {
                cold_start: Some(span),
                ..
            } if !(crate::core::shapes::COLD_MIN_HISTORY..crate::core::shapes::OWN_HISTORY)
                .contains(&span.secs()) =>
            {
                let at = |secs| crate::core::time::Span::from_secs(secs).expect("positive constant");
                Err(format!(
                    "--cold-start {span}: a cold start is replayed from {} to under {} of history (`m` is minutes; from {} on a workload is forecast by its own model alone)",
                    at(crate::core::shapes::COLD_MIN_HISTORY),
                    at(crate::core::shapes::OWN_HISTORY),
                    at(crate::core::shapes::OWN_HISTORY)
                ))
            }
            // `--span 1s` replayed nothing and printed a table of zeros.
            Command::Backtest { span, .. } if span.secs() < 3_600 => Err(format!(
                "--span {span}: a replay under an hour simulates the HPA over a few steps and shows nothing (`m` is minutes; a month is `30d`)"
            )),
            // A config without workloads is one homeostat refuses to run.
            Command::Synth { workloads: 0, .. } => Err(
                "--workloads must be at least 1 (the config written must have a workload to run)"
                    .to_string(),
            ),
            _ => Ok(()),
        }
    }
}
