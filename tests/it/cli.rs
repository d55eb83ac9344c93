//! The command-line contract of DESIGN.md, exercised through the real binary:
//! outputs, exit codes, and a clear error for every kind of bad input.

use crate::support::{homeostat, stderr, stdout, BUNDLED_EXIT};
use polars::prelude::{DataFrame, DataType, NamedFrom, ParquetWriter, Series as Column, TimeUnit};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `days` of a daily-cycling load at a 5-minute step, as CSV text.
fn daily_csv(days: i64) -> String {
    let mut text = String::from("timestamp,value\n");
    for i in 0..days * 288 {
        let phase = std::f64::consts::TAU * (i % 288) as f64 / 288.0;
        let _ = writeln!(
            text,
            "{},{}",
            1_700_006_400 + i * 300,
            100.0 + 40.0 * phase.sin()
        );
    }
    text
}

/// `days` of a daily cycle with seeded Gaussian noise at a 5-minute step.
fn noisy_daily_csv(days: i64, seed: u64) -> String {
    let values = homeostat::core::synthetic::load(days, 300, 100.0, 40.0, 0.0, 0.0, 3.0, seed);
    let mut text = String::from("timestamp,value\n");
    for (i, value) in (0i64..).zip(values) {
        let _ = writeln!(text, "{},{value}", 1_700_006_400 + i * 300);
    }
    text
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn forecast_writes_one_row_per_step_after_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "load.csv", daily_csv(4).as_bytes());
    let output = homeostat(&[
        "forecast",
        "--input",
        input.to_str().unwrap(),
        "--horizon",
        "1d",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "timestamp,mean,lower,upper");
    assert_eq!(lines.len(), 1 + 288);
    // The input's last sample is 1_700_006_400 + (4·288 − 1)·300.
    assert!(
        lines[1].starts_with("2023-11-19T00:00:00Z,"),
        "{}",
        lines[1]
    );
    for line in &lines[1..] {
        let cells: Vec<f64> = line
            .split(',')
            .skip(1)
            .map(|c| c.parse().unwrap())
            .collect();
        assert!(cells[1] <= cells[2], "lower above upper: {line}");
        // A noise-free daily cycle is forecast closely.
        assert!(cells[0] > 55.0 && cells[0] < 145.0, "{line}");
    }
}

/// `forecast` gives what `recommend` sizes the bounds from (issue 18: it
/// scored the bare model): a one-off ×3 burst of four hours yesterday is
/// taken out of the history, so it does not widen today's interval at
/// the same hours; `--bare` keeps the model of the history as it is.
#[test]
fn forecast_is_the_one_recommend_uses_and_bare_is_the_model_alone() {
    let dir = tempfile::tempdir().unwrap();
    let n = 24 * 288_i64;
    let burst = n - 288 + 120..n - 288 + 168;
    let mut rng = homeostat::core::synthetic::Rng::new(3);
    let mut text = String::from("timestamp,value\n");
    for i in 0..n {
        let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
        let mut v = 100.0 * (1.0 + 0.3 * phase.sin()) * (1.0 + 0.03 * rng.normal());
        if burst.contains(&i) {
            v *= 3.0;
        }
        let _ = writeln!(text, "{},{v:.3}", 1_700_006_400 + i * 300);
    }
    let input = write(dir.path(), "burst.csv", text.as_bytes());
    let highest_upper_in_the_bursts_hours = |extra: &[&str]| -> f64 {
        forecast_1d(&input, extra)
            .lines()
            .skip(1 + 120)
            .take(48)
            .map(|l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap())
            .fold(f64::MIN, f64::max)
    };
    // Ordinary load peaks at 130 (plus noise).
    let adapted = highest_upper_in_the_bursts_hours(&[]);
    assert!(adapted < 160.0, "{adapted}");
    let bare = highest_upper_in_the_bursts_hours(&["--bare"]);
    assert!(bare > 200.0, "{bare}");
}

/// `forecast --input INPUT --horizon 1d EXTRA`, which must succeed: its CSV.
fn forecast_1d(input: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec![
        "forecast",
        "--input",
        input.to_str().unwrap(),
        "--horizon",
        "1d",
    ];
    args.extend_from_slice(extra);
    let output = homeostat(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

/// `--history` forecasts from the file's last span, as `recommend` windows
/// a workload's history: the same as the file cut to it (review: on a
/// 31-day trace `forecast` was 32% under what `recommend` sized from).
#[test]
fn forecast_history_is_the_files_last_span() {
    let dir = tempfile::tempdir().unwrap();
    let trace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/decisions/bitbrains_rnd__fleet_cpu_mhz_20138.csv");
    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let last = &lines[lines.len() - 28 * 288..];
    let cut = write(
        dir.path(),
        "cut.csv",
        format!("{}\n{}\n", lines[0], last.join("\n")).as_bytes(),
    );
    let windowed = forecast_1d(&trace, &["--history", "28d"]);
    assert_eq!(windowed, forecast_1d(&cut, &[]));
    assert_ne!(windowed, forecast_1d(&trace, &[]));
}

/// A `--history` window with less than the 2 days of known data a model
/// needs is refused, as `recommend` refuses such a workload (it forecast
/// from 4 samples); `events --history` lists what a run over that window
/// lists; `--export` with `--cold-start` is refused (nothing was written).
#[test]
fn history_windows_are_checked_and_events_read_the_runs_window() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let taxi = data.join("nab__nyc_taxi.csv");
    let short = homeostat(&[
        "forecast",
        "--input",
        taxi.to_str().unwrap(),
        "--history",
        "2h",
    ]);
    assert_eq!(short.status.code(), Some(2));
    assert!(
        stderr(&short).contains(
            "4 known steps of 30m cover 2h, need at least 2d of usable data (in the last 2h of it, --history)"
        ),
        "{}",
        stderr(&short)
    );
    let fb = data.join("nab__twitter_volume_fb.csv");
    let events = |extra: &[&str]| {
        let mut args = vec!["events", "--input", fb.to_str().unwrap()];
        args.extend_from_slice(extra);
        let run = homeostat(&args);
        assert!(run.status.success(), "{}", stderr(&run));
        serde_json::from_slice::<serde_json::Value>(&run.stdout).unwrap()
    };
    let windowed = events(&["--history", "28d"]);
    // The bundled example's mentions-fb: 28 days of this file, its last
    // spike still going on at the end of the data (recommend's in_spike).
    let report = homeostat(&["recommend", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let fb_plan = report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "mentions-fb")
        .unwrap()
        .clone();
    let last =
        |events: &serde_json::Value| events.as_array().unwrap().last().unwrap()["end"].clone();
    assert_eq!(last(&windowed), last(&fb_plan["events"]));
    assert_eq!(fb_plan["in_spike"], true);
    assert_ne!(events(&[]), windowed);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let both = homeostat(&[
        "evaluate",
        "--input",
        data.to_str().unwrap(),
        "--cold-start",
        "6h",
        "--export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("--export"), "{}", stderr(&both));
}

#[test]
fn forecast_reads_parquet_like_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "load.csv", daily_csv(3).as_bytes());
    let timestamps: Vec<i64> = (0..3 * 288).map(|i| 1_700_006_400 + i * 300).collect();
    let values: Vec<f64> = (0..3 * 288)
        .map(|i| 100.0 + 40.0 * (std::f64::consts::TAU * f64::from(i % 288) / 288.0).sin())
        .collect();
    let parquet = dir.path().join("load.parquet");
    write_parquet(
        &parquet,
        vec![
            Column::new("timestamp".into(), &timestamps),
            Column::new("value".into(), values),
        ],
    );
    let from_csv = homeostat(&[
        "forecast",
        "--input",
        csv.to_str().unwrap(),
        "--horizon",
        "6h",
    ]);
    let from_parquet = homeostat(&[
        "forecast",
        "--input",
        parquet.to_str().unwrap(),
        "--horizon",
        "6h",
    ]);
    assert!(from_parquet.status.success(), "{}", stderr(&from_parquet));
    assert_eq!(stdout(&from_csv), stdout(&from_parquet));

    // A missing value (null, NaN) is a gap, as an empty cell of the CSV
    // is: both read alike.
    let mut holes: Vec<Option<f64>> = read_values(&csv).into_iter().map(Some).collect();
    holes[100] = None;
    holes[200] = Some(f64::NAN);
    let gappy = dir.path().join("gappy.parquet");
    write_parquet(
        &gappy,
        vec![
            Column::new("timestamp".into(), &timestamps),
            Column::new("value".into(), holes.clone()),
        ],
    );
    let text: String = std::iter::once("timestamp,value\n".to_string())
        .chain(timestamps.iter().zip(&holes).map(|(t, v)| match v {
            Some(v) if v.is_finite() => format!("{t},{v}\n"),
            Some(_) => format!("{t},NaN\n"),
            None => format!("{t},\n"),
        }))
        .collect();
    let gappy_csv = write(dir.path(), "gappy.csv", text.as_bytes());
    let [from_gappy, from_gappy_csv] = [gappy, gappy_csv].map(|path| {
        homeostat(&[
            "forecast",
            "--input",
            path.to_str().unwrap(),
            "--horizon",
            "6h",
        ])
    });
    assert!(from_gappy.status.success(), "{}", stderr(&from_gappy));
    assert_eq!(stdout(&from_gappy), stdout(&from_gappy_csv));

    // The same timestamps as a datetime column (milliseconds, as pandas writes).
    let datetimes = dir.path().join("datetimes.parquet");
    let millis: Vec<i64> = (0..3 * 288)
        .map(|i| (1_700_006_400 + i * 300) * 1000)
        .collect();
    write_parquet(
        &datetimes,
        vec![
            Column::new("timestamp".into(), millis)
                .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                .unwrap(),
            Column::new("value".into(), read_values(&csv)),
        ],
    );
    let from_datetimes = homeostat(&[
        "forecast",
        "--input",
        datetimes.to_str().unwrap(),
        "--horizon",
        "6h",
    ]);
    assert!(
        from_datetimes.status.success(),
        "{}",
        stderr(&from_datetimes)
    );
    assert_eq!(stdout(&from_csv), stdout(&from_datetimes));

    // And as RFC3339 text.
    let texts = dir.path().join("texts.parquet");
    let rfc3339: Vec<String> = (0..3 * 288)
        .map(|i| homeostat::core::time::format_timestamp(1_700_006_400 + i * 300))
        .collect();
    write_parquet(
        &texts,
        vec![
            Column::new("timestamp".into(), rfc3339),
            Column::new("value".into(), read_values(&csv)),
        ],
    );
    let from_texts = homeostat(&[
        "forecast",
        "--input",
        texts.to_str().unwrap(),
        "--horizon",
        "6h",
    ]);
    assert!(from_texts.status.success(), "{}", stderr(&from_texts));
    assert_eq!(stdout(&from_csv), stdout(&from_texts));
}

/// The value column of a CSV written by `daily_csv`.
fn read_values(csv: &Path) -> Vec<f64> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(1).unwrap().parse().unwrap())
        .collect()
}

fn write_parquet(path: &Path, columns: Vec<Column>) {
    let mut frame =
        DataFrame::new_infer_height(columns.into_iter().map(Into::into).collect()).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut frame)
        .unwrap();
}

#[test]
fn bad_parquet_input_names_the_row_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let timestamps: Vec<i64> = (0..4).map(|i| 1_700_006_400 + i * 300).collect();
    let cases: Vec<(&str, Vec<Column>, &str)> = vec![
        (
            "text.parquet",
            vec![
                Column::new("timestamp".into(), &timestamps),
                Column::new("value".into(), ["1", "2", "abc", "4"]),
            ],
            "row 3: cannot parse value `abc`",
        ),
        (
            "negative.parquet",
            vec![
                Column::new("timestamp".into(), &timestamps),
                Column::new("value".into(), [1.0, 2.0, 3.0, -4.0]),
            ],
            "row 4: value -4 is negative",
        ),
        (
            "millis.parquet",
            vec![
                Column::new(
                    "timestamp".into(),
                    timestamps.iter().map(|t| t * 1000).collect::<Vec<_>>(),
                ),
                Column::new("value".into(), [1.0, 2.0, 3.0, 4.0]),
            ],
            "row 1: timestamp 1700006400000 is beyond the year 2286",
        ),
        (
            "no-value.parquet",
            vec![
                Column::new("timestamp".into(), &timestamps),
                Column::new("load".into(), [1.0, 2.0, 3.0, 4.0]),
            ],
            "missing column `value`: the header is `timestamp,load`",
        ),
    ];
    for (name, columns, expected) in cases {
        let path = dir.path().join(name);
        write_parquet(&path, columns);
        let output = homeostat(&["forecast", "--input", path.to_str().unwrap()]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{name}: {message}");
        assert!(message.contains(name), "{name}: {message}");
        assert!(
            message.contains(expected),
            "{name}: {message:?} should contain {expected:?}"
        );
    }
    let garbage = write(dir.path(), "garbage.parquet", b"PAR1 but not really");
    let output = homeostat(&["forecast", "--input", garbage.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("garbage.parquet: not a readable Parquet file"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn every_bad_input_gets_exit_code_2_and_names_file_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = daily_csv(3);
    let with_bad_row = |row: &str| {
        let mut lines: Vec<&str> = good.lines().collect();
        lines[5] = row;
        lines.join("\n").into_bytes()
    };
    // "5é" in Latin-1: a byte that is never valid UTF-8 on its own.
    let mut latin1 = with_bad_row("1700007900,5X");
    let x = latin1.iter().position(|&b| b == b'X').unwrap();
    latin1[x] = 0xE9;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.csv", Vec::new(), "empty.csv: file is empty"),
        (
            "header-only.csv",
            b"timestamp,value\n".to_vec(),
            "has a header but no data rows",
        ),
        (
            "no-header.csv",
            good.lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
            "missing column `timestamp`",
        ),
        (
            "no-value.csv",
            b"timestamp,load\n1,2\n".to_vec(),
            "missing column `value`",
        ),
        (
            "bad-ts.csv",
            with_bad_row("yesterday,5"),
            "line 6: cannot parse timestamp `yesterday`",
        ),
        (
            "bad-value.csv",
            with_bad_row("1700007900,lots"),
            "line 6: cannot parse value `lots`",
        ),
        (
            "inf-text.csv",
            with_bad_row("1700007900,Infinity"),
            "line 6: value `Infinity` is not finite",
        ),
        (
            "inf.csv",
            with_bad_row("1700007900,-inf"),
            "line 6: value `-inf` is not finite",
        ),
        (
            "negative.csv",
            with_bad_row("1700007900,-1"),
            "line 6: value `-1` is negative",
        ),
        ("latin1.csv", latin1, "line 6: bytes are not valid UTF-8"),
        (
            "short.csv",
            daily_csv(1).into_bytes(),
            "need at least 2d of usable data",
        ),
        ("load.json", b"{}".to_vec(), "unsupported file type"),
    ];
    for (name, bytes, expected) in cases {
        let path = write(dir.path(), name, &bytes);
        let output = homeostat(&["forecast", "--input", path.to_str().unwrap()]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{name}: {message}");
        assert!(
            message.contains(name),
            "{name}: message does not name the file: {message}"
        );
        assert!(
            message.contains(expected),
            "{name}: {message:?} should contain {expected:?}"
        );
        assert!(!message.contains("panicked"), "{name}: {message}");
    }
    let missing = homeostat(&["forecast", "--input", "no/such/file.csv"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no/such/file.csv: cannot read file"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn bad_arguments_and_configs_exit_2() {
    let bad_level = homeostat(&[
        "forecast",
        "--input",
        "data/nab__nyc_taxi.csv",
        "--level",
        "120",
    ]);
    assert_eq!(bad_level.status.code(), Some(2));
    assert!(
        stderr(&bad_level).contains("got 120"),
        "{}",
        stderr(&bad_level)
    );
    let bad_horizon = homeostat(&["forecast", "--input", "x.csv", "--horizon", "soon"]);
    assert_eq!(bad_horizon.status.code(), Some(2));
    // A cold start of a minute is no cold start (`m` is minutes).
    let minute = homeostat(&["backtest", "--cold-start", "1m"]);
    assert_eq!(minute.status.code(), Some(2));
    assert!(
        stderr(&minute)
            .contains("--cold-start 1m: a cold start is replayed from 1h to under 14d of history"),
        "{}",
        stderr(&minute)
    );
    // Nor is a replay of a second.
    let second = homeostat(&["backtest", "--span", "1s"]);
    assert_eq!(second.status.code(), Some(2));
    assert!(
        stderr(&second).contains("--span 1s: a replay under an hour"),
        "{}",
        stderr(&second)
    );
    // A fleet too young for any workload's own model: its config could not run.
    let young = tempfile::tempdir().unwrap();
    let one_day = homeostat(&[
        "synth",
        "--days",
        "1d",
        "--output",
        young.path().to_str().unwrap(),
    ]);
    assert_eq!(one_day.status.code(), Some(2));
    assert!(
        stderr(&one_day)
            .contains("at least 2 days, the history a workload's own model needs, got 1d"),
        "{}",
        stderr(&one_day)
    );
    assert!(!young.path().join("homeostat.yaml").exists());
    // --shard on a command that reads no config is refused, not ignored
    // (the whole input would run and look like one shard's work).
    for args in [
        &["forecast", "--input", "data/nab__nyc_taxi.csv"][..],
        &["evaluate", "--input", "data"][..],
    ] {
        let sharded = homeostat(&[args, &["--shard", "0/2"]].concat());
        assert_eq!(sharded.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&sharded).contains("--shard selects a config's workloads"),
            "{}",
            stderr(&sharded)
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "bad.yaml", b"workloads:\n  - name: a\n    file: a.csv\n    target_per_replica: 5\n    headroom: 1.2\n    colour: blue\n");
    let output = homeostat(&["recommend", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("colour"), "{}", stderr(&output));
}

#[test]
fn one_bad_workload_does_not_stop_the_others_and_exit_code_is_1() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.csv", daily_csv(3).as_bytes());
    write(dir.path(), "broken.csv", b"timestamp,value\n1,abc\n");
    let config = write(
        dir.path(),
        "homeostat.yaml",
        b"workloads:\n  - name: good\n    file: good.csv\n    target_per_replica: 10\n  - name: broken\n    file: broken.csv\n    target_per_replica: 10\n  - name: gone\n    file: gone.csv\n    target_per_replica: 10\n",
    );
    let output = homeostat(&[
        "recommend",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let workloads = report["workloads"].as_array().unwrap();
    let status: Vec<&str> = workloads
        .iter()
        .map(|w| w["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["ok", "error", "error"]);
    assert!(workloads[1]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("broken.csv: line 2: cannot parse value `abc`"));
    assert!(workloads[2]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("gone.csv: cannot read file"));
}

#[test]
fn at_uses_only_data_up_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let full = daily_csv(6);
    // The same history, then two days of a tenfold load after "now".
    let mut changed = daily_csv(4);
    for i in 4 * 288..6 * 288 {
        let _ = writeln!(changed, "{},1000", 1_700_006_400 + i * 300);
    }
    write(dir.path(), "a.csv", full.as_bytes());
    write(dir.path(), "b.csv", changed.as_bytes());
    let config = write(
        dir.path(),
        "homeostat.yaml",
        b"workloads:\n  - name: w\n    file: a.csv\n    target_per_replica: 10\n  - name: w\n    namespace: other\n    file: b.csv\n    target_per_replica: 10\n",
    );
    let at = (1_700_006_400 + (4 * 288 - 1) * 300).to_string();
    let output = homeostat(&[
        "recommend",
        "--config",
        config.to_str().unwrap(),
        "--at",
        &at,
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let [a, b] = [&report["workloads"][0], &report["workloads"][1]];
    assert_eq!(a["now"], "2023-11-18T23:55:00Z");
    for key in [
        "min_replicas",
        "max_replicas",
        "expected_load",
        "model",
        "reasons",
    ] {
        let strip = |v: &serde_json::Value| v.to_string().replace("a.csv", "").replace("b.csv", "");
        assert_eq!(strip(&a[key]), strip(&b[key]), "{key}");
    }
    // An `--at` before the file's data says where the data is.
    let before = crate::support::recommend_json(&config, 1_577_836_800, &[], &[]); // 2020-01-01
    assert_eq!(before.status.code(), Some(1), "{}", stderr(&before));
    let report: serde_json::Value = serde_json::from_str(&stdout(&before)).unwrap();
    let a = &report["workloads"][0];
    assert_eq!(a["status"], "insufficient_data");
    let reason = a["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("no samples in the history window 28d up to 2020-01-01T00:00:00Z; the file holds 2023-11-15T00:00:00Z to"),
        "{reason}"
    );
}

#[test]
fn bundled_example_runs_and_its_json_report_matches_the_snapshot() {
    let output = homeostat(&["--log-format", "json", "recommend", "--format", "json"]);
    assert_eq!(
        output.status.code(),
        Some(BUNDLED_EXIT),
        "{}",
        stderr(&output)
    );
    // The log's summary says where the exit code 1 comes from.
    let finished = crate::support::run_summary(&output.stderr);
    assert_eq!(
        (
            finished["ok"].as_u64(),
            finished["spike_above_max"].as_u64()
        ),
        (Some(7), Some(1)),
        "{finished}"
    );
    let mut report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(report["generated_at"].as_str().unwrap().ends_with('Z'));
    report["generated_at"] = "[generated_at]".into();
    for workload in report["workloads"].as_array().unwrap() {
        assert_eq!(workload["status"], "ok", "{workload}");
        let (min, max) = (
            workload["min_replicas"].as_u64().unwrap(),
            workload["max_replicas"].as_u64().unwrap(),
        );
        assert!(min >= 1 && min <= max, "{workload}");
    }
    insta::assert_snapshot!(serde_json::to_string_pretty(&report).unwrap());
}

#[test]
fn evaluate_scores_every_series_and_lists_the_ones_it_could_not() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", noisy_daily_csv(10, 1).as_bytes());
    write(dir.path(), "b.csv", noisy_daily_csv(9, 2).as_bytes());
    write(dir.path(), "short.csv", noisy_daily_csv(8, 3).as_bytes());
    write(dir.path(), "notes.txt", b"not a series");
    let input = dir.path().to_str().unwrap();
    let output = homeostat(&["evaluate", "--input", input, "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let series: Vec<&str> = report["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["series"].as_str().unwrap())
        .collect();
    assert_eq!(series, ["a", "b"]);
    assert_eq!(report["failures"][0]["series"], "short");
    assert!(
        stderr(&output).contains("short: not evaluated"),
        "{}",
        stderr(&output)
    );
    // A daily cycle with Gaussian noise: the model beats seasonal naive
    // (whose error is √2 times the noise) and its interval covers.
    let mase = report["summary"]["7d"]["mase"]["median"].as_f64().unwrap();
    assert!(mase < 0.9, "{mase}");
    let coverage = report["summary"]["7d"]["coverage"]["mean"]
        .as_f64()
        .unwrap();
    assert!((0.8..=1.0).contains(&coverage), "{coverage}");
    let first = &report["series"][0];
    assert_eq!(first["test_steps"], 7 * 288);
    assert_eq!(first["scores"][1]["horizon"], "1d");
    // The forecast `recommend` uses, scored beside the bare model: on a
    // series without events the two are the same.
    assert_eq!(first["adapted"][1]["horizon"], "1d");
    let adapted = report["summary"]["7d"]["adapted_mase"]["median"]
        .as_f64()
        .unwrap();
    assert!((adapted - mase).abs() <= 0.05 * mase, "{adapted} vs {mase}");
    // Per horizon, the first six hours and hour too; the quantile forecast
    // scored by CRPS, better than seasonal naive's.
    let horizons: Vec<&str> = first["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["horizon"].as_str().unwrap())
        .collect();
    assert_eq!(horizons, ["7d", "1d", "6h", "1h"]);
    let crps_rel = report["summary"]["1d"]["crps_rel"]["median"]
        .as_f64()
        .unwrap();
    assert!(crps_rel < 1.0, "{crps_rel}");

    let table = homeostat(&["evaluate", "--input", input, "--test", "1d"]);
    assert!(
        stdout(&table).contains("[median of 3]"),
        "{}",
        stdout(&table)
    );
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let csv = homeostat(&[
        "evaluate", "--input", input, "--test", "1d", "--format", "csv",
    ]);
    // With a one-day test span: the day, its first six hours and hour.
    assert_eq!(stdout(&csv).lines().count(), 1 + 3 * 3);
    assert!(
        stdout(&csv)
            .lines()
            .next()
            .unwrap()
            .ends_with(",adapted_mase,adapted_coverage,crps,crps_rel"),
        "{}",
        stdout(&csv)
    );

    let empty = tempfile::tempdir().unwrap();
    let none = homeostat(&["evaluate", "--input", empty.path().to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no .csv or .parquet series"),
        "{}",
        stderr(&none)
    );
}

/// A cold start is simulated from whole hours, up to two weeks (when a
/// workload's own model takes over): other spans are refused by name, and
/// each span is scored once however often it is asked for.
#[test]
fn evaluate_cold_start_refuses_spans_it_cannot_simulate_and_scores_each_once() {
    for span in ["30m", "90m", "14d", "20d"] {
        let refused = homeostat(&["evaluate", "--input", "data", "--cold-start", span]);
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{span}: {}",
            stderr(&refused)
        );
        assert!(
            stderr(&refused).contains(&format!("--cold-start {span}: "))
                && stderr(&refused).contains("from 1h to under 14d"),
            "{span}: {}",
            stderr(&refused)
        );
    }
    let json = homeostat(&[
        "evaluate",
        "--input",
        "data",
        "--cold-start",
        "24h,6h,24h",
        "--format",
        "json",
    ]);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let series = report["series"].as_array().unwrap();
    let summary = report["summary"].as_array().unwrap();
    let hours: Vec<i64> = summary
        .iter()
        .map(|s| s["hours"].as_i64().unwrap())
        .collect();
    assert_eq!(hours, [6, 24]);
    for s in summary {
        let at = series.iter().filter(|x| x["hours"] == s["hours"]).count();
        assert_eq!(s["series"].as_u64().unwrap() as usize, at);
        assert_eq!(at, 13, "every bundled trace once per span");
    }
}

#[test]
fn output_writes_the_same_report_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let to_file = homeostat(&[
        "recommend",
        "--format",
        "json",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert_eq!(
        to_file.status.code(),
        Some(BUNDLED_EXIT),
        "{}",
        stderr(&to_file)
    );
    assert!(to_file.stdout.is_empty());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let printed: serde_json::Value =
        serde_json::from_str(&stdout(&homeostat(&["recommend", "--format", "json"]))).unwrap();
    assert_eq!(written["workloads"], printed["workloads"]);
    // Nothing is left behind but the report.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn output_to_a_fifo_or_through_a_symlink_writes_there_and_leaves_it_what_it_was() {
    use std::os::unix::fs::FileTypeExt as _;
    // `--output /dev/null` once replaced /dev/null itself with a file (a
    // report renamed into place, as root): a FIFO stands for any special
    // file here, without touching the machine's own.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let piped = homeostat(&[
        "recommend",
        "--format",
        "json",
        "--output",
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(
        piped.status.code(),
        Some(BUNDLED_EXIT),
        "{}",
        stderr(&piped)
    );
    // Checked before reading: a FIFO replaced by a file would leave the
    // reader waiting for ever.
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let report: serde_json::Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert!(report["workloads"]
        .as_array()
        .is_some_and(|w| !w.is_empty()));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );

    // A symlink stays a link; the file it points to gets the report.
    let target = dir.path().join("elsewhere.md");
    std::fs::write(&target, "old").unwrap();
    let link = dir.path().join("report.md");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let linked = homeostat(&[
        "recommend",
        "--format",
        "markdown",
        "--output",
        link.to_str().unwrap(),
    ]);
    assert_eq!(
        linked.status.code(),
        Some(BUNDLED_EXIT),
        "{}",
        stderr(&linked)
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&target)
        .unwrap()
        .contains("workloads"));
}

#[test]
fn config_check_reads_every_file_lists_every_problem_and_touches_no_server() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.csv", daily_csv(3).as_bytes());
    // A value no load reaches (the rule: at most 1e15), on line 2.
    let mut huge = daily_csv(3);
    huge = huge.replacen(",100\n", ",1e300\n", 1);
    write(dir.path(), "huge.csv", huge.as_bytes());
    // Port 9 (discard) has nothing listening here: a run would fail on it.
    let config = write(
        dir.path(),
        "homeostat.yaml",
        b"prometheus: {url: 'http://127.0.0.1:9'}\n\
          workloads:\n\
          - {name: good, file: good.csv, target_per_replica: 10}\n\
          - {name: huge, file: huge.csv, target_per_replica: 10}\n\
          - {name: gone, file: missing.csv, target_per_replica: 10}\n\
          - {name: queried, query: 'sum(rate(x[5m]))', target_per_replica: 10}\n",
    );
    let checked = homeostat(&["config", "check", "--config", config.to_str().unwrap()]);
    let out = stdout(&checked);
    assert_eq!(checked.status.code(), Some(1), "{out}{}", stderr(&checked));
    assert!(
        out.contains(
            "configuration read: 4 workloads (3 files, 1 query); 2 problems below that a run would fail on"
        ),
        "{out}"
    );
    assert!(out.contains("default/good: ok: 864 samples from "), "{out}");
    assert!(
        out.contains("default/huge: error: ")
            && out.contains("line 2: value `1e300` is above 1e15"),
        "{out}"
    );
    assert!(
        out.contains("default/gone: error: ") && out.contains("missing.csv"),
        "{out}"
    );
    assert!(out.contains("default/queried: query: not run"), "{out}");

    // An invalid configuration is refused as a run would refuse it.
    let bad = write(
        dir.path(),
        "bad.yaml",
        b"workloads:\n  - {name: good, file: good.csv, target_per_replica: 10, headrom: 2}\n",
    );
    let refused = homeostat(&["config", "check", "--config", bad.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("unknown field `headrom`"),
        "{}",
        stderr(&refused)
    );
    // A history too short for any model of its own: every run would end
    // in insufficient_data, so the check says so before one does.
    let short = write(
        dir.path(),
        "short.yaml",
        b"defaults: {history: 36h}\nworkloads:\n  - {name: good, file: good.csv, target_per_replica: 10}\n",
    );
    let refused = homeostat(&["config", "check", "--config", short.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("workload default/good: history: 36h is shorter than the 2d"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn bundled_example_table_lists_every_workload() {
    let output = homeostat(&["recommend"]);
    assert_eq!(
        output.status.code(),
        Some(BUNDLED_EXIT),
        "{}",
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(text.starts_with("NAMESPACE"), "{text}");
    for name in [
        "taxi-dispatch",
        "www",
        "frontend",
        "mentions-fb",
        "worker",
        "cluster-job",
        "vm-memory",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
}

#[test]
fn events_finds_an_injected_spike_and_writes_the_design_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("timestamp,value\n");
    let values = homeostat::core::synthetic::load(14, 300, 100.0, 40.0, 0.0, 0.0, 3.0, 5);
    for (i, value) in (0i64..).zip(values) {
        // A 2-hour ×4 spike on day 10.
        let value = if (10 * 288 + 100..10 * 288 + 124).contains(&i) {
            value * 4.0
        } else {
            value
        };
        let _ = writeln!(text, "{},{value}", 1_700_006_400 + i * 300);
    }
    let input = write(dir.path(), "load.csv", text.as_bytes());
    let output = homeostat(&["events", "--input", input.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let events: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let spike = &events[0];
    assert_eq!(spike["kind"], "spike");
    assert_eq!(spike["start"], "2023-11-25T08:20:00Z");
    assert_eq!(spike["end"], "2023-11-25T10:20:00Z");
    let ratio = spike["after"].as_f64().unwrap() / spike["before"].as_f64().unwrap();
    assert!(ratio > 3.0, "{spike}");
    let bad = homeostat(&[
        "events",
        "--input",
        input.to_str().unwrap(),
        "--min-change",
        "150",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let said = stderr(&bad);
    assert!(
        said.contains("--min-change") && said.contains("a percentage between 0 and 100"),
        "{said}"
    );
}

#[test]
fn backtest_replays_every_workload_in_every_format_and_names_the_ones_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "api.csv", noisy_daily_csv(20, 5).as_bytes());
    let config = write(
        dir.path(),
        "homeostat.yaml",
        b"defaults:\n  history: 14d\n  horizon: 1d\nworkloads:\n  - name: api\n    file: api.csv\n    target_per_replica: 10\n    current: {min_replicas: 2, max_replicas: 20}\n  - name: no-current\n    file: api.csv\n    target_per_replica: 10\n",
    );
    let config = config.to_str().unwrap();
    let csv = homeostat(&[
        "backtest", "--config", config, "--span", "3d", "--format", "csv",
    ]);
    assert_eq!(csv.status.code(), Some(1), "{}", stderr(&csv));
    let text = stdout(&csv);
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].starts_with("namespace,name,from,to,policy,overload_minutes"));
    let policies: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(4).unwrap())
        .collect();
    assert_eq!(
        policies,
        ["reactive", "tight", "horizon", "schedule", "oracle"]
    );
    assert!(
        stderr(&csv).contains("default/no-current: not replayed"),
        "{}",
        stderr(&csv)
    );

    let json = homeostat(&[
        "backtest", "--config", config, "--span", "3d", "--format", "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let api = &report["workloads"][0];
    assert_eq!(api["replans"].as_array().unwrap().len(), 3);
    // The report says how it was replayed.
    assert_eq!(report["settings"]["span"], "3d");
    assert_eq!(report["settings"]["apply_every"], "15m");
    assert!(api["verdict"]
        .as_str()
        .unwrap()
        .starts_with("reactive had "));
    // 17 days before the replay: the tight rule had its week.
    assert!(!api["verdict"].as_str().unwrap().contains("tight rests"));
    // A span as long as the data leaves the tight rule no load to read.
    let all = homeostat(&[
        "backtest",
        "--config",
        config,
        "--span",
        "20d",
        "--workload",
        "api",
        "--format",
        "json",
    ]);
    let all: serde_json::Value = serde_json::from_str(&stdout(&all)).unwrap();
    let verdict = all["workloads"][0]["verdict"].as_str().unwrap();
    assert!(
        verdict.contains("; tight has no load before the replay to set its range from (its rule reads the last week and 28 days): no baseline here"),
        "{verdict}"
    );
    let policies = api["policies"].as_array().unwrap();
    let names: Vec<&str> = policies
        .iter()
        .map(|p| p["policy"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["reactive", "tight", "horizon", "schedule", "oracle"]
    );
    for key in [
        "overload_minutes",
        "overload_share",
        "unserved_share",
        "replica_hours",
        "changes",
    ] {
        assert!(policies[0][key].is_number(), "{key}: {}", policies[0]);
    }
    assert!(policies[4]["overload_minutes"].as_f64().unwrap().abs() < f64::EPSILON);
    // Run-to-run stability of the replans.
    for key in ["max_changed_share", "largest_max_jump", "pages_per_week"] {
        assert!(
            api["stability"][key].is_number(),
            "{key}: {}",
            api["stability"]
        );
    }
    let fleet: Vec<&str> = report["fleet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["policy"].as_str().unwrap())
        .collect();
    assert_eq!(fleet, ["horizon", "schedule"]);

    // No buffer, and a schedule sized for the upper end of a 50% interval.
    let cautious = homeostat(&[
        "backtest",
        "--config",
        config,
        "--span",
        "3d",
        "--workload",
        "api",
        "--buffer",
        "0s",
        "--schedule-level",
        "50",
        "--format",
        "json",
    ]);
    assert_eq!(cautious.status.code(), Some(0), "{}", stderr(&cautious));
    let bad_level = homeostat(&["backtest", "--config", config, "--schedule-level", "100"]);
    assert_eq!(bad_level.status.code(), Some(2));
    assert!(
        stderr(&bad_level).contains("--schedule-level"),
        "{}",
        stderr(&bad_level)
    );

    let one = homeostat(&[
        "backtest",
        "--config",
        config,
        "--span",
        "3d",
        "--workload",
        "api",
        "--format",
        "csv",
    ]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert_eq!(stdout(&one).lines().count(), 6);
    let none = homeostat(&["backtest", "--config", config, "--workload", "nope"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("--workload nope"),
        "{}",
        stderr(&none)
    );

    let table = homeostat(&["backtest", "--config", config, "--span", "3d"]);
    assert!(
        stdout(&table).contains("default/api: reactive had "),
        "{}",
        stdout(&table)
    );
}

#[test]
fn config_check_reads_the_prometheus_secrets_and_headers_a_run_would_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    let check = |prometheus: &str| {
        let config = write(
            dir.path(),
            "homeostat.yaml",
            format!("prometheus:\n  url: http://127.0.0.1:9\n{prometheus}workloads:\n  - {{name: api, namespace: web, query: 'sum(rate(http_requests_total[5m]))', target_per_replica: 10}}\n").as_bytes(),
        );
        homeostat(&["config", "check", "--config", config.to_str().unwrap()])
    };
    for (setting, expected) in [
        (
            "  bearer_token_file: /no/such/token\n",
            "cannot read /no/such/token",
        ),
        (
            "  ca_file: /no/such/ca.pem\n",
            "cannot read /no/such/ca.pem",
        ),
        (
            "  headers: {'bad header': x}\n",
            "`bad header` is not a valid header name",
        ),
    ] {
        let out = check(setting);
        let text = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{setting}: {text}{}",
            stderr(&out)
        );
        assert!(
            text.contains("prometheus: error:") && text.contains(expected),
            "{setting}: {text}"
        );
    }
    let out = check("  insecure_skip_verify: true\n");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("prometheus: settings usable"), "{text}");
    assert!(text.contains("insecure_skip_verify"), "{text}");
    // Alertmanager and the Pushgateway are read as a run reads them too.
    let out = check(
        "alertmanager: {url: 'http://127.0.0.1:9', bearer_token_env: HOMEOSTAT_TEST_UNSET_TOKEN}\npushgateway: {url: 'http://127.0.0.1:9'}\n",
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("alertmanager: error:")
            && text.contains("HOMEOSTAT_TEST_UNSET_TOKEN is not set")
            && text.contains("pushgateway: settings usable"),
        "{text}"
    );
}
