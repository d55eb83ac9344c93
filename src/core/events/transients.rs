//! Spikes and dips: the multi-scale scan against the noise of means of k
//! steps, the counting noise of low counts, and bursts that recur daily.

use super::EventSettings;
use crate::core::stats::robust_sd_in_place;

/// A burst that comes back at the same time of day is expected load (a
/// batch at 09:00, a nightly backup), not a spike to heal: the model must
/// see it so that the forecast, max and the schedule make room for it.
/// Departures are dropped when others of the same direction start within
/// `slack` steps of the same phase of `period` (a day) in other periods
/// of the week either side, far more often than chance would put them
/// there (bursty load has spikes at every hour): at least two matches,
/// i.e. seen three times, and no more likely than one in a thousand for
/// that many departures of those two weeks at random hours (Poisson
/// tail), and it is no more than [`LIKE_SIZE`] times as tall as they
/// are: one far taller at the job's hour is a spike on top of it. Only the
/// weeks around it: a nightly job that began on the 17th makes no dip at
/// that hour on the 8th expected.
pub(super) fn without_recurring(
    departures: Vec<Departure>,
    period: usize,
    slack: usize,
) -> Vec<Departure> {
    if period < 2 || departures.len() < 3 {
        return departures;
    }
    let share = ((2 * slack + 1) as f64 / period as f64).min(1.0);
    let reach = RECURRENCE_PERIODS * period + slack;
    let near = |d: &Departure, e: &Departure| {
        !std::ptr::eq(d, e) && e.up == d.up && e.start.abs_diff(d.start) <= reach
    };
    let recurs = |d: &Departure| {
        let around = departures.iter().filter(|e| near(d, e)).count();
        let by_chance = around as f64 * share;
        let mut sizes: Vec<f64> = departures
            .iter()
            .filter(|e| near(d, e) && e.start.abs_diff(d.start) >= period / 2)
            .filter(|e| {
                let phase = e.start.abs_diff(d.start) % period;
                phase.min(period - phase) <= slack
            })
            .map(|e| e.z.abs())
            .collect();
        let matches = sizes.len();
        // The recurring burst as it comes, not one far taller at its hour
        // (a ×5.5 spike on a VM whose ×2 job runs at 10:50 went unlisted
        // with the job's runs).
        matches >= 2
            && poisson_tail(by_chance, matches) < CHANCE
            && d.z.abs() <= LIKE_SIZE * crate::core::stats::median(&mut sizes)
    };
    let keep: Vec<bool> = departures.iter().map(|d| !recurs(d)).collect();
    departures
        .into_iter()
        .zip(keep)
        .filter_map(|(d, keep)| keep.then_some(d))
        .collect()
}

/// How much taller than the bursts at its hour (the median of their sizes
/// in noise SD) a burst may be and still be one of them.
const LIKE_SIZE: f64 = 2.0;

/// How unlikely the matches must be by chance for a burst to be recurring:
/// one in a thousand (a busy month holds a few hundred departures).
const CHANCE: f64 = 1e-3;

/// P(X ≥ k) for X Poisson with mean `lambda`.
fn poisson_tail(lambda: f64, k: usize) -> f64 {
    let mut term = (-lambda).exp();
    let mut below = 0.0;
    for i in 0..k {
        below += term;
        term *= lambda / (i + 1) as f64;
    }
    (1.0 - below).max(0.0)
}

/// How many periods (days) either side a burst must recur in to be
/// expected load: a week, so that weekday-only bursts count too.
const RECURRENCE_PERIODS: usize = 7;

/// The noise of the residual about its level (log space): per hour of day
/// (on a log scale the quiet hours are noisier: fewer requests, same
/// jitter), never below the whole series' (a calm hour must not turn
/// ordinary noise into events); and, in those units, the noise of the mean
/// over k samples for each scale k the scan uses (measured: the level's
/// wander makes it fall much slower than 1/√k).
pub(super) struct NoiseScale {
    pub(super) by_hour: Vec<f64>,
    /// (k, SD of the mean over k samples in noise units), k ascending.
    pub(super) by_scale: Vec<(usize, f64)>,
}

impl NoiseScale {
    pub(super) fn measure(
        residual: &[f64],
        hours: &[usize],
        quiet: &[bool],
        floor: f64,
        window: usize,
    ) -> NoiseScale {
        let n = residual.len();
        let mut by_hour_samples: Vec<Vec<f64>> = vec![Vec::new(); 24];
        for i in (0..n).filter(|&i| quiet[i] && residual[i].is_finite()) {
            by_hour_samples[hours[i]].push(residual[i]);
        }
        let overall = robust_sd_in_place(&mut by_hour_samples.concat()).max(floor);
        let by_hour: Vec<f64> = by_hour_samples
            .iter_mut()
            .map(|r| {
                if r.len() < 20 {
                    overall
                } else {
                    robust_sd_in_place(r).max(overall)
                }
            })
            .collect();
        let units: Vec<f64> = (0..n)
            .map(|i| {
                if quiet[i] {
                    residual[i] / by_hour[hours[i]]
                } else {
                    f64::NAN
                }
            })
            .collect();
        let sums = PrefixSums::new(&units);
        // Relative to one sample's: the hour-of-day floor leaves a sample's
        // spread in these units a little under 1, and a single sample must
        // still pass the full bar (its tails are the heaviest).
        let mut by_scale = Vec::new();
        let mut means = Vec::with_capacity(n);
        let mut one = None;
        for k in scales(window) {
            means.clear();
            if k <= n {
                means.extend(sums.means_over(k));
            }
            if means.len() >= 20 {
                let sd = robust_sd_in_place(&mut means).max(1e-9);
                let one = *one.get_or_insert(sd);
                by_scale.push((k, sd / one));
            }
        }
        NoiseScale { by_hour, by_scale }
    }

    /// The noise of a mean over `length` samples: that of the longest
    /// measured scale not longer.
    pub(super) fn of_mean(&self, length: usize) -> f64 {
        self.by_scale
            .iter()
            .rev()
            .find(|(k, _)| *k <= length)
            .map_or(1.0, |(_, sd)| *sd)
    }
}

/// The scan's scales: 1, 2, 3, 4, then ×1.5, up to half the persistence
/// window (a longer departure is a candidate shift).
pub(super) fn scales(window: usize) -> Vec<usize> {
    let mut scales = vec![1_usize];
    loop {
        let last = *scales.last().expect("one scale");
        let next = if last < 4 { last + 1 } else { last * 3 / 2 };
        if next > window / 2 {
            return scales;
        }
        scales.push(next);
    }
}

/// Sums of the known values over any range in O(1); a range with an
/// unknown value has no mean.
pub(super) struct PrefixSums {
    pub(super) sum: Vec<f64>,
    pub(super) known: Vec<usize>,
}

impl PrefixSums {
    pub(super) fn new(values: &[f64]) -> PrefixSums {
        let mut sum = vec![0.0; values.len() + 1];
        let mut known = vec![0; values.len() + 1];
        for (i, v) in values.iter().enumerate() {
            sum[i + 1] = sum[i] + if v.is_finite() { *v } else { 0.0 };
            known[i + 1] = known[i] + usize::from(v.is_finite());
        }
        PrefixSums { sum, known }
    }

    pub(super) fn mean(&self, from: usize, to: usize) -> Option<f64> {
        (to > from && self.known[to] - self.known[from] == to - from)
            .then(|| (self.sum[to] - self.sum[from]) / (to - from) as f64)
    }

    /// Every [`PrefixSums::mean`] over `k` steps, in order (those with an
    /// unknown value left out): the same sums and division in one pass.
    pub(super) fn means_over(&self, k: usize) -> impl Iterator<Item = f64> + '_ {
        let known = self.known[k..].iter().zip(&self.known);
        let sum = self.sum[k..].iter().zip(&self.sum);
        let length = k as f64;
        known
            .zip(sum)
            .filter(move |((to, from), _)| k > 0 && *to - *from == k)
            .map(move |(_, (to, from))| (to - from) / length)
    }

    /// The mean of the known values over a range, `None` when none is.
    pub(super) fn mean_of_known(&self, from: usize, to: usize) -> Option<f64> {
        if to <= from {
            return None;
        }
        let known = self.known[to] - self.known[from];
        (known > 0).then(|| (self.sum[to] - self.sum[from]) / known as f64)
    }
}

/// Counting noise (load that arrives as whole requests, see
/// [`counting_unit`]): the steps' excess over what was expected and what
/// was expected, summed in O(1) over any range.
pub(super) struct Counting {
    pub(super) excess: PrefixSums,
    pub(super) expected: PrefixSums,
    pub(super) unit: f64,
    /// The period the load is a mean over (a flapping load's, else 1).
    pub(super) flap: usize,
}

impl Counting {
    pub(super) fn new(values: &[f64], expected: &[f64], unit: f64, flap: usize) -> Counting {
        let excess: Vec<f64> = values.iter().zip(expected).map(|(v, e)| v - e).collect();
        Counting {
            excess: PrefixSums::new(&excess),
            expected: PrefixSums::new(expected),
            unit,
            flap: flap.max(1),
        }
    }

    /// Does the load over `from..to` depart from what was expected (up or
    /// down) by more than `z` SD of counting noise? A count of `m`
    /// expected varies by `√(unit·m)`, so a step that counted nothing
    /// where four were expected is one in fifty, not an event; the
    /// log-scale test alone, with its Gaussian bar, would call it a deep
    /// dip about 150 times a month. Always true for load that is no count.
    pub(super) fn beyond(&self, from: usize, to: usize, z: f64, up: bool) -> bool {
        if self.unit <= 0.0 {
            return true;
        }
        let (Some(excess), Some(expected)) =
            (self.excess.mean(from, to), self.expected.mean(from, to))
        else {
            return false;
        };
        let signed = if up { excess } else { -excess };
        let variance = self.unit * expected.max(0.0) * mean_of_means_variance(to - from, self.flap);
        signed >= z * variance.sqrt()
    }
}

/// The variance of the mean of `k` consecutive means over `p` steps, in
/// units of one such mean's step-to-step noise as [`counting_unit`]
/// measures it (`var(m[i+1] − m[i]) / 2`): 1/k for `p` = 1. Neighbouring
/// means share `p − 1` steps, so their noise does not average out as `k`
/// independent values' would: a flapping VM's counts read over periods of
/// two were tested as if their noise were a quarter of what it is (the
/// unit is measured on differences of the means, which are `1/p²` of the
/// steps' own), and three steps counting none of two expected passed for a
/// 6 SD dip. Step `j`'s weight in the mean is `c_j / (p·k)`, `c_j` the
/// number of the means that hold it, and the steps' noise is `p²` the
/// measured unit's.
pub(super) fn mean_of_means_variance(k: usize, p: usize) -> f64 {
    let (a, b) = (k.min(p).max(1) as f64, k.max(p).max(1) as f64);
    // Σ c_j²: a ramp 1..a−1 up and down, and b − a + 1 steps held by a.
    let ramps = (a - 1.0) * a * (2.0 * a - 1.0) / 3.0;
    let squares = ramps + (b - a + 1.0) * a * a;
    squares / (k.max(1) as f64).powi(2)
}

/// A transient departure: steps `start..end`, its direction, tallest step
/// and its size there in noise SD.
pub(super) struct Departure {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) up: bool,
    pub(super) peak: usize,
    pub(super) z: f64,
}

/// Spikes and dips: the multi-scale scan of the module doc (item 7) on
/// `residual`, the departure from both sides' levels (log space).
///
/// Long because it is one scan with one state: the candidate
/// windows of every scale, tested and then merged in a single pass over
/// shared prefix sums; split, the pieces would pass that state around.
pub(super) fn find_departures(
    residual: &[f64],
    noise: &NoiseScale,
    hours: &[usize],
    counting: &Counting,
    settings: &EventSettings,
) -> Vec<Departure> {
    let n = residual.len();
    let units: Vec<f64> = (0..n)
        .map(|i| residual[i] / noise.by_hour[hours[i]])
        .collect();
    let in_units = PrefixSums::new(&units);
    let in_log = PrefixSums::new(residual);
    let alarm = settings.min_z + 1.5;
    // 20% means ×1.2 up and ×0.8 down.
    let relative_up = (1.0 + settings.min_relative).ln();
    let relative_down = (1.0 - settings.min_relative.min(0.99)).ln();
    // The bar a mean over `from..to` must clear: `alarm` noise SD of a
    // mean as long (passed in where the scale is known).
    let stands_out_over = |from: usize, to: usize, bar: f64| -> Option<i8> {
        let mean = in_units.mean(from, to)?;
        // Most windows fail this first test: the others are then not
        // worked out (the scan tries every window of every scale).
        if mean.abs() < bar {
            return None;
        }
        let log = in_log.mean(from, to)?;
        let relative = log >= relative_up || log <= relative_down;
        // The counting test last, for the same reason.
        (relative && mean.signum() == log.signum() && counting.beyond(from, to, alarm, log > 0.0))
            .then_some(if mean > 0.0 { 1 } else { -1 })
    };
    let stands_out =
        |from: usize, to: usize| stands_out_over(from, to, alarm * noise.of_mean(to - from));
    let mut marked = vec![0_i8; n];
    for &(k, sd) in &noise.by_scale {
        let bar = alarm * sd;
        for j in 0..=n - k {
            if let Some(sign) = stands_out_over(j, j + k, bar) {
                for m in &mut marked[j..j + k] {
                    if *m == 0 {
                        *m = sign;
                    }
                }
            }
        }
    }
    // Each run of marked samples holds one event or more: the window that
    // stands out most (its mean over the bar of its scale) is the first,
    // and the rest of the run on either side is searched again. The best
    // window's scale is the event's own length, so a tall spike on a
    // shoulder of ordinary wander does not start hours early.
    let score = |from: usize, to: usize, bar: f64, sign: i8| -> Option<f64> {
        (stands_out_over(from, to, bar)? == sign)
            .then(|| in_units.mean(from, to).unwrap_or(0.0).abs() / bar)
    };
    let mut departures = Vec::new();
    let mut i = 0;
    while i < n {
        let sign = marked[i];
        if sign == 0 {
            i += 1;
            continue;
        }
        let mut run_end = i;
        while run_end < n && marked[run_end] == sign {
            run_end += 1;
        }
        let mut parts = vec![(i, run_end)];
        while let Some((from, to)) = parts.pop() {
            let best = noise
                .by_scale
                .iter()
                .filter(|(k, _)| *k <= to - from)
                .flat_map(|&(k, sd)| (from..=to - k).map(move |j| (j, j + k, alarm * sd)))
                .filter_map(|(a, b, bar)| score(a, b, bar, sign).map(|s| (a, b, s)))
                .max_by(|x, y| x.2.total_cmp(&y.2).then(y.0.cmp(&x.0)));
            let Some((mut start, mut end, _)) = best else {
                continue;
            };
            let signed = |k: usize| f64::from(sign) * units[k];
            // The best window may be shorter than the event (the longest
            // scale, or noise inside it): grow it while the next few
            // samples beside it are, on average, as far off as half its
            // mean. (One sample at a time would stop at the first noisy one
            // and leave the rest of the event as a second, false event.)
            let body = (in_units.mean(start, end).unwrap_or(0.0).abs() / 2.0).max(1.0);
            let reach = 3.min(end - start).max(1);
            let signed_mean = |a: usize, b: usize| in_units.mean(a, b).map(|m| f64::from(sign) * m);
            let off = |a: usize, b: usize| signed_mean(a, b).is_some_and(|m| m >= body);
            // A longer scale may overhang a shorter event: trim it first.
            while end - start > 1 && !off(start, start + 1) {
                start += 1;
            }
            while end - start > 1 && !off(end - 1, end) {
                end -= 1;
            }
            while start > from
                && (off(start - 1, start) || (start >= from + reach && off(start - reach, start)))
            {
                start -= 1;
            }
            while end < to && (off(end, end + 1) || (end + reach <= to && off(end, end + reach))) {
                end += 1;
            }
            let peak = (start..end)
                .max_by(|&a, &b| signed(a).total_cmp(&signed(b)))
                .expect("non-empty");
            departures.push(Departure {
                start,
                end,
                up: sign > 0,
                peak,
                z: units[peak],
            });
            parts.push((from, start));
            parts.push((end, to));
        }
        i = run_end;
    }
    departures.sort_by_key(|d| d.start);
    // Pieces of one event that the search found apart (a long surge with
    // a noisy stretch inside): same direction, the stretch between them
    // short next to them, and the whole still standing out.
    let mut merged: Vec<Departure> = Vec::with_capacity(departures.len());
    for d in departures {
        let one = |last: &Departure| {
            let gap = d.start.saturating_sub(last.end);
            let sign = if d.up { 1 } else { -1 };
            last.up == d.up
                && (gap <= 2
                    || (4 * gap <= (last.end - last.start) + (d.end - d.start)
                        && stands_out(last.start, d.end) == Some(sign)))
        };
        match merged.last_mut() {
            Some(last) if one(last) => {
                last.end = last.end.max(d.end);
                if d.z.abs() > last.z.abs() {
                    last.peak = d.peak;
                    last.z = d.z;
                }
            }
            _ => merged.push(d),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: usize = 288; // 5-minute steps
    const SLACK: usize = 6; // half an hour

    #[test]
    fn the_variance_of_a_mean_of_period_means_is_what_a_simulation_measures() {
        // Independent unit-variance steps, read through means over `p`:
        // the measured unit is var(m[i+1] − m[i]) / 2, and the variance of
        // the mean of `k` of those means over it is the function's.
        let mut rng = crate::core::synthetic::Rng::new(5);
        let steps: Vec<f64> = (0..200_000).map(|_| rng.normal()).collect();
        for p in 1..=3 {
            let means: Vec<f64> = steps
                .windows(p)
                .map(|w| w.iter().sum::<f64>() / p as f64)
                .collect();
            let unit = means.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>()
                / (2 * (means.len() - 1)) as f64;
            for k in [1, 2, 3, 5, 12] {
                let of_k: Vec<f64> = means
                    .chunks_exact(k)
                    .map(|c| c.iter().sum::<f64>() / k as f64)
                    .collect();
                let measured = of_k.iter().map(|m| m * m).sum::<f64>() / of_k.len() as f64;
                let predicted = unit * mean_of_means_variance(k, p);
                assert!(
                    (measured / predicted - 1.0).abs() < 0.05,
                    "p {p} k {k}: {measured} against {predicted}"
                );
            }
        }
    }

    #[test]
    fn the_means_over_k_steps_are_the_means_of_every_window_without_a_gap() {
        let values = [1.0, 2.0, f64::NAN, 4.0, 5.0, 6.5, f64::NAN, 8.0, 9.0, 10.25];
        let sums = PrefixSums::new(&values);
        for k in 1..=values.len() {
            let one_by_one: Vec<f64> = (0..=values.len() - k)
                .filter_map(|j| sums.mean(j, j + k))
                .collect();
            let in_one_pass: Vec<f64> = sums.means_over(k).collect();
            // Bit for bit: the noise scale and the events must not move.
            assert_eq!(
                one_by_one.iter().map(|m| m.to_bits()).collect::<Vec<_>>(),
                in_one_pass.iter().map(|m| m.to_bits()).collect::<Vec<_>>(),
                "k = {k}"
            );
        }
        assert_eq!(sums.means_over(0).count(), 0);
        assert_eq!(
            sums.means_over(3).collect::<Vec<_>>(),
            vec![15.5 / 3.0, 27.25 / 3.0]
        );
    }

    fn dip(start: usize) -> Departure {
        Departure {
            start,
            end: start + 6,
            up: false,
            peak: start + 3,
            z: -6.0,
        }
    }

    fn starts(departures: &[Departure]) -> Vec<usize> {
        departures.iter().map(|d| d.start).collect()
    }

    #[test]
    fn a_nightly_dip_recurs_only_in_the_weeks_it_happens() {
        // A nightly job from day 17 to 27 at 01:05; a dip at 01:05 on day 8;
        // a few unrelated dips.
        let mut departures: Vec<Departure> = (17..28).map(|day| dip(day * DAY + 13)).collect();
        departures.push(dip(8 * DAY + 13));
        departures.extend([3, 11, 20].map(|day| dip(day * DAY + 150)));
        departures.sort_by_key(|d| d.start);
        let kept = starts(&without_recurring(departures, DAY, SLACK));
        assert_eq!(
            kept,
            vec![3 * DAY + 150, 8 * DAY + 13, 11 * DAY + 150, 20 * DAY + 150]
        );
    }

    #[test]
    fn a_weekday_burst_is_expected_and_scattered_bursts_are_not() {
        let weekdays: Vec<Departure> = (0..28)
            .filter(|day| day % 7 < 5)
            .map(|day| Departure {
                up: true,
                ..dip(day * DAY + 108)
            })
            .collect();
        assert!(without_recurring(weekdays, DAY, SLACK).is_empty());
        // 200 bursts at scattered times (a bursty month): none recurs.
        let mut departures = Vec::new();
        let mut x: u64 = 7;
        for _ in 0..200 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            departures.push(Departure {
                up: true,
                ..dip((x >> 33) as usize % (28 * DAY))
            });
        }
        departures.sort_by_key(|d| d.start);
        let kept = without_recurring(departures, DAY, SLACK).len();
        assert!(kept >= 198, "{kept} of 200 kept");
    }
}
