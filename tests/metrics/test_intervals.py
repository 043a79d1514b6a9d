"""Merge by interval index: when an interval is complete, partial, or a snapshot late. Pure."""
from __future__ import annotations

from surge.metrics.intervals import IntervalBook
from surge.metrics.snapshot import Snapshot


def snap(worker: int, interval: int, final: bool = False) -> Snapshot:
    return Snapshot(worker_id=worker, interval=interval, users=1, final=final)


def test_an_interval_closes_once_every_live_worker_delivered_it_in_any_order():
    book = IntervalBook(range(2))
    assert book.add(snap(1, 0)) and not book.ready()  # worker 0 has not sent interval 0 yet
    assert book.add(snap(1, 1)) and not book.ready()  # worker 1 ahead by one: still waiting for 0
    assert book.missing() == [0]
    book.add(snap(0, 0))
    assert book.ready()
    k, snaps, partial = book.pop()
    assert (k, sorted(s.worker_id for s in snaps), partial) == (0, [0, 1], False)
    assert not book.ready()  # interval 1 still lacks worker 0
    book.add(snap(0, 1))
    k, snaps, partial = book.pop()
    assert (k, [s.interval for s in snaps], partial) == (1, [1, 1], False)


def test_a_worker_that_skipped_intervals_delivered_them_empty():
    book = IntervalBook(range(2))
    book.add(snap(0, 3))  # its loop stalled: one snapshot for everything up to interval 3
    for k in range(4):
        book.add(snap(1, k))
        assert book.ready()
        got, snaps, _ = book.pop()
        assert got == k
        assert sorted(s.worker_id for s in snaps) == ([1] if k < 3 else [0, 1])


def test_an_overdue_interval_closes_partial_and_its_snapshot_is_late_later():
    book = IntervalBook(range(2))
    book.add(snap(0, 0))
    k, snaps, partial = book.pop()  # the run decided interval 0 waited long enough
    assert (k, len(snaps), partial) == (0, 1, True)
    assert book.partial == 1
    assert book.add(snap(1, 0)) is False  # late: the caller counts it in the totals only
    assert book.late == 1


def test_final_and_lost_workers_hold_nothing_up():
    book = IntervalBook(range(3))
    book.add(snap(0, 0))
    book.add(snap(1, 0, final=True))  # worker 1 finished inside interval 0
    book.retire(2)  # worker 2 lost
    assert book.ready()
    book.pop()
    book.add(snap(0, 1, final=True))
    assert book.ready()
    k, snaps, partial = book.pop()
    assert (k, len(snaps), partial) == (1, 1, False)
    assert book.done and not book.ready()


def test_when_every_worker_ended_the_remaining_intervals_close_in_order():
    book = IntervalBook(range(1))
    book.add(snap(0, 0))
    book.add(snap(0, 2, final=True))
    closed = []
    while not book.done:
        k, snaps, _ = book.pop()
        closed.append((k, len(snaps)))
    assert closed == [(0, 1), (1, 0), (2, 1)]
