//! `homeostat recommend`: plans every workload; the Parquet export of
//! histories and forecasts; `synth`'s fleet files.

use super::{process_histories, with_planning_budget, Loaded, RunContext, RunError, SeriesFormat};
use crate::app::config::Config;
use crate::core::model::{self};
use crate::core::plan::{plan_in_fleet, Fitted, Fleet, Plan, Status, WorkloadPlan};
use crate::core::series::{self};
use crate::core::shapes;
use crate::core::time::format_timestamp;
use crate::core::workload::Workload;
use crate::edge::source::{self};
use std::path::{Path, PathBuf};

/// Runs the recommender over every workload of `config`, at the run's
/// "now" (see [`RunContext::at`]); the report is stamped with the run's
/// clock.
#[must_use]
pub fn recommend(run: &RunContext, config: &Config) -> Plan {
    recommend_with(run, config, |_, _, _| ()).0
}

/// [`recommend`], running `extra` on each workload's plan and what it was
/// made from, on the thread that made it (to draw or export it while only
/// that workload's data is in memory). Returns the plan and `extra`'s
/// results, in config order.
///
/// The fleet's shapes: every workload with a week of history gives its
/// profile; once all are planned, the shapes are learned from them (five
/// or more; else the store's are used) and kept in the store, and the
/// workloads too young for a model of their own (put aside on the way)
/// are planned from them, and so are those younger than two weeks
/// (blended with their own model): with this run's shapes, else the
/// store's, so that a rerun at the same moment gives the same plan.
pub fn recommend_with<T, F>(run: &RunContext, config: &Config, extra: F) -> (Plan, Vec<T>)
where
    T: Send,
    F: Fn(&Workload, &WorkloadPlan, Option<&Fitted>) -> T + Sync,
{
    let mut workloads = Vec::with_capacity(config.workloads.len());
    let mut extras = Vec::with_capacity(config.workloads.len());
    let mut profiled: Vec<shapes::Profiled> = Vec::new();
    // Planned once the shapes are learned: (index, history, the plan of
    // its own model alone when it has one).
    let mut young: Vec<(usize, Loaded, Option<Option<Fitted>>)> = Vec::new();
    let at = run.at;
    let store = super::store_of(config);
    // Only a configured store's: a run without one learns its own.
    let stored = if config.store.is_some() {
        store.read_shapes().unwrap_or_else(|e| {
            tracing::warn!(error = "shapes_unreadable", "{e}: the run learns them anew");
            None
        })
    } else {
        None
    };
    // A run at a past moment (`--at`) neither uses shapes learned after it
    // (they saw load it must not) nor replaces them with its older ones.
    let now = at.unwrap_or(run.clock_now);
    let learned_later = stored.as_ref().is_some_and(|s| {
        crate::core::time::parse_timestamp(&s.learned_at).is_ok_and(|learned| learned > now)
    });
    let stored = if learned_later {
        tracing::info!(
            "the store's fleet shapes were learned after {}: this run learns its own and keeps the store's",
            format_timestamp(now)
        );
        None
    } else {
        stored
    };
    process_histories(
        run,
        config,
        |workload, loaded| {
            // The plan's memory grows with the history's samples: taken
            // from the run's budget once the read has given its share back
            // (a thread never waits while it holds any).
            let (loaded, _planning) = with_planning_budget(workload, loaded, at);
            let (plan, fitted) = match loaded {
                Ok(loaded) => {
                    // A workload the shapes take part in is planned once the
                    // run's shapes are learned: those of this run's fleet
                    // (else the store's), and the profile its `like:` names
                    // from this run rather than the stored shape it was put
                    // in. Planned with the store's shapes here, a second run
                    // at the same moment gave other bounds than the first
                    // (the first had stored the shapes the second used).
                    let shaped =
                        crate::core::plan::shaped_history(workload, &loaded.raw, Some(loaded.now));
                    let young = shaped.is_some_and(|known| known < shapes::COLD_HISTORY);
                    if young && workload.like.is_some() {
                        return Planned::Young(loaded);
                    }
                    let fleet = if shaped.is_some() {
                        Fleet::Alone
                    } else {
                        fleet_for(workload, stored.as_ref(), &[])
                    };
                    let planned = plan_in_fleet(workload, &loaded.raw, Some(loaded.now), &fleet);
                    if planned.0.status == Status::InsufficientData && young {
                        return Planned::Young(loaded);
                    }
                    if shaped.is_some() {
                        // Its own model alone for now: its profile (from a
                        // week) joins the fleet's, and it stays the plan
                        // when there are no shapes.
                        let profile = planned
                            .1
                            .as_ref()
                            .and_then(|f| shapes::contribution(&f.history));
                        // With stored shapes it is planned again for sure:
                        // its own model's fit is not kept until then.
                        let planned = if stored.is_some() {
                            (planned.0, None)
                        } else {
                            planned
                        };
                        return Planned::Blended {
                            alone: Box::new(planned),
                            profile,
                            loaded,
                        };
                    }
                    planned
                }
                Err(failure) => {
                    let plan =
                        WorkloadPlan::failed(workload, failure.now, failure.status, failure.reason);
                    let plan = if failure.status == Status::Error {
                        plan.with_error_kind(failure.kind)
                    } else {
                        plan
                    };
                    (plan, None)
                }
            };
            let profile = fitted
                .as_ref()
                .and_then(|f| shapes::contribution(&f.history));
            let extra = extra(workload, &plan, fitted.as_ref());
            Planned::Done {
                plan: Box::new(plan),
                extra,
                profile,
            }
        },
        |workload, planned| match planned {
            Planned::Done {
                plan,
                extra,
                profile,
            } => {
                if let Some(contribution) = profile {
                    shapes::Profiled::add_to(&mut profiled, workload.id(), contribution);
                }
                workloads.push(*plan);
                extras.push(Some(extra));
            }
            Planned::Young(loaded) => {
                young.push((workloads.len(), loaded, None));
                workloads.push(WorkloadPlan::empty(
                    &workload.namespace,
                    &workload.name,
                    &workload.hpa,
                    Status::InsufficientData,
                ));
                extras.push(None);
            }
            Planned::Blended {
                alone,
                profile,
                loaded,
            } => {
                if let Some(contribution) = profile {
                    shapes::Profiled::add_to(&mut profiled, workload.id(), contribution);
                }
                let (plan, fitted) = *alone;
                young.push((workloads.len(), loaded, Some(fitted)));
                workloads.push(plan);
                extras.push(None);
            }
        },
    );
    // Interrupted (SIGTERM): the workloads not planned are missing from
    // the fleet, whose shapes are not learned from a part of it.
    let interrupted = crate::app::stop::requested().is_some();
    // Learned at the moment of the data it saw (the latest history's
    // end), not by the clock: shapes of 2015 data stamped with today's
    // date were "learned after" every replay of 2015 and never used.
    let data_now = profiled
        .iter()
        .filter_map(|p| p.probe.as_ref())
        .map(series::Series::end)
        .max()
        .map_or(now, |end| end.min(now));
    // Learned once a day, not at every run (see `shapes::RELEARN_EVERY`):
    // the store's serve while fresh.
    let fresh = stored.as_ref().is_some_and(|s| {
        crate::core::time::parse_timestamp(&s.learned_at)
            .is_ok_and(|learned| shapes::still_fresh(learned, data_now))
    });
    let learned = if interrupted || fresh {
        None
    } else {
        shapes::learn(&profiled, &format_timestamp(data_now))
    };
    if let (Some(learned), Some(_), false) = (&learned, &config.store, learned_later) {
        if let Err(e) = store.save_shapes(learned) {
            tracing::error!(error = "store_unwritable", "fleet shapes not kept: {e}");
        }
    }
    let shapes = learned.as_ref().or(stored.as_ref());
    // Too few workloads for shapes: a young one whose `like:` names one of
    // them still starts from that one's profile.
    let small = if shapes.is_none()
        && !interrupted
        && config.workloads.iter().any(|w| {
            w.like
                .as_ref()
                .is_some_and(|id| profiled.iter().any(|p| &p.id == id))
        }) {
        shapes::learn_small(&profiled, &format_timestamp(data_now))
    } else {
        None
    };
    // The second pass: each workload planned with the shapes, on the run's
    // threads (thousands of new workloads planned one after another took
    // as long as the rest of the run). After SIGTERM none is started: a
    // young workload stays unplanned, a blended one keeps its own model's
    // plan, and the caller writes no report.
    let finish = |plan_so_far: &WorkloadPlan, loaded: &Loaded, alone: &Option<Option<Fitted>>| {
        let workload = config
            .workloads
            .iter()
            .find(|w| w.namespace == plan_so_far.namespace && w.name == plan_so_far.name)
            .expect("a planned workload is in the config");
        let stopped = crate::app::stop::requested().is_some();
        let fleet = match shapes {
            Some(_) => fleet_for(workload, shapes, &profiled),
            None => like_in_small_fleet(workload, small.as_ref(), &profiled),
        };
        match alone {
            // No shapes at all: a blended workload keeps its own model's plan.
            Some(fitted) if matches!(fleet, Fleet::Alone) || stopped => {
                return (
                    plan_so_far.clone(),
                    extra(workload, plan_so_far, fitted.as_ref()),
                );
            }
            None if stopped => return (plan_so_far.clone(), extra(workload, plan_so_far, None)),
            _ => {}
        }
        let like_missing = match (&workload.like, &fleet) {
            (Some(like), Fleet::Shapes { like: None, .. }) => Some(format!(
                "like: {like} has no shape (not profiled in this run, not in the store's fleet shapes): it starts as if it had none: from the shape that explains its history best, or a flat line when none does"
            )),
            _ => None,
        };
        if let Some(missing) = &like_missing {
            tracing::warn!(workload = %workload.id(), "{}: {missing}", workload.id());
        }
        // As on the planning threads: a panic is this workload's error.
        let planned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (plan, fitted) = plan_in_fleet(workload, &loaded.raw, Some(loaded.now), &fleet);
            let extra = extra(workload, &plan, fitted.as_ref());
            (plan, extra)
        }));
        let (mut plan, extra) = planned.unwrap_or_else(|panic| {
            let plan = WorkloadPlan::failed(
                workload,
                Some(loaded.now),
                Status::Error,
                format!(
                    "planning this workload failed unexpectedly (a bug: please report it): {}",
                    crate::core::panic_message(panic.as_ref())
                ),
            )
            .with_error_kind(super::pipeline::INTERNAL_ERROR);
            let extra = extra(workload, &plan, None);
            (plan, extra)
        });
        // In the report too: its reasons name the shape used, not the one asked for.
        if let (Some(missing), Some(_)) = (like_missing, &plan.cold_start) {
            plan.reasons.push(missing);
        }
        if shapes.is_none() && plan.status == Status::InsufficientData {
            let small = match (&workload.like, &fleet) {
                (Some(like), Fleet::Alone) => {
                    let why = if config.workloads.iter().any(|w| w.id() == *like) {
                        "that workload has less than a week of history in this run (its weekly profile is what a `like:` starts from)"
                    } else {
                        "no workload of this run has that name (it is not in the config, or in another shard: without fleet shapes a `like:` and the workload it names must be in the same shard)"
                    };
                    tracing::warn!(workload = %workload.id(), "{}: like: {like} cannot start it: {why}", workload.id());
                    format!("its `like: {like}` cannot start it either: {why}")
                }
                _ => "in a smaller fleet, a `like:` naming a workload with a week of history does"
                    .to_string(),
            };
            plan.reasons.push(format!(
                "no fleet shapes to start it from: a run with {} or more workloads of a week's history learns them (and keeps them in the store), and then plans a workload from 1h of history; {small}",
                shapes::MIN_FLEET
            ));
        }
        (plan, extra)
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let finished = std::sync::Mutex::new(Vec::with_capacity(young.len()));
    std::thread::scope(|scope| {
        for _ in 0..run.threads.max(1).min(young.len()) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((index, loaded, alone)) = young.get(k) else {
                    break;
                };
                let (plan, extra) = finish(&workloads[*index], loaded, alone);
                finished
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((*index, plan, extra));
            });
        }
    });
    let finished = finished
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (index, plan, extra) in finished {
        extras[index] = Some(extra);
        workloads[index] = plan;
    }
    let plan = Plan {
        generated_at: format_timestamp(run.clock_now),
        workloads,
        config_errors: Vec::new(),
    };
    let extras = extras
        .into_iter()
        .map(|e| e.expect("every workload planned"))
        .collect();
    (plan, extras)
}

/// One workload's outcome on the planning threads.
enum Planned<T> {
    Done {
        plan: Box<WorkloadPlan>,
        extra: T,
        /// Its profile and probe, for the fleet's shapes.
        profile: Option<(Vec<f64>, series::Series)>,
    },
    /// Too young for a model of its own: planned from the fleet's shapes.
    Young(Loaded),
    /// Under two weeks old: planned again with the run's shapes, blended
    /// with its own model (whose plan `alone` is, and whose profile).
    Blended {
        alone: Box<(WorkloadPlan, Option<Fitted>)>,
        profile: Option<(Vec<f64>, series::Series)>,
        loaded: Loaded,
    },
}

/// The fleet a workload is planned in: the shapes (none: alone) and the
/// profile its `like:` names — the workload's own from this run when it
/// has one, else the shape the shapes put it in.
fn fleet_for<'a>(
    workload: &'a Workload,
    shapes: Option<&'a shapes::FleetShapes>,
    profiled: &'a [shapes::Profiled],
) -> Fleet<'a> {
    let Some(shapes) = shapes else {
        return Fleet::Alone;
    };
    let like = workload.like.as_deref().and_then(|id| {
        profiled
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.profile.as_slice())
            .or_else(|| {
                let shape = *shapes.members.get(id)?;
                shapes.shapes.get(shape).map(|s| s.profile.as_slice())
            })
            .map(|profile| (id, profile))
    });
    Fleet::Shapes { shapes, like }
}

/// The fleet a workload is planned in when the run has no shapes: the
/// small fleet's intervals (see [`shapes::learn_small`]) and the profile
/// its `like:` names, when it names a workload profiled in this run; else
/// alone.
fn like_in_small_fleet<'a>(
    workload: &'a Workload,
    small: Option<&'a shapes::FleetShapes>,
    profiled: &'a [shapes::Profiled],
) -> Fleet<'a> {
    // A small fleet has no shapes of its own: only a profile a `like:`
    // names plans the workload in it.
    match fleet_for(workload, small, profiled) {
        fleet @ Fleet::Shapes { like: Some(_), .. } => fleet,
        _ => Fleet::Alone,
    }
}

/// `homeostat recommend --format parquet`: writes one workload's history
/// and forecast to `dir/<namespace>_<name>.parquet`, with columns
/// `timestamp, load, mean, lower, upper` (the interval at the workload's
/// level): the history's rows have `load`, the forecast's the other three.
/// Without a forecast (the workload failed), a file left by an earlier run
/// is removed, so that no reader takes old data for this run's.
pub fn export_fitted(
    dir: &Path,
    workload: &Workload,
    fitted: Option<&Fitted>,
) -> Result<Option<PathBuf>, RunError> {
    let path = dir.join(format!("{}_{}.parquet", workload.namespace, workload.name));
    let Some(fitted) = fitted else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(RunError::file(&path, "remove the previous run's file", e))
            }
            _ => Ok(None),
        };
    };
    let intervals = fitted.forecast.interval(fitted.level);
    write_curves(&path, &fitted.history, &[], &fitted.forecast, &intervals)
        .map(|()| Some(path.clone()))
        .map_err(|e| RunError::file(&path, "write", e))
}

/// The history's steps (`load`), then the forecast's (`mean, lower,
/// upper`, and `load` from `actual` where it is known): one Parquet table.
pub(super) fn write_curves(
    path: &Path,
    history: &series::Series,
    actual: &[f64],
    forecast: &model::Forecast,
    intervals: &[model::Interval],
) -> std::io::Result<()> {
    let finite = |v: f64| v.is_finite().then_some(v);
    let steps = history.len() + forecast.mean.len();
    let mut timestamps = Vec::with_capacity(steps);
    let (mut load, mut mean, mut lower, mut upper) = (
        Vec::with_capacity(steps),
        Vec::with_capacity(steps),
        Vec::with_capacity(steps),
        Vec::with_capacity(steps),
    );
    for (i, &value) in history.values.iter().enumerate() {
        timestamps.push(history.timestamp(i));
        load.push(finite(value));
        mean.push(None);
        lower.push(None);
        upper.push(None);
    }
    for (i, (&m, interval)) in forecast.mean.iter().zip(intervals).enumerate() {
        timestamps.push(forecast.timestamp(i));
        load.push(actual.get(i).copied().and_then(finite));
        mean.push(finite(m));
        lower.push(finite(interval.lower));
        upper.push(finite(interval.upper));
    }
    source::write_table_parquet(
        path,
        &timestamps,
        vec![
            ("load", load),
            ("mean", mean),
            ("lower", lower),
            ("upper", upper),
        ],
    )
}

/// `homeostat synth`: writes each workload of a synthetic fleet to
/// `dir/<namespace>_<name>.<csv|parquet>` (in parallel, one workload in
/// memory per thread), `dir/homeostat.yaml` to run them, and with
/// `openmetrics` the whole fleet as `dir/fleet.om` with
/// `dir/homeostat-prometheus.yaml` querying it once backfilled.
pub fn write_fleet(
    spec: &crate::core::synthetic::FleetSpec,
    dir: &Path,
    format: SeriesFormat,
    openmetrics: bool,
    threads: usize,
) -> Result<(), RunError> {
    std::fs::create_dir_all(dir).map_err(|e| RunError::file(dir, "create", e))?;
    let extension = match format {
        SeriesFormat::Csv => "csv",
        SeriesFormat::Parquet => "parquet",
    };
    // Plain threads taking the next index: polars' writer runs its own
    // thread pool, which must not be nested in another's tasks.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let write_one = |index: usize| {
        let w = crate::core::synthetic::fleet_workload(spec, index);
        let path = dir.join(format!("{}_{}.{extension}", w.namespace, w.name));
        match format {
            SeriesFormat::Csv => source::write_csv(&path, &w.samples),
            SeriesFormat::Parquet => source::write_parquet(&path, &w.samples),
        }
        .map_err(|e| RunError::file(&path, "write", e))?;
        Ok::<_, RunError>((w.namespace, w.name, w.target_per_replica, w.current))
    };
    let mut written: Vec<(usize, crate::core::synthetic::Member)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if index >= spec.workloads {
                            return Ok(mine);
                        }
                        mine.push((index, write_one(index)?));
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("a writer thread does not panic"))
            .collect::<Result<Vec<Vec<_>>, RunError>>()
            .map(|parts| parts.concat())
    })?;
    written.sort_by_key(|(index, _)| *index);
    let workloads: Vec<crate::core::synthetic::Member> =
        written.into_iter().map(|(_, w)| w).collect();
    let config = dir.join("homeostat.yaml");
    std::fs::write(
        &config,
        crate::core::synthetic::fleet_config(spec, &workloads, extension),
    )
    .map_err(|e| RunError::file(&config, "write", e))?;
    if openmetrics {
        let path = dir.join("fleet.om");
        let file = std::fs::File::create(&path).map_err(|e| RunError::file(&path, "create", e))?;
        let mut out = std::io::BufWriter::new(file);
        crate::core::synthetic::write_openmetrics(&mut out, spec)
            .and_then(|()| std::io::Write::flush(&mut out))
            .map_err(|e| RunError::file(&path, "write", e))?;
        let queries = dir.join("homeostat-prometheus.yaml");
        std::fs::write(
            &queries,
            crate::core::synthetic::fleet_query_config(spec, &workloads),
        )
        .map_err(|e| RunError::file(&queries, "write", e))?;
    }
    Ok(())
}
