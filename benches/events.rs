//! Events stage speed, release build, one thread: `events::detect_in`
//! (seasonality detection, deseasonalising, the two-window shift scan and
//! the multi-scale spike scan, twice) on seeded synthetic load with a
//! shift and a few spikes: one week, one month and three months at 5
//! minutes, and one month at 1 minute.
//!
//! `cargo bench --bench events`; `cargo test --benches` runs each once.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use homeostat::core::events::{detect_in, EventSettings};
use homeostat::core::series::{GridStats, Series};
use homeostat::core::synthetic;
use std::hint::black_box;

fn with_events(days: i64, step: i64) -> Series {
    let mut values = synthetic::load(days, step, 200.0, 60.0, 30.0, 0.5, 10.0, 42);
    let per_hour = (3600 / step) as usize;
    let n = values.len();
    for v in &mut values[n / 2..] {
        *v *= 1.4;
    }
    for at in (per_hour * 30..n).step_by(per_hour * 40) {
        for v in &mut values[at..(at + per_hour).min(n)] {
            *v *= 3.0;
        }
    }
    Series {
        start: 0,
        step,
        values,
        stats: GridStats::default(),
    }
}

fn detect(c: &mut Criterion) {
    let mut group = c.benchmark_group("events_detect");
    group.sample_size(10);
    let settings = EventSettings::default();
    for (days, step) in [(7, 300), (28, 300), (90, 300), (28, 60)] {
        let input = with_events(days, step);
        let id = BenchmarkId::from_parameter(format!("step{step}s-n{}", input.len()));
        group.bench_with_input(id, &input, |b, input| {
            b.iter(|| detect_in(black_box(input), &settings));
        });
    }
    group.finish();
}

criterion_group!(benches, detect);
criterion_main!(benches);
