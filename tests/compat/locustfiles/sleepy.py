"""A task that sleeps with time.sleep between two requests, as Locust (gevent) lets it."""
import time
from time import sleep

from locust import HttpUser, constant, task


class Patient(HttpUser):
    wait_time = constant(0)

    @task
    def two_steps(self):
        self.client.get("/ok", name="step1")
        time.sleep(0.2)
        self.client.get("/ok", name="step2")
        sleep(0.05)
