"""The PostgreSQL monitor against the machine's real cluster: connections by state under load,
commits and deadlocks, the window of pg_stat_statements, missing-index hints, secrets, lost and
unreachable servers."""
from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.databases import database, eventually, pg_admin, postgres, run_sampler, temporary_database  # noqa: F401
from surge.model.errors import ConfigError
from surge.model.events import MonitorSample
from surge.monitors.base import MonitorUnavailable, Sampler, SourceLost
from surge.monitors.counters import counter_delta
from surge.monitors.db import PostgresMonitor
from surge.monitors.db_report import MARK, render_db_report_json

SECTION = ("connections_max", "connections_used_pct_max", "active_max", "idle_in_transaction_max", "waiting_max",
           "cache_hit_ratio", "commits_per_s", "rollbacks_per_s", "deadlocks", "longest_query_s")
SECRET = "SECRET123"


def with_password(url: str, password: str = SECRET) -> str:
    return url.replace("postgres@", f"postgres:{password}@")


def monitor_pid(conn, datname: str) -> int | None:
    row = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'surge-monitor' AND datname = %s",
                       (datname,)).fetchone()
    return row[0] if row else None


def query(database, sql: str) -> list[tuple]:
    """``sql`` on a connection of its own (a session that stays busy while it runs)."""
    with database.connect() as conn:
        return conn.execute(sql).fetchall()


def deadlock(database) -> None:
    """Two transactions that wait for each other: PostgreSQL cancels one (deadlock_timeout 100 ms)."""
    import psycopg

    both_locked = threading.Barrier(2, timeout=10)

    def side(first: int, second: int) -> None:
        with database.connect() as conn:
            conn.execute("SET deadlock_timeout = '100ms'")
            conn.execute("BEGIN")
            conn.execute("UPDATE pair SET n = n + 1 WHERE id = %s", (first,))
            both_locked.wait()
            try:
                conn.execute("UPDATE pair SET n = n + 1 WHERE id = %s", (second,))
                conn.execute("COMMIT")
            except psycopg.errors.DeadlockDetected:
                conn.execute("ROLLBACK")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(side, (1, 2), (2, 1)))


def test_connections_by_state_commits_and_a_deadlock_under_load(database):
    with database.connect() as setup:
        setup.execute("CREATE TABLE items (id int PRIMARY KEY)")
        setup.execute("CREATE TABLE pair (id int PRIMARY KEY, n int)")
        setup.execute("INSERT INTO pair VALUES (1, 0), (2, 0)")
        setup.execute("CREATE TABLE log (id serial PRIMARY KEY, v text)")
    monitor = PostgresMonitor(database.url)
    sampler = Sampler([monitor], 0.2)

    def load():
        with contextlib.ExitStack() as stack, ThreadPoolExecutor(8) as pool:
            conns = [stack.enter_context(database.connect()) for _ in range(5)]
            conns[0].execute("SELECT 1")  # idle
            conns[1].execute("SELECT 1")
            for conn in conns[2:4]:  # idle in transaction
                conn.execute("BEGIN")
                conn.execute("SELECT 1")
            conns[4].execute("BEGIN")  # holds a lock the next one waits on
            conns[4].execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
            waiter = pool.submit(query, database, "SELECT count(*) FROM items")
            sleepers = [pool.submit(query, database, "SELECT pg_sleep(1.0)") for _ in range(3)]

            def writes():
                with database.connect() as conn:
                    for i in range(200):
                        conn.execute("INSERT INTO log (v) VALUES (%s)", (f"row {i}",))

            writer = pool.submit(writes)
            deadlock(database)
            writer.result()
            for future in sleepers:
                future.result()
            conns[4].execute("COMMIT")
            waiter.result()

    run_sampler(sampler, load)
    record = sampler.records["db"]
    section = record.section()
    assert set(SECTION) <= set(section), section
    assert section["gaps"] == 0 and section["samples"] >= 6
    assert section["connections_max"] >= 9 and section["connections_db_max"] >= 9
    assert section["connections_used_pct_max"] >= 100.0 * 9 / section["max_connections"]
    assert section["active_max"] >= 4  # three pg_sleep and the waiter
    assert section["idle_in_transaction_max"] >= 3 and section["idle_max"] >= 2
    assert section["waiting_max"] >= 1
    assert section["longest_query_s"] >= 0.5 and section["longest_transaction_s"] >= 0.5
    assert section["deadlocks"] == 1  # the database's own counter: exact
    assert section["commits_per_s"] > 0 and section["rollbacks_per_s"] > 0
    assert section["tup_inserted_per_s"] > 0 and 0 <= section["cache_hit_ratio"] <= 1
    rows = record.samples
    commits = counter_delta(rows, "xact_commit") - counter_delta(rows, "monitor_commits")
    assert 190 <= commits <= 300  # 200 inserts and a few statements; the monitor's own taken off
    assert all(set(s.values) <= set(monitor.columns) for s in rows)
    assert rows[0].values["commits_per_s"] is None  # the baseline has no interval before it
    assert monitor.summarise(rows) == {k: v for k, v in section.items() if k not in ("samples", "skipped", "gaps")}


def test_the_slow_statement_of_the_load_window_comes_first_by_mean_time(database):
    if not database.statements:
        pytest.skip("pg_stat_statements is not available (it needs shared_preload_libraries; see .ci/run)")
    with database.connect() as conn:
        conn.execute("SELECT pg_sleep(0.01)")  # the same statement before the window must not dilute its mean
        conn.execute("SELECT pg_sleep(0.4)::text")  # a slow one before the window must not appear
        monitor = PostgresMonitor(database.url)
        monitor.start()
        try:
            for _ in range(3):
                conn.execute("SELECT pg_sleep(0.3)")
            for i in range(20):
                conn.execute("SELECT %s::int + 1", (i,))
            report = monitor.report()
        finally:
            monitor.close()
    statements = report["statements"]
    assert statements["available"] and statements["scope"] == "load window" and statements["note"] is None
    first = statements["by_mean_time"][0]
    assert "pg_sleep" in first["query"] and "::text" not in first["query"], first
    assert first["calls"] == 3 and 290 <= first["mean_time_ms"] <= 450
    assert statements["by_total_time"][0]["queryid"] == first["queryid"]
    queries = [s["query"] for s in statements["by_mean_time"] + statements["by_total_time"]]
    assert not any("::text" in q or q.startswith(MARK) for q in queries), queries
    assert any(s["calls"] == 20 for s in statements["by_mean_time"])
    assert report["window"]["duration_s"] >= 0.9
    assert json.loads(render_db_report_json(report)) == report


def test_a_table_scanned_sequentially_many_times_is_a_missing_index_hint(database):
    with database.connect() as conn:
        conn.execute("CREATE TABLE big_unindexed (id int, v text)")
        conn.execute("INSERT INTO big_unindexed SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
        conn.execute("CREATE TABLE big_indexed (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO big_indexed SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
        conn.execute("CREATE TABLE small (id int)")
        conn.execute("INSERT INTO small SELECT generate_series(1, 50)")
        for i in range(15):  # before the window: not counted in it
            conn.execute("SELECT v FROM big_unindexed WHERE id = %s", (i,))
        conn.execute("SELECT pg_stat_force_next_flush()")

    def scans() -> int:
        with database.connect() as conn:
            sql = "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'big_unindexed'"
            return conn.execute(sql).fetchone()[0]

    assert eventually(lambda: scans() >= 15)
    monitor = PostgresMonitor(database.url)
    monitor.start()
    try:
        with database.connect() as conn:
            for i in range(20):
                conn.execute("SELECT v FROM big_unindexed WHERE id = %s", (i,))
                conn.execute("SELECT v FROM big_indexed WHERE id = %s", (i,))
                conn.execute("SELECT id FROM small WHERE id = %s", (i,))
            conn.execute("SELECT pg_stat_force_next_flush()")
        report = eventually(lambda: (r := monitor.report())["missing_index_hints"] and r) or monitor.report()
    finally:
        monitor.close()
    hints = report["missing_index_hints"]
    assert [h["table"] for h in hints] == ["big_unindexed"], hints
    assert hints[0]["seq_scan"] == 20 and hints[0]["idx_scan"] == 0 and hints[0]["rows"] == 5000
    assert "no index" in hints[0]["hint"]
    tables = {t["table"]: t for t in report["tables"]}
    assert {"big_unindexed", "big_indexed", "small"} <= set(tables)
    assert tables["big_indexed"]["indexes_bytes"] > 0 and tables["big_unindexed"]["indexes_bytes"] == 0
    assert all(t["total_bytes"] >= t["table_bytes"] > 0 for t in tables.values())
    indexes = {i["index"]: i for i in report["indexes"]}
    assert indexes["big_indexed_pkey"]["idx_scan"] >= 20 and indexes["big_indexed_pkey"]["bytes"] > 0


def test_a_password_in_the_url_never_shows(database):
    url = with_password(database.url)
    role = f"surge_test_{uuid.uuid4().hex[:8]}"
    monitor = PostgresMonitor(url)
    texts = []
    monitor.start()
    try:
        rows = [MonitorSample("db", time.time(), 0.0, monitor.sample())]
        with database.connect() as conn:
            conn.execute(f"CREATE ROLE {role} PASSWORD 'OTHERPASS9'")  # kept verbatim by pg_stat_statements
            conn.execute("SELECT pg_terminate_backend(%s)", (monitor_pid(conn, database.name),))
        with pytest.raises(SourceLost) as lost:
            eventually(lambda: monitor.sample() and False, timeout_s=2)  # until the loss is seen
        texts.append(str(lost.value))
        rows.append(MonitorSample("db", time.time(), 1.0, monitor.sample()))  # reconnected
        report = monitor.report()
    finally:
        monitor.close()
        with pg_admin() as admin:
            admin.execute(f"DROP ROLE IF EXISTS {role}")
    for bad in (url.replace(":5432/", ":1/"), url.replace(":5432/", ":99999/"), url + "?nonsense=1",
                url.replace("postgresql:", "mysql:")):
        with pytest.raises(ConfigError) as error:
            PostgresMonitor(bad).start()
        texts.append(str(error.value))
    texts += [repr(rows), json.dumps(monitor.summarise(rows)), render_db_report_json(report), *monitor.warnings]
    assert report["database"] == database.url.replace("postgres@", "postgres:***@")
    if database.statements:
        assert any(f"CREATE ROLE {role} PASSWORD '***'" in s["query"] for s in report["statements"]["by_mean_time"])
    for text in texts:
        assert SECRET not in text and "OTHERPASS9" not in text, text


def test_an_unreachable_server_is_one_line_before_any_load(postgres):
    url = with_password("postgresql://postgres@127.0.0.1:1/postgres")
    sampler = Sampler([PostgresMonitor(url)], 1.0)
    with pytest.raises(MonitorUnavailable) as error:
        sampler.start()
    message = str(error.value)
    assert message.startswith("PostgreSQL at postgresql://postgres:***@127.0.0.1:1/postgres is unavailable: ")
    assert "\n" not in message and SECRET not in message and error.value.exit_code == 2


@pytest.mark.parametrize("url, expected", [
    ("postgresql://postgres@127.0.0.1:99999/db", "Port out of range"),
    ("mysql://postgres@127.0.0.1/db", "should start with postgresql:// or postgres://"),
    ("postgresql://postgres@127.0.0.1/db?nonsense=1", "invalid URI query parameter"),
])
def test_a_malformed_url_is_a_configuration_error(postgres, url, expected):
    with pytest.raises(ConfigError, match=expected) as error:
        PostgresMonitor(url).start()
    assert "is malformed" in str(error.value) and error.value.exit_code == 2


def test_a_connection_lost_mid_run_is_a_gap_then_samples_resume(database):
    notes = []
    sampler = Sampler([PostgresMonitor(database.url)], 0.15, notify=notes.append)

    def kill_once():
        time.sleep(0.4)
        with database.connect() as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (monitor_pid(conn, database.name),))
        time.sleep(0.6)

    run_sampler(sampler, kill_once, settle_s=0)
    record = sampler.records["db"]
    assert record.gaps == 1 and record.lost_at_s is None
    before = [s for s in record.samples if s.elapsed_s < 0.4]
    after = [s for s in record.samples if s.elapsed_s > 0.5]
    assert len(before) >= 2 and len(after) >= 2
    assert len(notes) == 1 and "the connection to PostgreSQL was lost" in notes[0] and "gap" in notes[0]


def test_without_pg_stat_statements_the_report_says_how_to_enable_it_and_goes_on(postgres):
    with temporary_database(extension=False) as db:
        with db.connect() as conn:
            conn.execute("CREATE TABLE t (id int)")
        monitor = PostgresMonitor(db.url)
        monitor.start()
        try:
            report = monitor.report()
        finally:
            monitor.close()
    statements = report["statements"]
    assert not statements["available"] and statements["by_mean_time"] == []
    assert "CREATE EXTENSION pg_stat_statements" in statements["note"]
    assert "shared_preload_libraries" in statements["note"]
    assert [t["table"] for t in report["tables"]] == ["t"] and report["warnings"] == []


def test_a_view_the_role_cannot_read_is_named_and_the_rest_goes_on(postgres):
    role = f"surge_test_{uuid.uuid4().hex[:8]}"
    with pg_admin() as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        with temporary_database() as db, db.connect() as conn:  # conn: a session the role cannot see
            conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
            conn.execute(f"GRANT SELECT ON t TO {role}")
            conn.execute("REVOKE SELECT ON pg_stat_user_indexes FROM PUBLIC")
            monitor = PostgresMonitor(db.url.replace("postgres@", f"{role}@"))
            monitor.start()
            try:
                start_warnings = list(monitor.warnings)
                row = monitor.sample()
                conn.execute("SELECT count(*) FROM t")  # a statement of another role, in the window
                report = monitor.report()
            finally:
                monitor.close()
    finally:
        with pg_admin() as admin:
            admin.execute(f"DROP ROLE IF EXISTS {role}")
    assert any("cannot see" in w and "pg_stat_activity" in w and "pg_monitor" in w for w in start_warnings)
    assert row["connections"] >= 0 and row["xact_commit"] is not None
    assert "pg_stat_user_indexes" in report["warnings"][0] and "grant the role pg_monitor" in report["warnings"][0]
    assert report["indexes"] == [] and [t["table"] for t in report["tables"]] == ["t"]
    statements = report["statements"]
    assert statements["available"] == db.statements
    if db.statements:  # the other role's statement is counted, not shown
        assert statements["hidden_calls"] >= 1 and len(report["warnings"]) == 2
        assert "pg_read_all_stats" in report["warnings"][1]
        assert all(s["queryid"] is not None for s in statements["by_mean_time"])
    else:
        assert len(report["warnings"]) == 1


def test_without_psycopg_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what `import psycopg` meets when it is not installed
    with pytest.raises(MonitorUnavailable, match=r"pip install 'surge\[postgres\]'"):
        PostgresMonitor("postgresql://postgres@127.0.0.1/postgres").start()
