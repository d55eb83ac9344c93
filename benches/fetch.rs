//! Fetch speed from a real local Prometheus, against curl making the same
//! HTTP requests at the same concurrency.
//!
//! `cargo bench --bench fetch`: 500 workloads × 28 days at a 1-minute step
//! (40,320 points each: 4 `query_range` requests per workload, 2,000 in
//! all, 20 million samples), backfilled into a Prometheus started on
//! loopback (tests/support/prometheus.rs). Timed, three times each, median
//! kept:
//! - homeostat: `run::load_histories` on a config of 500 query workloads,
//!   `max_concurrency` 4: requests, gzip, JSON parsing, chunk stitching,
//!   lookback clean-up, everything but planning (the visitor only counts);
//! - curl: `curl --parallel --parallel-max 4` with the same 2,000 POST
//!   requests (same form bodies, gzip), answers decompressed to /dev/null,
//!   nothing parsed.
//!
//! Prometheus runs on the same two cores as both clients, so both times
//! include its work (evaluating and encoding each answer).
//!
//! `cargo test --benches` runs it once at 5 workloads × 2 days, to keep it working.

#[path = "../tests/support/prometheus.rs"]
#[allow(clippy::all, clippy::pedantic)]
mod prometheus_server;

use homeostat::config;
use homeostat::prometheus::plan_chunks;
use homeostat::run::load_histories;
use homeostat::synthetic;
use prometheus_server::{Backfill, PrometheusServer};
use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

const CONCURRENCY: usize = 4;
const STEP: i64 = 60;
const RUNS: usize = 3;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
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
        "fetch: {workloads} workloads × {days} days at 1m ({total_samples} samples) backfilled and served in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // homeostat, through the run's own loader.
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = format!(
        "prometheus: {{url: {}, max_concurrency: {CONCURRENCY}}}\nworkloads:\n",
        server.url
    );
    for w in 0..workloads {
        let _ = writeln!(
            yaml,
            "  - name: w{w}\n    query: 'load{{workload=\"w{w}\"}}'\n    step: 1m\n    history: {days}d\n    target_per_replica: 10"
        );
    }
    let config_path = dir.path().join("homeostat.yaml");
    std::fs::write(&config_path, &yaml).unwrap();
    let config = config::load(&config_path).unwrap();
    let mut ours = Vec::new();
    let mut requests = 0;
    for _ in 0..RUNS {
        let (mut fetched, mut failed) = (0, 0);
        requests = 0;
        let timer = Instant::now();
        load_histories(&config, Some(end), end, |_, result| match result {
            Ok(loaded) => {
                fetched += loaded.raw.samples.len();
                requests += loaded.requests;
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}", e.reason);
            }
        });
        ours.push(timer.elapsed().as_secs_f64());
        assert_eq!((fetched, failed), (total_samples, 0));
    }

    // curl, the same requests.
    let start = end - days * 86_400 + 1;
    let mut curl_config = String::new();
    let mut curl_requests = 0;
    for w in 0..workloads {
        for chunk in plan_chunks(start, end, STEP) {
            if curl_requests > 0 {
                curl_config.push_str("next\n");
            }
            curl_requests += 1;
            let _ = writeln!(
                curl_config,
                "url = \"{}/api/v1/query_range\"\ndata-urlencode = \"query=load{{workload=\\\"w{w}\\\"}}\"\n\
                 data = \"start={}&end={}&step={STEP}\"\noutput = \"/dev/null\"\ncompressed\n\
                 header = \"Accept-Encoding: gzip\"\nwrite-out = \"%{{http_code}}\\n\"",
                server.url, chunk.start, chunk.end
            );
        }
    }
    assert_eq!(curl_requests, requests);
    let curl_file = dir.path().join("curl.conf");
    std::fs::write(&curl_file, curl_config).unwrap();
    let mut theirs = Vec::new();
    for _ in 0..RUNS {
        let timer = Instant::now();
        let output = Command::new("curl")
            .args(["--silent", "--show-error", "--parallel", "--parallel-max"])
            .arg(CONCURRENCY.to_string())
            .arg("--config")
            .arg(&curl_file)
            .output()
            .expect("curl runs");
        theirs.push(timer.elapsed().as_secs_f64());
        let codes = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            codes.lines().filter(|c| *c == "200").count(),
            curl_requests,
            "curl: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "fetch: homeostat {ours:.2} s ({:.2} M samples/s), curl {theirs:.2} s, ratio {:.2} \
         ({requests} requests, concurrency {CONCURRENCY}, median of {RUNS})",
        total_samples as f64 / ours / 1e6,
        ours / theirs
    );
}
