"""The sampler loop: cadence on the run's clock, slow samples skipped, lost sources, start failures."""
from __future__ import annotations

import asyncio
import time

import pytest

from surge.monitors.base import MonitorUnavailable, Sampler, SourceLost


class Counting:
    """A monitor of a counter in this process: each sample reads it (no external source)."""

    columns = ("n",)

    def __init__(self, name="count", delay_s=0.0, lose_at=None, final=False, fail_start=False):
        self.name, self.delay_s, self.lose_at, self.final, self.fail_start = name, delay_s, lose_at, final, fail_start
        self.n = 0
        self.closed = False

    def start(self):
        if self.fail_start:
            raise MonitorUnavailable(f"{self.name} cannot start")

    def sample(self):
        self.n += 1
        if self.lose_at is not None and self.n >= self.lose_at:
            raise SourceLost("the source went away", final=self.final)
        time.sleep(self.delay_s)
        return {"n": self.n}

    def summarise(self, rows):
        return {"n_max": max((r.values["n"] for r in rows), default=0)}

    def close(self):
        self.closed = True


def run_for(sampler, seconds):
    async def main():
        stop = asyncio.Event()
        t0 = time.time()
        task = asyncio.ensure_future(sampler.run(t0, stop))
        await asyncio.sleep(seconds)
        stop.set()
        await task
        return t0

    return asyncio.run(main())


def test_samples_are_taken_on_the_run_clock_and_emitted():
    seen = []
    sampler = Sampler([Counting()], 0.1, emit=seen.append)
    sampler.start()
    t0 = run_for(sampler, 0.55)
    sampler.close()
    assert 6 <= len(seen) <= 8  # t0, every 0.1 s, and a last one at the stop
    assert all(s.monitor == "count" and s.timestamp >= t0 for s in seen)
    assert [round(s.elapsed_s, 1) for s in seen[:5]] == [0.0, 0.1, 0.2, 0.3, 0.4]
    section = sampler.sections()["count"]
    assert section == {"n_max": len(seen), "samples": len(seen), "skipped": 0, "gaps": 0}


def test_a_slow_sample_is_skipped_and_counted_and_does_not_delay_the_others():
    fast, slow = Counting("fast"), Counting("slow", delay_s=0.25)
    notes = []
    sampler = Sampler([fast, slow], 0.1, notify=notes.append)
    sampler.start()
    run_for(sampler, 0.65)
    sampler.close()
    sections = sampler.sections()
    assert sections["fast"]["samples"] >= 6 and sections["fast"]["skipped"] == 0
    assert sections["slow"]["skipped"] >= 2 and sections["slow"]["samples"] <= 3
    assert len([n for n in notes if "slow" in n]) == 1  # said once


@pytest.mark.parametrize("final", [False, True])
def test_a_lost_source_is_a_gap_or_the_end_of_its_series(final):
    notes = []
    lost = Counting("lost", lose_at=3, final=final)
    sampler = Sampler([lost, Counting("other")], 0.1, notify=notes.append)
    sampler.start()
    run_for(sampler, 0.55)
    sampler.close()
    record = sampler.records["lost"]
    assert len(record.samples) == 2
    if final:
        assert record.gaps == 1 and record.lost_at_s == pytest.approx(0.2, abs=0.05)
        assert notes == ["monitor lost: the source went away at 0.2s; no more samples"]
    else:
        assert record.gaps >= 3 and record.lost_at_s is None
        assert len(notes) == 1 and "the series has a gap, the run goes on" in notes[0]
    assert len(sampler.records["other"].samples) >= 6


def test_a_monitor_that_cannot_start_closes_those_started_and_raises():
    first, second = Counting("first"), Counting("second", fail_start=True)
    sampler = Sampler([first, second], 1.0)
    with pytest.raises(MonitorUnavailable, match="second cannot start"):
        sampler.start()
    assert first.closed and not second.closed


def test_a_raising_summary_keeps_the_counts():
    class Broken(Counting):
        def summarise(self, rows):
            raise ZeroDivisionError("no rows")

    sampler = Sampler([Broken("broken")], 0.1)
    sampler.start()
    run_for(sampler, 0.15)
    sampler.close()
    section = sampler.sections()["broken"]
    assert section["samples"] >= 2 and "n_max" not in section
    assert sampler.warnings() == ["monitor broken: its summary failed (ZeroDivisionError: no rows)"]
