//! The scan of a deseasonalised level (`Scan`: the stages of `detect`, in
//! order) and its parts: the two-window median scan for level changes, side medians (sliding,
//! O(n·w)), a change placed where it splits best, weekly twins, and each
//! step's departure from the level on both of its sides.

use super::deseasonalise::Deseasonalised;
use super::transients::{find_departures, without_recurring, Counting, NoiseScale};
use super::{known_median, segment_bounds, Event, EventKind, EventSettings};
use crate::core::series::Series;
use crate::core::time::DAY;

/// One series' deseasonalised level, scanned for events: the stages of
/// [`detect`], in the order it runs them.
pub(super) struct Scan<'a> {
    pub(super) series: &'a Series,
    pub(super) ds: &'a Deseasonalised,
    /// Steps a change must hold (the persistence).
    pub(super) window: usize,
    /// Least size of a level change (log space).
    pub(super) threshold: f64,
}

impl Scan<'_> {
    fn time(&self, i: usize) -> i64 {
        self.series.start + i as i64 * self.series.step
    }

    fn load(&self, log: f64) -> f64 {
        (log.exp() - self.ds.offset).max(0.0)
    }

    /// The load an event over `from..to` reached at its `peak`: the step's
    /// own. A flapping load is found through its period means, whose peak
    /// can fall on the low half of the flap: a spike's is then its highest
    /// step (what the HPA must carry; at the low step, ec2 network-in's
    /// burst to 3,239,000 read 264,761, and no alert said the max in force
    /// carried less), a dip's the period mean at its trough (its high
    /// half would read as no dip at all).
    fn peak_load(&self, from: usize, to: usize, peak: usize, up: bool) -> f64 {
        if self.ds.flap <= 1 {
            return self.series.values[peak];
        }
        if up {
            self.series.values[from..to]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .fold(self.series.values[peak], f64::max)
        } else {
            self.ds.load[peak]
        }
    }

    /// The changes of level, in time order: peaks of a two-window median
    /// scan, each placed where the two levels split best.
    pub(super) fn level_changes(&self, scratch: &mut Vec<f64>) -> Vec<usize> {
        let (ds, window, threshold) = (self.ds, self.window, self.threshold);
        let n = ds.level.len();
        // Two-window median scan: at each step, the median of the window
        // after it (from it on) less that of the window before it.
        let (before, after) = side_medians(&ds.level, window, window / 2);
        let scan: Vec<f64> = (0..n)
            .map(|tau| {
                if tau < window || tau > n - window {
                    return 0.0;
                }
                // `after[tau − 1]` is the median of level[tau..tau + window].
                let change = after[tau - 1] - before[tau];
                if change.is_finite() {
                    change
                } else {
                    0.0
                }
            })
            .collect();
        // Peaks of the scan above the thresholds, strongest first.
        let mut candidates: Vec<usize> = (1..n - 1)
            .filter(|&t| {
                let size = scan[t].abs();
                size >= threshold && size >= scan[t - 1].abs() && size >= scan[t + 1].abs()
            })
            .collect();
        candidates.sort_by(|&a, &b| scan[b].abs().total_cmp(&scan[a].abs()).then(a.cmp(&b)));
        // Each candidate is tried on its own merits against the changes
        // already kept: a change kept must leave a window of history after it
        // before the next one, and the level over up to a day after it must
        // differ from the level over up to a day before (a spike of a few
        // hours moves the scan, not the day's median). A rejected candidate
        // blocks nothing, so a tall spike next to a real shift cannot hide it.
        let reach = 4 * window;
        let per_week = (7 * DAY / self.series.step) as usize;
        let slack = ((3600 / self.series.step) as usize).max(1);
        let mut changes: Vec<usize> = Vec::new();
        for candidate in candidates {
            if changes.iter().any(|&c| c.abs_diff(candidate) < window) {
                continue;
            }
            if recurs_weekly(&scan, candidate, per_week, slack, window) {
                continue;
            }
            // The scan's peak is only within half a window of the change (a
            // median moves once half its window has changed): place it where
            // splitting the two windows at the two levels fits best.
            let tau = refine(&ds.level, candidate, window, scratch);
            let previous = changes
                .iter()
                .copied()
                .filter(|&c| c < tau)
                .max()
                .unwrap_or(0);
            let next = changes
                .iter()
                .copied()
                .filter(|&c| c > tau)
                .min()
                .unwrap_or(n);
            if next - tau < window || tau - previous < window / 2 {
                continue;
            }
            let before = known_median(
                &ds.level[previous.max(tau.saturating_sub(reach))..tau],
                window / 2,
                scratch,
            );
            let after = known_median(&ds.level[tau..next.min(tau + reach)], window / 2, scratch);
            if let (Some(before), Some(after)) = (before, after) {
                if (after - before).abs() >= threshold {
                    changes.push(tau);
                }
            }
        }
        changes.sort_unstable();
        changes
    }

    /// The median level of each segment between `changes`.
    fn segment_levels(&self, changes: &[usize], scratch: &mut Vec<f64>) -> Vec<Option<f64>> {
        segment_bounds(changes, self.ds.level.len())
            .windows(2)
            .map(|b| known_median(&self.ds.level[b[0]..b[1]], 1, scratch))
            .collect()
    }

    /// Persistence rule: drops the weakest change that fails it (a segment
    /// shorter than the window after it, or levels closer than the
    /// threshold), until none does.
    pub(super) fn keep_persistent(&self, changes: &mut Vec<usize>, scratch: &mut Vec<f64>) {
        loop {
            let bounds = segment_bounds(changes, self.ds.level.len());
            let levels = self.segment_levels(changes, scratch);
            let weakest = (0..changes.len())
                .map(|j| {
                    let holds = bounds[j + 2] - bounds[j + 1] >= self.window;
                    let size = match (levels[j], levels[j + 1]) {
                        (Some(a), Some(b)) => (b - a).abs(),
                        _ => 0.0,
                    };
                    (j, holds && size >= self.threshold, size)
                })
                .filter(|&(_, ok, _)| !ok)
                .min_by(|a, b| a.2.total_cmp(&b.2));
            match weakest {
                Some((j, _, _)) => {
                    changes.remove(j);
                }
                None => break,
            }
        }
    }

    /// Places each shift again, now that all changes are known: where the
    /// split fits best between the levels of the segments on either side
    /// (up to a day of each, as the persistence rule reads them, and never
    /// across another shift or a long departure's edge), at most a window
    /// a round from where it was. The scan's own two windows hold
    /// whatever else happened within six hours: a three-hour dip two hours
    /// before a drop pulled the median before it down to the new level,
    /// and the drop was placed at the dip's end, the two hours between
    /// read as a spike. Each move changes its neighbours' segments, so it
    /// is done again until nothing moves (a few rounds at most).
    pub(super) fn place_again(
        &self,
        changes: &mut [usize],
        long_departures: &[(usize, usize, f64)],
        scratch: &mut Vec<f64>,
    ) {
        // A long departure's edges bound the segments as a shift does: a
        // storm's level inside a shift's day moved the shift onto the
        // storm's edge, hours from the real change.
        let edges: Vec<usize> = long_departures
            .iter()
            .flat_map(|&(from, to, _)| [from, to])
            .collect();
        for _ in 0..PLACING_ROUNDS {
            if !self.place_once(changes, &edges, scratch) {
                break;
            }
        }
    }

    /// One round of [`Self::place_again`]: whether any change moved.
    fn place_once(&self, changes: &mut [usize], edges: &[usize], scratch: &mut Vec<f64>) -> bool {
        let (level, window) = (&self.ds.level, self.window);
        let n = level.len();
        let reach = 4 * window;
        let mut moved = false;
        for j in 0..changes.len() {
            let tau = changes[j];
            let neighbours = || {
                changes
                    .iter()
                    .enumerate()
                    .filter(move |&(k, _)| k != j)
                    .map(|(_, &c)| c)
                    .chain(edges.iter().copied())
            };
            let previous = neighbours().filter(|&c| c < tau).max().unwrap_or(0);
            let next = neighbours().filter(|&c| c > tau).min().unwrap_or(n);
            let before = known_median(
                &level[previous.max(tau.saturating_sub(reach))..tau],
                window / 2,
                scratch,
            );
            let after = known_median(&level[tau..next.min(tau + reach)], window / 2, scratch);
            let (Some(before), Some(after)) = (before, after) else {
                continue;
            };
            let lo = (previous + window / 2)
                .max(tau.saturating_sub(window))
                .max(1);
            let hi = next.saturating_sub(window).min(tau + window);
            if lo >= hi {
                continue;
            }
            let placed = best_split(level, lo, hi, before, after);
            moved |= placed != tau;
            changes[j] = placed;
        }
        moved
    }

    /// A change of level that comes back within two days (a storm, a
    /// holiday, an outage) is a long departure, not a shift: it is healed
    /// and left out of the fit, and it never re-bases the history. One that
    /// holds for longer is a shift. Pairs are taken out of `changes`
    /// shortest first, until none is left: `(from, to, size)` each.
    pub(super) fn take_long_departures(
        &self,
        changes: &mut Vec<usize>,
        scratch: &mut Vec<f64>,
    ) -> Vec<(usize, usize, f64)> {
        let return_within = (2 * DAY / self.series.step) as usize;
        let mut long_departures: Vec<(usize, usize, f64)> = Vec::new();
        loop {
            let levels = self.segment_levels(changes, scratch);
            // A run of changes j..=k (a storm comes in steps and goes in
            // steps) after which the level is back where it was before j.
            let at = &*changes;
            let returning = (0..at.len())
                .flat_map(|j| {
                    (j + 1..at.len())
                        .take_while(move |&k| at[k] - at[j] <= return_within)
                        .map(move |k| (j, k))
                })
                .filter_map(|(j, k)| {
                    let (Some(a), Some(c)) = (levels[j], levels[k + 1]) else {
                        return None;
                    };
                    if (c - a).abs() >= self.threshold {
                        return None;
                    }
                    // Its size: the middle level farthest from the one before.
                    let size = levels[j + 1..=k]
                        .iter()
                        .flatten()
                        .map(|m| m - a)
                        .max_by(|x, y| x.abs().total_cmp(&y.abs()))?;
                    Some((at[k] - at[j], j, k, size))
                })
                .min_by_key(|&(length, ..)| length);
            let Some((_, j, k, size)) = returning else {
                break;
            };
            long_departures.push((changes[j], changes[k], size));
            changes.drain(j..=k);
        }
        long_departures
    }

    /// The shifts at `changes`. A shift's levels are the typical load of
    /// the segments, seasonality removed (the profile is centred on each
    /// day's median).
    pub(super) fn shifts(&self, changes: &[usize], level_at: &[f64]) -> Vec<Event> {
        changes
            .iter()
            .map(|&tau| Event {
                kind: EventKind::Shift,
                start: self.time(tau),
                end: None,
                before: self.load(level_at[tau - 1]),
                after: self.load(level_at[tau]),
                z: (level_at[tau] - level_at[tau - 1]) / self.ds.sigma,
                day_peak: self.load(level_at[tau]),
            })
            .collect()
    }

    /// The long departures as spikes or dips: expected, the level the load
    /// came back to with the day's shape.
    pub(super) fn long_departures(
        &self,
        departures: &[(usize, usize, f64)],
        level_at: &[f64],
    ) -> Vec<Event> {
        let ds = self.ds;
        let n = ds.level.len();
        let half_day = (DAY / self.series.step) as usize / 2;
        departures
            .iter()
            .map(|&(from, to, size)| {
                let up = size > 0.0;
                let signed = |i: usize| if up { ds.level[i] } else { -ds.level[i] };
                let peak = (from..to)
                    .filter(|&i| ds.level[i].is_finite())
                    .max_by(|&a, &b| signed(a).total_cmp(&signed(b)))
                    .unwrap_or(from);
                let base = level_at[from.saturating_sub(1)];
                let expected = |i: usize| self.load(base + ds.seasonal[i]);
                let day_peak = (peak.saturating_sub(half_day)..(peak + half_day + 1).min(n))
                    .map(expected)
                    .filter(|v| v.is_finite())
                    .fold(f64::NAN, f64::max);
                Event {
                    kind: if up { EventKind::Spike } else { EventKind::Dip },
                    start: self.time(from),
                    end: Some(self.time(to)),
                    before: expected(peak),
                    after: self.peak_load(from, to, peak, up),
                    z: size / ds.sigma,
                    day_peak,
                }
            })
            .collect()
    }

    /// Spikes and dips in `residual` (the departure from the level on
    /// either side, log space; NaN inside the long departures), found
    /// twice: the noise scale of the first pass is inflated by the events
    /// themselves (in a busy month a tenth of the samples), so the second
    /// measures it without them. A burst recurring at the same time of day
    /// is expected load, left out.
    pub(super) fn transients(&self, residual: &[f64], settings: &EventSettings) -> Vec<Event> {
        let (ds, series, window) = (self.ds, self.series, self.window);
        let n = ds.level.len();
        let half_day = (DAY / series.step) as usize / 2;
        let hours: Vec<usize> = (0..n)
            .map(|i| (self.time(i).rem_euclid(DAY) / 3600) as usize)
            .collect();
        let expected: Vec<f64> = (0..n)
            .map(|i| self.load(ds.level[i] - residual[i] + ds.seasonal[i]))
            .collect();
        let counting = Counting::new(&ds.load, &expected, ds.unit, ds.flap);
        let mut quiet = vec![true; n];
        let per_hour = ((3600 / series.step) as usize).max(1);
        let mut departures = Vec::new();
        let mut first: Option<Vec<f64>> = None;
        for _ in 0..2 {
            let mut noise = NoiseScale::measure(residual, &hours, &quiet, ds.sigma, window);
            // Without the first pass's events the noise may fall by what they
            // swelled it (a fifth at most, for a tenth of the steps); more is
            // the calm that is left once the busy hours are out, not the
            // noise, and would turn ordinary wander into events.
            match &first {
                None => first = Some(noise.by_hour.clone()),
                Some(first) => {
                    for (now, before) in noise.by_hour.iter_mut().zip(first) {
                        *now = now.max(0.8 * before);
                    }
                }
            }
            departures = find_departures(residual, &noise, &hours, &counting, settings);
            if departures.is_empty() {
                // Nothing to leave out: a second pass would measure the same.
                break;
            }
            quiet.fill(true);
            for d in &departures {
                // A margin as long as the event, up to an hour: its shoulders
                // are not noise. (Longer, a busy month leaves only its calmest
                // hours to measure the noise on, and the next pass then finds
                // events in ordinary wander.)
                let margin = (d.end - d.start).min(per_hour);
                quiet[d.start.saturating_sub(margin)..(d.end + margin).min(n)].fill(false);
            }
        }
        let per_day = (DAY / series.step) as usize;
        let departures = without_recurring(departures, per_day, (1800 / series.step) as usize);
        departures
            .into_iter()
            .map(|d| {
                // From the steps away from any event and its shoulders (where the
                // sides disagree, the residual is 0 and `expected` is the load
                // itself: the edge of a spike would be its own day's peak).
                let around = d.peak.saturating_sub(half_day)..(d.peak + half_day + 1).min(n);
                let highest = |quiet_only: bool| {
                    around
                        .clone()
                        .filter(|&i| !quiet_only || quiet[i])
                        .map(|i| expected[i])
                        .filter(|v| v.is_finite())
                        .fold(f64::NAN, f64::max)
                };
                let day_peak = Some(highest(true))
                    .filter(|v| v.is_finite())
                    .unwrap_or_else(|| highest(false));
                Event {
                    kind: if d.up {
                        EventKind::Spike
                    } else {
                        EventKind::Dip
                    },
                    start: self.time(d.start),
                    end: Some(self.time(d.end)),
                    before: self.load(ds.level[d.peak] - residual[d.peak] + ds.seasonal[d.peak]),
                    after: self.peak_load(d.start, d.end, d.peak, d.up),
                    z: d.z,
                    day_peak,
                }
            })
            .collect()
    }
}

/// Weekly rhythm is seasonality, never a shift: a change of level that
/// comes back at the same hour (within `slack` steps) in at least half of
/// the weeks one and two before and after that the scan covers, in the
/// same direction and of a like size (×0.4 to ×2.5: one weekend is
/// livelier than another), is the week's shape (a quiet weekend, a busier
/// Monday) that the daily profile did not remove. A lasting shift has no
/// such twins: a week before it both windows hold the old level, a week
/// after both hold the new one.
pub(super) fn recurs_weekly(
    scan: &[f64],
    at: usize,
    per_week: usize,
    slack: usize,
    window: usize,
) -> bool {
    let size = scan[at];
    let covered = window..scan.len().saturating_sub(window);
    let (mut available, mut matches) = (0, 0);
    for weeks in [-2_isize, -1, 1, 2] {
        let Some(twin) = at.checked_add_signed(weeks * per_week as isize) else {
            continue;
        };
        if !covered.contains(&twin) {
            continue;
        }
        available += 1;
        let (from, to) = (
            twin.saturating_sub(slack),
            (twin + slack + 1).min(scan.len()),
        );
        let alike = |c: f64| c * size.signum() >= 0.4 * size.abs() && c.abs() <= 2.5 * size.abs();
        if scan[from..to].iter().any(|&c| alike(c)) {
            matches += 1;
        }
    }
    matches > 0 && 2 * matches >= available
}

/// Rounds of [`Scan::place_again`] at most.
const PLACING_ROUNDS: usize = 4;

/// Where in `[τ − w/2, τ + w/2]` the level changes: the split of
/// `[τ − w, τ + w)` whose points are closest (absolute deviation) to the
/// median before and the median after.
pub(super) fn refine(level: &[f64], tau: usize, window: usize, scratch: &mut Vec<f64>) -> usize {
    let n = level.len();
    let (from, to) = (tau - window, (tau + window).min(n));
    let before = known_median(&level[from..tau], 1, scratch).unwrap_or(0.0);
    let after = known_median(&level[tau..to], 1, scratch).unwrap_or(0.0);
    best_split(
        level,
        tau - window / 2,
        (tau + window / 2).min(to - 1),
        before,
        after,
    )
}

/// The step in `lo..=hi` where `level` best splits into `before` then
/// `after`: the least total absolute distance of each point to its side's
/// level. Distances are capped at the size of the change: a spike near the
/// change, far from both levels, is evidence for neither.
fn best_split(level: &[f64], lo: usize, hi: usize, before: f64, after: f64) -> usize {
    let cap = (after - before).abs();
    // Cost change when point i moves from "after" to "before".
    let shift_cost = |i: usize| {
        let v = level[i];
        if v.is_finite() {
            (v - before).abs().min(cap) - (v - after).abs().min(cap)
        } else {
            0.0
        }
    };
    let (mut best, mut best_cost, mut cost) = (lo, 0.0, 0.0);
    for t in lo..hi {
        cost += shift_cost(t);
        if cost < best_cost {
            best_cost = cost;
            best = t + 1;
        }
    }
    best
}

/// For each step `i`, the median of the `width` known steps before it
/// (`level[i − width..i]`) and of the `width` after it (`level[i + 1..=i +
/// width]`), NaN where a side holds fewer than `least` known steps: two
/// sliding windows, O(n · width) moves instead of a selection per step.
pub(super) fn side_medians(level: &[f64], width: usize, least: usize) -> (Vec<f64>, Vec<f64>) {
    let n = level.len();
    let mut left = vec![f64::NAN; n];
    let mut window = SlidingMedian {
        sorted: Vec::with_capacity(width + 1),
    };
    for i in 0..n {
        left[i] = window.median(least);
        if i >= width {
            window.replace(level[i - width], level[i]);
        } else {
            window.insert(level[i]);
        }
    }
    // The full window after step i is the window before step i + 1 +
    // width: its median is already known (half the work). Only the last
    // steps, whose window after them is cut short by the end, need their
    // own pass, and there the window only grows.
    let mut right = vec![f64::NAN; n];
    for i in 0..n.saturating_sub(width + 1) {
        right[i] = left[i + 1 + width];
    }
    window.sorted.clear();
    for i in (n.saturating_sub(width + 1)..n).rev() {
        right[i] = window.median(least);
        window.insert(level[i]);
    }
    (left, right)
}

/// A window's median, kept sorted as the window slides forward.
pub(super) struct SlidingMedian {
    pub(super) sorted: Vec<f64>,
}

impl SlidingMedian {
    pub(super) fn insert(&mut self, v: f64) {
        if v.is_finite() {
            let at = self.sorted.partition_point(|x| *x < v);
            self.sorted.insert(at, v);
        }
    }

    pub(super) fn remove(&mut self, v: f64) {
        if v.is_finite() {
            let at = self.sorted.partition_point(|x| *x < v);
            self.sorted.remove(at);
        }
    }

    /// Removes `old` and inserts `new` in one move of the values between
    /// their places (a third of the window on average, where a removal and
    /// an insertion move half of it each: this is the scan's inner loop).
    pub(super) fn replace(&mut self, old: f64, new: f64) {
        if !old.is_finite() {
            self.insert(new);
            return;
        }
        if !new.is_finite() {
            self.remove(old);
            return;
        }
        let from = self.sorted.partition_point(|x| *x < old);
        let to = self.sorted.partition_point(|x| *x < new);
        if to <= from {
            self.sorted.copy_within(to..from, to + 1);
            self.sorted[to] = new;
        } else {
            self.sorted.copy_within(from + 1..to, from);
            self.sorted[to - 1] = new;
        }
    }

    pub(super) fn median(&self, least: usize) -> f64 {
        let len = self.sorted.len();
        if len < least.max(1) {
            f64::NAN
        } else if len % 2 == 1 {
            self.sorted[len / 2]
        } else {
            0.5 * (self.sorted[len / 2 - 1] + self.sorted[len / 2])
        }
    }
}

/// Each step's departure from the level on its left and on its right: the
/// medians of the `width` steps before and after it (NaN where a side
/// holds fewer than `least` known steps), and of the two departures the
/// smaller when both point the same way, else none. A spike departs from
/// both sides; a step beside a change of level does not depart from its
/// own side, so it is not mistaken for a spike, whether or not the change
/// was called a shift. A departure shorter than `width / 2` is less than
/// half of either window, so it cannot move the medians much.
pub(super) fn departure_from_sides(level: &[f64], width: usize, least: usize) -> Vec<f64> {
    let n = level.len();
    let (left, right) = side_medians(level, width, least);
    (0..n)
        .map(|i| {
            let x = level[i];
            match (x - left[i], x - right[i]) {
                (l, r) if l.is_finite() && r.is_finite() => {
                    if l.signum() == r.signum() {
                        if l.abs() < r.abs() {
                            l
                        } else {
                            r
                        }
                    } else {
                        0.0
                    }
                }
                (l, _) if l.is_finite() => l,
                (_, r) => r,
            }
        })
        .collect()
}
