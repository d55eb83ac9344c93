//! Sharding a fleet (`--shard i/n`) and merging the shards' reports
//! (`report merge`), through the real binary on a synthetic fleet.

use crate::support::{homeostat, stderr};
use std::path::Path;

/// The report without its time stamp.
fn stamped_out(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("generated"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ids(report: &Path) -> Vec<String> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{}/{}",
                w["namespace"].as_str().unwrap(),
                w["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn shards_cover_every_workload_once_and_merge_into_the_unsharded_report() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    let made = homeostat(&[
        "synth",
        "--workloads",
        "30",
        // Older than two weeks: no workload is steered by the fleet's
        // shapes, which a shard learns from its own workloads (README,
        // "Cold start"), so that the merged report is the unsharded one.
        "--days",
        "15d",
        "--seed",
        "3",
        "--output",
        fleet.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    let config = fleet.join("homeostat.yaml");
    let config = config.to_str().unwrap();
    let whole = dir.path().join("whole.json");
    let run = homeostat(&[
        "recommend",
        "--config",
        config,
        "--format",
        "json",
        "--output",
        whole.to_str().unwrap(),
    ]);
    assert!(run.status.code().unwrap() <= 1, "{}", stderr(&run));
    let all = ids(&whole);
    assert_eq!(all.len(), 30);

    let count = 4;
    let mut shards = Vec::new();
    let mut covered = Vec::new();
    for index in 0..count {
        let path = dir.path().join(format!("shard-{index}.json"));
        let shard = format!("{index}/{count}");
        let run = homeostat(&[
            "recommend",
            "--config",
            config,
            "--shard",
            &shard,
            "--format",
            "json",
            "--output",
            path.to_str().unwrap(),
        ]);
        assert!(run.status.code().unwrap() <= 1, "{}", stderr(&run));
        let held = ids(&path);
        assert!(
            !held.is_empty() && held.len() < 30,
            "shard {shard}: {}",
            held.len()
        );
        covered.extend(held);
        shards.push(path.to_str().unwrap().to_string());
    }
    covered.sort();
    let mut expected = all.clone();
    expected.sort();
    assert_eq!(covered, expected, "every workload in exactly one shard");

    for format in ["json", "markdown", "csv", "table"] {
        let mut args = vec!["report", "merge"];
        args.extend(shards.iter().map(String::as_str));
        args.extend(["--config", config, "--format", format]);
        let merged = homeostat(&args);
        assert!(merged.status.code().unwrap() <= 1, "{}", stderr(&merged));
        let unsharded = homeostat(&["recommend", "--config", config, "--format", format]);
        assert_eq!(
            stamped_out(&String::from_utf8_lossy(&merged.stdout)),
            stamped_out(&String::from_utf8_lossy(&unsharded.stdout)),
            "--format {format}"
        );
    }

    // The merged HTML page: well formed, every workload's section in it;
    // the shards hold no histories, so no charts and no chart legend.
    let mut args = vec!["report", "merge"];
    args.extend(shards.iter().map(String::as_str));
    args.extend(["--config", config, "--format", "html"]);
    let merged = homeostat(&args);
    assert!(merged.status.code().unwrap() <= 1, "{}", stderr(&merged));
    let page = String::from_utf8(merged.stdout).unwrap();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let document =
        roxmltree::Document::parse_with_options(&page, options).expect("well-formed HTML");
    let sections = document
        .descendants()
        .filter(|n| n.has_tag_name("section"))
        .count();
    assert_eq!(sections, all.len());
    assert!(!document.descendants().any(|n| n.tag_name().name() == "svg"));
    assert!(!page.contains("Charts:"), "no legend for charts not drawn");

    // A missing shard is named; the same shard twice is refused.
    let mut args = vec!["report", "merge"];
    args.extend(shards[1..].iter().map(String::as_str));
    args.extend(["--config", config]);
    args.extend(["--format", "json"]);
    let missing = homeostat(&args);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("in the config but in no shard report"),
        "{}",
        stderr(&missing)
    );
    // The merged file says so too: the missing shard's workloads are in it
    // as errors, so that a job collecting the file cannot take it for the
    // whole fleet's.
    let merged: serde_json::Value = serde_json::from_slice(&missing.stdout).unwrap();
    let merged = merged["workloads"].as_array().unwrap();
    assert_eq!(merged.len(), all.len());
    let errors: Vec<&serde_json::Value> =
        merged.iter().filter(|w| w["status"] == "error").collect();
    assert!(!errors.is_empty());
    assert!(
        errors[0]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("in the config but in no shard report"),
        "{:?}",
        errors[0]
    );
    let twice = homeostat(&["report", "merge", &shards[0], &shards[0]]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        stderr(&twice).contains("is in two shard reports"),
        "{}",
        stderr(&twice)
    );
}
