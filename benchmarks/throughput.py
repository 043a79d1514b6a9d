"""CPU per request from one generator core: surge (closed and open) beside a bare client, wrk, Locust.

The target (nginx with one worker when ``nginx`` is on PATH, else fast_target.py) is pinned to
core 1, each load tool to core 0; keep-alive GET / at 50 connections for 10 s each. The tools run
interleaved in rounds (bare, surge, surge-open, wrk, locust; then again) so that a noisy moment
of the machine hits all of them alike; per tool the medians over ``--repeat`` rounds are shown:
requests/s and the tool's CPU µs per request (all CPU of the tool's process tree, start-up
included, divided by its requests). Then the goal lines, from medians of this one sitting:

    surge closed / bare          CPU per request, goal <= 1.25
    surge open / surge closed    CPU per request, goal <= 1.2, with < 1% dropped iterations

    .venv/bin/python benchmarks/throughput.py                              # bare, surge, surge-open, wrk
    .venv/bin/python benchmarks/throughput.py --only bare,surge --duration 5s --repeat 5
    .venv/bin/python benchmarks/throughput.py --only bare,minimal,surge      # with the floor of an async API
    .venv/bin/python benchmarks/throughput.py --locust-python /tmp/locust-venv/bin/python

A tool that is missing or fails is skipped with the reason; a run still going 30 s past its
duration is stopped (SIGTERM, then SIGKILL, by PID) and marked. ~2.5 min in all by default.
"""
from __future__ import annotations

import argparse
import compileall
import csv
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import (
    HERE,
    Target,
    children_cpu_s,
    core_busy_s,
    find_surge,
    parse_duration_s,
    pinned,
    start_target,
    stop,
    tail,
    usable_cores,
)

TOOLS = ("bare", "minimal", "surge", "surge-paced", "surge-open", "wrk", "locust")
DEFAULT_TOOLS = ("bare", "surge", "surge-open", "wrk")  # locust too when it is importable
GOAL_CLOSED_VS_BARE = 1.25
GOAL_OPEN_VS_CLOSED = 1.2
GOAL_DROPPED_PERCENT = 1.0
OVERRUN_S = 30  # a run this much past its duration is stopped (by PID) and reported as such
TARGET_BOUND_PERCENT = 90.0
OTHER_LOAD_PERCENT = 10.0  # busy time on the tool's core that is not the tool's: a noisy machine

#: one sync task, ``self.client.get("/")``, no wait: run by Locust and by surge's Locust layer
LOCUSTFILE = (HERE / "scenarios" / "locust_hello.py").read_text()


class Skip(Exception):
    """The tool cannot run here; the message says why."""


@dataclass
class Result:
    tool: str
    requests: int
    duration_s: float
    cpu_s: float  # the tool's own CPU (process tree), start-up included
    wall_s: float
    target_cpu_percent: float
    tool_core_busy_percent: float = 0.0
    target_core_busy_percent: float = 0.0
    note: str = ""
    dropped: int | None = None  # open workloads: iterations dropped (no free virtual user)
    failures: int = 0
    timed_out: bool = False

    @property
    def dropped_percent(self) -> float | None:
        """Share of scheduled iterations (one request each in hello.py) that never ran."""
        if self.dropped is None:
            return None
        scheduled = self.dropped + self.requests
        return 100.0 * self.dropped / scheduled if scheduled else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else float("nan")


@dataclass
class Setup:
    target: Target
    duration_s: float
    connections: int
    core: int | None
    target_core: int | None
    work: Path
    surge: str | None
    locust_python: str | None
    open_rate: float = 30_000
    open_max_users: int | None = None


@dataclass
class Run:
    done: subprocess.CompletedProcess
    cpu_s: float
    wall_s: float
    target_cpu_percent: float
    tool_core_busy_percent: float
    target_core_busy_percent: float
    timed_out: bool = False  # stopped by us after duration + OVERRUN_S

    def result(self, tool: str, requests: int, duration_s: float, note: str = "",
               dropped: int | None = None, failures: int = 0) -> Result:
        if self.timed_out:
            note = f"stopped after {self.wall_s:.0f} s (did not end by itself)" + (f", {note}" if note else "")
        return Result(tool, requests, duration_s, self.cpu_s, self.wall_s, self.target_cpu_percent,
                      self.tool_core_busy_percent, self.target_core_busy_percent, note, dropped,
                      failures, self.timed_out)


def run_tool(argv: list[str], setup: Setup, env: dict[str, str] | None = None) -> Run:
    """Run one pinned tool to completion, measuring its CPU, the target's and the tool core's."""
    cpu_before, target_before = children_cpu_s(), setup.target.cpu_s()
    core_before, target_core_before = core_busy_s(setup.core), core_busy_s(setup.target_core)
    started = time.monotonic()
    process = subprocess.Popen(pinned(setup.core, argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env={**os.environ, **env} if env else None)
    timed_out = False
    try:
        try:
            stdout, stderr = process.communicate(timeout=setup.duration_s + OVERRUN_S)
        except subprocess.TimeoutExpired:
            # SIGTERM first (surge then stops gracefully and writes its results), SIGKILL after 15 s;
            # communicate() keeps draining the pipes meanwhile so the tool cannot block on them
            timed_out = True
            process.terminate()
            try:
                stdout, stderr = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
    finally:
        stop(process)  # also on KeyboardInterrupt: never leave a load running
    wall_s = time.monotonic() - started
    target_percent = (setup.target.cpu_s() - target_before) / wall_s * 100
    core_percent = (core_busy_s(setup.core) - core_before) / wall_s * 100
    target_core_percent = (core_busy_s(setup.target_core) - target_core_before) / wall_s * 100
    done = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    return Run(done, children_cpu_s() - cpu_before, wall_s, target_percent, core_percent,
               target_core_percent, timed_out)


def bench_bare(setup: Setup, tool: str = "bare") -> Result:
    """benchmarks/bare_client.py: callback-only protocol + httptools on uvloop, the reference;
    ``minimal``: the same with a coroutine awaiting a future per request (--awaitable)."""
    argv = [sys.executable, str(HERE / "bare_client.py"), "--url", setup.target.url + "/",
            "--connections", str(setup.connections), "--duration", f"{setup.duration_s:g}s",
            *(["--awaitable"] if tool == "minimal" else [])]
    run = run_tool(argv, setup)
    done = run.done
    lines = (done.stdout or b"").decode(errors="replace").strip().splitlines()
    if done.returncode or not lines:
        raise Skip(f"exit {done.returncode}:\n{tail(done.stderr or done.stdout)}")
    out = json.loads(lines[-1])
    note = f"{out['errors']} errors" if out.get("errors") else ""
    return run.result(tool, int(out["requests"]), float(out["duration_s"]), note)


def surge_summary(setup: Setup, workload: list[str], scenario: str = "hello.py",
                  env: dict[str, str] | None = None) -> tuple[Run, dict]:
    if not setup.surge:
        raise Skip("no `surge` executable (pass --surge PATH)")
    out = setup.work / f"surge-{time.monotonic_ns()}"
    argv = [setup.surge, "run", str(HERE / "scenarios" / scenario), "--host", setup.target.url,
            *workload, "--duration", f"{setup.duration_s:g}s", "--processes", "1", "--out", str(out),
            "--live", "off"]
    run = run_tool(argv, setup, env)
    done = run.done
    summary_path = out / "summary.json"
    if not summary_path.exists():
        if run.timed_out:
            raise Skip(f"still running {OVERRUN_S} s past its {setup.duration_s:g} s, stopped by us after "
                       f"{run.wall_s:.0f} s (exit {done.returncode}), no summary.json")
        raise Skip(f"exit {done.returncode}, no summary.json:\n{tail(done.stderr or done.stdout)}")
    return run, json.loads(summary_path.read_text())


def surge_note(summary: dict) -> str:
    total, generator = summary["total"], summary.get("generator", {})
    note = f"gen cpu max {generator.get('cpu_percent_max', '?')}%"
    if total.get("failures"):
        note += f", {total['failures']:,} failures"
    if generator.get("saturated"):
        note += ", saturated"
    return note


def bench_surge(setup: Setup) -> Result:
    """Closed workload: 50 users, no think time."""
    run, summary = surge_summary(setup, ["--users", str(setup.connections), "--spawn-rate", "1000"])
    return run.result("surge", int(summary["total"]["requests"]), float(summary["duration_s"]),
                      surge_note(summary), failures=int(summary["total"].get("failures") or 0))


def bench_surge_paced(setup: Setup) -> Result:
    """Closed workload paced to --open-rate: 50 users, each starting an iteration every 50/rate s."""
    pacing_s = setup.connections / setup.open_rate
    run, summary = surge_summary(setup, ["--users", str(setup.connections), "--spawn-rate", "1000"],
                                 scenario="paced.py", env={"BENCH_PACING_S": f"{pacing_s:.9f}"})
    return run.result("surge-paced", int(summary["total"]["requests"]), float(summary["duration_s"]),
                      surge_note(summary), failures=int(summary["total"].get("failures") or 0))


def bench_surge_open(setup: Setup) -> Result:
    """Open workload: --open-rate iterations/s (default 30,000), surge's default --max-users."""
    workload = ["--rate", f"{setup.open_rate:g}"]
    if setup.open_max_users:
        workload += ["--max-users", str(setup.open_max_users)]
    run, summary = surge_summary(setup, workload)
    dropped = int(summary.get("dropped_iterations") or 0)
    result = run.result("surge-open", int(summary["total"]["requests"]), float(summary["duration_s"]),
                        surge_note(summary), dropped, int(summary["total"].get("failures") or 0))
    result.note = f"dropped {result.dropped_percent:.2f}%, " + result.note
    return result


def bench_locust(setup: Setup) -> Result:
    if not setup.locust_python:
        raise Skip("locust is not importable (pass --locust-python PATH)")
    locustfile = setup.work / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    prefix = setup.work / f"locust-{time.monotonic_ns()}"
    argv = [setup.locust_python, "-m", "locust", "-f", str(locustfile), "--headless",
            "-u", str(setup.connections), "-r", str(setup.connections),
            "-t", f"{max(1, round(setup.duration_s))}s", "--host", setup.target.url,
            "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
    run = run_tool(argv, setup)
    done = run.done
    stats_path = Path(f"{prefix}_stats.csv")
    if not stats_path.exists():
        raise Skip(f"exit {done.returncode}, no stats.csv:\n{tail(done.stderr)}")
    with stats_path.open(newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    requests, rps = int(row["Request Count"]), float(row["Requests/s"])
    note = f"{row['Failure Count']} failures" if int(row["Failure Count"]) else ""
    duration_s = requests / rps if rps else setup.duration_s
    return run.result("locust", requests, duration_s, note)


def bench_wrk(setup: Setup) -> Result:
    if not shutil.which("wrk"):
        raise Skip("wrk is not on PATH (apt-get install wrk)")
    argv = ["wrk", "-t1", f"-c{setup.connections}", f"-d{max(1, round(setup.duration_s))}s",
            setup.target.url + "/"]
    run = run_tool(argv, setup)
    done = run.done
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", done.stdout.decode())
    if done.returncode or not requests:
        raise Skip(f"exit {done.returncode}:\n{tail(done.stderr or done.stdout)}")
    scale = {"s": 1, "ms": 0.001, "m": 60}.get(requests.group(3), 1)
    errors = re.search(r"Socket errors: .*|Non-2xx or 3xx responses: \d+", done.stdout.decode())
    return run.result("wrk", int(requests.group(1)), float(requests.group(2)) * scale,
                      errors.group(0) if errors else "")


BENCHES = {"bare": bench_bare, "minimal": lambda setup: bench_bare(setup, "minimal"),
           "surge": bench_surge, "surge-paced": bench_surge_paced, "surge-open": bench_surge_open,
           "wrk": bench_wrk, "locust": bench_locust}


def machine() -> str:
    """One line about where the figures come from (they only compare within one sitting)."""
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def find_locust_python(explicit: str | None) -> str | None:
    candidates = [explicit] if explicit else ["/tmp/locust-venv/bin/python", "python3", "python"]
    for candidate in candidates:
        path = shutil.which(candidate) or candidate
        try:
            subprocess.run([path, "-c", "import locust"], check=True, timeout=60,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return path
        except (OSError, subprocess.SubprocessError):
            continue
    return None


@dataclass
class Medians:
    """One tool's figures over the rounds of a sitting: medians, and the spread of CPU/request."""
    tool: str
    runs: list[Result]

    def median(self, value) -> float:
        return statistics.median(value(r) for r in self.runs)

    @property
    def rps(self) -> float:
        return self.median(lambda r: r.rps)

    @property
    def cpu_us_per_request(self) -> float:
        return self.median(lambda r: r.cpu_us_per_request)

    @property
    def dropped_percent(self) -> float | None:
        if any(r.dropped_percent is None for r in self.runs):
            return None
        return self.median(lambda r: r.dropped_percent)

    @property
    def failed_percent(self) -> float:
        return self.median(lambda r: 100.0 * r.failures / r.requests if r.requests else 0.0)


def run_notes(r: Result, target: Target) -> list[str]:
    notes = [r.note] if r.note else []
    if r.target_cpu_percent >= TARGET_BOUND_PERCENT:
        notes.insert(0, f"{target.name}-bound (lower bound)")
    other_percent = r.tool_core_busy_percent - r.cpu_s / r.wall_s * 100
    if other_percent >= OTHER_LOAD_PERCENT:
        notes.append(f"other load on the tool's core: {other_percent:.0f}%")
    other_percent = r.target_core_busy_percent - r.target_cpu_percent
    if other_percent >= OTHER_LOAD_PERCENT:
        notes.append(f"other load on the target's core: {other_percent:.0f}%")
    return notes


def print_run(round_no: int, r: Result, target: Target) -> None:
    print(f"  round {round_no} {r.tool:<10} {r.rps:>9,.0f} req/s {r.cpu_us_per_request:>7.1f} µs/req "
          f"tool {r.cpu_s / r.wall_s * 100:>3.0f}% target {r.target_cpu_percent:>3.0f}%  "
          + "; ".join(run_notes(r, target)), flush=True)


def print_table(medians: list[Medians], target: Target) -> None:
    by_tool = {m.tool: m for m in medians}
    surge, bare = by_tool.get("surge"), by_tool.get("bare")
    header = (f"{'tool':<10} {'req/s':>9} {'CPU µs/req':>11} {'(min-max)':>12} {'vs bare':>8} "
              f"{'tool CPU':>9} {'target CPU':>11} {'req/s vs surge':>15}  note (median-req/s round)")
    print(header)
    print("-" * len(header))
    for m in medians:
        cpus = [r.cpu_us_per_request for r in m.runs]
        spread = f"{min(cpus):.1f}-{max(cpus):.1f}" if len(cpus) > 1 else ""
        vs_bare = f"{m.cpu_us_per_request / bare.cpu_us_per_request:.2f}x" if bare else "—"
        vs_surge = f"{m.rps / surge.rps:.2f}x" if surge and surge.rps else "—"
        middle = sorted(m.runs, key=lambda r: r.rps)[len(m.runs) // 2]
        tool_cpu = m.median(lambda r: r.cpu_s / r.wall_s * 100)
        target_cpu = m.median(lambda r: r.target_cpu_percent)
        print(f"{m.tool:<10} {m.rps:>9,.0f} {m.cpu_us_per_request:>11.1f} {spread:>12} {vs_bare:>8} "
              f"{tool_cpu:>8.0f}% {target_cpu:>10.0f}% {vs_surge:>15}  " + "; ".join(run_notes(middle, target)))


def goal_lines(medians: list[Medians], skipped: dict[str, str]) -> list[str]:
    """The issue's goals, as ratios of medians from this one sitting."""
    by_tool = {m.tool: m for m in medians}
    surge, bare, open_ = by_tool.get("surge"), by_tool.get("bare"), by_tool.get("surge-open")
    verdict = {True: "meets", False: "MISSES"}
    lines = []
    if surge and bare:
        ratio = surge.cpu_us_per_request / bare.cpu_us_per_request
        lines.append(f"surge closed / bare        = {ratio:.2f} CPU per request "
                     f"(goal <= {GOAL_CLOSED_VS_BARE:g}): {verdict[ratio <= GOAL_CLOSED_VS_BARE]}")
    minimal = by_tool.get("minimal")
    if minimal and bare:
        ratio = minimal.cpu_us_per_request / bare.cpu_us_per_request
        lines.append(f"minimal / bare             = {ratio:.2f} CPU per request (one coroutine and one future "
                     "per request: the floor of an awaitable API)")
    if open_ and surge:
        ratio = open_.cpu_us_per_request / surge.cpu_us_per_request
        dropped = open_.dropped_percent or 0.0
        ok = ratio <= GOAL_OPEN_VS_CLOSED and dropped < GOAL_DROPPED_PERCENT
        trouble = []  # a run that fails its requests or overruns its duration is no pass either
        if open_.failed_percent >= 0.01:
            trouble.append(f"{open_.failed_percent:.1f}% of requests failed")
        overran = sum(r.timed_out for r in open_.runs)
        if overran:
            trouble.append(f"{overran} of {len(open_.runs)} runs overran and were stopped")
        ok = ok and not trouble
        lines.append(f"surge open / surge closed  = {ratio:.2f} CPU per request "
                     f"(goal <= {GOAL_OPEN_VS_CLOSED:g}), dropped {dropped:.2f}% "
                     f"(goal < {GOAL_DROPPED_PERCENT:g}%)" + "".join(f", {t}" for t in trouble)
                     + f": {verdict[ok]}")
    paced = by_tool.get("surge-paced")
    if open_ and paced:
        ratio = open_.cpu_us_per_request / paced.cpu_us_per_request
        lines.append(f"surge open / surge paced   = {ratio:.2f} CPU per request (closed, paced to the same "
                     "rate: what the open executor itself adds)")
    for tool, label in (("surge", "surge closed / bare"), ("surge-open", "surge open / surge closed")):
        if tool in skipped and tool not in by_tool:
            reason = skipped[tool].splitlines()[0]
            lines.append(f"{label:<26} = no figure: {tool} did not complete a run ({reason}): MISSES")
    return lines


def byte_compile_surge() -> str:
    """Write surge's bytecode caches, as installing the package does. With PYTHONDONTWRITEBYTECODE
    set (these machines set it) a source checkout is otherwise compiled anew by every surge run:
    ~0.1 s of CPU each, counted as start-up."""
    spec = importlib.util.find_spec("surge")
    if spec is None or not spec.submodule_search_locations:
        return "surge not importable here: not byte-compiled"
    folder = list(spec.submodule_search_locations)[0]
    ok = compileall.compile_dir(folder, quiet=1)
    return f"surge byte-compiled in {folder}" if ok else f"byte-compiling {folder} failed (runs compile it)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="10s", help="per tool and round (default 10s)")
    parser.add_argument("--connections", type=int, default=50, help="connections / closed users (default 50)")
    parser.add_argument("--only", help=f"comma list of {', '.join(TOOLS)} (default: all but locust, "
                                       "plus locust when it is importable)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians are shown (default 3)")
    parser.add_argument("--open-rate", type=float, default=30_000, help="surge-open iterations/s (default 30000)")
    parser.add_argument("--open-max-users", type=int, help="surge-open --max-users (default: surge's own)")
    parser.add_argument("--target", choices=("auto", "nginx", "fast"), default="auto")
    parser.add_argument("--surge", help="surge executable (default: beside this python, or PATH)")
    parser.add_argument("--locust-python", help="a python that can `import locust`")
    args = parser.parse_args()

    locust_python = find_locust_python(args.locust_python)
    if args.only:
        tools = [t.strip() for t in args.only.split(",") if t.strip()]
    else:
        tools = [*DEFAULT_TOOLS, *(["locust"] if locust_python else [])]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; known: {', '.join(TOOLS)}")
    cores = usable_cores()
    target_core, tool_core = (1, 0) if {0, 1} <= set(cores) else (None, None)
    if target_core is None:
        print(f"warning: cores {cores} do not include 0 and 1: running unpinned", file=sys.stderr)

    runs: dict[str, list[Result]] = {tool: [] for tool in tools}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="surge-bench-") as tmp:
        target = start_target(args.target, Path(tmp), target_core)
        try:
            setup = Setup(target, parse_duration_s(args.duration), args.connections, tool_core,
                          target_core, Path(tmp), find_surge(args.surge), locust_python,
                          args.open_rate, args.open_max_users)
            print(f"machine: {machine()}")
            if "surge" in tools or "surge-open" in tools:
                print(byte_compile_surge())
            print(f"target: {target.name} on {target.url} (core {target_core}); tools on core "
                  f"{tool_core}; {setup.connections} connections, {setup.duration_s:g} s each, "
                  f"{args.repeat} rounds; surge-open at {setup.open_rate:,.0f}/s\n", flush=True)
            active = list(tools)
            for round_no in range(1, args.repeat + 1):
                for tool in list(active):
                    try:
                        result = BENCHES[tool](setup)
                    except Skip as skip:
                        print(f"  round {round_no} {tool:<10} skipped: {skip}", flush=True)
                        skipped[tool] = str(skip)
                        active.remove(tool)
                        continue
                    runs[tool].append(result)
                    print_run(round_no, result, target)
        finally:
            target.stop()
    medians = [Medians(tool, rs) for tool, rs in runs.items() if rs]
    print()
    print_table(medians, target)
    print()
    for line in goal_lines(medians, skipped):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
