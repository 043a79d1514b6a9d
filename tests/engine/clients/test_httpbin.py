"""Protocol conformance: surge's client against httpbin, served by gunicorn on loopback.

Our own target (support/target.py) answers what we thought of; httpbin (Flask on Werkzeug,
under a real WSGI server) frames, streams, redirects, sets cookies and compresses as a
widespread server stack does. The server runs in its own process group, stopped by its PID.
"""
from __future__ import annotations

import base64
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from surge.engine.clients.errors import STATUS

from .helpers import drive, only_error

pytest.importorskip("httpbin", reason="httpbin is in the test extra: pip install -e '.[test]'")
pytest.importorskip("gunicorn", reason="gunicorn is in the test extra: pip install -e '.[test]'")


def gunicorn_args(log: Path) -> list[str]:
    from gunicorn.config import KNOWN_SETTINGS

    args = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
            "--worker-class", "gthread", "--threads", "8", "--error-logfile", str(log), "httpbin:app"]
    if any(setting.cli == ["--no-control-socket"] for setting in KNOWN_SETTINGS):
        args.insert(3, "--no-control-socket")  # gunicorn >= 24 would create ~/.gunicorn/ otherwise
    return args


@pytest.fixture(scope="session")
def httpbin(tmp_path_factory) -> str:
    """The base URL of httpbin under gunicorn on a free loopback port (gunicorn picks it)."""
    log = tmp_path_factory.mktemp("httpbin") / "gunicorn.log"
    proc = subprocess.Popen(gunicorn_args(log), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = None
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            text = log.read_text() if log.exists() else ""
            booted = "Booting worker" in text
            for line in text.splitlines():
                if "Listening at: " in line and booted:
                    url = line.split("Listening at: ", 1)[1].split()[0]
            time.sleep(0.05)
        if url is None:
            raise RuntimeError(f"gunicorn did not start: {log.read_text() if log.exists() else ''}")
        yield url
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # the master stops its worker
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: the master and its worker
                proc.wait()


def get(url: str, path: str, **kw):
    """One GET through a fresh client: (response, its series)."""
    async def body(client, recorder):
        resp = await client.get(path, **kw)
        resp.content  # read (and decode) inside the run
        return resp, recorder.series("GET", kw.get("name") or path.partition("?")[0])

    return drive(url, body)


def test_a_chunked_stream_arrives_whole(httpbin):
    resp, series = get(httpbin, "/stream/20")
    assert resp.ok and resp.headers["transfer-encoding"] == "chunked"
    lines = resp.text.splitlines()
    assert len(lines) == 20 and [line.count('"id": ') for line in lines] == [1] * 20
    assert series.bytes_received == len(resp.content)


def test_a_100_kib_body_has_its_length(httpbin):
    resp, series = get(httpbin, "/bytes/102400")
    assert resp.ok and len(resp.content) == 102400 == int(resp.headers["content-length"])
    assert series.bytes_received == 102400


def test_a_slow_body_is_timed_to_its_last_byte(httpbin):
    resp, series = get(httpbin, "/drip?duration=0.6&numbytes=6&delay=0")
    assert resp.ok and resp.content == b"*" * 6
    assert resp.elapsed_ms >= 450  # the bytes trickle over 0.6 s: latency covers them
    assert series.latencies_us == [round(resp.elapsed_ms * 1000)]


def test_redirects_are_followed_as_one_request(httpbin):
    resp, series = get(httpbin, "/redirect/3", allow_redirects=True)
    assert resp.ok and resp.json()["url"].endswith("/get")
    assert (series.requests, series.failures) == (1, 0)


def test_a_cookie_set_on_a_302_is_kept_and_sent(httpbin):
    async def body(client, recorder):
        set_it = await client.get("/cookies/set?k=v")
        echoed = await client.get("/cookies")
        return set_it, echoed, dict(client.cookies)

    set_it, echoed, cookies = drive(httpbin, body)
    assert set_it.status == 302 and "k=v" in set_it.headers["set-cookie"]
    assert cookies == {"k": "v"}
    assert echoed.json() == {"cookies": {"k": "v"}}


def test_basic_auth_passes_with_its_header_and_fails_without(httpbin):
    token = base64.b64encode(b"user:passwd").decode()
    ok, _ = get(httpbin, "/basic-auth/user/passwd", headers={"Authorization": f"Basic {token}"})
    assert ok.ok and ok.json() == {"authenticated": True, "user": "user"}
    denied, series = get(httpbin, "/basic-auth/user/passwd")
    assert denied.status == 401 and only_error(series) == (STATUS, "HTTP 401")


def test_head_has_headers_and_no_body(httpbin):
    async def body(client, recorder):
        head = await client.head("/get")
        after = await client.get("/get")  # the connection is in step after a bodiless response
        return head, after

    head, after = drive(httpbin, body)
    assert head.status == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    assert after.ok and after.json()["url"].endswith("/get")


def test_utf8_text_decodes(httpbin):
    resp, _ = get(httpbin, "/encoding/utf8")
    assert resp.ok and "∮ E⋅da = Q" in resp.text
    assert resp.text == resp.content.decode("utf-8")  # strict: every byte was valid UTF-8


@pytest.mark.parametrize("path, flag", [("/gzip", "gzipped"), ("/deflate", "deflated")])
def test_compressed_json_reads_decoded(httpbin, path, flag):
    resp, series = get(httpbin, path)
    assert resp.ok and resp.json()[flag] is True
    assert resp.json()["headers"]["Accept-Encoding"] == "gzip, deflate"  # what surge asked for
    assert series.bytes_received < len(resp.content)  # counted as it came: compressed


@pytest.mark.skipif(not any(importlib.util.find_spec(m) for m in ("brotli", "brotlicffi")),
                    reason="br needs brotli or brotlicffi (pip install 'surge[compression]')")
def test_brotli_json_reads_decoded(httpbin):
    resp, _ = get(httpbin, "/brotli")
    assert resp.ok and resp.json()["brotli"] is True


def test_a_500_is_counted_as_a_failure(httpbin):
    resp, series = get(httpbin, "/status/500")
    assert resp.status == 500 and resp.failed
    assert (series.requests, series.failures) == (1, 1) and only_error(series) == (STATUS, "HTTP 500")
