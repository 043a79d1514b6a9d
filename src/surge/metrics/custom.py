"""Custom metrics a scenario declares at module level: ``Trend``, ``Rate``, ``Counter``.

They buffer one interval's values in the worker that imported the scenario; the worker finds
them by scanning the scenario module (no global registry) and flushes them with its snapshot.
"""
from __future__ import annotations

from .hdr import Histogram
from .snapshot import MetricSnapshot

#: trend values are stored in thousandths of their unit, so 3 significant digits hold below 1 unit too
TREND_SCALE = 1000


class Metric:
    kind = ""

    def __init__(self, name: str, unit: str = "") -> None:
        if not name or not isinstance(name, str):
            raise ValueError("a metric needs a name")
        self.name = name
        self.unit = unit

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Trend(Metric):
    """A distribution (e.g. a server-reported duration, in ``unit``). Thresholds: min, mean, max, pN, count."""

    kind = "trend"

    def __init__(self, name: str, unit: str = "ms") -> None:
        super().__init__(name, unit)
        self._values: list[int] = []

    def add(self, value: float) -> None:
        self._values.append(int(round(value * TREND_SCALE)))

    def flush(self) -> MetricSnapshot | None:
        if not self._values:
            return None
        h = Histogram()
        h.record_many(self._values)
        self._values = []
        return MetricSnapshot(self.name, self.kind, self.unit, hist=h.to_wire(), count=h.count)


class Rate(Metric):
    """A ratio of true values (e.g. cache hits). Thresholds: rate (a fraction, or %), count."""

    kind = "rate"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._hits = 0
        self._count = 0

    def add(self, hit: bool) -> None:
        self._count += 1
        self._hits += bool(hit)

    def flush(self) -> MetricSnapshot | None:
        if not self._count:
            return None
        snap = MetricSnapshot(self.name, self.kind, count=self._count, hits=self._hits)
        self._hits = self._count = 0
        return snap


class Counter(Metric):
    """A running total (e.g. items processed). Thresholds: count (the total), rate (per second)."""

    kind = "counter"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._total = 0.0
        self._count = 0

    def add(self, n: float = 1) -> None:
        self._total += n
        self._count += 1

    def flush(self) -> MetricSnapshot | None:
        if not self._count:
            return None
        snap = MetricSnapshot(self.name, self.kind, count=self._count, total=self._total)
        self._total, self._count = 0.0, 0
        return snap
