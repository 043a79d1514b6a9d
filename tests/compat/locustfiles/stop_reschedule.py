"""StopUser, self.stop() and RescheduleTask: users that end themselves after a known number of requests."""
from locust import HttpUser, constant, task
from locust.exception import RescheduleTask, StopUser


class ThreeAndOut(HttpUser):
    wait_time = constant(0.01)

    def on_start(self):
        self.done = 0

    @task
    def once(self):
        if self.done == 3:
            raise StopUser()
        self.done += 1
        self.client.get("/ok", name="three")

    def on_stop(self):
        self.client.get("/status/200", name="goodbye")


class SkipsOdd(HttpUser):
    wait_time = constant(0.01)

    def on_start(self):
        self.turn = 0

    @task
    def maybe(self):
        self.turn += 1
        if self.turn > 6:
            self.stop()
        if self.turn % 2:
            raise RescheduleTask()
        self.client.get("/ok", name="even")
