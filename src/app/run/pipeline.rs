//! The pipeline every command runs: each workload's history read (files on the
//! worker threads, queries on an async runtime), worked on, and handed back
//! in config order; the memory budget and the progress bars.

use crate::app::config::Config;
use crate::core::plan::Status;
use crate::core::time::format_timestamp;
use crate::core::workload::{LoadSource, Workload};
use crate::edge::prometheus::Client;
use crate::edge::source::{self, RawSeries};
use futures_util::StreamExt;
use std::sync::{Arc, OnceLock};
use tokio_util::task::AbortOnDropHandle;

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
    /// The kind of failure (`prometheus_unreachable`, `file_invalid`, …):
    /// the `error` of the log line and the alert.
    pub kind: &'static str,
}

impl LoadFailure {
    /// An `error` failure of `kind`.
    pub(crate) fn error(kind: &'static str, reason: String, now: Option<i64>) -> LoadFailure {
        LoadFailure {
            status: Status::Error,
            reason,
            now,
            kind,
        }
    }
}

/// The kind of a failure that is homeostat's own (a panic caught, a
/// runtime that would not start): a bug to report.
pub const INTERNAL_ERROR: &str = "internal_error";

/// What one run of a command shares, set up once where it starts (the
/// clock is read there, and only there): the time it plans for, how many
/// threads plan at once, its progress bars and its async runtime.
#[derive(Clone)]
pub struct RunContext {
    /// Fixes "now" for every workload (`--at`); without it a query is
    /// planned at `clock_now` and a file at its last sample. A query always
    /// asks Prometheus for explicit `start` and `end`, never its own "now".
    pub at: Option<i64>,
    /// The wall clock when the run started, stamped on its reports.
    pub clock_now: i64,
    /// Threads that plan workloads at once.
    pub threads: usize,
    pub progress: Progress,
    /// Made the first time the run talks to a server (Prometheus, the
    /// Kubernetes API, Alertmanager): one per run, none for a run of files.
    runtime: Arc<OnceLock<Result<tokio::runtime::Runtime, String>>>,
}

impl RunContext {
    /// A run at `at` (or the data's own "now"), started at `clock_now`, on
    /// one thread per core, drawing no progress.
    #[must_use]
    pub fn new(at: Option<i64>, clock_now: i64) -> RunContext {
        RunContext {
            at,
            clock_now,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            progress: Progress::hidden(),
            runtime: Arc::default(),
        }
    }

    /// The run's async runtime, made on first use.
    ///
    /// # Errors
    /// Why it cannot be made (the OS refused its threads).
    pub fn runtime(&self) -> Result<&tokio::runtime::Runtime, String> {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the async runtime: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The same run on `threads` threads (0: one per core).
    #[must_use]
    pub fn with_threads(self, threads: usize) -> RunContext {
        match threads {
            0 => self,
            n => RunContext { threads: n, ..self },
        }
    }

    /// The same run, counting on `progress`.
    #[must_use]
    pub fn with_progress(self, progress: Progress) -> RunContext {
        RunContext { progress, ..self }
    }
}

/// Reads every workload's history (only samples in `(now − history, now]`)
/// and calls `visit` with each, in config order, counting on the run's
/// progress: a history read, a workload visited.
pub fn load_histories<F>(run: &RunContext, config: &Config, visit: F)
where
    F: FnMut(&Workload, Result<Loaded, LoadFailure>),
{
    process_histories(run, config, |_, loaded| loaded, visit);
}

/// The bars on screen, if any: log lines lift them while they are written.
/// Process-wide, as stderr is: the log writer (one tracing subscriber per
/// process) reaches them here, not through a run's context.
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

/// The pipeline of every run: reads each workload's history (files on the
/// worker threads, queries on the async runtime, at most
/// `max_concurrency` at once), runs `work` on it on one thread per core,
/// and hands each result to `visit` on the calling thread, in config order.
///
/// At most a few workloads per thread are in flight — read, being worked
/// on, or done and waiting for an earlier one — so memory is bounded by the
/// threads, not by the fleet. A `work` that panics is given the workload
/// again as a failure, so that one bad workload never stops the others.
pub fn process_histories<R, W, V>(run: &RunContext, config: &Config, work: W, mut visit: V)
where
    R: Send,
    W: Fn(&Workload, Result<Loaded, LoadFailure>) -> R + Sync,
    V: FnMut(&Workload, R),
{
    use std::sync::mpsc::{channel, sync_channel};
    let workloads = &config.workloads;
    let (at, clock_now, progress) = (run.at, run.clock_now, &run.progress);
    let threads = run.threads.max(1);
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
            produce(run, config, &mut send);
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
pub(super) fn with_planning_budget(
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
                "memory_budget",
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

/// [`read_file`], with a panic inside it (a reader library's bug on some
/// file) turned into this workload's error: the other workloads go on.
fn read_guarded(
    workload: &Workload,
    at: Option<i64>,
    clock_now: i64,
) -> Result<Loaded, LoadFailure> {
    std::panic::catch_unwind(|| read_file(workload, at, clock_now)).unwrap_or_else(|panic| {
        Err(LoadFailure::error(
INTERNAL_ERROR,
            format!(
                "reading this workload's file failed unexpectedly (a bug: please report it with the file): {}",
                crate::core::panic_message(panic.as_ref())
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
            let message = crate::core::panic_message(panic.as_ref());
            let failure = LoadFailure::error(
INTERNAL_ERROR,
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
    run: &RunContext,
    config: &Config,
    send: &mut dyn FnMut(usize, Option<Result<Loaded, LoadFailure>>) -> bool,
) {
    let (at, clock_now) = (run.at, run.clock_now);
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
        Some(Err(e)) => Err(e.to_string()),
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
    let runtime = match run.runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            for index in 0..config.workloads.len() {
                let failure = LoadFailure::error(INTERNAL_ERROR, e.clone(), at);
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
    let read = run.progress.read.clone();
    // Aborted when dropped: a run that stops early (a signal, the workers
    // gone) leaves no query running behind it on the run's runtime.
    let _fetching = AbortOnDropHandle::new(runtime.spawn(async move {
        let mut results = futures_util::stream::iter(workloads)
            .map(|workload| {
                let client = client.clone();
                let read = read.clone();
                AbortOnDropHandle::new(tokio::spawn(async move {
                    let loaded = load_one(&workload, client, at, clock_now).await;
                    read.inc(1);
                    loaded
                }))
            })
            .buffered(ahead);
        while let Some(joined) = results.next().await {
            let result = joined.unwrap_or_else(|e| {
                Err(LoadFailure::error(
                    INTERNAL_ERROR,
                    format!("reading the history failed unexpectedly: {e}"),
                    at,
                ))
            });
            if sender.send(result).await.is_err() {
                break;
            }
        }
    }));
    for index in 0..config.workloads.len() {
        let result = receiver.blocking_recv().unwrap_or_else(|| {
            Err(LoadFailure::error(
                INTERNAL_ERROR,
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
                        INTERNAL_ERROR,
                        format!("reading the file failed unexpectedly: {e}"),
                        at,
                    ))
                });
        }
        LoadSource::Query { query, aggregate } => (query, *aggregate),
    };
    let now = at.unwrap_or(clock_now);
    let failure = |status, kind, reason: String| LoadFailure {
        status,
        reason: format!("Prometheus query `{query}`: {reason}"),
        now: Some(now),
        kind,
    };
    let client = client.map_err(|reason| failure(Status::Error, "prometheus_config", reason))?;
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
        // A staircase: the server repeats each sample until the next (as
        // Prometheus does within its lookback, VictoriaMetrics always).
        // Refused as a file whose step is finer than its data is: planned
        // from it, the noise and the events read the stairs (5-minute data
        // at `step: 1m` gave max 20 where `step: 5m` gave 30), and the
        // only word of it was a reason in the JSON report.
        Ok(crate::edge::prometheus::client::History {
            coarser: Some(k), ..
        }) => {
            let k = k as i64;
            let span = crate::core::time::Span::from_secs(k * step)
                .map_or_else(|| format!("{}s", k * step), |s| s.to_string());
            Err(failure(
                Status::Error,
                "step_finer_than_data",
                format!(
                    "each value holds for {k} steps: the data is coarser than the step (the server repeats a sample until the next), so most of the grid would be made up; set `step: {span}` for this workload"
                ),
            ))
        }
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
                    origin
                },
                samples: history.samples,
            },
            now,
            requests: history.requests,
        }),
        Err(e) if e.is_no_data() => Err(failure(Status::NoData, e.label(), e.to_string())),
        Err(e) => Err(failure(Status::Error, e.label(), e.to_string())),
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
                        "memory_budget",
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
    let raw =
        source::read_file(path).map_err(|e| LoadFailure::error(e.label(), e.to_string(), at))?;
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
                "file_invalid",
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
    let window = raw.window(now, workload.history.secs());
    if window.samples.is_empty() {
        // Most often a `--at` outside the file's time: say where its data is.
        if let Some(first) = raw.samples.iter().map(|s| s.ts).min() {
            return Err(LoadFailure {
                status: Status::InsufficientData,
                reason: format!(
                    "{}: no samples in the history window {} up to {}; the file holds {} to {}",
                    path.display(),
                    workload.history,
                    format_timestamp(now),
                    format_timestamp(first),
                    format_timestamp(raw.latest())
                ),
                now: Some(now),
                kind: "insufficient_data",
            });
        }
    }
    Ok(Loaded {
        raw: window,
        now,
        requests: 0,
    })
}
