//! The reports' charts, drawn with plotters' SVG backend into strings that
//! the HTML report inlines. Pure: data in, SVG text out.
//!
//! Loads are drawn in the workload's own unit; a bound of `n` replicas is
//! drawn as the load it carries, `n × target_per_replica`, so bounds and
//! load can be read on one axis.

use crate::events::{Event, EventKind};
use crate::plan::{Fitted, WorkloadPlan};
use crate::replay::{Policy, WorkloadReplay};
use plotters::coord::Shift;
use plotters::prelude::*;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 340;
/// History shown before "now": enough to see two weekly cycles.
const SHOWN_HISTORY: i64 = 14 * 86_400;
/// The backtest chart shows one week.
const SHOWN_WEEK: i64 = 7 * 86_400;
/// More points than this per line are averaged into buckets: a chart is
/// under a thousand pixels wide, and the report stays small.
const MAX_POINTS: usize = 2_400;

const HISTORY: RGBColor = RGBColor(74, 85, 104);
const FORECAST: RGBColor = RGBColor(221, 107, 32);
const MIN_LINE: RGBColor = RGBColor(47, 133, 90);
const MAX_LINE: RGBColor = RGBColor(197, 48, 48);
const SPIKE: RGBColor = RGBColor(229, 62, 62);
const DIP: RGBColor = RGBColor(49, 130, 206);
const SHIFT: RGBColor = RGBColor(128, 90, 213);
const GRID: RGBColor = RGBColor(232, 232, 232);
const POLICY_COLOURS: [(Policy, RGBColor); 4] = [
    (Policy::Reactive, RGBColor(113, 128, 150)),
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

/// `Nov 26` or `Nov 26 06:00`: the x axis' labels.
fn time_label(t: f64, with_hour: bool) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0).map_or_else(String::new, |d| {
        if with_hour {
            d.format("%b %d %H:%M").to_string()
        } else {
            d.format("%b %d").to_string()
        }
    })
}

/// Runs of finite points (a gap in the data breaks the line), each
/// averaged down so that all together hold at most `MAX_POINTS`.
fn runs(points: &[(i64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let bucket = points.len().div_ceil(MAX_POINTS).max(1);
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
        let t = finite.iter().map(|(t, _)| *t as f64).sum::<f64>() / finite.len() as f64;
        let v = finite.iter().map(|(_, v)| *v).sum::<f64>() / finite.len() as f64;
        current.push((t, v));
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn legend_line(colour: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
}

/// One workload's chart: the history (last two weeks), the forecast mean
/// and its interval band, the recommended min and max as the load they
/// carry, the schedule's min when there is one, the detected events, and
/// "now".
#[must_use]
pub fn workload_chart(plan: &WorkloadPlan, fitted: &Fitted) -> String {
    let history = &fitted.history;
    let forecast = &fitted.forecast;
    let intervals = forecast.interval(fitted.level);
    let forecast_end = forecast.timestamp(forecast.mean.len().saturating_sub(1));
    let shown = SHOWN_HISTORY.max(forecast_end - forecast.start);
    let from = (history.end() - shown).max(history.start);
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
    let (x0, x1) = (from as f64, forecast_end as f64);
    let now = forecast.start - forecast.step;
    svg(HEIGHT, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, 0.0..top)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(10)
            .y_labels(6)
            .x_label_formatter(&|t| time_label(*t, false))
            .y_label_formatter(&|v| super::number(*v))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .y_desc("load")
            .draw()
            .map_err(failed)?;
        // Events under everything else.
        let history_end = history.end() + history.step;
        for event in fitted.events.iter().filter(|e| e.start >= from) {
            draw_event(&mut chart, event, history_end, top)?;
        }
        let band: Vec<(f64, f64)> = runs(&upper)
            .concat()
            .into_iter()
            .chain(runs(&lower).concat().into_iter().rev())
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
        for (k, run) in runs(&past).into_iter().enumerate() {
            let drawn = chart
                .draw_series(LineSeries::new(run, HISTORY.stroke_width(1)))
                .map_err(failed)?;
            if k == 0 {
                drawn.label("observed load").legend(legend_line(HISTORY));
            }
        }
        for (k, run) in runs(&mean).into_iter().enumerate() {
            let drawn = chart
                .draw_series(LineSeries::new(run, FORECAST.stroke_width(2)))
                .map_err(failed)?;
            if k == 0 {
                drawn.label("forecast").legend(legend_line(FORECAST));
            }
        }
        let bound_line = |load: f64| vec![(now as f64, load), (x1, load)];
        if let (Some(load), Some(replicas)) = (min_load, plan.min_replicas) {
            chart
                .draw_series(DashedLineSeries::new(
                    bound_line(load),
                    8,
                    5,
                    MIN_LINE.stroke_width(2),
                ))
                .map_err(failed)?
                .label(format!("min {replicas} replicas"))
                .legend(legend_line(MIN_LINE));
        }
        if let (Some(load), Some(replicas)) = (max_load, plan.max_replicas) {
            chart
                .draw_series(DashedLineSeries::new(
                    bound_line(load),
                    8,
                    5,
                    MAX_LINE.stroke_width(2),
                ))
                .map_err(failed)?
                .label(format!("max {replicas} replicas"))
                .legend(legend_line(MAX_LINE));
        }
        if !plan.schedule.is_empty() && per_replica.is_finite() {
            let mut steps = Vec::new();
            for (k, entry) in plan.schedule.iter().enumerate() {
                let load = f64::from(entry.min_replicas) * per_replica;
                let at = (entry.from as f64).max(now as f64);
                if k > 0 {
                    steps.push((at, steps.last().map_or(load, |&(_, l)| l)));
                }
                steps.push((at, load));
            }
            steps.push((x1, steps.last().map_or(0.0, |&(_, l)| l)));
            chart
                .draw_series(LineSeries::new(steps, MIN_LINE.mix(0.7).stroke_width(1)))
                .map_err(failed)?
                .label("scheduled min")
                .legend(legend_line(MIN_LINE));
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(now as f64, 0.0), (now as f64, top)],
                BLACK.mix(0.6).stroke_width(1),
            )))
            .map_err(failed)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(failed)
    })
}

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A spike or dip as a shaded stretch, a shift as a vertical line.
fn draw_event(chart: &mut Chart, event: &Event, history_end: i64, top: f64) -> Drawn {
    let start = event.start as f64;
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
            let end = event.end.unwrap_or(history_end) as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(start, 0.0), (end.max(start), top)],
                    colour.mix(0.15).filled(),
                )))
                .map(|_| ())
                .map_err(failed)
        }
    }
}

fn colour_of(policy: Policy) -> RGBColor {
    POLICY_COLOURS
        .iter()
        .find(|(p, _)| *p == policy)
        .map_or(BLACK, |&(_, c)| c)
}

/// The backtest's chart of one workload: the replicas the load needed
/// (load ÷ what a ready replica serves) and each policy's ready replicas,
/// over the last week of the replay.
#[must_use]
pub fn replay_chart(replay: &WorkloadReplay) -> String {
    let chart_data = &replay.chart;
    let from = (replay.to - SHOWN_WEEK).max(replay.from);
    let to = replay.to;
    let needed: Vec<(i64, f64)> = chart_data
        .load
        .iter()
        .filter(|&&(t, _)| t >= from)
        .map(|&(t, load)| (t, load / chart_data.capacity))
        .collect();
    // Step functions: the value holds until the next change.
    let steps = |trace: &[(i64, u32)]| -> Vec<(f64, f64)> {
        let mut points: Vec<(f64, f64)> = Vec::new();
        let mut last = None;
        for &(t, replicas) in trace {
            if t < from {
                last = Some(replicas);
                continue;
            }
            if let Some(previous) = last {
                points.push((t.max(from) as f64, f64::from(previous)));
            }
            points.push((t.max(from) as f64, f64::from(replicas)));
            last = Some(replicas);
        }
        if let Some(previous) = last {
            if points.is_empty() {
                points.push((from as f64, f64::from(previous)));
            }
            points.push((to as f64, f64::from(previous)));
        }
        points
    };
    let traces: Vec<(Policy, Vec<(f64, f64)>)> = chart_data
        .replicas
        .iter()
        .map(|(policy, trace)| (*policy, steps(trace)))
        .collect();
    let top = needed
        .iter()
        .map(|&(_, v)| v)
        .chain(traces.iter().flat_map(|(_, p)| p.iter().map(|&(_, v)| v)))
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max)
        * 1.08;
    let with_hour = to - from <= 2 * 86_400;
    svg(HEIGHT, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(48)
            .build_cartesian_2d(from as f64..to as f64, 0.0..top)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|t| time_label(*t, with_hour))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .y_desc("replicas")
            .draw()
            .map_err(failed)?;
        for (k, run) in runs(&needed).into_iter().enumerate() {
            let drawn = chart
                .draw_series(AreaSeries::new(run, 0.0, BLACK.mix(0.08)))
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
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(failed)
    })
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
    value: impl Fn(&crate::replay::Outcome) -> f64,
) -> Drawn {
    let values: Vec<(Policy, f64)> = replay
        .policies
        .iter()
        .map(|p| (p.policy, value(&p.outcome)))
        .collect();
    let top = values.iter().map(|&(_, v)| v).fold(1.0_f64, f64::max) * 1.15;
    let count = values.len() as u32;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .caption(title, ("sans-serif", 14))
        .x_label_area_size(24)
        .y_label_area_size(56)
        .build_cartesian_2d((0..count).into_segmented(), 0.0..top)
        .map_err(failed)?;
    let names: Vec<&'static str> = values.iter().map(|(p, _)| p.as_str()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .label_style(("sans-serif", 12))
        .y_labels(5)
        .y_label_formatter(&|v| super::number(*v))
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => names
                .get(*i as usize)
                .map_or_else(String::new, |n| (*n).to_string()),
            _ => String::new(),
        })
        .draw()
        .map_err(failed)?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, &(policy, v))| {
            let i = i as u32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), v),
                ],
                colour_of(policy).mix(0.85).filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            bar
        }))
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{runs, MAX_POINTS};

    #[test]
    fn unknown_steps_break_the_line_and_long_lines_are_averaged_down() {
        let points = [(0, 1.0), (1, 2.0), (2, f64::NAN), (3, 4.0)];
        assert_eq!(
            runs(&points),
            [vec![(0.0, 1.0), (1.0, 2.0)], vec![(3.0, 4.0)]]
        );
        let long: Vec<(i64, f64)> = (0..10 * MAX_POINTS as i64).map(|i| (i, 1.0)).collect();
        let thinned = runs(&long);
        assert_eq!(thinned.len(), 1);
        assert!(thinned[0].len() <= MAX_POINTS);
        assert!((thinned[0][0].0 - 4.5).abs() < 1e-9, "bucket means");
    }
}
