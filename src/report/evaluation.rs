//! `homeostat evaluate`'s table, CSV and JSON: the accuracy of every
//! series, then median and mean per horizon.

use crate::core::evaluate::{horizons, summary, summary_of, ColdStartScore, Evaluation, Score};
use serde::Serialize;
use std::fmt::Write as _;

type Metric = (&'static str, fn(&Score) -> f64);

const METRICS: [Metric; 8] = [
    ("mase", |s| s.mase),
    ("smape", |s| s.smape),
    ("coverage", |s| s.coverage),
    ("width_rel", |s| s.width_rel),
    ("p95_ratio", |s| s.p95_ratio),
    ("upper_p95_ratio", |s| s.upper_p95_ratio),
    ("crps", |s| s.crps),
    ("crps_rel", |s| s.crps_rel),
];

/// A table: one line per series and horizon, then median and mean per horizon.
#[must_use]
pub fn render_table(evaluation: &Evaluation) -> String {
    let (evaluations, failures) = (&evaluation.series, &evaluation.failures);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<36} {:>3} {:>7} {:>7} {:>7} {:>8} {:>9} {:>9} {:>8} {:>9}  MODEL",
        "SERIES",
        "H",
        "MASE",
        "ADAPTED",
        "SMAPE",
        "COVERAGE",
        "WIDTH_REL",
        "P95_RATIO",
        "CRPS_REL",
        "SECONDS"
    );
    for e in evaluations {
        for s in &e.scores {
            let adapted = e.adapted_at(&s.horizon).map_or(f64::NAN, |a| a.mase);
            let _ = writeln!(
                out,
                "{:<36} {:>3} {:>7.3} {:>7.3} {:>7.1} {:>8.3} {:>9.2} {:>9.3} {:>8.3} {:>9.4}  {}",
                e.series,
                s.horizon,
                s.mase,
                adapted,
                s.smape,
                s.coverage,
                s.width_rel,
                s.p95_ratio,
                s.crps_rel,
                e.seconds,
                e.model
            );
        }
    }
    for horizon in horizons(evaluations) {
        let stats: Vec<(f64, f64)> = METRICS
            .iter()
            .map(|(_, metric)| summary(evaluations, &horizon, *metric))
            .collect();
        let adapted = summary_of(evaluations, &horizon, |s| s.mase, |e| &e.adapted);
        for (label, pick) in [("median", 0), ("mean", 1)] {
            let value = |k: usize| if pick == 0 { stats[k].0 } else { stats[k].1 };
            let _ = writeln!(
                out,
                "{:<36} {:>3} {:>7.3} {:>7.3} {:>7.1} {:>8.3} {:>9.2} {:>9.3} {:>8.3}",
                format!("[{label} of {}]", evaluations.len()),
                horizon,
                value(0),
                if pick == 0 { adapted.0 } else { adapted.1 },
                value(1),
                value(2),
                value(3),
                value(4),
                value(7)
            );
        }
    }
    for (series, reason) in failures {
        let _ = writeln!(out, "{series}: not evaluated: {reason}");
    }
    out
}

/// CSV: one row per series and horizon.
#[must_use]
pub fn render_csv(evaluation: &Evaluation) -> String {
    let evaluations = &evaluation.series;
    let mut out = String::from(
        "series,horizon,model,mase,smape,coverage,width_rel,p95_ratio,upper_p95_ratio,seconds,train_steps,test_steps,adapted_mase,adapted_coverage,crps,crps_rel\n",
    );
    for e in evaluations {
        for s in &e.scores {
            let adapted = e.adapted_at(&s.horizon);
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                csv_field(&e.series),
                s.horizon,
                csv_field(&e.model),
                s.mase,
                s.smape,
                s.coverage,
                s.width_rel,
                s.p95_ratio,
                s.upper_p95_ratio,
                e.seconds,
                e.train_steps,
                e.test_steps,
                adapted.map_or(f64::NAN, |a| a.mase),
                adapted.map_or(f64::NAN, |a| a.coverage),
                s.crps,
                s.crps_rel
            );
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180):
/// a combined model's name lists its members with commas.
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// JSON: the per-series evaluations, the failures and the summary.
#[must_use]
pub fn render_json(evaluation: &Evaluation) -> String {
    let (evaluations, failures) = (&evaluation.series, &evaluation.failures);
    let mut summaries = serde_json::Map::new();
    for horizon in horizons(evaluations) {
        let mut per_metric = serde_json::Map::new();
        for (name, metric) in METRICS {
            let (median, mean) = summary(evaluations, &horizon, metric);
            per_metric.insert(
                name.into(),
                serde_json::json!({"median": median, "mean": mean}),
            );
        }
        for (name, metric) in [
            ("adapted_mase", METRICS[0].1),
            ("adapted_coverage", METRICS[2].1),
        ] {
            let (median, mean) = summary_of(evaluations, &horizon, metric, |e| &e.adapted);
            per_metric.insert(
                name.into(),
                serde_json::json!({"median": median, "mean": mean}),
            );
        }
        summaries.insert(horizon, per_metric.into());
    }
    let failures: Vec<_> = failures
        .iter()
        .map(|(series, reason)| serde_json::json!({"series": series, "reason": reason}))
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({
        "series": evaluations,
        "failures": failures,
        "summary": summaries,
    }))
    .expect("evaluations always serialise");
    text.push('\n');
    text
}
/// One history length of `evaluate --cold-start`, over its series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColdStartSummary {
    pub hours: i64,
    pub series: usize,
    /// Medians over the series.
    pub mase: f64,
    pub own_mase: f64,
    /// The median of the series' ratios, and the ratio of the medians.
    pub ratio: f64,
    pub ratio_of_medians: f64,
    pub flat_mase: f64,
    pub coverage: f64,
    pub crps_rel: f64,
    /// Mean coverage over the series (what issue 23's 0.85–0.95 reads).
    pub coverage_mean: f64,
    /// Series whose cold start scores a lower MASE than the flat line.
    pub better_than_flat: usize,
}

/// Per history length, in ascending order: medians over the series.
#[must_use]
pub fn cold_start_summary(scores: &[ColdStartScore]) -> Vec<ColdStartSummary> {
    let mut hours: Vec<i64> = scores.iter().map(|s| s.hours).collect();
    hours.sort_unstable();
    hours.dedup();
    hours
        .into_iter()
        .map(|h| {
            let at: Vec<&ColdStartScore> = scores.iter().filter(|s| s.hours == h).collect();
            let of = |f: fn(&ColdStartScore) -> f64| {
                let mut xs: Vec<f64> = at.iter().map(|s| f(s)).collect();
                crate::core::stats::median(&mut xs)
            };
            ColdStartSummary {
                hours: h,
                series: at.len(),
                mase: of(|s| s.mase),
                own_mase: of(|s| s.own_mase),
                ratio: of(|s| s.mase / s.own_mase),
                ratio_of_medians: of(|s| s.mase) / of(|s| s.own_mase),
                flat_mase: of(|s| s.flat_mase),
                coverage: of(|s| s.coverage),
                crps_rel: of(|s| s.crps_rel),
                coverage_mean: at.iter().map(|s| s.coverage).sum::<f64>() / at.len().max(1) as f64,
                better_than_flat: at.iter().filter(|s| s.mase < s.flat_mase).count(),
            }
        })
        .collect()
}

/// `evaluate --cold-start`'s table: one line per series and history
/// length, then per length the medians and the share of series beating a
/// flat line.
#[must_use]
pub fn render_cold_start_table(scores: &[ColdStartScore]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<40} {:>5} {:>7} {:>8} {:>6} {:>8} {:>8} {:>8}  SHAPE",
        "SERIES", "HOURS", "MASE", "OWN_28D", "RATIO", "FLAT", "COVERAGE", "CRPS_REL"
    );
    for s in scores {
        let _ = writeln!(
            out,
            "{:<40} {:>5} {:>7.3} {:>8.3} {:>6.2} {:>8.3} {:>8.3} {:>8.3}  {}",
            s.series,
            s.hours,
            s.mase,
            s.own_mase,
            s.mase / s.own_mase,
            s.flat_mase,
            s.coverage,
            s.crps_rel,
            s.shape
        );
    }
    for m in cold_start_summary(scores) {
        let _ = writeln!(
            out,
            "{:<40} {:>5} {:>7.3} {:>8.3} {:>6.2} {:>8.3} {:>8.3} {:>8.3}  median ratio of medians {:.2}; better than flat on {}/{}; mean coverage {:.3}",
            "median",
            m.hours,
            m.mase,
            m.own_mase,
            m.ratio,
            m.flat_mase,
            m.coverage,
            m.crps_rel,
            m.ratio_of_medians,
            m.better_than_flat,
            m.series,
            m.coverage_mean
        );
    }
    out
}

/// `evaluate --cold-start`'s CSV: one row per series and history length
/// (the table's medians are left to the reader's tool).
#[must_use]
pub fn render_cold_start_csv(scores: &[ColdStartScore]) -> String {
    let mut out =
        String::from("series,hours,shape,mase,own_mase,ratio,flat_mase,coverage,crps_rel\n");
    for s in scores {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            csv_field(&s.series),
            s.hours,
            csv_field(&s.shape),
            s.mase,
            s.own_mase,
            s.mase / s.own_mase,
            s.flat_mase,
            s.coverage,
            s.crps_rel
        );
    }
    out
}

/// `evaluate --cold-start`'s JSON: every score (`series`), then per
/// history length the medians (`summary`, as the table's last lines).
#[must_use]
pub fn render_cold_start_json(scores: &[ColdStartScore]) -> String {
    let report = serde_json::json!({
        "series": scores,
        "summary": cold_start_summary(scores),
    });
    let mut text = serde_json::to_string_pretty(&report).expect("scores serialise");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cold_start_csv_has_a_row_per_series_and_history_and_quotes_names() {
        let score = |series: &str, hours| ColdStartScore {
            series: series.into(),
            hours,
            shape: "shape-1".into(),
            mase: 0.6,
            own_mase: 0.5,
            flat_mase: 0.7,
            coverage: 0.9,
            crps_rel: 0.8,
        };
        let csv = render_cold_start_csv(&[score("web", 6), score("a,b", 24)]);
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(
            rows,
            [
                "series,hours,shape,mase,own_mase,ratio,flat_mase,coverage,crps_rel",
                "web,6,shape-1,0.6,0.5,1.2,0.7,0.9,0.8",
                "\"a,b\",24,shape-1,0.6,0.5,1.2,0.7,0.9,0.8",
            ]
        );
    }

    #[test]
    fn the_cold_start_json_carries_each_historys_medians() {
        let score = |series: &str, hours, mase: f64, coverage: f64| ColdStartScore {
            series: series.into(),
            hours,
            shape: "flat".into(),
            mase,
            own_mase: 0.5,
            flat_mase: 0.7,
            coverage,
            crps_rel: 0.8,
        };
        let scores = [
            score("a", 24, 0.5, 1.0),
            score("a", 6, 1.0, 0.8),
            score("b", 6, 0.6, 0.9),
            score("c", 6, 0.8, 0.7),
        ];
        let json: serde_json::Value =
            serde_json::from_str(&render_cold_start_json(&scores)).unwrap();
        assert_eq!(json["series"].as_array().unwrap().len(), 4);
        let summary = json["summary"].as_array().unwrap();
        assert_eq!(summary.len(), 2);
        let six = &summary[0];
        assert_eq!(six["hours"], 6);
        assert_eq!(six["series"], 3);
        assert!((six["mase"].as_f64().unwrap() - 0.8).abs() < 1e-12);
        assert!((six["ratio"].as_f64().unwrap() - 1.6).abs() < 1e-12);
        assert!((six["coverage_mean"].as_f64().unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(six["better_than_flat"], 1);
        assert_eq!(summary[1]["hours"], 24);
    }
}
