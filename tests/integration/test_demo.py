"""``surge demo``: the newcomer's first run. The sample API starts, takes a short smoke run under
the example scenario, is judged against the sample SLA table, and the results folder is full."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

SURGE = str(Path(sys.executable).with_name("surge"))
RESULT_FILES = ("summary.json", "stats.csv", "stats_history.csv", "failures.csv", "junit.xml", "histograms.json")


def sla_threshold_count() -> int:
    """How many thresholds the shipped sla.toml declares (a string or a list per target)."""
    table = tomllib.loads(resources.files("surge.demo").joinpath("sla.toml").read_text())["thresholds"]
    return sum(len(v) if isinstance(v, list) else 1 for k, v in table.items() if not isinstance(v, bool))


@pytest.mark.slow
def test_demo_runs_passes_and_writes_the_results(tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_") and k != "DATABASE_URL"}
    # 20 users for 5 s make ~100 iterations: the 10% enforcement task (the only one behind three
    # threshold targets) goes unpicked with probability 0.9**100 ~ 3e-5 (with 5 users: 7%)
    proc = subprocess.run([SURGE, "demo", "--duration", "5s", "--users", "20", "--live", "off", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    missing = [name for name in RESULT_FILES if not (out / name).is_file()]
    assert not missing, missing
    report = (out / "report.html").read_text()  # the page for people, self-contained
    assert 'id="verdict">passed<' in report and "<script src" not in report and "<link" not in report
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "passed"
    assert summary["profile"] == "smoke"
    assert 4.5 <= summary["duration_s"] < 8
    assert len(summary["thresholds"]) == 13 == sla_threshold_count()
    assert all(t["passed"] for t in summary["thresholds"]), summary["thresholds"]
    assert summary["monitors"]["target"]["rss_mb_peak"] > 10  # the demo watches its own API process
    assert summary["total"]["requests"] > 0 and summary["total"]["failures"] == 0
    names = {e["name"] for e in summary["endpoints"]}
    assert {"/v1/facts", "/v1/corrections", "/v1/enforcement/heartbeat"} <= names
    assert "demo API stopped" in proc.stderr  # the API process was stopped, not left behind
