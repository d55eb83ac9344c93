//! Markdown reports: compact, for a pull request or a chat message.

use super::{
    by_urgency, change_reasons, current_range, operator_reasons, recommended_range, severity,
    summary_line,
};
use crate::core::plan::Plan;
use crate::core::replay::Backtest;
use std::fmt::Write as _;

/// A table cell: pipes escaped, line breaks flattened, control
/// characters written as escapes ([`super::visible`]), and outside code
/// spans `<`, `>` and `&` as entities (a file name or a server's message
/// is not markup: `<img src=x onerror=…>` in a path must not render).
pub(super) fn cell(text: &str) -> String {
    let flat = super::visible(&text.replace(['\n', '\r'], " ")).replace('|', "\\|");
    flat.split('`')
        .enumerate()
        .map(|(k, part)| {
            if k % 2 == 1 {
                part.to_string()
            } else {
                part.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// A Markdown table.
#[must_use]
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The recommendation: a summary line, the table most urgent first, then
/// one line per workload that needs an operator and one per change, each
/// with its reason.
#[must_use]
pub fn render(plan: &Plan) -> String {
    let mut out = format!(
        "### homeostat recommendations\n\n{} · {}\n\n",
        summary_line(plan),
        super::generated(plan)
    );
    let workloads = by_urgency(plan);
    let rows: Vec<Vec<String>> = workloads
        .iter()
        .map(|w| {
            let severity = severity(w);
            let label = if severity.needs_operator() {
                format!("**{}**", severity.as_str())
            } else {
                severity.as_str().to_string()
            };
            vec![
                label,
                format!("`{}/{}`", w.namespace, w.name),
                w.status.as_str().to_string(),
                current_range(w),
                recommended_range(w),
                super::load_range(w),
                w.model.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "severity",
            "workload",
            "status",
            "current",
            "recommended",
            "expected load",
            "model",
        ],
        &rows,
    ));
    let operator: Vec<_> = workloads
        .iter()
        .filter(|w| severity(w).needs_operator())
        .collect();
    if !operator.is_empty() || !plan.config_errors.is_empty() {
        out.push_str("\n**Needs an operator**\n\n");
        for w in operator {
            let _ = writeln!(
                out,
                "- `{}/{}` ({}): {}",
                super::visible(&w.namespace),
                super::visible(&w.name),
                w.status.as_str(),
                cell(&operator_reasons(w).join("; "))
            );
        }
        for e in &plan.config_errors {
            let _ = writeln!(
                out,
                "- {} (error): {}",
                cell(&e.workload),
                cell(&e.reason())
            );
        }
    }
    // Bounds that rest on the fleet's shapes: a reviewer should know how
    // little history they stand on (and a `like:` that was not found).
    let young: Vec<_> = workloads
        .iter()
        .filter(|w| w.cold_start.is_some())
        .collect();
    if !young.is_empty() {
        out.push_str("\n**Young workloads**\n\n");
        for w in young {
            let said: Vec<&str> = w
                .reasons
                .iter()
                .map(String::as_str)
                .filter(|r| {
                    r.starts_with("cold start:")
                        || r.starts_with("young workload:")
                        || r.starts_with("like: ")
                })
                .collect();
            let _ = writeln!(
                out,
                "- `{}/{}`: {}",
                super::visible(&w.namespace),
                super::visible(&w.name),
                cell(&said.join("; "))
            );
        }
    }
    let changes: Vec<_> = workloads
        .iter()
        .filter(|w| super::recommends_change(w))
        .collect();
    if !changes.is_empty() {
        out.push_str("\n**Changes**\n\n");
        for w in changes {
            let _ = writeln!(
                out,
                "- `{}/{}` {} → {}: {}",
                super::visible(&w.namespace),
                super::visible(&w.name),
                current_range(w),
                recommended_range(w),
                cell(&change_reasons(w).join("; "))
            );
        }
    }
    out
}

/// The backtest: the fleet summary, then per workload and policy the
/// overload and the replica-hours, then each workload's verdict.
#[must_use]
pub fn render_backtest(backtest: &Backtest) -> String {
    let mut out = format!(
        "### homeostat backtest\n\n{} replayed · generated {}\n\n",
        super::count_of(backtest.workloads.len(), "workload"),
        backtest.generated_at
    );
    let _ = writeln!(out, "{}\n", cell(&backtest.settings.describe()));
    if let Some(cold) = &backtest.cold_start {
        let _ = writeln!(out, "{}\n", cell(cold));
    }
    if backtest.workloads.len() > 1 {
        for change in &backtest.fleet {
            let _ = writeln!(out, "- {}", cell(&change.describe()));
        }
        out.push('\n');
    }
    let rows: Vec<Vec<String>> = backtest
        .workloads
        .iter()
        .flat_map(|w| {
            w.policies.iter().map(move |p| {
                let mut row = vec![
                    format!("`{}/{}`", w.namespace, w.name),
                    p.policy.as_str().to_string(),
                ];
                row.extend(super::backtest::outcome_cells(w, p));
                row
            })
        })
        .collect();
    out.push_str(&table(
        &[
            "workload",
            "policy",
            "overload min",
            "at max min",
            "unserved %",
            "replica-h",
            "bound changes",
        ],
        &rows,
    ));
    out.push('\n');
    for w in &backtest.workloads {
        let _ = writeln!(
            out,
            "- `{}/{}`: {}",
            super::visible(&w.namespace),
            super::visible(&w.name),
            cell(&w.verdict)
        );
        if let Some(incidents) = w.incidents.describe() {
            let _ = writeln!(
                out,
                "- `{}/{}`: {}",
                super::visible(&w.namespace),
                super::visible(&w.name),
                cell(&incidents)
            );
        }
    }
    for (id, reason) in &backtest.failures {
        let _ = writeln!(out, "- `{id}`: not replayed: {}", cell(reason));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn a_cell_shows_markup_as_text_outside_code_spans() {
        assert_eq!(
            cell("missing <img src=x onerror=alert(1)>|`a<b`.csv & more"),
            "missing &lt;img src=x onerror=alert(1)&gt;\\|`a<b`.csv &amp; more"
        );
    }
}
