//! The reports people read: Markdown and JSON snapshots of the bundled
//! example, the HTML page parsed strictly (well formed, one chart per
//! workload, nothing fetched from the network), CSV, the Parquet exports,
//! and the JSON logs — all through the real binary.

use crate::support::{homeostat, stderr, stdout, BUNDLED_EXIT};
use polars::prelude::{DataType, ParquetReader, SerReader, TimeUnit, TimeZone};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `homeostat recommend --config CONFIG --format FORMAT`.
fn recommend_as(config: &Path, format: &str) -> Output {
    homeostat(&[
        "recommend",
        "--config",
        config.to_str().unwrap(),
        "--format",
        format,
    ])
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `days` of a daily cycle with seeded noise at a 5-minute step, as CSV.
fn noisy_daily_csv(days: i64, seed: u64) -> String {
    let values = homeostat::core::synthetic::load(days, 300, 100.0, 40.0, 0.0, 0.0, 3.0, seed);
    let mut text = String::from("timestamp,value\n");
    for (i, value) in (0i64..).zip(values) {
        let _ = writeln!(text, "{},{value}", 1_700_006_400 + i * 300);
    }
    text
}

/// A fleet of four that covers every severity: `capped` needs more than
/// its max ceiling (critical), `gone` has no file (warning), `steady`
/// already has the range it is recommended (unchanged, found by a first
/// run), `api` changes.
fn fleet(dir: &Path, steady: (u64, u64)) -> PathBuf {
    write(dir, "api.csv", noisy_daily_csv(20, 5).as_bytes());
    let yaml = format!(
        "defaults:\n  history: 14d\n  horizon: 1d\nworkloads:\n\
         \x20 - name: api\n    file: api.csv\n    target_per_replica: 10\n    current: {{min_replicas: 1, max_replicas: 50}}\n\
         \x20 - name: steady\n    namespace: web\n    file: api.csv\n    target_per_replica: 10\n    current: {{min_replicas: {}, max_replicas: {}}}\n\
         \x20 - name: capped\n    file: api.csv\n    target_per_replica: 10\n    max_replicas: {{floor: 2, ceiling: 5}}\n    current: {{min_replicas: 2, max_replicas: 5}}\n\
         \x20 - name: gone\n    file: gone.csv\n    target_per_replica: 10\n",
        steady.0, steady.1
    );
    write(dir, "homeostat.yaml", yaml.as_bytes())
}

/// The fleet config with `steady`'s current range set to what it is
/// recommended: run after run, as the step limit moves max ×1.5 at most.
fn fleet_with_every_severity(dir: &Path) -> PathBuf {
    let mut current = (1, 2);
    for _ in 0..10 {
        let config = fleet(dir, current);
        let json = recommend_as(&config, "json");
        let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
        let steady = &report["workloads"][1];
        let recommended = (
            steady["min_replicas"].as_u64().unwrap(),
            steady["max_replicas"].as_u64().unwrap(),
        );
        if recommended == current {
            return config;
        }
        current = recommended;
    }
    panic!("steady's recommendation did not settle in 10 runs: last {current:?}");
}

#[test]
fn markdown_report_of_the_bundled_example_matches_the_snapshot() {
    let output = homeostat(&["recommend", "--format", "markdown"]);
    assert_eq!(
        output.status.code(),
        Some(BUNDLED_EXIT),
        "{}",
        stderr(&output)
    );
    let text = stdout(&output);
    // Files end years ago: the report says up to when its data goes.
    assert!(
        text.contains(" · data up to 2015-04-22T21:02:53Z\n"),
        "{text}"
    );
    let generated = text.find(" · generated ").expect("a generated-at stamp");
    let end = generated + text[generated..].find('\n').unwrap();
    let text = format!(
        "{} · generated [generated_at]{}",
        &text[..generated],
        &text[end..]
    );
    insta::assert_snapshot!(text);
}

#[test]
fn markdown_lists_the_most_urgent_first_and_one_line_per_change_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = fleet_with_every_severity(dir.path());
    let output = recommend_as(&config, "markdown");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("4 workloads: 1 critical, 1 warning, 1 change, 1 unchanged"),
        "{text}"
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| "))
        .skip(1)
        .collect();
    let order: Vec<&str> = rows
        .iter()
        .map(|r| r.split(" | ").nth(1).unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "`default/capped`",
            "`default/gone`",
            "`default/api`",
            "`web/steady`"
        ],
        "{text}"
    );
    let operator = text.split("**Needs an operator**").nth(1).unwrap();
    assert!(
        operator.contains("- `default/capped` (needs_operator): ")
            && operator.contains("15 replicas, above the max ceiling 5"),
        "{text}"
    );
    assert!(
        operator.contains("- `default/gone` (error): ") && operator.contains("gone.csv"),
        "{text}"
    );
    let changes = text.split("**Changes**").nth(1).unwrap();
    let lines: Vec<&str> = changes.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].starts_with("- `default/api` 1..50 → "), "{text}");
    assert!(
        lines[0].contains(": min ") && lines[0].contains("; max "),
        "{text}"
    );
}

/// Every element and attribute of a parsed page, for the checks below.
fn external_references(document: &roxmltree::Document) -> Vec<String> {
    let mut found = Vec::new();
    for node in document.descendants().filter(roxmltree::Node::is_element) {
        let name = node.tag_name().name();
        if matches!(
            name,
            "script" | "link" | "iframe" | "img" | "object" | "embed"
        ) {
            found.push(format!("<{name}>"));
        }
        for attribute in node.attributes() {
            let value = attribute.value().trim().to_ascii_lowercase();
            let refers = matches!(
                attribute.name(),
                "href" | "src" | "srcset" | "action" | "data"
            );
            if refers && !value.starts_with('#') {
                found.push(format!("{}={value}", attribute.name()));
            }
            if value.contains("url(") || value.contains("http:") || value.contains("https:") {
                found.push(format!("{}={value}", attribute.name()));
            }
        }
        if name == "style" {
            let css = node.text().unwrap_or_default();
            if css.contains("url(") || css.contains("@import") || css.contains("@font-face") {
                found.push("a CSS reference".into());
            }
        }
    }
    found
}

/// The text of every SVG `<text>` (the charts' labels and legends), trimmed.
fn chart_texts(html: &str) -> Vec<String> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let document = roxmltree::Document::parse_with_options(html, options).unwrap();
    document
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

/// The page parsed strictly, its `<section>`s, and the number of `<svg>` in each.
fn sections(html: &str) -> Vec<(String, usize)> {
    let document = roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("the HTML is not well formed: {e}"));
    assert_eq!(document.root_element().tag_name().name(), "html");
    let external = external_references(&document);
    assert!(external.is_empty(), "external references: {external:?}");
    document
        .descendants()
        .filter(|n| n.has_tag_name("section"))
        .map(|section| {
            let svgs = section
                .descendants()
                .filter(|n| n.tag_name().name() == "svg")
                .count();
            (
                section.attribute("id").unwrap_or_default().to_string(),
                svgs,
            )
        })
        .collect()
}

#[test]
fn html_report_is_well_formed_self_contained_and_has_one_chart_per_workload() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let output = homeostat(&[
        "recommend",
        "--format",
        "html",
        "--output",
        page.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(BUNDLED_EXIT),
        "{}",
        stderr(&output)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let found = sections(&html);
    let config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/homeostat.yaml"))
            .unwrap();
    let workloads = config.matches("  - name: ").count();
    assert_eq!(found.len(), workloads, "{found:?}");
    for (id, svgs) in &found {
        assert_eq!(*svgs, 1, "section {id}");
    }
    // Every chart draws the load, the forecast and both bounds, with a legend.
    let texts = chart_texts(&html);
    for label in ["observed load", "forecast", "90% interval", "min ", "max "] {
        let legends = texts
            .iter()
            .filter(|t| {
                *t == label
                    || (label.ends_with(' ') && t.starts_with(label) && t.ends_with(" replicas"))
            })
            .count();
        assert_eq!(legends, workloads, "legend `{label}`: {texts:?}");
    }
}

#[test]
fn html_summary_is_sorted_by_urgency_and_a_workload_without_forecast_has_no_chart() {
    let dir = tempfile::tempdir().unwrap();
    let config = fleet_with_every_severity(dir.path());
    let output = recommend_as(&config, "html");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let html = stdout(&output);
    let found = sections(&html);
    assert_eq!(
        found,
        [
            ("default/capped".to_string(), 1),
            ("default/gone".to_string(), 0),
            ("default/api".to_string(), 1),
            ("web/steady".to_string(), 1),
        ]
    );
    let badges: Vec<&str> = html
        .match_indices("<tr class=\"row-")
        .map(|(i, _)| html[i + 15..].split('"').next().unwrap())
        .collect();
    assert_eq!(badges, ["critical", "warning", "change", "unchanged"]);
    assert!(
        html.contains("Needs an operator:</strong> ")
            && html.contains("15 replicas, above the max ceiling 5"),
        "the ceiling in words"
    );
}

#[test]
fn csv_report_has_one_row_per_workload_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = fleet_with_every_severity(dir.path());
    let output = recommend_as(&config, "csv");
    let text = stdout(&output);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header[..5],
        ["namespace", "name", "hpa", "status", "severity"]
    );
    assert_eq!(*header.last().unwrap(), "reasons");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(
        rows[0].starts_with("default,api,api,ok,change,1,50,"),
        "{}",
        rows[0]
    );
    assert!(
        rows[2].starts_with("default,capped,capped,needs_operator,critical,2,5,"),
        "{}",
        rows[2]
    );
    assert!(
        rows[3].starts_with("default,gone,gone,error,warning,,,,,"),
        "{}",
        rows[3]
    );
}

fn read_parquet(path: &Path) -> polars::prelude::DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn nulls(frame: &polars::prelude::DataFrame, column: &str) -> Vec<bool> {
    frame
        .column(column)
        .unwrap()
        .as_materialized_series()
        .f64()
        .unwrap()
        .iter()
        .map(|v| v.is_none())
        .collect()
}

#[test]
fn parquet_export_holds_each_workloads_history_then_forecast_and_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let config = fleet_with_every_severity(dir.path());
    let out = dir.path().join("export");
    // A file an earlier run left for a workload that fails now goes away.
    std::fs::create_dir(&out).unwrap();
    write(&out, "default_gone.parquet", b"an earlier run's");
    let output = homeostat(&[
        "recommend",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "parquet",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["workloads"].as_array().unwrap().len(), 4);
    assert!(
        !out.join("default_gone.parquet").exists(),
        "no forecast, no file"
    );
    let frame = read_parquet(&out.join("default_api.parquet"));
    let names: Vec<&str> = frame
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(names, ["timestamp", "load", "mean", "lower", "upper"]);
    assert_eq!(
        frame.column("timestamp").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
    );
    // 14 days of history at 5 minutes, then one day of forecast.
    let (history, horizon) = (14 * 288, 288);
    assert_eq!(frame.height(), history + horizon);
    let load = nulls(&frame, "load");
    let mean = nulls(&frame, "mean");
    assert!(load[..history].iter().all(|n| !n) && load[history..].iter().all(|n| *n));
    assert!(mean[..history].iter().all(|n| *n) && mean[history..].iter().all(|n| !n));
    let column = |name| {
        frame
            .column(name)
            .unwrap()
            .as_materialized_series()
            .f64()
            .unwrap()
            .clone()
    };
    let (lower, mean, upper) = (column("lower"), column("mean"), column("upper"));
    for i in history..history + horizon {
        let (l, m, u) = (
            lower.get(i).unwrap(),
            mean.get(i).unwrap(),
            upper.get(i).unwrap(),
        );
        assert!(l <= m && m <= u, "row {i}: {l} {m} {u}");
    }
    let bad = recommend_as(&config, "parquet");
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--output DIR"), "{}", stderr(&bad));
}

#[test]
fn evaluate_export_holds_the_training_history_then_actuals_beside_the_forecast() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("series");
    std::fs::create_dir(&input).unwrap();
    write(&input, "api.csv", noisy_daily_csv(21, 7).as_bytes());
    let out = dir.path().join("export");
    let output = homeostat(&[
        "evaluate",
        "--input",
        input.to_str().unwrap(),
        "--test",
        "7d",
        "--format",
        "json",
        "--export",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let evaluation: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let frame = read_parquet(&out.join("api.parquet"));
    let (train, test) = (14 * 288, 7 * 288);
    assert_eq!(frame.height(), train + test);
    let load = nulls(&frame, "load");
    let mean = nulls(&frame, "mean");
    assert!(load.iter().all(|n| !n), "actuals on every row");
    assert!(mean[..train].iter().all(|n| *n) && mean[train..].iter().all(|n| !n));
    // The coverage the evaluation reports is the one the export shows.
    let column = |name| {
        frame
            .column(name)
            .unwrap()
            .as_materialized_series()
            .f64()
            .unwrap()
            .clone()
    };
    let (actual, lower, upper) = (column("load"), column("lower"), column("upper"));
    let inside = (train..train + test)
        .filter(|&i| {
            let a = actual.get(i).unwrap();
            lower.get(i).unwrap() <= a && a <= upper.get(i).unwrap()
        })
        .count();
    let coverage = evaluation["series"][0]["scores"][0]["coverage"]
        .as_f64()
        .unwrap();
    assert!(
        (inside as f64 / test as f64 - coverage).abs() < 1e-9,
        "{inside}/{test} vs {coverage}"
    );
}

#[test]
fn json_logs_are_one_object_per_line_with_the_run_summary() {
    let dir = tempfile::tempdir().unwrap();
    let config = fleet(dir.path(), (1, 2));
    let output = homeostat(&[
        "recommend",
        "--config",
        config.to_str().unwrap(),
        "--log-format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = stderr(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let summary = lines
        .iter()
        .find(|l| l["message"] == "run finished")
        .expect("the run's summary");
    assert_eq!(summary["level"], "INFO");
    assert_eq!(summary["command"], "recommend");
    assert_eq!(summary["workloads"], 4);
    assert_eq!(summary["needs_operator"], 1);
    assert_eq!(summary["error"], 1);
    // Text logs (the default) keep the CLI's `homeostat: error: …` lines.
    let bad = homeostat(&["recommend", "--config", "/nonexistent/homeostat.yaml"]);
    assert!(
        stderr(&bad).starts_with("homeostat: error: "),
        "{}",
        stderr(&bad)
    );
    let bad = homeostat(&[
        "recommend",
        "--config",
        "/nonexistent/homeostat.yaml",
        "--log-format",
        "json",
    ]);
    let line: serde_json::Value = serde_json::from_str(stderr(&bad).trim()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert!(line["message"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/homeostat.yaml"));
}

#[test]
fn piped_output_has_no_colours_and_no_progress_bars() {
    let output = homeostat(&["recommend"]);
    assert!(!stdout(&output).contains('\x1b'), "{}", stdout(&output));
    // No progress bar: stderr has only the one warning the bundled example
    // logs (its critical spike), without colour.
    assert_eq!(
        stderr(&output),
        "homeostat: warning: social/mentions-fb: critical: a spike peaking at 298 (at 117 over the last 15 minutes) is going on above the 90 that max 18 carries: it needs 24 replicas now, 60 at its peak, at 5 a replica\n"
    );
}

fn small_backtest_config(dir: &Path) -> PathBuf {
    write(dir, "api.csv", noisy_daily_csv(20, 5).as_bytes());
    write(
        dir,
        "homeostat.yaml",
        b"defaults:\n  history: 14d\n  horizon: 1d\nworkloads:\n  - name: api\n    file: api.csv\n    target_per_replica: 10\n    current: {min_replicas: 2, max_replicas: 20}\n  - name: web\n    file: api.csv\n    target_per_replica: 20\n    current: {min_replicas: 1, max_replicas: 5}\n",
    )
}

#[test]
fn backtest_renders_as_markdown_and_as_html_with_bars_and_the_replayed_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_backtest_config(dir.path());
    let config = config.to_str().unwrap();
    let markdown = homeostat(&[
        "backtest", "--config", config, "--span", "2d", "--format", "markdown",
    ]);
    assert_eq!(markdown.status.code(), Some(0), "{}", stderr(&markdown));
    let text = stdout(&markdown);
    assert!(
        text.contains(
            "| workload | policy | overload min | at max min | unserved % | replica-h | bound changes |"
        ),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("| `default/"))
            .count(),
        10,
        "{text}"
    );
    assert!(text.contains("- schedule, median of 2 workloads"), "{text}");
    assert!(
        text.contains("replayed: each workload's last 2d of data"),
        "{text}"
    );
    assert!(text.contains("- `default/api`: reactive had "), "{text}");

    let html = homeostat(&[
        "backtest", "--config", config, "--span", "2d", "--format", "html",
    ]);
    assert_eq!(html.status.code(), Some(0), "{}", stderr(&html));
    let page = stdout(&html);
    assert_eq!(
        sections(&page),
        [
            ("default/api".to_string(), 2),
            ("default/web".to_string(), 2)
        ]
    );
    let texts = chart_texts(&page);
    // Per workload: two bar captions; the policies under both bar charts and in the legend.
    for (label, per_workload) in [
        ("overload minutes", 1),
        ("replica-hours", 1),
        ("reactive", 3),
        ("schedule", 3),
        ("oracle", 2),
        ("needed (load ÷ capacity)", 1),
    ] {
        let found = texts.iter().filter(|t| *t == label).count();
        assert_eq!(found, 2 * per_workload, "{label}: {texts:?}");
    }

    // A week outside the replay is said on stderr and on the page (it
    // fell back to the last week without a word).
    let elsewhere = homeostat(&[
        "backtest",
        "--config",
        config,
        "--span",
        "2d",
        "--format",
        "html",
        "--chart-week",
        "2001-01-01T00:00:00Z",
    ]);
    assert_eq!(elsewhere.status.code(), Some(0), "{}", stderr(&elsewhere));
    assert!(
        stderr(&elsewhere)
            .contains("--chart-week 2001-01-01T00:00:00Z is outside the replay of default/api"),
        "{}",
        stderr(&elsewhere)
    );
    assert_eq!(
        stdout(&elsewhere)
            .matches("The week asked for (from 2001-01-01T00:00:00Z) is outside this replay")
            .count(),
        2
    );
}

#[test]
fn control_characters_from_a_report_never_reach_a_terminal_csv_or_page_raw() {
    // Issue 19: names with ESC, U+202E or a tab were printed raw (terminal
    // escape injection) and made the HTML report ill-formed. The config
    // refuses such names now; a shard report, or a server's error message
    // in the reasons, can still carry them: every renderer escapes them.
    let dir = tempfile::tempdir().unwrap();
    let json = homeostat(&["recommend", "--format", "json"]);
    let mut report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let first = &mut report["workloads"][0];
    first["name"] = "evil\u{1b}[2J\u{202e}gpj.exe".into();
    first["status"] = "error".into();
    first["reasons"] = serde_json::json!(["Prometheus said: \u{1b}]0;pwned\u{7}bad\u{0}query"]);
    let shard = write(dir.path(), "shard.json", report.to_string().as_bytes());
    for format in ["table", "csv", "markdown", "html", "json"] {
        let merged = homeostat(&[
            "report",
            "merge",
            shard.to_str().unwrap(),
            "--format",
            format,
        ]);
        let text = stdout(&merged);
        assert!(!text.is_empty(), "{format}: {}", stderr(&merged));
        // JSON is data: it escapes the control characters (as the JSON
        // standard requires) and keeps U+202E for the reader to decode.
        for raw in ['\u{1b}', '\u{202e}', '\u{7}', '\u{0}'] {
            if format != "json" || raw != '\u{202e}' {
                assert!(!text.contains(raw), "{format} holds {raw:?} raw");
            }
        }
        if format != "json" {
            assert!(
                text.contains("evil\\u{1b}[2J\\u{202e}gpj.exe"),
                "{format}: {text}"
            );
        }
        if format == "html" {
            let options = roxmltree::ParsingOptions {
                allow_dtd: true,
                ..roxmltree::ParsingOptions::default()
            };
            roxmltree::Document::parse_with_options(&text, options).unwrap();
        }
    }
}
