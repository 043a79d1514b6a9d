"""Poisson arrivals for open workloads: a Poisson process at the plan's (time-varying) rate.

Time-rescaling. Measure time by the area under the rate curve, Λ(t) = ∫₀ᵗ λ: the uniform
schedule puts iteration k at Λ⁻¹(k) (:func:`surge.model.schedule.arrival_time`); a Poisson
process at rate λ(t) is a unit-rate Poisson process in area units mapped through the same
Λ⁻¹. Ramps and stages are thus a non-homogeneous Poisson process with no extra machinery.

Split across workers: each worker draws **its own stream**, from ``random.Random`` seeded with
(seed, worker id, worker count): a Poisson process of rate 1/n in area units, so a Poisson
process at λ(t)/n in time. Independent Poisson processes superpose into one at the summed
rate, so the n workers together offer a Poisson process at exactly λ(t), with no coordination
and no thinning. The same seed (and the same ``--processes``) gives the same arrival times.

How a stream is drawn: its count N ~ Poisson(A/n) first (A = Λ at the plan's end), then N
sorted positions uniform on [0, A), generated in increasing order (the least of r uniforms on
[u, 1) is u + (1 - u)(1 - V^(1/r))). Given its count, a Poisson process's points are i.i.d.
uniform, so this is the same process as summing exponential gaps; but its length is known
before it is walked, so the executor counts the arrivals a worker never started in O(1), as
:func:`surge.model.schedule.total_arrivals` does for the uniform schedule. The worker's m-th
arrival carries the index k = worker + m·n, as the uniform split's do, so user classes are
picked by the same weighted cycle.

Stdlib only (``random``): exact Poisson and binomial variates from gamma and beta ones
(Knuth, TAOCP vol. 2, 3.4.1).
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

from .kinds import Arrival
from .plan import OpenWorkload, Stage
from .schedule import _time_to_cover, owned_arrivals, owned_count, rate_area, total_arrivals

_SMALL = 16  # below this mean (or number of trials) the variates are drawn directly


def poisson_variate(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count with ``mean`` (exact for any mean, O(log mean) draws).

    Gamma(m) is the time of the m-th event of a unit-rate process: if it falls past ``mean``,
    the events before it are m-1 uniform points on [0, Gamma), a binomial share of which fall
    before ``mean``; else m events happened and the rest of the interval is a fresh process.
    """
    count = 0
    while mean > _SMALL:
        m = int(mean * 0.875)
        g = rng.gammavariate(m, 1.0)
        if g >= mean:
            return count + binomial_variate(rng, m - 1, mean / g)
        count += m
        mean -= g
    limit, product = math.exp(-mean), rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def binomial_variate(rng: random.Random, trials: int, p: float) -> int:
    """A Binomial(trials, p) count (exact; O(log trials) beta draws, then at most 16 Bernoulli).

    The a-th least of ``trials`` uniforms is Beta(a, trials + 1 - a): at or past ``p``, the
    successes are among the a - 1 below it (each below ``p`` with chance p / x); before ``p``, a
    successes are sure and the other trials - a are uniform on (x, 1).
    """
    successes = 0
    while trials > _SMALL:
        a = 1 + trials // 2
        b = trials + 1 - a
        x = rng.betavariate(a, b)
        if x >= p:
            trials, p = a - 1, p / x
        else:
            successes += a
            trials, p = b - 1, (p - x) / (1.0 - x)
    return successes + sum(1 for _ in range(trials) if rng.random() < p)


def stream(seed: int | None, worker: int, workers: int) -> random.Random:
    """The worker's random stream: seeded from (seed, worker, workers), or fresh when seed is None.

    A string seed is hashed with SHA-512 by ``random.Random``: the same in every process
    (unlike ``hash()``), so a worker process draws what an in-process worker would.
    """
    return random.Random() if seed is None else random.Random(f"surge-arrivals:{seed}:{worker}:{workers}")


class PoissonArrivals:
    """One worker's Poisson arrivals: iterate for ``(k, due time)``; ``total`` is how many there are."""

    def __init__(self, stages: Sequence[Stage], worker: int, workers: int, seed: int | None) -> None:
        self._stages = tuple(stages)
        self._worker, self._workers = worker, workers
        self._rng = stream(seed, worker, workers)
        self.area = rate_area(self._stages)
        self.total = poisson_variate(self._rng, self.area / workers) if self.area > 0 else 0

    def __iter__(self) -> Iterator[tuple[int, float]]:
        """Λ⁻¹ of each position, walking the stages once; the m-th gets k = worker + m·n.

        The positions (``total`` of them, uniform on [0, area), increasing) are drawn inline:
        ~1 µs an arrival, as a generator of their own cost twice that. A position that
        rounding puts past the area is due at the end of the last stage with a rate (every
        drawn arrival is scheduled, so ``total`` stays exact).
        """
        stages, workers, total, scale = self._stages, self._workers, self.total, self.area
        random_, log, expm1 = self._rng.random, math.log, math.expm1
        last = max((i for i, s in enumerate(stages) if s.duration_s > 0 and s.target + _start(stages, i) > 0),
                   default=-1)
        k, m, u = self._worker, 0, 0.0
        x = (u := -expm1(log(1.0 - random_()) / total)) * scale if total else None
        before, start_rate, start_t = 0.0, 0.0, 0.0
        for i, stage in enumerate(stages):
            d, r0, r1 = stage.duration_s, start_rate, stage.target
            if d > 0 and (r0 > 0 or r1 > 0):
                area = (r0 + r1) / 2.0 * d
                flat = abs((r1 - r0) / (2.0 * d)) < 1e-12
                while x is not None and (x - before < area or i == last):
                    need = min(max(x - before, 0.0), area)
                    yield k, start_t + min(need / r0 if flat else _time_to_cover(need, r0, r1, d), d)
                    k += workers
                    m += 1
                    if m < total:  # the least of the (total - m) positions left, all above u
                        u += (1.0 - u) * -expm1(log(1.0 - random_()) / (total - m))
                        x = u * scale
                    else:
                        x = None
                before += area
            start_rate, start_t = r1, start_t + d


def _start(stages: Sequence[Stage], i: int) -> float:
    return stages[i - 1].target if i else 0.0


def worker_arrivals(workload: OpenWorkload, worker: int, workers: int) -> tuple[Iterator[tuple[int, float]], int]:
    """The worker's arrivals ``(k, due time)`` in order, and how many there are in all.

    Uniform: :func:`~surge.model.schedule.owned_arrivals` (k ≡ worker mod n). Poisson: this
    worker's own stream (:class:`PoissonArrivals`), its k also ≡ worker mod n.
    """
    if workload.arrival == Arrival.POISSON:
        arrivals = PoissonArrivals(workload.stages, worker, workers, workload.seed)
        return iter(arrivals), arrivals.total
    return (owned_arrivals(workload.stages, worker, workers),
            owned_count(total_arrivals(workload.stages), worker, workers))


def planned_arrivals(workload: OpenWorkload, workers: int) -> int:
    """How many arrivals the workers together are scheduled (uniform: the area, rounded up;
    Poisson: the sum of the workers' drawn counts, a Poisson count with the area as mean)."""
    return sum(worker_arrivals(workload, w, workers)[1] for w in range(workers))
