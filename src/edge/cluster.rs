//! Cluster (edge): reads HPAs and patches their bounds through the
//! Kubernetes API with kube-rs.
//!
//! Patches are server-side apply under the field manager `homeostat`,
//! without `force`: homeostat owns only `spec.minReplicas`,
//! `spec.maxReplicas` and its annotation, and when another manager (kubectl,
//! Helm, Argo CD) owns one of them the API answers 409 and the report says
//! which manager holds it, instead of homeostat silently taking it over.

use crate::core::apply::{Change, LiveHpa};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{json, Value};

/// Field manager of homeostat's server-side apply patches.
pub const FIELD_MANAGER: &str = "homeostat";
/// Annotation holding the last applied recommendation (JSON).
pub const ANNOTATION: &str = "homeostat.io/last-recommendation";

/// Attempts at a call the API server answers with a server error or 429.
const ATTEMPTS: u32 = 3;

/// `call`, tried again after 1 s and 2 s while the API server answers
/// 5xx or 429 (it restarts, etcd elects a leader): GET and a server-side
/// apply without force are both safe to repeat. The error of the last
/// attempt, and how many were made.
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, (kube::Error, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(kube::Error::Api(status))
                if (status.code >= 500 || status.code == 429) && attempt < ATTEMPTS =>
            {
                tokio::time::sleep(std::time::Duration::from_secs(1 << (attempt - 1))).await;
                attempt += 1;
            }
            Err(e) => return Err((e, attempt)),
            Ok(value) => return Ok(value),
        }
    }
}

/// A Kubernetes API error in words, naming the HPA and what to do.
fn explain_after(
    (error, attempts): (kube::Error, u32),
    namespace: &str,
    hpa: &str,
    verb: &str,
) -> String {
    let text = explain(&error, namespace, hpa, verb);
    if attempts > 1 {
        format!("{text} (gave up after {attempts} attempts)")
    } else {
        text
    }
}

/// A Kubernetes API error in words, naming the HPA and what to do.
fn explain(error: &kube::Error, namespace: &str, hpa: &str, verb: &str) -> String {
    let id = format!("HorizontalPodAutoscaler {namespace}/{hpa}");
    match error {
        kube::Error::Api(status) if status.code == 404 => {
            format!("{id} not found: check `hpa:` (it defaults to the workload's name) and the namespace")
        }
        kube::Error::Api(status) if status.code == 403 => format!(
            "{verb} {id} is forbidden ({}): homeostat's service account needs get and patch on horizontalpodautoscalers (deploy/rbac.yaml)",
            status.message
        ),
        kube::Error::Api(status) if status.code == 409 => format!(
            "{verb} {id}: conflict ({}): another field manager owns the field; hand it over to `{FIELD_MANAGER}` (remove it from that manager's manifest) or leave the workload out of homeostat's config",
            status.message
        ),
        kube::Error::Api(status) => format!(
            "{verb} {id}: the API server answered {} {}: {}",
            status.code, status.reason, status.message
        ),
        other => format!("{verb} {id}: {other}"),
    }
}

/// Reads the HPA's bounds and running replicas.
pub async fn read_hpa(client: &Client, namespace: &str, hpa: &str) -> Result<LiveHpa, String> {
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    let object = with_retries(|| api.get(hpa))
        .await
        .map_err(|e| explain_after(e, namespace, hpa, "reading"))?;
    let spec = object
        .spec
        .ok_or_else(|| format!("HorizontalPodAutoscaler {namespace}/{hpa} has no spec"))?;
    let positive = |v: i32| u32::try_from(v).ok().filter(|&v| v >= 1);
    let min_replicas = spec.min_replicas.map_or(Some(1), positive);
    let max_replicas = positive(spec.max_replicas);
    match (min_replicas, max_replicas) {
        (Some(min_replicas), Some(max_replicas)) => Ok(LiveHpa {
            min_replicas,
            max_replicas,
            current_replicas: object
                .status
                .and_then(|s| s.current_replicas)
                .and_then(|r| u32::try_from(r).ok()),
        }),
        _ => Err(format!(
            "HorizontalPodAutoscaler {namespace}/{hpa}: minReplicas {:?} / maxReplicas {} are not positive",
            spec.min_replicas, spec.max_replicas
        )),
    }
}

/// The server-side apply body of `change` (also the `GitOps` YAML patch):
/// the HPA's identity, the two bounds and the annotation recording the
/// recommendation, the previous values, the time and the reasons.
#[must_use]
pub fn patch_body(change: &Change, at: &str, reasons: &[String]) -> Value {
    let record = json!({
        "at": at,
        "min_replicas": change.to_min,
        "max_replicas": change.to_max,
        "previous": {"min_replicas": change.from_min, "max_replicas": change.from_max},
        "recommended": {"min_replicas": change.recommended_min, "max_replicas": change.recommended_max},
        "held_back": change.held_back,
        "reasons": reasons,
    });
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": change.hpa,
            "namespace": change.namespace,
            "annotations": {ANNOTATION: record.to_string()},
        },
        "spec": {
            "minReplicas": change.to_min,
            "maxReplicas": change.to_max,
        },
    })
}

/// Applies `body` to the HPA (server-side apply, field manager
/// `homeostat`, no force).
pub async fn apply_patch(
    client: &Client,
    namespace: &str,
    hpa: &str,
    body: &Value,
) -> Result<(), String> {
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER);
    let patch = Patch::Apply(body);
    with_retries(|| api.patch(hpa, &params, &patch))
        .await
        .map(|_| ())
        .map_err(|e| explain_after(e, namespace, hpa, "patching"))
}
