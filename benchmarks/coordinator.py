"""What the coordinator costs as endpoint names grow: CPU and memory with 2 worker processes.

Every interval the coordinator parses each worker's snapshot, merges every endpoint's window into
its cumulative histogram, judges thresholds, computes per-endpoint stats for the live view and
stats_history.csv, and writes the history rows. This runs ``surge run scenarios/names.py
--processes 2`` with 10, 100 and 1,000 names (every name gets traffic every second) against
fast_target.py and prints what the run measured of itself (summary.json ``generator``: the
coordinator's CPU over full intervals, user + system, and its peak RSS).

    .venv/bin/python benchmarks/coordinator.py
    .venv/bin/python benchmarks/coordinator.py --names 1000 --duration 60s

Goal: with 1,000 active names the coordinator stays under 20% of a core and 300 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import HERE, find_surge, parse_duration_s, start_fast_target, tail

GOAL_CPU_PERCENT = 20.0
GOAL_RSS_MB = 300.0


def run(surge: str, url: str, names: int, users: int, duration_s: float, work: Path) -> dict:
    out = work / f"names-{names}"
    env = {**os.environ, "BENCH_NAMES": str(names), "BENCH_USERS": str(users)}
    argv = [surge, "run", str(HERE / "scenarios" / "names.py"), "--host", url, "--users", str(users),
            "--spawn-rate", "1000", "--duration", f"{duration_s:g}s", "--processes", "2",
            "--threshold", "*: p99 < 10s", "--threshold", "GET /items/1: p95 < 10s",
            "--out", str(out), "--live", "lines"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration_s + 120)
    summary_path = out / "summary.json"
    if not summary_path.exists():
        raise SystemExit(f"surge exited {done.returncode} without a summary:\n{tail(done.stderr or done.stdout)}")
    return json.loads(summary_path.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", default="10,100,1000", help="comma list of endpoint-name counts")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--surge", help="surge executable (default: beside this python, or PATH)")
    args = parser.parse_args()
    surge = find_surge(args.surge)
    if not surge:
        parser.error("no surge executable; pass --surge")
    duration_s = parse_duration_s(args.duration)
    target = start_fast_target(None)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="surge-coordinator-") as tmp:
            for names in (int(n) for n in args.names.split(",")):
                s = run(surge, target.url, names, args.users, duration_s, Path(tmp))
                gen, coord = s["generator"], s["generator"]["coordinator"]
                rows.append((names, len(s["endpoints"]), s["total"]["rps"], coord["cpu_percent_mean"],
                             coord["cpu_percent_max"], coord["rss_mb_max"],
                             max(w["cpu_percent_mean"] for w in gen["workers"]), gen["partial_intervals"],
                             gen["workers_lost"]))
                print(f"{names} names done", flush=True)
    finally:
        target.stop()
    print()
    header = (f"{'names':>6} {'reported':>8} {'req/s':>8} {'coord CPU mean':>15} {'max':>6} {'coord RSS MB':>13} "
              f"{'worker CPU':>11} {'partial':>8} {'lost':>5}")
    print(header)
    print("-" * len(header))
    for names, reported, rps, mean, peak, rss, worker, partial, lost in rows:
        print(f"{names:>6} {reported:>8} {rps:>8,.0f} {mean:>14.1f}% {peak:>5.1f}% {rss:>13.1f} "
              f"{worker:>10.1f}% {partial:>8} {lost:>5}")
    names, _, _, mean, _, rss, *_ = rows[-1]
    verdict = "meets" if mean < GOAL_CPU_PERCENT and rss < GOAL_RSS_MB else "misses"
    print(f"\n{names} names: coordinator {mean:.1f}% of a core (mean), {rss:.0f} MB peak RSS; "
          f"{verdict} the goal of < {GOAL_CPU_PERCENT:.0f}% and < {GOAL_RSS_MB:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
