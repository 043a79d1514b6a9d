"""What a scenario gets back from ``self.client``: a response, with checks that mark it failed.

A request that got no response (connect, timeout, reset, protocol) still returns a Response,
with ``status == 0`` and ``error`` set: a failing target never turns into exception storms in
the tasks. The failure is already counted; checks on it do not count it twice.

The body is decoded from its ``Content-Encoding`` when it is first read (``content``, ``text``,
``json()``; see ``codings.py``), not when it arrives: most responses of a load test are never read.
"""
from __future__ import annotations

import json as _json
from typing import Any

from ...metrics.recorder import Series
from .codings import DecodeError, decode_body, may_be_encoded
from .errors import CHECK, PROTOCOL
from .head import header_lines

_MISSING = object()


class Headers:
    """Case-insensitive, read-only view of response headers (last value wins for ``[]``).

    Built from the raw head bytes the first time it is read (see ``head.py``): most responses
    of a load test are never asked for a header, so none of them pays for parsing them.
    """

    __slots__ = ("_raw", "_pairs", "_map")

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._pairs: list[tuple[str, str]] | None = None
        self._map: dict[str, str] | None = None

    def _build(self) -> dict[str, str]:
        if self._map is None:
            self._map = {name.lower(): value for name, value in self.items()}
        return self._map

    def __getitem__(self, name: str) -> str:
        return self._build()[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        return self._build().get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        """Every value of a header that may repeat (``Set-Cookie``), in order."""
        wanted = name.lower()
        return [value for key, value in self.items() if key.lower() == wanted]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._build()

    def items(self) -> list[tuple[str, str]]:
        """The headers as sent: original spelling and order, repeats included."""
        if self._pairs is None:
            self._pairs = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in header_lines(self._raw)]
        return list(self._pairs)

    def keys(self):
        return self._build().keys()

    def __iter__(self):
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


class Response:
    """What awaiting a request gives. ``status`` is 0 and ``error`` set when no response came;
    ``error`` is also set (``status`` kept) once a body read turns out undecodable (``content``).

    Created for every request, so ``__init__`` sets only what every response has; the rest
    (failure state, the headers view) are class-level defaults until a response sets its own.
    """

    __slots__ = ("status", "_body", "elapsed_ms", "_raw", "_request", "__dict__")

    error: str | None = None
    _content: bytes | None = None  # the body decoded, once read
    _failed = False
    _deferred = False  # catch_response: the verdict is committed on exit
    _verdict: tuple[str, str] | None = None
    _headers: Headers | None = None

    def __init__(self, request: tuple, status: int, raw: bytes, content: bytes, elapsed_ms: float) -> None:
        self._request = request  # (method, url, series, origin, request bytes)
        self.status = status
        self._raw = raw
        self._body = content  # as it came off the wire (de-chunked, still content-encoded)
        self.elapsed_ms = elapsed_ms

    @property
    def method(self) -> str:
        return self._request[0]

    @property
    def url(self) -> str:
        return self._request[1]

    @property
    def name(self) -> str:
        """The endpoint name the request is counted under."""
        return self._request[2].name

    @property
    def _series(self) -> Series:
        return self._request[2]

    # -- reading ----------------------------------------------------------------------------
    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self._raw)
        return self._headers

    @property
    def content(self) -> bytes:
        """The body, decoded from its Content-Encoding on first read; ``len(content)`` is its
        decoded size (the recorder counts the bytes received, the size on the wire).

        A body that cannot be decoded (corrupt, or ``br``/``zstd`` without their library) marks
        the request failed with kind ``protocol``, naming the coding (counted once, like any
        failure), sets ``error`` and reads as ``b""``, as the body of any failed request does:
        the server's bad bytes are a failure of the request, not an exception in the task."""
        content = self._content
        if content is None:
            content = self._body
            if content and may_be_encoded(self._raw):
                try:
                    content = decode_body(self._raw, content)
                except DecodeError as exc:
                    content = b""
                    self.error = f"{PROTOCOL}: {exc}"
                    self.failure(str(exc), PROTOCOL)
            self._content = content
        return content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.content)

    @property
    def ok(self) -> bool:
        return not self._failed and self._verdict is None and 0 < self.status < 400

    @property
    def failed(self) -> bool:
        return self._failed or self._verdict is not None

    # -- checks -----------------------------------------------------------------------------
    def failure(self, message: str, kind: str = CHECK) -> "Response":
        """Mark this request failed with ``message`` (counted once, however often called).

        Inside ``catch_response`` the verdict is only committed on exit, and the scenario's own
        ``failure("...")`` replaces the automatic ``HTTP 4xx`` one: the user's message is kept.
        """
        if self._failed:
            return self
        if self._deferred:
            self._verdict = (kind, message)
        elif self._verdict is None:
            self._failed = True
            self._series.fail(kind, message)
        return self

    def success(self) -> "Response":
        """In ``catch_response`` mode, accept the response whatever its status."""
        if not self._failed:
            self._verdict = None
        return self

    def expect(self, status: int | tuple | range | None = None, json: Any = _MISSING,
               contains: str | bytes | None = None) -> "Response":
        """Check the status, a JSON subset (``{"field": value}`` or a callable), or a body substring."""
        if self.error is not None:
            return self
        if status is not None:
            wanted = (status,) if isinstance(status, int) else status
            if self.status not in wanted:
                return self.failure(f"expected status {status}, got {self.status}")
        if json is not _MISSING:
            problem = _json_mismatch(self, json)
            if problem:
                return self.failure(problem)
        if contains is not None:
            needle = contains.encode() if isinstance(contains, str) else contains
            if needle not in self.content:
                return self.failure(f"body does not contain {contains!r}")
        return self

    # -- catch_response -----------------------------------------------------------------------
    async def __aenter__(self) -> "Response":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        self.commit()
        return False

    def commit(self) -> None:
        """End ``catch_response`` mode: count the verdict reached in it (a failure, or none)."""
        self._deferred = False
        if self._verdict is not None and not self._failed:
            kind, message = self._verdict
            self._verdict = None
            self.failure(message, kind)

    def __repr__(self) -> str:
        return f"<Response {self.method} {self.url} {self.status or self.error}>"


def _json_mismatch(resp: Response, expected: Any) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return "body is not JSON"
    if callable(expected):
        return None if expected(body) else "JSON check returned false"
    if isinstance(expected, dict) and isinstance(body, dict):
        for key, value in expected.items():
            if body.get(key, _MISSING) != value:
                return f"JSON field {key!r} is {body.get(key, '<missing>')!r}, expected {value!r}"
        return None
    return None if body == expected else "JSON body differs from the expected value"


def status_failed(status: int, expect_status) -> bool:
    if expect_status is None:
        return status >= 400
    wanted = (expect_status,) if isinstance(expect_status, int) else expect_status
    return status not in wanted

