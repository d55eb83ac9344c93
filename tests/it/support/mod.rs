//! Shared helpers of the integration tests.

pub mod events;
// The servers live in the testkit crate, shared with the benchmarks.
pub use homeostat_testkit::{kube, notify, prometheus, victoria};

/// The bundled example's exit code: 1, for `social/mentions-fb`'s spike
/// going on above its recommended max at the end of its trace (critical,
/// `spike_above_max`) — everything else in it is ok.
pub const BUNDLED_EXIT: i32 = 1;

/// The `homeostat` binary with `args`, run from the crate's folder (where
/// the bundled example's relative paths resolve), its output collected.
/// `NO_COLOR` is removed so that colour is decided as on a plain terminal.
pub fn homeostat(args: &[&str]) -> std::process::Output {
    homeostat_with_env(args, &[])
}

/// [`homeostat`] with more environment variables.
pub fn homeostat_with_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("NO_COLOR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the homeostat binary runs")
}

/// `homeostat apply --dry-run <args> --config CONFIG` with no kubeconfig and
/// no in-cluster service account, whatever the machine has (`home` stands
/// in for $HOME): it compares with `current:` in the config.
pub fn apply_without_a_cluster(
    args: &[&str],
    config: &std::path::Path,
    home: &std::path::Path,
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_homeostat"))
        .args(["apply", "--dry-run"])
        .args(args)
        .arg("--config")
        .arg(config)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("HOME", home)
        .env_remove("KUBERNETES_SERVICE_HOST")
        // A config without `store:` keeps its model store in `models/` of
        // the working directory: the test's own, not the repository's
        // (shared by every test running at once).
        .current_dir(home)
        .output()
        .expect("the homeostat binary runs")
}

/// `homeostat <flags> recommend --config CONFIG --at AT --format json`,
/// with `env`.
pub fn recommend_json(
    config: &std::path::Path,
    at: i64,
    flags: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let at = at.to_string();
    let config = config.to_str().expect("a UTF-8 path");
    let mut args = flags.to_vec();
    args.extend([
        "recommend",
        "--config",
        config,
        "--at",
        &at,
        "--format",
        "json",
    ]);
    homeostat_with_env(&args, env)
}

/// Bytes a run wrote, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a run wrote on stderr.
pub fn stderr(output: &std::process::Output) -> String {
    text(&output.stderr)
}

/// What a run wrote on stdout.
pub fn stdout(output: &std::process::Output) -> String {
    text(&output.stdout)
}

/// The `run finished` line of a `--log-format json` run's stderr (the
/// run's summary: counts, `error`, `peak_rss_kib`).
#[allow(dead_code)]
pub fn run_summary(stderr: &[u8]) -> serde_json::Value {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "run finished")
        .expect("the run's summary in the JSON log")
}

/// The min a JSON plan's `schedule` has in force at `t`.
pub fn schedule_min_at(plan: &serde_json::Value, t: i64) -> u64 {
    let from = |e: &serde_json::Value| {
        homeostat::core::time::parse_timestamp(e["from"].as_str().expect("from")).expect("a time")
    };
    plan["schedule"]
        .as_array()
        .expect("a schedule")
        .iter()
        .take_while(|e| from(e) <= t)
        .last()
        .map_or_else(
            || panic!("no schedule entry at or before {t}"),
            |e| e["min_replicas"].as_u64().expect("a count"),
        )
}

/// The reasons of the `HomeostatCannotHeal` alerts active in `alertmanager`
/// for `workload`.
pub fn paging(alertmanager: &notify::Server, workload: &str) -> Vec<String> {
    active_alerts(alertmanager, workload)
        .iter()
        .map(|a| {
            a["labels"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The active alerts homeostat raised for `workload`, as Alertmanager
/// gives them back (labels, annotations, status).
pub fn active_alerts(alertmanager: &notify::Server, workload: &str) -> Vec<serde_json::Value> {
    let body = alertmanager
        .get("/api/v2/alerts?filter=alertname%3D%22HomeostatCannotHeal%22")
        .expect("alerts readable");
    let alerts: Vec<serde_json::Value> = serde_json::from_str(&body).expect("JSON");
    alerts
        .iter()
        .filter(|a| a["status"]["state"] == "active" && a["labels"]["workload"] == workload)
        .cloned()
        .collect()
}
