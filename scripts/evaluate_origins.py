#!/usr/bin/env python3
"""`homeostat evaluate` from several origins instead of one.

    python3 scripts/evaluate_origins.py                 # data/ and data/decisions/
    python3 scripts/evaluate_origins.py --origins 6 --apart 17h DIR...
    python3 scripts/evaluate_origins.py --compare OTHER_BINARY

The evaluation protocol (DESIGN.md) holds out the last week of each trace
and forecasts it from one moment. Its 1-hour and 6-hour scores then rest on
one hour and one six-hour stretch per trace: a forecast change can move
them by more than it moves anything real (a median of 13 series jumped
0.38 -> 0.44 at 6 h on one origin while six origins said 0.59 -> 0.66,
2026-12-05). This script cuts each trace's end back by k x `--apart`
(k = 0 .. origins-1; 17 h, so the origins fall at different hours of the
day), evaluates every cut, and reports per horizon the median and mean over
traces of each trace's mean MASE over the origins, the median CRPS
relative to seasonal naive and the mean coverage of the 90% interval, for
the bare model and for the forecast `recommend` uses (`adapted`).

Only the Python standard library; the cut copies go to
target/evaluate-origins/.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "evaluate-origins"
HORIZONS = ["1h", "6h", "1d", "7d"]


def seconds(span):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(float(span[:-1]) * units[span[-1]])


def parse_time(text):
    text = text.strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    text = text.replace("Z", "+00:00").replace(" ", "T")
    t = datetime.fromisoformat(text)
    if not t.tzinfo:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def cut(folder, k, apart, into):
    """Copies of the CSV traces of `folder` ending k x apart earlier."""
    into.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or rows[0][:2] != ["timestamp", "value"]:
            continue  # a manifest or anything else that is no trace
        body = rows[1:]
        end = max(parse_time(r[0]) for r in body)
        with open(into / path.name, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(rows[0])
            out.writerows(r for r in body if parse_time(r[0]) <= end - k * apart)


def evaluate(binary, folder):
    done = subprocess.run(
        [str(binary), "evaluate", "--input", str(folder), "--format", "json"],
        capture_output=True,
        text=True,
    )
    if not done.stdout.strip():
        sys.exit(f"{binary} evaluate --input {folder} wrote nothing: {done.stderr}")
    return json.loads(done.stdout)


def summary(results):
    """{(key, horizon): (median MASE, mean MASE, median crps_rel, mean coverage)}."""
    table = {}
    for key in ("scores", "adapted"):
        for horizon in HORIZONS:
            per_trace = defaultdict(list)
            for result in results:
                for series in result["series"]:
                    for score in series.get(key, []):
                        if score["horizon"] == horizon and score.get("mase") is not None:
                            per_trace[series["series"]].append(score)
            if not per_trace:
                continue
            mase = [statistics.mean(s["mase"] for s in v) for v in per_trace.values()]
            crps = [
                statistics.mean(s["crps_rel"] for s in v if s.get("crps_rel") is not None)
                for v in per_trace.values()
                if any(s.get("crps_rel") is not None for s in v)
            ]
            coverage = [
                statistics.mean(s["coverage"] for s in v if s.get("coverage") is not None)
                for v in per_trace.values()
                if any(s.get("coverage") is not None for s in v)
            ]
            table[(key, horizon)] = (
                statistics.median(mase),
                statistics.mean(mase),
                statistics.median(crps) if crps else float("nan"),
                statistics.mean(coverage) if coverage else float("nan"),
            )
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", default=["data", "data/decisions"])
    parser.add_argument("--origins", type=int, default=6)
    parser.add_argument("--apart", default="17h")
    parser.add_argument("--binary", default=os.environ.get(
        "HOMEOSTAT", str(ROOT / "target" / "release" / "homeostat")))
    parser.add_argument("--compare", help="a second binary, scored the same way")
    args = parser.parse_args()
    apart = seconds(args.apart)
    binaries = [args.binary] + ([args.compare] if args.compare else [])
    shutil.rmtree(OUT, ignore_errors=True)
    print(f"# {args.origins} origins, {args.apart} apart; per horizon: MASE median / mean "
          "over traces (each trace's mean over the origins), median crps_rel, mean coverage")
    for folder in args.folders:
        folder = (ROOT / folder) if not Path(folder).is_absolute() else Path(folder)
        cuts = []
        for k in range(args.origins):
            into = OUT / folder.name / str(k)
            cut(folder, k, apart, into)
            cuts.append(into)
        for binary in binaries:
            table = summary([evaluate(binary, c) for c in cuts])
            for key in ("scores", "adapted"):
                cells = [
                    f"{h} {m:.3f}/{a:.3f} crps {c:.3f} cov {v:.3f}"
                    for h in HORIZONS
                    if (key, h) in table
                    for (m, a, c, v) in [table[(key, h)]]
                ]
                label = "bare" if key == "scores" else "adapted"
                print(f"{folder.name:10s} {Path(binary).name:10s} {label:8s} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
