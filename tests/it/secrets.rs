//! Secrets (issue 10): the whole pipeline run with credentials for all
//! three servers (real Prometheus, Alertmanager and Pushgateway on
//! loopback, each demanding basic auth), the passwords given only as files
//! or environment variables, and every output searched for them: stdout
//! and stderr in every report format and log format, the report files,
//! the Parquet exports, the apply YAML, the model store, `config check`,
//! a run with a wrong password, and what the servers themselves received
//! (alerts, metrics).

use crate::support;

use crate::support::homeostat_with_env as homeostat;
use std::path::Path;
use std::process::Output;
use support::notify::{Server, WebAuth as NotifyAuth};
use support::prometheus::{Backfill, PrometheusServer, WebAuth};

/// The right password (bcrypt below) and a wrong one: neither may appear.
const PASSWORD: &str = "correct horse";
const WRONG: &str = "battery staple";
/// bcrypt (cost 4) of "correct horse", made with Python's bcrypt 4.
const BCRYPT: &str = "$2b$04$BtNqem9AARMO2ufq4KGiceET8Z/GXqmC8hX0ifaoQPLNZh7szbDhS";
const ALERTMANAGER_PASSWORD_ENV: &str = "HOMEOSTAT_TEST_ALERTMANAGER_PASSWORD";

/// Everything a run printed, as text.
fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every file under `dir`, as text (lossy for binary files).
fn files_under(dir: &Path) -> String {
    let mut all = String::new();
    for entry in walk(dir) {
        all.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    all
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [PASSWORD, WRONG, "correct%20horse", "Y29ycmVjdCBob3Jz"] {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({secret}):\n{text}"
        );
    }
}

#[test]
fn no_password_appears_in_any_output_log_report_store_or_server() {
    let end = chrono::Utc::now().timestamp() / 300 * 300;
    let samples: Vec<(i64, f64)> = (0..14 * 288)
        .map(|i| {
            let phase = std::f64::consts::TAU * f64::from(i % 288) / 288.0;
            (
                end - i64::from(14 * 288 - 1 - i) * 300,
                500.0 + 200.0 * phase.sin(),
            )
        })
        .collect();
    let auth = || WebAuth {
        username: "homeostat",
        password: PASSWORD,
        bcrypt_hash: BCRYPT,
    };
    let notify_auth = || NotifyAuth {
        username: "homeostat",
        password: PASSWORD,
        bcrypt_hash: BCRYPT,
    };
    let prometheus = PrometheusServer::start(
        &[Backfill {
            workload: "a",
            samples: &samples,
        }],
        Some(auth()),
    );
    let alertmanager = Server::alertmanager_with(Some(notify_auth()));
    let pushgateway = Server::pushgateway_with(Some(notify_auth()));

    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::write(secrets.join("prometheus"), format!("{PASSWORD}\n")).unwrap();
    std::fs::write(secrets.join("pushgateway"), PASSWORD).unwrap();
    std::fs::write(secrets.join("wrong"), WRONG).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let config = |password_file: &str| {
        let yaml = format!(
            "prometheus:\n  url: {prometheus}\n  max_retries: 1\n  basic_auth: {{username: homeostat, password_file: {secrets}/{password_file}}}\n\
             alertmanager:\n  url: {alertmanager}\n  basic_auth: {{username: homeostat, password_env: {ALERTMANAGER_PASSWORD_ENV}}}\n\
             pushgateway:\n  url: {pushgateway}\n  basic_auth: {{username: homeostat, password_file: {secrets}/pushgateway}}\n\
             store: {store}\n\
             workloads:\n\
             \x20 - {{name: api, namespace: shop, query: 'load{{workload=\"a\"}}', history: 14d, target_per_replica: 50, current: {{min_replicas: 2, max_replicas: 20}}}}\n\
             \x20 - {{name: capped, namespace: shop, query: 'load{{workload=\"a\"}}', history: 14d, target_per_replica: 50, max_replicas: {{floor: 1, ceiling: 2}}}}\n",
            prometheus = prometheus.url,
            alertmanager = alertmanager.url,
            pushgateway = pushgateway.url,
            secrets = secrets.display(),
            store = dir.path().join("models").display(),
        );
        let path = dir.path().join(format!("{password_file}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        path.to_str().unwrap().to_string()
    };
    let right = config("prometheus");
    let env = [(ALERTMANAGER_PASSWORD_ENV, PASSWORD)];
    let at = end.to_string();

    // `recommend` on the right config, with more arguments.
    let recommend = |more: &[&str]| {
        let base = ["recommend", "--config", right.as_str(), "--at", at.as_str()];
        homeostat(&[&base[..], more].concat(), &env)
    };

    let mut everything = String::new();
    for (format, logs) in [
        ("table", "text"),
        ("json", "json"),
        ("csv", "text"),
        ("markdown", "json"),
        ("html", "text"),
    ] {
        let file = out.join(format!("report.{format}"));
        let run = recommend(&["--notify", "--format", format, "--log-format", logs]);
        // The capped workload needs an operator: exit 1, an alert sent.
        assert_eq!(run.status.code(), Some(1), "{format}: {}", printed(&run));
        everything.push_str(&printed(&run));
        let to_file = recommend(&["--format", format, "--output", file.to_str().unwrap()]);
        everything.push_str(&printed(&to_file));
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["workloads"][0]["status"], "ok", "{report}");
    let parquet = recommend(&[
        "--format",
        "parquet",
        "--output",
        out.join("parquet").to_str().unwrap(),
    ]);
    everything.push_str(&printed(&parquet));
    let applied = homeostat(
        &[
            "apply",
            "--dry-run",
            "--config",
            &right,
            "--at",
            &at,
            "--output-format",
            "yaml",
            "--log-format",
            "json",
        ],
        &env,
    );
    everything.push_str(&printed(&applied));
    assert!(
        String::from_utf8_lossy(&applied.stdout).contains("minReplicas"),
        "{}",
        printed(&applied)
    );
    everything.push_str(&printed(&homeostat(
        &["config", "check", "--config", &right],
        &env,
    )));
    // A wrong password: refused by Prometheus, said so, and not printed.
    let wrong = homeostat(
        &[
            "recommend",
            "--config",
            &config("wrong"),
            "--at",
            &at,
            "--format",
            "json",
        ],
        &env,
    );
    let wrong_text = printed(&wrong);
    assert!(wrong_text.contains("401"), "{wrong_text}");
    everything.push_str(&wrong_text);

    everything.push_str(&files_under(dir.path().join("models").as_path()));
    everything.push_str(&files_under(&out));
    let alerts = alertmanager.get("/api/v2/alerts").expect("alerts readable");
    assert!(alerts.contains("HomeostatCannotHeal"), "{alerts}");
    let metrics = pushgateway.get("/metrics").expect("metrics readable");
    assert!(metrics.contains("homeostat_workloads"), "{metrics}");
    everything.push_str(&alerts);
    everything.push_str(&metrics);
    assert_no_secret("the outputs", &everything);
}
