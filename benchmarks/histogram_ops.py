"""Per-operation costs of surge's sparse Histogram, side by side with the dense one it replaced.

``Dense`` below is the previous ``surge.metrics.hdr.Histogram``, condensed: the hdrh package's
``HdrHistogram`` (23,552 int64 counters), numpy bulk recording into its counts, hdrh's C ``add``
for merges, numpy over all counters for percentiles and mean, and the standard encoding as the
worker -> coordinator wire. Then a model of one coordinator interval with 1,000 endpoints.

    .venv/bin/python benchmarks/histogram_ops.py
    .venv/bin/python benchmarks/histogram_ops.py --repeat 9 --endpoints 1000

Figures are the best of ``--repeat`` runs (µs per operation); on a shared machine they move by
±20% between sittings, so compare the two columns of one sitting.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from hdrh.histogram import HdrHistogram

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from surge.metrics import hdr  # noqa: E402
from surge.metrics.hdr import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS, Histogram  # noqa: E402
from surge.model.summary import PERCENTILES  # noqa: E402

PS = [p for _, p in PERCENTILES]


class Dense:
    """The previous implementation (dense hdrh counts), for comparison only."""

    __slots__ = ("h",)

    def __init__(self, h: HdrHistogram | None = None) -> None:
        self.h = h or HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)

    def counts(self) -> np.ndarray:
        return np.frombuffer(self.h.counts, dtype=np.int64)

    def record_many(self, values) -> None:
        h = self.h
        v = np.array(values, dtype=np.int64)
        np.clip(v, LOWEST_US, HIGHEST_US, out=v)
        bits = np.frexp((v | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
        bucket = bits - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
        sub_bucket = v >> (bucket + h.unit_magnitude)
        index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + (sub_bucket - h.sub_bucket_half_count)
        binned = np.bincount(index)
        nz = np.flatnonzero(binned)
        self.counts()[nz] += binned[nz]
        h.total_count += int(v.size)
        h.min_value = min(h.min_value, int(v.min()))
        h.max_value = max(h.max_value, int(v.max()))

    def merge(self, other: "Dense") -> None:
        if other.h.total_count:
            self.h.add(other.h)

    def stats(self) -> tuple:
        """min, mean, max and the reported percentiles, as the old class computed them."""
        h, total = self.h, self.h.total_count
        cumulative = np.cumsum(self.counts())
        out = {}
        for p in PS:
            target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
            out[p] = int(hdr._HIGHEST[int(np.searchsorted(cumulative, target))])
        mean = float(self.counts().astype(np.float64) @ hdr._MEDIAN) / total
        return h.get_min_value(), mean, h.get_max_value(), out


# -- fixtures ------------------------------------------------------------------------------
def bucket_values(buckets: int, rng: np.random.Generator, max_count: int = 40) -> np.ndarray:
    """Values filling ``buckets`` distinct buckets of a latency-like (lognormal, ~20 ms) spread."""
    chosen: set[int] = set()
    while len(chosen) < buckets:
        draw = np.maximum(rng.lognormal(np.log(20_000), 0.8, size=buckets), 1).astype(np.int64)
        chosen.update(hdr._indices_of(draw).tolist())
    lowest = [hdr._lowest_of_index(i) for i in sorted(chosen)[:buckets]]
    return np.repeat(np.array(lowest, dtype=np.int64), rng.integers(1, max_count, size=buckets))


def both(values: np.ndarray) -> tuple[Histogram, Dense]:
    sparse, dense = Histogram(), Dense()
    sparse.record_many(values)
    dense.record_many(values)
    return sparse, dense


def subset_values(values: np.ndarray, buckets: int, rng: np.random.Generator) -> np.ndarray:
    """A window: ``buckets`` of the buckets ``values`` fills (so a merge finds them all)."""
    distinct = np.unique(values)
    return rng.choice(distinct, size=buckets, replace=False)


def best_us(fn, repeat: int, number: int) -> float:
    """The best of ``repeat`` timings of ``number`` calls, in µs per call."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best * 1e6


# -- per-operation table -------------------------------------------------------------------
def best_each_us(targets, op, repeat: int) -> float:
    """Like :func:`best_us` for operations that change their target: one fresh target a call."""
    best = float("inf")
    for _ in range(repeat):
        prepared = targets()
        t0 = time.perf_counter()
        for target in prepared:
            op(target)
        best = min(best, (time.perf_counter() - t0) / len(prepared))
    return best * 1e6


def operations(repeat: int) -> list[tuple[str, float, float]]:
    rng = np.random.default_rng(7)
    rows = []
    raw = np.maximum(rng.lognormal(np.log(20_000), 0.8, size=10_000), 1).astype(np.int64)
    rows.append(("record_many, 10k values, fresh (a flush)",
                 best_each_us(lambda: [Histogram() for _ in range(50)], lambda h: h.record_many(raw), repeat),
                 best_each_us(lambda: [Dense() for _ in range(50)], lambda h: h.record_many(raw), repeat)))
    s, d = both(raw)
    rows.append(("record_many, 10k values, into the same",
                 best_us(lambda: s.record_many(raw), repeat, 50), best_us(lambda: d.record_many(raw), repeat, 50)))

    cumulative = bucket_values(3000, rng)
    cs, cd = both(cumulative)
    ws, wd = both(subset_values(cumulative, 50, rng))
    rows.append(("merge 50 into 3,000 (all exist)", best_us(lambda: cs.merge(ws), repeat, 2000),
                 best_us(lambda: cd.merge(wd), repeat, 200)))
    fresh = np.concatenate([subset_values(cumulative, 45, rng), bucket_values(5, rng) + 3_000_000])
    fs, fd = both(fresh)
    rows.append(("merge 50 into 3,000 (5 new)",
                 best_each_us(lambda: [cs.copy() for _ in range(200)], lambda h: h.merge(fs), repeat),
                 best_us(lambda: cd.merge(fd), repeat, 200)))

    windows = [both(subset_values(cumulative, 50, rng)) for _ in range(1000)]
    sparse_windows, dense_windows = [w[0] for w in windows], [w[1] for w in windows]

    def dense_union() -> Dense:
        out = Dense()
        for w in dense_windows:
            out.merge(w)
        return out

    rows.append(("merged (1,000 x 50 buckets)", best_us(lambda: Histogram.merged(sparse_windows), repeat, 20),
                 best_us(dense_union, min(repeat, 3), 1)))

    def sparse_stats():
        return cs.min_us, cs.mean_us, cs.max_us, cs.percentiles_us(PS)

    rows.append(("min+mean+max+10 percentiles (3,000)", best_us(sparse_stats, repeat, 2000),
                 best_us(cd.stats, repeat, 200)))

    hs, hd = both(bucket_values(100, rng))
    rows.append(("to_wire+json+from_wire (100 buckets)",
                 best_us(lambda: Histogram.from_wire(json.loads(json.dumps(hs.to_wire()))), repeat, 2000),
                 best_us(lambda: Dense(HdrHistogram.decode(json.loads(json.dumps(hd.h.encode().decode())))),
                         repeat, 200)))
    for label, (sh, dh) in (("100", (hs, hd)), ("3,000", (cs, cd))):
        text = sh.encode()
        rows.append((f"encode ({label} buckets)", best_us(sh.encode, repeat, 100), best_us(dh.h.encode, repeat, 100)))
        rows.append((f"decode ({label} buckets)", best_us(lambda: Histogram.decode(text), repeat, 100),
                     best_us(lambda: HdrHistogram.decode(text), repeat, 100)))
    rows.append(("Histogram() (empty)", best_us(Histogram, repeat, 5000), best_us(Dense, repeat, 200)))
    return rows


# -- sizes --------------------------------------------------------------------------------
def footprint_bytes(make, n: int = 200) -> float:
    """Bytes allocated per object (arrays and object headers), by tracemalloc over ``n`` of them."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [make() for _ in range(n)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return (after - before) / n


def sizes() -> list[tuple[str, str]]:
    rng = np.random.default_rng(11)
    rows = []
    for buckets in (50, 100, 3000):
        values = bucket_values(buckets, rng)
        h, _ = both(values)
        wire = h.to_wire()
        rows.append((f"{buckets:,} buckets",
                     f"nbytes {h.nbytes:,} B; in memory with object headers "
                     f"{footprint_bytes(lambda: Histogram.from_wire(wire)):,.0f} B; "
                     f"wire {len(json.dumps(wire)):,} B; standard encoding {len(h.encode()):,} B"))
    dense = Dense()
    rows.append(("dense (any)", f"counts {dense.counts().nbytes:,} B; in memory {footprint_bytes(Dense, 20):,.0f} B"))
    return rows


# -- wire alternatives (why the packed base64 string) ----------------------------------------
def json_lists_wire(h: Histogram) -> list:
    index = h._index.astype(np.int64)
    return [np.diff(index, prepend=0).tolist(), h._counts.tolist()]


def from_json_lists(value: list) -> Histogram:
    deltas, counts = (np.array(v, dtype=np.int64) for v in value)
    index = np.cumsum(deltas)
    if index.size and (deltas[1:].min(initial=1) <= 0 or counts.min() <= 0 or index[-1] >= hdr._INDICES):
        raise ValueError("bad")
    index = index.astype(np.uint16)
    return Histogram._of(index, counts, int(counts.sum()), hdr._weighted_sum(index, counts, int(counts.sum())))


def wire_alternatives(repeat: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(5)
    rows = []
    for label, max_count in (("counts < 40", 40), ("counts < 5,000", 5000)):
        h = Histogram()
        h.record_many(bucket_values(100, rng, max_count))
        for name, enc, dec in (("packed base64 (chosen)", Histogram.to_wire, Histogram.from_wire),
                               ("JSON lists, delta indices", json_lists_wire, from_json_lists)):
            text = json.dumps(enc(h))
            us = best_us(lambda: dec(json.loads(json.dumps(enc(h)))), repeat, 1000)
            rows.append((f"{name}, 100 buckets, {label}", f"{us:6.1f} µs round trip, {len(text):,} B"))
    return rows


# -- one coordinator interval ----------------------------------------------------------------
def coordinator_interval(kind, endpoints: int, workers: int, repeat: int, cumulative_once: bool = False):
    """CPU ms and MB held for one interval of a coordinator with ``endpoints`` series.

    Every worker's snapshot carries each endpoint's window (100 buckets) on the wire; the
    coordinator reads each, merges it into that interval's window and into the run's cumulative
    (3,000 buckets), builds the interval's all-requests total with ``merged``, and summarises
    every window, every cumulative and the total (min, mean, max, 10 percentiles).
    ``cumulative_once``: the cumulative takes the interval's window in one merge instead of
    every worker's arrival (workers + 1 merges an endpoint instead of 2 x workers).
    """
    rng = np.random.default_rng(3)
    base = bucket_values(3000, rng)
    windows = [both(subset_values(base, 100, rng)) for _ in range(min(endpoints, 200))]
    if kind is Histogram:
        wire = [w[0].to_wire() for w in windows]
        read = Histogram.from_wire
    else:
        wire = [w[1].h.encode().decode() for w in windows]
        read = lambda text: Dense(HdrHistogram.decode(text))  # noqa: E731
    docs = [json.dumps({"series": [wire[(i + k) % len(wire)] for i in range(endpoints)]}) for k in range(workers)]
    tracemalloc.start()
    cumulatives = []
    for _ in range(endpoints):
        h = kind()
        h.record_many(base)
        cumulatives.append(h)
    held_mb = tracemalloc.get_traced_memory()[0] / 1e6
    tracemalloc.stop()

    def interval() -> None:
        current = [kind() for _ in range(endpoints)]
        for doc in docs:
            for cumulative, window, text in zip(cumulatives, current, json.loads(doc)["series"]):
                arrived = read(text)
                window.merge(arrived)
                if not cumulative_once:
                    cumulative.merge(arrived)
        if cumulative_once:
            for cumulative, window in zip(cumulatives, current):
                cumulative.merge(window)
        if kind is Histogram:
            total = Histogram.merged(current)
        else:
            total = Dense()
            for w in current:
                total.merge(w)
        for h in [*current, *cumulatives, total]:
            summarise(h)

    return best_us(interval, repeat, 1) / 1000, held_mb


def summarise(h) -> None:
    if isinstance(h, Histogram):
        h.percentiles_us(PS), h.mean_us, h.min_us, h.max_us
    else:
        h.stats()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    print(f"{'operation':42} {'sparse µs':>10} {'dense µs':>10} {'dense/sparse':>13}")
    for name, sparse_us, dense_us in operations(args.repeat):
        print(f"{name:42} {sparse_us:10.1f} {dense_us:10.1f} {dense_us / sparse_us:12.1f}x")
    print("\nsizes")
    for name, text in sizes():
        print(f"  {name:14} {text}")
    print("\nwire alternatives")
    for name, text in wire_alternatives(args.repeat):
        print(f"  {name:52} {text}")
    print(f"\none coordinator interval: {args.endpoints:,} endpoints, {args.workers} workers, "
          "100-bucket windows, 3,000-bucket cumulatives")
    ms, mb = coordinator_interval(Histogram, args.endpoints, args.workers, args.repeat)
    print(f"  sparse: {ms:7.1f} ms CPU per 1 s interval ({ms / 10:5.1f}% of a core); cumulatives hold {mb:6.1f} MB")
    ms, _ = coordinator_interval(Histogram, args.endpoints, args.workers, args.repeat, cumulative_once=True)
    print(f"  sparse, the window merged into the cumulative once: {ms:7.1f} ms CPU ({ms / 10:5.1f}% of a core)")
    scale = max(args.endpoints // 100, 1)
    ms, mb = coordinator_interval(Dense, args.endpoints // scale, args.workers, min(args.repeat, 2))
    print(f"  dense:  {ms * scale:7.1f} ms CPU per 1 s interval ({ms * scale / 10:5.1f}% of a core); cumulatives "
          f"hold {mb * scale:6.1f} MB (measured at {args.endpoints // scale} endpoints, x{scale})")


if __name__ == "__main__":
    main()
