use super::*;
use crate::core::series::GridStats;
use crate::core::synthetic;

fn series(values: Vec<f64>, step: i64) -> Series {
    Series {
        start: 0,
        step,
        values,
        stats: GridStats::default(),
    }
}

#[test]
fn a_point_more_or_less_at_either_end_keeps_the_validation_window() {
    // 28 days at 5 minutes, a 7-day horizon: 7 days of validation, with
    // the point a server's lookback adds or a file lacks.
    for len in [8062, 8063, 8064, 8065, 8066] {
        assert_eq!(validation_steps(len, 2016, Some(288)), 2016, "{len}");
    }
    // 10 days: 2 (a quarter, in whole days), at least 1, never above half.
    assert_eq!(validation_steps(2880, 2016, Some(288)), 576);
    assert_eq!(validation_steps(300, 2016, Some(288)), 150);
    assert_eq!(validation_steps(1000, 2016, None), 250);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    #[test]
    fn constant_series_forecasts_a_constant(
        value in 0.0f64..1e6,
        days in 2usize..6,
        step in proptest::sample::select(vec![60i64, 300, 1800, 3600]),
    ) {
        let per_day = (86_400 / step) as usize;
        let forecast = forecast(&series(vec![value; days * per_day], step), per_day).unwrap();
        let tolerance = 1e-9 * value.max(1.0);
        proptest::prop_assert!(forecast.mean.iter().all(|&m| (m - value).abs() < tolerance));
        for interval in forecast.interval(Level::new(0.9).unwrap()) {
            proptest::prop_assert!((interval.lower - value).abs() < tolerance);
            proptest::prop_assert!((interval.upper - value).abs() < tolerance);
        }
    }
}

#[test]
fn seeded_daily_weekly_trend_series_is_forecast_within_a_tight_tolerance() {
    let step = 300;
    let noise = 2.0;
    let values = synthetic::load(35, step, 200.0, 40.0, 25.0, 1.0, noise, 11);
    let truth = synthetic::load(35, step, 200.0, 40.0, 25.0, 1.0, 0.0, 11);
    let (train, _) = values.split_at(28 * 288);
    let forecast = forecast(&series(train.to_vec(), step), 7 * 288).unwrap();
    assert_eq!(forecast.seasonality.label(), "daily+weekly");
    let mae = forecast
        .mean
        .iter()
        .zip(&truth[28 * 288..])
        .map(|(f, t)| (f - t).abs())
        .sum::<f64>()
        / forecast.mean.len() as f64;
    // The noise-free truth is recovered to well under the noise level.
    assert!(mae < 0.5 * noise, "{} mae {mae}", forecast.model);
}

/// Share of `test` inside the `level` intervals, over seeded series
/// with known Gaussian noise, forecast a week ahead from five weeks.
fn pooled_coverage(level: f64, seeds: std::ops::Range<u64>) -> f64 {
    let (mut inside, mut total) = (0, 0);
    for seed in seeds {
        let values = synthetic::load(42, 300, 200.0, 40.0, 15.0, 0.0, 10.0, seed);
        let (train, test) = values.split_at(35 * 288);
        let forecast = forecast(&series(train.to_vec(), 300), 7 * 288).unwrap();
        let intervals = forecast.interval(Level::new(level).unwrap());
        inside += intervals
            .iter()
            .zip(test)
            .filter(|(i, &a)| i.lower <= a && a <= i.upper)
            .count();
        total += test.len();
    }
    inside as f64 / total as f64
}

#[test]
fn intervals_cover_their_level_on_known_noise() {
    // 8 weeks of 2016 steps: a binomial 90% share has a standard error
    // of 0.2%, autocorrelation aside; the bands allow for calibration on
    // 2 × 7 days of errors.
    let ninety = pooled_coverage(0.9, 1..9);
    assert!((0.88..=0.92).contains(&ninety), "90% covers {ninety}");
    let half = pooled_coverage(0.5, 1..9);
    assert!((0.46..=0.54).contains(&half), "50% covers {half}");
}

#[test]
fn a_burst_at_the_end_of_the_history_is_not_carried_through_the_horizon() {
    let step = 300;
    let mut values = synthetic::load(28, step, 100.0, 30.0, 10.0, 0.0, 5.0, 3);
    let normal_peak = values.iter().copied().fold(0.0, f64::max);
    let n = values.len();
    // The last three hours at five times the load.
    for v in &mut values[n - 36..] {
        *v *= 5.0;
    }
    let forecast = forecast(&series(values, step), 7 * 288).unwrap();
    let peak = forecast.mean.iter().copied().fold(0.0, f64::max);
    assert!(
        peak < 1.1 * normal_peak,
        "{}: peak {peak} vs {normal_peak}",
        forecast.model
    );
}

#[test]
fn the_same_input_gives_the_same_forecast() {
    let values = synthetic::load(21, 300, 100.0, 30.0, 10.0, 0.2, 5.0, 9);
    let a = forecast(&series(values.clone(), 300), 2016).unwrap();
    let b = forecast(&series(values, 300), 2016).unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_combination_averages_its_members_and_reuses_a_companion_fit() {
    let values = synthetic::load(21, 300, 100.0, 30.0, 10.0, 0.2, 5.0, 9);
    let grid = Grid {
        start: 0,
        step: 300,
    };
    let season = FourierTrend {
        daily: true,
        weekly: true,
        trend: false,
        loss: Loss::Huber,
    };
    let smoothing = DampedTrend {
        daily: true,
        weekly: true,
    };
    // The season is the smoothing model's companion: fitted once.
    let combined = Combination(vec![Box::new(season), Box::new(smoothing)])
        .fit(&values, grid)
        .unwrap()
        .predict(288);
    let a = season.fit(&values, grid).unwrap().predict(288);
    let b = smoothing.fit(&values, grid).unwrap().predict(288);
    for ((c, a), b) in combined.iter().zip(&a).zip(&b) {
        assert!((c - f64::midpoint(a.max(0.0), b.max(0.0))).abs() < 1e-9);
    }
}

#[test]
fn an_interval_says_how_many_errors_it_rests_on() {
    let values = synthetic::load(14, 300, 100.0, 30.0, 0.0, 0.0, 5.0, 2);
    let forecast = forecast(&series(values, 300), 288).unwrap();
    let (thinnest, needed) = forecast.interval_support(Level::new(0.9).unwrap());
    assert_eq!(needed, 19);
    assert!(thinnest >= needed, "{thinnest}");
    assert_eq!(forecast.interval_support(Level::new(0.99).unwrap()).1, 199);
}

#[test]
fn levels_outside_zero_to_one_are_refused() {
    assert!(Level::from_percent(90.0).is_some());
    for bad in [0.0, 0.9, 100.0, -5.0, 150.0, f64::NAN] {
        assert!(Level::from_percent(bad).is_none(), "{bad}");
    }
}

fn no_seasonality() -> Seasonality {
    Seasonality {
        daily: None,
        weekly: None,
        daily_strength: 0.0,
        weekly_strength: 0.0,
    }
}

/// The interval is the errors' spread about their median, placed about
/// the forecast: a backtest whose median error was +10 (two windows'
/// bias, which the mean does not carry) shifts no interval. Uncentred,
/// the 90% interval of errors −10..30 about a mean of 100 was 91..129.
#[test]
fn the_interval_is_centred_on_the_forecast() {
    let errors: Vec<f64> = (0..=40).map(|i| f64::from(i) - 10.0).collect();
    let mut forecast = Forecast::calibrated_elsewhere(
        0,
        300,
        vec![100.0; 3],
        String::new(),
        no_seasonality(),
        vec![(3, errors)],
        0.0,
    );
    // The fleet's cold starts keep their lean.
    let level = Level::new(0.9).unwrap();
    let elsewhere = forecast.interval(level)[0];
    assert!(
        (elsewhere.lower - 91.0).abs() < 1e-9 && (elsewhere.upper - 129.0).abs() < 1e-9,
        "{elsewhere:?}"
    );
    // A workload's own backtest is centred.
    forecast.calibration.centred = true;
    let interval = forecast.interval(level)[0];
    assert!(
        (interval.lower - 81.0).abs() < 1e-9 && (interval.upper - 119.0).abs() < 1e-9,
        "{interval:?}"
    );
}

/// A young workload's interval: the lower end weighed between its own
/// backtest and the fleet's, the upper end never narrower than either.
#[test]
fn a_mixed_interval_averages_the_lower_end_and_keeps_the_wider_upper_end() {
    let level = Level::new(0.9).unwrap();
    // Symmetric errors: ±10 in the young workload's own backtest, ±30 in
    // the fleet's cold starts (41 errors each: the 5% and 95% quantiles
    // are the extremes' neighbours).
    let errors = |scale: f64| -> Vec<f64> {
        (0..=40)
            .map(|i| (f64::from(i) - 20.0) / 20.0 * scale)
            .collect()
    };
    let forecast = |scale: f64| {
        Forecast::calibrated_elsewhere(
            0,
            300,
            vec![100.0; 3],
            String::new(),
            no_seasonality(),
            vec![(3, errors(scale))],
            0.0,
        )
    };
    let own = forecast(10.0).interval(level)[0];
    let fleet = forecast(30.0).interval(level)[0];
    let mut mixed = forecast(10.0);
    mixed.mix_interval(&forecast(30.0), 0.25);
    let got = mixed.interval(level)[0];
    let expected_lower = 0.25 * own.lower + 0.75 * fleet.lower;
    assert!(
        (got.lower - expected_lower).abs() < 1e-9,
        "{got:?} vs {expected_lower}"
    );
    assert!(
        (got.upper - fleet.upper).abs() < 1e-9,
        "{got:?} vs {fleet:?}"
    );
    // A wider own backtest keeps its own upper end.
    let mut wide = forecast(30.0);
    wide.mix_interval(&forecast(10.0), 0.25);
    assert!((wide.interval(level)[0].upper - fleet.upper).abs() < 1e-9);
    // The share is clamped: all its own.
    let mut all_own = forecast(10.0);
    all_own.mix_interval(&forecast(30.0), 7.0);
    assert!((all_own.interval(level)[0].lower - own.lower).abs() < 1e-9);
}
