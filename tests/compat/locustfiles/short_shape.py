"""A LoadTestShape that ends by itself: 2 users for 1 s, then 4 until 2 s."""
from locust import HttpUser, LoadTestShape, constant, task


class Steps(LoadTestShape):
    stages = [{"duration": 1, "users": 2, "spawn_rate": 100}, {"duration": 2, "users": 4, "spawn_rate": 100}]

    def tick(self):
        run_time = self.get_run_time()
        for stage in self.stages:
            if run_time < stage["duration"]:
                return stage["users"], stage["spawn_rate"]
        return None


class Walker(HttpUser):
    wait_time = constant(0.02)

    @task
    def walk(self):
        self.client.get("/ok")
