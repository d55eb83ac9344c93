//! The commands around the main job: `evaluate`, `fetch`, `events`,
//! `synth`, `config check`, `report merge` and `forecast`.

use super::{colour_wanted, emit, load_config, read_series, Flags};
use crate::app::cli::{EvaluateFormat, LearnedFormat, PostmortemFormat};
use crate::app::run;
use crate::core::model::{self, Level};
use crate::core::time::{self, Span};
use crate::core::{events, synthetic};
use crate::report::{self, Format};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub(super) fn evaluate(
    input: &Path,
    test: Span,
    level: Level,
    format: EvaluateFormat,
    output: Option<&Path>,
    export: Option<&Path>,
) -> Result<u8> {
    let evaluation = run::evaluate_dir(input, test, level, export)?;
    let text = match format {
        EvaluateFormat::Table => report::evaluation::render_table(&evaluation),
        EvaluateFormat::Json => report::evaluation::render_json(&evaluation),
        EvaluateFormat::Csv => report::evaluation::render_csv(&evaluation),
    };
    emit(output, &text)?;
    for (series, reason) in &evaluation.failures {
        tracing::error!(series = %series, "{series}: not evaluated: {reason}");
    }
    Ok(u8::from(!evaluation.failures.is_empty()))
}

/// `homeostat evaluate --cold-start`.
pub(super) fn evaluate_cold_start(
    input: &Path,
    test: Span,
    spans: &[Span],
    level: Level,
    format: EvaluateFormat,
    output: Option<&Path>,
) -> Result<u8> {
    let hours = cold_start_hours(spans)?;
    let (scores, failures) = run::cold_start_dir(input, test, &hours, level)?;
    let text = match format {
        EvaluateFormat::Table => report::evaluation::render_cold_start_table(&scores),
        EvaluateFormat::Csv => report::evaluation::render_cold_start_csv(&scores),
        EvaluateFormat::Json => report::evaluation::render_cold_start_json(&scores),
    };
    emit(output, &text)?;
    for (series, reason) in &failures {
        tracing::error!(series = %series, "{series}: not evaluated: {reason}");
    }
    Ok(u8::from(!failures.is_empty()))
}

/// `--cold-start`'s spans as whole hours, ascending, each once: from
/// [`shapes::COLD_MIN_HISTORY`] to under [`shapes::OWN_HISTORY`] (from
/// then on a workload is forecast by its own model alone, no cold start).
fn cold_start_hours(spans: &[Span]) -> Result<Vec<i64>> {
    use crate::core::shapes::{COLD_MIN_HISTORY, OWN_HISTORY};
    let mut hours = Vec::with_capacity(spans.len());
    for span in spans {
        let secs = span.secs();
        if secs % 3_600 != 0 || !(COLD_MIN_HISTORY..OWN_HISTORY).contains(&secs) {
            anyhow::bail!(
                "--cold-start {}: a cold start is simulated from whole hours of history, from {} to under {} (from then on a workload is forecast by its own model alone)",
                span,
                shown_span(COLD_MIN_HISTORY),
                shown_span(OWN_HISTORY),
            );
        }
        hours.push(secs / 3_600);
    }
    hours.sort_unstable();
    hours.dedup();
    Ok(hours)
}

fn shown_span(secs: i64) -> Span {
    Span::from_secs(secs).expect("a positive constant")
}

pub(super) fn fetch(
    flags: &Flags,
    config: Option<PathBuf>,
    at: Option<i64>,
    output: &Path,
    format: run::SeriesFormat,
) -> Result<u8> {
    let config = flags.load_config(config)?;
    let mut exported = run::export_histories(&flags.run_at(at), &config, output, format)?;
    // The workloads the config cannot run: a row each, as a read that failed.
    exported.extend(config.rejected.iter().map(|rejected| run::Exported {
        workload: rejected.id(),
        result: Err(run::LoadFailure {
            status: crate::core::plan::Status::Error,
            reason: super::rejected_reason(rejected),
            now: None,
            kind: "config_invalid",
        }),
        samples: 0,
        requests: 0,
        first: None,
        last: None,
    }));
    emit(None, &fetch_table(&exported))?;
    let mut failed = 0;
    for entry in &exported {
        if let Err(failure) = &entry.result {
            tracing::error!(workload = %entry.workload, "{}: {}", entry.workload, failure.reason);
            failed += 1;
        }
    }
    Ok(u8::from(failed > 0))
}

pub(super) fn events(
    input: &Path,
    (step, history): (Option<Span>, Option<Span>),
    settings: &events::EventSettings,
    output: Option<&Path>,
) -> Result<u8> {
    let series = read_series(input, step, history)?;
    let events = events::detect_in(&series, settings);
    emit(output, &report::events::render_events_json(&events))?;
    Ok(0)
}

pub(super) fn synth(
    flags: &Flags,
    spec: &synthetic::FleetSpec,
    output: &Path,
    format: run::SeriesFormat,
    openmetrics: bool,
) -> Result<u8> {
    let threads = flags.run_at(None).threads;
    run::write_fleet(spec, output, format, openmetrics, threads)?;
    println!(
        "{} workloads × {} days in {}; run them with: homeostat recommend --config {}",
        spec.workloads,
        spec.days,
        output.display(),
        output.join("homeostat.yaml").display()
    );
    Ok(0)
}

pub(super) fn config_check(flags: &Flags, config: Option<PathBuf>, at: Option<i64>) -> Result<u8> {
    // Every workload must be valid here: a run would report the others'
    // bounds and this one failed. The valid ones' files are read all the
    // same, so that one check lists every problem (it stopped at the
    // config's, and the files' came one fix later).
    let config = flags.load_config(config)?;
    let checked = run::check_files(&flags.run_at(at), &config);
    emit(None, &checked.report)?;
    config.all_valid()?;
    Ok(u8::from(checked.problems > 0))
}

pub(super) fn report_merge(
    reports: &[PathBuf],
    config: Option<PathBuf>,
    format: Format,
    output: Option<&Path>,
) -> Result<u8> {
    let mut shards = Vec::with_capacity(reports.len());
    for path in reports {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let plan: crate::core::plan::Plan = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a JSON report of `homeostat recommend --format json`",
                path.display()
            )
        })?;
        shards.push((path.display().to_string(), plan));
    }
    // The fleet's order: the whole config's, not one shard's.
    let whole = config
        .map(|path| load_config(Some(path), None))
        .transpose()?;
    // The workloads the config cannot even name: in shard 0's report, and
    // in the merged one even without it.
    let unnamed: Vec<crate::core::plan::ConfigError> = whole
        .iter()
        .flat_map(|c| c.rejected.iter().map(move |r| (&c.path, r)))
        .filter(|(_, r)| r.names.is_none())
        .map(|(path, r)| super::config_error(path, r))
        .collect();
    let order = whole.map(|c| {
        // A run reports the workloads the config cannot run after the
        // others (see `add_rejected`).
        c.workloads
            .iter()
            .map(crate::core::workload::Workload::id)
            .chain(
                c.rejected
                    .iter()
                    .filter(|r| r.names.is_some())
                    .map(crate::app::config::Rejected::id),
            )
            .collect::<Vec<_>>()
    });
    let (mut plan, mut problems) =
        report::merge(shards, order.as_deref()).map_err(anyhow::Error::msg)?;
    for error in unnamed {
        if !plan
            .config_errors
            .iter()
            .any(|e| e.workload == error.workload)
        {
            plan.config_errors.push(error);
        }
    }
    problems.extend(
        plan.config_errors
            .iter()
            .map(|e| format!("{}: {}", e.workload, e.reason())),
    );
    let text = match format {
        Format::Table => report::render_table(&plan, colour_wanted(output)),
        Format::Json => report::render_json(&plan),
        Format::Csv => report::render_csv(&plan),
        Format::Markdown => report::markdown::render(&plan),
        // Parquet is refused with the flags.
        Format::Html | Format::Parquet => report::html::render(&plan, &[]),
    };
    emit(output, &text)?;
    for problem in &problems {
        tracing::error!("{problem}");
    }
    Ok((plan.exit_code() as u8).max(u8::from(!problems.is_empty())))
}

pub(super) fn forecast(
    input: &Path,
    (horizon, level, step): (Span, Level, Option<Span>),
    history: Option<Span>,
    bare: bool,
    output: Option<&Path>,
) -> Result<u8> {
    let series = read_series(input, step, history)?;
    let steps = model::steps_in(horizon.secs(), series.step);
    let adapted = if bare {
        None
    } else {
        match crate::core::adapt::adapted_forecast(&series, steps) {
            Ok(forecast) => Some(forecast),
            Err(e) => {
                // Too much of the history was a departure: the model of
                // the history as it is still says something.
                tracing::warn!(
                    "{}: the forecast without the history's events failed ({e}); this is the model of the history as it is",
                    input.display()
                );
                None
            }
        }
    };
    let forecast = match adapted {
        Some(forecast) => forecast,
        None => model::forecast(&series, steps)
            .with_context(|| format!("{}: cannot forecast", input.display()))?,
    };
    emit(output, &report::render_forecast_csv(&forecast, level))?;
    Ok(0)
}

pub(super) fn postmortem(
    flags: &Flags,
    config: Option<PathBuf>,
    (workload, incident): (Option<&str>, Option<&str>),
    format: PostmortemFormat,
    output: Option<&Path>,
) -> Result<u8> {
    let config = flags.load_config(config)?;
    let store = run::store_of(&config);
    // The workload asked for, named as `incident note` names it; an
    // incident id of another workload is said as such.
    let named = workload
        .map(|wanted| config.workload_named(wanted))
        .transpose()
        .map_err(|e| anyhow::anyhow!(e))?;
    if let (Some(w), Some(id)) = (named, incident) {
        if !id.starts_with(&format!("{}#", w.id())) {
            anyhow::bail!(
                "--incident {id} is not an incident of --workload {} (ids are `namespace/name#n`)",
                w.id()
            );
        }
    }
    // Read only: a file this command cannot use is named, never moved.
    let mut candidates = Vec::new();
    let mut unreadable = Vec::new();
    for w in &config.workloads {
        let wanted = named.is_none_or(|n| n.id() == w.id())
            && incident.is_none_or(|id| id.starts_with(&format!("{}#", w.id())));
        if !wanted {
            continue;
        }
        match read_state(&store, w) {
            Ok(state) => candidates.extend(state),
            Err(()) => unreadable.push(w.id()),
        }
    }
    // An incident of a workload the config no longer has (removed,
    // renamed): its file is still in the store, and so is its story.
    let of_config = |ns: &str, name: &str| {
        config
            .workloads
            .iter()
            .any(|w| w.namespace == ns && w.name == name)
    };
    if let Some((ns, name)) = incident
        .filter(|_| named.is_none())
        .and_then(|id| id.rsplit_once('#'))
        .and_then(|(workload, _)| workload.split_once('/'))
        .filter(|(ns, name)| !of_config(ns, name))
    {
        match store.read(ns, name) {
            Ok(Some(state)) => {
                tracing::warn!(
                    "{ns}/{name} is not in the config (removed or renamed): its incidents are read from the model store as the last run left them"
                );
                candidates.push(state);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}"),
        }
    }
    // The incident asked for, else the latest opened.
    let found = candidates
        .iter()
        .flat_map(|state| state.incidents.iter().map(move |i| (i, state)))
        .filter(|(i, _)| incident.is_none_or(|id| i.id == id))
        .max_by(|(a, _), (b, _)| a.opened.cmp(&b.opened));
    let Some((chosen, state)) = found else {
        let which = match (incident, workload) {
            // Not even the form of one: say the form.
            (Some(id), _) if !id.contains('/') || !id.contains('#') => {
                format!("incident {id} (incident ids are `namespace/name#n`, e.g. shop/cart#1)")
            }
            (Some(id), _) => format!("incident {id}"),
            (None, Some(w)) => format!("incident of {w}"),
            (None, None) => "incident".to_string(),
        };
        if !unreadable.is_empty() {
            anyhow::bail!(
                "no {which} in the model store {} that could be read: the store file of {} cannot be read (see the warning above; a corrupt one is set aside by the next `apply`, its text kept)",
                store.root().display(),
                unreadable.join(", ")
            );
        }
        anyhow::bail!(
            "no {which} in the model store {}: incidents are recorded by `homeostat apply` runs",
            store.root().display()
        );
    };
    let learned = learned_from(chosen, state);
    // An incident of the workload open since this one closed.
    let open_since = chosen.closed.as_ref().and_then(|closed| {
        state
            .incidents
            .iter()
            .find(|i| i.is_open() && i.id != chosen.id && i.opened >= *closed)
    });
    let draft = report::postmortem::draft(chosen, &state.history, &learned, open_since);
    let text = match format {
        PostmortemFormat::Markdown => report::postmortem::render_markdown(&draft),
        PostmortemFormat::Html => {
            // No chart for a workload the config no longer has: its load
            // is no longer known to read.
            let chart = config
                .workloads
                .iter()
                .find(|w| w.namespace == state.namespace && w.name == state.name)
                .and_then(|w| incident_chart(flags, &config, w, chosen, &state.history));
            report::html::render_postmortem(&draft, chart.as_deref())
        }
    };
    emit(output, &text)?;
    Ok(0)
}

/// What the store learned from `incident`, in words.
fn learned_from(
    incident: &crate::core::incident::Incident,
    state: &crate::edge::store::WorkloadState,
) -> Vec<String> {
    let ceilings = state
        .learned
        .iter()
        .filter(|l| l.incident == incident.id)
        .map(|l| {
            format!(
                "{} {} from the operator's change ({}); `homeostat learned` writes it as a config patch, `learning: apply` uses it at once",
                l.setting, l.value, l.because
            )
        });
    let events = state
        .learned_events
        .iter()
        .filter(|l| l.incidents.contains(&incident.id))
        .map(|l| {
            format!(
                "{}: the schedule raises min before it next time (with `learning: apply`; `homeostat learned` writes it as a config patch)",
                l.describe()
            )
        });
    ceilings.chain(events).collect()
}

/// The chart of the load around `incident` (a day before it opened to six
/// hours after it closed) against the range each run recommended; `None`
/// (said on stderr) when the history cannot be read.
fn incident_chart(
    flags: &Flags,
    config: &crate::app::config::Config,
    w: &crate::core::workload::Workload,
    incident: &crate::core::incident::Incident,
    runs: &[crate::core::incident::RunRecord],
) -> Option<String> {
    use crate::core::time::parse_timestamp;
    let opened = parse_timestamp(&incident.opened).ok()?;
    let began = incident
        .started
        .as_deref()
        .and_then(|t| parse_timestamp(t).ok())
        .unwrap_or(opened);
    let end = parse_timestamp(incident.closed.as_deref().unwrap_or(&incident.last_seen)).ok()?;
    let shown = (began.min(opened) - 86_400, end + 6 * 3600);
    let clock = flags.run_at(None).clock_now;
    let mut one = config.clone();
    let mut workload = w.clone();
    workload.history = Span::from_secs(shown.1 - shown.0).expect("positive");
    one.workloads = vec![workload];
    let mut load = None;
    run::load_histories(
        &flags.run_at(Some(shown.1.min(clock))),
        &one,
        |_, loaded| match loaded {
            Ok(loaded) => load = Some(loaded.raw),
            Err(failure) => tracing::warn!(
                "{}: no chart: its history around the incident cannot be read: {}",
                w.id(),
                failure.reason
            ),
        },
    );
    let load = load?;
    let mut points: Vec<(i64, f64)> = load.samples.iter().map(|s| (s.ts, s.value)).collect();
    points.sort_by_key(|p| p.0);
    let changes = incident
        .operator_changes
        .iter()
        .filter_map(|c| parse_timestamp(&c.at).ok())
        .collect();
    Some(report::chart::incident_chart(
        &report::chart::IncidentChart {
            load: &points,
            runs,
            per_replica: w.policy.target_per_replica,
            open: (began.min(opened), end),
            changes,
            shown,
        },
    ))
}

pub(super) fn incident_note(
    flags: &Flags,
    config: Option<PathBuf>,
    workload: &str,
    text: &str,
    at: Option<i64>,
) -> Result<u8> {
    let config = flags.load_config(config)?;
    let w = config
        .workload_named(workload)
        .map_err(|e| anyhow::anyhow!(e))?;
    if text.trim().is_empty() {
        anyhow::bail!("--text: say what was done (it goes in the post-mortem)");
    }
    let store = run::store_of(&config);
    // A writer like `apply`: one at a time.
    let _lock = store.lock(crate::edge::store::LOCK_WAIT)?;
    let state = match store.read(&w.namespace, &w.name) {
        Ok(Some(state)) => state,
        Ok(None) => anyhow::bail!(
            "{}: no incident in the model store {}: incidents are recorded by `homeostat apply` runs",
            w.id(),
            store.root().display()
        ),
        Err(e @ crate::edge::store::Unusable::Unreadable(_)) => anyhow::bail!("{e}"),
        Err(e) => anyhow::bail!("{e}; the next `apply` sets it aside"),
    };
    let mut state = state;
    let when = at.unwrap_or(flags.run_at(None).clock_now);
    let stamp = time::format_timestamp(when);
    let noted =
        crate::core::incident::attribute(&mut state.incidents, &format!("note: {text}"), &stamp);
    if noted.is_empty() {
        anyhow::bail!("{}: no incident to note it on", w.id());
    }
    // A time given by hand before the incident began is most likely a typo.
    for incident in state.incidents.iter().filter(|i| noted.contains(&i.id)) {
        if time::parse_timestamp(&incident.opened).is_ok_and(|opened| opened > when) {
            tracing::warn!(
                "--at {stamp} is before incident {} opened ({}): noted at {stamp} all the same",
                incident.id,
                incident.opened
            );
        }
    }
    store.save(&state)?;
    println!("noted on incident {}", noted.join(", "));
    Ok(0)
}

/// What `state` learned that the config `w` has not taken yet: the store
/// keeps a suggestion until the next run sees the config take it, and a
/// config merged (or raised by hand) since must not be offered a lower
/// ceiling, or an event it already has.
fn untaken(
    w: &crate::core::workload::Workload,
    mut state: crate::edge::store::WorkloadState,
) -> crate::edge::store::WorkloadState {
    let config = crate::core::incident::Fingerprint::of(&w.policy);
    state.learned.retain(|l| !l.taken_by(&config));
    state
        .learned_events
        .retain(|l| !w.calendar.iter().any(|c| c.name == l.event.name));
    state
}

pub(super) fn learned(
    flags: &Flags,
    config: Option<PathBuf>,
    format: LearnedFormat,
    output: Option<&Path>,
) -> Result<u8> {
    let config = flags.load_config(config)?;
    let store = run::store_of(&config);
    // A store file that cannot be read is named on stderr; the patch is
    // then incomplete, which the exit code says (1), as a run's would.
    let unread = std::cell::Cell::new(0usize);
    let read = |w: &crate::core::workload::Workload| {
        read_state(&store, w).unwrap_or_else(|()| {
            unread.set(unread.get() + 1);
            None
        })
    };
    if format == LearnedFormat::Json {
        let workloads: Vec<serde_json::Value> = config
            .workloads
            .iter()
            .filter_map(|w| read(w).map(|s| untaken(w, s)))
            .filter(|s| !s.learned.is_empty() || !s.learned_events.is_empty())
            .map(|s| {
                serde_json::json!({
                    "namespace": s.namespace,
                    "name": s.name,
                    "settings": s.learned,
                    "events": s.learned_events,
                })
            })
            .collect();
        let mut text =
            serde_json::to_string_pretty(&serde_json::json!({ "workloads": workloads }))?;
        text.push('\n');
        emit(output, &text)?;
        return Ok(u8::from(unread.get() > 0));
    }
    let mut text = format!(
        "# homeostat learned: settings operators chose while healing incidents,\n# suggested for {} (review, then merge into its workloads).\n",
        config.path.display()
    );
    let mut entries = 0;
    for w in &config.workloads {
        let Some(state) = read(w).map(|s| untaken(w, s)) else {
            continue;
        };
        let events: Vec<_> = state.learned_events.iter().collect();
        if state.learned.is_empty() && events.is_empty() {
            continue;
        }
        if entries == 0 {
            text.push_str("workloads:\n");
        }
        entries += 1;
        let _ = writeln!(text, "  - namespace: {}\n    name: {}", w.namespace, w.name);
        for learned in &state.learned {
            let Some((section, key)) = learned.setting.split_once('.') else {
                continue;
            };
            let because = learned.because.replace(['\n', '\r'], " ");
            let _ = writeln!(
                text,
                "    # from incident {} ({}): {because}\n    {section}:\n      {key}: {}",
                learned.incident, learned.at, learned.value
            );
        }
        if !events.is_empty() {
            text.push_str("    events:\n      calendar:\n");
        }
        for l in events {
            // JSON is YAML: the event in flow style, its name quoted.
            let event = serde_json::to_string(&l.event).map_err(anyhow::Error::from)?;
            let _ = writeln!(
                text,
                "        # from incidents {} ({})\n        - {event}",
                l.incidents.join(", "),
                l.at
            );
        }
    }
    if unread.get() > 0 {
        let _ = writeln!(
            text,
            "# incomplete: the model store of {} workload(s) could not be read (see the warnings)",
            unread.get()
        );
    } else if entries == 0 {
        text.push_str("# nothing learned: no operator's fix is waiting for the config\n");
    }
    emit(output, &text)?;
    Ok(u8::from(unread.get() > 0))
}

/// A workload's state in the store, telling a file that could not be read
/// (`Err`, named on stderr) from one that is not there (`Ok(None)`).
fn read_state(
    store: &crate::edge::store::Store,
    w: &crate::core::workload::Workload,
) -> Result<Option<crate::edge::store::WorkloadState>, ()> {
    store.read(&w.namespace, &w.name).map_err(|e| {
        tracing::warn!("{e}");
    })
}

/// The summary `fetch` prints: one aligned line per workload.
fn fetch_table(exported: &[run::Exported]) -> String {
    let time = |t: Option<i64>| t.map_or_else(|| "-".to_string(), time::format_timestamp);
    let rows: Vec<[String; 6]> = exported
        .iter()
        .map(|e| {
            let (status, file) = match &e.result {
                Ok(path) => ("ok".to_string(), path.display().to_string()),
                Err(failure) => (failure.status.as_str().to_string(), "-".to_string()),
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
    report::aligned(
        &["WORKLOAD", "STATUS", "SAMPLES", "REQUESTS", "RANGE", "FILE"],
        &rows,
    )
}
