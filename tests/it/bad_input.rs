//! Bad input (issue 10): every case of docs/reliability.md's table, each
//! a workload of one run beside a good one. None may panic or stop the
//! others; each gets its documented rule or a clear error naming the file,
//! the line and the value. Config mistakes are refused before anything
//! runs, naming the key, the line or the workload.

use crate::support;

use crate::support::{homeostat, recommend_json};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The good workload's last sample: "now" for the whole run (`--at`),
/// 2023-10-30T23:55:00Z. Its three days hold the end of Berlin's summer
/// time (2023-10-29, 03:00 CEST back to 02:00 CET, at 01:00 UTC).
const END: i64 = 1_698_710_100;
const DST_END: i64 = 1_698_541_200;

fn load(i: i64) -> f64 {
    let phase = std::f64::consts::TAU * (i % 288) as f64 / 288.0;
    (100.0 + 40.0 * phase.sin()).round()
}

/// `timestamp,value` CSV of 5-minute steps `0..steps` ending at `end`,
/// each row made by `row(i, ts, value)` (`None` leaves it out).
fn csv(steps: i64, end: i64, row: impl Fn(i64, i64, f64) -> Option<String>) -> Vec<u8> {
    let mut text = String::from("timestamp,value\n");
    for i in 0..steps {
        let ts = end - (steps - 1 - i) * 300;
        if let Some(line) = row(i, ts, load(i)) {
            let _ = writeln!(text, "{line}");
        }
    }
    text.into_bytes()
}

/// Up to ±40 s off the grid, pseudo-random (a scrape's timing).
fn jitter(i: i64) -> i64 {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    (x % 81) as i64 - 40
}

fn plain(steps: i64, end: i64) -> Vec<u8> {
    csv(steps, end, |_, ts, v| Some(format!("{ts},{v}")))
}

/// One row of the table: name, file name, bytes; the status expected and
/// the words its reasons must hold.
struct Case {
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    status: &'static str,
    says: Vec<&'static str>,
}

fn case(
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    status: &'static str,
    says: &[&'static str],
) -> Case {
    Case {
        name,
        file,
        bytes,
        status,
        says: says.to_vec(),
    }
}

fn with_value_on_line_3(value: &str) -> Vec<u8> {
    let value = value.to_string();
    csv(864, END, move |i, ts, v| {
        Some(if i == 1 {
            format!("{ts},{value}")
        } else {
            format!("{ts},{v}")
        })
    })
}

fn cases() -> Vec<Case> {
    let days = 864; // three days of 5-minute steps
    let mut non_utf8 = plain(days, END);
    let line_5 = non_utf8
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(3)
        .unwrap()
        .0;
    non_utf8.insert(line_5 + 3, 0xff);
    // Berlin wall-clock times: with offsets they are exact; without, read
    // as UTC, the hour 02:00-02:55 of 2023-10-29 comes twice.
    let berlin = |ts: i64| {
        let offset = if ts < DST_END { 7200 } else { 3600 };
        chrono::DateTime::from_timestamp(ts + offset, 0)
            .unwrap()
            .naive_utc()
    };
    let offsets = csv(days, END, |_, ts, v| {
        let local = berlin(ts);
        let sign = if ts < DST_END { "+02:00" } else { "+01:00" };
        Some(format!("{}{sign},{v}", local.format("%Y-%m-%dT%H:%M:%S")))
    });
    let naive = csv(days, END, |_, ts, v| {
        Some(format!("{},{v}", berlin(ts).format("%Y-%m-%d %H:%M:%S")))
    });
    let mut shuffled: Vec<String> = String::from_utf8(plain(days, END))
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    // A fixed shuffle: reverse, then interleave halves.
    shuffled.reverse();
    let (a, b) = shuffled.split_at(shuffled.len() / 2);
    let unsorted: String = std::iter::once("timestamp,value".to_string())
        .chain(a.iter().zip(b).flat_map(|(x, y)| [x.clone(), y.clone()]))
        .map(|l| l + "\n")
        .collect();
    // One header line of 50 MB: it once took all the memory of the run.
    let mut wide = b"timestamp,value".to_vec();
    while wide.len() < 50 << 20 {
        wide.extend_from_slice(b",extra_column_with_a_long_name");
    }
    wide.push(b'\n');
    wide.extend_from_slice(&plain(days, END)[16..]);
    let mut long_header = b"timestamp,".to_vec();
    long_header.extend(std::iter::repeat_n(b'x', 60_000));
    long_header.extend_from_slice(&plain(days, END)[15..]);
    let classic_mac: Vec<u8> = plain(days, END)
        .into_iter()
        .map(|b| if b == b'\n' { b'\r' } else { b })
        .collect();
    vec![
        case(
            "a 50 MB header line",
            "wide.csv",
            wide,
            "error",
            &[
                "wide.csv",
                "the header line is 52428",
                "bytes long (it starts `timestamp,value,extra_column_with_a_long…`)",
                "no header over 65536 bytes is read",
            ],
        ),
        case(
            "a 60 KB header without `value`",
            "long-header.csv",
            long_header,
            "error",
            &[
                "missing column `value`: the header is `timestamp,xxx",
                "(60010 characters)",
            ],
        ),
        case(
            "CR-only line ends (classic Mac)",
            "classic-mac.csv",
            classic_mac,
            "ok",
            &[],
        ),
        case(
            "empty file",
            "empty.csv",
            Vec::new(),
            "error",
            &["empty.csv", "file is empty"],
        ),
        case(
            "header only",
            "header.csv",
            b"timestamp,value\n".to_vec(),
            "error",
            &["has a header but no data rows"],
        ),
        case(
            "missing column",
            "missing.csv",
            b"timestamp,load\n1700000000,5\n".to_vec(),
            "error",
            &["missing column `value`"],
        ),
        case(
            "extra columns are ignored",
            "extra.csv",
            String::from_utf8(csv(days, END, |_, ts, v| Some(format!("{ts},{v},web-1"))))
                .unwrap()
                .replacen("timestamp,value\n", "timestamp,value,host\n", 1)
                .into_bytes(),
            "ok",
            &["864 steps of 5m"],
        ),
        case(
            "non-UTF-8 bytes",
            "latin1.csv",
            non_utf8,
            "error",
            &["line 5", "not valid UTF-8"],
        ),
        case(
            "unparsable timestamp",
            "when.csv",
            csv(days, END, |i, ts, v| {
                Some(if i == 1 {
                    format!("26/02/2014 10:00,{v}")
                } else {
                    format!("{ts},{v}")
                })
            }),
            "error",
            &["line 3", "cannot parse timestamp `26/02/2014 10:00`"],
        ),
        case(
            "RFC3339 offsets across a DST change",
            "offsets.csv",
            offsets,
            "ok",
            &["864 steps of 5m"],
        ),
        case(
            "naive local times with a DST hour twice",
            "local.csv",
            naive,
            "ok",
            &["12 samples merged into a step that already had one (their mean)"],
        ),
        case(
            "unsorted rows",
            "unsorted.csv",
            unsorted.into_bytes(),
            "ok",
            &["864 steps of 5m"],
        ),
        case(
            "duplicate timestamps",
            "twice.csv",
            csv(days, END, |i, ts, v| {
                Some(if i % 100 == 0 {
                    format!("{ts},{v}\n{ts},{}", v + 10.0)
                } else {
                    format!("{ts},{v}")
                })
            }),
            "ok",
            &["9 samples merged into a step that already had one (their mean)"],
        ),
        case(
            "irregular steps",
            "jitter.csv",
            csv(days, END, |i, ts, v| {
                Some(format!(
                    "{},{v}",
                    if i + 1 == days { ts } else { ts + jitter(i) }
                ))
            }),
            "ok",
            &["steps of 5m"],
        ),
        case(
            "NaN",
            "nan.csv",
            with_value_on_line_3("NaN"),
            // A missing sample (pandas and Grafana write NaN), not a bad
            // row: a gap of one step, filled between its neighbours.
            "ok",
            &["864 steps of 5m"],
        ),
        case(
            "+Inf",
            "inf.csv",
            with_value_on_line_3("inf"),
            "error",
            &["line 3", "value `inf` is not finite"],
        ),
        case(
            "-Inf",
            "neginf.csv",
            with_value_on_line_3("-inf"),
            "error",
            &["line 3", "value `-inf` is not finite"],
        ),
        case(
            "negative value",
            "negative.csv",
            with_value_on_line_3("-3.5"),
            "error",
            &["line 3", "value `-3.5` is negative"],
        ),
        case(
            "1e300",
            "huge.csv",
            with_value_on_line_3("1e300"),
            "error",
            &["line 3", "value `1e300` is above 1e15"],
        ),
        case(
            "a single sample",
            "single.csv",
            format!("timestamp,value\n{END},5\n").into_bytes(),
            "insufficient_data",
            &[
                "single.csv: only 1 sample (at ",
                "a step cannot be inferred from one",
            ],
        ),
        case(
            "one day only",
            "day.csv",
            plain(288, END),
            "insufficient_data",
            &["need at least 2d"],
        ),
        case(
            "all zeros",
            "zeros.csv",
            csv(days, END, |_, ts, _| Some(format!("{ts},0"))),
            "insufficient_data",
            &["(every known value is 0): nothing sizes its bounds, so its HPA is left as it is"],
        ),
        case(
            "a constant series",
            "constant.csv",
            csv(days, END, |_, ts, _| Some(format!("{ts},42"))),
            "ok",
            &[],
        ),
        case(
            "a long gap at the end (stale)",
            "stale.csv",
            plain(days, END - 3 * 86_400),
            "insufficient_data",
            &["older than now"],
        ),
        case(
            "not Parquet inside",
            "garbage.parquet",
            b"timestamp,value\n1,2\n".to_vec(),
            "error",
            &[
                "garbage.parquet",
                "is a CSV file by its content",
                "rename it to .csv",
            ],
        ),
    ]
}

#[test]
fn every_bad_file_gets_its_rule_or_a_clear_error_and_the_good_workload_its_bounds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.csv"), plain(864, END)).unwrap();
    let cases = cases();
    let mut yaml = String::from(
        "workloads:\n  - {name: good, file: good.csv, target_per_replica: 20, current: {min_replicas: 2, max_replicas: 10}}\n",
    );
    for (i, c) in cases.iter().enumerate() {
        std::fs::write(dir.path().join(c.file), &c.bytes).unwrap();
        let _ = writeln!(
            yaml,
            "  - {{name: case-{i}, file: {}, target_per_replica: 20, current: {{min_replicas: 2, max_replicas: 10}}}}",
            c.file
        );
    }
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(&config, yaml).unwrap();
    let run = recommend_json(&config, END, &[], &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(1),
        "no panic, exit 1 for the failures: {stderr}"
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let workloads = report["workloads"].as_array().unwrap();
    let good = &workloads[0];
    assert_eq!(good["status"], "ok", "{good}");
    let mut wrong = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let w = &workloads[i + 1];
        assert_eq!(w["name"], format!("case-{i}"));
        let reasons = w["reasons"].to_string();
        // No message quotes a whole file back (a 50 MB header once made a
        // 52 MB report, log line and alert).
        let longest = w["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r.as_str().map_or(0, str::len))
            .max()
            .unwrap_or(0);
        if longest > 1024 {
            wrong.push(format!("{}: a reason of {longest} bytes", c.name));
        }
        if w["status"] != c.status
            || !c
                .says
                .iter()
                .all(|s| reasons.contains(&s.replace('"', "\\\"")))
        {
            wrong.push(format!("{}: {} {reasons}", c.name, w["status"]));
        }
        // Each failure is also logged by name for the batch job.
        if c.status != "ok" {
            assert!(
                stderr.contains(&format!("default/case-{i}")),
                "{}: not logged: {stderr}",
                c.name
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "cases not as documented:\n{}",
        wrong.join("\n")
    );
    // Unsorted rows, and lines ended by CR alone, are the same history as
    // the good file's.
    for same in ["unsorted rows", "CR-only line ends (classic Mac)"] {
        let at = cases.iter().position(|c| c.name == same).unwrap();
        for bound in ["min_replicas", "max_replicas"] {
            assert_eq!(workloads[at + 1][bound], good[bound], "{same}");
        }
    }
    assert!(stderr.len() < 64 * 1024, "stderr of {} bytes", stderr.len());
}

#[test]
fn a_sample_dated_in_the_future_is_refused_by_name_without_at() {
    // Without --at each file's last sample is its "now": a stray row from
    // 2200 would otherwise push the real history out of the window.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.csv"), plain(864, END)).unwrap();
    let mut stray = plain(864, END);
    stray.extend_from_slice(b"7258118400,100\n");
    std::fs::write(dir.path().join("stray.csv"), stray).unwrap();
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        "workloads:\n  - {name: good, file: good.csv, target_per_replica: 20}\n  - {name: stray, file: stray.csv, target_per_replica: 20}\n",
    )
    .unwrap();
    let run = homeostat(&[
        "recommend",
        "--config",
        config.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["workloads"][0]["status"], "ok");
    let stray = &report["workloads"][1];
    assert_eq!(stray["status"], "error");
    let reason = stray["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("stray.csv: 1 sample(s) dated in the future, the first at 2200-01-01T00:00:00Z (unix 7258118400)"),
        "{reason}"
    );
}

/// `backtest --workload` naming a workload whose name the config cannot
/// read says which entries those are, not only "no workload of that name".
#[test]
fn backtest_of_a_workload_whose_name_is_invalid_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.csv"), plain(864, END)).unwrap();
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        "workloads:\n  - {name: good, file: good.csv, target_per_replica: 20}\n  - {name: a_b, file: good.csv, target_per_replica: 20}\n",
    )
    .unwrap();
    let run = homeostat(&[
        "backtest",
        "--config",
        config.to_str().unwrap(),
        "--workload",
        "a_b",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--workload a_b: no workload of that name in the config; it may be one of those whose names cannot be read: workload #2 (counting from 1): name \"a_b\" is not a Kubernetes name"),
        "{stderr}"
    );
}

/// A config mistake is named with its key, line or workload. One that
/// leaves no workload to run (a setting of the whole config, or every
/// workload wrong) stops the run before anything runs (exit 2); one
/// workload's mistake stops only that workload: the others run, it is
/// reported failed with the problem (exit 1). `config check` refuses
/// both (exit 2).
#[test]
fn config_mistakes_name_key_line_or_workload_and_stop_only_what_they_touch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.csv"), plain(864, END)).unwrap();
    let good = "{name: good, file: good.csv, target_per_replica: 20}";
    // (case, YAML, what stderr says, whether the other workloads run)
    let cases: Vec<(&str, String, Vec<&str>, bool)> = vec![
        ("unknown key", format!("workloads:\n  - {good}\ndefaults:\n  headrom: 1.2\n"), vec!["line 4", "unknown field `headrom`", "expected one of"], false),
        ("wrong type", "workloads:\n  - name: good\n    file: good.csv\n    target_per_replica: lots\n".into(), vec!["line 4", "lots"], false),
        ("duplicate workload names", format!("workloads:\n  - {good}\n  - {good}\n"), vec!["default/good", "defined twice"], true),
        (
            "min floor above max ceiling",
            "workloads:\n  - {name: good, file: good.csv, target_per_replica: 20, min_replicas: {floor: 10}, max_replicas: {ceiling: 5}}\n".into(),
            vec!["good", "floor 10", "ceiling 5"],
            false,
        ),
        (
            "several mistakes at once, all listed",
            format!(
                "workloads:\n  - {good}\n  - {good}\n  - {{name: zero, file: good.csv, target_per_replica: 0}}\n  - {{name: tight, file: good.csv, target_per_replica: 20, min_replicas: {{floor: 10}}, max_replicas: {{ceiling: 5}}}}\n"
            ),
            vec!["default/good: defined twice", "default/zero: target_per_replica", "default/tight: min_replicas.floor 10"],
            true,
        ),
        (
            "one workload's unknown key and wrong type, the others fine",
            format!(
                "workloads:\n  - {good}\n  - {{name: typo, file: good.csv, target_per_replcia: 20}}\n  - name: words\n    file: good.csv\n    target_per_replica: lots\n"
            ),
            vec!["workload default/typo (", "homeostat.yaml:3:34: unknown field `target_per_replcia`", "workload default/words (", "homeostat.yaml:6:25: expected a number (such as 25 or 0.5) (in `target_per_replica: lots`)"],
            true,
        ),
        (
            "an empty file path (it named the config's folder)",
            format!("workloads:\n  - {good}\n  - {{name: blank, file: \"\", target_per_replica: 20}}\n"),
            vec!["default/blank", "`file` is empty"],
            true,
        ),
        ("zero target_per_replica", "workloads:\n  - {name: good, file: good.csv, target_per_replica: 0}\n".into(), vec!["good", "target_per_replica", "got 0"], false),
        ("negative target_per_replica", "workloads:\n  - {name: good, file: good.csv, target_per_replica: -5}\n".into(), vec!["good", "target_per_replica", "got -5"], false),
        // Names become paths (exports, the model store): a namespace that
        // climbs out of --output, or a name with a terminal escape, is no
        // Kubernetes name and is refused, quoted escaped.
        ("a namespace that climbs out of --output", "workloads:\n  - {name: good, namespace: ../escaped, file: good.csv, target_per_replica: 20}\n".into(), vec!["workload #1", "namespace \"../escaped\" is not a Kubernetes name", "DNS label"], false),
        ("an absolute namespace", "workloads:\n  - {name: good, namespace: /tmp, file: good.csv, target_per_replica: 20}\n".into(), vec!["namespace \"/tmp\" is not a Kubernetes name"], false),
        ("names two workloads would share a file by", "workloads:\n  - {name: a_b, file: good.csv, target_per_replica: 20}\n  - {name: caf\u{e9}, file: good.csv, target_per_replica: 20}\n".into(), vec!["2 problems", "name \"a_b\"", "name \"caf\u{e9}\""], false),
        ("a name with a terminal escape", "workloads:\n  - {name: \"x\\e[2Jy\", file: good.csv, target_per_replica: 20}\n".into(), vec!["name \"x\\u{1b}[2Jy\" is not a Kubernetes name"], false),
        (
            "a bad name beside a good workload",
            format!("workloads:\n  - {good}\n  - {{name: \"x\\e[2Jy\", file: good.csv, target_per_replica: 20}}\n"),
            vec!["workload #2 (counting from 1): name \"x\\u{1b}[2Jy\" is not a Kubernetes name"],
            true,
        ),
    ];
    let mut wrong = Vec::new();
    for (name, yaml, says, others_run) in cases {
        let config = dir.path().join("homeostat.yaml");
        std::fs::write(&config, yaml).unwrap();
        let out = dir.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        let export = ["fetch", "--output", out.to_str().unwrap()];
        for command in [&["recommend"][..], &["config", "check"][..], &export[..]] {
            let mut args = command.to_vec();
            args.extend(["--config", config.to_str().unwrap()]);
            let run = homeostat(&args);
            let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
            let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
            let written: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|f| f != "good.csv" && f != "homeostat.yaml")
                .collect();
            let runs = others_run && command[0] != "config";
            let as_documented = if runs {
                // The good workload ran (its row, its export); the bad
                // ones are said, in the report when they have names.
                run.status.code() == Some(1)
                    && stdout.contains("good")
                    && says.iter().all(|s| stderr.contains(s))
                    && (command[0] != "fetch"
                        || (out.join("default_good.csv").is_file()
                            && stdout.lines().filter(|l| l.contains(" error ")).count() >= 1))
            } else {
                // `config check` reads the valid workloads' files all the
                // same (every problem in one check), then exits 2.
                let listed = if command[0] == "config" && others_run {
                    stdout.contains("good: ok")
                } else {
                    stdout.is_empty()
                };
                run.status.code() == Some(2)
                    && listed
                    && says.iter().all(|s| stderr.contains(s))
                    && written.is_empty()
            };
            if !as_documented || stderr.contains('\u{1b}') || stdout.contains('\u{1b}') {
                wrong.push(format!(
                    "{name} ({}): {:?} {stdout} {stderr}",
                    command.join(" "),
                    run.status.code()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "config cases not as documented:\n{}",
        wrong.join("\n")
    );
}

/// `config check` gives the verdict the run would on what it can know
/// from the files (review finding: "ok" for a workload the run then
/// refused): data stale at `--at`, a step most of whose grid would be made
/// up, and (a note, not a problem: the fleet's shapes may start it) too
/// little history for the workload's own model.
#[test]
fn config_check_says_what_the_run_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let fb = std::fs::read_to_string(data.join("nab__twitter_volume_fb.csv")).unwrap();
    let day = fb.lines().take(1 + 288).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(dir.path().join("day.csv"), day).unwrap();
    // Two days from the first sample to the last, three hours of them a
    // gap: the run counts 1d 21h of known history, and so must the check
    // (it said `ok` from the span while the run refused the workload).
    let lines: Vec<&str> = fb.lines().collect();
    let gappy = [&lines[..=288], &lines[1 + 288 + 36..=2 * 288]]
        .concat()
        .join("\n")
        + "\n";
    std::fs::write(dir.path().join("gappy.csv"), gappy).unwrap();
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        format!(
            "workloads:\n  - {{name: taxi, file: {taxi}, target_per_replica: 900}}\n  - {{name: fine, file: {taxi}, step: 5m, target_per_replica: 900}}\n  - {{name: young, file: day.csv, target_per_replica: 5}}\n  - {{name: gappy, file: gappy.csv, target_per_replica: 5}}\n",
            taxi = data.join("nab__nyc_taxi.csv").display()
        ),
    )
    .unwrap();
    let check = |at: &[&str]| {
        let mut args = vec!["config", "check", "--config", config.to_str().unwrap()];
        args.extend_from_slice(at);
        let run = homeostat(&args);
        (run.status.code(), support::stdout(&run))
    };
    let (code, out) = check(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("default/taxi: ok: 1344 samples"), "{out}");
    assert!(
        out.contains("default/fine: error: ")
            && out.contains("the data comes every 30m, the step is 5m"),
        "{out}"
    );
    assert!(
        out.contains("default/young: ok: 288 samples")
            && out.contains("only 1d of history: its own model needs 2d"),
        "{out}"
    );
    assert!(
        out.contains("default/gappy: ok: 540 samples")
            && out.contains("only 1d 21h of history: its own model needs 2d"),
        "{out}"
    );
    let (code, out) = check(&["--at", "2015-02-01T06:00:00Z"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("default/taxi: insufficient_data: latest sample at 2015-02-01T04:30:00Z is 1h 30m older than now"),
        "{out}"
    );
}

#[test]
fn a_counter_without_rate_and_a_step_past_the_range_window_are_warned_of_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        "prometheus: {url: 'http://127.0.0.1:9'}\nworkloads:\n  - {name: raw, query: 'sum(http_requests_total)', target_per_replica: 5}\n  - {name: coarse, query: 'sum(rate(http_requests_total[1m]))', step: 5m, target_per_replica: 5}\n  - {name: fine, query: 'sum(rate(http_requests_total[5m]))', step: 5m, target_per_replica: 5}\n",
    )
    .unwrap();
    let run = homeostat(&["config", "check", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: workload default/raw: query `sum(http_requests_total)` reads `http_requests_total`, which looks like a counter, without rate()"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "workload default/coarse: the step 5m is longer than the query's range window [1m]"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("default/fine"), "{stderr}");
}

#[test]
fn a_history_too_large_for_the_memory_budget_fails_alone_and_those_that_fit_wait_their_turn() {
    // Issue 19: a run-wide memory budget that fails one workload, not the
    // pod. A CSV file takes about three times its size while it is parsed.
    let dir = tempfile::tempdir().unwrap();
    // 28 days at 10 s: about 4 MiB each.
    let steps = 28 * 8640;
    let rows = |name: &str| {
        let end = END;
        let mut text = String::from("timestamp,value\n");
        for i in 0..steps {
            let _ = writeln!(text, "{},{:.1}", end - (steps - 1 - i) * 10, load(i / 30));
        }
        std::fs::write(dir.path().join(name), text).unwrap();
    };
    for name in ["a.csv", "b.csv", "c.csv"] {
        rows(name);
    }
    let size_mib =
        std::fs::metadata(dir.path().join("a.csv")).unwrap().len() as f64 / f64::from(1 << 20);
    assert!((3.0..5.0).contains(&size_mib), "{size_mib}");
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        "workloads:\n  - {name: a, file: a.csv, target_per_replica: 20}\n  - {name: b, file: b.csv, target_per_replica: 20}\n  - {name: c, file: c.csv, target_per_replica: 20}\n",
    )
    .unwrap();
    let run = |budget: &str| {
        let flags = [
            "--log-format",
            "json",
            "--threads",
            "3",
            "--memory-budget",
            budget,
        ];
        let run = recommend_json(&config, END, &flags, &[]);
        let report: Value = serde_json::from_slice(&run.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&run.stderr)));
        (run, report)
    };
    // Each takes about 13 MiB to read and 64 MiB to plan (241,920
    // samples): with 80 MiB one is planned at a time, and every workload
    // gets its bounds.
    let (output, report) = run("80Mi");
    assert_eq!(output.status.code(), Some(0));
    for w in report["workloads"].as_array().unwrap() {
        assert_eq!(w["status"], "ok", "{w}");
    }
    let finished = support::run_summary(&output.stderr);
    assert_eq!(finished["memory_budget_mib"], 80, "{finished}");
    // With 40 MiB each is read, and none can be planned: each fails
    // alone, saying how long its history is and what to do.
    let (output, report) = run("40Mi");
    assert_eq!(output.status.code(), Some(1));
    for w in report["workloads"].as_array().unwrap() {
        assert_eq!(w["status"], "error", "{w}");
        let reason = w["reasons"][0].as_str().unwrap();
        assert!(
            reason.contains(".csv: planning a history of 241920 steps needs about 64 MiB, more than the run's whole memory budget of 40 MiB (set by --memory-budget): a shorter `history:` or a coarser `step:`"),
            "{reason}"
        );
    }
    // With 8 MiB none can even be read: refused before reading.
    let (output, report) = run("8Mi");
    assert_eq!(output.status.code(), Some(1));
    for w in report["workloads"].as_array().unwrap() {
        assert_eq!(w["status"], "error", "{w}");
        let reason = w["reasons"][0].as_str().unwrap();
        assert!(
            reason.contains(".csv: reading this 4 MiB file needs about 1")
                && reason.contains(
                    "more than the run's whole memory budget of 8 MiB (set by --memory-budget)"
                ),
            "{reason}"
        );
    }
    // A size that is no size is refused by the flag's parser.
    let bad = homeostat(&["--memory-budget", "lots", "config", "check"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected e.g. 512Mi"));
}

#[test]
fn a_file_too_large_for_any_history_fails_alone_before_it_is_read() {
    // Issue 19: every file was read whole, whatever its size. A sparse
    // file of 300 MiB takes no disk and would take 300 MiB of memory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.csv"), plain(864, END)).unwrap();
    std::fs::File::create(dir.path().join("huge.csv"))
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        "workloads:\n  - {name: good, file: good.csv, target_per_replica: 20}\n  - {name: huge, file: huge.csv, target_per_replica: 20}\n",
    )
    .unwrap();
    let run = recommend_json(&config, END, &["--log-format", "json"], &[]);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["workloads"][0]["status"], "ok");
    let huge = &report["workloads"][1];
    assert_eq!(huge["status"], "error");
    let reason = huge["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains("huge.csv: the file is 300 MiB; no load file over 256 MiB is read"),
        "{reason}"
    );
    // Refused before reading: the run's peak memory is far below the file.
    let finished = support::run_summary(&run.stderr);
    assert!(
        finished["peak_rss_kib"].as_u64().unwrap() < 200 << 10,
        "{finished}"
    );
}

/// A `file:` that names a named pipe, a device or a folder fails alone and
/// at once: a pipe used to block the whole run for ever (the others wait
/// in config order) and `/dev/zero` to be read until memory ran out.
#[test]
fn a_path_that_is_not_a_regular_file_fails_alone_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.csv"), plain(864, END)).unwrap();
    let fifo = dir.path().join("pipe.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    std::fs::create_dir(dir.path().join("folder.csv")).unwrap();
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        "workloads:\n  - {name: good, file: good.csv, target_per_replica: 20}\n  - {name: pipe, file: pipe.csv, target_per_replica: 20}\n  - {name: zero, file: /dev/zero, target_per_replica: 20}\n  - {name: folder, file: folder.csv, target_per_replica: 20}\n",
    )
    .unwrap();
    // Run under a watch: should a pipe block the run again, the test fails
    // after a minute instead of hanging CI.
    let at = END.to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args([
            "recommend",
            "--config",
            config.to_str().unwrap(),
            "--at",
            &at,
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the run did not finish within a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let run = child.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", support::text(&run.stderr));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let workloads = report["workloads"].as_array().unwrap();
    assert_eq!(workloads[0]["status"], "ok", "{}", workloads[0]);
    for (i, what) in [
        (1, "a named pipe (FIFO)"),
        (2, "a device"),
        (3, "a directory"),
    ] {
        let w = &workloads[i];
        assert_eq!(w["status"], "error", "{w}");
        assert!(
            w["reasons"]
                .to_string()
                .contains(&format!("is {what}, not a regular file")),
            "{w}"
        );
    }
}
