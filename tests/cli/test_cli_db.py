"""``surge db report``: the real console script against the machine's PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.databases import database, postgres  # noqa: F401
from surge.cli.db import render_report_text

SURGE = str(Path(sys.executable).with_name("surge"))
SECRET = "SECRET123"


def surge(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_") and k != "DATABASE_URL"}
    return subprocess.run([SURGE, *args], cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("surge: error: "), proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    return lines[0]


def test_a_report_is_printed_and_written_without_the_password(database, tmp_path):
    with database.connect() as conn:
        conn.execute("CREATE TABLE wide (id int, v text)")
        conn.execute("INSERT INTO wide SELECT g, md5(g::text) FROM generate_series(1, 2000) g")
        for i in range(12):
            conn.execute("SELECT v FROM wide WHERE id = %s", (i,))
        conn.execute("SELECT pg_stat_force_next_flush()")
    url = database.url.replace("postgres@", f"postgres:{SECRET}@")
    proc = surge("db", "report", url, "--out", "report.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["window"] is None and report["database"] == database.url.replace("postgres@", "postgres:***@")
    assert report["statements"]["scope"] == "since the statistics were last reset"
    assert "public.wide" in proc.stdout and "Biggest tables:" in proc.stdout
    assert "report written to report.json" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr + (tmp_path / "report.json").read_text()


def test_the_url_may_come_from_DATABASE_URL_and_the_file_defaults_to_db_report_json(database, tmp_path):
    proc = surge("db", "report", cwd=tmp_path, env={"DATABASE_URL": database.url})
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "db_report.json").read_text())["datname"] == database.name


@pytest.mark.parametrize("url, fragment", [
    (f"postgresql://postgres:{SECRET}@127.0.0.1:1/postgres",
     "postgresql://postgres:***@127.0.0.1:1/postgres is unavailable"),
    (f"postgresql://postgres:{SECRET}@127.0.0.1:99999/postgres", "is malformed: Port out of range"),
    (f"redis://postgres:{SECRET}@127.0.0.1/0", "should start with postgresql://"),
])
def test_a_bad_or_unreachable_url_is_one_line_and_exit_2(postgres, tmp_path, url, fragment):
    assert fragment in one_line_error(surge("db", "report", url, cwd=tmp_path))
    assert not (tmp_path / "db_report.json").exists()


def test_an_out_file_that_cannot_be_written_is_exit_2(database, tmp_path):
    line = one_line_error(surge("db", "report", database.url, "--out", "missing/dir/x.json", cwd=tmp_path))
    assert "--out 'missing/dir/x.json' cannot be written" in line


def test_the_table_shows_notes_and_warnings():
    text = render_report_text({
        "database": "postgresql://u:***@h/db", "server_version": "15.2",
        "statements": {"scope": "load window", "note": "pg_stat_statements is not installed: run CREATE EXTENSION",
                       "by_mean_time": [], "by_total_time": []},
        "missing_index_hints": [], "tables": [], "warnings": ["db report: cannot read pg_stat_user_indexes"]})
    assert text.splitlines() == [
        "PostgreSQL postgresql://u:***@h/db (15.2); statements load window",
        "Slowest statements by mean time: none", "by total time: none", "Missing-index hints: none",
        "Biggest tables: none", "note: pg_stat_statements is not installed: run CREATE EXTENSION",
        "warning: db report: cannot read pg_stat_user_indexes"]
