"""The Redis monitor against a private redis-server: ops/s under known traffic, the keyspace hit
ratio of a known mix, clients, memory and evictions, the slowlog, a killed connection and a
restarted server, secrets and bad URLs."""
from __future__ import annotations

import sys
import threading
import time

import pytest

from support.databases import eventually, free_port, redis_db, redis_server, run_sampler  # noqa: F401
from surge.model.errors import ConfigError
from surge.model.events import MonitorSample
from surge.monitors.base import MonitorUnavailable, Sampler
from surge.monitors.counters import counter_delta
from surge.monitors.redis import CLIENT_NAME, RedisMonitor

SECTION = ("clients_max", "blocked_clients_max", "ops_per_s", "used_memory_mb_max", "hit_ratio", "evictions",
           "slowlog_entries")
SECRET = "SECRET123"


def take(monitor: RedisMonitor, elapsed_s: float) -> MonitorSample:
    return MonitorSample("redis", time.time(), elapsed_s, monitor.sample())


def started(url: str) -> RedisMonitor:
    monitor = RedisMonitor(url)
    monitor.start()
    return monitor


def test_ops_per_s_under_known_traffic_is_the_truth_within_20_percent(redis_db):
    sampler = Sampler([RedisMonitor(redis_db.url)], 0.5)
    record = sampler.records["redis"]
    sent = []

    def traffic(rate_per_s: float = 2000, duration_s: float = 3.0) -> None:
        """GET/SET paced at ``rate_per_s`` (a bounded loop), from the first sample on."""
        assert eventually(lambda: record.samples, timeout_s=2)
        with redis_db.client() as client:
            n, t0 = 0, time.monotonic()
            while (elapsed := time.monotonic() - t0) < duration_s:
                while n < elapsed * rate_per_s:
                    client.set(f"k{n % 100}", n) if n % 2 else client.get(f"k{n % 100}")
                    n += 1
                time.sleep(0.001)
            sent.append(n)

    run_sampler(sampler, traffic, settle_s=0.2)
    rows = record.samples
    span_s = rows[-1].elapsed_s - rows[0].elapsed_s
    truth = sent[0] / span_s
    found = record.section()["ops_per_s"]
    print(f"\nredis ops/s: found {found}, truth {truth:.1f} ({sent[0]} commands over {span_s:.2f}s)")
    assert sent[0] >= 5000  # the traffic was real (about 2,000/s for 3 s)
    assert abs(found - truth) <= 0.2 * truth
    during = [r.values["ops_per_s"] for r in rows[2:-2]]  # intervals wholly inside the traffic
    assert during and all(1000 <= v <= 3000 for v in during), during


def test_the_keyspace_hit_ratio_matches_a_known_mix(redis_db):
    monitor = started(redis_db.url)
    with redis_db.client() as client:
        for i in range(100):
            client.set(f"k{i}", i)
        first = take(monitor, 0.0)
        for i in range(300):
            client.get(f"k{i % 100}")
        for i in range(100):
            client.get(f"missing{i}")
        last = take(monitor, 1.0)
    monitor.close()
    section = monitor.summarise([first, last])
    assert set(SECTION) <= set(section)
    assert section["hit_ratio"] == 0.75 and last.values["hit_ratio"] == 0.75
    assert section["keyspace_hits"] == 300 and section["keyspace_misses"] == 100


def test_clients_blocked_clients_memory_and_evictions(redis_db):
    monitor = started(redis_db.url)
    rows = [take(monitor, 0.0)]
    clients = [redis_db.client() for _ in range(5)]
    try:
        for client in clients:
            client.ping()
        blocked = threading.Thread(target=lambda: clients[0].blpop(["nothing"], timeout=1))
        blocked.start()
        assert eventually(lambda: (r := monitor.sample())["blocked_clients"] == 1 and r, timeout_s=2)
        rows.append(take(monitor, 0.5))
        blocked.join()
        clients[1].set("big", b"x" * 3_000_000)
        rows.append(take(monitor, 1.0))
        clients[1].config_set("maxmemory-policy", "allkeys-lru")
        clients[1].config_set("maxmemory", rows[-1].values["used_memory_bytes"] + 1_000_000)
        for i in range(20):
            clients[1].set(f"fill{i}", b"y" * 200_000)
        rows.append(take(monitor, 1.5))
    finally:
        for client in clients:
            client.close()
        monitor.close()
    section = monitor.summarise(rows)
    assert rows[1].values["connected_clients"] == 5  # the monitor's own connection is not counted
    assert section["clients_max"] == 5 and section["blocked_clients_max"] == 1
    assert section["used_memory_mb_max"] >= rows[0].values["used_memory_bytes"] / 1e6 + 3
    assert section["evictions"] > 0 and section["maxmemory_mb"] > 0 and 0 < section["used_memory_pct_max"] <= 110


def test_slow_commands_of_the_run_are_counted_and_the_monitors_own_are_not(redis_db):
    with redis_db.client() as client:
        client.set("before", 1)
        client.config_set("slowlog-log-slower-than", 0)  # from here every command is logged as slow
        try:
            monitor = started(redis_db.url)
            client.set("between start and the first sample", 1)
            first = take(monitor, 0.0)
            for i in range(10):
                client.set(f"slow{i}", i)
            second = take(monitor, 1.0)
            client.config_set("slowlog-max-len", 5)  # 20 more than the log keeps: counted from the ids
            for i in range(20):
                client.set(f"slower{i}", i)
            third = take(monitor, 2.0)
        finally:
            client.config_set("slowlog-log-slower-than", 10000)
            client.config_set("slowlog-max-len", 128)
    monitor.close()
    assert monitor.summarise([first, second])["slowlog_entries"] == 10
    assert monitor.summarise([second, third])["slowlog_entries"] in (21, 22)  # 20, and the CONFIG SET, ±1 own
    assert second.values["slowlog_max_us"] >= 0


def test_a_user_refused_the_slowlog_gets_a_warning_and_the_rest(redis_db):
    with redis_db.client() as client:
        client.acl_setuser("limited", enabled=True, passwords=["+limitedpw1"], keys=["*"],
                           commands=["+@all", "-slowlog"])
    try:
        monitor = started(redis_db.url.replace("redis://", "redis://limited:limitedpw1@"))
        rows = [take(monitor, 0.0), take(monitor, 1.0)]
        monitor.close()
    finally:
        with redis_db.client() as client:
            client.acl_deluser("limited")
    assert len(monitor.warnings) == 1 and "SLOWLOG GET is refused" in monitor.warnings[0]
    assert "limitedpw1" not in monitor.warnings[0]
    assert rows[1].values["slowlog_entries"] is None and rows[1].values["total_commands_processed"] > 0
    assert monitor.summarise(rows)["slowlog_entries"] is None


def client_id(redis_db) -> int:
    with redis_db.client() as client:
        return next(c["id"] for c in client.client_list() if c.get("name") == CLIENT_NAME)


def test_a_killed_connection_is_replaced_and_sampling_goes_on(redis_db):
    monitor = started(redis_db.url)
    rows = [take(monitor, 0.0)]
    killed = client_id(redis_db)
    with redis_db.client() as client:
        assert client.client_kill_filter(_id=killed) == 1
    rows += [take(monitor, 1.0), take(monitor, 2.0)]  # redis-py reconnects before it sends: nothing is lost
    assert client_id(redis_db) != killed
    monitor.close()
    assert all(r.values["total_commands_processed"] for r in rows)


def test_a_restarted_server_is_a_gap_then_samples_resume_with_its_counters_from_zero(redis_db):
    notes = []
    sampler = Sampler([RedisMonitor(redis_db.url)], 0.15, notify=notes.append)
    record = sampler.records["redis"]

    def restart():
        assert eventually(lambda: len(record.samples) >= 2, timeout_s=2)
        with redis_db.client() as client:
            for i in range(50):
                client.set(f"a{i}", i)
        assert eventually(lambda: len(record.samples) >= 4, timeout_s=2)
        redis_db.stop()
        assert eventually(lambda: record.gaps >= 1, timeout_s=2)
        redis_db.start()
        with redis_db.client() as client:
            for i in range(30):
                client.set(f"b{i}", i)
        seen = len(record.samples)
        assert eventually(lambda: len(record.samples) >= seen + 2, timeout_s=2)

    run_sampler(sampler, restart, settle_s=0)
    rows = record.samples
    assert record.gaps >= 1 and record.lost_at_s is None
    assert len(notes) == 1 and "the connection to Redis was lost" in notes[0] and "gap" in notes[0]
    totals = [r.values["total_commands_processed"] for r in rows]
    assert any(b < a for a, b in zip(totals, totals[1:]))  # the restart reset the counters...
    commands = counter_delta(rows, "total_commands_processed") - counter_delta(rows, "monitor_commands")
    assert 80 <= commands <= 95  # ...and 50 + 30 are still counted (with a few connection handshakes)
    assert record.section()["ops_per_s"] > 0


def test_a_password_never_shows(redis_db):
    with redis_db.client() as client:
        client.config_set("requirepass", SECRET)
    try:
        url = redis_db.url.replace("redis://", f"redis://:{SECRET}@")
        monitor = started(url)
        rows = [take(monitor, 0.0), take(monitor, 1.0)]
        monitor.close()
        texts = [repr(rows), repr(monitor.summarise(rows)), *monitor.warnings]
        for bad in (url.replace(SECRET, "WRONGPASS7"), url.replace(f":{redis_db.port}/", ":1/")):
            with pytest.raises(MonitorUnavailable) as error:
                started(bad)
            texts.append(str(error.value))
            assert "\n" not in texts[-1] and "is unavailable" in texts[-1]
    finally:
        with redis_db.client(password=SECRET) as client:
            client.config_set("requirepass", "")
    assert "redis://:***@127.0.0.1:1/13 is unavailable: Error 111 connecting to 127.0.0.1:1" in texts[-1]
    for text in texts:
        assert SECRET not in text and "WRONGPASS7" not in text, text


@pytest.mark.parametrize("url, expected", [
    (f"redis://:{SECRET}@127.0.0.1:99999/0", "Port out of range"),
    (f"http://:{SECRET}@127.0.0.1/0", "should start with redis:// or rediss:// or unix://"),
    ("redis://127.0.0.1/abc", "the path should be a database number"),
])
def test_a_malformed_url_is_a_configuration_error(url, expected):
    with pytest.raises(ConfigError, match=expected) as error:
        RedisMonitor(url).start()
    assert SECRET not in str(error.value) and error.value.exit_code == 2


def test_without_redis_py_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MonitorUnavailable, match=r"pip install 'surge\[redis\]'"):
        RedisMonitor(f"redis://127.0.0.1:{free_port()}/0").start()
