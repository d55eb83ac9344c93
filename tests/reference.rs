//! homeostat's models against numbers computed by an independent tool.
//! How each reference file was made is written in its first line.

use homeostat::model::{Forecaster, FourierTrend, Grid};
use homeostat::series::{resample, GridOptions};
use homeostat::source::read_file;
use std::path::Path;

fn manifest(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `(timestamp, value)` rows of a reference CSV (comment lines skipped).
fn reference(path: &str) -> Vec<(i64, f64)> {
    std::fs::read_to_string(manifest(path))
        .expect("reference file exists")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("timestamp"))
        .map(|line| {
            let (ts, value) = line.split_once(',').expect("two columns");
            (
                ts.parse().expect("unix seconds"),
                value.parse().expect("a number"),
            )
        })
        .collect()
}

#[test]
fn fourier_trend_regression_matches_numpy_lstsq_on_twitter_fb() {
    let raw = read_file(&manifest("data/nab__twitter_volume_fb.csv")).unwrap();
    let series = resample(&raw, &GridOptions::default()).unwrap();
    let history = 28 * 288;
    let skip = series.len() - history;
    let values = &series.values[skip..];
    let grid = Grid {
        start: series.timestamp(skip),
        step: series.step,
    };
    let spec = FourierTrend {
        daily: true,
        weekly: true,
        trend: true,
    };
    let forecast = spec.fit(values, grid).unwrap().predict(288);
    let expected = reference("tests/reference/fourier_twitter_fb.csv");
    assert_eq!(expected.len(), 288);
    for (i, ((ts, want), got)) in expected.iter().zip(&forecast).enumerate() {
        assert_eq!(*ts, grid.start + (history + i) as i64 * grid.step);
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1.0),
            "step {i}: {got} vs numpy {want}"
        );
    }
}
