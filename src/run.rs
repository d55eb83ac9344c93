//! Orchestration: the only module that sequences I/O and the pure core.
//! Reads each workload's source, hands the samples to [`plan_workload`],
//! and collects the results; one workload's failure is recorded in its plan
//! and never stops the others.

use crate::config::{Config, LoadSource, Workload};
use crate::plan::{plan_workload, Plan, Status, WorkloadPlan};
use crate::source::{self, RawSeries};
use crate::time::format_timestamp;

/// Reads one workload's raw samples.
pub fn read_load(workload: &Workload) -> Result<RawSeries, String> {
    match &workload.source {
        LoadSource::File(path) => source::read_file(path).map_err(|e| e.to_string()),
        LoadSource::Query(_) => Err(
            "reading load from Prometheus is not available in this version of homeostat; \
             give the workload a `file:` instead"
                .to_string(),
        ),
    }
}

/// Runs the recommender over every workload of `config`.
///
/// `at` fixes "now" for every workload; without it, each file-backed
/// workload's "now" is the time of its last sample. `generated_at` is the
/// wall-clock time stamped on the report.
#[must_use]
pub fn recommend(config: &Config, at: Option<i64>, generated_at: i64) -> Plan {
    let workloads = config
        .workloads
        .iter()
        .map(|workload| match read_load(workload) {
            Ok(raw) => plan_workload(workload, &raw, at),
            Err(reason) => WorkloadPlan::failed(workload, at, Status::Error, reason),
        })
        .collect();
    Plan {
        generated_at: format_timestamp(generated_at),
        workloads,
    }
}
