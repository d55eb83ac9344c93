//! The two-window median scan for level changes: side medians (sliding,
//! O(n·w)), a change placed where it splits best, weekly twins, and each
//! step's departure from the level on both of its sides.

use super::known_median;

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

/// Where in `[τ − w/2, τ + w/2]` the level changes: the split of
/// `[τ − w, τ + w)` whose points are closest (absolute deviation) to the
/// median before and the median after.
pub(super) fn refine(level: &[f64], tau: usize, window: usize, scratch: &mut Vec<f64>) -> usize {
    let n = level.len();
    let (from, to) = (tau - window, (tau + window).min(n));
    let before = known_median(&level[from..tau], 1, scratch).unwrap_or(0.0);
    let after = known_median(&level[tau..to], 1, scratch).unwrap_or(0.0);
    let lo = tau - window / 2;
    let hi = (tau + window / 2).min(to - 1);
    // Cost change when point i moves from "after" to "before". Distances
    // are capped at the size of the change: a spike near the change, far
    // from both levels, is evidence for neither.
    let cap = (after - before).abs();
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
