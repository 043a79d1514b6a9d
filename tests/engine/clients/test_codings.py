"""Compressed response bodies (codings.py): asked for by default, decoded when read, corrupt or
undecodable bodies a ``protocol`` failure of the request, never an exception in the task; the
recorder counts the bytes on the wire, ``len(resp.content)`` is the decoded size."""
from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from support.hostile import PAYLOAD, PAYLOAD_BYTES, encode
from surge.engine.clients import codings
from surge.engine.clients.context import ClientContext
from surge.engine.clients.errors import PROTOCOL
from surge.engine.clients.http import HttpClient
from surge.metrics.recorder import Recorder

from .cli_runs import surge_run
from .helpers import drive, only_error

CODINGS = ["gzip", "deflate", "deflate-raw", "br", "zstd"]


def installed(*modules: str) -> bool:
    return any(importlib.util.find_spec(m) is not None for m in modules)


NEEDS = {"br": ("brotli", "brotlicffi"), "zstd": ("zstandard",)}


@pytest.mark.parametrize("coding", CODINGS + ["gzip?chunked=1"])
def test_an_encoded_body_reads_decoded_and_counts_its_wire_size(hostile, coding):
    name = coding.partition("?")[0]
    if name in NEEDS and not installed(*NEEDS[name]):
        pytest.skip(f"{name} needs {' or '.join(NEEDS[name])} (the compression extra)")

    async def body(client, recorder):
        resp = await client.get("/" + coding)
        return resp, recorder.series("GET", "/" + name)

    resp, series = drive(hostile.url("encoded"), body)
    assert resp.ok and resp.json() == PAYLOAD and resp.text == PAYLOAD_BYTES.decode()
    assert len(resp.content) == len(PAYLOAD_BYTES)
    wire = len(encode(name, PAYLOAD_BYTES)[1])
    assert wire < len(PAYLOAD_BYTES) and series.bytes_received == wire
    assert series.failures == 0


@pytest.mark.parametrize("coding", ["gzip", "deflate", "zstd"])
def test_a_corrupt_body_is_a_protocol_failure_when_read(hostile, coding):
    if coding in NEEDS and not installed(*NEEDS[coding]):
        pytest.skip(f"{coding} needs {NEEDS[coding][0]}")

    async def body(client, recorder):
        resp = await client.get(f"/{coding}?corrupt=1")
        assert not resp.failed  # nothing read yet: nothing decoded, nothing failed
        text = resp.text  # no zlib.error reaches the task
        return resp, text, recorder.series("GET", f"/{coding}")

    resp, text, series = drive(hostile.url("encoded"), body)
    assert text == "" and resp.content == b"" and resp.failed and not resp.ok and resp.status == 200
    kind, message = only_error(series)
    assert kind == PROTOCOL and message.startswith(f"{coding} body could not be decoded")
    assert resp.error == f"protocol: {message}"
    with pytest.raises(ValueError):
        resp.json()  # as for any body that is not JSON
    assert series.failures == 1  # read again: counted once


def test_a_body_never_read_is_never_decoded(hostile):
    async def body(client, recorder):
        for _ in range(3):
            resp = await client.get("/gzip?corrupt=1")
        return resp, recorder.series("GET", "/gzip")

    resp, series = drive(hostile.url("encoded"), body)
    assert (series.requests, series.failures) == (3, 0) and resp.ok


def test_an_unknown_coding_names_itself(hostile):
    async def body(client, recorder):
        resp = await client.get("/x-squash")
        resp.content
        return resp, recorder.series("GET", "/x-squash")

    resp, series = drive(hostile.url("encoded"), body)
    kind, message = only_error(series)
    assert kind == PROTOCOL and message.startswith("x-squash body cannot be decoded: an unknown content coding")


def test_brotli_without_its_library_names_the_extra_to_install(hostile, monkeypatch):
    if not installed("brotli", "brotlicffi"):
        pytest.skip("the server side needs brotli to encode the body")
    for module in ("brotli", "brotlicffi"):
        monkeypatch.setitem(sys.modules, module, None)  # `import brotli` now raises ImportError
    codings._decoder.cache_clear()
    try:
        async def body(client, recorder):
            resp = await client.get("/br")
            return resp.content, recorder.series("GET", "/br")

        content, series = drive(hostile.url("encoded"), body)
    finally:
        codings._decoder.cache_clear()
    kind, message = only_error(series)
    assert content == b"" and kind == PROTOCOL
    assert message == "br body cannot be decoded without brotli (or brotlicffi): pip install 'surge[compression]'"


def test_codings_are_undone_in_reverse_order():
    inner = encode("gzip", PAYLOAD_BYTES)[1]
    body = encode("deflate", inner)[1]
    raw = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, identity\r\ncontent-encoding: DEFLATE\r\n\r\n"
    assert codings.decode_body(raw, body) == PAYLOAD_BYTES
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n"
    assert codings.decode_body(interim, inner) == PAYLOAD_BYTES
    assert codings.decode_body(b"HTTP/1.1 200 OK\nContent-Encoding: gzip\n\n", inner) == PAYLOAD_BYTES


# -- Accept-Encoding ----------------------------------------------------------------------------


def accept_encoding(resp) -> list[str]:
    return [value for name, value in resp.json()["headers"] if name.lower() == "accept-encoding"]


def test_gzip_and_deflate_are_asked_for_unless_the_scenario_says_otherwise(target):
    async def body(client, recorder):
        default = await client.get("/echo")
        per_request = await client.get("/echo", headers={"accept-encoding": "br"})
        client.headers["ACCEPT-ENCODING"] = "identity"
        per_client = await client.get("/echo")
        return default, per_request, per_client

    default, per_request, per_client = drive(target.url, body)
    assert accept_encoding(default) == ["gzip, deflate"]
    assert accept_encoding(per_request) == ["br"]
    assert accept_encoding(per_client) == ["identity"]


def test_compression_off_sends_no_accept_encoding_and_given_headers_win(target):
    async def body(client, recorder):
        return await client.get("/echo")

    assert accept_encoding(drive(target.url, body, compression=False)) == []
    given = drive(target.url, body, headers={"accept-encoding": "zstd"})
    assert accept_encoding(given) == ["zstd"]


def test_a_class_header_replaces_the_built_in_accept_encoding(target):
    async def main():
        ctx = ClientContext(target.url, Recorder(), timeout_s=5.0)
        client = HttpClient(ctx, headers={"accept-encoding": "identity"})  # a class's headers
        try:
            return await client.get("/echo")
        finally:
            await client.close()
            await ctx.close()

    assert accept_encoding(asyncio.run(main())) == ["identity"]


ECHO_ACCEPT_ENCODING = """
    from surge import HttpUser, constant, task

    class Reader(HttpUser):
        wait_time = constant(0.05)

        @task
        async def echo(self):
            resp = await self.client.get("/echo")
            sent = [v for k, v in resp.json()["headers"] if k.lower() == "accept-encoding"]
            resp.failure(f"accept-encoding={sent}")  # reported in failures.csv: what was sent
"""


@pytest.mark.parametrize("flags, sent", [((), "['gzip, deflate']"), (("--no-compression",), "[]")])
def test_no_compression_flag_turns_the_default_header_off(tmp_path, target, flags, sent):
    run = surge_run(tmp_path, ECHO_ACCEPT_ENCODING, target.url, *flags, users=2)
    assert run.proc.returncode == 1, run.proc.stderr  # every request marked failed, on purpose
    assert {row["Error"] for row in run.rows("failures.csv")} == {f"check: accept-encoding={sent}"}


READ_GZIP = """
    from surge import HttpUser, constant, task

    class Reader(HttpUser):
        wait_time = constant(0.02)

        @task
        async def read(self):
            resp = await self.client.get("/gzip")
            resp.expect(json={"hello": "wörld"})
"""


def test_a_run_decodes_what_tasks_read_and_reports_the_wire_size(tmp_path, hostile):
    run = surge_run(tmp_path, READ_GZIP, hostile.url("encoded"), users=2)
    assert run.proc.returncode == 0, run.proc.stderr
    endpoint = run.endpoint("GET", "/gzip")
    assert endpoint["requests"] > 10 and endpoint["failures"] == 0
    assert len(run.summary["endpoints"]) == 1  # no task exception
    stats = {row["Name"]: row for row in run.rows("stats.csv")}
    assert float(stats["/gzip"]["Average Content Size"]) == len(encode("gzip", PAYLOAD_BYTES)[1])


def test_compression_settles_from_file_environment_and_cli(tmp_path):
    from surge.config import settle

    base = {"scenario": "s.py", "host": "http://127.0.0.1:1", "processes": 1}
    assert settle(base, {}, tmp_path).compression is True
    assert settle(base, {"SURGE_COMPRESSION": "off"}, tmp_path).compression is False
    (tmp_path / "surge.toml").write_text("compression = false\n")
    assert settle(base, {}, tmp_path).compression is False
    assert settle({**base, "compression": True}, {}, tmp_path).compression is True  # the CLI wins
