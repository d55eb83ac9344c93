#!/usr/bin/env python3
"""Check homeostat's scored forecasts against issue 3's targets.

    check-targets.py PEERS.csv OURS.csv [TIMINGS.csv]

PEERS.csv is shared/bench/results-shared.csv, OURS.csv what score_external.py
wrote for homeostat (or `homeostat evaluate --input data --format csv`, which
differs only on nasa_http: the scorer fills its missing minutes with zeros). Prints, per horizon, our median/mean MASE against 0.93 x the
best peer's, every series where we are worse than 1.5 x the best peer on it, the
mean 90% coverage and median relative width; exits 1 when a target is missed.
Speed is not checked here: it is measured with criterion (benches/fit.rs).
"""
import csv
import statistics
import sys


def load(path):
    """Rows of a scorer CSV, or of `homeostat evaluate --format csv` (renamed)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r.setdefault("status", "ok")
        if "coverage" in r:
            r["coverage90"], r["width90_rel"] = r["coverage"], r["width_rel"]
    return [r for r in rows if r["status"] == "ok"]


def num(x):
    return float(x) if x not in ("", "nan") else float("nan")


def main():
    peers, ours = load(sys.argv[1]), load(sys.argv[2])
    failed = []
    for h in ("7d", "1d"):
        mine = {r["series"]: r for r in ours if r["horizon"] == h}
        models = sorted({r["model"] for r in peers})
        by_model = {m: [r for r in peers if r["model"] == m and r["horizon"] == h] for m in models}
        print(f"## horizon {h}: {len(mine)} series")
        for stat, fn in (("median", statistics.median), ("mean", statistics.mean)):
            best = min((fn([num(r["mase"]) for r in rs]), m) for m, rs in by_model.items() if rs)
            ours_v = fn([num(r["mase"]) for r in mine.values()])
            ok = ours_v <= 0.93 * best[0]
            failed += [] if ok else [f"{h} {stat} MASE"]
            print(f"  MASE {stat:6} {ours_v:.3f}  target <= {0.93 * best[0]:.3f} (0.93 x {best[1]} {best[0]:.3f})  {'ok' if ok else 'MISSED'}")
        for s, r in sorted(mine.items()):
            rows = [p for p in peers if p["series"] == s and p["horizon"] == h]
            best = min((num(p["mase"]), p["model"]) for p in rows)
            ratio = num(r["mase"]) / best[0]
            flag = "BLOW-UP" if ratio > 1.5 else ""
            if flag:
                failed.append(f"{h} {s}")
            print(f"  {s:34} MASE {num(r['mase']):.3f}  best peer {best[0]:.3f} ({best[1]:15})  x{ratio:.2f}  cov {num(r['coverage90']):.3f}  width {num(r['width90_rel']):.2f} {flag}")
        cov = statistics.mean(num(r["coverage90"]) for r in mine.values())
        width = statistics.median(num(r["width90_rel"]) for r in mine.values())
        ok = 0.87 <= cov <= 0.93
        failed += [] if ok else [f"{h} coverage"]
        print(f"  coverage90 mean {cov:.3f} (target 0.87..0.93) {'ok' if ok else 'MISSED'}; width median {width:.2f}")
        for m, rs in by_model.items():
            if rs and statistics.mean(num(r["coverage90"]) for r in rs) >= 0.85:
                pw = statistics.median(num(r["width90_rel"]) for r in rs)
                if width >= pw:
                    failed.append(f"{h} width vs {m}")
                    print(f"  width {width:.2f} not below {m} {pw:.2f}  MISSED")
    print("targets missed: " + (", ".join(failed) if failed else "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
