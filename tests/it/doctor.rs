//! After the doctor (issue 21), the whole loop in one process: homeostat's
//! real planning on the bundled taxi trace, the scripted Kubernetes API
//! (the HPA as a person with kubectl left it), a real Alertmanager and
//! Pushgateway. A ceiling too low pages; the operator raises the HPA's max
//! with kubectl; homeostat notes the change on the incident, learns the
//! ceiling, resolves the alert once it plans within it (`learning:
//! apply`) and writes the post-mortem; a week later the same load heals
//! without a page. With `learning: suggest` it keeps paging and suggests
//! the config patch instead.

use crate::apply::{dry_patch, get, hpa, hpa_changed_by, scripted};
use crate::support;
use homeostat::app::config;
use homeostat::app::run::{
    apply_changes, note_learned, notify, recommend, use_learned, ApplySettings, RunContext,
};
use homeostat::core::apply::{ApplyRules, ApplyRun};
use homeostat::core::plan::{Plan, Status};
use homeostat::core::time::parse_timestamp;
use http::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::notify::Server;

/// The bundled taxi trace as shop/cart, its max ceiling 3 (its peaks need
/// about 15 replicas at 2,000 a replica).
fn write_config(
    dir: &Path,
    learning: &str,
    alertmanager: &Server,
    pushgateway: &Server,
) -> PathBuf {
    let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
    let text = format!(
        "alertmanager: {{url: {}}}\npushgateway: {{url: {}}}\nstore: {}\ndefaults: {{history: 28d, horizon: 1d}}\nworkloads:\n  - name: cart\n    namespace: shop\n    file: {}\n    target_per_replica: 2000\n    max_replicas: {{floor: 2, ceiling: 3}}\n    learning: {learning}\n",
        alertmanager.url,
        pushgateway.url,
        dir.join("models").display(),
        taxi.display()
    );
    let path = dir.join("homeostat.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// One `apply --dry-run` run at `at` as the binary does it (learned
/// settings read from the store first), reading `live` as the HPA, then
/// notifying.
fn run_at(path: &Path, at: i64, live: Value) -> (Plan, ApplyRun) {
    let text = std::fs::read_to_string(path).unwrap();
    let written = config::parse(&text, path, path.parent().unwrap()).unwrap();
    let mut config = written.clone();
    let learned = use_learned(&mut config);
    let clock = chrono::Utc::now().timestamp();
    let context = RunContext::new(Some(at), clock);
    let mut plan = recommend(&context, &config);
    note_learned(&mut plan, &learned);
    let settings = ApplySettings {
        dry_run: true,
        rules: ApplyRules::default(),
        clock_now: clock,
        ..Default::default()
    };
    let applied = context.runtime().unwrap().block_on(async {
        // The HPA read, then (when the run changes it) its patch as a
        // server-side dry run.
        let (client, _, _) = scripted(vec![
            get("cart", StatusCode::OK, live.clone()),
            dry_patch("cart", StatusCode::OK, live),
        ]);
        apply_changes(&written, &plan, Some(&client), &settings).await
    });
    let notified = notify(&context, &config, &plan, Some(&applied), 1.0, clock);
    assert!(notified.report.errors.is_empty(), "{:?}", notified.report);
    (plan, applied)
}

/// The taxi trace's last sample, and a week before it.
fn times() -> (i64, i64) {
    let last = parse_timestamp("2015-02-01T04:30:00Z").unwrap();
    (last - 7 * 86_400, last)
}

#[test]
fn the_operators_fix_is_noted_learned_and_heals_the_same_load_a_week_later() {
    let (alertmanager, pushgateway) = (Server::alertmanager(), Server::pushgateway());
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "apply", &alertmanager, &pushgateway);
    let (week_before, last) = times();

    // Capped by its ceiling: an incident and a page.
    let (plan, first) = run_at(&path, week_before, hpa("cart", 2, 3, 3));
    assert_eq!(plan.workloads[0].status, Status::NeedsOperator);
    assert_eq!(first.incidents_opened[0].id, "shop/cart#1");
    assert_eq!(support::paging(&alertmanager, "cart"), ["ceiling"]);
    // The page names its incident: what `incident note` and `postmortem
    // --incident` take.
    let page = &support::active_alerts(&alertmanager, "cart")[0];
    assert_eq!(page["annotations"]["incident"], "shop/cart#1");
    assert!(
        page["annotations"]["fix"]
            .as_str()
            .unwrap()
            .contains("homeostat postmortem --incident shop/cart#1"),
        "{page}"
    );

    // The operator raises the HPA's max to 40 with kubectl: noted on the
    // incident and learned (this run planned before it knew).
    let raised = hpa_changed_by("cart", (2, 40), (2, 3), "kubectl");
    let (_, second) = run_at(&path, week_before + 3600, raised.clone());
    assert!(
        second.since_last_run.iter().any(|(_, note)| note
            == "HPA maxReplicas 3 → 40 (by kubectl) since homeostat's last run (noted on incident shop/cart#1)"),
        "{:?}",
        second.since_last_run
    );
    assert!(
        second.since_last_run.iter().any(|(_, note)| note
            .starts_with("learned: max_replicas.ceiling 40 from incident shop/cart#1")
            && note.contains("used from the next run on (learning: apply)")),
        "{:?}",
        second.since_last_run
    );

    // The next run plans within the learned ceiling: the load fits, the
    // incident closes, the page is resolved.
    let (plan, third) = run_at(&path, week_before + 7200, raised.clone());
    let cart = &plan.workloads[0];
    assert_eq!(cart.status, Status::Ok, "{:?}", cart.reasons);
    assert!(cart.max_replicas.unwrap() > 3);
    assert!(cart
        .reasons
        .iter()
        .any(|r| r.starts_with("max ceiling 40 learned from incident shop/cart#1")));
    assert_eq!(third.incidents_closed[0].id, "shop/cart#1");
    assert!(support::paging(&alertmanager, "cart").is_empty());
    let metrics = pushgateway.get("/metrics").unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("homeostat_incidents_open{")
                && l.contains("workload=\"cart\"")
                && l.ends_with(" 0")),
        "{metrics}"
    );

    // The post-mortem has every step.
    let draft = support::homeostat(&[
        "postmortem",
        "--config",
        path.to_str().unwrap(),
        "--incident",
        "shop/cart#1",
    ]);
    let text = support::stdout(&draft);
    let timeline: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("## Timeline"))
        .filter(|l| l.starts_with("| 2015"))
        .map(|l| l.split(" | ").nth(1).unwrap().trim_end_matches(" |"))
        .collect();
    assert_eq!(
        timeline,
        [
            "run: needs_operator recommended 2..3 (dry run)",
            "incident opened: needs_operator",
            "run: needs_operator recommended 2..3 (dry run)",
            "operator: HPA maxReplicas 3 → 40 (by kubectl)",
            "run: ok recommended 2..16 (dry run)",
            "incident closed: the condition had cleared",
        ],
        "{text}"
    );
    assert!(
        text.contains("Learned: max_replicas.ceiling 40 from the operator's change"),
        "{text}"
    );

    // A week later, the same load: healed without a page.
    let (plan, later) = run_at(&path, last, raised);
    assert_eq!(plan.workloads[0].status, Status::Ok);
    assert!(
        later.incidents_opened.is_empty(),
        "{:?}",
        later.incidents_opened
    );
    assert!(support::paging(&alertmanager, "cart").is_empty());
}

#[test]
fn with_learning_suggest_it_keeps_paging_and_suggests_the_patch() {
    let (alertmanager, pushgateway) = (Server::alertmanager(), Server::pushgateway());
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "suggest", &alertmanager, &pushgateway);
    let (week_before, last) = times();
    run_at(&path, week_before, hpa("cart", 2, 3, 3));
    let raised = hpa_changed_by("cart", (2, 40), (2, 3), "kubectl");
    run_at(&path, week_before + 3600, raised.clone());
    let (plan, _) = run_at(&path, last, raised);
    let cart = &plan.workloads[0];
    assert_eq!(cart.status, Status::NeedsOperator, "{:?}", cart.reasons);
    assert!(
        cart.reasons.iter().any(
            |r| r.contains("max ceiling 40 learned from incident shop/cart#1")
                && r.contains("suggested, not used")
        ),
        "{:?}",
        cart.reasons
    );
    assert_eq!(support::paging(&alertmanager, "cart"), ["ceiling"]);
    let patch = support::homeostat(&["learned", "--config", path.to_str().unwrap()]);
    let text = support::stdout(&patch);
    let patch: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(
        patch["workloads"][0]["max_replicas"]["ceiling"], 40,
        "{text}"
    );
}
