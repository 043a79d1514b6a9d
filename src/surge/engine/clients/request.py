"""The bytes of an HTTP/1.1 request. Pure: the client caches what plain requests give."""
from __future__ import annotations

import json as _json
from urllib.parse import urlencode

USER_AGENT = "surge/0.1"


def build_request(method: str, origin: tuple, target: str, headers: dict, cookies: dict | str | None,
                  json=None, data=None, extra: dict | None = None) -> bytes:
    """``method target`` with Host, User-Agent, the client's ``headers`` then the request's
    ``extra`` ones (a later source replaces an earlier one however spelt), ``cookies`` (a dict,
    or a ``Cookie`` value) after a Cookie header's own pairs in one line, and a JSON (``json``),
    form (``data`` dict) or raw (``data`` str/bytes) body with its length."""
    body = b""
    content: dict[str, str] = {}
    if json is not None:
        body = _json.dumps(json, separators=(",", ":")).encode()
        content["Content-Type"] = "application/json"
    elif data is not None:
        if isinstance(data, dict):
            body = urlencode(data, doseq=True).encode()
            content["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = data.encode() if isinstance(data, str) else bytes(data)
    merged = {"host": ("Host", host_header(origin)), "user-agent": ("User-Agent", USER_AGENT)}
    for source in (headers, content, extra):
        if source:
            for key, value in source.items():
                merged[key.lower()] = (key, value)
    if cookies:  # never two Cookie lines: a server may read only one of them
        pairs = cookies if isinstance(cookies, str) else "; ".join(f"{k}={v}" for k, v in cookies.items())
        own = merged.get("cookie")
        merged["cookie"] = (own[0], f"{own[1]}; {pairs}") if own else ("Cookie", pairs)
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{key}: {value}" for key, value in merged.values())
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def host_header(origin: tuple[str, str, int]) -> str:
    scheme, host, port = origin
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return host if port == default else f"{host}:{port}"
