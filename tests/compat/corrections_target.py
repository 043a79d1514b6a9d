"""A tiny loopback API that speaks the corrections guide's request shapes, and counts them.

The guide's locustfile (``locustfiles/corrections_guide.py``, copied unchanged from the team's
performance guide) must run with zero failures against an API that accepts what it sends; this
one checks each request as strictly as the guide describes the real API (the tenant header,
the query parameters, every body field) and answers 201/200, or 400/422 naming what is missing.
It runs on a thread of the test process: the load generator is the ``surge`` child process.
"""
from __future__ import annotations

import collections
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CORRECTION_FIELDS = ("subject", "field_key", "value", "class", "permissions", "actor", "idempotency_key")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as surge's client uses it

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts.path == "/__stats":
            return self._reply(200, dict(self.server.counts))
        with self.server.lock:
            self.server.counts[f"{method} {parts.path}"] += 1
        status, payload = self.server.route(method, parts.path, parse_qs(parts.query), body, self.headers)
        self._reply(status, payload)

    def _reply(self, status: int, payload) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class CorrectionsAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.counts: collections.Counter = collections.Counter()
        self.lock = threading.Lock()
        self.first_result: dict[str, dict] = {}
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> "CorrectionsAPI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)

    def route(self, method: str, path: str, query: dict, body: bytes, headers) -> tuple[int, object]:
        if not headers.get("X-Tenant-Id"):
            return 400, {"error": "X-Tenant-Id header missing"}
        if (method, path) == ("GET", "/v1/facts"):
            missing = [k for k in ("subject_type", "subject_id", "requester_id") if k not in query]
            return (422, {"missing": missing}) if missing else (200, {"facts": []})
        if (method, path) == ("GET", "/v1/enforcement/status"):
            return 200, {"systems": []}
        try:
            doc = json.loads(body)
        except ValueError:
            return 422, {"error": "body is not JSON"}
        if (method, path) == ("POST", "/v1/corrections"):
            missing = [k for k in CORRECTION_FIELDS if k not in doc]
            if missing or not {"type", "id"} <= set(doc.get("subject") or {}):
                return 422, {"missing": missing or ["subject.type/id"]}
            with self.lock:
                result = self.first_result.setdefault(doc["idempotency_key"], {"id": len(self.first_result) + 1})
            return 201, result
        if (method, path) == ("POST", "/v1/enforcement/heartbeat"):
            missing = [k for k in ("system_id", "enforced_correction_version") if k not in doc]
            return (422, {"missing": missing}) if missing else (201, {"ok": True})
        return 404, {"error": "not found"}
