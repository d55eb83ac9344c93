//! `homeostat config check`: every file workload's history read as a run
//! would, touching no server.

use super::{load_histories, RunContext};
use crate::app::config::Config;
use crate::core::time::format_timestamp;
use crate::core::workload::LoadSource;

/// What `config check` found: one line per workload and per server, and
/// how many problems (workloads and server settings) a run would fail on.
pub struct FileCheck {
    pub report: String,
    pub problems: usize,
}

/// Reads every file workload's history as a run would (window, `--at`,
/// the same messages), touching no server: query workloads are listed,
/// not run.
#[must_use]
pub fn check_files(run: &RunContext, config: &Config) -> FileCheck {
    use std::fmt::Write as _;
    let files = Config {
        prometheus: None,
        workloads: config
            .workloads
            .iter()
            .filter(|w| matches!(w.source, LoadSource::File(_)))
            .cloned()
            .collect(),
        ..config.clone()
    };
    // Visited in config order: one line per file workload, in order.
    let mut lines = Vec::with_capacity(files.workloads.len());
    let mut problems = 0;
    // Each file workload's span of samples: a `like:` of one too young to
    // have a shape is said.
    let mut spans: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    load_histories(run, &files, |workload, result| {
        lines.push(match result {
            Ok(loaded) => 'line: {
                let samples = &loaded.raw.samples;
                // Sorted once: the step check, the staleness and the age
                // read them.
                let mut timestamps: Vec<i64> = samples.iter().map(|s| s.ts).collect();
                timestamps.sort_unstable();
                // What the run would refuse on its grid, said now.
                if let Some(step) = workload.step {
                    if let Err(e) = crate::core::series::check_step_against_data(
                        &timestamps,
                        step,
                        &loaded.raw.origin,
                    ) {
                        problems += 1;
                        break 'line format!("error: {e}");
                    }
                }
                // Stale at `now` (`--at`, else the last sample): the run
                // would refuse it.
                let up_to_now = timestamps.partition_point(|&ts| ts <= loaded.now);
                let latest = up_to_now.checked_sub(1).map(|i| timestamps[i]);
                if let Some(latest) = latest {
                    let stale = loaded.now - latest;
                    if stale > workload.max_gap.secs() {
                        problems += 1;
                        break 'line format!(
                            "insufficient_data: latest sample at {} is {} older than now ({}), more than the {} allowed gap",
                            format_timestamp(latest),
                            crate::core::series::human_span(stale),
                            format_timestamp(loaded.now),
                            workload.max_gap
                        );
                    }
                }
                // Too young for its own model: the run starts it from the
                // fleet's shapes when there are some, which this check
                // cannot know (they come from the run's fleet, or the store).
                let first = timestamps.first().copied();
                // The run counts each sample's step as history (2 days of
                // 5-minute samples span 2 days less 5 minutes between the
                // first and the last, and are 2 days to the run).
                let spacing = workload
                    .step
                    .map(crate::core::time::Span::secs)
                    .or_else(|| crate::core::series::infer_step(&timestamps))
                    .unwrap_or(0);
                // What the run counts as history: the known steps of its
                // grid over the `history:` before now (a long gap is none),
                // not the span from the first sample to the last.
                let window = loaded.raw.window(loaded.now, workload.history.secs());
                let options = crate::core::series::GridOptions {
                    step: workload.step,
                    max_gap: workload.max_gap,
                    min_history: crate::core::time::Span::from_secs(1).expect("positive"),
                };
                let known = crate::core::series::resample(&window, &options)
                    .ok()
                    .map(|series| series.known() as i64 * series.step);
                let covered = match (first, latest) {
                    (Some(first), Some(latest)) => Some(known.unwrap_or(latest - first + spacing)),
                    _ => None,
                };
                if let Some(covered) = covered {
                    spans.insert(workload.id(), covered);
                }
                let young = match covered {
                    Some(covered) if covered < crate::core::shapes::COLD_MIN_HISTORY => {
                        format!(
                            " — only {} of history: a cold start from the fleet's shapes needs {} and its own model {}; the run says `insufficient_data` until then",
                            crate::core::series::human_span(covered),
                            crate::core::series::human_span(crate::core::shapes::COLD_MIN_HISTORY),
                            crate::core::series::human_span(crate::core::series::DEFAULT_MIN_HISTORY)
                        )
                    }
                    Some(covered) if covered < crate::core::series::DEFAULT_MIN_HISTORY => {
                        format!(
                            " — only {} of history: its own model needs {}; the run starts it from the fleet's shapes if it has some (5 workloads with a week of history, or shapes kept in the store){}, else it is `insufficient_data`",
                            crate::core::series::human_span(covered),
                            crate::core::series::human_span(crate::core::series::DEFAULT_MIN_HISTORY),
                            if workload.like.is_some() {
                                ", or in a smaller fleet from the workload its `like:` names if that one has a week of history"
                            } else {
                                ""
                            }
                        )
                    }
                    _ => String::new(),
                };
                // The earliest and the latest sample (a file need not be
                // in time order: the run sorts it).
                let span = timestamps
                    .first()
                    .zip(timestamps.last())
                    .map_or_else(String::new, |(a, b)| {
                        format!(" from {} to {}", format_timestamp(*a), format_timestamp(*b))
                    });
                format!("ok: {} samples{span}{young}", samples.len())
            }
            Err(failure) => {
                problems += 1;
                format!("{}: {}", failure.status.as_str(), failure.reason)
            }
        });
    });
    let mut lines = lines.into_iter();
    let mut report = String::new();
    for workload in &config.workloads {
        let line = match workload.source {
            LoadSource::File(_) => lines.next().expect("one line per file workload"),
            LoadSource::Query { .. } => {
                "query: not run (config check touches no server)".to_string()
            }
        };
        // The known events it will plan for, so that a calendar's parse
        // is seen before the day it matters.
        let known = match workload.calendar.as_slice() {
            [] => String::new(),
            events => format!(
                "; known events: {}",
                events
                    .iter()
                    .map(|e| format!(
                        "{} ({}, {}, first {} to {})",
                        e.name,
                        e.effect(),
                        e.recurring.map_or("once", |r| r.as_str()),
                        format_timestamp(e.start),
                        format_timestamp(e.end)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        // A `like:` outside the config can only come from the store's
        // fleet shapes, which this check does not read: said, not refused.
        let like = match workload.like.as_deref() {
            Some(like) if like == workload.id() => format!(
                "; like: {like} names this workload itself: a young workload has no shape of its own to start from, so it starts from the shape that explains its history best, or a flat line when none does, when the fleet has shapes, else it is `insufficient_data` (name the workload it copies)"
            ),
            Some(like)
                if spans
                    .get(like)
                    .is_some_and(|&span| span < crate::core::shapes::PROFILE_MIN_HISTORY) =>
            {
                format!(
                    "; like: {like} has only {} of history: a shape needs a week of it, so this one starts from the shape that explains its history best, or a flat line when none does, when the fleet has shapes, else it is `insufficient_data`",
                    crate::core::series::human_span(spans[like])
                )
            }
            Some(like) if !config.workloads.iter().any(|w| w.id() == like) => format!(
                "; like: {like} is not a workload of this config: its shape is used only if the store's fleet shapes have it, else the shape that explains its history best, or a flat line when none does (without fleet shapes: `insufficient_data`)"
            ),
            _ => String::new(),
        };
        let _ = writeln!(report, "{}: {line}{known}{like}", workload.id());
    }
    // The servers' settings that can be judged without them: the secrets,
    // the CA file and the headers are read as a run reads them (a missing
    // token file failed every query workload of the run; an unset token
    // variable every run's alerts and metrics).
    let mut servers: Vec<(&str, &str, Result<(), String>, bool)> = Vec::new();
    if let Some(prometheus) = &config.prometheus {
        servers.push((
            "prometheus",
            "secrets, CA file, headers read",
            crate::edge::prometheus::client::Client::new(prometheus)
                .map(drop)
                .map_err(|e| e.to_string()),
            prometheus.insecure_skip_verify,
        ));
    }
    for (setting, endpoint) in [
        ("alertmanager", &config.alertmanager),
        ("pushgateway", &config.pushgateway),
    ] {
        if let Some(endpoint) = endpoint {
            servers.push((
                setting,
                "secrets, CA file read",
                crate::edge::notify::check_endpoint(endpoint, setting).map_err(|e| e.to_string()),
                endpoint.insecure_skip_verify,
            ));
        }
    }
    for (setting, read, usable, insecure) in servers {
        match usable {
            Ok(()) => {
                let _ = writeln!(
                    report,
                    "{setting}: settings usable ({read}; the server is not contacted)"
                );
            }
            Err(e) => {
                problems += 1;
                let _ = writeln!(report, "{setting}: error: {e}");
            }
        }
        if insecure {
            let _ = writeln!(
                report,
                "{setting}: warning: insecure_skip_verify: the server's certificate is not checked"
            );
        }
    }
    // The header last, once the problems are counted: "valid" above a
    // list of errors read as if the errors did not matter.
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let queries = config.workloads.len() - files.workloads.len();
    let totals = format!(
        "{} ({}, {})",
        count(config.workloads.len(), "workload", "workloads"),
        count(files.workloads.len(), "file", "files"),
        count(queries, "query", "queries")
    );
    let header = if problems == 0 {
        format!("configuration valid: {totals}\n")
    } else {
        format!(
            "configuration read: {totals}; {} below that a run would fail on\n",
            count(problems, "problem", "problems")
        )
    };
    FileCheck {
        report: header + &report,
        problems,
    }
}
