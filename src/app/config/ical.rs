//! Known events from an iCalendar file (RFC 5545): the subset a calendar
//! of sales, launches and batch windows uses. Each `VEVENT` (not
//! cancelled) is one event: `SUMMARY` its name, `DTSTART` and `DTEND` (or
//! `DURATION`) its first occurrence, `RRULE:FREQ=…` its recurrence, and
//! `X-HOMEOSTAT-FACTOR` or `X-HOMEOSTAT-LOAD` what it does to the load.
//!
//! Times are UTC (`…Z`, `TZID=UTC`) or all-day dates; a time in another
//! zone is refused rather than guessed, as is a recurrence rule beyond a
//! plain frequency (an `UNTIL` ignored would make the event last forever).

use crate::core::known::{KnownEvent, Recurrence};
use chrono::{NaiveDate, NaiveDateTime};

/// The events of `text`; `factor` for those that say nothing of the load.
pub(super) fn known_events(text: &str, factor: Option<f64>) -> Result<Vec<KnownEvent>, String> {
    let mut events = Vec::new();
    let mut current: Option<Vec<(String, String, String)>> = None;
    // Components nested in an event (an alarm) are skipped.
    let mut nested = 0usize;
    for (number, line) in unfold(text) {
        let (name, params, value) = split(&line)
            .ok_or_else(|| format!("line {number}: expected NAME:VALUE, got `{line}`"))?;
        match (name.as_str(), value.to_ascii_uppercase().as_str()) {
            ("BEGIN", "VEVENT") if current.is_none() => current = Some(Vec::new()),
            ("BEGIN", _) if current.is_some() => nested += 1,
            ("END", _) if nested > 0 => nested -= 1,
            ("END", "VEVENT") => {
                let properties = current
                    .take()
                    .ok_or_else(|| format!("line {number}: END:VEVENT without BEGIN:VEVENT"))?;
                let index = events.len() + 1;
                if let Some(event) = event(&properties, factor)
                    .map_err(|e| format!("event {index} (ending line {number}): {e}"))?
                {
                    events.push(event);
                }
            }
            _ if nested == 0 => {
                if let Some(properties) = current.as_mut() {
                    properties.push((name, params, value));
                }
            }
            _ => {}
        }
    }
    if current.is_some() {
        return Err("a VEVENT has no END:VEVENT".to_string());
    }
    Ok(events)
}

/// Content lines with their first line number: a line that begins with a
/// space or a tab continues the previous one.
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim_end_matches('\r');
        if let (Some(rest), Some(last)) = (
            raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t')),
            lines.last_mut(),
        ) {
            last.1.push_str(rest);
        } else if !raw.is_empty() {
            lines.push((i + 1, raw.to_string()));
        }
    }
    lines
}

/// `NAME;PARAM=X:VALUE` → (`NAME`, `PARAM=X`, `VALUE`), the name upper-cased.
fn split(line: &str) -> Option<(String, String, String)> {
    let colon = line.find(':')?;
    let (head, value) = (&line[..colon], &line[colon + 1..]);
    let (name, params) = head.split_once(';').unwrap_or((head, ""));
    Some((
        name.to_ascii_uppercase(),
        params.to_string(),
        value.to_string(),
    ))
}

/// One event from its properties; `None` when it is cancelled.
fn event(
    properties: &[(String, String, String)],
    factor: Option<f64>,
) -> Result<Option<KnownEvent>, String> {
    let get = |wanted: &str| properties.iter().find(|(name, ..)| name == wanted);
    if get("STATUS").is_some_and(|(_, _, v)| v.eq_ignore_ascii_case("CANCELLED")) {
        return Ok(None);
    }
    let name = get("SUMMARY")
        .or_else(|| get("UID"))
        .map(|(_, _, v)| unescape(v))
        .ok_or("no SUMMARY (its name)")?;
    let (_, params, value) = get("DTSTART").ok_or_else(|| format!("`{name}`: no DTSTART"))?;
    let (start, all_day) = moment(params, value).map_err(|e| format!("`{name}`: DTSTART {e}"))?;
    let end = if let Some((_, params, value)) = get("DTEND") {
        moment(params, value)
            .map_err(|e| format!("`{name}`: DTEND {e}"))?
            .0
    } else if let Some((_, _, value)) = get("DURATION") {
        start + duration(value).map_err(|e| format!("`{name}`: DURATION {e}"))?
    } else if all_day {
        start + 86_400
    } else {
        return Err(format!("`{name}`: no DTEND or DURATION"));
    };
    let recurring = get("RRULE")
        .map(|(_, _, rule)| recurrence(rule).map_err(|e| format!("`{name}`: RRULE {e}")))
        .transpose()?;
    let number = |key: &str| {
        get(key)
            .map(|(_, _, v)| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("`{name}`: {key} must be a number, got `{v}`"))
            })
            .transpose()
    };
    let load = number("X-HOMEOSTAT-LOAD")?;
    let factor = number("X-HOMEOSTAT-FACTOR")?.or(if load.is_none() { factor } else { None });
    if factor.is_none() && load.is_none() {
        return Err(format!(
            "`{name}`: what it does to the load is unknown: add X-HOMEOSTAT-FACTOR (e.g. 3) to the event or `factor:` to the config's ical entry"
        ));
    }
    Ok(Some(KnownEvent {
        name,
        start,
        end,
        factor,
        load,
        recurring,
    }))
}

/// A `DTSTART`/`DTEND` value in unix seconds, and whether it is a date.
fn moment(params: &str, value: &str) -> Result<(i64, bool), String> {
    let value = value.trim();
    let zone = params
        .split(';')
        .find_map(|p| p.strip_prefix("TZID="))
        .map(|z| z.trim_matches('"'));
    if let Some(zone) = zone {
        if !matches!(zone, "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Z") {
            return Err(format!(
                "`{value}` is in time zone {zone}: write the calendar's times in UTC (…Z)"
            ));
        }
    }
    if value.len() == 8 {
        let date = NaiveDate::parse_from_str(value, "%Y%m%d")
            .map_err(|_| format!("`{value}`: expected a date YYYYMMDD"))?;
        return Ok((
            date.and_hms_opt(0, 0, 0)
                .expect("midnight")
                .and_utc()
                .timestamp(),
            true,
        ));
    }
    let utc = value.strip_suffix('Z');
    if utc.is_none() && zone.is_none() {
        return Err(format!(
            "`{value}` is a floating local time: write it in UTC (e.g. 20261127T090000Z)"
        ));
    }
    let naive = NaiveDateTime::parse_from_str(utc.unwrap_or(value), "%Y%m%dT%H%M%S")
        .map_err(|_| format!("`{value}`: expected YYYYMMDDTHHMMSSZ"))?;
    Ok((naive.and_utc().timestamp(), false))
}

/// An RFC 5545 duration (`P1D`, `PT2H30M`, `P1W`) in seconds.
fn duration(value: &str) -> Result<i64, String> {
    let wrong = || format!("`{value}`: expected a positive duration like P1D or PT2H");
    let body = value.trim().strip_prefix('P').ok_or_else(wrong)?;
    let mut total = 0i64;
    let mut number = String::new();
    let mut in_time = false;
    for c in body.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' => number.push(c),
            unit => {
                let n: i64 = number.parse().map_err(|_| wrong())?;
                number.clear();
                total += n * match (unit, in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return Err(wrong()),
                };
            }
        }
    }
    if total <= 0 || !number.is_empty() {
        return Err(wrong());
    }
    Ok(total)
}

/// `FREQ=WEEKLY` (with `INTERVAL=1` at most): other rules are refused.
fn recurrence(rule: &str) -> Result<Recurrence, String> {
    let mut freq = None;
    for part in rule.split(';') {
        match part.split_once('=') {
            Some(("FREQ", f)) => freq = Some(f),
            Some(("INTERVAL", "1") | ("WKST", _)) => {}
            _ => {
                return Err(format!(
                    "`{rule}`: only FREQ=DAILY, WEEKLY, MONTHLY or YEARLY is understood (`{part}` is not): declare the occurrences one by one"
                ))
            }
        }
    }
    match freq {
        Some("DAILY") => Ok(Recurrence::Daily),
        Some("WEEKLY") => Ok(Recurrence::Weekly),
        Some("MONTHLY") => Ok(Recurrence::Monthly),
        Some("YEARLY") => Ok(Recurrence::Yearly),
        _ => Err(format!(
            "`{rule}`: expected FREQ=DAILY, WEEKLY, MONTHLY or YEARLY"
        )),
    }
}

/// Text with RFC 5545's escapes (`\,` `\;` `\n` `\\`) undone.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push(' '),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::parse_timestamp;

    const CALENDAR: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//shop//sales//EN\r\nBEGIN:VEVENT\r\nUID:bf-2026@shop\r\nSUMMARY:Black Friday\\, all regions\r\nDTSTART;VALUE=DATE:20261127\r\nDTEND;VALUE=DATE:20261128\r\nX-HOMEOSTAT-FACTOR:3\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:reminder\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:month-end\r\n  batch\r\nDTSTART:20260131T220000Z\r\nDURATION:PT2H\r\nRRULE:FREQ=MONTHLY\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:cancelled launch\r\nSTATUS:CANCELLED\r\nDTSTART:20260301T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn reads_dates_durations_recurrences_and_the_factor() {
        let events = known_events(CALENDAR, Some(1.5)).unwrap();
        assert_eq!(events.len(), 2, "{events:?}");
        let bf = &events[0];
        assert_eq!(bf.name, "Black Friday, all regions");
        assert_eq!(bf.start, parse_timestamp("2026-11-27T00:00:00Z").unwrap());
        assert_eq!(bf.end - bf.start, 86_400);
        assert_eq!((bf.factor, bf.load, bf.recurring), (Some(3.0), None, None));
        let batch = &events[1];
        assert_eq!(batch.name, "month-end batch");
        assert_eq!(batch.end - batch.start, 7200);
        assert_eq!(batch.factor, Some(1.5), "the config's factor");
        assert_eq!(batch.recurring, Some(Recurrence::Monthly));
    }

    #[test]
    fn refuses_what_it_would_have_to_guess_and_says_which_event() {
        let zoned = CALENDAR.replace(
            "DTSTART:20260131T220000Z",
            "DTSTART;TZID=Europe/Paris:20260131T220000",
        );
        let e = known_events(&zoned, Some(1.5)).unwrap_err();
        assert!(
            e.contains("event 2") && e.contains("`month-end batch`") && e.contains("Europe/Paris"),
            "{e}"
        );
        let until = CALENDAR.replace("FREQ=MONTHLY", "FREQ=MONTHLY;UNTIL=20261231T000000Z");
        let e = known_events(&until, Some(1.5)).unwrap_err();
        assert!(e.contains("UNTIL"), "{e}");
        let e = known_events(CALENDAR, None).unwrap_err();
        assert!(
            e.contains("X-HOMEOSTAT-FACTOR") && e.contains("month-end"),
            "{e}"
        );
        assert_eq!(duration("P1W"), Ok(7 * 86_400));
        assert_eq!(duration("P1DT2H30M"), Ok(86_400 + 9000));
        assert!(duration("PT").is_err() && duration("1D").is_err());
    }
}
