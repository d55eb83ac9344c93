//! Crash safety (issue 10): `homeostat apply` killed with SIGKILL at each
//! fault point of the model store's write (half the file written; all of
//! it written, not yet synced and renamed into place). The previous state
//! must be intact and the next run must proceed as if the killed one had
//! never started — its incidents (issue 21) included: the workload's
//! ceiling is too low, so the state holds an open one.

use crate::support;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Three days of a daily cycle at a 5-minute step, as CSV text.
fn daily_csv() -> String {
    let mut text = String::from("timestamp,value\n");
    for i in 0..3 * 288 {
        let phase = std::f64::consts::TAU * f64::from(i % 288) / 288.0;
        let _ = writeln!(
            text,
            "{},{}",
            1_700_006_400 + i64::from(i) * 300,
            100.0 + 40.0 * phase.sin()
        );
    }
    text
}

fn apply(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_homeostat"));
    command
        .args(["apply", "--dry-run", "--no-notify", "--config"])
        .arg(config)
        .stdin(Stdio::null());
    command
}

fn run_to_the_end(config: &Path) {
    let output = apply(config).output().unwrap();
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `apply --dry-run` on `config`, once it has reached the fault point
/// `point` (`HOMEOSTAT_FAULT_POINT`): the running process (stdout piped)
/// and a thread that returns its stderr when it ends.
fn at_fault_point(
    config: &Path,
    point: &str,
) -> (std::process::Child, std::thread::JoinHandle<String>) {
    let mut child = apply(config)
        .env("HOMEOSTAT_FAULT_POINT", point)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (reached, seen) = std::sync::mpsc::channel();
    let marker = format!("fault point {point} reached");
    let said = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&marker) {
                let _ = reached.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    if seen.recv_timeout(Duration::from_secs(300)).is_err() {
        let _ = child.kill();
        panic!("{point}: the run never reached the fault point");
    }
    (child, said)
}

#[test]
fn a_run_killed_while_writing_the_store_leaves_the_last_state_and_the_next_run_proceeds() {
    for point in ["store-mid-write", "store-before-rename"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api.csv"), daily_csv()).unwrap();
        let config = dir.path().join("homeostat.yaml");
        std::fs::write(
            &config,
            "store: models\nworkloads:\n  - {name: api, namespace: web, file: api.csv, target_per_replica: 10, \
             max_replicas: {floor: 2, ceiling: 3}, current: {min_replicas: 2, max_replicas: 3}}\n",
        )
        .unwrap();
        let state = dir.path().join("models/web/api.json");
        run_to_the_end(&config);
        let before = std::fs::read(&state).expect("the first run writes the store");

        let (mut killed, _) = at_fault_point(&config, point);
        killed.kill().unwrap(); // SIGKILL
        killed.wait().unwrap();

        assert_eq!(
            std::fs::read(&state).unwrap(),
            before,
            "{point}: the last state, byte for byte"
        );
        let leftovers: Vec<String> = std::fs::read_dir(state.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "{point}: killed while writing {leftovers:?}"
        );

        run_to_the_end(&config);
        let after: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        let history = after["history"].as_array().unwrap();
        assert_eq!(
            history.len(),
            2,
            "{point}: the first run and the next: {after}"
        );
        // The incident the first run opened, still open, seen by both.
        let incidents = after["incidents"].as_array().unwrap();
        assert_eq!(incidents.len(), 1, "{point}: {after}");
        assert_eq!(
            (
                &incidents[0]["id"],
                &incidents[0]["runs"],
                incidents[0]["closed"].is_null()
            ),
            (&serde_json::json!("web/api#1"), &serde_json::json!(2), true),
            "{point}: {after}"
        );
    }
}

/// A config of `count` workloads on one store, in a fresh folder.
fn fleet(count: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.csv"), daily_csv()).unwrap();
    let mut yaml = String::from("store: models\nworkloads:\n");
    for i in 0..count {
        let _ = writeln!(
            yaml,
            "  - {{name: api-{i}, namespace: web, file: api.csv, target_per_replica: 10, current: {{min_replicas: 2, max_replicas: 10}}}}"
        );
    }
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(&config, yaml).unwrap();
    (dir, config)
}

#[test]
fn two_runs_at_once_take_turns_on_the_store_and_lose_no_record() {
    // Issue 19: without a lock, two parallel runs lost 2 of 60 records.
    let (dir, config) = fleet(30);
    for _ in 0..3 {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                apply(&config)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for run in runs {
            let output = run.wait_with_output().unwrap();
            assert!(
                output.status.code().is_some_and(|c| c <= 1),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    for i in 0..30 {
        let state: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("models/web/api-{i}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(state["history"].as_array().unwrap().len(), 6, "api-{i}");
    }
}

#[test]
fn a_store_in_use_is_waited_for_then_refused_naming_its_holder_and_freed_by_its_death() {
    let (dir, config) = fleet(1);
    // The first run stops, lock held, in the middle of its write.
    let (mut holder, _) = at_fault_point(&config, "store-mid-write");
    let second = apply(&config).output().unwrap();
    let said = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{said}");
    assert!(
        said.contains("is in use by another homeostat run (process ")
            && said.contains(&format!("process {} since", holder.id()))
            && said.contains("waited 10 s"),
        "{said}"
    );
    assert!(second.stdout.is_empty());
    // Killed, it holds nothing: the next run proceeds.
    holder.kill().unwrap();
    holder.wait().unwrap();
    run_to_the_end(&config);
    // A store that cannot be a folder: said at once, on stderr, exit 2.
    std::fs::write(dir.path().join("not-a-folder"), "").unwrap();
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("store: models", "store: not-a-folder"),
    )
    .unwrap();
    let refused = apply(&config).output().unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains("not-a-folder is a file, not a folder")
            && !said.contains("model store: model store"),
        "{said}"
    );
}

#[test]
fn a_state_that_cannot_be_written_is_said_on_stderr_in_the_log_and_counted() {
    // Issue 19: it was only in the report ("model store: model store:
    // cannot write …"), and the log's `run finished` said `error: 0`.
    let (dir, config) = fleet(2);
    std::fs::create_dir_all(dir.path().join("models/web/api-1.json")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args([
            "--log-format",
            "json",
            "apply",
            "--dry-run",
            "--no-notify",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let message = |l: &serde_json::Value| l["message"].as_str().unwrap_or("").to_string();
    assert!(
        lines.iter().any(|l| {
            let m = message(l);
            m.starts_with("model store: ")
                && m.contains("api-1.json: cannot read")
                && m.contains("left as it is")
                && !m.contains("model store: model store")
        }),
        "{log}"
    );
    let finished = support::run_summary(&output.stderr);
    // Not read (a folder where its file should be), so not written over
    // (since 2026-12-07: before, a write was tried too, and failed): one
    // failure of the run, no workload in error.
    assert_eq!(finished["other_errors"], 1, "{finished}");
    assert_eq!(finished["error"], 0, "{finished}");
    assert_eq!(finished["error_kinds"], "store_unreadable=1", "{finished}");
    // The other workload's state was written.
    assert!(dir.path().join("models/web/api-0.json").is_file());
}

/// `homeostat recommend` on a synthetic fleet, sent `signal` once it has
/// planned some workloads: its exit status, stdout and stderr.
fn stopped_by(signal: &str, args: &[&str], dir: &Path) -> (Option<i32>, Vec<u8>, String) {
    let synth = Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args(["synth", "--workloads", "400", "--days", "28d", "--output"])
        .arg(dir.join("fleet"))
        .output()
        .unwrap();
    assert!(
        synth.status.success(),
        "{}",
        String::from_utf8_lossy(&synth.stderr)
    );
    let mut run = Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args([
            "--log-format",
            "json",
            "--threads",
            "1",
            "recommend",
            "--config",
        ])
        .arg(dir.join("fleet/homeostat.yaml"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Well into the run, far from its end (400 workloads, one thread).
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run ended before the signal"
    );
    let sent = Command::new("kill")
        .args([signal, &run.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = run.wait_with_output().unwrap();
    (
        output.status.code(),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn sigterm_and_sigint_stop_the_run_cleanly_writing_nothing_half_done() {
    // Issue 19: they ended the process at once, said nothing, and left a
    // Parquet export half written with its temporary files.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = stopped_by(
        "-TERM",
        &["--format", "parquet", "--output", out.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("stopped by SIGTERM after planning ")
            && stderr
                .contains("of 400 workloads: no report written, no alert sent, no HPA changed"),
        "{stderr}"
    );
    let files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!files.iter().any(|f| f == "report.json"), "{files:?}");
    assert!(!files.iter().any(|f| f.contains(".tmp-")), "{files:?}");
    assert!(
        !files.is_empty() && files.len() < 400,
        "{} files",
        files.len()
    );
    // Every file written is whole: Parquet's magic at both ends.
    for f in &files {
        let bytes = std::fs::read(out.join(f)).unwrap();
        assert!(
            bytes.len() > 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
            "{f}: not a whole Parquet file"
        );
    }
    let (code, stdout, stderr) = stopped_by("-INT", &["--format", "json"], dir.path());
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stdout.is_empty(), "no partial report");
    assert!(stderr.contains("stopped by SIGINT"), "{stderr}");
}

#[test]
fn sigterm_between_two_patches_stops_apply_there_and_says_how_many_were_not_applied() {
    let (dir, config) = fleet(3);
    let (run, said) = at_fault_point(&config, "apply-between-workloads");
    let sent = Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = run.wait_with_output().unwrap();
    let said = said.join().unwrap();
    assert_eq!(output.status.code(), Some(143), "{said}");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains("stopped by SIGTERM: 2 of 3 workloads not applied"),
        "{report}"
    );
    // The first workload's run is remembered, the others were never reached.
    assert!(dir.path().join("models/web/api-0.json").is_file());
    for i in 1..3 {
        assert!(!dir.path().join(format!("models/web/api-{i}.json")).exists());
    }
}

#[test]
fn a_second_sigterm_ends_a_run_whose_work_is_stuck_while_it_stops() {
    // The first signal asks the run to stop and lets the work in flight
    // finish; when that work hangs (a patch that never returns), a second
    // signal must end the process at once, as its default action.
    use std::os::unix::process::ExitStatusExt as _;
    let (_dir, config) = fleet(2);
    let (mut run, said) = at_fault_point(&config, "apply-stuck-while-stopping");
    let term = |pid: u32| {
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    term(run.id());
    // Stopping, and stuck: the first signal alone does not end it.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        run.try_wait().unwrap().is_none(),
        "ended on the first signal"
    );
    term(run.id());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after the second SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let said = said.join().unwrap();
    assert!(said.contains("stopping, stuck"), "{said}");
    assert_eq!(status.signal(), Some(15), "{status:?} {said}");
}
