//! The reasons in words: what a recommendation rests on (the history, the
//! model, each bound's derivation, the events, the change from today's
//! range), written from the numbers the pipeline computed.

use super::pipeline::{Computed, ORDINARY_PEAK_DAYS, ROOM_AFTER_DROP_DAYS};
use super::signed_percent;
use crate::core::adapt::Adaptation;
use crate::core::bounds::{
    readable, schedule_ceiling, schedule_floor, schedule_loads, schedule_need, Basis, BoundsPolicy,
    Clamp, Derivation, ReplicaBounds, HPA_TOLERANCE, MAX_HOLD, MAX_HOLD_BELOW, MAX_STEP, MIN_HOLD,
};
use crate::core::events::{self, EventKind};
use crate::core::model::Forecast;
use crate::core::series::human_span;
use crate::core::series::Series;
use crate::core::time::{format_moment, format_stretch, format_timestamp, Span};
use crate::core::workload::{CurrentBounds, Workload};

/// How the forecast rests on the fleet's shapes.
fn describe_cold_start(cold: &crate::core::shapes::ColdStart) -> String {
    let history = human_span(cold.history);
    let fit = format!(
        "it explains the history with a mean misfit of {:.0}% (a flat line: {:.0}%)",
        cold.misfit * 100.0,
        cold.flat_misfit * 100.0
    );
    if cold.own_weight > 0.0 && cold.shape == "flat" {
        return format!(
            "young workload: {history} of history, forecast from its own model (no fleet shape explains its last two days better than a flat line), its interval no narrower than the fleet's cold starts' with two days of history (learned from {})",
            crate::core::time::count_of(cold.fleet, "workload")
        );
    }
    if cold.own_weight > 0.0 {
        return format!(
            "young workload: {history} of history, forecast {:.0}% from its own model and {:.0}% from the fleet's {} (learned from {}; {fit}); its interval no narrower than the fleet's cold starts' with two days of history; the shape's share falls to 0 at two weeks",
            cold.own_weight * 100.0,
            (1.0 - cold.own_weight) * 100.0,
            cold.shape,
            crate::core::time::count_of(cold.fleet, "workload")
        );
    }
    if cold.shape == "flat" {
        return format!(
            "cold start: only {history} of history and no fleet shape explains it better than a flat line ({:.0}% misfit): forecast flat at the level seen (and from its own earlier days where it has seen the time of day), with the interval of the fleet's simulated cold starts that were forecast flat at this much history, never narrower than its own noise",
            cold.flat_misfit * 100.0
        );
    }
    let source = match cold.shape.strip_prefix("like ") {
        Some(id) => format!("the shape of {id} (`like:`)"),
        None => format!(
            "the fleet's {} (learned from {})",
            cold.shape,
            crate::core::time::count_of(cold.fleet, "workload")
        ),
    };
    format!(
        "cold start: only {history} of history (a model of its own needs 2d): forecast from {source} at the level seen, and from its own earlier days where it has seen the time of day; {fit}; the interval is that of cold starts simulated on the fleet's {} at this much history",
        crate::core::time::count_of(cold.fleet, "workload")
    )
}

/// The reasons of a computed plan, in the report's order (the data, the
/// model, the bounds and what changed, the events, what the operator must
/// know, the schedule), and those the HPA's annotation carries (the bounds,
/// the change, a raised headroom).
pub(super) fn reasons(
    workload: &Workload,
    origin: &str,
    computed: &Computed,
) -> (Vec<String>, Vec<String>) {
    let Computed {
        series,
        now,
        adaptation,
        policy,
        forecast,
        bounds,
        ..
    } = computed;
    let mut reasons = vec![describe_data(series, origin), describe_model(forecast)];
    let cold_start = computed.cold_start.as_ref().map(describe_cold_start);
    reasons.extend(cold_start.clone());
    let (thinnest, needed) = computed.interval_support;
    if thinnest < needed {
        reasons.push(format!(
            "interval: only {thinnest} backtest errors at some lead times (a {} interval needs {needed} to be guaranteed): the bounds rest on the worst error seen, check the history's held-out part for unknown steps",
            workload.policy.level
        ));
    }
    let texture = adaptation.texture.is_some();
    // The reasons about the bounds themselves: the report has them all,
    // the HPA's annotation these.
    let mut annotation = vec![
        describe_bound("min", &bounds.min, policy, texture, series),
        describe_bound("max", &bounds.max, policy, texture, series),
    ];
    if let Some(current) = workload.current {
        // In schedule mode `apply` sets the schedule's min for now.
        let mut change = describe_change(
            current,
            computed.scheduled_min.unwrap_or(bounds.min.replicas),
            bounds.max.replicas,
        );
        if computed.scheduled_min.is_some() {
            change.push_str(" (min: the schedule's for now)");
        }
        annotation.push(change);
    }
    reasons.extend(annotation.iter().cloned());
    // Bounds from the fleet's shapes: the HPA's record says so too (a
    // history cut to hours was planned as a cold start without a word in
    // `apply`'s annotation).
    annotation.splice(0..0, cold_start);
    annotation.extend(describe_headroom(adaptation, workload));
    reasons.extend(describe_events(
        &computed.events,
        adaptation,
        bounds,
        workload,
        *now,
        series.end() + series.step,
    ));
    reasons.extend(describe_known(computed, workload));
    reasons.extend(bounds.needs_operator.iter().cloned());
    reasons.extend(bounds.notes.iter().cloned());
    if let (true, Some(mase)) = (computed.untrustworthy_model, computed.validation_mase) {
        reasons.push(format!(
            "model not trusted: its backtest error is {mase} times the in-sample error of a daily seasonal naive (MASE; max_mase {}): the bounds rest on a poor forecast",
            workload.max_mase
        ));
    }
    if let Some(min) = computed.scheduled_min {
        let (low, high) = computed.schedule.iter().fold((u32::MAX, 0), |(l, h), e| {
            (l.min(e.min_replicas), h.max(e.min_replicas))
        });
        let over_the_horizon = if low == high {
            format!("min stays {low} over the horizon")
        } else {
            format!(
                "over the horizon min moves between {low} and {high} ({} changes)",
                computed.schedule.len().saturating_sub(1)
            )
        };
        let schedule = format!(
            "schedule: min {min} now{}{}; {over_the_horizon}",
            scheduled_min_now(computed, workload, min),
            next_scheduled_change(computed, min),
        );
        // The annotation too: the min `apply` sets is this one, not the
        // horizon's the first line gives.
        annotation.push(schedule.clone());
        reasons.push(schedule);
    }
    (reasons, annotation)
}

/// Why the schedule's min is `min` now, in numbers: the expected load it
/// is sized for (the highest a pod asked for now would serve before the
/// next run can ask for one), `⌈load / (target × 1.1)⌉`; or the floor
/// or ceiling that holds it. The reason said "what the expected load over
/// the next 6m 30s needs", which neither the 15 minutes to the next run
/// nor the load behind it explained.
fn scheduled_min_now(computed: &Computed, workload: &Workload, min: u32) -> String {
    let forecast = &computed.forecast;
    let every = workload.run_every.secs();
    let loads = schedule_loads(forecast, workload.schedule_level);
    let now = computed.now;
    let until = now + every + computed.lead;
    let target = computed.policy.target_per_replica;
    let range = (
        schedule_floor(&computed.bounds, &computed.policy),
        schedule_ceiling(computed.bounds.max.replicas, &computed.policy),
    );
    let what = if workload.schedule_level.is_some() {
        "the upper end of the expected load"
    } else {
        "the expected load"
    };
    // The loads min may be sized for: the forecast's steps a pod asked for
    // now would serve before the next run can ask, and before the
    // forecast's first step the load of the step in progress (observed).
    let mut candidates: Vec<(f64, String)> = (0..loads.len())
        .filter(|&i| {
            let t = forecast.timestamp(i);
            t + forecast.step > now && t < until && loads[i].is_finite()
        })
        .map(|i| {
            (
                loads[i],
                format!(
                    "{what} {} at {}",
                    readable(loads[i], 4),
                    format_moment(forecast.timestamp(i).max(now))
                ),
            )
        })
        .collect();
    if now < forecast.start {
        if let Some(load) = super::pipeline::load_now(&computed.adaptation.series) {
            candidates.push((load, format!("the load now, {}", readable(load, 4))));
        }
    }
    let ahead = format!(
        "the most a pod asked for now would serve before the next run (in {}) can ask for one (startup + buffer: {})",
        human_span(every),
        human_span(computed.lead)
    );
    let Some((load, said)) = candidates.into_iter().max_by(|a, b| a.0.total_cmp(&b.0)) else {
        return format!(": {ahead}");
    };
    let need = schedule_need(load, target, range);
    let raw = load / (target * (1.0 + HPA_TOLERANCE));
    if need != min {
        return format!(": {ahead}");
    }
    let held = if need == range.0 && raw.ceil() < f64::from(range.0) {
        format!(", held at the horizon's lowest need {}", range.0)
    } else if need == range.1 && raw.ceil() > f64::from(range.1) {
        format!(", held at max {}", range.1)
    } else {
        String::new()
    };
    format!(
        ": {said} / ({} per replica × {}, the HPA's tolerance) = {}{held}, {ahead}",
        readable(target, 4),
        1.0 + HPA_TOLERANCE,
        readable(raw, 3),
    )
}

/// The schedule's next change of min after now, in words.
fn next_scheduled_change(computed: &Computed, min: u32) -> String {
    let now = computed.now;
    computed
        .schedule
        .iter()
        .find(|e| e.from > now && e.min_replicas != min)
        .map_or_else(String::new, |e| {
            let by = if e.min_replicas > min {
                "made by the run before it"
            } else {
                "made once two runs after it want it"
            };
            format!(
                "; next: {} from {} ({by})",
                e.min_replicas,
                crate::core::time::format_moment_exact(e.from)
            )
        })
}

/// The known events in the horizon, one reason each, and the past ones
/// left out of the fit.
fn describe_known(computed: &Computed, workload: &Workload) -> Vec<String> {
    let before = if workload.mode == crate::core::workload::Mode::Schedule {
        format!(
            ", and the schedule raises min {} before it (at the run before that)",
            human_span(computed.lead)
        )
    } else {
        String::new()
    };
    let mut reasons: Vec<String> = computed
        .known
        .iter()
        .map(|event| {
            if event.raised {
                format!(
                    "known event {}: the forecast is raised during it, max makes room for it{before}",
                    event.describe()
                )
            } else {
                format!(
                    "known event {}: the forecast already expects at least that, so nothing is raised (a known event never lowers it); its past occurrences stay out of the history",
                    event.describe()
                )
            }
        })
        .collect();
    if computed.known_left_out > 0 {
        reasons.push(format!(
            "known events: {} steps of their past occurrences left out of the fit and of event detection",
            computed.known_left_out
        ));
    }
    reasons
}

fn describe_data(series: &Series, origin: &str) -> String {
    let step = Span::from_secs(series.step).expect("grid step is positive");
    // Duplicate timestamps (a DST hour read twice, a double export) are
    // merged by their mean: said, so that it is never silent.
    let merged = match series.stats.merged {
        0 => String::new(),
        n => format!("; {n} samples merged into a step that already had one (their mean)"),
    };
    format!(
        "history: {} steps of {step} from {} to {} ({origin}); {} interpolated, {} unknown{merged}",
        series.len(),
        format_timestamp(series.start),
        format_timestamp(series.end()),
        series.stats.interpolated,
        series.stats.unknown
    )
}

fn describe_model(forecast: &Forecast) -> String {
    let s = &forecast.seasonality;
    if forecast.origins == 0 {
        return format!(
            "model: {} (no backtest of its own: the fleet's simulated cold starts give its interval; their mean absolute error at this much history is {})",
            forecast.model,
            readable(forecast.validation_mae, 4)
        );
    }
    // The MAE in the load's own digits (4 decimals on a load of millions
    // read as false precision); a strength below 0 is none (it printed
    // as "-0.00").
    // "seasonality none" beside a daily seasonal model read as a
    // contradiction: say what "none" means, and that the backtest chose.
    let seasonality = if s.label() == "none" {
        let seasonal_model = forecast.model.contains("daily") || forecast.model.contains("weekly");
        format!(
            "no daily or weekly rhythm strong enough to model (daily strength {:.2}, weekly {:.2}){}",
            s.daily_strength.max(0.0),
            s.weekly_strength.max(0.0),
            if seasonal_model {
                ", yet a model with a daily or weekly term backtested best"
            } else {
                ""
            }
        )
    } else {
        format!(
            "seasonality {} (daily strength {:.2}, weekly {:.2})",
            s.label(),
            s.daily_strength.max(0.0),
            s.weekly_strength.max(0.0)
        )
    };
    format!(
        "model: {} chosen by backtest (MAE {} over the last {} windows of history); {seasonality}",
        forecast.model,
        readable(forecast.validation_mae, 5),
        forecast.origins,
    )
}

/// Whose peak a bound rests on: the last `days` days', or a workload's
/// shorter history's (a 30-hour-old workload's is not "the last 14 days'").
fn last_days_of(days: i64, series: &Series) -> String {
    let span = (series.len() as i64 * series.step).min(days * 86_400);
    if span == days * 86_400 {
        format!("the last {days} days'")
    } else {
        format!("its {} of history's", human_span(span))
    }
}

/// `texture`: the spikes are the workload's texture, kept in the fit.
/// `series`: the history (a young workload's ordinary peak is that of
/// the days it has, not of 14).
fn describe_bound(
    which: &str,
    d: &Derivation,
    policy: &BoundsPolicy,
    texture: bool,
    series: &Series,
) -> String {
    let last = |days: i64| last_days_of(days, series);
    let is_min = which == "min";
    let range = if is_min {
        policy.min_replicas
    } else {
        policy.max_replicas
    };
    let spikes = if texture {
        "its texture of spikes in"
    } else {
        "spikes left out"
    };
    let what = match d.basis {
        Basis::Expected => format!(
            "lowest expected load {} (the forecast mean at {})",
            readable(d.load, 4),
            d.at.map_or_else(String::new, format_moment)
        ),
        Basis::IntervalUpper => format!(
            "highest expected load {} (upper end of the {} interval at {})",
            readable(d.load, 4),
            policy.level,
            d.at.map_or_else(String::new, format_moment)
        ),
        Basis::OrdinaryPeak => format!(
            "{} ordinary peak {} (99th percentile, {spikes}), above anything forecast",
            last(ORDINARY_PEAK_DAYS),
            readable(d.load, 4),
        ),
        Basis::LastWeekPeak => format!(
            "{} ordinary peak {} as the load was (99th percentile, {spikes}, not re-based after a drop), above anything forecast",
            last(ROOM_AFTER_DROP_DAYS),
            readable(d.load, 4),
        ),
        Basis::TypicalDayPeak => format!(
            "{} typical daily peak {} (the median day's highest load, {spikes}), above anything forecast",
            last(ORDINARY_PEAK_DAYS),
            readable(d.load, 4),
        ),
    };
    let headroom = if is_min {
        String::new()
    } else {
        format!(" × headroom {}", readable(policy.headroom, 3))
    };
    // What the count would be without the hold: the need, inside the range.
    let wanted = (d.raw - 1e-9).ceil().max(1.0);
    let instead = if wanted < f64::from(range.floor()) {
        format!("the floor {}", range.floor())
    } else {
        format!("{}", wanted.min(f64::from(range.ceiling())))
    };
    let clamp = match d.clamp {
        None => String::new(),
        Some(Clamp::Held) => format!(
            ", kept at the HPA's {} instead of {instead}: within the hysteresis band ({})",
            d.replicas,
            if is_min {
                format!("±{:.0}%, at least one replica", MIN_HOLD * 100.0)
            } else {
                format!(
                    "from {:.0}% under what is wanted, rounded down to whole replicas, to {:.0}% above",
                    MAX_HOLD_BELOW * 100.0,
                    MAX_HOLD * 100.0
                )
            }
        ),
        Some(Clamp::Floor) if is_min => format!(
            ", raised to the floor {} (min_replicas.floor: fewer pods cannot ride out a node drain)",
            range.floor()
        ),
        Some(Clamp::Floor) => format!(", raised to the floor {}", range.floor()),
        // The step would have stopped beyond the range: its edge decided.
        Some(Clamp::StepLimit) if d.replicas == range.ceiling() => format!(
            ", kept from falling further by the step limit (÷{MAX_STEP} of the HPA's max per run) and cut to the ceiling {}",
            range.ceiling()
        ),
        Some(Clamp::StepLimit) if d.replicas == range.floor() => format!(
            ", held below the need by the step limit (×{} of the HPA's max per run) and raised to the floor {}",
            policy.step_up(),
            range.floor()
        ),
        // Held from falling: the step down is ÷, and "moved only to" read
        // as if max had been raised (a review saw "×1.5 … moved only to
        // 14" for max 20 → 14).
        Some(Clamp::StepLimit) if f64::from(d.replicas) > d.raw => format!(
            ", lowered only to {} this run (step limit ÷{MAX_STEP} of the HPA's max per run; the rest follows if the next runs still want it)",
            d.replicas
        ),
        Some(Clamp::StepLimit) => format!(
            ", moved only to {} this run (step limit ×{} of the HPA's max per run; the rest follows if the next runs still want it)",
            d.replicas,
            policy.step_up()
        ),
        Some(Clamp::Ceiling) => format!(", cut to the ceiling {}", range.ceiling()),
        Some(Clamp::RaisedToMin) => ", raised to min so that min <= max".to_string(),
        Some(Clamp::MaxCeiling) => {
            format!(", cut to the max ceiling {}", policy.max_replicas.ceiling())
        }
        Some(Clamp::InSpike) => format!(
            ", kept at {} while a spike is going on: the HPA heals it inside today's range, which is not cut under it (lowered once it has passed)",
            d.replicas
        ),
    };
    format!(
        "{which} {}: {what}{headroom} / {} per replica = {}{clamp}",
        d.replicas,
        readable(policy.target_per_replica, 15),
        raw_replicas(d.raw)
    )
}

/// Replicas before rounding, for a reason: two decimals (`5.56`), or in
/// exponent form when beyond plain digits (see [`readable`]).
fn raw_replicas(raw: f64) -> String {
    if raw.abs() < 1e15 {
        format!("{raw:.2}")
    } else {
        readable(raw, 4)
    }
}

/// How many spikes (and dips) the reasons name one by one: the tallest
/// (deepest); the rest are counted.
pub(super) const EVENTS_NAMED: usize = 3;

/// The events in words, and what was done about each: every shift; the
/// tallest spikes and the deepest dips, with the rest counted; the healing
/// headroom the spikes asked for. `end` is the end of the history (a
/// departure reaching it is still going on); `now` the run's.
/// Why max's headroom is more than the workload's own, when the spikes
/// the HPA can absorb asked for more.
fn describe_headroom(adaptation: &Adaptation, workload: &Workload) -> Option<String> {
    let h = adaptation.spike_headroom?;
    // Said only when it shows: "×1.20 instead of ×1.2" is no change.
    let shown = |x: f64| (x * 100.0).round();
    (shown(h.factor) > shown(workload.policy.headroom)).then(|| {
        format!(
            "healing headroom ×{:.2} instead of ×{}: the 95th percentile of how far {} rose above the day's expected peak, ×{:.2}, its excess weighed by {}/{} (few spikes say little of the next one's height)",
            h.factor,
            workload.policy.headroom,
            // Counted among every spike found, most of which change no
            // replica count and so are not in the events listed.
            if h.absorbable == 1 {
                "the one spike found in the history that the HPA can absorb (listed only if it changes a replica count)".to_string()
            } else {
                format!("the {} spikes found in the history that the HPA can absorb (the events list only those that change a replica count)", h.absorbable)
            },
            h.p95,
            h.absorbable,
            h.absorbable + 1,
        )
    })
}

fn describe_events(
    found: &[events::Event],
    adaptation: &Adaptation,
    bounds: &ReplicaBounds,
    workload: &Workload,
    now: i64,
    end: i64,
) -> Vec<String> {
    let mut lines = describe_shifts(found, adaptation, bounds, workload, now);
    let max = bounds.max.replicas;
    for kind in [EventKind::Spike, EventKind::Dip] {
        let mut these: Vec<&events::Event> = found.iter().filter(|e| e.kind == kind).collect();
        if these.is_empty() {
            continue;
        }
        // Tallest spikes, deepest dips first; an ongoing one always.
        let size = |e: &&events::Event| {
            if e.before > 0.0 {
                (e.after / e.before).ln().abs()
            } else {
                f64::INFINITY
            }
        };
        these.sort_by(|a, b| {
            let ongoing = |e: &&events::Event| e.ongoing_at(end);
            ongoing(b)
                .cmp(&ongoing(a))
                .then(size(b).total_cmp(&size(a)))
        });
        for e in these.iter().take(EVENTS_NAMED) {
            lines.push(describe_transient(e, max, workload, end));
        }
        if these.len() > EVENTS_NAMED {
            let more = these.len() - EVENTS_NAMED;
            let name = match (kind == EventKind::Spike, more == 1) {
                (true, true) => "spike",
                (true, false) => "spikes",
                (false, true) => "dip",
                (false, false) => "dips",
            };
            lines.push(format!(
                "{more} more {name} in the history, smaller, {}",
                if kind == EventKind::Spike && adaptation.texture.is_some() {
                    "kept in the fit"
                } else {
                    "left out of the fit"
                }
            ));
        }
    }
    if let Some(per_day) = adaptation.texture {
        lines.push(format!(
            "spikes come {per_day:.1} times a day (counting all found, most of which change no replica count and are not listed): the workload's ordinary texture (more than {} a day), kept in the fit, so that the forecast and max are sized with them",
            crate::core::adapt::TEXTURE_PER_DAY
        ));
    }
    if let Some(per_day) = adaptation.dip_texture {
        lines.push(format!(
            "dips come {per_day:.1} times a day (counting all found): the workload's ordinary quiet spells (more than {} a day), kept in the fit so that the forecast and min see them, and not listed as events",
            crate::core::adapt::TEXTURE_PER_DAY
        ));
    }
    if let Some(h) = adaptation.spike_headroom {
        lines.extend(describe_headroom(adaptation, workload));
        if h.beyond > 0 {
            lines.push(format!(
                "{} rose more than ×{} above the day's expected peak (the tallest ×{:.1}): max is not sized for {}; covering {} is an operator's decision (events.max_spike_headroom, or capacity held in reserve)",
                if h.beyond == 1 { "1 spike".to_string() } else { format!("{} spikes", h.beyond) },
                workload.events.max_spike_headroom,
                h.tallest,
                if h.beyond == 1 { "it" } else { "them" },
                if h.beyond == 1 { "it" } else { "them" },
            ));
        }
    }
    lines
}

/// Each shift, and what the plan does about it.
fn describe_shifts(
    found: &[events::Event],
    adaptation: &Adaptation,
    bounds: &ReplicaBounds,
    workload: &Workload,
    now: i64,
) -> Vec<String> {
    let min_now = match workload.current {
        Some(c) if c.min_replicas != bounds.min.replicas => {
            format!("min {} → {}", c.min_replicas, bounds.min.replicas)
        }
        Some(c) => format!("min stays {}", c.min_replicas),
        None => format!("min {}", bounds.min.replicas),
    };
    let shifts: Vec<&events::Event> = found
        .iter()
        .filter(|e| e.kind == EventKind::Shift)
        .collect();
    let down_after = workload.events.shift_down_after;
    let room_until = |shift: &events::Event| shift.start + ROOM_AFTER_DROP_DAYS * 86_400;
    let mut lines = Vec::new();
    for (k, shift) in shifts.iter().enumerate() {
        let ratio = if shift.before > 0.0 {
            shift.after / shift.before
        } else {
            f64::INFINITY
        };
        let what = format!(
            "shift {} {} (level {} → {})",
            format_moment(shift.start),
            signed_percent(ratio),
            readable(shift.before, 3),
            readable(shift.after, 3)
        );
        let last = k + 1 == shifts.len();
        let held = adaptation.level.and_then(|l| l.held_until);
        let action = match held {
            Some(until) if shift.after < shift.before && shift.start + down_after.secs() > now => format!(
                "not followed until it has lasted {down_after} ({}): capacity is given back cautiously, the plan keeps the level before it (the hours since, out of the fit)",
                format_moment(until)
            ),
            // Down and back up inside the hold: the plan still keeps the
            // higher level from before the drop.
            Some(_) if last => format!("the plan keeps the higher level held before it; {min_now}"),
            _ if last && shift.after < shift.before && now < room_until(shift) => format!(
                "the history before it is re-based to the new level (the forecast sees none of the load before it); {min_now}; max keeps room for the last week's load as it was until {} (a drop is often undone, and room above the load costs nothing until it is used)",
                format_moment(room_until(shift))
            ),
            // Said of the history, not of the forecast: the load may have
            // moved since the shift (a 620,000 level forecast at 463,400).
            _ if last => format!(
                "the history before it is re-based to the new level (the forecast sees none of the load before it); {min_now}"
            ),
            _ => "the history before it is re-based to the current level".to_string(),
        };
        lines.push(format!("{what}: {action}"));
    }
    lines
}

/// A spike or dip, its size against the expected load, and whether the
/// recommended `max` covers it (`end`: the history's end, after which an
/// event is ongoing).
fn describe_transient(e: &events::Event, max: u32, workload: &Workload, end: i64) -> String {
    let capacity = f64::from(max) * workload.policy.target_per_replica;
    // Against an expected level of about nothing, a ratio means little.
    let size = if e.before > 1e-3 * e.day_peak.max(0.0) && e.before > 0.0 {
        // One decimal from ×0.1 up; a deeper dip in two significant
        // digits (×0.02, not ×0.0).
        let ratio = e.after / e.before;
        if ratio >= 0.095 {
            format!("×{ratio:.1} expected")
        } else {
            format!("×{} expected", readable(ratio, 2))
        }
    } else {
        format!("{} where about 0 was expected", readable(e.after, 3))
    };
    let ratio = if e.before > 0.0 {
        e.after / e.before
    } else {
        f64::INFINITY
    };
    let stretch = match e.end {
        Some(t) if t < end => format_stretch(e.start, t),
        _ => format!("since {}", format_moment(e.start)),
    };
    let ongoing = e.ongoing_at(end);
    let kind = if e.kind == EventKind::Spike {
        "spike"
    } else {
        "dip"
    };
    let action = if e.kind == EventKind::Dip {
        "left out of the fit, min unchanged".to_string()
    } else {
        let allows = if e.before > 0.0 {
            capacity / e.before
        } else {
            f64::INFINITY
        };
        let left = if ongoing {
            format!(
                "a shift only if it lasts {}",
                workload.events.detection.persistence
            )
        } else {
            "left to the HPA".to_string()
        };
        if !allows.is_finite() || !ratio.is_finite() {
            format!("{left} (max {max} carries {})", readable(capacity, 3))
        } else if allows < 1.0 {
            // Max held below the ordinary load (a step limit, a ceiling):
            // "more than max allows (×0.8)" read as if it were the spike.
            format!(
                "{left}, but max {max} carries {}, less than even the {} expected then",
                readable(capacity, 3),
                readable(e.before, 3)
            )
        } else if ratio <= allows {
            format!("{left} (max {max} allows ×{allows:.1})")
        } else {
            format!("{left}, but more than max {max} allows (×{allows:.1})")
        }
    };
    format!("{kind} {stretch}, {size}: {action}")
}

/// `change: min stays 3, max 15 → 20`, or `no change: …`.
fn describe_change(current: CurrentBounds, min: u32, max: u32) -> String {
    if current.min_replicas == min && current.max_replicas == max {
        format!("no change: the HPA already has {min}..{max}")
    } else {
        // Only the bounds that move, so no line reads `min 3 → 3`.
        let moves = |name: &str, from: u32, to: u32| {
            if from == to {
                format!("{name} stays {to}")
            } else {
                format!("{name} {from} → {to}")
            }
        };
        format!(
            "change: {}, {}",
            moves("min", current.min_replicas, min),
            moves("max", current.max_replicas, max)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{describe_change, last_days_of};
    use crate::core::series::{GridStats, Series};
    use crate::core::workload::CurrentBounds;

    #[test]
    fn a_peak_is_said_over_the_history_there_is() {
        let of_hours = |hours: usize| Series {
            start: 0,
            step: 300,
            values: vec![1.0; hours * 12],
            stats: GridStats::default(),
        };
        assert_eq!(last_days_of(14, &of_hours(28 * 24)), "the last 14 days'");
        assert_eq!(last_days_of(14, &of_hours(30)), "its 1d 6h of history's");
    }

    #[test]
    fn a_max_held_from_falling_is_lowered_only_by_the_step_down() {
        use crate::core::bounds::{Basis, BoundsPolicy, Clamp, Derivation, ReplicaRange};
        use crate::core::model::Level;
        let policy = BoundsPolicy {
            target_per_replica: 10.0,
            min_replicas: ReplicaRange::new(2, 100).unwrap(),
            max_replicas: ReplicaRange::new(2, 200).unwrap(),
            headroom: 1.2,
            level: Level::new(0.9).unwrap(),
            max_step_up: crate::core::bounds::MAX_STEP,
        };
        let series = Series {
            start: 0,
            step: 300,
            values: vec![50.0; 28 * 288],
            stats: GridStats::default(),
        };
        let max = |replicas: u32, raw: f64| Derivation {
            replicas,
            load: raw * 10.0 / 1.2,
            at: Some(0),
            quantile: 0.95,
            basis: Basis::IntervalUpper,
            raw,
            clamp: Some(Clamp::StepLimit),
        };
        let down = super::describe_bound("max", &max(14, 7.38), &policy, false, &series);
        assert!(
            down.ends_with(", lowered only to 14 this run (step limit ÷1.5 of the HPA's max per run; the rest follows if the next runs still want it)"),
            "{down}"
        );
        let up = super::describe_bound("max", &max(15, 19.3), &policy, false, &series);
        assert!(
            up.contains(", moved only to 15 this run (step limit ×1.5 "),
            "{up}"
        );
    }

    #[test]
    fn a_spike_where_max_carries_less_than_the_expected_load_says_so() {
        let text = "workloads:\n  - name: api\n    namespace: web\n    file: api.csv\n    target_per_replica: 10\n";
        let workload = crate::app::config::parse(
            text,
            std::path::Path::new("t.yaml"),
            std::path::Path::new("."),
        )
        .unwrap()
        .workloads
        .remove(0);
        let spike = |before: f64, after: f64| crate::core::events::Event {
            kind: crate::core::events::EventKind::Spike,
            start: 0,
            end: Some(600),
            before,
            after,
            z: 6.0,
            day_peak: before,
        };
        // Max 30 carries 300: the 400 expected then is already beyond it.
        let said = super::describe_transient(&spike(400.0, 1000.0), 30, &workload, 3_600);
        assert!(
            said.ends_with(
                ": left to the HPA, but max 30 carries 300, less than even the 400 expected then"
            ),
            "{said}"
        );
        let said = super::describe_transient(&spike(100.0, 250.0), 30, &workload, 3_600);
        assert!(
            said.ends_with(": left to the HPA (max 30 allows ×3.0)"),
            "{said}"
        );
        let said = super::describe_transient(&spike(100.0, 500.0), 30, &workload, 3_600);
        assert!(
            said.ends_with(": left to the HPA, but more than max 30 allows (×3.0)"),
            "{said}"
        );
    }

    #[test]
    fn a_change_names_only_the_bounds_that_move() {
        let current = CurrentBounds {
            min_replicas: 3,
            max_replicas: 15,
        };
        assert_eq!(
            describe_change(current, 3, 20),
            "change: min stays 3, max 15 → 20"
        );
        assert_eq!(
            describe_change(current, 2, 15),
            "change: min 3 → 2, max stays 15"
        );
        assert_eq!(
            describe_change(current, 3, 15),
            "no change: the HPA already has 3..15"
        );
    }
}
