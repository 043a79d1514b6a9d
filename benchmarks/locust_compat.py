"""A locustfile run by surge's Locust layer, beside the same load written for surge, and beside Locust.

One unchanged locustfile (one sync task, ``self.client.get("/")``, no wait, FastHttpUser) and
its native twin (``scenarios/hello.py``: the same task ``async``), each on one pinned core
(``taskset``, core 0) with 50 users against ``fast_target.py`` (pinned to core 1); and the real
Locust running the same locustfile when a python that can ``import locust`` is found
(``--locust-python``, default /tmp/locust-venv*/bin/python; Locust is never installed into
surge's environment). Rounds are interleaved so a noisy moment hits every tool alike.

CPU per request is the marginal cost: each tool runs twice per round, ``--duration`` and
``--short`` (default 10 s and 2 s), and the CPU of its whole process tree is differenced
between the two, divided by the difference in requests, so start-up (imports, worker spawn,
the results folder) cancels out. The goal lines are medians of the per-round ratios (the tools
of one round ran back to back, so a busy moment of a shared machine hits them alike):

    surge compat / surge native      CPU per request, goal <= 1.5
    surge compat / Locust            requests/s, goal >= 3

    .venv/bin/python benchmarks/locust_compat.py
    .venv/bin/python benchmarks/locust_compat.py --duration 6s --short 2s --repeat 3
"""
from __future__ import annotations

import argparse
import glob
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import find_surge, parse_duration_s, start_target, usable_cores
from throughput import LOCUSTFILE, Setup, Skip, bench_locust, byte_compile_surge, find_locust_python, machine
from throughput import run_tool, surge_note, surge_summary

GOAL_CPU_VS_NATIVE = 1.5
GOAL_RPS_VS_LOCUST = 3.0


@dataclass
class Pair:
    """A tool's long and short run of one round."""
    tool: str
    long_requests: int
    long_cpu_s: float
    long_duration_s: float
    short_requests: int
    short_cpu_s: float
    note: str = ""

    @property
    def rps(self) -> float:
        return self.long_requests / self.long_duration_s if self.long_duration_s else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        requests = self.long_requests - self.short_requests
        return (self.long_cpu_s - self.short_cpu_s) / requests * 1e6 if requests > 0 else float("nan")


def surge_run(setup: Setup, scenario: str, tool: str):
    run, summary = surge_summary(setup, ["--users", str(setup.connections), "--spawn-rate", "1000"], scenario=scenario)
    failures = int(summary["total"].get("failures") or 0)
    if failures:
        raise Skip(f"{tool}: {failures} failures")
    return int(summary["total"]["requests"]), run.cpu_s, float(summary["duration_s"]), surge_note(summary)


def locust_run(setup: Setup):
    result = bench_locust(setup)
    return result.requests, result.cpu_s, result.duration_s, result.note


def measure(tool: str, setup: Setup, long_s: float, short_s: float, locustfile: Path) -> Pair:
    def once(duration_s: float):
        setup.duration_s = duration_s
        if tool == "surge-native":
            return surge_run(setup, "hello.py", tool)
        if tool == "surge-compat":
            return surge_run(setup, str(locustfile), tool)
        return locust_run(setup)

    long = once(long_s)
    short = once(short_s)
    return Pair(tool, long[0], long[1], long[2], short[0], short[1], long[3])


def find_locust(explicit: str | None) -> str | None:
    if explicit:
        return find_locust_python(explicit)
    for candidate in sorted(glob.glob("/tmp/locust-venv*/bin/python")):
        found = find_locust_python(candidate)
        if found:
            return found
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="10s", help="the long run of each tool and round (default 10s)")
    parser.add_argument("--short", default="2s", help="the short run, differenced away (default 2s)")
    parser.add_argument("--connections", type=int, default=50, help="users (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians are shown (default 3)")
    parser.add_argument("--surge", help="surge executable (default: beside this python, or PATH)")
    parser.add_argument("--locust-python", help="a python that can `import locust` (its own venv)")
    args = parser.parse_args()
    long_s, short_s = parse_duration_s(args.duration), parse_duration_s(args.short)
    if short_s >= long_s:
        parser.error("--short must be shorter than --duration")
    locust_python = find_locust(args.locust_python)
    tools = ["surge-native", "surge-compat", *(["locust"] if locust_python else [])]
    cores = usable_cores()
    target_core, tool_core = (1, 0) if {0, 1} <= set(cores) else (None, None)
    pairs: dict[str, list[Pair]] = {tool: [] for tool in tools}
    with tempfile.TemporaryDirectory(prefix="surge-locust-bench-") as tmp:
        work = Path(tmp)
        locustfile = work / "locustfile.py"
        locustfile.write_text(LOCUSTFILE)
        target = start_target("fast", work, target_core)
        try:
            setup = Setup(target, long_s, args.connections, tool_core, target_core, work, find_surge(args.surge),
                          locust_python)
            print(f"machine: {machine()}")
            print(byte_compile_surge())
            print(f"target: {target.name} on {target.url} (core {target_core}); tools on core {tool_core}; "
                  f"{args.connections} users; {long_s:g} s and {short_s:g} s runs; {args.repeat} rounds")
            print(f"locust: {locust_python or 'not found (pass --locust-python): that column is skipped'}\n", flush=True)
            for round_no in range(1, args.repeat + 1):
                for tool in list(tools):
                    try:
                        pair = measure(tool, setup, long_s, short_s, locustfile)
                    except Skip as skip:
                        print(f"  round {round_no} {tool:<13} skipped: {skip}", flush=True)
                        tools.remove(tool)
                        continue
                    pairs[tool].append(pair)
                    print(f"  round {round_no} {tool:<13} {pair.rps:>10,.0f} req/s  {pair.cpu_us_per_request:>7.1f} "
                          f"µs CPU/request  {pair.note}", flush=True)
        finally:
            target.stop()
    rps = {t: statistics.median(p.rps for p in ps) for t, ps in pairs.items() if ps}
    cpu = {t: statistics.median(p.cpu_us_per_request for p in ps) for t, ps in pairs.items() if ps}
    print(f"\n{'tool':<14}{'req/s':>12}{'µs CPU/request':>17}")
    for tool in rps:
        print(f"{tool:<14}{rps[tool]:>12,.0f}{cpu[tool]:>17.1f}")
    print()
    if "surge-compat" in cpu and "surge-native" in cpu:
        # paired within each round (a noisy moment of the machine hits both alike): the headline
        paired = [c.cpu_us_per_request / n.cpu_us_per_request for n, c in zip(pairs["surge-native"], pairs["surge-compat"])]
        ratio = statistics.median(paired)
        print(f"surge compat / surge native  CPU per request  {ratio:.2f}x  (goal <= {GOAL_CPU_VS_NATIVE}) "
              f"{'MET' if ratio <= GOAL_CPU_VS_NATIVE else 'MISSED'}  median of the rounds' ratios "
              f"{', '.join(f'{r:.2f}' for r in paired)}; ratio of the medians {cpu['surge-compat'] / cpu['surge-native']:.2f}x")
    if "surge-compat" in rps and "locust" in rps:
        paired = [c.rps / lo.rps for c, lo in zip(pairs["surge-compat"], pairs["locust"]) if lo.rps]
        ratio = statistics.median(paired)
        print(f"surge compat / Locust        requests/s       {ratio:.2f}x  (goal >= {GOAL_RPS_VS_LOCUST}) "
              f"{'MET' if ratio >= GOAL_RPS_VS_LOCUST else 'MISSED'}  rounds {', '.join(f'{r:.2f}' for r in paired)}")
        ratio_cpu = cpu["locust"] / cpu["surge-compat"]
        print(f"Locust / surge compat        CPU per request  {ratio_cpu:.2f}x")
    else:
        print("surge compat / Locust        skipped: no python that can `import locust` (its own venv)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
