//! `apply` against a scripted Kubernetes API: a tower service that answers
//! each request kube sends from a script and checks it exactly (method,
//! path with `fieldManager`, content type, body). Kept for what a real API
//! server cannot be made to do on demand — a 500 or 429 on one call and
//! not the next, a 409 or 403 at a chosen moment — and for the exact
//! requests; `cluster.rs` runs `apply` against a real kube-apiserver.

use crate::support;
use homeostat::app::config::{self, Config};
use homeostat::app::run::{apply_changes, ApplySettings};
use homeostat::core::apply::ApplyRules;
use homeostat::core::plan::{Plan, Status, WorkloadPlan};
use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const HPAS: &str = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers";

/// One expected request and the answer to it.
pub(crate) struct Step {
    method: Method,
    uri: String,
    status: StatusCode,
    answer: Value,
}

pub(crate) fn get(hpa: &str, status: StatusCode, answer: Value) -> Step {
    Step {
        method: Method::GET,
        uri: format!("{HPAS}/{hpa}"),
        status,
        answer,
    }
}

fn patch(hpa: &str, status: StatusCode, answer: Value) -> Step {
    Step {
        method: Method::PATCH,
        uri: format!("{HPAS}/{hpa}?&fieldManager=homeostat"),
        status,
        answer,
    }
}

pub(crate) fn hpa(name: &str, min: i32, max: i32, running: i32) -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "minReplicas": min,
            "maxReplicas": max,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        },
        "status": {"currentReplicas": running, "desiredReplicas": running}
    })
}

fn api_error(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// The PATCH bodies received, in order.
pub(crate) type Patches = Arc<Mutex<Vec<(String, Value)>>>;

/// A kube client whose every request must be the script's next one.
pub(crate) fn scripted(script: Vec<Step>) -> (kube::Client, Patches, Arc<Mutex<VecDeque<Step>>>) {
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let patches: Patches = Arc::default();
    let (left, seen) = (script.clone(), patches.clone());
    let service = tower::service_fn(move |request: Request<Body>| {
        let (script, seen) = (left.clone(), seen.clone());
        async move {
            let step = script.lock().unwrap().pop_front().unwrap_or_else(|| {
                panic!("unexpected request {} {}", request.method(), request.uri())
            });
            assert_eq!(request.method(), step.method, "{}", request.uri());
            assert_eq!(request.uri().to_string(), step.uri);
            if step.method == Method::PATCH {
                assert_eq!(
                    request.headers()[http::header::CONTENT_TYPE],
                    "application/apply-patch+yaml"
                );
                let uri = request.uri().to_string();
                let bytes = request.into_body().collect_bytes().await.unwrap();
                seen.lock()
                    .unwrap()
                    .push((uri, serde_json::from_slice(&bytes).unwrap()));
            }
            Ok::<_, std::convert::Infallible>(
                Response::builder()
                    .status(step.status)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Body::from(serde_json::to_vec(&step.answer).unwrap()))
                    .unwrap(),
            )
        }
    });
    (kube::Client::new(service, "default"), patches, script)
}

fn workload(name: &str, status: Status, min: u32, max: u32) -> WorkloadPlan {
    let recommended = matches!(status, Status::Ok | Status::NeedsOperator);
    WorkloadPlan {
        min_replicas: recommended.then_some(min),
        max_replicas: recommended.then_some(max),
        reasons: vec![format!("{name}: the reason")],
        now: homeostat::core::time::parse_timestamp("2026-11-26T12:00:00Z").ok(),
        ..WorkloadPlan::empty("shop", name, name, status)
    }
}

/// A config whose model store is `store`.
fn config(store: &Path) -> Config {
    config::parse(
        &config_text(store, ""),
        Path::new("homeostat.yaml"),
        Path::new("."),
    )
    .unwrap()
}

/// The YAML of [`config`], with `extra` settings for the workload.
fn config_text(store: &Path, extra: &str) -> String {
    format!(
        "store: {}\nworkloads:\n  - name: cart\n    namespace: shop\n    file: cart.csv\n    target_per_replica: 10\n{extra}",
        store.display()
    )
}

fn run(
    plan: &Plan,
    script: Vec<Step>,
    dry_run: bool,
) -> (homeostat::core::apply::ApplyRun, Patches) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, patches, left) = scripted(script);
        let settings = ApplySettings {
            dry_run,
            rules: ApplyRules::default(),
            clock_now: chrono::Utc::now().timestamp(),
            ..Default::default()
        };
        let store = tempfile::tempdir().unwrap();
        let applied = apply_changes(&config(store.path()), plan, Some(&client), &settings).await;
        let left: Vec<String> = left.lock().unwrap().iter().map(|s| s.uri.clone()).collect();
        assert!(left.is_empty(), "requests never sent: {left:?}");
        (applied, patches)
    })
}

fn plan(workloads: Vec<WorkloadPlan>) -> Plan {
    Plan {
        generated_at: "2026-11-26T12:00:01Z".to_string(),
        workloads,
        config_errors: Vec::new(),
    }
}

/// Three workloads against HPAs at 3..10, 3..20 and 2..20: cart to
/// patch (4..12), search within the hysteresis (3..21: left as it is),
/// ads with no recommendation to apply (needs an operator).
fn cart_search_ads() -> Plan {
    plan(vec![
        workload("cart", Status::Ok, 4, 12),
        workload("search", Status::Ok, 3, 21),
        workload("ads", Status::NeedsOperator, 3, 90),
    ])
}

#[test]
fn reads_each_hpa_and_patches_only_what_the_rules_let_through() {
    let plan = cart_search_ads();
    let script = vec![
        get("cart", StatusCode::OK, hpa("cart", 3, 10, 5)),
        patch("cart", StatusCode::OK, hpa("cart", 4, 12, 5)),
        get("search", StatusCode::OK, hpa("search", 3, 20, 4)),
        get("ads", StatusCode::OK, hpa("ads", 2, 20, 20)),
        patch("ads", StatusCode::OK, hpa("ads", 2, 30, 20)),
    ];
    let (applied, patches) = run(&plan, script, false);
    assert!(applied.failures.is_empty(), "{:?}", applied.failures);
    let patches = patches.lock().unwrap();
    assert_eq!(patches.len(), 2);
    // Paging at its max: max alone rises towards the ceiling.
    assert_eq!(
        patches[1].1["spec"],
        json!({"minReplicas": 2, "maxReplicas": 30})
    );
    let body = &patches[0].1;
    assert_eq!(body["apiVersion"], "autoscaling/v2");
    assert_eq!(body["kind"], "HorizontalPodAutoscaler");
    assert_eq!(body["metadata"]["name"], "cart");
    assert_eq!(body["spec"], json!({"minReplicas": 4, "maxReplicas": 12}));
    // Only the two bounds and the annotation: nothing else is owned.
    assert_eq!(body.as_object().unwrap().len(), 4);
    let record: Value = serde_json::from_str(
        body["metadata"]["annotations"]["homeostat.io/last-recommendation"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        record["previous"],
        json!({"min_replicas": 3, "max_replicas": 10})
    );
    assert_eq!(record["at"], "2026-11-26T12:00:00Z");
    assert_eq!(record["held_back"], json!([]));
    let actions: Vec<(&str, bool)> = applied
        .changes
        .iter()
        .map(|c| (c.name.as_str(), c.patch))
        .collect();
    assert_eq!(actions, [("cart", true), ("search", false), ("ads", true)]);
    assert!(
        applied.changes[2].held_back[0]
            .starts_with("status needs_operator: only max raised (20 → 30, 90 recommended)"),
        "{:?}",
        applied.changes[2].held_back
    );
}

/// A server-side dry run of this run's patch (`dryRun=All`): the API
/// server checks it and stores nothing.
pub(crate) fn dry_patch(hpa: &str, status: StatusCode, answer: Value) -> Step {
    Step {
        uri: format!("{HPAS}/{hpa}?&dryRun=All&fieldManager=homeostat"),
        ..patch(hpa, status, answer)
    }
}

#[test]
fn a_dry_run_reads_but_never_patches_and_still_writes_the_yaml() {
    let plan = plan(vec![workload("cart", Status::Ok, 4, 12)]);
    let script = vec![
        get("cart", StatusCode::OK, hpa("cart", 3, 10, 5)),
        dry_patch("cart", StatusCode::OK, hpa("cart", 4, 12, 5)),
    ];
    let (applied, patches) = run(&plan, script, true);
    // Only the server-side dry run: nothing stored.
    let sent = patches.lock().unwrap();
    assert!(
        sent.iter().all(|(uri, _)| uri.contains("dryRun=All")),
        "{sent:?}"
    );
    assert!(applied.changes[0].patch);
    let yaml = applied.patches_yaml(&[], &std::collections::HashSet::new());
    assert!(yaml.contains("kind: HorizontalPodAutoscaler"), "{yaml}");
    assert!(yaml.contains("minReplicas: 4"), "{yaml}");
}

/// The `GitOps` YAML is the desired state of every HPA, not this run's
/// changes only: a file that dropped the HPAs left as they are would drop
/// the last run's patches from the repository, and their bounds would
/// flap back to the base at the next sync (review finding). An HPA left
/// as it is carries only its bounds, so that its document changes only
/// when they do.
#[test]
fn the_gitops_yaml_holds_every_hpa_changed_or_not() {
    let plan = cart_search_ads();
    let script = vec![
        get("cart", StatusCode::OK, hpa("cart", 3, 10, 5)),
        dry_patch("cart", StatusCode::OK, hpa("cart", 4, 12, 5)),
        get("search", StatusCode::OK, hpa("search", 3, 20, 4)),
        // Paging with max where the recommendation has it: left as it is.
        get("ads", StatusCode::OK, hpa("ads", 2, 90, 20)),
    ];
    let (applied, _) = run(&plan, script, true);
    let documents = &applied.desired;
    let bounds: Vec<(String, Value)> = documents
        .iter()
        .map(|d| {
            (
                d["metadata"]["name"].as_str().unwrap().to_string(),
                d["spec"].clone(),
            )
        })
        .collect();
    assert_eq!(
        bounds,
        [
            (
                "cart".to_string(),
                json!({"minReplicas": 4, "maxReplicas": 12})
            ),
            (
                "search".to_string(),
                json!({"minReplicas": 3, "maxReplicas": 20})
            ),
            (
                "ads".to_string(),
                json!({"minReplicas": 2, "maxReplicas": 90})
            ),
        ]
    );
    let record = |d: &Value| -> Value {
        serde_json::from_str(
            d["metadata"]["annotations"]["homeostat.io/last-recommendation"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
    };
    // The change carries its full record; the others only their bounds.
    assert!(record(&documents[0])["reasons"].is_array());
    assert_eq!(
        record(&documents[1]),
        json!({"min_replicas": 3, "max_replicas": 20})
    );
    let yaml = applied.patches_yaml(&[], &std::collections::HashSet::new());
    assert_eq!(
        yaml.matches("kind: HorizontalPodAutoscaler").count(),
        3,
        "{yaml}"
    );
    assert!(applied.not_desired.is_empty());
}

/// A `GitOps` job without a cluster over the taxi trace: a config whose
/// workload `shop/web` (`web_extra` added to its fields, e.g. an `hpa:`)
/// starts from `current: 3..10` under a max ceiling of 40, `more`
/// workload lines after it, and the YAML the runs write.
struct GitOps {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    yaml: std::path::PathBuf,
}

impl GitOps {
    fn new(web_extra: &str, more: impl FnOnce(&Path) -> String) -> GitOps {
        let dir = tempfile::tempdir().unwrap();
        let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
        let config = dir.path().join("homeostat.yaml");
        std::fs::write(
            &config,
            format!(
                "store: {}\ndefaults: {{history: 28d, horizon: 1d}}\n# Each run a scheduled one, however soon after the last.\napply: {{rerun_window: 0}}\nworkloads:\n  - {{name: web, {web_extra}namespace: shop, file: {}, target_per_replica: 1500, max_replicas: {{floor: 2, ceiling: 40}}, current: {{min_replicas: 3, max_replicas: 10}}}}\n{}",
                dir.path().join("models").display(),
                taxi.display(),
                more(dir.path())
            ),
        )
        .unwrap();
        let yaml = dir.path().join("hpa.yaml");
        GitOps { dir, config, yaml }
    }

    /// `apply --dry-run --output-format yaml --output <yaml>`.
    fn apply(&self) -> std::process::Output {
        support::apply_without_a_cluster(
            &[
                "--output-format",
                "yaml",
                "--output",
                self.yaml.to_str().unwrap(),
            ],
            &self.config,
            self.dir.path(),
        )
    }

    /// The bounds of each HPA in the YAML.
    fn bounds(&self) -> homeostat::edge::cluster::HpaBounds {
        homeostat::edge::cluster::bounds_in_yaml(&std::fs::read_to_string(&self.yaml).unwrap())
            .unwrap()
    }
}

/// A `GitOps` job without a cluster: the YAML the last run wrote is what
/// the repository holds, so the next run's step limit starts from it, not
/// from `current:` as once written (review finding: max stayed at 15, ×1.5
/// of the config's 10, run after run, while the load needed 22). A file
/// that is not that YAML stops the run before it is overwritten.
#[test]
fn without_a_cluster_the_gitops_yaml_of_the_last_run_is_what_the_plan_starts_from() {
    let gitops = GitOps::new("", |_| String::new());
    let yaml = gitops.yaml.clone();
    let apply = || gitops.apply();
    let run = || {
        let out = apply();
        let stderr = support::stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        (
            gitops.bounds()[&("shop".to_string(), "web".to_string())],
            stderr,
        )
    };
    let (first, stderr) = run();
    assert_eq!(
        first,
        (3, 15),
        "one ×1.5 step from `current:`'s 10: {stderr}"
    );
    let (second, stderr) = run();
    assert_eq!(second, (3, 22), "on from the YAML's 15: {stderr}");
    assert!(stderr.contains("yaml       3..15"), "{stderr}");
    let patched = std::fs::read_to_string(&yaml).unwrap();
    let (third, _) = run();
    assert_eq!(third, (3, 22), "there: the document stays");
    assert_eq!(
        std::fs::read_to_string(&yaml).unwrap(),
        patched,
        "the same bounds: the document as the patch wrote it, its record with it"
    );

    std::fs::write(
        &yaml,
        "kind: HorizontalPodAutoscaler\nmetadata: {name: web}\n",
    )
    .unwrap();
    let out = apply();
    let stderr = support::stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("hpa.yaml") && stderr.contains("no metadata.name and metadata.namespace"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&yaml).unwrap(),
        "kind: HorizontalPodAutoscaler\nmetadata: {name: web}\n",
        "left as it was"
    );
}

#[test]
fn a_conflict_and_a_refusal_are_reported_per_workload_and_alerted() {
    let plan = plan(vec![
        workload("cart", Status::Ok, 4, 12),
        workload("search", Status::Ok, 5, 30),
        workload("ads", Status::Ok, 2, 8),
    ]);
    let conflict = "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using autoscaling/v2: .spec.maxReplicas";
    let script = vec![
        get("cart", StatusCode::OK, hpa("cart", 3, 10, 5)),
        patch(
            "cart",
            StatusCode::CONFLICT,
            api_error(409, "Conflict", conflict),
        ),
        get(
            "search",
            StatusCode::FORBIDDEN,
            api_error(403, "Forbidden", "horizontalpodautoscalers.autoscaling \"search\" is forbidden: User \"system:serviceaccount:homeostat:homeostat\" cannot get resource"),
        ),
        // The others still go on.
        get("ads", StatusCode::OK, hpa("ads", 2, 8, 2)),
    ];
    let (applied, _) = run(&plan, script, false);
    let failures: Vec<&str> = applied.failures.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failures, ["shop/cart", "shop/search"]);
    assert!(
        applied.failures[0].1.contains("conflict"),
        "{}",
        applied.failures[0].1
    );
    assert!(applied.failures[0].1.contains("kubectl-client-side-apply"));
    assert!(
        applied.failures[1].1.contains("forbidden"),
        "{}",
        applied.failures[1].1
    );
    assert!(applied.failures[1]
        .1
        .contains("get and patch on horizontalpodautoscalers"));
    let reasons: Vec<&str> = applied.troubles.iter().map(|t| t.reason.as_str()).collect();
    assert_eq!(reasons, ["patch_failed", "hpa_unreadable"]);
    let names: Vec<&str> = applied.changes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cart", "ads"]);
}

#[test]
fn server_errors_of_the_api_are_retried_then_reported_per_workload() {
    let plan = plan(vec![
        workload("recs", Status::Ok, 4, 12),
        workload("promo", Status::Ok, 3, 9),
    ]);
    let down = || api_error(500, "InternalError", "etcdserver: leader changed");
    let script = vec![
        // Three 500s in a row: given up, named, alerted.
        get("recs", StatusCode::INTERNAL_SERVER_ERROR, down()),
        get("recs", StatusCode::INTERNAL_SERVER_ERROR, down()),
        get("recs", StatusCode::INTERNAL_SERVER_ERROR, down()),
        // One 503, then served: read, patched, with one 500 on the patch.
        get(
            "promo",
            StatusCode::SERVICE_UNAVAILABLE,
            api_error(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
        ),
        get("promo", StatusCode::OK, hpa("promo", 2, 8, 3)),
        patch("promo", StatusCode::INTERNAL_SERVER_ERROR, down()),
        patch("promo", StatusCode::OK, hpa("promo", 3, 9, 3)),
    ];
    let (applied, patches) = run(&plan, script, false);
    let failures: Vec<&str> = applied.failures.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failures, ["shop/recs"]);
    let why = &applied.failures[0].1;
    assert!(
        why.contains("500 InternalError: etcdserver: leader changed")
            && why.contains("gave up after 3 attempts"),
        "{why}"
    );
    let reasons: Vec<&str> = applied.troubles.iter().map(|t| t.reason.as_str()).collect();
    assert_eq!(reasons, ["hpa_unreadable"]);
    // The retried patch was sent twice, the same body both times.
    let patches = patches.lock().unwrap();
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[0], patches[1]);
}

#[test]
fn the_model_store_remembers_what_was_applied_run_after_run() {
    let store = tempfile::tempdir().unwrap();
    let (runtime, settings) = runs_in_a_row();
    let config = config(store.path());
    let first = plan(vec![workload("cart", Status::Ok, 4, 12)]);
    let applied = runtime.block_on(async {
        let (client, _, _) = scripted(vec![
            get("cart", StatusCode::OK, hpa("cart", 3, 10, 5)),
            patch("cart", StatusCode::OK, hpa("cart", 4, 12, 5)),
        ]);
        apply_changes(&config, &first, Some(&client), &settings).await
    });
    assert!(applied.since_last_run.is_empty());
    let mut second = plan(vec![workload("cart", Status::Ok, 5, 12)]);
    second.workloads[0].now = homeostat::core::time::parse_timestamp("2026-11-26T12:15:00Z").ok();
    let applied = runtime.block_on(async {
        let (client, _, _) = scripted(vec![
            get("cart", StatusCode::OK, hpa("cart", 4, 12, 5)),
            patch("cart", StatusCode::OK, hpa("cart", 5, 12, 5)),
        ]);
        apply_changes(&config, &second, Some(&client), &settings).await
    });
    assert_eq!(
        applied.since_last_run,
        [(
            "shop/cart".to_string(),
            "recommended 4..12 at the last run (2026-11-26T12:00:00Z), now 5..12".to_string()
        )]
    );
    let state = homeostat::edge::store::Store::new(store.path())
        .load("shop", "cart", 0)
        .state
        .unwrap();
    let applied: Vec<(Option<u32>, Option<u32>)> = state
        .history
        .iter()
        .map(|r| (r.applied_min, r.applied_max))
        .collect();
    assert_eq!(applied, [(Some(4), Some(12)), (Some(5), Some(12))]);
}

/// `hpa(..)` as homeostat left it at `applied` and someone else since
/// moved (`manager` owning `spec.maxReplicas`, as managedFields say).
pub(crate) fn hpa_changed_by(
    name: &str,
    (min, max): (i32, i32),
    applied: (u32, u32),
    manager: &str,
) -> Value {
    let mut object = hpa(name, min, max, 5);
    let record = json!({"min_replicas": applied.0, "max_replicas": applied.1}).to_string();
    object["metadata"]["annotations"] = json!({ "homeostat.io/last-recommendation": record });
    object["metadata"]["managedFields"] = json!([
        {"manager": "homeostat", "operation": "Apply", "apiVersion": "autoscaling/v2",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:minReplicas": {}}}},
        {"manager": manager, "operation": "Update", "apiVersion": "autoscaling/v2",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:maxReplicas": {}}}}
    ]);
    object
}

/// A runtime and settings for runs of `apply_changes` one after another.
fn runs_in_a_row() -> (tokio::runtime::Runtime, ApplySettings) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = ApplySettings {
        dry_run: false,
        rules: ApplyRules::default(),
        clock_now: chrono::Utc::now().timestamp(),
        ..Default::default()
    };
    (runtime, settings)
}

#[test]
fn the_operators_change_to_the_hpa_is_noted_on_the_incident_it_healed() {
    let store = tempfile::tempdir().unwrap();
    let (runtime, settings) = runs_in_a_row();
    // Capped at 3 by the config; the operator raises the HPA to 40.
    let yaml = config_text(store.path(), "    max_replicas: {floor: 2, ceiling: 3}\n");
    let config_path = store.path().join("homeostat.yaml");
    std::fs::write(&config_path, &yaml).unwrap();
    let config = config::parse(&yaml, &config_path, store.path()).unwrap();
    // Capped: homeostat recommends what the ceiling allows and calls the operator.
    let capped = plan(vec![workload("cart", Status::NeedsOperator, 2, 3)]);
    let first = runtime.block_on(async {
        let (client, _, _) = scripted(vec![get(
            "cart",
            StatusCode::OK,
            hpa_changed_by("cart", (2, 3), (2, 3), "kubectl"),
        )]);
        apply_changes(&config, &capped, Some(&client), &settings).await
    });
    assert_eq!(first.incidents_opened.len(), 1, "{first:?}");
    // The operator raised maxReplicas with kubectl; the load fits again.
    let mut healed = plan(vec![workload("cart", Status::Ok, 2, 40)]);
    healed.workloads[0].now = homeostat::core::time::parse_timestamp("2026-11-26T12:15:00Z").ok();
    let second = runtime.block_on(async {
        let (client, _, _) = scripted(vec![get(
            "cart",
            StatusCode::OK,
            hpa_changed_by("cart", (2, 40), (2, 3), "kubectl"),
        )]);
        apply_changes(&config, &healed, Some(&client), &settings).await
    });
    assert!(
        second.since_last_run.iter().any(|(id, note)| id == "shop/cart"
            && note
                == "HPA maxReplicas 3 → 40 (by kubectl) since homeostat's last run (noted on incident shop/cart#1)"),
        "{:?}",
        second.since_last_run
    );
    assert_eq!(second.incidents_closed.len(), 1);
    let closed = &second.incidents_closed[0];
    let changes: Vec<&str> = closed
        .operator_changes
        .iter()
        .map(|c| c.what.as_str())
        .collect();
    assert_eq!(changes, ["HPA maxReplicas 3 → 40 (by kubectl)"]);
    assert_eq!(closed.closed.as_deref(), Some("2026-11-26T12:15:00Z"));
    // The operator's fix, suggested for the config, and written as a patch.
    assert!(
        second.since_last_run.iter().any(|(_, note)| note
            .starts_with("learned (suggested): max_replicas.ceiling 40 from incident shop/cart#1")),
        "{:?}",
        second.since_last_run
    );
    let learned =
        crate::support::homeostat(&["learned", "--config", config_path.to_str().unwrap()]);
    let text = crate::support::stdout(&learned);
    assert_eq!(
        learned.status.code(),
        Some(0),
        "{}",
        crate::support::stderr(&learned)
    );
    let patch: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(patch["workloads"][0]["name"], "cart", "{text}");
    assert_eq!(
        patch["workloads"][0]["max_replicas"]["ceiling"], 40,
        "{text}"
    );
    assert!(text.contains("# from incident shop/cart#1"), "{text}");
    // A config raised beyond it since (merged or by hand) is never offered
    // the lower ceiling, even before a run has seen the change.
    let raised = config_text(store.path(), "    max_replicas: {floor: 2, ceiling: 60}\n");
    std::fs::write(&config_path, &raised).unwrap();
    for format in ["yaml", "json"] {
        let learned = crate::support::homeostat(&[
            "learned",
            "--config",
            config_path.to_str().unwrap(),
            "--format",
            format,
        ]);
        let text = crate::support::stdout(&learned);
        assert!(
            !text.contains("ceiling") && !text.contains("cart"),
            "{format}: {text}"
        );
    }
    // Once the config takes it, it is no longer suggested.
    let taken = config_text(store.path(), "    max_replicas: {floor: 2, ceiling: 40}\n");
    std::fs::write(&config_path, &taken).unwrap();
    let config = config::parse(&taken, &config_path, store.path()).unwrap();
    let mut later = plan(vec![workload("cart", Status::Ok, 2, 40)]);
    later.workloads[0].now = homeostat::core::time::parse_timestamp("2026-11-26T12:30:00Z").ok();
    runtime.block_on(async {
        let (client, _, _) = scripted(vec![get("cart", StatusCode::OK, hpa("cart", 2, 40, 5))]);
        apply_changes(&config, &later, Some(&client), &settings).await
    });
    let learned =
        crate::support::homeostat(&["learned", "--config", config_path.to_str().unwrap()]);
    assert!(
        crate::support::stdout(&learned).contains("# nothing learned"),
        "{}",
        crate::support::stdout(&learned)
    );
}

/// The document a run wrote for the HPA `shop/name` with these bounds.
fn shop_document(name: &str, min: u32, max: u32) -> String {
    format!("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {name}\n  namespace: shop\n  annotations:\n    homeostat.io/last-recommendation: '{{\"min_replicas\":{min},\"max_replicas\":{max}}}'\nspec:\n  minReplicas: {min}\n  maxReplicas: {max}\n")
}

#[test]
fn the_gitops_yaml_keeps_the_last_documents_of_hpas_this_run_writes_none_for() {
    // Two hours of history: no recommendation, and no `current:` either.
    let gitops = GitOps::new("", |dir| {
        let young = dir.join("young.csv");
        std::fs::write(
            &young,
            "timestamp,value\n2015-01-31T22:00:00Z,10\n2015-01-31T23:00:00Z,12\n",
        )
        .unwrap();
        format!(
            "  - {{name: young, namespace: shop, file: {}, target_per_replica: 5}}\n",
            young.display()
        )
    });
    let yaml = gitops.yaml.clone();
    // The last run wrote web, young, and an HPA since taken out of the config.
    std::fs::write(
        &yaml,
        [
            shop_document("web", 3, 10),
            shop_document("young", 4, 9),
            shop_document("gone", 1, 5),
        ]
        .join("---\n"),
    )
    .unwrap();
    let out = gitops.apply();
    let stderr = support::stderr(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let bounds = gitops.bounds();
    let key = |name: &str| ("shop".to_string(), name.to_string());
    assert_eq!(bounds[&key("web")], (3, 15), "this run's: {stderr}");
    assert_eq!(
        bounds.get(&key("young")),
        Some(&(4, 9)),
        "kept as the last run wrote it: {stderr}"
    );
    assert!(
        !bounds.contains_key(&key("gone")),
        "not in the config any more"
    );
    // Dropped, and said.
    assert!(
        stderr.contains("shop/gone: no workload of the config names this HPA any more: its document is dropped from"),
        "{stderr}"
    );
    assert!(!stderr.contains("shop/web: no workload"), "{stderr}");
}

/// One workload's mistake in a shared config stops only it: the others
/// are applied, it is reported failed (exit 1, an alert), and its HPA's
/// document stays in the `GitOps` YAML as the last run wrote it (a config
/// typo must not drop a service's bounds from the repository).
#[test]
fn a_workload_the_config_cannot_run_fails_alone_and_keeps_its_document() {
    let gitops = GitOps::new("", |_| {
        "  - {name: cart, namespace: shop, file: nowhere.csv, target_per_replica: 0, current: {min_replicas: 2, max_replicas: 8}}\n".to_string()
    });
    std::fs::write(
        &gitops.yaml,
        [shop_document("web", 3, 10), shop_document("cart", 4, 9)].join("---\n"),
    )
    .unwrap();
    let out = gitops.apply();
    let stderr = support::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("shop/cart: FAILED: not run, the config is invalid for it (the others ran): workload shop/cart: target_per_replica must be a positive number"),
        "{stderr}"
    );
    let bounds = gitops.bounds();
    let key = |name: &str| ("shop".to_string(), name.to_string());
    assert_eq!(bounds[&key("web")], (3, 15), "this run's: {stderr}");
    assert_eq!(bounds.get(&key("cart")), Some(&(4, 9)), "{stderr}");
    // Its name itself mistyped: no workload names the HPA now, but one
    // that cannot be read may be its own; the document stays, and why.
    let config = std::fs::read_to_string(&gitops.config).unwrap();
    std::fs::write(
        &gitops.config,
        config.replace("{name: cart,", "{nmae: cart,"),
    )
    .unwrap();
    let out = gitops.apply();
    let stderr = support::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("shop/cart: no workload of the config names this HPA, but some workload's names cannot be read: the YAML keeps its document"),
        "{stderr}"
    );
    assert_eq!(gitops.bounds().get(&key("cart")), Some(&(4, 9)), "{stderr}");
}

#[test]
fn an_output_that_cannot_be_written_stops_apply_before_anything_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
    let config = dir.path().join("homeostat.yaml");
    let store = dir.path().join("models");
    std::fs::write(
        &config,
        format!(
            "store: {}\nworkloads:\n  - {{name: web, namespace: shop, file: {}, target_per_replica: 1500, current: {{min_replicas: 3, max_replicas: 10}}}}\n",
            store.display(),
            taxi.display()
        ),
    )
    .unwrap();
    let output = dir.path().join("no-such-folder/hpa.yaml");
    let out = support::apply_without_a_cluster(
        &[
            "--output-format",
            "yaml",
            "--output",
            output.to_str().unwrap(),
        ],
        &config,
        dir.path(),
    );
    let stderr = support::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no-such-folder/hpa.yaml") && stderr.contains("nothing was run"),
        "{stderr}"
    );
    let recorded = std::fs::read_dir(&store).map_or(0, Iterator::count);
    assert_eq!(recorded, 0, "the run is not in the store");
}

#[test]
fn a_hand_edit_of_the_gitops_yaml_is_the_operators_change_and_is_not_written_back() {
    let gitops = GitOps::new("hpa: web-hpa, ", |_| String::new());
    let yaml = gitops.yaml.clone();
    let apply = || {
        let out = gitops.apply();
        let stderr = support::stderr(&out);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
        // By the HPA's name, which is not the workload's.
        (
            gitops.bounds()[&("shop".to_string(), "web-hpa".to_string())],
            stderr,
        )
    };
    let (first, _) = apply();
    assert_eq!(first, (3, 15));
    // A person raises max in the repository; the annotation still says 15.
    let edited = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace("maxReplicas: 15", "maxReplicas: 30");
    std::fs::write(&yaml, &edited).unwrap();
    let (second, stderr) = apply();
    assert_eq!(second, (3, 30), "the person's 30 stands: {stderr}");
    assert!(
        stderr.contains("edited by hand") && stderr.contains("maxReplicas 15 → 30"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&yaml).unwrap(),
        edited,
        "the document as the person left it"
    );
}

/// A workload whose plan needs an operator has a recommendation that is
/// not applied: the `GitOps` warning says so, not "no recommendation".
#[test]
fn a_gitops_run_says_why_a_workload_gets_no_document() {
    let gitops = GitOps::new("", |_| {
        let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
        format!(
            "  - {{name: cart, namespace: shop, file: {}, target_per_replica: 2000, max_replicas: {{floor: 2, ceiling: 3}}}}\n",
            taxi.display()
        )
    });
    let out = gitops.apply();
    let stderr = support::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("shop/cart: status needs_operator: its recommendation is not applied, and no live HPA to read its bounds from"),
        "{stderr}"
    );
    assert!(!stderr.contains("no recommendation this run"), "{stderr}");
    assert!(gitops
        .bounds()
        .contains_key(&("shop".to_string(), "web".to_string())));
}

/// `apply --no-notify --at AT --output-format yaml --output YAML` without
/// a cluster (a `GitOps` run at a moment): the bounds of `namespace/hpa`
/// in the YAML after it, and what it said on stderr.
fn gitops_run_at(
    config: &Path,
    yaml: &Path,
    at: &str,
    (namespace, hpa): (&str, &str),
) -> ((u32, u32), String) {
    let home = config.parent().unwrap();
    let out = support::apply_without_a_cluster(
        &[
            "--no-notify",
            "--at",
            at,
            "--output-format",
            "yaml",
            "--output",
            yaml.to_str().unwrap(),
        ],
        config,
        home,
    );
    let stderr = support::stderr(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let bounds = homeostat::edge::cluster::bounds_in_yaml(&std::fs::read_to_string(yaml).unwrap())
        .unwrap()[&(namespace.to_string(), hpa.to_string())];
    (bounds, stderr)
}

/// The doctor's loop in a `GitOps` job, run after run: a ceiling too low
/// pages; a person raises max in the YAML; the edit is noted on the
/// incident once (not as news on every later run), learned, and kept while
/// the incident is open; once it is closed, the next run takes the bounds
/// back and max follows the load again.
#[test]
fn a_hand_edit_that_healed_an_incident_is_taken_back_once_it_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
    let config = dir.path().join("homeostat.yaml");
    let yaml = dir.path().join("hpa.yaml");
    let write_config = |ceiling: u32| {
        std::fs::write(
            &config,
            format!(
                "store: {}\ndefaults: {{history: 28d, horizon: 1d}}\nworkloads:\n  - {{name: cart, namespace: shop, file: {}, target_per_replica: 2000, max_replicas: {{floor: 2, ceiling: {ceiling}}}, learning: apply, current: {{min_replicas: 2, max_replicas: 10}}}}\n",
                dir.path().join("models").display(),
                taxi.display()
            ),
        )
        .unwrap();
    };
    let apply = |hour: u32| {
        gitops_run_at(
            &config,
            &yaml,
            &format!("2015-01-25T{hour:02}:30:00Z"),
            ("shop", "cart"),
        )
    };
    write_config(40);
    let ((_, first_max), _) = apply(4);
    // The ceiling lowered below what the load needs: an incident.
    write_config(3);
    let (_, stderr) = apply(5);
    assert!(stderr.contains("incident shop/cart#1 opened"), "{stderr}");
    // A person raises max in the repository.
    let edited = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace(&format!("maxReplicas: {first_max}"), "maxReplicas: 40");
    std::fs::write(&yaml, edited).unwrap();
    let change = format!("HPA maxReplicas {first_max} → 40 (by a hand edit of the GitOps YAML)");
    let (bounds, stderr) = apply(6);
    assert_eq!(bounds.1, 40, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{change} since homeostat's last run (noted on incident shop/cart#1)"
        )) && stderr.contains("learned: max_replicas.ceiling 40 from incident shop/cart#1"),
        "{stderr}"
    );
    // Planned within the learned ceiling: the incident closes; the edit
    // stands, and is not news again.
    let (bounds, stderr) = apply(7);
    assert_eq!(bounds.1, 40, "{stderr}");
    assert!(stderr.contains("incident shop/cart#1 closed"), "{stderr}");
    assert!(
        stderr.contains("edited by hand") && stderr.contains(": kept;"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("since homeostat's last run") && !stderr.contains("learned:"),
        "{stderr}"
    );
    // Closed, and within the limits in force: taken back.
    let (bounds, stderr) = apply(8);
    assert!(
        stderr.contains("took the bounds back from")
            && stderr.contains("it healed incident shop/cart#1, which is closed"),
        "{stderr}"
    );
    assert!(
        bounds.1 < 40,
        "max follows the load again: {bounds:?} {stderr}"
    );
    // The next run reads the document as homeostat's own again.
    let (_, stderr) = apply(9);
    assert!(!stderr.contains("edited by hand"), "{stderr}");
}

/// A rerun (a retried job, the same moment run again) steps from where the
/// run it repeats started: the same data gives the same bounds, where each
/// rerun stepped max ×1.5 further (12 → 18 → 27). A run hours later steps
/// on from there.
#[test]
fn a_rerun_at_the_same_moment_does_not_step_again() {
    let dir = tempfile::tempdir().unwrap();
    let fb = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__twitter_volume_fb.csv");
    let config = dir.path().join("homeostat.yaml");
    let yaml = dir.path().join("hpa.yaml");
    let write_config = |apply: &str| {
        std::fs::write(
        &config,
        format!(
            "store: {}\n{apply}workloads:\n  - {{name: mentions, namespace: social, file: {}, target_per_replica: 5, min_replicas: {{ceiling: 10}}, max_replicas: {{floor: 2, ceiling: 40}}, current: {{min_replicas: 2, max_replicas: 12}}}}\n",
            dir.path().join("models").display(),
            fb.display()
        ),
    )
    .unwrap();
    };
    write_config("");
    let apply = |at: &str| gitops_run_at(&config, &yaml, at, ("social", "mentions")).0;
    let first = apply("2015-04-20T12:00:00Z");
    assert_eq!(first.1, 18, "{first:?}");
    for _ in 0..2 {
        assert_eq!(apply("2015-04-20T12:00:00Z"), first);
    }
    // A retry with five minutes more data is a rerun too.
    assert_eq!(apply("2015-04-20T12:05:00Z"), first);
    // Replayed with `--at`, the next run 6 hours on steps on, however
    // soon after by the clock (a replay of a week's runs takes a minute).
    assert_eq!(apply("2015-04-20T18:00:00Z").1, 27);
}

/// In schedule mode the report's range has the schedule's min for now;
/// the line comparing with the last run (the horizon's range) says which
/// min it shows, not a seeming contradiction (3..20 beside 12..20).
#[test]
fn in_schedule_mode_the_last_run_line_says_whose_min_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        format!(
            "store: {}\nworkloads:\n  - {{name: taxi, namespace: m, file: {}, target_per_replica: 2000, mode: schedule, min_replicas: {{floor: 2, ceiling: 20}}, max_replicas: {{floor: 4, ceiling: 40}}, current: {{min_replicas: 3, max_replicas: 15}}}}\n",
            dir.path().join("models").display(),
            taxi.display()
        ),
    )
    .unwrap();
    let mut stderr = String::new();
    for _ in 0..2 {
        let out = support::apply_without_a_cluster(&["--no-notify"], &config, dir.path());
        stderr = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            support::stderr(&out)
        );
        assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    }
    assert!(
        stderr.contains("as at the last run")
            && stderr.contains("(the horizon's min; the schedule's min now "),
        "{stderr}"
    );
}

/// A hand edit of the `GitOps` YAML beyond the configured range is not
/// kept there: the bound goes to the range's edge at once, as any bound
/// outside it does, and homeostat sets the bounds from there on.
#[test]
fn a_hand_edit_beyond_the_ceiling_goes_to_the_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let config = taxi_gitops_config(dir.path(), 2);
    let yaml = dir.path().join("hpa.yaml");
    let apply = |at: &str| gitops_run_at(&config, &yaml, at, ("shop", "cart"));
    let ((_, first_max), _) = apply("2015-01-25T04:30:00Z");
    assert!(first_max < 40, "{first_max}");
    let edited = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace(&format!("maxReplicas: {first_max}"), "maxReplicas: 50");
    std::fs::write(&yaml, edited).unwrap();
    let ((_, max), stderr) = apply("2015-01-25T10:30:00Z");
    assert_eq!(max, 40, "{stderr}");
    assert!(
        stderr.contains("bounds edited by hand outside the configured ranges: max 50 → 40"),
        "{stderr}"
    );
    // Homeostat's from here on: the next run steps from the ceiling.
    let ((_, max), stderr) = apply("2015-01-25T16:30:00Z");
    assert!(max < 40, "{stderr}");
    assert!(!stderr.contains("edited by hand"), "{stderr}");
}

/// A hand edit of the `GitOps` YAML that no incident explains is the
/// operator's own decision: reported on the run that first sees it, kept,
/// and not reported again on every later run that finds it as it was left
/// (nothing but the run record remembers it).
#[test]
fn a_hand_edit_without_an_incident_is_news_once() {
    let dir = tempfile::tempdir().unwrap();
    let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
    let config = dir.path().join("homeostat.yaml");
    let yaml = dir.path().join("hpa.yaml");
    std::fs::write(
        &config,
        format!(
            "store: {}\ndefaults: {{history: 28d, horizon: 1d}}\nworkloads:\n  - {{name: cart, namespace: shop, file: {}, target_per_replica: 2000, max_replicas: {{floor: 2, ceiling: 40}}, current: {{min_replicas: 2, max_replicas: 10}}}}\n",
            dir.path().join("models").display(),
            taxi.display()
        ),
    )
    .unwrap();
    let apply = |hour: u32| {
        let (bounds, stderr) = gitops_run_at(
            &config,
            &yaml,
            &format!("2015-01-25T{hour:02}:30:00Z"),
            ("shop", "cart"),
        );
        assert!(!stderr.contains("incident shop/cart#1"), "{stderr}");
        (bounds, stderr)
    };
    let ((_, first_max), _) = apply(4);
    let edited = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace(&format!("maxReplicas: {first_max}"), "maxReplicas: 39");
    std::fs::write(&yaml, edited).unwrap();
    let news = format!(
        "HPA maxReplicas {first_max} → 39 (by a hand edit of the GitOps YAML) since homeostat's last run"
    );
    let (bounds, stderr) = apply(5);
    assert_eq!(bounds.1, 39, "{stderr}");
    assert!(stderr.contains(&news), "{stderr}");
    for hour in [6, 7] {
        let (bounds, stderr) = apply(hour);
        assert_eq!(bounds.1, 39, "{stderr}");
        assert!(
            stderr.contains("edited by hand") && stderr.contains(": kept;"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("since homeostat's last run (") && !stderr.contains(&news),
            "{stderr}"
        );
    }
}

/// Without `--at` a file is planned as of its last sample: `apply` says
/// which files end long before the run (an export that stopped), with the
/// file, its end and its age, and plans them as before; a fresh file
/// beside it gets no such word.
#[test]
fn a_file_that_ended_long_before_the_run_is_warned_of_by_apply() {
    use std::fmt::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now().timestamp();
    let end = now - now.rem_euclid(300);
    // Three days every 5 minutes with a daily rhythm, ending `ago` seconds
    // before the last whole 5 minutes.
    let write = |name: &str, ago: i64| {
        let mut text = String::from("timestamp,value\n");
        for i in 0..3 * 288 {
            let ts = end - ago - (3 * 288 - 1 - i) * 300;
            let phase = (ts.rem_euclid(86_400) as f64 / 86_400.0) * std::f64::consts::TAU;
            writeln!(text, "{ts},{:.1}", 100.0 + 40.0 * phase.sin()).unwrap();
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let fresh = write("fresh.csv", 0);
    let stale = write("stale.csv", 10 * 86_400);
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        format!(
            "store: {}\nworkloads:\n  - {{name: fresh, namespace: shop, file: {}, target_per_replica: 20}}\n  - {{name: stale, namespace: shop, file: {}, target_per_replica: 20}}\n",
            dir.path().join("models").display(),
            fresh.display(),
            stale.display()
        ),
    )
    .unwrap();
    let out =
        support::apply_without_a_cluster(&["--no-notify", "--format", "json"], &config, dir.path());
    let stderr = support::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("a file is read as of its last sample"))
        .collect();
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(
        warned[0].contains("shop/stale: ")
            && warned[0].contains(&format!("{} ends ", stale.display()))
            && warned[0].contains(", 10d before this run")
            && warned[0].contains("is its export still running?"),
        "{stderr}"
    );
    // Both are still planned and compared with their HPAs.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failures"], serde_json::json!([]), "{report}");
}

/// `cart`, recommended 2..30 at 10 per replica, in a spike peaking at
/// `peak` that is still going on.
fn spiking_cart(peak: f64) -> WorkloadPlan {
    let mut cart = workload("cart", Status::Ok, 2, 30);
    cart.target_per_replica = Some(10.0);
    cart.in_spike = true;
    cart.events = vec![homeostat::core::plan::Event {
        kind: homeostat::core::events::EventKind::Spike,
        start: "2026-11-26T11:30:00Z".into(),
        end: None,
        before: 60.0,
        after: peak,
    }];
    cart
}

/// The run opened one `spike_above_max` incident, judged against the
/// `capacity` that max `max` in force carries, and it says which max.
fn one_spike_incident_against(applied: &homeostat::core::apply::ApplyRun, capacity: u32, max: u32) {
    let opened = &applied.incidents_opened;
    assert_eq!(opened.len(), 1, "{applied:?}");
    assert_eq!(
        opened[0].cause,
        homeostat::core::incident::Cause::SpikeAboveMax
    );
    let said = format!(
        "above the {capacity} that max {max} carries (the max in force after this run; 30 recommended): its peak needs "
    );
    assert!(
        opened[0].blocked_by.contains(&said),
        "{}",
        opened[0].blocked_by
    );
}

/// A patch that failed leaves the HPA's max as it was: the spike is
/// judged against that one (10), not the 15 the run meant to set.
#[test]
fn a_spike_is_judged_against_the_max_a_failed_patch_left() {
    let cart = spiking_cart(140.0);
    let conflict = "Apply failed with 1 conflict: conflict with \"helm\" using autoscaling/v2: .spec.maxReplicas";
    let script = vec![
        get("cart", StatusCode::OK, hpa("cart", 2, 10, 10)),
        patch(
            "cart",
            StatusCode::CONFLICT,
            api_error(409, "Conflict", conflict),
        ),
    ];
    let (applied, _) = run(&plan(vec![cart]), script, false);
    assert_eq!(applied.failures.len(), 1, "{applied:?}");
    assert_eq!(
        applied
            .in_force_max
            .get(&("shop".to_string(), "cart".to_string())),
        Some(&10)
    );
    one_spike_incident_against(&applied, 100, 10);
}

/// A spike is judged against the max the HPA has after the run: the
/// recommended 30 would carry it, but the step limit lets max go only
/// from 10 to 15 this run, which does not; that is an incident (and the
/// critical alert), saying which max is which.
#[test]
fn a_spike_above_the_max_left_in_force_is_an_incident_though_the_recommended_max_carries_it() {
    let cart = spiking_cart(250.0);
    assert!(cart.spike_above_max().is_none(), "30 × 10 carries 250");
    let script = vec![
        get("cart", StatusCode::OK, hpa("cart", 2, 10, 10)),
        patch("cart", StatusCode::OK, hpa("cart", 2, 15, 10)),
    ];
    let (applied, patches) = run(&plan(vec![cart]), script, false);
    assert_eq!(patches.lock().unwrap()[0].1["spec"]["maxReplicas"], 15);
    assert_eq!(applied.changes[0].in_force_max(), Some(15));
    one_spike_incident_against(&applied, 150, 15);
}

/// A hand edit no HPA can have (maxReplicas 1 under a min of 3: a typo)
/// is no one's decision: said, planned from the bounds the last run wrote
/// there, and written over. Before, the plan stepped from max 1 and the
/// workload was left at a fraction of its max for hours of runs.
#[test]
fn a_typo_in_the_gitops_yaml_is_said_and_the_plan_starts_from_the_last_runs_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let config = taxi_gitops_config(dir.path(), 2);
    let yaml = dir.path().join("hpa.yaml");
    let apply = |at: &str| gitops_run_at(&config, &yaml, at, ("shop", "cart"));
    let ((first_min, first_max), _) = apply("2015-01-25T04:30:00Z");
    assert!(first_min > 1 && first_max > 4, "{first_min}..{first_max}");
    let edited = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace(&format!("maxReplicas: {first_max}"), "maxReplicas: 1");
    std::fs::write(&yaml, edited).unwrap();
    let ((min, max), stderr) = apply("2015-01-25T04:45:00Z");
    assert!(
        stderr.contains(&format!(
            "shop/cart: the document of HPA shop/cart in {} has minReplicas {first_min} and maxReplicas 1, which no HPA can have (a typo?): planned from the {first_min}..{first_max} the last run wrote there, and written over",
            yaml.display()
        )),
        "{stderr}"
    );
    // Stepped from the last run's bounds, not from 1: within ×0.8..×1.5.
    assert!(
        f64::from(max) >= 0.8 * f64::from(first_max) && min <= max,
        "{min}..{max} after {first_min}..{first_max}: {stderr}"
    );
    assert!(!stderr.contains("edited by hand"), "{stderr}");
}

/// The taxi workload of the `GitOps` tests, its min floor `min_floor`.
fn taxi_gitops_config(dir: &Path, min_floor: u32) -> PathBuf {
    let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
    let config = dir.join("homeostat.yaml");
    std::fs::write(
        &config,
        format!(
            "defaults: {{history: 28d, horizon: 1d}}\napply: {{rerun_window: 0}}\nworkloads:\n  - {{name: cart, namespace: shop, file: {}, target_per_replica: 2000, max_replicas: {{floor: 4, ceiling: 40}}, min_replicas: {{floor: {min_floor}}}, current: {{min_replicas: 3, max_replicas: 15}}}}\n",
            taxi.display()
        ),
    )
    .unwrap();
    config
}

/// A document the run rewrites keeps what a person or another tool put in
/// it (labels, other annotations, `spec.behavior`): only the bounds and
/// homeostat's own annotation are the run's.
#[test]
fn a_rewritten_document_keeps_what_others_put_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("hpa.yaml");
    let config = taxi_gitops_config(dir.path(), 2);
    let ((first_min, _), _) =
        gitops_run_at(&config, &yaml, "2015-01-25T04:30:00Z", ("shop", "cart"));
    let text = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace(
            "metadata:\n  annotations:\n",
            "metadata:\n  labels:\n    team: rides\n  annotations:\n    argocd.argoproj.io/sync-options: ServerSideApply=true\n",
        )
        .replace(
            "spec:\n",
            "spec:\n  behavior:\n    scaleDown:\n      stabilizationWindowSeconds: 600\n",
        );
    assert!(
        text.contains("team: rides") && text.contains("stabilizationWindowSeconds"),
        "{text}"
    );
    std::fs::write(&yaml, text).unwrap();
    // A floor above the last min: the document is rewritten.
    let floor = first_min + 1;
    let config = taxi_gitops_config(dir.path(), floor);
    let ((min, _), stderr) =
        gitops_run_at(&config, &yaml, "2015-01-25T04:45:00Z", ("shop", "cart"));
    assert_eq!(min, floor, "{stderr}");
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(&yaml).unwrap()).unwrap();
    assert_eq!(documents.len(), 1);
    let document = &documents[0];
    assert_eq!(document["metadata"]["labels"]["team"], "rides");
    assert_eq!(
        document["metadata"]["annotations"]["argocd.argoproj.io/sync-options"],
        "ServerSideApply=true"
    );
    assert_eq!(
        document["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        600
    );
    let record: Value = serde_json::from_str(
        document["metadata"]["annotations"]["homeostat.io/last-recommendation"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["min_replicas"], floor);
}

/// A hand edit written as a quoted number (`maxReplicas: "10"`, as `yq`
/// and templates write them) is the same edit as an unquoted one: kept run
/// after run, and written as a number. Before, the run said "kept",
/// rewrote the record to the edit's bounds, and the next run stepped away
/// from it without a word.
#[test]
fn a_quoted_hand_edit_is_kept_run_after_run() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("hpa.yaml");
    let config = taxi_gitops_config(dir.path(), 2);
    let apply = |at: &str| gitops_run_at(&config, &yaml, at, ("shop", "cart"));
    let ((_, first_max), _) = apply("2015-01-25T04:30:00Z");
    let edited = first_max - 1;
    let text = std::fs::read_to_string(&yaml).unwrap().replace(
        &format!("maxReplicas: {first_max}"),
        &format!("maxReplicas: \"{edited}\""),
    );
    std::fs::write(&yaml, text).unwrap();
    for at in ["2015-01-25T04:45:00Z", "2015-01-25T05:00:00Z"] {
        let ((_, max), stderr) = apply(at);
        assert_eq!(max, edited, "{at}: {stderr}");
        assert!(
            stderr.contains("bounds edited by hand in"),
            "{at}: {stderr}"
        );
    }
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(text.contains(&format!("maxReplicas: {edited}\n")), "{text}");
}

/// A replay of an earlier moment (`--at` before the store's last run)
/// leaves the `GitOps` YAML as the last run wrote it, as it leaves the
/// store: before, it wrote that moment's bounds there, and the runs after
/// it stepped on from them.
#[test]
fn a_replay_of_an_earlier_moment_leaves_the_gitops_yaml_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("hpa.yaml");
    let config = taxi_gitops_config(dir.path(), 2);
    let apply = |at: &str| gitops_run_at(&config, &yaml, at, ("shop", "cart"));
    apply("2015-01-25T04:30:00Z");
    apply("2015-01-26T04:30:00Z");
    let before = std::fs::read_to_string(&yaml).unwrap();
    let (_, stderr) = apply("2015-01-10T16:30:00Z");
    assert_eq!(std::fs::read_to_string(&yaml).unwrap(), before, "{stderr}");
    assert!(
        stderr.contains("shop/cart: its document in the YAML is left as the last run wrote it"),
        "{stderr}"
    );
}

/// `mode: schedule` run every 15 minutes over an evening whose forecast
/// hovers at the edge of a replica (tweets about IBM, 3 per replica): the
/// schedule's min is lowered only when two runs in a row want it, so min
/// does not flip with every run (it changed 5 times in 3 hours, each drop
/// lasting 15 minutes); a raise is never held.
#[test]
fn the_schedules_min_is_lowered_only_when_two_runs_in_a_row_want_it() {
    let dir = tempfile::tempdir().unwrap();
    let ibm = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__twitter_volume_ibm.csv");
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        format!(
            "workloads:\n  - {{name: ibm, namespace: social, file: {}, target_per_replica: 3, mode: schedule, max_replicas: {{floor: 2, ceiling: 40}}, current: {{min_replicas: 3, max_replicas: 17}}}}\n",
            ibm.display()
        ),
    )
    .unwrap();
    let yaml = dir.path().join("hpa.yaml");
    let mut mins = Vec::new();
    let mut held = 0;
    for quarter in 0..13 {
        let minutes = 19 * 60 + 30 + 15 * quarter;
        let at = format!("2015-04-01T{:02}:{:02}:00Z", minutes / 60, minutes % 60);
        let ((min, _), stderr) = gitops_run_at(&config, &yaml, &at, ("social", "ibm"));
        held += usize::from(
            stderr.contains("the schedule lowers min only as far as two runs in a row want it"),
        );
        mins.push(min);
    }
    let changes = mins.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(changes <= 2, "min over the evening: {mins:?}");
    assert!(held >= 1, "{mins:?}");
    // Lowered in the end, once two runs agreed.
    assert_eq!(mins.last(), Some(&2), "{mins:?}");
}

/// A workload that needs an operator from its first `GitOps` run gets a
/// document all the same, with the bounds `current:` says it has: the
/// operator raises max there, and the next run sees the edit as the fix
/// of the open incident. Before, it got no document, and an operator's
/// document written by hand was not seen as a change.
#[test]
fn a_workload_that_needs_an_operator_from_its_first_gitops_run_gets_a_document_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let taxi = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/nab__nyc_taxi.csv");
    let config = dir.path().join("homeostat.yaml");
    std::fs::write(
        &config,
        format!(
            "defaults: {{history: 28d, horizon: 1d}}\nworkloads:\n  - {{name: cart, namespace: shop, file: {}, target_per_replica: 2000, max_replicas: {{floor: 2, ceiling: 8}}, current: {{min_replicas: 2, max_replicas: 8}}}}\n",
            taxi.display()
        ),
    )
    .unwrap();
    let yaml = dir.path().join("hpa.yaml");
    let ((min, max), stderr) =
        gitops_run_at(&config, &yaml, "2015-01-25T04:30:00Z", ("shop", "cart"));
    assert!(stderr.contains("needs_operator"), "{stderr}");
    assert_eq!((min, max), (2, 8), "the bounds `current:` says: {stderr}");
    // The operator's fix: max 20 in the repository.
    let edited = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace("maxReplicas: 8", "maxReplicas: 20");
    std::fs::write(&yaml, edited).unwrap();
    let ((_, max), stderr) =
        gitops_run_at(&config, &yaml, "2015-01-25T04:45:00Z", ("shop", "cart"));
    assert_eq!(max, 20, "kept as the operator left it: {stderr}");
    assert!(stderr.contains("bounds edited by hand in"), "{stderr}");
    assert!(stderr.contains("noted on incident"), "{stderr}");
}
