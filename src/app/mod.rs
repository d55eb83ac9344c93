//! The application: the YAML config and its validation (`config`), the
//! command flows that sequence the edges around the core (`run`), and
//! stopping on signals (`stop`). Imports `core`, `edge` and `report`.
//! The clock is read here (and in `main.rs`), once where a run starts,
//! and carried down as "now" (clippy.toml refuses it elsewhere).

// Where the clock may be read: see clippy.toml.
#![allow(clippy::disallowed_methods)]

pub mod config;
pub mod run;
pub mod stop;
