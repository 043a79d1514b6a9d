from locust import LoadTestShape

class SpikeLoadShape(LoadTestShape):
    """
    Spike load pattern:
    - Start: 100 users
    - Spike to 1000 users at 2 min
    - Hold for 2 minutes
    - Drop to 100 users
    - Total: 10 minutes
    """
    
    stages = [
        {"duration": 120, "users": 100, "spawn_rate": 10},   # Baseline
        {"duration": 240, "users": 1000, "spawn_rate": 100}, # Spike
        {"duration": 360, "users": 100, "spawn_rate": 50},   # Recovery
        {"duration": 600, "users": 100, "spawn_rate": 10},   # Steady
    ]
    
    def tick(self):
        run_time = self.get_run_time()
        
        for stage in self.stages:
            if run_time < stage["duration"]:
                return (stage["users"], stage["spawn_rate"])
        
        return None  # Test complete
