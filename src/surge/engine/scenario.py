"""Load a scenario file: its user classes, setup/teardown, load shape and custom metrics."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from ..metrics.custom import Metric
from ..model.errors import ConfigError, ScenarioError
from ..model.plan import TestPlan
from ..model.redact import Redactor
from ..model.schedule import UserMix
from .hooks import scenario_hooks
from .user import LoadTestShape, TaskSpec, User


@dataclass
class UserClassPlan:
    cls: type[User]
    weight: float
    tasks: list[TaskSpec]


def user_mix(classes: list[UserClassPlan]) -> UserMix:
    """Which of ``classes`` a closed workload's user j is of: ``fixed_count`` classes (Locust's)
    take the first users, the rest go by weight (--dry-run shows the same split)."""
    return UserMix([c.weight for c in classes], [fixed_count(c) for c in classes])


def fixed_count(plan: UserClassPlan) -> int:
    return int(getattr(plan.cls, "fixed_count", 0) or 0)


@dataclass
class Scenario:
    path: Path
    module: ModuleType
    user_classes: list[UserClassPlan]
    setup: Callable[..., Any] | None = None
    teardown: Callable[..., Any] | None = None
    shape: type[LoadTestShape] | None = None
    metrics: list[Metric] = field(default_factory=list)
    #: the event hooks the module defines: on_request, on_test_start, on_test_stop (engine/hooks.py)
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)

    @property
    def default_host(self) -> str | None:
        return next((u.cls.host for u in self.user_classes if u.cls.host), None)


def run_redactor(plan: TestPlan, scenario: Scenario | None = None) -> Redactor:
    """A redactor that knows the secrets a run is given before it starts: the password in the
    host URL, the values of secret-named ``--header`` / config headers, and each user class's
    ``host`` and ``headers`` (the clients tell it the ones set while the run goes on)."""
    classes = [u.cls for u in scenario.user_classes] if scenario is not None else []
    return Redactor(urls=[plan.host, *(c.host or "" for c in classes)],
                    headers=[dict(plan.headers), *(getattr(c, "headers", None) for c in classes)])


def load_scenario(path: str | Path, *, tags=(), exclude_tags=(), user_classes=()) -> Scenario:
    """Import the file and select its tasks. Raises ScenarioError (exit 3) or ConfigError (exit 2)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"scenario file {str(path)!r} not found", "pass the path of a Python file defining HttpUser classes")
    module = _import(path)
    # every concrete user class in the module's namespace, also one imported from a helper
    # module (as Locust counts them); bases meant for subclassing say ``abstract = True``
    found = list(dict.fromkeys(obj for obj in vars(module).values()
                               if isinstance(obj, type) and issubclass(obj, User)
                               and not obj.__dict__.get("abstract", False)))
    if user_classes:
        unknown = set(user_classes) - {c.__name__ for c in found}
        if unknown:
            raise ConfigError(f"--user-classes: {', '.join(sorted(unknown))} not in {path.name}",
                              f"classes there: {', '.join(c.__name__ for c in found) or 'none'}")
        found = [c for c in found if c.__name__ in user_classes]
    if not found:
        raise ScenarioError(f"{path.name} defines no user class",
                            "define a subclass of surge.HttpUser with at least one @task")
    problems = [p for cls in found for p in cls.problems()]
    if problems:
        raise ScenarioError(f"{path.name}: {problems[0]}", "see the scenario API in the README")
    plans = _select(found, set(tags), set(exclude_tags), path)
    hooks = scenario_hooks(module)
    if inspect.iscoroutinefunction(hooks.get("on_request")):
        raise ScenarioError(f"{path.name}: on_request must be a plain function (def, not async def)",
                            "it runs in every request's path; record what you need and return")
    shapes = [obj for obj in vars(module).values()
              if isinstance(obj, type) and issubclass(obj, LoadTestShape) and obj is not LoadTestShape
              and not obj.__dict__.get("abstract", False)]
    scenario = Scenario(
        path=path, module=module, user_classes=plans,
        setup=_hook(module, "setup"), teardown=_hook(module, "teardown"),
        shape=shapes[0] if shapes else None,
        metrics=[obj for obj in vars(module).values() if isinstance(obj, Metric)], hooks=hooks,
    )
    _aliased_hook("surge_loaded", scenario)
    return scenario


#: modules a scenario may import that surge provides itself, by the name the scenario uses:
#: ``import locust`` (and ``locust.contrib.fasthttp``...) gets surge's compatibility package,
#: never the real Locust (which monkey-patches the process with gevent when imported). Named
#: here as data: the engine does not import the compat layer, the scenario's import does.
MODULE_ALIASES = {"locust": "surge.compat.locust"}
#: what to do when a scenario imports a module that is not installed, for names an aliased API's
#: files commonly import beside it
MISSING_MODULE_HINTS = {
    "gevent": "surge runs locustfiles without gevent: time.sleep in the locustfile sleeps on surge's event "
              "loop (use it for gevent.sleep); gevent pools, queues and spawned greenlets have no counterpart",
}


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an aliased name (and its submodules) to surge's module of the aliased name."""

    def __init__(self) -> None:
        self._found: dict[str, ModuleType] = {}

    def find_spec(self, fullname: str, path=None, target=None):
        top = fullname.partition(".")[0]
        home = MODULE_ALIASES.get(top)
        if home is None:
            return None
        try:
            module = importlib.import_module(home + fullname[len(top):])
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith(home):
                raise
            raise ConfigError(f"{fullname} is not supported by surge's {top} compatibility layer",
                              "see 'Running a locustfile' in the README for what it supports") from None
        self._found[fullname] = module
        return importlib.util.spec_from_loader(fullname, self, origin=getattr(module, "__file__", None),
                                               is_package=hasattr(module, "__path__"))

    def create_module(self, spec):
        return self._found.pop(spec.name)

    def exec_module(self, module) -> None:
        """Already executed under its own name."""


_ALIASES = _AliasFinder()


def install_aliases() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once per process). A real Locust imported
    before (by something else in this process) is set aside for the scenario's imports."""
    if _ALIASES not in sys.meta_path:
        sys.meta_path.insert(0, _ALIASES)
    for name in list(sys.modules):
        top = name.partition(".")[0]
        if top in MODULE_ALIASES and not getattr(sys.modules[name], "__name__", "").startswith(MODULE_ALIASES[top]):
            del sys.modules[name]


def _aliased_hook(hook: str, *args) -> None:
    """Call ``hook`` of each aliased package imported in this process: ``surge_before_import()``
    before a scenario file is imported (a file imported again in the same process must not
    register its listeners twice), ``surge_loaded(scenario)`` after (Locust's ``init`` event)."""
    for home in MODULE_ALIASES.values():
        fn = getattr(sys.modules.get(home), hook, None)
        if fn is not None:
            fn(*args)


#: the last scenario imported that uses an aliased package, by (path, mtime): a locustfile is
#: imported once per process, as Locust does, so the in-process workers share its module state
#: (and its event listeners) with the coordinator
_last_aliased: dict = {}


def _uses_aliases(module: ModuleType) -> bool:
    homes = tuple(MODULE_ALIASES.values())
    return any((getattr(value, "__module__", None) or getattr(value, "__name__", None) or "").startswith(homes)
               for value in vars(module).values() if isinstance(value, (type, ModuleType)) or callable(value))


def _import(path: Path) -> ModuleType:
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if _last_aliased.get("key") == key:
        return _last_aliased["module"]
    module = _import_file(path)
    if _uses_aliases(module):
        _last_aliased.update(key=key, module=module)
    return module


def _import_file(path: Path) -> ModuleType:
    install_aliases()
    _aliased_hook("surge_before_import")
    name = f"surge_scenario_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path} is not a Python file", "scenario files end in .py")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so a scenario can import helpers beside it
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ConfigError:  # an unsupported API of an aliased module: one line, exit 2
        raise
    except SyntaxError as exc:
        raise ScenarioError(f"{path.name}:{exc.lineno}: syntax error: {exc.msg}", "fix the scenario file") from exc
    except BaseException as exc:  # the scenario's own code raised while importing
        frame = _innermost_own_frame(exc, path)
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        missing = (exc.name or "").partition(".")[0] if isinstance(exc, ModuleNotFoundError) else ""
        raise ScenarioError(f"{path.name} failed to import: {type(exc).__name__}: {exc} (at {where})",
                            MISSING_MODULE_HINTS.get(missing, "run it with --debug for the traceback")) from exc
    return module


def _innermost_own_frame(exc: BaseException, path: Path) -> traceback.FrameSummary:
    """The deepest frame in the scenario's own files (not in the stdlib or a library it called)."""
    frames = traceback.extract_tb(exc.__traceback__)
    folder = path.resolve().parent
    own = [f for f in frames if Path(f.filename).is_file() and Path(f.filename).resolve().parent == folder]
    return (own or frames)[-1]


def _hook(module: ModuleType, name: str):
    fn = getattr(module, name, None)
    return fn if callable(fn) and not isinstance(fn, type) else None


def _select(classes, tags: set[str], exclude: set[str], path: Path) -> list[UserClassPlan]:
    plans = []
    for cls in classes:
        tasks = [t for t in cls.task_specs()
                 if t.weight > 0 and (not tags or t.tags & tags) and not (t.tags & exclude)]
        if tasks and cls.weight > 0:
            plans.append(UserClassPlan(cls, cls.weight, tasks))
    if not plans:
        if tags or exclude:
            raise ConfigError("no task matches --tags/--exclude-tags", f"check the @tag names used in {path.name}")
        raise _nothing_to_run(classes, path)
    return plans


def _nothing_to_run(classes, path: Path) -> ScenarioError:
    """Why no class can run. Weight 0 is said as such: a class with tasks is not "without a task"."""
    reasons = [reason for reason in map(_weighs_nothing, classes) if reason]
    if reasons:
        return ScenarioError(f"{path.name}: no user class can be picked: {'; '.join(reasons)}",
                             "give a user class, and one of its @task methods, a weight > 0")
    return ScenarioError(f"{path.name}: no user class has a task", "decorate async methods with @task")


def _weighs_nothing(cls: type[User]) -> str | None:
    """``Admin has weight 0`` / ``every task of Admin has weight 0``, or None (it has no task)."""
    specs = cls.task_specs()
    if not specs:
        return None
    if cls.weight == 0:
        return f"{cls.__name__} has weight 0"
    if all(t.weight == 0 for t in specs):
        return f"every task of {cls.__name__} has weight 0"
    return None
