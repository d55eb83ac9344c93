//! `homeostat apply`: each workload's HPA compared, held back by the
//! safety rules, patched, and the run remembered in the model store.

use crate::app::config::Config;
use crate::core::apply::ApplyRun;
use crate::core::time::format_timestamp;

/// How `homeostat apply` runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplySettings {
    /// Change no HPA; still read them, report, notify and write patches.
    pub dry_run: bool,
    pub rules: crate::core::apply::ApplyRules,
    /// The run's wall clock (unix seconds): when a damaged store file is
    /// set aside.
    pub clock_now: i64,
    /// Workloads (`namespace/name`) whose `current:` was read from the
    /// `GitOps` YAML of the last run (see [`current_from_yaml`]): compared
    /// with it, not with the config, when there is no cluster.
    pub from_yaml: std::collections::HashSet<String>,
    /// The bounds homeostat's annotation records in that YAML, by
    /// (namespace, HPA) (see [`recorded_in_yaml`]): other bounds there are
    /// a person's edit.
    pub yaml_records: std::collections::HashMap<(String, String), (u32, u32)>,
    /// The `GitOps` YAML's name, for the reports.
    pub yaml_file: Option<String>,
}

/// The bounds homeostat's annotation records in each HPA document of the
/// `GitOps` YAML ((namespace, HPA) → (min, max)): what the run that wrote
/// it set. A document whose bounds differ was edited by a person since.
#[must_use]
pub fn recorded_in_yaml(
    documents: &[crate::core::apply::HpaDocument],
) -> std::collections::HashMap<(String, String), (u32, u32)> {
    documents
        .iter()
        .filter_map(|(key, body)| {
            let text =
                body["metadata"]["annotations"][crate::edge::cluster::ANNOTATION].as_str()?;
            let record: serde_json::Value = serde_json::from_str(text).ok()?;
            let bound = |f: &str| u32::try_from(record[f].as_u64()?).ok();
            Some((
                key.clone(),
                (bound("min_replicas")?, bound("max_replicas")?),
            ))
        })
        .collect()
}

/// Compares each workload of `plan` with its HPA (read through `cluster`,
/// or `current:` in the config without one), decides with the safety rules
/// and, unless `dry_run`, patches the HPAs that need it. One workload's
/// failure never stops the others.
pub async fn apply_changes(
    config: &Config,
    plan: &crate::core::plan::Plan,
    cluster: Option<&kube::Client>,
    settings: &ApplySettings,
) -> ApplyRun {
    use crate::core::apply::{decide, Baseline};
    use crate::edge::cluster::{apply_patch, patch_body, read_hpa, unchanged_body};
    // Whose workloads these are, in the store (see `WorkloadState::config`).
    let config_id = super::config_id(&config.path);
    let mut run = ApplyRun {
        generated_at: plan.generated_at.clone(),
        dry_run: settings.dry_run,
        cluster: cluster.is_some(),
        changes: Vec::new(),
        failures: Vec::new(),
        patches: Vec::new(),
        desired: Vec::new(),
        not_desired: Vec::new(),
        rewritten: std::collections::HashSet::new(),
        replayed: std::collections::HashSet::new(),
        in_force_max: std::collections::HashMap::new(),
        troubles: Vec::new(),
        since_last_run: Vec::new(),
        store_problems: Vec::new(),
        warnings: Vec::new(),
        incidents_opened: Vec::new(),
        incidents_closed: Vec::new(),
        incidents_open: 0,
        incident_tallies: Vec::new(),
        error_labels: Vec::new(),
    };
    let store = store_of(config);
    // kube-state-metrics in Prometheus, when there is one, says how long
    // each HPA sat at its max since the last run.
    let prometheus = match config
        .prometheus
        .as_ref()
        .map(crate::edge::prometheus::client::Client::new)
    {
        Some(Ok(client)) => Some(client),
        Some(Err(e)) => {
            run.warnings.push(format!("time at max not checked: {e}"));
            None
        }
        None => None,
    };
    // Each workload as the config writes it: to see what an operator
    // changed, whether it learns, and which known events it declares.
    let written: std::collections::HashMap<String, &crate::core::workload::Workload> =
        config.workloads.iter().map(|c| (c.id(), c)).collect();
    for (done, w) in plan.workloads.iter().enumerate() {
        if let Some(signal) = crate::app::stop::requested() {
            run.warnings.push(format!(
                "stopped by {}: {} of {} workloads not applied",
                crate::app::stop::name(signal),
                plan.workloads.len() - done,
                plan.workloads.len()
            ));
            break;
        }
        let loaded = store.load(&w.namespace, &w.name, settings.clock_now);
        // A change made outside homeostat, seen on the HPA, in words, and
        // the max there.
        let mut hpa_change = None;
        // When the bounds may be taken from their other owners (with force,
        // on a conflict): what the report says then. At first contact from
        // imperative writers (see `IMPERATIVE_MANAGERS`), or once the
        // doctor's fix is settled (see `settled_fix`).
        let mut take_over = None;
        // Without a cluster: a person's edit of the GitOps YAML, kept or
        // taken back.
        let mut yaml_edit = None;
        if let Some(client) = &prometheus {
            check_time_at_max(client, w, &loaded, &mut run).await;
        }
        // Today's range as the config gives it, carried by the plan.
        let current = w.current;
        let baseline = match cluster {
            Some(client) => match read_hpa(client, &w.namespace, &w.hpa).await {
                Ok(live) => {
                    // Against homeostat's annotation; without one (it has not
                    // patched this HPA yet: every run so far needed the
                    // operator), against what the last run patched or read.
                    let seen_last_run = || {
                        let last = loaded.state.as_ref()?.last()?;
                        // What it patched then, else what it read.
                        let since = last.applied_min.zip(last.applied_max).or(last.seen)?;
                        live.changed_since(since)
                    };
                    hpa_change = live
                        .changed_by_others()
                        .or_else(|| live.last_applied.is_none().then(seen_last_run).flatten())
                        .map(|c| (c, (live.min_replicas, live.max_replicas)));
                    let names = || {
                        let names: Vec<&str> = live
                            .other_managers
                            .iter()
                            .map(|o| o.manager.as_str())
                            .collect();
                        names.join(", ")
                    };
                    take_over = if live.bounds_taken_over_safely() {
                        Some(format!("took spec.minReplicas/maxReplicas over from {} (written imperatively: nothing of theirs writes them back); homeostat owns them from now on", names()))
                    } else {
                        settled_fix(&live, hpa_change.as_ref().map(|c| c.0.as_str()), &loaded, w.limits, live.written_imperatively()).map(|incident| {
                            format!("took spec.minReplicas/maxReplicas back from {}: the operator's change healed incident {incident}, which is closed, and its bounds are within the limits in force; homeostat owns them again", names())
                        })
                    };
                    Baseline::Live(live)
                }
                Err(e) => {
                    failed(&mut run, w, &e, "hpa_unreadable", "cannot read its HPA", "check the HPA's name and namespace in homeostat's config and homeostat's RBAC (get on horizontalpodautoscalers)");
                    continue;
                }
            },
            None => match current {
                Some(c)
                    if settings
                        .from_yaml
                        .contains(&format!("{}/{}", w.namespace, w.name)) =>
                {
                    // A person's edit of the YAML is the operator's change,
                    // as one on a live HPA is: reported, noted on the
                    // incident, learned from, and kept until it is settled
                    // (before, the next run silently wrote it back).
                    // Bounds no HPA can have (a typo) are no one's decision:
                    // `current_from_yaml` put the last run's in their place
                    // (checked again here, should a record itself be no
                    // HPA's).
                    let valid = c.min_replicas >= 1 && c.min_replicas <= c.max_replicas;
                    if let Some(&recorded) = settings
                        .yaml_records
                        .get(&(w.namespace.clone(), w.hpa.clone()))
                        .filter(|_| valid)
                    {
                        let file = settings.yaml_file.as_deref().unwrap_or("the GitOps YAML");
                        let edited = crate::core::apply::LiveHpa {
                            min_replicas: c.min_replicas,
                            max_replicas: c.max_replicas,
                            current_replicas: None,
                            last_applied: Some(recorded),
                            // Named the same whatever `--output` is called:
                            // the words are matched with the incident's notes.
                            other_managers: vec![crate::core::apply::BoundOwner {
                                manager: "a hand edit of the GitOps YAML".to_string(),
                                min: c.min_replicas != recorded.0,
                                max: c.max_replicas != recorded.1,
                            }],
                        };
                        hpa_change = edited
                            .changed_by_others()
                            .map(|what| (what, (c.min_replicas, c.max_replicas)));
                        if hpa_change.is_some() {
                            yaml_edit = Some(
                                match settled_fix(
                                    &edited,
                                    hpa_change.as_ref().map(|h| h.0.as_str()),
                                    &loaded,
                                    w.limits,
                                    true,
                                ) {
                                    Some(incident) => YamlEdit::TakenBack(format!("took the bounds back from {file}'s hand edit: it healed incident {incident}, which is closed, and its bounds are within the limits in force; homeostat sets them again")),
                                    None => YamlEdit::Kept(format!("bounds edited by hand in {file} ({}): kept; homeostat takes them back once the incident they were noted on is closed and they are within the limits in force (a change no incident explains stays as edited: restore the document to hand it back)", hpa_change.as_ref().map_or("", |h| h.0.as_str()))),
                                },
                            );
                        }
                    }
                    Baseline::Yaml(c)
                }
                Some(c) => Baseline::Config(c),
                None => Baseline::Unknown,
            },
        };
        let mut change = decide(w, baseline, &settings.rules);
        // The schedule's min lowered only when the last run before this
        // moment (within the hour; a rerun of this moment is not it)
        // wanted it as low too for this moment.
        let wanted_before =
            loaded.state.as_ref().zip(w.now).and_then(|(s, now)| {
                crate::core::apply::last_wish(&s.history, now, &settings.rules)
            });
        crate::core::apply::hold_schedule_drop(&mut change, w, wanted_before);
        match yaml_edit {
            Some(YamlEdit::Kept(why)) => {
                // Nothing else held it back: the plan's own limits would
                // read as if they had. Kept within the configured ranges.
                change.held_back = vec![why];
                // An edit while an incident is open is the operator's fix
                // for it (a raised max above a ceiling too low), kept until
                // it is settled and learned from; any other edit stays
                // within the configured ranges.
                let fixing = loaded.state.as_ref().is_some_and(|s| {
                    s.incidents
                        .iter()
                        .any(crate::core::incident::Incident::is_open)
                });
                if let Some(edited) = change.from_min.zip(change.from_max).filter(|_| !fixing) {
                    let (kept, moved) = crate::core::apply::kept_within_ranges(w, edited);
                    change.to_min = Some(kept.0);
                    change.to_max = Some(kept.1);
                    change.patch = kept != edited;
                    if !moved.is_empty() {
                        change.held_back = vec![format!(
                            "bounds edited by hand outside the configured ranges: {}; homeostat sets the bounds from here on (widen the range in the config to keep such an edit)",
                            moved.join(", ")
                        )];
                    }
                } else {
                    change.to_min = change.from_min;
                    change.to_max = change.from_max;
                    change.patch = false;
                }
            }
            Some(YamlEdit::TakenBack(said)) => {
                // Written with this run's record even when the bounds stay:
                // else the edit's document would be kept, and found again.
                run.rewritten.insert((w.namespace.clone(), w.hpa.clone()));
                run.since_last_run
                    .push((format!("{}/{}", w.namespace, w.hpa), said));
            }
            None => {}
        }
        if change.patch {
            // The reasons about the bounds themselves; the rest is in the report.
            let at = w.now.map(format_timestamp).unwrap_or_default();
            let body = patch_body(&change, &at, &w.annotation);
            // A dry run sends the patch as a server-side dry run: a trial
            // period learns of a missing permission, a field another
            // manager owns or an admission policy that refuses, which a
            // run that only read the HPAs hid until the first real one.
            if let Some(client) = cluster {
                let dry = settings.dry_run;
                let mut patched =
                    apply_patch(client, &w.namespace, &w.hpa, &body, (false, dry)).await;
                if let (Err(crate::edge::cluster::ClusterError::Conflict { .. }), Some(said)) =
                    (&patched, &take_over)
                {
                    patched = apply_patch(client, &w.namespace, &w.hpa, &body, (true, dry)).await;
                    if patched.is_ok() {
                        let said = if dry {
                            format!("dry run, checked with the API server: a real run would force the patch and say: {said}")
                        } else {
                            said.clone()
                        };
                        run.since_last_run
                            .push((format!("{}/{}", w.namespace, w.hpa), said));
                    }
                }
                if let Err(e) = patched {
                    failed(&mut run, w, &e, "patch_failed", "could not patch its HPA", "read the description: a conflict names the field manager that owns the field; a refusal names the missing permission");
                }
            }
            run.desired.push(body.clone());
            run.patches.push(body);
        } else {
            // Left as it is: in the GitOps YAML all the same. The bounds in
            // force when known — this run's decision, else the live HPA's
            // or the YAML's, else, for a workload that needs an operator,
            // `current:` (from its first GitOps run it then has a document
            // the operator can raise max in, and homeostat sees that edit
            // as the fix; a workload without data keeps no document pinned
            // to a `current:` that may be stale).
            let known = match change.compared_with {
                "cluster" | "yaml" => true,
                "config" => w.status == crate::core::plan::Status::NeedsOperator,
                _ => false,
            };
            let kept = change.to_min.zip(change.to_max).or_else(|| {
                known
                    .then(|| change.from_min.zip(change.from_max))
                    .flatten()
            });
            match kept {
                Some(bounds) => run.desired.push(unchanged_body(&change, bounds)),
                None => run.not_desired.push((
                    format!("{}/{}", w.namespace, w.name),
                    if w.min_replicas.is_some() {
                        format!(
                            "status {}: its recommendation is not applied",
                            w.status.as_str()
                        )
                    } else {
                        "no recommendation this run".to_string()
                    },
                )),
            }
        }
        // The max that caps the HPA after this run: a patch that failed
        // left the one it had.
        let id = format!("{}/{}", w.namespace, w.name);
        let patch_failed = change.patch && run.failures.iter().any(|(f, _)| *f == id);
        let in_force = if patch_failed {
            change.from_max
        } else {
            change.in_force_max()
        };
        if let Some(max) = in_force {
            run.in_force_max
                .insert((w.namespace.clone(), w.name.clone()), max);
        }
        let written = written.get(&id);
        let outside = Outside {
            hpa_change,
            learns: written.is_none_or(|c| c.learning != crate::core::workload::Learning::Off),
            learns_at_once: written
                .is_some_and(|c| c.learning == crate::core::workload::Learning::Apply),
            calendar: written.map_or(&[], |c| c.calendar.as_slice()),
            every: settings.rules.every,
        };
        remember(
            &store,
            loaded,
            w,
            written.map(|c| crate::core::incident::Fingerprint::of(&c.policy)),
            &outside,
            &change,
            (&config_id, &mut run),
        );
        run.changes.push(change);
        crate::app::stop::pause_until_stopped("apply-between-workloads");
        crate::app::stop::stuck_after_stop("apply-stuck-while-stopping");
    }
    run
}

/// A person's edit of the `GitOps` YAML, as the run treats it.
enum YamlEdit {
    /// Kept as edited this run: why, for the report.
    Kept(String),
    /// Settled: taken back, in words.
    TakenBack(String),
}

/// The doctor's fix settled: a person changed the HPA's bounds
/// imperatively (`kubectl edit`, `patch`: nothing of theirs writes them
/// back) while an incident was open, a run noted it there (`change`, in the words
/// [`crate::core::apply::LiveHpa::changed_by_others`] gives), that incident
/// is closed and none is open, and the bounds they chose are within the
/// limits now in force (the config's, with the learned ones it uses). Then
/// homeostat may take the bounds back: the fix is policy, and max moves
/// with the load again. The incident's id; `None` while the person's
/// bounds must stand (an incident open, or a learned ceiling not merged
/// yet: taking them back would undo the fix). `imperative`: nothing of
/// the person's writes the bounds back (imperative field managers; a hand
/// edit of the `GitOps` YAML).
fn settled_fix(
    live: &crate::core::apply::LiveHpa,
    change: Option<&str>,
    loaded: &crate::edge::store::Loaded,
    limits: Option<(
        crate::core::bounds::ReplicaRange,
        crate::core::bounds::ReplicaRange,
    )>,
    imperative: bool,
) -> Option<String> {
    let (change, state, (min, max)) = (change?, loaded.state.as_ref()?, limits?);
    let within = |range: crate::core::bounds::ReplicaRange, bound: u32| {
        (range.floor()..=range.ceiling()).contains(&bound)
    };
    if !imperative
        || live.last_applied.is_none()
        || state
            .incidents
            .iter()
            .any(crate::core::incident::Incident::is_open)
        || !within(min, live.min_replicas)
        || !within(max, live.max_replicas)
    {
        return None;
    }
    state
        .incidents
        .iter()
        .rev()
        .find(|i| {
            // Seen while the incident was open, or by the run that found it
            // closed (both RFC3339 in UTC): a change after that is noted on
            // it too, but no incident explains it, and it stays the person's.
            i.operator_changes.iter().any(|c| {
                c.what == change && i.closed.as_ref().is_some_and(|closed| c.at <= *closed)
            })
        })
        .map(|i| i.id.clone())
}

/// Each workload's `current:` set to its HPA's bounds as the cluster has
/// them (a config's `current:` is what was true when it was written; the
/// plan's step limits and holds must start from what is in force, or a
/// max raised by the last run is raised from the same old value again).
/// An HPA that cannot be read keeps `current:`: `apply_changes` reports it.
pub async fn current_from_cluster(client: &kube::Client, config: &mut Config) {
    use crate::core::workload::CurrentBounds;
    use futures_util::StreamExt as _;
    // A few reads at once: one round trip each, thousands of workloads.
    let lives: Vec<Option<CurrentBounds>> = futures_util::stream::iter(&config.workloads)
        .map(|w| async move {
            crate::edge::cluster::read_hpa(client, &w.namespace, &w.hpa)
                .await
                .ok()
                .map(|live| CurrentBounds {
                    min_replicas: live.min_replicas,
                    max_replicas: live.max_replicas,
                })
        })
        .buffered(8)
        .collect()
        .await;
    for (w, live) in config.workloads.iter_mut().zip(lives) {
        if live.is_some() {
            w.current = live;
        }
    }
}

/// Each workload's `current:` set to its HPA's bounds in `yaml`, the
/// `GitOps` YAML the last run wrote (its `--output`), when no cluster is
/// reachable: what the repository holds is what is in force, so the plan's
/// step limits and holds start from there, not from a `current:` older
/// than the last patch (max stayed at ×1.5 of it run after run). The ids
/// (`namespace/name`) of the workloads it set; an HPA the file does not
/// hold keeps `current:`. Bounds no HPA can have (min 0, or above max: a
/// typo in a hand edit) are no one's decision: the plan starts from those
/// the last run wrote there (its annotation), else from `current:`, with
/// a warning, and the document is written over (before, `maxReplicas: 1`
/// under a min of 2 was stepped from, and max fell from 24 to 2).
///
/// # Errors
///
/// The file's name and what in it is not such YAML.
pub fn current_from_yaml(
    path: &std::path::Path,
    yaml: &str,
    config: &mut Config,
) -> anyhow::Result<std::collections::HashSet<String>> {
    let bounds = crate::edge::cluster::bounds_in_yaml(yaml).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; expected the HPA documents an earlier `apply --output-format yaml` wrote there (move the file away to start from `current:`)",
            path.display()
        )
    })?;
    let records = recorded_in_yaml(&documents_in_yaml(path, yaml)?);
    let mut set = std::collections::HashSet::new();
    for w in &mut config.workloads {
        let key = (w.namespace.clone(), w.hpa.clone());
        if let Some(&(min, max)) = bounds.get(&key) {
            let (min_replicas, max_replicas) = if min >= 1 && min <= max {
                (min, max)
            } else if let Some(&recorded) = records.get(&key) {
                tracing::warn!(
                    workload = %w.id(),
                    "{}: the document of HPA {}/{} in {} has minReplicas {min} and maxReplicas {max}, which no HPA can have (a typo?): planned from the {}..{} the last run wrote there, and written over",
                    w.id(),
                    w.namespace,
                    w.hpa,
                    path.display(),
                    recorded.0,
                    recorded.1
                );
                recorded
            } else {
                tracing::warn!(
                    workload = %w.id(),
                    "{}: the document of HPA {}/{} in {} has minReplicas {min} and maxReplicas {max}, which no HPA can have (a typo?), and no record of the last run's bounds: planned from `current:`, and written over",
                    w.id(),
                    w.namespace,
                    w.hpa,
                    path.display()
                );
                continue;
            };
            w.current = Some(crate::core::workload::CurrentBounds {
                min_replicas,
                max_replicas,
            });
            set.insert(w.id());
        }
    }
    Ok(set)
}

/// The HPA documents of `yaml`, the `GitOps` YAML the last run wrote (its
/// `--output`), as they are.
///
/// # Errors
///
/// The file's name and what in it is not such YAML.
pub fn documents_in_yaml(
    path: &std::path::Path,
    yaml: &str,
) -> anyhow::Result<Vec<crate::core::apply::HpaDocument>> {
    crate::edge::cluster::hpa_documents(yaml).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; expected the HPA documents an earlier `apply --output-format yaml` wrote there (move the file away to start from `current:`)",
            path.display()
        )
    })
}

/// An alert when the HPA sat at its max (kube-state-metrics in Prometheus)
/// longer than [`crate::core::apply::AT_MAX_ALERT`] since the last run; a
/// warning when that cannot be checked.
async fn check_time_at_max(
    client: &crate::edge::prometheus::client::Client,
    w: &crate::core::plan::WorkloadPlan,
    loaded: &crate::edge::store::Loaded,
    run: &mut ApplyRun,
) {
    let id = format!("{}/{}", w.namespace, w.name);
    let now = w.now.unwrap_or(0);
    let last_run = loaded
        .state
        .as_ref()
        .and_then(|s| s.last())
        .and_then(|r| crate::core::time::parse_timestamp(&r.at).ok());
    let since = crate::core::apply::at_max_window_start(last_run, now);
    let after = last_run.unwrap_or(since);
    match minutes_at_max(client, &w.namespace, &w.hpa, since, after, now).await {
        Ok(Some(stretch)) if stretch > crate::core::apply::AT_MAX_ALERT => {
            run.troubles.push(crate::core::apply::Trouble {
                namespace: w.namespace.clone(),
                workload: w.name.clone(),
                reason: "at_max".into(),
                severity: "critical".into(),
                summary: format!(
                    "{id}: the HPA sat at its max for {} in a row",
                    crate::core::series::human_span(stretch)
                ),
                description: format!(
                    "kube_horizontalpodautoscaler_status_current_replicas reached spec_max_replicas for {} in a row between {} and {}: the load needed more than the HPA may give",
                    crate::core::series::human_span(stretch),
                    format_timestamp(since),
                    format_timestamp(now)
                ),
                fix: "raise max_replicas (its ceiling in homeostat's config) if the cluster has room; check whether the load is real or an incident".into(),
            });
        }
        Ok(_) => {}
        Err(e) => run
            .warnings
            .push(format!("{id}: time at max not checked: {e}")),
    }
}

/// Incidents of workloads the config no longer has (removed, renamed):
/// closed by this run without a judgement, and said. Before, a renamed
/// workload's incident stayed open in the store for ever, counted nowhere
/// and found by no command (and resumed, days later, if the old name came
/// back). Only the workloads this config's `apply` recorded last (a store
/// may be shared by several configs; one that recorded no config, from
/// before it was kept, counts as this one's) and of this run's shard; closed at
/// the last run that recorded the workload (a file-backed workload's
/// times are its data's, not the clock's); nothing for a replay (`at`)
/// of a moment before that run.
pub fn close_incidents_of_gone_workloads(config: &Config, at: Option<i64>, run: &mut ApplyRun) {
    let store = store_of(config);
    let config_id = super::config_id(&config.path);
    let known: std::collections::HashSet<std::path::PathBuf> = config
        .workloads
        .iter()
        .map(|w| store.path(&w.namespace, &w.name))
        .chain(config.rejected.iter().filter_map(|r| {
            r.names
                .as_ref()
                .map(|(namespace, name, _)| store.path(namespace, name))
        }))
        .collect();
    for file in store
        .workload_files()
        .into_iter()
        .filter(|f| !known.contains(f))
    {
        // Its names from the file (the path escapes unusual ones).
        let names = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|v| {
                let text = |key: &str| Some(v.get(key)?.as_str()?.to_string());
                Some((text("namespace")?, text("name")?))
            });
        let Some((namespace, name)) = names else {
            continue;
        };
        if config.shard.is_some_and(|s| !s.holds(&namespace, &name)) {
            continue;
        }
        let Ok(Some(mut state)) = store.read(&namespace, &name) else {
            continue;
        };
        // Another config's (a store written before the owner was kept
        // has none: its incidents are closed, as they would have been).
        if state.config.as_ref().is_some_and(|c| *c != config_id) {
            continue;
        }
        let Some(last) = state.last().map(|r| r.at.clone()) else {
            continue;
        };
        let replayed_before = at.is_some_and(|at| {
            crate::core::time::parse_timestamp(&last).is_ok_and(|last| at < last)
        });
        if replayed_before {
            continue;
        }
        let mut closed = Vec::new();
        for incident in state.incidents.iter_mut().filter(|i| i.is_open()) {
            incident.closed = Some(last.clone().max(incident.last_seen.clone()));
            incident.closed_why = Some(
                "the workload is no longer in the config (removed or renamed), so its condition can no longer be judged".to_string(),
            );
            closed.push(incident.clone());
        }
        if closed.is_empty() {
            continue;
        }
        if let Err(e) = store.save(&state) {
            store_problem(run, e.label(), e.to_string());
            continue;
        }
        let id = format!("{namespace}/{name}");
        let ids: Vec<&str> = closed.iter().map(|i| i.id.as_str()).collect();
        let note = format!(
            "no longer in the config (removed or renamed): incident {} closed without a judgement (`homeostat postmortem --incident {}` still drafts it)",
            ids.join(", "),
            ids[0]
        );
        tracing::warn!(workload = %id, "{id}: {note}");
        run.since_last_run.push((id, note));
        run.incidents_closed.extend(closed);
    }
}

/// A model store file set aside or not written: in the report, and in the
/// log (not only in the report, which may be a file nobody reads).
fn store_problem(run: &mut ApplyRun, label: &'static str, problem: String) {
    tracing::error!(error = label, "model store: {problem}");
    run.store_problems.push(problem);
    run.error_labels.push(label);
}

/// A failure reading or patching `w`'s HPA: in the report, as an alert,
/// and in the log under its label.
fn failed(
    run: &mut ApplyRun,
    w: &crate::core::plan::WorkloadPlan,
    e: &crate::edge::cluster::ClusterError,
    reason: &str,
    what: &str,
    fix: &str,
) {
    let id = format!("{}/{}", w.namespace, w.name);
    tracing::error!(workload = %id, error = e.label(), "{id}: {e}");
    run.failures.push((id, e.to_string()));
    run.error_labels.push(e.label());
    run.troubles
        .push(hpa_trouble(w, reason, what, e.to_string(), fix));
}

/// A failure reading or patching `w`'s HPA, as an alert (warning).
fn hpa_trouble(
    w: &crate::core::plan::WorkloadPlan,
    reason: &str,
    what: &str,
    description: String,
    fix: &str,
) -> crate::core::apply::Trouble {
    crate::core::apply::Trouble {
        namespace: w.namespace.clone(),
        workload: w.name.clone(),
        reason: reason.into(),
        severity: "warning".into(),
        summary: format!("{}/{}: homeostat {what}", w.namespace, w.name),
        description,
        fix: fix.into(),
    }
}

/// What the model store says of each workload before it is planned, in
/// one read of its state (a read per workload per rule was a second pass
/// over every file of a 10,000-workload store):
///
/// - open pages: a workload with an incident for a ceiling too low open
///   at `at` (now without it) keeps its page while the need stays near
///   the ceiling (see [`crate::core::workload::Workload::paging`]); read
///   by `recommend` as by `apply`, so that the two agree (a `recommend
///   --notify` would resolve the page `apply` keeps);
/// - reruns, for `apply` (`apply_clock`: its clock): a workload whose last
///   `apply` ran less than `apply.rerun_window` ago by the clock and left
///   the bounds it has now starts its step limits where that run started
///   (see [`crate::core::workload::Workload::step_from`]). A run at `--at`
///   is a replay: "ago" is then between the moments planned, not by the
///   clock, or a replay of every 6 hours of a week, run in a minute, would
///   be one rerun after another and no bound would step past the first
///   run's.
///
/// The store is read, not written.
pub fn mark_from_store(config: &mut Config, at: Option<i64>, apply_clock: Option<i64>) {
    let window = config.apply_rules.rerun_window;
    let store = store_of(config);
    let stamp = at.map(format_timestamp);
    for w in &mut config.workloads {
        let Ok(Some(state)) = store.read(&w.namespace, &w.name) else {
            continue;
        };
        w.paging = crate::core::incident::paging(&state.incidents, stamp.as_deref());
        let (Some(clock_now), Some(current), true) = (apply_clock, w.current, window > 0) else {
            continue;
        };
        let Some(last) = state.last() else { continue };
        let (now, ran) = match at {
            Some(at) => (at, Some(last.at.as_str())),
            None => (clock_now, last.ran_at.as_deref()),
        };
        let ran = ran.and_then(|t| crate::core::time::parse_timestamp(t).ok());
        let recent = ran.is_some_and(|ran| (0..window).contains(&(now - ran)));
        let left = last.left == Some((current.min_replicas, current.max_replicas));
        if let (true, true, Some(from)) = (recent, left, last.step_from) {
            w.step_from = Some(crate::core::workload::CurrentBounds {
                min_replicas: from.0,
                max_replicas: from.1,
            });
        }
    }
}

/// The config's model store (`store:`, else `models/`).
#[must_use]
pub fn store_of(config: &Config) -> crate::edge::store::Store {
    crate::edge::store::Store::new(
        config
            .store
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("models")),
    )
}

/// What was learned from the doctor, for every workload that learns: with
/// `learning: apply`, the learned ceilings (min's and max's) and known events the config has
/// not taken yet are put in `config` before the run plans; with `suggest`,
/// they are only said. The reason for each, by workload id, to add to its
/// plan. The store is read, not written.
pub fn use_learned(config: &mut Config) -> Vec<(String, String)> {
    use crate::core::workload::Learning;
    let store = store_of(config);
    let mut reasons = Vec::new();
    for w in &mut config.workloads {
        if w.learning == Learning::Off {
            continue;
        }
        let Ok(Some(state)) = store.read(&w.namespace, &w.name) else {
            continue;
        };
        let apply = w.learning == Learning::Apply;
        let used = if apply {
            "used at once (learning: apply"
        } else {
            "suggested, not used (learning: suggest"
        };
        for l in &state.learned {
            let (which, range) = match l.setting.as_str() {
                "max_replicas.ceiling" => ("max", &mut w.policy.max_replicas),
                "min_replicas.ceiling" => ("min", &mut w.policy.min_replicas),
                _ => continue,
            };
            let written = range.ceiling();
            if l.value <= written {
                continue;
            }
            if let (true, Some(raised)) = (
                apply,
                crate::core::bounds::ReplicaRange::new(range.floor(), l.value),
            ) {
                *range = raised;
            }
            reasons.push((
                w.id(),
                format!(
                    "{which} ceiling {} learned from incident {} ({}), {used}; the config says {written})",
                    l.value, l.incident, l.because
                ),
            ));
        }
        for l in &state.learned_events {
            if w.calendar.iter().any(|c| c.name == l.event.name) {
                continue;
            }
            if apply {
                w.calendar.push(l.event.clone());
            }
            reasons.push((w.id(), format!("{}, {used})", l.describe())));
        }
    }
    reasons
}

/// Adds the reasons of [`use_learned`] to the workloads' plans.
pub fn note_learned(plan: &mut crate::core::plan::Plan, reasons: &[(String, String)]) {
    for w in &mut plan.workloads {
        let id = format!("{}/{}", w.namespace, w.name);
        w.reasons.extend(
            reasons
                .iter()
                .filter(|(of, _)| *of == id)
                .map(|(_, reason)| reason.clone()),
        );
    }
}

/// What a run saw of changes made outside homeostat on a workload's HPA,
/// and what the config as written says of learning and of how often
/// `apply` runs (the run record keeps its schedule for the next run).
struct Outside<'a> {
    /// Its bounds changed by someone else, in words, and its min and max
    /// now.
    hpa_change: Option<(String, (u32, u32))>,
    /// Whether the workload learns from it (`learning:` is not `off`).
    learns: bool,
    /// Whether what it learns is used at once (`learning: apply`).
    learns_at_once: bool,
    /// The known events the config declares.
    calendar: &'a [crate::core::known::KnownEvent],
    /// Seconds between two runs of `apply` (`apply.every`).
    every: i64,
}

/// `what` (an operator's change) noted on the workload's incident and in
/// the report; the incidents it was noted on. A change seen again (the
/// HPA or the YAML left as the operator left it, run after run) is in the
/// report once, on the run that first noted it on an incident (the same
/// change made again during a later incident is news again).
fn note_change(
    incidents: &mut [crate::core::incident::Incident],
    run: &mut ApplyRun,
    id: &str,
    what: &str,
    at: &str,
    seen_last_run: Option<&str>,
) -> Vec<String> {
    let (noted, anew) = crate::core::incident::attribute_anew(incidents, &[], what, at, true);
    // With no incident to note it on, the last run's record remembers it.
    if anew || (noted.is_empty() && seen_last_run != Some(what)) {
        say_noted(run, id, what, &noted);
    }
    noted
}

/// The report's line for an operator's change and where it was noted.
fn say_noted(run: &mut ApplyRun, id: &str, what: &str, noted: &[String]) {
    let on = if noted.is_empty() {
        String::new()
    } else {
        format!(" (noted on incident {})", noted.join(", "))
    };
    run.since_last_run.push((
        id.to_string(),
        format!("{what} since homeostat's last run{on}"),
    ));
}

/// Records the run in the model store and notes what changed since the last.
fn remember(
    store: &crate::edge::store::Store,
    loaded: crate::edge::store::Loaded,
    w: &crate::core::plan::WorkloadPlan,
    settings: Option<crate::core::incident::Fingerprint>,
    outside: &Outside<'_>,
    change: &crate::core::apply::Change,
    (config_id, run): (&str, &mut ApplyRun),
) {
    use crate::core::incident;
    use crate::core::plan::Status;
    use crate::edge::store::{ModelState, RunRecord, WorkloadState};
    let id = format!("{}/{}", w.namespace, w.name);
    if let Some(problem) = loaded.set_aside {
        if loaded.unreadable {
            // Written over, the file would lose every run and incident it
            // holds (a file another user left mode 600 on the volume).
            store_problem(
                run,
                "store_unreadable",
                format!("{problem}; left as it is, and this run is not recorded for {}/{} (make the file readable and writable by the user homeostat runs as)", w.namespace, w.name),
            );
            return;
        }
        store_problem(run, "store_unreadable", problem);
    }
    let mut state = loaded
        .state
        .unwrap_or_else(|| WorkloadState::new(&w.namespace, &w.name));
    // Kept whatever this run finds: a run without a plan saves the state
    // too, and the file set aside is gone from where the next run reads.
    state.incidents_counted = state.incidents_counted.max(loaded.incidents_before);
    // A run for an earlier "now" (`--at`) than the store's last run is not
    // history: it is not kept, and the report says so instead of comparing
    // with a run that came after it. (The same moment is kept: a file's
    // "now" is its last sample, the same on each run until it grows, and
    // a rerun after the operator's fix must see the fix.)
    let last_at = state
        .last()
        .and_then(|r| crate::core::time::parse_timestamp(&r.at).ok());
    if let (Some(now), Some(last)) = (w.now, last_at) {
        if now < last {
            let note = format!(
                "not recorded in the model store: its last run is at {}, later than this one; a replay of an earlier moment leaves the store's history and incidents as they are",
                format_timestamp(last)
            );
            tracing::warn!(workload = %id, "{id}: {note}");
            run.since_last_run.push((id, note));
            run.replayed.insert((w.namespace.clone(), w.hpa.clone()));
            return;
        }
    }
    if let Some(last) = state.last() {
        let pair = |a: Option<u32>, b: Option<u32>| match (a, b) {
            (Some(a), Some(b)) => format!("{a}..{b}"),
            _ => "nothing".to_string(),
        };
        let before = pair(last.recommended_min, last.recommended_max);
        let after = pair(w.min_replicas, w.max_replicas);
        let mut note = if before == after && after == "nothing" {
            format!("no recommendation, as at the last run ({})", last.at)
        } else if before == after {
            format!("recommended {after} as at the last run ({})", last.at)
        } else {
            format!(
                "recommended {before} at the last run ({}), now {after}",
                last.at
            )
        };
        // The horizon's range: in schedule mode the report's range has the
        // schedule's min for now, which this would seem to contradict.
        if let Some(scheduled) = w.scheduled_min {
            let _ = std::fmt::Write::write_fmt(
                &mut note,
                format_args!(" (the horizon's min; the schedule's min now {scheduled})"),
            );
        }
        run.since_last_run.push((id.clone(), note));
    }
    let failed = run.failures.iter().any(|(f, _)| *f == id);
    let applied = change.patch && !run.dry_run && run.cluster && !failed;
    let at = w.now.map(format_timestamp).unwrap_or_default();
    // What the operator changed on the HPA since homeostat last applied
    // it, noted on the incident it was meant to heal (the config's changes
    // are noted once this run's incidents have moved: see below).
    let seen_last_run = state.last().and_then(|r| r.outside_change.clone());
    let noted_on_hpa = outside
        .hpa_change
        .as_ref()
        .map_or_else(Vec::new, |(what, _)| {
            note_change(
                &mut state.incidents,
                run,
                &id,
                what,
                &at,
                seen_last_run.as_deref(),
            )
        });
    // The operator's fix as a learned setting (issue 21's learning).
    if let (Some(settings), true) = (settings, outside.learns) {
        let raised = outside
            .hpa_change
            .as_ref()
            .map(|(what, bounds)| (*bounds, what.as_str()));
        for new in incident::learn(&mut state.learned, &settings, raised, &noted_on_hpa, &at) {
            run.since_last_run.push((
                id.clone(),
                if outside.learns_at_once {
                    format!(
                        "learned: {} {} from incident {} ({}), used from the next run on (learning: apply); `homeostat learned` writes it as a config patch",
                        new.setting, new.value, new.incident, new.because
                    )
                } else {
                    format!(
                        "learned (suggested): {} {} from incident {} ({}); `homeostat learned` writes it as a config patch",
                        new.setting, new.value, new.incident, new.because
                    )
                },
            ));
        }
    }
    // Incidents move only on a run that made a plan: without one (no
    // data, an error) the conditions cannot be judged either way.
    // The incidents a config change may belong to: those open before this
    // run's findings, and those it opens (see below).
    let mut concerned: Vec<String> = state
        .incidents
        .iter()
        .filter(|i| i.is_open())
        .map(|i| i.id.clone())
        .collect();
    if matches!(w.status, Status::Ok | Status::NeedsOperator) {
        // Judged against the max the HPA has after this run.
        let in_force = run
            .in_force_max
            .get(&(w.namespace.clone(), w.name.clone()))
            .copied();
        let found = incident::findings_under(w, &run.troubles, in_force.or(w.max_replicas));
        let counted = state.incidents_counted;
        let changes = incident::advance_after(&mut state.incidents, &found, w, &at, counted);
        state.incidents_counted = state
            .incidents
            .iter()
            .filter_map(|i| i.id.rsplit_once('#').and_then(|(_, n)| n.parse().ok()))
            .fold(counted, u32::max);
        concerned.extend(changes.opened.iter().map(|i| i.id.clone()));
        // The run's summary warns of a critical workload with its reason:
        // said once (the same sentence came twice on stderr, three times
        // with `--output-format yaml`'s report there too).
        let said_in_summary = crate::report::operator_reasons(w);
        for opened in &changes.opened {
            if said_in_summary.contains(&opened.blocked_by) {
                tracing::warn!(workload = %id, incident = %opened.id, cause = opened.cause.as_str(), "{id}: incident {} opened ({}): its reason follows", opened.id, opened.cause.as_str());
            } else {
                tracing::warn!(workload = %id, incident = %opened.id, cause = opened.cause.as_str(), "{id}: incident {} opened: {}", opened.id, opened.blocked_by);
            }
        }
        run.incidents_opened.extend(changes.opened);
        run.incidents_closed.extend(changes.closed);
        if outside.learns {
            learn_recurring(&mut state, outside.calendar, run, &at);
        }
    }
    // The config's changes since the last run, noted on the incidents open
    // before this run (whether it closed them or not: the change may be
    // their fix) and on those it opened (the change may be their cause);
    // with none, on the latest. Not on a closed incident when the run opens
    // a new one: its post-mortem listed the regression as part of its fix.
    if let Some(settings) = settings {
        let in_config = state
            .settings
            .map(|before| settings.changes_since(&before))
            .unwrap_or_default();
        if !in_config.is_empty() {
            let what = format!("config: {}", in_config.join(", "));
            let noted = incident::attribute_to(&mut state.incidents, &concerned, &what, &at);
            say_noted(run, &id, &what, &noted);
        }
        state.settings = Some(settings);
    }
    run.incidents_open += state.incidents.iter().filter(|i| i.is_open()).count();
    if !state.incidents.is_empty() {
        run.incident_tallies
            .push(incident::Tally::of(&w.namespace, &w.name, &state.incidents));
    }
    if let Some(model) = &w.model {
        state.model = Some(ModelState {
            model: model.clone(),
            seasonality: w.seasonality.clone(),
        });
    }
    state.config = Some(config_id.to_string());
    state.record(RunRecord {
        at: w.now.map(format_timestamp).unwrap_or_default(),
        status: w.status.as_str().to_string(),
        recommended_min: w.min_replicas,
        recommended_max: w.max_replicas,
        applied_min: if applied { change.to_min } else { None },
        applied_max: if applied { change.to_max } else { None },
        dry_run: run.dry_run,
        seen: (change.compared_with == "cluster")
            .then(|| change.from_min.zip(change.from_max))
            .flatten(),
        outside_change: outside.hpa_change.as_ref().map(|(what, _)| what.clone()),
        step_from: w
            .step_base
            .or(w.current)
            .map(|c| (c.min_replicas, c.max_replicas)),
        // Nothing applied leaves the HPA's (a rerun steps from the same).
        left: change
            .to_min
            .zip(change.to_max)
            .or(change.from_min.zip(change.from_max)),
        ran_at: Some(run.generated_at.clone()),
        scheduled_min: w.scheduled_min,
        schedule_ahead: match (w.scheduled_min, w.now) {
            (Some(_), Some(now)) => {
                crate::core::apply::schedule_ahead(&w.schedule, now, outside.every)
            }
            _ => Vec::new(),
        },
    });
    if let Err(e) = store.save(&state) {
        store_problem(run, e.label(), e.to_string());
    }
}

/// Recurring incidents of the workload of `state` as a known event,
/// said in the report when it is new.
fn learn_recurring(
    state: &mut crate::edge::store::WorkloadState,
    calendar: &[crate::core::known::KnownEvent],
    run: &mut ApplyRun,
    at: &str,
) {
    let workload = (state.namespace.as_str(), state.name.as_str());
    let Some(new) = crate::core::recurring::learn(
        &mut state.learned_events,
        workload,
        &state.incidents,
        calendar,
        at,
    ) else {
        return;
    };
    run.since_last_run.push((
        format!("{}/{}", workload.0, workload.1),
        format!(
            "learned: {}; `homeostat learned` writes it as a config patch",
            new.describe()
        ),
    ));
}

/// The longest stretch (seconds) the HPA sat at its max within
/// `[since, now]` that lasted until `after` or later, from kube-state-metrics; `None` when Prometheus has no
/// such series (kube-state-metrics not installed, or the HPA unknown to it).
async fn minutes_at_max(
    client: &crate::edge::prometheus::client::Client,
    namespace: &str,
    hpa: &str,
    since: i64,
    after: i64,
    now: i64,
) -> Result<Option<i64>, String> {
    let query = crate::core::apply::at_max_query(namespace, hpa);
    let step = 60;
    match client
        .fetch_history(
            &query,
            Some(crate::core::workload::Aggregate::Max),
            since,
            now,
            step,
        )
        .await
    {
        Ok(history) => Ok(Some(crate::core::apply::longest_at_max(
            &history.samples,
            step,
            after,
        ))),
        Err(e) if e.is_no_data() => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}
