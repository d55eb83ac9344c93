//! `homeostat postmortem`: a draft post-mortem of one incident in Markdown
//! (for a pull request or an incident tracker), from what the model store
//! kept — the incident, the runs around it, what the operator changed.

use super::range;
use crate::core::incident::{Cause, Incident, RunRecord};
use std::fmt::Write as _;

/// What the cause means, for a reader who did not see the alert.
fn cause_in_words(cause: Cause) -> &'static str {
    match cause {
        Cause::NeedsOperator => "the expected load needed more replicas than a ceiling allows",
        Cause::SpikeAboveMax => "a spike went above what the max in force carries",
        Cause::AtMax => "the HPA sat at its max for longer than it should",
    }
}

/// A post-mortem draft, as data: the Markdown and the HTML pages render
/// the same one.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub incident: String,
    pub cause: &'static str,
    /// `namespace/name`.
    pub workload: String,
    /// The summary table's rows after the workload's: (what, value).
    pub summary: Vec<(&'static str, String)>,
    pub why: String,
    /// What the operator changed: (when, what).
    pub changes: Vec<(String, String)>,
    /// Runs, the incident's opening and closing and the operator's
    /// changes, in time order: (when, what).
    pub timeline: Vec<(String, String)>,
    /// What homeostat does now, and what it learned from this incident.
    pub now: Vec<String>,
}

/// Said when the store saw no change of the operator's.
pub const NO_CHANGE_SEEN: &str = "Nothing homeostat could see (the config's floors, ceilings, target and headroom, the HPA's bounds). Add what it cannot see here: a code fix, a new node pool.";

/// The draft of `incident`: summary, why homeostat could not heal, what the
/// operator changed, the timeline (runs from the one before the incident
/// to the one that closed it) and what homeostat does now. `runs`: the
/// workload's history, oldest first; `learned`: what homeostat learned
/// from it, in words.
#[must_use]
pub fn draft(
    incident: &Incident,
    runs: &[RunRecord],
    learned: &[String],
    open_since: Option<&Incident>,
) -> Draft {
    let workload = incident
        .id
        .rsplit_once('#')
        .map_or(incident.id.as_str(), |(w, _)| w);
    let mut summary = vec![
        ("what happened", cause_in_words(incident.cause).to_string()),
        ("opened", incident.opened.clone()),
        (
            "closed",
            incident
                .closed
                .clone()
                .unwrap_or_else(|| "still open".into()),
        ),
        (
            "runs that found it",
            format!("{} (the last at {})", incident.runs, incident.last_seen),
        ),
    ];
    if let Some(started) = &incident.started {
        summary.insert(1, ("began", started.clone()));
    }
    if let (Some(load), Some(capacity)) = (incident.load, incident.capacity) {
        // What the load is: the "why" below is the latest run's words,
        // this the highest of the incident's runs.
        let what = match incident.cause {
            Cause::NeedsOperator => {
                "highest load max was sized for (before headroom) against the range"
            }
            Cause::SpikeAboveMax => "the spike's highest peak against the range",
            Cause::AtMax => "highest load against the range",
        };
        summary.push((
            what,
            format!(
                "{} against the {} the max in force then carries (×{:.1})",
                crate::report::number(load),
                crate::report::number(capacity),
                load / capacity
            ),
        ));
    }
    summary.push((
        "homeostat recommended",
        format!(
            "{} when it opened",
            range(incident.recommended_min, incident.recommended_max)
        ),
    ));
    Draft {
        incident: incident.id.clone(),
        cause: incident.cause.as_str(),
        workload: workload.to_string(),
        summary,
        why: incident.blocked_by.clone(),
        // A change made before the incident opened (seen by the run that
        // opened it, or a note dated before it) is listed as what it may
        // be, its cause. In time order, a note dated earlier among them.
        changes: {
            let mut changes: Vec<(String, String)> = incident
                .operator_changes
                .iter()
                .map(|c| {
                    let what = if c.at <= incident.opened {
                        format!(
                            "{} (made before the incident opened: a possible cause rather than a fix)",
                            c.what
                        )
                    } else {
                        c.what.clone()
                    };
                    (c.at.clone(), what)
                })
                .collect();
            changes.sort_by(|a, b| a.0.cmp(&b.0));
            changes
        },
        timeline: timeline(incident, runs),
        now: what_now(incident, runs, learned, open_since),
    }
}

/// The runs from the one before `incident` to the one that closed it, and
/// what happened to the incident, in time order (at one time, the run
/// first, then what it found).
fn timeline(incident: &Incident, runs: &[RunRecord]) -> Vec<(String, String)> {
    // An open incident's runs up to the latest: those after it was last
    // seen are the ones that could not judge it (no data).
    let latest = runs.last().map_or(incident.last_seen.as_str(), |r| {
        r.at.as_str().max(incident.last_seen.as_str())
    });
    let end = incident.closed.as_deref().unwrap_or(latest);
    let mut lines: Vec<(String, String)> = Vec::new();
    let first = runs
        .iter()
        .rposition(|r| r.at.as_str() < incident.opened.as_str())
        .unwrap_or(0);
    if let Some(oldest) = runs
        .first()
        .filter(|r| r.at.as_str() > incident.opened.as_str())
    {
        lines.push((
            oldest.at.clone(),
            "(the model store keeps a workload's latest runs: those before this one are gone)"
                .to_string(),
        ));
    }
    for run in runs[first..].iter().filter(|r| r.at.as_str() <= end) {
        let applied = match (run.applied_min, run.applied_max) {
            (Some(_), Some(_)) => format!(", applied {}", range(run.applied_min, run.applied_max)),
            _ if run.dry_run => " (dry run)".to_string(),
            _ => String::new(),
        };
        lines.push((
            run.at.clone(),
            format!(
                "run: {} recommended {}{applied}",
                run.status,
                range(run.recommended_min, run.recommended_max)
            ),
        ));
    }
    lines.push((
        incident.opened.clone(),
        format!("incident opened: {}", incident.cause.as_str()),
    ));
    for change in &incident.operator_changes {
        lines.push((change.at.clone(), format!("operator: {}", change.what)));
    }
    if let Some(closed) = &incident.closed {
        lines.push((
            closed.clone(),
            format!(
                "incident closed: {}",
                incident
                    .closed_why
                    .as_deref()
                    .unwrap_or("the condition had cleared")
            ),
        ));
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    collapse_repeated_runs(lines)
}

/// Runs in a row that said the same are one line, with how many and the
/// last's time: an incident of ten days at a run every 15 minutes was a
/// timeline of a thousand identical rows.
fn collapse_repeated_runs(lines: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String, usize, String)> = Vec::new();
    for (at, what) in lines {
        match out.last_mut() {
            Some((_, last, count, until)) if *last == what && what.starts_with("run: ") => {
                *count += 1;
                *until = at;
            }
            _ => out.push((at.clone(), what, 1, at)),
        }
    }
    out.into_iter()
        .map(|(at, what, count, until)| {
            if count > 1 {
                (at, format!("{what} (×{count} runs, the last at {until})"))
            } else {
                (at, what)
            }
        })
        .collect()
}

/// What homeostat does now; `open_since`: an incident of the workload
/// opened after this one closed and still open (the condition back, or
/// another), which the draft must not call cleared.
fn what_now(
    incident: &Incident,
    runs: &[RunRecord],
    learned: &[String],
    open_since: Option<&Incident>,
) -> Vec<String> {
    let mut now = Vec::new();
    match (incident.closed.as_ref(), runs.last()) {
        (Some(closed), _) if incident.closed_why.is_some() => now.push(format!(
            "Closed at {closed} without a judgement: {}.",
            incident.closed_why.as_deref().unwrap_or_default()
        )),
        (Some(closed), Some(run)) => {
            let mut text = format!("The condition cleared at {closed}.");
            if let Some(open) = open_since {
                let _ = write!(
                    text,
                    " Incident {} ({}) has been open since {}: see its post-mortem.",
                    open.id,
                    open.cause.as_str(),
                    open.opened
                );
            }
            let _ = write!(
                text,
                " The latest run ({}) recommended {} ({}){}",
                run.at,
                range(run.recommended_min, run.recommended_max),
                run.status,
                if run.status == "ok" {
                    "; it recommends within the limits the operator set."
                } else {
                    "."
                }
            );
            now.push(text);
        }
        (None, latest) => now.push(match latest {
            // The runs since it was last seen could not judge it.
            Some(run)
                if run.at > incident.last_seen
                    && run.status != "ok"
                    && run.status != "needs_operator" =>
            {
                format!(
                    "The incident is still open, last seen at {}: the runs since (the latest at {}, {}) had no plan to judge it by, so it stays open until one has; their own alert says why.",
                    incident.last_seen, run.at, run.status
                )
            }
            _ => "The incident is still open: every run keeps alerting until the condition clears."
                .to_string(),
        }),
        (Some(_), None) => {}
    }
    // A fix made in the config is there for every later run: nothing to
    // learn. Only a change made while it was open, up to the run that
    // found it closed (one the opening run saw came before it; one noted
    // after it closed is a later change).
    let fixed_in_config = incident.operator_changes.iter().any(|c| {
        c.what.starts_with("config:")
            && c.at > incident.opened
            && incident
                .closed
                .as_ref()
                .is_some_and(|closed| c.at <= *closed)
    });
    if learned.is_empty() && fixed_in_config {
        now.push("Nothing to learn from it: the operator's fix is in the config, and every later run plans with it.".to_string());
    } else if learned.is_empty() {
        now.push("Nothing learned from it yet: an operator's raised ceiling, or the same surge again at the same time, would be.".to_string());
    }
    now.extend(learned.iter().map(|l| format!("Learned: {l}.")));
    now
}

/// The draft in Markdown, for a pull request or an incident tracker.
#[must_use]
pub fn render_markdown(draft: &Draft) -> String {
    let mut out = String::new();
    // Notes are typed by people: no line break or control character of
    // theirs may split a table row or reach a terminal.
    let cell = super::markdown::cell;
    let line = |text: &str| super::visible(&text.replace(['\n', '\r'], " ")).into_owned();
    let _ = writeln!(
        out,
        "# Post-mortem draft: {} ({})\n",
        draft.incident, draft.cause
    );
    let _ = writeln!(out, "| | |\n|---|---|\n| workload | `{}` |", draft.workload);
    for (what, value) in &draft.summary {
        let _ = writeln!(out, "| {what} | {} |", cell(value));
    }
    let _ = writeln!(
        out,
        "\n## Why homeostat could not heal it\n\n{}\n\n(In the words of the incident's latest run.)\n",
        line(&draft.why)
    );
    out.push_str("## What the operator changed\n\n");
    if draft.changes.is_empty() {
        let _ = writeln!(out, "{NO_CHANGE_SEEN}\n");
    } else {
        for (at, what) in &draft.changes {
            let _ = writeln!(out, "- {at}: {}", line(what));
        }
        out.push('\n');
    }
    out.push_str("## Timeline\n\n| time | what |\n|---|---|\n");
    for (at, what) in &draft.timeline {
        let _ = writeln!(out, "| {at} | {} |", cell(what));
    }
    out.push_str("\n## What homeostat does now\n\n");
    for line in &draft.now {
        let _ = writeln!(out, "{line}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::incident::OperatorChange;

    fn run(at: &str, status: &str, max: u32) -> RunRecord {
        RunRecord {
            at: at.into(),
            status: status.into(),
            recommended_min: Some(2),
            recommended_max: Some(max),
            applied_min: None,
            applied_max: None,
            dry_run: true,
            seen: None,
            outside_change: None,
            step_from: None,
            left: None,
            ran_at: None,
            scheduled_min: None,
            schedule_ahead: Vec::new(),
        }
    }

    /// The timeline table's rows of a rendered draft.
    fn timeline_rows(text: &str) -> Vec<&str> {
        text.lines()
            .skip_while(|l| !l.starts_with("## Timeline"))
            .filter(|l| l.starts_with("| 2026"))
            .collect()
    }

    #[test]
    fn a_long_or_unjudged_incident_reads_as_it_went() {
        let incident = Incident {
            id: "web/api#1".into(),
            cause: Cause::SpikeAboveMax,
            opened: "2026-01-02T00:00:00Z".into(),
            started: None,
            closed: None,
            closed_why: None,
            last_seen: "2026-01-02T00:45:00Z".into(),
            runs: 4,
            load: Some(300.0),
            capacity: Some(100.0),
            recommended_min: Some(2),
            recommended_max: Some(3),
            blocked_by: "a spike".into(),
            operator_changes: Vec::new(),
        };
        // The store kept runs from 00:15 on; four alike, then no data.
        let mut runs: Vec<RunRecord> = ["00:15", "00:30", "00:45"]
            .iter()
            .map(|t| run(&format!("2026-01-02T{t}:00Z"), "ok", 3))
            .collect();
        runs.push(run("2026-01-02T06:00:00Z", "insufficient_data", 3));
        runs.push(run("2026-01-03T06:00:00Z", "insufficient_data", 3));
        let text = render_markdown(&draft(&incident, &runs, &[], None));
        let timeline = timeline_rows(&text);
        assert_eq!(
            timeline,
            [
                "| 2026-01-02T00:00:00Z | incident opened: spike_above_max |",
                "| 2026-01-02T00:15:00Z | (the model store keeps a workload's latest runs: those before this one are gone) |",
                "| 2026-01-02T00:15:00Z | run: ok recommended 2..3 (dry run) (×3 runs, the last at 2026-01-02T00:45:00Z) |",
                "| 2026-01-02T06:00:00Z | run: insufficient_data recommended 2..3 (dry run) (×2 runs, the last at 2026-01-03T06:00:00Z) |",
            ],
            "{text}"
        );
        assert!(
            text.contains("The incident is still open, last seen at 2026-01-02T00:45:00Z: the runs since (the latest at 2026-01-03T06:00:00Z, insufficient_data) had no plan to judge it by"),
            "{text}"
        );
    }

    #[test]
    fn the_draft_has_the_summary_the_operators_change_and_a_timeline_in_order() {
        let incident = Incident {
            id: "mobility/taxi#1".into(),
            cause: Cause::NeedsOperator,
            opened: "2026-01-02T00:00:00Z".into(),
            started: None,
            closed: Some("2026-01-02T12:00:00Z".into()),
            closed_why: None,
            last_seen: "2026-01-02T06:00:00Z".into(),
            runs: 2,
            load: Some(30_000.0),
            capacity: Some(6_000.0),
            recommended_min: Some(2),
            recommended_max: Some(3),
            blocked_by: "the expected peak load 30000 needs 15 replicas, above the max ceiling 3"
                .into(),
            operator_changes: vec![OperatorChange {
                at: "2026-01-02T12:00:00Z".into(),
                what: "config: max_replicas.ceiling 3 → 40".into(),
            }],
        };
        let runs = [
            run("2026-01-01T18:00:00Z", "ok", 3),
            run("2026-01-02T00:00:00Z", "needs_operator", 3),
            run("2026-01-02T06:00:00Z", "needs_operator", 3),
            run("2026-01-02T12:00:00Z", "ok", 18),
            run("2026-01-02T18:00:00Z", "ok", 18),
        ];
        let text = render_markdown(&draft(&incident, &runs, &[], None));
        assert!(text.starts_with("# Post-mortem draft: mobility/taxi#1 (needs_operator)"));
        assert!(text.contains("| highest load max was sized for (before headroom) against the range | 30000 against the 6000 the max in force then carries (×5.0) |"), "{text}");
        assert!(text.contains("- 2026-01-02T12:00:00Z: config: max_replicas.ceiling 3 → 40"));
        let timeline = timeline_rows(&text);
        assert_eq!(
            timeline,
            [
                "| 2026-01-01T18:00:00Z | run: ok recommended 2..3 (dry run) |",
                "| 2026-01-02T00:00:00Z | run: needs_operator recommended 2..3 (dry run) |",
                "| 2026-01-02T00:00:00Z | incident opened: needs_operator |",
                "| 2026-01-02T06:00:00Z | run: needs_operator recommended 2..3 (dry run) |",
                "| 2026-01-02T12:00:00Z | run: ok recommended 2..18 (dry run) |",
                "| 2026-01-02T12:00:00Z | operator: config: max_replicas.ceiling 3 → 40 |",
                "| 2026-01-02T12:00:00Z | incident closed: the condition had cleared |",
            ]
        );
        assert!(text.contains("The condition cleared at 2026-01-02T12:00:00Z. The latest run (2026-01-02T18:00:00Z) recommended 2..18 (ok); it recommends within"), "{text}");
        assert!(
            text.contains("Nothing to learn from it: the operator's fix is in the config")
                && !text.contains("Nothing learned from it yet"),
            "{text}"
        );

        // A note typed by a person: its line break and escape character
        // neither split the timeline's row nor reach a terminal.
        let noted = Incident {
            operator_changes: vec![OperatorChange {
                at: "2026-01-02T12:00:00Z".into(),
                what: "note: a\u{1b}[31mred\nline2 | x".into(),
            }],
            ..incident.clone()
        };
        let text = render_markdown(&draft(&noted, &runs, &[], None));
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(
            text.contains("| 2026-01-02T12:00:00Z | operator: note: a\\u{1b}[31mred line2 \\| x |"),
            "{text}"
        );
        assert!(
            text.contains("- 2026-01-02T12:00:00Z: note: a\\u{1b}[31mred line2 | x"),
            "{text}"
        );

        // A change the opening run saw came before the incident.
        let caused = Incident {
            operator_changes: vec![OperatorChange {
                at: "2026-01-02T00:00:00Z".into(),
                what: "config: max_replicas.ceiling 40 → 3".into(),
            }],
            ..incident.clone()
        };
        let text = render_markdown(&draft(&caused, &runs, &[], None));
        assert!(text.contains("- 2026-01-02T00:00:00Z: config: max_replicas.ceiling 40 → 3 (made before the incident opened: a possible cause rather than a fix)"), "{text}");
        assert!(text.contains("Nothing learned from it yet"), "{text}");

        // The condition back under a new incident: not called cleared
        // without a word, nor within the operator's limits.
        let again = Incident {
            id: "mobility/taxi#2".into(),
            opened: "2026-01-03T00:00:00Z".into(),
            closed: None,
            closed_why: None,
            ..incident.clone()
        };
        let mut later = runs.to_vec();
        later.push(run("2026-01-03T00:00:00Z", "needs_operator", 3));
        let text = render_markdown(&draft(&incident, &later, &[], Some(&again)));
        assert!(
            text.contains("Incident mobility/taxi#2 (needs_operator) has been open since 2026-01-03T00:00:00Z: see its post-mortem. The latest run (2026-01-03T00:00:00Z) recommended 2..3 (needs_operator).\n"),
            "{text}"
        );
    }
}
