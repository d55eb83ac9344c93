#!/usr/bin/env bash
# Renders homeostat's HTML reports (recommend on the bundled example, and
# the backtest of data/backtest.yaml) and takes a headless-Chromium
# screenshot of each, to look at:
#   bash scripts/screenshot.sh [OUTDIR]     (default: target/screenshots)
# Installs Debian's chromium when it is missing (sudo unless root). Uses
# $HOMEOSTAT_BIN, default target/release/homeostat, built when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/screenshots}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (Debian package)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends chromium \
    || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends chromium; }
fi

bin="${HOMEOSTAT_BIN:-target/release/homeostat}"
if [ -z "${HOMEOSTAT_BIN:-}" ] && [ ! -x "$bin" ]; then
  cargo build --release
fi

# Exit code 1 (a workload needs an operator) still writes the report.
"$bin" recommend --format html --output "$out/recommend.html" || [ $? -eq 1 ]
"$bin" backtest --config data/backtest.yaml --format html --output "$out/backtest.html" || [ $? -eq 1 ]

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
shoot() { # page.html shot.png height
  # The flags keep Chromium off the network (this machine has none) and
  # out of any sandbox a container does not allow.
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size="1100,$3" \
    --screenshot="$2" "file://$1" >/dev/null 2>&1
  echo "$2"
}
shoot "$out/recommend.html" "$out/recommend.png" 5200
shoot "$out/backtest.html" "$out/backtest.png" 7000
