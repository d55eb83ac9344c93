//! Orchestration: the only module that sequences I/O (files, Prometheus,
//! the clock) and the pure core.
//!
//! [`load_histories`] reads every workload's history, from files or from
//! Prometheus, and hands each to a visitor in config order while the next
//! ones are being fetched: at most a few times `max_concurrency` histories
//! are in memory at once, whatever the fleet size. The visitor (planning,
//! exporting) runs on the calling thread; fetching runs on a tokio runtime
//! made only when some workload has a query. One workload's failure is
//! recorded as its result and never stops the others.

use crate::app::config::Config;
use crate::core::apply::ApplyRun;
use crate::core::evaluate::{self, Evaluation, SeriesEvaluation};
use crate::core::model::{self, Level};
use crate::core::plan::{plan_fitted, Fitted, Plan, Status, WorkloadPlan};
use crate::core::replay::Backtest;
use crate::core::series::{self, GridOptions};
use crate::core::time::{format_timestamp, Span};
use crate::core::workload::{LoadSource, Workload};
use crate::edge::prometheus::Client;
use crate::edge::source::{self, RawSeries};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A workload's history as read for a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The samples in the workload's history window.
    pub raw: RawSeries,
    /// The "now" the workload is planned at: `--at`, the clock for a
    /// query, the last sample for a file without `--at`.
    pub now: i64,
    /// HTTP requests it took (0 for a file).
    pub requests: usize,
}

/// Why a workload has no history for this run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadFailure {
    /// `no_data` for a query that matched nothing, else `error`.
    pub status: Status,
    pub reason: String,
    pub now: Option<i64>,
}

impl LoadFailure {
    /// An `error` failure.
    fn error(reason: String, now: Option<i64>) -> LoadFailure {
        LoadFailure {
            status: Status::Error,
            reason,
            now,
        }
    }
}

/// Reads every workload's history (only samples in `(now − history, now]`)
/// and calls `visit` with each, in config order.
///
/// `at` fixes "now"; without it a query is planned at `clock_now` and a
/// file at its last sample. A query always asks Prometheus for explicit
/// `start` and `end`, never its own "now".
pub fn load_histories<F>(config: &Config, at: Option<i64>, clock_now: i64, visit: F)
where
    F: FnMut(&Workload, Result<Loaded, LoadFailure>),
{
    load_histories_with(config, at, clock_now, &Progress::hidden(), visit);
}

/// The bars on screen, if any: log lines lift them while they are written.
static BARS: std::sync::Mutex<Option<indicatif::MultiProgress>> = std::sync::Mutex::new(None);

/// A run's progress: histories read and workloads planned. Drawn on
/// stderr as two bars when it is a terminal ([`Progress::on_stderr`]),
/// else nothing.
#[derive(Clone)]
pub struct Progress {
    read: indicatif::ProgressBar,
    planned: indicatif::ProgressBar,
}

impl Progress {
    /// Counts, shows nothing.
    #[must_use]
    pub fn hidden() -> Progress {
        Progress {
            read: indicatif::ProgressBar::hidden(),
            planned: indicatif::ProgressBar::hidden(),
        }
    }

    /// Bars for `total` workloads on stderr when it is a terminal; hidden
    /// otherwise (a batch job's log gets no control characters).
    #[must_use]
    pub fn on_stderr(total: usize, planning: &str) -> Progress {
        use std::io::IsTerminal as _;
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bars = indicatif::MultiProgress::new();
        let style = indicatif::ProgressStyle::with_template(
            "{prefix:>8} [{bar:40}] {pos}/{len} {elapsed} {msg}",
        )
        .expect("the template is valid")
        .progress_chars("=> ");
        let bar = |prefix: &str| {
            let bar = bars.add(indicatif::ProgressBar::new(total as u64));
            bar.set_style(style.clone());
            bar.set_prefix(prefix.to_string());
            bar
        };
        let progress = Progress {
            read: bar("fetch"),
            planned: bar(planning),
        };
        *BARS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bars);
        progress
    }

    /// Runs `write` with the bars (if any) lifted off the screen.
    pub fn suspend<R>(write: impl FnOnce() -> R) -> R {
        let bars = BARS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match bars {
            Some(bars) => bars.suspend(write),
            None => write(),
        }
    }

    /// Clears the bars (before the report is written).
    pub fn finish(&self) {
        self.read.finish_and_clear();
        self.planned.finish_and_clear();
        BARS.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

/// [`load_histories`], counting on `progress`: a history read, a workload
/// visited.
pub fn load_histories_with<F>(
    config: &Config,
    at: Option<i64>,
    clock_now: i64,
    progress: &Progress,
    visit: F,
) where
    F: FnMut(&Workload, Result<Loaded, LoadFailure>),
{
    process_histories(config, at, clock_now, progress, |_, loaded| loaded, visit);
}

/// Worker threads for [`process_histories`]; 0: one per core.
static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sets how many threads plan workloads at once (0: one per core).
pub fn set_threads(threads: usize) {
    THREADS.store(threads, std::sync::atomic::Ordering::Relaxed);
}

fn worker_threads() -> usize {
    match THREADS.load(std::sync::atomic::Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    }
}

/// The pipeline of every run: reads each workload's history (files on the
/// worker threads, queries on the async runtime, at most
/// `max_concurrency` at once), runs `work` on it on one thread per core,
/// and hands each result to `visit` on the calling thread, in config order.
///
/// At most a few workloads per thread are in flight — read, being worked
/// on, or done and waiting for an earlier one — so memory is bounded by the
/// threads, not by the fleet. A `work` that panics is given the workload
/// again as a failure, so that one bad workload never stops the others.
pub fn process_histories<R, W, V>(
    config: &Config,
    at: Option<i64>,
    clock_now: i64,
    progress: &Progress,
    work: W,
    mut visit: V,
) where
    R: Send,
    W: Fn(&Workload, Result<Loaded, LoadFailure>) -> R + Sync,
    V: FnMut(&Workload, R),
{
    use std::sync::mpsc::{channel, sync_channel};
    let workloads = &config.workloads;
    let threads = worker_threads();
    let window = 4 * threads;
    // A job is a workload's index and its history, or `None`: read its
    // file on the worker.
    let (jobs, job_queue) = sync_channel::<(usize, Option<Result<Loaded, LoadFailure>>)>(window);
    let job_queue = std::sync::Mutex::new(job_queue);
    let (results, done) = channel::<(usize, R)>();
    // One token per workload in flight, given back when it is visited.
    let (give_back, tokens) = sync_channel::<()>(window);
    for _ in 0..window {
        give_back.send(()).expect("the channel holds the window");
    }
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let results = results.clone();
            let (job_queue, work) = (&job_queue, &work);
            scope.spawn(move || loop {
                let job = job_queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .recv();
                let Ok((index, loaded)) = job else { break };
                let workload = &workloads[index];
                let loaded = loaded.unwrap_or_else(|| {
                    let loaded = read_guarded(workload, at, clock_now);
                    progress.read.inc(1);
                    loaded
                });
                let result = work_or_failure(work, workload, loaded, at);
                if results.send((index, result)).is_err() {
                    break;
                }
            });
        }
        drop(results);
        scope.spawn(move || {
            // After SIGTERM/SIGINT, no new workload is started; those in
            // flight finish.
            let mut send = |index: usize, loaded| {
                tokens.recv().is_ok()
                    && crate::app::stop::requested().is_none()
                    && jobs.send((index, loaded)).is_ok()
            };
            produce(config, at, clock_now, progress, &mut send);
        });
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0;
        for (index, result) in done {
            waiting.insert(index, result);
            while let Some(result) = waiting.remove(&next) {
                visit(&workloads[next], result);
                progress.planned.inc(1);
                let _ = give_back.send(());
                next += 1;
            }
        }
        // Lets the producer go if the workers ended early.
        drop(give_back);
    });
}

/// Memory planning a history takes per step of its grid, measured on 2.4
/// million steps (a 28-day file at one second): 523 MB peak, about 215
/// bytes a step (the grid, the candidate models' fits and backtests).
pub const PLANNING_BYTES_PER_STEP: u64 = 256;

/// The history as it was, with its planning share of the run's memory
/// budget (the grid's steps: `step:`'s when set, else about one per
/// sample); a history too long for the whole budget becomes this
/// workload's error.
fn with_planning_budget(
    workload: &Workload,
    loaded: Result<Loaded, LoadFailure>,
    at: Option<i64>,
) -> (
    Result<Loaded, LoadFailure>,
    Option<crate::edge::budget::Reservation<'static>>,
) {
    let Ok(history) = loaded else {
        return (loaded, None);
    };
    let samples = history.raw.samples.len() as u64;
    let steps = workload.step.map_or(samples, |step| {
        (workload.history.secs() / step.secs()).unsigned_abs() + 1
    });
    let need = steps * PLANNING_BYTES_PER_STEP
        + samples * std::mem::size_of::<source::Sample>() as u64
        + (1 << 20);
    match crate::edge::budget::run_budget().reserve(need) {
        Ok(reservation) => (Ok(history), Some(reservation)),
        Err(e) => (
            Err(LoadFailure::error(
                format!(
                    "{}: planning a history of {steps} steps {e}: a shorter `history:` or a coarser `step:`, or give the run more memory",
                    history.raw.origin
                ),
                Some(history.now).or(at),
            )),
            None,
        ),
    }
}

/// What `config check` found: one line per workload, and how many
/// workloads have a problem.
pub struct FileCheck {
    pub report: String,
    pub problems: usize,
}

/// Reads every file workload's history as a run would (window, `--at`,
/// the same messages), touching no server: query workloads are listed,
/// not run.
#[must_use]
pub fn check_files(config: &Config, at: Option<i64>, clock_now: i64) -> FileCheck {
    use std::fmt::Write as _;
    let files = Config {
        prometheus: None,
        workloads: config
            .workloads
            .iter()
            .filter(|w| matches!(w.source, LoadSource::File(_)))
            .cloned()
            .collect(),
        ..config.clone()
    };
    // Visited in config order: one line per file workload, in order.
    let mut lines = Vec::with_capacity(files.workloads.len());
    let mut problems = 0;
    load_histories(&files, at, clock_now, |_, result| {
        lines.push(match result {
            Ok(loaded) => {
                let samples = &loaded.raw.samples;
                let span =
                    samples
                        .first()
                        .zip(samples.last())
                        .map_or_else(String::new, |(a, b)| {
                            format!(
                                " from {} to {}",
                                format_timestamp(a.ts),
                                format_timestamp(b.ts)
                            )
                        });
                format!("ok: {} samples{span}", samples.len())
            }
            Err(failure) => {
                problems += 1;
                format!("{}: {}", failure.status.as_str(), failure.reason)
            }
        });
    });
    let mut lines = lines.into_iter();
    let mut report = format!(
        "configuration valid: {} workloads ({} files, {} queries)\n",
        config.workloads.len(),
        files.workloads.len(),
        config.workloads.len() - files.workloads.len()
    );
    for workload in &config.workloads {
        let line = match workload.source {
            LoadSource::File(_) => lines.next().expect("one line per file workload"),
            LoadSource::Query { .. } => {
                "query: not run (config check touches no server)".to_string()
            }
        };
        let _ = writeln!(report, "{}: {line}", workload.id());
    }
    FileCheck { report, problems }
}

/// [`read_file`], with a panic inside it (a reader library's bug on some
/// file) turned into this workload's error: the other workloads go on.
fn read_guarded(
    workload: &Workload,
    at: Option<i64>,
    clock_now: i64,
) -> Result<Loaded, LoadFailure> {
    std::panic::catch_unwind(|| read_file(workload, at, clock_now)).unwrap_or_else(|panic| {
        Err(LoadFailure::error(
            format!(
                "reading this workload's file failed unexpectedly (a bug: please report it with the file): {}",
                crate::panic_message(panic.as_ref())
            ),
            at,
        ))
    })
}

/// `work` on a workload's history; if it panics, `work` on the workload as
/// failed, with the panic's message.
fn work_or_failure<R>(
    work: &(impl Fn(&Workload, Result<Loaded, LoadFailure>) -> R + Sync),
    workload: &Workload,
    loaded: Result<Loaded, LoadFailure>,
    at: Option<i64>,
) -> R {
    let now = loaded
        .as_ref()
        .map_or_else(|f| f.now, |l| Some(l.now))
        .or(at);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(workload, loaded)))
        .unwrap_or_else(|panic| {
            let message = crate::panic_message(panic.as_ref());
            let failure = LoadFailure::error(
                format!("planning this workload failed unexpectedly (a bug: please report it): {message}"),
                now,
            );
            work(workload, Err(failure))
        })
}

/// Hands every workload to `send` in config order: files as `None` (read
/// by the workers), queries fetched on an async runtime, a bounded number
/// ahead. Stops when `send` says the pipeline is gone.
fn produce(
    config: &Config,
    at: Option<i64>,
    clock_now: i64,
    progress: &Progress,
    send: &mut dyn FnMut(usize, Option<Result<Loaded, LoadFailure>>) -> bool,
) {
    let any_query = config
        .workloads
        .iter()
        .any(|w| matches!(w.source, LoadSource::Query { .. }));
    if !any_query {
        for index in 0..config.workloads.len() {
            if !send(index, None) {
                return;
            }
        }
        return;
    }
    let client = match config.prometheus.as_ref().map(Client::new) {
        Some(Ok(client)) => Ok(Arc::new(client)),
        Some(Err(reason)) => Err(reason),
        None => Err("the config has no `prometheus:` section".to_string()),
    };
    if config
        .prometheus
        .as_ref()
        .is_some_and(|p| p.insecure_skip_verify)
    {
        tracing::warn!(
            "prometheus.insecure_skip_verify is on: Prometheus' TLS certificate is not checked"
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            for index in 0..config.workloads.len() {
                let failure =
                    LoadFailure::error(format!("cannot start the async runtime: {e}"), at);
                if !send(index, Some(Err(failure))) {
                    return;
                }
            }
            return;
        }
    };
    // Histories fetched ahead of the workers: enough to keep every
    // concurrency permit busy.
    let ahead = config
        .prometheus
        .as_ref()
        .map_or(4, |p| 4 * p.max_concurrency as usize);
    let (sender, mut receiver) = tokio::sync::mpsc::channel(ahead);
    let workloads = config.workloads.clone();
    let read = progress.read.clone();
    runtime.spawn(async move {
        let mut results = futures_util::stream::iter(workloads)
            .map(|workload| {
                let client = client.clone();
                let read = read.clone();
                tokio::spawn(async move {
                    let loaded = load_one(&workload, client, at, clock_now).await;
                    read.inc(1);
                    loaded
                })
            })
            .buffered(ahead);
        while let Some(joined) = results.next().await {
            let result = joined.unwrap_or_else(|e| {
                Err(LoadFailure::error(
                    format!("reading the history failed unexpectedly: {e}"),
                    at,
                ))
            });
            if sender.send(result).await.is_err() {
                break;
            }
        }
    });
    for index in 0..config.workloads.len() {
        let result = receiver.blocking_recv().unwrap_or_else(|| {
            Err(LoadFailure::error(
                "reading the history stopped unexpectedly".to_string(),
                at,
            ))
        });
        if !send(index, Some(result)) {
            return;
        }
    }
}

async fn load_one(
    workload: &Workload,
    client: Result<Arc<Client>, String>,
    at: Option<i64>,
    clock_now: i64,
) -> Result<Loaded, LoadFailure> {
    let (query, aggregate) = match &workload.source {
        LoadSource::File(_) => {
            let workload = workload.clone();
            return tokio::task::spawn_blocking(move || read_file(&workload, at, clock_now))
                .await
                .unwrap_or_else(|e| {
                    Err(LoadFailure::error(
                        format!("reading the file failed unexpectedly: {e}"),
                        at,
                    ))
                });
        }
        LoadSource::Query { query, aggregate } => (query, *aggregate),
    };
    let now = at.unwrap_or(clock_now);
    let failure = |status, reason: String| LoadFailure {
        status,
        reason: format!("Prometheus query `{query}`: {reason}"),
        now: Some(now),
    };
    let client = client.map_err(|reason| failure(Status::Error, reason))?;
    let step = workload
        .step
        .expect("config gives every query workload a step")
        .secs();
    // (now − history, now], as for a file: the first step after the window's start.
    let start = now - workload.history.secs() + 1;
    match client
        .fetch_history(query, aggregate, start, now, step)
        .await
    {
        Ok(history) => Ok(Loaded {
            raw: RawSeries {
                origin: {
                    use std::fmt::Write as _;
                    let mut origin = format!("Prometheus query `{query}`");
                    if history.infinite > 0 {
                        let _ = write!(
                            origin,
                            "; {} point(s) of ±Inf left out as unknown (a division by zero in the query?)",
                            history.infinite
                        );
                    }
                    if let Some(k) = history.coarser {
                        let span = crate::core::time::Span::from_secs(k as i64 * step)
                            .map_or_else(|| format!("{}s", k as i64 * step), |s| s.to_string());
                        let _ = write!(
                            origin,
                            "; each value holds for {k} steps: the data is coarser than the step (VictoriaMetrics repeats a value until the next, Prometheus leaves holes): set `step: {span}`"
                        );
                    }
                    origin
                },
                samples: history.samples,
            },
            now,
            requests: history.requests,
        }),
        Err(e) if e.is_no_data() => Err(failure(Status::NoData, e.to_string())),
        Err(e) => Err(failure(Status::Error, e.to_string())),
    }
}

/// A file workload's samples in its history window.
fn read_file(workload: &Workload, at: Option<i64>, clock_now: i64) -> Result<Loaded, LoadFailure> {
    let LoadSource::File(path) = &workload.source else {
        unreachable!("only file workloads are read from files")
    };
    // The run's memory budget, taken before the file is read: a file too
    // large for it fails alone, and big files on several threads at once
    // are read one after the other.
    let _reservation = match source::read_need(path) {
        Some(need) => Some(
            crate::edge::budget::run_budget()
                .reserve(need)
                .map_err(|e| {
                    LoadFailure::error(
                        format!(
                    "{}: reading this {} MiB file {e}: split the file, or give the run more memory",
                    path.display(),
                    std::fs::metadata(path).map_or(0, |m| m.len().div_ceil(1 << 20))
                ),
                        at,
                    )
                })?,
        ),
        None => None,
    };
    let raw = source::read_file(path).map_err(|e| LoadFailure::error(e.to_string(), at))?;
    if at.is_none() {
        // Without --at the last sample is "now": one sample from the
        // future (a broken clock, milliseconds read as seconds near the
        // limit) would push the whole real history out of the window.
        let limit = clock_now + crate::core::time::DAY;
        let future: Vec<i64> = raw
            .samples
            .iter()
            .map(|s| s.ts)
            .filter(|&ts| ts > limit)
            .collect();
        if let Some(&first) = future.iter().min() {
            return Err(LoadFailure::error(
                format!(
                    "{}: {} sample(s) dated in the future, the first at {} (unix {first}), more than a day after the clock ({}): fix the file's timestamps or this machine's clock, or pass --at",
                    path.display(),
                    future.len(),
                    format_timestamp(first),
                    format_timestamp(clock_now)
                ),
                None,
            ));
        }
    }
    let now = at.unwrap_or_else(|| raw.latest());
    Ok(Loaded {
        raw: raw.window(now, workload.history.secs()),
        now,
        requests: 0,
    })
}

/// Runs the recommender over every workload of `config`.
///
/// `at` fixes "now" for every workload (see [`load_histories`]);
/// `clock_now` is the wall-clock time, stamped on the report.
#[must_use]
pub fn recommend(config: &Config, at: Option<i64>, clock_now: i64) -> Plan {
    recommend_with(config, at, clock_now, &Progress::hidden(), |_, _, _| ()).0
}

/// [`recommend`], counting on `progress`, and running `extra` on each
/// workload's plan and what it was made from, on the thread that made it
/// (to draw or export it while only that workload's data is in memory).
/// Returns the plan and `extra`'s results, in config order.
pub fn recommend_with<T, F>(
    config: &Config,
    at: Option<i64>,
    clock_now: i64,
    progress: &Progress,
    extra: F,
) -> (Plan, Vec<T>)
where
    T: Send,
    F: Fn(&Workload, &WorkloadPlan, Option<&Fitted>) -> T + Sync,
{
    let mut workloads = Vec::with_capacity(config.workloads.len());
    let mut extras = Vec::with_capacity(config.workloads.len());
    process_histories(
        config,
        at,
        clock_now,
        progress,
        |workload, loaded| {
            // The plan's memory grows with the history's samples: taken
            // from the run's budget once the read has given its share back
            // (a thread never waits while it holds any).
            let (loaded, _planning) = with_planning_budget(workload, loaded, at);
            let (plan, fitted) = match loaded {
                Ok(loaded) => plan_fitted(workload, &loaded.raw, Some(loaded.now)),
                Err(failure) => (
                    WorkloadPlan::failed(workload, failure.now, failure.status, failure.reason),
                    None,
                ),
            };
            let extra = extra(workload, &plan, fitted.as_ref());
            (plan, extra)
        },
        |_, (plan, extra)| {
            workloads.push(plan);
            extras.push(extra);
        },
    );
    let plan = Plan {
        generated_at: format_timestamp(clock_now),
        workloads,
    };
    (plan, extras)
}

/// `homeostat recommend --format parquet`: writes one workload's history
/// and forecast to `dir/<namespace>_<name>.parquet`, with columns
/// `timestamp, load, mean, lower, upper` (the interval at the workload's
/// level): the history's rows have `load`, the forecast's the other three.
/// Without a forecast (the workload failed), a file left by an earlier run
/// is removed, so that no reader takes old data for this run's.
pub fn export_fitted(
    dir: &Path,
    workload: &Workload,
    fitted: Option<&Fitted>,
) -> Result<Option<PathBuf>, String> {
    let path = dir.join(format!("{}_{}.parquet", workload.namespace, workload.name));
    let Some(fitted) = fitted else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!(
                "{}: cannot remove the previous run's file: {e}",
                path.display()
            )),
            _ => Ok(None),
        };
    };
    let intervals = fitted.forecast.interval(fitted.level);
    write_curves(&path, &fitted.history, &[], &fitted.forecast, &intervals)
        .map(|()| Some(path.clone()))
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// The history's steps (`load`), then the forecast's (`mean, lower,
/// upper`, and `load` from `actual` where it is known): one Parquet table.
fn write_curves(
    path: &Path,
    history: &series::Series,
    actual: &[f64],
    forecast: &model::Forecast,
    intervals: &[model::Interval],
) -> std::io::Result<()> {
    let finite = |v: f64| v.is_finite().then_some(v);
    let steps = history.len() + forecast.mean.len();
    let mut timestamps = Vec::with_capacity(steps);
    let (mut load, mut mean, mut lower, mut upper) = (
        Vec::with_capacity(steps),
        Vec::with_capacity(steps),
        Vec::with_capacity(steps),
        Vec::with_capacity(steps),
    );
    for (i, &value) in history.values.iter().enumerate() {
        timestamps.push(history.timestamp(i));
        load.push(finite(value));
        mean.push(None);
        lower.push(None);
        upper.push(None);
    }
    for (i, (&m, interval)) in forecast.mean.iter().zip(intervals).enumerate() {
        timestamps.push(forecast.timestamp(i));
        load.push(actual.get(i).copied().and_then(finite));
        mean.push(finite(m));
        lower.push(finite(interval.lower));
        upper.push(finite(interval.upper));
    }
    source::write_table_parquet(
        path,
        &timestamps,
        vec![
            ("load", load),
            ("mean", mean),
            ("lower", lower),
            ("upper", upper),
        ],
    )
}

/// `homeostat synth`: writes each workload of a synthetic fleet to
/// `dir/<namespace>_<name>.<csv|parquet>` (in parallel, one workload in
/// memory per thread), `dir/homeostat.yaml` to run them, and with
/// `openmetrics` the whole fleet as `dir/fleet.om` with
/// `dir/homeostat-prometheus.yaml` querying it once backfilled.
pub fn write_fleet(
    spec: &crate::core::synthetic::FleetSpec,
    dir: &Path,
    format: SeriesFormat,
    openmetrics: bool,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let extension = match format {
        SeriesFormat::Csv => "csv",
        SeriesFormat::Parquet => "parquet",
    };
    // Plain threads taking the next index: polars' writer runs its own
    // thread pool, which must not be nested in another's tasks.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let write_one = |index: usize| {
        let w = crate::core::synthetic::fleet_workload(spec, index);
        let path = dir.join(format!("{}_{}.{extension}", w.namespace, w.name));
        match format {
            SeriesFormat::Csv => source::write_csv(&path, &w.samples),
            SeriesFormat::Parquet => source::write_parquet(&path, &w.samples),
        }
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        Ok::<_, String>((w.namespace, w.name, w.target_per_replica, w.current))
    };
    let mut written: Vec<(usize, crate::core::synthetic::Member)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..worker_threads())
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if index >= spec.workloads {
                            return Ok(mine);
                        }
                        mine.push((index, write_one(index)?));
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a writer thread does not panic"))
            .collect::<Result<Vec<Vec<_>>, String>>()
            .map(|parts| parts.concat())
    })?;
    written.sort_by_key(|(index, _)| *index);
    let workloads: Vec<crate::core::synthetic::Member> =
        written.into_iter().map(|(_, w)| w).collect();
    let config = dir.join("homeostat.yaml");
    std::fs::write(
        &config,
        crate::core::synthetic::fleet_config(spec, &workloads, extension),
    )
    .map_err(|e| format!("{}: cannot write: {e}", config.display()))?;
    if openmetrics {
        let path = dir.join("fleet.om");
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        crate::core::synthetic::write_openmetrics(&mut out, spec)
            .and_then(|()| std::io::Write::flush(&mut out))
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        let queries = dir.join("homeostat-prometheus.yaml");
        std::fs::write(
            &queries,
            crate::core::synthetic::fleet_query_config(spec, &workloads),
        )
        .map_err(|e| format!("{}: cannot write: {e}", queries.display()))?;
    }
    Ok(())
}

/// File formats `homeostat fetch` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeriesFormat {
    Csv,
    Parquet,
}

/// What `homeostat fetch` did for one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// `namespace/name`.
    pub workload: String,
    /// The file written, or why there is none.
    pub result: Result<PathBuf, LoadFailure>,
    pub samples: usize,
    pub requests: usize,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// `homeostat fetch`: writes each workload's history, as the run would use
/// it, to `dir/<namespace>_<name>.csv` (or `.parquet`). Kubernetes names
/// hold no `_`, so the file name is unambiguous.
pub fn export_histories(
    config: &Config,
    at: Option<i64>,
    clock_now: i64,
    dir: &Path,
    format: SeriesFormat,
) -> Result<Vec<Exported>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let extension = match format {
        SeriesFormat::Csv => "csv",
        SeriesFormat::Parquet => "parquet",
    };
    let mut exported = Vec::with_capacity(config.workloads.len());
    load_histories(config, at, clock_now, |workload, loaded| {
        let mut loaded = match loaded {
            Ok(loaded) => loaded,
            Err(failure) => {
                exported.push(Exported {
                    workload: workload.id(),
                    result: Err(failure),
                    samples: 0,
                    requests: 0,
                    first: None,
                    last: None,
                });
                return;
            }
        };
        let samples = &mut loaded.raw.samples;
        samples.sort_by_key(|s| s.ts);
        let path = dir.join(format!(
            "{}_{}.{extension}",
            workload.namespace, workload.name
        ));
        let written = match format {
            SeriesFormat::Csv => source::write_csv(&path, samples),
            SeriesFormat::Parquet => source::write_parquet(&path, samples),
        };
        exported.push(Exported {
            workload: workload.id(),
            result: written.map(|()| path.clone()).map_err(|e| {
                LoadFailure::error(
                    format!("{}: cannot write: {e}", path.display()),
                    Some(loaded.now),
                )
            }),
            samples: samples.len(),
            requests: loaded.requests,
            first: samples.first().map(|s| s.ts),
            last: samples.last().map(|s| s.ts),
        });
    });
    Ok(exported)
}

/// Evaluates the forecaster on every `.csv` and `.parquet` series in `dir`
/// (see [`crate::core::evaluate`]); returns the evaluations and, per series that
/// could not be evaluated, its reason. Errs only when `dir` cannot be listed
/// or holds no series, or `export` cannot be made.
///
/// `export`: also write each series' training history, held-out actuals
/// and forecast to `export/<series>.parquet` (columns as
/// [`export_fitted`]'s; the held-out rows have both `load` and the forecast).
pub fn evaluate_dir(
    dir: &Path,
    test: Span,
    level: Level,
    export: Option<&Path>,
) -> Result<Evaluation, String> {
    if let Some(export) = export {
        std::fs::create_dir_all(export)
            .map_err(|e| format!("{}: cannot create: {e}", export.display()))?;
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(e.to_ascii_lowercase().as_str(), "csv" | "parquet" | "pq")
            })
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!(
            "{}: no .csv or .parquet series to evaluate",
            dir.display()
        ));
    }
    let mut evaluation = Evaluation::default();
    for path in paths {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let export = export.map(|d| d.join(format!("{name}.parquet")));
        match evaluate_file(&path, &name, test, level, export.as_deref()) {
            Ok((series, exported)) => {
                evaluation.series.push(series);
                if let Err(reason) = exported {
                    evaluation.failures.push((name, reason));
                }
            }
            Err(reason) => evaluation.failures.push((name, reason)),
        }
    }
    Ok(evaluation)
}

/// One series' evaluation, and whether its export (when asked) was written.
fn evaluate_file(
    path: &Path,
    name: &str,
    test: Span,
    level: Level,
    export: Option<&Path>,
) -> Result<(SeriesEvaluation, Result<(), String>), String> {
    let raw = source::read_file(path).map_err(|e| e.to_string())?;
    let series = series::resample(&raw, &GridOptions::default()).map_err(|e| e.to_string())?;
    let test_steps = model::steps_in(test.secs(), series.step);
    let (train, actual) = evaluate::split(&series, test_steps)?;
    let per_day = train.steps_per_day().expect("split checked the day");
    let started = Instant::now();
    let forecast = model::forecast(&train, test_steps).map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let scale = evaluate::mase_scale(&train.values, per_day);
    if scale <= 0.0 {
        return Err(
            "MASE is undefined: the training part does not vary from day to day \
             (the daily seasonal naive's in-sample error is 0)"
                .into(),
        );
    }
    let horizons = evaluate::Horizons {
        label: test.to_string(),
        steps: test_steps,
        per_day,
    };
    let scores = evaluate::scores(&actual, &forecast, level, &horizons, scale);
    // When the adapted history cannot be fitted (too much of it was a
    // departure), the bare scores still stand; the adapted ones are left
    // out (the reports show NaN).
    let adapted = adapted_forecast(&train, test_steps)
        .map(|forecast| evaluate::scores(&actual, &forecast, level, &horizons, scale))
        .unwrap_or_default();
    let exported = export.map_or(Ok(()), |export| {
        write_curves(
            export,
            &train,
            &actual,
            &forecast,
            &forecast.interval(level),
        )
        .map_err(|e| format!("{}: cannot write: {e}", export.display()))
    });
    let evaluation = SeriesEvaluation {
        series: name.to_string(),
        model: forecast.model.clone(),
        seasonality: forecast.seasonality.label().to_string(),
        train_steps: train.len(),
        test_steps,
        seconds,
        scores,
        adapted,
    };
    Ok((evaluation, exported))
}

/// The forecast `recommend` uses, over the same held-out span: the
/// training history's events found, its spikes and dips taken out and its
/// levels re-based after shifts (the default `events:` policy), then the
/// same model selection.
fn adapted_forecast(train: &series::Series, steps: usize) -> Option<model::Forecast> {
    let policy = crate::core::adapt::AdaptPolicy::default();
    let found = crate::core::events::detect_in(train, &policy.detection);
    // The reaction time only sizes the healing headroom, which is not
    // scored here: 0 rather than a copy of `plan`'s.
    let adaptation = crate::core::adapt::adapt(train, &found, train.end(), &policy, 0);
    model::forecast(&adaptation.series, steps).ok()
}

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
}

/// `homeostat backtest`: replays the last `span` of each workload's data
/// (up to `at`, or its last sample). The history read reaches `span` further
/// back than `recommend`'s, so that the first replan sees a whole history.
#[must_use]
pub fn backtest(
    config: &Config,
    at: Option<i64>,
    clock_now: i64,
    settings: &BacktestSettings,
) -> Backtest {
    backtest_with(config, at, clock_now, settings, &Progress::hidden())
}

/// [`backtest`], counting on `progress`.
#[must_use]
pub fn backtest_with(
    config: &Config,
    at: Option<i64>,
    clock_now: i64,
    settings: &BacktestSettings,
    progress: &Progress,
) -> Backtest {
    let mut extended = config.clone();
    for w in &mut extended.workloads {
        w.history = Span::from_secs(w.history.secs() + settings.span.secs()).expect("positive");
    }
    let mut workloads = Vec::new();
    let mut failures = Vec::new();
    process_histories(
        &extended,
        at,
        clock_now,
        progress,
        |extended, loaded| {
            let mut workload = extended.clone();
            workload.history = Span::from_secs(workload.history.secs() - settings.span.secs())
                .expect("extended above");
            let (loaded, _planning) = with_planning_budget(&workload, loaded, at);
            loaded.map_err(|failure| failure.reason).and_then(|loaded| {
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
                    },
                )
            })
        },
        |workload, replayed| match replayed {
            Ok(replay) => workloads.push(replay),
            Err(reason) => failures.push((workload.id(), reason)),
        },
    );
    Backtest {
        generated_at: format_timestamp(clock_now),
        fleet: crate::core::replay::fleet_changes(&workloads),
        workloads,
        failures,
    }
}

/// What notifying did, and what the operator should know about how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notified {
    pub report: crate::edge::notify::NotifyReport,
    pub warnings: Vec<String>,
}

/// Sends `plan`'s alerts (and those of `troubles`) to Alertmanager and the
/// run's metrics to the Pushgateway, those the config names.
#[must_use]
pub fn notify(
    config: &Config,
    plan: &crate::core::plan::Plan,
    troubles: &[crate::core::apply::Trouble],
    duration_secs: f64,
    now: i64,
) -> Notified {
    use crate::edge::notify;
    let mut warnings = Vec::new();
    if config.alertmanager.is_none() && config.pushgateway.is_none() {
        return Notified {
            report: notify::NotifyReport::default(),
            warnings,
        };
    }
    for (setting, endpoint) in [
        ("alertmanager", &config.alertmanager),
        ("pushgateway", &config.pushgateway),
    ] {
        if endpoint.as_ref().is_some_and(|e| e.insecure_skip_verify) {
            warnings.push(format!(
                "{setting}.insecure_skip_verify is on: the server's TLS certificate is not checked"
            ));
        }
    }
    let firing = notify::firing_alerts(plan, troubles);
    let in_run: Vec<(String, String)> = plan
        .workloads
        .iter()
        .map(|w| (w.namespace.clone(), w.name.clone()))
        .collect();
    let metrics = notify::run_metrics(plan, duration_secs, now);
    let report = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(notify::notify(
            config.alertmanager.as_ref(),
            config.pushgateway.as_ref(),
            &firing,
            &in_run,
            &metrics,
            now,
        )),
        Err(e) => notify::NotifyReport {
            errors: vec![format!("cannot start the async runtime: {e}")],
            ..notify::NotifyReport::default()
        },
    };
    Notified { report, warnings }
}

/// How `homeostat apply` runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApplySettings {
    /// Change no HPA; still read them, report, notify and write patches.
    pub dry_run: bool,
    pub rules: crate::core::apply::ApplyRules,
}

/// Compares each workload of `plan` with its HPA (read through `cluster`,
/// or `current:` in the config without one), decides with the safety rules
/// and, unless `dry_run`, patches the HPAs that need it. One workload's
/// failure never stops the others.
pub async fn apply_changes(
    config: &Config,
    plan: &crate::core::plan::Plan,
    cluster: Option<&kube::Client>,
    settings: &ApplySettings,
) -> ApplyRun {
    use crate::core::apply::{decide, Baseline};
    use crate::edge::cluster::{apply_patch, patch_body, read_hpa};
    let mut run = ApplyRun {
        generated_at: plan.generated_at.clone(),
        dry_run: settings.dry_run,
        cluster: cluster.is_some(),
        changes: Vec::new(),
        failures: Vec::new(),
        patches: Vec::new(),
        troubles: Vec::new(),
        since_last_run: Vec::new(),
        store_problems: Vec::new(),
        warnings: Vec::new(),
    };
    let store = store_of(config);
    // kube-state-metrics in Prometheus, when there is one, says how long
    // each HPA sat at its max since the last run.
    let prometheus = match config
        .prometheus
        .as_ref()
        .map(crate::edge::prometheus::client::Client::new)
    {
        Some(Ok(client)) => Some(client),
        Some(Err(e)) => {
            run.warnings.push(format!("time at max not checked: {e}"));
            None
        }
        None => None,
    };
    for (done, w) in plan.workloads.iter().enumerate() {
        if let Some(signal) = crate::app::stop::requested() {
            run.warnings.push(format!(
                "stopped by {}: {} of {} workloads not applied",
                crate::app::stop::name(signal),
                plan.workloads.len() - done,
                plan.workloads.len()
            ));
            break;
        }
        let id = format!("{}/{}", w.namespace, w.name);
        let now = crate::core::time::parse_timestamp(&w.now).unwrap_or(0);
        let loaded = store.load(&w.namespace, &w.name, chrono::Utc::now().timestamp());
        if let Some(client) = &prometheus {
            let last_run = loaded
                .state
                .as_ref()
                .and_then(|s| s.last())
                .and_then(|r| crate::core::time::parse_timestamp(&r.at).ok());
            let since = crate::core::apply::at_max_window_start(last_run, now);
            let after = last_run.unwrap_or(since);
            match minutes_at_max(client, &w.namespace, &w.hpa, since, after, now).await {
                Ok(Some(stretch)) if stretch > crate::core::apply::AT_MAX_ALERT => {
                    run.troubles.push(crate::core::apply::Trouble {
                        namespace: w.namespace.clone(),
                        workload: w.name.clone(),
                        reason: "at_max".into(),
                        severity: "critical".into(),
                        summary: format!(
                            "{id}: the HPA sat at its max for {} in a row",
                            crate::core::series::human_span(stretch)
                        ),
                        description: format!(
                            "kube_horizontalpodautoscaler_status_current_replicas reached spec_max_replicas for {} in a row between {} and {}: the load needed more than the HPA may give",
                            crate::core::series::human_span(stretch),
                            format_timestamp(since),
                            format_timestamp(now)
                        ),
                        fix: "raise max_replicas (its ceiling in homeostat's config) if the cluster has room; check whether the load is real or an incident".into(),
                    });
                }
                Ok(_) => {}
                Err(e) => run
                    .warnings
                    .push(format!("{id}: time at max not checked: {e}")),
            }
        }
        let current = config
            .workloads
            .iter()
            .find(|c| c.namespace == w.namespace && c.name == w.name)
            .and_then(|c| c.current);
        let baseline = match cluster {
            Some(client) => match read_hpa(client, &w.namespace, &w.hpa).await {
                Ok(live) => Baseline::Live(live),
                Err(e) => {
                    run.failures.push((id, e.clone()));
                    run.troubles.push(hpa_trouble(
                        w,
                        "hpa_unreadable",
                        "cannot read its HPA",
                        e,
                        "check the HPA's name and namespace in homeostat's config and homeostat's RBAC (get on horizontalpodautoscalers)",
                    ));
                    continue;
                }
            },
            None => current.map_or(Baseline::Unknown, Baseline::Config),
        };
        let change = decide(w, baseline, &settings.rules);
        if change.patch {
            // The reasons about the bounds themselves; the rest is in the report.
            let reasons: Vec<String> = w
                .reasons
                .iter()
                .filter(|r| {
                    ["min ", "max ", "change", "healing headroom"]
                        .iter()
                        .any(|p| r.starts_with(p))
                })
                .cloned()
                .collect();
            let body = patch_body(&change, &w.now, &reasons);
            if !settings.dry_run {
                if let Some(client) = cluster {
                    if let Err(e) = apply_patch(client, &w.namespace, &w.hpa, &body).await {
                        run.failures.push((id, e.clone()));
                        run.troubles.push(hpa_trouble(
                            w,
                            "patch_failed",
                            "could not patch its HPA",
                            e,
                            "read the description: a conflict names the field manager that owns the field; a refusal names the missing permission",
                        ));
                    }
                }
            }
            run.patches.push(body);
        }
        remember(&store, loaded, w, &change, &mut run);
        run.changes.push(change);
        crate::app::stop::pause_until_stopped("apply-between-workloads");
        crate::app::stop::stuck_after_stop("apply-stuck-while-stopping");
    }
    run
}

/// A failure reading or patching `w`'s HPA, as an alert (warning).
fn hpa_trouble(
    w: &crate::core::plan::WorkloadPlan,
    reason: &str,
    what: &str,
    description: String,
    fix: &str,
) -> crate::core::apply::Trouble {
    crate::core::apply::Trouble {
        namespace: w.namespace.clone(),
        workload: w.name.clone(),
        reason: reason.into(),
        severity: "warning".into(),
        summary: format!("{}/{}: homeostat {what}", w.namespace, w.name),
        description,
        fix: fix.into(),
    }
}

/// The config's model store (`store:`, else `models/`).
#[must_use]
pub fn store_of(config: &Config) -> crate::edge::store::Store {
    crate::edge::store::Store::new(
        config
            .store
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("models")),
    )
}

/// Records the run in the model store and notes what changed since the last.
fn remember(
    store: &crate::edge::store::Store,
    loaded: crate::edge::store::Loaded,
    w: &crate::core::plan::WorkloadPlan,
    change: &crate::core::apply::Change,
    run: &mut ApplyRun,
) {
    use crate::edge::store::{ModelState, RunRecord, WorkloadState};
    let id = format!("{}/{}", w.namespace, w.name);
    if let Some(problem) = loaded.set_aside {
        run.store_problems.push(problem);
    }
    let mut state = loaded
        .state
        .unwrap_or_else(|| WorkloadState::new(&w.namespace, &w.name));
    if let Some(last) = state.last() {
        let pair = |a: Option<u32>, b: Option<u32>| match (a, b) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => "nothing".to_string(),
        };
        let before = pair(last.recommended_min, last.recommended_max);
        let after = pair(w.min_replicas, w.max_replicas);
        let note = if before == after {
            format!("recommended {after} as at the last run ({})", last.at)
        } else {
            format!(
                "recommended {before} at the last run ({}), now {after}",
                last.at
            )
        };
        run.since_last_run.push((id.clone(), note));
    }
    // A run for an earlier "now" (`--at`) is not history: it is not kept.
    let now = crate::core::time::parse_timestamp(&w.now).ok();
    let last_at = state
        .last()
        .and_then(|r| crate::core::time::parse_timestamp(&r.at).ok());
    if let (Some(now), Some(last)) = (now, last_at) {
        if now < last {
            return;
        }
    }
    let failed = run.failures.iter().any(|(f, _)| *f == id);
    let applied = change.patch && !run.dry_run && run.cluster && !failed;
    if let Some(model) = &w.model {
        state.model = Some(ModelState {
            model: model.clone(),
            seasonality: w.seasonality.clone(),
        });
    }
    state.record(RunRecord {
        at: w.now.clone(),
        status: w.status.as_str().to_string(),
        recommended_min: w.min_replicas,
        recommended_max: w.max_replicas,
        applied_min: if applied { change.to_min } else { None },
        applied_max: if applied { change.to_max } else { None },
        dry_run: run.dry_run,
    });
    if let Err(e) = store.save(&state) {
        run.store_problems.push(e);
    }
}

/// The longest stretch (seconds) the HPA sat at its max within
/// `[since, now]` that lasted until `after` or later, from kube-state-metrics; `None` when Prometheus has no
/// such series (kube-state-metrics not installed, or the HPA unknown to it).
async fn minutes_at_max(
    client: &crate::edge::prometheus::client::Client,
    namespace: &str,
    hpa: &str,
    since: i64,
    after: i64,
    now: i64,
) -> Result<Option<i64>, String> {
    let query = crate::core::apply::at_max_query(namespace, hpa);
    let step = 60;
    match client
        .fetch_history(
            &query,
            Some(crate::core::workload::Aggregate::Max),
            since,
            now,
            step,
        )
        .await
    {
        Ok(history) => Ok(Some(crate::core::apply::longest_at_max(
            &history.samples,
            step,
            after,
        ))),
        Err(e) if e.is_no_data() => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A config of `n` file workloads, every one reading the same small file.
    fn config(dir: &Path, n: usize) -> Config {
        let mut csv = String::from("timestamp,value\n");
        for i in 0..3 * 288 {
            let _ = writeln!(csv, "{},{}", 1_700_006_400 + i * 300, 100 + i % 7);
        }
        std::fs::write(dir.join("load.csv"), csv).unwrap();
        let mut yaml = String::from("workloads:\n");
        for i in 0..n {
            let _ = write!(
                yaml,
                "  - name: w{i:03}\n    file: load.csv\n    target_per_replica: 10\n"
            );
        }
        let path = dir.join("homeostat.yaml");
        std::fs::write(&path, yaml).unwrap();
        crate::app::config::load(&path).unwrap()
    }

    #[test]
    fn results_come_in_config_order_and_a_panic_is_one_workloads_failure() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), 40);
        set_threads(3);
        let mut seen = Vec::new();
        process_histories(
            &config,
            None,
            chrono::Utc::now().timestamp(),
            &Progress::hidden(),
            |workload, loaded| {
                // Later workloads finish first: the order comes from the pipeline.
                std::thread::sleep(std::time::Duration::from_millis(
                    40 - workload.name[1..].parse::<u64>().unwrap(),
                ));
                assert!(workload.name != "w007" || loaded.is_err(), "boom");
                loaded.map(|l| l.raw.samples.len()).map_err(|f| f.reason)
            },
            |workload, result| seen.push((workload.name.clone(), result)),
        );
        set_threads(0);
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        let expected: Vec<String> = (0..40).map(|i| format!("w{i:03}")).collect();
        assert_eq!(names, expected);
        assert_eq!(seen[0].1, Ok(3 * 288));
        let failure = seen[7].1.clone().unwrap_err();
        assert!(
            failure.contains("failed unexpectedly") && failure.contains("boom"),
            "{failure}"
        );
        assert!(seen
            .iter()
            .enumerate()
            .all(|(i, (_, r))| i == 7 || r.is_ok()));
    }
}
