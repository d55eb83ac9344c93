#!/usr/bin/env bash
# Score homeostat's forecasts with the shared peer benchmark (shared/bench/README.md):
# export the prepared series, forecast each 7 days ahead at 90%, score, summarise.
# Builds nothing: it uses an already-built binary.
#
#   scripts/score-forecasts.sh
#   HOMEOSTAT=path/to/homeostat BENCH_OUT=/tmp/bench scripts/score-forecasts.sh
#
# Writes $BENCH_OUT/{prepared/,forecasts/,logs/,timings.csv,ours.csv,summary-with-homeostat.md}.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${BENCH_VENV:-target/bench-venv}
OUT=${BENCH_OUT:-target/bench}
BENCH=${BENCH_DIR:-../shared/bench}
DATA=${BENCH_DATA:-$BENCH/../data}
if [[ -z ${HOMEOSTAT:-} ]]; then
    HOMEOSTAT=target/release/homeostat
    [[ -x $HOMEOSTAT ]] || HOMEOSTAT=target/debug/homeostat
fi
[[ -x $HOMEOSTAT ]] || { echo "no homeostat binary at $HOMEOSTAT (build it first, or set HOMEOSTAT)" >&2; exit 1; }

# 1. venv with only what the scoring scripts import, at the bench's pinned versions
if [[ ! -x $VENV/bin/python ]]; then python3 -m venv "$VENV"; fi
mapfile -t pins < <(grep -E '^(numpy|pandas|tabulate)==' "$BENCH/requirements.txt")
"$VENV/bin/pip" install -q "${pins[@]}"
PY=$VENV/bin/python

# 2. the gridded, gap-filled training parts
rm -rf "$OUT/prepared" "$OUT/forecasts" "$OUT/logs"
mkdir -p "$OUT/forecasts" "$OUT/logs"
"$PY" "$BENCH/export_prepared.py" --csv-dir "$DATA" "$OUT/prepared" >/dev/null

# 3. one timed forecast per series; a failure is logged and the others go on
echo "series,model,seconds" >"$OUT/timings.csv"
failed=()
for train in "$OUT"/prepared/*.train.csv; do
    s=$(basename "$train" .train.csv)
    t0=$EPOCHREALTIME
    if "$HOMEOSTAT" forecast --input "$train" --horizon 7d --level 90 \
        --output "$OUT/forecasts/$s.csv" 2>"$OUT/logs/$s.err"; then
        secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
        echo "$s,homeostat,$secs" >>"$OUT/timings.csv"
        printf '%-34s %8ss\n' "$s" "$secs"
    else
        failed+=("$s")
        rm -f "$OUT/forecasts/$s.csv"
        echo "FAILED $s: $(head -c 500 "$OUT/logs/$s.err")" >&2
    fi
done

# 4. score with the peers' code, then one summary with the peers' results
"$PY" "$BENCH/score_external.py" --csv-dir "$DATA" --model homeostat \
    --timings "$OUT/timings.csv" --out "$OUT/ours.csv" "$OUT/forecasts/"
"$PY" "$BENCH/summarize.py" "$BENCH/results-shared.csv" "$OUT/ours.csv" \
    --per-series --out "$OUT/summary-with-homeostat.md"

if ((${#failed[@]})); then
    echo "forecast failed for: ${failed[*]} (see $OUT/logs/)" >&2
    exit 1
fi
