"""``surge run --baseline DIR``: the comparison as a judge of the run (``surge.outputs.base``).

It listens to the intervals as they go by (each series' window: the current run's history),
and when the run asks for the final judgement it compares the totals and that history with
the baseline folder, loaded before any load (``surge.analysis.loader``). Each regression is a
failed :class:`ThresholdResult` with target ``baseline``, so the verdict counts it like a
failed threshold without knowing about baselines (no regression adds no result, so a run with
no thresholds is still judged on its failed requests); the whole comparison goes with the
judgement as the summary's ``baseline`` section. Live judgements are empty: a baseline
compares whole runs.
"""
from __future__ import annotations

from ..model.events import IntervalStats
from ..model.summary import EndpointStats, Judgement, RunResult, ThresholdResult
from .compare import DEFAULT_TOLERANCE, LATENCIES, OVERALL, Comparison, Row, RunData, compare, series_from
from .render import compare_dict, fmt, fmt_noise, fmt_relative


class BaselineJudge:
    def __init__(self, baseline: RunData, *, label: str = "current run", tolerance: float = DEFAULT_TOLERANCE) -> None:
        self.baseline = baseline
        self.label = label
        self.tolerance = tolerance
        self._history: dict[str, list[dict[str, float]]] = {}
        self.comparison: Comparison | None = None  # after the final judgement

    def handle(self, event) -> None:
        if isinstance(event, IntervalStats):
            for key, window in ((OVERALL, event.window), *((_key(w), w) for w, _ in event.endpoints)):
                self._history.setdefault(key, []).append(interval_figures(window))

    def judge(self, stats, elapsed_s: float, *, final: bool) -> Judgement:
        if not final:
            return Judgement()
        series = {key: series_from(figures_of(s), self._history.get(key, []))
                  for key, s in ((OVERALL, stats.total_stats(elapsed_s)),
                                 *((_key(e), e) for e in stats.endpoint_stats(elapsed_s)))}
        comparison = self.comparison = compare(self.baseline, RunData(self.label, series), self.tolerance)
        return Judgement(tuple(result_of(r) for r in comparison.regressions),
                         sections={"baseline": compare_dict(comparison)})

    def finish(self, result: RunResult) -> None:
        """Nothing to write: the comparison is in the summary."""


def figures_of(e: EndpointStats) -> dict[str, float]:
    figures = {"rps": e.rps, "error_rate": e.error_rate}
    if e.requests and e.latency_ms.max:  # max is 0 only when nothing was timed
        figures.update({m: getattr(e.latency_ms, m) for m in LATENCIES})
    return figures


def interval_figures(window: EndpointStats) -> dict[str, float]:
    figures = figures_of(window)
    if not window.requests:
        figures.pop("error_rate")  # no requests: no rate of errors either
    return figures


def result_of(r: Row) -> ThresholdResult:
    expression = (f"{r.series} {r.metric} {fmt(r.metric, r.baseline)} -> {fmt(r.metric, r.current)} "
                  f"({fmt_relative(r.relative)}, noise {fmt_noise(r)})")
    return ThresholdResult(target="baseline", expression=expression, actual=r.current, passed=False,
                           message="regression against the baseline", stat=r.metric)


def _key(e: EndpointStats) -> str:
    return f"{e.method} {e.name}".strip()
