"""The cookies of one client (one virtual user): a jar scoped by domain and path, as browsers keep.

The stdlib's :mod:`http.cookiejar` (what requests and httpx use) parses ``Set-Cookie``, matches
domain, path and ``Secure``, and honours ``Max-Age`` / ``Expires`` (a past date or ``Max-Age=0``
deletes). This module adapts it to the client's raw responses and targets, and gives scenarios
the dict they had (``client.cookies``, see :class:`CookieDict`).

Cookies are not scoped by port (RFC 6265 §8.5, and every browser): a cookie set by
``127.0.0.1:8000`` goes to ``127.0.0.1:9000`` too, not to ``localhost:9000``.

Cost: a client creates its jar at its first cookie; a client without cookies pays nothing. The
jar is consulted when request bytes are built, which the client caches per cookie state
(:attr:`CookieJar.version`), and when a response carries ``Set-Cookie``; a response setting a
cookie to what it already is (a sticky-session cookie on every response) is not parsed again.
``benchmarks/cookies.py`` measures it.
"""
from __future__ import annotations

import http.cookiejar
import time
import urllib.request
from collections.abc import Iterator, MutableMapping

from .head import header_values
from .request import host_header

_time = time.time
#: distinct Set-Cookie header sets, and Cookie headers, a jar remembers
_CACHED = 64


class _Headers:
    """What cookiejar reads of a response: ``info().get_all("Set-Cookie")``."""

    __slots__ = ("_values",)

    def __init__(self, values: list[str]) -> None:
        self._values = values

    def info(self) -> "_Headers":
        return self

    def get_all(self, name: str, default=None):
        return self._values if name.lower() == "set-cookie" else default


def _request(origin: tuple, target: str) -> urllib.request.Request:
    """The request cookiejar matches cookies against (scheme, host, path: no I/O)."""
    return urllib.request.Request(f"{origin[0]}://{host_header(origin)}{target}")


class CookieJar:
    """One client's cookies. ``version`` changes whenever what would be sent may change (not
    when only an expiry moves); past ``expires_at`` (the earliest expiry, epoch s; 0: none) the
    next :meth:`header` or :meth:`expire` drops the cookies whose time is up."""

    __slots__ = ("_jar", "_origin", "_state", "_full", "_applied", "_sent", "_root_only", "version",
                 "expires_at")

    def __init__(self, origin: tuple) -> None:
        self._jar = http.cookiejar.CookieJar()
        self._origin = origin  # the client's base origin: where client.cookies[k] = v applies
        self._state: tuple = ()  # what decides the Cookie headers: (domain, path, name, value, secure)
        self._full: tuple = ()  # the same with each expiry
        #: Set-Cookie headers already applied -> the state they left: the same ones again (a
        #: sticky-session cookie on every response) change nothing and are not parsed again
        self._applied: dict[tuple, tuple] = {}
        #: Cookie header per origin (every cookie has path "/": _root_only) or per (origin, path)
        self._sent: dict = {}
        self._root_only = True
        self.version = 0
        self.expires_at = 0

    def __len__(self) -> int:
        return len(self._state)

    # -- the client's side ----------------------------------------------------------------
    def store(self, origin: tuple, target: str, raw: bytes) -> None:
        """Take the ``Set-Cookie`` headers of a response to ``target`` on ``origin``."""
        values = tuple(v.decode("latin-1") for v in header_values(raw, b"set-cookie"))
        if not values:
            return
        # what the result depends on: the origin, the request's directory (the default path),
        # the headers, and for Max-Age the second it arrives (cookiejar counts whole seconds)
        relative = any("max-age" in v.lower() for v in values)
        key = (origin, target.partition("?")[0].rpartition("/")[0], values, int(_time()) if relative else 0)
        if self._applied.get(key) == self._full:
            return
        self._jar.extract_cookies(_Headers(list(values)), _request(origin, target))
        self._changed()
        if len(self._applied) >= _CACHED:
            self._applied.clear()
        self._applied[key] = self._full

    def header(self, origin: tuple, target: str) -> str | None:
        """The ``Cookie`` value for a request to ``target`` on ``origin``, or None."""
        if 0 < self.expires_at <= _time():
            self.expire()
        if not self._state:
            return None
        key = origin if self._root_only else (origin, target.partition("?")[0])
        try:
            return self._sent[key]
        except KeyError:
            pass
        request = _request(origin, target)
        self._jar.add_cookie_header(request)
        value = request.get_header("Cookie")
        if len(self._sent) >= _CACHED:
            self._sent.clear()
        self._sent[key] = value
        return value

    def expire(self) -> None:
        """Drop the cookies whose time is up (the next request bytes go without them)."""
        self._jar.clear_expired_cookies()
        self._changed()

    def _changed(self) -> None:
        cookies = list(self._jar)
        full = tuple((c.domain, c.path, c.name, c.value, c.secure, c.expires) for c in cookies)
        if full == self._full:
            return
        self._full = full
        self.expires_at = min((c.expires for c in cookies if c.expires is not None), default=0)
        state = tuple(c[:5] for c in full)
        if state != self._state:
            self._state = state
            self._root_only = all(c.path == "/" for c in cookies)
            self._sent.clear()
            self.version += 1

    # -- the scenario's dict view ------------------------------------------------------------
    def names(self) -> list[str]:
        return list(dict.fromkeys(c.name for c in self._jar))

    def value(self, name: str) -> str | None:
        """The value of cookie ``name``: the base origin's own first, else any domain's."""
        found = [c for c in self._jar if c.name == name]
        host = self._origin[1]
        own = [c for c in found if c.domain.lstrip(".") in (host, host + ".local")]
        for cookie in own or found:
            return cookie.value or ""
        return None

    def put(self, name: str, value: str) -> None:
        """A host-only cookie for the base origin, path ``/`` (what ``cookies[name] = value`` means)."""
        request = _request(self._origin, "/")
        self.remove(name, host_only=True)
        for cookie in self._jar.make_cookies(_Headers([f"{name}=_; Path=/"]), request):
            cookie.value = str(value)  # as given: not re-parsed, so any text is kept whole
            self._jar.set_cookie(cookie)
        self._changed()

    def remove(self, name: str, host_only: bool = False) -> bool:
        """Drop cookie ``name`` (on the base host only, or on every domain); whether one was there."""
        host = self._origin[1]
        gone = [c for c in self._jar if c.name == name
                and (not host_only or c.domain.lstrip(".") in (host, host + ".local"))]
        for c in gone:
            self._jar.clear(c.domain, c.path, c.name)
        if gone:
            self._changed()
        return bool(gone)

    def clear(self) -> None:
        self._jar.clear()
        self._changed()


class CookieDict(MutableMapping):
    """``client.cookies``: the jar as a dict of name -> value, as scenarios have used it.

    Reading gives a cookie's value (the base origin's when several domains set that name);
    ``cookies[name] = value`` sets a host-only cookie for the base origin with path ``/``;
    ``del`` and ``clear()`` drop cookies on every domain."""

    __slots__ = ("_jar",)

    def __init__(self, jar: CookieJar) -> None:
        self._jar = jar

    def __getitem__(self, name: str) -> str:
        value = self._jar.value(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        self._jar.put(name, value)

    def __delitem__(self, name: str) -> None:
        if not self._jar.remove(name):
            raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._jar.names())

    def __len__(self) -> int:
        return len(self._jar.names())

    def clear(self) -> None:
        self._jar.clear()

    def copy(self) -> dict[str, str]:
        """A plain dict of the cookies now (what ``json.dumps`` or a later comparison wants)."""
        return dict(self.items())

    def __repr__(self) -> str:
        return repr(dict(self.items()))
