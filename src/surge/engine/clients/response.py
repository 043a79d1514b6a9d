"""What a scenario gets back from ``self.client``: a response, with checks that mark it failed.

A request that got no response (connect, timeout, reset, protocol) still returns a Response,
with ``status == 0`` and ``error`` set: a failing target never turns into exception storms in
the tasks. The failure is already counted; checks on it do not count it twice.
"""
from __future__ import annotations

import json as _json
from typing import Any

from ...metrics.recorder import Series
from .errors import CHECK

_MISSING = object()


class Headers:
    """Case-insensitive, read-only view of response headers (last value wins for ``[]``)."""

    __slots__ = ("_raw", "_map")

    def __init__(self, raw: list) -> None:
        self._raw = raw
        self._map: dict[str, str] | None = None

    def _build(self) -> dict[str, str]:
        if self._map is None:
            self._map = {n.decode("latin-1").lower(): v.decode("latin-1") for n, v in self._raw}
        return self._map

    def __getitem__(self, name: str) -> str:
        return self._build()[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        return self._build().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._build()

    def items(self):
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._raw]

    def __iter__(self):
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"


class Response:
    __slots__ = ("status", "_raw_headers", "_headers", "content", "url", "method", "name", "elapsed_ms",
                 "error", "_series", "_failed", "_deferred", "_verdict")

    def __init__(self, method: str, url: str, name: str, series: Series, status: int = 0,
                 raw_headers: list | None = None, content: bytes = b"", elapsed_ms: float = 0.0,
                 error: str | None = None, failed: bool = False, deferred: bool = False) -> None:
        self.method = method
        self.url = url
        self.name = name
        self.status = status
        self._raw_headers = raw_headers or []
        self._headers: Headers | None = None
        self.content = content
        self.elapsed_ms = elapsed_ms
        self.error = error
        self._series = series
        self._failed = failed
        self._deferred = deferred  # catch_response: the verdict is committed on exit
        self._verdict: tuple[str, str] | None = None

    # -- reading ----------------------------------------------------------------------------
    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self._raw_headers)
        return self._headers

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
        self._deferred = False
        if self._verdict is not None and not self._failed:
            kind, message = self._verdict
            self._verdict = None
            self.failure(message, kind)
        return False

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

