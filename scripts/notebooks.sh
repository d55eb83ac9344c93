#!/usr/bin/env bash
# Executes every notebook in notebooks/ against fresh homeostat outputs, so
# that the notebooks cannot rot: a cell that raises (an assertion included)
# fails this script. Called by scripts/test.sh after the binary is built.
#
#   bash scripts/notebooks.sh                 # run homeostat, then the notebooks
#   bash scripts/notebooks.sh --outputs DIR   # the notebooks on existing outputs
#
# Environment:
#   HOMEOSTAT_VENV   the virtual environment (default .venv-notebooks), made
#                    with python3 -m venv and notebooks/requirements.txt when
#                    missing, reinstalled when requirements.txt changes
#   HOMEOSTAT_BIN    the homeostat binary (default target/debug/homeostat)
#   KEEP_OUTPUTS=1   keep the temporary outputs folder (its path is printed)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: bash scripts/notebooks.sh [--outputs DIR]" >&2
  exit 2
}

outputs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --outputs)
      [ $# -ge 2 ] || usage
      outputs="$2"
      shift 2
      ;;
    --outputs=*)
      outputs="${1#--outputs=}"
      shift
      ;;
    -h | --help) usage ;;
    *)
      echo "notebooks.sh: unknown argument '$1'" >&2
      usage
      ;;
  esac
done
if [ -n "$outputs" ]; then
  [ -d "$outputs" ] || { echo "notebooks.sh: --outputs $outputs is not a folder" >&2; exit 2; }
  outputs="$(cd "$outputs" && pwd)"
fi

# a. The virtual environment.
VENV="${HOMEOSTAT_VENV:-.venv-notebooks}"
REQUIREMENTS=notebooks/requirements.txt
STAMP="$VENV/.requirements.sha256"
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating the virtual environment $VENV"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV"; then
    rm -rf "$VENV"
    echo "== installing python3-venv (python3 -m venv failed)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends python3-venv \
      || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends python3-venv; }
    python3 -m venv "$VENV"
  fi
fi
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  echo "== pip install -r $REQUIREMENTS into $VENV"
  rm -f "$STAMP"
  start=$SECONDS
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$want" >"$STAMP"
  echo "   installed in $((SECONDS - start))s"
fi

# b, c. The outputs the notebooks read.
if [ -n "$outputs" ]; then
  OUT="$outputs"
  echo "== using the outputs in $OUT"
else
  if [ -n "${HOMEOSTAT_BIN:-}" ]; then
    BIN="$HOMEOSTAT_BIN"
  else
    BIN=target/debug/homeostat
    if [ ! -x "$BIN" ]; then
      echo "notebooks.sh: $BIN is missing: run 'cargo build' first (or set HOMEOSTAT_BIN)" >&2
      exit 1
    fi
  fi
  [ -x "$BIN" ] || { echo "notebooks.sh: HOMEOSTAT_BIN=$BIN is not an executable" >&2; exit 1; }

  OUT="$(mktemp -d)"
  if [ "${KEEP_OUTPUTS:-}" = 1 ]; then
    trap 'echo "== outputs kept in $OUT"' EXIT
  else
    trap 'rm -rf "$OUT"' EXIT
  fi

  # Exit code 1 of recommend, backtest and evaluate means "some workload
  # needs an operator": the outputs are complete. 2 (or anything else) fails.
  run() {
    echo "== homeostat $*"
    local rc=0 start=$SECONDS
    "$BIN" "$@" >"$OUT/homeostat.log" 2>&1 || rc=$?
    echo "   $((SECONDS - start))s"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
      cat "$OUT/homeostat.log" >&2
      echo "notebooks.sh: homeostat $1 exited with $rc" >&2
      exit 1
    fi
  }
  # The Parquet export writes the JSON report beside the workloads' files.
  run recommend --format parquet --output "$OUT/recommend"
  cp "$OUT/recommend/report.json" "$OUT/report.json"
  run evaluate --input data --test 7d --format csv --output "$OUT/evaluation.csv" --export "$OUT/evaluation"
  run backtest --config data/backtest.yaml --format json --output "$OUT/backtest.json"
  run backtest --config data/backtest.yaml --format csv --output "$OUT/backtest.csv"
fi

# d. Every notebook, executed; a cell that raises fails nbconvert and so this.
shopt -s nullglob
notebooks=(notebooks/*.ipynb)
[ ${#notebooks[@]} -gt 0 ] || { echo "notebooks.sh: no notebooks/*.ipynb" >&2; exit 1; }
echo "== executing ${#notebooks[@]} notebooks (executed copies in $OUT/executed)"
for nb in "${notebooks[@]}"; do
  start=$SECONDS
  if ! HOMEOSTAT_OUTPUTS="$OUT" "$VENV/bin/jupyter" nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=600 --output-dir "$OUT/executed" "$nb" \
    >"$OUT/nbconvert.log" 2>&1; then
    cat "$OUT/nbconvert.log" >&2
    echo "notebooks.sh: $nb failed" >&2
    exit 1
  fi
  echo "   $nb: $((SECONDS - start))s"
done
echo "== notebooks: ${#notebooks[@]} executed"
