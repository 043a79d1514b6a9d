"""What an ``on_request`` hook (and Poisson arrivals) cost per request, measured side by side.

Two parts, each interleaved in rounds so that a noisy moment of the machine hits every variant alike:

1. **in memory** (``hotpath.py``'s runners: the real closed loop, client and recorder against an
   in-memory peer, no kernel): CPU µs per request of ``scenarios/hello.py`` (**plain**) and of
   ``scenarios/hooked.py`` (**hooked**: the same with ``def on_request(event): pass``), and of the
   open executor with uniform and Poisson arrivals; ``--rounds`` x ``--requests``. The quiet figure.
2. **against fast_target.py** (pinned to core 1, surge to core 0, one worker process, 50 users,
   no think time, ``--duration`` each, ``--repeat`` rounds): requests/s and surge's CPU µs per
   request (its process tree's CPU, start-up included, divided by its requests), plain and hooked.

First the hook's own cost, isolated: the client's recording step called directly with and
without an empty hook (least of N timings: robust on a busy machine). Then the lines ``hooked / plain`` (CPU per request, and the difference in µs) for each part and
``open poisson / open uniform`` for the first.

    .venv/bin/python benchmarks/hooks.py
    .venv/bin/python benchmarks/hooks.py --rounds 9 --repeat 0        # in memory only
    .venv/bin/python benchmarks/hooks.py --duration 5s --repeat 5

Everything is on 127.0.0.1; every run is bounded (throughput.py's run_tool stops a run still
going 30 s past its duration, by PID) and the target is stopped by its PID. ~1.5 min by default.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import hotpath
from common import find_surge, parse_duration_s, start_fast_target, usable_cores
from throughput import Result, Setup, Skip, byte_compile_surge, surge_note, surge_summary

VARIANTS = ("plain", "hooked")
IN_MEMORY = {"plain": "surge", "hooked": "surge-hooked", "open uniform": "surge-open",
             "open poisson": "surge-open-poisson"}  # hotpath.py's runners


def bench(setup: Setup, variant: str) -> Result:
    workload = ["--users", str(setup.connections), "--spawn-rate", "1000"]
    run, summary = surge_summary(setup, workload, scenario="hello.py" if variant == "plain" else "hooked.py")
    return run.result(variant, int(summary["total"]["requests"]), float(summary["duration_s"]),
                      surge_note(summary), failures=int(summary["total"].get("failures") or 0))


def ratio_line(label: str, base: float, other: float) -> str:
    return f"{label}: CPU per request {other / base:.3f}x ({other - base:+.2f} µs per request)"


def recording_us(rounds: int, calls: int = 50_000) -> list[str]:
    """The hook's own cost, isolated: the client's recording step (``_answered``, where a request
    is counted) called directly, on a plain worker client and on one with an empty hook; the
    least of ``rounds`` timings each (the least is what the code costs, the rest is the machine)."""
    import timeit

    from surge.engine.clients.http import ClientContext
    from surge.engine.hooks import RunEvents
    from surge.metrics.recorder import Recorder

    recorder = Recorder()
    clients = ClientContext("http://127.0.0.1:8080", recorder)
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    entry = ("GET", "/", recorder.series("GET", "/"), clients.origin, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    result = (200, raw, b"ok", time.perf_counter_ns())
    plain = RunEvents("worker").client_class()(clients)
    hooked_events = RunEvents("worker")
    hooked_events.on_request(lambda event: None)
    hooked = hooked_events.client_class()(clients)
    best = {"plain": float("inf"), "hooked": float("inf")}
    for _ in range(rounds):
        for name, client in (("plain", plain), ("hooked", hooked)):
            took = timeit.timeit(lambda: client._answered(entry, None, result, 0, 0), number=calls)
            best[name] = min(best[name], took / calls * 1e6)
            entry[2].latencies_us.clear()
    print(f"recording step alone, least of {rounds} x {calls:,}: plain {best['plain']:.2f} µs, "
          f"with an empty hook {best['hooked']:.2f} µs")
    return [f"recording step, hooked - plain: {best['hooked'] - best['plain']:+.2f} µs per request"]


def in_memory(rounds: int, requests: int, users: int) -> list[str]:
    hotpath.import_surge()
    got: dict[str, list[float]] = {v: [] for v in IN_MEMORY}
    for round_no in range(1, rounds + 1):
        for variant, runner in IN_MEMORY.items():
            got[variant].append(hotpath.measure(runner, users, requests))
        print(f"in memory, round {round_no}: " + ", ".join(f"{v} {got[v][-1]:.2f}" for v in IN_MEMORY)
              + " µs CPU per request", flush=True)
    med = {v: statistics.median(xs) for v, xs in got.items()}
    print(f"\nin memory, medians of {rounds} rounds x {requests:,} requests:")
    for v, x in med.items():
        print(f"  {v:<13} {x:6.2f} µs CPU per request  ({min(got[v]):.2f}-{max(got[v]):.2f})")
    return [ratio_line("in memory, hooked / plain", med["plain"], med["hooked"]),
            ratio_line("in memory, open poisson / open uniform", med["open uniform"], med["open poisson"])]


def against_target(args) -> list[str]:
    cores = usable_cores()
    core, target_core = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    print(byte_compile_surge())
    target = start_fast_target(target_core)
    results: dict[str, list[Result]] = {v: [] for v in VARIANTS}
    try:
        with tempfile.TemporaryDirectory(prefix="surge-hooks-bench-") as work:
            setup = Setup(target, parse_duration_s(args.duration), args.connections, core, target_core, Path(work),
                          find_surge(args.surge), None)
            for round_no in range(1, args.repeat + 1):
                for variant in VARIANTS:
                    try:
                        r = bench(setup, variant)
                    except Skip as exc:
                        print(f"round {round_no} {variant}: skipped: {exc}")
                        continue
                    results[variant].append(r)
                    print(f"round {round_no} {variant:<7} {r.rps:>9,.0f} req/s  {r.cpu_us_per_request:6.2f} µs CPU/req"
                          f"  ({r.note})", flush=True)
    finally:
        target.stop()
    if not all(results.values()):
        return ["against fast_target: not measured"]
    med = {v: (statistics.median(r.rps for r in rs), statistics.median(r.cpu_us_per_request for r in rs))
           for v, rs in results.items()}
    print(f"\nagainst {target.name}, medians of {args.repeat} rounds (surge on core {core}):")
    for v, (rps, cpu) in med.items():
        print(f"  {v:<7} {rps:>9,.0f} req/s  {cpu:6.2f} µs CPU per request")
    (rps0, cpu0), (rps1, cpu1) = med["plain"], med["hooked"]
    return [ratio_line("against fast_target, hooked / plain", cpu0, cpu1) + f", throughput {rps1 / rps0:.3f}x"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="in-memory rounds (0: skip that part)")
    parser.add_argument("--requests", type=int, default=100_000, help="requests per in-memory run")
    parser.add_argument("--duration", default="6s", help="each run against the target")
    parser.add_argument("--repeat", type=int, default=3, help="rounds against the target (0: skip that part)")
    parser.add_argument("--connections", type=int, default=50, help="closed users (default 50)")
    parser.add_argument("--surge", default=None, help="the surge executable (default: beside this python)")
    args = parser.parse_args()
    lines = recording_us(max(args.rounds, 3))
    lines += in_memory(args.rounds, args.requests, args.connections) if args.rounds else []
    if args.repeat:
        lines += against_target(args)
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
