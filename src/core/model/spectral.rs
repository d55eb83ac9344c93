//! Normal equations of a Fourier regression from the spectrum of the
//! per-phase sums, in `O(P log P)` for `P` phases instead of `O(P·q²)` for
//! `q` regressors.
//!
//! Every Fourier regressor is `cos(mθ)` or `sin(mθ)` at a whole frequency
//! `m` of the phase angle `θ_b = θ₀ + 2πb/P` (daily harmonic `k` is weekly
//! frequency `7k`). A product of two is a sum of a cosine or sine at `m ± m'`
//! (`cos a cos b = ½[cos(a−b) + cos(a+b)]`, …), so every entry of `XᵀWX` and
//! `XᵀWy` is read off the weighted sums `Σ_b v_b e^{imθ_b}` for `m` up to
//! twice the highest frequency — the discrete Fourier transform of the
//! per-phase sums `v`, one FFT each. With a week of 5-minute phases (2016)
//! and 40 regressors the outer products take 2016 × 40 × 41 / 2 ≈ 1.65
//! million multiply-adds per matrix; here it is one FFT of 2016 points and
//! 820 entries read off it.

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::f64::consts::TAU;
use std::sync::Arc;

/// One Fourier regressor: its frequency in cycles per period, and whether
/// it is the sine (else the cosine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub frequency: usize,
    pub sine: bool,
}

/// What reading a regression's sums off spectra needs, planned once.
pub struct Spectral {
    fft: Arc<dyn Fft<f64>>,
    /// Angle of phase 0.
    theta0: f64,
    columns: Vec<Column>,
    /// Highest frequency any product needs.
    max_frequency: usize,
}

/// `Σ_b v_b cos(mθ_b)` and `Σ_b v_b sin(mθ_b)` for `m = 0..=max`.
struct Sums(Vec<(f64, f64)>);

impl Sums {
    /// The cosine sum at a signed frequency (even in `m`).
    fn cos(&self, m: i64) -> f64 {
        self.0[m.unsigned_abs() as usize].0
    }

    /// The sine sum at a signed frequency (odd in `m`).
    fn sin(&self, m: i64) -> f64 {
        let s = self.0[m.unsigned_abs() as usize].1;
        if m < 0 {
            -s
        } else {
            s
        }
    }

    /// The sum against one regressor.
    fn against(&self, column: Column) -> f64 {
        let m = column.frequency as i64;
        if column.sine {
            self.sin(m)
        } else {
            self.cos(m)
        }
    }
}

impl Spectral {
    /// For `phases` phases starting at angle `theta0`, regressors `columns`.
    #[must_use]
    pub fn new(phases: usize, theta0: f64, columns: Vec<Column>) -> Self {
        let max_frequency = 2 * columns.iter().map(|c| c.frequency).max().unwrap_or(0);
        Spectral {
            fft: FftPlanner::new().plan_fft_forward(phases),
            theta0,
            columns,
            max_frequency,
        }
    }

    /// The regressors of every phase, row-major: each frequency's unit
    /// vector rotated one phase at a time (independent multiplications
    /// instead of trigonometry per phase), re-anchored on the exact angle
    /// every 256 phases so that rounding cannot build up.
    #[must_use]
    pub fn rows(&self) -> Vec<f64> {
        let phases = self.fft.len();
        let q = self.columns.len();
        let step = TAU / phases as f64;
        let unit =
            |frequency: usize, angle: f64| Complex::from_polar(1.0, frequency as f64 * angle);
        let rotations: Vec<Complex<f64>> = self
            .columns
            .iter()
            .map(|c| unit(c.frequency, step))
            .collect();
        let mut current = vec![Complex::new(0.0, 0.0); q];
        let mut rows = Vec::with_capacity(phases * q);
        for b in 0..phases {
            if b % 256 == 0 {
                let angle = self.theta0 + step * b as f64;
                for (z, c) in current.iter_mut().zip(&self.columns) {
                    *z = unit(c.frequency, angle);
                }
            }
            rows.extend(
                current
                    .iter()
                    .zip(&self.columns)
                    .map(|(z, c)| if c.sine { z.im } else { z.re }),
            );
            for (z, r) in current.iter_mut().zip(&rotations) {
                *z *= r;
            }
        }
        rows
    }

    fn sums(&self, per_phase: &[f64]) -> Sums {
        let n = per_phase.len();
        let mut buffer: Vec<Complex<f64>> =
            per_phase.iter().map(|&v| Complex::new(v, 0.0)).collect();
        self.fft.process(&mut buffer);
        // X_m = Σ v_b e^{−2πimb/P}, so Σ v_b e^{imθ_b} = e^{imθ₀}·conj(X_m)
        // (v real); the transform repeats every P frequencies.
        Sums(
            (0..=self.max_frequency)
                .map(|m| {
                    let z = buffer[m % n].conj() * Complex::from_polar(1.0, m as f64 * self.theta0);
                    (z.re, z.im)
                })
                .collect(),
        )
    }

    /// `Σ_b v_b f(θ_b)` for every regressor `f`.
    #[must_use]
    pub fn project(&self, per_phase: &[f64]) -> Vec<f64> {
        let sums = self.sums(per_phase);
        self.columns.iter().map(|&c| sums.against(c)).collect()
    }

    /// The Fourier block of `XᵀWX` (upper triangle, `q×q` row-major) and
    /// `Σ w·f` for each regressor, from the weights summed per phase.
    #[must_use]
    pub fn gram(&self, weight: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let sums = self.sums(weight);
        let q = self.columns.len();
        let mut block = vec![0.0; q * q];
        for (j, a) in self.columns.iter().enumerate() {
            for (k, b) in self.columns.iter().enumerate().skip(j) {
                let (ma, mb) = (a.frequency as i64, b.frequency as i64);
                let (difference, sum) = (ma - mb, ma + mb);
                block[j * q + k] = 0.5
                    * match (a.sine, b.sine) {
                        (false, false) => sums.cos(difference) + sums.cos(sum),
                        (true, true) => sums.cos(difference) - sums.cos(sum),
                        (true, false) => sums.sin(sum) + sums.sin(difference),
                        (false, true) => sums.sin(sum) - sums.sin(difference),
                    };
            }
        }
        let against = self.columns.iter().map(|&c| sums.against(c)).collect();
        (block, against)
    }
}

/// The angle of a timestamp `ts` (seconds) in a period of `period` seconds.
#[must_use]
pub fn angle(ts: i64, period: i64) -> f64 {
    TAU * ts.rem_euclid(period) as f64 / period as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gram_matches_outer_products_for_uneven_weights() {
        let phases = 48;
        let theta0 = 0.3;
        let columns: Vec<Column> = [1, 2, 5]
            .iter()
            .flat_map(|&frequency| [true, false].map(|sine| Column { frequency, sine }))
            .collect();
        let spectral = Spectral::new(phases, theta0, columns.clone());
        let weight: Vec<f64> = (0..phases).map(|b| 1.0 + (b * b % 7) as f64).collect();
        let (block, against) = spectral.gram(&weight);
        let value = |c: &Column, b: usize| {
            let x = c.frequency as f64 * (theta0 + TAU * b as f64 / phases as f64);
            if c.sine {
                x.sin()
            } else {
                x.cos()
            }
        };
        let q = columns.len();
        for j in 0..q {
            let want: f64 = (0..phases).map(|b| weight[b] * value(&columns[j], b)).sum();
            assert!(
                (against[j] - want).abs() < 1e-9,
                "{j}: {} vs {want}",
                against[j]
            );
            for k in j..q {
                let want: f64 = (0..phases)
                    .map(|b| weight[b] * value(&columns[j], b) * value(&columns[k], b))
                    .sum();
                let got = block[j * q + k];
                assert!((got - want).abs() < 1e-9, "{j},{k}: {got} vs {want}");
            }
        }
    }
}
