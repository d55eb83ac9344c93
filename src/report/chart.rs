//! The reports' charts, drawn with plotters' SVG backend into strings that
//! the HTML report inlines. Pure: data in, SVG text out.
//!
//! Loads are drawn in the workload's own unit; a bound of `n` replicas is
//! drawn as the load it carries, `n × target_per_replica`, so bounds and
//! load can be read on one axis.

use crate::core::events::{Event, EventKind};
use crate::core::plan::{Fitted, WorkloadPlan};
use crate::core::replay::{Policy, WorkloadReplay};
use crate::core::time::DAY;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 340;
/// History shown before "now": three times the horizon, at least two
/// days (a daily cycle and its neighbour), at most two weeks (two weekly
/// cycles): the forecast keeps at least a quarter of the width.
const SHOWN_HISTORY: (i64, i64) = (2 * DAY, 14 * DAY);
/// The backtest chart shows one week.
const SHOWN_WEEK: i64 = 7 * DAY;
/// An event narrower than this share of the chart is widened to it: a
/// 5-minute spike in two weeks would otherwise be under a pixel wide.
const LEAST_EVENT_WIDTH: f64 = 1.0 / 300.0;
/// More points than this per line are put into buckets (the load as each
/// bucket's lowest and highest, so no spike is lost; the forecast as its
/// mean): a chart is under a thousand pixels wide, and the report stays small.
const MAX_POINTS: usize = 2_400;

const HISTORY: RGBColor = RGBColor(74, 85, 104);
const FORECAST: RGBColor = RGBColor(221, 107, 32);
const MIN_LINE: RGBColor = RGBColor(47, 133, 90);
const SCHEDULE: RGBColor = RGBColor(49, 151, 149);
const MAX_LINE: RGBColor = RGBColor(197, 48, 48);
const SPIKE: RGBColor = RGBColor(229, 62, 62);
const DIP: RGBColor = RGBColor(49, 130, 206);
const SHIFT: RGBColor = RGBColor(128, 90, 213);
const GRID: RGBColor = RGBColor(232, 232, 232);
const POLICY_COLOURS: [(Policy, RGBColor); 5] = [
    (Policy::Reactive, RGBColor(113, 128, 150)),
    (Policy::Tight, RGBColor(160, 174, 192)),
    (Policy::Horizon, RGBColor(128, 90, 213)),
    (Policy::Schedule, RGBColor(221, 107, 32)),
    (Policy::Oracle, RGBColor(47, 133, 90)),
];

type Drawn = Result<(), String>;

fn failed<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws into an SVG string of `WIDTH × height`; a drawing error becomes a
/// short SVG that says so (a report never fails for a chart).
fn svg(height: u32, draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Drawn) -> String {
    let mut text = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut text, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(failed)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(failed))
    };
    match drawn {
        Ok(()) => text,
        Err(e) => format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="40"><text x="10" y="25">chart not drawn: {}</text></svg>"#,
            super::escape(&e)
        ),
    }
}

/// An axis label: [`super::number`] without its trailing zeros (the
/// round ticks read "50.00", "100.00" on a load axis).
fn tick(v: f64) -> String {
    let text = super::number(v);
    if text.contains('.') && !text.contains('e') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A linear axis with the ticks given (plotters' own f64 axis picks round
/// numbers: for time, seconds that are not midnights).
#[derive(Clone)]
struct Ticked {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = (value - self.range.start) / (self.range.end - self.range.start);
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// The time axis: ticks at UTC midnights (every day, or every second day
/// over more than 16 days), or every 6 hours over less than 3 days.
fn time_axis(from: i64, to: i64) -> Ticked {
    let span = to - from;
    let every = if span < 3 * DAY {
        DAY / 4
    } else if span > 16 * DAY {
        2 * DAY
    } else {
        DAY
    };
    let first = from.div_euclid(every) * every + every;
    let ticks: Vec<f64> = (first..=to)
        .step_by(every as usize)
        .map(|t| t as f64)
        .collect();
    Ticked {
        range: from as f64..to as f64,
        ticks,
    }
}

/// `Nov 26` at midnight, `Nov 26 06:00` otherwise: the x axis' labels.
fn time_label(t: f64) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0).map_or_else(String::new, |d| {
        if (t as i64).rem_euclid(DAY) == 0 {
            d.format("%b %d").to_string()
        } else {
            d.format("%b %d %H:%M").to_string()
        }
    })
}

/// What a thinned bucket keeps.
#[derive(Clone, Copy)]
enum Keep {
    /// Its mean (a smooth line: the forecast).
    Mean,
    /// Its highest value (an upper edge).
    Highest,
    /// Its lowest value (a lower edge).
    Lowest,
    /// Its lowest and highest, in time order (a load: no spike is lost).
    Both,
}

/// Runs of finite points (a gap in the data breaks the line), thinned by
/// `keep` in buckets so that all together hold at most `MAX_POINTS`.
fn runs(points: &[(i64, f64)], keep: Keep) -> Vec<Vec<(f64, f64)>> {
    let per_bucket = if matches!(keep, Keep::Both) { 2 } else { 1 };
    let bucket = (points.len() * per_bucket).div_ceil(MAX_POINTS).max(1);
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for chunk in points.chunks(bucket) {
        let finite: Vec<&(i64, f64)> = chunk.iter().filter(|(_, v)| v.is_finite()).collect();
        if finite.is_empty() {
            if !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if finite.len() == 1 {
            current.push((finite[0].0 as f64, finite[0].1));
            continue;
        }
        let lowest = finite
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("not empty");
        let highest = finite
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("not empty");
        let point = |p: &&(i64, f64)| (p.0 as f64, p.1);
        match keep {
            Keep::Mean => {
                let n = finite.len() as f64;
                let t = finite.iter().map(|(t, _)| *t as f64).sum::<f64>() / n;
                let v = finite.iter().map(|(_, v)| *v).sum::<f64>() / n;
                current.push((t, v));
            }
            Keep::Highest => current.push(point(highest)),
            Keep::Lowest => current.push(point(lowest)),
            Keep::Both => {
                let (first, second) = if lowest.0 <= highest.0 {
                    (lowest, highest)
                } else {
                    (highest, lowest)
                };
                current.push(point(first));
                if first.0 != second.0 {
                    current.push(point(second));
                }
            }
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn legend_line(colour: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
}

/// One workload's chart: the recent history, the forecast mean and its
/// interval band, the recommended min and max as the load they carry, the
/// schedule's min when there is one, the detected events, and "now".
#[must_use]
pub fn workload_chart(plan: &WorkloadPlan, fitted: &Fitted) -> String {
    let history = &fitted.history;
    let forecast = &fitted.forecast;
    let intervals = forecast.interval(fitted.level);
    let now = fitted.now;
    let forecast_end = forecast.timestamp(forecast.mean.len().saturating_sub(1));
    let shown = (3 * (forecast_end - now)).clamp(SHOWN_HISTORY.0, SHOWN_HISTORY.1);
    let from = (now - shown).max(history.start);
    let past: Vec<(i64, f64)> = (0..history.len())
        .map(|i| (history.timestamp(i), history.values[i]))
        .filter(|&(t, _)| t >= from)
        .collect();
    let ahead = |f: &dyn Fn(usize) -> f64| -> Vec<(i64, f64)> {
        (0..forecast.mean.len())
            .map(|i| (forecast.timestamp(i), f(i)))
            .collect()
    };
    let mean = ahead(&|i| forecast.mean[i]);
    let lower = ahead(&|i| intervals[i].lower);
    let upper = ahead(&|i| intervals[i].upper);
    let per_replica = plan.target_per_replica.unwrap_or(f64::NAN);
    let as_load = |replicas: Option<u32>| replicas.map(|r| f64::from(r) * per_replica);
    let min_load = as_load(plan.min_replicas).filter(|v| v.is_finite());
    let max_load = as_load(plan.max_replicas).filter(|v| v.is_finite());
    let top = past
        .iter()
        .chain(&upper)
        .map(|&(_, v)| v)
        .chain(max_load)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.08;
    let end = forecast_end.max(now + 1);
    let (x0, x1) = (from as f64, end as f64);
    svg(HEIGHT, |root| {
        let mut chart = time_chart(root, (from, end), top, "load", &|v| tick(*v))?;
        // Events under everything else.
        let history_end = history.end() + history.step;
        let least_width = (x1 - x0) * LEAST_EVENT_WIDTH;
        for event in fitted
            .events
            .iter()
            .filter(|e| e.end.unwrap_or(history_end) >= from)
        {
            draw_event(&mut chart, event, (from, history_end), least_width, top)?;
        }
        let band: Vec<(f64, f64)> = runs(&upper, Keep::Highest)
            .concat()
            .into_iter()
            .chain(runs(&lower, Keep::Lowest).concat().into_iter().rev())
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                FORECAST.mix(0.18).filled(),
            )))
            .map_err(failed)?
            .label(format!("{} interval", fitted.level))
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 18, y + 5)], FORECAST.mix(0.18).filled())
            });
        draw_lines(
            &mut chart,
            runs(&past, Keep::Both),
            HISTORY,
            1,
            "observed load",
        )?;
        draw_lines(&mut chart, runs(&mean, Keep::Mean), FORECAST, 2, "forecast")?;
        let bound_line = |load: f64| vec![(now as f64, load), (x1, load)];
        // In schedule mode the range's min is the schedule's (drawn below):
        // this one is the horizon's.
        let min_name = if plan.scheduled_min.is_some() {
            "horizon min"
        } else {
            "min"
        };
        for (load, replicas, colour, name) in [
            (min_load, plan.min_replicas, MIN_LINE, min_name),
            (max_load, plan.max_replicas, MAX_LINE, "max"),
        ] {
            if let (Some(load), Some(replicas)) = (load, replicas) {
                chart
                    .draw_series(DashedLineSeries::new(
                        bound_line(load),
                        8,
                        5,
                        colour.stroke_width(2),
                    ))
                    .map_err(failed)?
                    .label(format!("{name} {replicas} replicas"))
                    .legend(legend_line(colour));
            }
        }
        if !plan.schedule.is_empty() && per_replica.is_finite() {
            let mut steps: Vec<(f64, f64)> = Vec::new();
            for entry in &plan.schedule {
                let load = f64::from(entry.min_replicas) * per_replica;
                let at = (entry.from as f64).max(now as f64);
                if let Some(&(_, previous)) = steps.last() {
                    steps.push((at, previous));
                }
                steps.push((at, load));
            }
            if let Some(&(_, last)) = steps.last() {
                steps.push((x1, last));
            }
            chart
                .draw_series(LineSeries::new(steps, SCHEDULE.stroke_width(2)))
                .map_err(failed)?
                .label("scheduled min")
                .legend(legend_line(SCHEDULE));
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(now as f64, 0.0), (now as f64, top)],
                BLACK.mix(0.6).stroke_width(1),
            )))
            .map_err(failed)?;
        draw_legend(&mut chart)
    })
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Ticked, RangedCoordf64>>;

/// A chart over time `[from, to]` and `0..top`, its axes labelled and its
/// grid drawn: the set-up both time charts share.
fn time_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    (from, to): (i64, i64),
    top: f64,
    y_name: &str,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<Chart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(64)
        .build_cartesian_2d(time_axis(from, to), 0.0..top)
        .map_err(failed)?;
    chart
        .configure_mesh()
        .y_labels(6)
        .x_label_formatter(&|t| time_label(*t))
        .y_label_formatter(y_label)
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .y_desc(y_name)
        .x_desc("UTC")
        .draw()
        .map_err(failed)?;
    Ok(chart)
}

/// Each run as a line; the first carries the legend's `label`.
fn draw_lines(
    chart: &mut Chart,
    runs: Vec<Vec<(f64, f64)>>,
    colour: RGBColor,
    width: u32,
    label: &str,
) -> Drawn {
    for (k, run) in runs.into_iter().enumerate() {
        let drawn = chart
            .draw_series(LineSeries::new(run, colour.stroke_width(width)))
            .map_err(failed)?;
        if k == 0 {
            drawn.label(label).legend(legend_line(colour));
        }
    }
    Ok(())
}

fn draw_legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(failed)
}

/// A spike or dip as a shaded stretch (at least `least_width` wide), a
/// shift as a vertical line; clipped to `shown`.
fn draw_event(
    chart: &mut Chart,
    event: &Event,
    shown: (i64, i64),
    least_width: f64,
    top: f64,
) -> Drawn {
    let start = event.start.max(shown.0) as f64;
    match event.kind {
        EventKind::Shift => chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(start, 0.0), (start, top)],
                SHIFT.mix(0.7).stroke_width(2),
            )))
            .map(|_| ())
            .map_err(failed),
        EventKind::Spike | EventKind::Dip => {
            let colour = if event.kind == EventKind::Spike {
                SPIKE
            } else {
                DIP
            };
            let end = (event.end.unwrap_or(shown.1) as f64).max(start + least_width);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(start, 0.0), (end, top)],
                    colour.mix(0.2).filled(),
                )))
                .map(|_| ())
                .map_err(failed)
        }
    }
}

/// What the post-mortem's chart of one incident draws.
pub struct IncidentChart<'a> {
    /// The load, `(t, value)`, over `shown`.
    pub load: &'a [(i64, f64)],
    /// Each run's recommendation (and what was applied), oldest first.
    pub runs: &'a [crate::core::incident::RunRecord],
    pub per_replica: f64,
    /// From when the trouble began (or the incident opened) to when it
    /// closed (or its last run).
    pub open: (i64, i64),
    /// When the operator's changes were seen.
    pub changes: Vec<i64>,
    pub shown: (i64, i64),
}

/// The post-mortem's chart: the load against the range in force (each
/// run's recommended min and max as the load they carry, held until the
/// next run, and the applied max when there was one), the incident
/// shaded, the operator's changes as vertical lines.
#[must_use]
pub fn incident_chart(c: &IncidentChart) -> String {
    let (from, to) = c.shown;
    let at = |r: &crate::core::incident::RunRecord| {
        crate::core::time::parse_timestamp(&r.at).unwrap_or(i64::MIN)
    };
    let trace = |bound: fn(&crate::core::incident::RunRecord) -> Option<u32>| {
        let changes: Vec<(i64, u32)> = c
            .runs
            .iter()
            .filter_map(|r| bound(r).map(|b| (at(r), b)))
            .collect();
        steps_within(&changes, from, to)
            .into_iter()
            .map(|(t, n)| (t, n * c.per_replica))
            .collect::<Vec<_>>()
    };
    let max = trace(|r| r.recommended_max);
    let min = trace(|r| r.recommended_min);
    let applied = trace(|r| r.applied_max);
    let load: Vec<(i64, f64)> = c
        .load
        .iter()
        .copied()
        .filter(|&(t, _)| t >= from && t <= to)
        .collect();
    let top = load
        .iter()
        .map(|&(_, v)| v)
        .chain(max.iter().chain(&applied).map(|&(_, v)| v))
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max)
        * 1.08;
    svg(HEIGHT, |root| {
        let mut chart = time_chart(root, (from, to), top, "load", &|v| tick(*v))?;
        let open = (c.open.0.max(from) as f64, c.open.1.min(to) as f64);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(open.0, 0.0), (open.1.max(open.0 + 1.0), top)],
                SPIKE.mix(0.15).filled(),
            )))
            .map_err(failed)?
            .label("incident")
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 18, y + 5)], SPIKE.mix(0.15).filled())
            });
        draw_lines(&mut chart, runs(&load, Keep::Both), HISTORY, 1, "load")?;
        for (points, colour, label) in [
            (max, MAX_LINE, "recommended max (load it carries)"),
            (min, MIN_LINE, "recommended min"),
            (applied, SHIFT, "applied max"),
        ] {
            if !points.is_empty() {
                draw_lines(&mut chart, vec![points], colour, 2, label)?;
            }
        }
        for (k, &t) in c
            .changes
            .iter()
            .filter(|&&t| t >= from && t <= to)
            .enumerate()
        {
            let drawn = chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(t as f64, 0.0), (t as f64, top)],
                    BLACK.mix(0.6).stroke_width(2),
                )))
                .map_err(failed)?;
            if k == 0 {
                drawn.label("operator's change").legend(legend_line(BLACK));
            }
        }
        draw_legend(&mut chart)
    })
}

fn colour_of(policy: Policy) -> RGBColor {
    POLICY_COLOURS
        .iter()
        .find(|(p, _)| *p == policy)
        .map_or(BLACK, |&(_, c)| c)
}

/// Whether the week from `start` shares any time with a replay of
/// `from..to` (else the chart draws the replay's last week).
#[must_use]
pub fn week_overlaps(start: i64, from: i64, to: i64) -> bool {
    start < to && start + SHOWN_WEEK > from
}

/// The backtest's chart of one workload: the replicas the load needed
/// (load ÷ what a ready replica serves) and each policy's ready replicas,
/// over the week from `week_from` (clipped to the replay), or the replay's
/// last week.
#[must_use]
pub fn replay_chart(replay: &WorkloadReplay, week_from: Option<i64>) -> String {
    let chart_data = &replay.chart;
    let (from, to) = match week_from {
        Some(start) if week_overlaps(start, replay.from, replay.to) => {
            (start.max(replay.from), (start + SHOWN_WEEK).min(replay.to))
        }
        _ => ((replay.to - SHOWN_WEEK).max(replay.from), replay.to),
    };
    let needed: Vec<(i64, f64)> = chart_data
        .load
        .iter()
        .filter(|&&(t, _)| t >= from && t < to)
        .map(|&(t, load)| (t, load / chart_data.capacity))
        .collect();
    let traces: Vec<(Policy, Vec<(f64, f64)>)> = chart_data
        .replicas
        .iter()
        .map(|(policy, trace)| (*policy, steps_within(trace, from, to)))
        .collect();
    let top = needed
        .iter()
        .map(|&(_, v)| v)
        .chain(traces.iter().flat_map(|(_, p)| p.iter().map(|&(_, v)| v)))
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max)
        * 1.08;
    svg(HEIGHT, |root| {
        let mut chart = time_chart(root, (from, to), top, "replicas", &|v| format!("{v:.0}"))?;
        for (k, run) in runs(&needed, Keep::Both).into_iter().enumerate() {
            let drawn = chart
                .draw_series(AreaSeries::new(run, 0.0, BLACK.mix(0.15)))
                .map_err(failed)?;
            if k == 0 {
                drawn.label("needed (load ÷ capacity)").legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 18, y + 5)], BLACK.mix(0.15).filled())
                });
            }
        }
        for (policy, points) in traces {
            let colour = colour_of(policy);
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(failed)?
                .label(policy.as_str())
                .legend(legend_line(colour));
        }
        draw_legend(&mut chart)
    })
}

/// A trace of `(t, replicas)` at each change as a step line over `[from,
/// to)`: the value in force at `from` first, each change as a vertical
/// step, held to `to`.
fn steps_within(trace: &[(i64, u32)], from: i64, to: i64) -> Vec<(f64, f64)> {
    let in_force = trace.partition_point(|&(t, _)| t <= from);
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut last = in_force.checked_sub(1).map(|k| trace[k].1);
    if let Some(replicas) = last {
        points.push((from as f64, f64::from(replicas)));
    }
    for &(t, replicas) in trace[in_force..].iter().take_while(|&&(t, _)| t < to) {
        if let Some(previous) = last {
            points.push((t as f64, f64::from(previous)));
        }
        points.push((t as f64, f64::from(replicas)));
        last = Some(replicas);
    }
    if let Some(replicas) = last {
        points.push((to as f64, f64::from(replicas)));
    }
    points
}

/// Two bar charts side by side: overload minutes and replica-hours per
/// policy.
#[must_use]
pub fn policy_bars(replay: &WorkloadReplay) -> String {
    svg(220, |root| {
        let (left, right) = root.split_horizontally(WIDTH / 2);
        bars(&left, replay, "overload minutes", |o| o.overload_minutes)?;
        bars(&right, replay, "replica-hours", |o| o.replica_hours)
    })
}

fn bars(
    area: &DrawingArea<SVGBackend, Shift>,
    replay: &WorkloadReplay,
    title: &str,
    value: impl Fn(&crate::core::replay::Outcome) -> f64,
) -> Drawn {
    let values: Vec<(Policy, f64)> = replay
        .policies
        .iter()
        .map(|p| (p.policy, value(&p.outcome)))
        .collect();
    let top = values.iter().map(|&(_, v)| v).fold(1.0_f64, f64::max) * 1.15;
    let count = values.len() as f64;
    // Bar k is centred on k, the axis labelled at the centres only.
    let centres: Vec<f64> = (0..values.len()).map(|k| k as f64).collect();
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .caption(title, ("sans-serif", 14))
        .x_label_area_size(24)
        .y_label_area_size(56)
        .build_cartesian_2d(
            Ticked {
                range: -0.5..count - 0.5,
                ticks: centres,
            },
            0.0..top,
        )
        .map_err(failed)?;
    let names: Vec<&'static str> = values.iter().map(|(p, _)| p.as_str()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .label_style(("sans-serif", 12))
        .y_labels(5)
        .y_label_formatter(&|v| tick(*v))
        .x_label_formatter(&|x| {
            names
                .get(x.round() as usize)
                .map_or_else(String::new, |n| (*n).to_string())
        })
        .draw()
        .map_err(failed)?;
    chart
        .draw_series(values.iter().enumerate().map(|(k, &(policy, v))| {
            let k = k as f64;
            Rectangle::new(
                [(k - 0.35, 0.0), (k + 0.35, v)],
                colour_of(policy).mix(0.85).filled(),
            )
        }))
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{runs, steps_within, tick, Keep, MAX_POINTS};

    #[test]
    fn axis_labels_drop_trailing_zeros() {
        assert_eq!(
            [50.0, 12.5, 0.25, 250.0, 0.0, 2e6].map(tick),
            ["50", "12.5", "0.25", "250", "0", "2.000e6"]
        );
    }

    #[test]
    fn unknown_steps_break_the_line() {
        let points = [(0, 1.0), (1, 2.0), (2, f64::NAN), (3, 4.0)];
        assert_eq!(
            runs(&points, Keep::Both),
            [vec![(0.0, 1.0), (1.0, 2.0)], vec![(3.0, 4.0)]]
        );
    }

    #[test]
    fn thinning_keeps_the_spikes_of_a_load_and_averages_a_forecast() {
        let mut long: Vec<(i64, f64)> = (0..10 * MAX_POINTS as i64).map(|i| (i, 1.0)).collect();
        long[4321].1 = 50.0;
        let loads = runs(&long, Keep::Both).concat();
        assert!(loads.len() <= MAX_POINTS);
        assert!(loads.contains(&(4321.0, 50.0)), "the spike survives");
        let means = runs(&long, Keep::Mean).concat();
        assert!(means.len() <= MAX_POINTS);
        assert!(means.iter().all(|&(_, v)| v < 50.0), "averaged");
    }

    #[test]
    fn a_step_line_starts_with_the_value_in_force_and_holds_to_the_end() {
        let trace = [(0, 2), (50, 3), (120, 1)];
        assert_eq!(
            steps_within(&trace, 100, 200),
            [(100.0, 3.0), (120.0, 3.0), (120.0, 1.0), (200.0, 1.0)]
        );
        assert_eq!(
            steps_within(&trace, 0, 60),
            [(0.0, 2.0), (50.0, 2.0), (50.0, 3.0), (60.0, 3.0)]
        );
    }
}
