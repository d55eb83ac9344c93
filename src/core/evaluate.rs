//! Evaluation protocol of DESIGN.md: how good are the forecasts?
//!
//! For each series on its regular grid, the last `test` span is held out and
//! everything before is training; one forecast over the whole test span is
//! made from the end of training, and its first day is also scored alone
//! (the 1-day horizon). MASE is scaled by the in-sample MAE of the daily
//! seasonal-naive forecast. Steps unknown in the test span (long gaps) are
//! left out of every metric.
//!
//! Pure: the caller reads the files and times the forecast.

use crate::core::crps::Quantiles;
use crate::core::model::{Forecast, Level};
use crate::core::series::Series;
use crate::core::stats::quantile;
use serde::Serialize;

/// Scores of one forecast over one horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// `7d` (the whole test span) or `1d` (its first day).
    pub horizon: String,
    /// Mean absolute error over the daily seasonal-naive in-sample MAE.
    pub mase: f64,
    /// Symmetric MAPE in percent (0..200); steps where both are 0 count 0.
    pub smape: f64,
    /// Share of actual values inside the interval.
    pub coverage: f64,
    /// Mean interval width over the mean actual value.
    pub width_rel: f64,
    /// 95th percentile of the forecast mean over that of the actual values.
    pub p95_ratio: f64,
    /// 95th percentile of the interval's upper end over that of the actual values.
    pub upper_p95_ratio: f64,
    /// Mean CRPS of the quantile forecast (see [`crate::core::crps`]), in
    /// units of the daily seasonal naive's in-sample MAE (as MASE).
    pub crps: f64,
    /// Mean CRPS over the daily seasonal naive's (its quantiles from its
    /// own day-over-day errors): below 1 is better than seasonal naive.
    pub crps_rel: f64,
}

/// One series' evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesEvaluation {
    pub series: String,
    pub model: String,
    pub seasonality: String,
    pub train_steps: usize,
    pub test_steps: usize,
    /// Wall-clock seconds of fit + forecast (measured by the caller).
    pub seconds: f64,
    pub scores: Vec<Score>,
    /// The same horizons for the forecast `recommend` uses (events found
    /// in the history, spikes and dips out, levels re-based after shifts).
    pub adapted: Vec<Score>,
}

impl SeriesEvaluation {
    /// The adapted forecast's score over `horizon`.
    #[must_use]
    pub fn adapted_at(&self, horizon: &str) -> Option<&Score> {
        self.adapted.iter().find(|s| s.horizon == horizon)
    }
}

/// Splits `series` into training (a series) and the held-out test values.
pub fn split(series: &Series, test_steps: usize) -> Result<(Series, Vec<f64>), String> {
    let Some(per_day) = series.steps_per_day() else {
        return Err(format!(
            "a day is not a whole number of {}s steps; MASE needs a daily seasonal naive",
            series.step
        ));
    };
    if series.len() < test_steps + 2 * per_day {
        return Err(format!(
            "{} steps: need the {test_steps}-step test span plus at least 2 days ({}) of training",
            series.len(),
            2 * per_day
        ));
    }
    let cut = series.len() - test_steps;
    let train = Series {
        values: series.values[..cut].to_vec(),
        ..series.clone()
    };
    Ok((train, series.values[cut..].to_vec()))
}

/// The daily seasonal naive's in-sample errors (each known step minus the
/// same step a day before), over the known pairs.
pub fn day_over_day(train: &[f64], per_day: usize) -> impl Iterator<Item = f64> + '_ {
    train
        .iter()
        .zip(train.iter().skip(per_day))
        .filter(|(a, b)| !a.is_nan() && !b.is_nan())
        .map(|(a, b)| b - a)
}

/// In-sample MAE of the daily seasonal-naive forecast over known pairs.
#[must_use]
pub fn mase_scale(train: &[f64], per_day: usize) -> f64 {
    let (sum, n) =
        day_over_day(train, per_day).fold((0.0, 0usize), |(s, n), e| (s + e.abs(), n + 1));
    sum / n.max(1) as f64
}

/// One test step: the actual value, the forecast mean and its interval.
struct Row {
    actual: f64,
    mean: f64,
    lower: f64,
    upper: f64,
}

/// Every series of an evaluation run, and those that could not be evaluated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    pub series: Vec<SeriesEvaluation>,
    /// `(series, reason)` for each series that could not be evaluated.
    pub failures: Vec<(String, String)>,
}

/// A forecast as it is scored: its mean and interval, its quantiles and
/// the seasonal naive's (the CRPS reference).
pub struct Scored<'a> {
    pub forecast: &'a Forecast,
    pub level: Level,
    pub quantiles: &'a Quantiles,
    pub reference: Option<&'a Quantiles>,
}

/// Scores the first `steps` of `scored` against `actual`.
#[must_use]
pub fn score(horizon: &str, actual: &[f64], scored: &Scored, steps: usize, scale: f64) -> Score {
    let forecast = scored.forecast;
    let intervals = forecast.interval(scored.level);
    let rows: Vec<Row> = actual
        .iter()
        .zip(&forecast.mean)
        .zip(&intervals)
        .take(steps)
        .filter(|((a, _), _)| !a.is_nan())
        .map(|((&actual, &mean), i)| Row {
            actual,
            mean,
            lower: i.lower,
            upper: i.upper,
        })
        .collect();
    if rows.is_empty() {
        // Nothing known to score against: no number is better than a false 0.
        return Score {
            horizon: horizon.to_string(),
            mase: f64::NAN,
            smape: f64::NAN,
            coverage: f64::NAN,
            width_rel: f64::NAN,
            p95_ratio: f64::NAN,
            upper_p95_ratio: f64::NAN,
            crps: f64::NAN,
            crps_rel: f64::NAN,
        };
    }
    let n = rows.len() as f64;
    let mean = |f: &dyn Fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / n;
    let mae = mean(&|r| (r.actual - r.mean).abs());
    let smape = 100.0
        * mean(&|r| {
            let den = r.actual.abs() + r.mean.abs();
            if den == 0.0 {
                0.0
            } else {
                2.0 * (r.actual - r.mean).abs() / den
            }
        });
    let coverage = mean(&|r| f64::from(u8::from(r.lower <= r.actual && r.actual <= r.upper)));
    let width = mean(&|r| r.upper - r.lower);
    let actual_mean = mean(&|r| r.actual.abs());
    let p95 = |pick: fn(&Row) -> f64| {
        let mut xs: Vec<f64> = rows.iter().map(pick).collect();
        percentile(&mut xs, 0.95)
    };
    let actual_p95 = p95(|r| r.actual);
    let crps = scored.quantiles.mean_crps(actual, steps);
    let reference = scored
        .reference
        .map_or(f64::NAN, |r| r.mean_crps(actual, steps));
    Score {
        horizon: horizon.to_string(),
        mase: mae / scale,
        smape,
        coverage,
        width_rel: width / actual_mean,
        p95_ratio: p95(|r| r.mean) / actual_p95,
        upper_p95_ratio: p95(|r| r.upper) / actual_p95,
        crps: crps / scale,
        crps_rel: crps / reference,
    }
}

/// The horizons a forecast is scored over: the whole test span (`label`,
/// `steps` long) and, within it, its first day, six hours and hour (those
/// a whole number of steps).
pub struct Horizons {
    pub label: String,
    pub steps: usize,
    pub per_day: usize,
}

/// `forecast`'s scores against `actual` over `horizons`, MASE and CRPS
/// scaled by `scale` (the training history's daily seasonal naive MAE),
/// CRPS also relative to `reference` (the seasonal naive's quantiles).
#[must_use]
pub fn scores(
    actual: &[f64],
    forecast: &Forecast,
    level: Level,
    horizons: &Horizons,
    (scale, reference): (f64, Option<&Quantiles>),
) -> Vec<Score> {
    let quantiles = Quantiles::of(forecast);
    let scored = Scored {
        forecast,
        level,
        quantiles: &quantiles,
        reference,
    };
    let mut spans = vec![(horizons.label.clone(), horizons.steps)];
    for (label, parts) in [("1d", 1), ("6h", 4), ("1h", 24)] {
        let steps = horizons.per_day / parts;
        if steps > 0 && steps * parts == horizons.per_day && steps < horizons.steps {
            spans.push((label.to_string(), steps));
        }
    }
    spans
        .iter()
        .map(|(label, steps)| score(label, actual, &scored, *steps, scale))
        .collect()
}

/// Percentile `q` of `xs` (sorts them); NaN for none, so that an empty
/// metric never reads as a real 0.
fn percentile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    quantile(xs, q)
}

/// Median and mean of one metric over the evaluated series, per horizon.
#[must_use]
pub fn summary(
    evaluations: &[SeriesEvaluation],
    horizon: &str,
    metric: fn(&Score) -> f64,
) -> (f64, f64) {
    summary_of(evaluations, horizon, metric, |e| &e.scores)
}

/// [`summary`] of the scores `pick` chooses (the bare or adapted forecast's).
#[must_use]
pub fn summary_of(
    evaluations: &[SeriesEvaluation],
    horizon: &str,
    metric: fn(&Score) -> f64,
    pick: fn(&SeriesEvaluation) -> &[Score],
) -> (f64, f64) {
    let mut xs: Vec<f64> = evaluations
        .iter()
        .flat_map(|e| pick(e).iter().filter(|s| s.horizon == horizon).map(metric))
        .filter(|x| x.is_finite())
        .collect();
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    (percentile(&mut xs, 0.5), mean)
}

/// The horizon labels present, in the order the first series has them.
#[must_use]
pub fn horizons(evaluations: &[SeriesEvaluation]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for score in evaluations.iter().flat_map(|e| &e.scores) {
        if !labels.contains(&score.horizon) {
            labels.push(score.horizon.clone());
        }
    }
    labels
}

/// One trace's simulated cold start (`homeostat evaluate --cold-start`):
/// the next day forecast from only its last `hours` hours, the other
/// traces of the set as the fleet.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColdStartScore {
    pub series: String,
    pub hours: i64,
    /// The shape it was matched to (`flat`: none).
    pub shape: String,
    /// Next-day MASE of the cold start, of the workload's own model on its
    /// whole training history, and of a flat line at the median of the
    /// hours seen (all in units of the training history's daily seasonal
    /// naive error).
    pub mase: f64,
    pub own_mase: f64,
    pub flat_mase: f64,
    /// Share of the next day inside the cold start's central interval.
    pub coverage: f64,
    /// CRPS relative to the seasonal naive's (as `evaluate`'s).
    pub crps_rel: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model;
    use crate::core::series::GridStats;
    use crate::core::synthetic;

    /// The scores (7d, 1d, 6h, 1h) of a forecast of a noisy hourly cycle
    /// with `days` of data, the last 7 held out.
    fn scores_of_a_noisy_cycle(days: i64) -> Vec<Score> {
        let values = synthetic::load(days, 3600, 100.0, 30.0, 0.0, 0.0, 2.0, 1);
        let series = Series {
            start: 0,
            step: 3600,
            values,
            stats: GridStats::default(),
        };
        let (train, test) = split(&series, 7 * 24).unwrap();
        assert_eq!(train.len(), usize::try_from(days - 7).unwrap() * 24);
        let forecast = model::forecast(&train, test.len()).unwrap();
        let horizons = Horizons {
            label: "7d".into(),
            steps: test.len(),
            per_day: 24,
        };
        let reference = Quantiles::seasonal_naive(&train.values, 24, test.len());
        scores(
            &test,
            &forecast,
            Level::new(0.9).unwrap(),
            &horizons,
            (mase_scale(&train.values, 24), reference.as_ref()),
        )
    }

    #[test]
    fn a_good_forecast_of_a_noisy_cycle_beats_seasonal_naive_and_covers() {
        let scores = scores_of_a_noisy_cycle(10);
        let labels: Vec<&str> = scores.iter().map(|s| s.horizon.as_str()).collect();
        assert_eq!(labels, ["7d", "1d", "6h", "1h"]);
        let score = &scores[0];
        // Seasonal naive's error is √2 times the noise; the model's about 1×.
        assert!(score.mase < 0.9, "{score:?}");
        assert!(score.coverage > 0.8 && score.smape < 5.0, "{score:?}");
        assert!((score.p95_ratio - 1.0).abs() < 0.1, "{score:?}");
        // Its distribution too, with a fortnight of history to calibrate
        // on: better than seasonal naive's over the day and the week.
        for s in &scores_of_a_noisy_cycle(21)[..2] {
            assert!(s.crps_rel < 0.9, "{s:?}");
        }
    }

    #[test]
    fn too_short_series_are_refused_with_counts() {
        let series = Series {
            start: 0,
            step: 3600,
            values: vec![1.0; 24 * 8],
            stats: GridStats::default(),
        };
        let err = split(&series, 7 * 24).unwrap_err();
        assert!(err.contains("192 steps"), "{err}");
    }

    #[test]
    fn percentiles_sort_first_and_are_nan_for_nothing() {
        assert_eq!(percentile(&mut [4.0, 1.0, 3.0, 2.0], 0.5), 2.5);
        assert!(percentile(&mut [], 0.5).is_nan());
    }
}
