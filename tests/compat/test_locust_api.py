"""The Locust layer's parts in this process: the greenlet bridge, the module alias, task
collection, shapes, Locust's flags and config files, stats. (End to end: test_locustfiles.py.)"""
from __future__ import annotations

import asyncio
import sys
import textwrap
import types
from pathlib import Path

import pytest

from surge.cli.locust_flags import check_argv, read_locust_conf, settle_locust
from surge.compat.locust import _bridge
from surge.compat.locust._bridge import await_only, greenlet_spawn, in_task_greenlet
from surge.engine.executors.closed import shape_length_s
from surge.engine.scenario import load_scenario
from surge.model.errors import ConfigError

FILES = Path(__file__).with_name("locustfiles")


# -- the bridge -----------------------------------------------------------------------------
def test_sync_code_waits_for_awaitables_and_gets_results_and_errors():
    async def answer(value):
        await asyncio.sleep(0)
        return value

    async def broken():
        raise KeyError("gone")

    def sync(n):
        assert in_task_greenlet()
        total = sum(await_only(answer(i)) for i in range(n))
        try:
            await_only(broken())
        except KeyError as exc:
            return total, str(exc)

    async def main():
        return await greenlet_spawn(sync, 5)

    assert asyncio.run(main()) == (10, "'gone'")
    assert not in_task_greenlet()


def test_an_error_of_the_sync_code_reaches_the_awaiting_coroutine_and_greenlets_are_reused():
    def fails():
        raise ValueError("task broke")

    async def main():
        for _ in range(50):
            with pytest.raises(ValueError, match="task broke"):
                await greenlet_spawn(fails)
        return await greenlet_spawn(lambda: "fine")

    _bridge._idle.clear()
    assert asyncio.run(main()) == "fine"
    assert len(_bridge._idle) == 1  # one greenlet served all 51 calls made one after another


def test_cancelling_the_task_unwinds_the_sync_code_through_its_finally():
    ran = []

    def sync():
        try:
            await_only(asyncio.sleep(30))
        finally:
            ran.append("finally")

    async def main():
        task = asyncio.ensure_future(greenlet_spawn(sync))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert ran == ["finally"]


def test_await_only_outside_a_task_greenlet_says_so():
    async def never():
        pass

    with pytest.raises(RuntimeError, match="outside a task"):
        await_only(never())


# -- the module alias -------------------------------------------------------------------------
def test_a_locustfile_gets_surges_locust_even_when_another_was_imported(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "locust", types.ModuleType("locust"))  # a stand-in "real" Locust
    path = tmp_path / "lf.py"
    path.write_text(textwrap.dedent("""
        import locust
        import locust.contrib.fasthttp
        from locust import HttpUser, task
        from locust.exception import StopUser

        class U(locust.contrib.fasthttp.FastHttpUser):
            @task(3)
            def a(self):
                self.client.get("/a")
    """))
    scenario = load_scenario(path)
    module = sys.modules["locust"]
    assert module.__name__ == "surge.compat.locust" and scenario.module.locust is module
    assert scenario.module.StopUser is __import__("surge").StopUser
    (plan,) = scenario.user_classes
    assert [(t.name, t.weight) for t in plan.tasks] == [("a", 3)]


@pytest.mark.parametrize("source, named", [
    ("from locust import run_single_user", "locust.run_single_user"),
    ("import locust.rpc", "locust.rpc"),
    ("from locust import events\n@events.init_command_line_parser.add_listener\ndef f(parser): pass",
     "events.init_command_line_parser"),
])
def test_an_unsupported_locust_api_is_a_config_error_naming_it(tmp_path, source, named):
    path = tmp_path / "lf.py"
    path.write_text(source + "\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert named in str(info.value) and info.value.exit_code == 2


def test_tasks_weights_tags_and_tasksets_are_collected_as_locust_does(tmp_path):
    scenario = load_scenario(FILES / "tasksets.py")
    (plan,) = scenario.user_classes
    assert sorted((t.name, t.weight) for t in plan.tasks) == [("Browse", 1), ("Checkout", 1)]
    scenario = load_scenario(FILES / "tagged.py", tags={"cache"})
    assert [(p.cls.__name__, [t.name for t in p.tasks]) for p in scenario.user_classes] == [("AdminUser", ["cache_stats"])]


def test_the_guides_spike_shape_is_a_pure_function_of_the_run_time():
    sys.path.insert(0, str(FILES))
    try:
        scenario = load_scenario(FILES / "spike_user.py")
    finally:
        sys.path.remove(str(FILES))
    shape = scenario.shape()
    assert shape.tick(0) == (100, 10) and shape.tick(130) == (1000, 100) and shape.tick(599) == (100, 10)
    assert shape.get_run_time() == 599
    assert shape_length_s(shape) == 600


# -- Locust's flags and config files ------------------------------------------------------------
def test_unsupported_flags_name_what_to_use_and_tag_lists_are_joined():
    with pytest.raises(ConfigError, match="--master.*--processes"):
        check_argv(["-f", "x.py", "--master"])
    with pytest.raises(ConfigError, match="--web-port"):
        check_argv(["--web-port=8089"])
    assert check_argv(["--tags", "a", "b", "-E", "c", "x.py"]) == ["--tags", "a,b", "-E", "c", "x.py"]


def test_locust_conf_is_read_below_the_command_line(tmp_path):
    lf = tmp_path / "lf.py"
    lf.write_text("from locust import HttpUser\n")
    (tmp_path / "locust.conf").write_text(
        "[locust]\nlocustfile = lf.py\nusers = 7\nrun-time = 10m\nhost = http://127.0.0.1:1\n"
        "exclude-tags = slow other\nstop_timeout = 3\ncsv = r/x\n")
    scenario, options, outputs = settle_locust(None, {"users": "2"}, tmp_path)
    assert scenario == "lf.py" and outputs == {"csv": "r/x"}
    assert options == {"users": "2", "duration": "10m", "host": "http://127.0.0.1:1",
                       "exclude_tags": ["slow", "other"], "graceful_stop": "3"}
    assert read_locust_conf(tmp_path / "missing.conf") == {}
    (tmp_path / "locust.conf").write_text("expect-workers = 3\n")
    with pytest.raises(ConfigError, match="expect-workers"):
        settle_locust(None, {}, tmp_path)
    (tmp_path / "locust.conf").write_text("colour = blue\n")
    with pytest.raises(ConfigError, match="colour .* not a Locust option"):
        settle_locust("lf.py", {}, tmp_path)


def test_a_surge_scenario_ignores_locust_conf(tmp_path):
    (tmp_path / "plain.py").write_text("from surge import HttpUser\n")
    (tmp_path / "locust.conf").write_text("users = 9\n")
    assert settle_locust("plain.py", {}, tmp_path)[1] == {}


# -- stats -------------------------------------------------------------------------------------
def test_worker_side_stats_keep_locusts_percentiles():
    from surge.compat.locust.stats import RequestStats

    stats = RequestStats()
    for ms in range(1, 101):
        stats.log("GET", "/a", float(ms), 10, None if ms % 10 else ValueError("x"))
    total = stats.total
    assert total.num_requests == 100 and total.num_failures == 10 and total.avg_response_time == 50.5
    # Locust's own rule (the first time, from the top, with at most p of the requests below it)
    assert total.get_response_time_percentile(0.5) == 51 and total.get_response_time_percentile(0.99) == 100
    assert stats.get("/a", "GET").num_requests == 100 and len(stats.errors) == 1
