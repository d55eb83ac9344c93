//! The application: the command line (`cli`: clap's types and every flag
//! check), the commands (`command`: flags in, report out, exit code), the
//! YAML config and its validation (`config`), the flows that sequence the
//! edges around the core (`run`), and stopping on signals (`stop`).
//! Imports `core`, `edge` and `report`. The clock is read here, once where
//! a run starts, and carried down as "now" in the run's context (clippy.toml
//! refuses it elsewhere).

// Where the clock may be read: see clippy.toml.
#![allow(clippy::disallowed_methods)]

pub mod cli;
pub mod command;
pub mod config;
pub mod run;
pub mod stop;
