"""``surge run`` end to end: the real console script in a subprocess against the loopback target.

What CI relies on: the six results files with Locust's headers, a summary.json that validates
against the schema in the repo, exit codes 0 / 1 / 130 / 143 with results written in every
case, ``--abort-on-fail`` cutting a run short, and credentials that never reach any output.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from surge.outputs.histograms import load_histograms

SURGE = str(Path(sys.executable).with_name("surge"))
RESULT_FILES = ("summary.json", "stats.csv", "stats_history.csv", "failures.csv", "junit.xml", "histograms.json")

#: Locust 2.x's headers, written out here rather than imported, so a change on our side shows up.
LOCUST_PERCENTILES = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
LOCUST_STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s," + LOCUST_PERCENTILES
)
LOCUST_HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s," + LOCUST_PERCENTILES + ",Total Request Count,"
    "Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,"
    "Total Max Response Time,Total Average Content Size"
)
LOCUST_FAILURES_HEADER = "Method,Name,Error,Occurrences"

SCENARIO = """
    from pathlib import Path
    from surge import HttpUser, constant, task

    def teardown(host, data):
        Path("teardown.ran").write_text("yes")

    class Browser(HttpUser):
        wait_time = constant(0.01)

        @task(4)
        async def ok(self):
            await self.client.get("/ok")

        @task(1)
        async def missing(self):
            await self.client.get("/status/404", expect_status=404)
"""


def surge_args(tmp_path: Path, host: str, *extra: str, scenario: str = SCENARIO) -> list[str]:
    (tmp_path / "scenario.py").write_text(textwrap.dedent(scenario))
    return [SURGE, "run", "scenario.py", "--host", host, "--processes", "1", "--live", "off",
            "--out", str(tmp_path / "out"), *extra]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}


def run_surge(tmp_path: Path, host: str, *extra: str, timeout_s: float = 60,
              scenario: str = SCENARIO) -> subprocess.CompletedProcess:
    return subprocess.run(surge_args(tmp_path, host, *extra, scenario=scenario), cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout_s)


def summary_of(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "summary.json").read_text())


def csv_rows(path: Path) -> tuple[str, list[dict]]:
    text = path.read_bytes().decode("utf-8")  # as written: Locust's files end lines in \r\n
    header = text.split("\r\n", 1)[0]
    return header, list(csv.DictReader(io.StringIO(text)))


def junit_failures(tmp_path: Path) -> list[ET.Element]:
    return ET.parse(tmp_path / "out" / "junit.xml").getroot().findall(".//testcase/failure")


def assert_all_files(tmp_path: Path) -> None:
    missing = [name for name in RESULT_FILES if not (tmp_path / "out" / name).is_file()]
    assert not missing, missing


def test_a_run_writes_every_results_file(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--users", "3", "--spawn-rate", "100", "--duration", "3s",
                     "--threshold", "*: error_rate < 1%", "--threshold", "GET /ok: p95 < 2s")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    assert_all_files(tmp_path)
    served = target.stats()["requests"]

    summary = summary_of(tmp_path)
    schema = json.loads(resources.files("surge.outputs").joinpath("schema/summary.schema.json").read_text())
    jsonschema.validate(summary, schema, format_checker=jsonschema.FormatChecker())
    assert summary["status"] == "passed" and summary["scenario"] == "scenario"
    assert 2.9 <= summary["duration_s"] < 4
    counts = {f'{e["method"]} {e["name"]}': e["requests"] for e in summary["endpoints"]}
    assert counts == served
    assert summary["total"]["failures"] == 0  # the 404s were expected
    assert [t["passed"] for t in summary["thresholds"]] == [True, True]

    header, rows = csv_rows(out / "stats.csv")
    assert header == LOCUST_STATS_HEADER
    assert [(r["Type"], r["Name"]) for r in rows] == [("GET", "/ok"), ("GET", "/status/404"), ("", "Aggregated")]
    assert int(rows[-1]["Request Count"]) == summary["total"]["requests"] == sum(served.values())
    header, rows = csv_rows(out / "stats_history.csv")
    assert header == LOCUST_HISTORY_HEADER
    aggregated = [r for r in rows if r["Name"] == "Aggregated"]
    assert len(aggregated) >= 2  # one row per interval, streamed as the run went
    assert int(aggregated[-1]["Total Request Count"]) <= summary["total"]["requests"]
    header, rows = csv_rows(out / "failures.csv")
    assert header == LOCUST_FAILURES_HEADER and rows == []

    histograms = load_histograms((out / "histograms.json").read_text())
    assert histograms["*"].count == summary["total"]["requests"]
    assert histograms["GET /ok"].count == served["GET /ok"]
    assert junit_failures(tmp_path) == []
    assert len(ET.parse(out / "junit.xml").getroot().findall(".//testcase")) == 2
    assert (tmp_path / "teardown.ran").is_file()


def test_a_failing_threshold_exits_1_with_a_junit_failure(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--users", "2", "--duration", "1s",
                     "--threshold", "GET /ok: p50 < 0.001ms", "--threshold", "*: error_rate < 1%")
    assert proc.returncode == 1, proc.stderr
    summary = summary_of(tmp_path)
    assert summary["status"] == "failed"
    assert [(t["target"], t["passed"]) for t in summary["thresholds"]] == [("GET /ok", False), ("*", True)]
    [failure] = junit_failures(tmp_path)
    assert failure.get("type") == "ThresholdFailed"
    assert "p50 < 0.001ms" in failure.get("message")
    assert_all_files(tmp_path)


def test_abort_on_fail_stops_the_run_early(tmp_path, target):
    started = time.monotonic()
    proc = run_surge(tmp_path, target.url, "--users", "2", "--duration", "30s", "--abort-on-fail",
                     "--threshold", "*: p50 < 0.001ms")
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    summary = summary_of(tmp_path)
    assert summary["status"] == "failed"
    assert summary["aborted_by"] == "*: p50 < 0.001ms"
    assert summary["duration_s"] < 5, summary["duration_s"]  # the first interval's check aborted it
    assert elapsed < 15
    assert_all_files(tmp_path)


@contextlib.contextmanager
def surge_in_background(args: list[str], cwd: Path, *, own_group: bool = False):
    """``surge`` running beside the test; killed (with its process group, when it has its own) if
    the test leaves it running, so a failing assertion never leaks a load generator."""
    proc = subprocess.Popen(args, cwd=cwd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=own_group)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            if own_group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.communicate()


def wait_for_load(target, requests: int = 10, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while target.stats()["requests_total"] < requests:
        if time.monotonic() > deadline:
            raise AssertionError("the run never started sending requests")
        time.sleep(0.1)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_interrupts_the_run_and_results_are_still_written(tmp_path, target, signum, code):
    args = surge_args(tmp_path, target.url, "--users", "3", "--duration", "60s",
                      "--threshold", "GET /ok: p50 < 0.001ms")
    with surge_in_background(args, tmp_path) as proc:
        wait_for_load(target)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr  # interrupted wins over the failed threshold
    assert "Traceback" not in stderr
    assert_all_files(tmp_path)
    summary = summary_of(tmp_path)
    assert summary["status"] == "interrupted"
    assert summary["duration_s"] < 30
    assert summary["total"]["requests"] + summary["total"]["cancelled"] == target.stats()["requests_total"]
    assert (tmp_path / "teardown.ran").read_text() == "yes"


@pytest.mark.slow
def test_sigterm_to_the_process_group_leaves_the_workers_to_the_coordinator(tmp_path, target):
    """``timeout``, CI runners and terminals signal the whole process group. Regression: the
    worker processes used to die of the SIGTERM at once, taking their unsent intervals with them
    (reported as 2 workers lost, about half the requests missing). Now they leave the group and
    the coordinator stops them gracefully, so the counts still equal the server's."""
    args = surge_args(tmp_path, target.url, "--users", "4", "--duration", "60s", "--processes", "2")
    with surge_in_background(args, tmp_path, own_group=True) as proc:
        wait_for_load(target, requests=100)
        time.sleep(1.2)  # into the second interval: snapshots have flowed, one is in progress
        os.killpg(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr
    summary = summary_of(tmp_path)
    assert summary["status"] == "interrupted"
    assert summary["generator"] == {**summary["generator"], "processes": 2, "workers_lost": 0}
    assert not [w for w in summary["warnings"] if "worker" in w], summary["warnings"]
    assert summary["total"]["requests"] + summary["total"]["cancelled"] == target.stats()["requests_total"]
    assert (tmp_path / "teardown.ran").read_text() == "yes"


def test_ctrl_c_during_the_health_preflight_exits_130_at_once(tmp_path):
    """Regression: the preflight used to ignore Ctrl-C and poll out its whole --health-timeout,
    then exit 3 as if the target were down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens: the preflight keeps polling
    args = surge_args(tmp_path, host, "--health", "/health", "--health-timeout", "30s")
    with surge_in_background(args, tmp_path) as proc:
        deadline = time.monotonic() + 20
        while not (tmp_path / "out").is_dir() and time.monotonic() < deadline:  # the CLI has set up the run
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - signalled
    assert proc.returncode == 130, stderr
    assert took < 5, f"{took:.1f} s after Ctrl-C"
    summary = summary_of(tmp_path)
    assert summary["status"] == "interrupted" and summary["total"]["requests"] == 0
    assert not (tmp_path / "teardown.ran").exists()  # setup never ran, so neither does teardown


SLOW_SCENARIO = """
    from pathlib import Path
    from surge import HttpUser, task

    def teardown(host, data):
        Path("teardown.ran").write_text("yes")

    class Patient(HttpUser):
        @task
        async def slow(self):
            await self.client.get("/delay/20000")
"""


def test_a_second_ctrl_c_skips_the_graceful_stop_but_not_the_results(tmp_path, target):
    args = surge_args(tmp_path, target.url, "--users", "3", "--spawn-rate", "100", "--duration", "60s",
                      "--graceful-stop", "30s", "--timeout", "30s")
    (tmp_path / "scenario.py").write_text(textwrap.dedent(SLOW_SCENARIO))
    with surge_in_background(args, tmp_path) as proc:
        wait_for_load(target, requests=3)
        proc.send_signal(signal.SIGINT)  # graceful: would wait ~20 s for the requests in flight
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)  # hard: cancel them now
        hard_at = time.monotonic()
        stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - hard_at
    assert proc.returncode == 130, stderr
    assert took < 5, f"{took:.1f} s after the second Ctrl-C"
    assert_all_files(tmp_path)
    summary = summary_of(tmp_path)
    assert summary["status"] == "interrupted"
    [endpoint] = summary["endpoints"]
    assert endpoint["requests"] == 0 and endpoint["failures"] == 0
    assert endpoint["cancelled"] == 3 == target.stats()["requests"]["GET /delay/20000"]
    assert (tmp_path / "teardown.ran").read_text() == "yes"


def test_credentials_in_the_host_never_reach_any_output(tmp_path, target):
    secret = "hunter2-secret"
    host = target.url.replace("http://", f"http://alice:{secret}@")
    proc = run_surge(tmp_path, host, "--users", "2", "--duration", "2s", "--health", "/ok",
                     "--threshold", "*: error_rate < 0.01%", "--threshold", "GET /nope: p95 < 1ms")
    assert proc.returncode == 1, proc.stderr  # both thresholds fail: their messages are written too
    assert secret not in proc.stdout + proc.stderr
    assert "alice" in summary_of(tmp_path)["host"]  # the user stays (it helps), the password goes
    written = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())  # monitors/ too
    assert {p.name for p in written} >= set(RESULT_FILES)
    for path in written:
        assert secret.encode() not in path.read_bytes(), path.name


LEAKY = """
    from surge import HttpUser, constant, task

    def teardown(host, data):  # its error is a notice on the terminal
        raise RuntimeError("logout refused for SECRET-CLI-1")

    class Leaky(HttpUser):
        wait_time = constant(0.02)
        headers = {"X-Api-Key": "CLASS-KEY-2"}

        @task
        async def raises(self):
            token = self.client.headers["Authorization"].split()[1]
            raise Exception(f"bad {token}")

        @task
        async def query(self):
            resp = await self.client.get("/status/500?api_key=QUERY-SECRET-3&page=2", name="/status/500")
            assert resp.ok, resp  # the message quotes the request, query string and all

        @task
        async def check(self):
            resp = await self.client.get("/ok", headers={"X-Auth-Token": "REQUEST-SECRET-4"})
            resp.failure(f"rejected with {self.client.headers} and REQUEST-SECRET-4, CLASS-KEY-2")
"""
SECRETS = ("SECRET-CLI-1", "CLASS-KEY-2", "QUERY-SECRET-3", "REQUEST-SECRET-4")


@pytest.mark.parametrize("live", ["lines", "rich"])
def test_secrets_in_failure_messages_reach_no_output(tmp_path, target, live):
    """Regression: a token in a task's exception, a request's ``api_key`` quoted by an assertion
    and header values in a check's message were written verbatim to summary.json, failures.csv
    and the terminal."""
    proc = run_surge(tmp_path, target.url, "--users", "2", "--duration", "1s", "--live", live,
                     "--header", "Authorization: Bearer SECRET-CLI-1", scenario=LEAKY)
    assert proc.returncode == 1, proc.stderr  # requests failed: the messages were recorded
    written = {path.name: path.read_text() for path in (tmp_path / "out").rglob("*") if path.is_file()}
    failures = written["failures.csv"]
    assert "exception: Exception: bad ***" in failures
    assert "api_key=***&page=2" in failures  # the rest of the query stays: it helps
    assert "'Authorization': 'Bearer ***'" in failures
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr, secret
        for name, text in written.items():
            assert secret not in text, (secret, name)
    assert "bad ***" in proc.stdout  # the terminal's failure table shows the scrubbed message
    assert "teardown() raised RuntimeError: logout refused for ***" in proc.stdout
