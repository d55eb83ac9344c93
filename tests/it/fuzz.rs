//! Fuzzing (issue 10) where cargo-fuzz cannot run (stable toolchain, no
//! network for nightly): proptest feeds the three parsers that read what
//! homeostat does not control — the load file reader (CSV and Parquet),
//! the config parser and the Prometheus answer parser — with arbitrary
//! bytes and with mutations (bytes flipped, inserted, deleted, cut,
//! repeated) of the committed corpus in tests/fuzz-corpus/. None may
//! panic; every error names what it read; every accepted load is a valid
//! one. Bounded: a few thousand cases in all, seconds in the test command;
//! `PROPTEST_CASES=100000 cargo test --release --test it fuzz::` runs longer.
//! What a run finds is kept in tests/it/fuzz.proptest-regressions (replayed
//! first every run), beside the seed corpus. The first run found a panic
//! in polars' Parquet decoder on a corrupt file, now a malformed-file error;
//! a later one an abort (a negative page count), now checked before decoding.
//! The corpus holds long lines (a 70 KB header) and control characters
//! (CR-only line ends, ESC and NUL in cells, an ESC in a workload name,
//! ±Inf answers), and every load-file error must be under 1 KB with no
//! raw control character (issue 19).

use homeostat::edge::prometheus::parse_range_answer;
use homeostat::edge::source::{parse_file, MAX_LOAD};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// `cases` cases, the failures kept in (and replayed first from) the
/// committed tests/it/fuzz.proptest-regressions: proptest's default place
/// for a test in tests/it/ is another file, which nothing replayed.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "tests/it/fuzz.proptest-regressions",
            ),
        )),
        ..ProptestConfig::with_cases(cases)
    }
}

/// Cases per parser: `default`, or `PROPTEST_CASES` for a longer run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn corpus(kind: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no corpus", dir.display());
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// One edit of a byte string, at a position given as a fraction of its length.
#[derive(Debug, Clone)]
enum Edit {
    Flip(f64, u8),
    Insert(f64, Vec<u8>),
    Delete(f64, usize),
    Cut(f64),
    Repeat(f64, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0_f64;
    // Bytes that matter to these formats, and any byte.
    let byte = prop_oneof![
        proptest::sample::select(b"\",\n\r:{}[]-+.eE0123456789 \t\\#'\0\xff".to_vec()),
        any::<u8>(),
    ];
    prop_oneof![
        (at.clone(), byte.clone()).prop_map(|(a, b)| Edit::Flip(a, b)),
        (at.clone(), proptest::collection::vec(byte, 1..8)).prop_map(|(a, b)| Edit::Insert(a, b)),
        (at.clone(), 1_usize..64).prop_map(|(a, n)| Edit::Delete(a, n)),
        at.clone().prop_map(Edit::Cut),
        (at, 1_usize..64).prop_map(|(a, n)| Edit::Repeat(a, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len();
        let place = |f: f64| ((f * len as f64) as usize).min(len);
        match edit {
            Edit::Flip(f, b) if len > 0 => {
                let i = place(*f).min(len - 1);
                bytes[i] = *b;
            }
            Edit::Flip(..) => {}
            Edit::Insert(f, new) => {
                let i = place(*f);
                bytes.splice(i..i, new.iter().copied());
            }
            Edit::Delete(f, n) => {
                let i = place(*f);
                bytes.drain(i..(i + n).min(len));
            }
            Edit::Cut(f) => bytes.truncate(place(*f)),
            Edit::Repeat(f, n) => {
                let i = place(*f);
                let chunk: Vec<u8> = bytes[i..(i + n).min(len)].to_vec();
                bytes.splice(i..i, chunk);
            }
        }
    }
    bytes
}

/// Bytes to feed: a corpus file mutated, or arbitrary bytes.
fn input(kind: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = corpus(kind);
    prop_oneof![
        4 => (
            proptest::sample::select(seeds),
            proptest::collection::vec(edit(), 1..6)
        )
            .prop_map(|(seed, edits)| mutate(seed, &edits)),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

/// A load file is either read into valid samples or refused with an error
/// that names it.
fn check_load_file(name: &str, bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let path = Path::new(name);
    match parse_file(path, bytes) {
        Ok(raw) => {
            for sample in &raw.samples {
                prop_assert!(
                    sample.value.is_finite() && (0.0..=MAX_LOAD).contains(&sample.value),
                    "accepted value {}",
                    sample.value
                );
            }
        }
        Err(e) => {
            let message = e.to_string();
            prop_assert!(
                message.starts_with(name),
                "error without the file: {message}"
            );
            // Issue 19: a message never quotes a whole file back, nor
            // carries a control character to a terminal or a log.
            prop_assert!(message.len() < 1024, "a message of {} bytes", message.len());
            prop_assert!(
                !message.chars().any(char::is_control),
                "a raw control character in {message:?}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(cases(1500)))]

    #[test]
    fn the_csv_reader_never_panics_and_names_the_file(bytes in input("csv")) {
        check_load_file("load.csv", bytes)?;
    }

    #[test]
    fn the_config_parser_never_panics_and_names_the_file(bytes in input("config")) {
        let text = String::from_utf8_lossy(&bytes);
        let path = Path::new("fuzzed.yaml");
        if let Err(e) = homeostat::app::config::parse(&text, path, Path::new(".")) {
            prop_assert!(e.to_string().contains("fuzzed.yaml"), "error without the file: {e}");
        }
    }

    #[test]
    fn the_prometheus_answer_parser_never_panics(bytes in input("prometheus")) {
        if let Ok(series) = parse_range_answer(&bytes) {
            for s in &series {
                prop_assert!(s.samples.iter().all(|x| !x.value.is_infinite()));
            }
        }
    }
}

/// A Parquet page whose value count is negative: polars' decoder took it
/// as 2^64 − 269 values and asked for 2^61 bytes, which aborted the whole
/// process (once in about five test runs, from a flipped byte). The count
/// is a zigzag varint after the data page header's field marker (0x15);
/// −269 encodes in as many bytes as 269, so the file keeps its layout.
#[test]
fn a_parquet_page_with_a_negative_value_count_is_refused_not_an_abort() {
    let mut bytes = corpus("parquet").remove(0);
    let rows = 269u64;
    let varint = |mut n: u64| {
        let mut out = Vec::new();
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(low);
                return out;
            }
            out.push(low | 0x80);
        }
    };
    let (count, negative) = (varint(2 * rows), varint(2 * rows - 1));
    let marker: Vec<u8> = std::iter::once(0x15).chain(count).collect();
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker.as_slice())
        .expect("the corpus file's first data page holds 269 values");
    bytes.splice(at + 1..at + marker.len(), negative);
    let error = parse_file(Path::new("load.parquet"), bytes)
        .expect_err("a negative count is refused")
        .to_string();
    assert!(
        error.starts_with("load.parquet") && error.contains("page value count -269"),
        "{error}"
    );
}

proptest! {
    // Parquet files are decoded by polars: slower per case.
    #![proptest_config(config(cases(300)))]

    #[test]
    fn the_parquet_reader_never_panics_and_names_the_file(bytes in input("parquet")) {
        check_load_file("load.parquet", bytes)?;
    }
}

proptest! {
    #![proptest_config(config(cases(3000)))]

    /// Whatever the HPA holds, the plan (min ≤ max, the schedule's min
    /// between them, as the pipeline makes them) and the safety rules, a
    /// patch never asks the API server for min above max or a bound below
    /// one — the refusal a real server would answer (issue 24).
    #[test]
    fn apply_never_patches_min_above_max(
        (min, max) in (1u32..60).prop_flat_map(|min| (Just(min), min..200)),
        scheduled in proptest::option::of(0u32..=100),
        (live_min, live_max) in (1u32..60).prop_flat_map(|min| (Just(min), min..200)),
        running in proptest::option::of(0u32..300),
        in_spike in any::<bool>(),
        thin in any::<bool>(),
        step_up in 1.0f64..10.0,
        step_down in 0.1f64..1.0,
        hysteresis in 0.0f64..0.5,
    ) {
        use homeostat::core::apply::{decide, ApplyRules, Baseline, LiveHpa};
        use homeostat::core::plan::{Status, WorkloadPlan};
        let scheduled = scheduled.map(|s| s.clamp(min, max));
        let plan = WorkloadPlan {
            min_replicas: Some(min),
            max_replicas: Some(max),
            scheduled_min: scheduled,
            in_spike,
            thin_interval: thin,
            ..WorkloadPlan::empty("shop", "cart", "cart", Status::Ok)
        };
        let rules = ApplyRules { max_step_up: step_up, max_step_down: step_down, hysteresis, ..ApplyRules::default() };
        for baseline in [
            Baseline::Live(LiveHpa {
                min_replicas: live_min,
                max_replicas: live_max,
                current_replicas: running,
                last_applied: None,
                other_managers: Vec::new(),
            }),
            Baseline::Unknown,
        ] {
            let change = decide(&plan, baseline, &rules);
            if change.patch {
                let (to_min, to_max) = (change.to_min.unwrap(), change.to_max.unwrap());
                prop_assert!(1 <= to_min && to_min <= to_max, "{change:?}");
            }
        }
    }
}
