"""REST mix in the style of the verification service's guide: AuditorUser (70%), BurstUser,
HeavyUser, catch_response checks, custom headers. It also notes, from inside each worker,
which ``locust`` it got (the test reads those notes)."""
import os
import sys
from pathlib import Path

from locust import FastHttpUser, HttpUser, between, constant, constant_pacing, task

HEADERS = {"X-Api-Key": "audit-secret-key", "Content-Type": "application/json"}


def note_which_locust():
    probe = os.environ.get("LOCUST_PROBE_DIR")
    if probe:
        Path(probe, f"worker-{os.getpid()}.txt").write_text(
            f"{sys.modules['locust'].__file__}\n{'gevent' in sys.modules}\n")


class AuditorUser(HttpUser):
    weight = 7
    wait_time = between(0.005, 0.01)

    def on_start(self):
        note_which_locust()
        self.client.headers.update(HEADERS)

    @task(3)
    def verify(self):
        with self.client.post("/echo", json={"claim": "c1", "sources": ["a"]}, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"Got status {response.status_code}")
            elif response.json()["header_map"].get("x-api-key") != "audit-secret-key":
                response.failure("header missing")
            else:
                response.success()

    @task(1)
    def missing_report(self):
        with self.client.get("/status/404", name="/report", catch_response=True) as response:
            if response.status_code == 404:
                response.failure("report not found")


class BurstUser(FastHttpUser):
    weight = 2
    wait_time = constant(0.005)

    @task
    def burst(self):
        for _ in range(3):
            self.client.get("/ok", headers={"X-Burst": "1"})


class HeavyUser(HttpUser):
    weight = 1
    wait_time = constant_pacing(0.02)

    @task
    def heavy(self):
        response = self.client.get("/bytes/2048", params={"sources": "all"})
        if len(response.content) != 2048:
            raise ValueError("short body")
        raise RuntimeError("heavy parser broke")
