"""``locust.user``."""
from ._users import HttpUser, SequentialTaskSet, TaskSet, User, between, constant, constant_pacing  # noqa: F401
from ._users import constant_throughput, tag, task  # noqa: F401
