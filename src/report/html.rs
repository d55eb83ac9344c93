//! The HTML reports: one self-contained page (inline CSS and SVG, no
//! script, no external fonts or links) that a platform team can forward.
//! The markup is also well-formed XML, so that any parser — strict ones
//! included — reads it.

use super::{
    change_reasons, chart, current_range, escape, operator_reasons, recommended_range, severity,
    summary_line,
};
use crate::core::plan::{Plan, WorkloadPlan};
use crate::core::replay::Backtest;
use std::fmt::Write as _;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 2rem auto; max-width: 1000px; color: #1a202c; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin: 0 0 .4rem; }
.meta { color: #4a5568; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .8rem 0 1.5rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
th { background: #f7fafc; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: .6rem; font-size: .78rem; font-weight: 600; }
.critical { background: #fed7d7; color: #9b2c2c; }
.warning { background: #fefcbf; color: #975a16; }
.change { background: #bee3f8; color: #2c5282; }
.unchanged { background: #e2e8f0; color: #4a5568; }
section { border-top: 1px solid #e2e8f0; padding: 1.2rem 0; }
section svg { max-width: 100%; height: auto; }
.headline { margin: .2rem 0 .6rem; }
ul.reasons { font-size: .88rem; color: #2d3748; padding-left: 1.2rem; }
ul.reasons li { margin: .15rem 0; }
.operator { background: #fff5f5; border-left: 3px solid #c53030; padding: .4rem .8rem; margin: .5rem 0; }
code { font-size: .85em; }
";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\" xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// An HTML table; `class(row)` gives each row's class.
fn table(header: &[&str], rows: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (class, cells) in rows {
        let _ = write!(out, "<tr class=\"row-{}\">", escape(class));
        for cell in cells {
            // Cells are markup already (escaped by the caller).
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn badge(text: &str) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", escape(text))
}

/// The anchor of a workload's section: `namespace/name` (no Kubernetes
/// name holds a `/`, so it is unique).
fn anchor(namespace: &str, name: &str) -> String {
    escape(&format!("{namespace}/{name}"))
}

fn list(items: &[String], class: &str) -> String {
    let mut out = format!("<ul class=\"{class}\">\n");
    for item in items {
        let _ = writeln!(out, "<li>{}</li>", escape(item));
    }
    out.push_str("</ul>\n");
    out
}

/// The recommendation page: the summary table most urgent first, then one
/// section per workload (same order) with its chart — `charts[i]` is the
/// SVG of `plan.workloads[i]`, `None` when no forecast was made — and its
/// reasons in words.
#[must_use]
pub fn render(plan: &Plan, charts: &[Option<String>]) -> String {
    let order = super::urgency_order(plan);
    let mut body = format!(
        "<h1>homeostat recommendations</h1>\n<p class=\"meta\">{} · {}</p>\n",
        escape(&summary_line(plan)),
        escape(&super::generated(plan))
    );
    let rows: Vec<(String, Vec<String>)> = order
        .iter()
        .map(|&i| {
            let w = &plan.workloads[i];
            let severity = severity(w).as_str();
            (
                severity.to_string(),
                vec![
                    badge(severity),
                    format!(
                        "<a href=\"#{}\">{}/{}</a>",
                        anchor(&w.namespace, &w.name),
                        escape(&w.namespace),
                        escape(&w.name)
                    ),
                    escape(w.status.as_str()),
                    escape(&current_range(w)),
                    format!("<strong>{}</strong>", escape(&recommended_range(w))),
                    escape(&super::load_range(w)),
                    escape(&super::event_counts(w)),
                ],
            )
        })
        .collect();
    body.push_str(&table(
        &[
            "severity",
            "workload",
            "status",
            "current",
            "recommended",
            "expected load",
            "events",
        ],
        &rows,
    ));
    let unnamed = super::config_error_lines(plan);
    if !unnamed.is_empty() {
        body.push_str("<div class=\"operator\"><strong>Needs an operator:</strong> workload entries of the config that did not run</div>\n");
        body.push_str(&list(&unnamed, "reasons"));
    }
    for &i in &order {
        body.push_str(&section(
            &plan.workloads[i],
            charts.get(i).and_then(Option::as_deref),
        ));
    }
    // A merged fleet report has no histories, so no charts to explain.
    if charts.iter().any(Option::is_some) {
        body.push_str("<p class=\"meta\">Charts: the load (the last three horizons, 2 to 14 days), the forecast and its interval, the recommended min and max drawn as the load they carry (replicas × target per replica), spikes shaded red, dips blue, level shifts as violet lines, now as a black line.</p>\n");
    }
    page("homeostat recommendations", &body)
}

fn section(w: &WorkloadPlan, chart: Option<&str>) -> String {
    let severity = severity(w);
    let mut out = format!(
        "<section id=\"{}\">\n<h2>{}/{} {}</h2>\n",
        anchor(&w.namespace, &w.name),
        escape(&w.namespace),
        escape(&w.name),
        badge(severity.as_str())
    );
    let _ = writeln!(
        out,
        "<p class=\"headline\">HPA <code>{}</code> · {} · current {} → recommended <strong>{}</strong>{}{}</p>",
        escape(&w.hpa),
        escape(w.status.as_str()),
        escape(&current_range(w)),
        escape(&recommended_range(w)),
        w.scheduled_min
            .map_or_else(String::new, |m| format!(" · scheduled min now {m}")),
        w.model
            .as_ref()
            .map_or_else(String::new, |m| format!(" · model <code>{}</code>", escape(m)))
    );
    let operator = operator_reasons(w);
    if severity.needs_operator() && !operator.is_empty() {
        let _ = writeln!(
            out,
            "<div class=\"operator\"><strong>Needs an operator:</strong> {}</div>",
            escape(&operator.join("; "))
        );
    }
    let changes = change_reasons(w);
    if super::recommends_change(w) && !changes.is_empty() {
        out.push_str("<p><strong>Why the range changes</strong></p>\n");
        out.push_str(&list(&changes, "reasons"));
    }
    if let Some(svg) = chart {
        out.push_str(svg);
        out.push('\n');
    }
    out.push_str("<details><summary>All reasons</summary>\n");
    out.push_str(&list(&w.reasons, "reasons"));
    out.push_str("</details>\n</section>\n");
    out
}

/// The backtest page: the fleet summary, a table of every policy's
/// outcome, and per workload the verdict, bars of overload minutes and
/// replica-hours per policy, and the simulated replicas against the load
/// over the replay's last week.
///
/// `week_from`: the start of the week the replicas are drawn for (default:
/// the replay's last week).
#[must_use]
pub fn render_backtest(backtest: &Backtest, week_from: Option<i64>) -> String {
    let mut body = format!(
        "<h1>homeostat backtest</h1>\n<p class=\"meta\">{} replayed · generated {}</p>\n",
        super::count_of(backtest.workloads.len(), "workload"),
        escape(&backtest.generated_at)
    );
    let _ = writeln!(
        body,
        "<p class=\"meta\">{}</p>",
        escape(&backtest.settings.describe())
    );
    if let Some(cold) = &backtest.cold_start {
        let _ = writeln!(body, "<p class=\"meta\">{}</p>", escape(cold));
    }
    let fleet: Vec<String> = backtest
        .fleet
        .iter()
        .map(crate::core::replay::FleetChange::describe)
        .collect();
    if backtest.workloads.len() > 1 {
        body.push_str(&list(&fleet, "reasons"));
    }
    let rows: Vec<(String, Vec<String>)> = backtest
        .workloads
        .iter()
        .flat_map(|w| {
            w.policies.iter().map(move |p| {
                (
                    p.policy.as_str().to_string(),
                    vec![
                        format!(
                            "<a href=\"#{}\">{}/{}</a>",
                            anchor(&w.namespace, &w.name),
                            escape(&w.namespace),
                            escape(&w.name)
                        ),
                        escape(p.policy.as_str()),
                    ]
                    .into_iter()
                    .chain(super::backtest::outcome_cells(w, p))
                    .collect(),
                )
            })
        })
        .collect();
    body.push_str(&table(
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
    for (id, reason) in &backtest.failures {
        let _ = writeln!(
            body,
            "<div class=\"operator\">{}: not replayed: {}</div>",
            escape(id),
            escape(reason)
        );
    }
    for w in &backtest.workloads {
        let _ = write!(
            body,
            "<section id=\"{}\">\n<h2>{}/{}</h2>\n<p class=\"headline\">{} to {}: {}</p>\n",
            anchor(&w.namespace, &w.name),
            escape(&w.namespace),
            escape(&w.name),
            escape(&crate::core::time::format_timestamp(w.from)),
            escape(&crate::core::time::format_timestamp(w.to)),
            escape(&w.verdict)
        );
        if let Some(incidents) = w.incidents.describe() {
            let _ = writeln!(body, "<p class=\"meta\">{}</p>", escape(&incidents));
        }
        body.push_str(&chart::policy_bars(w));
        body.push('\n');
        if let Some(week) = week_from.filter(|&t| !chart::week_overlaps(t, w.from, w.to)) {
            let _ = writeln!(
                body,
                "<p class=\"meta\">The week asked for (from {}) is outside this replay ({} to {}): its last week is drawn.</p>",
                crate::core::time::format_timestamp(week),
                crate::core::time::format_timestamp(w.from),
                crate::core::time::format_timestamp(w.to)
            );
        }
        body.push_str(&chart::replay_chart(w, week_from));
        body.push_str("\n</section>\n");
    }
    body.push_str("<p class=\"meta\">Replicas: ready replicas of the simulated HPA under each policy; the grey area is what the load needed (load ÷ what a ready replica serves at 100% utilization). Where a line is under the area, the workload was overloaded.</p>\n");
    page("homeostat backtest", &body)
}

/// A post-mortem draft as a page: the summary, the chart of the load
/// against the range in force (`chart`, when the history could be read),
/// why homeostat could not heal, what the operator changed, the timeline
/// and what homeostat does now.
#[must_use]
pub fn render_postmortem(draft: &crate::report::postmortem::Draft, chart: Option<&str>) -> String {
    let title = format!("Post-mortem draft: {} ({})", draft.incident, draft.cause);
    let mut body = format!("<h1>{}</h1>\n", escape(&title));
    let mut rows = vec![(
        "workload".to_string(),
        vec![
            "workload".to_string(),
            format!("<code>{}</code>", escape(&draft.workload)),
        ],
    )];
    rows.extend(
        draft
            .summary
            .iter()
            .map(|(what, value)| ((*what).to_string(), vec![escape(what), escape(value)])),
    );
    body.push_str(&table(&["", ""], &rows));
    body.push_str("<section>\n<h2>Load against the range in force</h2>\n");
    match chart {
        Some(svg) => body.push_str(svg),
        None => body.push_str("<p class=\"meta\">No chart: the workload's history around the incident could not be read.</p>"),
    }
    let _ = write!(
        body,
        "\n</section>\n<section>\n<h2>Why homeostat could not heal it</h2>\n<div class=\"operator\">{}</div>\n<p>(In the words of the incident's latest run.)</p>\n</section>\n<section>\n<h2>What the operator changed</h2>\n",
        escape(&draft.why)
    );
    if draft.changes.is_empty() {
        let _ = writeln!(
            body,
            "<p>{}</p>",
            escape(crate::report::postmortem::NO_CHANGE_SEEN)
        );
    } else {
        let changes: Vec<String> = draft
            .changes
            .iter()
            .map(|(at, what)| format!("{at}: {what}"))
            .collect();
        body.push_str(&list(&changes, "reasons"));
    }
    body.push_str("</section>\n<section>\n<h2>Timeline</h2>\n");
    let timeline: Vec<(String, Vec<String>)> = draft
        .timeline
        .iter()
        .map(|(at, what)| ("event".to_string(), vec![escape(at), escape(what)]))
        .collect();
    body.push_str(&table(&["time", "what"], &timeline));
    body.push_str(
        "</section>\n<section>\n<h2>What homeostat does now</h2>\n<ul class=\"reasons\">\n",
    );
    for line in &draft.now {
        let _ = writeln!(body, "<li>{}</li>", code_spans(&escape(line)));
    }
    body.push_str("</ul>\n");
    body.push_str("</section>\n");
    page(&title, &body)
}

/// Markdown's `code` spans of an escaped text as `<code>` elements (an odd
/// backtick is left as it is).
fn code_spans(escaped: &str) -> String {
    let parts: Vec<&str> = escaped.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return escaped.to_string();
    }
    parts
        .iter()
        .enumerate()
        .map(|(k, part)| {
            if k % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                (*part).to_string()
            }
        })
        .collect()
}
