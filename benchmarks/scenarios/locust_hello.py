"""The Locust benchmarks' locustfile: hello.py's task written for Locust (sync, FastHttpUser)."""
from locust import FastHttpUser, constant, task


class Hello(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
