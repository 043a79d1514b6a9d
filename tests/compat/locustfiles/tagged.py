"""Tags and several user classes in the style of the Phase 8 API guide (`--tags rest_endpoints`)."""
from locust import HttpUser, constant, tag, task


class LoadTestConfig:
    JWT_TOKEN = "jwt-for-the-load-test"


class ApiUser(HttpUser):
    weight = 3
    wait_time = constant(0.01)

    def on_start(self):
        self.client.headers["Authorization"] = f"Bearer {LoadTestConfig.JWT_TOKEN}"

    @tag("webhooks", "rest_endpoints", "read")
    @task(3)
    def webhooks_list(self):
        self.client.get("/ok", name="webhooks_list")

    @tag("alerts", "rest_endpoints", "write")
    @task(1)
    def alert_ack(self):
        self.client.post("/echo", json={"ack": True}, name="alert_ack")

    @tag("websocket")
    @task(1)
    def websocket_connect(self):
        self.client.get("/status/200", name="websocket_connect")


class AdminUser(HttpUser):
    weight = 1
    wait_time = constant(0.01)

    @tag("admin", "cache", "rest_endpoints")
    @task
    def cache_stats(self):
        self.client.get("/bytes/10", name="cache_stats")


class HealthWatcher(HttpUser):
    fixed_count = 1
    wait_time = constant(0.01)

    @tag("health", "rest_endpoints")
    @task
    def health_check(self):
        self.client.get("/chunked", name="health_check")
