"""``locust.shape``: Locust's ``LoadTestShape`` (``tick(self)`` reading ``self.get_run_time()``).

surge's shapes take the run time as an argument (``tick(run_time_s)``, a pure function of it,
asked ahead of the run for the shape's length); a Locust shape's ``tick()`` is wrapped so that
``get_run_time()`` returns that argument. A third element of the tick (user classes) is ignored.
"""
from __future__ import annotations

import functools
import time

from ...engine.user import LoadTestShape as _EngineShape


class LoadTestShape(_EngineShape):
    abstract = True
    use_common_options = False

    def __init__(self) -> None:
        self.start_time = time.perf_counter()
        self._run_time_s: float | None = None
        self.runner = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "abstract" not in cls.__dict__:
            cls.abstract = False
        tick = cls.__dict__.get("tick")
        if tick is not None and not getattr(tick, "_surge_timed", False):
            @functools.wraps(tick)
            def timed(self, run_time_s: float | None = None, _tick=tick):
                self._run_time_s = run_time_s
                result = _tick(self)
                return None if result is None else tuple(result)[:2]

            timed._surge_timed = True
            cls.tick = timed

    def reset_time(self) -> None:
        self.start_time = time.perf_counter()

    def get_run_time(self) -> float:
        """Seconds since the load began."""
        if self._run_time_s is not None:
            return self._run_time_s
        return time.perf_counter() - self.start_time

    def get_current_user_count(self) -> int:
        return 0

    def tick(self, run_time_s: float | None = None):  # pragma: no cover - interface
        raise NotImplementedError


__all__ = ["LoadTestShape"]
