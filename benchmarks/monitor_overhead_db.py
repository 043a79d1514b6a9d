"""What one sample of the db and redis monitors costs the coordinator: CPU (``time.process_time``
over N samples, this process only) and wall time per sample, plus the one-time costs of the db
monitor's start (the pg_stat_statements snapshot) and its end-of-run report.

    .venv/bin/python benchmarks/monitor_overhead_db.py
    .venv/bin/python benchmarks/monitor_overhead_db.py --samples 500 --connections 50
    .venv/bin/python benchmarks/monitor_overhead_db.py --redis redis://127.0.0.1:6379/13

Cases:

* ``db idle``: the server with nobody else on it;
* ``db N conns``: N extra idle connections (``--connections``), so pg_stat_activity has rows to
  aggregate (the cost is the server's; the monitor still parses one row);
* ``redis``: a private redis-server (or ``--redis URL``: only read, never written);
* ``redis full slowlog``: every command logged as slow, so each sample parses 128 slowlog
  entries, the most it reads (private server only: it changes the server's config).

Everything talks to 127.0.0.1 only; the redis-server started here is stopped by its PID. The
monitors sample in a thread of their own in a run; here they are called back to back in the
main thread, which is the same work without the pool's hand-off.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from common import free_port, stop  # noqa: E402
from surge.monitors.db import PostgresMonitor  # noqa: E402
from surge.monitors.redis import RedisMonitor  # noqa: E402


def per_sample(monitor, samples: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per sample over ``samples`` calls, after a few warm-up ones."""
    for _ in range(5):
        monitor.sample()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(samples):
        monitor.sample()
    return ((time.process_time() - cpu0) / samples * 1000, (time.perf_counter() - wall0) / samples * 1000)


def timed_ms(fn) -> tuple[object, float]:
    t0 = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - t0) * 1000


@contextlib.contextmanager
def private_redis():
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                client.ping()
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/13", client
    finally:
        stop(proc)


def db_cases(url: str, samples: int, connections: int) -> list[tuple[str, float, float]]:
    import psycopg

    rows = []
    monitor = PostgresMonitor(url)
    _, start_ms = timed_ms(monitor.start)
    try:
        rows.append(("db idle", *per_sample(monitor, samples)))
        with contextlib.ExitStack() as stack:
            for _ in range(connections):
                stack.enter_context(psycopg.connect(url, autocommit=True))
            rows.append((f"db {connections} conns", *per_sample(monitor, samples)))
        report, report_ms = timed_ms(monitor.report)
    finally:
        monitor.close()
    print(f"db start (incl. pg_stat_statements snapshot): {start_ms:.1f} ms wall; "
          f"end-of-run report: {report_ms:.1f} ms wall "
          f"({'with' if report['statements']['available'] else 'without'} pg_stat_statements)")
    return rows


def redis_cases(url: str | None, samples: int) -> list[tuple[str, float, float]]:
    if url is not None:
        monitor = RedisMonitor(url)
        monitor.start()
        try:
            return [("redis", *per_sample(monitor, samples))]
        finally:
            monitor.close()
    if shutil.which("redis-server") is None:
        print("redis: redis-server not found; pass --redis URL")
        return []
    with private_redis() as (private_url, client):
        monitor = RedisMonitor(private_url)
        monitor.start()
        try:
            rows = [("redis", *per_sample(monitor, samples))]
            client.config_set("slowlog-log-slower-than", 0)
            for i in range(200):
                client.set(f"k{i}", i)
            client.config_set("slowlog-max-len", 128)
            rows.append(("redis full slowlog", *per_sample(monitor, samples)))
        finally:
            monitor.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/postgres", help="PostgreSQL URL")
    parser.add_argument("--redis", default=None, help="Redis URL (default: a private redis-server)")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--connections", type=int, default=20, help="extra idle connections in the second db case")
    args = parser.parse_args()

    rows = db_cases(args.db, args.samples, args.connections) + redis_cases(args.redis, args.samples)
    print(f"\n{'case':<22} {'CPU ms/sample':>14} {'wall ms/sample':>15}   (over {args.samples} samples)")
    for name, cpu_ms, wall_ms in rows:
        print(f"{name:<22} {cpu_ms:>14.3f} {wall_ms:>15.3f}")
    print("\nAt the default 1 s interval, CPU ms/sample is also the monitor's share of one core in ‰.")


if __name__ == "__main__":
    main()
