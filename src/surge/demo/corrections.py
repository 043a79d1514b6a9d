"""The example scenario ``surge demo`` runs against the demo API — and a template for your own.

The mix, by task weight (each out of 100 iterations):

- 50% reads: the current facts of a subject (30) and its recent history (20);
- 40% writes: corrections, each with a fresh ``Idempotency-Key``; one in ten replays the
  previous request with its key, as a client retrying after a timeout would, and checks that
  the API hands back the same correction (custom rate ``idempotency_honoured``);
- 10% enforcement: an agent's round — heartbeat, then the status and escalation views. One
  task making three calls (rather than three small tasks) guarantees every enforcement
  endpoint is hit even in a 30 s smoke run, so no threshold target goes unmatched.

Beside those API clients, one user in five is a :class:`Watcher` (``weight = 0.25``): it holds a
WebSocket to ``/v1/stream`` subscribed to new corrections and pings over it (``WS stream``: the
connects and drops; ``WS ping``: the round trips). It needs the ``ws`` extra (``pip install
'surge[ws]'``, which also lets the demo server speak WebSocket); without it the class has weight 0.

``setup()`` seeds a few subjects through the API itself, with deterministic idempotency keys so
re-running against a persistent database writes nothing twice. Every request carries ``name=``
so URLs that differ only in their query string are reported (and judged) as one endpoint.
"""
from __future__ import annotations

import json
import random
import urllib.request
import uuid
from typing import Any

from surge import HttpUser, Rate, WebSocketTimeout, between, tag, task

SEED_SUBJECT_IDS = tuple(range(1, 9))
FIELDS = ("name", "email", "status", "tier")
AGENT_IDS = tuple(f"agent-{n}" for n in range(1, 6))
REPLAY_SHARE = 0.1

idempotency_honoured = Rate("idempotency_honoured")
PINGS_PER_WATCH = 5


def _post_json(url: str, body: dict[str, Any], key: str) -> int:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as resp:
        return resp.status


def setup(host: str) -> dict[str, Any]:
    """Seed every subject with a value for each field; return the ids users will work on."""
    base = host.rstrip("/")
    for subject_id in SEED_SUBJECT_IDS:
        for field in FIELDS:
            value = f"seed {field} of {subject_id}"
            body = {"subject_id": subject_id, "field": field, "value": value}
            status = _post_json(f"{base}/v1/corrections", body, f"seed-{subject_id}-{field}")
            if status != 201:
                raise RuntimeError(f"seeding subject {subject_id} failed: HTTP {status}")
    return {"subject_ids": list(SEED_SUBJECT_IDS)}


class ApiUser(HttpUser):
    """A client of the corrections service: mostly reads, many writes, a little enforcement."""

    wait_time = between(0.5, 1.5)

    async def on_start(self) -> None:
        self.subject_ids = list((self.data or {}).get("subject_ids") or SEED_SUBJECT_IDS)
        self.agent_id = random.choice(AGENT_IDS)
        self.last_write: tuple[str, dict[str, Any], int] | None = None  # key, body, id

    def _subject(self) -> int:
        return random.choice(self.subject_ids)

    @task(30)
    @tag("read")
    async def get_facts(self) -> None:
        resp = await self.client.get(
            "/v1/facts", params={"subject_id": self._subject()}, name="/v1/facts"
        )
        resp.expect(status=200)

    @task(20)
    @tag("read")
    async def get_history(self) -> None:
        resp = await self.client.get(
            "/v1/history", params={"subject_id": self._subject(), "limit": 20}, name="/v1/history"
        )
        resp.expect(status=200)

    @task(40)
    @tag("write")
    async def post_correction(self) -> None:
        if self.last_write is not None and random.random() < REPLAY_SHARE:
            await self._replay(*self.last_write)
            return
        key = str(uuid.uuid4())
        body = {
            "subject_id": self._subject(),
            "field": random.choice(FIELDS),
            "value": f"v{random.randrange(1_000_000)}",
        }
        resp = await self.client.post(
            "/v1/corrections", json=body, headers={"Idempotency-Key": key}, name="/v1/corrections"
        )
        resp.expect(status=201)
        if resp.status == 201:
            self.last_write = (key, body, resp.json()["id"])

    async def _replay(self, key: str, body: dict[str, Any], correction_id: int) -> None:
        """Send a request again with its key: the API must return the same correction (201)."""
        resp = await self.client.post(
            "/v1/corrections", json=body, headers={"Idempotency-Key": key}, name="/v1/corrections"
        )
        resp.expect(status=201)
        idempotency_honoured.add(resp.status == 201 and resp.json()["id"] == correction_id)
        self.last_write = None

    @task(10)
    @tag("enforcement")
    async def enforcement_round(self) -> None:
        resp = await self.client.post(
            "/v1/enforcement/heartbeat",
            json={"agent_id": self.agent_id},
            name="/v1/enforcement/heartbeat",
        )
        resp.expect(status=201)
        resp = await self.client.get("/v1/enforcement/status", name="/v1/enforcement/status")
        resp.expect(status=200)
        resp = await self.client.get(
            "/v1/enforcement/escalation",
            params={"stale_after_s": 60},
            name="/v1/enforcement/escalation",
        )
        resp.expect(status=200)


def _have_websockets() -> bool:
    try:
        import websockets  # noqa: F401  (the ws extra)
    except ImportError:
        return False
    return True


class Watcher(HttpUser):
    """A live view of the corrections: subscribes over a WebSocket, pings it, reads what is pushed."""

    weight = 0.25 if _have_websockets() else 0
    wait_time = between(0.5, 1.5)

    @task
    async def watch(self) -> None:
        async with self.client.websocket("/v1/stream", name="stream") as ws:
            await ws.send_json({"subscribe": "corrections"})
            ack = await ws.receive_json(timeout=5)
            if ack != {"subscribed": "corrections"}:
                raise AssertionError(f"subscribe answered {ack!r}")
            for n in range(PINGS_PER_WATCH):
                await ws.request({"op": "ping", "id": n}, match=lambda m, n=n: m.get("id") == n, name="ping")
                try:  # corrections pushed meanwhile (counted as received messages when they came)
                    while True:
                        await ws.receive(timeout=0.1)
                except WebSocketTimeout:
                    pass
