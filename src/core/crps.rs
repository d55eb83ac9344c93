//! The continuous ranked probability score of a forecast given as
//! quantiles (pure), and the seasonal naive's quantile forecast it is
//! measured against (as Datadog's BOOM benchmark reports it: relative to
//! seasonal naive = 1).
//!
//! `CRPS(F, y) = 2 ∫₀¹ QL_τ(y, F⁻¹(τ)) dτ`, `QL_τ(y, q) = (1{y < q} − τ)(q − y)`:
//! integrated over the 19 levels 0.05, 0.10, …, 0.95 by the midpoint rule.
//! The tails beyond 2.5% and 97.5% are left out for every forecast scored
//! alike, so the ratio to seasonal naive is fair; a reference test checks
//! the rule against the closed form for a normal distribution.

use crate::core::model::{Forecast, Level};
use crate::core::stats::quantile;

/// The quantile levels scored: 0.05 to 0.95 in steps of 0.05.
#[must_use]
pub fn levels() -> Vec<f64> {
    (1..=19).map(|k| f64::from(k) / 20.0).collect()
}

/// A quantile forecast: `at[k][i]` is the quantile at `levels()[k]` of
/// step `i`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantiles {
    pub at: Vec<Vec<f64>>,
}

impl Quantiles {
    /// The forecast's quantiles: each level's from the central interval
    /// with that end (the median from a vanishing interval: the mean plus
    /// the median backtest error).
    #[must_use]
    pub fn of(forecast: &Forecast) -> Quantiles {
        let at = levels()
            .into_iter()
            .map(|tau| {
                let central = Level::new((2.0 * tau - 1.0).abs().max(1e-9)).expect("in (0, 1)");
                let interval = forecast.interval(central);
                interval
                    .iter()
                    .map(|i| match tau.partial_cmp(&0.5) {
                        Some(std::cmp::Ordering::Less) => i.lower,
                        Some(std::cmp::Ordering::Greater) => i.upper,
                        _ => f64::midpoint(i.lower, i.upper),
                    })
                    .collect()
            })
            .collect();
        Quantiles { at }
    }

    /// The daily seasonal naive over `steps` after `train` (`per_day` steps
    /// a day): each step the last known value at its time of day, its
    /// quantiles from the training part's day-over-day errors, widened by
    /// √(days ahead) as the seasonal naive's variance grows with each day
    /// repeated (statsforecast's intervals). `None` without any error.
    #[must_use]
    pub fn seasonal_naive(train: &[f64], per_day: usize, steps: usize) -> Option<Quantiles> {
        let mut errors: Vec<f64> = crate::core::evaluate::day_over_day(train, per_day)
            .filter(|e| e.is_finite())
            .collect();
        if errors.is_empty() || per_day == 0 || train.len() < per_day {
            return None;
        }
        errors.sort_by(f64::total_cmp);
        // The last known value at each time of day.
        let base: Vec<f64> = (0..per_day)
            .map(|phase| {
                let first = train.len() - per_day + phase;
                (0..=first / per_day)
                    .map(|back| train[first - back * per_day])
                    .find(|v| v.is_finite())
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let at = levels()
            .into_iter()
            .map(|tau| {
                let offset = quantile(&errors, tau);
                (0..steps)
                    .map(|i| {
                        let widen = ((i / per_day + 1) as f64).sqrt();
                        (base[i % per_day] + offset * widen).max(0.0)
                    })
                    .collect()
            })
            .collect();
        Some(Quantiles { at })
    }

    /// The mean CRPS over the first `steps` of `actual` (unknown steps
    /// left out); NaN when none is known.
    #[must_use]
    pub fn mean_crps(&self, actual: &[f64], steps: usize) -> f64 {
        let taus = levels();
        let scores: Vec<f64> = actual
            .iter()
            .take(steps)
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(i, &y)| {
                let qs: Vec<f64> = self.at.iter().map(|q| q[i]).collect();
                crps(y, &taus, &qs)
            })
            .filter(|s| s.is_finite())
            .collect();
        if scores.is_empty() {
            return f64::NAN;
        }
        scores.iter().sum::<f64>() / scores.len() as f64
    }
}

/// CRPS of `y` under the distribution whose quantiles at the evenly spaced
/// levels `taus` are `qs`: twice the quantile loss integrated over the
/// levels by the midpoint rule (each level stands for the span of its
/// spacing around it).
#[must_use]
pub fn crps(y: f64, taus: &[f64], qs: &[f64]) -> f64 {
    let spacing = match taus {
        [a, b, ..] => b - a,
        _ => 1.0,
    };
    2.0 * spacing
        * taus
            .iter()
            .zip(qs)
            .map(|(&tau, &q)| (f64::from(u8::from(y < q)) - tau) * (q - y))
            .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normal's CDF and density through an independent erf (Abramowitz
    /// and Stegun 7.1.26, error under 1.5e-7).
    fn normal_cdf(z: f64) -> f64 {
        let x = z.abs() / std::f64::consts::SQRT_2;
        let t = 1.0 / (1.0 + 0.327_591_1 * x);
        let poly = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        let erf = 1.0 - poly * (-x * x).exp();
        0.5 * (1.0 + erf.copysign(z))
    }

    fn normal_pdf(z: f64) -> f64 {
        (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
    }

    /// The closed form (Gneiting and Raftery 2007): σ [z (2Φ(z) − 1) +
    /// 2φ(z) − 1/√π].
    fn normal_crps(mu: f64, sigma: f64, y: f64) -> f64 {
        let z = (y - mu) / sigma;
        sigma
            * (z * (2.0 * normal_cdf(z) - 1.0) + 2.0 * normal_pdf(z)
                - 1.0 / std::f64::consts::PI.sqrt())
    }

    /// The normal's quantile by bisection of the CDF.
    fn normal_quantile(mu: f64, sigma: f64, tau: f64) -> f64 {
        let (mut lo, mut hi) = (-10.0, 10.0);
        for _ in 0..100 {
            let mid = f64::midpoint(lo, hi);
            if normal_cdf(mid) < tau {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        mu + sigma * f64::midpoint(lo, hi)
    }

    #[test]
    fn the_quantile_rule_matches_the_normal_closed_form() {
        // A fine grid over (0, 1): the rule converges to the integral.
        let n = 2000;
        let taus: Vec<f64> = (0..n)
            .map(|k| (f64::from(k) + 0.5) / f64::from(n))
            .collect();
        for (mu, sigma, y) in [
            (0.0, 1.0, 0.0),
            (10.0, 2.0, 13.5),
            (100.0, 15.0, 60.0),
            (5.0, 0.5, 5.2),
        ] {
            let qs: Vec<f64> = taus
                .iter()
                .map(|&t| normal_quantile(mu, sigma, t))
                .collect();
            let ours = crps(y, &taus, &qs);
            let exact = normal_crps(mu, sigma, y);
            assert!(
                (ours - exact).abs() < 2e-3 * sigma,
                "{mu} {sigma} {y}: {ours} vs {exact}"
            );
        }
    }

    #[test]
    fn the_scored_levels_rank_forecasts_as_the_closed_form_does() {
        // The 19 levels leave the tails out: near the closed form (within
        // 20%), and scale-free, so ratios between forecasts hold.
        let taus = levels();
        let score = |sigma: f64, y: f64| {
            let qs: Vec<f64> = taus
                .iter()
                .map(|&t| normal_quantile(0.0, sigma, t))
                .collect();
            crps(y, &taus, &qs)
        };
        for y in [0.0, 0.7, 2.0] {
            let ratio = score(1.0, y) / normal_crps(0.0, 1.0, y);
            assert!((0.8..=1.05).contains(&ratio), "{y}: {ratio}");
            // Twice the scale, twice the score: the ratio is scale-free.
            assert!((score(2.0, 2.0 * y) / score(1.0, y) - 2.0).abs() < 1e-9);
        }
        // A sharp, right forecast beats a wide one; a sharp, wrong one loses.
        assert!(score(0.5, 0.1) < score(2.0, 0.1));
        assert!(score(0.5, 3.0) > score(2.0, 3.0));
    }

    #[test]
    fn the_seasonal_naive_repeats_the_last_day_and_widens_each_day() {
        // Two days of a ramp 0..3 with noise ±1 day over day.
        let train = [0.0, 1.0, 2.0, 3.0, 1.0, 2.0, 1.0, 4.0];
        let q = Quantiles::seasonal_naive(&train, 4, 8).unwrap();
        let median = &q.at[9];
        // Errors 1, 1, −1, 1: median offset 1, added to the last day.
        assert_eq!(&median[..4], &[2.0, 3.0, 2.0, 5.0]);
        // Day two: the same base, offsets × √2.
        assert!((median[4] - (1.0 + std::f64::consts::SQRT_2)).abs() < 1e-12);
        assert!(Quantiles::seasonal_naive(&[1.0, 2.0], 4, 4).is_none());
    }
}
