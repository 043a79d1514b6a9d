"""Robust trend of a series: the Theil–Sen slope (the median of pairwise slopes). Pure.

Why Theil–Sen and not least squares: a process's RSS jumps when a cache fills, a GC runs or
an allocator returns an arena, and one such jump pulls a least-squares line far off. The
median of the slopes between pairs of points ignores a minority of wild points altogether:
as long as more than half of the pairs join two ordinary points, the fit is the slope of the
ordinary points. With all pairs that holds up to ~29% of outliers (1 - 1/sqrt(2)), wherever
they sit.

Cost: all ``n(n-1)/2`` pairs while there are at most :data:`MAX_PAIRS` of them (``n`` <= 200).
Beyond that, a deterministic sample that keeps the two properties the full set has: every
point takes part in the same number of pairs, and the gaps between paired points are spread as
in the full set. Each point ``i`` is paired with ``(i + d) mod n`` for ``r = MAX_PAIRS // n``
offsets ``d`` spread evenly over ``1..n-1`` (a golden-ratio sequence); a pair that wraps round
has gap ``n - d``, so the gaps come out weighted like the full set's. A 2-hour soak sampled
every 0.5 s (14,400 points) then costs ~14,400 slopes instead of ~100 million. As every point
is in exactly ``2r`` pairs, a share ``p`` of outliers spoils at most ``2p`` of them wherever
they sit: below 25% of outliers the fit is still the ordinary points' slope (at random places
the spoiled share is about ``1 - (1 - p)^2``, as with all pairs). Past ``MAX_PAIRS`` points
``r`` stays 1 (``n`` slopes: O(n log n) for the median). The same input gives the same answer.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence

#: all pairs up to this many; beyond, about this many (``n`` once there are more points)
MAX_PAIRS = 20_000

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """The median of the slopes ``(y_j - y_i) / (x_j - x_i)`` over pairs with ``x_i != x_j``.

    ``None`` with fewer than two points, or when every x is the same (no slope to speak of).
    Units are those of ``ys`` per unit of ``xs`` (MB per second for RSS over ``elapsed_s``).
    """
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length ({len(xs)} and {len(ys)})")
    slopes = [(ys[j] - ys[i]) / (xs[j] - xs[i]) for i, j in pairs(len(xs)) if xs[j] != xs[i]]
    return statistics.median(slopes) if slopes else None


def theil_sen_intercept(xs: Sequence[float], ys: Sequence[float], slope: float) -> float | None:
    """The intercept that goes with ``slope``: the median of ``y - slope * x`` (None if empty)."""
    if not xs:
        return None
    return statistics.median(y - slope * x for x, y in zip(xs, ys))


def pairs(n: int) -> Iterator[tuple[int, int]]:
    """The index pairs a fit over ``n`` points uses (``i != j``; the order within a pair does not
    matter for a slope): every pair, or ``n`` pairs for each of ``MAX_PAIRS // n`` offsets."""
    if n * (n - 1) // 2 <= MAX_PAIRS:
        for j in range(1, n):
            for i in range(j):
                yield i, j
        return
    for s in range(max(1, MAX_PAIRS // n)):
        d = 1 + int(math.fmod(0.5 + _GOLDEN * s, 1.0) * (n - 1))  # in 1..n-1
        for i in range(n):
            yield i, (i + d) % n
