"""The PostgreSQL monitor (``db``): connections, the longest query, cache hits and the database's
transaction and tuple counters, sampled beside the load; ``db_report.json`` at the end.

It reads only statistics views, so a role with ``pg_monitor`` is enough (without it, other
roles' sessions are invisible in ``pg_stat_activity``: a warning says so at start).

* **The server** (``pg_stat_activity``, client backends, the monitor's own connection left out):
  connections by state (active, idle, idle in transaction, waiting on a lock), as a share of
  ``max_connections``, those on the URL's database, and the longest running query and open
  transaction;
* **the URL's database** (``pg_stat_database``): the raw cumulative counters (commits,
  rollbacks, deadlocks, block reads and hits, temp files and bytes, tuples), so the summary can
  be recomputed from the rows, plus per-interval rates for the live view. The monitor's own
  transactions (one per sample) are counted in ``monitor_commits`` and taken off the rates.

Each sample is one statement on one autocommit connection. A connection lost mid-run is a gap
(:class:`SourceLost`); the next sample reconnects. PostgreSQL publishes a busy backend's
counters about once a second, so rates are exact over a run and approximate per interval.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .base import Row, Sample, SourceLost
from .counters import Deltas, as_count, column_max, counter_delta, counter_rate, net, ratio, rounded
from .db_report import MARK, SCHEMA, QueryError, Snapshot, build_report, take_snapshot
from .sources import Source, close_quietly, import_driver

_COUNTERS = ("xact_commit", "xact_rollback", "deadlocks", "blks_read", "blks_hit", "temp_files", "temp_bytes",
             "tup_inserted", "tup_updated", "tup_deleted", "tup_returned", "tup_fetched")
_ACTIVITY = ("connections", "active", "idle", "idle_in_transaction", "waiting", "connections_db",
             "longest_query_s", "longest_transaction_s")
_RATES = ("commits_per_s", "rollbacks_per_s", "cache_hit_ratio", "tup_inserted_per_s", "tup_updated_per_s",
          "tup_deleted_per_s")

_SAMPLE_SQL = f"""{MARK} WITH a AS (
  SELECT count(*), count(*) FILTER (WHERE state = 'active'), count(*) FILTER (WHERE state = 'idle'),
         count(*) FILTER (WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')),
         count(*) FILTER (WHERE wait_event_type = 'Lock'),
         count(*) FILTER (WHERE datname = current_database()),
         coalesce(extract(epoch FROM max(clock_timestamp() - query_start) FILTER (WHERE state = 'active')), 0)::float8,
         coalesce(extract(epoch FROM max(clock_timestamp() - xact_start)), 0)::float8
  FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())
SELECT current_setting('max_connections')::int, a.*, {", ".join("d." + c for c in _COUNTERS)}
FROM a LEFT JOIN pg_stat_database d ON d.datname = current_database()"""
_UNSEEN_SQL = f"{MARK} SELECT count(*) FROM pg_stat_activity WHERE backend_type IS NULL"
_SERVER_SQL = (f"{MARK} SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
               "current_database()")
_CONNECTION_LOST = ("08", "57P")  # connection exceptions, and the server shutting down or cancelling us


class PostgresSession:
    """One autocommit connection for the monitor: made on first use and again after a loss,
    every statement run with a timeout, its transactions counted, its errors scrubbed.

    ``query`` raises :class:`SourceLost` when the connection is gone (it is dropped, the next
    call reconnects) and :class:`QueryError` when a statement failed on a usable connection.
    """

    def __init__(self, source: Source, *, timeout_s: float) -> None:
        self.source = source
        self.timeout_s = timeout_s
        self.commits = 0
        self.rollbacks = 0
        self._conn: Any = None

    def connect(self) -> None:
        """Connect now; raises MonitorUnavailable (no driver, malformed) or SourceLost (unreachable)."""
        psycopg = import_driver("psycopg", extra="postgres", what="PostgreSQL")
        try:
            psycopg.conninfo.conninfo_to_dict(self.source.url)
        except psycopg.Error as exc:
            raise self.source.malformed(str(exc)) from None
        try:
            self._conn = psycopg.connect(self.source.url, autocommit=True, application_name="surge-monitor",
                                         connect_timeout=max(2, round(self.timeout_s)))
        except psycopg.Error as exc:
            raise SourceLost(self.source.scrub(str(exc) or type(exc).__name__)) from None
        timeout = f"{max(1, int(self.timeout_s * 1000))}ms"
        self.query(f"{MARK} SELECT set_config('statement_timeout', %s, false)", (timeout,))

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        if self._conn is None:
            self.connect()
        psycopg = import_driver("psycopg", extra="postgres", what="PostgreSQL")
        try:
            cursor = self._conn.execute(sql, params)
            rows = cursor.fetchall()
        except psycopg.Error as exc:
            message = self.source.scrub(str(exc) or type(exc).__name__)
            state = getattr(exc, "sqlstate", None)
            if self._conn.broken or self._conn.closed or state is None or state.startswith(_CONNECTION_LOST):
                self.close()
                raise SourceLost(f"the connection to PostgreSQL was lost ({message})") from None
            self.rollbacks += 1
            raise QueryError(message, state) from None
        self.commits += 1
        return rows

    def close(self) -> None:
        conn, self._conn = self._conn, None
        close_quietly(conn)


class PostgresMonitor:
    """Watches the PostgreSQL server and the database of ``url`` (``postgresql://...``).

    ``window`` (the default in a run): :meth:`start` reads ``pg_stat_statements`` and the table
    scans so that :meth:`report` covers the load window only. ``warnings`` lists what the role
    cannot see (read it after :meth:`start` and after :meth:`report`).
    A malformed URL raises :class:`~surge.model.errors.ConfigError` here.
    """

    name = "db"
    columns = ("max_connections", *_ACTIVITY, "connections_used_pct", *_RATES, *_COUNTERS,
               "monitor_commits", "monitor_rollbacks")

    def __init__(self, url: str, *, timeout_s: float = 2.0, window: bool = True) -> None:
        self.source = Source(url, what="PostgreSQL", schemes=("postgresql", "postgres"))
        self.session = PostgresSession(self.source, timeout_s=timeout_s)
        self.window = window
        self.warnings: list[str] = []
        self.datname = ""
        self.server_version = ""
        self.server_version_num = 0
        self._start: Snapshot | None = None
        self._deltas = Deltas()

    def start(self) -> None:
        try:
            self.session.connect()
            (self.server_version, self.server_version_num, self.datname), = self.session.query(_SERVER_SQL)
            (unseen,), = self.session.query(_UNSEEN_SQL)
            if self.window:
                self._start = take_snapshot(self.session.query, server_version_num=self.server_version_num,
                                            datname=self.datname)
                self.warnings.extend(self._start.warnings)
        except (SourceLost, QueryError) as exc:
            self.session.close()
            raise self.source.unavailable(str(exc)) from None
        if unseen:
            self.warnings.append(f"monitor db: the role cannot see {unseen} other sessions in pg_stat_activity "
                                 "(grant it pg_monitor); connections are counted from those it can see")

    def sample(self) -> Row:
        try:
            (max_connections, *rest), = self.session.query(_SAMPLE_SQL)
        except QueryError as exc:  # the views are readable by every role: this is not expected
            raise SourceLost(f"the sample failed ({exc})") from None
        now = time.monotonic()
        row: dict[str, Any] = {"max_connections": max_connections}
        row.update(zip(_ACTIVITY, rest[:len(_ACTIVITY)]))
        row.update(zip(_COUNTERS, rest[len(_ACTIVITY):]))
        used = 100.0 * row["connections"] / max_connections if max_connections else None
        row["connections_used_pct"] = rounded(used, 2)
        row["longest_query_s"] = round(row["longest_query_s"], 3)
        row["longest_transaction_s"] = round(row["longest_transaction_s"], 3)
        row["monitor_commits"], row["monitor_rollbacks"] = self.session.commits, self.session.rollbacks
        rates = self._deltas.rates({k: row[k] for k in (*_COUNTERS, "monitor_commits", "monitor_rollbacks")}, now)
        row["commits_per_s"] = rounded(net(rates["xact_commit"], rates["monitor_commits"]), 2)
        row["rollbacks_per_s"] = rounded(net(rates["xact_rollback"], rates["monitor_rollbacks"]), 2)
        row["cache_hit_ratio"] = rounded(ratio(rates["blks_hit"], rates["blks_read"]), 4)
        for counter in ("tup_inserted", "tup_updated", "tup_deleted"):
            row[f"{counter}_per_s"] = rounded(rates[counter], 2)
        return row

    def summarise(self, rows: Sequence[Sample]) -> dict[str, Any]:
        maxima = {f"{key}_max": column_max(rows, key) for key in
                  ("connections", "connections_used_pct", "active", "idle", "idle_in_transaction", "waiting",
                   "connections_db")}
        return {
            **maxima,
            "max_connections": column_max(rows, "max_connections"),
            "cache_hit_ratio": rounded(ratio(counter_delta(rows, "blks_hit"), counter_delta(rows, "blks_read")), 4),
            "commits_per_s": rounded(counter_rate(rows, "xact_commit", minus="monitor_commits"), 2),
            "rollbacks_per_s": rounded(counter_rate(rows, "xact_rollback", minus="monitor_rollbacks"), 2),
            "deadlocks": as_count(counter_delta(rows, "deadlocks")),
            "longest_query_s": column_max(rows, "longest_query_s"),
            "longest_transaction_s": column_max(rows, "longest_transaction_s"),
            "temp_files": as_count(counter_delta(rows, "temp_files")),
            "temp_bytes": as_count(counter_delta(rows, "temp_bytes")),
            **{f"{c}_per_s": rounded(counter_rate(rows, c), 2) for c in ("tup_inserted", "tup_updated", "tup_deleted")},
        }

    def report(self) -> dict[str, Any]:
        """``db_report.json``'s content: since :meth:`start` (the load window) or, without a window,
        the current totals. Never raises for the database's sake: a database that cannot be
        reached any more gives a report that says so in its warnings."""
        last: SourceLost | None = None
        for _ in range(2):  # the connection may have been dropped since the last sample: reconnect once
            try:
                report = build_report(self.session.query, shown_url=self.source.shown, datname=self.datname,
                                      server_version=self.server_version, server_version_num=self.server_version_num,
                                      start=self._start, scrub=self.source.scrub)
                break
            except SourceLost as exc:
                last = exc
        else:
            lost = f"db report: PostgreSQL could not be read at the end of the run ({last}); no report"
            report = {"schema": SCHEMA, "database": self.source.shown, "datname": self.datname, "warnings": [lost]}
        self.warnings.extend(w for w in report["warnings"] if w not in self.warnings)
        return report

    def close(self) -> None:
        self.session.close()


def report_now(url: str, *, timeout_s: float = 5.0) -> dict[str, Any]:
    """``surge db report``: the current totals of a database (no window). Raises ConfigError for
    a malformed URL and MonitorUnavailable when the database cannot be read."""
    monitor = PostgresMonitor(url, timeout_s=timeout_s, window=False)
    monitor.start()
    try:
        return monitor.report()
    finally:
        monitor.close()
