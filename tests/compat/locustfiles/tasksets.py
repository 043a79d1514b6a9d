"""A TaskSet and a SequentialTaskSet with interrupt(), as guides nest user journeys."""
from locust import HttpUser, SequentialTaskSet, TaskSet, constant, task


class Checkout(SequentialTaskSet):
    @task
    def cart(self):
        self.client.get("/ok", name="cart")

    @task
    def pay(self):
        self.client.post("/echo", json={"pay": 1}, name="pay")

    @task
    def done(self):
        self.client.get("/status/204", name="receipt")
        self.interrupt()


class Browse(TaskSet):
    wait_time = constant(0)

    def on_start(self):
        self.seen = 0
        self.client.get("/status/200", name="browse_start")

    @task(3)
    def item(self):
        self.seen += 1
        self.client.get("/bytes/5", name="item")
        if self.seen >= 4:
            self.interrupt(reschedule=False)

    def on_stop(self):
        self.client.get("/status/201", name="browse_stop")


class Shopper(HttpUser):
    wait_time = constant(0.01)
    tasks = {Checkout: 1, Browse: 1}
