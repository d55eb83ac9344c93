//! `homeostat backtest`'s result as a table, JSON and CSV (Markdown and
//! HTML are in their own modules).

use super::aligned;
use crate::core::replay::{Backtest, Outcome, PolicyOutcome, WorkloadReplay};
use crate::core::time::format_timestamp;
use std::fmt::Write as _;

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
        for p in &w.policies {
            let o = &p.outcome;
            let mut row = vec![
                w.namespace.clone(),
                w.name.clone(),
                p.policy.as_str().to_string(),
            ];
            if w.shown(p.policy) {
                row.extend([
                    format!("{:.1}", o.overload_minutes),
                    format!("{:.2}", o.overload_share * 100.0),
                    format!("{:.1}", o.overload_at_max_minutes),
                    format!("{:.3}", o.unserved_share * 100.0),
                    format!("{:.1}", o.replica_hours),
                    o.changes.to_string(),
                    format!("{:.2}", o.utilization_p95),
                ]);
            } else {
                row.extend(std::iter::repeat_n("-".to_string(), 7));
            }
            rows.push(row);
        }
    }
    let mut out = aligned(&header, &rows);
    let _ = writeln!(out, "{}", backtest.settings.describe());
    if let Some(cold) = &backtest.cold_start {
        let _ = writeln!(out, "{cold}");
    }
    for w in &backtest.workloads {
        let _ = writeln!(out, "{}/{}: {}", w.namespace, w.name, w.verdict);
        if let Some(incidents) = w.incidents.describe() {
            let _ = writeln!(out, "{}/{}: {incidents}", w.namespace, w.name);
        }
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

/// A policy's cells in the Markdown and HTML tables (overload minutes,
/// at max, unserved %, replica-hours, changes): `-` for an outcome that is
/// no baseline (see [`WorkloadReplay::shown`]).
pub(super) fn outcome_cells(w: &WorkloadReplay, p: &PolicyOutcome) -> Vec<String> {
    if !w.shown(p.policy) {
        return vec!["-".to_string(); 5];
    }
    let o = &p.outcome;
    vec![
        format!("{:.1}", o.overload_minutes),
        format!("{:.1}", o.overload_at_max_minutes),
        format!("{:.3}", o.unserved_share * 100.0),
        format!("{:.1}", o.replica_hours),
        o.changes.to_string(),
    ]
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
