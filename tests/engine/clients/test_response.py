"""Checks on responses (``expect``, ``failure``, ``success``) and ``catch_response``, against the
real target: each failed request counts once, whatever marks it failed."""
from __future__ import annotations

from surge.engine.clients.errors import CHECK, RESET, STATUS

from .helpers import drive, only_error


def test_expect_status_mismatch_is_one_check_failure_naming_both_statuses(target):
    async def body(client, recorder):
        resp = (await client.get("/ok")).expect(status=201)
        return resp, recorder.series("GET", "/ok")

    resp, series = drive(target.url, body)
    kind, message = only_error(series)
    assert kind == CHECK and "201" in message and "200" in message
    assert resp.failed and not resp.ok and resp.status == 200
    assert series.requests == 1 and len(series.latencies_us) == 1


def test_expect_status_accepts_a_tuple_or_range(target):
    async def body(client, recorder):
        (await client.get("/ok")).expect(status=(200, 201))
        (await client.get("/ok")).expect(status=range(200, 300))
        return recorder.series("GET", "/ok")

    assert drive(target.url, body).failures == 0


def test_expect_json_subset(target):
    async def body(client, recorder):
        good = (await client.get("/echo")).expect(json={"method": "GET", "path": "/echo"})
        by_callable = (await client.get("/echo")).expect(json=lambda doc: doc["method"] == "GET")
        bad = (await client.get("/echo")).expect(json={"method": "POST"})
        not_json = (await client.get("/ok")).expect(json={"a": 1})
        return good, by_callable, bad, not_json, recorder

    good, by_callable, bad, not_json, recorder = drive(target.url, body)
    assert not good.failed and not by_callable.failed
    echo = recorder.series("GET", "/echo")
    kind, message = only_error(echo)
    assert bad.failed and kind == CHECK and "'method'" in message and "'POST'" in message
    assert not_json.failed and only_error(recorder.series("GET", "/ok")) == (CHECK, "body is not JSON")


def test_expect_contains(target):
    async def body(client, recorder):
        found = (await client.get("/ok")).expect(contains="ok")
        found_bytes = (await client.get("/ok")).expect(contains=b"ok")
        missing = (await client.get("/ok")).expect(contains="nope")
        return found, found_bytes, missing, recorder.series("GET", "/ok")

    found, found_bytes, missing, series = drive(target.url, body)
    assert not found.failed and not found_bytes.failed and missing.failed
    kind, message = only_error(series)
    assert kind == CHECK and "nope" in message


def test_failure_called_twice_counts_once(target):
    async def body(client, recorder):
        resp = await client.get("/ok")
        resp.failure("first")
        resp.failure("second")
        resp.expect(status=500)
        return recorder.series("GET", "/ok")

    assert only_error(drive(target.url, body)) == (CHECK, "first")


def test_checks_on_a_request_that_got_no_response_do_not_count_again(target):
    async def body(client, recorder):
        resp = await client.get("/reset")
        resp.expect(status=200, contains="ok")
        resp.failure("also")
        return resp, recorder.series("GET", "/reset")

    resp, series = drive(target.url, body)
    assert resp.failed and resp.status == 0
    assert only_error(series)[0] == RESET


def test_status_failure_is_not_counted_again_by_a_check(target):
    async def body(client, recorder):
        (await client.get("/status/503")).expect(status=200)
        return recorder.series("GET", "/status/503")

    assert only_error(drive(target.url, body)) == (STATUS, "HTTP 503")


def test_catch_response_success_accepts_an_error_status(target):
    async def body(client, recorder):
        async with client.get("/status/503", catch_response=True) as resp:
            assert resp.status == 503
            resp.success()
        return resp, recorder.series("GET", "/status/503")

    resp, series = drive(target.url, body)
    assert series.failures == 0 and series.requests == 1 and not resp.failed


def test_catch_response_commits_the_status_failure_at_exit_when_not_accepted(target):
    async def body(client, recorder):
        series = recorder.series("GET", "/status/503")
        async with client.get("/status/503", catch_response=True):
            inside = series.failures
        return inside, series

    inside, series = drive(target.url, body)
    assert inside == 0
    assert only_error(series) == (STATUS, "HTTP 503")


def test_catch_response_keeps_the_scenarios_own_message_for_an_error_status(target):
    """An explicit failure("...") replaces the automatic ``HTTP 422``: the user's message is what
    they look for in failures.csv."""
    async def body(client, recorder):
        async with client.post("/status/422", catch_response=True) as resp:
            resp.failure("order rejected: stock")
        async with client.post("/status/422", catch_response=True) as resp:
            pass  # no verdict of its own: the automatic one stands
        return recorder.series("POST", "/status/422")

    series = drive(target.url, body)
    assert series.failures == 2
    assert dict(series.errors) == {(CHECK, "order rejected: stock"): 1, (STATUS, "HTTP 422"): 1}


def test_catch_response_failure_is_committed_at_exit(target):
    async def body(client, recorder):
        series = recorder.series("GET", "/ok")
        async with client.get("/ok", catch_response=True) as resp:
            resp.failure("bad")
            inside = series.failures
        return resp, inside, series

    resp, inside, series = drive(target.url, body)
    assert inside == 0
    assert only_error(series) == (CHECK, "bad")
    assert resp.failed


def test_catch_response_failure_then_success_is_accepted(target):
    async def body(client, recorder):
        async with client.get("/ok", catch_response=True) as resp:
            resp.failure("bad")
            resp.success()
        return recorder.series("GET", "/ok")

    assert drive(target.url, body).failures == 0


def test_catch_response_request_can_still_be_awaited(target):
    async def body(client, recorder):
        resp = await client.get("/ok", catch_response=True)
        async with resp:
            resp.failure("late")
        return recorder.series("GET", "/ok")

    assert only_error(drive(target.url, body)) == (CHECK, "late")


def test_catch_response_awaited_without_async_with_commits_at_once(target):
    """Regression: awaited (not ``async with``), the deferred verdict was never committed, so a
    503 went uncounted."""
    async def body(client, recorder):
        resp = await client.get("/status/503", catch_response=True)
        assert resp.failed
        return recorder.series("GET", "/status/503")

    assert only_error(drive(target.url, body))[0] == "status"


def test_response_reading(target):
    async def body(client, recorder):
        return await client.get("/echo?x=1")

    resp = drive(target.url, body)
    assert resp.headers["Content-Type"] == resp.headers["content-type"] == "application/json"
    assert "CONTENT-LENGTH" in resp.headers
    assert resp.json()["args"] == {"x": "1"}
    assert resp.text == resp.content.decode()
    assert resp.elapsed_ms > 0 and resp.url == "/echo?x=1" and resp.name == "/echo"
