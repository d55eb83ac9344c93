//! Surges that come back (issue 21's learning), through the real binary.
//! Every Monday, with a real Alertmanager and Pushgateway: it pages two
//! Mondays in a row, homeostat learns it as a known event, and the third
//! Monday is pre-scaled — min raised before 09:00, max making room — and
//! pages no one. Every 15th of the month, replayed by `backtest
//! --learning`: three pages without learning, two with it.

use crate::support;
use homeostat::core::time::{format_timestamp, parse_timestamp};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::notify::Server;

const STEP: i64 = 300;
const DAY: i64 = 86_400;
const HOUR: i64 = 3600;

/// Monday 2026-08-03 00:00 UTC, the history's first step.
fn start() -> i64 {
    parse_timestamp("2026-08-03T00:00:00Z").unwrap()
}

/// Monday `week` (from 0) at `hour:minute`.
fn monday(week: i64, hour: i64, minute: i64) -> i64 {
    start() + week * 7 * DAY + hour * HOUR + minute * 60
}

/// 50 days of a daily rhythm, four times the load on Mondays 09:00–10:00
/// from the fifth week on.
fn history(dir: &Path) -> PathBuf {
    let values = homeostat::core::synthetic::load(50, STEP, 100.0, 40.0, 0.0, 0.0, 3.0, 9);
    let mut text = String::from("timestamp,value\n");
    for (i, v) in values.iter().enumerate() {
        let t = start() + i as i64 * STEP;
        let surge = (4..7).any(|week| (monday(week, 9, 0)..monday(week, 10, 0)).contains(&t));
        let _ = writeln!(text, "{t},{:.3}", if surge { v * 4.0 } else { *v });
    }
    let path = dir.join("cart.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn config(dir: &Path, alertmanager: &str, pushgateway: &str) -> PathBuf {
    let text = format!(
        "alertmanager: {{url: {alertmanager}}}\npushgateway: {{url: {pushgateway}}}\nstore: {store}\n\
         defaults: {{history: 28d, horizon: 1d}}\nworkloads:\n\
         \x20 - name: cart\n    namespace: shop\n    file: {file}\n    target_per_replica: 10\n    mode: schedule\n    learning: apply\n    max_replicas: {{floor: 2, ceiling: 100}}\n",
        file = history(dir).display(),
        store = dir.join("models").display(),
    );
    let path = dir.join("homeostat.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `apply --dry-run --at AT` (JSON report and logs), notifying.
fn apply_at(config: &Path, home: &Path, at: i64) -> (Value, Value, Output) {
    let at = format_timestamp(at);
    let output = support::apply_without_a_cluster(
        &["--at", &at, "--log-format", "json", "--format", "json"],
        config,
        home,
    );
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", support::stderr(&output)));
    let summary = support::run_summary(&output.stderr);
    (report, summary, output)
}

#[test]
fn a_monday_surge_that_paged_twice_is_pre_scaled_the_third_monday() {
    let alertmanager = Server::alertmanager();
    let pushgateway = Server::pushgateway();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &alertmanager.url, &pushgateway.url);

    // Two Mondays: a page during the surge, resolved after it.
    for (week, id) in [(4, "shop/cart#1"), (5, "shop/cart#2")] {
        let (report, _, output) = apply_at(&config, dir.path(), monday(week, 9, 30));
        assert_eq!(
            report["incidents_opened"][0]["id"],
            id,
            "week {week}: {report}\n{}",
            support::stderr(&output)
        );
        assert_eq!(report["incidents_opened"][0]["cause"], "spike_above_max");
        assert_eq!(
            support::paging(&alertmanager, "cart"),
            ["spike_above_max"],
            "week {week}"
        );
        let (report, _, _) = apply_at(&config, dir.path(), monday(week, 12, 0));
        assert_eq!(report["incidents_closed"][0]["id"], id, "{report}");
        assert!(
            support::paging(&alertmanager, "cart").is_empty(),
            "week {week}"
        );
    }
    // The second was a repeat, on the Pushgateway.
    let metrics = pushgateway.get("/metrics").unwrap();
    let repeated = metrics
        .lines()
        .find(|l| l.starts_with("homeostat_incidents_repeated{") && l.contains("workload=\"cart\""))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(repeated.ends_with(" 1"), "{repeated}");

    // Learned from the two: a weekly known event, used at once
    // (learning: apply) and written as a config patch.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("models/shop/cart.json")).unwrap(),
    )
    .unwrap();
    let learned = &state["learned_events"][0];
    assert_eq!(learned["event"]["recurring"], "weekly", "{state}");
    assert_eq!(
        learned["incidents"],
        serde_json::json!(["shop/cart#1", "shop/cart#2"])
    );
    let patch = support::homeostat(&["learned", "--config", config.to_str().unwrap()]);
    let text = support::stdout(&patch);
    let patch: Value = serde_saphyr::from_str(&text).unwrap();
    let declared = &patch["workloads"][0]["events"]["calendar"][0];
    assert_eq!(declared["recurring"], "weekly", "{text}");
    assert!(declared["load"].as_f64().unwrap() > 300.0, "{text}");
    let json = support::homeostat(&[
        "learned",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        json["workloads"][0]["events"][0]["incidents"],
        serde_json::json!(["shop/cart#1", "shop/cart#2"]),
        "{json}"
    );
    // From 08:30 (half an hour before the surges began) to 11:00: the
    // last run that saw a surge was at 09:30, the one that closed it at
    // 12:00; it ended in between, taken as at most an hour after 09:30,
    // and half an hour's margin.
    assert!(
        declared["start"].as_str().unwrap().ends_with("T08:30:00Z"),
        "{text}"
    );
    assert!(
        declared["end"].as_str().unwrap().ends_with("T11:00:00Z"),
        "{text}"
    );

    postmortem_of_the_second_monday(&config, dir.path());

    // The third Monday, before the surge: min already raised for it.
    let before = support::recommend_json(&config, monday(6, 8, 0), &[], &[]);
    let before: Value = serde_json::from_slice(&before.stdout).unwrap();
    let plan = &before["workloads"][0];
    let reasons = plan["reasons"].to_string();
    assert!(
        reasons.contains("known event recurring surge of shop/cart (weekly from Mon")
            && reasons.contains("used at once (learning: apply"),
        "{reasons}"
    );
    let (ordinary, surge) = (
        support::schedule_min_at(plan, monday(6, 8, 5)),
        support::schedule_min_at(plan, monday(6, 9, 0)),
    );
    assert!(
        surge >= 3 * ordinary,
        "min {surge} at 09:00 against {ordinary} at 08:05"
    );
    assert!(
        support::schedule_min_at(plan, monday(6, 13, 0)) < surge,
        "given back after it"
    );
    let max = plan["max_replicas"].as_u64().unwrap();
    let load = declared["load"].as_f64().unwrap();
    assert!(
        max as f64 * 10.0 >= load,
        "max {max} against a surge of {load}"
    );

    // During it: healed inside the range, no incident, no page.
    let (during, summary, _) = apply_at(&config, dir.path(), monday(6, 9, 30));
    assert_eq!(
        during["incidents_opened"],
        serde_json::json!([]),
        "{during}"
    );
    assert_eq!(summary["incidents_open"], 0, "{summary}");
    assert!(support::paging(&alertmanager, "cart").is_empty());
}

/// A month-end-like batch: 142 days of a daily rhythm in quarter hours
/// from 2026-07-01, four times the load on the 15th of each month from
/// 08:00 to 12:00 — a rhythm no model of 28 days of history can see.
fn monthly_history(dir: &Path) -> PathBuf {
    let from = parse_timestamp("2026-07-01T00:00:00Z").unwrap();
    let step = 900;
    let values = homeostat::core::synthetic::load(142, step, 100.0, 40.0, 0.0, 0.0, 3.0, 5);
    let mut text = String::from("timestamp,value\n");
    for (i, v) in values.iter().enumerate() {
        let t = from + i as i64 * step;
        let at = chrono::DateTime::from_timestamp(t, 0).unwrap();
        let batch =
            chrono::Datelike::day(&at) == 15 && (8..12).contains(&chrono::Timelike::hour(&at));
        let _ = writeln!(text, "{t},{:.3}", if batch { v * 4.0 } else { *v });
    }
    let path = dir.join("batch.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_backtest_replays_the_loop_and_learning_spares_the_third_month() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        format!(
            "defaults: {{history: 28d, horizon: 1d}}\nworkloads:\n  - name: batch\n    namespace: billing\n    file: {}\n    target_per_replica: 10\n    mode: schedule\n    max_replicas: {{floor: 2, ceiling: 100}}\n    current: {{min_replicas: 2, max_replicas: 20}}\n",
            monthly_history(dir.path()).display()
        ),
    )
    .unwrap();
    // Runs every 6 hours from Sep 14 21:00: the 09:00 run of each 15th
    // sees the batch's first hour.
    let output = support::homeostat(&[
        "backtest",
        "--config",
        config.to_str().unwrap(),
        "--at",
        "2026-11-15T21:00:00Z",
        "--span",
        "62d",
        "--replan",
        "6h",
        "--learning",
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", support::stderr(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let incidents = &report["workloads"][0]["incidents"];
    let (without, with) = (&incidents["without_learning"], &incidents["with_learning"]);
    // Three months, three pages, two of them repeats.
    assert_eq!(without["spike_above_max"], 3, "{incidents}");
    assert_eq!(without["repeats"], 2, "{incidents}");
    // With learning, the third month is pre-scaled: two pages, none after
    // the batch was learned.
    assert_eq!(with["spike_above_max"], 2, "{incidents}");
    assert_eq!(with["after_learning"], 0, "{incidents}");
    assert!(
        incidents["learned"][0].as_str().unwrap().starts_with(
            "known event recurring surge of billing/batch (monthly from day 15 07:30 UTC)"
        ),
        "{incidents}"
    );
}

/// The post-mortem of the second Monday's incident: Markdown (a snapshot)
/// and a self-contained, well-formed HTML page with its one chart.
fn postmortem_of_the_second_monday(config: &Path, dir: &Path) {
    let args = |format: &str, output: &Path| {
        support::homeostat(&[
            "postmortem",
            "--config",
            config.to_str().unwrap(),
            "--incident",
            "shop/cart#2",
            "--format",
            format,
            "--output",
            output.to_str().unwrap(),
        ])
    };
    let markdown = dir.join("postmortem.md");
    let run = args("markdown", &markdown);
    assert_eq!(run.status.code(), Some(0), "{}", support::stderr(&run));
    let text = std::fs::read_to_string(&markdown).unwrap();
    insta::assert_snapshot!("postmortem_monday_surge", text);

    let html = dir.join("postmortem.html");
    let run = args("html", &html);
    assert_eq!(run.status.code(), Some(0), "{}", support::stderr(&run));
    let page = std::fs::read_to_string(&html).unwrap();
    let document = roxmltree::Document::parse_with_options(
        &page,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let named = |tag: &str| {
        document
            .descendants()
            .filter(|n| n.tag_name().name() == tag)
            .count()
    };
    assert_eq!(named("svg"), 1, "one chart per incident");
    assert_eq!(
        named("script") + named("link") + named("img"),
        0,
        "self-contained"
    );
    for heading in [
        "Load against the range in force",
        "Why homeostat could not heal it",
        "What the operator changed",
        "Timeline",
        "What homeostat does now",
    ] {
        assert!(page.contains(&format!("<h2>{heading}</h2>")), "{heading}");
    }
    assert!(page.contains("incident opened: spike_above_max"), "{page}");
    assert!(
        page.contains("Learned: known event recurring surge of shop/cart"),
        "{page}"
    );
    // The chart's legend: the load, the range in force, the incident.
    let legend: Vec<&str> = document
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for line in ["load", "recommended max (load it carries)", "incident"] {
        assert!(legend.contains(&line), "{line}: {legend:?}");
    }
}
