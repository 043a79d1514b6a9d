"""The Redis monitor (``redis``): clients, commands per second, memory, keyspace hits, evictions
and the slowlog entries that appeared during the run.

Each sample is one round trip (``INFO`` and ``SLOWLOG GET`` pipelined) on the monitor's own
connection, named ``surge-monitor`` so that its entries are told apart in the slowlog. What
Redis reports is server-wide, whatever database the URL names. Rows keep the raw cumulative
counters (``total_commands_processed``, ``keyspace_hits``...) so the summary can be recomputed;
the monitor's own commands are counted (``monitor_commands``) and taken off the rates, and its
connection off ``connected_clients``.

The slowlog is followed by entry id: an entry is new when its id is above the last one seen
(a restarted server, a new ``run_id``, starts over). At most :data:`SLOWLOG_FETCH` entries are
read per sample; entries that fell out of the log before being read are still counted, from
the gap in the ids. A connection lost mid-run is a gap (:class:`SourceLost`); the next sample
reconnects (redis-py also replaces a connection the server closed while it was idle, before
using it: such a loss costs no sample).
"""
from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from .base import Row, Sample, SourceLost
from .counters import Deltas, as_count, column_max, counter_delta, counter_rate, net, ratio, rounded
from .sources import Source, close_quietly, import_driver

CLIENT_NAME = "surge-monitor"
SLOWLOG_FETCH = 128  # Redis keeps 128 entries by default (slowlog-max-len)
_MB = 1e6

_COUNTERS = ("total_commands_processed", "keyspace_hits", "keyspace_misses", "evicted_keys", "expired_keys",
             "rejected_connections")
_DB_PATH = re.compile(r"/?(\d+)?/?")


class RedisMonitor:
    """Watches the Redis server of ``url`` (``redis://``, ``rediss://`` or ``unix://``).

    A malformed URL raises :class:`~surge.model.errors.ConfigError` here. ``warnings`` lists what
    the URL's user may not read (``SLOWLOG`` refused by an ACL: no slowlog counts, the rest goes
    on); read it after :meth:`start`.
    """

    name = "redis"
    columns = ("connected_clients", "blocked_clients", "used_memory_bytes", "maxmemory_bytes", "ops_per_s",
               "hit_ratio", *_COUNTERS, "slowlog_entries", "slowlog_max_us", "monitor_commands")

    def __init__(self, url: str, *, timeout_s: float = 2.0) -> None:
        self.source = Source(url, what="Redis", schemes=("redis", "rediss", "unix"))
        if self.source.parts.scheme != "unix" and not _DB_PATH.fullmatch(self.source.parts.path):
            raise self.source.malformed(f"the path should be a database number (/0), not {self.source.parts.path!r}")
        self.timeout_s = timeout_s
        self.warnings: list[str] = []
        self._redis: Any = None
        self._client: Any = None
        self._sections: tuple[str, ...] = ()
        self._run_id: str | None = None
        self._slowlog = True
        self._last_id = -1
        self._slowlog_entries = 0
        self._commands = 0
        self._deltas = Deltas()

    def start(self) -> None:
        redis = self._redis = import_driver("redis", extra="redis", what="Redis")
        try:
            self._client = redis.Redis.from_url(
                self.source.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s,
                client_name=CLIENT_NAME,
                retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0))
        except ValueError as exc:
            raise self.source.malformed(str(exc)) from None
        try:
            server = self._client.info("server")
            self._commands += 1
            version = tuple(int(p) for p in str(server.get("redis_version", "0")).split(".")[:2] if p.isdigit())
            # Redis 7 takes several sections at once; before it, the default INFO holds them all
            self._sections = ("server", "clients", "memory", "stats") if version >= (7, 0) else ()
            self._run_id = server.get("run_id")
            self._last_id = self._newest_slowlog_id()
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
            self.close()
            raise self.source.unavailable(str(exc) or type(exc).__name__) from None

    def _newest_slowlog_id(self) -> int:
        try:
            entries = self._client.slowlog_get(1)
            self._commands += 1
        except self._redis.ResponseError as exc:  # NOPERM under an ACL: the rest goes on
            self._slowlog = False
            self.warnings.append(f"monitor redis: SLOWLOG GET is refused ({self.source.scrub(str(exc))}); "
                                 "slowlog entries are not counted")
            return -1
        return entries[0]["id"] if entries else -1

    def sample(self) -> Row:
        redis = self._redis
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.info(*self._sections)
            if self._slowlog:
                pipe.slowlog_get(SLOWLOG_FETCH)
            replies = pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
            self._client.connection_pool.disconnect()  # the next sample reconnects
            raise SourceLost(f"the connection to Redis was lost ({self.source.scrub(str(exc))})") from None
        info, entries = replies[0], (replies[1] if self._slowlog else None)
        counted, self._commands = self._commands, self._commands + len(replies)  # this INFO counted those before it
        now = time.monotonic()
        if info.get("run_id") != self._run_id:  # restarted: its slowlog ids start over
            self._run_id, self._last_id = info.get("run_id"), -1
        row: dict[str, Any] = {
            "connected_clients": max(0, int(info.get("connected_clients", 1)) - 1),  # not the monitor's own
            "blocked_clients": info.get("blocked_clients"),
            "used_memory_bytes": info.get("used_memory"),
            "maxmemory_bytes": info.get("maxmemory"),
            **{key: info.get(key) for key in _COUNTERS},
        }
        row["slowlog_max_us"] = None if entries is None else self._follow_slowlog(entries)
        row["slowlog_entries"] = self._slowlog_entries if self._slowlog else None
        row["monitor_commands"] = counted
        rates = self._deltas.rates({k: row[k] for k in ("total_commands_processed", "monitor_commands",
                                                        "keyspace_hits", "keyspace_misses")}, now)
        row["ops_per_s"] = rounded(net(rates["total_commands_processed"], rates["monitor_commands"]), 1)
        row["hit_ratio"] = rounded(ratio(rates["keyspace_hits"], rates["keyspace_misses"]), 4)
        return row

    def _follow_slowlog(self, entries: list[dict[str, Any]]) -> int | None:
        """Count the entries logged since the last sample (not the monitor's own); the longest of them, µs."""
        new = [e for e in entries if e["id"] > self._last_id]
        if not new:
            return None
        oldest, newest = min(e["id"] for e in new), max(e["id"] for e in new)
        unread = oldest - self._last_id - 1  # fell out of the log before this read (ids are consecutive)
        theirs = [e["duration"] for e in new if _name(e.get("client_name")) != CLIENT_NAME]
        self._slowlog_entries += len(theirs) + unread
        self._last_id = newest
        return max(theirs) if theirs else None

    def summarise(self, rows: Sequence[Sample]) -> dict[str, Any]:
        used_max, limit = column_max(rows, "used_memory_bytes"), column_max(rows, "maxmemory_bytes")
        hits, misses = counter_delta(rows, "keyspace_hits"), counter_delta(rows, "keyspace_misses")
        slowest = column_max(rows, "slowlog_max_us")
        return {
            "clients_max": column_max(rows, "connected_clients"),
            "blocked_clients_max": column_max(rows, "blocked_clients"),
            "ops_per_s": rounded(counter_rate(rows, "total_commands_processed", minus="monitor_commands"), 1),
            "used_memory_mb_max": rounded(None if used_max is None else used_max / _MB, 3),
            "maxmemory_mb": rounded(limit / _MB, 3) if limit else None,
            "used_memory_pct_max": rounded(100.0 * used_max / limit, 2) if limit and used_max is not None else None,
            "hit_ratio": rounded(ratio(hits, misses), 4),
            "keyspace_hits": as_count(hits),
            "keyspace_misses": as_count(misses),
            "evictions": as_count(counter_delta(rows, "evicted_keys")),
            "expired_keys": as_count(counter_delta(rows, "expired_keys")),
            "rejected_connections": as_count(counter_delta(rows, "rejected_connections")),
            "slowlog_entries": as_count(counter_delta(rows, "slowlog_entries")),
            "slowlog_max_ms": rounded(None if slowest is None else slowest / 1000.0, 3),
        }

    def close(self) -> None:
        client, self._client = self._client, None
        close_quietly(client)


def _name(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
