//! The fleet's shapes (issue 23), release build, one thread.
//!
//! - `learn`: k-means for k = 1…8 with the BIC choice, every profile
//!   assigned, and the cold starts simulated on 256 probes, for fleets of
//!   1,000 and 10,000 profiles (what a run adds after its stream);
//! - `profile`: one workload's hour-of-week profile and probe from 28 days
//!   at 5 minutes (what a run adds per workload);
//! - `cold_forecast_7d`: one young workload's match and 7-day forecast from
//!   6 and 24 hours of history.
//!
//! Inputs are built outside the timed closures.
//! `cargo bench --bench shapes`; `cargo test --benches` runs each once.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use homeostat::core::series::{GridStats, Series};
use homeostat::core::shapes::{self, Profiled};
use homeostat::core::synthetic;
use std::hint::black_box;

const STEP: i64 = 300;

/// Workload `i` of a synthetic fleet: daily and weekly swings of several
/// sizes (so that the fleet has several shapes), 28 days.
fn history(i: usize, days: i64) -> Series {
    let level = 100.0 + (i % 17) as f64 * 40.0;
    let daily = level * [0.1, 0.4, 0.7][i % 3];
    let weekly = level * [0.0, 0.3][i % 2];
    Series {
        start: 0,
        step: STEP,
        values: synthetic::load(
            days,
            STEP,
            level,
            daily,
            weekly,
            0.0,
            level * 0.05,
            i as u64,
        ),
        stats: GridStats::default(),
    }
}

/// A fleet of `n`: the profiles of 24 distinct workloads repeated (the
/// profile is what costs, not its variety), probes on the first 256.
fn fleet(n: usize) -> Vec<Profiled> {
    let distinct: Vec<(Vec<f64>, Series)> = (0..24)
        .map(|i| shapes::contribution(&history(i, 28)).expect("28 days give a profile"))
        .collect();
    let mut fleet = Vec::with_capacity(n);
    for i in 0..n {
        let (profile, probe) = distinct[i % distinct.len()].clone();
        Profiled::add_to(&mut fleet, format!("team/svc-{i:05}"), (profile, probe));
    }
    fleet
}

fn learn(c: &mut Criterion) {
    let mut group = c.benchmark_group("learn");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let profiled = fleet(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &profiled, |b, profiled| {
            b.iter(|| shapes::learn(black_box(profiled), "bench").expect("a fleet learns"));
        });
    }
    group.finish();
}

fn profile(c: &mut Criterion) {
    let series = history(5, 28);
    c.bench_function("profile/28d-5m", |b| {
        b.iter(|| shapes::contribution(black_box(&series)).expect("a profile"));
    });
}

fn cold_forecast(c: &mut Criterion) {
    let shapes = shapes::learn(&fleet(200), "bench").expect("a fleet learns");
    let mut group = c.benchmark_group("cold_forecast_7d");
    for hours in [6_usize, 24] {
        let full = history(7, 28);
        let steps = hours * 3_600 / STEP as usize;
        let young = Series {
            start: full.timestamp(full.len() - steps),
            step: STEP,
            values: full.values[full.len() - steps..].to_vec(),
            stats: GridStats::default(),
        };
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{hours}h")),
            &young,
            |b, young| {
                b.iter(|| {
                    shapes::cold_forecast(
                        black_box(young),
                        shapes::known_history(young),
                        7 * 288,
                        &shapes,
                        None,
                    )
                    .expect("a forecast")
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, learn, profile, cold_forecast);
criterion_main!(benches);
