"""What ``surge run --list`` and ``--dry-run`` print: the scenario's classes and tasks, and the
settled plan as the workers would carry it out. Both return text; the caller prints it.

The figures come from the functions the executors use (:func:`owned_by_class`,
:func:`owned_count`, :func:`owned_iterations`), so the split shown is the split that runs.
"""
from __future__ import annotations

from pathlib import Path

from ..engine.scenario import Scenario, fixed_count
from ..model.durations import format_duration
from ..model.kinds import WorkloadKind
from ..model.plan import TestPlan
from ..model.redact import redact_url
from ..model.schedule import owned_by_class, owned_count, owned_iterations, weighted_cycle


def describe_scenario(scenario: Scenario) -> str:
    """User classes with their weights and think time, their tasks with weights and tags, the tags in use."""
    classes = scenario.user_classes
    total = sum(c.weight for c in classes if not fixed_count(c))
    tasks = sum(len(c.tasks) for c in classes)
    lines = [f"{scenario.path.name}: {_count(len(classes), 'user class', 'user classes')}, "
             f"{_count(tasks, 'task', 'tasks')}"]
    for c in classes:
        fixed = fixed_count(c)  # Locust's: that many users, whatever the weights
        share = f"fixed_count {fixed}" if fixed else f"weight {c.weight:g} ({_share(c.weight, total)})"
        lines.append(f"  {c.cls.__name__}  {share}  wait_time {_wait_time(c.cls.wait_time)}")
        task_total = sum(t.weight for t in c.tasks)
        width = max(len(t.name) for t in c.tasks)
        for t in c.tasks:
            tags = f"  tags: {', '.join(sorted(t.tags))}" if t.tags else ""
            lines.append(f"    {t.name:<{width}}  weight {t.weight:g} ({_share(t.weight, task_total)}){tags}")
    used = sorted({tag for c in classes for t in c.tasks for tag in t.tags})
    lines.append(f"tags in use: {', '.join(used) if used else 'none'}")
    if scenario.hooks:
        lines.append(f"event hooks: {', '.join(scenario.hooks)}")
    return "\n".join(lines) + "\n"


def describe_plan(plan: TestPlan, scenario: Scenario, out_dir: Path | str) -> str:
    """The settled plan: workload, every stage after scaling, users (or rate) per class and per
    worker, iterations, think time, thresholds with their source, host and results folder."""
    workload, n = plan.workload, plan.processes
    lines = [f"scenario: {plan.scenario_path}",
             f"host: {redact_url(plan.host)}",
             f"workload: {workload.kind.value}, {f'profile {plan.profile}' if plan.profile else 'no profile'}, "
             f"{_count(n, 'worker process', 'worker processes')}"]
    lines += _stages(plan, scenario)
    if workload.kind is WorkloadKind.OPEN:
        lines += _open_split(plan, scenario)
    elif not getattr(workload, "shape", False):
        lines += _closed_split(plan, scenario)
    if plan.iterations is not None:
        shares = [owned_iterations(plan, i, n) for i in range(n)]
        lines.append(f"iterations: {plan.iterations:,} (per worker: {', '.join(f'{s:,}' for s in shares)}); "
                     f"the run ends at them, or after {_at(plan.duration_s)}")
    if workload.kind is WorkloadKind.CLOSED:
        lines.append("think time: " + (f"{_at(plan.think_time_s)} for every class (--think-time)"
                                       if plan.think_time_s is not None else
                                       ", ".join(f"{c.cls.__name__} {_wait_time(c.cls.wait_time)}"
                                                 for c in scenario.user_classes)))
    lines.append("thresholds:" if plan.thresholds else "thresholds: none")
    for t in plan.thresholds:
        abort = ", aborts on fail" if t.abort_on_fail else ""
        lines.append(f"  {t.label}  ({t.source or 'plan'}{abort})")
    lines.append(f"results: {out_dir} (not created: --dry-run starts nothing)")
    return "\n".join(lines) + "\n"


def _stages(plan: TestPlan, scenario: Scenario) -> list[str]:
    workload = plan.workload
    if getattr(workload, "shape", False):
        name = scenario.shape.__name__ if scenario.shape else "the shape"
        length = f"for {_at(plan.duration_s)}" if plan.duration_s else "until its tick returns None"
        return [f"stages: {name} sets the users as it ticks, {length}"]
    unit = "/s" if workload.kind is WorkloadKind.OPEN else " users"
    lines = [f"stages (after scaling; {_at(workload.duration_s)} in all):"]
    start, level = 0.0, 0.0
    for i, s in enumerate(workload.stages, 1):
        end = start + s.duration_s
        move = (f"hold {s.target:g}{unit}" if s.target == level else f"jump to {s.target:g}{unit}"
                if not s.duration_s else f"{level:g} -> {s.target:g}{unit}")
        lines.append(f"  {i:>2}  {_at(start):>7} .. {_at(end):<7}  {move}")
        start, level = end, s.target
    return lines


def _closed_split(plan: TestPlan, scenario: Scenario) -> list[str]:
    classes, n = scenario.user_classes, plan.processes
    peak = int(plan.workload.peak)
    weights, fixed = [c.weight for c in classes], [fixed_count(c) for c in classes]
    per_worker = [owned_by_class(peak, weights, i, n, fixed) for i in range(n)]
    per_class = [sum(w[k] for w in per_worker) for k in range(len(classes))]
    names = [c.cls.__name__ for c in classes]
    capped = f", capped by fixed_count from {peak:,}" if sum(per_class) < peak else ""
    lines = [f"users at the peak: {sum(per_class):,} ({_by_class(names, per_class)}{capped})"]
    for i, counts in enumerate(per_worker):
        lines.append(f"  worker {i}: {sum(counts):,} ({_by_class(names, counts)})")
    return lines


def _open_split(plan: TestPlan, scenario: Scenario) -> list[str]:
    classes, n, workload = scenario.user_classes, plan.processes, plan.workload
    cycle = weighted_cycle([c.weight for c in classes])
    shares = ", ".join(f"{c.cls.__name__} {_share(cycle.count(k), len(cycle))}" for k, c in enumerate(classes))
    lines = [f"arrivals at the peak: {workload.peak:g}/s ({shares}), served by at most "
             f"{workload.max_users:,} users"]
    for i in range(n):
        lines.append(f"  worker {i}: {workload.peak / n:g}/s, at most {owned_count(workload.max_users, i, n):,} users")
    lines.append(f"arrival process: {_arrival(workload)}")
    return lines


def _arrival(workload) -> str:
    if workload.arrival == "poisson":
        seed = f"seed {workload.seed}" if workload.seed is not None else "unseeded: a fresh stream each run (--seed N repeats one)"
        return f"poisson, each worker its own stream ({seed})"
    return "uniform (evenly spaced)"


def _by_class(names: list[str], counts: list[int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in zip(names, counts))


def _wait_time(wait_time) -> str:
    if wait_time is None:
        return "none"
    text = getattr(wait_time, "__name__", None) or repr(wait_time)
    return f"{type(wait_time).__name__}(...)" if " at 0x" in text else text


def _share(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "-"


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _at(seconds: float) -> str:
    return format_duration(seconds) if seconds else "0s"
