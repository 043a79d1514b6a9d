from locust import HttpUser, constant, task


class Uploader(HttpUser):
    wait_time = constant(0.05)

    @task
    def upload(self):
        self.client.post("/echo", files={"f": b"x"})
