"""Locust's users, tasks and TaskSets, as classes surge's engine runs.

A Locust ``User`` subclass is a surge :class:`~surge.engine.user.User`: the scenario loader
finds it, the executors start, pick and stop it, and its tasks are surge task specs whose
function runs the sync task in a greenlet (``_bridge``). So weights, ``--tags``, wait times,
``on_start``/``on_stop``, ``StopUser`` and the failure counting are the engine's own.

A TaskSet is one task of its parent, as in Locust: picking it runs the TaskSet's own loop
(its tasks, its waits) until ``interrupt()``; then the parent picks again. Inside, an
exception in a task is counted (kind ``exception``, under ``User.task``) and the TaskSet goes
on, as Locust's does; a stopping user leaves it at its next wait. A closed user's iterations
all run in its own greenlet (``_loop``).

Under an open workload (``--rate``; Locust has none) an arrival is one task: a user inside a
TaskSet runs the TaskSet's next task, without its waits (the arrivals pace the load), until
``interrupt()`` returns it to its parent; a TaskSet that never interrupts keeps its users, not
the run's arrivals. The user's on_stop leaves its TaskSets first (their on_stop).
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import random
import time
from collections.abc import Callable

from ...engine import user as _engine
from ...engine.runtime import VUState, _describe
from ...engine.user import StopUser, TaskSpec, WaitTime, count_problems
from ._bridge import greenlet_spawn, in_task_greenlet, sleep
from ._client import HttpSession
from ._loop import iterate
from .env import environment as _environment
from .exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately

task = _engine.task
tag = _engine.tag


# -- wait times: surge's, also callable with no argument as Locust's are (self.wait_time()) ---------
class between(_engine.between):
    def __call__(self, iteration_s: float = 0.0) -> float:
        return random.uniform(self.low, self.high)


class constant(_engine.constant):
    def __call__(self, iteration_s: float = 0.0) -> float:
        return self.seconds


class constant_pacing(_engine.constant_pacing):
    def __call__(self, iteration_s: float = 0.0) -> float:
        return max(0.0, self.seconds - iteration_s)


def constant_throughput(task_runs_per_second: float) -> constant_pacing:
    return constant_pacing(1.0 / task_runs_per_second)


class _UserWait(WaitTime):
    """One user's wait_time: skips a wait after ``RescheduleTaskImmediately``; binds a method."""

    __slots__ = ("user", "wait", "bound")

    def __init__(self, user, wait, bound) -> None:
        self.user, self.wait, self.bound = user, wait, bound

    def __call__(self, iteration_s: float = 0.0) -> float:
        if self.user._skip_wait:
            self.user._skip_wait = False
            return 0.0
        return float(self.bound() if self.bound is not None else self.wait(iteration_s))


# -- tasks ------------------------------------------------------------------------------------
def _task_list(cls) -> list:
    """Locust's flattening: the bases' tasks, the class's ``tasks`` (list or dict of weights),
    then its ``@task`` methods, each repeated by its weight."""
    out: list = []
    for base in cls.__bases__:
        out += getattr(base, "_locust_tasks", None) or []
    declared = cls.__dict__.get("tasks")
    if declared:
        items = declared.items() if isinstance(declared, dict) else declared
        for item in items:
            if isinstance(item, tuple):
                out += [item[0]] * int(item[1])
            else:
                out.append(item)
    for attr in cls.__dict__.values():
        weight = getattr(attr, "surge_weight", None)
        if weight is not None and callable(attr):
            out += [attr] * int(weight)
    return out


def _grouped(tasks: list) -> list[tuple[object, int]]:
    counts: dict[int, list] = {}
    for item in tasks:
        entry = counts.setdefault(id(item), [item, 0])
        entry[1] += 1
    return [(item, n) for item, n in counts.values()]


def _is_taskset(item) -> bool:
    return isinstance(item, type) and issubclass(item, TaskSet)


def _name(item) -> str:
    return getattr(item, "__name__", type(item).__name__)


def _tags(item) -> frozenset:
    tags = set(getattr(item, "surge_tags", ()))
    if _is_taskset(item):  # a TaskSet is selected by its own tags or any of its tasks'
        for inner in item._locust_tasks:
            tags |= _tags(inner)
    return frozenset(tags)


def _execute(user, item, owner) -> None:
    """One task run as Locust runs it; RescheduleTask* end it early, the latter skipping the wait."""
    try:
        if _is_taskset(item):
            item(owner).run()
        else:
            item(owner)
    except RescheduleTaskImmediately:
        user._skip_wait = True
    except RescheduleTask:
        pass


def _plain(user, fn) -> None:
    """:func:`_execute` for a task function (the common case, one check less)."""
    try:
        fn(user)
    except RescheduleTaskImmediately:
        user._skip_wait = True
    except RescheduleTask:
        pass


def _taskset(user, item) -> None:
    _execute(user, item, user)


def _arrival(user, item) -> None:
    """An open workload's iteration: one task. A user inside a TaskSet runs that TaskSet's next
    task whatever was picked; picking a TaskSet enters it (its on_start, then its first task)."""
    if not user._entered:
        if not _is_taskset(item):
            _plain(user, item)
            return
        _enter(user, item(user))
    _step(user)


def _enter(user, taskset) -> None:
    user._entered.append(taskset)
    try:
        taskset.on_start()
    except InterruptTaskSet:
        _leave(user)


def _leave(user) -> None:
    user._entered.pop().on_stop()


def _step(user) -> None:
    """One task of the innermost TaskSet entered: the arrival paces it (no wait); ``interrupt()``
    leaves it (on_stop), and the next arrival goes to its parent; a raising task is counted and
    the TaskSet stays, as in the closed loop."""
    while user._entered:
        taskset = user._entered[-1]
        _check_stop(user)
        item = taskset.get_next_task()
        if _is_taskset(item):
            _enter(user, item(taskset))
            continue  # its first task now
        try:
            taskset.execute_task(item)
        except RescheduleTaskImmediately:
            pass
        except InterruptTaskSet:
            _leave(user)
        except (StopUser, asyncio.CancelledError):
            raise
        except Exception as exc:
            _count_exception(user, item, exc)
        return


def _leave_all(user) -> None:
    """The user stops: the TaskSets it is inside end first, innermost first (their on_stop)."""
    while user._entered:
        _leave(user)


def _spec(item, weight: int) -> TaskSpec:
    """A task of the engine's: awaitable (an open workload's iteration: :func:`_arrival`) and, for
    sync code, ``surge_sync``: the plain call a closed user's greenlet makes (``_loop``)."""
    if inspect.iscoroutinefunction(item):
        return TaskSpec(item, weight, _tags(item))  # an async task: surge runs it as it is

    def fn(user, _item=item):
        return greenlet_spawn(_arrival, user, _item)

    fn.__name__ = _name(item)
    fn.surge_sync = (_taskset if _is_taskset(item) else _plain, item)
    return TaskSpec(fn, weight, _tags(item))


def _dual(fn: Callable, stopping: bool = False) -> Callable:
    """``on_start``/``on_stop`` written sync: awaitable for the engine, a plain call from sync code
    (``super().on_start()``). ``stopping``: on_stop, which first leaves the TaskSets an open
    workload's user is inside (their on_stop)."""
    if inspect.iscoroutinefunction(fn) or getattr(fn, "_surge_dual", False):
        return fn
    if stopping:
        def run(self, *args, _fn=fn, **kwargs):
            _leave_all(self)
            return _fn(self, *args, **kwargs)
    else:
        run = fn

    @functools.wraps(fn)
    def hook(self, *args, **kwargs):
        if in_task_greenlet():
            return run(self, *args, **kwargs)
        return greenlet_spawn(run, self, *args, **kwargs)

    hook._surge_dual = True
    return hook


# -- users ------------------------------------------------------------------------------------
class User(_engine.User):
    """``locust.User``: a user without a client."""

    abstract = True
    wait_time = constant(0)
    weight = 1
    #: exactly this many users of the class, whatever the weights (0: by weight)
    fixed_count = 0
    tasks: list | dict = []
    environment = _environment
    _locust_tasks: list = []

    def __init__(self, client=None, data=None, user_id: int = 0) -> None:
        super().__init__(client, data, user_id)
        self._vu = None
        self._skip_wait = False
        self._entered: list = []  # the TaskSets an open workload's user is inside, innermost last
        self._surge_client = client
        declared = type(self).wait_time
        if isinstance(declared, WaitTime):
            if not (isinstance(declared, _engine.constant) and declared.seconds == 0):
                self.wait_time = _UserWait(self, declared, None)
        elif callable(declared):  # def wait_time(self) / wait_time = lambda self: ...
            self.wait_time = _UserWait(self, None, getattr(self, "wait_time"))

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for hook in ("on_start", "on_stop"):
            if hook in cls.__dict__:
                setattr(cls, hook, _dual(cls.__dict__[hook], stopping=hook == "on_stop"))
        cls._locust_tasks = _task_list(cls)
        cls._specs = None

    @property
    def _surge_iterate(self):
        """How the engine's closed loop runs this user's iterations: all of them in one greenlet
        (``_loop``) when it has sync tasks; None (the engine's own loop) when all are async."""
        if any(hasattr(spec.fn, "surge_sync") for spec in type(self).task_specs()):
            return self._iterate_in_greenlet
        return None

    def _iterate_in_greenlet(self, vu, ctx, think):
        return greenlet_spawn(iterate, vu, ctx, think)

    def _surge_bind(self, vu, ctx) -> None:
        self._vu = vu
        runner = self.environment.runner
        runner.user_count += 1
        runner._worker = ctx  # what runner.quit() ends

    on_start = _dual(lambda self: None)
    on_stop = _dual(lambda self: None, stopping=True)

    def stop(self, force: bool = False) -> None:
        raise StopUser()

    def wait(self) -> None:
        _wait(self, self.wait_time, 0.0)

    @property
    def greenlet(self):
        return None

    @classmethod
    def task_specs(cls) -> list[TaskSpec]:
        if cls.__dict__.get("_specs") is None:
            cls._specs = [_spec(item, weight) for item, weight in _grouped(cls._locust_tasks)]
        return cls._specs

    @classmethod
    def problems(cls) -> list[str]:
        out = count_problems(cls, "weight") + count_problems(cls, "fixed_count", whole=True)
        for spec in cls.task_specs():
            sync = getattr(spec.fn, "surge_sync", None)
            if sync is not None and inspect.isgeneratorfunction(sync[1]):
                out.append(f"task {cls.__name__}.{spec.name} is a generator (it yields): a Locust task is a "
                           "plain function; remove the yield")
        return out


class HttpUser(User):
    """``locust.HttpUser``: ``self.client.get("/path")`` and the rest, sync, on surge's client."""

    abstract = True

    def __init__(self, client=None, data=None, user_id: int = 0) -> None:
        super().__init__(client, data, user_id)
        self.client = HttpSession(client, self.host)


# -- TaskSets -----------------------------------------------------------------------------------
class TaskSet:
    """``locust.TaskSet``: tasks picked by weight, with waits, until ``interrupt()``."""

    tasks: list | dict = []
    wait_time = None  # the user's, unless set
    _locust_tasks: list = []

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for hook in ("on_start", "on_stop"):
            fn = cls.__dict__.get(hook)
            if fn is not None and inspect.iscoroutinefunction(fn):
                raise TypeError(f"{cls.__name__}.{hook}: a TaskSet's hooks are sync in Locust's API")
        cls._locust_tasks = _task_list(cls)

    def __init__(self, parent) -> None:
        self.parent = parent
        self.user = parent if isinstance(parent, User) else parent.user
        self._next = 0

    @property
    def client(self):
        return self.user.client

    @property
    def environment(self):
        return self.user.environment

    def on_start(self) -> None:
        pass

    def on_stop(self) -> None:
        pass

    def interrupt(self, reschedule: bool = True) -> None:
        raise InterruptTaskSet(reschedule)

    def get_next_task(self):
        if not self._locust_tasks:
            raise TypeError(f"{type(self).__name__} has no tasks")
        return random.choice(self._locust_tasks)

    def execute_task(self, item) -> None:
        _execute(self.user, item, self)
        if self.user._skip_wait:  # RescheduleTaskImmediately inside the TaskSet: no wait
            self.user._skip_wait = False
            raise RescheduleTaskImmediately()

    def wait(self, iteration_s: float = 0.0) -> None:
        own = type(self).wait_time
        if own is None:
            wait = self.user.wait_time
        elif isinstance(own, WaitTime):
            wait = own
        else:
            wait = self.wait_time  # a method of the TaskSet
        _wait(self.user, wait, iteration_s)

    def run(self) -> None:
        user = self.user
        self.on_start()
        try:
            while True:
                _check_stop(user)
                item = self.get_next_task()
                began = time.perf_counter()
                try:
                    self.execute_task(item)
                except RescheduleTaskImmediately:
                    continue
                except (InterruptTaskSet, StopUser, asyncio.CancelledError):
                    raise
                except Exception as exc:  # Locust logs it and goes on with the TaskSet
                    _count_exception(user, item, exc)
                self.wait(time.perf_counter() - began)
        except InterruptTaskSet as exc:
            self.on_stop()
            if exc.reschedule:
                raise RescheduleTaskImmediately() from None
            raise RescheduleTask() from None
        except BaseException:
            self.on_stop()
            raise


class SequentialTaskSet(TaskSet):
    """``locust.SequentialTaskSet``: its tasks in the order written, round and round."""

    def get_next_task(self):
        if not self._locust_tasks:
            raise TypeError(f"{type(self).__name__} has no tasks")
        item = self._locust_tasks[self._next % len(self._locust_tasks)]
        self._next += 1
        return item


def _check_stop(user) -> None:
    vu = user._vu
    if vu is not None and vu.stopping:
        raise StopUser()


def _wait(user, wait, iteration_s: float) -> None:
    """A wait inside a TaskSet: asleep on the loop, marked as thinking so that a stop ends it."""
    seconds = float(wait(iteration_s) if isinstance(wait, WaitTime) else wait())
    vu = user._vu
    if vu is None:
        sleep(seconds)
        return
    _check_stop(user)
    vu.state = VUState.WAITING
    try:
        sleep(seconds)  # 0 too: a TaskSet of tasks without I/O must still let the loop turn
    except asyncio.CancelledError:
        if vu.stopping:  # retired while waiting: leave the TaskSet, the user stops
            raise StopUser() from None
        raise
    finally:
        if vu.state is VUState.WAITING:
            vu.state = VUState.RUNNING


def _count_exception(user, item, exc: BaseException) -> None:
    vu = user._vu
    if vu is None:
        raise exc
    vu.client._ctx.recorder.task_error(f"{type(user).__name__}.{_name(item)}", _describe(exc))
