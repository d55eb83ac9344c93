//! Fetch speed from a real local Prometheus, against curl making the same
//! HTTP requests at the same concurrency, and what fetching costs a whole
//! run.
//!
//! `cargo bench --bench fetch` runs two cases, each backfilled into a
//! Prometheus started on loopback (tests/testkit/src/prometheus.rs):
//! - dense: 500 workloads × 28 days at a 1-minute step (40,320 points
//!   each: 4 `query_range` requests per workload, 2,000 in all, 20 million
//!   samples);
//! - fleet: the synthetic fleet of `homeostat synth` (issue 9), 1,000
//!   workloads × 28 days at 5 minutes (1,000 requests, 8 million samples).
//!
//! Timed, three times each, median kept:
//! - homeostat: `run::load_histories` with `max_concurrency` 4: requests,
//!   gzip, JSON parsing, chunk stitching, lookback clean-up, everything but
//!   planning (the visitor only counts);
//! - curl: `curl --parallel --parallel-max 4` with the same POST requests
//!   (same form bodies, gzip), answers decompressed to /dev/null, nothing
//!   parsed;
//! - fleet only, once each: `homeostat recommend` end to end from that
//!   Prometheus and from the same fleet's files, so the fetch's share of a
//!   run shows (fetching and planning overlap: planning starts on the
//!   first history read).
//!
//! Prometheus runs on the same two cores as both clients, so all times
//! include its work (evaluating and encoding each answer).
//!
//! `cargo bench --bench fetch -- fleet` runs only the case named.
//!
//! `cargo test --benches` runs it once at 5 workloads × 2 days (dense) and
//! 10 workloads × 2 days (fleet), to keep it working.

// Benchmarks read the clock freely (clippy.toml is about the library).
#![allow(clippy::disallowed_methods)]

use homeostat::app::config::{self, Config};
use homeostat::app::run::{load_histories, RunContext};
use homeostat::core::synthetic;
use homeostat::edge::prometheus::plan_chunks;
use homeostat_testkit::fleet as binary;
use homeostat_testkit::prometheus::{Backfill, PrometheusServer};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_homeostat");

const CONCURRENCY: usize = 4;
const RUNS: usize = 3;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

/// `run::load_histories` over `config`, `RUNS` times: the median seconds
/// and the requests made. Every workload must load all `samples` in all.
fn time_homeostat(config: &Config, end: i64, samples: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut requests = 0;
    for _ in 0..RUNS {
        let (mut fetched, mut failed) = (0, 0);
        requests = 0;
        let timer = Instant::now();
        load_histories(
            &RunContext::new(Some(end), end),
            config,
            |_, result| match result {
                Ok(loaded) => {
                    fetched += loaded.raw.samples.len();
                    requests += loaded.requests;
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("{}", e.reason);
                }
            },
        );
        times.push(timer.elapsed().as_secs_f64());
        assert_eq!((fetched, failed), (samples, 0));
    }
    (median(times), requests)
}

/// curl making the requests homeostat makes for `queries` over the history
/// ending at `end`, at the same concurrency, `RUNS` times: the median
/// seconds and the requests made.
fn time_curl(
    url: &str,
    queries: &[String],
    end: i64,
    days: i64,
    step: i64,
    dir: &Path,
) -> (f64, usize) {
    let start = end - days * 86_400 + 1;
    let mut curl_config = String::new();
    let mut requests = 0;
    for query in queries {
        let query = query.replace('"', "\\\"");
        for chunk in plan_chunks(
            start,
            end,
            step,
            homeostat::edge::prometheus::MAX_POINTS_PER_REQUEST,
        ) {
            if requests > 0 {
                curl_config.push_str("next\n");
            }
            requests += 1;
            let _ = writeln!(
                curl_config,
                "url = \"{url}/api/v1/query_range\"\ndata-urlencode = \"query={query}\"\n\
                 data = \"start={}&end={}&step={step}\"\noutput = \"/dev/null\"\ncompressed\n\
                 header = \"Accept-Encoding: gzip\"\nwrite-out = \"%{{http_code}}\\n\"",
                chunk.start, chunk.end
            );
        }
    }
    let curl_file = dir.join("curl.conf");
    std::fs::write(&curl_file, curl_config).unwrap();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let timer = Instant::now();
        let output = Command::new("curl")
            .args(["--silent", "--show-error", "--parallel", "--parallel-max"])
            .arg(CONCURRENCY.to_string())
            .arg("--config")
            .arg(&curl_file)
            .output()
            .expect("curl runs");
        times.push(timer.elapsed().as_secs_f64());
        let codes = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            codes.lines().filter(|c| *c == "200").count(),
            requests,
            "curl: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    (median(times), requests)
}

fn report(
    case: &str,
    samples: usize,
    (ours, requests): (f64, usize),
    (theirs, curl_requests): (f64, usize),
) {
    assert_eq!(curl_requests, requests, "{case}: the same requests");
    println!(
        "fetch {case}: homeostat {ours:.2} s ({:.2} M samples/s), curl {theirs:.2} s, \
         homeostat at {:.0}% of curl's speed ({requests} requests, concurrency {CONCURRENCY}, median of {RUNS})",
        samples as f64 / ours / 1e6,
        100.0 * theirs / ours
    );
}

/// 500 workloads × 28 days at a 1-minute step (metric `load`).
fn dense(full: bool) {
    const STEP: i64 = 60;
    let (workloads, days) = if full { (500, 28) } else { (5, 2) };
    let end = chrono::Utc::now().timestamp() / STEP * STEP;
    let points = days * 86_400 / STEP;

    let started = Instant::now();
    let series: Vec<(String, Vec<(i64, f64)>)> = (0..workloads)
        .map(|w| {
            let values = synthetic::load(
                days,
                STEP,
                100.0 + f64::from(w),
                40.0,
                15.0,
                0.2,
                5.0,
                w as u64,
            );
            let samples = values
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        end - (points - 1 - i as i64) * STEP,
                        (v * 1000.0).round() / 1000.0,
                    )
                })
                .collect();
            (format!("w{w}"), samples)
        })
        .collect();
    let backfill: Vec<Backfill> = series
        .iter()
        .map(|(name, samples)| Backfill {
            workload: name,
            samples,
        })
        .collect();
    let server = PrometheusServer::start(&backfill, None);
    let total_samples: usize = series.iter().map(|s| s.1.len()).sum();
    drop(backfill);
    drop(series);
    println!(
        "fetch dense: {workloads} workloads × {days} days at 1m ({total_samples} samples) backfilled and served in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let mut yaml = format!(
        "prometheus: {{url: {}, max_concurrency: {CONCURRENCY}}}\nworkloads:\n",
        server.url
    );
    let queries: Vec<String> = (0..workloads)
        .map(|w| format!("load{{workload=\"w{w}\"}}"))
        .collect();
    for (w, query) in queries.iter().enumerate() {
        let _ = writeln!(
            yaml,
            "  - name: w{w}\n    query: '{query}'\n    step: 1m\n    history: {days}d\n    target_per_replica: 10"
        );
    }
    let config_path = dir.path().join("homeostat.yaml");
    std::fs::write(&config_path, &yaml).unwrap();
    let config = config::load(&config_path).unwrap();
    let ours = time_homeostat(&config, end, total_samples);
    let theirs = time_curl(&server.url, &queries, end, days, STEP, dir.path());
    report("dense", total_samples, ours, theirs);
}

/// The synthetic fleet of issue 9 at 5 minutes, from `homeostat synth
/// --openmetrics` (made once under target/fleet-bench/).
fn fleet(full: bool) {
    const STEP: i64 = 300;
    // synth's default last sample.
    const END: i64 = 1_767_225_600;
    let (workloads, days) = if full { (1000, 28) } else { (10, 2) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fleet-bench");
    let made = binary::synth(
        Path::new(BIN),
        &root.join(format!("prometheus-{workloads}x{days}")),
        workloads,
        days as u32,
        &["--end", &END.to_string(), "--openmetrics"],
        "fleet.om",
    );
    let started = Instant::now();
    let server = PrometheusServer::start_openmetrics_file(&made.join("fleet.om"));
    println!(
        "fetch fleet: {workloads} workloads × {days} days at 5m backfilled and served in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(made.join("homeostat-prometheus.yaml"))
        .unwrap()
        .replace(
            "url: http://127.0.0.1:9090",
            &format!("url: {}\n  max_concurrency: {CONCURRENCY}", server.url),
        );
    let config_path = dir.path().join("homeostat.yaml");
    std::fs::write(&config_path, &yaml).unwrap();
    let config = config::load(&config_path).unwrap();
    let queries: Vec<String> = config
        .workloads
        .iter()
        .map(|w| match &w.source {
            homeostat::core::workload::LoadSource::Query { query, .. } => query.clone(),
            homeostat::core::workload::LoadSource::File(_) => {
                panic!("{}: a query workload", w.name)
            }
        })
        .collect();
    assert_eq!(queries.len(), workloads);
    // The samples the server holds: those of the file it was made from
    // (a fleet made by an earlier homeostat, kept in target/, may differ
    // from what this one's generator makes).
    let samples = std::fs::read_to_string(made.join("fleet.om"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    let ours = time_homeostat(&config, END, samples);
    let theirs = time_curl(&server.url, &queries, END, days, STEP, dir.path());
    report("fleet", samples, ours, theirs);

    let end = END.to_string();
    let at = ["--at", end.as_str()];
    let (from_prometheus, summary) = binary::recommend(Path::new(BIN), &config_path, &at);
    assert_eq!(summary["workloads"], workloads);
    let (from_files, summary) =
        binary::recommend(Path::new(BIN), &made.join("homeostat.yaml"), &at);
    assert_eq!(summary["workloads"], workloads);
    println!(
        "fleet recommend end to end: from Prometheus {from_prometheus:.2} s, from files {from_files:.2} s \
         (fetch alone {:.2} s: {:.0}% of the run from Prometheus)",
        ours.0,
        100.0 * ours.0 / from_prometheus
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let wanted = |case: &str| {
        let named: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        named.is_empty() || named.iter().any(|a| *a == case)
    };
    if wanted("dense") {
        dense(full);
    }
    if wanted("fleet") {
        fleet(full);
    }
}
