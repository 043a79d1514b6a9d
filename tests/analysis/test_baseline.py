"""BaselineJudge: the current run's intervals and totals against a baseline, as threshold results."""
from __future__ import annotations

from dataclasses import dataclass

from surge.analysis.baseline import BaselineJudge
from surge.analysis.compare import RunData, Series
from surge.engine.fanout import Fanout
from surge.model.events import IntervalStats
from surge.model.kinds import WorkloadKind
from surge.model.summary import EndpointStats, Latency
from surge.model.verdict import RunFacts, decide


def stats(method: str, name: str, p95: float, requests: int = 100, failures: int = 0) -> EndpointStats:
    lat = Latency(min=p95 / 4, mean=p95 / 2, p50=p95 / 2, p95=p95, p99=p95 * 1.2, max=p95 * 2)
    return EndpointStats(method, name, requests, failures, 0, rps=float(requests), failures_per_s=float(failures),
                         error_rate=failures / requests if requests else 0.0, latency_ms=lat)


def interval(fast: float, slow: float) -> IntervalStats:
    window = stats("", "Aggregated", max(fast, slow), 200)
    pairs = ((stats("GET", "/fast", fast), stats("GET", "/fast", fast)),
             (stats("GET", "/slow", slow), stats("GET", "/slow", slow)))
    return IntervalStats(elapsed_s=1, duration_s=10, stage=0, stages=1, users=1, target=1, workload=WorkloadKind.OPEN,
                         dropped_iterations=0, window=window, cumulative=window, endpoints=pairs, cpu_percent=0,
                         workers_alive=1)


@dataclass
class Totals:
    """What the judge reads of the run's stats at the end."""
    fast: float
    slow: float

    def total_stats(self, seconds: float) -> EndpointStats:
        return stats("", "Aggregated", max(self.fast, self.slow), 200)

    def endpoint_stats(self, seconds: float) -> list[EndpointStats]:
        return [stats("GET", "/fast", self.fast), stats("GET", "/slow", self.slow), stats("GET", "/new", 1.0)]


def baseline() -> RunData:
    figures = {"rps": 100.0, "error_rate": 0.0}
    intervals = {"rps": [100.0] * 8, "error_rate": [0.0] * 8}
    return RunData("base", {
        "*": Series({**figures, "p50": 2.5, "p95": 5.0, "p99": 6.0},
                    {**intervals, "p50": [2.5, 2.4] * 4, "p95": [5.0, 4.8] * 4, "p99": [6.0, 5.8] * 4}),
        "GET /fast": Series({**figures, "p50": 0.5, "p95": 1.0, "p99": 1.2},
                            {**intervals, "p50": [0.5, 0.6] * 4, "p95": [1.0, 1.1] * 4, "p99": [1.2, 1.3] * 4}),
        "GET /slow": Series({**figures, "p50": 2.5, "p95": 5.0, "p99": 6.0},
                            {**intervals, "p50": [2.5, 2.4] * 4, "p95": [5.0, 4.8] * 4, "p99": [6.0, 5.8] * 4}),
    })


def judged(fast: float, slow: float):
    judge = BaselineJudge(baseline(), label="now")
    outputs = Fanout([judge])
    for _ in range(10):
        outputs.emit(interval(fast, slow))
    assert outputs.judge(Totals(fast, slow), 1.0, final=False).results == ()  # whole runs only
    return judge, outputs.judge(Totals(fast, slow), 10.0, final=True)


def test_a_slower_endpoint_fails_like_a_threshold_and_the_comparison_is_a_section():
    judge, judgement = judged(fast=1.0, slow=40.0)
    assert judgement.results and all(r.target == "baseline" and not r.passed for r in judgement.results)
    assert {r.expression.split(" p")[0] for r in judgement.results} == {"*", "GET /slow"}
    section = judgement.sections["baseline"]
    assert section["regressed"] and section["current"] == "now" and section["added"] == ["GET /new"]
    assert judge.comparison is not None and judge.comparison.regressed
    status, code, reasons = decide(RunFacts(http_requests=1, requests=1, thresholds=judgement.results))
    assert (status, code) == ("failed", 1) and "thresholds failed" in reasons[0]


def test_an_unchanged_run_adds_no_result_only_the_section():
    _, judgement = judged(fast=1.0, slow=5.0)
    assert judgement.results == () and judgement.sections["baseline"]["regressed"] is False
