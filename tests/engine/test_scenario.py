"""Loading scenario files (``load_scenario``) and the author's vocabulary (``surge.engine.user``)."""
from __future__ import annotations

import random
import sys
import textwrap

import pytest

from surge.engine.scenario import load_scenario
from surge.engine.user import LoadTestShape, StopUser, between, constant, constant_pacing, tag, task
from surge.metrics.custom import Counter, Rate, Trend
from surge.model.errors import ConfigError, ExitCode, ScenarioError


@pytest.fixture
def write(tmp_path, monkeypatch):
    """Write files into tmp_path; forget the modules and sys.path entry they bring in afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)

    def _write(name: str, source: str):
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    yield _write
    for name in set(sys.modules) - before:
        del sys.modules[name]


def weights(scenario, cls_name: str) -> dict[str, float]:
    plan = next(p for p in scenario.user_classes if p.cls.__name__ == cls_name)
    return {t.name: t.weight for t in plan.tasks}


# -- what is found ---------------------------------------------------------------------------------
def test_user_classes_and_task_weights(write):
    path = write("shop.py", """
        from surge import HttpUser, task, between

        class Base(HttpUser):
            abstract = True
            host = "http://shop.test"

            @task
            async def home(self):
                pass

        class Browser(Base):
            weight = 3
            wait_time = between(1, 2)

            @task(3)
            async def browse(self):
                pass

        class Buyer(Base):
            @task(0.5)
            async def buy(self):
                pass
    """)
    scenario = load_scenario(path)
    assert [p.cls.__name__ for p in scenario.user_classes] == ["Browser", "Buyer"]  # the abstract base is skipped
    assert [p.weight for p in scenario.user_classes] == [3, 1]
    assert weights(scenario, "Browser") == {"browse": 3, "home": 1}  # inherited tasks count
    assert weights(scenario, "Buyer") == {"buy": 0.5, "home": 1}
    assert scenario.default_host == "http://shop.test"
    assert scenario.setup is scenario.teardown is scenario.shape is None
    assert scenario.metrics == []


def test_user_classes_imported_from_other_modules_count_unless_abstract(write):
    """As Locust counts them: a class in the module's namespace is a user class of the scenario,
    wherever it was defined; a base meant only for subclassing says ``abstract = True``."""
    write("helpers.py", """
        from surge import HttpUser, task

        class Shared(HttpUser):
            @task
            async def ping(self):
                pass

        class Base(HttpUser):
            abstract = True

            @task
            async def base_task(self):
                pass
    """)
    path = write("main_scenario.py", """
        from surge import HttpUser, User, task
        from helpers import Base, Shared  # a helper beside the scenario is importable

        class Mine(Shared):
            @task(2)
            async def mine(self):
                pass

        class Derived(Base):
            pass
    """)
    scenario = load_scenario(path)
    assert [p.cls.__name__ for p in scenario.user_classes] == ["Shared", "Mine", "Derived"]
    assert weights(scenario, "Mine") == {"mine": 2, "ping": 1}
    assert weights(scenario, "Derived") == {"base_task": 1}


def test_a_class_imported_only_from_another_module_is_a_user_class(write):
    write("users.py", """
        from surge import HttpUser, task

        class Browser(HttpUser):
            @task
            async def browse(self):
                pass
    """)
    path = write("only_imports.py", "from users import Browser\n")
    assert [p.cls.__name__ for p in load_scenario(path).user_classes] == ["Browser"]


def test_tasks_attribute_as_a_list_or_a_dict(write):
    path = write("explicit.py", """
        from surge import HttpUser, task

        async def read(user):
            pass

        @task(4)
        async def write(user):
            pass

        class ListUser(HttpUser):
            tasks = [read, write]

        class DictUser(HttpUser):
            tasks = {read: 3, write: 1}
    """)
    scenario = load_scenario(path)
    assert weights(scenario, "ListUser") == {"read": 1, "write": 4}  # a list keeps @task weights
    assert weights(scenario, "DictUser") == {"read": 3, "write": 1}


def test_user_classes_selects_by_name(write):
    path = write("two.py", """
        from surge import HttpUser, task

        class A(HttpUser):
            @task
            async def a(self):
                pass

        class B(HttpUser):
            @task
            async def b(self):
                pass
    """)
    assert [p.cls.__name__ for p in load_scenario(path, user_classes=("B",)).user_classes] == ["B"]
    with pytest.raises(ConfigError, match="C not in two.py") as err:
        load_scenario(path, user_classes=("B", "C"))
    assert "A, B" in err.value.hint


def test_zero_weights_drop_tasks_and_classes(write):
    path = write("zero.py", """
        from surge import HttpUser, task

        class Off(HttpUser):
            weight = 0

            @task
            async def a(self):
                pass

        class On(HttpUser):
            @task(0)
            async def never(self):
                pass

            @task
            async def b(self):
                pass
    """)
    scenario = load_scenario(path)
    assert [p.cls.__name__ for p in scenario.user_classes] == ["On"]
    assert weights(scenario, "On") == {"b": 1}


def test_only_zero_weights_is_said_as_such(write):
    path = write("zeros.py", """
        from surge import HttpUser, task

        async def ping(user):
            pass

        class Idle(HttpUser):
            pass

        class Muted(HttpUser):
            tasks = {ping: 0}
    """)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.message == "zeros.py: no user class can be picked: every task of Muted has weight 0"
    assert err.value.exit_code == ExitCode.CANNOT_PROCEED and "weight > 0" in err.value.hint


# -- tags --------------------------------------------------------------------------------------------
TAGGED = """
    from surge import HttpUser, tag, task

    class Api(HttpUser):
        @tag("read")
        @task(2)
        async def facts(self):
            pass

        @task
        @tag("write", "slow")
        async def correct(self):
            pass

        @task
        async def untagged(self):
            pass

    class Admin(HttpUser):
        @tag("admin")
        @task
        async def purge(self):
            pass
"""


def test_tags_select_tasks(write):
    path = write("tagged.py", TAGGED)
    scenario = load_scenario(path, tags=("read",))
    assert [p.cls.__name__ for p in scenario.user_classes] == ["Api"]  # a class with no selected task drops out
    assert weights(scenario, "Api") == {"facts": 2}
    assert weights(load_scenario(path, tags=("read", "slow")), "Api") == {"facts": 2, "correct": 1}


def test_exclude_tags_drop_tasks(write):
    path = write("tagged.py", TAGGED)
    scenario = load_scenario(path, exclude_tags=("write", "admin"))
    assert [p.cls.__name__ for p in scenario.user_classes] == ["Api"]
    assert weights(scenario, "Api") == {"facts": 2, "untagged": 1}
    assert weights(load_scenario(path, tags=("read", "write"), exclude_tags=("slow",)), "Api") == {"facts": 2}


def test_tags_that_match_nothing_are_a_config_error(write):
    path = write("tagged.py", TAGGED)
    with pytest.raises(ConfigError, match="no task matches --tags") as err:
        load_scenario(path, tags=("nope",))
    assert "tagged.py" in err.value.hint
    with pytest.raises(ConfigError):
        load_scenario(path, exclude_tags=("read", "write", "admin", "slow"), tags=("read",))


def test_tag_accumulates_and_task_marks():
    @tag("b")
    @tag("a")
    @task(2)
    async def fn(user):
        pass

    assert fn.surge_tags == {"a", "b"} and fn.surge_weight == 2
    with pytest.raises(ValueError):
        task(-1)


# -- what goes wrong ----------------------------------------------------------------------------------
def test_sync_task_must_be_async(write):
    path = write("sync.py", """
        from surge import HttpUser, task

        class Slow(HttpUser):
            @task
            def blocking(self):
                pass
    """)
    with pytest.raises(ScenarioError, match=r"task Slow\.blocking must be 'async def'") as err:
        load_scenario(path)
    assert err.value.exit_code is ExitCode.CANNOT_PROCEED


def test_sync_hooks_and_listed_tasks_must_be_async(write):
    path = write("hooks.py", """
        from surge import HttpUser, task

        def listed(user):
            pass

        class Listed(HttpUser):
            tasks = [listed]
    """)
    with pytest.raises(ScenarioError, match="Listed.listed must be 'async def'"):
        load_scenario(path)
    path = write("hooks2.py", """
        from surge import HttpUser, task

        class Hooked(HttpUser):
            def on_start(self):
                pass

            @task
            async def t(self):
                pass
    """)
    with pytest.raises(ScenarioError, match="Hooked.on_start must be 'async def'"):
        load_scenario(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found") as err:
        load_scenario(tmp_path / "nope.py")
    assert err.value.exit_code is ExitCode.USAGE
    with pytest.raises(ConfigError):
        load_scenario(tmp_path)  # a folder is not a scenario file


def test_syntax_error_names_the_line(write):
    path = write("broken.py", """
        from surge import HttpUser

        class Broken(HttpUser)
            pass
    """)
    with pytest.raises(ScenarioError, match=r"broken\.py:4: syntax error") as err:
        load_scenario(path)
    assert err.value.exit_code is ExitCode.CANNOT_PROCEED


def test_import_raising_names_the_exception_and_where(write):
    path = write("raises.py", """
        import os

        TOKEN = os.environ["SURGE_TEST_SURELY_UNSET_TOKEN"]
    """)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = err.value.message
    assert "raises.py failed to import: KeyError" in message
    assert "SURGE_TEST_SURELY_UNSET_TOKEN" in message and "raises.py:4" in message
    assert err.value.exit_code is ExitCode.CANNOT_PROCEED


def test_an_error_in_a_helper_beside_the_scenario_names_the_helper_line(write):
    write("config_helper.py", """
        def load():
            raise RuntimeError("no config")

        CONFIG = load()
    """)
    path = write("uses_helper.py", """
        import config_helper
    """)
    with pytest.raises(ScenarioError, match=r"RuntimeError: no config \(at config_helper\.py:3\)"):
        load_scenario(path)


def test_sys_exit_while_importing_is_a_scenario_error(write):
    path = write("exits.py", "raise SystemExit(5)\n")
    with pytest.raises(ScenarioError, match="SystemExit"):
        load_scenario(path)


def test_no_user_class(write):
    path = write("empty.py", """
        from surge import HttpUser, User  # imported bases are not user classes

        class Base(HttpUser):
            abstract = True
    """)
    with pytest.raises(ScenarioError, match="empty.py defines no user class"):
        load_scenario(path)


def test_user_class_without_tasks(write):
    path = write("idle.py", """
        from surge import HttpUser

        class Idle(HttpUser):
            pass
    """)
    with pytest.raises(ScenarioError, match="no user class has a task"):
        load_scenario(path)


# -- hooks, shapes and metrics -------------------------------------------------------------------------
def test_setup_teardown_shape_and_metrics_are_discovered(write):
    path = write("full.py", """
        from surge import Counter, HttpUser, LoadTestShape, Rate, Trend, task

        server_ms = Trend("server_ms")
        cache_hit = Rate("cache_hit")
        items = Counter("items")

        def setup():
            return {"token": "abc"}

        def teardown(data):
            pass

        class Waves(LoadTestShape):
            def tick(self, run_time_s):
                return (10, 5) if run_time_s < 60 else None

        class Api(HttpUser):
            @task
            async def t(self):
                pass
    """)
    scenario = load_scenario(path)
    assert scenario.setup() == {"token": "abc"}
    assert scenario.teardown.__name__ == "teardown"
    assert issubclass(scenario.shape, LoadTestShape) and scenario.shape.__name__ == "Waves"
    assert scenario.shape().tick(1) == (10, 5)
    assert {(type(m), m.name) for m in scenario.metrics} == {(Trend, "server_ms"), (Rate, "cache_hit"),
                                                            (Counter, "items")}
    assert scenario.module.items is next(m for m in scenario.metrics if m.name == "items")


def test_a_class_named_setup_is_not_a_hook(write):
    path = write("classy.py", """
        from surge import HttpUser, task

        class setup:
            pass

        teardown = 42

        class Api(HttpUser):
            @task
            async def t(self):
                pass
    """)
    scenario = load_scenario(path)
    assert scenario.setup is None and scenario.teardown is None


# -- think time ----------------------------------------------------------------------------------------
def test_between_draws_uniformly_within_bounds():
    random.seed(1)
    wait = between(1, 3)
    draws = [wait(0.5) for _ in range(2000)]
    assert all(1 <= d <= 3 for d in draws)
    assert sum(draws) / len(draws) == pytest.approx(2, abs=0.1)
    assert min(draws) < 1.1 and max(draws) > 2.9
    assert between(2, 2)(10) == 2
    assert repr(wait) == "between(1, 3)"


def test_constant_ignores_the_iteration_time():
    assert [constant(1.5)(t) for t in (0, 1, 10)] == [1.5, 1.5, 1.5]
    assert constant(0)(3) == 0


def test_constant_pacing_fills_up_the_period():
    pace = constant_pacing(2)
    assert pace(0) == 2
    assert pace(0.5) == 1.5
    assert pace(2) == 0
    assert pace(5) == 0  # an iteration longer than the period starts the next at once


@pytest.mark.parametrize("make", [lambda: between(-1, 2), lambda: between(3, 2), lambda: constant(-1),
                                  lambda: constant_pacing(0), lambda: constant_pacing(-2)])
def test_think_times_reject_bad_arguments(make):
    with pytest.raises(ValueError):
        make()


def test_stop_user_is_an_exception_not_a_failure_kind():
    assert issubclass(StopUser, Exception)
