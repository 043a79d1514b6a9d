"""The demo API's WebSocket endpoint (demo/stream.py) on the real server process: ping/pong,
subscribe, corrections pushed to subscribers only, and bad messages answered, not fatal."""
from __future__ import annotations

import json
import urllib.request

import pytest
from websockets.sync.client import connect

from surge.demo.launch import start_in_subprocess, stop


@pytest.fixture(scope="module")
def demo():
    proc, base_url = start_in_subprocess()
    try:
        yield base_url
    finally:
        stop(proc)


def _ws(base_url: str, tenant: str | None = None):
    headers = {"X-Tenant-Id": tenant} if tenant else None
    return connect("ws" + base_url[4:] + "/v1/stream", open_timeout=5, close_timeout=2, additional_headers=headers)


def _recv(ws) -> dict:
    return json.loads(ws.recv(timeout=5))


def _post(base_url: str, body: dict, key: str, tenant: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, **({"X-Tenant-Id": tenant} if tenant else {})}
    req = urllib.request.Request(base_url + "/v1/corrections", data=json.dumps(body).encode(), method="POST",
                                 headers=headers)
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 201
        return json.loads(resp.read())


def test_ping_is_answered_with_its_id(demo):
    with _ws(demo) as ws:
        ws.send(json.dumps({"op": "ping", "id": 7}))
        assert _recv(ws) == {"op": "pong", "id": 7}


def test_subscribers_get_new_corrections_pushed(demo):
    with _ws(demo) as ws, _ws(demo) as other:
        ws.send(json.dumps({"subscribe": "corrections"}))
        assert _recv(ws) == {"subscribed": "corrections"}
        body = {"subject_id": 3, "field": "name", "value": "Ada"}
        made = _post(demo, body, "stream-k1")
        pushed = _recv(ws)
        assert pushed["event"] == "correction" and pushed["correction"]["id"] == made["id"]
        assert pushed["correction"]["value"] == "Ada"
        _post(demo, body, "stream-k1")  # a replay creates nothing, so nothing is pushed
        ws.send(json.dumps({"op": "ping", "id": 2}))
        assert _recv(ws) == {"op": "pong", "id": 2}
        other.send(json.dumps({"op": "ping", "id": 3}))
        assert _recv(other) == {"op": "pong", "id": 3}  # the non-subscriber got no push


def test_a_subscriber_sees_its_own_tenants_corrections_only(demo):
    with _ws(demo, "acme") as acme, _ws(demo, "globex") as globex:
        for ws in (acme, globex):
            ws.send(json.dumps({"subscribe": "corrections"}))
            assert _recv(ws) == {"subscribed": "corrections"}
        made = _post(demo, {"subject_id": 4, "field": "name", "value": "Grace"}, "tenant-k1", tenant="globex")
        assert _recv(globex)["correction"]["id"] == made["id"]
        acme.send(json.dumps({"op": "ping", "id": 1}))
        assert _recv(acme) == {"op": "pong", "id": 1}  # nothing of globex's came first


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"op": "dance"}', '{"subscribe": "weather"}'])
def test_bad_messages_are_answered_with_an_error_and_the_stream_stays(demo, text):
    with _ws(demo) as ws:
        ws.send(text)
        assert "error" in _recv(ws)
        ws.send(json.dumps({"op": "ping", "id": "x"}))
        assert _recv(ws) == {"op": "pong", "id": "x"}


def test_with_a_token_the_stream_needs_it_too():
    import re
    import select
    import subprocess
    import sys

    from websockets.exceptions import InvalidStatus

    proc = subprocess.Popen([sys.executable, "-m", "surge.demo", "--host", "127.0.0.1", "--port", "0",
                             "--token", "s3cret"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "no 'listening on' line within 20 s"
        url = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", proc.stdout.readline()).group(1)
        with pytest.raises(InvalidStatus) as info:
            _ws(url).close()
        assert info.value.response.status_code == 403
        with connect("ws" + url[4:] + "/v1/stream", open_timeout=5,
                     additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            ws.send(json.dumps({"op": "ping", "id": 1}))
            assert _recv(ws) == {"op": "pong", "id": 1}
    finally:
        stop(proc)
