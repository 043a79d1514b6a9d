"""``surge bench URL`` end to end: the real console script against real loopback servers.

The capacity test uses ``support/capped.py``: 4 requests served at once, 10 ms each, the rest
queued: 400 requests/s whatever the concurrency, the knee at 4. The hostile cases use the
session's target (``/status/500``, ``/hang``, ``/reset``) and a port nobody listens on.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from support.capped import CappedServer
from test_cli_errors import refused_host
from test_cli_run import SURGE, clean_env

SCHEMA = json.loads(resources.files("surge.outputs").joinpath("schema/bench.schema.json").read_text())


def bench(tmp_path: Path, *args: str, timeout_s: float = 60) -> tuple[subprocess.CompletedProcess, dict | None]:
    out = tmp_path / "bench.json"
    proc = subprocess.run([SURGE, "bench", *args, "--output", str(out)], cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout_s)
    doc = json.loads(out.read_text()) if out.exists() else None
    if doc is not None:
        jsonschema.validate(doc, SCHEMA)
    return proc, doc


def total_requests(doc: dict) -> int:
    return doc["single"]["requests"] + doc["sequential"]["requests"] + sum(s["requests"] for s in doc["steps"])


def errors_by_kind(doc: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in doc["failures"]:
        out[f["kind"]] = out.get(f["kind"], 0) + f["count"]
    return out


def test_throughput_flattens_at_the_capacity_of_a_four_slot_target(tmp_path):
    with CappedServer(slots=4, ms=10) as server:
        proc, doc = bench(tmp_path, "-c", "1,2,4,8,16", "--duration", "0.6s", server.url + "/work")
        seen = server.stats()
    assert proc.returncode == 0, proc.stderr
    rps = {s["concurrency"]: s["rps"] for s in doc["steps"]}
    # past 4 at once the queue is never empty: the target's capacity, 400/s, within 15%
    for c in (8, 16):
        assert rps[c] == pytest.approx(server.capacity_per_s, rel=0.15), rps
    assert rps[1] < 0.3 * server.capacity_per_s  # one at a time: ~10 ms each, under 100/s
    assert doc["stopped_scaling_at"] == 4, rps
    assert "stopped scaling at concurrency 4" in proc.stdout
    # every request the bench counted reached the server, and nothing else did
    assert seen["requests_total"] == seen["responses"] == total_requests(doc)
    assert seen["in_service_max"] == 4 and doc["failures"] == [] and doc["status"] == "completed"
    with pytest.raises(jsonschema.ValidationError):  # the schema holds the shape, not just any JSON
        jsonschema.validate({**doc, "stopped_scaling_at": "4"}, SCHEMA)
    eff = {s["concurrency"]: s["efficiency"] for s in doc["steps"]}
    assert eff[1] == pytest.approx(1.0) and eff[16] == pytest.approx(rps[16] / (16 * rps[1]))
    # latency at 16: 4 in service, 12 queued: about 4 service times (40 ms)
    assert 30 <= doc["steps"][-1]["latency_ms"]["p50"] <= 60
    for column in ("concurrency", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "efficiency"):
        assert column in proc.stdout


def test_500s_are_counted_as_status_errors_and_exit_1(tmp_path, target):
    proc, doc = bench(tmp_path, "-c", "1,4", "-n", "40", target.url + "/status/500")
    assert proc.returncode == 1, proc.stderr
    assert errors_by_kind(doc) == {"status": total_requests(doc)}
    assert doc["failures"][0]["message"] == "HTTP 500"
    assert target.stats()["responses"] == {"500": total_requests(doc)}
    assert all(s["errors"] == s["requests"] == 40 for s in doc["steps"])
    assert doc["stopped_scaling_at"] is None and "no step had a successful request" in proc.stdout


def test_a_target_that_stalls_past_the_timeout_fails_with_kind_timeout(tmp_path, target):
    proc, doc = bench(tmp_path, "-c", "2", "-n", "4", "--timeout", "100ms", target.url + "/hang")
    assert proc.returncode == 1, proc.stderr
    assert errors_by_kind(doc) == {"timeout": total_requests(doc)} and total_requests(doc) == 10 + 4 + 4
    step = doc["steps"][0]
    # a timed-out request is recorded at its timeout (HDR: 3 significant digits)
    assert step["latency_ms"]["p50"] == pytest.approx(100, rel=0.01)
    assert target.stats()["requests"]["GET /hang"] == total_requests(doc)


def test_a_target_that_resets_connections_fails_with_kind_reset(tmp_path, target):
    proc, doc = bench(tmp_path, "-c", "1,3", "-n", "20", target.url + "/reset")
    assert proc.returncode == 1, proc.stderr
    assert errors_by_kind(doc) == {"reset": total_requests(doc)}
    assert target.stats()["outcomes"]["reset"] == total_requests(doc) == 10 + 20 + 40
    assert doc["steps"][0]["latency_ms"] == {"p50": None, "p95": None, "p99": None, "max": None}


def test_connection_refused_is_one_line_and_exit_3(tmp_path):
    proc, doc = bench(tmp_path, refused_host() + "/x")
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("surge: error: cannot connect to 127.0.0.1:") and "refused" in lines[-1]
    assert "Traceback" not in proc.stderr and doc is None


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_sweep_prints_and_writes_what_was_measured(tmp_path, target, sig, code):
    out = tmp_path / "bench.json"
    proc = subprocess.Popen([SURGE, "bench", "-c", "1,5", "--duration", "20s", "--output", str(out),
                             target.url + "/delay/5"], cwd=tmp_path, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    # well into the sequential phase (single is the first 10): the bench holds its signals by then
    while target.stats()["requests"].get("GET /delay/5", 0) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == code, stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["status"] == "interrupted" and doc["single"]["requests"] == 10
    assert doc["sequential"]["requests"] >= 60 - 10 - 1 and doc["steps"] == []  # 1: in flight, cancelled
    assert "sequential:" in stdout and "interrupted" in stdout and "Traceback" not in stderr
    # requests cut short by the signal were sent: the server saw the counted ones and those
    assert target.stats()["requests"]["GET /delay/5"] in (total_requests(doc), total_requests(doc) + 1)


def test_a_body_from_a_file_is_posted_with_its_headers(tmp_path, target):
    body = tmp_path / "order.json"
    body.write_bytes(b'{"item": 7}')
    proc, doc = bench(tmp_path, "-d", f"@{body}", "-H", "Authorization: Bearer sekrit-token-4711", "-c", "2",
                      "-n", "10", target.url + "/echo")
    assert proc.returncode == 0, proc.stderr
    seen = target.stats()
    assert seen["requests"] == {"POST /echo": total_requests(doc)} == {"POST /echo": 10 + 10 + 10}
    assert seen["request_body_bytes"] == 11 * total_requests(doc)
    assert "sekrit-token-4711" not in proc.stdout + proc.stderr + json.dumps(doc)


def test_a_password_in_the_url_is_sent_as_basic_auth_and_never_shown(tmp_path, target):
    url = target.url.replace("http://", "http://alice:hunter2-secret@") + "/ok"
    proc, doc = bench(tmp_path, "-c", "1", "-n", "5", url)
    assert proc.returncode == 0, proc.stderr
    assert "hunter2-secret" not in proc.stdout + proc.stderr + json.dumps(doc)
    assert doc["url"] == target.url.replace("http://", "http://alice:***@") + "/ok"


def test_help_documents_the_options_and_exit_codes(tmp_path):
    proc = subprocess.run([SURGE, "bench", "--help"], capture_output=True, text=True, timeout=30, env=clean_env())
    assert proc.returncode == 0
    for text in ("--method", "--header", "--data", "--content-type", "--requests", "--duration", "--concurrency",
                 "--output", "--insecure", "--timeout", "Exit codes: 0", "2 bad input", "3 target unreachable",
                 "130", "143"):
        assert text in proc.stdout, text
