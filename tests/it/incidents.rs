//! Incidents (issue 21) through the real binary: opened in the model store
//! when homeostat cannot heal a workload, counted run after run, closed by
//! the first run that finds the condition cleared — in the apply report,
//! its JSON, the store and the run summary.

use crate::support;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The bundled taxi trace with a max ceiling of `ceiling` (3 is far below
/// what its peaks need at 2,000 a replica), its store under `dir`.
fn config(dir: &Path, ceiling: u32) -> PathBuf {
    let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
    let text = format!(
        "store: {store}\ndefaults: {{history: 28d, horizon: 1d}}\nworkloads:\n\
         \x20 - name: taxi\n    namespace: mobility\n    file: {taxi}\n    target_per_replica: 2000\n    max_replicas: {{floor: 2, ceiling: {ceiling}}}\n    current: {{min_replicas: 2, max_replicas: 3}}\n",
        taxi = taxi.display(),
        store = dir.join("models").display(),
    );
    let path = dir.join("homeostat.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `apply --dry-run` without a cluster (comparing with `current:`), JSON
/// logs; `format` the report's.
fn apply(config: &Path, home: &Path, format: &str) -> Output {
    support::apply_without_a_cluster(
        &["--no-notify", "--log-format", "json", "--format", format],
        config,
        home,
    )
}

fn stored(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("models/mobility/taxi.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn an_incident_opens_when_a_ceiling_blocks_healing_and_closes_once_the_ceiling_is_raised() {
    let dir = tempfile::tempdir().unwrap();
    let low = config(dir.path(), 3);

    let first = apply(&low, dir.path(), "json");
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    let summary = support::run_summary(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "{summary}");
    let opened = &report["incidents_opened"][0];
    assert_eq!(opened["id"], "mobility/taxi#1", "{report}");
    assert_eq!(opened["cause"], "needs_operator");
    // The numbers the operator needs: the load against what the range carries.
    let (load, capacity) = (
        opened["load"].as_f64().unwrap(),
        opened["capacity"].as_f64().unwrap(),
    );
    assert!(
        load > capacity && (capacity - 3.0 * 2000.0).abs() < 1e-9,
        "{opened}"
    );
    assert!(
        opened["blocked_by"]
            .as_str()
            .unwrap()
            .contains("max ceiling 3"),
        "{opened}"
    );
    assert_eq!(
        (
            &summary["incidents_open"],
            &summary["incidents_opened"],
            &summary["incidents_closed"]
        ),
        (&Value::from(1), &Value::from(1), &Value::from(0)),
        "{summary}"
    );
    assert!(stored(dir.path())["incidents"][0]["closed"].is_null());

    // Still blocked: the same incident, one more run.
    let second = apply(&low, dir.path(), "json");
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["incidents_opened"], Value::Array(Vec::new()));
    assert_eq!(report["incidents_open"], 1);
    let state = stored(dir.path());
    assert_eq!(state["incidents"].as_array().unwrap().len(), 1, "{state}");
    assert_eq!(state["incidents"][0]["runs"], 2, "{state}");

    // What no run can see, the operator notes on the open incident (at a
    // time of their choosing: here when it opened).
    let opened = state["incidents"][0]["opened"]
        .as_str()
        .unwrap()
        .to_string();
    let note = support::homeostat(&[
        "incident",
        "note",
        "mobility/taxi",
        "--text",
        "added a node pool",
        "--config",
        low.to_str().unwrap(),
        "--at",
        &opened,
    ]);
    assert_eq!(note.status.code(), Some(0), "{}", support::stderr(&note));
    assert!(!support::stderr(&note).contains("before incident"));
    assert_eq!(
        support::stdout(&note),
        "noted on incident mobility/taxi#1\n"
    );

    // The operator raises the ceiling: the next run closes it, and says so.
    let raised = config(dir.path(), 40);
    let third = apply(&raised, dir.path(), "table");
    let table = support::stdout(&third);
    assert!(
        table.contains(
            "incident mobility/taxi#1 closed: the condition (needs_operator) has cleared"
        ) && table.contains("2 runs"),
        "{table}"
    );
    // What the operator changed is seen and noted on the incident it healed.
    assert!(
        table.contains("mobility/taxi: config: max_replicas.ceiling 3 → 40 since homeostat's last run (noted on incident mobility/taxi#1)"),
        "{table}"
    );
    let summary = support::run_summary(&third.stderr);
    assert_eq!(summary["incidents_open"], 0, "{summary}");
    assert_eq!(summary["incidents_closed"], 1, "{summary}");
    assert_eq!(summary["incidents_repeated"], 0, "{summary}");
    let state = stored(dir.path());
    assert!(state["incidents"][0]["closed"].is_string(), "{state}");
    let changes: Vec<&str> = state["incidents"][0]["operator_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        changes,
        [
            "note: added a node pool",
            "config: max_replicas.ceiling 3 → 40"
        ],
        "{state}"
    );
    assert_eq!(state["incidents"][0]["operator_changes"][0]["at"], opened);
    // The post-mortem draft: what happened, what the operator did, when.
    let draft = support::homeostat(&[
        "postmortem",
        "--config",
        raised.to_str().unwrap(),
        "--workload",
        "mobility/taxi",
    ]);
    let text = support::stdout(&draft);
    assert_eq!(draft.status.code(), Some(0), "{}", support::stderr(&draft));
    assert!(
        text.starts_with("# Post-mortem draft: mobility/taxi#1 (needs_operator)"),
        "{text}"
    );
    assert!(text.contains("max ceiling 3"), "{text}");
    assert!(text.contains(": note: added a node pool"), "{text}");
    let timeline: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("## Timeline"))
        .filter(|l| l.starts_with("| 2"))
        .collect();
    assert!(
        timeline
            .iter()
            .any(|l| l.ends_with("| incident opened: needs_operator |"))
            && timeline
                .iter()
                .any(|l| l.ends_with("| operator: config: max_replicas.ceiling 3 → 40 |"))
            && timeline
                .iter()
                .any(|l| l.ends_with("| incident closed: the condition had cleared |"))
            && timeline
                .iter()
                .any(|l| l.ends_with("| operator: note: added a node pool |")),
        "{text}"
    );
    let none = support::homeostat(&[
        "postmortem",
        "--config",
        raised.to_str().unwrap(),
        "--incident",
        "mobility/taxi#9",
    ]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        support::stderr(&none).contains("no incident mobility/taxi#9 in the model store"),
        "{}",
        support::stderr(&none)
    );
    // Not an incident id at all: the form is said.
    let garbage = support::homeostat(&[
        "postmortem",
        "--config",
        raised.to_str().unwrap(),
        "--incident",
        "garbage",
    ]);
    assert_eq!(garbage.status.code(), Some(2));
    assert!(
        support::stderr(&garbage).contains("incident ids are `namespace/name#n`"),
        "{}",
        support::stderr(&garbage)
    );
    // A run that reads the state again keeps the closed incident as it was.
    let fourth = apply(&raised, dir.path(), "json");
    let report: Value = serde_json::from_slice(&fourth.stdout).unwrap();
    assert_eq!(report["incidents_closed"], Value::Array(Vec::new()));
    assert_eq!(stored(dir.path())["incidents"], state["incidents"]);

    // The ceiling back at 3: the same problem again, a repeat.
    let low = config(dir.path(), 3);
    let again = apply(&low, dir.path(), "json");
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["incidents_opened"][0]["id"], "mobility/taxi#2");
    let summary = support::run_summary(&again.stderr);
    assert_eq!(summary["incidents_repeated"], 1, "{summary}");
    // The lowering that brought it back belongs to the new incident, not
    // to the fix of the closed one; whose post-mortem says it is back.
    let state = stored(dir.path());
    let whats = |k: usize| -> Vec<String> {
        state["incidents"][k]["operator_changes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c["what"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        whats(0),
        [
            "note: added a node pool",
            "config: max_replicas.ceiling 3 → 40"
        ],
        "{state}"
    );
    assert_eq!(whats(1), ["config: max_replicas.ceiling 40 → 3"], "{state}");
    let first = support::homeostat(&[
        "postmortem",
        "--config",
        low.to_str().unwrap(),
        "--incident",
        "mobility/taxi#1",
    ]);
    let text = support::stdout(&first);
    assert!(
        text.contains("Incident mobility/taxi#2 (needs_operator) has been open since")
            && !text.contains("40 → 3"),
        "{text}"
    );
}

/// The taxi config of [`config`] with `learning: LEARNING`, and a store
/// that learned a max ceiling of 40 from an earlier incident.
fn learned_config(dir: &Path, learning: &str) -> PathBuf {
    let path = config(dir, 3);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}    learning: {learning}\n")).unwrap();
    let store = homeostat::edge::store::Store::new(dir.join("models"));
    let mut state = homeostat::edge::store::WorkloadState::new("mobility", "taxi");
    state.learned.push(homeostat::core::incident::Learned {
        setting: "max_replicas.ceiling".into(),
        value: 40,
        incident: "mobility/taxi#1".into(),
        because: "HPA maxReplicas 3 → 40 (by kubectl)".into(),
        at: "2015-01-25T00:00:00Z".into(),
    });
    store.save(&state).unwrap();
    path
}

fn recommend(config: &Path) -> Value {
    let output = support::homeostat(&[
        "recommend",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
    ]);
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_learned_ceiling_heals_at_once_with_learning_apply_and_is_only_suggested_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let applied = recommend(&learned_config(dir.path(), "apply"));
    let taxi = &applied["workloads"][0];
    assert_eq!(taxi["status"], "ok", "{taxi}");
    assert!(taxi["max_replicas"].as_u64().unwrap() > 3, "{taxi}");
    let reasons = taxi["reasons"].to_string();
    assert!(
        reasons.contains("max ceiling 40 learned from incident mobility/taxi#1")
            && reasons.contains("learning: apply"),
        "{reasons}"
    );

    // `apply` uses it too, run after run: it is not taken for an
    // operator's change of the config, and stays learned until the config
    // takes it.
    let config = learned_config(dir.path(), "apply");
    for _ in 0..2 {
        let run = apply(&config, dir.path(), "table");
        let table = support::stdout(&run);
        assert_eq!(run.status.code(), Some(0), "{table}");
        assert!(!table.contains("config: max_replicas.ceiling"), "{table}");
    }
    assert_eq!(
        stored(dir.path())["learned"][0]["value"],
        40,
        "{}",
        stored(dir.path())
    );

    let dir = tempfile::tempdir().unwrap();
    let suggested = recommend(&learned_config(dir.path(), "suggest"));
    let taxi = &suggested["workloads"][0];
    assert_eq!(taxi["status"], "needs_operator", "{taxi}");
    assert_eq!(taxi["max_replicas"], 3, "{taxi}");
    // Listed in the report all the same, as not used.
    assert!(
        taxi["reasons"]
            .to_string()
            .contains("max ceiling 40 learned from incident mobility/taxi#1 (HPA maxReplicas 3 → 40 (by kubectl)), suggested, not used (learning: suggest; the config says 3)"),
        "{taxi}"
    );
}

#[test]
fn a_replay_of_an_earlier_moment_is_said_and_leaves_the_store_as_it_is() {
    // It was dropped without a word, and the report compared it with the
    // later run as if that were its last.
    let dir = tempfile::tempdir().unwrap();
    let low = config(dir.path(), 3);
    let latest = apply(&low, dir.path(), "json");
    assert_eq!(
        latest.status.code(),
        Some(1),
        "{}",
        support::stderr(&latest)
    );
    let before = stored(dir.path());
    let earlier = support::apply_without_a_cluster(
        &[
            "--no-notify",
            "--format",
            "json",
            "--at",
            "2015-01-25T00:00:00Z",
        ],
        &low,
        dir.path(),
    );
    let report: Value = serde_json::from_slice(&earlier.stdout).unwrap();
    let notes = report["since_last_run"].to_string();
    assert!(
        notes.contains("not recorded in the model store: its last run is at 2015-02-01T04:30:00Z, later than this one")
            && !notes.contains("at the last run"),
        "{notes}"
    );
    assert!(support::stderr(&earlier).contains("not recorded in the model store"));
    assert_eq!(stored(dir.path()), before);
}

#[test]
fn a_name_two_namespaces_share_is_refused_by_note_and_postmortem_alike() {
    // `incident note taxi` noted on mobility/taxi while `postmortem
    // --workload taxi` drafted web/taxi's, each without a word.
    let dir = tempfile::tempdir().unwrap();
    let one = config(dir.path(), 3);
    let text = std::fs::read_to_string(&one).unwrap();
    let second = text
        .lines()
        .skip_while(|l| !l.contains("- name: taxi"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("namespace: mobility", "namespace: web");
    std::fs::write(&one, format!("{text}{second}\n")).unwrap();
    let config = one.to_str().unwrap();
    for args in [
        vec![
            "incident",
            "note",
            "taxi",
            "--text",
            "scaled the node pool",
            "--config",
            config,
        ],
        vec!["postmortem", "--workload", "taxi", "--config", config],
    ] {
        let out = support::homeostat(&args);
        let said = support::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.contains("taxi: 2 workloads of")
                && said.contains("(mobility/taxi, web/taxi): give it as namespace/name"),
            "{args:?}: {said}"
        );
    }
    let out = support::homeostat(&["postmortem", "--workload", "nosuch", "--config", config]);
    assert!(
        support::stderr(&out).contains("nosuch: no workload of that name"),
        "{}",
        support::stderr(&out)
    );
    let out = support::homeostat(&[
        "postmortem",
        "--workload",
        "web/taxi",
        "--incident",
        "mobility/taxi#1",
        "--config",
        config,
    ]);
    assert!(
        support::stderr(&out)
            .contains("--incident mobility/taxi#1 is not an incident of --workload web/taxi"),
        "{}",
        support::stderr(&out)
    );
}

#[test]
fn learned_says_when_the_store_cannot_be_read_instead_of_nothing_learned() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), 3);
    // The workload's state is a folder: it cannot be read.
    std::fs::create_dir_all(dir.path().join("models/mobility/taxi.json")).unwrap();
    let out = support::homeostat(&["learned", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    let text = support::stdout(&out);
    assert!(
        text.contains("# incomplete: the model store of 1 workload(s) could not be read")
            && !text.contains("nothing learned"),
        "{text}"
    );
}

/// A workload renamed in the config: its incident under the old name is
/// closed by the next run, without a judgement, and said; the post-mortem
/// still finds it (review finding: it stayed open in the store for ever,
/// and `postmortem` said there was no such incident).
#[test]
fn an_incident_of_a_workload_that_left_the_config_is_closed_and_still_drafted() {
    let dir = tempfile::tempdir().unwrap();
    let low = config(dir.path(), 3);
    let first = apply(&low, dir.path(), "json");
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["incidents_opened"][0]["id"], "mobility/taxi#1");

    // Another config on the same store, without taxi: not its to close.
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&low)
            .unwrap()
            .replace("name: taxi", "name: cabs"),
    )
    .unwrap();
    let elsewhere = apply(&other, dir.path(), "table");
    assert!(!String::from_utf8_lossy(&elsewhere.stdout).contains("no longer in the config"));
    assert!(stored(dir.path())["incidents"][0]["closed"].is_null());
    // A store file from before the owning config was kept: this config's.
    let mut before = stored(dir.path());
    assert!(before["config"].is_string(), "{before}");
    before.as_object_mut().unwrap().remove("config");
    std::fs::write(
        dir.path().join("models/mobility/taxi.json"),
        serde_json::to_vec(&before).unwrap(),
    )
    .unwrap();

    let renamed = std::fs::read_to_string(&low)
        .unwrap()
        .replace("name: taxi", "name: taxi-dispatch");
    std::fs::write(&low, renamed).unwrap();
    let second = apply(&low, dir.path(), "table");
    let table = String::from_utf8_lossy(&second.stdout);
    assert!(
        table.contains("mobility/taxi: no longer in the config (removed or renamed): incident mobility/taxi#1 closed without a judgement"),
        "{table}"
    );
    assert!(
        table.contains("incident mobility/taxi#1 closed: the workload is no longer in the config (removed or renamed), so its condition can no longer be judged (needs_operator)"),
        "{table}"
    );
    let old = stored(dir.path());
    // Closed at the last run that saw it (the data's time, not the clock's).
    assert_eq!(
        old["incidents"][0]["closed"], old["history"][0]["at"],
        "{old}"
    );
    // The new name's incident is its own.
    let summary = support::run_summary(&second.stderr);
    assert_eq!(summary["incidents_open"], 1, "{summary}");

    let draft = support::homeostat(&[
        "postmortem",
        "--config",
        low.to_str().unwrap(),
        "--incident",
        "mobility/taxi#1",
    ]);
    let text = String::from_utf8_lossy(&draft.stdout);
    assert_eq!(
        draft.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&draft.stderr)
    );
    assert!(
        text.contains("Closed at ")
            && text.contains("without a judgement: the workload is no longer in the config"),
        "{text}"
    );
    // A run that finds nothing open to close says nothing more.
    let third = apply(&low, dir.path(), "table");
    assert!(!String::from_utf8_lossy(&third.stdout).contains("no longer in the config"));
}

/// A store file too broken to read is set aside; the next incident is
/// numbered after the ones it still shows, never reusing an id (review
/// finding: `#1` again, an id an earlier incident had had).
#[test]
fn a_broken_store_file_never_makes_an_incident_id_twice() {
    let dir = tempfile::tempdir().unwrap();
    let low = config(dir.path(), 3);
    let first = apply(&low, dir.path(), "json");
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["incidents_opened"][0]["id"], "mobility/taxi#1");
    let file = dir.path().join("models/mobility/taxi.json");
    let text = std::fs::read(&file).unwrap();
    std::fs::write(&file, &text[..text.len() * 2 / 3]).unwrap();
    // Before any apply sets it aside, a post-mortem says why it finds none.
    let draft = support::homeostat(&["postmortem", "--config", low.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&draft.stderr);
    assert!(
        said.contains("that could be read: the store file of mobility/taxi cannot be read"),
        "{said}"
    );
    let second = apply(&low, dir.path(), "json");
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(
        report["incidents_opened"][0]["id"], "mobility/taxi#2",
        "{report}"
    );
    assert_eq!(stored(dir.path())["incidents_counted"], 2);
}

/// A store file that homeostat's user cannot read (another user's, mode
/// 600, on a shared volume) is left as it is: the run says so and records
/// nothing for the workload (review finding: it was written over, and the
/// workload's runs and incidents were gone).
#[test]
fn a_store_file_homeostat_cannot_read_is_left_as_it_is() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let low = config(dir.path(), 3);
    apply(&low, dir.path(), "json");
    let file = dir.path().join("models/mobility/taxi.json");
    let before = std::fs::read(&file).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads any file: as root, the run is made as the unprivileged
    // user the deployment runs as (deploy/homeostat.yaml's runAsUser).
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    let as_root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let mut command = if as_root {
        // The volume is that user's; the one file is root's.
        let chowned = std::process::Command::new("chown")
            .args(["-R", "65532:65532"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(chowned.success());
        std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid", "65532", "--regid", "65532", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_homeostat"));
        c
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_homeostat"))
    };
    let second = command
        .args([
            "apply",
            "--dry-run",
            "--no-notify",
            "--format",
            "json",
            "--config",
        ])
        .arg(&low)
        .env("KUBECONFIG", dir.path().join("no-kubeconfig"))
        .env("HOME", dir.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&second.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&second.stderr)));
    let problems = report["store_problems"].to_string();
    assert!(
        problems.contains("cannot read")
            && problems.contains("left as it is, and this run is not recorded for mobility/taxi"),
        "{report}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the state file was written over"
    );
}

/// A workload that has no recommendation run after run is said so, not
/// "recommended nothing as at the last run".
#[test]
fn a_workload_without_a_recommendation_twice_is_said_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let csv: String = std::iter::once("timestamp,value\n".to_string())
        .chain((0..24).map(|i| format!("{},{}\n", 1_700_000_000 + i * 3_600, 10 + i)))
        .collect();
    std::fs::write(dir.path().join("young.csv"), csv).unwrap();
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        format!(
            "store: {}\nworkloads:\n  - {{name: young, namespace: shop, file: young.csv, target_per_replica: 5, current: {{min_replicas: 2, max_replicas: 4}}}}\n",
            dir.path().join("models").display()
        ),
    )
    .unwrap();
    apply(&config, dir.path(), "json");
    let second = apply(&config, dir.path(), "json");
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    let said = report["since_last_run"].to_string();
    assert!(
        said.contains("no recommendation, as at the last run ("),
        "{said}"
    );
    assert!(!said.contains("recommended nothing"), "{said}");
}
