//! Events stage (pure): tells transient departures from lasting changes of
//! level, so that the bounds can heal through the first and adapt to the
//! second.
//!
//! - `spike` / `dip`: load above / below its expected level (seasonality
//!   and the current level removed) that returns within `persistence`;
//! - `shift`: a change of level that holds for at least `persistence`.
//!
//! How, and why this way:
//! 1. Work on `ln(load + c)` (c = 5% of the median load, and at least the
//!    load's counting unit): load events are multiplicative (×3 traffic,
//!    +40% after a launch), and so is most seasonality; on a log scale a
//!    doubling is the same size at the daily peak and trough. Load that
//!    arrives as a few whole requests per step has Poisson noise on top
//!    (a step that counted none of four expected is one in fifty): its
//!    counting unit is measured from how the step-to-step variance grows
//!    with the level, and a departure must also stand out of that
//!    counting noise (item 7). A load that flaps between two levels every
//!    step or two (a ten-minute job seen at five) is read through its
//!    mean over the flap's period.
//! 2. Remove seasonality robustly: each day's median is the day's level;
//!    the daily profile is, per phase of the day, the median over days of
//!    the value minus its day's level. A weekly shape (a city's weekend
//!    mornings are quiet, its nights busy, at the same day total) is added
//!    when the data holds three weeks or more and it removes at least a
//!    tenth of what is left: per phase of the week, the median over the
//!    five weeks about each one (a clock change moves a weekend's hours),
//!    smoothed over two hours. Medians, so that spikes and a shift or two
//!    do not bend the profile. On `nyc_taxi` this cut the events found from
//!    242 to 77 (weekend mornings were dips).
//! 3. Noise scale σ: the median absolute deviation of first differences
//!    (÷√2): a level shift or a spike moves only a few differences, so σ
//!    measures the noise alone.
//! 4. Changepoints: a two-window median scan. At each step τ the median of
//!    the `persistence` after τ minus the median of the `persistence` before
//!    it; its peaks above the thresholds are candidate level changes,
//!    tried strongest first, at least one window apart, each placed at the
//!    split that fits the two levels best (distances capped at the size of
//!    the change, so that a spike beside it does not pull it). The shift threshold also scales
//!    with the level's own wander about each day's median (2 wander SD at
//!    z = 3; a typical day's: the median over days of each day's spread),
//!    so hours-long drifts of a bursty series are not shifts.
//!    Medians make the scan blind to any
//!    departure shorter than half a window, which is what a spike is; a
//!    CUSUM would react to a tall short spike and a BOCPD needs a noise
//!    model this heavy-tailed load does not follow. The scan costs one
//!    median per step (O(n·w)).
//! 5. Persistence rule: a candidate is a shift only when a whole window of
//!    history follows it before the next change and the level over up to a
//!    day after it differs from the level over up to a day before; a
//!    rejected candidate blocks nothing (a tall spike next to a real shift
//!    cannot hide it). A final pass drops any change whose whole segments
//!    no longer differ. A change in the last window of history is not a
//!    shift *yet*. Then each shift is placed again between the levels of
//!    its segments (up to a day each side, never across another change
//!    or a long departure's edge),
//!    at most a window a round from where it was: the scan's six-hour
//!    windows hold whatever else happened beside the change (a dip just
//!    before a drop placed it at the dip's end).
//! 6. Spikes and dips are departures from the level on *both* sides of a
//!    step (the medians of two windows before and after it, with the
//!    shifts found taken out): a step beside a change of level departs
//!    from one side only, so a change too small or too recent to be
//!    called a shift is not mistaken for spikes, and does not swell the
//!    noise scale.
//! 7. They are found by a scan at several scales (1, 2, 3, 4, ×1.5 … up to
//!    half the persistence window): the mean over k steps, in units of the
//!    noise of such means as measured on this series (the level's wander
//!    makes it fall slower than 1/√k), must pass `min_z + 1.5`. One sample
//!    must pass 4.5 SD at the default (single samples past 3 SD happen by
//!    chance in a month of heavy-tailed load); a 3-hour ×3 surge at 3 SD
//!    per sample is plain at its own scale. On counts, the excess over
//!    what was expected must also pass the same bar in counting noise
//!    (`√(unit·expected)`, and for a flapping load read through its
//!    period means, with the steps those means share). Each flagged run is
//!    split into events by taking the window that stands out most, grown
//!    and trimmed to the steps as far off as half its mean, then searching
//!    the rest.
//!    The noise scale is measured twice, the second time without the
//!    events of the first (in a busy month they are a tenth of the steps).
//!    A window holding an unknown step is never flagged: nothing is
//!    invented inside a gap.
//!
//! Measured by tests/it/events.rs (events ≥ 3 robust SD, a shift's start
//! within 1 hour). On 34 real traces as they are, known events injected:
//! spikes+dips recall 0.910, precision 0.724 (0.896 with the trace's own
//! near-threshold departures as its own); shifts 0.834 / 0.927. On their
//! Poisson versions (a median of 4 per step, events injected into the
//! rate before the counts are drawn): spikes+dips 0.795 / 0.928.
//! On 6 cleaned bases × 10 seeds: spikes+dips 0.916 / 0.992, shifts
//! 0.970 / 0.988; on the bases without injected events, 4 events in
//! 6 × 28 days.

//! Sensitivity, in user units ([`EventSettings`]): a robust z-score (how
//! many noise SD) and a least relative size (15%: smaller moves are left to
//! the HPA whatever the noise).

use crate::core::series::Series;
use crate::core::stats::median;
use crate::core::time::Span;
use serde::Serialize;

mod deseasonalise;
mod scan;
mod transients;

use deseasonalise::{deseasonalise, rhythm_of};
use scan::{departure_from_sides, Scan};
use transients::PrefixSums;

/// How sensitive detection is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventSettings {
    /// A departure that lasts longer than this is a shift.
    pub persistence: Span,
    /// Least size in robust noise standard deviations.
    pub min_z: f64,
    /// Least size relative to the expected level (0.2 = 20%).
    pub min_relative: f64,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            persistence: Span::from_secs(6 * 3600).expect("positive"),
            min_z: 3.0,
            min_relative: 0.15,
        }
    }
}

/// What kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Spike,
    Dip,
    Shift,
}

/// One event found in a history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// First step of the event (unix seconds).
    pub start: i64,
    /// First step back at the expected level; `None` for a shift.
    pub end: Option<i64>,
    /// The load expected at the event's peak (spike, dip) or the level
    /// before the change (shift, median load over one window before).
    pub before: f64,
    /// The load at the peak (spike), trough (dip) or the new level (shift).
    pub after: f64,
    /// Size in robust noise standard deviations.
    pub z: f64,
    /// The highest load expected within half a day either side of a spike
    /// or dip (the kind of load `max_replicas` is sized for); a shift's new
    /// level.
    pub day_peak: f64,
}

impl Event {
    /// Whether it is still going on at `end` (the history's end: the first
    /// time after its last step): a shift always, a spike or dip that had
    /// not come back by then.
    #[must_use]
    pub fn ongoing_at(&self, end: i64) -> bool {
        self.end.is_none_or(|t| t >= end)
    }
}

/// The segments' edges a sorted list of changes cuts `0..n` into: 0, the
/// changes, then `n`.
fn segment_bounds(changes: &[usize], n: usize) -> Vec<usize> {
    let mut bounds = Vec::with_capacity(changes.len() + 2);
    bounds.push(0);
    bounds.extend_from_slice(changes);
    bounds.push(n);
    bounds
}

/// Median of the known values of `xs`, when at least `least` are known.
fn known_median(xs: &[f64], least: usize, scratch: &mut Vec<f64>) -> Option<f64> {
    scratch.clear();
    scratch.extend(xs.iter().copied().filter(|v| v.is_finite()));
    (scratch.len() >= least.max(1)).then(|| median(scratch))
}

/// Finds the events of `series`, with a daily profile when the data has
/// daily seasonality. A weekly pattern needs no profile of its own: each
/// day's median level already follows the weekdays, and a per-step weekly
/// profile from four weeks would be a median of four noisy values.
#[must_use]
pub fn detect_in(series: &Series, settings: &EventSettings) -> Vec<Event> {
    let rhythm = rhythm_of(series, &series.values);
    let first = detect(series, rhythm.0, rhythm.1, settings);
    // A lasting shift inside the history confounds the weekly test (the
    // days after it differ from the days before by more than weekdays
    // do): the rhythm is looked for again with each shift undone, and
    // the history read again only when that rhythm differs.
    let shifts: Vec<&Event> = first
        .iter()
        .filter(|e| e.kind == EventKind::Shift)
        .collect();
    if shifts.is_empty() {
        return first;
    }
    let mut undone = series.values.clone();
    for shift in shifts {
        let ratio = (shift.before + 1e-9) / (shift.after + 1e-9);
        let from = ((shift.start - series.start) / series.step.max(1)).max(0) as usize;
        for v in undone.iter_mut().skip(from) {
            *v *= ratio;
        }
    }
    let again = rhythm_of(series, &undone);
    if again == rhythm {
        return first;
    }
    detect(series, again.0, again.1, settings)
}

/// Finds the events of `series`, whose seasonal period (in steps) is
/// `period` (the week when weekly seasonality was detected, else the day,
/// else `None`). Events come in time order.
#[must_use]
pub fn detect(
    series: &Series,
    period: Option<usize>,
    weekday_levels: bool,
    settings: &EventSettings,
) -> Vec<Event> {
    let n = series.values.len();
    let window = ((settings.persistence.secs() / series.step) as usize).max(2);
    if n < 2 * window {
        return Vec::new();
    }
    let ds = deseasonalise(series, period, weekday_levels);
    // A level change must stand out of the level's own wander (how far it
    // drifts for hours with nothing happening: 2 wander SD at the default
    // z of 3, measured best on the ground truth of tests/it/events.rs), not
    // only out of the sample-to-sample noise.
    let threshold = (settings.min_z * ds.sigma)
        .max(settings.min_z * 2.0 / 3.0 * ds.wander)
        .max((1.0 + settings.min_relative).ln());
    let scan = Scan {
        series,
        ds: &ds,
        window,
        threshold,
    };
    let mut scratch = Vec::with_capacity(window);
    let mut changes = scan.level_changes(&mut scratch);
    scan.keep_persistent(&mut changes, &mut scratch);
    let long_departures = scan.take_long_departures(&mut changes, &mut scratch);
    // Only the shifts: a long departure's edges are better wide than
    // exact (its slow return left in the fit would be copied forward).
    scan.place_again(&mut changes, &long_departures, &mut scratch);
    // A change is a shift only when the levels it separates differ by the
    // least relative change (`min_change`): one found as a jump but whose
    // segments' medians end up closer (the segments hold other events)
    // was reported as "shift −4%". The smallest such is dropped and the
    // levels measured again, until none is left.
    let least = (1.0 + settings.min_relative).ln();
    let mut level_at = vec![f64::NAN; n];
    loop {
        let bounds = segment_bounds(&changes, n);
        for b in bounds.windows(2) {
            let level = known_median(&ds.level[b[0]..b[1]], 1, &mut scratch).unwrap_or(f64::NAN);
            level_at[b[0]..b[1]].fill(level);
        }
        let smallest = changes
            .iter()
            .enumerate()
            .map(|(k, &tau)| (k, (level_at[tau] - level_at[tau - 1]).abs()))
            .filter(|&(_, size)| size < least)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match smallest {
            Some((k, _)) => {
                changes.remove(k);
            }
            None => break,
        }
    }
    let mut events = scan.shifts(&changes, &level_at);
    // Departures are measured from the level on either side (see
    // `departure_from_sides`): this also follows a change too small or too
    // recent to be called a shift, which would otherwise swell the noise
    // scale and hide the spikes. The shifts found are taken out first, so
    // that both sides are there up to a shift: cut at it, the hours after
    // a shift had one side only, and a burst of the load's own there was
    // measured against it alone (real traces with events injected:
    // spikes+dips precision 0.734 → 0.743).
    let flattened: Vec<f64> = ds
        .level
        .iter()
        .zip(&level_at)
        .map(|(x, level)| x - level)
        .collect();
    let mut residual = departure_from_sides(&flattened, 2 * window, window / 2);
    // The long departures are events already: nothing else is looked for
    // inside them.
    for &(from, to, _) in &long_departures {
        residual[from..to].fill(f64::NAN);
    }
    events.extend(scan.long_departures(&long_departures, &level_at));
    events.extend(scan.transients(&residual, settings));
    events.sort_by_key(|e| e.start);
    events
}

#[cfg(test)]
mod tests {
    use super::deseasonalise::{counting_unit, flapping_period, log_scale, period_means};
    use super::scan::side_medians;
    use super::*;
    use crate::core::series::GridStats;
    use crate::core::time::DAY;

    /// `days` of a daily cycle at 5 minutes with seeded noise.
    fn daily(days: i64) -> Series {
        Series {
            start: 1_700_006_400 / DAY * DAY,
            step: 300,
            values: crate::core::synthetic::load(days, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 7),
            stats: GridStats::default(),
        }
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// The sliding windows give each side's median exactly as sorting
        /// each window would: ties, unknown steps, windows at the edges.
        #[test]
        fn side_medians_match_a_median_per_window(
            level in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => (0_u8..6).prop_map(f64::from),
                    4 => -50.0_f64..50.0,
                    1 => proptest::strategy::Just(f64::NAN),
                ],
                0..80,
            ),
            width in 1_usize..12,
            least in 0_usize..5,
        ) {
            let median_of = |xs: &[f64]| {
                let mut known: Vec<f64> = xs.iter().copied().filter(|v| v.is_finite()).collect();
                known.sort_by(f64::total_cmp);
                let len = known.len();
                if len < least.max(1) {
                    f64::NAN
                } else if len % 2 == 1 {
                    known[len / 2]
                } else {
                    0.5 * (known[len / 2 - 1] + known[len / 2])
                }
            };
            let (left, right) = side_medians(&level, width, least);
            for i in 0..level.len() {
                let want_left = median_of(&level[i.saturating_sub(width)..i]);
                let want_right = median_of(&level[i + 1..(i + 1 + width).min(level.len())]);
                proptest::prop_assert!(left[i].total_cmp(&want_left).is_eq(), "left {i}: {} {want_left}", left[i]);
                proptest::prop_assert!(right[i].total_cmp(&want_right).is_eq(), "right {i}: {} {want_right}", right[i]);
            }
        }
    }

    fn kinds(events: &[Event]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn a_quiet_seasonal_series_has_no_events() {
        let events = detect(&daily(28), Some(288), false, &EventSettings::default());
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn a_two_hour_spike_is_a_spike_with_its_start_end_and_peak() {
        let mut series = daily(28);
        let at = 20 * 288 + 100;
        for v in &mut series.values[at..at + 24] {
            *v *= 4.0;
        }
        let events = detect(&series, Some(288), false, &EventSettings::default());
        assert_eq!(kinds(&events), [EventKind::Spike], "{events:?}");
        let spike = events[0];
        assert_eq!(spike.start, series.start + at as i64 * 300);
        assert_eq!(spike.end, Some(series.start + (at + 24) as i64 * 300));
        assert!(spike.after / spike.before > 3.0, "{spike:?}");
    }

    #[test]
    fn a_lasting_rise_is_one_shift_at_its_start_and_a_late_one_is_not_a_shift_yet() {
        let mut series = daily(28);
        let at = 20 * 288 + 37;
        for v in &mut series.values[at..] {
            *v *= 1.5;
        }
        let events = detect(&series, Some(288), false, &EventSettings::default());
        assert_eq!(kinds(&events), [EventKind::Shift], "{events:?}");
        assert_eq!(events[0].start, series.start + at as i64 * 300);
        assert!((events[0].after / events[0].before - 1.5).abs() < 0.2);

        // Three hours before the end: not yet a shift, a departure.
        let mut late = daily(28);
        let n = late.values.len();
        for v in &mut late.values[n - 36..] {
            *v *= 1.5;
        }
        let events = detect(&late, Some(288), false, &EventSettings::default());
        assert!(
            events.iter().all(|e| e.kind != EventKind::Shift),
            "{events:?}"
        );
    }

    /// `days` of a few requests per 5 minutes: a daily cycle between 2 and
    /// 6 expected, each step drawn from a Poisson distribution (seeded).
    fn counts(days: i64) -> Series {
        let mut rng = crate::core::synthetic::Rng::new(11);
        let values = (0..days * 288)
            .map(|i| {
                let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
                rng.poisson(4.0 + 2.0 * phase.sin())
            })
            .collect();
        Series {
            values,
            ..daily(days)
        }
    }

    #[test]
    fn the_counting_unit_of_a_count_and_of_a_rate_and_none_for_high_volume() {
        let requests = counts(28);
        let unit = counting_unit(&requests.values, 12);
        assert!((0.6..1.4).contains(&unit), "{unit}");
        // The same as a rate per second over the 5-minute step.
        let rate: Vec<f64> = requests.values.iter().map(|v| v / 300.0).collect();
        let per_second = counting_unit(&rate, 12);
        assert!((per_second * 300.0 - unit).abs() < 1e-9, "{per_second}");
        // Thousands a step: its noise is its own wander, and the log
        // scale's offset stays 5% of the median.
        let busy = daily(28);
        let (_, offset) = log_scale(&busy.values, counting_unit(&busy.values, 12));
        let mut known = busy.values.clone();
        assert!(
            (offset - 0.05 * median(&mut known)).abs() < 1e-9,
            "{offset}"
        );
    }

    #[test]
    fn counting_noise_is_no_event_and_a_burst_of_counts_is_a_spike() {
        let series = counts(28);
        let events = detect(&series, Some(288), false, &EventSettings::default());
        // On a log scale with the offset at 5% of the median, the steps
        // that counted none of the four expected were ~150 dips a month.
        assert!(events.len() <= 2, "{events:?}");
        let mut burst = series.clone();
        let at = 20 * 288 + 100;
        for v in &mut burst.values[at..at + 12] {
            *v *= 3.0;
        }
        let events = detect(&burst, Some(288), false, &EventSettings::default());
        let spikes: Vec<&Event> = events
            .iter()
            .filter(|e| {
                e.kind == EventKind::Spike && (e.start - burst.start) / 300 >= at as i64 - 12
            })
            .filter(|e| (e.start - burst.start) / 300 <= at as i64 + 12)
            .collect();
        assert_eq!(spikes.len(), 1, "{events:?}");
    }

    #[test]
    fn a_load_flapping_between_two_levels_each_step_still_shows_its_spikes_and_dips() {
        // A ten-minute job seen every five minutes: 3, 18, 3, 18 … with
        // the daily cycle on top.
        let mut flapping = daily(28);
        for (i, v) in flapping.values.iter_mut().enumerate() {
            *v *= if i % 2 == 0 { 0.3 } else { 1.7 };
        }
        // Read through its pair means, 28 days of this noise raise one
        // ten-minute dip at this seed (5 SD), no more.
        let quiet = detect(&flapping, Some(288), false, &EventSettings::default());
        assert!(quiet.len() <= 1, "{quiet:?}");
        // A three-hour +50%, and a three-hour −50%: read step by step, the
        // flapping's noise (six times the load between two steps) hides them.
        let at = 20 * 288 + 100;
        for (factor, kind) in [(1.5, EventKind::Spike), (0.5, EventKind::Dip)] {
            let mut series = flapping.clone();
            for v in &mut series.values[at..at + 36] {
                *v *= factor;
            }
            let events = detect(&series, Some(288), false, &EventSettings::default());
            let found: Vec<&Event> = events
                .iter()
                .filter(|e| ((e.start - series.start) / 300).abs_diff(at as i64) <= 2)
                .collect();
            assert_eq!(found.len(), 1, "{events:?}");
            assert_eq!(found[0].kind, kind, "{events:?}");
            assert!(events.len() <= quiet.len() + 1, "{events:?}");
            // What it reached: a spike its highest step (what the HPA
            // carries), not the low half of the flap at its peak; a dip
            // the flap's mean at its trough, not either half.
            let stretch = &series.values[at..at + 36];
            let mean = stretch.iter().sum::<f64>() / stretch.len() as f64;
            let (low_half, high_half) = (0.3 * mean, 1.7 * mean);
            match kind {
                EventKind::Spike => assert!(found[0].after > 1.3 * mean, "{events:?}"),
                _ => assert!(
                    found[0].after > 1.5 * low_half && found[0].after < 0.7 * high_half,
                    "{events:?}"
                ),
            }
        }
    }

    #[test]
    fn flapping_counts_read_through_their_period_means_raise_no_counting_alarm() {
        // A VM's job counted every five minutes: 3 and 17 expected in
        // turn, Poisson counts. Read as `deseasonalise` reads it (period
        // means, the counting unit measured on them), no window of one to
        // twelve steps passes the counting test at the scan's bar; with
        // the means taken as independent counts, about one in a hundred
        // did (three steps at 0, 0 and 0.5 for 2 expected: a "6 SD dip").
        let mut rng = crate::core::synthetic::Rng::new(17);
        let counts: Vec<f64> = (0..20_000)
            .map(|i| rng.poisson(if i % 2 == 0 { 3.0 } else { 17.0 }))
            .collect();
        let flap = flapping_period(&log_scale(&counts, 0.0).0).expect("it flaps");
        assert_eq!(flap, 2);
        let load = period_means(&counts, flap);
        let unit = counting_unit(&load, 12);
        let expected = vec![10.0; load.len()];
        let alarm = EventSettings::default().min_z + 1.5;
        let alarms = |flap: usize| {
            let counting = super::transients::Counting::new(&load, &expected, unit, flap);
            let (mut windows, mut passed) = (0_usize, 0_usize);
            for k in 1..=12 {
                for from in (0..load.len() - k).step_by(k) {
                    for up in [true, false] {
                        windows += 1;
                        passed += usize::from(counting.beyond(from, from + k, alarm, up));
                    }
                }
            }
            passed as f64 / windows as f64
        };
        assert!(alarms(flap) < 1e-4, "{}", alarms(flap));
        assert!(alarms(1) > 1e-3, "{}", alarms(1));
    }

    #[test]
    fn white_noise_and_a_smooth_load_do_not_flap_and_a_gap_stays_a_gap() {
        let mut rng = crate::core::synthetic::Rng::new(3);
        let noise: Vec<f64> = (0..2000).map(|_| rng.normal()).collect();
        assert_eq!(flapping_period(&noise), None);
        let smooth: Vec<f64> = (0..2000).map(|i| (f64::from(i) / 50.0).sin()).collect();
        assert_eq!(flapping_period(&smooth), None);
        let flapping: Vec<f64> = (0..2000)
            .map(|i| if i % 2 == 0 { 1.0 } else { 3.0 } + 0.01 * rng.normal())
            .collect();
        assert_eq!(flapping_period(&flapping), Some(2));
        let mut gap = flapping.clone();
        gap[100] = f64::NAN;
        let read = period_means(&gap, 2);
        // The step after it: half its period unknown, so unknown too (a
        // mean of its one known step is half the flap).
        assert!(read[100].is_nan() && read[99].is_finite() && read[101].is_nan());
        assert!(read[102].is_finite());
    }

    #[test]
    fn a_single_outlier_is_never_a_shift_and_a_gap_holds_no_event() {
        let mut series = daily(28);
        series.values[5000] *= 10.0;
        for v in &mut series.values[6000..6500] {
            *v = f64::NAN;
        }
        let events = detect(&series, Some(288), false, &EventSettings::default());
        assert_eq!(kinds(&events), [EventKind::Spike], "{events:?}");
        assert_eq!(events[0].start, series.start + 5000 * 300);
        assert_eq!(events[0].end, Some(series.start + 5001 * 300));
    }
}
