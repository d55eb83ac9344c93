use super::*;
use crate::core::synthetic;

const ROBUST_DAILY_WEEKLY_TREND: FourierTrend = FourierTrend {
    daily: true,
    weekly: true,
    trend: true,
    loss: Loss::Huber,
};

#[test]
fn recovers_a_noise_free_daily_weekly_series() {
    let step = 300;
    let values = synthetic::load(35, step, 100.0, 30.0, 20.0, 0.0, 0.0, 1);
    let (train, test) = values.split_at(28 * 288);
    let fitted = ROBUST_DAILY_WEEKLY_TREND
        .fit(train, Grid { start: 0, step })
        .unwrap();
    let forecast = fitted.predict(test.len());
    let worst = forecast
        .iter()
        .zip(test)
        .map(|(f, a)| (f - a).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-6, "worst error {worst}");
}

#[test]
fn a_linear_trend_is_followed_then_damped() {
    let step = 300;
    let values: Vec<f64> = (0..2016).map(|i| 100.0 + f64::from(i) * 0.1).collect();
    let spec = FourierTrend {
        daily: false,
        weekly: false,
        trend: true,
        loss: Loss::Squared,
    };
    let fitted = spec.fit(&values, Grid { start: 0, step }).unwrap();
    let forecast = fitted.predict(2016);
    // One step on: the line continues.
    assert!(
        (forecast[0] - (100.0 + 2016.0 * 0.1)).abs() < 0.01,
        "{}",
        forecast[0]
    );
    // A week on: more than the last value, less than the undamped line,
    // and never more than half the history's reach.
    let end = forecast[2015];
    assert!(end > 301.5 && end < 100.0 + 4031.0 * 0.1, "{end}");
    assert!(end <= 100.0 + (2015.0 + 1008.0) * 0.1 + 1e-6, "{end}");
}

#[test]
fn spikes_do_not_bend_the_robust_fit() {
    let step = 300;
    let clean = synthetic::load(14, step, 100.0, 30.0, 0.0, 0.0, 2.0, 8);
    let mut spiky = clean.clone();
    // Twenty hour-long bursts at ten times the load, at random times.
    let mut rng = synthetic::Rng::new(21);
    for _ in 0..20 {
        let at = (rng.uniform() * (spiky.len() - 12) as f64) as usize;
        for v in &mut spiky[at..at + 12] {
            *v *= 10.0;
        }
    }
    let spec = |loss| FourierTrend {
        daily: true,
        weekly: false,
        trend: false,
        loss,
    };
    let grid = Grid { start: 0, step };
    let truth = spec(Loss::Squared).fit(&clean, grid).unwrap().predict(288);
    let error = |fit: Vec<f64>| {
        fit.iter()
            .zip(&truth)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    let robust = error(spec(Loss::Huber).fit(&spiky, grid).unwrap().predict(288));
    let plain = error(spec(Loss::Squared).fit(&spiky, grid).unwrap().predict(288));
    assert!(
        robust < 0.25 * plain,
        "robust {robust} vs least squares {plain}"
    );
}

/// Fits by the per-phase shortcuts and compares with the normal
/// equations built one row per known step.
fn assert_matches_row_by_row(step: i64, days: i64, start: i64) {
    let mut values = synthetic::load(days, step, 80.0, 20.0, 10.0, 0.3, 4.0, 6);
    for v in &mut values[200..224] {
        *v = f64::NAN;
    }
    for i in (0..values.len()).step_by(37) {
        values[i] = f64::NAN;
    }
    let spec = FourierTrend {
        daily: true,
        weekly: true,
        trend: true,
        loss: Loss::Squared,
    };
    let grid = Grid { start, step };
    let fitted = spec.fit_regression(&values, grid).unwrap();
    let design = spec.design(grid);
    let (n, p) = (values.len(), design.width());
    let (mut a, mut b) = (vec![0.0; p * p], vec![0.0; p]);
    let mut fourier = Vec::new();
    for (i, &y) in values.iter().enumerate().filter(|(_, y)| !y.is_nan()) {
        design.fourier(grid.start + i as i64 * step, &mut fourier);
        let mut row = vec![1.0, Design::trend_at(i as f64, 1.0 / n as f64)];
        row.extend_from_slice(&fourier);
        for j in 0..p {
            b[j] += row[j] * y;
            for k in j..p {
                a[j * p + k] += row[j] * row[k];
            }
        }
    }
    assert!(cholesky(&mut a, p));
    cholesky_solve(&a, &mut b, p);
    for (got, want) in fitted.coefficients.iter().zip(&b) {
        assert!(
            (got - want).abs() < 1e-8 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }
}

#[test]
fn spectral_normal_equations_match_row_by_row_ones_with_gaps() {
    // Five and a half weeks of hours with a missing day and scattered
    // gaps, starting off a period boundary: phases cycle, spectra used.
    assert_matches_row_by_row(3600, 38, 1234 * 3600 + 17);
}

#[test]
fn off_period_steps_match_row_by_row_normal_equations() {
    // A 433-second step divides neither a day nor a week: every step is
    // its own phase, and the matrix comes from outer products.
    let design = ROBUST_DAILY_WEEKLY_TREND.design(Grid {
        start: 17,
        step: 433,
    });
    assert!(matches!(design.phases, Phases::EachStep));
    assert_matches_row_by_row(433, 16, 17);
}

#[test]
fn phase_rows_by_rotation_match_direct_trigonometry() {
    for (step, start) in [(300, 1_429_650_473), (60, 17), (3600, -7200)] {
        let design = ROBUST_DAILY_WEEKLY_TREND.design(Grid { start, step });
        let spectral = design.spectral().expect("cyclic");
        let direct = design.phase_rows(design.phase_count(0));
        let rotated = spectral.rows();
        assert_eq!(direct.len(), rotated.len());
        for (d, r) in direct.iter().zip(&rotated) {
            assert!((d - r).abs() < 1e-11, "step {step}: {d} vs {r}");
        }
    }
}

#[test]
fn harmonics_by_recurrence_match_direct_trigonometry() {
    let mut row = Vec::new();
    let angle = 1.234_567;
    push_harmonics(&mut row, angle, 13, Some(7));
    let direct: Vec<f64> = (1..=13)
        .filter(|k| k % 7 != 0)
        .flat_map(|k| {
            let a = f64::from(k) * angle;
            [a.sin(), a.cos()]
        })
        .collect();
    assert_eq!(row.len(), direct.len());
    for (r, d) in row.iter().zip(&direct) {
        assert!((r - d).abs() < 1e-13, "{r} vs {d}");
    }
}

#[test]
fn level_only_forecasts_the_mean_and_skips_unknown_steps() {
    let values = [1.0, f64::NAN, 3.0, 2.0, 2.0, 4.0];
    let spec = FourierTrend {
        daily: false,
        weekly: false,
        trend: false,
        loss: Loss::Squared,
    };
    let fitted = spec
        .fit(
            &values,
            Grid {
                start: 0,
                step: 300,
            },
        )
        .unwrap();
    let forecast = fitted.predict(2);
    assert!((forecast[0] - 2.4).abs() < 1e-9 && (forecast[1] - 2.4).abs() < 1e-9);
}
