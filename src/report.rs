//! Report rendering: plans and forecasts as text. Pure: strings in memory;
//! writing them is the caller's business.

use crate::events::EventKind;
use crate::model::{Forecast, Level};
use crate::plan::{Plan, WorkloadPlan};
use crate::replay::{Outcome, WorkloadReplay};
use crate::run::Backtest;
use crate::time::format_timestamp;
use std::fmt::Write as _;

/// Output formats of `recommend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// The JSON report of DESIGN.md.
    Json,
}

/// Renders a plan in `format`.
#[must_use]
pub fn render(plan: &Plan, format: Format) -> String {
    match format {
        Format::Table => render_table(plan),
        Format::Json => render_json(plan),
    }
}

/// The JSON report (pretty-printed, newline-terminated).
#[must_use]
pub fn render_json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).expect("a plan always serialises");
    text.push('\n');
    text
}

fn range(min: Option<u32>, max: Option<u32>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("{min}..{max}"),
        _ => "-".into(),
    }
}

fn number(x: f64) -> String {
    if x.abs() >= 1e5 {
        format!("{x:.3e}")
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// Columns aligned kubectl-style: each as wide as its widest cell, three
/// spaces apart, no trailing blanks.
fn aligned<R: AsRef<[String]>>(header: &[&str], rows: &[R]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row.as_ref()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_string()).collect();
    for cells in std::iter::once(header.as_slice()).chain(rows.iter().map(AsRef::as_ref)) {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(text, "{cell:<width$}   ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// `1 shift · 3 spikes · 12 dips`, or `-`.
fn event_counts(w: &WorkloadPlan) -> String {
    let parts: Vec<String> = [
        (EventKind::Shift, "shift"),
        (EventKind::Spike, "spike"),
        (EventKind::Dip, "dip"),
    ]
    .iter()
    .filter_map(|&(kind, name)| {
        let count = w.events.iter().filter(|e| e.kind == kind).count();
        (count > 0).then(|| format!("{count} {name}{}", if count == 1 { "" } else { "s" }))
    })
    .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" · ")
    }
}

/// An aligned, kubectl-like table, then one line per workload that is not ok.
#[must_use]
pub fn render_table(plan: &Plan) -> String {
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
            let current = w.current.map_or_else(
                || "-".into(),
                |c| range(Some(c.min_replicas), Some(c.max_replicas)),
            );
            let (low, high) = w.expected_load.map_or(("-".into(), "-".into()), |l| {
                (number(l.low), number(l.high))
            });
            [
                w.namespace.clone(),
                w.name.clone(),
                w.status.as_str().to_string(),
                current,
                range(w.min_replicas, w.max_replicas),
                low,
                high,
                event_counts(w),
                w.model.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut out = aligned(&header, &rows);
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
            "{}/{} {}: {why}",
            w.namespace,
            w.name,
            w.status.as_str()
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

/// `homeostat backtest` as a table: one row per workload and policy, then
/// each workload's verdict.
#[must_use]
pub fn render_backtest_table(backtest: &Backtest) -> String {
    let header = [
        "NAMESPACE",
        "NAME",
        "POLICY",
        "OVERLOAD MIN",
        "OVERLOAD %",
        "AT MAX MIN",
        "UNSERVED %",
        "REPLICA-H",
        "CHANGES",
        "P95 UTIL",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for w in &backtest.workloads {
        for (policy, o) in policies(w) {
            rows.push(vec![
                w.namespace.clone(),
                w.name.clone(),
                policy.to_string(),
                format!("{:.1}", o.overload_minutes),
                format!("{:.2}", o.overload_share * 100.0),
                format!("{:.1}", o.overload_at_max_minutes),
                format!("{:.3}", o.unserved_share * 100.0),
                format!("{:.1}", o.replica_hours),
                o.changes.to_string(),
                format!("{:.2}", o.utilization_p95),
            ]);
        }
    }
    let mut out = aligned(&header, &rows);
    for w in &backtest.workloads {
        let _ = writeln!(out, "{}/{}: {}", w.namespace, w.name, w.verdict);
    }
    if backtest.workloads.len() > 1 {
        for change in &backtest.fleet {
            let _ = writeln!(out, "{}", change.describe());
        }
    }
    for (id, reason) in &backtest.failures {
        let _ = writeln!(out, "{id}: not replayed: {reason}");
    }
    out
}

fn policies(w: &WorkloadReplay) -> impl Iterator<Item = (&'static str, &Outcome)> {
    w.policies.iter().map(|p| (p.policy.as_str(), &p.outcome))
}

/// `homeostat backtest` as JSON (pretty, newline-terminated).
#[must_use]
pub fn render_backtest_json(backtest: &Backtest) -> String {
    let mut text = serde_json::to_string_pretty(backtest).expect("a backtest always serialises");
    text.push('\n');
    text
}

/// `homeostat apply`'s report: one row per workload, then each rule that
/// held a change back and each failure.
#[must_use]
pub fn render_apply_table(run: &crate::run::ApplyRun) -> String {
    let header = [
        "NAMESPACE",
        "NAME",
        "HPA",
        "STATUS",
        "COMPARED",
        "FROM",
        "RECOMMENDED",
        "TO",
        "ACTION",
    ];
    let pair = |a: Option<u32>, b: Option<u32>| match (a, b) {
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => "-".to_string(),
    };
    let rows: Vec<Vec<String>> = run
        .changes
        .iter()
        .map(|c| {
            let id = format!("{}/{}", c.namespace, c.name);
            let failed = run.failures.iter().any(|(f, _)| *f == id);
            let action = match (c.patch, run.dry_run, failed) {
                (_, _, true) => "FAILED",
                (true, true, _) => "would patch",
                (true, false, _) => "patched",
                (false, _, _) => "unchanged",
            };
            vec![
                c.namespace.clone(),
                c.name.clone(),
                c.hpa.clone(),
                c.status.as_str().to_string(),
                c.compared_with.to_string(),
                pair(c.from_min, c.from_max),
                pair(c.recommended_min, c.recommended_max),
                pair(c.to_min, c.to_max),
                action.to_string(),
            ]
        })
        .collect();
    let mut out = aligned(&header, &rows);
    for c in &run.changes {
        for why in &c.held_back {
            let _ = writeln!(out, "{}/{}: {why}", c.namespace, c.name);
        }
    }
    for (id, note) in &run.since_last_run {
        let _ = writeln!(out, "{id}: {note}");
    }
    for (id, failure) in &run.failures {
        let _ = writeln!(out, "{id}: FAILED: {failure}");
    }
    for problem in &run.store_problems {
        let _ = writeln!(out, "model store: {problem}");
    }
    for warning in &run.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    if run.dry_run {
        out.push_str("dry run: no HPA was changed\n");
    }
    out
}

/// `homeostat apply`'s report as JSON.
#[must_use]
pub fn render_apply_json(run: &crate::run::ApplyRun) -> String {
    let mut text = serde_json::to_string_pretty(run).expect("an apply run always serialises");
    text.push('\n');
    text
}

/// `homeostat backtest` as CSV: one row per workload and policy.
#[must_use]
pub fn render_backtest_csv(backtest: &Backtest) -> String {
    let mut out = String::from(
        "namespace,name,from,to,policy,overload_minutes,overload_share,overload_at_max_minutes,unserved_share,replica_hours,changes,utilization_p95\n",
    );
    for w in &backtest.workloads {
        for (policy, o) in policies(w) {
            let _ = writeln!(
                out,
                "{},{},{},{},{policy},{},{},{},{},{},{},{}",
                w.namespace,
                w.name,
                format_timestamp(w.from),
                format_timestamp(w.to),
                o.overload_minutes,
                o.overload_share,
                o.overload_at_max_minutes,
                o.unserved_share,
                o.replica_hours,
                o.changes,
                o.utilization_p95
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::aligned;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_without_trailing_blanks() {
        let rows = [["xxx".to_string(), "y".to_string()]];
        assert_eq!(aligned(&["A", "BB"], &rows), "A     BB\nxxx   y\n");
    }
}
