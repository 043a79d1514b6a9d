"""What monitors cost a run: throughput with and without them, side by side, and sampling CPU.

    .venv/bin/python benchmarks/monitors_in_run.py [--duration 10s] [--sittings 3] [--users 20]

1. ``surge run`` with one worker process, pinned to one core, against nginx (or
   benchmarks/fast_target.py) pinned to the other, alternately without monitors
   (``--no-host-monitor``) and with all four (target = the server's pid, host, PostgreSQL on
   127.0.0.1:5432 and Redis on 127.0.0.1:6379, sampled every 1 s): requests/s and CPU per
   request of each sitting, and the ratio.
2. The sampler alone in this process, all four monitors, 1 s apart for ``--samples`` rounds:
   CPU per round as a share of one core (what the coordinator spends on monitors at 1 s).

Goal (issue 8): < 2 % throughput difference, < 1 % of a core for sampling.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, find_surge, parse_duration_s, pinned, start_target, stop, usable_cores

SCENARIO = REPO / "benchmarks" / "scenarios" / "hello.py"
DB = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"


def one_run(surge: str, url: str, core: int | None, duration_s: float, users: int, monitors: list[str],
            out: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [surge, "run", str(SCENARIO), "--host", url, "--users", str(users), "--duration", f"{duration_s}s",
            "--processes", "1", "--live", "off", "--out", str(out), *monitors]
    proc = subprocess.run(pinned(core, argv), capture_output=True, text=True, timeout=duration_s + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"surge failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    requests = summary["total"]["requests"]
    return {"rps": summary["total"]["rps"], "cpu_us_per_request": 1e6 * cpu_s / max(requests, 1),
            "monitors": sorted(summary.get("monitors", {}))}


def sampling_cost(samples: int, target_pid: int) -> float:
    """CPU of this process per 1 s sampling round of all four monitors, % of a core."""
    sys.path.insert(0, str(REPO / "src"))
    from surge.monitors.base import Sampler
    from surge.monitors.db import PostgresMonitor
    from surge.monitors.host import HostMonitor
    from surge.monitors.redis import RedisMonitor
    from surge.monitors.target import TargetMonitor

    sampler = Sampler([TargetMonitor(target_pid), HostMonitor(), PostgresMonitor(DB), RedisMonitor(REDIS)], 1.0)
    sampler.start()
    try:
        async def rounds() -> float:
            cpu0 = time.process_time()
            for _ in range(samples):
                await sampler.sample_all(time.time())
            return time.process_time() - cpu0

        cpu_s = asyncio.run(rounds())
    finally:
        sampler.close()
    return 100.0 * cpu_s / samples  # per 1 s interval


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--sittings", type=int, default=3)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--target", default="auto", choices=["auto", "nginx", "fast_target"])
    ap.add_argument("--surge", default=None)
    args = ap.parse_args()
    surge = find_surge(args.surge) or sys.exit("surge not found; install it (pip install -e .)")
    duration_s = parse_duration_s(args.duration)
    cores = usable_cores()
    gen_core, target_core = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        target = start_target(args.target, tmp, target_core)
        try:
            with_monitors = ["--monitor-pid", str(target.process.pid), "--db", DB, "--redis", REDIS,
                             "--monitor-interval", "1s"]
            rows = {"without": [], "with": []}
            for i in range(args.sittings):
                for label, extra in (("without", ["--no-host-monitor"]), ("with", with_monitors)):
                    r = one_run(surge, target.url, gen_core, duration_s, args.users, extra, tmp / f"{label}{i}")
                    rows[label].append(r)
                    print(f"sitting {i + 1} {label:>7} monitors: {r['rps']:>10,.0f} req/s  "
                          f"{r['cpu_us_per_request']:6.2f} us CPU/request  {r['monitors']}", flush=True)
            best = {k: max(v, key=lambda r: r["rps"]) for k, v in rows.items()}
            mean = {k: sum(r["rps"] for r in v) / len(v) for k, v in rows.items()}
            print(f"throughput with/without monitors: best {best['with']['rps'] / best['without']['rps']:.3f}, "
                  f"mean {mean['with'] / mean['without']:.3f} ({target.name}, {args.users} users, "
                  f"{duration_s:g} s x {args.sittings})")
            print(f"sampling all four monitors at 1 s: {sampling_cost(args.samples, target.process.pid):.2f}% "
                  f"of a core ({args.samples} rounds)")
        finally:
            stop(target.process)


if __name__ == "__main__":
    main()
