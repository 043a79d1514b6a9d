"""``locust.exception``: the exceptions locustfiles raise and catch.

``StopUser`` is surge's own, so the engine's user loop stops the user the same way for both APIs.
"""
from __future__ import annotations

from ...engine.user import StopUser


class LocustError(Exception):
    pass


class ResponseError(Exception):
    pass


class CatchResponseError(Exception):
    pass


class RescheduleTask(Exception):
    """Raised in a task: end it now and pick the next task after the usual wait."""


class RescheduleTaskImmediately(Exception):
    """Raised in a task: end it now and pick the next task without waiting."""


class InterruptTaskSet(Exception):
    """Raised by ``TaskSet.interrupt()``: leave the TaskSet, back to the parent's tasks."""

    def __init__(self, reschedule: bool = True) -> None:
        super().__init__(reschedule)
        self.reschedule = reschedule


class MissingWaitTimeError(LocustError):
    pass


class StopTest(Exception):
    pass


__all__ = ["CatchResponseError", "InterruptTaskSet", "LocustError", "MissingWaitTimeError",
           "RescheduleTask", "RescheduleTaskImmediately", "ResponseError", "StopTest", "StopUser"]
