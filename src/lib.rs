//! homeostat: a predictive autoscaler for Kubernetes.
//!
//! Each run pulls every workload's load history, fits seasonal and trend
//! models, and turns the forecast into `minReplicas`/`maxReplicas` for the
//! workload's `HorizontalPodAutoscaler` — the range the HPA moves in.
//!
//! ```text
//! config ─▶ source ─▶ series ─▶ model ─▶ bounds ─▶ plan ─▶ report
//!          (CSV,     (regular  (detect,   (min/max,  (what and   (table,
//!           Parquet)  grid)     fit,       reasons)   why)        JSON)
//!                               select,
//!                               forecast)
//! ```
//!
//! The core (`series` → `plan`) is synchronous, pure and deterministic: no
//! I/O, no clock, no environment; "now" is a parameter. [`run`] is the one
//! module that sequences I/O around it; `main.rs` only parses arguments,
//! dispatches and maps results to exit codes.

// Tests compare floats exactly where the arithmetic is exact.
#![cfg_attr(test, allow(clippy::float_cmp))]

pub mod adapt;
pub mod apply;
pub mod atomic;
pub mod bounds;
pub mod budget;
pub mod cluster;
pub mod config;
pub mod evaluate;
pub mod events;
pub mod fault;
pub mod http;
pub mod model;
pub mod notify;
pub mod plan;
pub mod prometheus;
pub mod replay;
pub mod report;
pub mod run;
pub mod series;
pub mod source;
pub mod stats;
pub mod stop;
pub mod store;
pub mod synthetic;
pub mod time;
pub mod workload;

/// The text a panic was raised with, if any (for the error that takes its
/// place: a panic on one workload's data never ends the run).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
