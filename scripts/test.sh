#!/usr/bin/env bash
# Every check, as CI runs it: formatting, lints, doc-tests, each benchmark run
# once, the notebooks executed on fresh outputs, then all tests (unit,
# property, integration, snapshot) last, so that the run closes on the test
# runner's summary.
# Needs the Rust toolchain (cargo-nextest is used when present), Go (it
# builds kube-apiserver and etcd for the cluster tests, once) and
# python3; installs the Debian packages the integration tests run for real
# (Prometheus, Alertmanager, Pushgateway) when they are missing, and the
# notebooks' pinned Python packages into .venv-notebooks (made when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# cargo's first step in every invocation runs `rustc -` with stdin opened from
# /dev/null. When /dev/null is a regular file, build scripts' output piles up
# in it and rustc parses that as its input: "failed to run `rustc` to learn
# about target-specific information ... unknown start of token". homeostat's
# own `--output /dev/null` made it one, as root, before output paths were
# checked (a report renamed over the device); a machine may still carry such
# a file. Before every cargo step /dev/null is made the device again, or,
# when that is not allowed, emptied.
sane_dev_null() {
  [ -c /dev/null ] && return 0
  # No redirection to /dev/null in here: it would make the file again.
  echo "== /dev/null is not a character device here ($(stat -c '%F, %s bytes' /dev/null 2>&1)); repairing"
  local sudo="" attempt
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  for attempt in 1 2 3; do
    $sudo rm -f /dev/null && $sudo mknod -m 666 /dev/null c 1 3 && $sudo chmod 666 /dev/null || true
    [ -c /dev/null ] && return 0
  done
  # No device node allowed: an empty regular file still reads as empty.
  echo "== cannot make /dev/null a device; emptying it instead"
  [ -e /dev/null ] || $sudo touch /dev/null || true
  $sudo truncate -s 0 /dev/null || true
  $sudo chmod 666 /dev/null || true
}
sane_dev_null
# Nothing here reads the terminal; a stray stdin must not reach a child.
exec </dev/null

# Every cargo call goes through here, so that /dev/null is sane for it.
cargo_step() {
  sane_dev_null
  cargo "$@"
}

# Debian packages the tests use: the real servers they start on loopback, and tools.
need_packages=()
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need_packages+=(prometheus)
[ -x /usr/bin/prometheus-alertmanager ] || need_packages+=(prometheus-alertmanager)
[ -x /usr/bin/prometheus-pushgateway ] || need_packages+=(prometheus-pushgateway)
[ -x /usr/bin/victoria-metrics ] || need_packages+=(victoria-metrics)   # the same API, another server (tests/it/prometheus.rs)
[ -x /usr/bin/openssl ] || need_packages+=(openssl)   # test certificates for HTTPS
command -v curl >/dev/null 2>&1 || need_packages+=(curl)   # the fetch benchmark's baseline
[ -x /usr/bin/socat ] || need_packages+=(socat)   # a relay that cuts answers off (tests/it/prometheus.rs)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "== installing ${need_packages[*]} (Debian packages the tests use)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends "${need_packages[@]}" \
    || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${need_packages[@]}"; }
  # The package starts a system Prometheus on :9090; the tests start their
  # own on free ports and do not need it.
  if command -v systemctl >/dev/null 2>&1; then
    for unit in prometheus prometheus-alertmanager prometheus-pushgateway victoria-metrics; do
      $sudo systemctl stop "$unit" >/dev/null 2>&1 || true
    done
  fi
fi

echo "== cargo fmt --check"
cargo_step fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo_step clippy --all-targets -- -D warnings

echo "== doc-tests"
cargo_step test --doc

echo "== rustdoc: no broken or private intra-doc links"
RUSTDOCFLAGS="-D warnings" cargo_step doc --no-deps --lib

echo "== benchmarks, each run once (timings come from 'cargo bench', not from here)"
cargo_step test --benches

echo "== notebooks (pinned packages in .venv-notebooks; see notebooks/README.md)"
cargo_step build
# A failing notebook fails the run, but only after the tests have run too:
# otherwise one stale notebook hides every test result.
notebooks_failed=0
bash scripts/notebooks.sh || notebooks_failed=1

echo "== the Kubernetes control plane for the cluster tests (built once, cached in target/controlplane)"
bash scripts/controlplane.sh

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo_step nextest run --lib --bins --tests --no-fail-fast
else
  cargo_step test --lib --bins --tests --no-fail-fast
fi

if [ "$notebooks_failed" -ne 0 ]; then
  echo "== the notebooks failed (see above)" >&2
  exit 1
fi
