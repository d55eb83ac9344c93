//! `homeostat apply`'s report: a table for people, JSON for tools.

use super::{aligned_painted, range, status_colour};
use std::fmt::Write as _;

/// `homeostat apply`'s report: one row per workload, then each rule that
/// held a change back and each failure. `colour`: status and action in
/// ANSI colours (for a terminal).
#[must_use]
pub fn render_apply_table(run: &crate::core::apply::ApplyRun, colour: bool) -> String {
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
                range(c.from_min, c.from_max),
                range(c.recommended_min, c.recommended_max),
                range(c.to_min, c.to_max),
                action.to_string(),
            ]
        })
        .collect();
    let mut out = aligned_painted(&header, &rows, |row, column| {
        if !colour {
            return None;
        }
        match column {
            3 => Some(status_colour(run.changes[row].status)),
            8 => match rows[row][8].as_str() {
                "FAILED" => Some("1;31"),
                "patched" | "would patch" => Some("36"),
                _ => None,
            },
            _ => None,
        }
    });
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
    // The failures are said above; what else was alerted, here (an HPA
    // that sat at its max reached Alertmanager and nowhere in the report).
    for t in run
        .troubles
        .iter()
        .filter(|t| t.reason == crate::core::incident::Cause::AtMax.as_str())
    {
        let _ = writeln!(
            out,
            "{}/{}: ALERT {} ({}): {}; {}",
            t.namespace, t.workload, t.reason, t.severity, t.description, t.fix
        );
    }
    for problem in &run.store_problems {
        let _ = writeln!(out, "model store: {problem}");
    }
    for i in &run.incidents_opened {
        let _ = writeln!(
            out,
            "incident {} opened ({}): {}",
            i.id,
            i.cause.as_str(),
            i.blocked_by
        );
    }
    for i in &run.incidents_closed {
        let why = i.closed_why.as_ref().map_or_else(
            || format!("the condition ({}) has cleared", i.cause.as_str()),
            |why| format!("{why} ({})", i.cause.as_str()),
        );
        let _ = writeln!(
            out,
            "incident {} closed: {why}; open since {}, {} {}",
            i.id,
            i.opened,
            i.runs,
            if i.runs == 1 { "run" } else { "runs" }
        );
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
pub fn render_apply_json(run: &crate::core::apply::ApplyRun) -> String {
    let mut text = serde_json::to_string_pretty(run).expect("an apply run always serialises");
    text.push('\n');
    text
}
