"""The monitors a run's plan asks for, built and started before any load.

``watch_for(plan, out_dir)`` turns the plan's monitor settings into one started
:class:`~surge.monitors.base.Sampler` (and the target command surge started, if it did):

* the target process: ``--monitor-pid``, the process behind ``--monitor-port``, or
  ``--monitor-cmd`` (started here, its output in ``target.log``, stopped by ``close()``);
* the host and the generator's own processes, unless ``--no-host-monitor``; PostgreSQL (``--db``) and Redis (``--redis``).

Everything that cannot be watched raises :class:`MonitorUnavailable` (exit 2) here, before the
load, with whatever was started already stopped again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..model.plan import TestPlan
from .base import Monitor, Sampler

#: how long a started --monitor-cmd is given to still be running before the run goes on
#: (the run's --health preflight then waits for it to answer)
CMD_SETTLE_S = 0.3


@dataclass
class Watch:
    sampler: Sampler | None
    started: object | None = None  # the StartedTarget, if surge started the target

    def close(self) -> None:
        """Close the monitors and stop the target surge started (SIGTERM, then SIGKILL)."""
        try:
            if self.sampler is not None:
                self.sampler.close()
        finally:
            if self.started is not None:
                self.started.stop()


def wants_monitors(plan: TestPlan) -> bool:
    return bool(plan.host_monitor or plan.monitor_pid or plan.monitor_port or plan.monitor_cmd
                or plan.db_url or plan.redis_url)


def watch_for(plan: TestPlan, out_dir: Path) -> Watch:
    """The started sampler for ``plan`` (None when it asks for no monitor)."""
    if not wants_monitors(plan):
        return Watch(None)
    started = None
    monitors: list[Monitor] = []
    try:
        pid = plan.monitor_pid
        if plan.monitor_cmd:
            from .target import StartedTarget

            started = StartedTarget(plan.monitor_cmd, Path(out_dir) / "target.log")
            time.sleep(CMD_SETTLE_S)
            started.check_running()
            pid = started.pid
        elif plan.monitor_port:
            from .target import pid_listening_on

            pid = pid_listening_on(plan.monitor_port)
        if pid:
            from .target import TargetMonitor, default_warmup_s

            # the plan's warm-up, not a share of what was sampled, so an interrupted run keeps it;
            # a run bounded by --iterations or a shape of unknown length has no length to share
            known = plan.duration_s > 0 and not plan.iterations
            monitors.append(TargetMonitor(pid, warmup_s=default_warmup_s(plan.duration_s) if known else None))
        if plan.host_monitor:
            from .generator import GeneratorMonitor
            from .host import HostMonitor

            monitors.append(HostMonitor())
            monitors.append(GeneratorMonitor(plan.processes if plan.processes > 1 else 0))
        timeout_s = min(2.0, plan.monitor_interval_s)
        if plan.db_url:
            from .db import PostgresMonitor

            monitors.append(PostgresMonitor(plan.db_url, timeout_s=timeout_s))
        if plan.redis_url:
            from .redis import RedisMonitor

            monitors.append(RedisMonitor(plan.redis_url, timeout_s=timeout_s))
        sampler = Sampler(monitors, plan.monitor_interval_s)
        sampler.start()
    except BaseException:
        if started is not None:
            started.stop()
        raise
    return Watch(sampler, started)
