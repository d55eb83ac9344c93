//! Time values as users write them: timestamps (RFC3339, `YYYY-MM-DD HH:MM:SS`
//! in UTC, unix seconds) and durations (`90s`, `5m`, `1h`, `7d`, `2w`).
//!
//! Internally every instant is whole unix seconds (`i64`) and every duration
//! whole seconds: load series have steps of seconds or more, and Prometheus
//! aligns its grid to the step.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use std::fmt;
use std::str::FromStr;

/// Seconds in one day, the unit of daily seasonality.
pub const DAY: i64 = 86_400;
/// Seconds in one week, the unit of weekly seasonality.
pub const WEEK: i64 = 7 * DAY;

/// Latest accepted instant, 2286-11-20 (unix 1e10 s): later numbers are
/// almost surely milliseconds, and keeping every instant within ±1e10 keeps
/// all sums and differences of instants and spans far from overflow.
pub const MAX_TIMESTAMP: i64 = 10_000_000_000;

/// Parses an instant: RFC3339 (`2015-04-22T10:00:00Z`, any offset),
/// `YYYY-MM-DD HH:MM:SS[.fff]` taken as UTC, or unix seconds (integer or decimal).
///
/// Fractions of a second are truncated: the grid works in whole seconds.
///
/// ```
/// use homeostat::core::time::parse_timestamp;
/// assert_eq!(parse_timestamp("2015-04-22T10:00:00Z"), Ok(1_429_696_800));
/// assert_eq!(parse_timestamp("2015-04-22 10:00:00"), Ok(1_429_696_800));
/// assert_eq!(parse_timestamp("1429696800"), Ok(1_429_696_800));
/// ```
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let secs = parse_any_timestamp(text)?;
    // A date written out is no unit mistake: say it is out of range.
    if text.parse::<f64>().is_err() && !(-MAX_TIMESTAMP..=MAX_TIMESTAMP).contains(&secs) {
        return Err(format!(
            "{text:?} is outside the years 1653 to 2286 that homeostat handles"
        ));
    }
    check_timestamp(secs)
}

/// `secs` if within ±[`MAX_TIMESTAMP`], else an error suggesting milliseconds.
pub fn check_timestamp(secs: i64) -> Result<i64, String> {
    if secs > MAX_TIMESTAMP {
        return Err(format!(
            "timestamp {secs} is beyond the year 2286; expected unix seconds (milliseconds?)"
        ));
    }
    if secs < -MAX_TIMESTAMP {
        return Err(format!(
            "timestamp {secs} is before the year 1653; expected unix seconds (1970 onwards)"
        ));
    }
    Ok(secs)
}

fn parse_any_timestamp(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Err("empty timestamp".to_string());
    }
    // Unix seconds first: the common case of exported files, and the
    // cheapest test (a date never parses as an integer).
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(dt.timestamp());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(naive.and_utc().timestamp());
        }
    }
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(secs) = text.parse::<f64>() {
        // 1e12 s is the year 33658: anything larger is not a unix time in seconds.
        if secs.is_finite() && secs.abs() < 1e12 {
            return Ok(secs.floor() as i64);
        }
    }
    Err(format!(
        "cannot parse timestamp `{}`: expected RFC3339 (2015-04-22T10:00:00Z), \
         `YYYY-MM-DD HH:MM:SS` (UTC) or unix seconds",
        shown(text)
    ))
}

/// `1 workload`, `2 workloads`.
#[must_use]
pub fn count_of(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Input text as an error message quotes it: control characters escaped
/// (a NUL would be invisible), at most 60 characters (a 2 MB cell would
/// be the whole message).
#[must_use]
pub fn shown(text: &str) -> String {
    // Control characters made visible; quotes as they are (a Grafana
    // header `"Time","frontend requests"` was echoed `\"Time\",…`).
    let mut out = String::new();
    for c in text.chars().take(60) {
        if matches!(c, '"' | '\'') {
            out.push(c);
        } else {
            out.extend(c.escape_debug());
        }
    }
    if text.chars().nth(60).is_some() {
        let _ = std::fmt::Write::write_fmt(
            &mut out,
            format_args!("… ({} characters)", text.chars().count()),
        );
    }
    out
}

/// Formats an instant as RFC3339 UTC with a trailing `Z`, whole seconds.
#[must_use]
pub fn format_timestamp(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |dt| dt.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// An instant for people, UTC: `Tue Mar 3 14:05`.
#[must_use]
pub fn format_moment(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |dt| dt.format("%a %b %-d %H:%M").to_string(),
    )
}

/// [`format_moment`] with its seconds when it has any (`Tue Mar 3
/// 21:53:30`): a schedule's entries fall `startup + buffer` before a step.
#[must_use]
pub fn format_moment_exact(secs: i64) -> String {
    if secs.rem_euclid(60) == 0 {
        return format_moment(secs);
    }
    DateTime::<Utc>::from_timestamp(secs, 0).map_or_else(
        || secs.to_string(),
        |dt| dt.format("%a %b %-d %H:%M:%S").to_string(),
    )
}

/// A stretch of time for people, UTC: `Tue Mar 3 14:05–14:40`, or with
/// both days when it crosses midnight.
#[must_use]
pub fn format_stretch(from: i64, to: i64) -> String {
    let end = if from.div_euclid(DAY) == to.div_euclid(DAY) {
        DateTime::<Utc>::from_timestamp(to, 0)
            .map_or_else(|| to.to_string(), |dt| dt.format("%H:%M").to_string())
    } else {
        format_moment(to)
    };
    format!("{}–{end}", format_moment(from))
}

/// Reads an RFC3339 timestamp (or unix seconds) back into unix seconds
/// (for `deserialize_with`: a report read back, as by `report merge`).
pub fn deserialize_timestamp<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<i64, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    parse_timestamp(&text).map_err(serde::de::Error::custom)
}

/// [`deserialize_timestamp`] for an instant a person declares (a known
/// event's start and end): a date and time without a zone is refused, not
/// read as UTC (a team in New York would be five hours off without a word).
pub fn deserialize_zoned_timestamp<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<i64, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    let trimmed = text.trim();
    let naive = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .any(|format| NaiveDateTime::parse_from_str(trimmed, format).is_ok());
    if naive {
        let iso = trimmed.replace(' ', "T");
        return Err(serde::de::Error::custom(format!(
            "{trimmed:?} has no time zone: write it with one, e.g. {iso}Z for UTC or {iso}+01:00"
        )));
    }
    // The general message offers `YYYY-MM-DD HH:MM:SS` (UTC), which is
    // refused here: say what is accepted here.
    parse_timestamp(&text).map_err(|e| {
        serde::de::Error::custom(if e.starts_with("cannot parse timestamp") {
            format!(
                "cannot parse timestamp `{}`: expected a date and time with its zone (RFC3339: 2015-04-22T10:00:00Z or 2015-04-22T10:00:00+01:00) or unix seconds",
                shown(trimmed)
            )
        } else {
            e
        })
    })
}

/// Serialises unix seconds as an RFC3339 timestamp (for `serialize_with`).
pub fn serialize_timestamp<S: serde::Serializer>(
    secs: &i64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_timestamp(*secs))
}

/// [`serialize_timestamp`] for a time that may be unknown: `""` then.
pub fn serialize_optional_timestamp<S: serde::Serializer>(
    secs: &Option<i64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&secs.map(format_timestamp).unwrap_or_default())
}

/// [`deserialize_timestamp`] for a time that may be unknown (`""`).
pub fn deserialize_optional_timestamp<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    if text.is_empty() {
        return Ok(None);
    }
    parse_timestamp(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// ```
/// use homeostat::core::time::Span;
/// let horizon: Span = "7d".parse().unwrap();
/// assert_eq!(horizon.secs(), 7 * 86_400);
/// assert!("0m".parse::<Span>().is_err());
/// ```
///
/// A positive span of time in whole seconds, written like `5m`, `28d`, `90s`
/// (and printed in the largest whole unit up to days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

/// Longest accepted span: ten years. Longer is a typo, and the cap keeps
/// arithmetic on instants and spans far from overflow.
pub const MAX_SPAN: i64 = 3650 * DAY;

impl Span {
    /// A span of `secs` seconds; `None` unless in `1..=MAX_SPAN`.
    #[must_use]
    pub fn from_secs(secs: i64) -> Option<Self> {
        (secs > 0 && secs <= MAX_SPAN).then_some(Span(secs))
    }

    /// The span in seconds (always > 0).
    #[must_use]
    pub fn secs(self) -> i64 {
        self.0
    }
}

impl FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let expected = "expected a positive whole number and a unit: s, m, h, d or w (e.g. 5m, 7d)";
        let count: i64 = number
            .parse()
            .map_err(|_| format!("cannot parse duration `{text}`: {expected}"))?;
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => DAY,
            "w" => WEEK,
            _ => return Err(format!("cannot parse duration `{text}`: {expected}")),
        };
        if count == 0 {
            return Err(format!("duration `{text}` must be longer than 0"));
        }
        count
            .checked_mul(unit_secs)
            .and_then(Span::from_secs)
            .ok_or_else(|| format!("duration `{text}` is out of range: at most 3650d"))
    }
}

/// A span that may be zero (`0`, `0s`, `0m`, …), in seconds: for lead
/// times and buffers, where "none" is a sensible choice.
pub fn parse_span_or_zero(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    if !digits.is_empty()
        && digits.bytes().all(|b| b == b'0')
        && matches!(unit, "" | "s" | "m" | "h" | "d" | "w")
    {
        return Ok(0);
    }
    text.parse::<Span>().map(Span::secs)
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0;
        for (unit, size) in [("d", DAY), ("h", 3_600), ("m", 60)] {
            if secs % size == 0 {
                return write!(f, "{}{unit}", secs / size);
            }
        }
        write!(f, "{secs}s")
    }
}

impl<'de> serde::Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_all_three_forms_agree() {
        let expected = 1_429_696_800;
        assert_eq!(parse_timestamp("2015-04-22T10:00:00Z"), Ok(expected));
        assert_eq!(parse_timestamp("2015-04-22T12:00:00+02:00"), Ok(expected));
        assert_eq!(parse_timestamp("2015-04-22 10:00:00"), Ok(expected));
        assert_eq!(parse_timestamp("1429696800"), Ok(expected));
        assert_eq!(parse_timestamp("1429696800.750"), Ok(expected));
        assert_eq!(format_timestamp(expected), "2015-04-22T10:00:00Z");
    }

    #[test]
    fn garbage_timestamps_are_rejected_with_the_text() {
        let err = parse_timestamp("yesterday").unwrap_err();
        assert!(err.contains("`yesterday`"), "{err}");
        assert!(parse_timestamp("").is_err());
        assert!(parse_timestamp("1e300").is_err());
        let err = parse_timestamp("1429696800000").unwrap_err();
        assert!(err.contains("1429696800000"), "{err}");
        assert!(err.contains("milliseconds?"), "{err}");
        assert!(parse_timestamp("9999-12-31T00:00:00Z").is_err());
    }

    #[test]
    fn zero_is_refused_as_a_span_and_accepted_where_none_makes_sense() {
        let err = "0s".parse::<Span>().unwrap_err();
        assert!(err.contains("longer than 0"), "{err}");
        assert_eq!(parse_span_or_zero("0s"), Ok(0));
        assert_eq!(parse_span_or_zero("0"), Ok(0));
        assert_eq!(parse_span_or_zero("00m"), Ok(0));
        assert_eq!(parse_span_or_zero("5m"), Ok(300));
        let err = parse_span_or_zero("0x").unwrap_err();
        assert!(err.contains("`0x`"), "{err}");
    }

    #[test]
    fn spans_parse_and_print_in_the_largest_whole_unit() {
        assert_eq!("5m".parse::<Span>().map(Span::secs), Ok(300));
        assert_eq!("28d".parse::<Span>().map(Span::secs), Ok(28 * DAY));
        assert_eq!(
            "2w".parse::<Span>().map(|s| s.to_string()),
            Ok("14d".into())
        );
        assert_eq!(
            Span::from_secs(90).map(|s| s.to_string()),
            Some("90s".into())
        );
        for bad in ["", "0m", "-5m", "5", "5 minutes", "m", "99999999999999999w"] {
            assert!(bad.parse::<Span>().is_err(), "{bad} should be rejected");
        }
    }
}
