//! homeostat: a predictive autoscaler for Kubernetes.
//!
//! Each run pulls every workload's load history, fits seasonal and trend
//! models, and turns the forecast into `minReplicas`/`maxReplicas` for the
//! workload's `HorizontalPodAutoscaler` — the range the HPA moves in.
//!
//! ```text
//!   main.rs ─▶ app ──────────────▶ report
//!   (logs,     (cli: flags;         (table, JSON, CSV,
//!    exit       command: one per     Markdown, HTML;
//!    code)      command; config;     backtest, apply,
//!               run: the flows;      evaluation, events)
//!               stop)                     │
//!               │        │                │
//!               ▼        ▼                ▼
//!             edge ───▶ core ◀────────────┘
//!   (source, prometheus,   (workload, series ▶ events ▶ adapt ▶ model
//!    http, cluster, notify, ▶ bounds ▶ plan; apply's rules, replay,
//!    store, atomic,          evaluate, stats, time, synthetic)
//!    budget, fault)
//! ```
//!
//! The arrows are the only imports allowed (`tests/it/layers.rs` checks
//! them): `core` imports nothing outside itself and is synchronous, pure
//! and deterministic (no I/O, no clock, no environment; "now" is a
//! parameter); `edge` and `report` import only `core`; `app` sequences the
//! edges around the core, reads the clock once per run and makes the run's
//! one async runtime; `main.rs` sets up the logs, runs
//! [`app::command::execute`] and maps its result to the exit code. Each
//! layer's errors are its own `thiserror` enums, each with a stable
//! `label()` for the logs.

// Tests compare floats exactly where the arithmetic is exact.
#![cfg_attr(test, allow(clippy::float_cmp))]

pub mod app;
pub mod core;
pub mod edge;
pub mod report;
