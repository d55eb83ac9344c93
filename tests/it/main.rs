//! The integration tests, one binary (each binary links the whole crate
//! and polars: fourteen of them took most of a test build). Each module is
//! one area; `support` holds the helpers they share (real servers on
//! loopback, the events ground truth). `cargo test --test it <module>::`
//! runs one area, e.g. `cargo test --release --test it events:: --
//! --nocapture` for the events benchmark.

// Tests read the clock freely (clippy.toml is about the library).
#![allow(clippy::disallowed_methods)]

mod support;

mod adaptation;
mod apply;
mod bad_input;
mod calendar;
mod cli;
mod cluster;
mod coldstart;
mod crash;
mod deploy;
mod doctor;
mod events;
mod fuzz;
mod incidents;
mod layers;
mod notify;
mod prometheus;
mod recurring;
mod reference;
mod reports;
mod secrets;
mod shards;
