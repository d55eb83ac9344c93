//! How to reach the Prometheus API: the connection settings the config
//! fills in and the client uses.

use crate::core::time::Span;
use crate::edge::http::SecretSource;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Prometheus' own default `--query.lookback-delta`.
pub const DEFAULT_LOOKBACK: &str = "5m";

/// How far a server carries a series' last value forward in a range
/// query, so that the repeats it made up before a gap can be taken out
/// again: `prometheus.lookback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookback {
    /// A fixed span: Prometheus (and Thanos, Mimir) repeat a value for up
    /// to their `--query.lookback-delta`, 5m by default.
    Span(Span),
    /// One step of the query: `VictoriaMetrics` repeats a value at the next
    /// step only (seen with 1.79: 1-minute data with a 3- and a 12-minute
    /// hole, asked for at 1 minute, comes back with one repeat before
    /// each). Assuming 5m there deletes real equal values before short holes.
    Step,
}

impl Lookback {
    /// In seconds, for a query at `step` seconds.
    #[must_use]
    pub fn secs(self, step: i64) -> i64 {
        match self {
            Lookback::Span(span) => span.secs(),
            Lookback::Step => step,
        }
    }
}

impl std::fmt::Display for Lookback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookback::Span(span) => write!(f, "{span}"),
            Lookback::Step => f.write_str("step"),
        }
    }
}

impl<'de> Deserialize<'de> for Lookback {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim() == "step" {
            return Ok(Lookback::Step);
        }
        text.parse().map(Lookback::Span).map_err(|e| {
            serde::de::Error::custom(format!(
                "{e}; or `step` (the server repeats a value one step at most, as VictoriaMetrics)"
            ))
        })
    }
}
/// Prometheus connection settings (used by the Prometheus source).
#[derive(Debug, Clone, PartialEq)]
pub struct Prometheus {
    pub url: String,
    /// Per request, from connecting to the end of the answer.
    pub timeout: Span,
    /// Requests in flight at once, over the whole run.
    pub max_concurrency: u32,
    /// Retries of a request after a transient failure.
    pub max_retries: u32,
    /// Most points per series one request may ask for, both ends counted:
    /// 11,001 is Prometheus' own limit; `VictoriaMetrics` allows
    /// `-search.maxPointsPerTimeseries` (30,000 by default), and a server
    /// configured lower needs this set to its limit.
    pub max_points_per_request: u32,
    /// How long the server repeats a series' last value after it stops
    /// (Prometheus' `--query.lookback-delta`, or one step).
    pub lookback: Lookback,
    /// Username and where its password comes from.
    pub basic_auth: Option<(String, SecretSource)>,
    pub bearer_token: Option<SecretSource>,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_verify: bool,
    pub headers: BTreeMap<String, String>,
}
