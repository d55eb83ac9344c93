#!/usr/bin/env python3
"""The decision benchmark: what homeostat's bounds do on real traces.

    python3 scripts/decisions.py              # uses target/release/homeostat
    HOMEOSTAT=target/debug/homeostat python3 scripts/decisions.py

Replays the last two weeks of every trace with `homeostat backtest --span 14d
--replan 6h` (a batch job every 6 hours, each run seeing only the data before
it; a simulated HPA on the real load), and prints one Markdown report:

1. the bundled example (`data/homeostat.yaml`): the recommended range
   (`horizon`) and the schedule against today's range (`current:`);
2. the decision set: every trace of `data/` and `data/decisions/`, as a
   service whose median load over the replayed weeks needs 5 replicas, with
   a generous range today (2..20, the `reactive` policy) and the tight rule
   of thumb (`tight`: min for the last week's 5th percentile, max 1.2 x the
   last 28 days' highest);
3. run-to-run stability of the 6-hourly runs (share of runs in which max
   changed, largest jump, needs_operator pages per week).

Only the Python standard library; writes target/decisions/{*.yaml,*.json,
report.md}. Nothing here is tuned per trace.
"""

import csv
import json
import os
import statistics
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "decisions"
BIN = Path(os.environ.get("HOMEOSTAT", ROOT / "target" / "release" / "homeostat"))
SPAN_DAYS = 14
ARGS = ["--span", f"{SPAN_DAYS}d", "--replan", "6h", "--format", "json"]


def parse_time(text):
    text = text.strip()
    if text.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    text = text.replace("Z", "+00:00").replace(" ", "T")
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def last_days(path, days):
    """The loads of the last `days` of a timestamp,value CSV."""
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                rows.append((parse_time(row["timestamp"]), float(row["value"])))
            except (KeyError, ValueError):
                continue
    end = max(t for t, _ in rows)
    return [v for t, v in rows if t > end - timedelta(days=days)]


def median_of_last(path, days):
    """Median load over the last `days` of a timestamp,value CSV."""
    return statistics.median(last_days(path, days))


def highest_of_last(path, days):
    """Highest load over the last `days` of a timestamp,value CSV."""
    return max(last_days(path, days))


# The decision set's max ceiling (see decision_config).
MAX_CEILING = 200


def workload_name(path):
    """The decision set's name for the trace at `path`."""
    return path.stem.replace("__", "-").replace("_", "-").lower()


def target_per_replica(path):
    """The load one replica carries so that the trace's median load over
    the replayed weeks needs 5 replicas, as the config writes it."""
    return float(f"{max(median_of_last(path, SPAN_DAYS) / 5.0, 1e-6):.6g}")


def decision_config(traces, targets):
    lines = [
        "# Written by scripts/decisions.py: every trace as a service whose",
        "# median load over the replayed weeks needs 5 replicas; 2..20 today.",
        "defaults:",
        "  history: 28d",
        "  horizon: 7d",
        "workloads:",
    ]
    for path in traces:
        lines += [
            f"  - name: {workload_name(path)}",
            f"    namespace: {path.parent.name}",
            f"    file: {path.resolve()}",
            f"    target_per_replica: {targets[path]:.6g}",
            "    min_replicas: {ceiling: 100}",
            f"    max_replicas: {{ceiling: {MAX_CEILING}}}",
            "    current: {min_replicas: 2, max_replicas: 20}",
        ]
    return "\n".join(lines) + "\n"


def backtest(config, name):
    out = OUT / f"{name}.json"
    run = subprocess.run(
        [str(BIN), "backtest", "--config", str(config), *ARGS, "--output", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if run.returncode not in (0, 1) or not out.exists():
        sys.exit(f"backtest of {config} failed ({run.returncode}):\n{run.stderr}")
    if run.stderr.strip():
        print(run.stderr.strip(), file=sys.stderr)
    return json.loads(out.read_text())


def outcome(w, policy):
    return next(p for p in w["policies"] if p["policy"] == policy)


def ratio(new, old):
    return None if old <= 0 else new / old


def pct(r, decimals=0):
    return "n/a" if r is None else f"{(r - 1) * 100:+.{decimals}f}%"


def median_ratio(workloads, policy, baseline, key):
    values = [
        ratio(outcome(w, policy)[key], outcome(w, baseline)[key]) for w in workloads
    ]
    values = [v for v in values if v is not None]
    return (statistics.median(values) if values else None), len(values)


def per_workload_table(workloads, baselines):
    head = ["workload"]
    for b in baselines:
        head.append(f"overload min {b}")
    head += [
        "overload min horizon",
        "overload min schedule",
        "oracle",
        "replica-h " + baselines[0],
        "replica-h schedule",
        "unserved % " + baselines[0] + " / horizon",
        "changes/day schedule",
        "max changed",
        "max jump",
        "pages/wk",
    ]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    days = SPAN_DAYS
    for w in workloads:
        cells = [f"{w['namespace']}/{w['name']}"]
        for b in baselines:
            cells.append(f"{outcome(w, b)['overload_minutes']:.0f}")
        h, s, o = (outcome(w, p) for p in ("horizon", "schedule", "oracle"))
        base = outcome(w, baselines[0])
        st = w["stability"]
        cells += [
            f"{h['overload_minutes']:.0f}",
            f"{s['overload_minutes']:.0f}",
            f"{o['overload_minutes']:.0f}",
            f"{base['replica_hours']:.0f}",
            f"{s['replica_hours']:.0f} ({pct(ratio(s['replica_hours'], base['replica_hours']))})",
            f"{100 * base['unserved_share']:.2f} / {100 * h['unserved_share']:.2f}",
            f"{s['changes'] / days:.1f}",
            f"{100 * st['max_changed_share']:.0f}%",
            f"×{st['largest_max_jump']:.2f}",
            f"{st['pages_per_week']:.1f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def no_fair_tight(w):
    """Tight had too little load before the replay to set its range from
    (`tight_baseline: false`, as its verdict says): no (fair) baseline for
    that trace."""
    return not w["tight_baseline"]


def summary(workloads, baselines, beyond_ceiling=None):
    lines = []
    for policy in ("horizon", "schedule"):
        for b in baselines:
            # Against tight, only the traces where its rule had the week it
            # reads (the others' verdicts say "no baseline here").
            judged = [w for w in workloads if not (b == "tight" and no_fair_tight(w))]
            left_out = [w["name"] for w in workloads if w not in judged]
            over, n = median_ratio(judged, policy, b, "overload_minutes")
            hours, m = median_ratio(judged, policy, b, "replica_hours")
            worse = [
                w["name"]
                for w in judged
                if outcome(w, policy)["overload_minutes"]
                > outcome(w, b)["overload_minutes"] + 1e-9
            ]
            note = (
                f" ({len(left_out)} left out, tight having less than a week before the replay: "
                f"{', '.join(left_out)})"
                if left_out
                else ""
            )
            lines.append(
                f"- **{policy} vs {b}**: overload minutes {pct(over)} (median of the {n} "
                f"workloads with {b} overload), replica-hours {pct(hours, 1)} (median of {m}); "
                f"overloads more than {b} on {len(worse)}: {', '.join(worse) or 'none'}{note}"
            )
    b = baselines[0]
    more_unserved = [
        w["name"]
        for w in workloads
        if outcome(w, "horizon")["unserved_share"]
        > outcome(w, b)["unserved_share"] + 1e-9
    ]
    lines.append(
        f"- unserved share under the recommended range above {b}'s on "
        f"{len(more_unserved)}: {', '.join(more_unserved) or 'none'}"
    )
    st = [w["stability"] for w in workloads]
    over_quarter = [w["name"] for w in workloads if w["stability"]["max_changed_share"] > 0.25]
    big_jump = [w["name"] for w in workloads if w["stability"]["largest_max_jump"] > 1.5]
    paged = [w["name"] for w in workloads if w["stability"]["pages"] > 0]
    # Issue 18: no page on a workload whose last 28 days stayed within its
    # ceiling's capacity. Said per paging trace: did its load before or
    # during the replay (the replay and the 28 days before it) need more?
    if beyond_ceiling is not None:
        paged = [
            f"{name} ({'beyond' if beyond_ceiling(name) else 'WITHIN'} its ceiling's capacity)"
            for name in paged
        ]
    runs = sorted(s["runs"] for s in st) or [0]
    span = f"{runs[0]}" if runs[0] == runs[-1] else f"{runs[0]}–{runs[-1]}"
    lines.append(
        f"- stability over {span} runs a trace: max changed in "
        f"{100 * statistics.median(s['max_changed_share'] for s in st):.0f}% of runs (median); "
        f"above 25% on {len(over_quarter)}: {', '.join(over_quarter) or 'none'}; "
        f"a jump above ×1.5 on {len(big_jump)}: {', '.join(big_jump) or 'none'}; "
        f"needs_operator pages on {len(paged)}: {', '.join(paged) or 'none'}"
    )
    return "\n".join(lines)


def main():
    if not BIN.exists():
        sys.exit(f"no homeostat binary at {BIN}: cargo build --release first, or set HOMEOSTAT")
    OUT.mkdir(parents=True, exist_ok=True)
    report = [f"# Decision benchmark ({SPAN_DAYS} days replayed, a run every 6 hours)", ""]

    bundled = backtest(ROOT / "data" / "homeostat.yaml", "bundled")
    report += [
        "## Bundled example (`data/homeostat.yaml`, reactive = `current:`)",
        "",
        summary(bundled["workloads"], ["reactive"]),
        "",
        per_workload_table(bundled["workloads"], ["reactive"]),
        "",
    ]

    traces = [
        path
        for path in sorted((ROOT / "data").glob("*.csv"))
        + sorted((ROOT / "data" / "decisions").glob("*.csv"))
        if path.read_text().startswith("timestamp,value")
    ]
    config = OUT / "decisions.yaml"
    targets = {path: target_per_replica(path) for path in traces}
    config.write_text(decision_config(traces, targets))
    decided = backtest(config, "decisions")
    by_name = {workload_name(path): path for path in traces}

    def beyond_ceiling(name):
        path = by_name[name]
        return highest_of_last(path, SPAN_DAYS + 28) / targets[path] > MAX_CEILING

    for name, reason in decided.get("failures", []):
        report.append(f"- not replayed: {name}: {reason}")
    report += [
        f"## Decision set ({len(decided['workloads'])} real traces; reactive = generous 2..20)",
        "",
        summary(decided["workloads"], ["reactive", "tight"], beyond_ceiling),
        "",
        per_workload_table(decided["workloads"], ["reactive", "tight"]),
        "",
    ]
    text = "\n".join(report)
    (OUT / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
