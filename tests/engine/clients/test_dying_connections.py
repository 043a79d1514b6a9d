"""Connections that die under the client (tests/support/hostile.py): a reset right after the
accept, a server that closes after every response without saying so. Every request ends as a
response or a counted failure, never as an exception in the task; failure messages group
stably; and ``requests + cancelled`` equals what the server received (DESIGN.md: Measurement
semantics, keep-alive)."""
from __future__ import annotations

import asyncio

import uvloop

from surge.engine.clients.connection import Connection
from surge.engine.clients.errors import CONNECT, RESET, RequestFailure
from surge.engine.clients.http import HttpClient

from .cli_runs import surge_run
from .helpers import drive

HAMMER = """
    from surge import HttpUser, constant, task

    class Hammer(HttpUser):
        wait_time = constant(0)

        @task
        async def get(self):
            await self.client.get("/")
"""


def messages(series) -> set[str]:
    return {message for _, message in series.errors}


# -- a reset right after the accept ------------------------------------------------------------


def test_a_send_on_a_connection_the_server_already_reset_fails_it_and_never_raises(hostile):
    """uvloop raises RuntimeError writing to a transport it closed; the send turns that (and a
    connection already known closed) into a connect failure: nothing reached the server."""
    async def main():
        loop = asyncio.get_running_loop()
        origin = ("http", "127.0.0.1", hostile.ports["rst"])
        for _ in range(100):  # the reset may come while connecting already: connect again
            try:
                _, conn = await loop.create_connection(lambda: Connection(origin, []), "127.0.0.1", origin[2])
                break
            except ConnectionResetError:
                continue
        for _ in range(100):
            if conn.transport.is_closing():
                break
            await asyncio.sleep(0.01)
        fut = loop.create_future()
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", fut)
        return fut

    fut = uvloop.run(main())
    failure = fut.exception()
    assert isinstance(failure, RequestFailure)
    assert failure.kind == CONNECT and failure.unsent and failure.early
    assert failure.message == (f"connection to 127.0.0.1:{hostile.ports['rst']} closed by the server "
                               "before the request was sent")
    assert hostile.stats("rst")["requests"] == 0


def test_every_request_to_a_server_that_resets_each_connection_is_a_counted_failure(hostile):
    users, each = 20, 25

    async def body(client, recorder):
        clients = [client] + [HttpClient(client._ctx) for _ in range(users - 1)]

        async def user(c):
            return [await c.get("/") for _ in range(each)]

        try:
            results = await asyncio.gather(*(user(c) for c in clients))  # an exception would surface here
        finally:
            for c in clients[1:]:
                await c.close()
        return [r for rs in results for r in rs], recorder.series("GET", "/")

    responses, series = drive(hostile.url("rst"), body, on_uvloop=True)
    assert len(responses) == series.requests == series.failures == users * each
    assert all(r.status == 0 and r.failed for r in responses)
    assert {kind for kind, _ in series.errors} <= {CONNECT, RESET}
    assert not any("0x" in m for m in messages(series)), messages(series)  # no addresses: stable groups
    assert len(messages(series)) <= 3, messages(series)
    stats = hostile.stats("rst")
    assert stats["accepted"] == users * each and stats["requests"] == 0


def test_a_run_against_a_server_that_resets_each_connection_reads_100_percent_failed(tmp_path, hostile):
    run = surge_run(tmp_path, HAMMER, hostile.url("rst"), users=10)
    assert run.proc.returncode == 1, run.proc.stderr  # requests failed, no thresholds: exit 1
    summary = run.summary
    [endpoint] = summary["endpoints"]  # no TASK series: nothing raised into the task
    assert (endpoint["method"], endpoint["name"]) == ("GET", "/")
    assert endpoint["requests"] > 100 and endpoint["failures"] == endpoint["requests"]
    assert endpoint["error_rate"] == 1.0 and summary["total"]["error_rate"] == 1.0
    assert set(summary["failures_by_kind"]) <= {"connect", "reset"}
    groups = run.rows("failures.csv")
    assert 1 <= len(groups) <= 3, groups
    assert not any("0x" in row["Error"] for row in groups), groups
    assert sum(int(row["Occurrences"]) for row in groups) == endpoint["failures"]
    assert hostile.stats("rst")["accepted"] == endpoint["requests"]  # one connection each


# -- a close after every response, unannounced -------------------------------------------------


def test_a_server_closing_after_every_response_gets_exactly_the_requests_counted(hostile):
    async def body(client, recorder):
        responses = [await client.get("/") for _ in range(300)]
        return responses, recorder.series("GET", "/")

    responses, series = drive(hostile.url("close"), body, on_uvloop=True)
    assert all(r.ok and r.text == "ok" for r in responses)
    assert (series.requests, series.failures, series.cancelled) == (300, 0, 0)
    assert len(series.latencies_us) == 300
    stats = hostile.stats("close")
    assert stats["requests"] == series.requests + series.cancelled
    assert stats["accepted"] == 300  # each request on a connection of its own, in the end


def test_a_send_on_a_reused_connection_the_server_closed_is_marked_for_the_retry(hostile):
    async def main():
        loop = asyncio.get_running_loop()
        origin = ("http", "127.0.0.1", hostile.ports["close"])
        _, conn = await loop.create_connection(lambda: Connection(origin, []), "127.0.0.1", origin[2])
        answered = loop.create_future()
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", answered)
        status = (await answered)[0]
        for _ in range(100):  # the server's FIN follows its response
            if conn.transport.is_closing():
                break
            await asyncio.sleep(0.01)
        fut = loop.create_future()
        conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", fut)
        return status, conn.served, fut.exception()

    status, served, failure = uvloop.run(main())
    assert status == 200 and served
    assert failure.kind == RESET and failure.unsent and failure.early  # nothing written: any method may go again
    assert failure.message == "connection closed by the server before the request was sent"
    assert hostile.stats("close")["requests"] == 1


def test_a_post_with_an_idempotency_key_is_replayed_like_a_get(hostile):
    async def body(client, recorder):
        for n in range(100):
            await client.post("/", json={"n": n}, headers={"Idempotency-Key": f"k{n}"})
        return recorder.series("POST", "/")

    series = drive(hostile.url("close"), body, on_uvloop=True)
    assert (series.requests, series.failures) == (100, 0)
    assert hostile.stats("close")["requests"] == 100


def test_a_plain_post_is_never_sent_twice(hostile):
    """Not idempotent: a POST that may have reached the server is not re-sent; its failure is a
    reset. Against this server none of them did, so the answered ones are what it received."""
    async def body(client, recorder):
        for n in range(100):
            await client.post("/", json={"n": n})
        return recorder.series("POST", "/")

    series = drive(hostile.url("close"), body, on_uvloop=True)
    assert series.failures > 0 and {kind for kind, _ in series.errors} == {RESET}
    stats = hostile.stats("close")
    assert stats["requests"] == series.requests - series.failures
    assert stats["accepted"] == stats["requests"]


def test_a_request_the_server_reads_and_resets_on_a_reused_connection_counts_both_attempts(target):
    """The retry meets the same reset on a fresh connection: the server drops this request as it
    reads it, so the first attempt reached it too. Both are counted, as the server saw both."""
    async def body(client, recorder):
        first = await client.get("/ok")
        reset = await client.get("/reset")
        return first, reset, recorder.series("GET", "/reset")

    first, reset, series = drive(target.url, body, on_uvloop=True)
    assert first.ok and reset.failed and reset.error.startswith("reset: ")
    assert (series.requests, series.failures) == (2, 2)
    stats = target.stats()
    assert stats["requests"]["GET /reset"] == series.requests + series.cancelled == 2
    assert stats["connections"]["accepted"] == 2


def test_a_run_against_a_server_closing_after_every_response_counts_what_it_received(tmp_path, hostile):
    run = surge_run(tmp_path, HAMMER, hostile.url("close"), users=10)
    assert run.proc.returncode == 0, run.proc.stderr
    [endpoint] = run.summary["endpoints"]
    assert endpoint["requests"] > 100 and endpoint["failures"] == 0
    assert hostile.stats("close")["requests"] == endpoint["requests"] + endpoint["cancelled"]

