"""The demo target: a small "corrections" API that ``surge demo`` puts under load.

Endpoints (JSON in, JSON out; timestamps are ISO 8601 UTC strings):

- ``POST /v1/corrections`` ``{"subject_id": int, "field": str, "value": str}`` -> 201 with the
  correction. An ``Idempotency-Key`` header makes retries safe: the same key again returns the
  *same* correction, again with **201** (like the first answer, as Stripe does) plus the header
  ``Idempotent-Replayed: true``; no second row is written. The same key with a different body
  is a client bug -> 409. An invalid body -> 422.
- ``GET /v1/facts?subject_id=N`` -> 200, the current facts: the latest correction per field.
- ``GET /v1/history?subject_id=N&limit=K`` -> 200, corrections newest first (K: 1..100, default 20).
- ``POST /v1/enforcement/heartbeat`` ``{"agent_id": str}`` -> 201, records a heartbeat.
- ``GET /v1/enforcement/status`` -> 200, agent and heartbeat counts, last heartbeat per agent.
- ``GET /v1/enforcement/escalation?stale_after_s=S`` -> 200, agents silent for more than S
  seconds (default 30), oldest first.
- ``GET /health`` -> 200 ``{"status": "ok"}`` once the database answers, else 503.
- ``WS /v1/stream``: subscribe to new corrections, and a ping/pong op (``stream.py``).

Storage is chosen by :func:`create_app`: SQLite (a file or ``:memory:``) by default, PostgreSQL
for a ``postgresql://`` URL; ``DATABASE_URL`` is used when no database is passed.

It imports nothing from surge, so it cannot flatter the tool that measures it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import os
import time
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .store import Store, open_store
from .stream import feed_of, stream

DEFAULT_DATABASE = ":memory:"
_MAX_FIELD_LEN = 64
_MAX_VALUE_LEN = 1024
_MAX_KEY_LEN = 255
_MAX_HISTORY = 100
_MAX_STALE_AGENTS = 100


class Invalid(Exception):
    """A request the API refuses; rendered as 422 with the offending location and reason."""

    def __init__(self, loc: str, msg: str) -> None:
        super().__init__(f"{loc}: {msg}")
        self.loc, self.msg = loc, msg


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.timezone.utc).isoformat(timespec="milliseconds")


def _store(request: Request) -> Store:
    return request.app.state.store


def _int_param(request: Request, name: str, default: int | None, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise Invalid(f"query.{name}", "field required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"query.{name}", f"must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise Invalid(f"query.{name}", f"must be between {lo} and {hi}, got {value}")
    return value


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise Invalid("body", "must be valid JSON") from None
    if not isinstance(body, dict):
        raise Invalid("body", "must be a JSON object")
    return body


def _str_field(body: dict[str, Any], name: str, max_len: int) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise Invalid(f"body.{name}", "field required (a string)")
    if not value or len(value) > max_len:
        raise Invalid(f"body.{name}", f"must be 1..{max_len} characters")
    return value


def _subject_id(body: dict[str, Any]) -> int:
    value = body.get("subject_id")
    if isinstance(value, bool) or not isinstance(value, int):  # bool is an int in Python
        raise Invalid("body.subject_id", "field required (an integer)")
    if not 1 <= value < 2**63:
        raise Invalid("body.subject_id", f"must be a positive integer, got {value}")
    return value


def _render_correction(c: dict[str, Any]) -> dict[str, Any]:
    return {**c, "created_at": _iso(c["created_at"])}


async def create_correction(request: Request) -> JSONResponse:
    body = await _json_object(request)
    subject_id = _subject_id(body)
    field = _str_field(body, "field", _MAX_FIELD_LEN)
    value = _str_field(body, "value", _MAX_VALUE_LEN)
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= _MAX_KEY_LEN:
        raise Invalid("header.Idempotency-Key", f"must be 1..{_MAX_KEY_LEN} characters")
    correction, created = await _store(request).create_correction(subject_id, field, value, key)
    if created:  # pushed to the subscribers of /v1/stream
        feed_of(request.app).publish(_render_correction(correction))
    if not created and (correction["subject_id"], correction["field"], correction["value"]) != (
        subject_id,
        field,
        value,
    ):
        detail = "Idempotency-Key already used with a different body"
        return JSONResponse({"detail": detail}, status_code=409)
    headers = {} if created else {"Idempotent-Replayed": "true"}
    return JSONResponse(_render_correction(correction), status_code=201, headers=headers)


async def get_facts(request: Request) -> JSONResponse:
    subject_id = _int_param(request, "subject_id", None, 1, 2**63 - 1)
    facts = await _store(request).facts(subject_id)
    return JSONResponse(
        [{**f, "subject_id": subject_id, "updated_at": _iso(f["updated_at"])} for f in facts]
    )


async def get_history(request: Request) -> JSONResponse:
    subject_id = _int_param(request, "subject_id", None, 1, 2**63 - 1)
    limit = _int_param(request, "limit", 20, 1, _MAX_HISTORY)
    rows = await _store(request).history(subject_id, limit)
    return JSONResponse([_render_correction(c) for c in rows])


async def post_heartbeat(request: Request) -> JSONResponse:
    agent_id = _str_field(await _json_object(request), "agent_id", _MAX_FIELD_LEN)
    now = time.time()
    count = await _store(request).heartbeat(agent_id, now)
    return JSONResponse(
        {"agent_id": agent_id, "received_at": _iso(now), "heartbeats": count}, status_code=201
    )


async def get_status(request: Request) -> JSONResponse:
    agents = await _store(request).agents()
    latest = max((a["last_heartbeat_at"] for a in agents), default=None)
    return JSONResponse(
        {
            "agents": len(agents),
            "heartbeats": sum(a["heartbeats"] for a in agents),
            "latest_heartbeat_at": None if latest is None else _iso(latest),
            "last_heartbeat": {a["agent_id"]: _iso(a["last_heartbeat_at"]) for a in agents},
        }
    )


async def get_escalation(request: Request) -> JSONResponse:
    raw = request.query_params.get("stale_after_s", "30")
    try:
        stale_after_s = float(raw)
    except ValueError:
        raise Invalid("query.stale_after_s", f"must be a number, got {raw!r}") from None
    if not 0 <= stale_after_s <= 86_400:
        raise Invalid("query.stale_after_s", f"must be between 0 and 86400, got {raw}")
    now = time.time()
    stale = await _store(request).stale_agents(now - stale_after_s, _MAX_STALE_AGENTS)
    agents = [
        {
            "agent_id": a["agent_id"],
            "last_heartbeat_at": _iso(a["last_heartbeat_at"]),
            "age_s": round(now - a["last_heartbeat_at"], 3),
        }
        for a in stale
    ]
    return JSONResponse({"stale_after_s": stale_after_s, "count": len(agents), "agents": agents})


async def health(request: Request) -> JSONResponse:
    try:
        await _store(request).ping()
    except Exception as exc:  # any database failure means "not healthy", never a 500
        return JSONResponse({"status": "error", "detail": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok"})


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Invalid)
    return JSONResponse({"detail": [{"loc": exc.loc, "msg": exc.msg}]}, status_code=422)


class BearerToken:
    """Require ``Authorization: Bearer TOKEN`` on every route but ``/health`` (the WebSocket too:
    its handshake is refused with 403).

    Used when the server is told to listen beyond loopback: an exposed demo must not be an
    open write endpoint. A plain ASGI middleware, so it costs nothing per request otherwise.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != "/health":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                response = JSONResponse({"detail": "missing or wrong bearer token"}, 401)
                await response(scope, receive, send)
                return
        if scope["type"] == "websocket" and not hmac.compare_digest(
                dict(scope["headers"]).get(b"authorization", b""), self._expected):
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        await self.app(scope, receive, send)


ROUTES = [
    Route("/v1/corrections", create_correction, methods=["POST"]),
    Route("/v1/facts", get_facts, methods=["GET"]),
    Route("/v1/history", get_history, methods=["GET"]),
    Route("/v1/enforcement/heartbeat", post_heartbeat, methods=["POST"]),
    Route("/v1/enforcement/status", get_status, methods=["GET"]),
    Route("/v1/enforcement/escalation", get_escalation, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    WebSocketRoute("/v1/stream", stream),
]


def resolve_database(database: str | None) -> str:
    """The database to use: the argument, else ``DATABASE_URL``, else in-memory SQLite."""
    return database or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE


def create_app(database: str | None = None, token: str | None = None) -> ASGIApp:
    """The ASGI app. ``database``: a SQLite path, ``:memory:`` or a ``postgresql://`` URL;
    when None, ``DATABASE_URL`` if set, else an in-memory SQLite database. Tables and indexes
    are created at startup if missing."""
    target = resolve_database(database)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(target)
        await store.open()
        app.state.store = store
        try:
            yield
        finally:
            await store.close()

    app = Starlette(routes=ROUTES, lifespan=lifespan, exception_handlers={Invalid: _invalid})
    return app if token is None else BearerToken(app, token)
