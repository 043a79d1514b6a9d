"""settle(): defaults < config file < environment < CLI, into one checked TestPlan."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from surge.config import settle
from surge.model.errors import ConfigError
from surge.model.plan import ClosedWorkload, OpenWorkload, Stage
from surge.model.profiles import PROFILES, profile_stages

BASE = {"scenario": "scenario.py"}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def plan(tmp_path, cli=None, env=None):
    return settle({**BASE, **(cli or {})}, env or {}, tmp_path)


# -- defaults -------------------------------------------------------------------------------------
def test_defaults(tmp_path):
    p = plan(tmp_path)
    assert p.scenario_path == str(tmp_path / "scenario.py")
    assert p.scenario_name == "scenario"
    assert p.host == "" and p.profile is None
    assert p.workload == ClosedWorkload((Stage(1.0, 1.0), Stage(59.0, 1.0)))  # 1 user, 1 min
    assert p.processes == len(os.sched_getaffinity(0))
    assert (p.timeout_s, p.connect_timeout_s, p.graceful_stop_s, p.interval_s) == (30, 10, 5, 1)
    assert (p.health_path, p.health_timeout_s, p.abort_grace_s) == (None, 30, 0)
    assert (p.insecure, p.follow_redirects, p.debug, p.live) == (False, False, False, "auto")
    assert p.thresholds == () and p.headers == () and p.tags == () and p.until_break is None


def test_none_means_not_given(tmp_path):
    assert plan(tmp_path, {"users": None, "host": None, "threshold": ()}).workload.peak == 1


def test_scenario_is_required(tmp_path):
    with pytest.raises(ConfigError, match="no scenario given"):
        settle({}, {}, tmp_path)


# -- layering ------------------------------------------------------------------------------------------
def test_file_then_env_then_cli(tmp_path):
    write(tmp_path / "surge.toml", """
        host = "http://file:1"
        users = 3
        timeout = "3s"
        tags = ["file"]
        live = "lines"
    """)
    env = {"SURGE_HOST": "http://env:2", "SURGE_USERS": "4", "SURGE_TAGS": "a, b", "SURGE_LIVE": "off"}
    p = plan(tmp_path, {"host": "http://cli:3/"}, env)
    assert p.host == "http://cli:3"  # CLI wins, trailing slash dropped
    assert p.workload.peak == 4  # env over file
    assert p.timeout_s == 3  # file over default
    assert p.tags == ("a", "b") and p.live == "off"
    assert plan(tmp_path).host == "http://file:1"


def test_env_and_cli_types(tmp_path):
    env = {"SURGE_INSECURE": "yes", "SURGE_PROCESSES": "3", "SURGE_GRACEFUL_STOP": "0", "SURGE_EXCLUDE_TAGS": "slow"}
    p = plan(tmp_path, {"follow_redirects": True, "user_classes": ("Reader",), "interval": "500ms"}, env)
    assert p.insecure and p.follow_redirects and p.processes == 3 and p.graceful_stop_s == 0
    assert p.exclude_tags == ("slow",) and p.user_classes == ("Reader",) and p.interval_s == 0.5
    assert plan(tmp_path, env={"SURGE_INSECURE": "off", "SURGE_OTHER": "x"}).insecure is False


def test_explicit_config_file_and_relative_paths(tmp_path):
    sub = tmp_path / "perf"
    sub.mkdir()
    write(sub / "cfg.toml", 'scenario = "s.py"\nout = "results"\nhealth = "/health"\n')
    write(tmp_path / "surge.toml", 'users = 99\n')  # ignored: --config wins
    p = settle({"config": "perf/cfg.toml"}, {}, tmp_path)
    assert p.scenario_path == str(sub / "s.py")  # relative to the config file
    assert p.out_dir == str(sub / "results") and p.health_path == "/health"
    assert p.workload.peak == 1
    assert settle({"scenario": "x.py"}, {"SURGE_CONFIG": "perf/cfg.toml"}, tmp_path).out_dir == str(sub / "results")


def test_pyproject_tool_surge(tmp_path):
    write(tmp_path / "pyproject.toml", """
        [project]
        name = "x"
        [tool.surge]
        scenario = "load/s.py"
        spawn-rate = 5
        users = 10
        [tool.surge.thresholds]
        "*" = "p95 < 300ms"
    """)
    p = settle({}, {}, tmp_path)
    assert p.scenario_name == "s"
    assert p.workload.stages == (Stage(2.0, 10.0), Stage(58.0, 10.0))
    assert [t.label for t in p.thresholds] == ["*: p95 < 300ms"]


def test_pyproject_without_tool_surge_is_no_config(tmp_path):
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert plan(tmp_path).workload.peak == 1


def test_surge_toml_wins_over_pyproject(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.surge]\nusers = 7\n")
    write(tmp_path / "surge.toml", "users = 8\n")
    assert plan(tmp_path).workload.peak == 8


def test_headers_merge_file_then_cli(tmp_path):
    write(tmp_path / "surge.toml", '[headers]\nAuthorization = "Bearer f"\nX-Team = "perf"\n')
    p = plan(tmp_path, {"headers": ["Authorization: Bearer c"]})
    assert dict(p.headers) == {"Authorization": "Bearer c", "X-Team": "perf"}


# -- workloads -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_resolves_and_scales(tmp_path, name):
    base = profile_stages(name)
    p = plan(tmp_path, {"profile": name})
    assert p.workload == ClosedWorkload(base) and p.profile == name
    scaled = plan(tmp_path, {"profile": name, "duration": "10m", "users": 30}).workload
    assert scaled.duration_s == pytest.approx(600)
    assert scaled.peak == 30
    base_total = sum(b.duration_s for b in base)
    assert [s.duration_s / 600 for s in scaled.stages] == pytest.approx([s.duration_s / base_total for s in base])


def test_documented_examples(tmp_path):
    assert plan(tmp_path, {"profile": "soak", "duration": "10m"}).duration_s == 600
    load = plan(tmp_path, {"profile": "load", "users": 50}).workload
    assert load.peak == 50 and load.stages[0].target == 25 and load.duration_s == 600
    assert plan(tmp_path, {"profile": "baseline"}).workload.stages == PROFILES["load"]


def test_rate_twin_of_a_profile(tmp_path):
    w = plan(tmp_path, {"profile": "load", "rate": 25}).workload
    assert isinstance(w, OpenWorkload)
    assert [s.target for s in w.stages] == [12.5, 25, 25, 0]  # fractions kept
    assert w.max_users == 250


def test_stress_until_break(tmp_path):
    w = plan(tmp_path, {"profile": "stress", "until_break": 800}).workload
    assert w.peak == 800
    assert plan(tmp_path, {"profile": "stress", "until_break": True}).until_break == 5000


def test_stress_steps_and_their_settle_time(tmp_path):
    p = plan(tmp_path, {"profile": "stress", "until_break": 6, "step_users": "2", "step_duration": "2s"})
    assert p.workload.stages == (Stage(0, 2), Stage(2, 2), Stage(0, 4), Stage(2, 4), Stage(0, 6), Stage(2, 6))
    assert p.step_settle_s is None  # a quarter of each step
    assert plan(tmp_path, {"profile": "stress", "until_break": 6, "step_users": 2, "step_duration": "2s",
                           "abort_grace": "1s"}).step_settle_s == 1.0
    assert plan(tmp_path, {"profile": "stress", "abort_grace": "1s"}).step_settle_s is None  # no until-break
    assert plan(tmp_path, {"profile": "stress", "step_users": 250}).workload.peak == 500  # the profile's top


def test_steady_users_and_rate(tmp_path):
    assert plan(tmp_path, {"users": 50, "duration": "2m"}).workload.stages == (Stage(1, 50), Stage(119, 50))
    assert plan(tmp_path, {"users": 50, "spawn_rate": 10}).workload.stages == (Stage(5, 50), Stage(55, 50))
    # the ramp never outlasts the run
    assert plan(tmp_path, {"users": 50, "spawn_rate": 0.5, "duration": 30}).workload.stages == (Stage(30, 50), Stage(0, 50))
    open_ = plan(tmp_path, {"rate": 200, "duration": "30s"}).workload
    assert open_ == OpenWorkload((Stage(0, 200), Stage(30, 200)), max_users=2000)
    assert plan(tmp_path, {"rate": 5}).workload.max_users == 100
    assert plan(tmp_path, {"rate": 5, "max_users": 7}).workload.max_users == 7


def test_iterations_bound_the_run_and_stretch_the_default_cap(tmp_path):
    assert plan(tmp_path).iterations is None
    p = plan(tmp_path, {"iterations": "1000", "users": 10})
    assert p.iterations == 1000 and p.duration_s == 600  # no --duration: k6's 10 min cap
    assert plan(tmp_path, {"iterations": 5, "duration": "30s"}).duration_s == 30
    assert plan(tmp_path, env={"SURGE_ITERATIONS": "7"}).iterations == 7
    assert plan(tmp_path, {"iterations": 5, "profile": "smoke"}).duration_s == 60  # a profile keeps its length
    with pytest.raises(ConfigError, match=r"--iterations '0' is not a whole number >= 1"):
        plan(tmp_path, {"iterations": "0"})


def test_think_time_overrides_for_closed_workloads_only(tmp_path):
    assert plan(tmp_path).think_time_s is None
    assert plan(tmp_path, {"think_time": "0"}).think_time_s == 0
    assert plan(tmp_path, {"think_time": "250ms", "profile": "smoke"}).think_time_s == 0.25
    write(tmp_path / "surge.toml", 'think_time = "2s"\n')
    assert plan(tmp_path).think_time_s == 2 and plan(tmp_path, {"think_time": 0}).think_time_s == 0
    with pytest.raises(ConfigError, match=r"think_time in .*surge.toml only paces closed workloads"):
        plan(tmp_path, {"rate": 5})


def test_stages_from_file(tmp_path):
    write(tmp_path / "surge.toml", """
        [[stages]]
        duration = "1m"
        target = 50
        [[stages]]
        duration = "30s"
        target = 0
    """)
    assert plan(tmp_path).workload == ClosedWorkload((Stage(60, 50), Stage(30, 0)))
    assert plan(tmp_path, {"duration": "3m"}).workload.stages == (Stage(120, 50), Stage(60, 0))
    assert plan(tmp_path, {"users": 10}).workload.peak == 10
    assert isinstance(plan(tmp_path, {"rate": 10}).workload, OpenWorkload)


def test_rate_stages_from_file(tmp_path):
    write(tmp_path / "surge.toml", '[[stages]]\nduration = "10s"\nrate = 100\n[[stages]]\nduration = 20\nrate = 100\n')
    w = plan(tmp_path).workload
    assert w == OpenWorkload((Stage(10, 100), Stage(20, 100)), max_users=1000)


def test_shape_flag(tmp_path):
    w = plan(tmp_path, {"shape": True}).workload
    assert isinstance(w, ClosedWorkload) and w.shape
    assert w.stages == () and w.shape_duration_s is None  # the shape's own length, found by the engine
    assert plan(tmp_path, {"shape": True, "duration": "30s"}).workload.shape_duration_s == 30.0  # a cap


def test_worker_loss_and_exit_code_on_error(tmp_path):
    p = plan(tmp_path, {})
    assert (p.allow_worker_loss, p.exit_code_on_error) == (False, 1)
    p = plan(tmp_path, {"allow_worker_loss": True, "exit_code_on_error": "0"})
    assert (p.allow_worker_loss, p.exit_code_on_error) == (True, 0)
    for bad in ("256", "-1", "x"):
        with pytest.raises(ConfigError, match="--exit-code-on-error"):
            plan(tmp_path, {"exit_code_on_error": bad})


# -- thresholds ------------------------------------------------------------------------------------------
def test_thresholds_merge_from_three_sources(tmp_path):
    write(tmp_path / "surge.toml", '[thresholds]\n"*" = "error_rate < 1%"\n')
    write(tmp_path / "sla.toml", """
        [thresholds]
        "GET /v1/facts" = ["p95 < 50ms", {threshold = "p99<100ms", abort_on_fail = true}]
    """)
    p = plan(tmp_path, {"thresholds_file": "sla.toml", "threshold": ["POST /x: p95<80ms", "*: rps > 10"]})
    assert [t.label for t in p.thresholds] == [
        "*: error_rate < 1%", "GET /v1/facts: p95 < 50ms", "GET /v1/facts: p99<100ms", "POST /x: p95<80ms", "*: rps > 10",
    ]
    assert [t.abort_on_fail for t in p.thresholds] == [False, False, True, False, False]
    cli = {"thresholds_file": "sla.toml", "threshold": "*: p99<1s", "abort_on_fail": True, "abort_grace": "30s"}
    everything = plan(tmp_path, cli)
    assert all(t.abort_on_fail for t in everything.thresholds) and len(everything.thresholds) == 4
    assert everything.abort_grace_s == 30


def test_threshold_errors_name_their_source(tmp_path):
    write(tmp_path / "sla.toml", '[thresholds]\n"GET /x" = "p95 << 5ms"\n')
    with pytest.raises(ConfigError, match=r"threshold 'GET /x: p95 << 5ms' \(.*sla.toml\): unknown operator"):
        plan(tmp_path, {"thresholds_file": "sla.toml"})
    with pytest.raises(ConfigError, match=r"\(--threshold\): unknown statistic"):
        plan(tmp_path, {"threshold": ["*: p9x < 5"]})
    write(tmp_path / "empty.toml", 'x = 1\n')
    with pytest.raises(ConfigError, match=r"--thresholds .* has no \[thresholds\] table"):
        plan(tmp_path, {"thresholds_file": "empty.toml"})
    with pytest.raises(ConfigError, match=r"--thresholds .*missing.toml.*: no such file"):
        plan(tmp_path, {"thresholds_file": "missing.toml"})


# -- bad input --------------------------------------------------------------------------------------------
BAD_CLI = [
    ({"host": "localhost:8000"}, r"^--host 'localhost:8000' is not a URL; use e.g. http://127.0.0.1:8000$"),
    ({"host": "ftp://x"}, r"--host 'ftp://x' is not a URL"),
    ({"host": "http://"}, r"--host 'http://' is not a URL"),
    ({"host": "http://x:99999"}, r"--host 'http://x:99999' has an invalid port"),
    ({"users": 0}, r"--users 0 is not a whole number >= 1"),
    ({"users": "ten"}, r"--users 'ten' is not a whole number"),
    ({"users": 2.5}, r"--users 2.5 is not a whole number"),
    ({"spawn_rate": 0}, r"--spawn-rate 0 is not a number > 0"),
    ({"rate": -1}, r"--rate -1 is not a number > 0"),
    ({"rate": "nan"}, r"--rate 'nan' is not a number > 0"),
    ({"processes": 0}, r"--processes 0 is not a whole number >= 1"),
    ({"max_users": 0, "rate": 1}, r"--max-users 0 is not a whole number"),
    ({"duration": "5x"}, r"--duration: '5x' is not a duration"),
    ({"duration": 0}, r"--duration 0 is not a duration > 0"),
    ({"timeout": "-1s"}, r"--timeout"),
    ({"abort_grace": "soon"}, r"--abort-grace: 'soon' is not a duration"),
    ({"profile": "hammer"}, r"--profile 'hammer' is not a profile; choose one of: .*soak"),
    ({"live": "fancy"}, r"--live 'fancy' is not one of auto, rich, lines, off"),
    ({"health": "health"}, r"--health 'health' is not a path"),
    ({"headers": ["nocolon"]}, r"--headers \['nocolon'\] is not a table"),
    ({"users": 5, "rate": 5}, r"--users and --rate are both set; choose closed"),
    ({"profile": "load", "spawn_rate": 2}, r"--spawn-rate and --profile are both set"),
    ({"rate": 2, "spawn_rate": 2}, r"--spawn-rate and --rate are both set"),
    ({"max_users": 10}, r"--max-users only caps open workloads"),
    ({"shape": True, "rate": 3}, r"--shape and --rate are both set; drives users"),
    ({"shape": True, "users": 3}, r"--shape and --users are both set; sets the users itself"),
    ({"shape": True, "profile": "smoke"}, r"--shape and --profile are both set"),
    ({"until_break": 900}, r"--until-break works with --profile stress only"),
    ({"until_break": 900, "profile": "load"}, r"--until-break works with --profile stress only"),
    ({"until_break": 0, "profile": "stress"}, r"--until-break 0 is not a whole number"),
    ({"until_break": 50, "profile": "stress"}, r"a stress step of 100 users is more than the top of 50"),
    ({"step_users": 5}, r"--step-users sets the steps of --profile stress only"),
    ({"step_duration": "1m", "profile": "load"}, r"--step-duration sets the steps of --profile stress only"),
    ({"step_users": 5, "users": 50, "profile": "stress"}, r"--step-users and --users are both set; "
                                                          r"--users would rescale the steps"),
    ({"step_users": 5, "rate": 50, "profile": "stress"}, r"--step-users and --rate are both set"),
    ({"step_duration": "1m", "duration": "5m", "profile": "stress"},
     r"--step-duration and --duration are both set; --duration would stretch every step"),
    ({"step_users": 0, "profile": "stress"}, r"--step-users 0 is not a whole number"),
    ({"step_duration": "soon", "profile": "stress"}, r"--step-duration: 'soon' is not a duration"),
    ({"profile": "stress", "until_break": 10, "step_users": 5, "step_duration": "1s", "abort_grace": "0.5s"},
     r"stress step 1 lasts 1s: after its settle time of 0.5s no whole 1s interval is left"),
    ({"config": "nope.toml"}, r"--config .*nope.toml.*: no such file"),
    ({"bogus": 1}, r"unknown option 'bogus'"),
    ({"scenario": 5}, r"^SCENARIO 5 is not a string"),
    ({"thresholds": {"*": "p95<1"}}, r"unknown option 'thresholds'"),  # --stage sets stages; no flag sets a table
]


@pytest.mark.parametrize("cli, pattern", BAD_CLI)
def test_bad_cli_values(tmp_path, cli, pattern):
    with pytest.raises(ConfigError, match=pattern):
        plan(tmp_path, cli)


@pytest.mark.parametrize(
    "env, pattern",
    [
        ({"SURGE_USERS": "-3"}, r"SURGE_USERS '-3' is not a whole number"),
        ({"SURGE_HOST": "example.com"}, r"SURGE_HOST 'example.com' is not a URL"),
        ({"SURGE_INSECURE": "maybe"}, r"SURGE_INSECURE 'maybe' is not a boolean"),
        ({"SURGE_DURATION": "1y"}, r"SURGE_DURATION: '1y' is not a duration"),
        ({"SURGE_INTERVAL": "0s"}, r"SURGE_INTERVAL '0s' is not a duration > 0"),
    ],
)
def test_bad_env_values(tmp_path, env, pattern):
    with pytest.raises(ConfigError, match=pattern):
        plan(tmp_path, env=env)


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("userz = 5\n", r"unknown key 'userz' in .*surge.toml; did you mean 'users'\?"),
        ("zzz = 5\n", r"unknown key 'zzz' in .*surge.toml; known keys: "),
        ("threshold = ['*: p95<5']\n", r"unknown key 'threshold'"),
        ("users = 0\n", r"users 0 in .*surge.toml is not a whole number"),
        ('host = "nohost"\n', r"host 'nohost' in .*surge.toml is not a URL"),
        ("tags = 5\n", r"tags 5 in .*surge.toml is not a list"),
        ('headers = "x"\n', r"headers 'x' in .*surge.toml is not a table"),
        ("users = [\n", r"surge.toml' is not valid TOML"),
        ("stages = []\n", r"stages \[\] in .*surge.toml is not a list of stages"),
        ('[[stages]]\nduration = "1m"\n', r"stages\[0\] .* expected duration and one of target"),
        ('[[stages]]\nduration = "1m"\ntarget = 5\nrate = 5\n', r"stages\[0\]"),
        ('[[stages]]\nduration = "1m"\ntarget = 5\n[[stages]]\nduration = "1m"\nrate = 5\n', r"mix users \(target\) and rate"),
        ('[[stages]]\nduration = "xx"\ntarget = 5\n', r"stages\[0\].duration in .*surge.toml: 'xx' is not a duration"),
        ('[[stages]]\nduration = "1m"\ntarget = 2.5\n', r"stages\[0\].target 2.5 in .*is not a whole number of users"),
        ('[[stages]]\nduration = "1m"\nrate = -1\n', r"stages\[0\].rate -1 in .* is not a number > 0"),
        ('[[stages]]\nduration = 0\ntarget = 5\n', r"last 0 s"),
        ('profile = "load"\n[[stages]]\nduration = 1\ntarget = 5\n', r"profile in .* and stages in .* are both set"),
        ('[thresholds]\n"*" = "p95 ? 5"\n', r"threshold '\*: p95 \? 5' \(.*surge.toml\): unknown operator"),
    ],
)
def test_bad_file_values(tmp_path, text, pattern):
    write(tmp_path / "surge.toml", text)
    with pytest.raises(ConfigError, match=pattern):
        plan(tmp_path)


def test_conflicts_name_both_sources(tmp_path):
    write(tmp_path / "surge.toml", "users = 10\n")
    with pytest.raises(ConfigError, match=r"users in .*surge.toml and SURGE_RATE are both set"):
        plan(tmp_path, env={"SURGE_RATE": "5"})
    write(tmp_path / "surge.toml", "[[stages]]\nduration = 10\nrate = 5\n")
    with pytest.raises(ConfigError, match=r"--users and stages in .*surge.toml are both set; rate stages are open"):
        plan(tmp_path, {"users": 3})


def test_pyproject_bad_table(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool]\nsurge = "x"\n')
    with pytest.raises(ConfigError, match=r"\[tool.surge\] in .*pyproject.toml must be a table"):
        plan(tmp_path)


def test_the_default_open_user_cap_stays_within_the_open_file_limit(tmp_path, monkeypatch):
    from surge.config import _workload

    monkeypatch.setattr(_workload, "open_files_per_process", lambda: 20_000)
    w = plan(tmp_path, {"rate": 30_000, "processes": 2}).workload
    assert w.max_users == 2 * (20_000 - _workload.FD_RESERVE)  # not 300,000
    assert plan(tmp_path, {"rate": 200, "processes": 2}).workload.max_users == 2000  # 10 x rate below it
    assert plan(tmp_path, {"rate": 30_000, "max_users": 30_000, "processes": 2}).workload.max_users == 30_000
    with pytest.raises(ConfigError, match=r"--max-users needs 50,000 virtual users; 2 worker process\(es\) hold at most 39,488"):
        plan(tmp_path, {"rate": 30_000, "max_users": 50_000, "processes": 2})


def test_plans_the_generator_cannot_honour_are_refused(tmp_path, monkeypatch):
    from surge.config import _workload

    monkeypatch.setattr(_workload, "open_files_per_process", lambda: 20_000)
    with pytest.raises(ConfigError, match=r"--users needs 2,000,000 virtual users; 2 worker process\(es\) hold at most 39,488"):
        plan(tmp_path, {"users": 2_000_000, "processes": 2})
    with pytest.raises(ConfigError, match=r"--rate asks for 1,000,000,000,000 iterations/s; 2 worker process\(es\) start at most 2,000,000/s"):
        plan(tmp_path, {"rate": "1e12", "processes": 2})
    assert plan(tmp_path, {"users": 39_488, "processes": 2}).workload.peak == 39_488
    monkeypatch.setattr(_workload, "_available_memory", lambda: 100 * _workload.USER_BYTES)
    with pytest.raises(ConfigError, match="free memory holds about 100"):  # when descriptors would allow it
        plan(tmp_path, {"users": 101, "processes": 2})
    with pytest.raises(ConfigError, match="shorter than 100ms"):
        plan(tmp_path, {"interval": "1ms"})
    assert plan(tmp_path, {"interval": "100ms"}).interval_s == 0.1
    with pytest.raises(ConfigError, match="more worker processes than this machine runs well"):
        plan(tmp_path, {"processes": 100_000})


def test_stages_on_the_command_line_in_k6_form(tmp_path):
    p = plan(tmp_path, {"stages": ["30s:50", "1m:50", "10s:0"]})
    assert p.workload == ClosedWorkload((Stage(30, 50), Stage(60, 50), Stage(10, 0)))
    assert plan(tmp_path, {"stages": ("10s:20", "20s:20"), "users": 40}).workload.peak == 40  # scaled as a file's
    assert plan(tmp_path, {"stages": ["10s:5", "5s:5"], "duration": "30s"}).workload.duration_s == 30
    assert plan(tmp_path, {"stages": ["5s:100/s"]}).workload == OpenWorkload((Stage(5, 100),), max_users=1000)
    write(tmp_path / "surge.toml", "[[stages]]\nduration = 1\ntarget = 5\n")
    assert plan(tmp_path, {"stages": ["2s:3"]}).workload.stages == (Stage(2, 3),)  # the CLI's list wins


@pytest.mark.parametrize(("stages", "says"), [
    (["30s"], r"--stage '30s' is not DURATION:TARGET \(use e.g. --stage 30s:50"),
    (["xx:5"], r"--stage 'xx:5' is not DURATION:TARGET"),
    (["30s:-1"], r"--stage '30s:-1' is not DURATION:TARGET"),
    (["30s:2.5"], r"--stage '30s:2.5': 2.5 is not a whole number of users"),
    (["30s:5", "30s:5/s"], r"--stage mix users \(target\) and rate"),
    (["0s:5"], r"--stage last 0 s"),
])
def test_bad_stages_on_the_command_line(tmp_path, stages, says):
    with pytest.raises(ConfigError, match=says):
        plan(tmp_path, {"stages": stages})


def test_stage_conflicts_as_the_file_stages_do(tmp_path):
    with pytest.raises(ConfigError, match=r"--profile and --stage are both set; choose a built-in profile"):
        plan(tmp_path, {"stages": ["1s:5"], "profile": "smoke"})
    with pytest.raises(ConfigError, match=r"--spawn-rate and --stage are both set"):
        plan(tmp_path, {"stages": ["1s:5"], "spawn_rate": 5})
    write(tmp_path / "surge.toml", 'profile = "load"\n')
    with pytest.raises(ConfigError, match=r"profile in .*surge.toml and --stage are both set"):
        plan(tmp_path, {"stages": ["1s:5"]})


def test_out_refuses_k6_outputs_and_urls_from_every_source(tmp_path):
    for bad in ("json=out.json", "csv=results.csv", "experimental-prometheus-rw=x", "influxdb=http://h:8086/k6"):
        with pytest.raises(ConfigError, match=r"is k6's NAME=VALUE form: --out takes a results folder"):
            plan(tmp_path, {"out": bad})
    with pytest.raises(ConfigError, match=r"^--out 'https://example.test/k6' is a URL: --out takes a results folder"):
        plan(tmp_path, {"out": "https://example.test/k6"})
    with pytest.raises(ConfigError, match=r"^SURGE_OUT 'json=x' is k6's"):
        plan(tmp_path, env={"SURGE_OUT": "json=x"})
    assert plan(tmp_path, {"out": "./json=x"}).out_dir == str(tmp_path / "json=x")  # a folder of that name
    assert plan(tmp_path, {"out": "results/a=b"}).out_dir == str(tmp_path / "results" / "a=b")
