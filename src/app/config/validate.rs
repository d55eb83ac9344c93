//! From the YAML as written to a [`Config`](super::Config): every value
//! checked once, with the key, the line or the workload in the message.

use super::raw::{
    RawApply, RawBasicAuth, RawConfig, RawDefaults, RawEndpoint, RawEvents, RawRange, RawWorkload,
};
use super::{
    check_kubernetes_name, Config, NameKind, Rejected, DEFAULT_CEILING, DEFAULT_HEADROOM,
    DEFAULT_HISTORY, DEFAULT_HORIZON, DEFAULT_LEVEL_PERCENT, DEFAULT_MIN_FLOOR, DEFAULT_QUERY_STEP,
};
use crate::core::bounds::{BoundsPolicy, ReplicaRange};
use crate::core::known::KnownEvent;
use crate::core::model::{level_error, Level};
use crate::core::time::Span;
use crate::core::workload::{CurrentBounds, LoadSource, Workload};
use crate::edge::http::{Endpoint, SecretSource};
use crate::edge::prometheus::{Lookback, Prometheus, DEFAULT_LOOKBACK};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub(super) fn span_or(value: Option<Span>, fallback: Option<Span>, default: &str) -> Span {
    value
        .or(fallback)
        .unwrap_or_else(|| default.parse().expect("default spans are valid"))
}

/// One workload of the config, validated (defaults applied). Every
/// problem of the workload is said at once, `; `-separated (one at a time
/// made a person fix, rerun and fix again); a bad name or a name defined
/// twice alone, since the others would be said of a workload that is not
/// the one meant.
pub(super) fn validate_workload(
    index: usize,
    w: RawWorkload,
    d: &RawDefaults,
    (default_events, default_calendar): (&RawEvents, &[KnownEvent]),
    has_prometheus: bool,
    base: &Path,
    seen: &mut HashSet<String>,
) -> Result<Workload, String> {
    let id = workload_id(index, &w, seen)?;
    let mut problems = Vec::new();
    let source = noted(
        &mut problems,
        load_source(
            w.query.as_deref(),
            w.file.as_deref(),
            w.aggregate,
            has_prometheus,
            base,
        ),
    );
    // A file's step is read off its timestamps; a query needs one to ask for.
    let step = match (&source, w.step.or(d.step)) {
        (Some(LoadSource::Query { .. }), None) => {
            Some(DEFAULT_QUERY_STEP.parse().expect("valid default"))
        }
        (_, step) => step,
    };
    let history = span_or(w.history, d.history, DEFAULT_HISTORY);
    if history.secs() < crate::core::series::DEFAULT_MIN_HISTORY {
        problems.push(format!(
            "history: {history} is shorter than the {} of data a workload's own model needs: it would never have a model of its own (28d, the default, sees four weeks)",
            Span::from_secs(crate::core::series::DEFAULT_MIN_HISTORY).expect("positive constant")
        ));
    }
    if !(w.target_per_replica.is_finite() && w.target_per_replica > 0.0) {
        problems.push(format!(
            "target_per_replica must be a positive number (the load one replica carries at the HPA target), got {}",
            w.target_per_replica
        ));
    }
    let ranges = noted(&mut problems, replica_ranges(&w));
    let level = noted(
        &mut problems,
        check_level(w.level.or(d.level).unwrap_or(DEFAULT_LEVEL_PERCENT)),
    );
    let headroom = noted(
        &mut problems,
        check_headroom(w.headroom.or(d.headroom).unwrap_or(DEFAULT_HEADROOM)),
    );
    let own_events = w.events.unwrap_or_default();
    let mut calendar = default_calendar.to_vec();
    calendar.extend(noted(&mut problems, known_events(&own_events, base)).unwrap_or_default());
    let events = noted(&mut problems, own_events.or(default_events).validate());
    if let Some(current) = &w.current {
        if current.min_replicas > current.max_replicas || current.min_replicas == 0 {
            problems.push(format!(
                "current: min_replicas {} and max_replicas {} must satisfy 1 <= min <= max",
                current.min_replicas, current.max_replicas
            ));
        }
    }
    let schedule_level = w.schedule_level.or(d.schedule_level).and_then(|p| {
        noted(
            &mut problems,
            check_level(p).map_err(|e| format!("schedule_level: {e}")),
        )
    });
    let max_mase = w.max_mase.or(d.max_mase).unwrap_or(2.0);
    if !(max_mase.is_finite() && max_mase > 0.0) {
        problems.push(format!(
            "max_mase must be a positive number (e.g. 2), got {max_mase}"
        ));
    }
    let like = w.like.and_then(|like| {
        let mut parts = like.split('/');
        let valid = matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(ns), Some(name), None) if !ns.is_empty() && !name.is_empty()
        );
        if !valid {
            problems.push(format!(
                "like: expected `namespace/name` of the workload whose shape this one starts from, got {like:?}"
            ));
        }
        valid.then_some(like)
    });
    let (
        Some(source),
        Some((min_replicas, max_replicas)),
        Some(level),
        Some(headroom),
        Some(events),
        true,
    ) = (source, ranges, level, headroom, events, problems.is_empty())
    else {
        return Err(format!("workload {id}: {}", problems.join("; ")));
    };
    Ok(Workload {
        hpa: w.hpa.unwrap_or_else(|| w.name.clone()),
        name: w.name,
        namespace: w.namespace,
        source,
        history,
        step,
        horizon: span_or(w.horizon, d.horizon, DEFAULT_HORIZON),
        max_gap: d.max_gap.unwrap_or_else(|| "1h".parse().expect("valid")),
        policy: BoundsPolicy {
            target_per_replica: w.target_per_replica,
            min_replicas,
            max_replicas,
            headroom,
            level,
            // Set from `apply:` once the whole config is read.
            max_step_up: crate::core::bounds::MAX_STEP,
        },
        events,
        step_from: None,
        paging: false,
        current: w.current.map(|c| CurrentBounds {
            min_replicas: c.min_replicas,
            max_replicas: c.max_replicas,
        }),
        schedule_level,
        mode: w.mode.or(d.mode).unwrap_or_default(),
        learning: w.learning.or(d.learning).unwrap_or_default(),
        startup: span_or(w.startup, d.startup, "90s"),
        buffer: span_or(w.buffer, d.buffer, "5m"),
        // Set from `apply:` once the whole config is read.
        run_every: Span::from_secs(crate::core::apply::ApplyRules::default().every)
            .expect("positive constant"),
        max_mase,
        calendar,
        like,
    })
}

/// `result`'s value, or `None` with its problem added to `problems`.
fn noted<T>(problems: &mut Vec<String>, result: Result<T, String>) -> Option<T> {
    result.map_err(|problem| problems.push(problem)).ok()
}

/// The known events `events` declares: its `calendar` entries and every
/// event of its iCalendar files (relative paths against `base`), each
/// checked.
pub(super) fn known_events(events: &RawEvents, base: &Path) -> Result<Vec<KnownEvent>, String> {
    let mut known = events.calendar.clone();
    for file in &events.ical {
        let path = base.join(&file.file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("events.ical: cannot read {}: {e}", path.display()))?;
        let read = super::ical::known_events(&text, file.factor)
            .map_err(|e| format!("events.ical: {}: {e}", path.display()))?;
        known.extend(read);
    }
    for event in &known {
        if let Some(problem) = event.problem() {
            return Err(format!("events.calendar: {problem}"));
        }
    }
    Ok(known)
}

/// The workload's `namespace/name`, once its names are Kubernetes names
/// and no other workload has it.
fn workload_id(
    index: usize,
    w: &RawWorkload,
    seen: &mut HashSet<String>,
) -> Result<String, String> {
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
    if !seen.insert(id.clone()) {
        return Err(format!(
            "workload {id}: defined twice: workload names must be unique per namespace"
        ));
    }
    Ok(id)
}

/// Where the workload's load comes from: a Prometheus `query` (which needs
/// the `prometheus:` section) or a `file` (relative to the config's folder).
fn load_source(
    query: Option<&str>,
    file: Option<&Path>,
    aggregate: Option<crate::core::workload::Aggregate>,
    has_prometheus: bool,
    base: &Path,
) -> Result<LoadSource, String> {
    match (query, file) {
        (Some(_), Some(_)) => Err("has both `query` and `file`; give one".into()),
        (None, None) => Err("needs a `query` (Prometheus) or a `file`".into()),
        (Some(_), None) if !has_prometheus => {
            Err("has a `query` but the config has no `prometheus:` section".into())
        }
        (Some(query), None) if query.trim().is_empty() => Err("`query` is empty".into()),
        (Some(query), None) => Ok(LoadSource::Query {
            query: query.to_string(),
            aggregate,
        }),
        (None, Some(_)) if aggregate.is_some() => {
            Err("`aggregate` applies to a Prometheus `query`, not to a `file`".into())
        }
        // Joined to the config's folder, an empty path would name that
        // folder ("cannot read file: Is a directory").
        (None, Some(file)) if file.as_os_str().is_empty() => Err(
            "`file` is empty: give the path of a CSV or Parquet file of `timestamp,value` rows"
                .into(),
        ),
        (None, Some(file)) => Ok(LoadSource::File(base.join(file))),
    }
}

/// `min_replicas` and `max_replicas`, with their defaults, and a floor no
/// ceiling contradicts.
fn replica_ranges(w: &RawWorkload) -> Result<(ReplicaRange, ReplicaRange), String> {
    // One pod turns a node drain or a zone loss into an outage: min is 2
    // unless the config says otherwise (or a ceiling allows only 1).
    let ceiling_of = |r: Option<&RawRange>| r.and_then(|r| r.ceiling).unwrap_or(DEFAULT_CEILING);
    let default_min_floor = DEFAULT_MIN_FLOOR
        .min(ceiling_of(w.min_replicas.as_ref()))
        .min(ceiling_of(w.max_replicas.as_ref()))
        .max(1);
    let min_replicas = range(w.min_replicas.as_ref(), "min_replicas", default_min_floor)?;
    let max_replicas = range(w.max_replicas.as_ref(), "max_replicas", 1)?;
    if min_replicas.floor() > max_replicas.ceiling() {
        return Err(format!(
            "min_replicas.floor {} is above max_replicas.ceiling {}: no bound can satisfy both",
            min_replicas.floor(),
            max_replicas.ceiling()
        ));
    }
    Ok((min_replicas, max_replicas))
}

pub(super) fn validate(
    raw: RawConfig<(usize, RawWorkload)>,
    mut rejected: Vec<Rejected>,
    path: &Path,
    base: &Path,
) -> Result<Config, String> {
    let d = &raw.defaults;
    if let Some(level) = d.level {
        check_level(level).map_err(|e| format!("defaults: {e}"))?;
    }
    if let Some(headroom) = d.headroom {
        check_headroom(headroom).map_err(|e| format!("defaults: {e}"))?;
    }
    let default_events = d.events.clone().unwrap_or_default();
    default_events
        .validate()
        .map_err(|e| format!("defaults: {e}"))?;
    // Read once, not once per workload.
    let default_calendar =
        known_events(&default_events, base).map_err(|e| format!("defaults: {e}"))?;
    if raw.workloads.is_empty() && rejected.is_empty() {
        return Err("no workloads: add at least one under `workloads:`".into());
    }
    // Every workload's problems at once, so that one `config check` lists
    // them all; a run runs the others.
    let has_prometheus = raw.prometheus.is_some();
    // A workload the schema refused still holds its name against those
    // after it: a second of the same name is refused as a second, not run
    // in its place. The first holds it, whichever is broken (a valid first
    // was refused as "defined twice" for a broken second's sake).
    let mut seen: HashSet<String> = HashSet::new();
    let mut schema: Vec<usize> = (0..rejected.len())
        .filter(|&k| rejected[k].names.is_some())
        .collect();
    schema.sort_by_key(|&k| rejected[k].index);
    let mut schema = schema.into_iter().peekable();
    // Admits the schema-refused entries before `index`: a second of a
    // name already held loses its row (the first one's is the name's).
    let mut admit = |index: usize, seen: &mut HashSet<String>, rejected: &mut Vec<Rejected>| {
        while let Some(k) = schema.next_if(|&k| rejected[k].index < index) {
            let id = rejected[k].id();
            if !seen.insert(id.clone()) {
                rejected[k].names = None;
                rejected[k].problem = format!(
                    "{} (and {id} is defined twice: the first holds the name)",
                    rejected[k].problem
                );
            }
        }
    };
    let mut workloads = Vec::with_capacity(raw.workloads.len());
    for (index, w) in raw.workloads {
        admit(index, &mut seen, &mut rejected);
        let hpa = w.hpa.clone().unwrap_or_else(|| w.name.clone());
        let names = valid_names(&w.namespace, &w.name, &hpa)
            .then(|| (w.namespace.clone(), w.name.clone(), hpa));
        let twice = names
            .as_ref()
            .is_some_and(|(namespace, name, _)| seen.contains(&format!("{namespace}/{name}")));
        match validate_workload(
            index,
            w,
            d,
            (&default_events, &default_calendar),
            has_prometheus,
            base,
            &mut seen,
        ) {
            Ok(workload) => workloads.push((index, workload)),
            Err(problem) => rejected.push(Rejected {
                index,
                // Defined twice: the report's row is the first one's.
                names: names.filter(|_| !twice),
                problem,
            }),
        }
    }
    admit(usize::MAX, &mut seen, &mut rejected);
    // One HPA, one workload: two would each set its bounds to their own
    // recommendation, and the HPA would flip between them run after run.
    // The first in the config holds the HPA, whether it runs or not (a
    // workload refused for a typo keeps its HPA from the next one).
    let mut claims: Vec<(usize, (String, String), String)> = rejected
        .iter()
        .filter_map(|r| {
            r.names.as_ref().map(|(namespace, name, hpa)| {
                (r.index, (namespace.clone(), hpa.clone()), name.clone())
            })
        })
        .chain(
            workloads
                .iter()
                .map(|(index, w)| (*index, (w.namespace.clone(), w.hpa.clone()), w.name.clone())),
        )
        .collect();
    claims.sort_by_key(|(index, _, _)| *index);
    let mut hpas: std::collections::HashMap<(String, String), (usize, String)> =
        std::collections::HashMap::new();
    for (index, key, name) in claims {
        hpas.entry(key).or_insert((index, name));
    }
    let mut kept = Vec::with_capacity(workloads.len());
    for (index, w) in workloads {
        let key = (w.namespace.clone(), w.hpa.clone());
        let first = hpas
            .get(&key)
            .filter(|(holder, _)| *holder != index)
            .map(|(_, name)| name);
        if let Some(first) = first {
            rejected.push(Rejected {
                index,
                names: Some((w.namespace.clone(), w.name.clone(), w.hpa.clone())),
                problem: format!(
                    "workload {}/{}: hpa {} is workload {}/{first}'s too: each would set its bounds to its own recommendation (give one its own `hpa:`, or keep one of the two)",
                    w.namespace, w.name, w.hpa, w.namespace
                ),
            });
        } else {
            kept.push(w);
        }
    }
    let mut workloads = kept;
    rejected.sort_by_key(|r| r.index);
    if workloads.is_empty() {
        // Nothing would run: the config is what is wrong.
        return Err(problems_text(
            rejected.into_iter().map(|r| r.problem).collect(),
        ));
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
    let apply_rules = apply_rules(raw.apply)?;
    for w in &mut workloads {
        w.policy.max_step_up = apply_rules.max_step_up;
        w.run_every = Span::from_secs(apply_rules.every).expect("a validated span");
    }
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
        store: raw.store.map(|s| store_folder(&s, base)).transpose()?,
        apply_rules,
        workloads,
        rejected,
        shard: None,
    })
}

/// Problems as one message: the problem, or `N problems:` and a list.
pub(super) fn problems_text(mut problems: Vec<String>) -> String {
    match problems.len() {
        1 => problems.remove(0),
        n => format!("{n} problems:\n  - {}", problems.join("\n  - ")),
    }
}

/// Whether a workload's namespace, name and HPA are Kubernetes names.
pub(super) fn valid_names(namespace: &str, name: &str, hpa: &str) -> bool {
    check_kubernetes_name(namespace, NameKind::Label).is_ok()
        && check_kubernetes_name(name, NameKind::Subdomain).is_ok()
        && check_kubernetes_name(hpa, NameKind::Subdomain).is_ok()
}

/// Header names that carry credentials (Authorization, Cookie, X-Api-Key, ...).
pub(super) fn holds_credentials(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["auth", "cookie", "token", "key", "secret", "password"]
        .iter()
        .any(|word| name.contains(word))
}

/// `_file` or `_env`, exactly one.
pub(super) fn secret_source(
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

pub(super) fn apply_rules(raw: Option<RawApply>) -> Result<crate::core::apply::ApplyRules, String> {
    let defaults = crate::core::apply::ApplyRules::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let rules = crate::core::apply::ApplyRules {
        max_step_up: raw.max_step_up.unwrap_or(defaults.max_step_up),
        max_step_down: raw.max_step_down.unwrap_or(defaults.max_step_down),
        hysteresis: raw.hysteresis.unwrap_or(defaults.hysteresis),
        every: raw.every.map_or(defaults.every, Span::secs),
        rerun_window: match raw.rerun_window {
            // Under the interval between runs, else every run is a rerun
            // of the last and none steps (`every: 5m` with the 10-minute
            // default held max at 22 run after run).
            None => raw.every.map_or(defaults.rerun_window, |e| {
                defaults.rerun_window.min(e.secs() * 2 / 3)
            }),
            Some(super::raw::RawWindow::Number(0)) => 0,
            Some(super::raw::RawWindow::Text(text)) if matches!(text.trim(), "0" | "0s" | "0m") => {
                0
            }
            Some(super::raw::RawWindow::Number(n)) => {
                return Err(format!(
                    "apply.rerun_window must be a duration (e.g. 10m) or 0 for none, got {n}"
                ))
            }
            Some(super::raw::RawWindow::Text(text)) => text
                .parse::<crate::core::time::Span>()
                .map_err(|e| format!("apply.rerun_window: {e} (or 0 for none)"))?
                .secs(),
        },
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
    if rules.rerun_window >= rules.every {
        return Err(format!(
            "apply.rerun_window ({}) must be shorter than apply.every ({}), the interval between runs: a run within it of the last is taken as a rerun of it and does not step, so every run would be one",
            crate::core::series::human_span(rules.rerun_window),
            crate::core::series::human_span(rules.every)
        ));
    }
    Ok(rules)
}

/// Validates a notified server's section `setting`.
pub(super) fn endpoint(raw: RawEndpoint, base: &Path, setting: &str) -> Result<Endpoint, String> {
    check_url(&raw.url, setting)?;
    let (basic_auth, bearer_token) = credentials(
        raw.basic_auth,
        raw.bearer_token_file,
        raw.bearer_token_env,
        base,
        setting,
    )?;
    check_identity_labels(&raw.labels, setting)?;
    Ok(Endpoint {
        url: raw.url.trim_end_matches('/').to_string(),
        timeout: raw.timeout.unwrap_or_else(|| "10s".parse().expect("valid")),
        basic_auth,
        bearer_token,
        ca_file: raw.ca_file.map(|f| base.join(f)),
        insecure_skip_verify: raw.insecure_skip_verify,
        labels: raw.labels,
    })
}

/// `alertmanager.labels` / `pushgateway.labels`: Prometheus label names
/// with non-empty values, none of the labels homeostat sets itself (an
/// alert's or a group's own would be overwritten, or overwrite them).
fn check_identity_labels(
    labels: &std::collections::BTreeMap<String, String>,
    setting: &str,
) -> Result<(), String> {
    let own: &[&str] = if setting == "pushgateway" {
        &crate::edge::notify::PUSHGATEWAY_LABELS
    } else {
        &crate::edge::notify::ALERT_LABELS
    };
    for (name, value) in labels {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with("__");
        if !valid {
            return Err(format!(
                "{setting}.labels: {name:?} is not a label name (letters, digits and _, not starting with a digit or __)"
            ));
        }
        if own.contains(&name.as_str()) {
            return Err(format!(
                "{setting}.labels: {name:?} is a label homeostat sets itself ({}); choose another name, such as cluster",
                own.join(", ")
            ));
        }
        if value.is_empty() {
            return Err(format!(
                "{setting}.labels.{name} is empty: give it a value (an empty label is no label to Prometheus)"
            ));
        }
    }
    Ok(())
}

/// Where a server section's credentials come from: basic auth or a bearer
/// token (each from a file or an environment variable), not both.
type Credentials = (Option<(String, SecretSource)>, Option<SecretSource>);

pub(super) fn credentials(
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

/// `store:`, a folder (made when missing) relative to the config's: an
/// empty one wrote the store into the config's own folder, a file's name
/// failed only at `apply` ("File exists").
fn store_folder(store: &Path, base: &Path) -> Result<PathBuf, String> {
    if store.as_os_str().is_empty() {
        return Err("store: is empty: name the model store's folder (e.g. `models`, beside the config), or leave `store:` out for `models/` in the working directory".to_string());
    }
    let folder = base.join(store);
    if folder.exists() && !folder.is_dir() {
        return Err(format!(
            "store: {} is a file, not a folder: the model store is a folder of files",
            folder.display()
        ));
    }
    Ok(folder)
}

/// An `http(s)://` URL with no credentials in it (they would end up in
/// logs and error messages).
pub(super) fn check_url(url: &str, setting: &str) -> Result<(), String> {
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
    // What only a run found before: a port over 65535 ("builder error:
    // invalid port number"), a space in the host.
    reqwest::Url::parse(url)
        .map_err(|e| format!("{setting}.url is not a URL the client can use: {e}"))?;
    // The server's address, not an API path homeostat appends to it
    // (`…/api/v2/alerts/api/v2/alerts`: HTTP 404 at every run).
    // Only a path that ends in it: an API server's service proxy
    // (`…/api/v1/namespaces/…/proxy`) is a path prefix like any other.
    let path = rest
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/');
    let api: &[&str] = match setting {
        "alertmanager" => &["/api/v2/alerts", "/api/v2", "/api/v1/alerts", "/api/v1"],
        "prometheus" => &["/api/v1/query_range", "/api/v1/query", "/api/v1"],
        _ => &[],
    };
    let appended = api
        .iter()
        .find(|a| path.ends_with(*a))
        .map(|a| path.len() - a.len())
        // The Pushgateway's grouping key follows `/metrics/job/…` to the end.
        .or_else(|| {
            (setting == "pushgateway")
                .then(|| path.find("/metrics/job"))
                .flatten()
        });
    if let Some(at) = appended {
        return Err(format!(
            "{setting}.url is the server's address (and path prefix), without the API path homeostat adds: drop `{}`",
            &path[at..]
        ));
    }
    Ok(())
}

pub(super) fn check_level(percent: f64) -> Result<Level, String> {
    Level::from_percent(percent).ok_or_else(|| level_error(percent))
}

/// The largest `headroom` accepted.
pub const MAX_HEADROOM: f64 = 10.0;

pub(super) fn check_headroom(headroom: f64) -> Result<f64, String> {
    // Above ×10 it is a percentage written as a factor (`20` for 20%
    // sized max for 20 times the peak: 2..320 on the taxi trace).
    if headroom.is_finite() && headroom > MAX_HEADROOM {
        return Err(format!(
            "headroom is a factor of the expected peak (1.2 = 20% above it), at most {MAX_HEADROOM}; got {headroom}: did you mean {}?",
            // 20 for 20% above the peak; 120 for 120% of it.
            if headroom >= 100.0 {
                headroom / 100.0
            } else {
                1.0 + headroom / 100.0
            }
        ));
    }
    if headroom.is_finite() && headroom >= 1.0 {
        Ok(headroom)
    } else {
        Err(format!(
            "headroom must be a factor of at least 1 (e.g. 1.2), got {headroom}"
        ))
    }
}

pub(super) fn range(
    raw: Option<&RawRange>,
    key: &str,
    default_floor: u32,
) -> Result<ReplicaRange, String> {
    let floor = raw.and_then(|r| r.floor).unwrap_or(default_floor);
    let ceiling = raw.and_then(|r| r.ceiling).unwrap_or(DEFAULT_CEILING);
    ReplicaRange::new(floor, ceiling).ok_or_else(|| {
        format!("{key}: floor {floor} and ceiling {ceiling} must satisfy 1 <= floor <= ceiling")
    })
}
