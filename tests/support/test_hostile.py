"""Self-tests of the hostile server: each mode misbehaves as documented and counts what it read.

Only the standard library talks to it here, so a failure points at the server, not at surge.
"""
from __future__ import annotations

import gzip
import http.client
import json
import socket
import time

import pytest

from support.hostile import PAYLOAD, HostileServer


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


def request(port: int, path: str = "/") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def test_rst_resets_every_connection_and_reads_nothing(hostile):
    hostile.reset()
    port = hostile.ports["rst"]
    with pytest.raises(ConnectionResetError):  # often in connect() already, on loopback
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            time.sleep(0.05)
            sock.sendall(request(port))
            sock.recv(100)
    assert hostile.stats("rst") == {"accepted": 1, "requests": 0, "bytes_received": 0, "paths": {}}


def test_close_answers_one_request_per_connection_without_saying_so(hostile):
    hostile.reset()
    port = hostile.ports["close"]
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(request(port, "/a"))
        data = b""
        while chunk := sock.recv(1000):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nok")
    assert b"connection:" not in data.lower()  # it closed anyway
    assert hostile.stats("close")["requests"] == 1 and hostile.stats("close")["paths"] == {"/a": 1}


def test_hang_reads_and_never_answers(hostile):
    hostile.reset()
    port = hostile.ports["hang"]
    with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
        sock.sendall(request(port))
        with pytest.raises(socket.timeout):
            sock.recv(100)
    assert hostile.stats("hang")["requests"] == 1


@pytest.mark.parametrize("query", ["", "?chunked=1"])
def test_encoded_sends_the_payload_gzipped_on_keep_alive(hostile, query):
    hostile.reset()
    conn = http.client.HTTPConnection("127.0.0.1", hostile.ports["encoded"], timeout=2)
    try:
        for _ in range(2):
            conn.request("GET", "/gzip" + query)
            resp = conn.getresponse()
            assert resp.headers["Content-Encoding"] == "gzip"
            assert json.loads(gzip.decompress(resp.read())) == PAYLOAD
    finally:
        conn.close()
    stats = hostile.stats("encoded")
    assert (stats["accepted"], stats["requests"], stats["paths"]) == (1, 2, {"/gzip": 2})
