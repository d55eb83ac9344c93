//! Notify (edge): calls an operator through Alertmanager when the cluster
//! cannot heal itself, and pushes the run's metrics to a Pushgateway.
//!
//! The pure part decides: which alerts a run raises ([`firing_alerts`]),
//! which earlier ones it resolves ([`resolved_alerts`]) and the metrics
//! text ([`run_metrics`]). [`notify`] does the I/O.
//!
//! Alertmanager forgets an alert sent without `endsAt` after its
//! `resolve_timeout` (5 minutes by default), shorter than the time between
//! runs: firing alerts are sent with `endsAt` an hour ahead
//! ([`FIRING_FOR`]), and every run re-sends the alerts whose condition
//! still holds. Which alerts an earlier run raised
//! is read back from Alertmanager itself (`GET /api/v2/alerts`), so
//! resolving needs no local state: an active `HomeostatCannotHeal` alert
//! of a workload in this run that this run does not raise again is sent
//! once more with `endsAt` = now.

use crate::core::apply::Trouble;
use crate::core::bounds::significant;
use crate::core::plan::{Plan, Status, WorkloadPlan};
use crate::core::time::{format_timestamp, parse_timestamp};
use crate::edge::http::Endpoint;
use crate::edge::http::{error_chain, with_tls, Auth, EndpointError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The one alert homeostat raises; its `reason` label says why.
pub const ALERT_NAME: &str = "HomeostatCannotHeal";
/// Seconds a firing alert lasts unless a later run renews or resolves it
/// (runs come every 15 minutes; Alertmanager's own 5-minute default
/// would make it flap between runs).
pub const FIRING_FOR: i64 = 3_600;

/// The labels homeostat sets on its alerts: `alertmanager.labels` may not
/// use them.
pub const ALERT_LABELS: [&str; 8] = [
    "alertname",
    "namespace",
    "workload",
    "reason",
    "severity",
    "config",
    "hpa",
    "error",
];
/// The labels of homeostat's Pushgateway groups and metrics:
/// `pushgateway.labels` may not use them.
pub const PUSHGATEWAY_LABELS: [&str; 8] = [
    "job",
    "command",
    "shard",
    "namespace",
    "workload",
    "outcome",
    "stage",
    "change",
];

/// An alert as Alertmanager's API v2 takes it (and gives it back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "startsAt", default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    #[serde(rename = "endsAt", default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
}

fn alert(
    namespace: &str,
    workload: &str,
    reason: &str,
    severity: &str,
    annotations: [(&str, String); 3],
) -> Alert {
    let labels = [
        ("alertname", ALERT_NAME),
        ("namespace", namespace),
        ("workload", workload),
        ("reason", reason),
        ("severity", severity),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Alert {
        labels,
        annotations: annotations
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        starts_at: None,
        ends_at: None,
    }
}

/// The alert a workload's plan raises, if any: a ceiling too low for the
/// expected load (critical: the HPA will hit it), or no recommendation at
/// all (missing, stale or unreadable data; a failed fit).
#[must_use]
pub fn plan_alert(w: &WorkloadPlan) -> Option<Alert> {
    let id = format!("{}/{}", w.namespace, w.name);
    let numbers = match (w.min_replicas, w.max_replicas, w.expected_load) {
        (Some(min), Some(max), Some(load)) => format!(
            "recommended min {min}, max {max}; expected load {} to {}",
            significant(load.low, 6),
            significant(load.high, 6)
        ),
        _ => "no recommendation".to_string(),
    };
    let (reason, severity, summary, fix) = match w.status {
        Status::Ok if w.untrustworthy_model => (
            "untrustworthy_model",
            "warning",
            format!(
                "{id}: the forecast is not trustworthy (backtest MASE {})",
                w.validation_mase.unwrap_or(f64::NAN)
            ),
            "look at the workload's history (`homeostat fetch`, `homeostat events`) for outages, a changed metric or a new pattern; pin the bounds (min/max floors and ceilings) until the history is clean, or raise max_mase if this workload is simply noisy".to_string(),
        ),
        Status::Ok => return None,
        Status::NeedsOperator => (
            "ceiling",
            "critical",
            format!("{id}: the expected load needs more replicas than its ceiling allows"),
            "raise max_replicas.ceiling (or min_replicas.ceiling) in homeostat's config and make sure the cluster has room for them (nodes, quotas); or raise target_per_replica if one replica can carry more".to_string(),
        ),
        Status::InsufficientData => (
            "insufficient_data",
            "warning",
            format!("{id}: too little or too old load data to recommend bounds"),
            "check that the load metric is still scraped (the query, the exporter, Prometheus' retention); the HPA keeps its current bounds meanwhile".to_string(),
        ),
        Status::NoData => (
            "no_data",
            "warning",
            format!("{id}: the load query matches no series"),
            "check the workload's query and labels in homeostat's config; the HPA keeps its current bounds meanwhile".to_string(),
        ),
        Status::Error => match w.error_kind.as_deref() {
            // As an entry of the config with no valid names is alerted.
            Some("config_invalid") => (
                "config_invalid",
                "warning",
                format!("{id}: homeostat's config is invalid for it, so it did not run"),
                "correct the entry in homeostat's config (`homeostat config check` lists every mistake); its HPA keeps its current bounds meanwhile".to_string(),
            ),
            Some("prometheus_unreachable") => (
                "error",
                "warning",
                format!("{id}: Prometheus did not answer for its load"),
                "check that Prometheus is up and reachable from homeostat (prometheus.url, its load, the network); the HPA keeps its current bounds meanwhile".to_string(),
            ),
            Some("prometheus_auth") => (
                "error",
                "warning",
                format!("{id}: Prometheus refused homeostat's credentials"),
                "check prometheus.basic_auth or the bearer token in homeostat's config and the Secret it reads; the HPA keeps its current bounds meanwhile".to_string(),
            ),
            _ => (
                "error",
                "warning",
                format!("{id}: homeostat could not process the workload"),
                "read the description; the HPA keeps its current bounds meanwhile".to_string(),
            ),
        },
    };
    let mut description = numbers;
    // One alert per workload: a ceiling page of a workload whose model is
    // not trusted says that too (its own alert is not raised).
    let why: Vec<&String> = match &w.bounds {
        Some(bounds) if w.status == Status::NeedsOperator => bounds
            .needs_operator
            .iter()
            .chain(
                w.reasons
                    .iter()
                    .filter(|r| w.untrustworthy_model && r.starts_with("model not trusted")),
            )
            .collect(),
        _ => w.reasons.iter().collect(),
    };
    for line in why {
        let _ = write!(description, "\n{line}");
    }
    let mut raised = alert(
        &w.namespace,
        &w.name,
        reason,
        severity,
        [
            ("summary", summary),
            ("description", description),
            ("fix", fix),
        ],
    );
    // What kind of failure: a route, or Alertmanager's `group_by`, can
    // gather a fleet's `prometheus_unreachable` into one notification
    // and send `query_series` to the workload's owners.
    if let (Status::Error, Some(kind)) = (w.status, &w.error_kind) {
        raised.labels.insert("error".into(), kind.clone());
    }
    Some(with_hpa(raised, w))
}

/// The alert of a spike going on above what the recommended max carries:
/// the HPA is capped until it passes, and only an operator can lift the
/// cap now.
fn spike_alert(w: &WorkloadPlan) -> Option<Alert> {
    let found = crate::core::incident::findings(w, &[]);
    let spike = found
        .iter()
        .find(|f| f.cause == crate::core::incident::Cause::SpikeAboveMax)?;
    let id = format!("{}/{}", w.namespace, w.name);
    Some(with_hpa(
        alert(
            &w.namespace,
            &w.name,
            "spike_above_max",
            "critical",
            [
                ("summary", format!("{id}: a spike above what its max carries is going on")),
                ("description", spike.blocked_by.clone()),
                ("fix", format!("raise the maxReplicas of HPA {}/{} for now, to the replicas the description says it needs (homeostat notes the change on the incident and learns the ceiling); a surge that comes back at the same time of day, week or month is learned as a known event, or declare it under events.calendar", w.namespace, w.hpa)),
            ],
        ),
        w,
    ))
}

/// `a` with the label `hpa`: the object an on-call person edits (a
/// workload's HPA may have another name than the workload).
fn with_hpa(mut a: Alert, w: &WorkloadPlan) -> Alert {
    if !w.hpa.is_empty() {
        a.labels.insert("hpa".into(), w.hpa.clone());
    }
    a
}

/// The alert of a workload entry of the config that did not run and has no
/// valid names: its place in `workloads:` stands for the workload, and the
/// label `config` (the config file) tells it from the same entry of
/// another config that alerts the same Alertmanager.
fn config_error_alert(e: &crate::core::plan::ConfigError) -> Alert {
    let mut a = alert(
        "",
        &e.workload,
        "config_invalid",
        "warning",
        [
            (
                "summary",
                format!(
                    "{} of {}: homeostat's config is invalid for it, so it did not run",
                    e.workload, e.config
                ),
            ),
            ("description", e.detail().to_string()),
            ("fix", "correct the entry in homeostat's config (`homeostat config check` lists every mistake); its HPA keeps its current bounds meanwhile".to_string()),
        ],
    );
    a.labels.insert("config".into(), e.config.clone());
    a
}

/// Every alert this run raises: from the plan, and from `troubles` found
/// while applying it.
#[must_use]
pub fn firing_alerts(plan: &Plan, troubles: &[Trouble]) -> Vec<Alert> {
    plan.workloads
        .iter()
        .filter_map(plan_alert)
        .chain(plan.workloads.iter().filter_map(spike_alert))
        .chain(plan.config_errors.iter().map(config_error_alert))
        .chain(troubles.iter().map(|t| {
            alert(
                &t.namespace,
                &t.workload,
                &t.reason,
                &t.severity,
                [
                    ("summary", t.summary.clone()),
                    ("description", t.description.clone()),
                    ("fix", t.fix.clone()),
                ],
            )
        }))
        .collect()
}

/// Each alert of a workload with an open incident of the alert's cause
/// names it (annotation `incident`, and the `fix` says what to do with
/// it): the on-call person notes what they did on it and drafts its
/// post-mortem by that id, which the alert did not give.
pub fn name_incidents(alerts: &mut [Alert], tallies: &[crate::core::incident::Tally]) {
    for alert in alerts {
        let label = |k: &str| alert.labels.get(k).map_or("", String::as_str);
        let Some(id) = tallies
            .iter()
            .filter(|t| t.namespace == label("namespace") && t.workload == label("workload"))
            .flat_map(|t| &t.open_ids)
            .find(|(cause, _)| alert_reason(*cause) == label("reason"))
            .map(|(_, id)| id.clone())
        else {
            continue;
        };
        let workload = format!("{}/{}", label("namespace"), label("workload"));
        if let Some(fix) = alert.annotations.get_mut("fix") {
            let _ = write!(
                fix,
                "; incident {id}: say what you did with `homeostat incident note {workload} --text …` (on the workload's open incident), draft its post-mortem with `homeostat postmortem --incident {id}` (both with the `--config` of the run that alerted)"
            );
        }
        alert.annotations.insert("incident".into(), id);
    }
}

/// The alert reason of an incident's cause (a ceiling too low is alerted
/// as `ceiling`, the reason alerts had before incidents).
fn alert_reason(cause: crate::core::incident::Cause) -> &'static str {
    use crate::core::incident::Cause;
    match cause {
        Cause::NeedsOperator => "ceiling",
        Cause::SpikeAboveMax | Cause::AtMax => cause.as_str(),
    }
}

/// The reasons of the alerts a plan raises ([`plan_alert`],
/// `spike_alert`, `config_error_alert`): all that `recommend
/// --notify` can raise, so all it may resolve. The others are `apply`'s
/// troubles (an HPA it cannot read or patch, one at its max), which only
/// an `apply` run can see mended.
pub const PLAN_REASONS: [&str; 7] = [
    "untrustworthy_model",
    "ceiling",
    "insufficient_data",
    "no_data",
    "error",
    "spike_above_max",
    "config_invalid",
];

/// The alerts to resolve: those `active` in Alertmanager, raised by
/// homeostat for a workload of this run (`in_run`: namespace, name; an
/// empty namespace with a config file's name stands for that config's
/// entries without names, whose alerts have an empty namespace and that
/// file as label `config`), that this run does not raise again, and that
/// a run of its kind can raise (`applying`: an `apply` run; otherwise
/// only [`PLAN_REASONS`]). They are sent back with `endsAt` = `now`.
#[must_use]
pub fn resolved_alerts(
    active: &[Alert],
    firing: &[Alert],
    in_run: &[(String, String)],
    applying: bool,
    now: i64,
) -> Vec<Alert> {
    let label = |a: &Alert, key: &str| a.labels.get(key).cloned().unwrap_or_default();
    active
        .iter()
        .filter(|a| label(a, "alertname") == ALERT_NAME)
        .filter(|a| applying || PLAN_REASONS.contains(&label(a, "reason").as_str()))
        .filter(|a| {
            in_run.iter().any(|(ns, name)| {
                label(a, "namespace") == *ns
                    && if ns.is_empty() {
                        label(a, "config") == *name
                    } else {
                        label(a, "workload") == *name
                    }
            })
        })
        .filter(|a| !firing.iter().any(|f| f.labels == a.labels))
        .map(|a| {
            // Alertmanager refuses an end before the start, and its start
            // has milliseconds: within the start's second, end at it.
            let started_late = a
                .starts_at
                .as_deref()
                .and_then(|t| parse_timestamp(t).ok())
                .is_some_and(|start| start >= now);
            Alert {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: a.starts_at.clone(),
                ends_at: if started_late {
                    a.starts_at.clone()
                } else {
                    Some(format_timestamp(now))
                },
            }
        })
        .collect()
}

/// A Prometheus label value, escaped for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The incident metrics of an `apply` run, in the text format: open
/// incidents and repeats per workload, incidents opened and closed by the
/// run, and how long those closed had been open.
#[must_use]
pub fn incident_metrics(run: &crate::core::apply::ApplyRun) -> String {
    let mut out = String::new();
    let labels = |namespace: &str, workload: &str| {
        format!(
            "{{namespace=\"{}\",workload=\"{}\"}}",
            escape(namespace),
            escape(workload)
        )
    };
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let tallies = &run.incident_tallies;
    gauge(
        "homeostat_incidents_open",
        "Incidents open after the last run: conditions homeostat could not heal (per workload with any incident).",
        tallies
            .iter()
            .map(|t| (labels(&t.namespace, &t.workload), t.open as f64))
            .collect(),
    );
    gauge(
        "homeostat_incidents_repeated",
        "Incidents of a cause the workload had had before (per workload with any incident).",
        tallies
            .iter()
            .map(|t| (labels(&t.namespace, &t.workload), t.repeats as f64))
            .collect(),
    );
    gauge(
        "homeostat_incidents_changed",
        "Incidents opened and closed by the last run.",
        vec![
            (
                "{change=\"opened\"}".to_string(),
                run.incidents_opened.len() as f64,
            ),
            (
                "{change=\"closed\"}".to_string(),
                run.incidents_closed.len() as f64,
            ),
        ],
    );
    // Only those resolved: one closed without a judgement (its workload
    // left the config) says nothing of how long healing took.
    let resolved: Vec<(String, f64)> = run
        .incidents_closed
        .iter()
        .filter(|i| i.closed_why.is_none())
        .filter_map(|i| {
            let opened = crate::core::time::parse_timestamp(&i.opened).ok()?;
            let closed = crate::core::time::parse_timestamp(i.closed.as_deref()?).ok()?;
            let (namespace, workload) = i.id.rsplit_once('#')?.0.split_once('/')?;
            Some((labels(namespace, workload), (closed - opened) as f64))
        })
        .collect();
    gauge(
        "homeostat_incident_resolved_after_seconds",
        "How long the incidents the last run closed had been open.",
        resolved,
    );
    out
}

/// The run's metrics in the Prometheus text format (no timestamps; the same
/// `# TYPE` for a name every time; a trailing newline): run duration and
/// time, workloads by outcome, and per workload with a recommendation its
/// min, max and expected peak load.
#[must_use]
pub fn run_metrics(plan: &Plan, duration_secs: f64, finished_at: i64) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    gauge(
        "homeostat_run_duration_seconds",
        "Wall time of the last run.",
        &[(String::new(), duration_secs)],
    );
    gauge(
        "homeostat_run_finished_timestamp_seconds",
        "When the last run finished (unix seconds).",
        &[(String::new(), finished_at as f64)],
    );
    let count =
        |f: &dyn Fn(Status) -> bool| plan.workloads.iter().filter(|w| f(w.status)).count() as f64;
    gauge(
        "homeostat_workloads",
        "Workloads of the last run by outcome: ok, needs_operator, failed (no recommendation, or a config entry that could not run).",
        &[
            ("{outcome=\"ok\"}".to_string(), count(&|s| s == Status::Ok)),
            (
                "{outcome=\"needs_operator\"}".to_string(),
                count(&|s| s == Status::NeedsOperator),
            ),
            (
                "{outcome=\"failed\"}".to_string(),
                // With the config entries that could not run.
                count(&|s| !matches!(s, Status::Ok | Status::NeedsOperator))
                    + plan.config_errors.len() as f64,
            ),
        ],
    );
    let from_shapes = |blended: bool| {
        plan.workloads
            .iter()
            .filter(|w| {
                w.cold_start
                    .as_ref()
                    .is_some_and(|c| (c.own_weight > 0.0) == blended)
            })
            .count() as f64
    };
    gauge(
        "homeostat_workloads_from_fleet_shapes",
        "Workloads of the last run planned with the fleet's shapes: cold_start (under two days of history, the shape alone), blended (under two weeks).",
        &[
            ("{stage=\"cold_start\"}".to_string(), from_shapes(false)),
            ("{stage=\"blended\"}".to_string(), from_shapes(true)),
        ],
    );
    let per_workload = |value: &dyn Fn(&WorkloadPlan) -> Option<f64>| {
        plan.workloads
            .iter()
            .filter_map(|w| {
                value(w).map(|v| {
                    (
                        format!(
                            "{{namespace=\"{}\",workload=\"{}\"}}",
                            escape(&w.namespace),
                            escape(&w.name)
                        ),
                        v,
                    )
                })
            })
            .collect::<Vec<_>>()
    };
    gauge(
        "homeostat_recommended_min_replicas",
        "Recommended minReplicas.",
        &per_workload(&|w| w.min_replicas.map(f64::from)),
    );
    gauge(
        "homeostat_recommended_max_replicas",
        "Recommended maxReplicas.",
        &per_workload(&|w| w.max_replicas.map(f64::from)),
    );
    gauge(
        "homeostat_expected_peak_load",
        "Highest expected load over the horizon (upper end of the interval).",
        &per_workload(&|w| w.expected_load.map(|l| l.high)),
    );
    out
}

/// What notifying did; `errors` name the server and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyReport {
    pub alerts_sent: usize,
    pub alerts_resolved: usize,
    pub metrics_pushed: bool,
    pub errors: Vec<NotifyError>,
}

/// Why Alertmanager or the Pushgateway could not be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Settings(#[from] EndpointError),
    #[error("{what}: {chain}")]
    Unreachable {
        server: &'static str,
        what: &'static str,
        chain: String,
    },
    #[error("{what}: {url} answered HTTP {status}{hint}: {body}")]
    Refused {
        server: &'static str,
        what: &'static str,
        url: String,
        status: String,
        /// What to check in the config, for the statuses that say.
        hint: String,
        body: String,
    },
    #[error("{what}: not a list of alerts: {reason}")]
    NotAlerts { what: &'static str, reason: String },
    /// No async runtime to send from (the OS refused its threads).
    #[error("{0}")]
    Runtime(String),
    /// The active alerts could not be read: none was resolved.
    #[error("{0} (no alert resolved this run)")]
    NoneResolved(Box<NotifyError>),
}

impl NotifyError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            NotifyError::Settings(e) => e.label(),
            NotifyError::Unreachable { server, .. } => match *server {
                "alertmanager" => "alertmanager_unreachable",
                _ => "pushgateway_unreachable",
            },
            NotifyError::Refused { server, .. } => match *server {
                "alertmanager" => "alertmanager_refused",
                _ => "pushgateway_refused",
            },
            NotifyError::NotAlerts { .. } => "alertmanager_bad_answer",
            NotifyError::Runtime(_) => "runtime",
            NotifyError::NoneResolved(e) => e.label(),
        }
    }
}

/// An HTTP client for one notified server.
struct Server {
    http: reqwest::Client,
    auth: Auth,
    url: String,
    /// `alertmanager` or `pushgateway`.
    setting: &'static str,
}

/// Whether a run could use `endpoint` (`setting`: `alertmanager` or
/// `pushgateway`): its secrets, CA file and TLS settings read as a run
/// reads them, the server not contacted (`config check`).
///
/// # Errors
///
/// As a run's first alert or push would fail on them.
pub fn check_endpoint(endpoint: &Endpoint, setting: &'static str) -> Result<(), EndpointError> {
    Server::new(endpoint, setting).map(drop)
}

impl Server {
    fn new(endpoint: &Endpoint, setting: &'static str) -> Result<Server, EndpointError> {
        let timeout = Duration::from_secs(endpoint.timeout.secs().unsigned_abs());
        let builder = reqwest::Client::builder()
            .user_agent(concat!("homeostat/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)));
        let http = with_tls(
            builder,
            setting,
            endpoint.ca_file.as_deref(),
            endpoint.insecure_skip_verify,
        )?
        .build()
        .map_err(|e| EndpointError::Client {
            setting: setting.to_string(),
            reason: e.to_string(),
        })?;
        let auth = Auth::read(
            setting,
            endpoint.basic_auth.as_ref(),
            endpoint.bearer_token.as_ref(),
        )?;
        Ok(Server {
            http,
            auth,
            url: endpoint.url.clone(),
            setting,
        })
    }

    /// Sends `request`; a non-2xx answer is an error quoting its body (as
    /// text: Alertmanager answers a JSON string or `{code, message}`).
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &'static str,
    ) -> Result<String, NotifyError> {
        let response =
            self.auth
                .apply(request)
                .send()
                .await
                .map_err(|e| NotifyError::Unreachable {
                    server: self.setting,
                    what,
                    chain: error_chain(&e),
                })?;
        let status = response.status();
        let url = response.url().to_string();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            let body: String = body.trim().chars().take(300).collect();
            let setting = self.setting;
            let hint = match status.as_u16() {
                401 | 403 => format!(" (check {setting}.basic_auth or the bearer token)"),
                404 | 405 => {
                    format!(" (is {setting}.url the server's base address, without a path?)")
                }
                _ => String::new(),
            };
            Err(NotifyError::Refused {
                server: self.setting,
                what,
                url,
                status: status.to_string(),
                hint,
                body,
            })
        }
    }
}

/// Alertmanager's matcher `name="value"`, the value quoted.
fn matcher(name: &str, value: &str) -> String {
    format!(
        "{name}=\"{}\"",
        value.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

async fn send_alerts(
    server: &Server,
    identity: &BTreeMap<String, String>,
    firing: &[Alert],
    in_run: &[(String, String)],
    applying: bool,
    now: i64,
    report: &mut NotifyReport,
) -> Result<(), NotifyError> {
    let url = format!("{}/api/v2/alerts", server.url);
    // This homeostat's identity labels on every alert, and in the filter
    // of those it reads back: another homeostat's alerts on the same
    // Alertmanager (another cluster's `shop/cart`) are never resolved here.
    let firing: Vec<Alert> = firing
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a.labels
                .extend(identity.iter().map(|(k, v)| (k.clone(), v.clone())));
            a
        })
        .collect();
    let filters: Vec<(&str, String)> =
        std::iter::once(("filter", matcher("alertname", ALERT_NAME)))
            .chain(identity.iter().map(|(k, v)| ("filter", matcher(k, v))))
            .collect();
    // Which alerts to resolve. If they cannot be read, the firing ones are
    // sent all the same: an operator must not miss them for that.
    let active = async {
        let body = server
            .send(
                server.http.get(&url).query(&filters),
                "alertmanager: reading active alerts",
            )
            .await?;
        serde_json::from_str::<Vec<Alert>>(&body).map_err(|e| NotifyError::NotAlerts {
            what: "alertmanager: reading active alerts",
            reason: e.to_string(),
        })
    }
    .await;
    let resolved = match active {
        Ok(active) => resolved_alerts(&active, &firing, in_run, applying, now),
        Err(e) => {
            report.errors.push(NotifyError::NoneResolved(Box::new(e)));
            Vec::new()
        }
    };
    // An alert lapses when its `endsAt` passes: far enough ahead that the
    // next runs renew it before, near enough that alerts of a homeostat
    // that stopped running clear by themselves.
    // `startsAt` too: without it Alertmanager takes `endsAt` as the start,
    // an alert that begins in an hour. A re-sent alert keeps its first
    // start (Alertmanager merges overlapping ones, earliest start first).
    let (since, until) = (format_timestamp(now), format_timestamp(now + FIRING_FOR));
    let firing: Vec<Alert> = firing
        .into_iter()
        .map(|a| Alert {
            starts_at: Some(since.clone()),
            ends_at: Some(until.clone()),
            ..a
        })
        .collect();
    let all: Vec<&Alert> = firing.iter().chain(&resolved).collect();
    if all.is_empty() {
        return Ok(());
    }
    server
        .send(
            server
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&all).expect("alerts always serialise")),
            "alertmanager: sending alerts",
        )
        .await?;
    report.alerts_sent = firing.len();
    report.alerts_resolved = resolved.len();
    Ok(())
}

/// The Pushgateway group a run's metrics replace: one per command
/// (`recommend` and `apply` runs of the same config would otherwise wipe
/// each other's metrics, `apply`'s incidents among them), per shard
/// (`0-of-4`), and per the config's `pushgateway.labels` (two clusters'
/// homeostats on one Pushgateway). A label value with other characters
/// than letters, digits, `-`, `_` and `.` goes in base64 (`name@base64/…`),
/// the Pushgateway's form for values a path cannot hold as they are.
#[must_use]
pub fn push_group_path(
    applying: bool,
    shard: Option<&str>,
    labels: &BTreeMap<String, String>,
) -> String {
    use base64::Engine as _;
    let mut path = format!(
        "/metrics/job/homeostat/command/{}",
        if applying { "apply" } else { "recommend" }
    );
    for (name, value) in shard
        .map(|s| ("shard", s))
        .into_iter()
        .chain(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    {
        let plain = value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if plain {
            let _ = write!(path, "/{name}/{value}");
        } else {
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
            let _ = write!(path, "/{name}@base64/{encoded}");
        }
    }
    path
}

/// Sends the run's alerts to Alertmanager and its metrics to the
/// Pushgateway, those configured: to a group of the run's own
/// ([`push_group_path`]). `applying`: an `apply` run, which resolves its
/// troubles' alerts too (see [`resolved_alerts`]). Never fails the run:
/// problems are in the report's `errors`.
#[allow(clippy::too_many_arguments)]
pub async fn notify(
    alertmanager: Option<&Endpoint>,
    pushgateway: Option<&Endpoint>,
    firing: &[Alert],
    in_run: &[(String, String)],
    applying: bool,
    metrics: &str,
    shard: Option<&str>,
    now: i64,
) -> NotifyReport {
    let mut report = NotifyReport::default();
    if let Some(endpoint) = alertmanager {
        let sent = match Server::new(endpoint, "alertmanager") {
            Ok(server) => {
                send_alerts(
                    &server,
                    &endpoint.labels,
                    firing,
                    in_run,
                    applying,
                    now,
                    &mut report,
                )
                .await
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = sent {
            report.errors.push(e);
        }
    }
    if let Some(endpoint) = pushgateway {
        let pushed = match Server::new(endpoint, "pushgateway") {
            Ok(server) => {
                let url = format!(
                    "{}{}",
                    server.url,
                    push_group_path(applying, shard, &endpoint.labels)
                );
                server
                    .send(
                        server
                            .http
                            .put(&url)
                            .header(
                                reqwest::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )
                            .body(metrics.to_string()),
                        "pushgateway: pushing run metrics",
                    )
                    .await
            }
            Err(e) => Err(e.into()),
        };
        match pushed {
            Ok(_) => report.metrics_pushed = true,
            Err(e) => report.errors.push(e),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::ExpectedLoad;

    fn workload(name: &str, status: Status) -> WorkloadPlan {
        let mut w = WorkloadPlan::empty("shop", name, name, status);
        w.reasons = vec![format!("{name}: why")];
        if matches!(status, Status::Ok | Status::NeedsOperator) {
            w.min_replicas = Some(3);
            w.max_replicas = Some(20);
            w.expected_load = Some(ExpectedLoad {
                low: 120.0,
                high: 2400.5,
            });
        }
        w
    }

    fn plan(workloads: Vec<WorkloadPlan>) -> Plan {
        Plan {
            generated_at: String::new(),
            workloads,
            config_errors: Vec::new(),
        }
    }

    #[test]
    fn each_command_shard_and_identity_pushes_to_a_group_of_its_own() {
        let none = BTreeMap::new();
        assert_eq!(
            push_group_path(false, None, &none),
            "/metrics/job/homeostat/command/recommend"
        );
        let labels: BTreeMap<String, String> = [
            ("cluster".to_string(), "eu-1.prod".to_string()),
            ("team".to_string(), "a/b".to_string()),
            ("zone".to_string(), ".".to_string()),
        ]
        .into();
        // A value a path cannot hold as it is goes in base64 (URL-safe):
        // "a/b" is YS9i, "." is Lg.
        assert_eq!(
            push_group_path(true, Some("0-of-4"), &labels),
            "/metrics/job/homeostat/command/apply/shard/0-of-4/cluster/eu-1.prod/team@base64/YS9i/zone@base64/Lg"
        );
    }

    #[test]
    fn a_matcher_quotes_its_value() {
        assert_eq!(matcher("cluster", "eu-1"), "cluster=\"eu-1\"");
        assert_eq!(matcher("c", "a\"b\\"), "c=\"a\\\"b\\\\\"");
    }

    #[test]
    fn a_run_alerts_for_every_workload_that_cannot_heal_and_no_other() {
        let plan = plan(vec![
            workload("cart", Status::Ok),
            workload("search", Status::NeedsOperator),
            workload("ads", Status::NoData),
            workload("feed", Status::InsufficientData),
        ]);
        let alerts = firing_alerts(
            &plan,
            &[Trouble {
                namespace: "shop".into(),
                workload: "cart".into(),
                reason: "patch_failed".into(),
                severity: "warning".into(),
                summary: "s".into(),
                description: "d".into(),
                fix: "f".into(),
            }],
        );
        let reasons: Vec<(&str, &str, &str)> = alerts
            .iter()
            .map(|a| {
                (
                    a.labels["workload"].as_str(),
                    a.labels["reason"].as_str(),
                    a.labels["severity"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            reasons,
            [
                ("search", "ceiling", "critical"),
                ("ads", "no_data", "warning"),
                ("feed", "insufficient_data", "warning"),
                ("cart", "patch_failed", "warning"),
            ]
        );
        let ceiling = &alerts[0];
        assert_eq!(ceiling.labels["alertname"], ALERT_NAME);
        assert_eq!(ceiling.labels["namespace"], "shop");
        assert!(ceiling.annotations["description"].contains("expected load 120 to 2400.5"));
        assert!(ceiling.annotations["fix"].contains("max_replicas.ceiling"));
        assert!(alerts[1].annotations["description"].contains("ads: why"));
        assert!(ceiling.ends_at.is_none(), "a firing alert has no endsAt");
    }

    #[test]
    fn an_untrustworthy_model_is_alerted_with_its_error() {
        let mut w = workload("cart", Status::Ok);
        w.validation_mase = Some(3.4);
        assert_eq!(plan_alert(&w), None, "only when flagged");
        w.untrustworthy_model = true;
        let alert = plan_alert(&w).unwrap();
        assert_eq!(alert.labels["reason"], "untrustworthy_model");
        assert!(alert.annotations["summary"].contains("MASE 3.4"));
        // With a ceiling page too: one alert, which says both.
        let mut both = workload("cart", Status::NeedsOperator);
        let derivation = crate::core::bounds::Derivation {
            replicas: 3,
            load: 100.0,
            at: Some(0),
            quantile: 0.5,
            basis: crate::core::bounds::Basis::Expected,
            raw: 3.0,
            clamp: None,
        };
        both.bounds = Some(crate::core::bounds::ReplicaBounds {
            min: derivation.clone(),
            max: derivation,
            expected_low: 100.0,
            expected_high: 100.0,
            needs_operator: vec!["needs 14 replicas, above the max ceiling 3".into()],
            notes: Vec::new(),
            unit_suspect: false,
        });
        both.untrustworthy_model = true;
        both.reasons
            .push("model not trusted: its backtest error is 3.4 times …".into());
        let alert = plan_alert(&both).unwrap();
        assert_eq!(alert.labels["reason"], "ceiling");
        let description = &alert.annotations["description"];
        assert!(
            description.contains("above the max ceiling 3")
                && description.matches("model not trusted").count() == 1,
            "{description}"
        );
    }

    #[test]
    fn alerts_no_longer_raised_are_resolved_only_for_this_runs_workloads() {
        let plan = plan(vec![workload("search", Status::NeedsOperator)]);
        let firing = firing_alerts(&plan, &[]);
        let mut cleared = plan_alert(&workload("ads", Status::NoData)).unwrap();
        cleared.starts_at = Some("2025-11-26T09:00:00Z".into());
        let mut elsewhere = cleared.clone();
        elsewhere.labels.insert("namespace".into(), "other".into());
        let mut foreign = cleared.clone();
        foreign
            .labels
            .insert("alertname".into(), "KubePodCrashLooping".into());
        let active = [firing[0].clone(), cleared.clone(), elsewhere, foreign];
        let in_run = [
            ("shop".to_string(), "search".to_string()),
            ("shop".to_string(), "ads".to_string()),
        ];
        let resolved = resolved_alerts(&active, &firing, &in_run, false, 1_764_151_200);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].labels, cleared.labels);
        assert_eq!(resolved[0].starts_at, cleared.starts_at);
        assert_eq!(resolved[0].ends_at.as_deref(), Some("2025-11-26T10:00:00Z"));
        // Started within the same second: ends at its own start.
        let mut just = cleared.clone();
        just.starts_at = Some("2025-11-26T10:00:00.349Z".into());
        let resolved = resolved_alerts(&[just], &firing, &in_run, false, 1_764_151_200);
        assert_eq!(
            resolved[0].ends_at.as_deref(),
            Some("2025-11-26T10:00:00.349Z")
        );
        // An `apply` trouble (an HPA it could not read) is resolved only
        // by an `apply` run: `recommend --notify` never raises it, so its
        // silence says nothing (a review saw it resolve five such pages
        // while the HPAs were still unreadable).
        let mut trouble = cleared.clone();
        trouble
            .labels
            .insert("reason".into(), "hpa_unreadable".into());
        let active = [trouble.clone()];
        assert!(resolved_alerts(&active, &firing, &in_run, false, 1_764_151_200).is_empty());
        assert_eq!(
            resolved_alerts(&active, &firing, &in_run, true, 1_764_151_200)[0].labels,
            trouble.labels
        );
    }

    /// Every reason a plan can raise is one `recommend --notify` resolves.
    #[test]
    fn every_plan_alert_reason_is_a_plan_reason() {
        let mut untrusted = workload("untrusted", Status::Ok);
        untrusted.untrustworthy_model = true;
        let plans = [
            untrusted,
            workload("ceiling", Status::NeedsOperator),
            workload("short", Status::InsufficientData),
            workload("none", Status::NoData),
            workload("broken", Status::Error),
        ];
        for w in &plans {
            let alert = plan_alert(w).unwrap();
            let reason = alert.labels["reason"].as_str();
            assert!(PLAN_REASONS.contains(&reason), "{reason}");
        }
        for reason in ["spike_above_max", "config_invalid"] {
            assert!(PLAN_REASONS.contains(&reason), "{reason}");
        }
    }

    /// A workload in error carries its failure's kind as the label
    /// `error`: a fleet's `prometheus_unreachable` is one group in
    /// Alertmanager, a wrong query another.
    #[test]
    fn a_failure_is_alerted_with_its_kind() {
        let down = workload("down", Status::Error).with_error_kind("prometheus_unreachable");
        let alert = plan_alert(&down).unwrap();
        assert_eq!(alert.labels["reason"], "error");
        assert_eq!(alert.labels["error"], "prometheus_unreachable");
        assert_eq!(alert.labels["hpa"], down.hpa);
        assert!(alert.annotations["summary"].contains("Prometheus did not answer"));
        let invalid = workload("typo", Status::Error).with_error_kind("config_invalid");
        assert_eq!(
            plan_alert(&invalid).unwrap().labels["reason"],
            "config_invalid"
        );
        // Only a failure has one.
        let ok = workload("ok", Status::NeedsOperator).with_error_kind("prometheus_unreachable");
        assert!(!plan_alert(&ok).unwrap().labels.contains_key("error"));
    }

    #[test]
    fn metrics_are_text_format_with_one_type_line_per_name() {
        let plan = plan(vec![
            workload("cart", Status::Ok),
            workload("se\"arch", Status::NeedsOperator),
            workload("ads", Status::Error),
        ]);
        let text = run_metrics(&plan, 1.25, 1_764_151_200);
        assert!(text.ends_with('\n'));
        assert!(text.contains("homeostat_run_duration_seconds 1.25\n"));
        assert!(text.contains("homeostat_workloads{outcome=\"ok\"} 1\n"));
        assert!(text.contains("homeostat_workloads{outcome=\"needs_operator\"} 1\n"));
        assert!(text.contains("homeostat_workloads{outcome=\"failed\"} 1\n"));
        assert!(text.contains(
            "homeostat_recommended_max_replicas{namespace=\"shop\",workload=\"se\\\"arch\"} 20\n"
        ));
        assert!(
            !text.contains("workload=\"ads\""),
            "no numbers without a recommendation"
        );
        assert!(text.contains("homeostat_workloads_from_fleet_shapes{stage=\"cold_start\"} 0\n"));
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        assert_eq!(types, 7);
    }
}
