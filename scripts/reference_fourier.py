#!/usr/bin/env python3
"""Reference values for homeostat's trend + Fourier regression, made with numpy
and statsmodels.

Fits the design homeostat documents in src/core/model/regression.rs — intercept,
trend i/n - 1/2, 8 daily and 13 weekly harmonics (every 7th weekly one left
out), phases from the wall clock — over the last 28 days of
data/nab__twitter_volume_fb.csv, twice:

- ordinary least squares (numpy.linalg.lstsq) -> tests/reference/fourier_twitter_fb.csv
- Huber M-estimate, t = 2, scale = MAD about zero, re-estimated each round
  (statsmodels RLM, iterated to convergence) -> tests/reference/fourier_robust_twitter_fb.csv

and writes the fitted values of the last day of the history (the forecast
beyond it damps the trend, which neither tool does).

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install numpy statsmodels
    /tmp/ref/bin/python scripts/reference_fourier.py
"""
import csv
import math
import os
from datetime import datetime

import numpy as np
import statsmodels
import statsmodels.api as sm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "data", "nab__twitter_volume_fb.csv")
OUT = os.path.join(ROOT, "tests", "reference")
DAY, WEEK, STEP = 86400, 7 * 86400, 300
HISTORY = 28 * 288


def features(ts: int, index: int, n: int) -> list[float]:
    row = [index / n - 0.5]
    day = 2 * math.pi * (ts % DAY) / DAY
    row += [f(k * day) for k in range(1, 9) for f in (math.sin, math.cos)]
    week = 2 * math.pi * (ts % WEEK) / WEEK
    row += [f(k * week) for k in range(1, 14) if k % 7 for f in (math.sin, math.cos)]
    return row


def write(name: str, how: str, timestamps, fitted) -> None:
    with open(os.path.join(OUT, name), "w") as f:
        f.write("# %s; made by scripts/reference_fourier.py\n" % how)
        f.write("timestamp,fitted\n")
        for ts, v in zip(timestamps, fitted):
            f.write("%d,%r\n" % (ts, float(v)))


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
    last_day = [ts for ts, _ in rows[-288:]]

    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    write("fourier_twitter_fb.csv", "numpy %s lstsq" % np.__version__, last_day, (x @ beta)[-288:])

    rlm = sm.RLM(y, x, M=sm.robust.norms.HuberT(t=2.0)).fit(
        scale_est="mad", conv="coefs", tol=1e-12, maxiter=1000)
    write("fourier_robust_twitter_fb.csv",
          "statsmodels %s RLM HuberT(t=2), scale_est='mad', %d iterations" % (statsmodels.__version__, rlm.fit_history["iteration"]),
          last_day, (x @ rlm.params)[-288:])


if __name__ == "__main__":
    main()
