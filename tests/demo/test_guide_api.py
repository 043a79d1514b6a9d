"""The demo API speaks the corrections guide's API: the request shapes of the guide's own
locustfile (``tests/compat/locustfiles/corrections_guide.py``, verbatim) get the statuses its ``catch_response`` blocks
accept, on SQLite and PostgreSQL, with ``X-Tenant-Id`` scoping the data. Then the locustfile's
request sequence as a native surge scenario (``guide_scenario.py``) runs for 3 s with no failure,
its counts equal to what the API stored.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from guide_scenario import TENANT_ID as TENANT, correction_payload
from support.demo_api import base, call, pg_database  # noqa: F401
from surge.demo.launch import start_in_subprocess, stop

HEADERS = {"X-Tenant-Id": TENANT, "Content-Type": "application/json"}
SURGE = str(Path(sys.executable).with_name("surge"))
HERE = Path(__file__).parent


def a_subject() -> str:
    return f"user_{uuid.uuid4().hex[:10]}"


def guide_correction(subject_id: str, **change: Any) -> dict[str, Any]:
    """The body the guide's ``create_correction`` task sends, with ``change`` applied."""
    return {**correction_payload(subject_id), **change}


def post(base: str, path: str, body: Any, tenant: str = TENANT) -> tuple[int, Any, Any]:
    return call("POST", f"{base}{path}", body, {**HEADERS, "X-Tenant-Id": tenant})


def facts(base: str, subject_id: str, requester: str | None = "bot:test", tenant: str | None = TENANT):
    """The guide's facts request (``tenant`` None: without ``X-Tenant-Id``)."""
    query = f"subject_type=user&subject_id={subject_id}"
    query += "" if requester is None else f"&requester_id={requester}"
    return call("GET", f"{base}/v1/facts?{query}", headers={} if tenant is None else {"X-Tenant-Id": tenant})


# ---------------------------------------------------------------- the guide's four requests


def test_facts_of_an_unknown_subject_is_200_and_empty(base: str) -> None:
    assert facts(base, a_subject())[::2] == (200, [])


def test_correction_is_201_and_answers_in_the_guide_shape(base: str) -> None:
    sent = guide_correction(a_subject())
    status, headers, body = post(base, "/v1/corrections", sent)
    assert status == 201 and headers.get("Idempotent-Replayed") is None
    assert isinstance(body.pop("id"), int) and body.pop("created_at").endswith("+00:00")
    assert body == sent


def test_facts_show_the_latest_value_per_field_key_to_its_readers(base: str) -> None:
    sid = a_subject()
    first = guide_correction(sid, field_key="email", value="a@x.org")
    latest = guide_correction(sid, field_key="email", value={"address": "b@x.org"})
    public = guide_correction(sid, field_key="name", value="Ada", permissions=None)
    ids = [post(base, "/v1/corrections", b)[2]["id"] for b in (first, latest, public)]
    status, _, seen = facts(base, sid)
    assert status == 200
    assert [(f["field_key"], f["value"], f["correction_id"]) for f in seen] == [
        ("email", {"address": "b@x.org"}, ids[1]),
        ("name", "Ada", ids[2]),
    ]
    assert all(f["subject"] == {"type": "user", "id": sid} and f["class"] == "FACT" for f in seen)
    # readers ["bot:test"] keeps the email from other requesters and from anonymous ones
    assert [f["field_key"] for f in facts(base, sid, "bot:other")[2]] == ["name"]
    assert [f["field_key"] for f in facts(base, sid, None)[2]] == ["name"]


def test_history_takes_the_guide_subject_too(base: str) -> None:
    sid = a_subject()
    ids = [post(base, "/v1/corrections", guide_correction(sid))[2]["id"] for _ in range(3)]
    url = f"{base}/v1/history?subject_type=user&subject_id={sid}&limit=2"
    status, _, rows = call("GET", url, headers={"X-Tenant-Id": TENANT})
    assert status == 200 and [r["id"] for r in rows] == ids[::-1][:2]


def test_heartbeat_is_201_and_status_counts_it_per_tenant(base: str) -> None:
    tenant, system = str(uuid.uuid4()), f"system_{uuid.uuid4().hex[:6]}"
    version = datetime.now(timezone.utc).isoformat()
    body = {"system_id": system, "enforced_correction_version": version}
    first, second = (post(base, "/v1/enforcement/heartbeat", body, tenant) for _ in range(2))
    assert (first[0], second[0]) == (201, 201)
    assert second[2]["system_id"] == system and second[2]["enforced_correction_version"] == version
    assert (first[2]["heartbeats"], second[2]["heartbeats"]) == (1, 2)
    with_int = {"system_id": system, "enforced_correction_version": 42}
    assert post(base, "/v1/enforcement/heartbeat", with_int, tenant)[2]["heartbeats"] == 3

    status, _, state = call("GET", f"{base}/v1/enforcement/status", headers={**HEADERS, "X-Tenant-Id": tenant})
    assert status == 200
    assert (state["agents"], state["heartbeats"], list(state["last_heartbeat"])) == (1, 3, [system])
    elsewhere = call("GET", f"{base}/v1/enforcement/status", headers={"X-Tenant-Id": str(uuid.uuid4())})
    assert elsewhere[::2] == (200, {"agents": 0, "heartbeats": 0, "latest_heartbeat_at": None, "last_heartbeat": {}})


# ---------------------------------------------------------------- idempotency and tenancy


def test_a_repeated_idempotency_key_answers_the_first_result(base: str) -> None:
    sid = a_subject()
    sent = guide_correction(sid)
    first, again = post(base, "/v1/corrections", sent), post(base, "/v1/corrections", sent)
    assert (first[0], again[0]) == (201, 201)
    assert again[2] == first[2] and again[1].get("Idempotent-Replayed") == "true"
    url = f"{base}/v1/history?subject_type=user&subject_id={sid}"
    assert len(call("GET", url, headers={"X-Tenant-Id": TENANT})[2]) == 1
    # the same key with another body is a client bug, as in the original shape
    other = {**sent, "value": {"test": "another"}}
    status, _, body = post(base, "/v1/corrections", other)
    assert status == 409 and "Idempotency-Key" in body["detail"]


def test_concurrent_repeats_of_one_key_write_one_correction(base: str) -> None:
    sid = a_subject()
    sent = guide_correction(sid)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: post(base, "/v1/corrections", sent), range(16)))
    assert {r[0] for r in results} == {201}
    assert all(r[2] == results[0][2] for r in results)
    assert sum(r[1].get("Idempotent-Replayed") is None for r in results) == 1
    url = f"{base}/v1/history?subject_type=user&subject_id={sid}"
    assert len(call("GET", url, headers={"X-Tenant-Id": TENANT})[2]) == 1


def test_tenants_do_not_see_each_others_data_or_keys(base: str) -> None:
    sid, one, two = a_subject(), str(uuid.uuid4()), str(uuid.uuid4())
    sent = guide_correction(sid)
    a, b = post(base, "/v1/corrections", sent, one), post(base, "/v1/corrections", sent, two)
    assert (a[0], b[0]) == (201, 201) and a[2]["id"] != b[2]["id"]  # one key, two tenants
    assert b[1].get("Idempotent-Replayed") is None
    assert [f["correction_id"] for f in facts(base, sid, tenant=one)[2]] == [a[2]["id"]]
    assert facts(base, sid, tenant=str(uuid.uuid4()))[::2] == (200, [])
    assert facts(base, sid, tenant=None)[::2] == (200, [])


def test_the_original_shapes_still_work_beside_the_guide_ones(base: str) -> None:
    sid = int(uuid.uuid4().int % 10**12) + 1
    status, _, body = call("POST", f"{base}/v1/corrections", {"subject_id": sid, "field": "f", "value": "v"})
    assert status == 201 and set(body) == {"id", "subject_id", "field", "value", "idempotency_key", "created_at"}
    # the same text id under the guide's subject type "user" is another subject
    assert facts(base, str(sid), tenant=None)[::2] == (200, [])
    assert [f["value"] for f in call("GET", f"{base}/v1/facts?subject_id={sid}")[2]] == ["v"]


# ---------------------------------------------------------------- malformed requests


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"subject": "user_7"}, "body.subject"),
        ({"subject": {"id": "user_7"}}, "body.subject.type"),
        ({"subject": {"type": "user", "id": ""}}, "body.subject.id"),
        ({"subject": {"type": "user", "id": ["user_7"]}}, "body.subject.id"),
        ({"field_key": None}, "body.field_key"),
        ({"field_key": "k" * 65}, "body.field_key"),
        ({"class": 3}, "body.class"),
        ({"permissions": ["bot:test"]}, "body.permissions"),
        ({"permissions": {"readers": "bot:test"}}, "body.permissions.readers"),
        ({"permissions": {"readers": [1]}}, "body.permissions.readers"),
        ({"actor": "load-test"}, "body.actor"),
        ({"idempotency_key": 7}, "body.idempotency_key"),
        ({"value": "x" * 5000}, "body.value"),
    ],
)
def test_malformed_guide_correction_is_422_naming_the_field(
    base: str, change: dict[str, Any], loc: str
) -> None:
    status, _, body = post(base, "/v1/corrections", guide_correction(a_subject(), **change))
    assert status == 422 and body["detail"][0]["loc"] == loc and body["detail"][0]["msg"]


def test_a_correction_without_value_is_422(base: str) -> None:
    sent = guide_correction(a_subject())
    del sent["value"]
    assert post(base, "/v1/corrections", sent)[2]["detail"][0]["loc"] == "body.value"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"system_id": 7}, "body.system_id"),
        ({"system_id": "", "enforced_correction_version": "v1"}, "body.system_id"),
        ({"system_id": "s", "enforced_correction_version": True}, "body.enforced_correction_version"),
        ({"system_id": "s", "enforced_correction_version": [1]}, "body.enforced_correction_version"),
        ({"system_id": "s", "enforced_correction_version": -1}, "body.enforced_correction_version"),
    ],
)
def test_malformed_heartbeat_is_422(base: str, body: dict[str, Any], loc: str) -> None:
    status, _, detail = post(base, "/v1/enforcement/heartbeat", body)
    assert status == 422 and detail["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("path", "headers", "loc"),
    [
        ("/v1/facts?subject_type=user", {}, "query.subject_id"),
        ("/v1/facts?subject_type=&subject_id=user_7", {}, "query.subject_type"),
        ("/v1/enforcement/status", {"X-Tenant-Id": "t" * 65}, "header.X-Tenant-Id"),
        ("/v1/facts?subject_id=7", {"X-Tenant-Id": ""}, "header.X-Tenant-Id"),
    ],
)
def test_malformed_query_or_tenant_is_422(base: str, path: str, headers: dict[str, str], loc: str) -> None:
    status, _, detail = call("GET", f"{base}{path}", headers=headers)
    assert status == 422 and detail["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("value", "loc"),
    [
        (b"NaN", "body"),
        (b'{"a": -Infinity}', "body"),
        (b"1e400", "body"),
        (b"[" * 5000 + b"]" * 5000, "body"),  # deeper than Python's parser goes
        (b"[" * 33 + b"]" * 33, "body.value"),
    ],
)
def test_hostile_json_values_are_422_not_500(base: str, value: bytes, loc: str) -> None:
    raw = b'{"subject": {"type": "user", "id": "u"}, "field_key": "k", "value": %s}' % value
    status, _, detail = call("POST", f"{base}/v1/corrections", headers=HEADERS, raw=raw)
    assert status == 422 and detail["detail"][0]["loc"] == loc, detail


def test_key_in_body_and_another_in_header_is_422(base: str) -> None:
    sent = guide_correction(a_subject())
    headers = {**HEADERS, "Idempotency-Key": "not-the-same"}
    status, _, detail = call("POST", f"{base}/v1/corrections", sent, headers)
    assert status == 422 and detail["detail"][0]["loc"] == "body.idempotency_key"


# ---------------------------------------------------------------- older databases


def test_tables_of_the_older_layout_stop_the_server_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE corrections (id INTEGER PRIMARY KEY, subject_id BIGINT NOT NULL, "
                     "field TEXT NOT NULL, value TEXT NOT NULL, idempotency_key TEXT UNIQUE, created_at REAL)")
    done = subprocess.run([sys.executable, "-m", "surge.demo", "--port", "0", "--db", str(db)],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 3 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "older surge demo" in lines[0] and "corrections" in lines[0], lines


# ---------------------------------------------------------------- the locustfile's sequence, run


def stored_corrections(db: str) -> int:
    """How many corrections of the guide's tenant the database holds, read beside the API."""
    sql = "SELECT count(*) FROM corrections WHERE tenant_id = %s"
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            return conn.execute(sql, (TENANT,)).fetchone()[0]
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql.replace("%s", "?"), (TENANT,)).fetchone()[0]


def heartbeats_counted(url: str) -> int:
    return call("GET", f"{url}/v1/enforcement/status", headers={"X-Tenant-Id": TENANT})[2]["heartbeats"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_guides_sequence_runs_for_3s_without_failure(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = str(tmp_path / "demo.sqlite3") if backend == "sqlite" else request.getfixturevalue("pg_database")
    proc, url = start_in_subprocess(port=0, db=db)
    try:
        before = stored_corrections(db), heartbeats_counted(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
        cmd = [SURGE, "run", str(HERE / "guide_scenario.py"), "--host", url, "--users", "5",
               "--duration", "3s", "--processes", "1", "--live", "off", "--out", str(tmp_path / "out")]
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        after = stored_corrections(db), heartbeats_counted(url)
    finally:
        stop(proc)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["total"]["failures"] == 0 and summary["failures"] == [], summary["failures"]
    sent: dict[str, int] = {}
    for e in summary["endpoints"]:
        assert e["failures"] == 0, e
        key = f'{e["method"]} {e["name"].split("?")[0]}'
        sent[key] = sent.get(key, 0) + e["requests"]
    assert sum(sent.values()) == summary["total"]["requests"] > 100
    assert set(sent) == {"GET /v1/facts", "POST /v1/corrections", "POST /v1/enforcement/heartbeat",
                         "GET /v1/enforcement/status"}
    # what the API stored: one row per correction sent, one heartbeat per heartbeat sent
    assert after[0] - before[0] == sent["POST /v1/corrections"]
    assert after[1] - before[1] == sent["POST /v1/enforcement/heartbeat"]
    print(f"{backend}: {summary['total']['requests']} requests, {sent}")
