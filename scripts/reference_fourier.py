#!/usr/bin/env python3
"""Reference values for homeostat's trend + Fourier regression, made with numpy.

Fits ordinary least squares (numpy.linalg.lstsq) on the same design homeostat
documents in src/model/regression.rs — intercept, trend i/n, 8 daily and 13
weekly harmonics (every 7th weekly one left out), phases from the wall clock —
over the last 28 days of data/nab__twitter_volume_fb.csv, and writes the
first day of the forecast to tests/reference/fourier_twitter_fb.csv.

    python3 scripts/reference_fourier.py      # needs numpy only
"""
import csv
import math
import os
from datetime import datetime

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "data", "nab__twitter_volume_fb.csv")
OUT = os.path.join(ROOT, "tests", "reference", "fourier_twitter_fb.csv")
DAY, WEEK, STEP = 86400, 7 * 86400, 300
HISTORY = 28 * 288


def features(ts: int, index: int, n: int) -> list[float]:
    row = [index / n]
    day = 2 * math.pi * (ts % DAY) / DAY
    row += [f(k * day) for k in range(1, 9) for f in (math.sin, math.cos)]
    week = 2 * math.pi * (ts % WEEK) / WEEK
    row += [f(k * week) for k in range(1, 14) if k % 7 for f in (math.sin, math.cos)]
    return row


def main() -> None:
    with open(SOURCE) as f:
        rows = [(int(datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp()), float(r["value"]))
                for r in csv.DictReader(f)]
    rows = rows[-HISTORY:]
    start = rows[0][0]
    assert all(ts == start + i * STEP for i, (ts, _) in enumerate(rows)), "expected a gap-free 5-minute grid"
    n = len(rows)
    x = np.array([[1.0] + features(ts, i, n) for i, (ts, _) in enumerate(rows)])
    y = np.array([v for _, v in rows])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    with open(OUT, "w") as f:
        f.write("# numpy %s lstsq; made by scripts/reference_fourier.py\n" % np.__version__)
        f.write("timestamp,mean\n")
        for i in range(n, n + 288):
            ts = start + i * STEP
            f.write("%d,%r\n" % (ts, float(np.dot([1.0] + features(ts, i, n), beta))))


if __name__ == "__main__":
    main()
