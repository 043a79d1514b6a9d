"""Open workload: iterations arrive on schedule, whatever the target is doing.

Each iteration takes an idle VU of its class (creating one, up to this worker's share of
``max_users``); when none can be had, the iteration is dropped and counted. The first request
of an iteration is timed from its scheduled arrival, so a stalled target shows up as latency
instead of silently lowering the offered load (coordinated omission).

Two rules keep the generator honest under pressure:

* the arrival loop gives the event loop a turn every :data:`YIELD_EVERY` arrivals it starts
  without sleeping: a worker that falls behind must still read responses, or no user ever
  becomes idle again, every arrival creates a user, and the run livelocks (seen at 30,000/s:
  228,000 users, 2.4 GB, and a run that never ended);
* an arrival started a little before its due time (they are started in bursts, the loop's
  timers having a resolution of about a millisecond) is timed from when it started, never from
  the later due time, so no latency is shorter than the request took;
* a worker still behind when the plan ends starts nothing more: the arrivals it never started
  are counted as dropped, and the run ends on time.
"""
from __future__ import annotations

import asyncio
import collections
import resource
import time

from ...model.arrivals import worker_arrivals
from ...model.schedule import owned_count, weighted_cycle
from ..runtime import VirtualUser, VUState, WorkerContext, _check_unawaited, task_raised
from .base import drain_tasks

_perf = time.perf_counter
_perf_ns = time.perf_counter_ns
_LATE_BATCH_S = 0.0005  # arrivals due within this much are started without sleeping
YIELD_EVERY = 32  # arrivals started back to back before the loop gets a turn
NEW_USERS_PER_TURN = 8  # users created back to back before the loop gets a turn
_SLEEP_SLICE_S = 0.05  # long waits are sliced so a stop is seen within this
_FD_RESERVE = 256


class OpenExecutor:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        workload = ctx.plan.workload
        self._stages = workload.stages
        self._cap = self._user_cap(owned_count(workload.max_users, ctx.worker_id, ctx.workers))
        classes = ctx.scenario.user_classes
        self._classes = classes
        self._cycle = weighted_cycle([c.weight for c in classes])
        #: idle users of each class, each waiting on its future for the next iteration
        self._idle: list[list[tuple[VirtualUser, asyncio.Future]]] = [[] for _ in classes]
        self._vus: list[VirtualUser] = []
        self._dropped = 0
        self._iterations = 0
        # perf_counter_ns at the plan's time 0, to turn due times into intended send times
        self._t0_ns = _perf_ns() - int((_perf() - ctx.t0) * 1e9)
        self._t0_s = ctx.t0
        self._end_s = sum(stage.duration_s for stage in self._stages)
        # uniform or Poisson (surge.model.arrivals); how many this worker owns, for _never_started
        self._arrivals, self._owned_total = worker_arrivals(workload, ctx.worker_id, ctx.workers)
        self._next: tuple[int, float] | None = next(self._arrivals, None)  # the next arrival not yet started
        self._created = 0  # users created since the loop last had a turn

    def _user_cap(self, share: int) -> int:
        """This worker's share of max_users, within what its open-file limit allows."""
        budget = max(resource.getrlimit(resource.RLIMIT_NOFILE)[0] - _FD_RESERVE, 1)
        if share > budget:
            self.ctx.recorder.warn(
                f"worker {self.ctx.worker_id}: at most {budget:,} virtual users, not {share:,}: each holds a "
                f"socket and the open-file limit is {budget + _FD_RESERVE:,}; iterations beyond them are "
                "dropped (raise the limit or add --processes)")
            return budget
        return share

    async def run(self) -> None:
        """Start each arrival when it is due, until the plan ends or the run is stopped.

        Arrivals are taken from one schedule, in order, by whoever comes first: this loop (it
        sleeps until the next is due, then hands it to an idle user or creates one), or a user
        that finishes an iteration when the next arrival of its class is already due: it goes
        on without parking and without a wake-up (at 30,000 arrivals/s most iterations start so).
        """
        stop, cycle, idle_of, perf = self.ctx.stop, self._cycle, self._idle, _perf
        burst = 0
        while not stop.is_set():
            nxt = self._next
            if nxt is None:
                return
            k, due = nxt
            elapsed = perf() - self._t0_s
            if due - elapsed > _LATE_BATCH_S:
                burst = self._created = 0
                if await self._sleep(due - elapsed):
                    return
                continue
            if elapsed >= self._end_s:  # the plan is over and this worker is still behind:
                self._dropped += self._never_started(k)  # what it never started is dropped
                self._next = None
                return
            cls_index = cycle[k % len(cycle)]
            idle = idle_of[cls_index]
            burst += 1
            if burst >= YIELD_EVERY or not (idle or self._created < NEW_USERS_PER_TURN
                                            or len(self._vus) >= self._cap):
                # behind schedule, or a user would have to be created beyond this turn's share (see
                # NEW_USERS_PER_TURN): let responses in first; the arrival keeps its due time
                burst = self._created = 0
                await asyncio.sleep(0)
                continue
            self._next = next(self._arrivals, None)
            self._arrive(cls_index, idle, self._intended_ns(due))

    def _never_started(self, k: int) -> int:
        """The arrivals this worker owns from index ``k`` on, counted, not walked (at 1e12/s
        walking them took the worker's loop for good). Its indices are k ≡ worker (mod n) for
        either arrival process, so those before ``k`` are ``owned_count(k, ...)``."""
        w, n = self.ctx.worker_id, self.ctx.workers
        return max(1, self._owned_total - owned_count(k, w, n))

    def _intended_ns(self, due: float) -> int:
        """The arrival's due time, or now if it is started early (never time a request from after it began)."""
        now_ns = _perf_ns()
        due_ns = self._t0_ns + int(due * 1e9)
        return due_ns if due_ns < now_ns else now_ns

    def _take_due(self, cls_index: int) -> int | None:
        """For a user that just finished an iteration: the next arrival, if it is due now and of
        its class (its intended time), else None and the user parks."""
        nxt = self._next
        if nxt is None:
            return None
        k, due = nxt
        elapsed = _perf() - self._t0_s
        if due - elapsed > _LATE_BATCH_S or elapsed >= self._end_s or self._cycle[k % len(self._cycle)] != cls_index \
                or self.ctx.stop.is_set() or not self.ctx.iterations.take():
            return None
        self._next = next(self._arrivals, None)
        return self._intended_ns(due)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep (in slices, to notice a stop); True when the run was stopped."""
        stop = self.ctx.stop
        deadline = _perf() + seconds
        while not stop.is_set():
            left = deadline - _perf()
            if left <= 0:
                return False
            await asyncio.sleep(min(left, _SLEEP_SLICE_S))
        return True

    def _arrive(self, cls_index: int, idle: list, intended_ns: int) -> None:
        """Hand the arrival to an idle user of its class, or create one (up to the cap), or drop it.

        Users are created at most :data:`NEW_USERS_PER_TURN` between the loop's turns (``run``
        waits otherwise): creating a user and its connection costs more than the gap between
        arrivals at high rates, and creating one for every arrival that found none idle
        snowballed at the start of a 30,000/s run into ~900 users and a 140 ms stall, measured
        as latency.
        """
        while idle:
            vu, inbox = idle.pop()
            if not inbox.done():  # (a user cancelled while idle leaves a done future behind)
                vu.state = VUState.RUNNING
                self.ctx.iterations.take()  # one is left: run() stops when the last is taken
                inbox.set_result(intended_ns)  # hand the iteration to the waiting user
                return
        if len(self._vus) < self._cap:
            self.ctx.iterations.take()
            self._created += 1
            vu = VirtualUser(self.ctx, self._classes[cls_index], self.ctx.worker_id + len(self._vus) * self.ctx.workers)
            self._vus.append(vu)
            vu.state = VUState.RUNNING
            vu.task = asyncio.ensure_future(self._serve(vu, cls_index, intended_ns))
        else:
            self._dropped += 1

    async def _serve(self, vu: VirtualUser, cls_index: int, intended_ns: int | None) -> None:
        """One virtual user's life: on_start, then one iteration per arrival it is handed or takes.

        A long-lived coroutine per user that waits on a future between iterations costs a
        fraction of a new task per iteration. The iteration is written out as ``closed_loop``
        writes it (a coroutine level less per request): a change to one belongs in the other.
        """
        recorder = self.ctx.recorder
        loop = asyncio.get_running_loop()
        idle = self._idle[cls_index]
        client = vu.client
        single = vu.spec.tasks[0] if len(vu.spec.tasks) == 1 else None
        inbox: asyncio.Future | None = None
        straight = 0  # iterations taken one after the other without parking
        try:
            if not await vu.start(recorder):
                return  # StopUser (or an error) in on_start: this user serves no iterations
            while intended_ns is not None and not vu.stopping:
                client.intended_ns = intended_ns
                self._iterations += 1
                spec = single or vu.pick()
                try:
                    await spec.fn(vu.user)
                except asyncio.CancelledError:
                    raise
                except BaseException as exc:  # counted, or the user ends
                    if task_raised(vu, spec.name, exc, recorder):
                        break
                client.intended_ns = 0
                if client.created != client.started:
                    _check_unawaited(client, vu._label(spec.name), recorder)
                if vu.stopping:
                    break
                intended_ns = self._take_due(cls_index)
                if intended_ns is not None:
                    straight += 1
                    if straight % YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # a task that never awaits must not starve the loop
                    continue
                straight = 0
                inbox = loop.create_future()
                vu.state = VUState.IDLE
                idle.append((vu, inbox))
                intended_ns = await inbox  # None: the run is over
                inbox = None
        finally:
            if inbox is not None:  # cancelled while idle
                try:
                    idle.remove((vu, inbox))
                except ValueError:
                    pass
            try:
                await vu.finish(recorder)
            except asyncio.CancelledError:
                vu.state = VUState.STOPPED
                raise

    async def drain(self, graceful_s: float) -> None:
        """No more arrivals: idle users stop (on_stop), busy ones finish their iteration or are cancelled."""
        for vu in self._vus:
            vu.stopping = True
        for idle in self._idle:
            for _, inbox in idle:
                if not inbox.done():
                    inbox.set_result(None)
            idle.clear()
        await drain_tasks([], [vu.task for vu in self._vus], graceful_s)

    def users(self) -> int:
        return len(self._vus)

    def users_by_class(self) -> dict[str, int]:
        return dict(collections.Counter(vu.spec.cls.__name__ for vu in self._vus))

    def dropped(self) -> int:
        return self._dropped

    def iterations(self) -> int:
        return self._iterations
