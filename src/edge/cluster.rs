//! Cluster (edge): reads HPAs and patches their bounds through the
//! Kubernetes API with kube-rs.
//!
//! Patches are server-side apply under the field manager `homeostat`:
//! homeostat owns only `spec.minReplicas`, `spec.maxReplicas` and its
//! annotation. Without `force` first: when another manager owns one of
//! them the API answers 409. The caller may then take the fields over
//! (`force`) when their owners wrote them imperatively (see
//! [`crate::core::apply::IMPERATIVE_MANAGERS`]); a declarative owner (Helm,
//! Argo CD, client-side `kubectl apply`) is reported, never taken over.

use crate::core::apply::{Change, LiveHpa};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{json, Value};

/// Field manager of homeostat's server-side apply patches.
pub const FIELD_MANAGER: &str = "homeostat";
/// Annotation holding the last applied recommendation (JSON).
pub use crate::core::apply::ANNOTATION;

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

/// Why a call to the Kubernetes API about one HPA failed, in words that
/// name the HPA and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error("HorizontalPodAutoscaler {namespace}/{hpa} not found: check `hpa:` (it defaults to the workload's name) and the namespace{}", after(*attempts))]
    NotFound {
        namespace: String,
        hpa: String,
        attempts: u32,
    },
    #[error("{verb} HorizontalPodAutoscaler {namespace}/{hpa} is forbidden ({message}): homeostat's service account needs get and patch on horizontalpodautoscalers (the ClusterRole `homeostat` in deploy/homeostat.yaml){}", after(*attempts))]
    Forbidden {
        verb: &'static str,
        namespace: String,
        hpa: String,
        message: String,
        attempts: u32,
    },
    #[error("{verb} HorizontalPodAutoscaler {namespace}/{hpa}: conflict ({message}): the field manager named owns the bound; a manifest's owner (`kubectl apply`, Helm, Argo CD, Flux) writes it back at each apply or sync, so homeostat does not force it: let the manifest carry homeostat's bounds (`homeostat apply --output-format yaml` writes them as patches for the repository its owner applies), or leave the workload out of homeostat's config; a person's change (`kubectl edit`, `patch`) is the operator's decision, not forced either{}", after(*attempts))]
    Conflict {
        verb: &'static str,
        namespace: String,
        hpa: String,
        message: String,
        attempts: u32,
    },
    #[error("{verb} HorizontalPodAutoscaler {namespace}/{hpa}: the API server answered {code} {reason}: {message}{}", after(*attempts))]
    Refused {
        verb: &'static str,
        namespace: String,
        hpa: String,
        code: u16,
        reason: String,
        message: String,
        attempts: u32,
    },
    #[error("{verb} HorizontalPodAutoscaler {namespace}/{hpa}: {message}{}", after(*attempts))]
    Unreachable {
        verb: &'static str,
        namespace: String,
        hpa: String,
        message: String,
        attempts: u32,
    },
    /// The HPA read has no usable bounds.
    #[error("HorizontalPodAutoscaler {namespace}/{hpa}{problem}")]
    Invalid {
        namespace: String,
        hpa: String,
        problem: String,
    },
}

impl ClusterError {
    /// A stable name for the kind of failure, for logs and the run summary.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            ClusterError::NotFound { .. } => "hpa_not_found",
            ClusterError::Forbidden { .. } => "kubernetes_forbidden",
            ClusterError::Conflict { .. } => "field_conflict",
            ClusterError::Refused { .. } => "kubernetes_refused",
            ClusterError::Unreachable { .. } => "kubernetes_unreachable",
            ClusterError::Invalid { .. } => "hpa_invalid",
        }
    }

    /// The API's answer to `verb` on the HPA, after `attempts` attempts.
    fn from_api(
        (error, attempts): (kube::Error, u32),
        namespace: &str,
        hpa: &str,
        verb: &'static str,
    ) -> Self {
        let (namespace, hpa) = (namespace.to_string(), hpa.to_string());
        match error {
            kube::Error::Api(status) if status.code == 404 => ClusterError::NotFound {
                namespace,
                hpa,
                attempts,
            },
            kube::Error::Api(status) if status.code == 403 => ClusterError::Forbidden {
                verb,
                namespace,
                hpa,
                message: status.message,
                attempts,
            },
            kube::Error::Api(status) if status.code == 409 => ClusterError::Conflict {
                verb,
                namespace,
                hpa,
                message: status.message,
                attempts,
            },
            kube::Error::Api(status) => ClusterError::Refused {
                verb,
                namespace,
                hpa,
                code: status.code,
                reason: status.reason,
                message: status.message,
                attempts,
            },
            other => ClusterError::Unreachable {
                verb,
                namespace,
                hpa,
                message: other.to_string(),
                attempts,
            },
        }
    }
}

/// How many attempts were made, when more than one.
fn after(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (gave up after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// Reads the HPA's bounds and running replicas.
///
/// # Errors
/// The API's refusal, or an HPA without usable bounds.
pub async fn read_hpa(
    client: &Client,
    namespace: &str,
    hpa: &str,
) -> Result<LiveHpa, ClusterError> {
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    let object = with_retries(|| api.get(hpa))
        .await
        .map_err(|e| ClusterError::from_api(e, namespace, hpa, "reading"))?;
    let invalid = |problem: String| ClusterError::Invalid {
        namespace: namespace.to_string(),
        hpa: hpa.to_string(),
        problem,
    };
    let spec = object
        .spec
        .ok_or_else(|| invalid(" has no spec".to_string()))?;
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
            last_applied: last_applied(&object.metadata),
            other_managers: bound_owners(&object.metadata),
        }),
        _ => Err(invalid(format!(
            ": minReplicas {:?} / maxReplicas {} are not positive",
            spec.min_replicas, spec.max_replicas
        ))),
    }
}

/// The bounds homeostat's annotation on the HPA says it applied last.
fn last_applied(metadata: &ObjectMeta) -> Option<(u32, u32)> {
    let record: Value =
        serde_json::from_str(metadata.annotations.as_ref()?.get(ANNOTATION)?).ok()?;
    let bound = |key: &str| u32::try_from(record.get(key)?.as_u64()?).ok();
    Some((bound("min_replicas")?, bound("max_replicas")?))
}

/// The field managers other than homeostat that own `spec.minReplicas` or
/// `spec.maxReplicas` (from `metadata.managedFields`), sorted, once each,
/// with which of the two.
fn bound_owners(metadata: &ObjectMeta) -> Vec<crate::core::apply::BoundOwner> {
    let mut owners: Vec<crate::core::apply::BoundOwner> = Vec::new();
    for entry in metadata.managed_fields.iter().flatten() {
        let (Some(manager), Some(fields)) = (&entry.manager, &entry.fields_v1) else {
            continue;
        };
        let spec = &fields.0["f:spec"];
        let (min, max) = (
            spec.get("f:minReplicas").is_some(),
            spec.get("f:maxReplicas").is_some(),
        );
        if manager == FIELD_MANAGER || !(min || max) {
            continue;
        }
        match owners.iter_mut().find(|o| o.manager == *manager) {
            Some(owner) => {
                owner.min |= min;
                owner.max |= max;
            }
            None => owners.push(crate::core::apply::BoundOwner {
                manager: manager.clone(),
                min,
                max,
            }),
        }
    }
    owners.sort_by(|a, b| a.manager.cmp(&b.manager));
    owners
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
    hpa_document(change, (change.to_min, change.to_max), &record)
}

/// An HPA's bounds as they stay (no change this run), for the `GitOps`
/// YAML: `bounds` and an annotation with only them, so that the document
/// changes only when the bounds do (the full record, with the time and the
/// reasons, comes with a change).
#[must_use]
pub fn unchanged_body(change: &Change, bounds: (u32, u32)) -> Value {
    let record = json!({"min_replicas": bounds.0, "max_replicas": bounds.1});
    hpa_document(change, (Some(bounds.0), Some(bounds.1)), &record)
}

/// The HPA of `change` with only its two bounds and homeostat's annotation
/// (`record`): nothing else is owned.
fn hpa_document(change: &Change, (min, max): (Option<u32>, Option<u32>), record: &Value) -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": change.hpa,
            "namespace": change.namespace,
            "annotations": {ANNOTATION: record.to_string()},
        },
        "spec": {
            "minReplicas": min,
            "maxReplicas": max,
        },
    })
}

/// (min, max) of each HPA, by (namespace, name).
pub type HpaBounds = std::collections::BTreeMap<(String, String), (u32, u32)>;

/// The bounds of each HPA document in `yaml` (the `GitOps` YAML
/// [`patch_body`] and [`unchanged_body`] write), by (namespace, name).
/// Documents of other kinds are passed over; an HPA document without both
/// bounds, or twice the same HPA, is an error: the file is not what the
/// last run wrote, and a guess would move max from the wrong value.
///
/// # Errors
///
/// What is not such YAML, naming the document.
pub fn bounds_in_yaml(yaml: &str) -> Result<HpaBounds, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Document {
        kind: Option<String>,
        metadata: Option<Metadata>,
        spec: Option<Spec>,
    }
    #[derive(serde::Deserialize)]
    struct Metadata {
        name: Option<String>,
        namespace: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Spec {
        min_replicas: Option<u32>,
        max_replicas: Option<u32>,
    }
    let documents: Vec<Option<Document>> = serde_saphyr::from_multiple(yaml)
        .map_err(|e| format!("not the HPA documents expected: {e}"))?;
    let mut bounds = std::collections::BTreeMap::new();
    for (i, document) in documents.into_iter().flatten().enumerate() {
        let n = i + 1;
        // The run overwrites the file with HPA documents only: anything
        // else in it (a Deployment kept beside them) would be lost.
        if document.kind.as_deref() != Some("HorizontalPodAutoscaler") {
            let what = document
                .kind
                .as_deref()
                .map_or_else(|| "has no kind".to_string(), |k| format!("is a {k}"));
            return Err(format!(
                "document {n} {what}, not an HPA: homeostat writes only HPA documents here and would lose it (give --output a file of its own)"
            ));
        }
        let metadata = document.metadata.as_ref();
        let name = metadata.and_then(|m| m.name.clone());
        let namespace = metadata.and_then(|m| m.namespace.clone());
        let (Some(name), Some(namespace)) = (name, namespace) else {
            return Err(format!(
                "HPA document {n} has no metadata.name and metadata.namespace"
            ));
        };
        let spec = document.spec.as_ref();
        let (Some(min), Some(max)) = (
            spec.and_then(|s| s.min_replicas),
            spec.and_then(|s| s.max_replicas),
        ) else {
            return Err(format!(
                "HPA {namespace}/{name} (document {n}) has no spec.minReplicas and spec.maxReplicas"
            ));
        };
        if bounds
            .insert((namespace.clone(), name.clone()), (min, max))
            .is_some()
        {
            return Err(format!("HPA {namespace}/{name} is in it twice"));
        }
    }
    Ok(bounds)
}

/// The HPA documents of `yaml` (the `GitOps` YAML a run wrote, checked as
/// [`bounds_in_yaml`] checks it), each by (namespace, name), as they are.
///
/// # Errors
///
/// What is not such YAML, naming the document.
pub fn hpa_documents(yaml: &str) -> Result<Vec<crate::core::apply::HpaDocument>, String> {
    bounds_in_yaml(yaml)?;
    let documents: Vec<Option<Value>> = serde_saphyr::from_multiple(yaml)
        .map_err(|e| format!("not the HPA documents expected: {e}"))?;
    Ok(documents
        .into_iter()
        .flatten()
        .map(|body| {
            let field = |f: &str| body["metadata"][f].as_str().unwrap_or_default().to_string();
            ((field("namespace"), field("name")), body)
        })
        .collect())
}

/// Applies `body` to the HPA (server-side apply, field manager
/// `homeostat`; `force` takes the fields over from their other owners).
pub async fn apply_patch(
    client: &Client,
    namespace: &str,
    hpa: &str,
    body: &Value,
    (force, dry_run): (bool, bool),
) -> Result<(), ClusterError> {
    let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
    let mut params = if force {
        PatchParams::apply(FIELD_MANAGER).force()
    } else {
        PatchParams::apply(FIELD_MANAGER)
    };
    // `dryRun=All`: the API server checks the patch as it would apply it
    // (RBAC, field ownership, validation, admission) and stores nothing.
    params.dry_run = dry_run;
    let verb = if dry_run {
        "patching (a server-side dry run: nothing changed)"
    } else {
        "patching"
    };
    let patch = Patch::Apply(body);
    with_retries(|| api.patch(hpa, &params, &patch))
        .await
        .map(|_| ())
        .map_err(|e| ClusterError::from_api(e, namespace, hpa, verb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::Status;

    fn change(hpa: &str, to: (u32, u32)) -> Change {
        Change {
            namespace: "shop".into(),
            name: hpa.into(),
            hpa: hpa.into(),
            status: Status::Ok,
            compared_with: "yaml",
            from_min: Some(3),
            from_max: Some(10),
            recommended_min: Some(to.0),
            recommended_max: Some(to.1),
            to_min: Some(to.0),
            to_max: Some(to.1),
            patch: true,
            held_back: Vec::new(),
        }
    }

    #[test]
    fn the_gitops_yaml_is_read_back_as_it_was_written() {
        let documents = vec![
            patch_body(
                &change("web", (3, 15)),
                "2026-12-06T00:00:00Z",
                &["why".into()],
            ),
            unchanged_body(&change("api", (2, 8)), (2, 8)),
        ];
        let yaml = serde_saphyr::to_string_multiple(&documents).unwrap();
        let bounds = bounds_in_yaml(&yaml).unwrap();
        assert_eq!(
            bounds.into_iter().collect::<Vec<_>>(),
            [
                (("shop".to_string(), "api".to_string()), (2, 8)),
                (("shop".to_string(), "web".to_string()), (3, 15)),
            ]
        );
        assert!(bounds_in_yaml("").unwrap().is_empty());
    }

    #[test]
    fn a_gitops_yaml_that_is_not_what_a_run_wrote_is_refused_by_name() {
        let hpa = |spec: &str| {
            format!("kind: HorizontalPodAutoscaler\nmetadata: {{name: web, namespace: shop}}\nspec: {spec}\n")
        };
        let missing = bounds_in_yaml(&hpa("{minReplicas: 3}")).unwrap_err();
        assert!(
            missing.contains("shop/web") && missing.contains("spec.maxReplicas"),
            "{missing}"
        );
        let twice = bounds_in_yaml(&format!(
            "{}---\n{}",
            hpa("{minReplicas: 3, maxReplicas: 9}"),
            hpa("{minReplicas: 3, maxReplicas: 12}")
        ))
        .unwrap_err();
        assert!(twice.contains("shop/web is in it twice"), "{twice}");
        let negative = bounds_in_yaml(&hpa("{minReplicas: -1, maxReplicas: 9}")).unwrap_err();
        assert!(
            negative.starts_with("not the HPA documents expected"),
            "{negative}"
        );
        // Another kind beside them would be lost when the run writes the
        // file: refused before (it was skipped, and overwritten).
        let other = bounds_in_yaml(&format!(
            "{}---
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec: {{replicas: 3}}
",
            hpa("{minReplicas: 3, maxReplicas: 9}")
        ))
        .unwrap_err();
        assert!(
            other.starts_with("document 2 is a Deployment, not an HPA"),
            "{other}"
        );
        let kindless = bounds_in_yaml(
            "foo: bar
",
        )
        .unwrap_err();
        assert!(
            kindless.contains("document 1 has no kind, not an HPA"),
            "{kindless}"
        );
    }
}
