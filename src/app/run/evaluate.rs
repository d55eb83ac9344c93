//! `homeostat evaluate`: the evaluation protocol over a folder of series.

use super::{write_curves, RunError};
use crate::core::evaluate::{self, Evaluation, SeriesEvaluation};
use crate::core::model::{self, Level};
use crate::core::series::{self, GridOptions};
use crate::core::time::Span;
use crate::edge::source::{self};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Evaluates the forecaster on every `.csv` and `.parquet` series in `dir`
/// (see [`crate::core::evaluate`]); returns the evaluations and, per series that
/// could not be evaluated, its reason. Errs only when `dir` cannot be listed
/// or holds no series, or `export` cannot be made.
///
/// `export`: also write each series' training history, held-out actuals
/// and forecast to `export/<series>.parquet` (columns as
/// [`export_fitted`](super::export_fitted)'s; the held-out rows have both `load` and the forecast).
pub fn evaluate_dir(
    dir: &Path,
    test: Span,
    level: Level,
    export: Option<&Path>,
) -> Result<Evaluation, RunError> {
    if let Some(export) = export {
        std::fs::create_dir_all(export).map_err(|e| RunError::file(export, "create", e))?;
    }
    let paths = series_files(dir)?;
    let mut evaluation = Evaluation::default();
    for path in paths {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let export = export.map(|d| d.join(format!("{name}.parquet")));
        match evaluate_file(&path, &name, test, level, export.as_deref()) {
            Ok((series, exported)) => {
                evaluation.series.push(series);
                if let Err(e) = exported {
                    evaluation.failures.push((name, e.to_string()));
                }
            }
            Err(reason) => evaluation.failures.push((name, reason)),
        }
    }
    Ok(evaluation)
}

/// The series files (`.csv`, `.parquet`) in `dir`, sorted.
fn series_files(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    let entries = std::fs::read_dir(dir).map_err(|e| RunError::file(dir, "list", e))?;
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
        return Err(RunError::NoSeries {
            dir: dir.to_path_buf(),
        });
    }
    Ok(paths)
}

/// The cold starts' scores, and per series that could not be scored, why.
pub type ColdStartEvaluation = (Vec<evaluate::ColdStartScore>, Vec<(String, String)>);

/// Simulated cold starts over the series of `dir` (the evaluation
/// protocol's split: the test span held out): for each series, the fleet's
/// shapes learned from the other series' training parts, then the first
/// test day forecast from only the last `hours` of its own training part,
/// scored against its own model's forecast from the whole training part
/// and a flat line. Returns the scores and, per series that could not be
/// scored, its reason.
pub fn cold_start_dir(
    dir: &Path,
    test: Span,
    hours: &[i64],
    level: Level,
) -> Result<ColdStartEvaluation, RunError> {
    use crate::core::shapes;
    let mut failures = Vec::new();
    let mut traces = Vec::new();
    for path in series_files(dir)? {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let split = source::read_file(&path)
            .map_err(|e| e.to_string())
            .and_then(|raw| {
                series::resample(&raw, &GridOptions::default()).map_err(|e| e.to_string())
            })
            .and_then(|series| {
                let test_steps = model::steps_in(test.secs(), series.step);
                evaluate::split(&series, test_steps)
            });
        match split {
            Ok((train, actual)) => {
                let profiled =
                    shapes::contribution(&train).map(|(profile, probe)| shapes::Profiled {
                        id: name.clone(),
                        profile,
                        probe: Some(probe),
                    });
                traces.push((name, train, actual, profiled));
            }
            Err(reason) => failures.push((name, reason)),
        }
    }
    let mut scores = Vec::new();
    for (name, train, actual, _) in &traces {
        let fleet: Vec<shapes::Profiled> = traces
            .iter()
            .filter(|(other, ..)| other != name)
            .filter_map(|(.., p)| p.clone())
            .collect();
        let Some(fleet) = shapes::learn(&fleet, "evaluation") else {
            failures.push((
                name.clone(),
                format!(
                    "fewer than {} other series give a profile",
                    shapes::MIN_FLEET
                ),
            ));
            continue;
        };
        let Some(per_day) = train.steps_per_day() else {
            failures.push((name.clone(), "a day is not a whole number of steps".into()));
            continue;
        };
        let scale = evaluate::mase_scale(&train.values, per_day);
        let reference =
            crate::core::crps::Quantiles::seasonal_naive(&train.values, per_day, per_day);
        let day = evaluate::Horizons {
            label: "1d".into(),
            steps: per_day,
            per_day,
        };
        let score = |forecast: &model::Forecast| {
            evaluate::scores(actual, forecast, level, &day, (scale, reference.as_ref()))
                .into_iter()
                .next()
                .expect("the day is scored")
        };
        let own = match model::forecast(train, per_day) {
            Ok(forecast) => score(&forecast).mase,
            Err(e) => {
                failures.push((name.clone(), e.to_string()));
                continue;
            }
        };
        for &h in hours {
            let seen = ((h * 3_600) / train.step).max(1) as usize;
            let from = train.len().saturating_sub(seen);
            let young = series::Series {
                start: train.timestamp(from),
                step: train.step,
                values: train.values[from..].to_vec(),
                stats: train.stats,
            };
            // As `recommend` would: the shape alone under two days of
            // history, blended with the workload's own model from two days.
            let (forecast, cold) = match shapes::forecast_in_fleet(
                &young,
                shapes::known_history(&young),
                per_day,
                &fleet,
                None,
            ) {
                Ok((forecast, Some(cold))) => (forecast, cold),
                Ok((_, None)) => {
                    failures.push((
                        format!("{name} ({h}h)"),
                        "no fleet shape to start from".into(),
                    ));
                    continue;
                }
                Err(e) => {
                    failures.push((format!("{name} ({h}h)"), e.to_string()));
                    continue;
                }
            };
            let cold_score = score(&forecast);
            let mut known: Vec<f64> = young
                .values
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            let flat = crate::core::stats::median(&mut known);
            let flat_mae = actual[..per_day.min(actual.len())]
                .iter()
                .filter(|a| a.is_finite())
                .map(|a| (a - flat).abs())
                .collect::<Vec<f64>>();
            let flat_mase = flat_mae.iter().sum::<f64>() / flat_mae.len().max(1) as f64 / scale;
            scores.push(evaluate::ColdStartScore {
                series: name.clone(),
                hours: h,
                shape: cold.shape,
                mase: cold_score.mase,
                own_mase: own,
                flat_mase,
                coverage: cold_score.coverage,
                crps_rel: cold_score.crps_rel,
            });
        }
    }
    Ok((scores, failures))
}

/// One series' evaluation, and whether its export (when asked) was written.
fn evaluate_file(
    path: &Path,
    name: &str,
    test: Span,
    level: Level,
    export: Option<&Path>,
) -> Result<(SeriesEvaluation, Result<(), RunError>), String> {
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
    let horizons = evaluate::Horizons {
        label: test.to_string(),
        steps: test_steps,
        per_day,
    };
    let reference =
        crate::core::crps::Quantiles::seasonal_naive(&train.values, per_day, test_steps);
    let scores = evaluate::scores(
        &actual,
        &forecast,
        level,
        &horizons,
        (scale, reference.as_ref()),
    );
    // When the adapted history cannot be fitted (too much of it was a
    // departure), the bare scores still stand; the adapted ones are left
    // out (the reports show NaN).
    let adapted = crate::core::adapt::adapted_forecast(&train, test_steps)
        .map(|forecast| {
            evaluate::scores(
                &actual,
                &forecast,
                level,
                &horizons,
                (scale, reference.as_ref()),
            )
        })
        .unwrap_or_default();
    let exported = export.map_or(Ok(()), |export| {
        write_curves(
            export,
            &train,
            &actual,
            &forecast,
            &forecast.interval(level),
        )
        .map_err(|e| RunError::file(export, "write", e))
    });
    let evaluation = SeriesEvaluation {
        series: name.to_string(),
        model: forecast.model.clone(),
        seasonality: forecast.seasonality.label().to_string(),
        train_steps: train.len(),
        test_steps,
        seconds,
        scores,
        adapted,
    };
    Ok((evaluation, exported))
}
