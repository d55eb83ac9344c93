//! The YAML as written: every key, nothing checked yet (unknown keys are
//! refused here, by serde).

use crate::core::adapt::AdaptPolicy;
use crate::core::events::EventSettings;
use crate::core::known::KnownEvent;
use crate::core::time::Span;
use crate::core::workload::{Aggregate, Learning, Mode};
use crate::edge::prometheus::Lookback;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The config as written; each workload a [`RawWorkload`], or (`W`) any
/// YAML value, to read the workloads one by one when one of them is not
/// what the schema allows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig<W = RawWorkload> {
    pub(super) prometheus: Option<RawPrometheus>,
    pub(super) alertmanager: Option<RawEndpoint>,
    pub(super) pushgateway: Option<RawEndpoint>,
    pub(super) store: Option<PathBuf>,
    pub(super) apply: Option<RawApply>,
    #[serde(default)]
    pub(super) defaults: RawDefaults,
    pub(super) workloads: Vec<W>,
}

impl<W> RawConfig<W> {
    /// The same config with other workloads.
    pub(super) fn with_workloads<V>(self, workloads: Vec<V>) -> RawConfig<V> {
        RawConfig {
            prometheus: self.prometheus,
            alertmanager: self.alertmanager,
            pushgateway: self.pushgateway,
            store: self.store,
            apply: self.apply,
            defaults: self.defaults,
            workloads,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrometheus {
    pub(super) url: String,
    pub(super) timeout: Option<Span>,
    pub(super) max_concurrency: Option<u32>,
    pub(super) max_retries: Option<u32>,
    pub(super) max_points_per_request: Option<u32>,
    pub(super) lookback: Option<Lookback>,
    pub(super) basic_auth: Option<RawBasicAuth>,
    pub(super) bearer_token_file: Option<PathBuf>,
    pub(super) bearer_token_env: Option<String>,
    pub(super) ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) insecure_skip_verify: bool,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBasicAuth {
    pub(super) username: String,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApply {
    pub(super) max_step_up: Option<f64>,
    pub(super) max_step_down: Option<f64>,
    pub(super) hysteresis: Option<f64>,
    pub(super) rerun_window: Option<RawWindow>,
    pub(super) every: Option<Span>,
}

/// `apply.rerun_window`: a duration (`10m`), or `0` for none.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawWindow {
    Number(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    pub(super) url: String,
    pub(super) timeout: Option<Span>,
    pub(super) basic_auth: Option<RawBasicAuth>,
    pub(super) bearer_token_file: Option<PathBuf>,
    pub(super) bearer_token_env: Option<String>,
    pub(super) ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) insecure_skip_verify: bool,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) history: Option<Span>,
    pub(super) step: Option<Span>,
    pub(super) horizon: Option<Span>,
    pub(super) level: Option<f64>,
    pub(super) headroom: Option<f64>,
    pub(super) max_gap: Option<Span>,
    pub(super) events: Option<RawEvents>,
    pub(super) mode: Option<Mode>,
    pub(super) learning: Option<Learning>,
    pub(super) startup: Option<Span>,
    pub(super) buffer: Option<Span>,
    pub(super) max_mase: Option<f64>,
    pub(super) schedule_level: Option<f64>,
}

/// `events:` (in `defaults` or a workload; a workload's keys win one by
/// one, except the known events: the defaults' and the workload's both
/// apply, see `validate::known_events`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    pub(super) persistence: Option<Span>,
    pub(super) min_z: Option<f64>,
    /// Percent.
    pub(super) min_change: Option<f64>,
    pub(super) shift_down_after: Option<Span>,
    pub(super) max_spike_headroom: Option<f64>,
    /// Known events declared one by one.
    #[serde(default)]
    pub(super) calendar: Vec<KnownEvent>,
    /// Known events from iCalendar files.
    #[serde(default)]
    pub(super) ical: Vec<RawIcal>,
}

/// An iCalendar file of known events: each `VEVENT` is one, its
/// `X-HOMEOSTAT-FACTOR` (or `X-HOMEOSTAT-LOAD`) saying what it does to the
/// load, else the `factor` given here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIcal {
    pub(super) file: PathBuf,
    pub(super) factor: Option<f64>,
}

impl RawEvents {
    pub(super) fn or(self, defaults: &RawEvents) -> RawEvents {
        RawEvents {
            calendar: self.calendar,
            ical: self.ical,
            persistence: self.persistence.or(defaults.persistence),
            min_z: self.min_z.or(defaults.min_z),
            min_change: self.min_change.or(defaults.min_change),
            shift_down_after: self.shift_down_after.or(defaults.shift_down_after),
            max_spike_headroom: self.max_spike_headroom.or(defaults.max_spike_headroom),
        }
    }

    pub(super) fn validate(&self) -> Result<AdaptPolicy, String> {
        let default = AdaptPolicy::default();
        let min_z = self.min_z.unwrap_or(default.detection.min_z);
        if !(min_z.is_finite() && min_z > 0.0) {
            return Err(format!(
                "events.min_z must be a positive number of noise standard deviations (e.g. 3), got {min_z}"
            ));
        }
        let min_relative = match self.min_change {
            None => default.detection.min_relative,
            Some(p) if p.is_finite() && p > 0.0 && p < 100.0 => p / 100.0,
            Some(p) => {
                return Err(format!(
                    "events.min_change is a percentage between 0 and 100 (e.g. 15), got {p}"
                ))
            }
        };
        let max_spike_headroom = self
            .max_spike_headroom
            .unwrap_or(default.max_spike_headroom);
        if !(max_spike_headroom.is_finite() && max_spike_headroom >= 1.0) {
            return Err(format!(
                "events.max_spike_headroom must be a factor of at least 1 (e.g. 3), got {max_spike_headroom}"
            ));
        }
        Ok(AdaptPolicy {
            detection: EventSettings {
                persistence: self.persistence.unwrap_or(default.detection.persistence),
                min_z,
                min_relative,
            },
            shift_down_after: self.shift_down_after.unwrap_or(default.shift_down_after),
            max_spike_headroom,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkload {
    pub(super) name: String,
    #[serde(default = "default_namespace")]
    pub(super) namespace: String,
    pub(super) hpa: Option<String>,
    pub(super) query: Option<String>,
    pub(super) aggregate: Option<Aggregate>,
    pub(super) file: Option<PathBuf>,
    pub(super) target_per_replica: f64,
    #[serde(default, deserialize_with = "replica_range")]
    pub(super) min_replicas: Option<RawRange>,
    #[serde(default, deserialize_with = "replica_range")]
    pub(super) max_replicas: Option<RawRange>,
    pub(super) current: Option<RawCurrent>,
    pub(super) history: Option<Span>,
    pub(super) step: Option<Span>,
    pub(super) horizon: Option<Span>,
    pub(super) level: Option<f64>,
    pub(super) headroom: Option<f64>,
    pub(super) events: Option<RawEvents>,
    pub(super) mode: Option<Mode>,
    pub(super) learning: Option<Learning>,
    pub(super) startup: Option<Span>,
    pub(super) buffer: Option<Span>,
    pub(super) max_mase: Option<f64>,
    pub(super) schedule_level: Option<f64>,
    pub(super) like: Option<String>,
}

pub(super) fn default_namespace() -> String {
    "default".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRange {
    pub(super) floor: Option<u32>,
    pub(super) ceiling: Option<u32>,
}

/// `min_replicas:` / `max_replicas:` are ranges (`{floor, ceiling}`); a
/// plain number, as an HPA writes them, is said in those words (it read
/// "expected mapping start").
pub(super) fn replica_range<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RawRange>, D::Error> {
    struct Range;
    impl<'de> serde::de::Visitor<'de> for Range {
        type Value = Option<RawRange>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a range of replicas, `{floor: N, ceiling: M}`")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            RawRange::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            Err(E::custom(format!(
                "is a range of replicas, not a number: write `{{floor: {n}}}` for the lowest it may go (and `ceiling:` for the highest)"
            )))
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
        }
        fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
            Err(E::custom(format!(
                "is a range of replicas, not a number: write `{{floor: {n}}}` for the lowest it may go (and `ceiling:` for the highest)"
            )))
        }
    }
    deserializer.deserialize_any(Range)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCurrent {
    pub(super) min_replicas: u32,
    pub(super) max_replicas: u32,
}
