//! The manifests in deploy/ parse into the Kubernetes API's own types, the
//! RBAC grants nothing beyond get and patch on HPAs, and the
//! configuration in the `ConfigMap` is a valid homeostat config.

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use serde_json::Value;
use std::path::Path;

fn documents() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/homeostat.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_multiple(&text).unwrap()
}

fn typed<T: serde::de::DeserializeOwned>(doc: &Value) -> T {
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{}: {e}", doc["kind"]))
}

#[test]
fn every_manifest_is_a_valid_kubernetes_object() {
    let docs = documents();
    let mut kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "CronJob",
            "Namespace",
            "PersistentVolumeClaim",
            "ServiceAccount"
        ]
    );
    for doc in &docs {
        match doc["kind"].as_str().unwrap() {
            "Namespace" => drop(typed::<k8s_openapi::api::core::v1::Namespace>(doc)),
            "ServiceAccount" => drop(typed::<ServiceAccount>(doc)),
            "ClusterRole" => drop(typed::<ClusterRole>(doc)),
            "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(doc)),
            "PersistentVolumeClaim" => drop(typed::<PersistentVolumeClaim>(doc)),
            "ConfigMap" => {
                let map: ConfigMap = typed(doc);
                let text = &map.data.unwrap()["homeostat.yaml"];
                let config = homeostat::app::config::parse(
                    text,
                    Path::new("homeostat.yaml"),
                    Path::new("/etc/homeostat"),
                )
                .unwrap();
                assert!(!config.workloads.is_empty());
                assert!(config.alertmanager.is_some() && config.pushgateway.is_some());
            }
            "CronJob" => {
                let job: CronJob = typed(doc);
                let spec = job.spec.unwrap();
                assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
                let job_spec = spec.job_template.spec.unwrap();
                assert!(job_spec.backoff_limit.is_some());
                let pod = job_spec.template.spec.unwrap();
                assert_eq!(pod.service_account_name.as_deref(), Some("homeostat"));
                let container = &pod.containers[0];
                assert!(container.resources.as_ref().unwrap().limits.is_some());
                assert_eq!(container.args.as_ref().unwrap()[0], "apply");
            }
            other => panic!("unexpected kind {other}"),
        }
    }
}

#[test]
fn rbac_grants_only_get_and_patch_on_hpas() {
    for doc in documents() {
        if doc["kind"] != "ClusterRole" && doc["kind"] != "Role" {
            continue;
        }
        let role: ClusterRole = typed(&doc);
        let rules = role.rules.unwrap();
        assert_eq!(rules.len(), 1, "one rule only");
        let rule = &rules[0];
        assert_eq!(
            rule.api_groups.as_deref(),
            Some(&["autoscaling".to_string()][..])
        );
        assert_eq!(
            rule.resources.as_deref(),
            Some(&["horizontalpodautoscalers".to_string()][..])
        );
        assert!(rule.resource_names.is_none() && rule.non_resource_urls.is_none());
        let mut verbs = rule.verbs.clone();
        verbs.sort();
        // What homeostat calls (a real API server's audit log shows only
        // GET and PATCH); list and watch were granted until 2026-12-07.
        assert_eq!(verbs, ["get", "patch"]);
    }
}

#[test]
fn the_indexed_job_runs_one_shard_per_completion_index() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/homeostat-indexed.yaml");
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(path).unwrap()).unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PersistentVolumeClaim", "CronJob"]);
    let claim: PersistentVolumeClaim = typed(&docs[0]);
    let modes = claim.spec.unwrap().access_modes.unwrap();
    assert_eq!(
        modes,
        ["ReadWriteMany"],
        "pods of one Job share it across nodes"
    );
    let job: CronJob = typed(&docs[1]);
    let job_spec = job.spec.unwrap().job_template.spec.unwrap();
    assert_eq!(job_spec.completion_mode.as_deref(), Some("Indexed"));
    let completions = job_spec.completions.unwrap();
    assert_eq!(job_spec.parallelism, Some(completions));
    let args = job_spec.template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    let shard = &args[args.iter().position(|a| a == "--shard").unwrap() + 1];
    // As Kubernetes expands it in each pod: every index a valid shard of `completions`.
    for index in 0..completions {
        let expanded = shard.replace("$(JOB_COMPLETION_INDEX)", &index.to_string());
        let parsed: homeostat::app::config::Shard = expanded.parse().unwrap();
        assert_eq!(
            (parsed.index, parsed.count),
            (index as u64, completions as u64)
        );
    }
    let output = &args[args.iter().position(|a| a == "--output").unwrap() + 1];
    assert!(
        output.contains("$(JOB_COMPLETION_INDEX)"),
        "one report per shard"
    );
}
