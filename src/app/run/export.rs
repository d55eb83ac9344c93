//! `homeostat fetch`: each workload's history, as `recommend` would use it,
//! written one file per workload.

use super::{load_histories, LoadFailure, RunContext, RunError};
use crate::app::config::Config;
use crate::edge::source::{self};
use std::path::{Path, PathBuf};

/// File formats `homeostat fetch` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeriesFormat {
    Csv,
    Parquet,
}

/// What `homeostat fetch` did for one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// `namespace/name`.
    pub workload: String,
    /// The file written, or why there is none.
    pub result: Result<PathBuf, LoadFailure>,
    pub samples: usize,
    pub requests: usize,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// `homeostat fetch`: writes each workload's history, as the run would use
/// it, to `dir/<namespace>_<name>.csv` (or `.parquet`). Kubernetes names
/// hold no `_`, so the file name is unambiguous.
pub fn export_histories(
    run: &RunContext,
    config: &Config,
    dir: &Path,
    format: SeriesFormat,
) -> Result<Vec<Exported>, RunError> {
    std::fs::create_dir_all(dir).map_err(|e| RunError::file(dir, "create", e))?;
    let extension = match format {
        SeriesFormat::Csv => "csv",
        SeriesFormat::Parquet => "parquet",
    };
    let mut exported = Vec::with_capacity(config.workloads.len());
    load_histories(run, config, |workload, loaded| {
        let mut loaded = match loaded {
            Ok(loaded) => loaded,
            Err(failure) => {
                exported.push(Exported {
                    workload: workload.id(),
                    result: Err(failure),
                    samples: 0,
                    requests: 0,
                    first: None,
                    last: None,
                });
                return;
            }
        };
        let samples = &mut loaded.raw.samples;
        samples.sort_by_key(|s| s.ts);
        let path = dir.join(format!(
            "{}_{}.{extension}",
            workload.namespace, workload.name
        ));
        let written = match format {
            SeriesFormat::Csv => source::write_csv(&path, samples),
            SeriesFormat::Parquet => source::write_parquet(&path, samples),
        };
        exported.push(Exported {
            workload: workload.id(),
            result: written.map(|()| path.clone()).map_err(|e| {
                LoadFailure::error(
                    "file_unwritable",
                    format!("{}: cannot write: {e}", path.display()),
                    Some(loaded.now),
                )
            }),
            samples: samples.len(),
            requests: loaded.requests,
            first: samples.first().map(|s| s.ts),
            last: samples.last().map(|s| s.ts),
        });
    });
    Ok(exported)
}
