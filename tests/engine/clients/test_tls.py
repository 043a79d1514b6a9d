"""https: certificate verification on by default, ``insecure=True`` skips it; keep-alive over TLS.

A self-signed certificate is made with ``openssl`` into ``tmp_path`` and served by a tiny
keep-alive HTTP server on 127.0.0.1, running in the test's own event loop.
"""
from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess

import pytest

from surge.engine.clients.errors import CONNECT
from surge.engine.clients.http import ClientContext, HttpClient
from surge.metrics.recorder import Recorder

from .helpers import only_error

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl on PATH")

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@pytest.fixture
def server_tls(tmp_path) -> ssl.SSLContext:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accepted: list) -> None:
    """Answer ``200 ok`` to every request on the connection until the client goes."""
    accepted.append(writer)
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")  # the client's requests here carry no body
            writer.write(OK)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def with_tls_server(server_tls, scenario, **options):
    """Start the server, run ``scenario(client, recorder)``, stop both; returns (result, accepted)."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: None)  # the failed handshake is expected
    accepted: list = []
    server = await asyncio.start_server(
        lambda r, w: serve_ok(r, w, accepted), "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    recorder = Recorder()
    client = HttpClient(ClientContext(f"https://127.0.0.1:{port}", recorder, timeout_s=5.0, **options))
    try:
        return await scenario(client, recorder), len(accepted)
    finally:
        await client.close()
        server.close()
        for writer in accepted:
            writer.close()
        await server.wait_closed()


def test_self_signed_certificate_fails_verification_as_a_connect_failure(server_tls):
    async def scenario(client, recorder):
        return await client.get("/"), recorder.series("GET", "/")

    (resp, series), _ = asyncio.run(with_tls_server(server_tls, scenario))
    assert resp.status == 0 and resp.failed and resp.error.startswith("connect: ")
    kind, message = only_error(series)
    assert kind == CONNECT
    assert "certificate" in message.lower() and "verif" in message.lower(), message
    assert series.latencies_us == []


def test_insecure_accepts_the_certificate_and_keeps_the_connection_alive(server_tls):
    async def scenario(client, recorder):
        first = await client.get("/")
        second = await client.get("/again")
        return first, second, recorder

    (first, second, recorder), accepted = asyncio.run(
        with_tls_server(server_tls, scenario, insecure=True))
    assert first.status == 200 and first.text == "ok" and second.text == "ok"
    assert recorder.series("GET", "/").failures == 0
    assert recorder.series("GET", "/again").failures == 0
    assert accepted == 1
