//! Day one (issue 23), through the real binary: the fleet's shapes are
//! learned in a run and kept in the store; a workload with an hour of
//! history is matched to the shape of the fleet member it copies (at a
//! level none of them has), `like:` overrides the match, a flat workload
//! is not forced into a shape, and the shapes outlive the run.

use crate::support;
use homeostat::core::time::{format_timestamp, parse_timestamp};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const STEP: i64 = 300;
const DAY: i64 = 86_400;

/// Load at `t` of the office rhythm (a 10:00 peak on weekdays, quiet
/// weekends) or the evening one (a 21:00 peak every day), mean about 1.
fn rhythm(office: bool, t: i64) -> f64 {
    let hour = t.rem_euclid(DAY) as f64 / 3_600.0;
    let weekday = (t.div_euclid(DAY) + 3).rem_euclid(7); // 0 = Monday
    if office {
        let weekend = if weekday >= 5 { 0.4 } else { 1.0 };
        weekend * (1.0 + 0.8 * ((hour - 10.0) / 24.0 * std::f64::consts::TAU).cos())
    } else {
        1.0 + 0.6 * ((hour - 21.0) / 24.0 * std::f64::consts::TAU).cos()
    }
}

/// A file of `shape(t) × level` with 3% noise over `(now − span, now]`.
fn write(
    dir: &Path,
    name: &str,
    now: i64,
    span: i64,
    level: f64,
    shape: &dyn Fn(i64) -> f64,
) -> PathBuf {
    let mut seed = name
        .bytes()
        .fold(17_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut text = String::from("timestamp,value\n");
    let mut t = now - span + STEP;
    while t <= now {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let noise = ((seed >> 33) as f64 / f64::from(u32::MAX) - 0.5) * 0.06;
        let _ = writeln!(text, "{t},{:.3}", level * shape(t) * (1.0 + noise));
        t += STEP;
    }
    let path = dir.join(format!("{name}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A Wednesday, 09:00 UTC: the office rhythm is rising, the evening one
/// falling.
fn now() -> i64 {
    parse_timestamp("2026-11-04T09:00:00Z").unwrap()
}

/// One workload entry of a config.
fn entry(name: &str, file: &Path, target: f64, extra: &str) -> String {
    format!(
        "  - name: {name}\n    namespace: apps\n    file: {}\n    target_per_replica: {target}\n    max_replicas: {{ceiling: 200}}\n{extra}",
        file.display()
    )
}

/// The fleet (three office and three evening workloads, 28 days) and its
/// entries.
fn fleet(dir: &Path) -> Vec<String> {
    (0..6)
        .map(|i| {
            let office = i % 2 == 0;
            let name = format!("{}-{i}", if office { "office" } else { "evening" });
            let level = [100.0, 400.0, 1_600.0][i / 2];
            let file = write(dir, &name, now(), 28 * DAY, level, &|t| rhythm(office, t));
            entry(&name, &file, level / 5.0, "")
        })
        .collect()
}

fn config(dir: &Path, file: &str, entries: &[String]) -> PathBuf {
    let text = format!(
        "store: store\ndefaults: {{history: 28d, horizon: 1d}}\nworkloads:\n{}",
        entries.join("")
    );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn recommend(config: &Path) -> Vec<Value> {
    recommend_logged(config).0
}

/// The plans, and the run's `run finished` summary.
fn recommend_logged(config: &Path) -> (Vec<Value>, Value) {
    let output = support::recommend_json(config, now(), &["--log-format", "json"], &[]);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", support::stderr(&output)));
    (
        report["workloads"].as_array().unwrap().clone(),
        support::run_summary(&output.stderr),
    )
}

fn named<'a>(plans: &'a [Value], name: &str) -> &'a Value {
    plans.iter().find(|p| p["name"] == name).unwrap()
}

fn shapes(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("store/fleet-shapes.json")).unwrap()).unwrap()
}

#[test]
fn a_new_workload_starts_from_the_shape_it_copies_and_like_overrides_the_match() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut entries = fleet(d);
    // The office rhythm at a level none has, one hour old.
    let hour = write(d, "api-eu", now(), 3_600, 9_000.0, &|t| rhythm(true, t));
    entries.push(entry("api-eu", &hour, 1_800.0, ""));
    // Six hours of the same, but told to start like an evening workload.
    let six = write(d, "api-us", now(), 6 * 3_600, 9_000.0, &|t| rhythm(true, t));
    entries.push(entry("api-us", &six, 1_800.0, "    like: apps/evening-1\n"));
    // Told to start like a workload nobody has: the best match, and the
    // report says the `like:` was not followed.
    entries.push(entry("api-ap", &six, 1_800.0, "    like: apps/nope\n"));
    // Told to start like itself (a copy-paste slip): the best match too.
    entries.push(entry(
        "api-self",
        &six,
        1_800.0,
        "    like: apps/api-self\n",
    ));
    // Told to start like a workload an hour old, which has no shape yet.
    entries.push(entry("api-sa", &six, 1_800.0, "    like: apps/api-eu\n"));
    // Twelve hours of a flat load: no shape of the fleet's.
    let flat = write(d, "cron", now(), 12 * 3_600, 300.0, &|_| 1.0);
    entries.push(entry("cron", &flat, 60.0, ""));
    let path = config(d, "homeostat.yaml", &entries);
    let (plans, summary) = recommend_logged(&path);
    assert_eq!(summary["cold_start"], 6, "{summary}");
    // `config check` says beforehand which `like:` names no workload of the
    // config (the store's shapes may still have it), and passes.
    let check = support::homeostat(&["config", "check", "--config", path.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(check.status.success(), "{said}{}", support::stderr(&check));
    let line = |name: &str| {
        said.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
    };
    assert!(
        line("apps/api-ap:").contains("like: apps/nope is not a workload of this config"),
        "{said}"
    );
    assert!(
        !line("apps/api-us:").contains("is not a workload"),
        "{said}"
    );
    assert!(
        line("apps/api-self:").contains("like: apps/api-self names this workload itself"),
        "{said}"
    );
    assert!(
        line("apps/api-sa:")
            .contains("like: apps/api-eu has only 1h of history: a shape needs a week"),
        "{said}"
    );
    // The fleet's members have their weeks: a like of one is not flagged.
    assert!(!line("apps/api-us:").contains("has only"), "{said}");

    let shapes = shapes(d);
    assert_eq!(
        shapes["shapes"].as_array().unwrap().len(),
        2,
        "{}",
        shapes["bic"]
    );
    let office = &shapes["shapes"][shapes["members"]["apps/office-0"].as_u64().unwrap() as usize];
    let evening = &shapes["shapes"][shapes["members"]["apps/evening-1"].as_u64().unwrap() as usize];
    assert_ne!(office["name"], evening["name"]);
    for member in ["apps/office-0", "apps/office-2", "apps/office-4"] {
        assert_eq!(
            shapes["members"][member],
            shapes["members"]["apps/office-0"]
        );
    }

    let api = named(&plans, "api-eu");
    assert_eq!(api["status"], "ok", "{api:#}");
    assert_eq!(api["cold_start"]["shape"], office["name"], "{api:#}");
    assert_eq!(api["cold_start"]["history"], 3_600);
    assert_eq!(api["cold_start"]["fleet"], 6);
    let reasons = api["reasons"].to_string();
    assert!(
        reasons.contains("cold start: only 1h of history"),
        "{reasons}"
    );
    // Its level, not the fleet's: at 9,000 × the office rhythm (about 2 at
    // 10:00 on a weekday), max must make room for well above 9,000.
    let max = api["max_replicas"].as_u64().unwrap();
    assert!((8..=200).contains(&max), "max {max}: {reasons}");

    let us = named(&plans, "api-us");
    assert_eq!(us["status"], "ok", "{us:#}");
    assert_eq!(us["cold_start"]["shape"], "like apps/evening-1", "{us:#}");

    let ap = named(&plans, "api-ap");
    assert_eq!(ap["cold_start"]["shape"], office["name"], "{ap:#}");
    assert!(
        ap["reasons"]
            .to_string()
            .contains("like: apps/nope has no shape (not profiled in this run, not in the store's fleet shapes): it starts as if it had none: from the shape that explains its history best, or a flat line when none does"),
        "{ap:#}"
    );

    let cron = named(&plans, "cron");
    assert_eq!(cron["status"], "ok", "{cron:#}");
    assert_eq!(cron["cold_start"]["shape"], "flat", "{cron:#}");
    let forecast_range = (
        cron["expected_load"]["low"].as_f64().unwrap(),
        cron["expected_load"]["high"].as_f64().unwrap(),
    );
    assert!(
        forecast_range.0 < 300.0 && forecast_range.1 > 300.0,
        "{forecast_range:?}"
    );

    // A young workload's peaks are those of the hours it has, and said so.
    for young in [api, us, ap, cron] {
        let reasons = young["reasons"].to_string();
        assert!(!reasons.contains("the last 14 days'"), "{reasons}");
        assert!(!reasons.contains("the last 7 days'"), "{reasons}");
    }

    // The fleet's own members are planned as ever: no cold start.
    assert!(named(&plans, "office-0").get("cold_start").is_none());
}

#[test]
fn the_shapes_outlive_the_run_and_without_them_a_young_workload_waits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let young = write(d, "api-eu", now(), 6 * 3_600, 9_000.0, &|t| rhythm(true, t));
    let alone = config(d, "alone.yaml", &[entry("api-eu", &young, 1_800.0, "")]);
    // No shapes yet: insufficient data, and the reason says what would help.
    let plans = recommend(&alone);
    assert_eq!(plans[0]["status"], "insufficient_data", "{:#}", plans[0]);
    assert!(
        plans[0]["reasons"]
            .to_string()
            .contains("no fleet shapes to start it from"),
        "{:#}",
        plans[0]
    );

    let mut entries = fleet(d);
    entries.push(entry("api-eu", &young, 1_800.0, ""));
    let first = recommend(&config(d, "fleet.yaml", &entries));
    let office = shapes(d)["members"]["apps/office-0"].as_u64().unwrap() as usize;
    let office_name = shapes(d)["shapes"][office]["name"].clone();
    assert_eq!(named(&first, "api-eu")["cold_start"]["shape"], office_name);

    // A later run of the young workload alone (a shard, a workload added
    // to another config) starts it from the stored shapes.
    let plans = recommend(&alone);
    assert_eq!(plans[0]["status"], "ok", "{:#}", plans[0]);
    assert_eq!(plans[0]["cold_start"]["shape"], office_name);
    assert_eq!(plans[0]["cold_start"]["fleet"], 6);
    assert_eq!(
        plans[0]["max_replicas"],
        named(&first, "api-eu")["max_replicas"],
        "the same shapes give the same bounds"
    );

    // A replay in the past (`--at`) neither starts from shapes learned
    // after it nor replaces them with its older ones.
    let learned_at = shapes(d)["learned_at"].clone();
    let past = support::recommend_json(
        &config(d, "fleet.yaml", &entries),
        now() - 3 * DAY,
        &[],
        &[],
    );
    assert!(past.status.code().is_some(), "{}", support::stderr(&past));
    assert_eq!(shapes(d)["learned_at"], learned_at);
    let alone_past = support::recommend_json(&alone, now() - 2 * 3_600, &[], &[]);
    let report: Value = serde_json::from_slice(&alone_past.stdout).unwrap();
    assert_eq!(
        report["workloads"][0]["status"], "insufficient_data",
        "the young workload alone has no shapes from before then: {:#}",
        report["workloads"][0]
    );
    assert!(
        report["workloads"][0]["reasons"]
            .to_string()
            .contains("no fleet shapes to start it from"),
        "{:#}",
        report["workloads"][0]
    );
}

/// Shapes are stamped with the moment of the data they saw, not the
/// clock's: learned from files that end on a Wednesday morning by a run
/// today, a replay at that Wednesday morning still uses them (they were
/// "learned after" it, and skipped, by the clock's stamp).
#[test]
fn shapes_learned_by_a_run_today_serve_a_replay_of_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let young = write(d, "api-eu", now(), 6 * 3_600, 9_000.0, &|t| rhythm(true, t));
    let alone = config(d, "alone.yaml", &[entry("api-eu", &young, 1_800.0, "")]);
    let mut entries = fleet(d);
    entries.push(entry("api-eu", &young, 1_800.0, ""));
    let fleet_config = config(d, "fleet.yaml", &entries);
    let today = support::homeostat(&[
        "recommend",
        "--config",
        fleet_config.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(today.status.code().is_some(), "{}", support::stderr(&today));
    let learned_at = parse_timestamp(shapes(d)["learned_at"].as_str().unwrap()).unwrap();
    assert!(
        learned_at <= now() && learned_at > now() - 3_600,
        "{}",
        shapes(d)["learned_at"]
    );
    let plans = recommend(&alone);
    assert_eq!(plans[0]["status"], "ok", "{:#}", plans[0]);
    assert!(
        plans[0]["cold_start"]["shape"].is_string(),
        "{:#}",
        plans[0]
    );
}

/// `backtest --config CONFIG --span 2d --format json --at now() ARGS`,
/// which must exit 0: its report.
fn backtest_json(config: &Path, args: &[&str]) -> Value {
    let at = now().to_string();
    let mut all = vec![
        "backtest",
        "--config",
        config.to_str().unwrap(),
        "--span",
        "2d",
        "--format",
        "json",
        "--at",
        &at,
    ];
    all.extend(args);
    let output = support::homeostat(&all);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        support::stderr(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn backtest_replays_a_workload_as_new_from_six_hours_of_history() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let entries: Vec<String> = fleet(d)
        .into_iter()
        .map(|e| format!("{e}    current: {{min_replicas: 2, max_replicas: 100}}\n"))
        .collect();
    let config = config(d, "replay.yaml", &entries);
    let replay = |extra: &[&str]| {
        let mut args = vec!["--workload", "apps/office-2", "--replan", "12h"];
        args.extend(extra);
        backtest_json(&config, &args)
    };
    let young_report = replay(&["--cold-start", "6h"]);
    // The report says how it was replayed.
    assert!(
        young_report["cold_start"]
            .as_str()
            .is_some_and(|c| c.starts_with(
                "cold start: each workload replayed as new, its runs seeing 6h of history"
            )),
        "{}",
        young_report["cold_start"]
    );
    let young = young_report["workloads"][0].clone();
    let replans = young["replans"].as_array().unwrap();
    assert_eq!(replans.len(), 4);
    // Planned from the first run (6 hours of history), by the others'
    // shapes; each run's forecast scored against the day that followed.
    for r in replans {
        assert_eq!(r["status"], "ok", "{r}");
        assert!(r["min_replicas"].as_u64().unwrap() >= 1, "{r}");
    }
    let schedule = |w: &Value| {
        w["policies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["policy"] == "schedule")
            .unwrap()
            .clone()
    };
    // The fleet copies its rhythm: the cold start serves it.
    assert!(
        schedule(&young)["overload_minutes"].as_f64().unwrap() <= 30.0,
        "{:#}",
        schedule(&young)
    );
    let grown_report = replay(&[]);
    assert!(grown_report.get("cold_start").is_none());
    let grown = grown_report["workloads"][0].clone();
    assert_eq!(grown["replans"].as_array().unwrap().len(), 4);
}

/// A workload whose data begins 30 hours before the replay's end (a new
/// service) is replayed as `recommend` plans it: from the fleet's shapes
/// once it has an hour of history, whether the whole config or only it is
/// replayed; with no fleet to learn shapes from, its runs keep today's
/// range, and the verdict says which.
#[test]
fn backtest_replays_a_young_workload_from_the_fleets_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let current = "    current: {min_replicas: 2, max_replicas: 100}\n";
    let mut entries: Vec<String> = fleet(d)
        .into_iter()
        .map(|e| format!("{e}{current}"))
        .collect();
    // An office workload at a level no member has, seen for 30 hours.
    let file = write(d, "new-office", now(), 30 * 3_600, 800.0, &|t| {
        rhythm(true, t)
    });
    let young_entry = format!("{}{current}", entry("new-office", &file, 160.0, ""));
    entries.push(young_entry.clone());
    let replay = |config: &Path, extra: &[&str]| {
        let mut args = vec!["--replan", "6h"];
        args.extend(extra);
        let report = backtest_json(config, &args);
        report["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "new-office")
            .unwrap_or_else(|| panic!("new-office not replayed: {report:#}"))
            .clone()
    };
    let fleet_config = config(d, "fleet.yaml", &entries);
    for extra in [&[][..], &["--workload", "apps/new-office"][..]] {
        let young = replay(&fleet_config, extra);
        // From its first sample, not before it.
        assert_eq!(
            parse_timestamp(young["from"].as_str().unwrap()).unwrap(),
            now() - 30 * 3_600 + STEP,
            "{extra:?}"
        );
        let replans = young["replans"].as_array().unwrap();
        // The first run sees nothing yet; each later one plans from the shapes.
        assert_eq!(replans.len(), 5, "{extra:?} {replans:#?}");
        assert_ne!(replans[0]["status"], "ok", "{extra:?} {:#}", replans[0]);
        for r in &replans[1..] {
            assert_eq!(r["status"], "ok", "{extra:?} {r}");
        }
        let verdict = young["verdict"].as_str().unwrap();
        assert!(
            verdict.contains(
                "4 of its 5 runs were planned as `recommend` plans a workload under two weeks old, from the fleet's"
            ),
            "{extra:?} {verdict}"
        );
        assert!(
            verdict.contains("tight has no load before the replay"),
            "{verdict}"
        );
        // No baseline: flagged in the JSON, `-` in the table.
        assert_eq!(young["tight_baseline"], false, "{young:#}");
    }
    let table = support::homeostat(&[
        "backtest",
        "--config",
        fleet_config.to_str().unwrap(),
        "--workload",
        "apps/new-office",
        "--replan",
        "6h",
        "--span",
        "2d",
        "--at",
        &format_timestamp(now()),
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    let tight = text
        .lines()
        .find(|l| l.contains("new-office") && l.contains(" tight "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        tight.split_whitespace().skip(3).all(|cell| cell == "-"),
        "{tight}"
    );
    // Alone, nothing to start it from: today's range throughout, said.
    let alone = replay(&config(d, "alone.yaml", &[young_entry]), &[]);
    let replans = alone["replans"].as_array().unwrap();
    assert!(
        replans.iter().all(|r| r["status"] == "insufficient_data"),
        "{replans:#?}"
    );
    let verdict = alone["verdict"].as_str().unwrap();
    assert!(
        verdict.contains("no fleet shapes to start from (0 other workloads with a week of history before the replay, 5 needed)"),
        "{verdict}"
    );
}

/// A team that runs one service and adds a region: two workloads, too
/// few for fleet shapes. The new region's `like:` names the old one, so it
/// starts from that one's profile at its own level (in `recommend` and in
/// `backtest`); without `like:` it waits, as before.
#[test]
fn in_a_fleet_too_small_for_shapes_like_still_starts_a_new_region() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = write(d, "api-us", now(), 28 * DAY, 1_000.0, &|t| rhythm(true, t));
    let new = write(d, "api-eu", now(), 30 * 3_600, 400.0, &|t| rhythm(true, t));
    let us = entry("api-us", &old, 200.0, "");
    let eu = |like: &str| entry("api-eu", &new, 200.0, like);
    let with_like = config(d, "like.yaml", &[us.clone(), eu("    like: apps/api-us\n")]);
    let plans = recommend(&with_like);
    let eu_plan = named(&plans, "api-eu");
    assert_eq!(eu_plan["status"], "ok", "{eu_plan:#}");
    assert_eq!(eu_plan["cold_start"]["shape"], "like apps/api-us");
    assert_eq!(eu_plan["cold_start"]["fleet"], 1);
    assert!(
        eu_plan["reasons"]
            .to_string()
            .contains("cold starts simulated on the fleet's 1 workload"),
        "{eu_plan:#}"
    );
    // At 40% of the old region's load, with the same target: about 40%
    // of its max.
    let (us_max, eu_max) = (
        named(&plans, "api-us")["max_replicas"].as_f64().unwrap(),
        eu_plan["max_replicas"].as_f64().unwrap(),
    );
    assert!(
        (0.25..=0.6).contains(&(eu_max / us_max)),
        "max {eu_max} against {us_max}"
    );
    // Nothing is kept as the fleet's shapes: there are none.
    assert!(!d.join("store/fleet-shapes.json").exists());
    // A `like:` that cannot start it says why, not only that one could.
    let apac = write(d, "api-apac", now(), 6 * 3_600, 300.0, &|t| rhythm(true, t));
    let unusable = recommend(&config(
        d,
        "unusable.yaml",
        &[
            us.clone(),
            eu(""),
            entry("api-apac", &apac, 200.0, "    like: apps/api-eu\n"),
            entry("api-latam", &apac, 200.0, "    like: apps/api-mars\n"),
        ],
    ));
    for (name, why) in [
        ("api-apac", "its `like: apps/api-eu` cannot start it either: that workload has less than a week of history"),
        ("api-latam", "its `like: apps/api-mars` cannot start it either: no workload of this run has that name"),
    ] {
        let plan = named(&unusable, name);
        assert_eq!(plan["status"], "insufficient_data", "{plan:#}");
        assert!(plan["reasons"].to_string().contains(why), "{plan:#}");
    }
    let without = recommend(&config(d, "plain.yaml", &[us.clone(), eu("")]));
    assert_eq!(named(&without, "api-eu")["status"], "insufficient_data");
    assert!(
        named(&without, "api-eu")["reasons"].to_string().contains(
            "in a smaller fleet, a `like:` naming a workload with a week of history does"
        ),
        "{:#}",
        named(&without, "api-eu")
    );
    // The replay plans its runs the same way.
    let current = "    current: {min_replicas: 2, max_replicas: 100}\n";
    let replayed = config(
        d,
        "replayed.yaml",
        &[
            format!("{us}{current}"),
            format!("{}{current}", eu("    like: apps/api-us\n")),
        ],
    );
    let report = backtest_json(&replayed, &["--replan", "6h", "--workload", "apps/api-eu"]);
    let young = &report["workloads"][0];
    let replans = young["replans"].as_array().unwrap();
    assert!(
        replans[1..].iter().all(|r| r["status"] == "ok"),
        "{replans:#?}"
    );
    let verdict = young["verdict"].as_str().unwrap();
    assert!(
        verdict.contains("from the profile its `like:` names (too few other workloads for fleet shapes: 1 with a week of history before the replay)"),
        "{verdict}"
    );
}

/// A young workload's day of history holds no events: with its daily
/// rhythm not known yet, its night read as a dip and its morning as a
/// shift that re-based the history and raised min (a review found
/// "shift +146%" and the night "dip ×0.4" on taxi's last day). Load going
/// on above what its max carries still pages, found against capacity.
#[test]
fn a_young_workloads_rhythm_is_no_event_and_its_overload_still_pages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut entries = fleet(d);
    let young = write(d, "api-eu", now(), 30 * 3_600, 400.0, &|t| rhythm(true, t));
    entries.push(entry("api-eu", &young, 80.0, "    like: apps/office-2\n"));
    // The same, its last hour at five times the load.
    let text = std::fs::read_to_string(&young).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let burst_from = lines.len() - 12;
    let mut burst = String::new();
    for (i, line) in lines.iter().enumerate() {
        match line.split_once(',') {
            Some((t, v)) if i >= burst_from => {
                let _ = writeln!(burst, "{t},{:.3}", v.parse::<f64>().unwrap() * 5.0);
            }
            _ => {
                let _ = writeln!(burst, "{line}");
            }
        }
    }
    let bursting = d.join("api-apac.csv");
    std::fs::write(&bursting, burst).unwrap();
    // Its HPA at 2..10: max may rise ×1.5 this run, short of the burst.
    entries.push(entry(
        "api-apac",
        &bursting,
        80.0,
        "    like: apps/office-2\n    current: {min_replicas: 2, max_replicas: 10}\n",
    ));
    let plans = recommend(&config(d, "young.yaml", &entries));
    let eu = named(&plans, "api-eu");
    assert_eq!(eu["status"], "ok", "{eu:#}");
    assert_eq!(eu["events"], serde_json::json!([]), "{eu:#}");
    assert!(!eu["reasons"].to_string().contains("shift"), "{eu:#}");
    let apac = named(&plans, "api-apac");
    assert_eq!(apac["in_spike"], true, "{apac:#}");
    let carried = apac["max_replicas"].as_f64().unwrap() * 80.0;
    let spike = &apac["events"].as_array().unwrap()[0];
    assert!(
        spike["kind"] == "spike" && spike["after"].as_f64().unwrap() > carried,
        "{apac:#}"
    );
}

#[test]
fn a_rerun_at_the_same_moment_gives_a_workload_under_two_weeks_the_same_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Five days: its own model, blended with the fleet's shapes.
    let week_old = write(d, "api-us", now(), 5 * DAY, 3_000.0, &|t| rhythm(true, t));
    let mut entries = fleet(d);
    entries.push(entry("api-us", &week_old, 600.0, ""));
    let config = config(d, "fleet.yaml", &entries);
    // The first run learns the shapes and keeps them; the second finds
    // them in the store. Before, only the second blended with them.
    let first = recommend(&config);
    let second = recommend(&config);
    let (first, second) = (named(&first, "api-us"), named(&second, "api-us"));
    assert!(first["cold_start"].is_object(), "blended: {first:#}");
    for field in [
        "min_replicas",
        "max_replicas",
        "expected_load",
        "cold_start",
        "model",
    ] {
        assert_eq!(first[field], second[field], "{field}: {first:#} {second:#}");
    }
}

/// A young workload's bounds come from the fleet's shapes: `apply` says
/// so in the HPA's record (the annotation), as `recommend` does in its
/// reasons.
#[test]
fn a_young_workloads_hpa_record_says_its_bounds_rest_on_a_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = write(d, "api-us", now(), 28 * DAY, 1_000.0, &|t| rhythm(true, t));
    let new = write(d, "api-eu", now(), 30 * 3_600, 400.0, &|t| rhythm(true, t));
    let config = config(
        d,
        "apply.yaml",
        &[
            entry("api-us", &old, 200.0, ""),
            entry("api-eu", &new, 200.0, "    like: apps/api-us\n"),
        ],
    );
    let yaml = d.join("hpa.yaml");
    let at = format_timestamp(now());
    let out = support::apply_without_a_cluster(
        &[
            "--no-notify",
            "--at",
            &at,
            "--output-format",
            "yaml",
            "--output",
            yaml.to_str().unwrap(),
        ],
        &config,
        d,
    );
    let stderr = support::stderr(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(&yaml).unwrap()).unwrap();
    let record = |name: &str| -> Value {
        let document = documents
            .iter()
            .find(|d| d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {documents:?}"));
        serde_json::from_str(
            document["metadata"]["annotations"]["homeostat.io/last-recommendation"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
    };
    let reasons = record("api-eu")["reasons"].to_string();
    assert!(reasons.contains("cold start"), "{reasons}");
    assert!(!record("api-us")["reasons"]
        .to_string()
        .contains("cold start"));
}

/// The fleet's shapes are learned once a day, not at every run: relearned
/// every 15 minutes, their calibration (cold starts simulated over the
/// last day) slid with each run, and a young workload's max with it (a
/// review measured 37 → 118 → 26 replicas within 90 minutes).
#[test]
fn the_fleets_shapes_are_learned_once_a_day_and_serve_the_runs_between() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let young = write(d, "api-eu", now(), 60 * 3_600, 9_000.0, &|t| {
        rhythm(true, t)
    });
    let mut entries = fleet(d);
    entries.push(entry("api-eu", &young, 1_800.0, ""));
    let config = config(d, "fleet.yaml", &entries);
    let run = |at: i64| {
        let output = support::recommend_json(&config, at, &[], &[]);
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", support::stderr(&output)));
        let plan = named(report["workloads"].as_array().unwrap(), "api-eu").clone();
        (shapes(d)["learned_at"].as_str().unwrap().to_string(), plan)
    };
    let (first, plan) = run(now() - 40 * 3_600);
    assert_eq!(first, format_timestamp(now() - 40 * 3_600));
    assert!(plan["cold_start"].is_object(), "{plan:#}");
    // Hours later: the same shapes, not learned anew.
    let (later, _) = run(now() - 36 * 3_600);
    assert_eq!(later, first);
    // More than a day after they were learned: learned anew.
    let (next_day, _) = run(now());
    assert_eq!(next_day, format_timestamp(now()));
}

/// The Markdown report (for a pull request) says which bounds rest on the
/// fleet's shapes and on how little history, and a `like:` not found
/// (review finding: it said neither).
#[test]
fn the_markdown_report_names_the_young_workloads_and_a_like_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let young = write(d, "api-eu", now(), 6 * 3_600, 9_000.0, &|t| rhythm(true, t));
    let mut entries = fleet(d);
    entries.push(entry("api-eu", &young, 1_800.0, "    like: apps/nowhere\n"));
    let config = config(d, "fleet.yaml", &entries);
    let output = support::homeostat(&[
        "recommend",
        "--config",
        config.to_str().unwrap(),
        "--at",
        &format_timestamp(now()),
        "--format",
        "markdown",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("- `apps/api-eu`:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(text.contains("**Young workloads**"), "{text}");
    assert!(line.contains("cold start: only 6h of history"), "{line}");
    assert!(line.contains("like: apps/nowhere has no shape"), "{line}");
}
