//! Seeded synthetic load for tests and benchmarks: a level, a daily and a
//! weekly sine, a linear trend and Gaussian noise. The same seed gives the
//! same series on every machine (own `SplitMix64`, no platform randomness).

use crate::core::time::{DAY, WEEK};
use std::f64::consts::TAU;
use std::fmt::Write as _;

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

    /// A Poisson count of mean `lambda` (a few requests in a step):
    /// Knuth's method (uniform draws until their product falls below
    /// e^−λ), and past λ = 500, where e^−λ underflows, the normal
    /// approximation.
    pub fn poisson(&mut self, lambda: f64) -> f64 {
        if lambda > 500.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0);
        }
        let limit = (-lambda).exp();
        let (mut count, mut product) = (0.0, self.uniform());
        while product > limit {
            count += 1.0;
            product *= self.uniform();
        }
        count
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

/// A synthetic fleet: `workloads` services, each with `days` of load on a
/// `step`-second grid ending at `end`, all drawn from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetSpec {
    pub workloads: usize,
    pub days: i64,
    pub step: i64,
    pub end: i64,
    pub seed: u64,
}

/// One synthetic workload: its identity, its samples (gaps left out), and
/// the HPA it would have.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticWorkload {
    pub namespace: String,
    pub name: String,
    pub samples: Vec<crate::core::series::Sample>,
    /// What one replica carries: about a fifth of the workload's level, so
    /// that its typical load needs five replicas.
    pub target_per_replica: f64,
    /// Today's HPA range: 2 up to half again the replicas its busiest step needed.
    pub current: (u32, u32),
}

/// Workload `index` of the fleet. Each is drawn from its own seed, so any
/// one can be made alone, in any order, on any thread.
///
/// Its shape, like a service's: a level spread over three decades; a daily
/// cycle peaking at some hour between 08:00 and 20:00 (20–70% of the
/// level); weekends quieter for most; a trend of −0.5% to +1% a day;
/// multiplicative noise of 3–12%; spikes (×1.5–4 for 10 minutes to 2 hours,
/// about one a week); for some a lasting level shift (×0.6–1.6) in the
/// second half, and a gap in the data of 30 minutes to 6 hours.
#[must_use]
pub fn fleet_workload(spec: &FleetSpec, index: usize) -> SyntheticWorkload {
    let mut rng = Rng::new(spec.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let between = |rng: &mut Rng, low: f64, high: f64| low + (high - low) * rng.uniform();
    let level = between(&mut rng, 5f64.ln(), 5000f64.ln()).exp();
    let daily = level * between(&mut rng, 0.2, 0.7);
    let peak_hour = between(&mut rng, 8.0, 20.0);
    let weekend = if rng.uniform() < 0.7 {
        between(&mut rng, 0.5, 0.9)
    } else {
        1.0
    };
    let trend = between(&mut rng, -0.005, 0.01);
    let noise = between(&mut rng, 0.03, 0.12);
    let steps = (spec.days * DAY / spec.step).max(1);
    let start = spec.end - (steps - 1) * spec.step;
    let span = steps * spec.step;
    let mut spikes = Vec::new();
    let expected_spikes = spec.days as f64 / 7.0 * between(&mut rng, 0.5, 2.0);
    // Poisson by counting uniform arrivals.
    let mut arrival = -rng.uniform().max(1e-12).ln() / expected_spikes;
    while arrival < 1.0 {
        let from = start + (arrival * span as f64) as i64;
        let length = between(&mut rng, 600.0, 7200.0) as i64;
        spikes.push((from, from + length, between(&mut rng, 1.5, 4.0)));
        arrival += -rng.uniform().max(1e-12).ln() / expected_spikes;
    }
    let shift = (rng.uniform() < 0.3).then(|| {
        let at = start + span / 2 + (rng.uniform() * (span / 2) as f64) as i64;
        (at, between(&mut rng, 0.6, 1.6))
    });
    // Only where the workload keeps the two days of data its own model
    // needs (`synth --days 2d` left a third of the fleet `insufficient_data`).
    let gap = (rng.uniform() < 0.2)
        .then(|| {
            let from = start + (rng.uniform() * span as f64) as i64;
            (from, from + between(&mut rng, 1800.0, 21_600.0) as i64)
        })
        .filter(|(from, to)| span - (to - from) >= 2 * DAY);
    let mut samples = Vec::with_capacity(steps as usize);
    let mut busiest: f64 = 0.0;
    for k in 0..steps {
        let t = start + k * spec.step;
        if gap.is_some_and(|(from, to)| t >= from && t < to) {
            continue;
        }
        let hour = (t.rem_euclid(DAY)) as f64 / 3600.0;
        // Unix day 0 is a Thursday: days 2 and 3 of the week are Saturday and Sunday.
        let weekday = (t.div_euclid(DAY) + 4).rem_euclid(7);
        let mut value = level + daily * (TAU * (hour - peak_hour) / 24.0).cos();
        if weekday == 0 || weekday == 6 {
            value *= weekend;
        }
        value *= 1.0 + trend * (t - start) as f64 / DAY as f64;
        if let Some((at, factor)) = shift {
            if t >= at {
                value *= factor;
            }
        }
        for &(from, to, factor) in &spikes {
            if t >= from && t < to {
                value *= factor;
            }
        }
        value *= 1.0 + noise * rng.normal();
        let value = value.max(0.0);
        busiest = busiest.max(value);
        samples.push(crate::core::series::Sample { ts: t, value });
    }
    let target_per_replica = crate::core::bounds::significant(level / 5.0, 2).max(1e-3);
    let max = ((busiest / target_per_replica) * 1.5).ceil().max(3.0) as u32;
    SyntheticWorkload {
        namespace: format!("team-{:02}", index % 50),
        name: format!("svc-{index:05}"),
        samples,
        target_per_replica,
        current: (2, max),
    }
}

/// A fleet member as its config needs it: namespace, name,
/// `target_per_replica`, today's `(min, max)`.
pub type Member = (String, String, f64, (u32, u32));

/// The configuration of a synthetic fleet whose workloads read
/// `<namespace>_<name>.<extension>` beside it.
#[must_use]
pub fn fleet_config(spec: &FleetSpec, workloads: &[Member], extension: &str) -> String {
    let mut out = format!(
        "# A synthetic fleet made by `homeostat synth` (seed {}, {} workloads × {} days).\n\
         defaults:\n  history: {}d\n  horizon: 7d\nworkloads:\n",
        spec.seed, spec.workloads, spec.days, spec.days
    );
    for (namespace, name, target, (min, max)) in workloads {
        let _ = write!(
            out,
            "  - name: {name}\n    namespace: {namespace}\n    file: {namespace}_{name}.{extension}\n    target_per_replica: {target}\n    current: {{min_replicas: {min}, max_replicas: {max}}}\n"
        );
    }
    out
}

/// The configuration of the same fleet read from a Prometheus holding
/// the backfilled `fleet.om` (at `http://127.0.0.1:9090`: edit the URL).
#[must_use]
pub fn fleet_query_config(spec: &FleetSpec, workloads: &[Member]) -> String {
    let mut out = format!(
        "# The synthetic fleet of homeostat.yaml, read from a Prometheus that holds fleet.om.\n\
         prometheus:\n  url: http://127.0.0.1:9090\n\
         defaults:\n  history: {}d\n  horizon: 7d\n  step: {}s\nworkloads:\n",
        spec.days, spec.step
    );
    for (namespace, name, target, (min, max)) in workloads {
        let _ = write!(
            out,
            "  - name: {name}\n    namespace: {namespace}\n    query: homeostat_synthetic_load{{namespace=\"{namespace}\",workload=\"{name}\"}}\n    target_per_replica: {target}\n    current: {{min_replicas: {min}, max_replicas: {max}}}\n"
        );
    }
    out
}

/// The fleet's load as `OpenMetrics` text, one gauge
/// `homeostat_synthetic_load{namespace, workload}`, for `promtool tsdb
/// create-blocks-from openmetrics` (a Prometheus backfill).
pub fn write_openmetrics(out: &mut impl std::io::Write, spec: &FleetSpec) -> std::io::Result<()> {
    writeln!(
        out,
        "# HELP homeostat_synthetic_load Synthetic load of a workload."
    )?;
    writeln!(out, "# TYPE homeostat_synthetic_load gauge")?;
    for index in 0..spec.workloads {
        let w = fleet_workload(spec, index);
        for sample in &w.samples {
            writeln!(
                out,
                "homeostat_synthetic_load{{namespace=\"{}\",workload=\"{}\"}} {} {}",
                w.namespace, w.name, sample.value, sample.ts
            )?;
        }
    }
    writeln!(out, "# EOF")
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
    fn a_fleet_workload_is_the_same_alone_and_has_the_shape_of_a_service() {
        let spec = FleetSpec {
            workloads: 100,
            days: 28,
            step: 300,
            end: 1_767_225_600,
            seed: 7,
        };
        let a = fleet_workload(&spec, 42);
        assert_eq!(a, fleet_workload(&spec, 42), "seeded");
        assert_ne!(a.samples, fleet_workload(&spec, 43).samples);
        assert_eq!(a.samples.last().unwrap().ts, spec.end);
        assert!(a.samples.len() <= 28 * 288);
        assert!(a
            .samples
            .iter()
            .all(|s| s.value.is_finite() && s.value >= 0.0));
        // Over the fleet: gaps in some, spikes in most, levels over decades.
        let fleet: Vec<SyntheticWorkload> = (0..100).map(|i| fleet_workload(&spec, i)).collect();
        let gapped = fleet.iter().filter(|w| w.samples.len() < 28 * 288).count();
        assert!((5..50).contains(&gapped), "{gapped} with gaps");
        let levels: Vec<f64> = fleet.iter().map(|w| w.target_per_replica).collect();
        let (low, high) = levels
            .iter()
            .fold((f64::MAX, 0.0_f64), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(high / low > 100.0, "{low} .. {high}");
        assert!(fleet.iter().all(|w| w.current.0 < w.current.1));
    }

    #[test]
    fn a_fleet_of_two_days_keeps_the_two_days_each_workload_needs() {
        let spec = FleetSpec {
            workloads: 100,
            days: 2,
            step: 300,
            end: 1_767_225_600,
            seed: 1,
        };
        for i in 0..spec.workloads {
            assert_eq!(
                fleet_workload(&spec, i).samples.len(),
                2 * 288,
                "workload {i}"
            );
        }
        // A longer history still has its gaps.
        let longer = FleetSpec { days: 3, ..spec };
        assert!((0..100).any(|i| fleet_workload(&longer, i).samples.len() < 3 * 288));
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
