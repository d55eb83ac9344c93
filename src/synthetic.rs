//! Seeded synthetic load for tests and benchmarks: a level, a daily and a
//! weekly sine, a linear trend and Gaussian noise. The same seed gives the
//! same series on every machine (own `SplitMix64`, no platform randomness).

use crate::time::{DAY, WEEK};
use std::f64::consts::TAU;

/// A small deterministic random source (`SplitMix64`).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}

/// `days` of load on a grid of `step` seconds starting at unix time 0
/// (a Thursday, midnight UTC): `level + daily·sin(day phase) +
/// weekly·sin(week phase) + trend·days + noise·N(0,1)`, floored at 0.
#[allow(clippy::too_many_arguments)]
#[must_use]
pub fn load(
    days: i64,
    step: i64,
    level: f64,
    daily: f64,
    weekly: f64,
    trend_per_day: f64,
    noise: f64,
    seed: u64,
) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..days * DAY / step)
        .map(|i| {
            let t = i * step;
            let value = level
                + daily * (TAU * (t % DAY) as f64 / DAY as f64).sin()
                + weekly * (TAU * (t % WEEK) as f64 / WEEK as f64).sin()
                + trend_per_day * t as f64 / DAY as f64
                + noise * rng.normal();
            value.max(0.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_series() {
        assert_eq!(
            load(3, 300, 10.0, 1.0, 1.0, 0.1, 1.0, 42),
            load(3, 300, 10.0, 1.0, 1.0, 0.1, 1.0, 42)
        );
        assert_ne!(
            load(3, 300, 10.0, 1.0, 1.0, 0.1, 1.0, 42),
            load(3, 300, 10.0, 1.0, 1.0, 0.1, 1.0, 43)
        );
    }

    #[test]
    fn noise_is_standard_normal() {
        let mut rng = Rng::new(1);
        let xs: Vec<f64> = (0..20_000).map(|_| rng.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
