"""The Socket.IO client (engine/clients/socketio.py) against a real python-socketio server on
loopback: connects, emits and ack round trips counted as the server saw them and timed against
its own clock; a server-side disconnect counted as a drop; a missing server as a connect failure."""
from __future__ import annotations

import asyncio

import pytest

from surge.engine.clients.websocket import WebSocketError

from .helpers import drive, only_error
from .ws_servers import SioServer


def test_connect_emit_and_ack_round_trips_are_counted_and_timed():
    got_news = []
    with SioServer(delay_s=0.01) as server:
        async def body(client, recorder):
            sio = await client.socketio("/socket.io", name="live")
            sio.on("news", lambda data: got_news.append(data["i"]))
            for i in range(20):
                assert await sio.call("ack", i, name="ack") == {"echo": i}
            await sio.emit("news", 5)
            for _ in range(200):
                if len(got_news) == 5:
                    break
                await asyncio.sleep(0.01)
            await sio.disconnect()
            return recorder.series("SIO", "live"), recorder.series("SIO", "ack")

        live, ack = drive(server.url, body)
        holds = sorted(server.holds_us)
    assert server.connects == 1 and live.requests == 1 and live.failures == 0 and len(live.latencies_us) == 1
    assert server.received == {"ack": 20, "news": 1}
    assert ack.requests == 20 and ack.failures == 0
    lat = sorted(ack.latencies_us)
    assert all(a >= h for a, h in zip(lat, holds))  # a round trip holds the server's time and more
    # the server runs in this process (its thread shares the interpreter lock): a loose bound
    assert lat[10] - holds[10] < 10_000
    assert got_news == [0, 1, 2, 3, 4]
    assert live.messages_sent == 21 and live.messages_received == 20 + server.emitted  # acks + news


def test_a_disconnect_by_the_server_is_a_drop():
    with SioServer() as server:
        async def body(client, recorder):
            sio = await client.socketio(name="live")
            await sio.emit("kick")
            for _ in range(200):
                if not sio.connected:
                    break
                await asyncio.sleep(0.01)
            return recorder.series("SIO", "live"), sio.connected

        live, connected = drive(server.url, body)
    assert not connected and live.requests == 1
    kind, message = only_error(live)
    assert kind == "closed" and message.startswith("disconnected by the server")


def test_no_server_is_a_connect_failure(closed_port):
    async def body(client, recorder):
        with pytest.raises(WebSocketError):
            await client.socketio(name="live", timeout=2)
        return recorder.series("SIO", "live")

    live = drive(f"http://127.0.0.1:{closed_port}", body)
    assert only_error(live)[0] == "connect" and live.requests == 1


def test_on_request_hooks_see_the_connect_and_each_ack_round_trip():
    from surge.engine.hooks import RunEvents

    events, seen = RunEvents("worker", lambda message: None), []
    events.on_request(seen.append)
    with SioServer() as server:
        async def body(client, recorder):
            sio = await client.socketio(name="live")
            for i in range(3):
                assert await sio.call("ack", i, name="ack") == {"echo": i}
            await sio.disconnect()
            return recorder.series("SIO", "ack")

        ack = drive(server.url, body, client_class=events.client_class())
    assert [(e.method, e.name, e.error) for e in seen] == [("SIO", "live", None)] + [("SIO", "ack", None)] * 3
    assert [round(e.latency_ms * 1000) for e in seen[1:]] == ack.latencies_us
