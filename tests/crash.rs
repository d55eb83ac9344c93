//! Crash safety (issue 10): `homeostat apply` killed with SIGKILL at each
//! fault point of the model store's write (half the file written; all of
//! it written, not yet synced and renamed into place). The previous state
//! must be intact and the next run must proceed as if the killed one had
//! never started.

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

#[test]
fn a_run_killed_while_writing_the_store_leaves_the_last_state_and_the_next_run_proceeds() {
    for point in ["store-mid-write", "store-before-rename"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api.csv"), daily_csv()).unwrap();
        let config = dir.path().join("homeostat.yaml");
        std::fs::write(
            &config,
            "store: models\nworkloads:\n  - {name: api, namespace: web, file: api.csv, target_per_replica: 10, \
             current: {min_replicas: 2, max_replicas: 10}}\n",
        )
        .unwrap();
        let state = dir.path().join("models/web/api.json");
        run_to_the_end(&config);
        let before = std::fs::read(&state).expect("the first run writes the store");

        let mut killed = apply(&config)
            .env("HOMEOSTAT_FAULT_POINT", point)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = killed.stderr.take().unwrap();
        let (reached, seen) = std::sync::mpsc::channel();
        let marker = format!("fault point {point} reached");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(&marker) {
                    let _ = reached.send(());
                }
            }
        });
        if seen.recv_timeout(Duration::from_secs(300)).is_err() {
            let _ = killed.kill();
            panic!("{point}: the run never reached the fault point");
        }
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
    }
}
