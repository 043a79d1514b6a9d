"""``surge`` as a user meets it when something is wrong: the documented exit code and one line on
stderr naming the problem, never a traceback unless ``--debug`` asks for one.

Each case runs the real ``surge`` console script in a subprocess, in an empty tmp folder (no
config file can leak in) with no ``SURGE_*`` variables. None of them sends load: each fails
before the run starts, so they take the CLI's start-up time only.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

from surge import __version__
from surge.cli.main import cli

SURGE = str(Path(sys.executable).with_name("surge"))
OK_SCENARIO = """
    from surge import HttpUser, task

    class Browser(HttpUser):
        @task
        async def ok(self):
            await self.client.get("/ok")
"""


def surge(*args: str, cwd: Path, timeout_s: float = 60, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    return subprocess.run([SURGE, *args], cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout_s)


def write(folder: Path, name: str, source: str) -> str:
    (folder / name).write_text(textwrap.dedent(source))
    return name


def refused_host() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("surge: error: "), lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def scenario(tmp_path) -> str:
    return write(tmp_path, "scenario.py", OK_SCENARIO)


def test_a_misspelt_flag_is_a_usage_error(tmp_path, scenario):
    line = assert_one_line_error(surge("run", scenario, "--usrs", "5", cwd=tmp_path), 2, "--usrs")
    assert "--users" in line  # the hint names the flag the user meant


def test_an_unknown_profile_is_a_usage_error(tmp_path, scenario):
    assert_one_line_error(surge("run", scenario, "--host", refused_host(), "--profile", "sooak", cwd=tmp_path),
                          2, "sooak", "soak")


@pytest.mark.parametrize("threshold", ["p95<50ms", "GET /ok: p95 == 50ms", "*: p95 < 50parsecs", "*: nonsense < 1"])
def test_a_malformed_threshold_is_a_usage_error(tmp_path, scenario, threshold):
    assert_one_line_error(surge("run", scenario, "--host", refused_host(), "--threshold", threshold, cwd=tmp_path),
                          2, "threshold")


def test_a_missing_scenario_file_is_a_usage_error(tmp_path):
    assert_one_line_error(surge("run", "nowhere.py", "--host", refused_host(), cwd=tmp_path), 2, "nowhere.py")


def test_a_scenario_without_user_classes_cannot_proceed(tmp_path):
    name = write(tmp_path, "empty.py", "from surge import HttpUser\n\nTIMEOUT = 3\n")
    assert_one_line_error(surge("run", name, "--host", refused_host(), cwd=tmp_path), 3, "empty.py",
                          "no user class")


ZERO_WEIGHTS = """
    from surge import HttpUser, task

    class Reader(HttpUser):
        weight = 0

        @task
        async def read(self):
            await self.client.get("/ok")

    class Writer(HttpUser):
        @task(0)
        async def write(self):
            await self.client.post("/ok")
"""


def test_classes_that_weigh_nothing_are_named_with_their_zero_weights(tmp_path):
    """Regression: they were reported as "no user class has a task", though each has one."""
    name = write(tmp_path, "zero.py", ZERO_WEIGHTS)
    line = assert_one_line_error(surge("run", name, "--host", refused_host(), cwd=tmp_path), 3, "zero.py",
                                 "Reader has weight 0", "every task of Writer has weight 0")
    assert "no user class has a task" not in line


BROKEN = """
    from surge import HttpUser

    def helper():
        raise RuntimeError("database url missing")

    helper()
"""


def test_a_scenario_that_raises_on_import_cannot_proceed(tmp_path):
    name = write(tmp_path, "broken.py", BROKEN)
    assert_one_line_error(surge("run", name, "--host", refused_host(), cwd=tmp_path), 3,
                          "broken.py", "RuntimeError", "database url missing", "--debug")


def test_debug_shows_the_traceback_and_keeps_the_exit_code(tmp_path):
    name = write(tmp_path, "broken.py", BROKEN)
    proc = surge("run", name, "--host", refused_host(), "--debug", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    assert 'raise RuntimeError("database url missing")' in proc.stderr  # the scenario's own frame
    assert proc.stderr.strip().splitlines()[-1].startswith("surge: error: broken.py failed to import")


def test_debug_set_in_the_config_file_shows_the_traceback_too(tmp_path):
    name = write(tmp_path, "broken.py", BROKEN)
    (tmp_path / "surge.toml").write_text("debug = true\n")
    proc = surge("run", name, "--host", refused_host(), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("surge: error: broken.py failed to import")


@pytest.mark.parametrize("host", ["localhost:8000", "ftp://127.0.0.1:21", "http://127.0.0.1:99999"])
def test_an_invalid_host_url_is_a_usage_error(tmp_path, scenario, host):
    assert_one_line_error(surge("run", scenario, "--host", host, cwd=tmp_path), 2, "--host", host)


BAD_HOST = "http://alice:PASS@127.0.0.1:99999"


@pytest.mark.parametrize("where", ["--host", "SURGE_HOST", "surge.toml"])
def test_an_invalid_host_is_reported_without_its_password(tmp_path, scenario, where):
    args, env = [], {}
    if where == "--host":
        args = ["--host", BAD_HOST]
    elif where == "SURGE_HOST":
        env = {"SURGE_HOST": BAD_HOST}
    else:
        (tmp_path / "surge.toml").write_text(f'host = "{BAD_HOST}"\n')
    proc = surge("run", scenario, *args, cwd=tmp_path, env=env)
    line = assert_one_line_error(proc, 2, "invalid port", "alice:***@127.0.0.1:99999")  # user and address help
    assert where.split(".")[0].lower() in line.lower()
    assert "PASS" not in proc.stderr + proc.stdout


def test_a_malformed_header_table_is_reported_without_the_token(tmp_path, scenario):
    (tmp_path / "surge.toml").write_text('headers = "Bearer TOML-TOKEN-1"\n')
    proc = surge("run", scenario, "--host", refused_host(), cwd=tmp_path)
    assert_one_line_error(proc, 2, "headers", "Bearer ***")
    assert "TOML-TOKEN-1" not in proc.stderr + proc.stdout


SETUP_LEAKS = """
    from surge import HttpUser, task

    def setup(host):
        raise RuntimeError("login refused for key SECRET-CLI-5")

    class Browser(HttpUser):
        @task
        async def ok(self):
            await self.client.get("/ok")
"""


def test_an_error_line_quoting_a_secret_the_run_was_given_is_scrubbed(tmp_path):
    name = write(tmp_path, "leaks.py", SETUP_LEAKS)
    proc = surge("run", name, "--host", refused_host(), "--header", "X-Api-Key: SECRET-CLI-5", cwd=tmp_path)
    assert_one_line_error(proc, 3, "setup() raised RuntimeError: login refused for key ***")
    assert "SECRET-CLI-5" not in proc.stdout + proc.stderr


def test_an_unreachable_target_at_the_health_preflight_cannot_proceed(tmp_path, scenario):
    host = refused_host()
    proc = surge("run", scenario, "--host", host, "--health", "/health", "--health-timeout", "1s",
                 "--duration", "2s", "--live", "off", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert_one_line_error(proc, 3, f"{host}/health", "not healthy")
    assert not (tmp_path / "out").exists()  # no load ran: no half-empty results folder left behind


@pytest.mark.parametrize("earlier_run", [False, True])
def test_a_failed_preflight_removes_the_default_results_parent_only_if_it_made_it(tmp_path, scenario, earlier_run):
    """Regression: the run folder was removed but the ``results/`` made for it stayed behind."""
    if earlier_run:
        (tmp_path / "results" / "earlier-run").mkdir(parents=True)
    proc = surge("run", scenario, "--host", refused_host(), "--health", "/health", "--health-timeout", "1s",
                 "--duration", "2s", "--live", "off", cwd=tmp_path)
    assert_one_line_error(proc, 3, "not healthy")
    if earlier_run:
        assert [p.name for p in (tmp_path / "results").iterdir()] == ["earlier-run"]
    else:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.py"]


def test_an_unwritable_results_folder_is_a_usage_error(tmp_path, scenario):
    """Regression: an --out that cannot be created raised a traceback and exited 1, the code
    that means "thresholds failed"."""
    (tmp_path / "a-file").write_text("not a folder")
    assert_one_line_error(surge("run", scenario, "--host", refused_host(), "--out", "a-file/results",
                                cwd=tmp_path), 2, "--out", "a-file")


# -- help and version ----------------------------------------------------------------------
def test_version(tmp_path):
    proc = surge("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    assert __version__ in proc.stdout and "surge" in proc.stdout


def test_top_level_help_lists_the_commands_and_options(tmp_path):
    proc = surge("--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    for word in ("--version", "--help", *cli.commands):
        assert word in proc.stdout, word


def long_flags(command: click.Command) -> list[str]:
    return [opt for param in command.params if isinstance(param, click.Option)
            for opt in param.opts if opt.startswith("--")]


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every runnable command, a group's subcommands included (``("db", "report")``)."""
    paths = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths += command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


@pytest.mark.parametrize("group", sorted(n for n, c in cli.commands.items() if isinstance(c, click.Group)))
def test_a_command_group_help_lists_its_commands(tmp_path, group):
    proc = surge(group, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    assert all(name in proc.stdout for name in cli.commands[group].commands)


@pytest.mark.parametrize("path", command_paths(cli), ids=" ".join)
def test_each_command_help_mentions_every_flag(tmp_path, path):
    proc = surge(*path, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    command = cli
    for name in path:
        command = command.commands[name]
    flags = long_flags(command)
    name = " ".join(path)
    assert flags, name
    missing = [flag for flag in flags if flag not in proc.stdout]
    assert not missing, f"surge {name} --help does not mention {missing}"
    assert "--help" in proc.stdout


def test_run_help_documents_the_exit_codes(tmp_path):
    proc = surge("run", "--help", cwd=tmp_path)
    text = " ".join(proc.stdout.split())
    for code in ("0 passed", "1 thresholds failed", "2 usage", "3 could not proceed", "130", "143"):
        assert code in text, code
    for flag in ("--users", "--spawn-rate", "--rate", "--max-users", "--profile", "--duration", "--processes",
                 "--out", "--live", "--threshold", "--thresholds", "--abort-on-fail", "--abort-grace",
                 "--timeout", "--graceful-stop", "--health", "--health-timeout", "--tags", "--exclude-tags",
                 "--until-break", "--debug", "--shape"):
        assert flag in proc.stdout, flag  # the brief's list, in case an option is ever dropped


def test_a_signal_wrapped_by_code_in_between_is_still_a_signal():
    """A Ctrl-C raised while a dataclass is created arrives as a RuntimeError around it (Python
    3.11's __set_name__), a scenario's import as a ScenarioError: both are the user's stop."""
    from surge.cli.main import EarlySignal, _signal_behind

    try:
        try:
            raise EarlySignal(15)
        except EarlySignal as inner:
            raise RuntimeError("Error calling __set_name__") from inner
    except RuntimeError as outer:
        assert _signal_behind(outer) == 15
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("while importing")
    except ValueError as outer:
        assert _signal_behind(outer) == 2
    assert _signal_behind(ValueError("a bug")) is None
