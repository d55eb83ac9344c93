//! The core: pure, synchronous and deterministic — no clock, no I/O, no
//! environment; "now" is a parameter. The domain's types (`workload`,
//! `series`), the stages of a plan (`events` → `adapt` → `model` →
//! `bounds` → `plan`), apply's rules, the replay, the accuracy metrics.
//! Imports nothing outside `core`.

pub mod adapt;
pub mod apply;
pub mod bounds;
pub mod crps;
pub mod evaluate;
pub mod events;
pub mod incident;
pub mod known;
pub mod model;
pub mod plan;
pub mod recurring;
pub mod replay;
pub mod series;
pub mod shapes;
pub mod stats;
pub mod synthetic;
pub mod time;
pub mod workload;

/// The text a panic was raised with, if any (for the error that takes its
/// place: a panic on one workload's data never ends the run).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
