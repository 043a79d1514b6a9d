"""The demo's WebSocket endpoint under a short ``surge run`` of the demo scenario: the Watcher's
connects, pings and pushed corrections reach every output as ``WS`` series, and the existing
threshold grammar judges them."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from surge.demo.launch import start_in_subprocess, stop

SURGE = str(Path(sys.executable).with_name("surge"))


@pytest.mark.slow
def test_the_watcher_streams_from_the_demo_api_under_a_run(tmp_path):
    scenario = resources.files("surge.demo").joinpath("corrections.py")
    proc, base_url = start_in_subprocess()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
        run = subprocess.run(
            [SURGE, "run", str(scenario), "--host", base_url, "--users", "10", "--spawn-rate", "100",
             "--duration", "3s", "--processes", "1", "--live", "off", "--out", str(tmp_path / "out"),
             "--threshold", "WS stream: p95<300ms", "--threshold", "WS ping: p99<100ms",
             "--threshold", "WS stream: error_rate<1%"],
            env=env, capture_output=True, text=True, timeout=90)
    finally:
        stop(proc)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    schema = json.loads(resources.files("surge.outputs").joinpath("schema/summary.schema.json").read_text())
    jsonschema.validate(summary, schema)
    ws = {e["name"]: e for e in summary["endpoints"] if e["method"] == "WS"}
    assert set(ws) == {"stream", "ping"}
    stream, ping = ws["stream"], ws["ping"]
    # 10 users, weights 1 : 0.25 -> 2 watchers; each watch: subscribe + 5 pings sent,
    # the subscribe ack + 5 pongs + the pushed corrections received
    assert stream["requests"] >= 2 and stream["failures"] == 0
    assert ping["requests"] >= 5 and ping["failures"] == 0 and ping["latency_ms"]["p50"] > 0
    assert stream["messages"]["sent"] == stream["requests"] + ping["requests"] + ping["cancelled"]
    corrections = next(e for e in summary["endpoints"] if e["name"] == "/v1/corrections")["requests"]
    assert stream["messages"]["received"] > stream["requests"] + ping["requests"]  # corrections were pushed
    assert corrections > 0
    assert [t["passed"] for t in summary["thresholds"]] == [True, True, True]
    with (out / "stats.csv").open() as f:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    assert int(rows[("WS", "ping")]["Request Count"]) == ping["requests"]
    assert int(rows[("WS", "stream")]["Request Count"]) == stream["requests"]
