"""The corrections guide's locustfile (``tests/compat/locustfiles/corrections_guide.py``, verbatim from the guide) as a
native surge scenario: the same four tasks with the same weights, paths, JSON bodies, headers
and ``catch_response`` verdicts, as async tasks. ``wait_time`` is shorter than the guide's
(0.1-0.5 s) so a 3 s test run makes a few hundred requests from a handful of users.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone

from surge import HttpUser, between, task

TENANT_ID = "00000000-0000-0000-0000-000000000001"
TEST_SUBJECTS = [f"user_{i}" for i in range(1000)]
TEST_SYSTEMS = [f"system_{i}" for i in range(50)]


def correction_payload(subject_id: str) -> dict:
    """The body of the guide's ``create_correction`` task (the tests build theirs with it too)."""
    return {
        "subject": {"type": "user", "id": subject_id},
        "field_key": f"test.field_{uuid.uuid4().hex[:8]}",
        "value": {"test": "value", "timestamp": datetime.now(timezone.utc).isoformat()},
        "class": "FACT",
        "permissions": {"readers": ["bot:test"]},
        "actor": {"type": "system", "id": "load-test"},
        "idempotency_key": str(uuid.uuid4()),
    }


class STETUser(HttpUser):
    wait_time = between(0.005, 0.02)

    async def on_start(self) -> None:
        self.headers = {"X-Tenant-Id": TENANT_ID, "Content-Type": "application/json"}

    async def _expect(self, request, status: int) -> None:
        async with request as response:
            if response.status == status:
                response.success()
            else:
                response.failure(f"Got status {response.status}")

    @task(5)
    async def get_facts(self) -> None:
        subject_id = random.choice(TEST_SUBJECTS)
        path = f"/v1/facts?subject_type=user&subject_id={subject_id}&requester_id=bot:test"
        await self._expect(self.client.get(path, headers=self.headers, catch_response=True), 200)

    @task(4)
    async def create_correction(self) -> None:
        payload = correction_payload(random.choice(TEST_SUBJECTS))
        request = self.client.post(
            "/v1/corrections", json=payload, headers=self.headers, catch_response=True
        )
        await self._expect(request, 201)

    @task(1)
    async def enforcement_heartbeat(self) -> None:
        payload = {
            "system_id": random.choice(TEST_SYSTEMS),
            "enforced_correction_version": datetime.now(timezone.utc).isoformat(),
        }
        request = self.client.post(
            "/v1/enforcement/heartbeat", json=payload, headers=self.headers, catch_response=True
        )
        await self._expect(request, 201)

    @task(1)
    async def get_enforcement_status(self) -> None:
        request = self.client.get("/v1/enforcement/status", headers=self.headers, catch_response=True)
        await self._expect(request, 200)
