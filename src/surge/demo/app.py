"""The demo target: a small "corrections" API that ``surge demo`` puts under load.

Endpoints (JSON in, JSON out; timestamps are ISO 8601 UTC strings). Most take two request
shapes: the original one, and the one the corrections guide's own locustfile sends (its
subjects are ``{type, id}`` with text ids); each correction answers in the shape that wrote it.

- ``POST /v1/corrections`` ``{"subject_id": int, "field": str, "value": str}``, or the guide's
  ``{"subject": {"type": str, "id": str}, "field_key": str, "value": any JSON, "class": str,
  "permissions": {"readers": [str]}, "actor": {...}, "idempotency_key": str}`` (``class``
  defaults to "FACT"; ``permissions`` and ``actor`` are optional) -> 201 with the correction.
  An idempotency key (the ``Idempotency-Key`` header or the body's ``idempotency_key``) makes
  retries safe: the same key again returns the *same* correction, again with **201** (like the
  first answer, as Stripe does) plus the header ``Idempotent-Replayed: true``; no second row is
  written. The same key with a different body is a client bug -> 409. An invalid body -> 422.
- ``GET /v1/facts?subject_id=N`` or ``?subject_type=T&subject_id=ID[&requester_id=R]`` -> 200,
  the current facts: the latest correction per field, leaving out those whose
  ``permissions.readers`` does not name the requester.
- ``GET /v1/history?subject_id=N&limit=K`` (or ``subject_type=T&subject_id=ID``) -> 200,
  corrections newest first (K: 1..100, default 20).
- ``POST /v1/enforcement/heartbeat`` ``{"agent_id": str}`` or the guide's ``{"system_id": str,
  "enforced_correction_version": str | int}`` -> 201, records a heartbeat.
- ``GET /v1/enforcement/status`` -> 200, agent and heartbeat counts, last heartbeat per agent.
- ``GET /v1/enforcement/escalation?stale_after_s=S`` -> 200, agents silent for more than S
  seconds (default 30), oldest first.
- ``GET /health`` -> 200 ``{"status": "ok"}`` once the database answers, else 503.
- ``WS /v1/stream``: subscribe to new corrections, and a ping/pong op (``stream.py``).

Tenancy: the ``X-Tenant-Id`` header (1..64 characters) scopes every read and write, idempotency
keys included; requests without it share the tenant "".

Storage is chosen by :func:`create_app`: SQLite (a file or ``:memory:``) by default, PostgreSQL
for a ``postgresql://`` URL; ``DATABASE_URL`` is used when no database is passed.

It imports nothing from surge, so it cannot flatter the tool that measures it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import math
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
_MAX_JSON_LEN = 4096  # value, permissions and actor of the guide's shape, as JSON text
_MAX_CLASS_LEN = 32
_MAX_DEPTH = 32  # of a JSON value the guide's shape stores
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


def _not_json(name: str) -> None:
    """``NaN`` and ``Infinity`` are not JSON (Python's parser takes them; responses could not)."""
    raise ValueError(name)


def _finite(text: str) -> float:
    """A JSON number as a float, refusing ones beyond a float's range (``1e400``)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body(), parse_constant=_not_json, parse_float=_finite)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("body", "must be valid JSON") from None
    except RecursionError:
        raise Invalid("body", "must be valid JSON (it nests too deeply)") from None
    if not isinstance(body, dict):
        raise Invalid("body", "must be a JSON object")
    return body


def _str_field(body: dict[str, Any], name: str, max_len: int, loc: str = "body") -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise Invalid(f"{loc}.{name}", "field required (a string)")
    if not value or len(value) > max_len:
        raise Invalid(f"{loc}.{name}", f"must be 1..{max_len} characters")
    return value


def _subject_id(body: dict[str, Any]) -> int:
    value = body.get("subject_id")
    if isinstance(value, bool) or not isinstance(value, int):  # bool is an int in Python
        raise Invalid("body.subject_id", "field required (an integer)")
    if not 1 <= value < 2**63:
        raise Invalid("body.subject_id", f"must be a positive integer, got {value}")
    return value


def _tenant(request: Request) -> str:
    """The ``X-Tenant-Id`` header scopes every read and write; without it, the tenant ""."""
    tenant = request.headers.get("x-tenant-id")
    if tenant is None:
        return ""
    if not 1 <= len(tenant) <= _MAX_FIELD_LEN:
        raise Invalid("header.X-Tenant-Id", f"must be 1..{_MAX_FIELD_LEN} characters")
    return tenant


def _canonical(value: Any, loc: str) -> str:
    """JSON text with sorted keys, so equal values compare equal as stored strings."""
    if _depth(value) > _MAX_DEPTH:
        raise Invalid(loc, f"must be nested at most {_MAX_DEPTH} deep")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    if len(text) > _MAX_JSON_LEN:
        raise Invalid(loc, f"must encode to at most {_MAX_JSON_LEN} characters of JSON")
    return text


def _depth(value: Any) -> int:
    """How deep a parsed JSON value nests (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth + 1)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _optional_object(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(f"body.{name}", "must be a JSON object")
    return _canonical(value, f"body.{name}")


def _readers(permissions: dict[str, Any] | None) -> list[str] | None:
    """Who may read a correction: None means everyone (no ``permissions.readers`` list)."""
    readers = (permissions or {}).get("readers")
    return readers if isinstance(readers, list) else None


def _guide_subject(body: dict[str, Any]) -> tuple[str, str]:
    subject = body.get("subject")
    if not isinstance(subject, dict):
        raise Invalid("body.subject", 'field required (an object {"type": str, "id": str})')
    kind = _str_field(subject, "type", _MAX_FIELD_LEN, "body.subject")
    ident = subject.get("id")
    if isinstance(ident, int) and not isinstance(ident, bool):
        ident = str(ident)
    return kind, _str_field({"id": ident}, "id", _MAX_KEY_LEN, "body.subject")


def _idempotency_key(request: Request, body: dict[str, Any]) -> str | None:
    """The key from the body (``idempotency_key``) or the ``Idempotency-Key`` header."""
    header = request.headers.get("idempotency-key")
    if "idempotency_key" in body and body["idempotency_key"] is not None:
        key = _str_field(body, "idempotency_key", _MAX_KEY_LEN)
        if header is not None and header != key:
            raise Invalid("body.idempotency_key", "differs from the Idempotency-Key header")
        return key
    if header is not None and not 1 <= len(header) <= _MAX_KEY_LEN:
        raise Invalid("header.Idempotency-Key", f"must be 1..{_MAX_KEY_LEN} characters")
    return header


def _new_correction(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """The correction a body asks for, in either shape (see the module docstring)."""
    if "subject" in body or "subject_id" not in body and "field_key" in body:
        subject_type, subject_id = _guide_subject(body)
        field = _str_field(body, "field_key", _MAX_FIELD_LEN)
        if "value" not in body:
            raise Invalid("body.value", "field required (any JSON value)")
        value = _canonical(body["value"], "body.value")
        kind = body.get("class", "FACT")
        if not isinstance(kind, str) or not 1 <= len(kind) <= _MAX_CLASS_LEN:
            raise Invalid("body.class", f"must be a string of 1..{_MAX_CLASS_LEN} characters")
        permissions = _optional_object(body, "permissions")
        readers = _readers(body.get("permissions"))
        if "readers" in (body.get("permissions") or {}) and (
            readers is None or not all(isinstance(r, str) for r in readers)
        ):
            raise Invalid("body.permissions.readers", "must be a list of strings")
        actor = _optional_object(body, "actor")
    else:
        subject_type, subject_id = "", str(_subject_id(body))
        field = _str_field(body, "field", _MAX_FIELD_LEN)
        value = json.dumps(_str_field(body, "value", _MAX_VALUE_LEN))
        kind, permissions, actor = "FACT", None, None
    return {
        "subject_type": subject_type, "subject_id": subject_id, "field": field, "value": value,
        "class": kind, "permissions": permissions, "actor": actor,
        "idempotency_key": _idempotency_key(request, body),
    }


def _render_correction(c: dict[str, Any]) -> dict[str, Any]:
    """A stored correction as the shape that wrote it answers: the original integer-subject
    shape for subject type "", the guide's ``subject``/``field_key`` shape otherwise."""
    common = {"id": c["id"], "value": json.loads(c["value"])}
    tail = {"idempotency_key": c["idempotency_key"], "created_at": _iso(c["created_at"])}
    if c["subject_type"] == "":
        return {**common, "subject_id": int(c["subject_id"]), "field": c["field"], **tail}
    return {
        **common,
        "subject": {"type": c["subject_type"], "id": c["subject_id"]},
        "field_key": c["field"],
        "class": c["class"],
        "permissions": None if c["permissions"] is None else json.loads(c["permissions"]),
        "actor": None if c["actor"] is None else json.loads(c["actor"]),
        **tail,
    }


_FINGERPRINT = ("subject_type", "subject_id", "field", "value", "class", "permissions", "actor")


async def create_correction(request: Request) -> JSONResponse:
    tenant = _tenant(request)
    new = _new_correction(request, await _json_object(request))
    correction, created = await _store(request).create_correction(tenant, new)
    if created:  # pushed to the subscribers of /v1/stream
        feed_of(request.app).publish(tenant, _render_correction(correction))
    if not created and any(correction[k] != new[k] for k in _FINGERPRINT):
        detail = "Idempotency-Key already used with a different body"
        return JSONResponse({"detail": detail}, status_code=409)
    headers = {} if created else {"Idempotent-Replayed": "true"}
    return JSONResponse(_render_correction(correction), status_code=201, headers=headers)


def _subject_query(request: Request) -> tuple[str, str]:
    """``?subject_type=T&subject_id=ID`` (the guide's, any text id) or ``?subject_id=N``."""
    if "subject_type" in request.query_params:
        params = dict(request.query_params)
        kind = _str_field(params, "subject_type", _MAX_FIELD_LEN, "query")
        return kind, _str_field(params, "subject_id", _MAX_KEY_LEN, "query")
    return "", str(_int_param(request, "subject_id", None, 1, 2**63 - 1))


async def get_facts(request: Request) -> JSONResponse:
    """The latest correction per field of a subject that ``requester_id`` may read: all without
    a ``permissions.readers`` list, and those whose list names the requester."""
    tenant, (kind, ident) = _tenant(request), _subject_query(request)
    requester = request.query_params.get("requester_id")
    facts = []
    for f in await _store(request).facts(tenant, (kind, ident)):
        permissions = None if f["permissions"] is None else json.loads(f["permissions"])
        readers = _readers(permissions)
        if readers is not None and requester not in readers:
            continue
        fact = {"value": json.loads(f["value"]), "correction_id": f["correction_id"]}
        fact["updated_at"] = _iso(f["updated_at"])
        if kind == "":
            facts.append({"field": f["field"], **fact, "subject_id": int(ident)})
        else:
            subject = {"type": kind, "id": ident}
            facts.append({"subject": subject, "field_key": f["field"], "class": f["class"], **fact})
    return JSONResponse(facts)


async def get_history(request: Request) -> JSONResponse:
    tenant, subject = _tenant(request), _subject_query(request)
    limit = _int_param(request, "limit", 20, 1, _MAX_HISTORY)
    rows = await _store(request).history(tenant, subject, limit)
    return JSONResponse([_render_correction(c) for c in rows])


def _version(body: dict[str, Any]) -> str | None:
    """``enforced_correction_version``: optional, a string (the guide sends an ISO timestamp)
    or a non-negative integer; stored as text."""
    value = body.get("enforced_correction_version")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and 1 <= len(value) <= _MAX_FIELD_LEN:
        return value
    loc = "body.enforced_correction_version"
    raise Invalid(loc, f"must be a string of 1..{_MAX_FIELD_LEN} characters or an integer >= 0")


async def post_heartbeat(request: Request) -> JSONResponse:
    tenant, body = _tenant(request), await _json_object(request)
    name = "system_id" if "system_id" in body else "agent_id"
    agent_id = _str_field(body, name, _MAX_FIELD_LEN)
    version = _version(body)
    now = time.time()
    count = await _store(request).heartbeat(tenant, agent_id, now, version)
    answer: dict[str, Any] = {name: agent_id, "received_at": _iso(now), "heartbeats": count}
    if name == "system_id":
        answer["enforced_correction_version"] = version
    return JSONResponse(answer, status_code=201)


async def get_status(request: Request) -> JSONResponse:
    agents = await _store(request).agents(_tenant(request))
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
    tenant = _tenant(request)
    raw = request.query_params.get("stale_after_s", "30")
    try:
        stale_after_s = float(raw)
    except ValueError:
        raise Invalid("query.stale_after_s", f"must be a number, got {raw!r}") from None
    if not 0 <= stale_after_s <= 86_400:
        raise Invalid("query.stale_after_s", f"must be between 0 and 86400, got {raw}")
    now = time.time()
    stale = await _store(request).stale_agents(tenant, now - stale_after_s, _MAX_STALE_AGENTS)
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
