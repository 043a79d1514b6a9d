from locust import HttpUser, run_single_user, task


class U(HttpUser):
    @task
    def t(self):
        self.client.get("/ok")


if __name__ == "__main__":
    run_single_user(U)
