//! Configuration: the YAML file of DESIGN.md, parsed raw and then validated
//! once into [`Config`], so that no bad value reaches the pipeline.
//!
//! Unknown keys are rejected (a misspelt `headrom` must not be silently
//! ignored), as are duplicate workloads, floors above ceilings and a
//! `target_per_replica` that is not positive. Relative `file:` paths
//! resolve against the folder of the config file.

use crate::core::adapt::AdaptPolicy;
use crate::core::bounds::{BoundsPolicy, ReplicaRange};
use crate::core::events::EventSettings;
use crate::core::model::{level_error, Level};
use crate::core::time::Span;
use crate::core::workload::{Aggregate, CurrentBounds, LoadSource, Mode, Workload};
use crate::edge::http::{Endpoint, SecretSource};
use crate::edge::prometheus::{Lookback, Prometheus, DEFAULT_LOOKBACK};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // `cause`, not `source`: the message already says it, and a chained
    // source would make `{:#}` print it twice.
    #[error("{path}: cannot read config: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: invalid config: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    prometheus: Option<RawPrometheus>,
    alertmanager: Option<RawEndpoint>,
    pushgateway: Option<RawEndpoint>,
    store: Option<PathBuf>,
    apply: Option<RawApply>,
    #[serde(default)]
    defaults: RawDefaults,
    workloads: Vec<RawWorkload>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrometheus {
    url: String,
    timeout: Option<Span>,
    max_concurrency: Option<u32>,
    max_retries: Option<u32>,
    max_points_per_request: Option<u32>,
    lookback: Option<Lookback>,
    basic_auth: Option<RawBasicAuth>,
    bearer_token_file: Option<PathBuf>,
    bearer_token_env: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    insecure_skip_verify: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    username: String,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApply {
    max_step_up: Option<f64>,
    max_step_down: Option<f64>,
    hysteresis: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    url: String,
    timeout: Option<Span>,
    basic_auth: Option<RawBasicAuth>,
    bearer_token_file: Option<PathBuf>,
    bearer_token_env: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    history: Option<Span>,
    step: Option<Span>,
    horizon: Option<Span>,
    level: Option<f64>,
    headroom: Option<f64>,
    max_gap: Option<Span>,
    events: Option<RawEvents>,
    mode: Option<Mode>,
    startup: Option<Span>,
    buffer: Option<Span>,
    max_mase: Option<f64>,
    schedule_level: Option<f64>,
}

/// `events:` (in `defaults` or a workload; a workload's keys win one by one).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    persistence: Option<Span>,
    min_z: Option<f64>,
    /// Percent.
    min_change: Option<f64>,
    shift_down_after: Option<Span>,
    max_spike_headroom: Option<f64>,
}

impl RawEvents {
    fn or(self, defaults: RawEvents) -> RawEvents {
        RawEvents {
            persistence: self.persistence.or(defaults.persistence),
            min_z: self.min_z.or(defaults.min_z),
            min_change: self.min_change.or(defaults.min_change),
            shift_down_after: self.shift_down_after.or(defaults.shift_down_after),
            max_spike_headroom: self.max_spike_headroom.or(defaults.max_spike_headroom),
        }
    }

    fn validate(self) -> Result<AdaptPolicy, String> {
        let default = AdaptPolicy::default();
        let min_z = self.min_z.unwrap_or(default.detection.min_z);
        if !(min_z.is_finite() && min_z > 0.0) {
            return Err(format!(
                "events.min_z must be a positive number of noise standard deviations (e.g. 3), got {min_z}"
            ));
        }
        let min_relative = match self.min_change {
            None => default.detection.min_relative,
            Some(p) if p.is_finite() && p > 0.0 && p < 100.0 => p / 100.0,
            Some(p) => {
                return Err(format!(
                    "events.min_change is a percentage between 0 and 100 (e.g. 15), got {p}"
                ))
            }
        };
        let max_spike_headroom = self
            .max_spike_headroom
            .unwrap_or(default.max_spike_headroom);
        if !(max_spike_headroom.is_finite() && max_spike_headroom >= 1.0) {
            return Err(format!(
                "events.max_spike_headroom must be a factor of at least 1 (e.g. 3), got {max_spike_headroom}"
            ));
        }
        Ok(AdaptPolicy {
            detection: EventSettings {
                persistence: self.persistence.unwrap_or(default.detection.persistence),
                min_z,
                min_relative,
            },
            shift_down_after: self.shift_down_after.unwrap_or(default.shift_down_after),
            max_spike_headroom,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: String,
    #[serde(default = "default_namespace")]
    namespace: String,
    hpa: Option<String>,
    query: Option<String>,
    aggregate: Option<Aggregate>,
    file: Option<PathBuf>,
    target_per_replica: f64,
    min_replicas: Option<RawRange>,
    max_replicas: Option<RawRange>,
    current: Option<RawCurrent>,
    history: Option<Span>,
    step: Option<Span>,
    horizon: Option<Span>,
    level: Option<f64>,
    headroom: Option<f64>,
    events: Option<RawEvents>,
    mode: Option<Mode>,
    startup: Option<Span>,
    buffer: Option<Span>,
    max_mase: Option<f64>,
    schedule_level: Option<f64>,
}

fn default_namespace() -> String {
    "default".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    floor: Option<u32>,
    ceiling: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCurrent {
    min_replicas: u32,
    max_replicas: u32,
}

/// Defaults when the config says nothing.
pub const DEFAULT_HISTORY: &str = "28d";
pub const DEFAULT_HORIZON: &str = "7d";
pub const DEFAULT_LEVEL_PERCENT: f64 = 90.0;
pub const DEFAULT_HEADROOM: f64 = 1.2;
/// Grid step of a Prometheus-backed workload when the config gives none
/// (a file's step is read off its timestamps).
pub const DEFAULT_QUERY_STEP: &str = "5m";
/// Ceiling when a range gives none: far above any HPA a person would write,
/// low enough that a units mistake shows up as "needs operator".
pub const DEFAULT_CEILING: u32 = 1000;
/// The lowest min when the config sets no floor.
pub const DEFAULT_MIN_FLOOR: u32 = 2;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    pub prometheus: Option<Prometheus>,
    pub alertmanager: Option<Endpoint>,
    pub pushgateway: Option<Endpoint>,
    /// Model store folder (resolved against the config's folder).
    pub store: Option<PathBuf>,
    /// `apply`'s safety rules.
    pub apply_rules: crate::core::apply::ApplyRules,
    pub workloads: Vec<Workload>,
}

/// One of `count` shards of a fleet (`--shard index/count`, index from 0
/// as Kubernetes' `JOB_COMPLETION_INDEX`): the workloads whose
/// `namespace/name` hashes to `index`. The hash ([`shard_hash`]) is fixed
/// here, not the standard library's, so that a workload stays in its shard
/// across versions, machines and config edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Whether the workload `namespace/name` belongs to this shard.
    #[must_use]
    pub fn holds(&self, namespace: &str, name: &str) -> bool {
        shard_hash(namespace, name) % self.count == self.index
    }
}

/// 64-bit FNV-1a of `namespace/name`, then `SplitMix64`'s finaliser: FNV's
/// low bits follow only the bytes' low bits, so names that differ in a
/// digit would fall into a few shards of a small count without the mix.
#[must_use]
pub fn shard_hash(namespace: &str, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in namespace.bytes().chain(*b"/").chain(name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || {
            format!("`{text}`: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4 (INDEX as Kubernetes' JOB_COMPLETION_INDEX)")
        };
        let (index, count) = text.split_once('/').ok_or_else(wrong)?;
        let index: u64 = index.trim().parse().map_err(|_| wrong())?;
        let count: u64 = count.trim().parse().map_err(|_| wrong())?;
        if count == 0 || index >= count {
            return Err(wrong());
        }
        Ok(Shard { index, count })
    }
}

impl Config {
    /// Misuse that is not an error but deserves a word before the run:
    /// see [`query_warnings`], for every query workload.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        self.workloads
            .iter()
            .flat_map(|w| match (&w.source, w.step) {
                (LoadSource::Query { query, .. }, Some(step)) => query_warnings(query, step.secs())
                    .into_iter()
                    .map(|warning| format!("workload {}: {warning}", w.id()))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// Keeps only the workloads of `shard`.
    pub fn select_shard(&mut self, shard: Shard) {
        self.workloads
            .retain(|w| shard.holds(&w.namespace, &w.name));
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Io {
        path: path.into(),
        cause,
    })?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    parse(&text, path, base)
}

/// Parses and validates config `text`; `path` names it in errors and `base`
/// is the folder relative paths resolve against.
pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Config, ConfigError> {
    let options = yaml_options(text.len());
    let raw: RawConfig =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
    validate(raw, path, base).map_err(|problem| ConfigError::Invalid {
        path: path.into(),
        problem,
    })
}

/// The YAML parser's options for a text of `len` bytes. Its budget stops
/// documents that expand (aliases, merge keys) beyond their size; the
/// node, event and scalar counts are raised to what the text itself can
/// hold (a node takes at least two bytes), so that a fleet's size is
/// limited by memory, not by a default that refused 8,700 workloads.
/// Aliases keep the parser's own limits.
fn yaml_options(len: usize) -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: len.max(250_000),
            max_events: (2 * len).max(1_000_000),
            max_total_scalar_bytes: len.max(64 << 20),
        },
    }
}

/// What a `PromQL` query asked for every `step` seconds looks wrong for:
/// a counter read without a rate (it only grows: its value is no load, and
/// the bounds would grow with its age), and a range window shorter than
/// the step (`rate(x[5m])` every 15 minutes sees a third of the time, and
/// peaks between the samples are lost). Heuristics on the text, so
/// warnings, never errors.
#[must_use]
pub fn query_warnings(query: &str, step: i64) -> Vec<String> {
    let mut warnings = Vec::new();
    let counter = query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .find(|word| {
            ["_total", "_count", "_sum", "_bucket"]
                .iter()
                .any(|suffix| word.len() > suffix.len() && word.ends_with(suffix))
        });
    let rated = [
        "rate(",
        "irate(",
        "increase(",
        "deriv(",
        "delta(",
        "idelta(",
    ]
    .iter()
    .any(|f| query.contains(f));
    if let (Some(counter), false) = (counter, rated) {
        warnings.push(format!(
            "query `{}` reads `{counter}`, which looks like a counter, without rate(): a counter only grows, so its value is no load (sum(rate({counter}[5m])) is)",
            crate::core::time::shown(query)
        ));
    }
    // Range selectors `[5m]` and subqueries `[1h:1m]` (their range).
    let windows: Vec<i64> = query
        .split('[')
        .skip(1)
        .filter_map(|rest| rest.split([']', ':']).next())
        .filter_map(|window| window.trim().parse::<crate::core::time::Span>().ok())
        .map(crate::core::time::Span::secs)
        .collect();
    if let Some(&shortest) = windows.iter().min() {
        if step > shortest {
            warnings.push(format!(
                "the step {} is longer than the query's range window [{}]: each point sees only that much of its step, and peaks in between are lost (make the window at least the step)",
                crate::core::time::Span::from_secs(step).map_or_else(|| format!("{step}s"), |s| s.to_string()),
                crate::core::time::Span::from_secs(shortest).map_or_else(|| format!("{shortest}s"), |s| s.to_string())
            ));
        }
    }
    warnings
}

/// The two forms of Kubernetes object names (RFC 1123).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A DNS label (a namespace): at most 63 of `a-z`, `0-9` and `-`,
    /// beginning and ending with a letter or digit.
    Label,
    /// A DNS subdomain (a Deployment, an HPA): at most 253 characters,
    /// labels joined by `.`.
    Subdomain,
}

/// Whether `value` is a valid Kubernetes name of `kind`; the error says
/// which rule it breaks, with the value quoted (escaped, cut).
pub fn check_kubernetes_name(value: &str, kind: NameKind) -> Result<(), String> {
    let (longest, what) = match kind {
        NameKind::Label => (63, "a DNS label"),
        NameKind::Subdomain => (253, "a DNS subdomain"),
    };
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    };
    let ok = value.len() <= longest
        && match kind {
            NameKind::Label => label_ok(value),
            NameKind::Subdomain => value.split('.').all(|l| l.len() <= 63 && label_ok(l)),
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{}\" is not a Kubernetes name: expected {what} (at most {longest} characters of a-z, 0-9, '-'{}, beginning and ending with a letter or digit)",
            crate::core::time::shown(value),
            if kind == NameKind::Subdomain { " and '.'" } else { "" }
        ))
    }
}

fn span_or(value: Option<Span>, fallback: Option<Span>, default: &str) -> Span {
    value
        .or(fallback)
        .unwrap_or_else(|| default.parse().expect("default spans are valid"))
}

/// One workload of the config, validated (defaults applied).
fn validate_workload(
    index: usize,
    w: RawWorkload,
    d: &RawDefaults,
    default_events: RawEvents,
    has_prometheus: bool,
    base: &Path,
    seen: &mut HashSet<String>,
) -> Result<Workload, String> {
    if w.name.trim().is_empty() {
        return Err(format!(
            "workload #{} (counting from 1) has an empty `name`",
            index + 1
        ));
    }
    // Names become paths (the model store, exports) and reach terminals,
    // CSV and HTML: only Kubernetes names, which can do no harm there
    // and map to distinct files.
    let named = |problem: String| format!("workload #{} (counting from 1): {problem}", index + 1);
    check_kubernetes_name(&w.namespace, NameKind::Label)
        .map_err(|e| named(format!("namespace {e}")))?;
    check_kubernetes_name(&w.name, NameKind::Subdomain).map_err(|e| named(format!("name {e}")))?;
    if let Some(hpa) = &w.hpa {
        check_kubernetes_name(hpa, NameKind::Subdomain).map_err(|e| named(format!("hpa {e}")))?;
    }
    let id = format!("{}/{}", w.namespace, w.name);
    let err = |problem: String| format!("workload {id}: {problem}");
    if !seen.insert(id.clone()) {
        return Err(err(
            "defined twice: workload names must be unique per namespace".into(),
        ));
    }
    let source = match (w.query, w.file) {
        (Some(_), Some(_)) => return Err(err("has both `query` and `file`; give one".into())),
        (None, None) => return Err(err("needs a `query` (Prometheus) or a `file`".into())),
        (Some(query), None) => {
            if !has_prometheus {
                return Err(err(
                    "has a `query` but the config has no `prometheus:` section".into(),
                ));
            }
            if query.trim().is_empty() {
                return Err(err("`query` is empty".into()));
            }
            LoadSource::Query {
                query,
                aggregate: w.aggregate,
            }
        }
        (None, Some(_)) if w.aggregate.is_some() => {
            return Err(err(
                "`aggregate` applies to a Prometheus `query`, not to a `file`".into(),
            ))
        }
        (None, Some(file)) => LoadSource::File(base.join(file)),
    };
    // A file's step is read off its timestamps; a query needs one to ask for.
    let step = match (&source, w.step.or(d.step)) {
        (LoadSource::Query { .. }, None) => {
            Some(DEFAULT_QUERY_STEP.parse().expect("valid default"))
        }
        (_, step) => step,
    };
    if !(w.target_per_replica.is_finite() && w.target_per_replica > 0.0) {
        return Err(err(format!(
            "target_per_replica must be a positive number (the load one replica carries at the HPA target), got {}",
            w.target_per_replica
        )));
    }
    // One pod turns a node drain or a zone loss into an outage: min is 2
    // unless the config says otherwise (or a ceiling allows only 1).
    let ceiling_of = |r: Option<&RawRange>| r.and_then(|r| r.ceiling).unwrap_or(DEFAULT_CEILING);
    let default_min_floor = DEFAULT_MIN_FLOOR
        .min(ceiling_of(w.min_replicas.as_ref()))
        .min(ceiling_of(w.max_replicas.as_ref()))
        .max(1);
    let min_replicas =
        range(w.min_replicas.as_ref(), "min_replicas", default_min_floor).map_err(&err)?;
    let max_replicas = range(w.max_replicas.as_ref(), "max_replicas", 1).map_err(&err)?;
    if min_replicas.floor() > max_replicas.ceiling() {
        return Err(err(format!(
            "min_replicas.floor {} is above max_replicas.ceiling {}: no bound can satisfy both",
            min_replicas.floor(),
            max_replicas.ceiling()
        )));
    }
    let level = w.level.or(d.level).unwrap_or(DEFAULT_LEVEL_PERCENT);
    let level = check_level(level).map_err(&err)?;
    let headroom =
        check_headroom(w.headroom.or(d.headroom).unwrap_or(DEFAULT_HEADROOM)).map_err(&err)?;
    let events = w
        .events
        .unwrap_or_default()
        .or(default_events)
        .validate()
        .map_err(&err)?;
    if let Some(current) = &w.current {
        if current.min_replicas > current.max_replicas || current.min_replicas == 0 {
            return Err(err(format!(
                "current: min_replicas {} and max_replicas {} must satisfy 1 <= min <= max",
                current.min_replicas, current.max_replicas
            )));
        }
    }
    Ok(Workload {
        hpa: w.hpa.unwrap_or_else(|| w.name.clone()),
        name: w.name,
        namespace: w.namespace,
        source,
        history: span_or(w.history, d.history, DEFAULT_HISTORY),
        step,
        horizon: span_or(w.horizon, d.horizon, DEFAULT_HORIZON),
        max_gap: d.max_gap.unwrap_or_else(|| "1h".parse().expect("valid")),
        policy: BoundsPolicy {
            target_per_replica: w.target_per_replica,
            min_replicas,
            max_replicas,
            headroom,
            level,
        },
        events,
        current: w.current.map(|c| CurrentBounds {
            min_replicas: c.min_replicas,
            max_replicas: c.max_replicas,
        }),
        schedule_level: w
            .schedule_level
            .or(d.schedule_level)
            .map(|p| check_level(p).map_err(|e| err(format!("schedule_level: {e}"))))
            .transpose()?,
        mode: w.mode.or(d.mode).unwrap_or_default(),
        startup: span_or(w.startup, d.startup, "90s"),
        buffer: span_or(w.buffer, d.buffer, "5m"),
        max_mase: {
            let max_mase = w.max_mase.or(d.max_mase).unwrap_or(2.0);
            if !(max_mase.is_finite() && max_mase > 0.0) {
                return Err(err(format!(
                    "max_mase must be a positive number (e.g. 2), got {max_mase}"
                )));
            }
            max_mase
        },
    })
}

fn validate(raw: RawConfig, path: &Path, base: &Path) -> Result<Config, String> {
    let d = &raw.defaults;
    if let Some(level) = d.level {
        check_level(level).map_err(|e| format!("defaults: {e}"))?;
    }
    if let Some(headroom) = d.headroom {
        check_headroom(headroom).map_err(|e| format!("defaults: {e}"))?;
    }
    let default_events = d.events.unwrap_or_default();
    default_events
        .validate()
        .map_err(|e| format!("defaults: {e}"))?;
    if raw.workloads.is_empty() {
        return Err("no workloads: add at least one under `workloads:`".into());
    }
    // Every workload's problems at once, so that one `config check` (or
    // one refused run) lists them all.
    let has_prometheus = raw.prometheus.is_some();
    let mut seen = HashSet::new();
    let mut workloads = Vec::with_capacity(raw.workloads.len());
    let mut problems = Vec::new();
    for (index, w) in raw.workloads.into_iter().enumerate() {
        match validate_workload(index, w, d, default_events, has_prometheus, base, &mut seen) {
            Ok(workload) => workloads.push(workload),
            Err(problem) => problems.push(problem),
        }
    }
    match problems.len() {
        0 => {}
        1 => return Err(problems.remove(0)),
        n => return Err(format!("{n} problems:\n  - {}", problems.join("\n  - "))),
    }
    let prometheus = raw
        .prometheus
        .map(|p| {
            if p.url.trim().is_empty() {
                return Err("prometheus.url is empty".to_string());
            }
            if p.max_concurrency == Some(0) {
                return Err("prometheus.max_concurrency must be at least 1".to_string());
            }
            if p.max_points_per_request.is_some_and(|n| n < 2) {
                return Err(format!(
                    "prometheus.max_points_per_request must be at least 2, got {}: the server's points-per-series limit (Prometheus 11001; VictoriaMetrics' -search.maxPointsPerTimeseries)",
                    p.max_points_per_request.unwrap_or(0)
                ));
            }
            check_url(&p.url, "prometheus")?;
            // Headers that carry credentials belong in files, not in a ConfigMap.
            if let Some(name) = p.headers.keys().find(|k| holds_credentials(k)) {
                return Err(format!(
                    "prometheus.headers.{name}: credentials do not belong in the YAML; use basic_auth.password_file or bearer_token_file (or their _env forms)"
                ));
            }
            let (basic_auth, bearer_token) = credentials(
                p.basic_auth,
                p.bearer_token_file,
                p.bearer_token_env,
                base,
                "prometheus",
            )?;
            Ok(Prometheus {
                url: p.url,
                timeout: p.timeout.unwrap_or_else(|| "30s".parse().expect("valid")),
                max_concurrency: p.max_concurrency.unwrap_or(4),
                max_retries: p.max_retries.unwrap_or(3),
                max_points_per_request: p
                    .max_points_per_request
                    .unwrap_or(crate::edge::prometheus::MAX_POINTS_PER_REQUEST),
                lookback: p
                    .lookback
                    .unwrap_or_else(|| Lookback::Span(DEFAULT_LOOKBACK.parse().expect("valid"))),
                basic_auth,
                bearer_token,
                ca_file: p.ca_file.map(|f| base.join(f)),
                insecure_skip_verify: p.insecure_skip_verify,
                headers: p.headers,
            })
        })
        .transpose()?;
    Ok(Config {
        path: path.into(),
        prometheus,
        alertmanager: raw
            .alertmanager
            .map(|e| endpoint(e, base, "alertmanager"))
            .transpose()?,
        pushgateway: raw
            .pushgateway
            .map(|e| endpoint(e, base, "pushgateway"))
            .transpose()?,
        store: raw.store.map(|s| base.join(s)),
        apply_rules: apply_rules(raw.apply)?,
        workloads,
    })
}

/// Header names that carry credentials (Authorization, Cookie, X-Api-Key, ...).
fn holds_credentials(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["auth", "cookie", "token", "key", "secret", "password"]
        .iter()
        .any(|word| name.contains(word))
}

/// `_file` or `_env`, exactly one.
fn secret_source(
    file: Option<PathBuf>,
    env: Option<String>,
    base: &Path,
    setting: &str,
) -> Result<SecretSource, String> {
    match (file, env) {
        (Some(file), None) => Ok(SecretSource::File(base.join(file))),
        (None, Some(name)) if !name.trim().is_empty() => Ok(SecretSource::Env(name)),
        (None, Some(_)) => Err(format!("{setting}_env: the variable name is empty")),
        (Some(_), Some(_)) => Err(format!("{setting}: give `_file` or `_env`, not both")),
        (None, None) => Err(format!(
            "{setting}: give `{}_file` (a path) or `{}_env` (a variable name)",
            setting.rsplit('.').next().unwrap_or(setting),
            setting.rsplit('.').next().unwrap_or(setting)
        )),
    }
}

fn apply_rules(raw: Option<RawApply>) -> Result<crate::core::apply::ApplyRules, String> {
    let defaults = crate::core::apply::ApplyRules::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let rules = crate::core::apply::ApplyRules {
        max_step_up: raw.max_step_up.unwrap_or(defaults.max_step_up),
        max_step_down: raw.max_step_down.unwrap_or(defaults.max_step_down),
        hysteresis: raw.hysteresis.unwrap_or(defaults.hysteresis),
    };
    if !(rules.max_step_up.is_finite() && rules.max_step_up >= 1.0) {
        return Err(format!(
            "apply.max_step_up must be a factor of at least 1 (e.g. 1.5), got {}",
            rules.max_step_up
        ));
    }
    if !(rules.max_step_down > 0.0 && rules.max_step_down <= 1.0) {
        return Err(format!(
            "apply.max_step_down must be a factor in (0, 1] (e.g. 0.8), got {}",
            rules.max_step_down
        ));
    }
    if !(rules.hysteresis >= 0.0 && rules.hysteresis < 1.0) {
        return Err(format!(
            "apply.hysteresis must be a share in [0, 1) (e.g. 0.1), got {}",
            rules.hysteresis
        ));
    }
    Ok(rules)
}

/// Validates a notified server's section `setting`.
fn endpoint(raw: RawEndpoint, base: &Path, setting: &str) -> Result<Endpoint, String> {
    check_url(&raw.url, setting)?;
    let (basic_auth, bearer_token) = credentials(
        raw.basic_auth,
        raw.bearer_token_file,
        raw.bearer_token_env,
        base,
        setting,
    )?;
    Ok(Endpoint {
        url: raw.url.trim_end_matches('/').to_string(),
        timeout: raw.timeout.unwrap_or_else(|| "10s".parse().expect("valid")),
        basic_auth,
        bearer_token,
        ca_file: raw.ca_file.map(|f| base.join(f)),
        insecure_skip_verify: raw.insecure_skip_verify,
    })
}

/// Where a server section's credentials come from: basic auth or a bearer
/// token (each from a file or an environment variable), not both.
type Credentials = (Option<(String, SecretSource)>, Option<SecretSource>);

fn credentials(
    basic_auth: Option<RawBasicAuth>,
    bearer_token_file: Option<PathBuf>,
    bearer_token_env: Option<String>,
    base: &Path,
    setting: &str,
) -> Result<Credentials, String> {
    let basic_auth = basic_auth
        .map(|a| {
            secret_source(
                a.password_file,
                a.password_env,
                base,
                &format!("{setting}.basic_auth.password"),
            )
            .map(|source| (a.username, source))
        })
        .transpose()?;
    let bearer_token = match (bearer_token_file, bearer_token_env) {
        (None, None) => None,
        (file, env) => Some(secret_source(
            file,
            env,
            base,
            &format!("{setting}.bearer_token"),
        )?),
    };
    if basic_auth.is_some() && bearer_token.is_some() {
        return Err(format!(
            "{setting}: give basic_auth or a bearer token, not both"
        ));
    }
    Ok((basic_auth, bearer_token))
}

/// An `http(s)://` URL with no credentials in it (they would end up in
/// logs and error messages).
fn check_url(url: &str, setting: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        // The URL itself is never echoed: it may hold a password.
        .ok_or_else(|| format!("{setting}.url must start with http:// or https:// (lowercase)"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "{setting}.url must not hold credentials (user:password@): use basic_auth.password_file"
        ));
    }
    if authority.is_empty() {
        return Err(format!("{setting}.url has no host"));
    }
    Ok(())
}

fn check_level(percent: f64) -> Result<Level, String> {
    Level::from_percent(percent).ok_or_else(|| level_error(percent))
}

fn check_headroom(headroom: f64) -> Result<f64, String> {
    if headroom.is_finite() && headroom >= 1.0 {
        Ok(headroom)
    } else {
        Err(format!(
            "headroom must be a factor of at least 1 (e.g. 1.2), got {headroom}"
        ))
    }
}

fn range(raw: Option<&RawRange>, key: &str, default_floor: u32) -> Result<ReplicaRange, String> {
    let floor = raw.and_then(|r| r.floor).unwrap_or(default_floor);
    let ceiling = raw.and_then(|r| r.ceiling).unwrap_or(DEFAULT_CEILING);
    ReplicaRange::new(floor, ceiling).ok_or_else(|| {
        format!("{key}: floor {floor} and ceiling {ceiling} must satisfy 1 <= floor <= ceiling")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn shards_split_a_fleet_exactly_once_and_the_hash_is_fixed() {
        // Fixed for good: a workload must not move between releases.
        assert_eq!(super::shard_hash("shop", "cart"), 0x35f0_667b_92a5_642c); // checked in Python
        let shards: Vec<super::Shard> = (0..4).map(|i| format!("{i}/4").parse().unwrap()).collect();
        let mut sizes = [0; 4];
        for i in 0..1000 {
            // Names alike but for digits, as fleets name them.
            let (namespace, name) = (format!("team-{:02}", i % 50), format!("svc-{i:05}"));
            let holders: Vec<usize> = (0..4)
                .filter(|&k| shards[k].holds(&namespace, &name))
                .collect();
            assert_eq!(holders.len(), 1, "{name}");
            sizes[holders[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| (200..300).contains(&n)), "{sizes:?}");
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<super::Shard>().is_err(), "{bad}");
        }
    }

    use super::*;
    use std::fmt::Write as _;

    fn parse_text(text: &str) -> Result<Config, ConfigError> {
        parse(
            text,
            Path::new("homeostat.yaml"),
            Path::new("/etc/homeostat"),
        )
    }

    const MINIMAL: &str =
        "workloads:\n  - name: cart\n    file: cart.csv\n    target_per_replica: 50\n";

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let config = parse_text(MINIMAL).unwrap();
        let w = &config.workloads[0];
        assert_eq!(w.id(), "default/cart");
        assert_eq!(w.hpa, "cart");
        assert_eq!(w.source, LoadSource::File("/etc/homeostat/cart.csv".into()));
        assert_eq!(w.horizon.to_string(), "7d");
        assert_eq!(w.history.to_string(), "28d");
        assert_eq!(w.policy.level.fraction(), 0.9);
        assert_eq!(w.policy.headroom, 1.2);
        assert_eq!(w.policy.min_replicas.floor(), 2);
    }

    #[test]
    fn the_design_example_parses() {
        let text = include_str!("../../deploy/example-config.yaml");
        let config = parse_text(text).unwrap();
        assert_eq!(config.workloads[0].id(), "shop/cart");
        assert_eq!(config.prometheus.unwrap().max_concurrency, 4);
    }

    #[test]
    fn names_are_kubernetes_names_so_that_no_path_escapes_and_no_two_share_a_file() {
        for good in ["cart", "a", "svc-00001", "team-07", &"x".repeat(63)] {
            assert_eq!(
                check_kubernetes_name(good, NameKind::Label),
                Ok(()),
                "{good}"
            );
        }
        for good in ["cart.v2", "a.b-c.d", &format!("{}.{}", "x".repeat(63), "y")] {
            assert_eq!(
                check_kubernetes_name(good, NameKind::Subdomain),
                Ok(()),
                "{good}"
            );
        }
        for bad in [
            "",
            "../escaped",
            "/etc",
            "a/b",
            "a_b",
            "Cart",
            "café",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "tab\there",
            "\u{1b}[31mred",
            "\u{202e}txt.exe",
        ] {
            assert!(
                check_kubernetes_name(bad, NameKind::Subdomain).is_err(),
                "{bad:?}"
            );
            assert!(
                check_kubernetes_name(bad, NameKind::Label).is_err(),
                "{bad:?}"
            );
        }
        assert!(check_kubernetes_name("a.b", NameKind::Label).is_err());
        assert!(check_kubernetes_name(&"x".repeat(64), NameKind::Label).is_err());
        assert!(check_kubernetes_name(&"x".repeat(64), NameKind::Subdomain).is_err());
        // Control characters are escaped and a long value cut, in the config
        // error as everywhere a message quotes a value.
        let escape = MINIMAL.replace("name: cart", "name: \"a\\u001b[2Jb\"");
        let message = parse_text(&escape).unwrap_err().to_string();
        assert!(!message.contains('\u{1b}'), "{message:?}");
        assert!(
            message.contains("workload #1") && message.contains("\\u{1b}"),
            "{message}"
        );
        let long = MINIMAL.replace("name: cart", &format!("name: {}", "X".repeat(100_000)));
        let message = parse_text(&long).unwrap_err().to_string();
        assert!(message.len() < 1000, "{} bytes", message.len());
        assert!(message.contains("… (100000 characters)"), "{message}");
        for (field, text) in [
            ("namespace", format!("{MINIMAL}    namespace: ../escaped\n")),
            ("namespace", format!("{MINIMAL}    namespace: /tmp\n")),
            ("hpa", format!("{MINIMAL}    hpa: a/b\n")),
        ] {
            let message = parse_text(&text).unwrap_err().to_string();
            assert!(message.contains(&format!("{field} ")), "{message}");
            assert!(message.contains("is not a Kubernetes name"), "{message}");
        }
    }

    #[test]
    fn a_fleet_parses_whatever_its_size_and_an_alias_bomb_still_does_not() {
        // 10,000 workloads with every key: about 300,000 YAML nodes, over the
        // parser's default budget of 250,000 (it refused 8,700).
        let mut text = String::from("workloads:\n");
        for i in 0..10_000 {
            let _ = write!(
                text,
                "  - name: cart-{i}\n    namespace: shop-{}\n    hpa: cart-{i}\n    file: cart.csv\n    target_per_replica: 50\n    min_replicas: {{floor: 2, ceiling: 20}}\n    max_replicas: {{floor: 4, ceiling: 60}}\n    current: {{min_replicas: 3, max_replicas: 10}}\n    headroom: 1.3\n    level: 90\n    horizon: 7d\n    history: 28d\n    events: {{persistence: 6h, min_z: 3}}\n",
                i % 100
            );
        }
        assert_eq!(parse_text(&text).unwrap().workloads.len(), 10_000);
        // A billion laughs: nine levels of ten aliases each. The budget for
        // aliases is the parser's own.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let p = level - 1;
            let _ = writeln!(
                bomb,
                "a{level}: &a{level} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
            );
        }
        let error = serde_saphyr::from_str_with_options::<serde_json::Value>(
            &bomb,
            yaml_options(bomb.len()),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("budget breached"), "{error}");
    }

    #[test]
    fn a_counter_without_rate_and_a_step_past_the_range_window_are_warned_of() {
        let warned = |query: &str, step: i64| query_warnings(query, step);
        assert!(warned("sum(rate(http_requests_total[5m]))", 300).is_empty());
        assert!(warned("sum(increase(jobs_total[15m]))", 900).is_empty());
        assert!(warned("sum(container_memory_working_set_bytes)", 3600).is_empty());
        let counter = warned("sum(http_requests_total{app=\"cart\"})", 300);
        assert_eq!(counter.len(), 1, "{counter:?}");
        assert!(
            counter[0].contains("`http_requests_total`") && counter[0].contains("without rate()")
        );
        let coarse = warned("sum(rate(http_requests_total[5m]))", 900);
        assert_eq!(coarse.len(), 1, "{coarse:?}");
        assert!(coarse[0].contains("the step 15m is longer than the query's range window [5m]"));
        // A subquery's range counts, not its resolution.
        assert!(warned("max_over_time(rate(x_total[1m])[1h:1m])", 300).len() == 1);
        assert!(warned("max_over_time(rate(x_total[10m])[1h:1m])", 300).is_empty());
        let text = "prometheus: {url: http://p:9090}\nworkloads:\n  - {name: cart, query: 'sum(http_requests_total)', step: 15m, target_per_replica: 5}\n";
        let config = parse_text(text).unwrap();
        assert_eq!(config.warnings().len(), 1);
        assert!(config.warnings()[0].starts_with("workload default/cart: query"));
    }

    #[test]
    fn bad_configs_name_the_workload_and_the_value() {
        let cases = [
            (
                MINIMAL.replace(
                    "target_per_replica: 50",
                    "target_per_replica: 50\n    headrom: 2",
                ),
                "headrom",
            ),
            (
                MINIMAL.replace("50", "0"),
                "target_per_replica must be a positive number",
            ),
            (MINIMAL.replace("50", "-3"), "got -3"),
            (MINIMAL.replace("50", "\"many\""), "many"),
            (
                format!("{MINIMAL}{}", &MINIMAL[11..]),
                "default/cart: defined twice",
            ),
            (
                format!(
                    "{MINIMAL}    min_replicas: {{floor: 9}}\n    max_replicas: {{ceiling: 5}}\n"
                ),
                "min_replicas.floor 9 is above max_replicas.ceiling 5",
            ),
            (
                format!("{MINIMAL}    min_replicas: {{floor: 4, ceiling: 2}}\n"),
                "floor 4 and ceiling 2",
            ),
            (
                MINIMAL.replace("file: cart.csv", "query: up"),
                "no `prometheus:` section",
            ),
            (format!("{MINIMAL}    level: 150\n"), "got 150"),
            ("workloads: []\n".to_string(), "no workloads"),
        ];
        for (text, expected) in cases {
            let err = parse_text(&text).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
            assert!(err.starts_with("homeostat.yaml"), "{err}");
        }
    }

    const PROMETHEUS: &str = "prometheus: {url: http://prometheus:9090}\nworkloads:\n  - name: cart\n    query: sum(rate(requests[5m]))\n    target_per_replica: 50\n";

    #[test]
    fn a_query_workload_gets_the_issue_defaults_and_its_aggregate() {
        let config = parse_text(PROMETHEUS).unwrap();
        let w = &config.workloads[0];
        assert_eq!(w.step.unwrap().to_string(), "5m");
        assert_eq!(w.history.to_string(), "28d");
        let p = config.prometheus.unwrap();
        assert_eq!((p.max_concurrency, p.max_retries), (4, 3));
        assert_eq!(p.timeout.to_string(), "30s");
        assert_eq!(p.lookback.to_string(), "5m");
        assert_eq!(p.lookback.secs(60), 300);
        let with = |lookback: &str| {
            parse_text(&PROMETHEUS.replace(
                "prometheus:9090}",
                &format!("prometheus:9090, lookback: {lookback}}}"),
            ))
        };
        let victoria = with("step").unwrap().prometheus.unwrap().lookback;
        assert_eq!(
            (victoria, victoria.secs(60), victoria.secs(300)),
            (Lookback::Step, 60, 300)
        );
        assert_eq!(
            with("2m").unwrap().prometheus.unwrap().lookback.secs(60),
            120
        );
        let wrong = with("soon").unwrap_err().to_string();
        assert!(wrong.contains("or `step`"), "{wrong}");
        assert_eq!(p.max_points_per_request, 11_001);
        let points = |n: &str| {
            parse_text(&PROMETHEUS.replace(
                "prometheus:9090}",
                &format!("prometheus:9090, max_points_per_request: {n}}}"),
            ))
        };
        assert_eq!(
            points("3000")
                .unwrap()
                .prometheus
                .unwrap()
                .max_points_per_request,
            3000
        );
        let one = points("1").unwrap_err().to_string();
        assert!(
            one.contains("max_points_per_request must be at least 2, got 1"),
            "{one}"
        );
        let summed = parse_text(&format!("{PROMETHEUS}    aggregate: sum\n")).unwrap();
        assert_eq!(
            summed.workloads[0].source,
            LoadSource::Query {
                query: "sum(rate(requests[5m]))".into(),
                aggregate: Some(Aggregate::Sum)
            }
        );
    }

    #[test]
    fn secrets_come_from_files_or_the_environment_never_the_yaml() {
        let with = |prometheus: &str| {
            parse_text(&PROMETHEUS.replace(
                "prometheus: {url: http://prometheus:9090}",
                &format!("prometheus: {{url: http://prometheus:9090, {prometheus}}}"),
            ))
        };
        let p = with("basic_auth: {username: h, password_file: secret/pw}")
            .unwrap()
            .prometheus
            .unwrap();
        assert_eq!(
            p.basic_auth,
            Some((
                "h".into(),
                SecretSource::File("/etc/homeostat/secret/pw".into())
            ))
        );
        let p = with("bearer_token_env: TOKEN").unwrap().prometheus.unwrap();
        assert_eq!(p.bearer_token, Some(SecretSource::Env("TOKEN".into())));
        let refused = [
            ("basic_auth: {username: h, password: hunter2}", "password"),
            (
                "basic_auth: {username: h}",
                "give `password_file` (a path) or `password_env`",
            ),
            (
                "basic_auth: {username: h, password_file: a, password_env: B}",
                "not both",
            ),
            (
                "bearer_token_file: t, basic_auth: {username: h, password_env: B}",
                "basic_auth or a bearer token, not both",
            ),
            (
                "headers: {Authorization: Bearer abc}",
                "credentials do not belong in the YAML",
            ),
            (
                "headers: {X-Api-Key: abc}",
                "headers.X-Api-Key: credentials do not belong",
            ),
        ];
        for (setting, expected) in refused {
            let err = with(setting).unwrap_err().to_string();
            assert!(err.contains(expected), "{setting}: {err}");
            assert!(!err.contains("hunter2") || expected == "password", "{err}");
        }
        for (url, expected) in [
            (
                "http://homeostat:hunter2@prometheus:9090",
                "must not hold credentials",
            ),
            ("prometheus:9090", "must start with http:// or https://"),
            (
                "HTTPS://homeostat:hunter2@prometheus",
                "must start with http://",
            ),
            ("https:///api", "has no host"),
        ] {
            let err = parse_text(&PROMETHEUS.replace("http://prometheus:9090", url))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn aggregate_belongs_to_queries_only() {
        let err = parse_text(&format!("{MINIMAL}    aggregate: sum\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`aggregate` applies to a Prometheus `query`"),
            "{err}"
        );
        let err = parse_text(&format!("{PROMETHEUS}    aggregate: median\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("median"), "{err}");
    }
}
