//! Shared helpers of the integration tests.

pub mod events;
pub mod notify;
pub mod prometheus;
pub mod victoria;

/// The `run finished` line of a `--log-format json` run's stderr (the
/// run's summary: counts, `error`, `peak_rss_kib`).
#[allow(dead_code)]
pub fn run_summary(stderr: &[u8]) -> serde_json::Value {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "run finished")
        .expect("the run's summary in the JSON log")
}
