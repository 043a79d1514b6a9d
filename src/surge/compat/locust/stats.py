"""``locust.stats``: ``environment.stats`` as Locust users read it.

Two sources. In the coordinator, after the run (``test_stop``, ``quitting``), the stats are the
run's own final figures across every worker: counts from the summary, percentiles from the
merged HDR histograms. Inside the worker processes (a task reading ``self.environment.stats``)
they are what this process's users did so far, kept per request as Locust keeps them (response
times rounded to 2 significant digits above 100 ms), when the locustfile's source mentions
``stats`` at all (logging every request costs ~1.5 µs that most locustfiles never read);
surge's own figures never come from these.

Module constants Locust users set (``PERCENTILES_TO_REPORT``, ``CSV_STATS_INTERVAL_SEC``...) exist so
that setting them does not fail; surge's outputs do not read them.
"""
from __future__ import annotations

import time
from collections import defaultdict

CSV_STATS_INTERVAL_SEC = 1
CSV_STATS_FLUSH_INTERVAL_SEC = 10
CONSOLE_STATS_INTERVAL_SEC = 2
HISTORY_STATS_INTERVAL_SEC = 5
CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW = 10
PERCENTILES_TO_REPORT = [0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0]
PERCENTILES_TO_CHART = [0.5, 0.95]


def _rounded(ms: float) -> int:
    """Locust's bucketing of a response time: exact below 100 ms, then 2 significant digits."""
    if ms < 100:
        return int(round(ms))
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


class StatsEntry:
    """One (name, method) row, or the total (``name == "Aggregated"``)."""

    def __init__(self, name: str, method: str | None) -> None:
        self.name, self.method = name, method
        self.num_requests = 0
        self.num_failures = 0
        self.total_response_time = 0.0
        self.min_response_time: float | None = None
        self.max_response_time = 0.0
        self.total_content_length = 0
        self.response_times: dict[int, int] = defaultdict(int)
        self.start_time = time.time()
        self.last_request_timestamp: float | None = None
        self._percentile = None  # from a histogram (the run's figures), else from response_times
        self._rps: float | None = None

    def log(self, ms: float, length: int, failed: bool) -> None:
        self.num_requests += 1
        self.total_response_time += ms
        if self.min_response_time is None or ms < self.min_response_time:
            self.min_response_time = ms
        if ms > self.max_response_time:
            self.max_response_time = ms
        self.total_content_length += length
        self.response_times[_rounded(ms)] += 1
        if failed:
            self.num_failures += 1

    @property
    def avg_response_time(self) -> float:
        return self.total_response_time / self.num_requests if self.num_requests else 0.0

    @property
    def median_response_time(self) -> float:
        return self.get_response_time_percentile(0.5)

    @property
    def avg_content_length(self) -> float:
        return self.total_content_length / self.num_requests if self.num_requests else 0.0

    @property
    def fail_ratio(self) -> float:
        return self.num_failures / self.num_requests if self.num_requests else 0.0

    @property
    def total_rps(self) -> float:
        if self._rps is not None:
            return self._rps
        elapsed = (self.last_request_timestamp or time.time()) - self.start_time
        return self.num_requests / elapsed if elapsed > 0 else 0.0

    current_rps = total_rps

    @property
    def total_fail_per_sec(self) -> float:
        return self.total_rps * self.fail_ratio

    def get_response_time_percentile(self, percent: float) -> float:
        """The response time (ms) below which ``percent`` (a fraction, 0.95) of requests fall."""
        if self._percentile is not None:
            return self._percentile(percent)
        wanted = int(self.num_requests * percent)  # Locust's calculate_response_time_percentile
        seen = 0
        for ms in sorted(self.response_times, reverse=True):
            seen += self.response_times[ms]
            if self.num_requests - seen <= wanted:
                return ms
        return 0

    get_current_response_time_percentile = get_response_time_percentile


class RequestStats:
    #: whether requests are logged here (``local_stats``: when the locustfile mentions ``stats``;
    #: a Locust-style log of every request is ~1.5 µs a request that most locustfiles never read)
    kept = True

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], StatsEntry] = {}
        self.errors: dict[str, "StatsError"] = {}
        self.total = StatsEntry("Aggregated", None)

    def get(self, name: str, method: str) -> StatsEntry:
        entry = self.entries.get((name, method))
        if entry is None:
            entry = self.entries[(name, method)] = StatsEntry(name, method)
        return entry

    def log(self, method: str, name: str, ms: float, length: int, exception) -> None:
        failed = exception is not None
        self.total.log(ms, length, failed)
        self.get(name, method).log(ms, length, failed)
        if failed:
            key = f"{method}.{name}.{exception!r}"
            error = self.errors.get(key)
            if error is None:
                error = self.errors[key] = StatsError(method, name, repr(exception))
            error.occurrences += 1

    @property
    def num_requests(self) -> int:
        return self.total.num_requests

    @property
    def num_failures(self) -> int:
        return self.total.num_failures

    def reset_all(self) -> None:
        kept = self.kept
        self.__init__()
        self.kept = kept


class StatsError:
    def __init__(self, method: str, name: str, error: str, occurrences: int = 0) -> None:
        self.method, self.name, self.error, self.occurrences = method, name, error, occurrences


#: what this process's users did (tasks reading ``self.environment.stats`` see it); kept only
#: for a locustfile whose source mentions ``stats`` (``surge_loaded`` decides)
local_stats = RequestStats()
local_stats.kept = False


def from_result(result) -> RequestStats:
    """The run's final figures (a :class:`~surge.model.summary.RunResult`) as Locust's stats."""
    from ...metrics.hdr import Histogram

    stats = RequestStats()
    summary = result.summary
    for e in summary.endpoints:
        _fill(stats.get(e.name, e.method), e, result.histograms.get(f"{e.method} {e.name}"), Histogram)
    _fill(stats.total, summary.total, result.histograms.get("*"), Histogram)
    for f in summary.failures:
        stats.errors[f"{f.method}.{f.name}.{f.kind}: {f.message}"] = StatsError(
            f.method, f.name, f"{f.kind}: {f.message}", f.count)
    return stats


def _fill(entry: StatsEntry, e, encoded: str | None, histogram_type) -> None:
    lat = e.latency_ms
    entry.num_requests, entry.num_failures = e.requests, e.failures
    entry.total_response_time = lat.mean * e.requests
    entry.min_response_time, entry.max_response_time = lat.min, lat.max
    entry.total_content_length = int(e.avg_content_length * e.requests)
    entry._rps = e.rps
    if encoded:
        hist = histogram_type.decode(encoded)
        entry._percentile = lambda p: hist.percentile_us(min(100.0, p * 100.0)) / 1000.0
    else:
        entry._percentile = lambda p: lat.p50 if p <= 0.5 else lat.max
