"""Reading a response head from its raw bytes, on demand. Pure: no I/O, no state.

The connection does not ask the parser for each header (a Python callback per header line was
~10% of a request's CPU): it keeps the raw bytes the response arrived in, up to the start of its
body, and these functions find what is needed when it is needed: the headers when the scenario
reads ``resp.headers``, ``Set-Cookie`` and ``Location`` when present, whether the body is
delimited by the close. The raw bytes may begin with interim ``1xx`` heads (``100 Continue``)
and run on into the body; the *final* head is the first one whose status is not 1xx (or 101).

llhttp has already validated the head by the time anything here runs, so this parsing can be
plain: header lines are ``name: value``, a line starting with a space or tab continues the
previous value (obs-fold), lines end with CRLF (a bare LF is accepted too).
"""
from __future__ import annotations

import re

_END = re.compile(rb"\r?\n\r?\n")


def head_span(raw: bytes) -> tuple[int, int] | None:
    """``(start, stop)`` of the final head in ``raw`` (status line to the blank line, inclusive),
    or None while it is incomplete."""
    pos = 0
    while True:
        match = _END.search(raw, pos)
        if match is None:
            return None
        status = _status(raw[pos:match.start()])
        if 100 <= status < 200 and status != 101:
            pos = match.end()  # an interim response: the final one follows
            continue
        return pos, match.end()


def final_head(raw: bytes) -> bytes:
    """The final head of ``raw`` (b"" while incomplete)."""
    span = head_span(raw)
    return b"" if span is None else raw[span[0]:span[1]]


def header_lines(raw: bytes) -> list[tuple[bytes, bytes]]:
    """The header ``(name, value)`` pairs of the final head in ``raw``, in order, as sent."""
    head = final_head(raw)
    pairs: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\n")[1:]:
        line = line.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if pairs:  # obs-fold: a continuation of the previous value
                name, value = pairs[-1]
                pairs[-1] = (name, (value + b" " + line.strip(b" \t")).strip(b" \t"))
            continue
        name, sep, value = line.partition(b":")
        if sep:
            pairs.append((name, value.strip(b" \t")))
    return pairs


def header_values(raw: bytes, name: bytes) -> list[bytes]:
    """Every value of header ``name`` (lower case) in the final head of ``raw``."""
    return [value for key, value in header_lines(raw) if key.lower() == name]


def has_length(raw: bytes) -> bool:
    """Whether the final head frames its body (Content-Length or Transfer-Encoding); without
    either, the body of a response runs until the connection closes."""
    return any(key.lower() in (b"content-length", b"transfer-encoding") for key, _ in header_lines(raw))


def may_set_cookie(raw: bytes) -> bool:
    """A cheap test (~0.2 µs) that ``raw`` may carry a Set-Cookie header: never a false negative;
    a false positive (the text in some value) only costs a parse that finds none."""
    return bool(raw.lower().partition(b"set-cookie")[1])  # partition: ~70 ns less than find()


def _status(status_line_and_headers: bytes) -> int:
    """The status code of a head (``HTTP/1.1 200 OK``); 0 when it cannot be read."""
    parts = status_line_and_headers.split(b" ", 2)
    if len(parts) < 2:
        return 0
    code = parts[1].split(b"\r", 1)[0].split(b"\n", 1)[0]
    return int(code) if code.isdigit() else 0
