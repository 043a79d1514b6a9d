from locust import HttpUser, task, between, events
import json
import uuid
from datetime import datetime, timezone

# Test data
TENANT_ID = "00000000-0000-0000-0000-000000000001"
TEST_SUBJECTS = [f"user_{i}" for i in range(1000)]
TEST_SYSTEMS = [f"system_{i}" for i in range(50)]

class STETUser(HttpUser):
    wait_time = between(0.1, 0.5)  # 100-500ms between requests
    
    def on_start(self):
        """Called when a simulated user starts"""
        self.tenant_id = TENANT_ID
        self.headers = {
            "X-Tenant-Id": self.tenant_id,
            "Content-Type": "application/json"
        }
    
    @task(5)  # Weight: 50%
    def get_facts(self):
        """Read facts for a random subject"""
        subject_id = self.select_random_subject()
        with self.client.get(
            f"/v1/facts?subject_type=user&subject_id={subject_id}&requester_id=bot:test",
            headers=self.headers,
            catch_response=True
        ) as response:
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"Got status {response.status_code}")
    
    @task(4)  # Weight: 40%
    def create_correction(self):
        """Create a new correction"""
        subject_id = self.select_random_subject()
        payload = {
            "subject": {"type": "user", "id": subject_id},
            "field_key": f"test.field_{uuid.uuid4().hex[:8]}",
            "value": {"test": "value", "timestamp": datetime.now(timezone.utc).isoformat()},
            "class": "FACT",
            "permissions": {"readers": ["bot:test"]},
            "actor": {"type": "system", "id": "load-test"},
            "idempotency_key": str(uuid.uuid4())
        }
        
        with self.client.post(
            "/v1/corrections",
            json=payload,
            headers=self.headers,
            catch_response=True
        ) as response:
            if response.status_code == 201:
                response.success()
            else:
                response.failure(f"Got status {response.status_code}")
    
    @task(1)  # Weight: 10%
    def enforcement_heartbeat(self):
        """Send enforcement heartbeat"""
        system_id = self.select_random_system()
        payload = {
            "system_id": system_id,
            "enforced_correction_version": datetime.now(timezone.utc).isoformat()
        }
        
        with self.client.post(
            "/v1/enforcement/heartbeat",
            json=payload,
            headers=self.headers,
            catch_response=True
        ) as response:
            if response.status_code == 201:
                response.success()
            else:
                response.failure(f"Got status {response.status_code}")
    
    @task(1)  # Weight: 10%
    def get_enforcement_status(self):
        """Check enforcement status"""
        with self.client.get(
            "/v1/enforcement/status",
            headers=self.headers,
            catch_response=True
        ) as response:
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"Got status {response.status_code}")
    
    def select_random_subject(self):
        """Select random test subject"""
        import random
        return random.choice(TEST_SUBJECTS)
    
    def select_random_system(self):
        """Select random test system"""
        import random
        return random.choice(TEST_SYSTEMS)

# Custom metrics collection
@events.request.add_listener
def on_request(request_type, name, response_time, response_length, exception, context, **kwargs):
    """Custom request handler for additional metrics"""
    if exception:
        print(f"Request failed: {name} - {exception}")

@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    """Initialize test"""
    print(f"Load test starting against {environment.host}")
    print(f"Target: {TENANT_ID}")

@events.test_stop.add_listener
def on_test_stop(environment, **kwargs):
    """Cleanup after test"""
    print("Load test complete")
    print(f"Total requests: {environment.stats.total.num_requests}")
    print(f"Failures: {environment.stats.total.num_failures}")
