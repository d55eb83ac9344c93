//! Report rendering: plans, backtests and forecasts as text — a terminal
//! table, JSON, CSV, Markdown for a pull request or a chat message, and a
//! self-contained HTML page with charts ([`html`], [`chart`]). Pure: strings
//! in memory; writing them is the caller's business.

mod apply;
mod backtest;
pub mod chart;
pub mod evaluation;
pub mod events;
pub mod html;
pub mod markdown;
pub mod postmortem;

use crate::core::events::EventKind;
use crate::core::model::{Forecast, Level};
use crate::core::plan::{Plan, Status, WorkloadPlan};
use crate::core::time::format_timestamp;
use std::fmt::Write as _;

pub use apply::{render_apply_json, render_apply_table};
pub use backtest::{render_backtest_csv, render_backtest_json, render_backtest_table};

/// Output formats of `recommend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// The JSON report (README, Reports): every field of the plan.
    Json,
    /// One row per workload.
    Csv,
    /// The table and one line per change, for a pull request or a chat message.
    Markdown,
    /// One self-contained page with a chart per workload.
    Html,
    /// Per workload `<namespace>_<name>.parquet` (history and forecast)
    /// and `report.json`, into the folder `--output`.
    Parquet,
}

/// Output formats of `backtest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResultFormat {
    Table,
    Json,
    Csv,
    Markdown,
    Html,
}

/// How urgently a workload needs attention: the reports list workloads in
/// this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A bound is capped by a ceiling, or a spike going on is above what
    /// the recommended max carries: load cannot be served.
    Critical,
    /// No recommendation (no data, too little, an error), or one resting
    /// on an untrustworthy model: someone should look.
    Warning,
    /// The recommended range differs from the HPA's.
    Change,
    /// Nothing to do.
    Unchanged,
}

impl Severity {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Change => "change",
            Severity::Unchanged => "unchanged",
        }
    }

    /// Critical and warning: an operator has to act.
    #[must_use]
    pub fn needs_operator(self) -> bool {
        self <= Severity::Warning
    }
}

/// A workload's [`Severity`].
#[must_use]
pub fn severity(w: &WorkloadPlan) -> Severity {
    match w.status {
        Status::NeedsOperator => Severity::Critical,
        Status::Ok if spike_above_max(w).is_some() => Severity::Critical,
        Status::Ok if w.untrustworthy_model || unit_suspect(w) => Severity::Warning,
        Status::Ok if changes(w) => Severity::Change,
        Status::Ok => Severity::Unchanged,
        Status::InsufficientData | Status::NoData | Status::Error => Severity::Warning,
    }
}

/// Whether the plan's load is out of proportion to its `target_per_replica`
/// (see [`crate::core::bounds::ReplicaBounds::unit_suspect`]).
fn unit_suspect(w: &WorkloadPlan) -> bool {
    w.bounds.as_ref().is_some_and(|b| b.unit_suspect)
}

/// The ongoing spike above the recommended max, in words — the same
/// finding that sends the critical `spike_above_max` alert and opens the
/// incident, so the report and the page never disagree.
fn spike_above_max(w: &WorkloadPlan) -> Option<String> {
    crate::core::incident::findings(w, &[])
        .into_iter()
        .find(|f| f.cause == crate::core::incident::Cause::SpikeAboveMax)
        .map(|f| f.blocked_by)
}

/// A trusted recommendation whose range differs from today's: what the
/// reports list as a change, whatever else makes the workload urgent (a
/// spike going on above max is critical and still has a new range).
#[must_use]
pub fn recommends_change(w: &WorkloadPlan) -> bool {
    w.status == Status::Ok && !w.untrustworthy_model && !unit_suspect(w) && changes(w)
}

/// The recommended range differs from today's (or today's is unknown);
/// in schedule mode with the schedule's min for now, as `apply` sets it.
fn changes(w: &WorkloadPlan) -> bool {
    w.current.is_none_or(|c| {
        Some(c.min_replicas) != w.scheduled_min.or(w.min_replicas)
            || Some(c.max_replicas) != w.max_replicas
    })
}

/// The workloads most urgent first (config order within a severity).
#[must_use]
pub fn by_urgency(plan: &Plan) -> Vec<&WorkloadPlan> {
    urgency_order(plan)
        .into_iter()
        .map(|i| &plan.workloads[i])
        .collect()
}

/// The indices of [`by_urgency`]'s order.
#[must_use]
pub fn urgency_order(plan: &Plan) -> Vec<usize> {
    let mut order: Vec<usize> = (0..plan.workloads.len()).collect();
    order.sort_by_key(|&i| severity(&plan.workloads[i]));
    order
}

/// `12.5 – 140`: the expected load's range, or `-`.
#[must_use]
pub fn load_range(w: &WorkloadPlan) -> String {
    w.expected_load.map_or_else(
        || "-".into(),
        |l| format!("{} – {}", number(l.low), number(l.high)),
    )
}

pub use crate::core::time::count_of;

/// `11 workloads: 1 critical, 2 warnings, 5 changes, 3 unchanged`.
#[must_use]
pub fn summary_line(plan: &Plan) -> String {
    let count = |s: Severity| plan.workloads.iter().filter(|w| severity(w) == s).count();
    // A config entry that did not run is a workload with a warning.
    let unnamed = plan.config_errors.len();
    let mut line = format!(
        "{}: {} critical, {}, {}, {} unchanged",
        count_of(plan.workloads.len() + unnamed, "workload"),
        count(Severity::Critical),
        count_of(count(Severity::Warning) + unnamed, "warning"),
        count_of(count(Severity::Change), "change"),
        count(Severity::Unchanged)
    );
    if unnamed > 0 {
        let _ = write!(
            line,
            " ({unnamed} of them {}, not run)",
            if unnamed == 1 {
                "a config entry without readable names"
            } else {
                "config entries without readable names"
            }
        );
    }
    line
}

/// The config's workload entries that did not run and have no names, as
/// lines: `workload #N (counting from 1): why`.
#[must_use]
pub fn config_error_lines(plan: &Plan) -> Vec<String> {
    plan.config_errors
        .iter()
        .map(|e| format!("{} error: {}", e.workload, e.reason()))
        .collect()
}

/// Why an operator is needed, in words: the ceilings that cap a bound, the
/// spike going on above max, the reason there is no recommendation, or the
/// untrusted model; and, for a
/// workload that is ok, a max ceiling the expected load would pass before
/// any load has (a note, not a page).
#[must_use]
pub fn operator_reasons(w: &WorkloadPlan) -> Vec<String> {
    match w.status {
        Status::NeedsOperator => w
            .bounds
            .as_ref()
            .map(|b| b.needs_operator.clone())
            .unwrap_or_default(),
        Status::Ok => {
            let notes = w
                .bounds
                .as_ref()
                .map(|b| b.notes.clone())
                .unwrap_or_default();
            spike_above_max(w)
                .into_iter()
                .chain(
                    w.reasons
                        .iter()
                        .filter(|r| r.starts_with("model not trusted"))
                        .cloned(),
                )
                .chain(notes)
                .collect()
        }
        Status::InsufficientData | Status::NoData | Status::Error => w.reasons.clone(),
    }
}

/// The reasons for the bounds that change: the `min …`/`max …` lines of the
/// bounds that differ from today's.
#[must_use]
pub fn change_reasons(w: &WorkloadPlan) -> Vec<String> {
    // In schedule mode min is the schedule's for now, as the range says.
    let scheduled = w.scheduled_min.is_some();
    let min_changes = w
        .current
        .is_none_or(|c| Some(c.min_replicas) != w.scheduled_min.or(w.min_replicas));
    let max_changes = w
        .current
        .is_none_or(|c| Some(c.max_replicas) != w.max_replicas);
    w.reasons
        .iter()
        .filter(|r| {
            (min_changes && (r.starts_with("min ") || (scheduled && r.starts_with("schedule:"))))
                || (max_changes && r.starts_with("max "))
        })
        .cloned()
        .collect()
}

/// `3..15`, or `-` when unknown.
#[must_use]
pub fn current_range(w: &WorkloadPlan) -> String {
    w.current.map_or_else(
        || "-".into(),
        |c| range(Some(c.min_replicas), Some(c.max_replicas)),
    )
}

/// `2..23`, or `-` when there is no recommendation. In schedule mode min
/// is the schedule's for now: what `apply` sets (the horizon's lowest is
/// in the JSON's `min_replicas` and the reasons).
#[must_use]
pub fn recommended_range(w: &WorkloadPlan) -> String {
    let recommended = range(w.scheduled_min.or(w.min_replicas), w.max_replicas);
    // A range held at a ceiling below the need is no cut: said, so that
    // "2..12 → 2..10" does not read as "max lowered" beside a load that
    // needs 32.
    if w.status == Status::NeedsOperator {
        format!("{recommended} (ceiling too low)")
    } else {
        recommended
    }
}

/// Text as a terminal, a CSV reader or a web page may show it: control
/// characters (but line breaks and tabs) and bidirectional overrides
/// written as escapes (`\u{1b}`), so that nothing a file, a config or a
/// server's error message holds can move a terminal's cursor, recolour
/// it, make an HTML report ill-formed or reorder what is read.
#[must_use]
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Text for HTML and XML: `&`, `<`, `>`, `"` and `'` escaped, and what
/// [`visible`] escapes.
#[must_use]
pub fn escape(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A CSV field: quoted when it holds a comma, a quote or a line break;
/// control characters escaped ([`visible`]).
#[must_use]
pub fn csv_field(text: &str) -> String {
    let text = visible(text);
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The JSON report (pretty-printed, newline-terminated).
#[must_use]
pub fn render_json(plan: &Plan) -> String {
    // Each workload with its severity, as the CSV and the Markdown have it.
    let mut value = serde_json::to_value(plan).expect("a plan always serialises");
    if let Some(workloads) = value.get_mut("workloads").and_then(|w| w.as_array_mut()) {
        for (json, w) in workloads.iter_mut().zip(&plan.workloads) {
            if let Some(object) = json.as_object_mut() {
                object.insert("severity".into(), severity(w).as_str().into());
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&value).expect("a value always serialises");
    text.push('\n');
    text
}

pub(crate) fn range(min: Option<u32>, max: Option<u32>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("{min}..{max}"),
        _ => "-".into(),
    }
}

/// When the report was made and, when the data ends elsewhere (a file's
/// last sample, a replay's `--at`), up to when: a replayed report read as
/// one of today's.
#[must_use]
pub fn generated(plan: &Plan) -> String {
    let until = plan.workloads.iter().filter_map(|w| w.now).max();
    let generated = crate::core::time::parse_timestamp(&plan.generated_at).ok();
    match (until, generated) {
        (Some(until), Some(at)) if (at - until).abs() > 3600 => format!(
            "generated {} · data up to {}",
            plan.generated_at,
            crate::core::time::format_timestamp(until)
        ),
        _ => format!("generated {}", plan.generated_at),
    }
}

/// A load for people: 3 significant-ish digits, exponent when huge or
/// tiny (a load of 0.0007 printed `0.00`, as if there were none).
#[must_use]
pub fn number(x: f64) -> String {
    if x.abs() >= 1e5 || (x != 0.0 && x.abs() < 0.01) {
        format!("{x:.3e}")
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Columns aligned kubectl-style: each as wide as its widest cell, three
/// spaces apart, no trailing blanks.
#[must_use]
pub fn aligned<R: AsRef<[String]>>(header: &[&str], rows: &[R]) -> String {
    aligned_painted(header, rows, |_, _| None)
}

/// How many terminal columns `text` takes: a CJK character or an emoji
/// takes two, a combining mark none (counting characters misaligned a
/// table holding them).
#[must_use]
pub fn columns(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// [`aligned`], with the cells `paint(row, column)` names wrapped in that
/// ANSI colour (the padding stays outside, so the columns stay aligned).
pub(crate) fn aligned_painted<R: AsRef<[String]>>(
    header: &[&str],
    rows: &[R],
    paint: impl Fn(usize, usize) -> Option<&'static str>,
) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| columns(h)).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row.as_ref()) {
            *width = (*width).max(columns(cell));
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_string()).collect();
    let lines = std::iter::once(header.as_slice()).chain(rows.iter().map(AsRef::as_ref));
    for (line, cells) in lines.enumerate() {
        let mut text = String::new();
        for (column, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            let pad = width - columns(cell);
            match line.checked_sub(1).and_then(|row| paint(row, column)) {
                Some(colour) => {
                    let _ = write!(text, "\x1b[{colour}m{cell}\x1b[0m{:pad$}   ", "");
                }
                None => {
                    let _ = write!(text, "{cell}{:pad$}   ", "");
                }
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// The ANSI colour of a status: green ok, bold red when an operator must
/// act on the bounds, yellow otherwise.
pub(crate) fn status_colour(status: Status) -> &'static str {
    match status {
        Status::Ok => "32",
        Status::NeedsOperator => "1;31",
        Status::InsufficientData | Status::NoData | Status::Error => "33",
    }
}

/// `1 shift · 3 spikes · 12 dips`, or `-`.
pub(crate) fn event_counts(w: &WorkloadPlan) -> String {
    let parts: Vec<String> = [
        (EventKind::Shift, "shift"),
        (EventKind::Spike, "spike"),
        (EventKind::Dip, "dip"),
    ]
    .iter()
    .filter_map(|&(kind, name)| {
        let count = w.events.iter().filter(|e| e.kind == kind).count();
        (count > 0).then(|| count_of(count, name))
    })
    .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" · ")
    }
}

/// An aligned, kubectl-like table, then one line per workload that is not
/// ok. `colour`: the status in ANSI colours (for a terminal).
#[must_use]
pub fn render_table(plan: &Plan, colour: bool) -> String {
    let header = [
        "NAMESPACE",
        "NAME",
        "STATUS",
        "CURRENT",
        "RECOMMENDED",
        "LOAD LOW",
        "LOAD HIGH",
        "EVENTS",
        "MODEL",
    ];
    let rows: Vec<[String; 9]> = plan
        .workloads
        .iter()
        .map(|w: &WorkloadPlan| {
            let (low, high) = w.expected_load.map_or(("-".into(), "-".into()), |l| {
                (number(l.low), number(l.high))
            });
            [
                visible(&w.namespace).into_owned(),
                visible(&w.name).into_owned(),
                w.status.as_str().to_string(),
                current_range(w),
                recommended_range(w),
                low,
                high,
                event_counts(w),
                visible(w.model.as_deref().unwrap_or("-")).into_owned(),
            ]
        })
        .collect();
    let mut out = aligned_painted(&header, &rows, |row, column| {
        (colour && column == 2).then(|| status_colour(plan.workloads[row].status))
    });
    for w in plan.workloads.iter().filter(|w| w.status.as_str() != "ok") {
        let why = w
            .reasons
            .iter()
            .filter(|r| !r.starts_with("history:") && !r.starts_with("model:"))
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            out,
            "{}/{} {}: {}",
            visible(&w.namespace),
            visible(&w.name),
            w.status.as_str(),
            visible(&why.replace('\n', " "))
        );
    }
    for line in config_error_lines(plan) {
        let _ = writeln!(out, "{}", visible(&line.replace('\n', " ")));
    }
    // Ok, but critical: the same page the alert and the incident make.
    for w in plan.workloads.iter().filter(|w| w.status == Status::Ok) {
        if let Some(spike) = spike_above_max(w) {
            let _ = writeln!(
                out,
                "{}/{} critical: {spike} (spike_above_max: the HPA is capped until it passes)",
                visible(&w.namespace),
                visible(&w.name),
            );
        }
        // The bounds stand, on a forecast the run itself distrusts: a
        // warning the table's `ok` alone hid.
        for why in w
            .reasons
            .iter()
            .filter(|r| w.untrustworthy_model && r.starts_with("model not trusted"))
        {
            let _ = writeln!(
                out,
                "{}/{} warning: {} (untrustworthy_model)",
                visible(&w.namespace),
                visible(&w.name),
                visible(&why.replace('\n', " "))
            );
        }
    }
    out
}

/// Combines the shard reports of one fleet (`homeostat report merge`):
/// their workloads in `order` (`namespace/name`s, a config's order), or
/// sorted by namespace and name without one; stamped with the latest
/// shard's time. Errs when a workload is in two shards. Returns the fleet
/// report and what is wrong with it: the workloads of `order` no shard
/// holds, and those no `order` expected.
pub fn merge(
    shards: Vec<(String, Plan)>,
    order: Option<&[String]>,
) -> Result<(Plan, Vec<String>), String> {
    let mut generated_at = String::new();
    let mut by_id: std::collections::HashMap<String, (String, WorkloadPlan)> =
        std::collections::HashMap::new();
    let mut config_errors: Vec<crate::core::plan::ConfigError> = Vec::new();
    for (source, plan) in shards {
        generated_at = generated_at.max(plan.generated_at);
        for error in plan.config_errors {
            if !config_errors.iter().any(|e| e.workload == error.workload) {
                config_errors.push(error);
            }
        }
        for w in plan.workloads {
            let id = format!("{}/{}", w.namespace, w.name);
            if let Some((first, _)) = by_id.get(&id) {
                return Err(format!(
                    "{id} is in two shard reports, {first} and {source}: were they made with the same --shard count?"
                ));
            }
            by_id.insert(id, (source.clone(), w));
        }
    }
    let mut problems = Vec::new();
    let mut workloads = Vec::with_capacity(by_id.len());
    if let Some(order) = order {
        for id in order {
            if let Some((_, w)) = by_id.remove(id) {
                workloads.push(w);
            } else {
                let problem = format!("{id}: in the config but in no shard report");
                // In the merged report too, as an error: a file that left
                // it out would read as the whole fleet's.
                let (namespace, name) = id.split_once('/').unwrap_or(("", id));
                let mut missing = WorkloadPlan::empty(namespace, name, name, Status::Error)
                    .with_error_kind("shard_missing");
                missing.reasons.push(format!(
                    "{problem}: its shard did not run, failed, or its report was not passed to `report merge`"
                ));
                workloads.push(missing);
                problems.push(problem);
            }
        }
        let mut extra: Vec<&String> = by_id.keys().collect();
        extra.sort();
        problems.extend(
            extra
                .into_iter()
                .map(|id| format!("{id}: in a shard report but not in the config")),
        );
    }
    let mut rest: Vec<WorkloadPlan> = by_id.into_values().map(|(_, w)| w).collect();
    rest.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    workloads.extend(rest);
    Ok((
        Plan {
            generated_at,
            workloads,
            config_errors,
        },
        problems,
    ))
}

/// The recommendation as CSV, one row per workload (config order); the
/// reasons joined by ` | `.
#[must_use]
pub fn render_csv(plan: &Plan) -> String {
    let mut out = String::from(
        "namespace,name,hpa,status,severity,current_min,current_max,min_replicas,max_replicas,scheduled_min,expected_load_low,expected_load_high,target_per_replica,model,seasonality,validation_mase,shifts,spikes,dips,in_spike,load_now,now,reasons\n",
    );
    let opt = |x: Option<String>| x.unwrap_or_default();
    for w in &plan.workloads {
        let count = |kind: EventKind| w.events.iter().filter(|e| e.kind == kind).count();
        let fields = [
            w.namespace.clone(),
            w.name.clone(),
            w.hpa.clone(),
            w.status.as_str().to_string(),
            severity(w).as_str().to_string(),
            opt(w.current.map(|c| c.min_replicas.to_string())),
            opt(w.current.map(|c| c.max_replicas.to_string())),
            opt(w.min_replicas.map(|v| v.to_string())),
            opt(w.max_replicas.map(|v| v.to_string())),
            opt(w.scheduled_min.map(|v| v.to_string())),
            opt(w.expected_load.map(|l| l.low.to_string())),
            opt(w.expected_load.map(|l| l.high.to_string())),
            opt(w.target_per_replica.map(|v| v.to_string())),
            opt(w.model.clone()),
            opt(w.seasonality.clone()),
            opt(w.validation_mase.map(|v| v.to_string())),
            count(EventKind::Shift).to_string(),
            count(EventKind::Spike).to_string(),
            count(EventKind::Dip).to_string(),
            w.in_spike.to_string(),
            // What a spike page quotes ("at 117 over the last 15 minutes").
            opt(w.load_now.map(|v| v.to_string())),
            w.now.map(format_timestamp).unwrap_or_default(),
            w.reasons.join(" | "),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    // An entry without names: its place as the name, the rest empty.
    let empty = ",".repeat(16);
    for e in &plan.config_errors {
        let _ = writeln!(
            out,
            ",{},,error,{},{empty},{}",
            csv_field(&e.workload),
            Severity::Warning.as_str(),
            csv_field(&e.reason())
        );
    }
    out
}

/// The forecast CSV of `homeostat forecast`: `timestamp,mean,lower,upper`.
#[must_use]
pub fn render_forecast_csv(forecast: &Forecast, level: Level) -> String {
    let mut out = String::from("timestamp,mean,lower,upper\n");
    for (i, (mean, interval)) in forecast
        .mean
        .iter()
        .zip(forecast.interval(level))
        .enumerate()
    {
        let _ = writeln!(
            out,
            "{},{mean},{},{}",
            format_timestamp(forecast.timestamp(i)),
            interval.lower,
            interval.upper
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{aligned, columns, csv_field, escape, render_table, severity, Severity};
    use crate::core::plan::{Plan, Status, WorkloadPlan};
    use crate::core::workload::CurrentBounds;

    #[test]
    fn loads_keep_their_digits_at_any_size() {
        let shown: Vec<String> = [0.0, 0.000_727_5, 0.0075, 0.5, 42.0, 318.4, 2_210_780.0]
            .into_iter()
            .map(super::number)
            .collect();
        assert_eq!(
            shown,
            ["0.00", "7.275e-4", "7.500e-3", "0.50", "42.00", "318", "2.211e6"]
        );
    }

    #[test]
    fn wide_characters_keep_the_columns_aligned() {
        // Issue 19: a name of CJK characters (two terminal columns each)
        // pushed the rest of its row left by one column per character.
        let rows = vec![
            vec!["決済サービス".to_string(), "ok".to_string()],
            vec!["checkout".to_string(), "ok".to_string()],
            vec!["café".to_string(), "ok".to_string()],
        ];
        let table = aligned(&["NAME", "STATUS"], &rows);
        let starts: Vec<usize> = table
            .lines()
            .map(|line| {
                let at = line.rfind("STATUS").or_else(|| line.rfind("ok")).unwrap();
                columns(&line[..at])
            })
            .collect();
        assert_eq!(columns("決済サービス"), 12);
        assert!(starts.iter().all(|&s| s == starts[0]), "{table}");
    }

    fn plan(workloads: Vec<WorkloadPlan>) -> Plan {
        Plan {
            generated_at: "2026-11-26T00:00:00Z".into(),
            workloads,
            config_errors: Vec::new(),
        }
    }

    fn recommended(name: &str, current: (u32, u32), new: (u32, u32)) -> WorkloadPlan {
        WorkloadPlan {
            min_replicas: Some(new.0),
            max_replicas: Some(new.1),
            current: Some(CurrentBounds {
                min_replicas: current.0,
                max_replicas: current.1,
            }),
            ..WorkloadPlan::empty("ns", name, name, Status::Ok)
        }
    }

    /// A config entry without names is in every format: a line of the
    /// table, a CSV row with as many fields as the header, the Markdown's
    /// and HTML's operator lists, the JSON, and the summary's count.
    #[test]
    fn a_config_entry_that_did_not_run_is_in_every_format() {
        let mut plan = plan(vec![recommended("cart", (2, 10), (3, 12))]);
        plan.config_errors.push(crate::core::plan::ConfigError {
            workload: "workload #2 (counting from 1)".into(),
            problem: "workload #2 (counting from 1) (homeostat.yaml:9:5: missing field `name`)"
                .into(),
            config: "/etc/homeostat.yaml".into(),
        });
        assert_eq!(plan.exit_code(), 1);
        // Its place once, then why.
        let line = "workload #2 (counting from 1) error: not run, the config is invalid for it (the others ran): homeostat.yaml:9:5: missing field `name`";
        assert!(render_table(&plan, false).contains(line));
        let csv = super::render_csv(&plan);
        // Commas outside quotes (no quotes inside the fields here).
        let fields: Vec<usize> = csv
            .lines()
            .map(|l| {
                l.split('"')
                    .step_by(2)
                    .map(|s| s.matches(',').count())
                    .sum()
            })
            .collect();
        assert_eq!(fields, vec![fields[0]; 3], "{csv}");
        assert!(
            csv.lines()
                .nth(2)
                .unwrap()
                .starts_with(",workload #2 (counting from 1),,error,warning,"),
            "{csv}"
        );
        let markdown = super::markdown::render(&plan);
        assert!(markdown.contains("2 workloads: 0 critical, 1 warning, 1 change, 0 unchanged (1 of them a config entry without readable names, not run)"), "{markdown}");
        assert!(
            markdown.contains("- workload #2 (counting from 1) (error): not run"),
            "{markdown}"
        );
        assert!(super::html::render(&plan, &[]).contains(&escape(line)));
        let json: serde_json::Value = serde_json::from_str(&super::render_json(&plan)).unwrap();
        assert_eq!(
            json["config_errors"][0]["workload"],
            "workload #2 (counting from 1)"
        );
        let back: Plan = serde_json::from_str(&super::render_json(&plan)).unwrap();
        assert_eq!(back.config_errors, plan.config_errors);
    }

    /// In schedule mode the change of min is the schedule's, and its
    /// reason is among those of the change (review: the HTML said why max
    /// changed, not why min went 3 → 12).
    #[test]
    fn in_schedule_mode_the_schedule_says_why_min_changes() {
        let mut w = recommended("sched", (3, 15), (3, 20));
        w.reasons = vec![
            "min 3: lowest expected load".into(),
            "max 20: highest expected load".into(),
            "schedule: min 12 now".into(),
        ];
        assert_eq!(
            super::change_reasons(&w),
            vec!["max 20: highest expected load".to_string()]
        );
        w.scheduled_min = Some(12);
        assert_eq!(
            super::change_reasons(&w),
            vec![
                "min 3: lowest expected load".to_string(),
                "max 20: highest expected load".to_string(),
                "schedule: min 12 now".to_string()
            ]
        );
    }

    /// In schedule mode `apply` sets the schedule's min for now: the
    /// report says that range and counts it as a change (review finding:
    /// "unchanged, 2..20" while apply would patch to 3..20).
    #[test]
    fn in_schedule_mode_the_report_shows_and_counts_the_min_apply_sets() {
        let mut w = recommended("sched", (2, 20), (2, 20));
        assert_eq!(severity(&w), Severity::Unchanged);
        w.scheduled_min = Some(3);
        assert_eq!(super::recommended_range(&w), "3..20");
        let mut capped = w.clone();
        capped.status = Status::NeedsOperator;
        assert_eq!(super::recommended_range(&capped), "3..20 (ceiling too low)");
        assert_eq!(severity(&w), Severity::Change);
        assert!(super::recommends_change(&w));
        w.scheduled_min = Some(2);
        assert_eq!(severity(&w), Severity::Unchanged);
    }

    #[test]
    fn a_spike_going_on_above_max_is_critical_with_its_reason() {
        // The plan that sends a critical `spike_above_max` alert must not
        // read "ok, change, 0 critical" in the report.
        let mut w = recommended("spiking", (2, 12), (2, 18));
        w.target_per_replica = Some(5.0);
        w.events = vec![crate::core::plan::Event {
            kind: crate::core::events::EventKind::Spike,
            start: "2026-01-01T23:00:00Z".into(),
            end: None,
            before: 20.0,
            after: 298.0,
        }];
        w.in_spike = true;
        assert_eq!(severity(&w), Severity::Critical);
        let reasons = super::operator_reasons(&w);
        assert_eq!(
            reasons,
            ["a spike peaking at 298 is going on above the 90 that max 18 carries: its peak needs 60 replicas at 5 a replica"]
        );
        assert!(super::summary_line(&plan(vec![w.clone()])).contains("1 critical"));
        // Once it is over, the same plan is an ordinary change.
        w.in_spike = false;
        assert_eq!(severity(&w), Severity::Change);
        assert!(super::operator_reasons(&w).is_empty());
    }

    #[test]
    fn colours_wrap_only_the_status_and_keep_the_columns_aligned() {
        let report = plan(vec![
            recommended("a", (1, 2), (1, 2)),
            WorkloadPlan::empty("ns", "long-name", "x", Status::NeedsOperator),
        ]);
        let plain = render_table(&report, false);
        let coloured = render_table(&report, true);
        assert!(!plain.contains('\x1b'));
        assert!(coloured.contains("\x1b[32mok\x1b[0m"));
        assert!(coloured.contains("\x1b[1;31mneeds_operator\x1b[0m"));
        let strip = coloured
            .replace("\x1b[32m", "")
            .replace("\x1b[1;31m", "")
            .replace("\x1b[0m", "");
        assert_eq!(strip, plain);
    }

    #[test]
    fn severity_orders_operator_work_before_changes_before_nothing() {
        let unchanged = recommended("a", (1, 2), (1, 2));
        let changed = recommended("b", (1, 2), (1, 3));
        let mut untrusted = recommended("c", (1, 2), (1, 2));
        untrusted.untrustworthy_model = true;
        let capped = WorkloadPlan::empty("ns", "d", "d", Status::NeedsOperator);
        let missing = WorkloadPlan::empty("ns", "e", "e", Status::NoData);
        let got: Vec<Severity> = [&unchanged, &changed, &untrusted, &capped, &missing]
            .iter()
            .map(|w| severity(w))
            .collect();
        assert_eq!(
            got,
            [
                Severity::Unchanged,
                Severity::Change,
                Severity::Warning,
                Severity::Critical,
                Severity::Warning
            ]
        );
        let report = plan(vec![unchanged, changed, untrusted, capped, missing]);
        let order: Vec<&str> = super::by_urgency(&report)
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        assert_eq!(order, ["d", "c", "e", "b", "a"]);
    }

    #[test]
    fn the_table_says_when_the_bounds_rest_on_a_model_not_trusted() {
        let mut untrusted = recommended("c", (1, 2), (1, 2));
        untrusted.untrustworthy_model = true;
        untrusted
            .reasons
            .push("model not trusted: its backtest error is 3.4 times …".into());
        let table = render_table(&plan(vec![untrusted]), false);
        assert!(
            table.ends_with("ns/c warning: model not trusted: its backtest error is 3.4 times … (untrustworthy_model)\n"),
            "{table}"
        );
    }

    #[test]
    fn escaping_covers_markup_and_csv_quoting() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(r#"a, "b""#), r#""a, ""b""""#);
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_without_trailing_blanks() {
        let rows = [["xxx".to_string(), "y".to_string()]];
        assert_eq!(aligned(&["A", "BB"], &rows), "A     BB\nxxx   y\n");
    }
}
