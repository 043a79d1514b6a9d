"""Real servers for the database monitors' tests, on loopback (fixtures: import them into the
test module: ``from support.databases import database, postgres  # noqa: F401``).

* PostgreSQL: the machine's cluster on 127.0.0.1:5432 (trust auth). Each module gets fresh
  databases (``surge_test_<random>``), with pg_stat_statements created in them when the cluster
  preloads it, dropped afterwards.
* Redis: a private ``redis-server`` on a free port, started and stopped by PID. Redis's INFO and
  slowlog are server-wide, so the shared server on 6379 (which other work may be using) could
  not give exact counts.
"""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def pg_admin(dbname: str = "postgres"):
    import psycopg

    return psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{dbname}", autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgres() -> None:
    """Skip when PostgreSQL is not reachable (the CI script starts it)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        pg_admin().close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc})")


@dataclass
class Database:
    name: str
    url: str
    statements: bool  # pg_stat_statements is usable in it

    def connect(self):
        return pg_admin(self.name)


@contextlib.contextmanager
def temporary_database(extension: bool = True) -> Iterator[Database]:
    import psycopg

    name = f"surge_test_{uuid.uuid4().hex[:10]}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        statements = False
        if extension:
            with pg_admin(name) as conn:
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                    conn.execute("SELECT count(*) FROM pg_stat_statements")
                    statements = True
                except psycopg.Error:  # not installed, or not in shared_preload_libraries
                    pass
        yield Database(name, f"postgresql://postgres@127.0.0.1:5432/{name}", statements)
    finally:
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(postgres) -> Iterator[Database]:
    with temporary_database() as db:
        yield db


def eventually(check: Callable[[], object], timeout_s: float = 5.0, every_s: float = 0.1):
    """``check()``'s first truthy result; PostgreSQL publishes a backend's counters within ~1 s."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every_s)


def run_sampler(sampler, load: Callable[[], object], settle_s: float = 0.3) -> None:
    """Start ``sampler``, sample while ``load()`` runs in a thread and ``settle_s`` after it (for
    counters to be published), then close it."""
    async def main():
        stop = asyncio.Event()
        task = asyncio.ensure_future(sampler.run(time.time(), stop))
        try:
            await asyncio.to_thread(load)
            await asyncio.sleep(settle_s)
        finally:
            stop.set()
            await task

    sampler.start()
    try:
        asyncio.run(main())
    finally:
        sampler.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of our own on 127.0.0.1; ``restart()`` keeps its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/13"

    def client(self, **kwargs):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=13, socket_timeout=5, **kwargs)

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--loglevel", "warning"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            with contextlib.suppress(Exception), self.client() as probe:
                if probe.ping():
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    pytest.importorskip("redis")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_db(redis_server: RedisServer) -> RedisServer:
    """The module's server, running (a test may have restarted it), with its data flushed."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    with redis_server.client() as client:
        client.flushall()
        client.config_set("slowlog-log-slower-than", 10000)
        client.config_set("slowlog-max-len", 128)
        client.config_set("maxmemory", 0)
        client.config_set("maxmemory-policy", "noeviction")
    return redis_server
