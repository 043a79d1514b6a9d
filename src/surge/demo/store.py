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
  dependency). Correctness under concurrency comes from the database: a UNIQUE idempotency key
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

_COLUMNS = "id, subject_id, field, value, idempotency_key, created_at"
_HISTORY_SQL = f"SELECT {_COLUMNS} FROM corrections WHERE subject_id = ? ORDER BY id DESC LIMIT ?"
_FACTS_SQL = (
    "SELECT field, value, correction_id, updated_at FROM facts WHERE subject_id = ? ORDER BY field"
)
_FACTS_UPSERT = (
    "INSERT INTO facts (subject_id, field, value, correction_id, updated_at) "
    "VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (subject_id, field) DO UPDATE SET value = excluded.value, "
    "correction_id = excluded.correction_id, updated_at = excluded.updated_at "
    "WHERE facts.correction_id < excluded.correction_id"
)
_HEARTBEAT_UPSERT = (
    "INSERT INTO agents (agent_id, first_seen_at, last_heartbeat_at, heartbeats) "
    "VALUES (?, ?, ?, 1) "
    "ON CONFLICT (agent_id) DO UPDATE SET last_heartbeat_at = excluded.last_heartbeat_at, "
    "heartbeats = agents.heartbeats + 1 RETURNING heartbeats"
)
_AGENTS_SQL = "SELECT agent_id, last_heartbeat_at, heartbeats FROM agents ORDER BY agent_id"
_STALE_SQL = (
    "SELECT agent_id, last_heartbeat_at FROM agents WHERE last_heartbeat_at < ? "
    "ORDER BY last_heartbeat_at LIMIT ?"
)


def _schema(id_type: str, real: str) -> list[str]:
    """DDL shared by both databases; only the id and float column types differ."""
    return [
        f"CREATE TABLE IF NOT EXISTS corrections (id {id_type}, subject_id BIGINT NOT NULL, "
        "field TEXT NOT NULL, value TEXT NOT NULL, idempotency_key TEXT UNIQUE, "
        f"created_at {real} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS corrections_subject_idx ON corrections (subject_id, id)",
        "CREATE TABLE IF NOT EXISTS facts (subject_id BIGINT NOT NULL, field TEXT NOT NULL, "
        f"value TEXT NOT NULL, correction_id BIGINT NOT NULL, updated_at {real} NOT NULL, "
        "PRIMARY KEY (subject_id, field))",
        "CREATE TABLE IF NOT EXISTS agents (agent_id TEXT PRIMARY KEY, "
        f"first_seen_at {real} NOT NULL, last_heartbeat_at {real} NOT NULL, "
        "heartbeats BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS agents_last_heartbeat_idx ON agents (last_heartbeat_at)",
    ]


def _correction(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = ("id", "subject_id", "field", "value", "idempotency_key", "created_at")
    return dict(zip(keys, row))


def _fact(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(("field", "value", "correction_id", "updated_at"), row))


class Store(Protocol):
    """What the routes need. ``create_correction`` returns ``(correction, created)``."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...
    async def create_correction(
        self, subject_id: int, field: str, value: str, key: str | None
    ) -> tuple[dict[str, Any], bool]: ...
    async def facts(self, subject_id: int) -> list[dict[str, Any]]: ...
    async def history(self, subject_id: int, limit: int) -> list[dict[str, Any]]: ...
    async def heartbeat(self, agent_id: str, now: float) -> int: ...
    async def agents(self) -> list[dict[str, Any]]: ...
    async def stale_agents(self, before: float, limit: int) -> list[dict[str, Any]]: ...


def open_store(database: str) -> Store:
    """A store for ``database``: a ``postgres(ql)://`` URL, a file path or ``:memory:``."""
    if database.startswith(("postgresql://", "postgres://")):
        return PostgresStore(database)
    return SqliteStore(database)


def check(database: str) -> None:
    """Open and close ``database`` synchronously, so a bad path or an unreachable server fails
    before the server starts, with one line instead of a startup traceback. Raises OSError,
    sqlite3.Error or psycopg.Error."""
    if database.startswith(("postgresql://", "postgres://")):
        import psycopg

        psycopg.connect(database, connect_timeout=5).close()
    else:
        sqlite3.connect(database).close()


class SqliteStore:
    """SQLite through one connection owned by one thread (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-sqlite")
        self._conn: sqlite3.Connection | None = None

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open(self) -> None:
        await self._call(self._open)

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        if self._path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")  # readers elsewhere never block our writes
        conn.execute("PRAGMA synchronous=NORMAL")  # durable enough for a demo, no fsync per commit
        conn.execute("PRAGMA busy_timeout=5000")
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
        await self._call(lambda: self.conn.execute("SELECT 1").fetchone())

    async def create_correction(
        self, subject_id: int, field: str, value: str, key: str | None
    ) -> tuple[dict[str, Any], bool]:
        return await self._call(self._create, subject_id, field, value, key)

    def _create(
        self, subject_id: int, field: str, value: str, key: str | None
    ) -> tuple[dict[str, Any], bool]:
        conn = self.conn
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")  # also serialises against other processes on the file
        try:
            if key is not None:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM corrections WHERE idempotency_key = ?", (key,)
                ).fetchone()
                if row is not None:
                    conn.execute("COMMIT")
                    return _correction(row), False
            cur = conn.execute(
                "INSERT INTO corrections (subject_id, field, value, idempotency_key, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (subject_id, field, value, key, now),
            )
            new_id = cur.lastrowid
            conn.execute(_FACTS_UPSERT, (subject_id, field, value, new_id, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return _correction((new_id, subject_id, field, value, key, now)), True

    async def facts(self, subject_id: int) -> list[dict[str, Any]]:
        rows = await self._call(lambda: self.conn.execute(_FACTS_SQL, (subject_id,)).fetchall())
        return [_fact(r) for r in rows]

    async def history(self, subject_id: int, limit: int) -> list[dict[str, Any]]:
        rows = await self._call(
            lambda: self.conn.execute(_HISTORY_SQL, (subject_id, limit)).fetchall()
        )
        return [_correction(r) for r in rows]

    async def heartbeat(self, agent_id: str, now: float) -> int:
        row = await self._call(
            lambda: self.conn.execute(_HEARTBEAT_UPSERT, (agent_id, now, now)).fetchone()
        )
        return int(row[0])

    async def agents(self) -> list[dict[str, Any]]:
        rows = await self._call(lambda: self.conn.execute(_AGENTS_SQL).fetchall())
        return [dict(zip(("agent_id", "last_heartbeat_at", "heartbeats"), r)) for r in rows]

    async def stale_agents(self, before: float, limit: int) -> list[dict[str, Any]]:
        rows = await self._call(
            lambda: self.conn.execute(_STALE_SQL, (before, limit)).fetchall()
        )
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
        self, subject_id: int, field: str, value: str, key: str | None
    ) -> tuple[dict[str, Any], bool]:
        async with self._conn() as conn:
            return await self._create(conn, subject_id, field, value, key)

    async def _create(
        self, conn: Any, subject_id: int, field: str, value: str, key: str | None
    ) -> tuple[dict[str, Any], bool]:
        now = time.time()
        async with conn.transaction():
            cur = await conn.execute(
                "INSERT INTO corrections (subject_id, field, value, idempotency_key, created_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                (subject_id, field, value, key, now),
            )
            row = await cur.fetchone()
            if row is not None:
                await conn.execute(
                    _FACTS_UPSERT.replace("?", "%s"), (subject_id, field, value, row[0], now)
                )
                return _correction((row[0], subject_id, field, value, key, now)), True
        # The key exists: the INSERT waited for the first writer's commit, so this sees its row.
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM corrections WHERE idempotency_key = %s", (key,)
        )
        return _correction(await cur.fetchone()), False

    async def facts(self, subject_id: int) -> list[dict[str, Any]]:
        return [_fact(r) for r in await self._query(_FACTS_SQL, (subject_id,))]

    async def history(self, subject_id: int, limit: int) -> list[dict[str, Any]]:
        return [_correction(r) for r in await self._query(_HISTORY_SQL, (subject_id, limit))]

    async def heartbeat(self, agent_id: str, now: float) -> int:
        rows = await self._query(_HEARTBEAT_UPSERT, (agent_id, now, now))
        return int(rows[0][0])

    async def agents(self) -> list[dict[str, Any]]:
        rows = await self._query(_AGENTS_SQL)
        return [dict(zip(("agent_id", "last_heartbeat_at", "heartbeats"), r)) for r in rows]

    async def stale_agents(self, before: float, limit: int) -> list[dict[str, Any]]:
        rows = await self._query(_STALE_SQL, (before, limit))
        return [dict(zip(("agent_id", "last_heartbeat_at"), r)) for r in rows]
