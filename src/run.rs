//! Orchestration: the only module that sequences I/O (files, the clock for
//! timings) and the pure core.
//! Reads each workload's source, hands the samples to [`plan_workload`],
//! and collects the results; one workload's failure is recorded in its plan
//! and never stops the others.

use crate::config::{Config, LoadSource, Workload};
use crate::evaluate::{self, Evaluation, SeriesEvaluation};
use crate::model::{self, Level};
use crate::plan::{plan_workload, Plan, Status, WorkloadPlan};
use crate::series::{self, GridOptions};
use crate::source::{self, RawSeries};
use crate::time::{format_timestamp, Span};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Reads one workload's raw samples.
pub fn read_load(workload: &Workload) -> Result<RawSeries, String> {
    match &workload.source {
        LoadSource::File(path) => source::read_file(path).map_err(|e| e.to_string()),
        LoadSource::Query(_) => Err(
            "reading load from Prometheus is not available in this version of homeostat; \
             give the workload a `file:` instead"
                .to_string(),
        ),
    }
}

/// Runs the recommender over every workload of `config`.
///
/// `at` fixes "now" for every workload; without it, each file-backed
/// workload's "now" is the time of its last sample. `generated_at` is the
/// wall-clock time stamped on the report.
#[must_use]
pub fn recommend(config: &Config, at: Option<i64>, generated_at: i64) -> Plan {
    let workloads = config
        .workloads
        .iter()
        .map(|workload| match read_load(workload) {
            Ok(raw) => plan_workload(workload, &raw, at),
            Err(reason) => WorkloadPlan::failed(workload, at, Status::Error, reason),
        })
        .collect();
    Plan {
        generated_at: format_timestamp(generated_at),
        workloads,
    }
}

/// Evaluates the forecaster on every `.csv` and `.parquet` series in `dir`
/// (see [`crate::evaluate`]); returns the evaluations and, per series that
/// could not be evaluated, its reason. Errs only when `dir` cannot be listed
/// or holds no series.
pub fn evaluate_dir(dir: &Path, test: Span, level: Level) -> Result<Evaluation, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("{}: cannot list: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                matches!(e.to_ascii_lowercase().as_str(), "csv" | "parquet" | "pq")
            })
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!(
            "{}: no .csv or .parquet series to evaluate",
            dir.display()
        ));
    }
    let mut evaluation = Evaluation::default();
    for path in paths {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        match evaluate_file(&path, &name, test, level) {
            Ok(series) => evaluation.series.push(series),
            Err(reason) => evaluation.failures.push((name, reason)),
        }
    }
    Ok(evaluation)
}

fn evaluate_file(
    path: &Path,
    name: &str,
    test: Span,
    level: Level,
) -> Result<SeriesEvaluation, String> {
    let raw = source::read_file(path).map_err(|e| e.to_string())?;
    let series = series::resample(&raw, &GridOptions::default()).map_err(|e| e.to_string())?;
    let test_steps = model::steps_in(test.secs(), series.step);
    let (train, actual) = evaluate::split(&series, test_steps)?;
    let per_day = train.steps_per_day().expect("split checked the day");
    let started = Instant::now();
    let forecast = model::forecast(&train, test_steps).map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let scale = evaluate::mase_scale(&train.values, per_day);
    if scale <= 0.0 {
        return Err(
            "MASE is undefined: the training part does not vary from day to day \
             (the daily seasonal naive's in-sample error is 0)"
                .into(),
        );
    }
    let mut scores = vec![evaluate::score(
        &test.to_string(),
        &actual,
        &forecast,
        level,
        test_steps,
        scale,
    )];
    // The first day alone, when the test span is longer than a day.
    if test_steps > per_day {
        scores.push(evaluate::score(
            "1d", &actual, &forecast, level, per_day, scale,
        ));
    }
    Ok(SeriesEvaluation {
        series: name.to_string(),
        model: forecast.model.clone(),
        seasonality: forecast.seasonality.label().to_string(),
        train_steps: train.len(),
        test_steps,
        seconds,
        scores,
    })
}
