"""Self-tests of the test target: each behaviour does what it says and is counted.

Only the standard library talks to the server here (http.client, urllib, raw sockets), so a
failure points at the target, not at surge.
"""
from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from support.target import (
    GARBAGE,
    TargetServer,
    dist_sequence,
    expected_delays_ms,
    nearest_rank,
    stall_delay_s,
)


def connect(target, timeout: float = 2.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(target.host, target.port, timeout=timeout)


def get(conn: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    conn.request("GET", path)
    response = conn.getresponse()
    response.body = response.read()
    return response


def raw(target, data: bytes, timeout: float = 2.0) -> bytes:
    """Send bytes, read until the server closes."""
    with socket.create_connection((target.host, target.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def wait_for(predicate, timeout_s: float = 2.0):
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return result


# --------------------------------------------------------------------------- pure helpers


def test_dist_sequence_spreads_weights_evenly_and_exactly():
    cycle = dist_sequence("5:50,10:45,20:4,100:1")
    assert len(cycle) == 100
    assert (cycle.count(5), cycle.count(10), cycle.count(20), cycle.count(100)) == (50, 45, 4, 1)
    assert cycle[:4] == [5, 10, 5, 10]  # interleaved, not blocks
    assert dist_sequence("1,2,3") == [1, 2, 3]
    assert nearest_rank(expected_delays_ms("5:50,10:45,20:4,100:1", 1000), 50) == 5
    assert nearest_rank(expected_delays_ms("5:50,10:45,20:4,100:1", 1000), 95) == 10
    assert nearest_rank(expected_delays_ms("5:50,10:45,20:4,100:1", 1000), 99) == 20
    assert nearest_rank(expected_delays_ms("5:50,10:45,20:4,100:1", 1000), 100) == 100


def test_stall_delay_is_the_rest_of_the_window():
    assert stall_delay_s(10.0, 10.0, 5.0, 1.0) == 0.0
    assert stall_delay_s(13.9, 10.0, 5.0, 1.0) == 0.0
    assert stall_delay_s(14.25, 10.0, 5.0, 1.0) == pytest.approx(0.75)
    assert stall_delay_s(19.5, 10.0, 5.0, 1.0) == pytest.approx(0.5)
    assert stall_delay_s(20.0, 10.0, 5.0, 1.0) == 0.0


# --------------------------------------------------------------------------- behaviours


def test_ok_keeps_the_connection_alive_and_counts(target):
    conn = connect(target)
    for _ in range(3):
        response = get(conn, "/ok?ignored=1")
        assert (response.status, response.body) == (200, b"ok")
        assert response.getheader("Connection") is None
    conn.close()
    stats = target.stats()
    assert stats["connections"]["accepted"] == 1
    assert stats["requests"] == {"GET /ok": 3}
    assert stats["responses"] == {"200": 3}


def test_status(target):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(target.url_for("/status/503"), timeout=2)
    assert err.value.code == 503
    assert target.stats()["responses"] == {"503": 1}


def test_unknown_path_is_404_and_bad_bytes_are_400(target):
    conn = connect(target)
    assert get(conn, "/nope").status == 404
    conn.close()
    assert raw(target, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert target.stats()["outcomes"]["bad_request"] == 1


def test_delay_is_exact_within_a_few_ms(target):
    conn = connect(target)
    get(conn, "/ok")  # connection set up outside the timing
    started = time.perf_counter()
    response = get(conn, "/delay/100")
    elapsed_ms = (time.perf_counter() - started) * 1000
    conn.close()
    assert response.status == 200 and response.getheader("X-Delay-Ms") == "100"
    assert 100 <= elapsed_ms < 115


def test_dist_hands_out_the_expected_sequence(target):
    spec = "1:3,2:1"
    conn = connect(target)
    got = [float(get(conn, f"/dist?ms={spec}").getheader("X-Delay-Ms")) for _ in range(8)]
    conn.close()
    assert got == expected_delays_ms(spec, 8)
    assert target.stats()["requests"] == {"GET /dist": 8}


def test_stall_window_holds_requests_until_its_end(target):
    epoch = time.monotonic()
    target.configure(stall_period_s=0.5, stall_s=0.2, stall_epoch=epoch)
    conn = connect(target)
    get(conn, "/ok")
    for offset_s in (0.55, 0.85, 1.05):  # before the window, inside it, before the next one
        time.sleep(max(0.0, epoch + offset_s - time.monotonic()))
        expected_s = stall_delay_s(time.monotonic(), epoch, 0.5, 0.2)
        started = time.perf_counter()
        response = get(conn, "/stall")
        elapsed_s = time.perf_counter() - started
        assert response.status == 200
        assert expected_s - 0.005 <= elapsed_s < expected_s + 0.02, (offset_s, expected_s, elapsed_s)
    conn.close()
    assert [stall_delay_s(epoch + o, epoch, 0.5, 0.2) > 0 for o in (0.55, 0.85, 1.05)] == [False, True, False]


def test_stall_query_overrides_the_server_settings(target):
    # a window covering the whole period: every request waits for the period's end
    response = get(connect(target), "/stall?period_ms=100&stall_ms=100")
    assert 0 < float(response.getheader("X-Delay-Ms")) <= 100


def test_reset_is_a_connection_reset(target):
    with pytest.raises(ConnectionResetError):
        raw(target, b"GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")
    stats = target.stats()
    assert stats["outcomes"]["reset"] == 1 and stats["requests"] == {"GET /reset": 1}
    assert stats["responses"] == {}


def test_garbage_is_not_http(target):
    assert raw(target, b"GET /garbage HTTP/1.1\r\nHost: x\r\n\r\n") == GARBAGE
    assert target.stats()["outcomes"]["garbage"] == 1
    with pytest.raises(http.client.BadStatusLine):
        get(connect(target), "/garbage")


def test_hang_times_out_and_counts_as_unanswered(target):
    with pytest.raises(TimeoutError):
        urllib.request.urlopen(target.url_for("/hang"), timeout=0.2)
    assert target.stats()["outcomes"]["hang"] == 1
    assert wait_for(lambda: target.stats()["outcomes"]["unanswered"] == 1)


def test_close_answers_then_closes(target):
    response = raw(target, b"GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close\r\n" in response
    assert response.count(b"HTTP/1.1") == 1  # the pipelined second request is not answered
    stats = target.stats()
    assert stats["outcomes"]["close"] == 1 and stats["outcomes"]["unanswered"] == 1


def test_pipelined_requests_are_answered_in_order(target):
    request = b"GET /delay/30 HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    response = raw(target, request)
    assert response.index(b"X-Delay-Ms: 30") < response.rindex(b"HTTP/1.1 200 OK")
    assert target.stats()["requests"] == {"GET /delay/30": 1, "GET /ok": 1}


def test_echo_returns_method_headers_and_content_length_body(target):
    conn = connect(target)
    conn.request("POST", "/echo?a=1", body=b'{"x": 1}',
                 headers={"Content-Type": "application/json", "Cookie": "session=abc"})
    echoed = json.loads(conn.getresponse().read())
    conn.close()
    assert echoed["method"] == "POST" and echoed["path"] == "/echo" and echoed["args"] == {"a": "1"}
    assert echoed["header_map"]["cookie"] == "session=abc"
    assert echoed["header_map"]["content-type"] == "application/json"
    assert echoed["body"] == '{"x": 1}' and echoed["body_length"] == 8
    assert target.stats()["request_body_bytes"] == 8


def test_echo_decodes_a_chunked_request_body(target):
    request = (b"PUT /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    head, _, body = raw(target, request).partition(b"\r\n\r\n")
    echoed = json.loads(body)
    assert echoed["method"] == "PUT" and echoed["body"] == "hello world"


def test_set_cookie_and_redirect(target):
    conn = connect(target)
    response = get(conn, "/set-cookie?session=abc&theme=dark")
    assert response.headers.get_all("Set-Cookie") == ["session=abc; Path=/", "theme=dark; Path=/"]
    response = get(conn, "/redirect?to=/echo")
    assert response.status == 302 and response.getheader("Location") == "/echo"
    assert get(conn, "/redirect?to=/ok&status=307").status == 307
    conn.close()
    assert target.stats()["responses"] == {"200": 1, "302": 1, "307": 1}


def test_chunked_response_decodes(target):
    conn = connect(target)
    response = get(conn, "/chunked?chunks=4")
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.body == b"chunk0\nchunk1\nchunk2\nchunk3\n"
    assert get(conn, "/ok").body == b"ok"  # the connection is still usable
    conn.close()


def test_idle_close_per_connection(target):
    with socket.create_connection((target.host, target.port), timeout=2) as sock:
        sock.sendall(b"GET /idle-close?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.perf_counter()
        assert sock.recv(65536) == b""  # EOF once idle for 100 ms
        assert 0.09 < time.perf_counter() - started < 0.2
    assert target.stats()["outcomes"]["idle_close"] == 1


def test_idle_close_server_option_and_fixture_restores_defaults(target):
    assert target.configure(idle_close_ms=50)["idle_close_ms"] == 50
    conn = connect(target)
    assert get(conn, "/ok").status == 200
    time.sleep(0.15)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        get(conn, "/ok")
    conn.close()
    assert target.stats()["outcomes"]["idle_close"] == 1
    assert target.configure(defaults=True)["idle_close_ms"] == 0


def test_control_requests_are_not_counted(target):
    for _ in range(3):
        target.stats()
    stats = target.stats()
    assert stats["connections"] == {"accepted": 0, "open": 0}
    assert stats["requests_total"] == 0 and stats["responses"] == {}


def test_open_connections_gauge(target):
    socks = [socket.create_connection((target.host, target.port), timeout=2) for _ in range(5)]
    assert wait_for(lambda: target.stats()["connections"]["open"] == 5)
    for sock in socks:
        sock.close()
    assert wait_for(lambda: target.stats()["connections"]["open"] == 0)
    assert target.stats()["connections"]["accepted"] == 5


def test_server_options_and_stop_by_pid():
    epoch = time.monotonic() - 0.5
    with TargetServer(stall_period_s=10, stall_s=9.9, stall_epoch=epoch, loop="asyncio") as srv:
        config = srv.stats()["config"]
        assert config["stall_period_s"] == 10 and config["stall_epoch"] == pytest.approx(epoch)
        process = srv.process
    assert process.poll() is not None
