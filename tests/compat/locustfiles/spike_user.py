"""The guide's SpikeLoadShape (spike_guide.py, unchanged) driving a user of this file."""
from locust import HttpUser, constant, task
from spike_guide import SpikeLoadShape  # noqa: F401  (found in this module's namespace, as Locust finds it)


class Spiker(HttpUser):
    wait_time = constant(0.05)

    @task
    def hit(self):
        self.client.get("/ok")
