"""Event listeners counting requests, and environment.stats read in test_stop."""
import json
import os
from pathlib import Path

from locust import HttpUser, constant, events, task

SEEN = {"requests": 0, "failures": 0, "init": 0, "start": 0}


@events.init.add_listener
def on_init(environment, **kwargs):
    SEEN["init"] += 1


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    SEEN["start"] += 1
    SEEN["host"] = environment.host


@events.request.add_listener
def on_request(request_type, name, response_time, response_length, exception, context, **kwargs):
    SEEN["requests"] += 1
    if exception:
        SEEN["failures"] += 1


@events.test_stop.add_listener
def on_test_stop(environment, **kwargs):
    total = environment.stats.total
    Path(os.environ["LOCUST_PROBE_DIR"], "test_stop.json").write_text(json.dumps({
        **SEEN, "num_requests": total.num_requests, "num_failures": total.num_failures,
        "avg": total.avg_response_time, "p50": total.get_response_time_percentile(0.5),
        "p99": total.get_response_time_percentile(0.99), "fail_ratio": total.fail_ratio,
        "entries": sorted(f"{m} {n}" for n, m in environment.stats.entries),
    }))


@events.quitting.add_listener
def on_quitting(environment, **kwargs):
    if environment.stats.total.fail_ratio > 0.01:
        environment.process_exit_code = 4


class Reader(HttpUser):
    wait_time = constant(0.005)

    @task(4)
    def ok(self):
        self.client.get("/ok")

    @task(1)
    def gone(self):
        self.client.get("/status/410")
