//! `recommend --notify` and `apply`'s alerts and run metrics, sent.

use super::RunContext;
use crate::app::config::Config;

/// What notifying did, and what the operator should know about how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notified {
    pub report: crate::edge::notify::NotifyReport,
    pub warnings: Vec<String>,
}

/// Sends `plan`'s alerts (and, after `apply`, those of its troubles) to
/// Alertmanager and the run's metrics (with `apply`'s incidents) to the
/// Pushgateway, those the config names, on the run's runtime.
#[must_use]
pub fn notify(
    run: &RunContext,
    config: &Config,
    plan: &crate::core::plan::Plan,
    applied: Option<&crate::core::apply::ApplyRun>,
    duration_secs: f64,
    now: i64,
) -> Notified {
    use crate::edge::notify;
    let mut warnings = Vec::new();
    if config.alertmanager.is_none() && config.pushgateway.is_none() {
        return Notified {
            report: notify::NotifyReport::default(),
            warnings,
        };
    }
    for (setting, endpoint) in [
        ("alertmanager", &config.alertmanager),
        ("pushgateway", &config.pushgateway),
    ] {
        if endpoint.as_ref().is_some_and(|e| e.insecure_skip_verify) {
            warnings.push(format!(
                "{setting}.insecure_skip_verify is on: the server's TLS certificate is not checked"
            ));
        }
    }
    let troubles = applied.map_or(&[][..], |a| a.troubles.as_slice());
    let mut firing = notify::firing_alerts(plan, troubles);
    if let Some(applied) = applied {
        notify::name_incidents(&mut firing, &applied.incident_tallies);
    }
    let mut in_run: Vec<(String, String)> = plan
        .workloads
        .iter()
        .map(|w| (w.namespace.clone(), w.name.clone()))
        .collect();
    // The entries without names are shard 0's (`Config::select_shard`):
    // that run resolves their alerts (this config's) once they are mended.
    if config.shard.is_none_or(|s| s.index == 0) {
        in_run.push((String::new(), super::config_id(&config.path)));
    }
    let mut metrics = notify::run_metrics(plan, duration_secs, now);
    if let Some(applied) = applied {
        metrics.push_str(&notify::incident_metrics(applied));
    }
    let report = match run.runtime() {
        Ok(runtime) => runtime.block_on(notify::notify(
            config.alertmanager.as_ref(),
            config.pushgateway.as_ref(),
            &firing,
            &in_run,
            applied.is_some(),
            &metrics,
            config
                .shard
                .map(|s| format!("{}-of-{}", s.index, s.count))
                .as_deref(),
            now,
        )),
        Err(e) => notify::NotifyReport {
            errors: vec![notify::NotifyError::Runtime(e)],
            ..notify::NotifyReport::default()
        },
    };
    Notified { report, warnings }
}
