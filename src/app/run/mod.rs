//! Orchestration: the only module that sequences I/O (files, Prometheus,
//! the clock) and the pure core.
//!
//! [`load_histories`] reads every workload's history, from files or from
//! Prometheus, and hands each to a visitor in config order while the next
//! ones are being fetched: at most a few times `max_concurrency` histories
//! are in memory at once, whatever the fleet size. The visitor (planning,
//! exporting) runs on the calling thread; fetching runs on a tokio runtime
//! made only when some workload has a query. One workload's failure is
//! recorded as its result and never stops the others.
//!
//! One file per command flow; `pipeline` is what they share.

mod apply;
mod backtest;
mod check;
mod evaluate;
mod export;
mod notify;
mod pipeline;
mod recommend;

pub use apply::*;
pub use backtest::*;
pub use check::*;
pub use evaluate::*;
pub use export::*;
pub use notify::*;
pub use pipeline::*;
pub use recommend::*;

use std::path::{Path, PathBuf};

/// The config file as alerts, reports and the model store name it: its
/// absolute path (the same file, whatever directory the job ran from).
/// Symlinks are not followed: a `ConfigMap` mounts `homeostat.yaml` as a
/// link into a folder made afresh for each pod, so the resolved path was
/// another one at every run.
#[must_use]
pub fn config_id(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Why a command's own files could not be made: the path, what was tried
/// and why it failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("{}: cannot {action}: {reason}", path.display())]
    File {
        path: PathBuf,
        action: &'static str,
        reason: String,
    },
    #[error("{}: no .csv or .parquet series to evaluate", dir.display())]
    NoSeries { dir: PathBuf },
}

impl RunError {
    /// `action` (create, list, write) on `path` failed with `e`.
    pub(crate) fn file(path: &Path, action: &'static str, e: impl std::fmt::Display) -> Self {
        RunError::File {
            path: path.to_path_buf(),
            action,
            reason: e.to_string(),
        }
    }

    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            RunError::File { action: "list", .. } => "folder_unreadable",
            RunError::File { .. } => "file_unwritable",
            RunError::NoSeries { .. } => "no_series",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::Config;
    use std::fmt::Write as _;
    use std::path::Path;

    /// A `ConfigMap`'s layout: `homeostat.yaml` a link through `..data` into
    /// a folder made afresh for each pod. The id is the path as mounted.
    #[test]
    fn a_config_is_named_by_its_path_as_mounted_not_where_links_lead() {
        let dir = tempfile::tempdir().unwrap();
        for pod in ["..2026_12_07_1", "..2026_12_07_2"] {
            std::fs::create_dir(dir.path().join(pod)).unwrap();
            std::fs::write(
                dir.path().join(pod).join("homeostat.yaml"),
                "workloads: []\n",
            )
            .unwrap();
            let data = dir.path().join("..data");
            let _ = std::fs::remove_file(&data);
            std::os::unix::fs::symlink(pod, &data).unwrap();
            let link = dir.path().join("homeostat.yaml");
            if !link.exists() {
                std::os::unix::fs::symlink("..data/homeostat.yaml", &link).unwrap();
            }
            assert_eq!(
                config_id(&link),
                link.display().to_string(),
                "{pod}: the id must not follow the links"
            );
        }
    }

    /// A config of `n` file workloads, every one reading the same small file.
    fn config(dir: &Path, n: usize) -> Config {
        let mut csv = String::from("timestamp,value\n");
        for i in 0..3 * 288 {
            let _ = writeln!(csv, "{},{}", 1_700_006_400 + i * 300, 100 + i % 7);
        }
        std::fs::write(dir.join("load.csv"), csv).unwrap();
        let mut yaml = String::from("workloads:\n");
        for i in 0..n {
            let _ = write!(
                yaml,
                "  - name: w{i:03}\n    file: load.csv\n    target_per_replica: 10\n"
            );
        }
        let path = dir.join("homeostat.yaml");
        std::fs::write(&path, yaml).unwrap();
        crate::app::config::load(&path).unwrap()
    }

    #[test]
    fn results_come_in_config_order_and_a_panic_is_one_workloads_failure() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), 40);
        let mut seen = Vec::new();
        process_histories(
            &RunContext::new(None, chrono::Utc::now().timestamp()).with_threads(3),
            &config,
            |workload, loaded| {
                // Later workloads finish first: the order comes from the pipeline.
                std::thread::sleep(std::time::Duration::from_millis(
                    40 - workload.name[1..].parse::<u64>().unwrap(),
                ));
                assert!(workload.name != "w007" || loaded.is_err(), "boom");
                loaded.map(|l| l.raw.samples.len()).map_err(|f| f.reason)
            },
            |workload, result| seen.push((workload.name.clone(), result)),
        );
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        let expected: Vec<String> = (0..40).map(|i| format!("w{i:03}")).collect();
        assert_eq!(names, expected);
        assert_eq!(seen[0].1, Ok(3 * 288));
        let failure = seen[7].1.clone().unwrap_err();
        assert!(
            failure.contains("failed unexpectedly") && failure.contains("boom"),
            "{failure}"
        );
        assert!(seen
            .iter()
            .enumerate()
            .all(|(i, (_, r))| i == 7 || r.is_ok()));
    }
}
