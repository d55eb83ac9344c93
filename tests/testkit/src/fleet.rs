//! The homeostat binary as the fleet and fetch benchmarks run it: a
//! synthetic fleet made once, and a whole `recommend` run timed. `bin` is
//! the binary under test (`env!("CARGO_BIN_EXE_homeostat")` in a bench).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// `homeostat synth` of `workloads` × `days` into `dir` (with `extra`
/// arguments), unless `dir` already holds `marker`; returns `dir`.
pub fn synth(
    bin: &Path,
    dir: &Path,
    workloads: usize,
    days: u32,
    extra: &[&str],
    marker: &str,
) -> PathBuf {
    if !dir.join(marker).exists() {
        let started = Instant::now();
        let status = Command::new(bin)
            .args(["synth", "--workloads", &workloads.to_string(), "--days"])
            .arg(format!("{days}d"))
            .args(extra)
            .arg("--output")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("homeostat synth runs");
        assert!(status.success(), "homeostat synth failed");
        eprintln!(
            "made {} in {:.1} s",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
    dir.to_path_buf()
}

/// One `homeostat recommend --config CONFIG` run (with `extra` arguments),
/// its JSON report thrown away: wall seconds, and the run's own summary
/// (workloads, peak RSS) from its JSON log.
pub fn recommend(bin: &Path, config: &Path, extra: &[&str]) -> (f64, serde_json::Value) {
    let started = Instant::now();
    let output = Command::new(bin)
        .arg("recommend")
        .arg("--config")
        .arg(config)
        .args(extra)
        .args([
            "--format",
            "json",
            "--output",
            "/dev/null",
            "--log-format",
            "json",
        ])
        .output()
        .expect("homeostat recommend runs");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "homeostat recommend failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "run finished")
        .expect("the run's summary on stderr");
    (seconds, summary)
}
