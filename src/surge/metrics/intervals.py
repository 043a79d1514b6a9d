"""Which intervals have all their snapshots: the coordinator's merge-by-index bookkeeping. Pure.

Every worker labels each snapshot with the interval it closes (see :mod:`.snapshot`). Interval
k is complete once every live worker has delivered through k; a worker that finished (its
final snapshot) or was lost no longer holds anything up. The book never reads a clock: the
run decides when an incomplete interval is overdue and closes it anyway (``partial``); a
snapshot for an interval already closed is *late*: the caller counts it in the totals only.
"""
from __future__ import annotations

from collections.abc import Iterable

from .snapshot import Snapshot


class IntervalBook:
    def __init__(self, workers: Iterable[int]) -> None:
        self._through: dict[int, int] = {w: -1 for w in workers}  # live workers: highest interval delivered
        self._pending: dict[int, list[Snapshot]] = {}
        self.next = 0  # the next interval to close
        self.partial = 0  # intervals closed before every live worker had delivered
        self.late = 0  # snapshots that came after their interval was closed

    def add(self, snap: Snapshot) -> bool:
        """File a snapshot. False when it is late (its interval is closed): merge it into totals."""
        if snap.worker_id in self._through:
            self._through[snap.worker_id] = max(self._through[snap.worker_id], snap.interval)
        if snap.final:
            self.retire(snap.worker_id)
        if snap.interval < self.next:
            self.late += 1
            return False
        self._pending.setdefault(snap.interval, []).append(snap)
        return True

    def retire(self, worker_id: int) -> None:
        """The worker sent its final snapshot or was lost: intervals no longer wait for it."""
        self._through.pop(worker_id, None)

    def ready(self) -> bool:
        """Is interval ``next`` complete (and is there anything to close)?"""
        if self._through:
            return all(t >= self.next for t in self._through.values())
        return any(k >= self.next for k in self._pending)

    def missing(self) -> list[int]:
        """Live workers that have not delivered interval ``next`` yet."""
        return sorted(w for w, t in self._through.items() if t < self.next)

    def pop(self) -> tuple[int, list[Snapshot], bool]:
        """Close interval ``next``: (index, its snapshots, partial?). Call when ready or overdue."""
        partial = not self.ready()
        k = self.next
        self.next += 1
        self.partial += partial
        return k, self._pending.pop(k, []), partial

    @property
    def done(self) -> bool:
        """No live worker and nothing pending: every interval is closed."""
        return not self._through and not any(k >= self.next for k in self._pending)
