//! A workload as the pipeline sees it: where its load comes from, what its
//! HPA has today, and how it is to be planned. The domain's own types, so
//! that the stages (plan, replay, apply's rules) do not import the config
//! parser that fills them in.

use crate::core::adapt::AdaptPolicy;
use crate::core::bounds::BoundsPolicy;
use crate::core::model::Level;
use crate::core::time::Span;
use serde::Deserialize;
use std::path::PathBuf;

/// How a workload's query answer with several series becomes one load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// The total over all series (pods, instances) at each step.
    Sum,
    /// The largest series at each step.
    Max,
}

impl Aggregate {
    /// The `PromQL` aggregation operator of the same name.
    #[must_use]
    pub fn operator(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum",
            Aggregate::Max => "max",
        }
    }

    /// `query` aggregated by the server: one series comes back however
    /// many the query matches, so memory does not grow with them (a query
    /// over 1,000 pods held every pod's history before).
    #[must_use]
    pub fn wrap(self, query: &str) -> String {
        format!("{}({query})", self.operator())
    }

    /// The two series' values at one step, combined.
    pub(crate) fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Aggregate::Sum => a + b,
            Aggregate::Max => a.max(b),
        }
    }
}

/// Where a workload's load comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadSource {
    /// A CSV or Parquet file (absolute, or resolved against the config's folder).
    File(PathBuf),
    /// A `PromQL` query, and how to combine several series when it returns them.
    Query {
        query: String,
        aggregate: Option<Aggregate>,
    },
}

/// What the HPA has today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct CurrentBounds {
    pub min_replicas: u32,
    pub max_replicas: u32,
}

/// One validated workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub name: String,
    pub namespace: String,
    pub hpa: String,
    pub source: LoadSource,
    pub history: Span,
    /// Grid step; inferred from the data when `None` (files only).
    pub step: Option<Span>,
    pub horizon: Span,
    pub max_gap: Span,
    pub policy: BoundsPolicy,
    /// How spikes, dips and shifts are found and acted on.
    pub events: AdaptPolicy,
    pub current: Option<CurrentBounds>,
    /// What `apply` sets min to: the horizon's, or the time-of-day schedule's.
    pub mode: Mode,
    /// What is done with a setting learned from an operator's fix.
    pub learning: Learning,
    /// From asking for a pod until it serves (the schedule's lead).
    pub startup: Span,
    /// The schedule raises min this much earlier still (for a pod slow to
    /// be scheduled, an image pull).
    pub buffer: Span,
    /// How often `apply` runs (`apply.every`): a run at `T` in `mode:
    /// schedule` makes the schedule's rises due before `T + run_every`.
    pub run_every: Span,
    /// A model whose backtest MASE is above this is not trusted: an
    /// operator is alerted (the bounds are still recommended).
    pub max_mase: f64,
    /// The schedule's min follows the upper end of this central interval
    /// instead of the forecast mean (`None`).
    pub schedule_level: Option<Level>,
    /// Load expected that no model can see coming (`events.calendar`,
    /// iCalendar files, and what was learned from recurring incidents).
    pub calendar: Vec<crate::core::known::KnownEvent>,
    /// `like: namespace/name`: the workload whose shape a young one starts
    /// from, instead of the fleet shape it matches best.
    pub like: Option<String>,
    /// In a rerun of the last `apply` (see [`crate::core::apply::ApplyRules::rerun_window`]):
    /// the bounds that run's step limits started from, which this run's
    /// start from too (the same data then gives the same bounds, where
    /// each rerun stepped ×1.5 further: 12 → 18 → 27 in a minute).
    pub step_from: Option<CurrentBounds>,
    /// An incident for a max ceiling too low is open (`recommend` and
    /// `apply` read it from the model store): once the HPA's max is at the
    /// ceiling, the page stands until the need is clearly under it
    /// ([`crate::core::bounds::PAGE_CLEAR`]), not only while a replica
    /// over it.
    pub paging: bool,
}

impl Workload {
    /// The bounds the step limits and hysteresis start from: today's, or
    /// in a rerun the ones the run it repeats started from.
    #[must_use]
    pub fn step_base(&self) -> Option<CurrentBounds> {
        self.step_from.or(self.current)
    }
}

/// What homeostat does with what it learns from an operator's fix
/// (`learning:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Learning {
    /// Nothing is learned.
    Off,
    /// Learned settings are reported and exported (`homeostat learned`),
    /// and used only once the config takes them.
    #[default]
    Suggest,
    /// Learned settings are used at once, with a reason saying so.
    Apply,
}

/// What `apply` sets min to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The lowest expected load over the horizon: one min until the next run.
    #[default]
    Horizon,
    /// The expected load now: min follows the daily curve (run `apply`
    /// every 15 minutes).
    Schedule,
}

impl Workload {
    /// `namespace/name`, as workloads are named in messages.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}
