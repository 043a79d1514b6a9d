"""Storage for the demo API: SQLite by default, PostgreSQL when given a ``postgresql://`` URL.

Both stores offer the same async methods and return plain dicts, so the routes in
:mod:`surge.demo.app` never see SQL. Timestamps are stored as epoch seconds (floats) so the
escalation query can compare ages in SQL; the app formats them for people.

Why the two concurrency strategies differ:

- SQLite: one connection, used only from one dedicated thread (a single-worker executor).
  Every call is serialised there, which makes "look up the idempotency key, else insert" atomic
  without locks, keeps ``:memory:`` databases working (one connection = one database) and never
  blocks the event loop. Each call costs ~0.1 ms, far below what a demo run needs.
- PostgreSQL: a small hand-made pool of async connections (``psycopg_pool`` is not a
  dependency). Correctness under concurrency comes from the database: a UNIQUE (tenant, key) pair
  with ``ON CONFLICT DO NOTHING`` and a guarded upsert of the facts row.

This module imports nothing from surge: the demo target must not be able to flatter the tool.
"""
from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Protocol

_COLUMNS = (
    "id, subject_type, subject_id, field, value, class, permissions, actor, idempotency_key, "
    "created_at"
)
_CORRECTION_KEYS = tuple(_COLUMNS.split(", "))
_SUBJECT = "tenant_id = ? AND subject_type = ? AND subject_id = ?"
_HISTORY_SQL = f"SELECT {_COLUMNS} FROM corrections WHERE {_SUBJECT} ORDER BY id DESC LIMIT ?"
_BY_KEY_SQL = f"SELECT {_COLUMNS} FROM corrections WHERE tenant_id = ? AND idempotency_key = ?"
_INSERT_SQL = (
    "INSERT INTO corrections (tenant_id, subject_type, subject_id, field, value, class, "
    "permissions, actor, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_FACTS_SQL = (
    "SELECT f.field, c.value, c.class, c.permissions, f.correction_id, f.updated_at "
    "FROM facts f JOIN corrections c ON c.id = f.correction_id "
    "WHERE f.tenant_id = ? AND f.subject_type = ? AND f.subject_id = ? ORDER BY f.field"
)
_FACTS_UPSERT = (
    "INSERT INTO facts (tenant_id, subject_type, subject_id, field, correction_id, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, subject_type, subject_id, field) DO UPDATE SET "
    "correction_id = excluded.correction_id, updated_at = excluded.updated_at "
    "WHERE facts.correction_id < excluded.correction_id"
)
_HEARTBEAT_UPSERT = (
    "INSERT INTO agents (tenant_id, agent_id, first_seen_at, last_heartbeat_at, heartbeats, "
    "enforced_version) VALUES (?, ?, ?, ?, 1, ?) "
    "ON CONFLICT (tenant_id, agent_id) DO UPDATE SET "
    "last_heartbeat_at = excluded.last_heartbeat_at, heartbeats = agents.heartbeats + 1, "
    "enforced_version = COALESCE(excluded.enforced_version, agents.enforced_version) "
    "RETURNING heartbeats"
)
_AGENTS_SQL = (
    "SELECT agent_id, last_heartbeat_at, heartbeats FROM agents WHERE tenant_id = ? "
    "ORDER BY agent_id"
)
_STALE_SQL = (
    "SELECT agent_id, last_heartbeat_at FROM agents WHERE tenant_id = ? "
    "AND last_heartbeat_at < ? ORDER BY last_heartbeat_at LIMIT ?"
)
#: A column each table has only in the current layout; its absence means an older demo made it.
_LAYOUT_MARKER = "tenant_id"
_TABLES = ("corrections", "facts", "agents")


def _schema(id_type: str, real: str) -> list[str]:
    """DDL shared by both databases; only the id and float column types differ.

    Every row belongs to a tenant (``X-Tenant-Id``; "" when absent) and a subject is
    ``(subject_type, subject_id)`` as text: the original integer ids are stored with type "".
    ``value``, ``permissions`` and ``actor`` hold canonical JSON text.
    """
    return [
        f"CREATE TABLE IF NOT EXISTS corrections (id {id_type}, tenant_id TEXT NOT NULL, "
        "subject_type TEXT NOT NULL, subject_id TEXT NOT NULL, field TEXT NOT NULL, "
        "value TEXT NOT NULL, class TEXT NOT NULL, permissions TEXT, actor TEXT, "
        f"idempotency_key TEXT, created_at {real} NOT NULL, UNIQUE (tenant_id, idempotency_key))",
        "CREATE INDEX IF NOT EXISTS corrections_subject_idx "
        "ON corrections (tenant_id, subject_type, subject_id, id)",
        "CREATE TABLE IF NOT EXISTS facts (tenant_id TEXT NOT NULL, subject_type TEXT NOT NULL, "
        "subject_id TEXT NOT NULL, field TEXT NOT NULL, correction_id BIGINT NOT NULL, "
        f"updated_at {real} NOT NULL, PRIMARY KEY (tenant_id, subject_type, subject_id, field))",
        "CREATE TABLE IF NOT EXISTS agents (tenant_id TEXT NOT NULL, agent_id TEXT NOT NULL, "
        f"first_seen_at {real} NOT NULL, last_heartbeat_at {real} NOT NULL, "
        "heartbeats BIGINT NOT NULL, enforced_version TEXT, PRIMARY KEY (tenant_id, agent_id))",
        "CREATE INDEX IF NOT EXISTS agents_last_heartbeat_idx "
        "ON agents (tenant_id, last_heartbeat_at)",
    ]


def _outdated(columns: dict[str, set[str]]) -> None:
    """Raise if a table exists without the current layout's marker column (CREATE TABLE IF NOT
    EXISTS would keep it, and every write would then fail)."""
    old = [t for t, cols in columns.items() if cols and _LAYOUT_MARKER not in cols]
    if old:
        raise LayoutError(
            f"table(s) {', '.join(old)} were created by an older surge demo (no "
            f"{_LAYOUT_MARKER} column); use a fresh database or drop the tables "
            f"{', '.join(_TABLES)}"
        )


class LayoutError(RuntimeError):
    """The database holds demo tables in an older layout."""


def _correction(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(_CORRECTION_KEYS, row))


def _fact(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = ("field", "value", "class", "permissions", "correction_id", "updated_at")
    return dict(zip(keys, row))


def _insert_args(tenant: str, c: dict[str, Any], now: float) -> tuple[Any, ...]:
    return (
        tenant, c["subject_type"], c["subject_id"], c["field"], c["value"], c["class"],
        c["permissions"], c["actor"], c["idempotency_key"], now,
    )


class Store(Protocol):
    """What the routes need, every call scoped to one tenant.

    ``create_correction(tenant, c)`` takes a dict with the keys of a correction but ``id`` and
    ``created_at`` and returns ``(correction, created)``: with an ``idempotency_key`` already
    used in that tenant, the first correction and False, and nothing is written.
    """

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    async def create_correction(
        self, tenant: str, c: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]: ...
    async def facts(self, tenant: str, subject: tuple[str, str]) -> list[dict[str, Any]]: ...
    async def history(
        self, tenant: str, subject: tuple[str, str], limit: int
    ) -> list[dict[str, Any]]: ...
    async def heartbeat(
        self, tenant: str, agent_id: str, now: float, version: str | None
    ) -> int: ...
    async def agents(self, tenant: str) -> list[dict[str, Any]]: ...
    async def stale_agents(
        self, tenant: str, before: float, limit: int
    ) -> list[dict[str, Any]]: ...


def open_store(database: str) -> Store:
    """A store for ``database``: a ``postgres(ql)://`` URL, a file path or ``:memory:``."""
    if database.startswith(("postgresql://", "postgres://")):
        return PostgresStore(database)
    return SqliteStore(database)


def check(database: str) -> None:
    """Open and close ``database`` synchronously, so a bad path, an unreachable server or tables
    of an older layout fail before the server starts, with one line instead of a startup
    traceback. Raises OSError, sqlite3.Error, psycopg.Error or LayoutError."""
    if database.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(database, connect_timeout=5) as conn:
            _outdated(_pg_columns(conn.execute(_PG_COLUMNS_SQL, (list(_TABLES),)).fetchall()))
    else:
        conn = sqlite3.connect(database)
        try:
            _outdated(_sqlite_columns(conn))
        finally:
            conn.close()


_PG_COLUMNS_SQL = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = ANY(%s)"
)


def _pg_columns(rows: list[tuple[str, str]]) -> dict[str, set[str]]:
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    return columns


def _sqlite_columns(conn: sqlite3.Connection) -> dict[str, set[str]]:
    return {
        t: {row[1] for row in conn.execute(f"PRAGMA table_info({t})").fetchall()} for t in _TABLES
    }


class SqliteStore:
    """SQLite through one connection owned by one thread (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-sqlite")
        self._conn: sqlite3.Connection | None = None

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await self._call(lambda: self.conn.execute(sql, args).fetchall())

    async def open(self) -> None:
        await self._call(self._open)

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        if self._path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")  # readers elsewhere never block our writes
        conn.execute("PRAGMA synchronous=NORMAL")  # durable enough for a demo, no fsync per commit
        conn.execute("PRAGMA busy_timeout=5000")
        _outdated(_sqlite_columns(conn))
        for ddl in _schema("INTEGER PRIMARY KEY AUTOINCREMENT", "REAL"):
            conn.execute(ddl)
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._call(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "store not opened"
        return self._conn

    async def ping(self) -> None:
        await self._rows("SELECT 1", ())

    async def create_correction(
        self, tenant: str, c: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        return await self._call(self._create, tenant, c)

    def _create(self, tenant: str, c: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        conn = self.conn
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")  # also serialises against other processes on the file
        try:
            if c["idempotency_key"] is not None:
                row = conn.execute(_BY_KEY_SQL, (tenant, c["idempotency_key"])).fetchone()
                if row is not None:
                    conn.execute("COMMIT")
                    return _correction(row), False
            new_id = conn.execute(_INSERT_SQL, _insert_args(tenant, c, now)).lastrowid
            subject = (tenant, c["subject_type"], c["subject_id"], c["field"])
            conn.execute(_FACTS_UPSERT, (*subject, new_id, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {**c, "id": new_id, "created_at": now}, True

    async def facts(self, tenant: str, subject: tuple[str, str]) -> list[dict[str, Any]]:
        return [_fact(r) for r in await self._rows(_FACTS_SQL, (tenant, *subject))]

    async def history(
        self, tenant: str, subject: tuple[str, str], limit: int
    ) -> list[dict[str, Any]]:
        return [_correction(r) for r in await self._rows(_HISTORY_SQL, (tenant, *subject, limit))]

    async def heartbeat(self, tenant: str, agent_id: str, now: float, version: str | None) -> int:
        rows = await self._rows(_HEARTBEAT_UPSERT, (tenant, agent_id, now, now, version))
        return int(rows[0][0])

    async def agents(self, tenant: str) -> list[dict[str, Any]]:
        rows = await self._rows(_AGENTS_SQL, (tenant,))
        return [dict(zip(("agent_id", "last_heartbeat_at", "heartbeats"), r)) for r in rows]

    async def stale_agents(self, tenant: str, before: float, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows(_STALE_SQL, (tenant, before, limit))
        return [dict(zip(("agent_id", "last_heartbeat_at"), r)) for r in rows]


class PostgresStore:
    """PostgreSQL through a small pool of async psycopg connections held in a queue."""

    POOL_SIZE = 4

    def __init__(self, url: str) -> None:
        self._url = url
        self._pool: asyncio.Queue[Any] = asyncio.Queue()

    async def _connect(self) -> Any:
        import psycopg  # optional dependency: only needed in PostgreSQL mode

        return await psycopg.AsyncConnection.connect(self._url, autocommit=True)

    async def open(self) -> None:
        for _ in range(self.POOL_SIZE):
            self._pool.put_nowait(await self._connect())
        async with self._conn() as conn, conn.transaction():
            # Serialise concurrent startups: CREATE ... IF NOT EXISTS can race in PostgreSQL.
            await conn.execute("SELECT pg_advisory_xact_lock(73571)")
            cur = await conn.execute(_PG_COLUMNS_SQL, (list(_TABLES),))
            _outdated(_pg_columns(await cur.fetchall()))
            id_type = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
            for ddl in _schema(id_type, "DOUBLE PRECISION"):
                await conn.execute(ddl)

    async def close(self) -> None:
        # uvicorn finishes in-flight requests before the lifespan shutdown, so all are back.
        while not self._pool.empty():
            await self._pool.get_nowait().close()

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[Any]:
        """Borrow a connection; one the server dropped is replaced rather than handed out."""
        conn = await self._pool.get()
        try:
            if conn.closed:
                conn = await self._connect()
            yield conn
        finally:
            self._pool.put_nowait(conn)

    async def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        async with self._conn() as conn:
            cur = await conn.execute(sql.replace("?", "%s"), args)
            return await cur.fetchall() if cur.description else []

    async def ping(self) -> None:
        await self._query("SELECT 1")

    async def create_correction(
        self, tenant: str, c: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        async with self._conn() as conn:
            return await self._create(conn, tenant, c)

    async def _create(
        self, conn: Any, tenant: str, c: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        now = time.time()
        async with conn.transaction():
            insert = _INSERT_SQL + " ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id"
            cur = await conn.execute(insert.replace("?", "%s"), _insert_args(tenant, c, now))
            row = await cur.fetchone()
            if row is not None:
                subject = (tenant, c["subject_type"], c["subject_id"], c["field"])
                await conn.execute(_FACTS_UPSERT.replace("?", "%s"), (*subject, row[0], now))
                return {**c, "id": row[0], "created_at": now}, True
        # The key exists: the INSERT waited for the first writer's commit, so this sees its row.
        cur = await conn.execute(_BY_KEY_SQL.replace("?", "%s"), (tenant, c["idempotency_key"]))
        return _correction(await cur.fetchone()), False

    async def facts(self, tenant: str, subject: tuple[str, str]) -> list[dict[str, Any]]:
        return [_fact(r) for r in await self._query(_FACTS_SQL, (tenant, *subject))]

    async def history(
        self, tenant: str, subject: tuple[str, str], limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._query(_HISTORY_SQL, (tenant, *subject, limit))
        return [_correction(r) for r in rows]

    async def heartbeat(self, tenant: str, agent_id: str, now: float, version: str | None) -> int:
        rows = await self._query(_HEARTBEAT_UPSERT, (tenant, agent_id, now, now, version))
        return int(rows[0][0])

    async def agents(self, tenant: str) -> list[dict[str, Any]]:
        rows = await self._query(_AGENTS_SQL, (tenant,))
        return [dict(zip(("agent_id", "last_heartbeat_at", "heartbeats"), r)) for r in rows]

    async def stale_agents(self, tenant: str, before: float, limit: int) -> list[dict[str, Any]]:
        rows = await self._query(_STALE_SQL, (tenant, before, limit))
        return [dict(zip(("agent_id", "last_heartbeat_at"), r)) for r in rows]
