"""The demo API for real: a child process on 127.0.0.1 (port 0), spoken to with urllib.

Every endpoint test runs twice, against SQLite (a file, WAL) and against a fresh PostgreSQL
database, because ``surge demo`` may use either and both must behave the same.
"""
from __future__ import annotations

import concurrent.futures
import itertools
import random
import re
import select
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from support.demo_api import base, call, pg_database  # noqa: F401
from surge.demo.launch import DemoStartError, start_in_subprocess, stop

_subjects = itertools.count(random.randrange(1_000, 1_000_000_000, 1_000))


def new_subject() -> int:
    return next(_subjects)


def correct(
    base: str, subject_id: int, field: str, value: str, key: str | None = None
) -> tuple[int, Any, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    body = {"subject_id": subject_id, "field": field, "value": value}
    return call("POST", f"{base}/v1/corrections", body, headers)


# ---------------------------------------------------------------- endpoints


def test_health(base: str) -> None:
    assert call("GET", f"{base}/health")[::2] == (200, {"status": "ok"})


def test_create_correction_returns_201_and_the_row(base: str) -> None:
    sid = new_subject()
    status, headers, body = correct(base, sid, "email", "a@example.org")
    assert status == 201
    assert headers.get("Idempotent-Replayed") is None
    assert set(body) == {"id", "subject_id", "field", "value", "idempotency_key", "created_at"}
    assert (body["subject_id"], body["field"], body["value"]) == (sid, "email", "a@example.org")
    assert isinstance(body["id"], int) and body["idempotency_key"] is None
    assert body["created_at"].endswith("+00:00")


def test_same_idempotency_key_returns_the_same_correction_once(base: str) -> None:
    sid, key = new_subject(), uuid.uuid4().hex
    first = correct(base, sid, "name", "Ada", key)
    again = correct(base, sid, "name", "Ada", key)
    assert first[0] == again[0] == 201
    assert first[2] == again[2] and first[2]["idempotency_key"] == key
    assert again[1].get("Idempotent-Replayed") == "true"
    history = call("GET", f"{base}/v1/history?subject_id={sid}")[2]
    assert [c["id"] for c in history] == [first[2]["id"]]


def test_concurrent_requests_with_one_key_write_one_row(base: str) -> None:
    sid, key = new_subject(), uuid.uuid4().hex
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: correct(base, sid, "name", "Bo", key), range(16)))
    assert {r[0] for r in results} == {201}
    assert len({r[2]["id"] for r in results}) == 1
    assert len(call("GET", f"{base}/v1/history?subject_id={sid}")[2]) == 1


def test_key_reused_with_another_body_is_a_conflict(base: str) -> None:
    sid, key = new_subject(), uuid.uuid4().hex
    assert correct(base, sid, "name", "Ada", key)[0] == 201
    status, _, body = correct(base, sid, "name", "Eve", key)
    assert status == 409 and "Idempotency-Key" in body["detail"]


def test_facts_reflect_the_latest_correction_per_field(base: str) -> None:
    sid = new_subject()
    writes = [("name", "Ada"), ("email", "a@x.org"), ("name", "Ada L."), ("email", "b@x.org")]
    for field, value in writes:
        assert correct(base, sid, field, value)[0] == 201
    status, _, facts = call("GET", f"{base}/v1/facts?subject_id={sid}")
    assert status == 200
    assert [(f["field"], f["value"]) for f in facts] == [("email", "b@x.org"), ("name", "Ada L.")]
    assert all(f["subject_id"] == sid and isinstance(f["correction_id"], int) for f in facts)
    assert call("GET", f"{base}/v1/facts?subject_id={new_subject()}")[::2] == (200, [])


def test_history_is_newest_first_and_limited(base: str) -> None:
    sid = new_subject()
    ids = [correct(base, sid, "score", str(i))[2]["id"] for i in range(5)]
    status, _, history = call("GET", f"{base}/v1/history?subject_id={sid}&limit=3")
    assert status == 200
    assert [c["id"] for c in history] == ids[::-1][:3]
    assert [c["value"] for c in history] == ["4", "3", "2"]
    assert len(call("GET", f"{base}/v1/history?subject_id={sid}")[2]) == 5


@pytest.mark.parametrize(
    "body",
    [
        {"field": "name", "value": "x"},
        {"subject_id": "7", "field": "name", "value": "x"},
        {"subject_id": True, "field": "name", "value": "x"},
        {"subject_id": 0, "field": "name", "value": "x"},
        {"subject_id": 7, "field": "", "value": "x"},
        {"subject_id": 7, "field": "name", "value": 3},
        {"subject_id": 7, "field": "name"},
        [1, 2],
    ],
)
def test_invalid_correction_is_422(base: str, body: Any) -> None:
    status, _, detail = call("POST", f"{base}/v1/corrections", body)
    assert status == 422
    assert detail["detail"][0]["loc"].startswith("body")


def test_non_json_body_is_422(base: str) -> None:
    assert call("POST", f"{base}/v1/corrections", raw=b"{not json")[0] == 422
    assert call("POST", f"{base}/v1/enforcement/heartbeat", raw=b"")[0] == 422


@pytest.mark.parametrize(
    "path",
    [
        "/v1/facts",
        "/v1/facts?subject_id=abc",
        "/v1/history?subject_id=-1",
        "/v1/history?subject_id=7&limit=0",
        "/v1/history?subject_id=7&limit=101",
        "/v1/enforcement/escalation?stale_after_s=soon",
    ],
)
def test_invalid_query_is_422(base: str, path: str) -> None:
    status, _, detail = call("GET", f"{base}{path}")
    assert status == 422 and detail["detail"][0]["loc"].startswith("query.")


def test_heartbeat_status_and_escalation(base: str) -> None:
    agent = f"agent-{uuid.uuid4().hex[:8]}"
    first = call("POST", f"{base}/v1/enforcement/heartbeat", {"agent_id": agent})
    second = call("POST", f"{base}/v1/enforcement/heartbeat", {"agent_id": agent})
    assert (first[0], second[0]) == (201, 201)
    assert (first[2]["agent_id"], first[2]["heartbeats"], second[2]["heartbeats"]) == (agent, 1, 2)
    assert call("POST", f"{base}/v1/enforcement/heartbeat", {"agent": agent})[0] == 422

    status, _, state = call("GET", f"{base}/v1/enforcement/status")
    assert status == 200
    assert set(state) == {"agents", "heartbeats", "latest_heartbeat_at", "last_heartbeat"}
    assert state["agents"] >= 1 and state["heartbeats"] >= 2
    assert state["last_heartbeat"][agent] == second[2]["received_at"]

    time.sleep(0.05)
    status, _, esc = call("GET", f"{base}/v1/enforcement/escalation?stale_after_s=0.01")
    assert status == 200 and esc["stale_after_s"] == 0.01 and esc["count"] == len(esc["agents"])
    stale = {a["agent_id"]: a for a in esc["agents"]}
    assert agent in stale and stale[agent]["age_s"] > 0
    calm = call("GET", f"{base}/v1/enforcement/escalation")[2]
    assert calm["stale_after_s"] == 30 and agent not in {a["agent_id"] for a in calm["agents"]}


def test_unknown_route_and_wrong_method(base: str) -> None:
    assert call("GET", f"{base}/v1/nope")[0] == 404
    assert call("GET", f"{base}/v1/corrections")[0] == 405


# ---------------------------------------------------------------- the server process


def _run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "surge.demo", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=20)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "example.com"])
def test_non_loopback_host_is_refused_without_token(host: str) -> None:
    done = _run_demo("--host", host, "--port", "0")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to listen on" in lines[0] and "--token" in lines[0]


def test_token_guards_every_route_but_health() -> None:
    cmd = [sys.executable, "-m", "surge.demo", "--host", "127.0.0.1", "--port", "0"]
    cmd += ["--token", "s3cret"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)  # bounded wait for the line
        assert ready, "no 'listening on' line within 20 s"
        line = proc.stdout.readline()  # type: ignore[union-attr]  # printed once ready
        found = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert found, line
        url = found.group(1)
        assert call("GET", f"{url}/health")[0] == 200
        assert call("GET", f"{url}/v1/enforcement/status")[0] == 401
        wrong = {"Authorization": "Bearer nope"}
        assert call("GET", f"{url}/v1/enforcement/status", headers=wrong)[0] == 401
        right = {"Authorization": "Bearer s3cret"}
        assert call("GET", f"{url}/v1/enforcement/status", headers=right)[0] == 200
    finally:
        stop(proc)


def test_start_failure_is_a_clear_error() -> None:
    with pytest.raises(DemoStartError, match="exited with code"):
        start_in_subprocess(db="postgresql://postgres@127.0.0.1:1/nowhere", timeout_s=15)


def test_stop_is_graceful_and_idempotent() -> None:
    proc, url = start_in_subprocess(db=":memory:")
    assert call("GET", f"{url}/health")[0] == 200
    started = time.monotonic()
    code = stop(proc)
    assert time.monotonic() - started < 5  # SIGTERM sufficed, no kill
    assert code == proc.returncode and stop(proc) == code
