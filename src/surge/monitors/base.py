"""What a monitor owes, and the one sampler loop that drives every monitor of a run.

A monitor watches one source beside the load — the target process, the host, the generator's
own processes, PostgreSQL, Redis — on the run's clock. It runs in the coordinator, never in a
worker, so it cannot slow load generation. What an implementation owes:

* ``name``: the series' name (``target``, ``host``, ``db``, ``redis``...): the file
  ``monitors/<name>.csv``, the summary section ``monitors.<name>``, the threshold target;
* ``columns``: the row's keys, in the CSV's order (after ``timestamp`` and ``elapsed_s``);
* ``start()``: connect and check the source; raise :class:`MonitorUnavailable` when it cannot
  be watched at all (a pid that does not exist, a database that refuses): the run has not
  started yet and stops with one line and exit 2;
* ``sample()``: one row, a mapping of some of ``columns`` to numbers (a missing column is an
  empty cell). It is called in a thread of its own and must return within the interval, or
  the sample is skipped and counted; blocking clients (psycopg, redis-py, psutil) are fine.
  Raise :class:`SourceLost` when the source went away (the process exited, the database
  dropped the connection): a gap in the series, one warning, and the run goes on; the monitor
  is asked again at the next interval (it may reconnect) unless ``SourceLost.final`` is set;
* ``summarise(rows)``: the summary section from every row taken, a JSON-able mapping (pure:
  the standalone ``surge monitor`` and a results folder read later give the same answer);
* ``close()``: release what ``start`` took. Called once, also after a failure.

Optional: ``warnings`` (a list of one-line notes a monitor gathered, e.g. views its role
cannot read) and ``report()`` (a JSON-able report made once at the end of the load, written
as ``<name>_report.json``: the database's slowest statements over the load window).

A monitor's summary section is a threshold target by its name (``target:
rss_growth_mb_per_min<5``), so the threshold engine needs no monitor-specific code.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..model.errors import ConfigError
from ..model.events import MonitorSample as Sample

Row = Mapping[str, float | int | None]


class MonitorUnavailable(ConfigError):
    """The source cannot be watched at all (checked before the load starts: exit 2)."""


class SourceLost(Exception):
    """The source went away during a sample: a gap, a warning, the run goes on."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final  # it cannot come back (the watched process exited): stop sampling it


@runtime_checkable
class Monitor(Protocol):
    name: str
    columns: tuple[str, ...]

    def start(self) -> None: ...

    def sample(self) -> Row: ...

    def summarise(self, rows: Sequence["Sample"]) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass
class MonitorRecord:
    """What the sampler kept of one monitor: its rows, and what went wrong while sampling."""

    monitor: Monitor
    samples: list[Sample] = field(default_factory=list)
    skipped: int = 0  # samples that did not return within the interval
    gaps: int = 0  # samples that found the source gone
    lost_at_s: float | None = None  # when the source went away for good
    warnings: list[str] = field(default_factory=list)
    done: bool = False

    def section(self) -> dict[str, Any]:
        """The summary section: the monitor's own summary and the sampler's counts."""
        try:
            section = dict(self.monitor.summarise(self.samples))
        except Exception as exc:  # a bug of the monitor must not cost the run its summary
            section = {}
            self.warnings.append(f"monitor {self.monitor.name}: its summary failed ({type(exc).__name__}: {exc})")
        section.update(samples=len(self.samples), skipped=self.skipped, gaps=self.gaps)
        return section


class Sampler:
    """One loop sampling every monitor each ``interval_s`` on the run's clock.

    ``emit(sample)`` gets every row as it is taken (on the loop; it must not block): the run
    turns them into events for its outputs (the results folder streams the CSVs). ``notify``
    gets one-line warnings (a gap, a skipped sample, a source lost). Monitors are sampled at
    once, each in a thread, so one slow source does not delay the others.
    """

    def __init__(self, monitors: Sequence[Monitor], interval_s: float, *,
                 emit: Callable[[Sample], None] = lambda s: None,
                 notify: Callable[[str], None] = lambda m: None) -> None:
        self.records = {m.name: MonitorRecord(m) for m in monitors}
        if len(self.records) != len(monitors):
            raise ValueError("two monitors with one name")
        self.interval_s = interval_s
        self._emit = emit
        self._notify = notify
        self._pool = concurrent.futures.ThreadPoolExecutor(max(1, len(monitors)), thread_name_prefix="surge-monitor")
        self._pending: dict[str, concurrent.futures.Future] = {}

    def bind(self, emit: Callable[[Sample], None], notify: Callable[[str], None]) -> None:
        """Where rows and warnings go (the run binds its event fan-out before sampling)."""
        self._emit, self._notify = emit, notify

    def start(self) -> None:
        """Start every monitor; the first that cannot start closes the others and raises."""
        started: list[Monitor] = []
        try:
            for record in self.records.values():
                record.monitor.start()
                started.append(record.monitor)
        except BaseException:
            for monitor in started:
                _quietly(monitor.close)
            self._pool.shutdown(wait=False)
            raise

    async def run(self, t0_wall: float, stop: asyncio.Event) -> None:
        """Sample at t0 + k * interval until ``stop`` is set (then one last sample)."""
        k = 0
        while True:
            due = t0_wall + k * self.interval_s
            delay = due - time.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            final = stop.is_set()
            await self.sample_all(t0_wall)
            if final:
                return
            k = max(k + 1, int((time.time() - t0_wall) / self.interval_s) + 1)  # skip what a stall ate

    async def sample_all(self, t0_wall: float) -> None:
        loop = asyncio.get_running_loop()
        taken = time.time()
        waits = {}
        for name, record in self.records.items():
            if record.done:
                continue
            if name in self._pending and not self._pending[name].done():  # still busy with the last one
                record.skipped += 1
                if record.skipped == 1:
                    self._warn(record, f"monitor {name}: a sample took longer than the interval "
                                       f"({self.interval_s:g}s) and was skipped")
                continue
            future = self._pool.submit(record.monitor.sample)
            self._pending[name] = future
            waits[name] = asyncio.wrap_future(future, loop=loop)
        if not waits:
            return
        done, _ = await asyncio.wait(waits.values(), timeout=self.interval_s)
        for name, waiter in waits.items():
            record = self.records[name]
            if waiter not in done:
                continue  # counted as skipped at the next round if still running
            self._take(record, waiter, taken, t0_wall)

    def _take(self, record: MonitorRecord, waiter: asyncio.Future, taken: float, t0_wall: float) -> None:
        name = record.monitor.name
        elapsed = max(0.0, taken - t0_wall)
        try:
            values = waiter.result()
        except SourceLost as exc:
            record.gaps += 1
            if exc.final:
                record.done, record.lost_at_s = True, round(elapsed, 3)
                self._warn(record, f"monitor {name}: {exc} at {elapsed:.1f}s; no more samples")
            elif record.gaps == 1:
                self._warn(record, f"monitor {name}: {exc} at {elapsed:.1f}s; the series has a gap, the run goes on")
            return
        except Exception as exc:  # a bug of the monitor: a gap, not a lost run
            record.gaps += 1
            if record.gaps == 1:
                self._warn(record, f"monitor {name}: its sample raised {type(exc).__name__}: {exc}")
            return
        sample = Sample(name, taken, elapsed, dict(values), tuple(record.monitor.columns))
        record.samples.append(sample)
        self._emit(sample)

    def _warn(self, record: MonitorRecord, message: str) -> None:
        record.warnings.append(message)
        self._notify(message)

    def reports(self) -> dict[str, dict[str, Any]]:
        """Each monitor's end-of-load report (those that make one), by file name; never raises."""
        out = {}
        for name, record in self.records.items():
            report = getattr(record.monitor, "report", None)
            if not callable(report):
                continue
            try:
                out[f"{name}_report.json"] = report()
            except Exception as exc:  # a report that fails must not cost the run its files
                self._warn(record, f"monitor {name}: its report failed ({type(exc).__name__}: {exc})")
        return out

    def sections(self) -> dict[str, dict[str, Any]]:
        return {name: record.section() for name, record in self.records.items()}

    def warnings(self) -> list[str]:
        own = [w for record in self.records.values() for w in getattr(record.monitor, "warnings", ())]
        return own + [w for record in self.records.values() for w in record.warnings]

    def close(self) -> None:
        for record in self.records.values():
            _quietly(record.monitor.close)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:  # closing what is already broken
        pass
