//! `homeostat config check`: every file workload's history read as a run
//! would, touching no server.

use super::{load_histories, RunContext};
use crate::app::config::Config;
use crate::core::time::format_timestamp;
use crate::core::workload::LoadSource;

/// What `config check` found: one line per workload, and how many
/// workloads have a problem.
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
    load_histories(run, &files, |workload, result| {
        lines.push(match result {
            Ok(loaded) => 'line: {
                let samples = &loaded.raw.samples;
                // What the run would refuse on its grid, said now.
                if let Some(step) = workload.step {
                    let mut timestamps: Vec<i64> = samples.iter().map(|s| s.ts).collect();
                    timestamps.sort_unstable();
                    if let Err(e) = crate::core::series::check_step_against_data(
                        &timestamps,
                        step,
                        &loaded.raw.origin,
                    ) {
                        problems += 1;
                        break 'line format!("error: {e}");
                    }
                }
                let span =
                    samples
                        .first()
                        .zip(samples.last())
                        .map_or_else(String::new, |(a, b)| {
                            format!(
                                " from {} to {}",
                                format_timestamp(a.ts),
                                format_timestamp(b.ts)
                            )
                        });
                format!("ok: {} samples{span}", samples.len())
            }
            Err(failure) => {
                problems += 1;
                format!("{}: {}", failure.status.as_str(), failure.reason)
            }
        });
    });
    let mut lines = lines.into_iter();
    let mut report = format!(
        "configuration valid: {} workloads ({} files, {} queries)\n",
        config.workloads.len(),
        files.workloads.len(),
        config.workloads.len() - files.workloads.len()
    );
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
                        "{} ({}, {})",
                        e.name,
                        e.effect(),
                        e.recurring.map_or("once", |r| r.as_str())
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(report, "{}: {line}{known}", workload.id());
    }
    FileCheck { report, problems }
}
