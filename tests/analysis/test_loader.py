"""loader: a results folder -> RunData; anything else is one clear NotAResultsFolder (exit 2)."""
from __future__ import annotations

import json

import pytest

from surge.analysis.loader import NotAResultsFolder, load_run
from surge.model.errors import ExitCode

HEADER = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
          "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
          "Total Min Response Time,Total Max Response Time,Total Average Content Size")


def endpoint(method: str, name: str, p95: float, rps: float = 10.0) -> dict:
    return {"method": method, "name": name, "rps": rps, "error_rate": 0.0,
            "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 1.2, "max": p95 * 2}}


def history_row(t: int, method: str, name: str, rps: str, fps: str, pct: str) -> str:
    return ",".join([str(t), "5", method, name, rps, fps, *([pct] * 11), "1", "0", "1", "1", "1", "1", "10"])


def test_a_results_folder_loads_figures_and_intervals(tmp_path):
    summary = {"total": endpoint("", "Aggregated", 4.0), "endpoints": [endpoint("GET", "/a", 4.0),
                                                                       endpoint("GET", "/none", 0.0)]}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    rows = [history_row(t, "GET", "/a", "10", "1", "N/A" if t == 2 else str(t)) for t in range(6)]
    rows += [history_row(t, "", "Aggregated", "10", "0", "3") for t in range(3)]
    (tmp_path / "stats_history.csv").write_text("\r\n".join([HEADER, *rows]) + "\r\n")
    run = load_run(tmp_path)
    assert set(run.series) == {"*", "GET /a", "GET /none"}
    a = run.series["GET /a"]
    assert a.figures == {"rps": 10.0, "error_rate": 0.0, "p50": 2.0, "p95": 4.0, "p99": pytest.approx(4.8)}
    assert a.intervals["p95"] == [1.0, 3.0, 4.0]  # first and last trimmed, N/A skipped
    assert a.intervals["error_rate"] == [0.1] * 4
    assert run.series["*"].intervals["rps"] == [10.0] * 3  # 3 intervals: nothing trimmed
    assert "p95" not in run.series["GET /none"].figures  # timed nothing
    assert not any(run.series["GET /none"].intervals.values())


@pytest.mark.parametrize("make", ["missing", "empty", "garbage", "not_a_summary"])
def test_anything_else_is_not_a_results_folder(tmp_path, make):
    folder = tmp_path / "x"
    if make != "missing":
        folder.mkdir()
    if make == "garbage":
        (folder / "summary.json").write_text("{nope")
    if make == "not_a_summary":
        (folder / "summary.json").write_text("[1, 2]")
    with pytest.raises(NotAResultsFolder) as info:
        load_run(folder)
    assert info.value.exit_code == ExitCode.USAGE
    assert str(info.value).startswith(f"{folder} is not a results folder") and "\n" not in str(info.value)
