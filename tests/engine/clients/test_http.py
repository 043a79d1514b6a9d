"""HttpClient against the real target: keep-alive, request building, cookies, redirects, framing,
open-workload timing (DESIGN.md: Measurement semantics). Failures: test_faults.py; checks and
catch_response: test_response.py; https: test_tls.py."""
from __future__ import annotations

import asyncio
import time

import pytest

from surge.engine.clients.http import ClientContext, HttpClient
from surge.metrics.recorder import Recorder

from .helpers import drive, series_names


# -- keep-alive ---------------------------------------------------------------------------------


def test_sequential_requests_share_one_keep_alive_connection(target):
    sizes = [n * 7 for n in range(50)]

    async def body(client, recorder):
        for n in sizes:
            resp = await client.get(f"/bytes/{n}", name="/bytes/{n}")
            assert resp.status == 200 and resp.content == b"x" * n
        return recorder.series("GET", "/bytes/{n}")

    series = drive(target.url, body)
    stats = target.stats()
    assert stats["connections"]["accepted"] == 1
    assert stats["requests_total"] == 50
    assert series.requests == 50 and series.failures == 0 and series.cancelled == 0
    assert len(series.latencies_us) == 50 and all(v > 0 for v in series.latencies_us)
    assert series.bytes_received == sum(sizes)
    assert series.bytes_sent > 0


def test_connection_closed_by_the_server_while_idle_is_reopened_transparently(target):
    async def body(client, recorder):
        first = await client.get("/idle-close?ms=100")
        await asyncio.sleep(0.3)
        second = await client.get("/ok")
        return first, second, recorder

    first, second, recorder = drive(target.url, body)
    assert first.ok and second.ok and second.text == "ok"
    assert recorder.series("GET", "/ok").failures == 0
    assert recorder.series("GET", "/idle-close").failures == 0
    stats = target.stats()
    assert stats["connections"]["accepted"] == 2
    assert stats["outcomes"]["idle_close"] == 1
    assert stats["requests"] == {"GET /idle-close": 1, "GET /ok": 1}  # nothing sent twice


# -- request building ---------------------------------------------------------------------------


def echo(resp) -> dict:
    assert resp.status == 200, resp
    return resp.json()


def test_json_body_is_sent_with_its_content_type(target):
    async def body(client, recorder):
        return echo(await client.post("/echo", json={"a": 1, "b": [1, 2]}))

    seen = drive(target.url, body)
    assert seen["method"] == "POST"
    assert seen["header_map"]["content-type"] == "application/json"
    assert seen["header_map"]["content-length"] == str(seen["body_length"])
    assert seen["body"] == '{"a":1,"b":[1,2]}'


def test_form_data_is_urlencoded_and_raw_data_is_sent_as_is(target):
    async def body(client, recorder):
        form = echo(await client.post("/echo", data={"a": "1", "b": "x y"}))
        raw = echo(await client.put("/echo", data=b"\x00raw"))
        return form, raw

    form, raw = drive(target.url, body)
    assert form["body"] == "a=1&b=x+y"
    assert form["header_map"]["content-type"] == "application/x-www-form-urlencoded"
    assert raw["method"] == "PUT" and raw["body_b64"] == "AHJhdw=="
    assert "content-type" not in raw["header_map"]


def test_params_are_encoded_into_the_query(target):
    async def body(client, recorder):
        plain = echo(await client.get("/echo", params={"id": 7, "tag": ["a", "b"], "q": "x y"}))
        appended = echo(await client.get("/echo?fixed=1", params={"id": 8}))
        return plain, appended, recorder

    plain, appended, recorder = drive(target.url, body)
    assert plain["query"] == "id=7&tag=a&tag=b&q=x+y"
    assert appended["query"] == "fixed=1&id=8"
    assert recorder.series("GET", "/echo").requests == 2  # the name drops the query


def test_name_groups_urls_and_defaults_to_the_path_without_query(target):
    async def body(client, recorder):
        for i in (1, 2):
            await client.get(f"/echo?id={i}", name="/echo?id={id}")
        for i in (3, 4):
            await client.get(f"/echo?id={i}")
        return recorder

    recorder = drive(target.url, body)
    assert recorder.series("GET", "/echo?id={id}").requests == 2
    assert recorder.series("GET", "/echo").requests == 2
    assert series_names(recorder) == [("GET", "/echo"), ("GET", "/echo?id={id}")]


def test_header_precedence_context_then_client_then_request(target):
    async def main():
        ctx = ClientContext(target.url, Recorder(), headers={"X-Ctx": "ctx", "X-Shared": "ctx",
                                                              "Accept": "text/plain"})
        client = HttpClient(ctx, headers={"X-Client": "client", "X-Shared": "client"})
        try:
            return echo(await client.get("/echo", headers={"X-Shared": "request", "X-Req": "r"}))
        finally:
            await client.close()

    seen = asyncio.run(main())
    headers = seen["header_map"]
    assert headers["x-ctx"] == "ctx" and headers["accept"] == "text/plain"
    assert headers["x-client"] == "client"
    assert headers["x-req"] == "r"
    assert headers["x-shared"] == "request"
    names = [name.lower() for name, _ in seen["headers"]]
    assert len(names) == len(set(names)), seen["headers"]  # each header sent once


def test_header_names_are_case_insensitive_when_overriding(target):
    """Regression: a per-request ``user-agent``/``content-type`` used to be sent alongside ours."""
    async def body(client, recorder):
        return echo(await client.post("/echo", json={}, headers={
            "user-agent": "mine/1", "content-type": "application/vnd.api+json", "ACCEPT": "a/b"}))

    seen = drive(target.url, body, headers={"Accept": "text/plain"})
    names = [name.lower() for name, _ in seen["headers"]]
    assert len(names) == len(set(names)), seen["headers"]
    assert seen["header_map"]["user-agent"] == "mine/1"
    assert seen["header_map"]["content-type"] == "application/vnd.api+json"
    assert seen["header_map"]["accept"] == "a/b"


def test_client_headers_changed_after_a_request_apply_to_the_next_one(target):
    """Regression: plain requests' bytes are cached; setting a token afterwards (the README's
    ``self.client.headers["Authorization"] = ...``) must not be lost to that cache."""
    async def body(client, recorder):
        before = echo(await client.get("/echo"))
        client.headers["Authorization"] = "Bearer one"
        first = echo(await client.get("/echo"))
        client.headers["Authorization"] = "Bearer two"
        second = echo(await client.get("/echo"))
        return before, first, second

    before, first, second = drive(target.url, body)
    assert "authorization" not in before["header_map"]
    assert first["header_map"]["authorization"] == "Bearer one"
    assert second["header_map"]["authorization"] == "Bearer two"


def test_host_user_agent_and_content_length(target):
    async def body(client, recorder):
        results = {}
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            results[method] = echo(await client.request(method, "/echo"))
        return results

    results = drive(target.url, body)
    for method, seen in results.items():
        headers = seen["header_map"]
        assert headers["host"] == f"127.0.0.1:{target.port}"
        assert headers["user-agent"].startswith("surge/")
        assert seen["method"] == method and seen["http_version"] == "1.1"
    for method in ("POST", "PUT", "PATCH"):
        assert results[method]["header_map"]["content-length"] == "0"
    for method in ("GET", "DELETE"):
        assert "content-length" not in results[method]["header_map"]


def test_base_url_path_prefixes_relative_paths(target):
    async def body(client, recorder):
        return echo(await client.get("sub?x=1")), recorder

    seen, recorder = drive(target.url + "/echo/", body)
    assert seen["path"] == "/echo/sub" and seen["query"] == "x=1"
    assert series_names(recorder) == [("GET", "/echo/sub")]


# -- cookies ------------------------------------------------------------------------------------


def test_cookies_are_kept_per_client(target):
    async def main():
        ctx = ClientContext(target.url, Recorder())
        client, other = HttpClient(ctx), HttpClient(ctx)
        try:
            await client.get("/set-cookie?session=abc")
            mine = echo(await client.get("/echo"))
            await client.get("/set-cookie?a=1&b=2")
            more = echo(await client.get("/echo"))
            theirs = echo(await other.get("/echo"))
        finally:
            await client.close()
            await other.close()
        return mine, more, theirs

    mine, more, theirs = asyncio.run(main())
    assert mine["header_map"]["cookie"] == "session=abc"
    assert more["header_map"]["cookie"] == "session=abc; a=1; b=2"
    assert "cookie" not in theirs["header_map"]


# -- redirects ----------------------------------------------------------------------------------


def test_redirect_followed_when_allowed_is_one_request_under_the_original_name(target):
    async def body(client, recorder):
        return await client.get("/redirect?to=/ok", allow_redirects=True), recorder

    resp, recorder = drive(target.url, body)
    assert resp.status == 200 and resp.text == "ok" and resp.ok
    series = recorder.series("GET", "/redirect")
    assert series.requests == 1 and series.failures == 0 and len(series.latencies_us) == 1
    assert series_names(recorder) == [("GET", "/redirect")]
    assert target.stats()["requests"] == {"GET /redirect": 1, "GET /ok": 1}


def test_redirect_not_followed_returns_the_3xx_without_failing(target):
    async def body(client, recorder):
        return await client.get("/redirect?to=/ok"), recorder.series("GET", "/redirect")

    resp, series = drive(target.url, body)  # follow_redirects defaults to False
    assert resp.status == 302 and resp.headers["location"] == "/ok"
    assert resp.ok and not resp.failed and series.failures == 0
    assert target.stats()["requests"] == {"GET /redirect": 1}


@pytest.mark.parametrize("status, method, body_kept", [(303, "GET", False), (307, "POST", True)])
def test_redirect_method_rules(target, status, method, body_kept):
    async def body(client, recorder):
        return echo(await client.post(f"/redirect?to=/echo&status={status}", json={"k": 1}))

    seen = drive(target.url, body, follow_redirects=True)
    assert seen["method"] == method
    assert (seen["body"] == '{"k":1}') is body_kept


# -- response framing ---------------------------------------------------------------------------


def test_chunked_response_is_decoded_in_full(target):
    async def body(client, recorder):
        chunked = await client.get("/chunked?chunks=5")
        after = await client.get("/ok")
        return chunked, after, recorder.series("GET", "/chunked")

    chunked, after, series = drive(target.url, body)
    assert chunked.text == "".join(f"chunk{i}\n" for i in range(5))
    assert chunked.headers["transfer-encoding"] == "chunked"
    assert series.bytes_received == len(chunked.content)
    assert after.text == "ok"
    assert target.stats()["connections"]["accepted"] == 1


def test_head_has_no_body_and_leaves_the_connection_usable(target):
    async def body(client, recorder):
        head = await client.head("/bytes/100")
        get = await client.get("/bytes/10")
        return head, get, recorder.series("HEAD", "/bytes/100")

    head, get, series = drive(target.url, body)
    assert head.status == 200 and head.content == b"" and head.headers["content-length"] == "100"
    assert series.requests == 1 and series.failures == 0 and series.bytes_received == 0
    assert get.content == b"x" * 10
    assert target.stats()["connections"]["accepted"] == 1


# -- open-workload timing -----------------------------------------------------------------------


def test_open_workload_times_the_first_request_from_its_intended_start(target):
    async def body(client, recorder):
        await client.get("/bytes/1")  # connect first, so service times are pure request time
        client.intended_ns = time.perf_counter_ns() - 200_000_000
        await client.get("/ok")
        assert client.intended_ns == 0  # consumed by that request
        await client.get("/ok")
        return recorder.series("GET", "/ok")

    series = drive(target.url, body, open_workload=True)
    late, on_time = series.latencies_us
    late_service, on_time_service = series.service_us
    assert late >= 200_000
    assert late_service < 50_000
    assert on_time < 50_000 and on_time_service <= on_time


def test_closed_workload_keeps_no_service_times(target):
    async def body(client, recorder):
        await client.get("/ok")
        return recorder.series("GET", "/ok")

    series = drive(target.url, body)
    assert len(series.latencies_us) == 1 and series.service_us == []


# -- lazily read headers, shared request bytes ------------------------------------------------


def test_response_headers_are_read_complete_and_case_insensitive(target):
    """The connection keeps the raw head and ``resp.headers`` reads it on demand: every header,
    in order, repeats included, whatever the spelling asked for."""
    async def body(client, recorder):
        return await client.get("/set-cookie?a=1&b=2")

    resp = drive(target.url, body)
    names = [name.lower() for name, _ in resp.headers.items()]
    assert names.count("set-cookie") == 2
    assert resp.headers.get_all("SET-COOKIE") == [v for n, v in resp.headers.items() if n.lower() == "set-cookie"]
    assert resp.headers["Content-Length"] == resp.headers["content-length"] == str(len(resp.content))
    assert "content-length" in resp.headers and "x-absent" not in resp.headers
    assert resp.headers.get("x-absent", "-") == "-"
    assert set(resp.headers) == set(names) and len(resp.headers) == len(set(names))


def test_clients_with_the_same_headers_share_request_bytes_until_one_changes_its_own(target):
    async def main():
        ctx = ClientContext(target.url, Recorder())
        a, b, c = HttpClient(ctx), HttpClient(ctx), HttpClient(ctx, headers={"Accept": "text/plain"})
        try:
            await a.get("/echo")
            await b.get("/echo")
            shared = a._plain
            assert b._plain is shared and c._plain is not shared  # other headers, other bytes
            a.headers["Authorization"] = "Bearer a"
            seen_a, seen_b, seen_c = [echo(await x.get("/echo")) for x in (a, b, c)]
            assert a._plain is not shared and b._plain is shared
            b.headers["Authorization"] = "Bearer a"  # the same set as a's: shared again
            seen_b2 = echo(await b.get("/echo"))
            assert b._plain is a._plain
            del a.headers["Authorization"]
            seen_a2 = echo(await a.get("/echo"))
            assert a._plain is shared
            a.headers = {"X-New": "1"}  # replaced outright
            seen_a3 = echo(await a.get("/echo"))
        finally:
            for x in (a, b, c):
                await x.close()
        return seen_a, seen_b, seen_c, seen_b2, seen_a2, seen_a3

    seen_a, seen_b, seen_c, seen_b2, seen_a2, seen_a3 = asyncio.run(main())
    assert seen_a["header_map"]["authorization"] == "Bearer a"
    assert "authorization" not in seen_b["header_map"] and "authorization" not in seen_c["header_map"]
    assert seen_c["header_map"]["accept"] == "text/plain"
    assert seen_b2["header_map"]["authorization"] == "Bearer a"
    assert "authorization" not in seen_a2["header_map"]
    assert seen_a3["header_map"]["x-new"] == "1"


def test_a_changed_cookie_is_sent_with_the_next_plain_request(target):
    async def body(client, recorder):
        await client.get("/set-cookie?session=one")
        first = echo(await client.get("/echo"))
        await client.get("/set-cookie?session=two")
        second = echo(await client.get("/echo"))
        client.cookies["extra"] = "x"  # set by the scenario itself
        third = echo(await client.get("/echo"))
        client.cookies.clear()
        fourth = echo(await client.get("/echo"))
        return first, second, third, fourth

    first, second, third, fourth = drive(target.url, body)
    assert first["header_map"]["cookie"] == "session=one"
    assert second["header_map"]["cookie"] == "session=two"
    assert third["header_map"]["cookie"] == "session=two; extra=x"
    assert "cookie" not in fourth["header_map"]


def test_an_unknown_keyword_is_a_type_error_at_the_call(target):
    async def body(client, recorder):
        with pytest.raises(TypeError, match="'nmae'"):
            client.get("/ok", nmae="/ok")
        return client.created, client.started

    assert drive(target.url, body) == (0, 0)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_connections_have_nagle_off(target, loop):
    """The client does not set TCP_NODELAY itself: both event loops do it for every TCP transport."""
    import socket

    import uvloop

    async def main():
        client = HttpClient(ClientContext(target.url, Recorder()))
        try:
            await client.get("/ok")
            sock = client._conn.transport.get_extra_info("socket")
            return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            await client.close()

    assert (uvloop.run(main()) if loop == "uvloop" else asyncio.run(main())) != 0


def test_the_sweeper_stops_when_no_connection_is_open(target):
    async def main():
        ctx = ClientContext(target.url, Recorder(), timeout_s=0.2)
        client = HttpClient(ctx)
        await client.get("/ok")
        running = ctx._sweeper is not None
        await client.close()
        for _ in range(50):
            await asyncio.sleep(0.02)
            if ctx._sweeper is None:
                break
        return running, ctx._sweeper, len(ctx.connections)

    running, sweeper, open_connections = asyncio.run(main())
    assert running and sweeper is None and open_connections == 0


def test_a_header_value_that_is_not_a_string_is_sent_as_text(target):
    async def body(client, recorder):
        client.headers["X-Count"] = 3
        client.headers["X-List"] = ["a", "b"]  # unhashable: the client keeps its own request bytes
        return echo(await client.get("/echo"))

    seen = drive(target.url, body)
    assert seen["header_map"]["x-count"] == "3" and seen["header_map"]["x-list"] == "['a', 'b']"


def test_the_client_tells_the_redactor_the_secret_headers_it_sends(target):
    async def body(client, recorder):
        await client.get("/ok", headers={"X-Api-Key": "request-key-1", "Accept": "text/plain"})
        client.headers["Authorization"] = "Bearer after-login-2"  # a token set after login
        await client.get("/ok")
        client.headers["Authorization"] = "Bearer refreshed-3"
        await client.get("/ok", name="ok")  # a request with keywords sees the change too
        return recorder.redactor.secrets

    secrets = drive(target.url, body)
    assert {"request-key-1", "after-login-2", "refreshed-3"} <= set(secrets)
    assert "text/plain" not in secrets
