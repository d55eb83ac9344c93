//! Recurring incidents become known events (pure; issue 21's learning).
//!
//! A surge that the model does not foresee (a Monday-morning rush, a
//! month-end batch) pages each time it comes. When a workload's incidents
//! of an unforeseen load — a spike above max, the HPA at its max — began
//! at the same time of day (three days in a week), of the week (two weeks
//! in five), of the month (two months in three) or of the year (the same
//! date two years running), [`recurring_event`] makes of them a known event: a
//! `load` at least the highest the incidents saw, recurring at that time,
//! so that the schedule pre-scales min before it and max makes room for
//! it the next time. It is learned like an operator's ceiling: suggested,
//! or used at once with `learning: apply`, and exported as a config patch.

use crate::core::incident::{Cause, Incident};
use crate::core::known::{KnownEvent, Recurrence};
use crate::core::time::{format_timestamp, parse_timestamp};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

/// How far apart in its period two incidents may begin and still be the
/// same event.
pub const PHASE_TOLERANCE: i64 = 3600;
/// Margin around the incidents' own span: the surge rises before the run
/// that saw it.
const MARGIN: i64 = 1800;

/// A known event learned from recurring incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedEvent {
    pub event: KnownEvent,
    /// The incidents it was learned from.
    pub incidents: Vec<String>,
    /// The run that learned it (RFC3339).
    pub at: String,
}

impl LearnedEvent {
    /// `known event <name> (load at least 514, Mon Aug 31 08:30–11:00
    /// recurring weekly) learned from incidents shop/cart#1, shop/cart#2`.
    #[must_use]
    pub fn describe(&self) -> String {
        let e = &self.event;
        format!(
            "known event {} ({}, {} recurring {}) learned from incidents {}",
            e.name,
            e.effect(),
            crate::core::time::format_stretch(e.start, e.end),
            e.recurring.map_or("once", |r| r.as_str()),
            self.incidents.join(", ")
        )
    }
}

/// One incident of unforeseen load, as a recurrence is read from it.
struct Occurrence<'a> {
    id: &'a str,
    start: i64,
    /// How long it lasted: it ended between the last run that still saw it
    /// and the run that closed it, taken as half way, at most an hour
    /// after the last sighting (the run that closed it may come hours
    /// later).
    length: i64,
    load: Option<f64>,
}

/// The known event the recurring incidents of `namespace/name` make, and
/// the incidents it rests on; `None` without a recurrence.
#[must_use]
pub fn recurring_event(
    namespace: &str,
    name: &str,
    incidents: &[Incident],
) -> Option<(KnownEvent, Vec<String>)> {
    let occurrences: Vec<Occurrence> = incidents
        .iter()
        .filter(|i| matches!(i.cause, Cause::SpikeAboveMax | Cause::AtMax))
        .filter_map(|i| {
            let start = parse_timestamp(i.started.as_deref().unwrap_or(&i.opened)).ok()?;
            let seen = parse_timestamp(&i.last_seen).ok()?;
            let closed = i.closed.as_deref().and_then(|c| parse_timestamp(c).ok());
            let end = seen + closed.map_or(0, |c| ((c - seen) / 2).clamp(0, 3600));
            Some(Occurrence {
                id: &i.id,
                start,
                length: (end - start).clamp(900, 86_400 / 2),
                // At max, the load was at least what max carried.
                load: i.load.or(i.capacity),
            })
        })
        .collect();
    // The latest incident anchors the search: an event is learned from
    // what is happening now, not from old coincidences.
    let latest = occurrences.iter().max_by_key(|o| o.start)?;
    // How many, within how long before the latest: three days in a week
    // are daily (three 15ths of three months are not), two weeks in five
    // weekly, two months in three monthly, two years (the same date) in
    // two yearly. The recurrence that explains
    // the most incidents wins (February's 15th is four weeks after
    // January's, but the 15ths of three months are monthly); a tie goes
    // to the shorter period.
    let mut best: Option<(Recurrence, Vec<(&Occurrence, i64)>)> = None;
    for (recurrence, needed, within) in [
        (Recurrence::Daily, 3, 7 * 86_400),
        (Recurrence::Weekly, 2, 35 * 86_400),
        (Recurrence::Monthly, 2, 93 * 86_400),
        (Recurrence::Yearly, 2, 2 * 366 * 86_400),
    ] {
        let mut group: Vec<(&Occurrence, i64)> = occurrences
            .iter()
            .filter(|o| latest.start - o.start <= within && o.load.is_some())
            .filter_map(|o| offset(recurrence, latest.start, o.start).map(|d| (o, d)))
            .collect();
        // One per period: the same day (week, month) twice is not a recurrence.
        group.sort_by_key(|(o, _)| o.start);
        group.dedup_by_key(|(o, _)| period_index(recurrence, o.start));
        if group.len() >= needed && best.as_ref().is_none_or(|(_, b)| group.len() > b.len()) {
            best = Some((recurrence, group));
        }
    }
    let (recurrence, group) = best?;
    let load = group
        .iter()
        .filter_map(|(o, _)| o.load)
        .fold(f64::NAN, f64::max);
    // The first occurrence is the earliest incident's, spanning every
    // incident's time of day around it.
    let (first, first_offset) = group[0];
    let since = group.iter().map(|(_, d)| d).min().copied().unwrap_or(0);
    let until = group
        .iter()
        .map(|(o, d)| d + o.length)
        .max()
        .unwrap_or(PHASE_TOLERANCE);
    let start = first.start - first_offset + since - MARGIN;
    let end = first.start - first_offset + until + MARGIN;
    let event = KnownEvent {
        name: format!(
            "recurring surge of {namespace}/{name} ({} from {})",
            recurrence.as_str(),
            when(recurrence, start)
        ),
        start,
        end,
        factor: None,
        load: Some(crate::core::bounds::significant(load, 4)),
        recurring: Some(recurrence),
    };
    let ids = group.iter().map(|(o, _)| o.id.to_string()).collect();
    Some((event, ids))
}

/// Where `t` falls against `anchor` in `recurrence`'s period, in seconds
/// (within ±[`PHASE_TOLERANCE`]), or `None` when it is not the same time.
fn offset(recurrence: Recurrence, anchor: i64, t: i64) -> Option<i64> {
    let circular = |period: i64| {
        let d = (t - anchor).rem_euclid(period);
        let d = if d > period / 2 { d - period } else { d };
        (d.abs() <= PHASE_TOLERANCE).then_some(d)
    };
    match recurrence {
        Recurrence::Daily => circular(86_400),
        Recurrence::Weekly => circular(7 * 86_400),
        Recurrence::Monthly | Recurrence::Yearly => {
            let (a, b) = (
                DateTime::<Utc>::from_timestamp(anchor, 0)?,
                DateTime::<Utc>::from_timestamp(t, 0)?,
            );
            let same = if recurrence == Recurrence::Monthly {
                a.day() == b.day()
            } else {
                (a.month(), a.day()) == (b.month(), b.day())
            };
            same.then_some(())?;
            circular(86_400)
        }
    }
}

/// Which day, week or month `t` is in.
fn period_index(recurrence: Recurrence, t: i64) -> i64 {
    match recurrence {
        Recurrence::Daily => t.div_euclid(86_400),
        Recurrence::Weekly => t.div_euclid(7 * 86_400),
        Recurrence::Monthly | Recurrence::Yearly => DateTime::<Utc>::from_timestamp(t, 0)
            .map_or(0, |d| i64::from(d.year()) * 12 + i64::from(d.month0())),
    }
}

/// `Mon 08:30`, `08:30`, `day 31 08:30`.
fn when(recurrence: Recurrence, t: i64) -> String {
    let Some(at) = DateTime::<Utc>::from_timestamp(t, 0) else {
        return format_timestamp(t);
    };
    match recurrence {
        Recurrence::Daily => at.format("%H:%M UTC").to_string(),
        Recurrence::Weekly => at.format("%a %H:%M UTC").to_string(),
        Recurrence::Monthly => at.format("day %-d %H:%M UTC").to_string(),
        Recurrence::Yearly => at.format("%b %-d %H:%M UTC").to_string(),
    }
}

/// The learned events after a run at `at` (RFC3339): the recurring event
/// of `incidents` added or brought up to date, and those the config's
/// `calendar` has taken (an event of the same name) dropped. The event
/// when it is new or changed.
pub fn learn(
    learned: &mut Vec<LearnedEvent>,
    (namespace, name): (&str, &str),
    incidents: &[Incident],
    calendar: &[KnownEvent],
    at: &str,
) -> Option<LearnedEvent> {
    let taken = |e: &KnownEvent| calendar.iter().any(|c| c.name == e.name);
    learned.retain(|l| !taken(&l.event));
    let (event, ids) = recurring_event(namespace, name, incidents)?;
    if taken(&event) {
        return None;
    }
    if learned.iter().any(|l| l.event == event) {
        return None;
    }
    let new = LearnedEvent {
        event,
        incidents: ids,
        at: at.to_string(),
    };
    learned.retain(|l| l.event.name != new.event.name);
    learned.push(new.clone());
    Some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY_0900: &str = "2026-11-02T09:00:00Z";
    const WEEK: i64 = 7 * 86_400;

    fn incident(n: u32, cause: Cause, started: i64, minutes: i64, load: f64) -> Incident {
        Incident {
            id: format!("shop/cart#{n}"),
            cause,
            opened: format_timestamp(started + 600),
            started: Some(format_timestamp(started)),
            closed: Some(format_timestamp(started + minutes * 60)),
            closed_why: None,
            last_seen: format_timestamp(started + (minutes * 60).max(900)),
            runs: 2,
            load: Some(load),
            capacity: Some(100.0),
            recommended_min: Some(2),
            recommended_max: Some(10),
            blocked_by: "a spike".into(),
            operator_changes: Vec::new(),
        }
    }

    #[test]
    fn two_monday_surges_make_a_weekly_event_covering_both() {
        let monday = parse_timestamp(MONDAY_0900).unwrap();
        let incidents = [
            incident(1, Cause::SpikeAboveMax, monday, 60, 300.0),
            incident(2, Cause::SpikeAboveMax, monday + WEEK + 900, 45, 340.0),
        ];
        let (event, ids) = recurring_event("shop", "cart", &incidents).unwrap();
        assert_eq!(ids, ["shop/cart#1", "shop/cart#2"]);
        assert_eq!(event.recurring, Some(Recurrence::Weekly));
        assert_eq!(event.load, Some(340.0));
        assert_eq!(event.start, monday - MARGIN);
        // The second began 15 minutes later and lasted 45: until 10:00,
        // with half an hour's margin each side.
        assert_eq!(event.end, monday + 3600 + MARGIN);
        assert_eq!(
            event.name,
            "recurring surge of shop/cart (weekly from Mon 08:30 UTC)"
        );
        assert_eq!(event.problem(), None);
        // The third Monday is one of its occurrences.
        let third = event.occurrences(monday + 2 * WEEK, monday + 2 * WEEK + 3600);
        assert_eq!(third, vec![(event.start + 2 * WEEK, event.end + 2 * WEEK)]);
    }

    #[test]
    fn no_event_from_one_incident_other_times_a_ceiling_or_one_day_twice() {
        let monday = parse_timestamp(MONDAY_0900).unwrap();
        let one = [incident(1, Cause::SpikeAboveMax, monday, 60, 300.0)];
        assert_eq!(recurring_event("shop", "cart", &one), None);
        let apart = [
            incident(1, Cause::SpikeAboveMax, monday, 60, 300.0),
            incident(2, Cause::SpikeAboveMax, monday + WEEK + 3 * 3600, 60, 300.0),
        ];
        assert_eq!(recurring_event("shop", "cart", &apart), None);
        // A ceiling below the forecast is the model's to see, not an event.
        let foreseen = [
            incident(1, Cause::NeedsOperator, monday, 60, 300.0),
            incident(2, Cause::NeedsOperator, monday + WEEK, 60, 300.0),
        ];
        assert_eq!(recurring_event("shop", "cart", &foreseen), None);
        let same_day = [
            incident(1, Cause::SpikeAboveMax, monday, 30, 300.0),
            incident(2, Cause::AtMax, monday + 1800, 30, 300.0),
        ];
        assert_eq!(recurring_event("shop", "cart", &same_day), None);
    }

    #[test]
    fn three_days_at_the_same_hour_are_daily_and_month_ends_monthly() {
        let monday = parse_timestamp(MONDAY_0900).unwrap();
        let daily: Vec<Incident> = (0..3)
            .map(|k| {
                incident(
                    k + 1,
                    Cause::AtMax,
                    monday + i64::from(k) * 86_400,
                    60,
                    200.0,
                )
            })
            .collect();
        let (event, _) = recurring_event("shop", "cart", &daily).unwrap();
        assert_eq!(event.recurring, Some(Recurrence::Daily));
        let jan = parse_timestamp("2026-01-15T22:00:00Z").unwrap();
        let feb = parse_timestamp("2026-02-15T22:10:00Z").unwrap();
        let monthly = [
            incident(1, Cause::AtMax, jan, 60, 200.0),
            incident(2, Cause::AtMax, feb, 60, 250.0),
        ];
        let (event, _) = recurring_event("shop", "cart", &monthly).unwrap();
        assert_eq!(event.recurring, Some(Recurrence::Monthly));
        assert!(event.name.contains("day 15 21:30 UTC"), "{}", event.name);
        // Three months at the same hour are monthly, not daily.
        let mar = parse_timestamp("2026-03-15T22:00:00Z").unwrap();
        let three = [
            incident(1, Cause::AtMax, jan, 60, 200.0),
            incident(2, Cause::AtMax, feb, 60, 250.0),
            incident(3, Cause::AtMax, mar, 60, 250.0),
        ];
        let (event, ids) = recurring_event("shop", "cart", &three).unwrap();
        assert_eq!((event.recurring, ids.len()), (Some(Recurrence::Monthly), 3));
        // A yearly sale: the same date two years running.
        let sale = parse_timestamp("2025-11-28T08:00:00Z").unwrap();
        let next = parse_timestamp("2026-11-28T08:20:00Z").unwrap();
        let yearly = [
            incident(1, Cause::SpikeAboveMax, sale, 120, 900.0),
            incident(2, Cause::SpikeAboveMax, next, 120, 950.0),
        ];
        let (event, _) = recurring_event("shop", "cart", &yearly).unwrap();
        assert_eq!(event.recurring, Some(Recurrence::Yearly));
        assert!(
            event.name.contains("yearly from Nov 28 07:30 UTC"),
            "{}",
            event.name
        );
    }

    #[test]
    fn a_learned_event_is_kept_until_the_config_takes_it() {
        let monday = parse_timestamp(MONDAY_0900).unwrap();
        let incidents = [
            incident(1, Cause::SpikeAboveMax, monday, 60, 300.0),
            incident(2, Cause::SpikeAboveMax, monday + WEEK, 60, 300.0),
        ];
        let mut learned = Vec::new();
        let new = learn(&mut learned, ("shop", "cart"), &incidents, &[], "now").unwrap();
        assert_eq!(learned.len(), 1);
        // Learned again by the next run: nothing new.
        assert_eq!(
            learn(&mut learned, ("shop", "cart"), &incidents, &[], "later"),
            None
        );
        assert_eq!(learned.len(), 1);
        // The config took it (the patch merged): dropped, not learned again.
        let calendar = [new.event];
        assert_eq!(
            learn(
                &mut learned,
                ("shop", "cart"),
                &incidents,
                &calendar,
                "later"
            ),
            None
        );
        assert!(learned.is_empty());
    }
}
