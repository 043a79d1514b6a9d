"""Reading response heads from raw bytes (engine/clients/head.py): what the parser no longer hands
over header by header must still come out complete, in order, with interim 1xx heads skipped."""
from __future__ import annotations

import httptools
from hypothesis import given
from hypothesis import strategies as st

from surge.engine.clients.head import final_head, has_length, head_span, header_lines, header_values, may_set_cookie

HEAD = b"HTTP/1.1 200 OK\r\nServer: x\r\nSet-Cookie: a=1\r\nContent-Length: 2\r\nset-cookie: b=2\r\n\r\n"


def test_header_lines_keep_order_spelling_and_repeats():
    assert header_lines(HEAD + b"ok") == [(b"Server", b"x"), (b"Set-Cookie", b"a=1"),
                                          (b"Content-Length", b"2"), (b"set-cookie", b"b=2")]
    assert header_values(HEAD, b"set-cookie") == [b"a=1", b"b=2"]


def test_interim_heads_are_skipped():
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + HEAD + b"ok"
    start, stop = head_span(raw)
    assert raw[start:stop] == HEAD
    assert header_values(raw, b"link") == []  # the hint belonged to the interim response
    assert header_values(raw, b"server") == [b"x"]


def test_an_incomplete_head_has_no_span():
    assert head_span(b"HTTP/1.1 200 OK\r\nServer: x\r\n") is None
    assert head_span(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") is None
    assert final_head(b"HTTP/1.1 200") == b""
    assert header_lines(b"") == []


def test_101_is_a_final_response():
    raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    assert header_values(raw, b"upgrade") == [b"websocket"]


def test_obs_fold_bare_lf_and_whitespace():
    raw = b"HTTP/1.1 200 OK\nX-Long: one\n  two\n\tthree\nX-Pad:   v  \n\n"
    assert header_lines(raw) == [(b"X-Long", b"one two three"), (b"X-Pad", b"v")]


def test_has_length():
    assert has_length(HEAD)
    assert has_length(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    assert not has_length(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody until the close")


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
_value = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=;/ ,.", max_size=20).map(str.strip)


@given(st.lists(st.tuples(_token, _value), max_size=8), st.booleans())
def test_header_lines_agree_with_llhttp(headers, cookie_case):
    """What llhttp reports header by header is what header_lines reads from the bytes."""
    if cookie_case:
        headers = [*headers, ("sEt-CoOkIe", "k=v")]
    raw = b"HTTP/1.1 200 OK\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in headers) + \
        b"Content-Length: 0\r\n\r\n"
    seen: list = []

    class Callbacks:
        def on_header(self, name, value):
            seen.append((name, value))

    httptools.HttpResponseParser(Callbacks()).feed_data(raw)
    assert header_lines(raw) == seen
    has_cookie = any(n.lower() == b"set-cookie" for n, _ in seen)
    assert may_set_cookie(raw) or not has_cookie  # never a false negative
