"""``db_report.json``: what the database spent its time on, and where it lacks an index.

Three parts, each from a read-only view a role with ``pg_monitor`` can read:

* **statements** from ``pg_stat_statements``, slowest by mean and by total time. In a run they
  are limited to the load window: the view is read when the monitor starts and again at the
  end, and each statement counts only its calls and time in between (per ``queryid`` and role),
  so what ran before the run does not appear. Standalone (``surge db report``) they are the
  totals since the statistics were last reset. When the extension is missing, a note says how
  to enable it and the rest of the report goes on;
* **missing-index hints**: tables read by many sequential scans and few index scans (in the
  window, when there is one), biggest reads first;
* **sizes**: the biggest tables (heap, indexes, total) and indexes (with their scans).

A view the role cannot read becomes a warning naming it; the other parts are still reported.
Statement texts are normalised by PostgreSQL (constants become ``$1``), but utility statements
are kept verbatim, so texts are scrubbed of passwords like every other string here.
The monitor's own statements start with :data:`MARK` and are left out.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .counters import increase

SCHEMA = 1
MARK = "/* surge monitor */"
#: rows of each list in the report
LIMIT = 10
#: a table is a missing-index candidate from this many sequential scans...
HINT_MIN_SEQ_SCANS = 10
#: ... of at least this many rows (scanning a small table is the right plan)
HINT_MIN_ROWS = 1000
QUERY_CHARS = 500

PG_STAT_STATEMENTS = "pg_stat_statements"
ENABLE_STATEMENTS = ("add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries "
                     "= 'pg_stat_statements'), restart PostgreSQL, then run CREATE EXTENSION pg_stat_statements; "
                     "in the database {datname}")

_THIS_DB = "(SELECT oid FROM pg_database WHERE datname = current_database())"


def _statements_sql(server_version_num: int) -> str:
    total = "total_exec_time" if server_version_num >= 130000 else "total_time"  # renamed in 13
    return (f"{MARK} SELECT userid, pg_get_userbyid(userid), queryid, sum(calls)::bigint, "
            f"sum({total})::float8, sum(rows)::bigint, "
            f"min(query) FROM pg_stat_statements WHERE dbid = {_THIS_DB} "
            f"AND query NOT LIKE '{MARK}%' GROUP BY userid, queryid")


_TABLES_SQL = (f"{MARK} SELECT relid, schemaname, relname, coalesce(seq_scan, 0), coalesce(seq_tup_read, 0), "
               "coalesce(idx_scan, 0), n_live_tup, "
               "EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = relid) FROM pg_stat_user_tables")
_TABLE_SIZES_SQL = (f"{MARK} SELECT schemaname, relname, n_live_tup, pg_total_relation_size(relid), "
                    "pg_relation_size(relid), pg_indexes_size(relid) FROM pg_stat_user_tables "
                    "ORDER BY 4 DESC, 1, 2 LIMIT %s")
_INDEX_SIZES_SQL = (f"{MARK} SELECT schemaname, relname, indexrelname, pg_relation_size(indexrelid), idx_scan "
                    "FROM pg_stat_user_indexes ORDER BY 4 DESC, 1, 3 LIMIT %s")

# SQLSTATEs the report tells apart (a psycopg error's ``sqlstate``)
UNDEFINED_TABLE = "42P01"  # the extension was not created in this database
NOT_LOADED = "55000"  # object_not_in_prerequisite_state: created, but not in shared_preload_libraries
INSUFFICIENT_PRIVILEGE = "42501"


class QueryError(Exception):
    """A statement failed while the connection stayed usable (a missing view, no privilege).
    The message is already scrubbed of the URL's password."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


#: runs one read-only statement and returns its rows; raises QueryError, or SourceLost when the
#: connection went away
Query = Callable[..., list[tuple]]


@dataclass
class Snapshot:
    """The cumulative counters of the statements and tables at one moment."""

    taken_at: datetime
    statements: dict[tuple, dict[str, Any]] | None  # None: pg_stat_statements could not be read
    tables: dict[Any, dict[str, Any]] | None
    statements_note: str | None = None
    warnings: list[str] = field(default_factory=list)


def take_snapshot(query: Query, *, server_version_num: int, datname: str) -> Snapshot:
    snap = Snapshot(datetime.now(timezone.utc), None, None)
    try:
        snap.statements = {(r[0], r[2]): {"role": r[1], "queryid": r[2], "calls": r[3], "total_time_ms": r[4],
                                          "rows": r[5], "query": r[6]}
                           for r in query(_statements_sql(server_version_num))}
    except QueryError as exc:
        snap.statements_note, warning = _statements_unavailable(exc, datname)
        if warning:
            snap.warnings.append(warning)
    try:
        snap.tables = {r[0]: {"schema": r[1], "table": r[2], "seq_scan": r[3], "seq_tup_read": r[4],
                              "idx_scan": r[5], "rows": r[6], "has_indexes": r[7]} for r in query(_TABLES_SQL)}
    except QueryError as exc:
        snap.warnings.append(_cannot_read("pg_stat_user_tables", exc, "missing-index hints are left out"))
    return snap


def _statements_unavailable(exc: QueryError, datname: str) -> tuple[str, str | None]:
    """The note for the report, and a warning when it is the role's privileges."""
    how = ENABLE_STATEMENTS.format(datname=datname)
    if exc.sqlstate == UNDEFINED_TABLE:
        return (f"pg_stat_statements is not installed in the database {datname}: to see the slowest statements, "
                f"{how}"), None
    if exc.sqlstate == NOT_LOADED:
        return f"pg_stat_statements is installed but not loaded: to see the slowest statements, {how}", None
    warning = _cannot_read(PG_STAT_STATEMENTS, exc, "no slowest statements")
    return warning, warning


def _cannot_read(view: str, exc: QueryError, consequence: str) -> str:
    grant = " (grant the role pg_monitor)" if exc.sqlstate == INSUFFICIENT_PRIVILEGE else ""
    return f"db report: cannot read {view}{grant}: {exc}; {consequence}"


def build_report(query: Query, *, shown_url: str, datname: str, server_version: str, server_version_num: int,
                 start: Snapshot | None, scrub: Callable[[str], str], limit: int = LIMIT) -> dict[str, Any]:
    """The report now; with ``start``, statements and scans are what happened since it was taken."""
    end = take_snapshot(query, server_version_num=server_version_num, datname=datname)
    warnings = list(dict.fromkeys([*(start.warnings if start else ()), *end.warnings]))
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "database": shown_url,
        "datname": datname,
        "server_version": server_version,
        "generated_at": _iso(end.taken_at),
        "window": None if start is None else {
            "started_at": _iso(start.taken_at), "ended_at": _iso(end.taken_at),
            "duration_s": round((end.taken_at - start.taken_at).total_seconds(), 3)},
        "statements": _statements_part(start, end, scrub, limit),
        "missing_index_hints": _hints(start, end, limit),
        "tables": [], "indexes": [],
        "warnings": warnings,
    }
    for key, sql, view, build in (("tables", _TABLE_SIZES_SQL, "table sizes", _table_size),
                                  ("indexes", _INDEX_SIZES_SQL, "index sizes", _index_size)):
        try:
            report[key] = [build(r) for r in query(sql, (limit,))]
        except QueryError as exc:
            warnings.append(_cannot_read(f"pg_stat_user_{key} ({view})", exc, f"{view} are left out"))
    if report["statements"]["hidden_calls"]:
        warnings.append(f"db report: {report['statements']['hidden_calls']} calls of other roles' statements are "
                        "hidden from this role in pg_stat_statements (grant it pg_read_all_stats or pg_monitor)")
    report["warnings"] = [scrub(w) for w in warnings]
    return report


def _statements_part(start: Snapshot | None, end: Snapshot, scrub: Callable[[str], str], limit: int) -> dict[str, Any]:
    windowed = start is not None and start.statements is not None
    part: dict[str, Any] = {
        "source": PG_STAT_STATEMENTS,
        "available": end.statements is not None,
        "scope": "load window" if windowed else "since the statistics were last reset",
        "note": end.statements_note or (start.statements_note if start else None),
        "by_mean_time": [], "by_total_time": [],
        "hidden_calls": 0,
    }
    if end.statements is None:
        return part
    if start is not None and start.statements is None:
        part["note"] = ("pg_stat_statements could not be read when the run started, so these are the totals since "
                        "the statistics were last reset, not the load window")
    rows = _window(start.statements if windowed else {}, end.statements)
    part["hidden_calls"] = sum(r["calls"] for r in rows if r["queryid"] is None)  # other roles', text hidden
    rows = [r for r in rows if r["queryid"] is not None]
    for r in rows:
        r["queryid"] = str(r["queryid"])  # an int64: beyond JSON's safe integers
        r["query"] = scrub_query(r["query"] or "", scrub)
        r["mean_time_ms"] = round(r["total_time_ms"] / r["calls"], 3)
        r["total_time_ms"] = round(r["total_time_ms"], 3)
    part["by_mean_time"] = sorted(rows, key=lambda r: (-r["mean_time_ms"], r["query"]))[:limit]
    part["by_total_time"] = sorted(rows, key=lambda r: (-r["total_time_ms"], r["query"]))[:limit]
    return part


def _window(before: Mapping[tuple, dict], after: Mapping[tuple, dict]) -> list[dict[str, Any]]:
    """Each statement's calls, time and rows since ``before`` (all of them when it was not there)."""
    rows = []
    for key, now in after.items():
        then = before.get(key)
        calls = now["calls"] if then is None else increase(then["calls"], now["calls"])
        if calls <= 0:
            continue
        reset = then is not None and now["calls"] < then["calls"]  # evicted and back, or reset: all of now
        since = None if then is None or reset else then
        rows.append({"queryid": now["queryid"], "role": now["role"], "query": now["query"], "calls": int(calls),
                     "total_time_ms": float(now["total_time_ms"]) - float(since["total_time_ms"] if since else 0),
                     "rows": int(now["rows"] - (since["rows"] if since else 0))})
    return rows


def _hints(start: Snapshot | None, end: Snapshot, limit: int) -> list[dict[str, Any]]:
    if end.tables is None:
        return []
    before = start.tables if start is not None and start.tables is not None else {}
    hints = []
    for relid, now in end.tables.items():
        then = before.get(relid)
        seq = now["seq_scan"] if then is None else increase(then["seq_scan"], now["seq_scan"])
        read = now["seq_tup_read"] if then is None else increase(then["seq_tup_read"], now["seq_tup_read"])
        idx = now["idx_scan"] if then is None else increase(then["idx_scan"], now["idx_scan"])
        if seq < HINT_MIN_SEQ_SCANS or seq <= idx or (now["rows"] or 0) < HINT_MIN_ROWS:
            continue
        what = "it has no index" if not now["has_indexes"] else "its indexes do not serve these reads"
        hints.append({"schema": now["schema"], "table": now["table"], "seq_scan": seq, "seq_tup_read": read,
                      "idx_scan": idx, "rows": now["rows"],
                      "hint": f"{seq} sequential scans read {read} rows against {idx} index scans, and {what}: "
                              "an index on the columns its queries filter or join on may help"})
    return sorted(hints, key=lambda h: (-h["seq_tup_read"], h["schema"], h["table"]))[:limit]


def _table_size(r: tuple) -> dict[str, Any]:
    return {"schema": r[0], "table": r[1], "rows": r[2], "total_bytes": r[3], "table_bytes": r[4],
            "indexes_bytes": r[5]}


def _index_size(r: tuple) -> dict[str, Any]:
    return {"schema": r[0], "table": r[1], "index": r[2], "bytes": r[3], "idx_scan": r[4]}


_PASSWORD_LITERAL = re.compile(r"(?i)\b(password\s+)'(?:[^']|'')*'")


def scrub_query(text: str, scrub: Callable[[str], str]) -> str:
    """A statement's text, one line, at most QUERY_CHARS, without passwords (``PASSWORD '...'``)."""
    text = scrub(_PASSWORD_LITERAL.sub(r"\1'***'", text))
    return text if len(text) <= QUERY_CHARS else text[:QUERY_CHARS - 1] + "…"


def render_db_report_json(report: Mapping[str, Any]) -> str:
    """The report as the text of db_report.json (the caller decides where it goes)."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
