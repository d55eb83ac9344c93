//! The core: pure, synchronous and deterministic — no clock, no I/O, no
//! environment; "now" is a parameter. The domain's types (`workload`,
//! `series`), the stages of a plan (`events` → `adapt` → `model` →
//! `bounds` → `plan`), apply's rules, the replay, the accuracy metrics.
//! Imports nothing outside `core`.

pub mod adapt;
pub mod apply;
pub mod bounds;
pub mod evaluate;
pub mod events;
pub mod model;
pub mod plan;
pub mod replay;
pub mod series;
pub mod stats;
pub mod synthetic;
pub mod time;
pub mod workload;
