"""``locust.contrib.fasthttp``: FastHttpUser is the same user as HttpUser on surge's client."""
from __future__ import annotations

import contextlib
import json as _json

from .._client import HttpSession, LocustResponse
from .._users import HttpUser

FastHttpSession = HttpSession
FastResponse = LocustResponse
ResponseContextManager = LocustResponse


class FastHttpUser(HttpUser):
    """``locust.FastHttpUser`` (its tuning attributes are accepted and not needed)."""

    abstract = True
    network_timeout = 60.0
    connection_timeout = 60.0
    max_redirects = 5
    max_retries = 1
    insecure = True
    default_headers = None
    concurrency = 10
    proxy_host = None
    proxy_port = None

    def __init__(self, client=None, data=None, user_id: int = 0) -> None:
        super().__init__(client, data, user_id)
        if self.default_headers:
            self.client.headers.update(self.default_headers)

    @contextlib.contextmanager
    def rest(self, method: str, url: str, headers: dict | None = None, **kwargs):
        """Locust's JSON helper: ``resp.js`` is the parsed body; a bad body or a failed
        assertion in the block fails the request (kind ``check``)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
        with self.client.request(method, url, headers=headers, catch_response=True, **kwargs) as resp:
            resp.js = None
            if resp.text:
                try:
                    resp.js = _json.loads(resp.text)
                except ValueError:
                    resp.failure(f"Could not parse response as JSON. {resp.text[:250]}")
            try:
                yield resp
            except (AssertionError, KeyError, IndexError, TypeError) as exc:
                resp.failure(f"{type(exc).__name__}: {exc}")


__all__ = ["FastHttpSession", "FastHttpUser", "ResponseContextManager"]
