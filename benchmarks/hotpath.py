"""The hot path without the kernel: surge's closed loop and the bare client against an in-memory peer.

Each connection's transport answers every write with a canned nginx response through
``loop.call_soon`` (no socket, no syscall), so what is measured is the interpreter and the
event loop only: CPU µs per request of surge's real ``closed_loop`` -> task -> ``client.get``
path, beside the callback-only protocol of ``bare_client.py`` and a minimal async client (one
coroutine and one future per request). Quiet and repeatable to ~5%: use it to see what a change
to the client or the runtime costs before measuring against nginx with ``throughput.py``.

    .venv/bin/python benchmarks/hotpath.py                     # 5 rounds of 200,000 requests each
    .venv/bin/python benchmarks/hotpath.py --requests 100000 --rounds 3 --only surge
    .venv/bin/python benchmarks/hotpath.py --only surge,surge-locust   # the Locust layer's bridge
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httptools
import uvloop

HERE = Path(__file__).resolve().parent
HELLO = HERE / "scenarios" / "hello.py"
HOOKED = HERE / "scenarios" / "hooked.py"  # hello.py with an empty on_request hook (benchmarks/hooks.py)
LOCUST = HERE / "scenarios" / "locust_hello.py"  # hello.py's task as a sync Locust task (the Locust layer)
sys.path.insert(0, str(HERE.parent / "src"))  # surge is imported when first measured (cookies.py may point elsewhere)

#: what nginx 1.22 answers to ``return 200 "ok"`` (benchmarks/common.py's config)
NGINX_OK = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 10:00:00 GMT\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
_perf_ns = time.perf_counter_ns


class EchoTransport(asyncio.Transport):
    """Answers each write with ``response`` (NGINX_OK) on the next loop pass."""

    response = NGINX_OK

    def __init__(self, loop, protocol) -> None:
        super().__init__()
        self._loop, self._protocol, self._closed = loop, protocol, False

    def write(self, data) -> None:
        if not self._closed:
            self._loop.call_soon(self._protocol.data_received, self.response)

    def abort(self) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.call_soon(self._protocol.connection_lost, None)

    def is_closing(self) -> bool:
        return self._closed

    def get_extra_info(self, name, default=None):
        return default


class InMemoryLoop(uvloop.Loop):
    transport_class = EchoTransport

    async def create_connection(self, factory, host=None, port=None, **kw):
        protocol = factory()
        transport = self.transport_class(self, protocol)
        protocol.connection_made(transport)
        return transport, protocol


# -- the three clients ---------------------------------------------------------------------------
class Bare(asyncio.Protocol):
    def __init__(self, counter: list) -> None:
        self.counter, self.parser, self.sent_ns = counter, httptools.HttpResponseParser(self), 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.send()

    def send(self) -> None:
        self.sent_ns = _perf_ns()
        self.transport.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    def data_received(self, data) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        self.counter.append((_perf_ns() - self.sent_ns) // 1000)
        if len(self.counter) < self.limit:
            self.send()


async def run_bare(users: int, requests: int) -> int:
    loop = asyncio.get_running_loop()
    latencies: list = []
    for _ in range(users):
        proto = Bare(latencies)
        proto.limit = requests
        await loop.create_connection(lambda p=proto: p)
    while len(latencies) < requests:
        await asyncio.sleep(0.001)
    return len(latencies)


class MinimalConn(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser, self.fut = httptools.HttpResponseParser(self), None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        fut, self.fut = self.fut, None
        fut.set_result(_perf_ns())


async def run_minimal(users: int, requests: int) -> int:
    """One coroutine and one future per request: the floor of an awaitable client API."""
    loop = asyncio.get_running_loop()
    latencies: list = []
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    async def get(conn):
        conn.fut = fut = loop.create_future()
        sent = _perf_ns()
        conn.transport.write(request)
        latencies.append((await fut - sent) // 1000)

    async def user():
        _, conn = await loop.create_connection(MinimalConn)
        while len(latencies) < requests:
            await get(conn)

    await asyncio.gather(*(user() for _ in range(users)))
    return len(latencies)


async def run_surge(users: int, requests: int, scenario_path: Path = HELLO) -> int:
    """surge's closed loop: ``users`` virtual users of the scenario's first class, until
    ``requests`` requests of ``GET /`` were answered."""
    from surge.engine.clients.http import ClientContext
    from surge.engine.runtime import VirtualUser, WorkerContext, closed_loop, retire
    from surge.engine.scenario import load_scenario
    from surge.metrics.recorder import Recorder

    recorder = Recorder()
    scenario = load_scenario(scenario_path)
    clients = ClientContext("http://127.0.0.1:8080", recorder, timeout_s=30.0)
    from surge.model.plan import ClosedWorkload, TestPlan

    plan = TestPlan(str(scenario_path), "http://127.0.0.1:8080", ClosedWorkload(()))  # (a bare namespace
    # stopped working when the context began reading plan.iterations)
    ctx = WorkerContext(plan, 0, 1, scenario, recorder, clients, None, time.perf_counter(), asyncio.Event())
    series = recorder.series("GET", "/")
    vus = []
    for i in range(users):
        vu = VirtualUser(ctx, scenario.user_classes[0], i)
        vu.task = asyncio.ensure_future(closed_loop(vu, ctx))
        vus.append(vu)
    while series.requests < requests:
        await asyncio.sleep(0.001)
    for vu in vus:
        retire(vu)
    await asyncio.gather(*(vu.task for vu in vus))
    await clients.close()
    return series.requests


async def run_surge_open(users: int, requests: int, arrival: str = "uniform") -> int:
    """surge's open executor at an arrival rate the in-memory loop keeps up with (the arrivals of
    ``requests`` spread over 2 s), to see what the open path adds per iteration."""
    from surge.engine.clients.http import ClientContext
    from surge.engine.executors.open import OpenExecutor
    from surge.engine.runtime import WorkerContext
    from surge.engine.scenario import load_scenario
    from surge.metrics.recorder import Recorder
    from surge.model.kinds import Arrival
    from surge.model.plan import OpenWorkload, Stage, TestPlan

    rate = requests / 2.0
    recorder = Recorder()
    scenario = load_scenario(HELLO)
    plan = TestPlan(str(HELLO), "http://127.0.0.1:8080",
                    OpenWorkload((Stage(0, rate), Stage(2.0, rate)), max_users=1000, arrival=Arrival(arrival), seed=1))
    clients = ClientContext("http://127.0.0.1:8080", recorder, timeout_s=30.0, open_workload=True)
    ctx = WorkerContext(plan, 0, 1, scenario, recorder, clients, None, time.perf_counter(), asyncio.Event())
    executor = OpenExecutor(ctx)
    await executor.run()
    await executor.drain(5.0)
    await clients.close()
    return recorder.series("GET", "/").requests


RUNNERS = {"bare": run_bare, "minimal": run_minimal, "surge": run_surge, "surge-open": run_surge_open,
           "surge-hooked": lambda users, requests: run_surge(users, requests, HOOKED),
           "surge-locust": lambda users, requests: run_surge(users, requests, LOCUST),
           "surge-open-poisson": lambda users, requests: run_surge_open(users, requests, "poisson")}


def import_surge() -> None:
    """Import what the surge runners use, so the first round does not time the imports."""
    import surge.compat.locust  # noqa: F401
    import surge.engine.executors.open  # noqa: F401
    import surge.engine.runtime  # noqa: F401


def measure(name: str, users: int, requests: int) -> float:
    return cpu_us_per_request(InMemoryLoop(), RUNNERS[name](users, requests))


def cpu_us_per_request(loop: asyncio.AbstractEventLoop, run) -> float:
    """Run the coroutine ``run`` (it returns the requests it made) on ``loop``, then close the loop."""
    try:
        cpu = time.process_time()
        done = loop.run_until_complete(run)
        return (time.process_time() - cpu) * 1e6 / done
    finally:
        loop.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="bare,minimal,surge")
    args = parser.parse_args()
    names = args.only.split(",")
    results: dict[str, list[float]] = {n: [] for n in names}
    import_surge()
    for _ in range(args.rounds):  # interleaved, as throughput.py does
        for name in names:
            results[name].append(measure(name, args.users, args.requests))
    for name in names:
        values = results[name]
        print(f"{name:8} {statistics.median(values):6.2f} µs/request  "
              f"({min(values):.2f}-{max(values):.2f}, {args.rounds} x {args.requests:,})")
    if "bare" in results and "surge" in results:
        print(f"surge / bare = {statistics.median(results['surge']) / statistics.median(results['bare']):.2f}")
    if "surge-locust" in results and "surge" in results:
        print(f"surge-locust / surge = "
              f"{statistics.median(results['surge-locust']) / statistics.median(results['surge']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
