//! Real servers on loopback for homeostat's tests and benchmarks — the
//! Debian-packaged Prometheus, Alertmanager and Pushgateway, and
//! VictoriaMetrics — each on a free port with its own data folder, stopped
//! by PID when dropped; and the binary run as the benchmarks run it.
//!
//! A crate of its own (a dev-dependency) so that the integration tests and
//! the benchmarks share it without `#[path]`. It needs only the standard
//! library (and `serde_json` to read a run's JSON log).

pub mod fleet;
pub mod notify;
pub mod prometheus;
pub mod victoria;
