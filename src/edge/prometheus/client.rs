//! The Prometheus client: the I/O edge of the Prometheus source.
//!
//! One [`Client`] serves a whole run, so that its concurrency bound holds
//! across every workload (a fleet run must never flood Prometheus: at most
//! `max_concurrency` requests are in flight, whatever the number of
//! workloads or chunks). Each request is a `POST /api/v1/query_range` with
//! a form body (long queries do not hit URL length limits of proxies in
//! front of Prometheus), explicit `start`/`end`/`step`, gzip accepted.
//!
//! Failures are sorted into two kinds. Transient ones are retried with
//! exponential backoff and jitter, without holding a concurrency permit
//! while waiting: connection errors, timeouts, answers cut off mid-body,
//! HTTP 429 and 5xx (503 is how Prometheus says a query timed out), with
//! `Retry-After` honoured. Final ones are reported at once, with
//! Prometheus' own words: a bad query (400), bad credentials (401/403), a
//! query too heavy to run (422, "too many samples"), an answer that is not
//! a range result.
//!
//! Secrets (a basic-auth password, a bearer token) are read from files or
//! environment variables when the client is made, kept in a type that
//! never prints them, and sent as sensitive headers.

use super::{combine, parse_range_answer, plan_chunks, AnswerError, Chunk, CombineError};
use crate::core::workload::Aggregate;
use crate::edge::http::{error_chain, with_tls, Auth, EndpointError};
use crate::edge::prometheus::{Prometheus, RangeSeries};
use crate::edge::source::Sample;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Largest answer read for one request: a single series of 11,001 points
/// is about 300 KiB, so this only stops a query that matches thousands of
/// series (a per-pod metric without `sum`).
pub const MAX_ANSWER_BYTES: usize = 256 << 20;

/// How transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts).
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub first_backoff: Duration,
    /// Longest wait between two attempts (also caps `Retry-After`).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): "equal jitter", a
    /// uniform draw in [d/2, d] for d = first·2^retry capped, so that
    /// workloads failing together do not retry together; at least what
    /// the server asked for in `Retry-After`.
    fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let full = self
            .first_backoff
            .saturating_mul(1 << retry.min(16))
            .min(self.max_backoff);
        let jittered = full.mul_f64(0.5 + 0.5 * fastrand::f64());
        retry_after.map_or(jittered, |asked| jittered.max(asked.min(self.max_backoff)))
    }
}

/// A workload's history as Prometheus gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// One series, time-ordered, lookback repeats removed.
    pub samples: Vec<Sample>,
    /// HTTP requests it took (chunks; retries not counted).
    pub requests: usize,
    /// Points that were ±Inf, left out as unknown.
    pub infinite: usize,
    /// Steps each value holds for, when the data is coarser than the step
    /// ([`super::coarser_than_step`]).
    pub coarser: Option<usize>,
}

/// Why a workload's history could not be fetched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// The query matched nothing: not an error of Prometheus, but nothing to plan from.
    #[error("no data: the query returned no series between {from} and {to}")]
    NoData { from: String, to: String },
    #[error("{0}")]
    Series(CombineError),
    #[error("Prometheus refused the query (HTTP {status}, {kind}): {message}")]
    Refused {
        status: u16,
        kind: String,
        message: String,
    },
    #[error("Prometheus refused the credentials (HTTP {status}): check prometheus.basic_auth or the bearer token")]
    Unauthorized { status: u16 },
    /// The server's certificate is not trusted: no retry can fix that.
    #[error("TLS: {0} (give the CA that signed Prometheus' certificate as prometheus.ca_file)")]
    Tls(String),
    #[error("the answer is larger than {limit_mib} MiB: the query matches too many series; aggregate it in PromQL (sum(...))")]
    TooLarge { limit_mib: usize },
    #[error("the answer {0}: a query matching many series? (aggregate it in PromQL, sum(...), or set `aggregate:`), or give the run more memory")]
    Budget(crate::edge::budget::BudgetError),
    #[error("gave up after {attempts} attempt(s); last: {last}")]
    GaveUp {
        attempts: u32,
        last: String,
        /// The last attempt got an HTTP answer (429, 5xx).
        answered: bool,
    },
    /// Not sent: Prometheus had stopped answering this run (see
    /// [`GIVE_UP_AFTER`]).
    #[error("not asked: {0}")]
    NotAsked(String),
    #[error("Prometheus' answer is unusable: {0}")]
    Answer(AnswerError),
    /// Load below zero: the query is a difference, not a rate or a count.
    #[error("{count} value(s) below zero, the first {value} at {at}: load must be 0 or more; query a rate or a count (a subtraction, delta() or deriv() can go below zero)")]
    Negative {
        count: usize,
        value: f64,
        at: String,
    },
}

impl FetchError {
    /// A stable name for the kind of failure, for the log, the run's
    /// summary and the alert's `error` label (an alert route can tell a
    /// Prometheus that is down from a query that is wrong).
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            FetchError::NoData { .. } => "no_data",
            FetchError::Series(_) => "query_series",
            FetchError::Refused { .. } => "prometheus_refused",
            FetchError::Unauthorized { .. } => "prometheus_auth",
            FetchError::Tls(_) => "prometheus_tls",
            FetchError::TooLarge { .. } => "answer_too_large",
            FetchError::Budget(_) => "memory_budget",
            // Answering, but 429 or 5xx to the end (its query timeout, a
            // restart): not the same page as a server that is gone.
            FetchError::GaveUp { answered: true, .. } => "prometheus_overloaded",
            FetchError::GaveUp { .. } | FetchError::NotAsked(_) => "prometheus_unreachable",
            FetchError::Answer(_) => "prometheus_answer",
            FetchError::Negative { .. } => "negative_load",
        }
    }

    /// True when the query simply matched nothing.
    #[must_use]
    pub fn is_no_data(&self) -> bool {
        matches!(self, FetchError::NoData { .. })
    }
}

/// Load is never below zero, as for a file (which is refused for it):
/// a query that goes there is a difference (a subtraction, `delta()`,
/// `deriv()`), and a plan from it would shrink the HPA for nothing.
/// Rounding dust (a billionth of the largest value) is read as 0.
fn refuse_negative(samples: &mut [Sample]) -> Result<(), FetchError> {
    let largest = samples
        .iter()
        .map(|s| s.value.abs())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let dust = 1e-9 * largest;
    let mut negative = samples.iter().filter(|s| s.value < -dust);
    if let Some(first) = negative.next() {
        return Err(FetchError::Negative {
            count: 1 + negative.count(),
            value: first.value,
            at: crate::core::time::format_timestamp(first.ts),
        });
    }
    for s in samples.iter_mut().filter(|s| s.value < 0.0) {
        s.value = 0.0;
    }
    Ok(())
}

/// A non-2xx answer as a failure: final for what no retry can fix (bad
/// credentials, a query the server cannot run), transient for an
/// overloaded or restarting server (with its `Retry-After`).
/// `(url, location)`: the endpoint asked and where a redirect pointed.
fn refusal(
    status: StatusCode,
    body: &[u8],
    chunk: Chunk,
    retry_after: Option<Duration>,
    (url, location): (&str, Option<&str>),
) -> Failure {
    let (kind, message) = explain(body);
    let code = status.as_u16();
    match status {
        // Not followed: a redirect would turn the POST into a GET without
        // its form.
        s if s.is_redirection() => Failure::Final(FetchError::Refused {
            status: code,
            kind: "redirect".into(),
            message: format!(
                "{url} redirects to {}: point prometheus.url at the address it redirects to",
                location.unwrap_or("another address")
            ),
        }),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
            Failure::Final(FetchError::Refused {
                status: code,
                kind,
                message: format!(
                    "{url}: no query API there (is prometheus.url the server's base address, with its path prefix if it has one?){}",
                    if message.is_empty() { String::new() } else { format!(": {message}") }
                ),
            })
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Failure::Final(FetchError::Unauthorized { status: code })
        }
        StatusCode::UNPROCESSABLE_ENTITY => Failure::Final(FetchError::Refused {
            status: code,
            kind,
            message: if message.contains("too many points") {
                // VictoriaMetrics below its default points per series.
                format!(
                    "{message} (the server allows fewer points per request than the {} asked for: set prometheus.max_points_per_request to its limit)",
                    chunk.points()
                )
            } else {
                format!(
                    "{message} (the query could not be executed, usually too many samples: \
                     query a shorter history or a coarser step, or use a recording rule)"
                )
            },
        }),
        StatusCode::TOO_MANY_REQUESTS => Failure::Transient {
            why: format!("{url} is rate limiting (HTTP 429): {message}"),
            retry_after,
            answered: true,
        },
        StatusCode::SERVICE_UNAVAILABLE => Failure::Transient {
            why: format!(
                "{url} answered HTTP 503 ({kind}): {message} (the query timed out or Prometheus is overloaded)"
            ),
            retry_after,
            answered: true,
        },
        s if s.is_server_error() => Failure::Transient {
            why: format!("{url} answered HTTP {code} ({kind}): {message}"),
            retry_after,
            answered: true,
        },
        _ => Failure::Final(FetchError::Refused {
            status: code,
            kind,
            message,
        }),
    }
}

/// One attempt's failure.
enum Failure {
    Final(FetchError),
    Transient {
        why: String,
        retry_after: Option<Duration>,
        /// Prometheus answered (429, 5xx): overloaded, not unreachable.
        answered: bool,
    },
}

/// Requests in a row that give up after all their retries (timeouts,
/// refused connections, 5xx) before the run asks Prometheus for `1`: when
/// that gets no answer either, Prometheus is down or hung, and the run
/// stops asking (each further workload would wait its retries and
/// timeouts too: a hung server took 2 minutes a workload, so the Job's
/// deadline killed the run before a single alert was sent). When it
/// answers, the queries were slow on their own (a heavy query, a 503 of
/// Prometheus' query timeout) and the count starts again; so does any
/// answer in between.
pub const GIVE_UP_AFTER: u32 = 3;

/// A Prometheus HTTP API client shared by a whole run.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    auth: Auth,
    permits: Arc<Semaphore>,
    retry: RetryPolicy,
    timeout: Duration,
    lookback: crate::edge::prometheus::Lookback,
    max_points: u32,
    /// Requests in a row that gave up (see [`GIVE_UP_AFTER`]).
    gave_up_in_a_row: std::sync::atomic::AtomicU32,
    /// The instant query API, asked for `1` to tell a server that is down
    /// from queries that are slow.
    probe: String,
    /// Why the run stopped asking, once it has.
    down: std::sync::OnceLock<String>,
}

impl Client {
    /// Makes the client of `config`: reads the secrets and the CA file,
    /// checks the headers. Errs with a message naming the setting at fault
    /// (never a secret's value).
    ///
    /// # Errors
    /// A setting that cannot be used (a header, a secret, the CA file).
    pub fn new(config: &Prometheus) -> Result<Client, EndpointError> {
        let timeout = Duration::from_secs(config.timeout.secs() as u64);
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let header =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| EndpointError::Header {
                    setting: "prometheus.headers".to_string(),
                    problem: format!("`{name}` is not a valid header name"),
                })?;
            let value = HeaderValue::from_str(value).map_err(|_| EndpointError::Header {
                setting: format!("prometheus.headers.{name}"),
                problem: "the value is not a valid header value".to_string(),
            })?;
            headers.insert(header, value);
        }
        let builder = reqwest::Client::builder()
            .user_agent(concat!("homeostat/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .gzip(true)
            // A redirect would turn the POST into a GET without its form:
            // report the 3xx instead (point prometheus.url at the target).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(config.max_concurrency as usize);
        let builder = with_tls(
            builder,
            "prometheus",
            config.ca_file.as_deref(),
            config.insecure_skip_verify,
        )?;
        let http = builder.build().map_err(|e| EndpointError::Client {
            setting: "prometheus".to_string(),
            reason: e.to_string(),
        })?;
        let auth = Auth::read(
            "prometheus",
            config.basic_auth.as_ref(),
            config.bearer_token.as_ref(),
        )?;
        Ok(Client {
            http,
            endpoint: format!("{}/api/v1/query_range", config.url.trim_end_matches('/')),
            probe: format!("{}/api/v1/query", config.url.trim_end_matches('/')),
            auth,
            permits: Arc::new(Semaphore::new(config.max_concurrency as usize)),
            retry: RetryPolicy {
                max_retries: config.max_retries,
                ..RetryPolicy::default()
            },
            timeout,
            lookback: config.lookback,
            max_points: config.max_points_per_request,
            gave_up_in_a_row: std::sync::atomic::AtomicU32::new(0),
            down: std::sync::OnceLock::new(),
        })
    }

    /// The same client with another retry policy (tests use short waits).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    /// The history of `query` over `[start, end]` at `step` seconds (both
    /// ends rounded inward to multiples of the step), asked for in chunks
    /// of at most `max_points_per_request` points that run side by side within the client's
    /// concurrency bound, and made one series (see [`combine`]).
    pub async fn fetch_history(
        &self,
        query: &str,
        aggregate: Option<Aggregate>,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<History, FetchError> {
        let chunks = plan_chunks(start, end, step, self.max_points);
        let no_data = || FetchError::NoData {
            from: crate::core::time::format_timestamp(start),
            to: crate::core::time::format_timestamp(end),
        };
        let Some(last) = chunks.last().copied() else {
            return Err(no_data());
        };
        // `aggregate:` is asked of the server (`sum(<query>)`): its answer
        // is one series, where the pods' own would be held in full here.
        let wrapped = aggregate.map(|a| a.wrap(query));
        let query = wrapped.as_deref().unwrap_or(query);
        // Without an aggregate, several series are an error whatever the
        // other chunks hold: say so at the first chunk that shows them and
        // cancel the rest, instead of fetching every pod's history.
        let answers = futures_util::future::try_join_all(chunks.iter().map(|chunk| async {
            let series = self.query_range(query, *chunk).await?;
            if aggregate.is_none() && series.len() > 1 {
                return Err(FetchError::Series(CombineError::TooManySeries {
                    count: series.len(),
                    examples: super::describe_series(&series),
                }));
            }
            Ok(series)
        }))
        .await?;
        let infinite = answers.iter().flatten().map(|s| s.infinite).sum();
        let mut samples = combine(answers, aggregate, step, self.lookback.secs(step), last.end)
            .map_err(|e| match e {
                CombineError::NoSeries => no_data(),
                other @ CombineError::TooManySeries { .. } => FetchError::Series(other),
            })?;
        refuse_negative(&mut samples)?;
        Ok(History {
            coarser: super::coarser_than_step(&samples, step),
            samples,
            requests: chunks.len(),
            infinite,
        })
    }

    /// One chunk, retried while its failures are transient.
    pub async fn query_range(
        &self,
        query: &str,
        chunk: Chunk,
    ) -> Result<Vec<RangeSeries>, FetchError> {
        use std::sync::atomic::Ordering;
        let mut retry = 0;
        loop {
            // Held until this attempt's outcome is counted, so that the
            // request next in line sees Prometheus given up on.
            let permit = self
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            // Checked once the request's turn has come: those waiting for
            // it when Prometheus went away are not sent.
            if let Some(why) = self.down.get() {
                return Err(FetchError::NotAsked(why.clone()));
            }
            let outcome = self.attempt(query, chunk).await;
            match outcome {
                Ok(series) => {
                    self.gave_up_in_a_row.store(0, Ordering::Relaxed);
                    return Ok(series);
                }
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Transient {
                    why,
                    retry_after,
                    answered,
                }) => {
                    if retry >= self.retry.max_retries {
                        let error = FetchError::GaveUp {
                            attempts: retry + 1,
                            last: why,
                            answered,
                        };
                        let given_up = self.gave_up_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                        if given_up >= GIVE_UP_AFTER && self.down.get().is_none() {
                            if self.answers().await {
                                self.gave_up_in_a_row.store(0, Ordering::Relaxed);
                            } else {
                                self.down.get_or_init(|| {
                                    format!(
                                        "{given_up} requests in a row to {} gave up after their retries (the last: {error}), and a query of `1` got no answer either: Prometheus is down or not answering, and the rest of this run's queries are not sent",
                                        self.endpoint
                                    )
                                });
                            }
                        }
                        return Err(error);
                    }
                    drop(permit);
                    tokio::time::sleep(self.retry.backoff(retry, retry_after)).await;
                    retry += 1;
                }
            }
        }
    }

    /// Whether Prometheus answers the cheapest query there is (`1`, at
    /// once, within 10 s at most): asked, with the caller's permit, when
    /// queries keep giving up.
    async fn answers(&self) -> bool {
        let request = self
            .http
            .post(&self.probe)
            .form(&[("query", "1")])
            .timeout(self.timeout.min(Duration::from_secs(10)));
        match self.auth.apply(request).send().await {
            Ok(response) => response.status().is_success(),
            Err(_) => false,
        }
    }

    async fn attempt(&self, query: &str, chunk: Chunk) -> Result<Vec<RangeSeries>, Failure> {
        let form = [
            ("query", query.to_string()),
            ("start", chunk.start.to_string()),
            ("end", chunk.end.to_string()),
            ("step", chunk.step.to_string()),
            // Thanos: fail rather than answer from only some of its stores.
            ("partial_response", "false".to_string()),
        ];
        // The run's memory budget: the answer of one series at this step
        // (about 30 bytes a point, as much again parsed), reserved before
        // asking; a longer answer (many series) takes more as it comes.
        let points = u64::try_from((chunk.end - chunk.start) / chunk.step.max(1) + 1).unwrap_or(0);
        let budget = crate::edge::budget::run_budget();
        let mut reservation = budget
            .reserve_async(64 * points + (64 << 10))
            .await
            .map_err(|e| Failure::Final(FetchError::Budget(e)))?;
        let request = self.auth.apply(self.http.post(&self.endpoint).form(&form));
        let mut response = request.send().await.map_err(|e| self.transient_http(&e))?;
        let status = response.status();
        // `Retry-After` may be a date: how long until then, by the clock now.
        #[allow(clippy::disallowed_methods)]
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = self.read_body(&mut response, &mut reservation).await?;
        if status.is_success() {
            let mut series = parse_range_answer(&body).map_err(|e| match e {
                AnswerError::Refused { kind, message } => Failure::Final(FetchError::Refused {
                    status: status.as_u16(),
                    kind,
                    message,
                }),
                AnswerError::Malformed(why) => {
                    // An HTML page where JSON should be: a proxy, a login
                    // page or another service answers at that address.
                    let page = body.trim_ascii_start().starts_with(b"<");
                    Failure::Final(FetchError::Answer(AnswerError::Malformed(format!(
                        "{why} (from {}{})",
                        self.endpoint,
                        if page {
                            ": an HTML page, not Prometheus' JSON: is prometheus.url Prometheus itself, not a proxy's or a login page's address?"
                        } else {
                            ""
                        }
                    ))))
                }
            })?;
            // Only the steps asked for: a misbehaving server's extra points
            // (off the grid, outside the range) are not history.
            for one in &mut series {
                one.samples.retain(|s| {
                    s.ts >= chunk.start
                        && s.ts <= chunk.end
                        && (s.ts - chunk.start) % chunk.step == 0
                });
            }
            return Ok(series);
        }
        Err(refusal(
            status,
            &body,
            chunk,
            retry_after,
            (&self.endpoint, location.as_deref()),
        ))
    }

    /// The answer's body, read piece by piece, so that an answer too large
    /// to hold (a query matching thousands of series) is refused instead of
    /// filling memory; `reservation` grows with it.
    async fn read_body(
        &self,
        response: &mut reqwest::Response,
        reservation: &mut crate::edge::budget::Reservation<'static>,
    ) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(piece)) => {
                    if body.len() + piece.len() > MAX_ANSWER_BYTES {
                        return Err(Failure::Final(FetchError::TooLarge {
                            limit_mib: MAX_ANSWER_BYTES >> 20,
                        }));
                    }
                    body.extend_from_slice(&piece);
                    let held = 2 * body.len() as u64;
                    if held > reservation.bytes() {
                        reservation
                            .grow(held - reservation.bytes())
                            .map_err(|e| Failure::Final(FetchError::Budget(e)))?;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(Failure::Transient {
                        why: if e.is_timeout() {
                            format!(
                                "the answer from {} did not arrive within the {:?} timeout (prometheus.timeout)",
                                self.endpoint, self.timeout
                            )
                        } else {
                            format!(
                                "the answer from {} was cut off: {}",
                                self.endpoint,
                                error_chain(&e)
                            )
                        },
                        retry_after: None,
                        answered: false,
                    })
                }
            }
        }
        Ok(body)
    }

    fn transient_http(&self, e: &reqwest::Error) -> Failure {
        let chain = error_chain(e);
        if e.is_builder() {
            return Failure::Final(FetchError::Refused {
                status: 0,
                kind: "request".into(),
                message: format!("cannot make a request to {}: {chain}", self.endpoint),
            });
        }
        if e.is_connect() && chain.contains("certificate") {
            return Failure::Final(FetchError::Tls(format!(
                "cannot connect to {}: {chain}",
                self.endpoint
            )));
        }
        let why = if e.is_timeout() {
            format!(
                "no answer from {} within the {:?} timeout (prometheus.timeout)",
                self.endpoint, self.timeout
            )
        } else if e.is_connect() {
            format!("cannot connect to {}: {}", self.endpoint, error_chain(e))
        } else {
            format!("request to {} failed: {}", self.endpoint, error_chain(e))
        };
        Failure::Transient {
            why,
            retry_after: None,
            answered: false,
        }
    }
}

/// `Retry-After`: seconds, or an HTTP date (RFC 7231) turned into the
/// wait from `now`; `None` when unreadable.
fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Prometheus' `errorType` and `error` of a refusal, or the start of a
/// body that is not its JSON (a proxy's HTML page, say).
fn explain(body: &[u8]) -> (String, String) {
    if let Err(AnswerError::Refused { kind, message }) = parse_range_answer(body) {
        return (kind, message);
    }
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut snippet: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        snippet.push('…');
    }
    ("http".into(), snippet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_says_where_to_point_the_url() {
        let chunk = Chunk {
            start: 0,
            end: 60,
            step: 60,
        };
        let failure = refusal(
            StatusCode::FOUND,
            b"",
            chunk,
            None,
            (
                "http://old/api/v1/query_range",
                Some("https://new/api/v1/query_range"),
            ),
        );
        let Failure::Final(error) = failure else {
            panic!("a redirect is not retried")
        };
        assert_eq!(
            error.to_string(),
            "Prometheus refused the query (HTTP 302, redirect): http://old/api/v1/query_range redirects to https://new/api/v1/query_range: point prometheus.url at the address it redirects to"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_is_capped_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_retries: 5,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for _ in 0..100 {
            let first = policy.backoff(0, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(2, None);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            assert!(policy.backoff(10, None) <= Duration::from_secs(1));
            assert_eq!(
                policy.backoff(0, Some(Duration::from_secs(60))),
                Duration::from_secs(1)
            );
        }
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T08:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 08:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 26 Nov 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn a_refusal_is_explained_in_prometheus_words_or_by_the_body_start() {
        let refusal = br#"{"status":"error","errorType":"bad_data","error":"1:6: parse error: unclosed left parenthesis"}"#;
        assert_eq!(
            explain(refusal),
            (
                "bad_data".to_string(),
                "1:6: parse error: unclosed left parenthesis".to_string()
            )
        );
        let (kind, message) = explain(b"<html>\n<body>502 Bad Gateway</body></html>");
        assert_eq!(kind, "http");
        assert_eq!(message, "<html> <body>502 Bad Gateway</body></html>");
    }
}
