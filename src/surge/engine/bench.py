"""`surge bench URL`'s measurement: one URL, no scenario, phases run one after another.

The phases: ``single`` (a few requests one at a time; the first, on a new connection, is
timed apart with its connect), ``sequential`` (one request at a time, for throughput), then one
step per concurrency of the sweep: ``C`` loops sending back to back, each on its own client
(the clients of earlier phases are kept, so their keep-alive connections go on serving), until
the step's request count is issued or its time is up; requests in flight then finish (bounded
by the timeout). A stop (Ctrl-C) cancels what is in flight, counted as ``cancelled``.

Why drive :class:`HttpClient` directly rather than ``Run`` with a generated scenario: the bench
needs exact phase boundaries (a step of 1,000 requests may last 50 ms, a tenth of the shortest
snapshot interval) and the exact counts of each; ``Run`` would add workers, settle a plan and
report per interval. Driving the client here keeps what matters the same as ``surge run``: the
same client (its keep-alive, timeouts, failure kinds), each loop one client as each virtual user
of a closed workload with no think time is, the same :class:`Recorder` (its series and the HDR
histograms its flush builds, which we merge), and the same redactor for failure messages.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..metrics.hdr import Histogram
from ..metrics.recorder import Recorder
from ..model.errors import TargetUnreachable
from ..model.kinds import FailureKind
from ..model.redact import Redactor
from .clients.http import ClientContext, HttpClient
from .worker import _gc_for_load

_perf = time.perf_counter
#: requests of the single phase, the first (cold) one included
SINGLE_REQUESTS = 10


@dataclass(frozen=True)
class BenchPlan:
    """What to send and how much. ``requests``: per phase (None: until ``duration_s``);
    ``duration_s``: the time cap of each phase, which always applies."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    concurrency: tuple[int, ...] = (1, 10, 25, 50)
    requests: int | None = 1000
    duration_s: float = 10.0
    timeout_s: float = 30.0
    insecure: bool = False
    single: int = SINGLE_REQUESTS


@dataclass
class Phase:
    """The figures of one phase: counts, the latency histogram (µs), failures by (kind, message)."""

    name: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    cancelled: int = 0
    elapsed_s: float = 0.0
    latency: Histogram = field(default_factory=Histogram)
    failures: Counter = field(default_factory=Counter)
    first_ms: float | None = None  # single phase: the cold first request, connect included

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class BenchResult:
    single: Phase | None = None
    sequential: Phase | None = None
    steps: list[Phase] = field(default_factory=list)
    interrupted: int | None = None  # the signal that stopped it

    def phases(self) -> list[Phase]:
        return [p for p in (self.single, self.sequential, *self.steps) if p is not None]


class Bench:
    """Runs a :class:`BenchPlan` on the running loop; :meth:`interrupt` stops it early."""

    def __init__(self, plan: BenchPlan, redactor: Redactor, on_phase=None) -> None:
        self.plan = plan
        self.recorder = Recorder(redactor)
        self.result = BenchResult()
        self._stop = asyncio.Event()
        self._on_phase = on_phase or (lambda phase: None)
        parts = urlsplit(plan.url)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._base = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self._clients: list[HttpClient] = []

    def interrupt(self, signum: int) -> None:
        if self.result.interrupted is None:
            self.result.interrupted = signum
        self._stop.set()

    async def run(self) -> BenchResult:
        plan = self.plan
        ctx = self._ctx = ClientContext(self._base, self.recorder, timeout_s=plan.timeout_s,
                                        connect_timeout_s=min(10.0, plan.timeout_s), insecure=plan.insecure,
                                        headers=dict(plan.headers))
        _gc_for_load(True)  # as a worker does under load: ~15% of the CPU less per request
        try:
            await self._single()
            if not self._stop.is_set():
                self.result.sequential = await self._phase("sequential", 1)
            for c in plan.concurrency:
                if self._stop.is_set():
                    break
                self.result.steps.append(await self._phase(f"concurrency {c}", c))
        finally:
            _gc_for_load(False)
            for client in self._clients:
                await client.close()
            await ctx.close()
        return self.result

    def _send(self, client: HttpClient):
        if self.plan.body is None:
            return client.request(self.plan.method, self._path)
        return client.request(self.plan.method, self._path, data=self.plan.body)

    async def _single(self) -> None:
        """The cold request on a new connection, then warm ones on the same: unreachable is exit 3."""
        first = await self._phase("first", 1, requests=1, report=False)
        kinds = [kind for kind, _ in first.failures]
        if kinds and kinds[0] == FailureKind.CONNECT:
            raise TargetUnreachable(next(iter(first.failures))[1], "is the target running, and the URL right?")
        single = await self._phase("single", 1, requests=self.plan.single - 1, report=False)
        single.first_ms = first.elapsed_s * 1000.0 if first.requests else None  # None: it was cancelled
        single.requests += first.requests
        single.errors += first.errors
        single.cancelled += first.cancelled
        single.failures.update(first.failures)
        self.result.single = single
        self._on_phase(single)

    async def _phase(self, name: str, concurrency: int, requests: int | None = -1, report: bool = True) -> Phase:
        """``concurrency`` loops, one client each, until ``requests`` are issued (-1: the plan's
        count) or the phase's time is up; a stop cancels the requests in flight."""
        limit = self.plan.requests if requests == -1 else requests
        clients = [self._client(i) for i in range(concurrency)]
        issued = 0
        stop = self._stop
        start = _perf()
        end_at = start + self.plan.duration_s

        async def loop(client: HttpClient) -> None:
            nonlocal issued
            send = self._send
            while (limit is None or issued < limit) and not stop.is_set() and _perf() < end_at:
                issued += 1
                await send(client)

        tasks = [asyncio.ensure_future(loop(c)) for c in clients]
        together = asyncio.gather(*tasks)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([together, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            elapsed = _perf() - start
            stopper.cancel()
            together.cancel()
            await asyncio.gather(together, stopper, return_exceptions=True)
        for t in tasks:  # a loop that raised is a bug of ours, not a failed request: never hidden
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()
        phase = self._collect(name, concurrency, elapsed)
        if report:
            self._on_phase(phase)
        return phase

    def _client(self, i: int) -> HttpClient:
        while len(self._clients) <= i:
            self._clients.append(HttpClient(self._ctx))
        return self._clients[i]

    def _collect(self, name: str, concurrency: int, elapsed_s: float) -> Phase:
        """The recorder's figures since the last phase, as one :class:`Phase`."""
        phase = Phase(name, concurrency, elapsed_s=elapsed_s)
        snaps, _ = self.recorder.flush()
        for s in snaps:
            phase.requests += s.requests
            phase.errors += s.failures
            phase.cancelled += s.cancelled
            if s.latency is not None:
                phase.latency.merge(Histogram.from_wire(s.latency))
            for kind, message, count in s.errors:
                phase.failures[(kind, message)] += count
        return phase
