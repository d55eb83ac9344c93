#!/usr/bin/env bash
# Every check, as CI runs it: formatting, lints, doc-tests, each benchmark run
# once, then all tests (unit, property, integration, snapshot) last, so that
# the run closes on the test runner's summary.
# Needs only the Rust toolchain (cargo-nextest is used when present).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --all-targets -- -D warnings

echo "== doc-tests"
cargo test --doc

echo "== benchmarks, each run once (timings come from 'cargo bench', not from here)"
cargo test --benches

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --lib --bins --tests --no-fail-fast
else
  cargo test --lib --bins --tests --no-fail-fast
fi
