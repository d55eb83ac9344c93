//! The fleet benchmark (issue 9): `homeostat recommend` end to end — read,
//! events, fit, bounds, report — over synthetic fleets from files, timed
//! as a whole run of the release binary, with its peak memory.
//!
//! `cargo bench --bench fleet` runs 1,000 and 10,000 workloads × 28 days
//! × 5 minutes, and 1,000 × 7, 28 and 90 days (cost against history
//! length); it prints workloads/s, seconds and peak RSS per case. The
//! fleets are made once by `homeostat synth` under target/fleet-bench/.
//! `cargo bench --bench fleet -- 2000x28` runs only the cases named.
//! Under `cargo test --benches` it runs one small fleet, as a check that
//! the benchmark works (no timing is asserted anywhere).

use homeostat_testkit::fleet as binary;
use std::path::{Path, PathBuf};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_homeostat");

/// The fleet of `workloads` × `days`, made when missing.
fn fleet(root: &Path, workloads: usize, days: u32) -> PathBuf {
    binary::synth(
        Path::new(BIN),
        &root.join(format!("{workloads}x{days}")),
        workloads,
        days,
        &[],
        "homeostat.yaml",
    )
    .join("homeostat.yaml")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benchmarking = args.iter().any(|a| a == "--bench");
    let wanted: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fleet-bench");
    let cases: &[(usize, u32)] = if benchmarking {
        &[(1000, 28), (10_000, 28), (1000, 7), (1000, 90)]
    } else {
        &[(20, 7)]
    };
    println!(
        "{:>9} {:>5} {:>9} {:>12} {:>14}",
        "workloads", "days", "seconds", "workloads/s", "peak RSS MiB"
    );
    for &(workloads, days) in cases {
        let name = format!("{workloads}x{days}");
        if !wanted.is_empty() && !wanted.iter().any(|w| **w == name) {
            continue;
        }
        let config = fleet(&root, workloads, days);
        let (seconds, summary) = binary::recommend(Path::new(BIN), &config, &[]);
        assert_eq!(summary["workloads"], workloads, "{summary}");
        let rss = summary["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0;
        println!(
            "{workloads:>9} {days:>5} {seconds:>9.2} {:>12.1} {rss:>14.1}",
            workloads as f64 / seconds
        );
    }
}
