"""Failure kinds against the real target: each counted once, with its kind, never raised into the
task; ``requests + cancelled`` equals what the server received (DESIGN.md: Measurement semantics)."""
from __future__ import annotations

import asyncio
import time

import pytest

from surge.engine.clients.errors import CONNECT, PROTOCOL, RESET, STATUS, TIMEOUT

from .helpers import drive, only_error

# path, request options, kind, a word the message must contain, timed?
FAULTS = [
    ("/reset", {}, RESET, "reset", False),
    ("/garbage", {}, PROTOCOL, "invalid HTTP", False),
    ("/hang", {"timeout": 0.3}, TIMEOUT, "0.3s", True),
    ("/status/503", {}, STATUS, "503", True),
]


@pytest.mark.parametrize("path, options, kind, word, timed", FAULTS, ids=[f[2] for f in FAULTS])
def test_failure_is_counted_once_with_its_kind_and_never_raises(target, path, options, kind, word, timed):
    async def body(client, recorder):
        resp = await client.get(path, **options)
        after = await client.get("/ok")  # the client goes on: a fresh connection where needed
        return resp, after, recorder.series("GET", path)

    resp, after, series = drive(target.url, body)
    assert resp.failed and not resp.ok
    assert series.requests == 1 and series.cancelled == 0
    got_kind, message = only_error(series)
    assert got_kind == kind and word in message
    if kind == STATUS:
        assert resp.status == 503 and resp.error is None
    else:
        assert resp.status == 0 and resp.error.startswith(f"{kind}: ") and word in resp.error
    assert len(series.latencies_us) == (1 if timed else 0)  # connect/reset/protocol: not timed
    assert after.ok and after.text == "ok"
    stats = target.stats()
    assert stats["requests"][f"GET {path.partition('?')[0]}"] == series.requests + series.cancelled
    assert stats["connections"]["accepted"] == (1 if kind == STATUS else 2)


@pytest.mark.parametrize("path, options, kind, word, timed", FAULTS, ids=[f[2] for f in FAULTS])
def test_a_failed_request_is_never_resent(target, path, options, kind, word, timed):
    async def body(client, recorder):
        for _ in range(3):
            await client.get(path, **options)
        return recorder.series("GET", path)

    series = drive(target.url, body)
    assert series.requests == 3 and series.failures == 3 and series.cancelled == 0
    assert target.stats()["requests"] == {f"GET {path}": series.requests + series.cancelled}


def test_connection_refused_is_a_connect_failure(target, closed_port):
    async def body(client, recorder):
        started = time.perf_counter()
        resp = await client.get("/ok")
        return resp, recorder.series("GET", "/ok"), time.perf_counter() - started

    resp, series, elapsed_s = drive(f"http://127.0.0.1:{closed_port}", body)
    assert resp.status == 0 and resp.failed and resp.error.startswith("connect: ")
    kind, message = only_error(series)
    assert kind == CONNECT and f"127.0.0.1:{closed_port}" in message
    assert series.requests == 1 and series.latencies_us == []
    assert elapsed_s < 1.0


def test_timeout_is_recorded_at_exactly_the_timeout(target):
    async def body(client, recorder):
        await client.get("/ok")  # connected already: the timeout covers the request alone
        started = time.perf_counter()
        resp = await client.get("/hang", timeout=0.3)
        return resp, recorder.series("GET", "/hang"), time.perf_counter() - started

    resp, series, elapsed_s = drive(target.url, body)
    assert only_error(series)[0] == TIMEOUT
    assert series.latencies_us == [300_000]
    assert 0.29 <= elapsed_s < 0.5
    assert resp.elapsed_ms == 0.0 and resp.error == "timeout: no response within 0.3s"


def test_context_timeout_applies_when_the_request_sets_none(target):
    async def body(client, recorder):
        await client.get("/hang")
        return recorder.series("GET", "/hang")

    series = drive(target.url, body, timeout_s=0.2)
    assert only_error(series)[0] == TIMEOUT and series.latencies_us == [200_000]


def test_expected_error_status_is_not_a_failure(target):
    async def body(client, recorder):
        ok = await client.get("/status/404", expect_status=404)
        other = await client.get("/status/200", expect_status=(201, 204))
        return ok, other, recorder

    ok, other, recorder = drive(target.url, body)
    assert ok.status == 404 and not ok.failed
    assert recorder.series("GET", "/status/404").failures == 0
    assert len(recorder.series("GET", "/status/404").latencies_us) == 1
    kind, message = only_error(recorder.series("GET", "/status/200"))
    assert kind == STATUS and "200" in message and other.failed


def test_connection_close_response_succeeds_and_the_next_request_reconnects(target):
    async def body(client, recorder):
        closing = await client.get("/close")
        after = await client.get("/ok")
        return closing, after, recorder

    closing, after, recorder = drive(target.url, body)
    assert closing.ok and closing.headers["connection"] == "close"
    assert after.ok
    assert recorder.series("GET", "/close").failures == 0
    assert recorder.series("GET", "/ok").failures == 0
    stats = target.stats()
    assert stats["connections"]["accepted"] == 2
    assert stats["outcomes"]["close"] == 1
    assert stats["requests"] == {"GET /close": 1, "GET /ok": 1}


def test_cancelled_request_is_counted_as_cancelled_not_failed(target):
    async def body(client, recorder):
        task = asyncio.create_task(client.get("/hang"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        after = await client.get("/ok")  # the aborted connection is not reused
        return after, recorder.series("GET", "/hang")

    after, series = drive(target.url, body)
    assert series.cancelled == 1 and series.requests == 0 and series.failures == 0
    assert series.latencies_us == []
    assert after.ok
    stats = target.stats()
    assert stats["requests"]["GET /hang"] == series.requests + series.cancelled == 1
    assert stats["connections"]["accepted"] == 2


def test_a_request_cancelled_while_connecting_is_not_counted(target):
    """Cancelled before anything was sent (the connect had not finished): the server saw nothing,
    so it is neither a request nor ``cancelled`` (DESIGN: requests + cancelled = what the server got)."""
    import asyncio
    import socket

    from surge.engine.clients.http import ClientContext, HttpClient
    from surge.metrics.recorder import Recorder

    # a listening socket that never accepts, with a full backlog, keeps connect() pending
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(0)
    port = blocker.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue so further SYNs go unanswered
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)

        async def main():
            recorder = Recorder()
            client = HttpClient(ClientContext(f"http://127.0.0.1:{port}", recorder, connect_timeout_s=5))
            task = asyncio.ensure_future(client.get("/ok"))
            await asyncio.sleep(0.2)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            return recorder.series("GET", "/ok")

        series = asyncio.run(main())
    finally:
        for f in fillers:
            f.close()
        blocker.close()
    assert (series.requests, series.cancelled, series.failures) == (0, 0, 0)
