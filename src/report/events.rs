//! `homeostat events`' JSON.

use crate::core::events::{Event, EventKind};
use serde::Serialize;

/// The JSON array of DESIGN.md: `{"kind", "start", "end", "before", "after"}`
/// (RFC3339 times, `end` null for a shift).
#[must_use]
pub fn render_events_json(events: &[Event]) -> String {
    #[derive(Serialize)]
    struct Row {
        kind: EventKind,
        start: String,
        end: Option<String>,
        before: f64,
        after: f64,
    }
    let rows: Vec<Row> = events
        .iter()
        .map(|e| Row {
            kind: e.kind,
            start: crate::core::time::format_timestamp(e.start),
            end: e.end.map(crate::core::time::format_timestamp),
            before: e.before,
            after: e.after,
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("events serialise") + "\n"
}
