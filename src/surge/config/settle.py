"""Settle a run's configuration, once, into a frozen :class:`TestPlan`.

Nothing past this module sees a parsed-options object: the CLI hands over what the user
typed, this function layers it over the environment, the config file and the defaults, checks
every value, and returns the plan. Every error names the key, its source and the bad value.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..model.errors import ConfigError
from ..model.kinds import Arrival, LiveMode
from ..model.plan import TestPlan, ThresholdSpec
from ..model.profiles import profile_stages
from ..thresholds.parse import parse_cli_threshold, parse_table
from ..thresholds.steps import plan_steps, unjudged
from . import _sources as src
from ._sources import Raw
from ._workload import check_capacity, resolve_workload

LIVE_MODES = tuple(LiveMode)
ARRIVALS = tuple(Arrival)
UNTIL_BREAK_DEFAULT = 5000  # --until-break without a number


def _profile(raw: Raw) -> str:
    name = src.to_str(raw)
    try:
        profile_stages(name)
    except ConfigError as exc:
        raise raw.fail(f"is not a profile; {exc.hint}") from None
    return name


def _until_break(raw: Raw) -> int:
    return UNTIL_BREAK_DEFAULT if raw.value is True else src.to_int(raw)


def _as_is(raw: Raw) -> Any:
    return raw.value


def _exit_code(raw: Raw) -> int:
    code = src.to_int(raw, minimum=0)
    if code > 255:
        raise raw.fail("is not an exit code (0..255)")
    return code


_zero_ok = functools.partial(src.to_duration, allow_zero=True)
#: the shortest interval: below it the snapshots themselves are the load (0.001 s showed 2,034,000 rps)
MIN_INTERVAL_S = 0.1


def _interval(raw: Raw) -> float:
    seconds = src.to_duration(raw)
    if seconds < MIN_INTERVAL_S:
        raise raw.fail(f"is shorter than {MIN_INTERVAL_S * 1000:.0f}ms; use 100ms or more (default 1s)")
    return seconds


def _port(raw: Raw) -> int:
    port = src.to_int(raw)
    if port > 65535:
        raise raw.fail("is not a TCP port (1-65535)")
    return port


def _processes(raw: Raw) -> int:
    n = src.to_int(raw)
    limit = max(64, 4 * _cpus())
    if n > limit:
        raise raw.fail(f"is more worker processes than this machine runs well (at most {limit}, "
                       f"4 per CPU); one process per CPU is the default")
    return n

#: every key, with the conversion that checks it. Parsed later: stages, thresholds, threshold.
CONVERT: dict[str, Callable[[Raw], Any]] = {
    "config": src.to_path, "scenario": src.to_path, "host": src.to_url, "profile": _profile,
    "users": src.to_int, "spawn_rate": src.to_positive, "rate": src.to_positive,
    "max_users": src.to_int, "duration": src.to_duration, "stages": _as_is,
    "processes": _processes, "tags": src.to_list, "exclude_tags": src.to_list,
    "user_classes": src.to_list, "timeout": src.to_duration, "connect_timeout": src.to_duration,
    "graceful_stop": _zero_ok, "interval": _interval, "health": src.to_health,
    "health_timeout": src.to_duration, "out": src.to_results_dir, "insecure": src.to_bool,
    "follow_redirects": src.to_bool, "compression": src.to_bool, "headers": src.to_headers,
    "thresholds": _as_is,
    "threshold": _as_is, "thresholds_file": src.to_path, "abort_on_fail": src.to_bool,
    "abort_grace": _zero_ok, "until_break": _until_break,
    "step_users": src.to_int, "step_duration": src.to_duration,
    "live": lambda raw: LiveMode(src.to_choice(raw, LIVE_MODES)), "debug": src.to_bool,
    "shape": src.to_bool, "allow_worker_loss": src.to_bool, "exit_code_on_error": _exit_code,
    "hook_timeout": src.to_duration,
    "monitor_pid": src.to_int, "monitor_port": _port, "monitor_cmd": src.to_str,
    "db": lambda raw: src.to_service_url(raw, ("postgresql", "postgres"), "postgresql://app@127.0.0.1/app"),
    "redis": lambda raw: src.to_service_url(raw, ("redis", "rediss", "unix"), "redis://127.0.0.1:6379/0"),
    "host_monitor": src.to_bool, "monitor_interval": _interval,
    "hook_timeout": src.to_duration, "iterations": src.to_int,
    "think_time": _zero_ok, "baseline": src.to_path,
    "arrival": lambda raw: Arrival(src.to_choice(raw, ARRIVALS)), "seed": lambda raw: src.to_int(raw, minimum=0),
}
FILE_KEYS = set(CONVERT) - {"config", "threshold"}
ENV_KEYS = set(CONVERT) - {"stages", "headers", "thresholds", "threshold"}
CLI_KEYS = set(CONVERT) - {"thresholds"}


def settle(cli: Mapping[str, Any], env: Mapping[str, str], cwd: Path) -> TestPlan:
    """Layer defaults < config file < environment < CLI into one checked, frozen plan.

    ``cli``: only what the user passed (absent or None otherwise), keyed as below; click may
    have typed the values already, strings are fine too. ``env``: the process environment;
    ``SURGE_<KEY>`` sets ``<key>`` (other variables are ignored). ``cwd`` anchors relative
    paths given on the command line or in the environment; paths in a config file are
    relative to that file. The config file is ``--config FILE`` (or ``SURGE_CONFIG``), else
    ``./surge.toml``, else ``[tool.surge]`` in ``./pyproject.toml``; an unknown key in it is
    an error (a typo must not be ignored); ``spawn-rate`` spelling is accepted.

    Keys and defaults:

    ====================  ====================================================================
    scenario              path, required (the CLI's argument, or ``scenario`` in the config file,
                          relative to that file); ``scenario_name`` is its stem
    host                  http(s) URL, trailing ``/`` dropped; default "" (the user class's ``host``)
    profile, users,       the workload; see :mod:`surge.config._workload` (steady, 1 user,
    spawn_rate, rate,     1 min when nothing is given; open ``max_users`` default
    max_users, duration,  ``max(100, ceil(10 × peak rate))``)
    stages, until_break,
    step_users,
    step_duration,
    shape, iterations     (``iterations`` also bounds the run; a steady run then lasts at most 10 min)
    arrival, seed         open workloads: ``uniform`` (default) or ``poisson`` arrivals; ``seed``
                          (a whole number >= 0) makes Poisson arrivals repeatable
    processes             default: the CPUs this process may run on (``os.sched_getaffinity``)
    tags, exclude_tags,   lists; ``"a,b"`` in env/CLI
    user_classes
    timeout 30s, connect_timeout 10s, graceful_stop 5s, interval 1s (at least 100ms),
    health_timeout 30s, hook_timeout 60s,
    abort_grace 0s,
    think_time            durations (``500ms``, ``2s``, ``5m``, ``1h``; bare = seconds); with
                          until_break, abort_grace is each step's settle time (default: a quarter of it)
    health                a path like ``/health`` (or a full URL) polled before the run
    out                   results folder
    insecure, follow_redirects, debug, abort_on_fail,   booleans, default false
    allow_worker_loss
    compression           boolean, default true: send ``Accept-Encoding: gzip, deflate`` unless
                          the scenario sets its own (``--no-compression``: false)
    exit_code_on_error    the exit code when requests failed and no threshold is set (default 1, 0..255)
    headers               file table / CLI mapping or ``"Name: value"`` list; CLI adds to the file's
    live                  auto | rich | lines | off (default auto)
    thresholds            file ``[thresholds]`` table; plus ``thresholds_file`` (a TOML file with a
                          ``[thresholds]`` table) and the CLI's ``threshold`` list of
                          ``"TARGET: EXPR"``. All three merge; ``abort_on_fail`` makes every one abort.
    ====================  ====================================================================
    """
    cwd = Path(cwd)
    cli_raw = src.cli_values(cli, CLI_KEYS, cwd)
    env_raw = src.env_values(env, ENV_KEYS, cwd)
    table, path = src.find_config(cli_raw.get("config") or env_raw.get("config"), cwd)
    file_raw = src.file_values(table, path, FILE_KEYS) if path else {}
    raws = {**file_raw, **env_raw, **cli_raw}
    values = {key: CONVERT[key](raw) for key, raw in raws.items()}
    return _plan(values, raws, file_raw, cli_raw)


def _plan(v: dict[str, Any], raws: dict[str, Raw], file_raw: dict[str, Raw], cli_raw: dict[str, Raw]) -> TestPlan:
    if "scenario" not in v:
        raise ConfigError(
            "no scenario given", 'pass one: surge run path/to/scenario.py, or set scenario = "..." in surge.toml'
        )
    scenario = Path(v["scenario"])
    v.setdefault("processes", _cpus())  # the workload's defaults depend on it (open max_users)
    workload = resolve_workload(v, raws)
    check_capacity(workload, v["processes"], raws)
    return TestPlan(
        scenario_path=str(scenario),
        host=v.get("host", ""),
        workload=workload,
        scenario_name=scenario.stem,
        profile=v.get("profile"),
        processes=v["processes"],
        tags=v.get("tags", ()),
        exclude_tags=v.get("exclude_tags", ()),
        user_classes=v.get("user_classes", ()),
        timeout_s=v.get("timeout", 30.0),
        connect_timeout_s=v.get("connect_timeout", 10.0),
        graceful_stop_s=v.get("graceful_stop", 5.0),
        interval_s=v.get("interval", 1.0),
        thresholds=_thresholds(v, raws),
        abort_grace_s=v.get("abort_grace", 0.0),
        health_path=v.get("health"),
        health_timeout_s=v.get("health_timeout", 30.0),
        out_dir=v.get("out"),
        baseline_dir=v.get("baseline"),
        insecure=v.get("insecure", False),
        follow_redirects=v.get("follow_redirects", False),
        compression=v.get("compression", True),
        headers=_headers(file_raw, cli_raw),
        until_break=v.get("until_break"),
        step_settle_s=_step_settle(v, workload),
        live=v.get("live", LiveMode.AUTO),
        debug=v.get("debug", False),
        allow_worker_loss=v.get("allow_worker_loss", False),
        exit_code_on_error=v.get("exit_code_on_error", 1),
        hook_timeout_s=v.get("hook_timeout", 60.0),
        **_monitoring(v, raws),
        iterations=v.get("iterations"),
        think_time_s=v.get("think_time"),
    )


def _monitoring(v: dict[str, Any], raws: dict[str, Raw]) -> dict[str, Any]:
    """The monitors' settings; one way of naming the target at most."""
    named = [key for key in ("monitor_pid", "monitor_port", "monitor_cmd") if key in v]
    if len(named) > 1:
        raise ConfigError(f"{raws[named[0]].label} and {raws[named[1]].label} are both set; "
                          "name the target process one way (a pid, the port it listens on, or a command)")
    return dict(monitor_pid=v.get("monitor_pid"), monitor_port=v.get("monitor_port"),
                monitor_cmd=v.get("monitor_cmd") or None, db_url=v.get("db"), redis_url=v.get("redis"),
                host_monitor=v.get("host_monitor", True), monitor_interval_s=v.get("monitor_interval", 1.0))


def _step_settle(v: dict[str, Any], workload) -> float | None:
    """With until_break, each step settles for --abort-grace if given (else its first 25%)
    before it is judged; a step left with no whole interval to judge could never break."""
    if v.get("until_break") is None:
        return None
    settle_s = v.get("abort_grace")
    interval_s = v.get("interval", 1.0)
    step = unjudged(plan_steps(workload.stages, settle_s), interval_s)
    if step is not None:
        raise ConfigError(
            f"stress step {step.number} lasts {step.end_s - step.start_s:g}s: after its settle time of "
            f"{step.settle_s:g}s no whole {interval_s:g}s interval is left to judge it on, so it could never break",
            "make the steps longer (--step-duration), or shorten --abort-grace or --interval")
    return settle_s


def _cpus() -> int:
    """CPUs this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _headers(file_raw: dict[str, Raw], cli_raw: dict[str, Raw]) -> tuple[tuple[str, str], ...]:
    """The file's headers, with the CLI's added on top (same name: the CLI wins)."""
    merged: dict[str, str] = {}
    for raws in (file_raw, cli_raw):
        if "headers" in raws:
            merged.update(src.to_headers(raws["headers"]))
    return tuple(merged.items())


def _thresholds(v: dict[str, Any], raws: dict[str, Raw]) -> tuple[ThresholdSpec, ...]:
    """The config file's table, then ``thresholds_file``'s, then each ``--threshold``."""
    specs: list[ThresholdSpec] = []

    def add(parsed: list[ThresholdSpec], source: str) -> None:
        specs.extend(dataclasses.replace(s, source=source) for s in parsed)

    if "thresholds" in raws:
        add(parse_table(raws["thresholds"].value, raws["thresholds"].origin), raws["thresholds"].origin)
    if "thresholds_file" in v:
        path = Path(v["thresholds_file"])
        table = src.read_toml(path, raws["thresholds_file"].label)
        if "thresholds" not in table:
            raise raws["thresholds_file"].fail('has no [thresholds] table; add one: [thresholds] "*" = "p95 < 300ms"')
        add(parse_table(table["thresholds"], str(path)), f"{raws['thresholds_file'].label} {path}")
    if "threshold" in raws:
        given = raws["threshold"].value
        label = raws["threshold"].label
        add([parse_cli_threshold(text, source=label) for text in ([given] if isinstance(given, str) else given)],
            label)
    if v.get("abort_on_fail"):
        specs = [dataclasses.replace(s, abort_on_fail=True) for s in specs]
    return tuple(specs)
