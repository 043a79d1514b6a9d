"""Response framing the target server cannot produce on demand: a body delimited by the close,
204, interim 1xx responses. A scripted server in the test's own loop answers each path with fixed
bytes; ``/ok`` after each case shows the connection (or its replacement) is in step."""
from __future__ import annotations

import asyncio

import pytest

from surge.engine.clients.http import ClientContext, HttpClient
from surge.metrics.recorder import Recorder

from .helpers import drive

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
SCRIPT = {
    b"/until-close": b"HTTP/1.1 200 OK\r\n\r\nbody until the close",
    b"/no-content": b"HTTP/1.1 204 No Content\r\n\r\n",
    b"/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
    b"/continue-split": b"HTTP/1.1 100 Continue\r\n\r\n",  # the final response follows later
}
LATER = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlater"


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accepted: list) -> None:
    accepted.append(writer)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            writer.write(SCRIPT.get(path, OK))
            if path == b"/continue-split":
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(LATER)
            await writer.drain()
            if path == b"/until-close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def run_script(path: str) -> tuple:
    async def main():
        accepted: list = []
        server = await asyncio.start_server(lambda r, w: answer(r, w, accepted), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        recorder = Recorder()
        client = HttpClient(ClientContext(f"http://127.0.0.1:{port}", recorder, timeout_s=2.0))
        try:
            first = await client.get(path)
            after = await client.get("/ok")
        finally:
            await client.close()
            server.close()
            for writer in accepted:
                writer.close()
            await server.wait_closed()
        return first, after, recorder.series("GET", path), len(accepted)

    return asyncio.run(main())


@pytest.mark.parametrize("path, status, content, connections", [
    ("/until-close", 200, b"body until the close", 2),
    ("/no-content", 204, b"", 1),
    ("/continue", 200, b"final", 1),
    ("/continue-split", 200, b"later", 1),
])
def test_response_framing(path, status, content, connections):
    first, after, series, accepted = run_script(path)
    assert (first.status, first.content, first.error) == (status, content, None)
    assert series.failures == 0 and series.bytes_received == len(content)
    assert (after.status, after.content) == (200, b"ok")
    assert accepted == connections


def test_expect_continue_gets_the_final_response_not_the_interim_one(target):
    """Regression: the target answers ``Expect: 100-continue`` with ``100 Continue`` first; the
    client returned that as the response and the next request then got the 200 meant for this one."""
    async def body(client, recorder):
        resp = await client.post("/echo", json={"a": 1}, headers={"Expect": "100-continue"})
        after = await client.get("/ok")
        return resp, after

    resp, after = drive(target.url, body)
    assert resp.status == 200 and resp.json()["body"] == '{"a":1}'
    assert after.status == 200 and after.text == "ok"
