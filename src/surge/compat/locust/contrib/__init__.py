"""``locust.contrib``."""
