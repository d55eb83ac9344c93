//! The pipeline of one workload (pure): raw samples and "now" in, a
//! [`WorkloadPlan`] out. [`compute`] does the arithmetic — grid, events,
//! adaptation, forecast, bounds, schedule — and `describe` words the
//! finished numbers in one pass: no reason is written between two steps of
//! the arithmetic.

use super::describe;
use super::{min_due, DataSummary, Event, ExpectedLoad, Status, WorkloadPlan};
use crate::core::adapt::{adapt, Adaptation, Undo};
use crate::core::bounds::{
    derive_bounds, from_now, schedule_loads, schedule_min, schedule_need, significant,
    BoundsPolicy, Evidence, ReplicaBounds, ScheduledMin,
};
use crate::core::evaluate::mase_scale;
use crate::core::events::{self, EventKind};
use crate::core::known;
use crate::core::model::{self, Forecast, Level};
use crate::core::series::RawSeries;
use crate::core::series::{human_span, resample, GridOptions, Series};
use crate::core::shapes::{self, FleetShapes};
use crate::core::time::{format_timestamp, Span};
use crate::core::workload::{Mode, Workload};

/// Recommends bounds for one workload from its raw samples.
///
/// `now`: only samples at or before it are used, and the bounds cover
/// `(now, now + horizon]`. `None` means the last sample's time, the natural
/// "now" for a file of history.
#[must_use]
pub fn plan_workload(workload: &Workload, raw: &RawSeries, now: Option<i64>) -> WorkloadPlan {
    plan_fitted(workload, raw, now).0
}

/// What the fleet lends a young workload (see [`crate::core::shapes`]).
#[derive(Debug, Clone, Copy, Default)]
pub enum Fleet<'a> {
    /// No shapes: a workload with less than two days of history has
    /// insufficient data.
    #[default]
    Alone,
    /// The fleet's shapes, and the profile the workload's `like:` names
    /// (with its label), when it names one that is known.
    Shapes {
        shapes: &'a FleetShapes,
        like: Option<(&'a str, &'a [f64])>,
    },
}

/// How much known history `workload` has at `now`, when the fleet's
/// shapes take part in its plan: under [`shapes::OWN_HISTORY`] and not too
/// old. Under [`shapes::COLD_HISTORY`] it starts from a shape alone (at
/// least [`shapes::COLD_MIN_HISTORY`]); from there its own model is
/// blended with one. A run that learns shapes plans such a workload once
/// they are learned.
#[must_use]
pub fn shaped_history(workload: &Workload, raw: &RawSeries, now: Option<i64>) -> Option<i64> {
    let now = now.unwrap_or_else(|| raw.latest());
    let series = grid(workload, raw, now, &Fleet::Alone, true).ok()?;
    let known = shapes::known_history(&series);
    (known < shapes::OWN_HISTORY && now - series.end() <= workload.max_gap.secs()).then_some(known)
}

/// What a plan was made from, for the reports' charts and exports and for
/// the replay's schedule.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The history on its grid, as observed (spikes and shifts included).
    pub history: Series,
    /// The forecast the bounds came from (fitted on the adapted history).
    pub forecast: Forecast,
    /// The interval level the bounds use.
    pub level: Level,
    /// The spikes, dips and shifts found in the history.
    pub events: Vec<events::Event>,
    /// The "now" the plan was made at (the history may end before it).
    pub now: i64,
    /// The load of the last minutes of the adapted history (spikes out):
    /// what the schedule sizes min for before its first entry.
    pub recent_load: Option<f64>,
}

/// Every number one workload's plan and its reasons rest on.
pub(super) struct Computed {
    /// The history on its grid, as observed.
    pub series: Series,
    pub now: i64,
    pub adaptation: Adaptation,
    /// The workload's policy, its headroom sized from the spikes.
    pub policy: BoundsPolicy,
    pub forecast: Forecast,
    pub bounds: ReplicaBounds,
    /// The forecast's backtest error against the daily seasonal naive's.
    pub validation_mase: Option<f64>,
    pub untrustworthy_model: bool,
    /// The fewest backtest errors at some lead time, and how many the
    /// interval needs to be guaranteed.
    pub interval_support: (usize, usize),
    /// The events that matter to capacity.
    pub events: Vec<events::Event>,
    pub schedule: Vec<ScheduledMin>,
    pub scheduled_min: Option<u32>,
    /// How far ahead the schedule raises min (startup and buffer).
    pub lead: i64,
    /// The known events in the horizon, and the steps of past ones left
    /// out of the fit.
    pub known: Vec<known::Upcoming>,
    pub known_left_out: usize,
    /// How the forecast rests on the fleet's shapes, if it does.
    pub cold_start: Option<shapes::ColdStart>,
}

/// [`plan_workload`], and what it was made from when a forecast was made.
#[must_use]
pub fn plan_fitted(
    workload: &Workload,
    raw: &RawSeries,
    now: Option<i64>,
) -> (WorkloadPlan, Option<Fitted>) {
    plan_in_fleet(workload, raw, now, &Fleet::Alone)
}

/// [`plan_fitted`] in a fleet whose shapes may start a young workload or
/// steer one younger than two weeks (see [`crate::core::shapes`]).
#[must_use]
pub fn plan_in_fleet(
    workload: &Workload,
    raw: &RawSeries,
    now: Option<i64>,
    fleet: &Fleet,
) -> (WorkloadPlan, Option<Fitted>) {
    let now = now.unwrap_or_else(|| raw.latest());
    let computed = match compute(workload, raw, now, fleet) {
        Ok(computed) => computed,
        Err((status, reason, kind)) => {
            let plan = WorkloadPlan::failed(workload, Some(now), status, reason);
            let plan = if status == Status::Error {
                plan.with_error_kind(kind)
            } else {
                plan
            };
            return (plan, None);
        }
    };
    let (reasons, annotation) = describe::reasons(workload, &raw.origin, &computed);
    let Computed {
        series,
        forecast,
        bounds,
        events,
        ..
    } = computed;
    let status = if bounds.needs_operator.is_empty() {
        Status::Ok
    } else {
        Status::NeedsOperator
    };
    let history_end = series.end() + series.step;
    let in_spike = events
        .iter()
        .any(|e| e.kind == EventKind::Spike && e.ongoing_at(history_end));
    let (thinnest, needed) = computed.interval_support;
    let plan = WorkloadPlan {
        name: workload.name.clone(),
        namespace: workload.namespace.clone(),
        hpa: workload.hpa.clone(),
        status,
        min_replicas: Some(bounds.min.replicas),
        max_replicas: Some(bounds.max.replicas),
        expected_load: Some(ExpectedLoad {
            low: significant(bounds.expected_low, 4),
            high: significant(bounds.expected_high, 4),
        }),
        model: Some(forecast.model.clone()),
        events: events.iter().map(Event::from).collect(),
        reasons,
        annotation,
        limits: Some((workload.policy.min_replicas, workload.policy.max_replicas)),
        now: Some(now),
        current: workload.current,
        step_base: workload.step_from,
        target_per_replica: Some(workload.policy.target_per_replica),
        seasonality: Some(forecast.seasonality.label().to_string()),
        data: Some(DataSummary {
            from: format_timestamp(series.start),
            to: format_timestamp(series.end()),
            step: Span::from_secs(series.step).expect("grid step is positive"),
            steps: series.len(),
            interpolated: series.stats.interpolated,
            unknown: series.stats.unknown,
        }),
        bounds: Some(bounds),
        in_spike,
        thin_interval: thinnest < needed,
        scheduled_min: computed.scheduled_min,
        schedule: computed.schedule,
        validation_mase: computed.validation_mase,
        untrustworthy_model: computed.untrustworthy_model,
        known_events: computed.known,
        cold_start: computed.cold_start,
        in_force_max: None,
        // Rounded as the report's loads are (a JSON report read back by
        // `report merge` must judge a spike the same).
        load_now: load_now(&series).map(|x| significant(x, 4)),
        error_kind: None,
    };
    let fitted = Fitted {
        history: series,
        forecast,
        level: workload.policy.level,
        events,
        now,
        recent_load: load_now(&computed.adaptation.series),
    };
    (plan, Some(fitted))
}

/// The arithmetic of one workload's plan at `now`, or the status and
/// reason that stop it (too little or stale data, no forecast).
fn compute(
    workload: &Workload,
    raw: &RawSeries,
    now: i64,
    fleet: &Fleet,
) -> Result<Computed, (Status, String, &'static str)> {
    let series = grid(workload, raw, now, fleet, false).map_err(|(status, reason, kind)| {
        // Too short and stale too: a young workload is planned from the
        // fleet's shapes only while its data is fresh, so say both.
        let latest = raw.samples.iter().map(|s| s.ts).filter(|&ts| ts <= now).max();
        match latest {
            Some(latest)
                if status == Status::InsufficientData
                    && now - latest > workload.max_gap.secs() =>
            {
                (
                    status,
                    format!(
                        "{reason}; and its latest sample at {} is {} older than now, more than the {} allowed gap (a young workload is started from the fleet's shapes only while its data is fresh)",
                        format_timestamp(latest),
                        human_span(now - latest),
                        workload.max_gap
                    ),
                    kind,
                )
            }
            _ => (status, reason, kind),
        }
    })?;
    // The grid's last step is the last sample rounded to the grid, which may
    // lie up to half a step after "now".
    let staleness = (now - series.end()).max(0);
    if staleness > workload.max_gap.secs() {
        return Err((
            Status::InsufficientData,
            format!(
                "{}: latest sample at {} is {} older than now ({}), more than the {} allowed gap",
                raw.origin,
                format_timestamp(series.end()),
                human_span(staleness),
                format_timestamp(now),
                workload.max_gap
            ),
            "insufficient_data",
        ));
    }
    // No load in the whole history (a metric that reads 0: a wrong label,
    // a service not yet serving): nothing sizes the bounds, and a max
    // walked down to its floor run after run (×0.8 each) would cap the
    // HPA when the load comes, as for a young workload without load.
    if !series.values.iter().any(|v| v.is_finite() && *v > 0.0) {
        return Err((
            Status::InsufficientData,
            format!(
                "{}: no load in its {} of history (every known value is 0): nothing sizes its bounds, so its HPA is left as it is; if it serves traffic, check the metric (a wrong label or selector reads 0)",
                raw.origin,
                human_span(series.end() - series.start + series.step)
            ),
            "insufficient_data",
        ));
    }
    // Forecast step i is at end + (i + 1)·step. The bounds cover the steps in
    // (now, now + horizon]: from ⌊staleness / step⌋ to ⌊(staleness + horizon)
    // / step⌋ (exclusive), and at least one step when the horizon is shorter
    // than a step.
    let first_after_now = staleness.div_euclid(series.step) as usize;
    let total = ((staleness + workload.horizon.secs()).div_euclid(series.step) as usize)
        .max(first_after_now + 1);
    // Healing versus adaptation: spikes and dips (unless they are the
    // workload's texture) out of the fit, the history re-based after shifts,
    // the headroom sized from the spikes.
    // Known events: their past occurrences are neither ordinary load nor
    // events to find (no copy when there are none).
    let (without_known, known_left_out) = if workload.calendar.is_empty() {
        (None, 0)
    } else {
        let (series, left_out) = known::leave_out(&series, &workload.calendar);
        (Some(series), left_out)
    };
    let fitted_on = without_known.as_ref().unwrap_or(&series);
    // A young workload's events cannot be read yet: with under two days
    // the daily rhythm is not known, so its night read as a dip, its
    // morning as a shift that re-based the history and raised min (taxi's
    // last 24 hours: "shift +146%", the night a "dip ×0.4"). `homeostat
    // events` refuses such a history for the same reason. Its fit has a
    // spike cut of its own (the fleet's shapes), and load going on above
    // what max carries is found against capacity below.
    let history = shapes::known_history(&series);
    let young = history < shapes::COLD_HISTORY;
    let found = if young {
        Vec::new()
    } else {
        events::detect_in(fitted_on, &workload.events.detection)
    };
    let reaction = reaction_time(workload);
    let adaptation = adapt(fitted_on, &found, now, &workload.events, reaction);
    drop(without_known);
    let mut policy = workload.policy;
    policy.headroom = adaptation.headroom(policy.headroom);
    let (mut forecast, cold_start) = fleet_forecast(&adaptation.series, history, total, fleet)
        .map_err(|e| {
            let status = match e {
                model::ModelError::NoLoad { .. } => Status::InsufficientData,
                _ => Status::Error,
            };
            (status, format!("{}: {e}", raw.origin), e.label())
        })?;
    // A cold start's interval has its own floor (the workload's noise); a
    // young workload's own model, blended with a shape, has none.
    if cold_start.as_ref().is_none_or(|c| c.own_weight > 0.0) {
        crate::core::adapt::floor_to_regime_noise(&adaptation, &mut forecast);
    }
    let horizon = (
        forecast.timestamp(first_after_now),
        forecast.timestamp(total),
    );
    let known::Raised {
        upcoming: known,
        declared_peak,
    } = known::raise_forecast(&mut forecast, &workload.calendar, now, horizon);
    // Max is sized from the peaks of the history as it was where re-basing
    // raised it (a rise reaches max through the forecast), and never below
    // the last week's as they were: after a drop, room for a week more (a
    // drop is often undone, and room above the load costs nothing until it
    // is used), whether or not this run calls the drop a shift.
    let peaks = adaptation.history_as(steps_in_days(ORDINARY_PEAK_DAYS, series.step), Undo::Raises);
    let history_end = series.end() + series.step;
    let last_week =
        adaptation.history_as(steps_in_days(ROOM_AFTER_DROP_DAYS, series.step), Undo::All);
    let evidence = Evidence {
        ordinary_peak: ordinary_peak(&peaks, ORDINARY_PEAK_DAYS),
        last_week_peak: adaptation
            .lowered_since(last_week.start)
            .then(|| ordinary_peak(&last_week, ROOM_AFTER_DROP_DAYS))
            .flatten(),
        typical_day_peak: typical_day_peak(&peaks, ORDINARY_PEAK_DAYS),
        highest_seen: highest_seen(&series, crate::core::bounds::HIGHEST_SEEN_DAYS),
        lowest_seen: lowest_seen(&series, crate::core::bounds::LOWEST_SEEN_DAYS),
        current: workload
            .step_base()
            .map(|c| (c.min_replicas, c.max_replicas)),
        declared_peak,
        ongoing_spike: {
            found
                .iter()
                .filter(|e| e.kind == EventKind::Spike)
                .filter(|e| e.ongoing_at(history_end))
                .map(|e| e.after)
                .reduce(f64::max)
        },
        paging: workload.paging,
    };
    let bounds = derive_bounds(&forecast, first_after_now..total, &policy, &evidence);
    // A cold start's errors are the fleet's, not a backtest of its own.
    let validation_mase = series
        .steps_per_day()
        .filter(|_| cold_start.as_ref().is_none_or(|c| c.own_weight > 0.0))
        .map(|per_day| mase_scale(&adaptation.series.values, per_day))
        .filter(|&scale| scale > 0.0)
        .map(|scale| significant(forecast.validation_mae / scale, 3));
    // Every spike and dip found is left out of the fit but a texture's
    // (see `adapt`); only those that matter to capacity are reported. A
    // texture's dips are the load's quiet spells, in the forecast min is
    // sized from: not events (one line of reasons says how often they come).
    // A past one, while max climbs by its step limit, against the max the
    // range is moving to (the data's, within the ceiling), not this run's
    // step towards it: a VM bursting ×30 every hour listed 618 spikes
    // while max climbed ×1.5 a run to carry them. Otherwise (max held by
    // the hysteresis, at a ceiling) against the max this run recommends.
    // One going on now, against the smaller of that and the max in force
    // when the run began (today's, or the step base): load beyond the max
    // that caps the HPA is not served (`spike_above_max`, judged against
    // the max `apply` leaves, which lies between the two). Against the
    // recommended max alone, a spike above the max `apply` left went
    // unlisted and never paged.
    let carried_now = f64::from(bounds.max.replicas) * policy.target_per_replica;
    let carried_in_force = workload.step_base().map_or(carried_now, |c| {
        (f64::from(c.max_replicas) * policy.target_per_replica).min(carried_now)
    });
    let carried_by_range = if bounds.max.clamp == Some(crate::core::bounds::Clamp::StepLimit)
        && bounds.max.raw.is_finite()
    {
        (f64::from(crate::core::bounds::max_moving_to(&bounds, &policy))
            * policy.target_per_replica)
            .max(carried_now)
    } else {
        carried_now
    };
    let mut events: Vec<events::Event> = found
        .into_iter()
        .filter(|e| !(e.kind == EventKind::Dip && adaptation.dip_texture.is_some()))
        .filter(|e| {
            let texture_carried = adaptation.texture.map(|_| {
                if e.ongoing_at(history_end) {
                    carried_in_force
                } else {
                    carried_by_range
                }
            });
            matters_to_capacity(
                e,
                reaction,
                &workload.policy,
                bounds.min.replicas,
                texture_carried,
            )
        })
        .collect();
    // A known event in progress is left out of detection, and a young
    // workload has none: load beyond what max carries is a spike above
    // max all the same.
    let overload = known::overload_in_progress(&series, &workload.calendar, carried_in_force)
        .or_else(|| {
            young
                .then(|| known::overload_since(&series, series.start, carried_in_force))
                .flatten()
        });
    if let Some((start, peak)) = overload {
        let expected = forecast
            .mean
            .get(first_after_now)
            .copied()
            .unwrap_or(carried_now);
        events.push(events::Event {
            kind: EventKind::Spike,
            start,
            end: None,
            before: expected,
            after: peak,
            // Not measured against the noise: found against capacity.
            z: 0.0,
            day_peak: expected,
        });
    }
    let lead = workload.startup.secs() + workload.buffer.secs();
    let (schedule, scheduled_min) = if workload.mode == Mode::Schedule {
        let loads = schedule_loads(&forecast, workload.schedule_level);
        let range = (
            crate::core::bounds::schedule_floor(&bounds, &policy),
            crate::core::bounds::schedule_ceiling(bounds.max.replicas, &policy),
        );
        let schedule = schedule_min(
            &forecast,
            &loads,
            first_after_now..total,
            lead,
            policy.target_per_replica,
            range,
        );
        let need_now = scheduled_load_now(&forecast, &loads, now, load_now(&adaptation.series))
            .map_or(range.0, |load| {
                schedule_need(load, policy.target_per_replica, range)
            });
        let schedule = from_now(
            schedule,
            now,
            need_now,
            step_in_progress_end(&forecast, now),
        );
        let now_min = min_due(&schedule, now, workload.run_every.secs());
        (schedule, now_min)
    } else {
        (Vec::new(), None)
    };
    Ok(Computed {
        untrustworthy_model: validation_mase.is_some_and(|m| m > workload.max_mase),
        interval_support: forecast.interval_support(workload.policy.level),
        series,
        now,
        adaptation,
        policy,
        forecast,
        bounds,
        validation_mase,
        events,
        schedule,
        scheduled_min,
        lead,
        known,
        known_left_out,
        cold_start,
    })
}

/// When the step in progress at `now` ends: the start of the forecast's
/// first step after it.
#[must_use]
pub fn step_in_progress_end(forecast: &Forecast, now: i64) -> i64 {
    forecast.start + ((now - forecast.start).div_euclid(forecast.step) + 1) * forecast.step
}

/// The load of the step in progress at `now`, for the schedule before its
/// first entry: the forecast's (`loads`) when the history ends a step or
/// more before now, else `recent`, the last minutes of the adapted
/// history (`load_now`: a spike going on is not what min is scheduled
/// for; the HPA carries it).
#[must_use]
pub fn scheduled_load_now(
    forecast: &Forecast,
    loads: &[f64],
    now: i64,
    recent: Option<f64>,
) -> Option<f64> {
    match usize::try_from((now - forecast.start).div_euclid(forecast.step)) {
        Ok(i) => loads.get(i).copied(),
        Err(_) => recent,
    }
    .filter(|v| v.is_finite())
}

/// The forecast of `total` steps: the workload's own model's, or with
/// fleet shapes [`shapes::forecast_in_fleet`]'s.
fn fleet_forecast(
    adapted: &Series,
    history: i64,
    total: usize,
    fleet: &Fleet,
) -> Result<(Forecast, Option<shapes::ColdStart>), model::ModelError> {
    match *fleet {
        Fleet::Alone => Ok((model::forecast(adapted, total)?, None)),
        Fleet::Shapes {
            shapes: fleet,
            like,
        } => shapes::forecast_in_fleet(adapted, history, total, fleet, like),
    }
}

/// The workload's history window at `now` on its grid: at least two days
/// of known values, or (`young`, or with fleet shapes) at least
/// [`shapes::COLD_MIN_HISTORY`].
fn grid(
    workload: &Workload,
    raw: &RawSeries,
    now: i64,
    fleet: &Fleet,
    young: bool,
) -> Result<Series, (Status, String, &'static str)> {
    let window = raw.window(now, workload.history.secs());
    let mut options = GridOptions {
        step: workload.step,
        max_gap: workload.max_gap,
        ..GridOptions::default()
    };
    if young || matches!(fleet, Fleet::Shapes { .. }) {
        options.min_history = Span::from_secs(shapes::COLD_MIN_HISTORY).expect("positive constant");
    }
    resample(&window, &options).map_err(|e| {
        if matches!(
            e,
            crate::core::series::SeriesError::StepFinerThanData { .. }
        ) {
            // A config mistake, not a young workload: no history cures it.
            return (Status::Error, e.to_string(), e.label());
        }
        // Under the hour a cold start needs, the run's note on the fleet's
        // shapes (added when it has none) would not say that either.
        let under_an_hour = matches!(
            e,
            crate::core::series::SeriesError::TooShort { known, step, .. }
                if (known as i64) * step.secs() < shapes::COLD_MIN_HISTORY
        );
        let fleet_note = match fleet {
            Fleet::Alone if under_an_hour => {
                "; a cold start from the fleet's shapes needs 1h of history"
            }
            Fleet::Alone => "",
            Fleet::Shapes { .. } => " (the fleet's shapes start a workload from 1h of history)",
        };
        (
            Status::InsufficientData,
            format!(
                "{e} (history window {} up to {}){fleet_note}",
                workload.history,
                format_timestamp(now)
            ),
            e.label(),
        )
    })
}

/// Seconds the HPA takes to answer a departure: a pod's startup plus the
/// minute a rate metric needs to show it.
fn reaction_time(workload: &Workload) -> i64 {
    workload.startup.secs() + 60
}

/// Whether an event matters to capacity: a shift always; a spike or dip
/// only when it lasts as long as the HPA takes to react and its peak
/// (trough) needs another replica count than the load expected then,
/// counts clamped to `min` (the recommended min: a dip under it moves no
/// pod) and the max ceiling. A spike, besides, only when its peak needs more
/// than the day's expected peak with the configured headroom: one that
/// stays within it asks nothing of max that an ordinary day does not, and
/// the HPA heals it inside its range, as designed. When the spikes are the
/// workload's texture (ordinary load, in the fit), `texture_carried` is the
/// load the max carries (the one the range moves to, for a spike that is
/// over): only a spike above it is news.
#[must_use]
pub fn matters_to_capacity(
    e: &events::Event,
    reaction: i64,
    policy: &BoundsPolicy,
    min: u32,
    texture_carried: Option<f64>,
) -> bool {
    if e.kind == EventKind::Shift {
        return true;
    }
    // The HPA scales down only after its stabilization window: a shorter
    // dip moves no pod.
    let answered_after = if e.kind == EventKind::Dip {
        reaction + crate::core::bounds::HPA_SCALE_DOWN_STABILIZATION
    } else {
        reaction
    };
    let lasts = e.end.is_none_or(|end| end - e.start >= answered_after);
    // Whole replica counts, compared as integers.
    let (lowest, highest) = (
        i64::from(min.max(policy.min_replicas.floor())),
        i64::from(policy.max_replicas.ceiling()),
    );
    let replicas = |load: f64| {
        ((load / policy.target_per_replica - 1e-9).ceil() as i64).clamp(lowest.max(1), highest)
    };
    let beyond_the_day = e.kind != EventKind::Spike
        || replicas(e.after) > replicas(e.day_peak * policy.headroom.max(1.0));
    let beyond_the_texture =
        e.kind != EventKind::Spike || texture_carried.is_none_or(|carried| e.after > carried);
    lasts && replicas(e.after) != replicas(e.before) && beyond_the_day && beyond_the_texture
}

/// Days of history whose ordinary peak max may not fall below.
pub(super) const ORDINARY_PEAK_DAYS: i64 = 14;
/// Days of history as it was (not re-based after a drop) whose ordinary
/// peak max may not fall below either.
pub(super) const ROOM_AFTER_DROP_DAYS: i64 = 7;

/// The 99th percentile of the last `days` of `adapted` (spikes and dips
/// left out; re-based as [`Adaptation::history_as`] gives it): the peak the
/// workload reaches on an ordinary day. `None` with less than a day of
/// known steps.
fn ordinary_peak(adapted: &Series, days: i64) -> Option<f64> {
    let mut known: Vec<f64> = last_days(adapted, days)
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let per_day = (86_400 / adapted.step.max(1)) as usize;
    if known.len() < per_day.max(1) {
        return None;
    }
    crate::core::stats::nearest_rank(&mut known, 0.99)
}

/// Steps of `step` seconds in `days` days.
fn steps_in_days(days: i64, step: i64) -> usize {
    usize::try_from(days * 86_400 / step.max(1)).unwrap_or(0)
}

/// The values of the last `days` of `series`.
fn last_days(series: &Series, days: i64) -> &[f64] {
    &series.values[series
        .len()
        .saturating_sub(steps_in_days(days, series.step))..]
}

/// The median day's highest load over the last `days` of `adapted` (as
/// [`ordinary_peak`]): a five-minute burst at 08:05 every day is each
/// day's peak and expected load, and the 99th percentile of two weeks
/// never sees it (14 steps of 4,032). Days counted back from the end; a
/// day with under half its steps known has no peak to speak of. `None`
/// without three such days.
fn typical_day_peak(adapted: &Series, days: i64) -> Option<f64> {
    let per_day = ((86_400 / adapted.step.max(1)) as usize).max(1);
    let mut peaks: Vec<f64> = last_days(adapted, days)
        .rchunks(per_day)
        .filter(|day| day.iter().filter(|v| v.is_finite()).count() * 2 >= per_day)
        .map(|day| {
            day.iter()
                .copied()
                .filter(|v| v.is_finite())
                .fold(f64::MIN, f64::max)
        })
        .collect();
    if peaks.len() < 3 {
        return None;
    }
    crate::core::stats::nearest_rank(&mut peaks, 0.5)
}

/// The highest 15-minute mean load (one step when steps are longer) of
/// the last `days` of `series` as it was (spikes in, nothing re-based):
/// one odd sample is not load that has been. `None` without a known
/// window.
fn highest_seen(series: &Series, days: i64) -> Option<f64> {
    seen_means(series, days).max_by(f64::total_cmp)
}

/// The lowest such mean: see [`highest_seen`].
fn lowest_seen(series: &Series, days: i64) -> Option<f64> {
    seen_means(series, days).min_by(f64::total_cmp)
}

/// The 15-minute means (one step when steps are longer) of the known
/// windows of the last `days` of `series`.
fn seen_means(series: &Series, days: i64) -> impl Iterator<Item = f64> + '_ {
    let recent = last_days(series, days);
    let width = (900 / series.step.max(1)).max(1) as usize;
    recent
        .windows(width.min(recent.len()).max(1))
        .filter(|w| w.iter().all(|v| v.is_finite()))
        .map(|w| w.iter().sum::<f64>() / w.len() as f64)
}

/// The median known load over the last [`super::LOAD_NOW_WINDOW`] of
/// `series` (its last known sample when the window holds none).
pub(super) fn load_now(series: &Series) -> Option<f64> {
    let end = series.end();
    let mut recent: Vec<f64> = (0..series.len())
        .rev()
        .take_while(|&i| series.timestamp(i) > end - super::LOAD_NOW_WINDOW)
        .map(|i| series.values[i])
        .filter(|v| v.is_finite())
        .collect();
    if recent.is_empty() {
        return series.values.iter().rev().copied().find(|v| v.is_finite());
    }
    Some(crate::core::stats::median(&mut recent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::series::GridStats;

    #[test]
    fn the_load_now_is_the_median_of_the_last_quarter_hour_or_the_last_sample() {
        let at = |step: i64, values: Vec<f64>| Series {
            start: 1_700_000_000,
            step,
            values,
            stats: GridStats::default(),
        };
        // Every 5 minutes: the last three samples, one burst among them.
        let five = at(300, vec![500.0, 10.0, 300.0, 20.0]);
        assert_eq!(load_now(&five), Some(20.0));
        // An unknown step is left out.
        let gap = at(300, vec![500.0, 10.0, f64::NAN, 30.0]);
        assert_eq!(load_now(&gap), Some(20.0));
        // Every 30 minutes: the last sample alone.
        assert_eq!(load_now(&at(1800, vec![5.0, 7.0])), Some(7.0));
    }
}
