//! Known events declared in the config (issue 21), through the real
//! binary: a calendar event pre-scales the schedule's min from its start
//! minus the lead and gives it back afterwards, and a past one is neither
//! ordinary load nor an event in the history.

use crate::support;
use homeostat::core::time::parse_timestamp;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const STEP: i64 = 300;
const DAY: i64 = 86_400;

/// 28 days of a daily rhythm from Mon 2026-10-05, with day 20 at three
/// times the load (last time's sale); the file's last sample is "now".
fn history(dir: &Path) -> (PathBuf, i64) {
    let start = parse_timestamp("2026-10-05T00:00:00Z").unwrap();
    let values = homeostat::core::synthetic::load(28, STEP, 100.0, 40.0, 0.0, 0.0, 3.0, 21);
    let mut text = String::from("timestamp,value\n");
    for (i, v) in values.iter().enumerate() {
        let t = start + i as i64 * STEP;
        let sale = (start + 20 * DAY..start + 21 * DAY).contains(&t);
        let _ = writeln!(text, "{t},{:.3}", if sale { v * 3.0 } else { *v });
    }
    let path = dir.join("shop.csv");
    std::fs::write(&path, text).unwrap();
    (path, start + (values.len() as i64 - 1) * STEP)
}

/// A schedule-mode workload over `file`, with `calendar` (YAML flow
/// entries) as its known events.
fn config(dir: &Path, file: &Path, calendar: &[String]) -> PathBuf {
    let events = if calendar.is_empty() {
        String::new()
    } else {
        format!("    events:\n      calendar: [{}]\n", calendar.join(", "))
    };
    let text = format!(
        "defaults: {{history: 28d, horizon: 2d}}\nworkloads:\n  - name: shop\n    namespace: retail\n    file: {}\n    target_per_replica: 10\n    mode: schedule\n    min_replicas: {{floor: 2, ceiling: 100}}\n    max_replicas: {{floor: 4, ceiling: 100}}\n{events}",
        file.display()
    );
    let path = dir.join(format!("homeostat-{}.yaml", calendar.len()));
    std::fs::write(&path, text).unwrap();
    path
}

fn plan(config: &Path, now: i64) -> Value {
    let output = support::recommend_json(config, now, &[], &[]);
    assert!(output.status.success(), "{}", support::stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["workloads"][0].clone()
}

fn event(name: &str, from: i64, to: i64) -> String {
    format!(
        "{{name: {name}, start: {from}, end: {to}, factor: 3}}",
        from = homeostat::core::time::format_timestamp(from),
        to = homeostat::core::time::format_timestamp(to)
    )
}

#[test]
fn a_calendar_event_pre_scales_min_by_the_lead_and_gives_it_back_afterwards() {
    let dir = tempfile::tempdir().unwrap();
    let (file, now) = history(dir.path());
    let last_sale = (now + STEP - 8 * DAY, now + STEP - 7 * DAY);
    // Tomorrow, 06:00 to 06:00 the day after.
    let sale = (now + STEP + 6 * 3600, now + STEP + 30 * 3600);
    let declared = config(
        dir.path(),
        &file,
        &[
            event("last-sale", last_sale.0, last_sale.1),
            event("sale", sale.0, sale.1),
        ],
    );
    let bare = config(dir.path(), &file, &[]);
    // `config check` lists them, with their times in UTC, so that a
    // calendar's parse (an offset, unix seconds) is seen early.
    let check = support::homeostat(&["config", "check", "--config", declared.to_str().unwrap()]);
    let ts = homeostat::core::time::format_timestamp;
    let listed = format!(
        "known events: last-sale (×3, once, first {} to {}), sale (×3, once, first {} to {})",
        ts(last_sale.0),
        ts(last_sale.1),
        ts(sale.0),
        ts(sale.1)
    );
    assert!(
        support::stdout(&check).contains(&listed),
        "{}",
        support::stdout(&check)
    );
    let (with, without) = (plan(&declared, now), plan(&bare, now));

    assert_eq!(with["known_events"][0]["name"], "sale", "{with}");
    assert_eq!(with["known_events"].as_array().unwrap().len(), 1, "{with}");
    let reasons = with["reasons"].to_string();
    assert!(
        reasons.contains("known event sale (×3, ")
            && reasons.contains("raises min 6m 30s before it"),
        "{reasons}"
    );
    // Startup 90 s and buffer 5 min: min rises 6.5 minutes before the start.
    let lead = 390;
    assert_eq!(
        support::schedule_min_at(&with, sale.0 - lead - 1),
        support::schedule_min_at(&without, sale.0 - lead - 1)
    );
    for t in [sale.0 - lead, sale.0 + 6 * 3600, sale.1 - 600] {
        let (raised, ordinary) = (
            support::schedule_min_at(&with, t),
            support::schedule_min_at(&without, t),
        );
        assert!(
            raised as f64 >= 2.5 * ordinary as f64,
            "at {t}: {raised} against {ordinary} without the event"
        );
    }
    // Given back once it is over.
    for t in [sale.1 + 600, sale.1 + 6 * 3600] {
        assert_eq!(
            support::schedule_min_at(&with, t),
            support::schedule_min_at(&without, t),
            "at {t}"
        );
    }
    // max makes room for three times the day's peak (100 + 40, 10 a
    // replica), with the headroom.
    let max = with["max_replicas"].as_u64().unwrap();
    assert!(max >= 3 * 14 * 12 / 10, "{max}");

    // Last time's sale: events in the history without the calendar, none
    // over it with it, and the steps it covered left out of the fit.
    let overlaps = |plan: &Value| {
        plan["events"].as_array().unwrap().iter().any(|e| {
            let start = parse_timestamp(e["start"].as_str().unwrap()).unwrap();
            (last_sale.0 - 3600..last_sale.1 + 3600).contains(&start)
        })
    };
    assert!(overlaps(&without), "{}", without["events"]);
    assert!(!overlaps(&with), "{}", with["events"]);
    assert!(
        reasons.contains("288 steps of their past occurrences left out"),
        "{reasons}"
    );
}

#[test]
fn a_declared_event_pages_when_the_ceiling_is_too_low_and_never_silences_overload() {
    let dir = tempfile::tempdir().unwrap();
    let (file, now) = history(dir.path());
    // Tomorrow's launch expects 5,000: 500 replicas at 10 each, above the
    // ceiling of 100, which no load of the history came near. It is
    // declared, not extrapolated: a page before it begins.
    // Fifteen minutes of it: too short for the 99th percentile of the
    // horizon's forecast, which alone decided the page before.
    let launch = format!(
        "{{name: launch, start: {}, end: {}, load: 5000}}",
        homeostat::core::time::format_timestamp(now + 12 * 3600),
        homeostat::core::time::format_timestamp(now + 12 * 3600 + 900)
    );
    let output = support::recommend_json(&config(dir.path(), &file, &[launch]), now, &[], &[]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let w = &report["workloads"][0];
    assert_eq!(w["status"], "needs_operator", "{w:#}");
    assert!(
        w["reasons"].to_string().contains(
            "a known event in the horizon expects load 5000, which needs 500 replicas, above the max ceiling 100"
        ),
        "{w:#}"
    );

    // An event in progress, its load far beyond what was declared and what
    // max carries: the same spike above max as without the event (its
    // steps are left out of detection, and it went unseen).
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let surged: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| match line.split_once(',') {
            Some((t, v)) if i + 24 >= lines.len() && i > 0 => {
                format!("{t},{:.3}", v.parse::<f64>().unwrap() * 20.0)
            }
            _ => (*line).to_string(),
        })
        .collect();
    std::fs::write(&file, surged.join("\n") + "\n").unwrap();
    let concert = event("concert", now - 3 * 3600, now + 3 * 3600);
    let output = support::recommend_json(&config(dir.path(), &file, &[concert]), now, &[], &[]);
    // Critical: exit 1, and said on stderr.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::stderr(&output)
    );
    assert!(support::stderr(&output).contains("is going on above the"));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let w = &report["workloads"][0];
    assert_eq!(w["in_spike"], true, "{w:#}");
    let carried = w["max_replicas"].as_f64().unwrap() * 10.0;
    let spike = w["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "spike" && e["end"].is_null())
        .unwrap_or_else(|| panic!("{w:#}"));
    assert!(spike["after"].as_f64().unwrap() > carried, "{w:#}");
}

#[test]
fn an_event_in_its_last_data_step_is_still_carried() {
    // At 2 minutes past the last 5-minute sample the event has 2 minutes
    // left; the plan starts at the next step, after its end. Min and max
    // were given back while it ran.
    let dir = tempfile::tempdir().unwrap();
    let (file, now) = history(dir.path());
    let sale = event("sale", now - 6 * 3600, now + 240);
    let declared = config(dir.path(), &file, &[sale]);
    let during = plan(&declared, now + 120);
    assert_eq!(during["known_events"][0]["name"], "sale", "{during:#}");
    let bare = plan(&config(dir.path(), &file, &[]), now + 120);
    assert!(
        during["scheduled_min"].as_u64().unwrap() > bare["scheduled_min"].as_u64().unwrap(),
        "{during:#}\n{bare:#}"
    );
}
