//! Fit + forecast speed, release build, one thread.
//!
//! - `fit_forecast_7d`: the whole model stage (seasonality detection,
//!   rolling-origin backtest of every candidate, refit, 7-day forecast) on
//!   seeded synthetic 5-minute load of one week, one month and three months,
//!   and one month of 1-minute load;
//! - `shared_series`: the same on the training part (all but the last 7 days)
//!   of every trace in `data/`, the series the peers were timed on
//!   (`../shared/bench/timings-shared.csv`);
//! - `candidates`: one fit + 7-day forecast of each candidate model on the
//!   Twitter AAPL training part, to see where the time goes.
//!
//! Inputs are built outside the timed closures.
//! `cargo bench --bench fit`; `cargo test --benches` runs each once.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use homeostat::core::model::{self, Grid};
use homeostat::core::series::{resample, GridOptions, GridStats, Series};
use homeostat::core::synthetic;
use homeostat::edge::source::read_file;
use std::hint::black_box;
use std::path::Path;

fn synthetic_series(days: i64, step: i64) -> Series {
    Series {
        start: 0,
        step,
        values: synthetic::load(days, step, 200.0, 60.0, 30.0, 0.5, 10.0, 42),
        stats: GridStats::default(),
    }
}

/// The training part of a bundled trace: everything but its last 7 days.
fn training_part(name: &str) -> Series {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    let mut series = resample(&read_file(&path).unwrap(), &GridOptions::default()).unwrap();
    let test = model::steps_in(7 * 86_400, series.step);
    series.values.truncate(series.values.len() - test);
    series
}

fn fit_and_forecast(c: &mut Criterion) {
    let mut group = c.benchmark_group("fit_forecast_7d");
    group.sample_size(10);
    for (days, step) in [(7, 300), (28, 300), (90, 300), (28, 60)] {
        let input = synthetic_series(days, step);
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

fn shared_series(c: &mut Criterion) {
    let mut group = c.benchmark_group("shared_series");
    group.sample_size(10);
    let mut names: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("data"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| {
                Path::new(n)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            })
            .collect();
    names.sort();
    for name in names {
        let input = training_part(&name);
        let horizon = model::steps_in(7 * 86_400, input.step);
        let id = BenchmarkId::from_parameter(format!(
            "{}-n{}",
            name.trim_end_matches(".csv"),
            input.len()
        ));
        group.bench_with_input(id, &input, |b, input| {
            b.iter(|| model::forecast(black_box(input), horizon).expect("bundled traces forecast"));
        });
    }
    group.finish();
}

fn candidates(c: &mut Criterion) {
    let mut group = c.benchmark_group("candidates");
    group.sample_size(10);
    let input = training_part("nab__twitter_volume_aapl.csv");
    let grid = Grid {
        start: input.start,
        step: input.step,
    };
    let seasonality = model::detect_seasonality(&input.values, input.start, input.step);
    let horizon = model::steps_in(7 * 86_400, input.step);
    group.bench_function("detect_seasonality", |b| {
        b.iter(|| model::detect_seasonality(black_box(&input.values), input.start, input.step));
    });
    for candidate in model::candidates(&seasonality, input.steps_per_day()) {
        group.bench_function(candidate.name(), |b| {
            b.iter(|| {
                candidate
                    .fit(black_box(&input.values), grid)
                    .unwrap()
                    .predict(horizon)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, fit_and_forecast, shared_series, candidates);
criterion_main!(benches);
