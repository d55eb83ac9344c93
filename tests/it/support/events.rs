//! Ground truth for the events stage: real seasonal series from `data/`
//! with seeded spikes, dips and shifts injected at known times.
//!
//! The base keeps a trace's real daily shape and its real noise, but not
//! its own unlabelled events (which would count as false detections): the
//! daily profile is the per-phase median of the trace's last 28 days, and
//! the noise is the trace's own log residual from that profile, with what
//! lasts an hour or more removed (a running two-hour median: the trace's
//! own drifts and shifts, which nobody labelled), shuffled in blocks of
//! three samples (its own short bursts, unlabelled too) and clipped at
//! 2.5 robust SD. What is left is real noise without real events: its
//! distribution and its sample-to-sample correlation, not its hours-long
//! wander.

#![allow(dead_code)]

use homeostat::core::series::{resample, GridOptions, Series};
use homeostat::core::stats::{median, robust_sd};
use homeostat::core::synthetic::Rng;
use homeostat::edge::source::read_file;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Spike,
    Dip,
    Shift,
}

/// One injected event: its kind, first and last step (exclusive; the end
/// of the series for a shift), the factor applied, and its size in robust
/// noise SD of the base.
#[derive(Debug, Clone, Copy)]
pub struct Truth {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub factor: f64,
    pub size_sd: f64,
}

/// The base's noise: its robust SD on the scale `ln(load + offset)`, the
/// scale on which event sizes are measured.
#[derive(Debug, Clone, Copy)]
pub struct Noise {
    pub sigma: f64,
    pub offset: f64,
    /// The level's own wander at a shift's scale: the robust SD of the
    /// change between the medians of the six hours before and after each
    /// step (0 on a cleaned base, whose wander was taken out).
    pub wander: f64,
}

impl Noise {
    /// The size of multiplying `values` by `factor`, in noise SD: the mean
    /// move on the noise's own scale. A ×0.17 dip at a night trough moves
    /// `ln(load + offset)` less than `ln 0.17`, and so it is smaller.
    fn size(&self, values: &[f64], factor: f64) -> f64 {
        let moves: f64 = values
            .iter()
            .map(|v| ((v * factor + self.offset) / (v + self.offset)).ln().abs())
            .sum();
        moves / values.len().max(1) as f64 / self.sigma
    }

    /// A shift's size: as [`Noise::size`], in units of the larger of the
    /// sample noise and the level's wander. A change of level no larger
    /// than the trace's own hour-to-hour wander is one nobody can tell
    /// from it, the detector included.
    fn shift_size(&self, values: &[f64], factor: f64) -> f64 {
        self.size(values, factor) * self.sigma / self.sigma.max(self.wander)
    }
}

/// A series' last 28 days (or all of it when shorter), its daily shape and
/// its log residual from that shape.
struct LastMonth {
    start: i64,
    values: Vec<f64>,
    per_day: usize,
    /// Per phase of the day, the median of the known values (0 for none).
    profile: Vec<f64>,
    /// The log scale's offset: 5% of the median load.
    offset: f64,
    /// `ln(v + offset) − ln(profile + offset)`; NaN where unknown.
    residual: Vec<f64>,
}

fn last_month(series: &Series) -> LastMonth {
    let per_day = (86_400 / series.step.max(1)) as usize;
    let keep = (28 * per_day).min(series.values.len());
    let skip = series.values.len() - keep;
    let start = series.start + skip as i64 * series.step;
    let values: Vec<f64> = series.values[skip..].to_vec();
    let phase =
        |i: usize| ((start + i as i64 * series.step).rem_euclid(86_400) / series.step) as usize;
    let mut by_phase = vec![Vec::new(); per_day];
    for (i, v) in values.iter().enumerate() {
        if v.is_finite() {
            by_phase[phase(i) % per_day].push(*v);
        }
    }
    let profile: Vec<f64> = by_phase.iter_mut().map(|p| median(p)).collect();
    let mut all: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let offset = (0.05 * median(&mut all)).max(1e-6);
    let residual = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if v.is_finite() {
                (v + offset).ln() - (profile[phase(i) % per_day] + offset).ln()
            } else {
                f64::NAN
            }
        })
        .collect();
    LastMonth {
        start,
        values,
        per_day,
        profile,
        offset,
        residual,
    }
}

/// Each value less the median of the known values of the window from
/// `half` steps before it to `half − 1` after (two hours at `half` = an
/// hour): what is left is what lasts less than an hour. NaN stays NaN.
fn minus_running_median(residual: &[f64], half: usize) -> Vec<f64> {
    (0..residual.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half).min(residual.len());
            let mut window: Vec<f64> = residual[lo..hi]
                .iter()
                .copied()
                .filter(|r| r.is_finite())
                .collect();
            residual[i] - median(&mut window)
        })
        .collect()
}

/// How far injected events keep from the trace's own (hours): an own
/// event found again a little earlier or later is still its own.
pub const OWN_MARGIN_HOURS: usize = 3;

/// The base of `file`: its real daily shape and noise, without its own events.
pub fn base(file: &Path) -> (Series, Noise) {
    let raw = read_file(file).unwrap();
    let series = resample(&raw, &GridOptions::default()).unwrap();
    let LastMonth {
        start,
        per_day,
        profile,
        offset: c,
        residual,
        ..
    } = last_month(&series);
    let phase =
        |i: usize| ((start + i as i64 * series.step).rem_euclid(86_400) / series.step) as usize;
    // Unknown steps carry no departure.
    let residual: Vec<f64> = residual
        .into_iter()
        .map(|r| if r.is_finite() { r } else { 0.0 })
        .collect();
    // Its own drifts, shifts and bursts of an hour or more out (a running
    // two-hour median), then clipped: what is left is the trace's real
    // short-term noise.
    let detrended = minus_running_median(&residual, (per_day / 24).max(1));
    // Its own short bursts out too: blocks of three samples, shuffled
    // (seeded), keep the noise's real distribution and its correlation
    // from one sample to the next, but no burst of its own survives.
    let mut rng = Rng::new(0x5eed);
    let mut blocks: Vec<&[f64]> = detrended.chunks(3).collect();
    for i in (1..blocks.len()).rev() {
        let j = ((rng.uniform() * (i + 1) as f64) as usize).min(i);
        blocks.swap(i, j);
    }
    let detrended: Vec<f64> = blocks.concat();
    let sigma = robust_sd(&detrended);
    let values = detrended
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let r = r.clamp(-2.5 * sigma, 2.5 * sigma);
            ((profile[phase(i) % per_day] + c) * r.exp() - c).max(0.0)
        })
        .collect();
    (
        Series {
            start,
            step: series.step,
            values,
            stats: series.stats,
        },
        Noise {
            sigma,
            offset: c,
            wander: 0.0,
        },
    )
}

/// The last 28 days of `file` as they are (or all of it when shorter):
/// its own bursts, drifts, shifts and noise kept, nothing cleaned. The
/// noise measured for event sizes is the log residual from the per-phase
/// median day with what lasts an hour or more taken out (as in [`base`]),
/// neither clipped nor shuffled.
pub fn raw_trace(file: &Path) -> (Series, Noise) {
    let raw = read_file(file).unwrap();
    let series = resample(&raw, &GridOptions::default()).unwrap();
    as_it_is(&series)
}

/// `series`' last 28 days as they are, and their noise (see [`raw_trace`]).
pub fn as_it_is(series: &Series) -> (Series, Noise) {
    let LastMonth {
        start,
        values,
        per_day,
        offset: c,
        residual,
        ..
    } = last_month(series);
    let detrended: Vec<f64> = minus_running_median(&residual, (per_day / 24).max(1))
        .into_iter()
        .filter(|r| r.is_finite())
        .collect();
    let sigma = robust_sd(&detrended).max(1e-9);
    // The wander: six-hour medians either side of each step, differenced.
    let window = (per_day / 4).max(2);
    let known_median = |from: usize, to: usize| {
        let mut w: Vec<f64> = residual[from..to]
            .iter()
            .copied()
            .filter(|r| r.is_finite())
            .collect();
        (w.len() * 2 >= to - from).then(|| median(&mut w))
    };
    let changes: Vec<f64> = (window..residual.len().saturating_sub(window))
        .step_by((window / 6).max(1))
        .filter_map(|i| Some(known_median(i, i + window)? - known_median(i - window, i)?))
        .collect();
    let wander = if changes.len() >= 20 {
        robust_sd(&changes)
    } else {
        0.0
    };
    (
        Series {
            start,
            step: series.step,
            values,
            stats: series.stats,
        },
        Noise {
            sigma,
            offset: c,
            wander,
        },
    )
}

/// The rate of a low-count version of `series`: its shape scaled so that
/// the median step expects `median_count` events (what a service sees when
/// a real trace's load arrives as a few requests per step; the counts are
/// drawn by [`poisson_counts`]).
pub fn poisson_rate(series: &Series, median_count: f64) -> Series {
    let mut known: Vec<f64> = series
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let scale = median_count / median(&mut known).max(1e-9);
    Series {
        values: series.values.iter().map(|v| v * scale).collect(),
        ..series.clone()
    }
}

/// Counts drawn from `rate`, each step from a Poisson distribution with
/// its mean, seeded per step: the same rate at a step always draws the
/// same count, so that a rate changed in a few hours (an injected event)
/// leaves every other step's count as it was.
pub fn poisson_counts(rate: &Series, seed: u64) -> Series {
    let values = rate
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if !v.is_finite() {
                return *v;
            }
            let mut rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
            rng.poisson(*v)
        })
        .collect();
    Series {
        values,
        ..rate.clone()
    }
}

/// The size of multiplying the expected counts `rates` by `factor`, in
/// the counts' own noise: the change of their sum over the Poisson SD of
/// that sum. A step that expected four and counted one is a quarter of the
/// time's ordinary draw, not the ×0.17 its log says.
pub fn count_size(rates: &[f64], factor: f64) -> f64 {
    let total: f64 = rates.iter().filter(|v| v.is_finite()).sum();
    (factor - 1.0).abs() * total.max(0.0).sqrt()
}

/// Injects a seeded schedule of events into `base` (noise `noise`): about one every 14 hours, some close together, some in
/// the last hours. Shifts start at least `persistence + 1 h` before the
/// end (a later one cannot be a shift yet).
pub fn inject(
    base: &Series,
    noise: Noise,
    seed: u64,
    persistence_steps: usize,
) -> (Series, Vec<Truth>) {
    inject_around(base, noise, seed, persistence_steps, &[], 60)
}

/// [`inject`], keeping every injected event (and a shift's persistence
/// window) at least three hours from the step ranges in `busy` (the
/// trace's own events, which nobody labelled), and shifts at least
/// `shift_gap_hours` apart.
pub fn inject_around(
    base: &Series,
    noise: Noise,
    seed: u64,
    persistence_steps: usize,
    busy: &[(usize, usize)],
    shift_gap_hours: usize,
) -> (Series, Vec<Truth>) {
    let mut rng = Rng::new(seed);
    let mut series = base.clone();
    let n = series.values.len();
    let per_hour = (3600 / series.step).max(1) as usize;
    let mut pick =
        |options: &[f64]| options[(rng.uniform() * options.len() as f64) as usize % options.len()];
    let mut truths = Vec::new();
    // Shifts at most every two and a half days (a change that comes back
    // within two days is a one-day event, not a shift: issue 18), and in the direction that keeps the
    // level within ×0.5..×2 of the base (launches and migrations, not a
    // random walk to zero).
    let mut level = 1.0_f64;
    let mut last_shift: Option<usize> = None;
    // Leave the first three days clean: the detector needs a level to depart from.
    let mut at = 3 * 24 * per_hour;
    let mut ends = at;
    let margin = OWN_MARGIN_HOURS * per_hour;
    let clear_from = |mut at: usize, span: usize| {
        // Moved past every busy range that comes within `margin` of
        // `at..at + span` (ranges are sorted; one pass suffices).
        for &(from, to) in busy {
            if at + span + margin > from && at < to + margin {
                at = to + margin;
            }
        }
        at
    };
    while at < n - per_hour {
        let roll = pick(&[0.0, 1.0, 2.0, 3.0, 4.0]);
        let reach = if roll < 2.0 {
            3 * per_hour
        } else {
            persistence_steps + per_hour
        };
        at = clear_from(at, reach);
        if at >= n - per_hour {
            break;
        }
        let remaining = n - at;
        if roll < 2.0 {
            let factor = pick(&[1.5, 2.0, 3.0, 6.0]);
            let duration = (pick(&[0.0, 0.5, 1.0, 3.0]) * per_hour as f64) as usize;
            let duration = duration.max(1).min(remaining);
            ends = at + duration;
            let (kind, f) = if roll < 1.0 {
                (Kind::Spike, factor)
            } else {
                (Kind::Dip, 1.0 / factor)
            };
            let size_sd = noise.size(&series.values[at..at + duration], f);
            for v in &mut series.values[at..at + duration] {
                *v *= f;
            }
            truths.push(Truth {
                kind,
                start: at,
                end: at + duration,
                factor: f,
                size_sd,
            });
        } else if remaining > persistence_steps + per_hour
            && last_shift.is_none_or(|s| at - s >= shift_gap_hours * per_hour)
        {
            let change = if level > 1.2 {
                pick(&[-0.2, -0.35, -0.5])
            } else if level < 0.8 {
                pick(&[0.2, 0.5, 1.0])
            } else {
                pick(&[0.2, 0.5, 1.0, -0.2, -0.35, -0.5])
            };
            let f = 1.0 + change;
            level *= f;
            last_shift = Some(at);
            let size_sd = noise.shift_size(&series.values[at..at + persistence_steps], f);
            for v in &mut series.values[at..] {
                *v *= f;
            }
            truths.push(Truth {
                kind: Kind::Shift,
                start: at,
                end: n,
                factor: f,
                size_sd,
            });
        }
        // Mostly 10–18 hours apart; one in five 2 hours after the last
        // one ended (two events on top of each other are one).
        let gap_hours = if pick(&[0.0, 1.0, 2.0, 3.0, 4.0]) < 1.0 {
            2.0
        } else {
            pick(&[10.0, 14.0, 18.0])
        };
        at = ends.max(at) + (gap_hours * per_hour as f64) as usize;
    }
    (series, truths)
}
