"""Workload resolution: profile / stages / users / rate / duration -> one Closed or Open workload.

The rules (DESIGN.md "Workload flags"), applied to the settled values:

* A *base shape* comes from ``profile`` (closed stages) or ``stages``: the file's
  ``[[stages]]`` (closed with ``target``/``users``, open with ``rate``) or the CLI's ``--stage
  30s:50``. ``duration`` stretches it proportionally, ``users`` rescales its peak (whole
  users), ``rate`` rescales its peak as iterations/s and turns it open: every profile's
  arrival-rate twin.
* Without a base shape the level is steady for ``duration`` (default 1 min; with
  ``iterations``, 10 min, k6's cap for a run bounded by its iterations): ``rate`` ->
  open at that rate from t=0; otherwise ``users`` (default **1**, as Locust: ``surge run
  scenario.py`` just works, as a one-user sanity run) ramped at ``spawn_rate`` users/s
  (default: all in 1 s), the ramp capped at the duration. An open workload's ``max_users``
  defaults to ``max(100, 10 x peak rate)``, capped by the workers' open-file limit.
* ``step_users`` / ``step_duration`` set the stress profile's steps (default +100 users every
  2 min, up to 500 or ``until_break``).
* Contradictions are errors naming both sources rather than silent precedence: users with
  rate, profile with stages, spawn_rate with anything but a steady users run, max_users
  without an open workload, think_time with an open one, shape with anything that sets the
  level (users, rate, profile, stages), step_users with users or rate, step_duration with
  duration, either without the stress profile. With ``shape`` the shape sets the users and its
  own length; ``duration`` caps it. ``arrival`` (uniform | poisson) needs an open workload,
  ``seed`` Poisson arrivals.
"""
from __future__ import annotations

import math
import resource
from collections.abc import Mapping
from typing import Any

from ..model.durations import parse_duration
from ..model.errors import ConfigError
from ..model.kinds import Arrival
from ..model.plan import ClosedWorkload, OpenWorkload, Stage
from ..model.profiles import profile_stages
from ..model.schedule import scale_stages
from ._sources import Raw, to_duration, to_positive

DEFAULT_DURATION_S = 60.0
#: the cap of a steady run bounded by --iterations when no --duration is given (k6's maxDuration)
ITERATIONS_DURATION_S = 600.0
DEFAULT_USERS = 1
Workload = ClosedWorkload | OpenWorkload


def resolve_workload(v: Mapping[str, Any], raws: Mapping[str, Raw]) -> Workload:
    """The workload for settled values ``v`` (typed; absent keys not given); ``raws`` name sources."""
    _reject_conflicts(v, raws)
    if v.get("shape"):
        return ClosedWorkload((), shape=True, shape_duration_s=v.get("duration"))
    base = _base_shape(v, raws)
    if base is None:
        workload = _steady(v)
    else:
        stages, is_open = base
        if is_open and "users" in v:
            raise _clash(raws, "users", "stages", "rate stages are open; set their peak with rate")
        if "duration" in v:
            stages = scale_stages(stages, duration_s=v["duration"])
        if "users" in v:
            stages = scale_stages(stages, peak=v["users"])
        if "rate" in v:
            stages, is_open = scale_stages(stages, peak=v["rate"], whole=False), True
        workload = _build(stages, is_open, v)
    if "max_users" in v and workload.kind != "open":
        raise _clash(raws, "max_users", "only caps open workloads (--rate or rate stages)")
    if "arrival" in v and workload.kind != "open":
        raise _clash(raws, "arrival", "only shapes open workloads (--rate or rate stages); closed users pace "
                     "themselves: wait_time = poisson(mean_s) gives them exponential think times")
    if "seed" in v and getattr(workload, "arrival", None) != "poisson":
        raise _clash(raws, "seed", "seeds Poisson arrivals only; add --arrival poisson (with --rate)")
    if "think_time" in v and workload.kind == "open":
        raise _clash(raws, "think_time", "only paces closed workloads; in an open one the arrival rate sets the pace")
    return workload


def _reject_conflicts(v: Mapping[str, Any], raws: Mapping[str, Raw]) -> None:
    if "users" in v and "rate" in v:
        raise _clash(raws, "users", "rate", "choose closed (users) or open (rate)")
    if "profile" in v and "stages" in v:
        raise _clash(raws, "profile", "stages", "choose a built-in profile or your own stages")
    for other in ("profile", "stages", "rate"):
        if "spawn_rate" in v and other in v:
            raise _clash(raws, "spawn_rate", other, "spawn_rate only paces a steady users run")
    if "until_break" in v and v.get("profile") != "stress":
        raise _clash(raws, "until_break", "works with --profile stress only")
    _reject_step_conflicts(v, raws)
    if v.get("shape"):
        for other in ("rate", "profile", "stages", "users", "spawn_rate", "max_users"):
            if other in v:
                why = ("drives users; it cannot run an open (rate) workload" if other == "rate"
                       else "sets the users itself; --duration may cap its length")
                raise _clash(raws, "shape", other, why)


def _reject_step_conflicts(v: Mapping[str, Any], raws: Mapping[str, Raw]) -> None:
    """``step_users`` / ``step_duration`` set the stress profile's steps, and nothing else."""
    for key in ("step_users", "step_duration"):
        if key in v and v.get("profile") != "stress":
            raise _clash(raws, key, "sets the steps of --profile stress only; add --profile stress")
    if "step_users" in v:
        for other in ("users", "rate"):
            if other in v:
                raise _clash(raws, "step_users", other, f"{raws[other].label} would rescale the steps; "
                             "set the top with --until-break MAX")
    if "step_duration" in v and "duration" in v:
        raise _clash(raws, "step_duration", "duration", f"{raws['duration'].label} would stretch every step; "
                     "choose one")


def _clash(raws: Mapping[str, Raw], key: str, *rest: str) -> ConfigError:
    """``--rate and users in surge.toml are both set; choose ...`` or ``--max-users only caps ...``."""
    *others, why = rest
    if others:
        return ConfigError(f"{raws[key].label} and {raws[others[0]].label} are both set; {why}")
    return ConfigError(f"{raws[key].label} {why}")


def _base_shape(v: Mapping[str, Any], raws: Mapping[str, Raw]) -> tuple[tuple[Stage, ...], bool] | None:
    if "profile" in v:
        return profile_stages(v["profile"], v.get("until_break"), step_users=v.get("step_users"),
                              step_s=v.get("step_duration")), False
    if "stages" in v:
        return parse_stages(raws["stages"])
    return None


def _steady(v: Mapping[str, Any]) -> Workload:
    duration = v.get("duration", ITERATIONS_DURATION_S if "iterations" in v else DEFAULT_DURATION_S)
    if "rate" in v:
        rate = v["rate"]
        return _build((Stage(0.0, rate), Stage(duration, rate)), True, v)
    users = float(v.get("users", DEFAULT_USERS))
    ramp = min(users / v.get("spawn_rate", users), duration)
    return _build((Stage(ramp, users), Stage(duration - ramp, users)), False, v)


def _build(stages: tuple[Stage, ...], is_open: bool, v: Mapping[str, Any]) -> Workload:
    if is_open:
        peak = max((s.target for s in stages), default=0.0)
        max_users = v.get("max_users") or default_max_users(peak, v.get("processes", 1))
        return OpenWorkload(tuple(stages), max_users, arrival=v.get("arrival", Arrival.UNIFORM), seed=v.get("seed"))
    return ClosedWorkload(tuple(stages), shape=bool(v.get("shape", False)))


#: descriptors a worker keeps for itself (its pipe, logs, the scenario's own files)
FD_RESERVE = 256


def open_files_per_process() -> int:
    """The soft open-file limit: each virtual user with a request in flight holds a socket."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def default_max_users(peak_rate: float, processes: int) -> int:
    """``max(100, 10 x peak rate)``: a 1 s stall at the peak rate drops nothing; but never more
    virtual users than the workers have descriptors for (at 30,000/s that default was 300,000,
    fifteen times the open-file limit here, and the run drowned in connect errors)."""
    budget = max(processes, 1) * max(open_files_per_process() - FD_RESERVE, 100)
    return min(max(100, math.ceil(10 * peak_rate)), budget)


#: iterations/s one worker process may be asked to start: ~20 times what a core sends; more is a typo
MAX_RATE_PER_PROCESS = 1_000_000
#: memory a virtual user may take with its connection (Python objects ~4 kB, socket buffers)
USER_BYTES = 16 * 1024


def check_capacity(workload: Workload, processes: int, raws: Mapping[str, Raw]) -> None:
    """Refuse a plan the generator cannot honour, before anything starts: more users than the
    workers have descriptors or memory for, an arrival rate no machine starts. (``--users
    2000000`` once ran 13 s of connect errors; ``--rate 1e12`` never ended.)"""
    budget = max(processes, 1) * max(open_files_per_process() - FD_RESERVE, 1)
    memory = _available_memory() // USER_BYTES
    peak = max((s.target for s in workload.stages), default=0.0)
    if workload.kind == "open":
        if peak > MAX_RATE_PER_PROCESS * processes:
            raise ConfigError(
                f"{_label(raws, 'rate', 'stages')} asks for {peak:,.0f} iterations/s; {processes} worker process(es) "
                f"start at most {MAX_RATE_PER_PROCESS * processes:,}/s",
                "lower the rate or add --processes; one core sends about 50,000 requests/s")
        users, what = workload.max_users, _label(raws, "max_users", "rate", "stages")
    else:
        users, what = int(peak), _label(raws, "users", "profile", "stages")
    if users > budget:
        raise ConfigError(
            f"{what} needs {users:,} virtual users; {processes} worker process(es) hold at most {budget:,} "
            f"(each user holds a socket, and the open-file limit is {open_files_per_process():,} per process)",
            "lower it, raise the limit (ulimit -n), or add --processes")
    if users > memory:
        raise ConfigError(
            f"{what} needs {users:,} virtual users; this machine's free memory holds about {memory:,}",
            "lower it, or spread the load over machines")


def _label(raws: Mapping[str, Raw], *keys: str) -> str:
    for key in keys:
        if key in raws:
            return raws[key].label
    return "the plan"


def _available_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - no psutil, or no /proc: do not refuse on a guess
        return 1 << 62


def parse_stages(raw: Raw) -> tuple[tuple[Stage, ...], bool]:
    """``[[stages]]`` tables: ``duration`` plus ``target`` (or ``users``) for closed, ``rate`` for open;
    or k6's ``DURATION:TARGET`` strings (``--stage 30s:50``; ``30s:50/s`` for a rate).

    All stages use one mode; the shape must last longer than zero.
    """
    items = list(raw.value) if isinstance(raw.value, tuple) else raw.value
    if not isinstance(items, list) or not items:
        raise raw.fail('is not a list of stages; use [[stages]] tables with duration = "1m" and target = 50')
    parsed = [_stage_text(raw, i, item) if isinstance(item, str) else _stage(raw, i, item)
              for i, item in enumerate(items)]
    modes = {mode for _, mode in parsed}
    if len(modes) > 1:
        raise ConfigError(f"{raw.label} mix users (target) and rate; use one kind for every stage")
    stages = tuple(stage for stage, _ in parsed)
    if sum(s.duration_s for s in stages) <= 0:
        raise ConfigError(f"{raw.label} last 0 s; give at least one stage a duration")
    return stages, modes == {"rate"}


def _stage_text(raw: Raw, i: int, text: str) -> tuple[Stage, str]:
    """``30s:50``: move to 50 users over 30 s (k6's ``--stage``); ``30s:50/s``: to 50 iterations/s."""
    where = raw.label if raw.origin == "cli" else f"stages[{i}] in {raw.origin}"
    duration, sep, level = text.partition(":")
    mode = "rate" if level.strip().endswith("/s") else "users"
    level = level.strip().removesuffix("/s").strip()
    try:
        seconds, target = parse_duration(duration.strip()), float(level)
    except (ConfigError, ValueError):
        seconds = target = -1.0
    if not sep or seconds < 0 or not 0 <= target < math.inf:
        raise ConfigError(f"{where} {text!r} is not DURATION:TARGET",
                          "use e.g. --stage 30s:50 to reach 50 users in 30 s, or 30s:50/s for 50 iterations/s")
    if mode == "users" and not target.is_integer():
        raise ConfigError(f"{where} {text!r}: {level} is not a whole number of users")
    return Stage(seconds, target), mode


def _stage(raw: Raw, i: int, item: object) -> tuple[Stage, str]:
    where = f"stages[{i}]"
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} in {raw.origin}: {item!r} is not a table with duration and target")
    levels = [k for k in ("target", "users", "rate") if k in item]
    unknown = sorted(set(item) - {"duration", "target", "users", "rate"})
    if unknown or len(levels) != 1 or "duration" not in item:
        raise ConfigError(
            f"{where} {dict(item)!r} in {raw.origin}: expected duration and one of target (users), users or rate"
        )
    key = levels[0]
    duration = to_duration(Raw(f"{where}.duration", item["duration"], raw.origin, raw.base), allow_zero=True)
    level_raw = Raw(f"{where}.{key}", item[key], raw.origin, raw.base)
    is_zero = not isinstance(item[key], bool) and item[key] == 0
    level = 0.0 if is_zero else to_positive(level_raw)
    if key != "rate" and not float(level).is_integer():
        raise level_raw.fail("is not a whole number of users")
    return Stage(duration, float(level)), ("rate" if key == "rate" else "users")
