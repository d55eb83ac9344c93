//! `homeostat apply`: the recommendations patched into the HPAs (or
//! written as YAML for `GitOps`), then the alerts.

use super::{colour_wanted, emit, log_summary, notify_and_say, stopped_early, Flags};
use crate::app::cli::{ApplyFormat, PatchFormat};
use crate::app::{run, stop};
use crate::report;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// How `apply` runs and where its output goes.
pub(super) struct Output<'a> {
    pub dry_run: bool,
    /// Send the alerts and run metrics (`--no-notify` says no).
    pub notify: bool,
    pub patches: Option<PatchFormat>,
    pub format: ApplyFormat,
    pub path: Option<&'a Path>,
}

pub(super) fn apply(
    flags: &Flags,
    config: Option<PathBuf>,
    at: Option<i64>,
    output: &Output,
) -> Result<u8> {
    let started = std::time::Instant::now();
    let context = flags.run_at(at);
    if let Some(at) = at.filter(|&at| !output.dry_run && (at - context.clock_now).abs() > 900) {
        anyhow::bail!(
            "--at {}: a recommendation for another time than now is never applied to live HPAs; add --dry-run to see it",
            crate::core::time::format_timestamp(at)
        );
    }
    let mut config = flags.load_config(config)?;
    // Found out now, not after the run was recorded and the HPAs patched.
    if let Some(path) = output.path {
        crate::edge::atomic::check_writable(path).with_context(|| {
            format!(
                "cannot write {} (--output): nothing was run",
                path.display()
            )
        })?;
    }
    // One writer per store: taken before the plan, so that a second
    // run learns at once (or after a short wait) that it must not run.
    let _store_lock = run::store_of(&config).lock_shard(
        config.shard.map(|s| (s.index, s.count)),
        crate::edge::store::LOCK_WAIT,
    )?;
    let progress = flags.progress(config.workloads.len(), "fit");
    let context = context.with_progress(progress.clone());
    // The config as written: what the operator changed and what is learned
    // are measured against it, not against the learned limits in use.
    let written = config.clone();
    let learned = run::use_learned(&mut config);
    let runtime = context.runtime().map_err(anyhow::Error::msg)?;
    let cluster = runtime.block_on(async {
        match kube::Client::try_default().await {
            Ok(client) => Ok(Some(client)),
            Err(e) if output.dry_run => {
                if let (Some(PatchFormat::Yaml), Some(yaml)) = (
                    output.patches,
                    output.path.filter(|p| p.exists()),
                ) {
                    tracing::warn!(
                        "no Kubernetes API ({e}): comparing with the last run's YAML in {} for the HPAs it holds, with `current:` in {} for the others",
                        yaml.display(),
                        config.path.display()
                    );
                } else {
                    tracing::warn!(
                        "no Kubernetes API ({e}): comparing with `current:` in {}",
                        config.path.display()
                    );
                }
                Ok(None)
            }
            Err(e) => Err(anyhow::anyhow!(
                "cannot reach the Kubernetes API: {e} (a kubeconfig or an in-cluster service account is needed; `--dry-run` works from `current:` without one)"
            )),
        }
    })?;
    // Today's range is the live HPA's, not `current:` as once written:
    // the step limits and holds of the plan start from what is in force.
    // Without one, a GitOps job's repository is what is in force: the
    // YAML the last run wrote to `--output`.
    let mut from_yaml = std::collections::HashSet::new();
    // The last run's YAML: overwritten by this run, so refused when it is
    // not what a run wrote (it would be lost), and its documents kept for
    // the HPAs this run writes none for.
    let mut earlier = Vec::new();
    if let (Some(PatchFormat::Yaml), Some(path)) = (output.patches, output.path) {
        match std::fs::read_to_string(path) {
            Ok(yaml) => {
                if cluster.is_none() {
                    from_yaml = run::current_from_yaml(path, &yaml, &mut config)?;
                    tracing::info!(
                        "the plan starts from the bounds of {} HPAs in {} (the last run's YAML), the rest from `current:`",
                        from_yaml.len(),
                        path.display()
                    );
                }
                earlier = run::documents_in_yaml(path, &yaml)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
    }
    if let Some(client) = &cluster {
        runtime.block_on(run::current_from_cluster(client, &mut config));
    }
    run::mark_from_store(&mut config, at, Some(context.clock_now));
    // The HPAs of the config, those of the workloads it cannot run too: a
    // GitOps YAML keeps their documents as the last run left them.
    let hpas: std::collections::HashSet<(String, String)> = config
        .workloads
        .iter()
        .map(|w| (w.namespace.clone(), w.hpa.clone()))
        .chain(config.rejected.iter().filter_map(|r| {
            r.names
                .as_ref()
                .map(|(namespace, _, hpa)| (namespace.clone(), hpa.clone()))
        }))
        .collect();
    let mut plan = run::recommend(&context, &config);
    progress.finish();
    run::note_learned(&mut plan, &learned);
    if at.is_none() {
        warn_of_stale_files(&config, &plan, context.clock_now);
    }
    if let Some(code) = stopped_early(plan.workloads.len(), config.workloads.len()) {
        return Ok(code);
    }
    let settings = run::ApplySettings {
        dry_run: output.dry_run,
        rules: config.apply_rules,
        clock_now: context.clock_now,
        yaml_records: if cluster.is_none() {
            run::recorded_in_yaml(&earlier)
        } else {
            std::collections::HashMap::new()
        },
        yaml_file: output.path.map(|p| p.display().to_string()),
        from_yaml,
    };
    let mut applied = runtime.block_on(run::apply_changes(
        &written,
        &plan,
        cluster.as_ref(),
        &settings,
    ));
    run::close_incidents_of_gone_workloads(&config, at, &mut applied);
    // From here on (alerts, the exit code, the log) a spike is judged
    // against the max each HPA has after this run, not the recommended one.
    for w in &mut plan.workloads {
        w.in_force_max = applied
            .in_force_max
            .get(&(w.namespace.clone(), w.name.clone()))
            .copied();
    }
    // Not run, so neither recorded nor patched: failed, in the report and
    // the alerts.
    let unnamed = super::add_rejected(&config, &mut plan);
    applied.error_labels.extend(unnamed);
    for rejected in &config.rejected {
        applied
            .failures
            .push((rejected.id(), super::rejected_reason(rejected)));
    }
    let mut code = plan.exit_code() as u8;
    if !applied.failures.is_empty() || !applied.store_problems.is_empty() {
        code = code.max(1);
    }
    let report = match output.format {
        ApplyFormat::Table => report::render_apply_table(
            &applied,
            output.patches.is_none() && colour_wanted(output.path),
        ),
        ApplyFormat::Json => report::render_apply_json(&applied),
    };
    // HPAs may have been patched by now: notify even if the report
    // cannot be written (and before the summary, which counts its failures).
    let mut failures = applied.error_labels.clone();
    if output.notify {
        let unsent = notify_and_say(&context, &config, &plan, Some(&applied), started);
        code = code.max(u8::from(!unsent.is_empty()));
        failures.extend(unsent);
    }
    log_summary(
        "apply",
        &plan,
        started,
        &failures,
        Some([
            applied.incidents_open,
            applied.incidents_opened.len(),
            applied.incidents_closed.len(),
            applied.incident_tallies.iter().map(|t| t.repeats).sum(),
        ]),
    );
    let written = match output.patches {
        Some(PatchFormat::Yaml) => {
            eprint!("{report}");
            for key in earlier.iter().map(|(key, _)| key) {
                if applied.replayed.contains(key) {
                    tracing::warn!(
                        "{}/{}: its document in the YAML is left as the last run wrote it: this run's moment (--at) is earlier than that run's, a replay",
                        key.0,
                        key.1
                    );
                }
            }
            for (id, why) in &applied.not_desired {
                tracing::warn!(workload = %id, "{id}: {why}, and no live HPA to read its bounds from: the YAML keeps the document the last run wrote for it, if any");
            }
            // A workload the config cannot even name may be any HPA's: no
            // document is dropped while one is there.
            let mut hpas = hpas;
            if config.rejected.iter().any(|r| r.names.is_none()) {
                for (key, _) in &earlier {
                    if hpas.insert(key.clone()) {
                        tracing::warn!(
                            "{}/{}: no workload of the config names this HPA, but some workload's names cannot be read: the YAML keeps its document as the last run wrote it",
                            key.0,
                            key.1
                        );
                    }
                }
            }
            // Dropped on purpose (the workload left the config), but never
            // silently: a synced repository then gives the HPA back to its
            // base manifest's bounds.
            let file = output
                .path
                .map_or_else(|| "the YAML".to_string(), |p| p.display().to_string());
            for (key, _) in earlier.iter().filter(|(key, _)| !hpas.contains(key)) {
                if config.shard.is_some() {
                    tracing::warn!(
                        "{}/{}: no workload of this shard names this HPA: its document is dropped from {file} (give each shard a YAML file of its own)",
                        key.0,
                        key.1
                    );
                } else {
                    tracing::warn!(
                        "{}/{}: no workload of the config names this HPA any more: its document is dropped from {file} (once synced, the HPA has its base manifest's bounds again; keep the workload in the config to keep its document)",
                        key.0,
                        key.1
                    );
                }
            }
            emit(output.path, &applied.patches_yaml(&earlier, &hpas))
        }
        None => emit(output.path, &report),
    };
    written?;
    // Stopped between two patches: what was applied is reported
    // above; the exit code says the run did not finish.
    if let Some(signal) = stop::requested() {
        code = stop::exit_code(signal);
    }
    Ok(code)
}

/// Without `--at` a file is planned as of its last sample, so an export
/// that stopped a week ago would have last week's bounds applied now,
/// without a word (a query's stale data is refused, being planned at the
/// clock). Each such file is warned of: the bounds are applied as the
/// plan says, and the warning names the file, its end and its age.
fn warn_of_stale_files(
    config: &crate::app::config::Config,
    plan: &crate::core::plan::Plan,
    clock_now: i64,
) {
    // Looked up by name once: a fleet of 10,000 would otherwise compare
    // every workload with every plan.
    let planned_at: std::collections::HashMap<(&str, &str), i64> = plan
        .workloads
        .iter()
        .filter_map(|p| Some(((p.namespace.as_str(), p.name.as_str()), p.now?)))
        .collect();
    for w in &config.workloads {
        let crate::core::workload::LoadSource::File(path) = &w.source else {
            continue;
        };
        let Some(&now) = planned_at.get(&(w.namespace.as_str(), w.name.as_str())) else {
            continue;
        };
        let age = clock_now - now;
        if age > w.max_gap.secs() {
            tracing::warn!(
                workload = %format!("{}/{}", w.namespace, w.name),
                "{}/{}: {} ends {}, {} before this run: the bounds are those planned as of then (a file is read as of its last sample); is its export still running?",
                w.namespace,
                w.name,
                path.display(),
                crate::core::time::format_timestamp(now),
                crate::core::series::human_span(age)
            );
        }
    }
}
