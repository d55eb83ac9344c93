//! `recommend --notify` against a real Alertmanager and Pushgateway on
//! loopback: alerts raised with their labels, kept alive by the next run,
//! resolved by the run where the condition cleared; metrics read back.

use crate::support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::notify::Server;

fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(file)
}

/// The bundled taxi trace twice: `taxi` with a max ceiling of `ceiling`,
/// and `ok-taxi` with room; `gone` reads a file that does not exist.
fn config(dir: &Path, alertmanager: &str, pushgateway: &str, ceiling: u32) -> PathBuf {
    let taxi = data("nab__nyc_taxi.csv");
    let text = format!(
        "alertmanager: {{url: {alertmanager}}}\npushgateway: {{url: {pushgateway}}}\nstore: {store}\n\
         defaults: {{history: 28d, horizon: 1d}}\nworkloads:\n\
         \x20 - name: taxi\n    namespace: mobility\n    file: {taxi}\n    target_per_replica: 2000\n    max_replicas: {{floor: 2, ceiling: {ceiling}}}\n\
         \x20 - name: ok-taxi\n    namespace: mobility\n    file: {taxi}\n    target_per_replica: 2000\n\
         \x20 - name: gone\n    namespace: mobility\n    file: {gone}\n    target_per_replica: 10\n",
        taxi = taxi.display(),
        gone = dir.join("missing.csv").display(),
        store = dir.join("models").display(),
    );
    let path = dir.join("homeostat.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn recommend_notify(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args(["recommend", "--notify", "--format", "json", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

/// `apply --dry-run --output-format yaml` without a cluster.
fn apply_dry_run_without_a_cluster(config: &Path, home: &Path) -> Output {
    support::apply_without_a_cluster(&["--output-format", "yaml"], config, home)
}

/// Active `HomeostatCannotHeal` alerts: (workload, reason, severity).
fn active_alerts(alertmanager: &Server) -> Vec<(String, String, String)> {
    let body = alertmanager
        .get("/api/v2/alerts?filter=alertname%3D%22HomeostatCannotHeal%22")
        .expect("alerts readable");
    let alerts: Vec<Value> = serde_json::from_str(&body).unwrap();
    let mut out: Vec<(String, String, String)> = alerts
        .iter()
        .filter(|a| a["status"]["state"] == "active")
        .map(|a| {
            let label = |k: &str| a["labels"][k].as_str().unwrap_or_default().to_string();
            assert_eq!(label("namespace"), "mobility", "{a}");
            // Started already, and lasting about an hour unless renewed.
            let at =
                |k: &str| homeostat::core::time::parse_timestamp(a[k].as_str().unwrap()).unwrap();
            let now = chrono::Utc::now().timestamp();
            assert!(at("startsAt") <= now, "{a}");
            assert!(at("endsAt") > now + 3_000, "{a}");
            assert!(!a["annotations"]["summary"].as_str().unwrap().is_empty());
            assert!(!a["annotations"]["fix"].as_str().unwrap().is_empty());
            (label("workload"), label("reason"), label("severity"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn alerts_are_raised_kept_alive_and_resolved_and_metrics_read_back() {
    let alertmanager = Server::alertmanager();
    let pushgateway = Server::pushgateway();
    let dir = tempfile::tempdir().unwrap();
    let tight = config(dir.path(), &alertmanager.url, &pushgateway.url, 3);

    let first = recommend_notify(&tight);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("notify:"), "{stderr}");
    let expected = vec![
        (
            "gone".to_string(),
            "error".to_string(),
            "warning".to_string(),
        ),
        (
            "taxi".to_string(),
            "ceiling".to_string(),
            "critical".to_string(),
        ),
    ];
    assert_eq!(active_alerts(&alertmanager), expected);

    // Still active after a second run (re-sent, not duplicated).
    let second = recommend_notify(&tight);
    assert_eq!(second.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&second.stderr).contains("notify:"));
    assert_eq!(active_alerts(&alertmanager), expected);

    // Room under the ceiling: the ceiling alert is resolved, the other stays.
    let roomy = config(dir.path(), &alertmanager.url, &pushgateway.url, 60);
    let third = recommend_notify(&roomy);
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("notify:"), "{stderr}");
    assert_eq!(active_alerts(&alertmanager), expected[..1]);

    let metrics = pushgateway.get("/metrics").unwrap();
    let sample = |name: &str, labels: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(labels) && l.contains("job=\"homeostat\""))
            .unwrap_or_else(|| panic!("{name}{{{labels}}} not pushed:\n{metrics}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let report: Value = serde_json::from_slice(&third.stdout).unwrap();
    let taxi = &report["workloads"][0];
    // Whole numbers: exact in f64.
    let whole = |x: f64| x.round() as i64;
    assert_eq!(
        whole(sample(
            "homeostat_recommended_max_replicas",
            "workload=\"taxi\""
        )),
        taxi["max_replicas"].as_i64().unwrap()
    );
    assert_eq!(whole(sample("homeostat_workloads", "outcome=\"ok\"")), 2);
    assert_eq!(
        whole(sample("homeostat_workloads", "outcome=\"failed\"")),
        1
    );
    assert!(sample("homeostat_run_duration_seconds", "") > 0.0);
}

/// The shards of a fleet (`--shard i/n`, as `deploy/homeostat-indexed.yaml`
/// runs them) push to groups of their own: one shard's push does not
/// replace another's metrics.
#[test]
fn each_shard_pushes_its_own_metrics_group() {
    let pushgateway = Server::pushgateway();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(config(
        dir.path(),
        "http://127.0.0.1:9",
        &pushgateway.url,
        60,
    ))
    .unwrap()
    .replace("alertmanager: {url: http://127.0.0.1:9}\n", "");
    let path = dir.path().join("sharded.yaml");
    std::fs::write(&path, text).unwrap();
    for shard in ["0/2", "1/2"] {
        let output = Command::new(env!("CARGO_BIN_EXE_homeostat"))
            .args([
                "recommend",
                "--notify",
                "--format",
                "json",
                "--shard",
                shard,
                "--config",
            ])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("notify:"), "{stderr}");
    }
    let metrics = pushgateway.get("/metrics").unwrap();
    // Both shards' finish times, and the three workloads between them.
    for shard in ["0-of-2", "1-of-2"] {
        assert!(
            metrics.lines().any(
                |l| l.starts_with("homeostat_run_finished_timestamp_seconds")
                    && l.contains(&format!("shard=\"{shard}\""))
            ),
            "{shard} not pushed:\n{metrics}"
        );
    }
    let counted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("homeostat_workloads{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(counted.round() as i64, 3, "{metrics}");
}

/// A workload the config cannot run is one the cluster cannot heal
/// either: alerted with the problem, while the others run.
#[test]
fn a_workload_the_config_cannot_run_is_alerted() {
    let alertmanager = Server::alertmanager();
    let pushgateway = Server::pushgateway();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &alertmanager.url, &pushgateway.url, 60);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "name: ok-taxi\n    namespace: mobility\n    file",
        "name: ok-taxi\n    namespace: mobility\n    target_per_replcia: 5\n    file",
    );
    std::fs::write(&config, text).unwrap();
    let output = recommend_notify(&config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let alerts = active_alerts(&alertmanager);
    // Under the same reason as an entry without valid names (it was
    // `error` until 2026-12-07: a route on `config_invalid` missed half).
    assert!(
        alerts.contains(&(
            "ok-taxi".to_string(),
            "config_invalid".to_string(),
            "warning".to_string()
        )),
        "{alerts:?} {stderr}"
    );
    let body = alertmanager
        .get("/api/v2/alerts?filter=workload%3D%22ok-taxi%22")
        .expect("alerts readable");
    assert!(body.contains("\"error\":\"config_invalid\""), "{body}");
    assert!(
        body.contains("not run, the config is invalid for it (the others ran)")
            && body.contains("target_per_replcia"),
        "{body}"
    );
    // The others ran.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["workloads"][0]["name"], "taxi");
    assert_eq!(report["workloads"][0]["status"], "ok");
}

/// A workload entry whose names cannot be read (a misspelt `name:`) has no
/// row of its own: the report lists it under `config_errors`, Alertmanager
/// gets an alert for its place in the config, the Pushgateway counts it as
/// failed; the run after it is mended resolves that alert.
#[test]
fn a_workload_entry_without_names_is_reported_alerted_counted_and_resolved() {
    let alertmanager = Server::alertmanager();
    let pushgateway = Server::pushgateway();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &alertmanager.url, &pushgateway.url, 60);
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, good.replace("- name: ok-taxi", "- nmae: ok-taxi")).unwrap();
    let output = recommend_notify(&config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("notify:"), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["workloads"].as_array().unwrap().len(), 2, "{report}");
    let errors = report["config_errors"].as_array().expect("config_errors");
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["workload"], "workload #2 (counting from 1)");
    assert!(
        errors[0]["problem"].as_str().unwrap().contains("nmae"),
        "{report}"
    );
    let config_alerts = || -> Vec<Value> {
        let body = alertmanager
            .get("/api/v2/alerts?filter=reason%3D%22config_invalid%22")
            .expect("alerts readable");
        let alerts: Vec<Value> = serde_json::from_str(&body).unwrap();
        alerts
            .into_iter()
            .filter(|a| a["status"]["state"] == "active")
            .collect()
    };
    let alerts = config_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0]["labels"]["workload"],
        "workload #2 (counting from 1)"
    );
    assert!(
        alerts[0]["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("nmae"),
        "{alerts:?}"
    );
    // Named by its config file too: another config's entry #2 is not it.
    let file = std::fs::canonicalize(&config).unwrap();
    assert_eq!(
        alerts[0]["labels"]["config"],
        file.display().to_string(),
        "{alerts:?}"
    );
    let metrics = pushgateway.get("/metrics").unwrap();
    let failed = metrics
        .lines()
        .find(|l| l.starts_with("homeostat_workloads{") && l.contains("outcome=\"failed\""))
        .unwrap_or_else(|| panic!("no failed count:\n{metrics}"));
    // `gone` (its file is missing) and the entry without names.
    assert!(failed.ends_with(" 2"), "{failed}");

    // Another team's config, all valid, alerting the same Alertmanager,
    // leaves this config's alert alone.
    let other = tempfile::tempdir().unwrap();
    let theirs = other.path().join("homeostat.yaml");
    std::fs::write(&theirs, &good).unwrap();
    let output = recommend_notify(&theirs);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("notify:"));
    assert_eq!(config_alerts().len(), 1, "{:?}", config_alerts());

    std::fs::write(&config, good).unwrap();
    let mended = recommend_notify(&config);
    let stderr = String::from_utf8_lossy(&mended.stderr);
    assert!(!stderr.contains("notify:"), "{stderr}");
    let report: Value = serde_json::from_slice(&mended.stdout).unwrap();
    assert!(report.get("config_errors").is_none(), "{report}");
    assert_eq!(config_alerts(), Vec::<Value>::new());
}

#[test]
fn servers_that_are_down_are_reported_and_the_report_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    // Ports nothing listens on.
    let closed = || {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}")
    };
    let config = config(dir.path(), &closed(), &closed(), 60);
    let output = recommend_notify(&config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("notify: alertmanager: reading active alerts"),
        "{stderr}"
    );
    assert!(
        stderr.contains("notify: pushgateway: pushing run metrics"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["workloads"].as_array().unwrap().len(), 3);

    // `apply` with both down: the patches are still made and written
    // (a dry run here: no cluster), the store remembers the run, the
    // failures are named, exit code 1.
    let applied = apply_dry_run_without_a_cluster(&config, dir.path());
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert_eq!(applied.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("notify: alertmanager"), "{stderr}");
    assert!(stderr.contains("notify: pushgateway"), "{stderr}");
    let patches: Vec<Value> =
        serde_saphyr::from_multiple(&String::from_utf8_lossy(&applied.stdout)).unwrap();
    assert!(!patches.is_empty(), "{stderr}");
    assert!(dir.path().join("models/mobility/ok-taxi.json").exists());
}

/// A server that answers but is not the one configured (a URL with a
/// path, a Pushgateway given as Alertmanager): the error names the URL it
/// asked and the setting to check.
#[test]
fn a_wrong_address_names_the_url_and_the_setting() {
    let pushgateway = Server::pushgateway();
    let dir = tempfile::tempdir().unwrap();
    let wrong = format!("{}/prefix", pushgateway.url);
    let config = config(dir.path(), &wrong, &wrong, 60);
    let output = recommend_notify(&config);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{wrong}/api/v2/alerts"))
            && stderr.contains("(is alertmanager.url the server's base address, without a path?)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(is pushgateway.url the server's base address, without a path?)"),
        "{stderr}"
    );
    // The batch job's summary line counts them (it said `error: 0`).
    let logged = Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args([
            "--log-format",
            "json",
            "recommend",
            "--notify",
            "--format",
            "json",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let summary = support::run_summary(&logged.stderr);
    // Alertmanager twice: its active alerts could not be read, nor the
    // firing ones sent; the workload in error (a file) by its kind, and
    // counted apart from the run's failures.
    assert_eq!(
        summary["error_kinds"], "alertmanager_refused=2,file_unreadable=1,pushgateway_refused=1",
        "{summary}"
    );
    assert_eq!(
        (&summary["error"], &summary["other_errors"]),
        (&json!(1), &json!(3)),
        "{summary}"
    );
}

#[test]
fn apply_dry_run_without_a_cluster_writes_the_yaml_reports_and_alerts() {
    let alertmanager = Server::alertmanager();
    let pushgateway = Server::pushgateway();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &alertmanager.url, &pushgateway.url, 3);
    let output = apply_dry_run_without_a_cluster(&config, dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no Kubernetes API"), "{stderr}");
    assert!(stderr.contains("dry run: no HPA was changed"), "{stderr}");
    assert!(!stderr.contains("notify:"), "{stderr}");
    // Only the workload that is ok gets a patch.
    let patches: Vec<Value> = serde_saphyr::from_multiple(&stdout).unwrap();
    assert_eq!(patches.len(), 1, "{stdout}");
    assert_eq!(patches[0]["metadata"]["name"], "ok-taxi");
    assert_eq!(patches[0]["kind"], "HorizontalPodAutoscaler");
    assert!(patches[0]["spec"]["maxReplicas"].as_u64().unwrap() >= 1);
    // Alerts are sent in a dry run too; the run is remembered.
    assert_eq!(active_alerts(&alertmanager).len(), 2);
    assert!(dir.path().join("models/mobility/ok-taxi.json").exists());
    // The capped workload's incident is in the run metrics, read back from
    // the real Pushgateway.
    let metrics = pushgateway.get("/metrics").unwrap();
    let sample = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .unwrap_or_else(|| panic!("{name} missing: {metrics}"))
            .to_string()
    };
    let open = sample("homeostat_incidents_open{");
    assert!(
        open.contains("namespace=\"mobility\"")
            && open.contains("workload=\"taxi\"")
            && open.ends_with(" 1"),
        "{open}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("homeostat_incidents_changed{")
                && l.contains("change=\"opened\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );

    // A `recommend --notify` of the same config pushes to a group of its
    // own: apply's incidents are still there after it (one group for both
    // used to lose them until the next apply).
    let recommended = recommend_notify(&config);
    let stderr = String::from_utf8_lossy(&recommended.stderr);
    assert!(!stderr.contains("notify:"), "{stderr}");
    let metrics = pushgateway.get("/metrics").unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("homeostat_incidents_open{")
                && l.contains("command=\"apply\"")
                && l.contains("workload=\"taxi\"")),
        "{metrics}"
    );
    for command in ["apply", "recommend"] {
        assert!(
            metrics.lines().any(
                |l| l.starts_with("homeostat_run_finished_timestamp_seconds{")
                    && l.contains(&format!("command=\"{command}\""))
            ),
            "{command}'s finish time missing:\n{metrics}"
        );
    }
}

/// Two homeostats (two clusters with the same `mobility/taxi`) on one
/// Alertmanager and one Pushgateway, told apart by `labels: {cluster: …}`:
/// the one whose taxi has room does not resolve the other's page, and
/// each pushes to a group of its own.
#[test]
fn two_clusters_on_one_alertmanager_do_not_resolve_each_others_pages() {
    let alertmanager = Server::alertmanager();
    let pushgateway = Server::pushgateway();
    let with_cluster = |ceiling: u32, cluster: &str| {
        let dir = tempfile::tempdir().unwrap();
        let path = config(dir.path(), &alertmanager.url, &pushgateway.url, ceiling);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(
                &format!("alertmanager: {{url: {}}}", alertmanager.url),
                &format!(
                    "alertmanager: {{url: {}, labels: {{cluster: {cluster}}}}}",
                    alertmanager.url
                ),
            )
            .replace(
                &format!("pushgateway: {{url: {}}}", pushgateway.url),
                &format!(
                    "pushgateway: {{url: {}, labels: {{cluster: \"{cluster}\"}}}}",
                    pushgateway.url
                ),
            );
        assert!(text.contains("labels: {cluster"), "{text}");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    };
    // "eu/1": a value a URL path cannot hold as it is (sent in base64).
    let (_tight_dir, tight) = with_cluster(3, "eu/1");
    let (_roomy_dir, roomy) = with_cluster(60, "us-2");
    let cluster_of = |reason: &str| -> Vec<String> {
        let body = alertmanager
            .get("/api/v2/alerts?filter=alertname%3D%22HomeostatCannotHeal%22")
            .unwrap();
        let alerts: Vec<Value> = serde_json::from_str(&body).unwrap();
        let mut clusters: Vec<String> = alerts
            .iter()
            .filter(|a| a["status"]["state"] == "active" && a["labels"]["reason"] == reason)
            .map(|a| {
                a["labels"]["cluster"]
                    .as_str()
                    .unwrap_or("none")
                    .to_string()
            })
            .collect();
        clusters.sort();
        clusters
    };
    let first = recommend_notify(&tight);
    assert!(!String::from_utf8_lossy(&first.stderr).contains("notify:"));
    assert_eq!(cluster_of("ceiling"), ["eu/1"]);
    // The other cluster's run: its taxi has room, and the page stays.
    let other = recommend_notify(&roomy);
    assert!(!String::from_utf8_lossy(&other.stderr).contains("notify:"));
    assert_eq!(cluster_of("ceiling"), ["eu/1"]);
    assert_eq!(cluster_of("error"), ["eu/1", "us-2"]);
    let metrics = pushgateway.get("/metrics").unwrap();
    for cluster in ["eu/1", "us-2"] {
        assert!(
            metrics.lines().any(
                |l| l.starts_with("homeostat_run_finished_timestamp_seconds{")
                    && l.contains(&format!("cluster=\"{cluster}\""))
                    && l.contains("command=\"recommend\"")
            ),
            "{cluster} not pushed:\n{metrics}"
        );
    }
}
