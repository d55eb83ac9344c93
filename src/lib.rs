//! homeostat: a predictive autoscaler for Kubernetes.
//!
//! Each run pulls every workload's load history, fits seasonal and trend
//! models, and turns the forecast into `minReplicas`/`maxReplicas` for the
//! workload's `HorizontalPodAutoscaler` — the range the HPA moves in.
//!
//! ```text
//!   main.rs ─▶ app ──────────────▶ report
//!   (flags,    (config, run:       (table, JSON, CSV,
//!    exit       the command         Markdown, HTML)
//!    codes)     flows; stop)          │
//!               │        │            │
//!               ▼        ▼            ▼
//!             edge ───▶ core ◀────────┘
//!   (source, prometheus,   (workload, series ▶ events ▶ adapt ▶ model
//!    http, cluster, notify, ▶ bounds ▶ plan; apply's rules, replay,
//!    store, atomic,          evaluate, stats, time, synthetic)
//!    budget, fault)
//! ```
//!
//! The arrows are the only imports allowed: `core` imports nothing outside
//! itself and is synchronous, pure and deterministic (no I/O, no clock, no
//! environment; "now" is a parameter); `edge` and `report` import only
//! `core`; `app` sequences the edges around the core; `main.rs` parses
//! arguments, dispatches and maps results to exit codes.

// Tests compare floats exactly where the arithmetic is exact.
#![cfg_attr(test, allow(clippy::float_cmp))]

pub mod app;
pub mod core;
pub mod edge;
pub mod report;
