"""The demo API as a test target: a child process on 127.0.0.1 (port 0), per storage backend,
spoken to with urllib (fixtures: import them into the test module:
``from support.demo_api import base, call, pg_database  # noqa: F401``).

``base`` runs each test module's tests twice, against SQLite (a file, WAL) and against a fresh
PostgreSQL database, because ``surge demo`` may use either and both must behave the same.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from surge.demo.launch import start_in_subprocess, stop

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def call(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any, Any]:
    """(status, headers, parsed JSON body) without raising on 4xx/5xx."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            payload = exc.read()
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = payload.decode(errors="replace")
        return exc.code, exc.headers, parsed




# ---------------------------------------------------------------- fixtures


def _postgres_up() -> bool:
    import psycopg

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=2).close()
        return True
    except psycopg.OperationalError:
        return False


def _ensure_postgres() -> None:
    """Start the local cluster if it is down (bounded wait), as the test environment allows."""
    if _postgres_up():
        return
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*"))
    if not versions:
        pytest.skip("PostgreSQL is not installed")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        capture_output=True, timeout=30,
    )
    for _ in range(50):
        if _postgres_up():
            return
        time.sleep(0.2)
    pytest.fail("PostgreSQL did not come up on 127.0.0.1:5432")


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh database for this module, dropped afterwards; yields its URL."""
    import psycopg

    _ensure_postgres()
    name = f"surge_demo_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running demo API, one per storage backend."""
    if request.param == "sqlite":
        db = str(tmp_path_factory.mktemp("demo") / "demo.sqlite3")
    else:
        db = request.getfixturevalue("pg_database")
    proc, url = start_in_subprocess(port=0, db=db)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        yield url
    finally:
        stop(proc)
        assert proc.poll() is not None
