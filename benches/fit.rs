//! Fit + forecast speed: the whole model stage (seasonality detection,
//! backtest selection over every candidate, refit, 7-day forecast) on seeded
//! synthetic 5-minute load of one week, one month and three months, and one
//! month of 1-minute load. Inputs are built outside the timed closure.
//!
//! `cargo bench --bench fit` (release); `cargo test --benches` runs each once.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use homeostat::model;
use homeostat::series::{GridStats, Series};
use homeostat::synthetic;
use std::hint::black_box;

fn series(days: i64, step: i64) -> Series {
    Series {
        start: 0,
        step,
        values: synthetic::load(days, step, 200.0, 60.0, 30.0, 0.5, 10.0, 42),
        stats: GridStats::default(),
    }
}

fn fit_and_forecast(c: &mut Criterion) {
    let mut group = c.benchmark_group("fit_forecast_7d");
    group.sample_size(10);
    for (days, step) in [(7, 300), (28, 300), (90, 300), (28, 60)] {
        let input = series(days, step);
        let horizon = model::steps_in(7 * 86_400, step);
        let id = BenchmarkId::from_parameter(format!("step{step}s-n{}", input.len()));
        group.bench_with_input(id, &input, |b, input| {
            b.iter(|| {
                model::forecast(black_box(input), horizon).expect("synthetic load forecasts")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, fit_and_forecast);
criterion_main!(benches);
