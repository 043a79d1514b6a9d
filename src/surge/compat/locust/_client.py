"""``self.client`` of a locustfile's HttpUser / FastHttpUser: Locust's sync session on surge's client.

Each call hands the request coroutine of the user's :class:`~surge.engine.clients.http.HttpClient`
to the event loop through the greenlet bridge and returns the response. The response is surge's
own object with Locust's names added (its class is swapped for :class:`LocustResponse`, no copy),
so counting, timing and failure kinds are the engine's: ``response.failure(msg)`` is kind
``check``, a status >= 400 is kind ``status``, a refused connection is ``connect`` with
``status_code == 0`` as in Locust.

Called outside a greenlet (an ``async def`` task of a Locust user) the same methods return the
awaitable surge request, so ``await self.client.get("/")`` works there too.
"""
from __future__ import annotations

import datetime
from typing import Any

from ...engine.clients.errors import CHECK
from ...engine.clients.response import Response
from ...model.errors import ConfigError
from ._bridge import _TaskGreenlet, _getcurrent
from .event import events
from .exception import CatchResponseError, ResponseError
from .stats import local_stats

#: Locust keyword arguments surge's client takes as they are
_PASSED = frozenset(("params", "json", "data", "headers", "timeout", "allow_redirects", "name", "catch_response"))
#: Locust/requests keywords with no surge counterpart: what to do instead
_UNSUPPORTED = {
    "files": "send the multipart body yourself with data= and a Content-Type header",
    "auth": "set an Authorization header (headers= or self.client.headers)",
    "cookies": "set them on self.client.cookies",
    "verify": "pass --insecure to surge run",
    "cert": "client certificates are not supported yet",
    "proxies": "surge sends to the target directly",
    "stream": "bodies are always read whole",
    "hooks": "use events.request listeners",
    "context": "the request event's context is always {}",
}


class HTTPError(ResponseError):
    """``raise_for_status()`` on a status >= 400 (requests' name for it)."""

    def __init__(self, message: str, response: Any = None) -> None:
        super().__init__(message)
        self.response = response


class LocustResponse(Response):
    """A surge :class:`Response` with the attributes Locust users read (requests' names)."""

    __slots__ = ()

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def ok(self) -> bool:
        return 0 < self.status < 400

    @property
    def elapsed(self) -> datetime.timedelta:
        return datetime.timedelta(milliseconds=self.elapsed_ms)

    @property
    def reason(self) -> str:
        first = self._raw.split(b"\r\n", 1)[0].split(b" ", 2)
        return first[2].decode("latin-1") if len(first) > 2 else ""

    @property
    def encoding(self) -> str:
        return "utf-8"

    @property
    def request_meta(self) -> dict:
        return {"request_type": self.method, "name": self.name, "response_time": self.elapsed_ms,
                "content_size": len(self._body), "exception": self._exception()}

    def raise_for_status(self) -> None:
        if self.error is not None:
            raise HTTPError(self.error, self)
        if self.status >= 400:
            raise HTTPError(f"{self.status} Error for url: {self.url}", self)

    def failure(self, exc: Any, kind: str = CHECK) -> "LocustResponse":
        """Mark the request failed (kind ``check``); Locust passes a message or an exception."""
        return super().failure(str(exc), kind)

    def _exception(self) -> Exception | None:
        if self.error is not None:
            return ConnectionError(self.error)
        verdict = self._verdict
        if self._failed or verdict is not None:
            return CatchResponseError(verdict[1] if verdict else f"HTTP {self.status}")
        return None

    # ``with self.client.get(..., catch_response=True) as response:``
    def __enter__(self) -> "LocustResponse":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        suppress = False
        if exc is not None and isinstance(exc, ResponseError) and self._deferred:
            self._verdict = (CHECK, str(exc))  # Locust: raising ResponseError in the block fails the request
            suppress = True
        if self._deferred:
            self.commit()
            if local_stats.kept or events.request._handlers:
                _report(self)
        return suppress


def _report(resp: LocustResponse) -> None:
    """The request as Locust reports it: the process's ``environment.stats`` (when the locustfile
    reads them, see ``stats.local_stats``) and ``events.request``."""
    exception = resp._exception() if (resp._failed or resp.error is not None) else None
    if local_stats.kept:
        local_stats.log(resp.method, resp.name, resp.elapsed_ms, len(resp._body), exception)
    if events.request._handlers:
        events.request.fire(request_type=resp.method, name=resp.name, response_time=resp.elapsed_ms,
                            response_length=len(resp._body), response=resp, context={},
                            exception=exception, start_time=None, url=resp.url)


class HttpSession:
    """Locust's ``self.client``: ``get/post/put/patch/delete/head/options/request``."""

    __slots__ = ("_client", "base_url", "request_name")

    def __init__(self, client, base_url: str | None = None) -> None:
        self._client = client
        self.base_url = base_url
        self.request_name = None

    @property
    def headers(self) -> dict:
        return self._client.headers

    @headers.setter
    def headers(self, value: dict) -> None:
        self._client.headers = value

    @property
    def cookies(self):
        return self._client.cookies

    @cookies.setter
    def cookies(self, value) -> None:
        self._client.cookies = value

    def request(self, method: str, url: str, **kw):
        method = method.upper()
        if kw and not kw.keys() <= _PASSED:
            _refuse(kw.keys() - _PASSED)
        if type(_getcurrent()) is not _TaskGreenlet:
            return self._client.request(method, url, **kw)  # an async task: the awaitable surge request
        if not kw:
            coro = self._client._send(method, url, None)
            self._client.created += 1
        else:
            call = self._client.request(method, url, **kw)
            coro = call._coro if kw.get("catch_response") else call
        resp = _getcurrent().parent.switch(coro)  # await_only() written out: a call less per request
        resp.__class__ = LocustResponse
        if not resp._deferred and (local_stats.kept or events.request._handlers):
            _report(resp)
        return resp

    def get(self, url: str, **kw):
        current = _getcurrent()
        if kw:
            return self.request("GET", url, **kw)
        if type(current) is not _TaskGreenlet:
            return self._client.get(url)  # an async task: the awaitable surge request
        client = self._client  # the plain GET, the most common request, written out
        client.created += 1
        resp = current.parent.switch(client._send("GET", url, None))
        resp.__class__ = LocustResponse
        if local_stats.kept or events.request._handlers:
            _report(resp)
        return resp

    def post(self, url: str, data=None, json=None, **kw):
        if data is not None:
            kw["data"] = data
        if json is not None:
            kw["json"] = json
        return self.request("POST", url, **kw)

    def put(self, url: str, data=None, **kw):
        if data is not None:
            kw["data"] = data
        return self.request("PUT", url, **kw)

    def patch(self, url: str, data=None, **kw):
        if data is not None:
            kw["data"] = data
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw):
        return self.request("DELETE", url, **kw)

    def head(self, url: str, **kw):
        return self.request("HEAD", url, **kw)

    def options(self, url: str, **kw):
        return self.request("OPTIONS", url, **kw)

    def close(self) -> None:
        """Connections are closed when the user stops."""


def _refuse(keys) -> None:
    key = sorted(keys)[0]
    hint = _UNSUPPORTED.get(key, f"surge's client takes {', '.join(sorted(_PASSED))}")
    raise ConfigError(f"self.client: keyword {key}= is not supported by surge's Locust layer", hint)
