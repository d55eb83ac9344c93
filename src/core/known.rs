//! Known events (pure): load that is expected but that no model of the
//! history can see coming — a sale, a launch, a month-end batch, a surge
//! homeostat learned from recurring incidents. Declared in the config
//! (`events.calendar`, or an iCalendar file) or learned (issue 21).
//!
//! A known event changes the plan twice. Its past occurrences are left
//! out of the history the model is fitted on and the detector reads (they
//! are neither the workload's ordinary load nor a lasting shift), and
//! during its future occurrences the forecast is raised — by a factor of
//! the ordinary load or to a load learned from incidents — so that max
//! covers it and the schedule raises min by the startup lead before it.

use crate::core::model::Forecast;
use crate::core::series::Series;
use crate::core::time::{
    deserialize_timestamp, deserialize_zoned_timestamp, format_stretch, serialize_timestamp,
};
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

/// How often a known event comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recurrence {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Recurrence {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Recurrence::Daily => "daily",
            Recurrence::Weekly => "weekly",
            Recurrence::Monthly => "monthly",
            Recurrence::Yearly => "yearly",
        }
    }

    /// The `k`-th occurrence's start (`k` from 0 at `start`): months and
    /// years on the calendar (the 31st of a short month is its last day).
    fn nth(self, start: i64, k: u32) -> Option<i64> {
        let fixed = |period: i64| start.checked_add(period.checked_mul(i64::from(k))?);
        match self {
            Recurrence::Daily => fixed(86_400),
            Recurrence::Weekly => fixed(7 * 86_400),
            Recurrence::Monthly | Recurrence::Yearly => {
                let months = if self == Recurrence::Monthly {
                    k
                } else {
                    k.checked_mul(12)?
                };
                let at = DateTime::<Utc>::from_timestamp(start, 0)?;
                Some(at.checked_add_months(Months::new(months))?.timestamp())
            }
        }
    }

    /// Rough period in seconds, to skip occurrences long past.
    fn period(self) -> i64 {
        match self {
            Recurrence::Daily => 86_400,
            Recurrence::Weekly => 7 * 86_400,
            Recurrence::Monthly => 28 * 86_400,
            Recurrence::Yearly => 365 * 86_400,
        }
    }
}

/// One known event, as the config declares it (and as a learned one is
/// exported for the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownEvent {
    pub name: String,
    /// Its first occurrence, `[start, end)`.
    #[serde(
        serialize_with = "serialize_timestamp",
        deserialize_with = "deserialize_zoned_timestamp"
    )]
    pub start: i64,
    #[serde(
        serialize_with = "serialize_timestamp",
        deserialize_with = "deserialize_zoned_timestamp"
    )]
    pub end: i64,
    /// The load expected during it, as a multiple of the ordinary load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// Or the load expected at least (learned from incidents: what the
    /// load reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring: Option<Recurrence>,
}

impl KnownEvent {
    /// What is wrong with it, in words naming the event, or `None`.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        let name = &self.name;
        if name.trim().is_empty() {
            return Some("a known event needs a name".to_string());
        }
        if self.end <= self.start {
            return Some(format!("known event `{name}`: end must be after start"));
        }
        if let Some(recurrence) = self.recurring {
            if self.end - self.start > recurrence.period() {
                return Some(format!(
                    "known event `{name}`: it lasts longer than it takes to recur ({})",
                    recurrence.as_str()
                ));
            }
        }
        match (self.factor, self.load) {
            (Some(f), None) if f.is_finite() && f > 0.0 => None,
            (None, Some(l)) if l.is_finite() && l >= 0.0 => None,
            (Some(f), None) => Some(format!(
                "known event `{name}`: factor must be a positive multiple of the ordinary load (e.g. 3), got {f}"
            )),
            (None, Some(l)) => Some(format!(
                "known event `{name}`: load must be a non-negative load, got {l}"
            )),
            _ => Some(format!(
                "known event `{name}`: give exactly one of factor (a multiple of the ordinary load, e.g. 3) or load (the load expected)"
            )),
        }
    }

    /// Its occurrences `[from, to)` that overlap `[since, until)`, oldest
    /// first.
    #[must_use]
    pub fn occurrences(&self, since: i64, until: i64) -> Vec<(i64, i64)> {
        let length = self.end - self.start;
        let Some(recurrence) = self.recurring else {
            return if self.start < until && self.end > since {
                vec![(self.start, self.end)]
            } else {
                Vec::new()
            };
        };
        // Start a little before the first that can overlap (months vary).
        let skip = ((since - length - self.start).div_euclid(recurrence.period()) - 1).max(0);
        let mut k = u32::try_from(skip).unwrap_or(u32::MAX);
        let mut out = Vec::new();
        while let Some(from) = recurrence.nth(self.start, k) {
            if from >= until {
                break;
            }
            if from + length > since {
                out.push((from, from + length));
            }
            let Some(next) = k.checked_add(1) else { break };
            k = next;
        }
        out
    }

    /// What it does to the load, in words: `×3` or `load at least 420`.
    #[must_use]
    pub fn effect(&self) -> String {
        match (self.factor, self.load) {
            (Some(f), _) => format!("×{f}"),
            (None, Some(l)) => format!("load at least {l}"),
            (None, None) => "no change".to_string(),
        }
    }

    /// The load expected during it where the model expects `ordinary`.
    fn expected(&self, ordinary: f64) -> f64 {
        match (self.factor, self.load) {
            (Some(f), _) => ordinary * f,
            (None, Some(l)) => ordinary.max(l),
            (None, None) => ordinary,
        }
    }
}

/// One occurrence the plan made room for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upcoming {
    pub name: String,
    #[serde(
        serialize_with = "serialize_timestamp",
        deserialize_with = "deserialize_timestamp"
    )]
    pub from: i64,
    #[serde(
        serialize_with = "serialize_timestamp",
        deserialize_with = "deserialize_timestamp"
    )]
    pub to: i64,
    /// `×3`, or `load at least 420`.
    pub effect: String,
    /// Whether it raised the forecast at any step (a quieter stretch, or a
    /// load the forecast expects anyway, raises none): for the reasons.
    #[serde(skip)]
    pub raised: bool,
}

impl Upcoming {
    /// `black-friday (×3, Fri Nov 27 00:00–Sat Nov 28 00:00)`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, {})",
            self.name,
            self.effect,
            format_stretch(self.from, self.to)
        )
    }
}

/// The steps of a grid (`start`, `step`, `len` steps) that overlap
/// `[from, to)`: a step stands for `[t, t + step)`. Found by arithmetic,
/// not by a pass over the grid per occurrence.
fn steps_overlapping(
    (start, step, len): (i64, i64, usize),
    (from, to): (i64, i64),
) -> std::ops::Range<usize> {
    // t + step > from ⇔ i > (from − start − step) / step; t < to ⇔ i ≤ (to − start − 1) / step.
    let first = ((from - start - step).div_euclid(step) + 1).max(0);
    let end = ((to - start - 1).div_euclid(step) + 1).max(0);
    let clamp = |i: i64| usize::try_from(i).unwrap_or(0).min(len);
    clamp(first)..clamp(end).max(clamp(first))
}

/// `series` with the steps of past occurrences unknown (NaN), and how many
/// steps that left out: a known event is neither ordinary load for the
/// model nor a shift or spike for the detector.
#[must_use]
pub fn leave_out(series: &Series, events: &[KnownEvent]) -> (Series, usize) {
    let mut out = series.clone();
    let mut left_out = 0;
    let end = series.end() + series.step;
    for event in events {
        for occurrence in event.occurrences(series.start, end) {
            let grid = (series.start, series.step, out.values.len());
            for value in &mut out.values[steps_overlapping(grid, occurrence)] {
                if value.is_finite() {
                    *value = f64::NAN;
                    left_out += 1;
                }
            }
        }
    }
    (out, left_out)
}

/// What [`raise_forecast`] did: the occurrences the bounds cover, and the
/// highest load the forecast expects during them (what a declared event
/// asks of max).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Raised {
    pub upcoming: Vec<Upcoming>,
    pub declared_peak: Option<f64>,
}

/// Raises `forecast` during the occurrences of `events` (each step to the
/// highest load an event overlapping it expects), and returns the
/// occurrences that overlap `[now, until)` — the bounds cover `[since,
/// until)`, from the first forecast step after `now` — with the highest
/// load they raise it to there. An occurrence in progress at `now` that
/// ends before `since` (the rest of its last data step) raises the step
/// at `since` instead: carried a little long rather than given back
/// while it still runs.
pub fn raise_forecast(
    forecast: &mut Forecast,
    events: &[KnownEvent],
    now: i64,
    (since, until): (i64, i64),
) -> Raised {
    let first = forecast.start;
    let last = forecast.timestamp(forecast.mean.len());
    let grid = (first, forecast.step, forecast.mean.len());
    let window = steps_overlapping(grid, (since, until));
    let mut raised = Raised::default();
    for event in events {
        for (from, to) in event.occurrences(first.min(now), last) {
            let mut steps = steps_overlapping(grid, (from, to));
            let in_progress = from <= now && now < to;
            if in_progress && steps.end <= window.start && window.start < window.end {
                steps = window.start..window.start + 1;
            }
            // The steps it raises: only those ask anything of max.
            let mut raised_steps = Vec::new();
            for i in steps.clone() {
                let mean = &mut forecast.mean[i];
                let expected = event.expected(*mean);
                if expected > *mean {
                    *mean = expected;
                    raised_steps.push(i);
                }
            }
            if from < until && (to > since || in_progress) {
                raised.upcoming.push(Upcoming {
                    name: event.name.clone(),
                    from,
                    to,
                    effect: event.effect(),
                    raised: !raised_steps.is_empty(),
                });
                let peak = raised_steps
                    .iter()
                    .filter(|i| window.contains(i))
                    .map(|&i| forecast.mean[i])
                    .filter(|m| m.is_finite())
                    .reduce(f64::max);
                raised.declared_peak = match (raised.declared_peak, peak) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
    }
    raised.upcoming.sort_by_key(|u| u.from);
    raised
}

/// While an occurrence of `events` is in progress at the end of `series`
/// (its steps are left out of event detection, so no spike is found in
/// it), load above `capacity` up to the end: the first step of that run
/// and its highest load, when the run lasts at least 15 minutes (one step
/// when a step is longer). Declaring an event must not silence the page
/// for load beyond what max carries.
#[must_use]
pub fn overload_in_progress(
    series: &Series,
    events: &[KnownEvent],
    capacity: f64,
) -> Option<(i64, f64)> {
    let last = series.end();
    let began = events
        .iter()
        .flat_map(|e| e.occurrences(last, last + series.step))
        .map(|(from, _)| from)
        .min()?;
    overload_since(series, began, capacity)
}

/// The load's run above `capacity` up to the history's end, not from
/// before `began`: its first step and its peak, when it has lasted 15
/// minutes (one step at least).
#[must_use]
pub fn overload_since(series: &Series, began: i64, capacity: f64) -> Option<(i64, f64)> {
    let least = usize::try_from(900 / series.step).unwrap_or(0).max(1);
    let (mut first, mut peak, mut above) = (None, 0.0f64, 0usize);
    for (i, &value) in series.values.iter().enumerate().rev() {
        let t = series.start + i as i64 * series.step;
        if t + series.step <= began {
            break;
        }
        if value.is_nan() {
            continue;
        }
        if value <= capacity {
            break;
        }
        first = Some(t);
        peak = peak.max(value);
        above += 1;
    }
    first.filter(|_| above >= least).map(|t| (t, peak))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::parse_timestamp;

    fn event(start: &str, end: &str, recurring: Option<Recurrence>) -> KnownEvent {
        KnownEvent {
            name: "sale".into(),
            start: parse_timestamp(start).unwrap(),
            end: parse_timestamp(end).unwrap(),
            factor: Some(3.0),
            load: None,
            recurring,
        }
    }

    #[test]
    fn a_one_off_event_occurs_once_where_it_overlaps() {
        let e = event("2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z", None);
        let day = 86_400;
        assert_eq!(e.occurrences(e.start - day, e.start), vec![]);
        assert_eq!(
            e.occurrences(e.start - day, e.start + 1),
            vec![(e.start, e.end)]
        );
        assert_eq!(e.occurrences(e.end, e.end + day), vec![]);
    }

    #[test]
    fn weekly_events_recur_every_seven_days_from_their_first() {
        let e = event(
            "2026-11-02T09:00:00Z",
            "2026-11-02T10:00:00Z",
            Some(Recurrence::Weekly),
        );
        let week = 7 * 86_400;
        let seen = e.occurrences(e.start + 10 * week - 1800, e.start + 12 * week);
        assert_eq!(
            seen,
            vec![
                (e.start + 10 * week, e.end + 10 * week),
                (e.start + 11 * week, e.end + 11 * week)
            ]
        );
        // None before the first.
        assert!(e.occurrences(e.start - 3 * week, e.start).is_empty());
    }

    #[test]
    fn monthly_events_keep_their_day_and_yearly_their_date() {
        let e = event(
            "2026-01-31T22:00:00Z",
            "2026-01-31T23:00:00Z",
            Some(Recurrence::Monthly),
        );
        let since = parse_timestamp("2026-02-01T00:00:00Z").unwrap();
        let until = parse_timestamp("2026-04-01T00:00:00Z").unwrap();
        let starts: Vec<i64> = e.occurrences(since, until).iter().map(|o| o.0).collect();
        assert_eq!(
            starts,
            vec![
                parse_timestamp("2026-02-28T22:00:00Z").unwrap(),
                parse_timestamp("2026-03-31T22:00:00Z").unwrap()
            ]
        );
        let y = event(
            "2025-11-28T00:00:00Z",
            "2025-11-29T00:00:00Z",
            Some(Recurrence::Yearly),
        );
        let since = parse_timestamp("2028-01-01T00:00:00Z").unwrap();
        let until = parse_timestamp("2029-01-01T00:00:00Z").unwrap();
        assert_eq!(
            y.occurrences(since, until),
            vec![(
                parse_timestamp("2028-11-28T00:00:00Z").unwrap(),
                parse_timestamp("2028-11-29T00:00:00Z").unwrap()
            )]
        );
    }

    #[test]
    fn problems_name_the_event_and_what_is_expected() {
        let mut e = event("2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z", None);
        assert_eq!(e.problem(), None);
        e.load = Some(10.0);
        assert!(e.problem().unwrap().contains("exactly one of factor"));
        e.factor = None;
        assert_eq!(e.problem(), None);
        e.end = e.start;
        assert!(e
            .problem()
            .unwrap()
            .contains("`sale`: end must be after start"));
        let long = event(
            "2026-11-27T00:00:00Z",
            "2026-11-29T00:00:00Z",
            Some(Recurrence::Daily),
        );
        assert!(long
            .problem()
            .unwrap()
            .contains("longer than it takes to recur"));
        // A quieter stretch (a holiday) is declared to leave its past
        // occurrences out of the history: accepted, never a raise.
        let quieter = KnownEvent {
            factor: Some(0.2),
            ..event("2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z", None)
        };
        assert_eq!(quieter.problem(), None);
    }

    #[test]
    fn a_start_without_a_zone_or_beyond_the_years_handled_is_refused_in_words() {
        let parse = |start: &str| {
            serde_json::from_str::<KnownEvent>(&format!(
                r#"{{"name": "concert", "start": "{start}", "end": "2015-01-27T22:00:00Z", "factor": 3}}"#
            ))
        };
        let naive = parse("2015-01-27T18:00:00").unwrap_err().to_string();
        assert!(
            naive.contains("has no time zone: write it with one, e.g. 2015-01-27T18:00:00Z"),
            "{naive}"
        );
        let spaced = parse("2015-01-27 18:00:00").unwrap_err().to_string();
        assert!(spaced.contains("has no time zone"), "{spaced}");
        // A date alone: the forms accepted here, not the UTC one refused.
        let date = parse("2015-01-27").unwrap_err().to_string();
        assert!(
            date.contains("with its zone") && !date.contains("(UTC)"),
            "{date}"
        );
        let far = parse("9999-01-01T18:00:00Z").unwrap_err().to_string();
        assert!(far.contains("outside the years 1653 to 2286"), "{far}");
        assert!(parse("2015-01-27T18:00:00+01:00").is_ok());
        assert!(parse("1422381600").is_ok());
    }

    #[test]
    fn past_occurrences_leave_the_history_and_future_ones_raise_the_forecast() {
        let hour = 3600;
        let series = Series {
            start: 0,
            step: hour,
            values: vec![10.0; 48],
            stats: crate::core::series::GridStats::default(),
        };
        let e = KnownEvent {
            name: "batch".into(),
            start: 2 * hour + 1800,
            end: 4 * hour,
            factor: None,
            load: Some(25.0),
            recurring: Some(Recurrence::Daily),
        };
        let (out, left_out) = leave_out(&series, std::slice::from_ref(&e));
        // Steps 2 and 3 of each day: 2 days.
        assert_eq!(left_out, 4);
        assert!(out.values[2].is_nan() && out.values[3].is_nan() && out.values[4] == 10.0);
        assert!(out.values[26].is_nan() && out.values[27].is_nan());

        let mut forecast = crate::core::model::forecast(&series, 24).unwrap();
        let before = forecast.mean.clone();
        let horizon = (forecast.start, forecast.start + 24 * hour);
        let upcoming = raise_forecast(&mut forecast, &[e], horizon.0, horizon).upcoming;
        assert_eq!(upcoming.len(), 1);
        assert_eq!(upcoming[0].from, 48 * hour + 2 * hour + 1800);
        assert!(upcoming[0]
            .describe()
            .starts_with("batch (load at least 25, "));
        for (i, (&raised, &was)) in forecast.mean.iter().zip(&before).enumerate() {
            if i == 2 || i == 3 {
                assert_eq!(raised, was.max(25.0));
            } else {
                assert_eq!(raised, was);
            }
        }
    }
}
