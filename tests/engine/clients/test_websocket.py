"""The WebSocket client (engine/clients/websocket.py) against real servers on loopback: round
trips timed against the server's own clock, messages counted equal to what the server saw,
drops with their close code, refused and silent handshakes, and hostile peers."""
from __future__ import annotations

import asyncio

import pytest

from surge.engine.clients.websocket import WebSocketClosed, WebSocketError, WebSocketTimeout
from surge.engine.runtime import counted

from .helpers import drive, only_error
from .ws_servers import HoldServerProcess, RawServer, WsServer


@pytest.fixture
def ws_server():
    with WsServer() as server:
        yield server


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


#: held 50 ms 30% of the time, 100 ms 40%, 200 ms 30% (cumulative 30/70/100): p50 and p95 fall
#: inside a band, not on an edge where a little jitter would flip them to the neighbouring hold
HOLDS_MS = [50] * 3 + [100] * 4 + [200] * 3


def test_round_trips_are_timed_within_1ms_plus_2pct_of_the_servers_hold():
    """The truth is the lean server's own clock: each message held from its arrival to the
    reply's write; only the kernel's loopback (and the scheduling of two processes) is left."""
    async def body(client, recorder):
        async def one(c: int):
            async with client.websocket("/", name="stream") as ws:
                for i in range(25):
                    msg = {"op": "ping", "id": i, "c": c, "ms": HOLDS_MS[(i + c * 3) % len(HOLDS_MS)]}
                    assert await ws.request(msg, match=lambda m, i=i: m["id"] == i, name="ping") == msg
        await asyncio.gather(*(one(c) for c in range(4)))
        return recorder.series("WS", "ping"), recorder.series("WS", "stream")

    with HoldServerProcess() as server:
        ping, stream = drive(server.url, body, on_uvloop=True)
        truth = server.holds_us()
    assert ping.requests == 100 and ping.failures == 0 and len(ping.latencies_us) == 100
    assert len(truth) == 100
    for q in (0.5, 0.95):
        measured, real = _pct(ping.latencies_us, q), _pct(truth, q)
        assert abs(measured - real) <= 1000 + 0.02 * real, (q, measured, real)
    assert stream.requests == 4 and stream.failures == 0 and len(stream.latencies_us) == 4  # the connects


def test_messages_and_bytes_are_counted_as_the_server_sent_and_received_them(ws_server):
    async def body(client, recorder):
        async with client.websocket("/push?n=25") as ws:
            for i in range(25):
                assert await ws.receive(timeout=5) == f"push {i}"
            await ws.send_json({"subscribe": "corrections"})
            assert await ws.receive_json(timeout=5) == {"subscribe": "corrections"}
            await ws.send(b"\x00\x01binary")
            assert await ws.receive(timeout=5) == b"\x00\x01binary"
            for i in range(8):
                await ws.send(f"m{i}")
            got = [await ws.receive(timeout=5) for _ in range(8)]
            assert got == [f"m{i}" for i in range(8)]
        return recorder.series("WS", "/push")

    series = drive(ws_server.url, body)
    assert series.messages_sent == ws_server.received["/push"] == 10
    assert series.messages_received == ws_server.sent["/push"] == 35
    assert series.bytes_sent == ws_server.bytes_received["/push"]
    assert series.requests == 1 and series.failures == 0  # a close by the scenario is no drop


def test_a_server_that_drops_every_10th_connection_is_counted_exactly_with_the_close_code(ws_server):
    async def body(client, recorder):
        outcomes = []
        for i in range(30):
            async with client.websocket("/drop", name="stream") as ws:
                reply = await ws.request(f"hello {i}", name="hello")
                outcomes.append(reply)
        return recorder.series("WS", "stream"), recorder.series("WS", "hello"), outcomes

    stream, hello, outcomes = drive(ws_server.url, body)
    assert ws_server.dropped == 3 and ws_server.connections["/drop"] == 30
    assert stream.requests == 30 and stream.failures == 3
    assert dict(stream.errors) == {("closed", "closed by the server (close code 4000 dropped on purpose)"): 3}
    # the round trips the drop cut short fail on their own series, without raising into the task
    assert outcomes.count(None) == 3 and hello.requests == 30 and hello.failures == 3
    assert set(k for k, _ in hello.errors) == {"closed"}


def test_a_request_cut_short_raises_only_when_asked(ws_server):
    async def body(client, recorder):
        for _ in range(9):
            async with client.websocket("/drop") as ws:
                await ws.request("x")
        async with client.websocket("/drop") as ws:  # the 10th: dropped
            with pytest.raises(WebSocketClosed) as info:
                await ws.request("x", raise_closed=True)
        return info.value

    exc = drive(ws_server.url, body)
    assert exc.code == 4000 and exc.reason == "dropped on purpose" and counted(exc)


def test_a_refused_handshake_is_a_connect_failure_of_kind_status(ws_server):
    async def body(client, recorder):
        with pytest.raises(WebSocketError) as info:
            async with client.websocket("/refuse", name="stream"):
                pass
        return recorder.series("WS", "stream"), info.value

    series, exc = drive(ws_server.url, body)
    assert only_error(series) == ("status", "handshake refused: HTTP 403")
    assert series.requests == 1 and len(series.latencies_us) == 1
    assert counted(exc)  # the virtual user does not count it a second time as a task exception


def test_a_handshake_never_answered_times_out_at_its_timeout():
    with RawServer("silent") as server:
        async def body(client, recorder):
            with pytest.raises(WebSocketError):
                await client.websocket("/x", name="stream", timeout=0.2)
            return recorder.series("WS", "stream")

        series = drive(server.url, body)
    assert only_error(series) == ("timeout", "no handshake response within 0.2 s")
    assert series.latencies_us == [200_000]


def test_no_listener_is_a_connect_failure(closed_port):
    async def body(client, recorder):
        with pytest.raises(WebSocketError):
            await client.websocket("/x")
        return recorder.series("WS", "/x")

    series = drive(f"http://127.0.0.1:{closed_port}", body)
    kind, message = only_error(series)
    assert kind == "connect" and f"127.0.0.1:{closed_port}" in message
    assert series.latencies_us == []


@pytest.mark.parametrize("mode, code", [("midframe", 1006), ("huge", 1009)])
def test_a_peer_that_breaks_off_mid_frame_or_sends_a_huge_frame_is_a_drop(mode, code):
    with RawServer(mode) as server:
        async def body(client, recorder):
            async with client.websocket("/x", name="stream") as ws:
                reply = await ws.request("hi", name="hi", timeout=5)
                with pytest.raises(WebSocketClosed):
                    await ws.receive(timeout=1)
                async for _ in ws:  # iteration ends at the close
                    pytest.fail("no message expected")
            return recorder.series("WS", "stream"), recorder.series("WS", "hi"), reply, ws.close_code

        stream, hi, reply, close_code = drive(server.url, body)
    assert reply is None and close_code == code
    kind, message = only_error(stream)
    assert kind == "closed" and f"close code {code}" in message
    assert only_error(hi)[0] == "closed"


def test_accepted_then_closed_at_once_counts_the_connect_and_the_drop():
    with RawServer("accept_close") as server:
        async def body(client, recorder):
            with pytest.raises(WebSocketClosed):
                # the close comes with the 101 or just after it: at the connect, or at the first read
                async with client.websocket("/x", name="stream") as ws:
                    await ws.receive(timeout=5)
            return recorder.series("WS", "stream")

        series = drive(server.url, body)
    assert series.requests == 1 and only_error(series) == ("closed", "closed by the server (close code 4001)")


def test_a_request_without_reply_is_recorded_at_its_timeout(ws_server):
    async def body(client, recorder):
        async with client.websocket("/delay?ms=400") as ws:
            reply = await ws.request("slow", name="slow", timeout=0.1)
            with pytest.raises(WebSocketTimeout) as info:
                await ws.receive(timeout=0.05)  # the late reply is not here yet either
            assert await ws.receive(timeout=2) == "slow"  # late: kept for receive()
        return recorder.series("WS", "slow"), reply, info.value

    series, reply, exc = drive(ws_server.url, body)
    assert reply is None and series.latencies_us == [100_000]
    assert only_error(series) == ("timeout", "no reply within 0.1 s")
    assert not counted(exc)  # a receive timeout is the task's to handle (uncaught: a task exception)


def test_a_websocket_the_scenario_never_closes_is_closed_at_the_users_stop(ws_server):
    async def body(client, recorder):
        ws = await client.websocket("/echo")
        await ws.send("left open")
        assert await ws.receive(timeout=5) == "left open"
        await client.close()  # what the virtual user does when it stops
        for _ in range(100):  # the server sees the close
            if not ws_server.loop.is_running() or ws.close_code is not None:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(WebSocketClosed) as info:
            await ws.send("after stop")
        return recorder.series("WS", "/echo"), ws, info.value

    series, ws, exc = drive(ws_server.url, body)
    assert ws.close_code == 1001 and series.failures == 0  # not a drop
    assert not counted(exc)  # used after its close: the scenario's own mistake


def test_headers_of_the_client_and_the_call_go_with_the_handshake(ws_server):
    seen = {}

    def gate(connection, request):
        seen.update((k.lower(), v) for k, v in request.headers.raw_items())

    ws_server.on_request = gate

    async def body(client, recorder):
        client.headers["Authorization"] = "Bearer sekret"
        async with client.websocket("/echo", headers={"X-Trace": "7"}) as ws:
            await ws.send("x")
            await ws.receive(timeout=5)

    drive(ws_server.url, body)
    assert seen["authorization"] == "Bearer sekret" and seen["x-trace"] == "7"
    assert "accept-encoding" not in seen


def test_failed_connects_are_not_kept_by_the_client(closed_port):
    async def body(client, recorder):
        for _ in range(5):
            with pytest.raises(WebSocketError):
                await client.websocket("/x")
        return len(client._sockets or ())

    assert drive(f"http://127.0.0.1:{closed_port}", body) == 0


def test_without_the_extra_the_call_says_what_to_install(monkeypatch, ws_server):
    import surge.engine.clients.websocket as module

    monkeypatch.setattr(module, "ClientProtocol", None)

    async def body(client, recorder):
        with pytest.raises(ImportError, match=r"pip install 'surge\[ws\]'"):
            await client.websocket("/echo")

    drive(ws_server.url, body)


def test_on_request_hooks_see_each_connect_and_round_trip_but_not_a_drop(ws_server):
    from surge.engine.hooks import RunEvents

    events, seen = RunEvents("worker", lambda message: None), []
    events.on_request(seen.append)

    async def body(client, recorder):
        async with client.websocket("/echo", name="chat") as ws:
            for i in range(5):
                assert await ws.request(f"m{i}", name="echo") == f"m{i}"
            assert await ws.request("x", match=lambda m: False, name="never", timeout=0.05) is None
        with pytest.raises(WebSocketError):
            await client.websocket("/refuse")
        for _ in range(10):  # the server drops every 10th connection at its first message
            async with client.websocket("/drop") as ws:
                await ws.request("x", name="d")
        return recorder.series("WS", "echo"), recorder.series("WS", "/drop")

    echo, drop = drive(ws_server.url, body, client_class=events.client_class())
    got = [(e.method, e.name, e.status, e.error, e.latency_ms is not None) for e in seen]
    assert got[:8] == [("WS", "chat", 101, None, True)] + [("WS", "echo", 0, None, True)] * 5 + [
        ("WS", "never", 0, "timeout", True), ("WS", "/refuse", 403, "status", True)]
    assert echo.requests == 5 and [round(e.latency_ms * 1000) for e in seen[1:6]] == echo.latencies_us
    # 10 connects and 10 round trips, the last cut short by the drop; the drop itself is a
    # failure of the connection's series, not a request: no event of its own
    assert got[8:] == [("WS", "/drop", 101, None, True), ("WS", "d", 0, None, True)] * 9 + [
        ("WS", "/drop", 101, None, True), ("WS", "d", 0, "closed", False)]
    assert drop.requests == 10 and drop.failures == 1
