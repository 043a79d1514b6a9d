"""Locustfiles run unchanged by ``surge run`` (the console script, in a subprocess) against loopback targets.

Each file is written the way the teams' guides write theirs; each test checks what the server
saw against what surge reports, plus the Locust-shaped outputs (CSV names and headers, exit
codes, events, environment.stats) and that the real Locust is never imported.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FILES, _summary
from .corrections_target import CorrectionsAPI

SURGE = str(Path(sys.executable).with_name("surge"))
LOCUST_PERCENTILES = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
LOCUST_STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s," + LOCUST_PERCENTILES)
LOCUST_HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s," + LOCUST_PERCENTILES + ",Total Request Count,"
    "Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,"
    "Total Max Response Time,Total Average Content Size")
LOCUST_FAILURES_HEADER = "Method,Name,Error,Occurrences"
LOCUST_EXCEPTIONS_HEADER = "Count,Message,Traceback,Nodes"


def surge(*args: str, cwd: Path, probe: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    if probe is not None:
        env["LOCUST_PROBE_DIR"] = str(probe)
    return subprocess.run([SURGE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def run_file(name: str, host: str, tmp_path: Path, *flags: str, probe: Path | None = None):
    """``surge run -f FILE ...`` as a child process: (the process, summary.json or None)."""
    out = tmp_path / "out"
    proc = surge("run", "-f", str(FILES / name), "-H", host, "--headless", "--live", "off", "-o", str(out), *flags,
                 cwd=tmp_path, probe=probe)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc, _summary(out)


def by_name(summary: dict) -> dict[str, dict]:
    return {f"{e['method']} {e['name']}": e for e in summary["endpoints"]}


def server_requests(target) -> dict[str, int]:
    return target.stats()["requests"]


def test_rest_mix_counts_checks_headers_csvs_and_never_the_real_locust(target, tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    proc, summary = run_file("rest_mix.py", target.url, tmp_path, "-u", "10", "-r", "100", "-t", "1s",
                             "--processes", "2", "--csv", "reports/locust-stats", "--html", "reports/locust-report.html",
                             probe=probe)
    assert proc.returncode == 1, proc.stdout[-2000:]  # requests failed, no thresholds: Locust's exit 1
    seen = server_requests(target)
    ours = by_name(summary)
    # the server saw exactly what surge counted (plus what was cancelled at the end)
    for key, server_key in (("POST /echo", "POST /echo"), ("GET /report", "GET /status/404"),
                            ("GET /ok", "GET /ok"), ("GET /bytes/2048", "GET /bytes/2048")):
        assert ours[key]["requests"] + ours[key]["cancelled"] == seen[server_key], key
    assert ours["POST /echo"]["failures"] == 0  # the X-Api-Key header arrived: verify's check passed
    assert ours["GET /report"]["failures"] == ours["GET /report"]["requests"] > 0
    assert summary["failures_by_kind"]["check"] == ours["GET /report"]["failures"]  # response.failure()
    assert summary["failures_by_kind"]["exception"] == ours["TASK HeavyUser.heavy"]["requests"] > 0
    assert summary["users"]["by_class"] == {"AuditorUser": 7, "BurstUser": 2, "HeavyUser": 1}
    assert "audit-secret-key" not in (tmp_path / "out" / "summary.json").read_text()

    reports = tmp_path / "reports"
    lines = {name: (reports / f"locust-stats_{name}.csv").read_text().splitlines()
             for name in ("stats", "stats_history", "failures", "exceptions")}
    assert lines["stats"][0] == LOCUST_STATS_HEADER
    assert lines["stats_history"][0] == LOCUST_HISTORY_HEADER
    assert lines["failures"][0] == LOCUST_FAILURES_HEADER
    assert lines["exceptions"][0] == LOCUST_EXCEPTIONS_HEADER
    rows = list(csv.DictReader(lines["stats"]))
    assert next(r for r in rows if r["Name"] == "Aggregated")["Request Count"] == str(summary["total"]["requests"])
    exceptions = list(csv.DictReader(lines["exceptions"]))
    assert [r["Message"] for r in exceptions] == ["RuntimeError: heavy parser broke"]
    assert 'id="verdict">failed<' in (reports / "locust-report.html").read_text()

    notes = sorted(probe.glob("worker-*.txt"))
    assert len(notes) == 2  # both worker processes, neither of them the test process
    for note in notes:
        module_file, gevent = note.read_text().splitlines()
        assert Path(module_file).parts[-4:] == ("surge", "compat", "locust", "__init__.py")
        assert gevent == "False"  # nothing patched the worker with gevent


def test_exit_code_on_error_and_thresholds_decide_as_locust_and_surge_do(target, run_here):
    code, _, text = run_here("rest_mix.py", target.url, "-u", "2", "-t", "1s", "--exit-code-on-error", "0")
    assert code == 0, text[-2000:]
    code, _, text = run_here("rest_mix.py", target.url, "-u", "2", "-t", "1s", "--threshold", "POST /echo: p99<10s",
                             out="out2")
    assert code == 0, text[-2000:]  # thresholds given: surge's verdict, failures elsewhere ignored


def test_tags_weights_and_fixed_count(target, tmp_path):
    proc, summary = run_file("tagged.py", target.url, tmp_path, "-u", "9", "-r", "100", "-t", "1s",
                             "--tags", "rest_endpoints", "health", "--processes", "2")  # Locust's space-separated list
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = server_requests(target)
    assert "GET /status/200" not in seen  # the untagged-for-this-run websocket task never ran
    assert set(seen) == {"GET /ok", "POST /echo", "GET /bytes/10", "GET /chunked"}
    ours = by_name(summary)
    assert ours["GET webhooks_list"]["requests"] + ours["GET webhooks_list"]["cancelled"] == seen["GET /ok"]
    # one HealthWatcher (fixed_count), the other 8 split 3:1 by weight
    assert summary["users"]["by_class"] == {"HealthWatcher": 1, "ApiUser": 6, "AdminUser": 2}
    assert "jwt-for-the-load-test" not in (tmp_path / "out" / "summary.json").read_text()
    # --dry-run shows that same split, per worker as the executors make it
    dry = surge("run", "-f", str(FILES / "tagged.py"), "-H", target.url, "-u", "9", "--processes", "2",
                "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "users at the peak: 9 (ApiUser 6, AdminUser 2, HealthWatcher 1)" in dry.stdout, dry.stdout
    assert "worker 0: 5 (ApiUser 4, AdminUser 0, HealthWatcher 1)" in dry.stdout


def test_tasksets_interrupt_and_sequential_order(target, run_here):
    code, summary, text = run_here("tasksets.py", target.url, "-u", "4", "-r", "100", "-t", "2s")
    assert code == 0, text[-2000:]
    seen = server_requests(target)
    ours = by_name(summary)
    sent = {k: e["requests"] + e["cancelled"] for k, e in ours.items()}
    assert sent["GET cart"] == seen["GET /ok"] and sent["POST pay"] == seen["POST /echo"]
    # SequentialTaskSet: cart, pay, receipt in order, then interrupt(): each pass is whole
    # (a user stopped at the end may be inside one pass)
    assert 0 <= sent["GET cart"] - sent["GET receipt"] <= 4 and sent["GET receipt"] > 10
    # TaskSet: on_start, 4 items, interrupt -> on_stop, every time it is entered
    assert sent["GET browse_start"] == seen["GET /status/200"] > 5
    assert 0 <= sent["GET browse_start"] - sent["GET browse_stop"] <= 4
    assert 0 <= 4 * sent["GET browse_start"] - sent["GET item"] <= 16


def test_load_test_shape_drives_the_users_and_ends_the_run(target, run_here):
    code, summary, text = run_here("short_shape.py", target.url)
    assert code == 0, text[-2000:]
    assert 1.9 <= summary["duration_s"] <= 3.0  # tick() returned None at 2 s
    assert summary["users"]["started"] == 4
    assert summary["total"]["requests"] + summary["total"]["cancelled"] == target.stats()["requests"]["GET /ok"]


def test_the_guides_spike_shape_unchanged_is_capped_by_run_time(target, run_here):
    code, summary, text = run_here("spike_user.py", target.url, "-t", "2s")
    assert code == 0, text[-2000:]
    # the guide's first stage: 100 users at 10/s, so about 20 users within the 2 s of -t
    assert 15 <= summary["users"]["started"] <= 25


def test_event_listeners_and_environment_stats_in_test_stop(target, run_here, tmp_path):
    probe = tmp_path / "probe"
    code, summary, text = run_here("events_stats.py", target.url, "-u", "2", "-t", "1s")
    assert code == 4, text[-2000:]  # environment.process_exit_code from the quitting listener
    seen = json.loads((probe / "test_stop.json").read_text())
    server = target.stats()["requests"]
    assert seen["init"] == 1 and seen["start"] == 1 and seen["host"] == target.url
    total = summary["total"]
    assert seen["requests"] == seen["num_requests"] == total["requests"] == server["GET /ok"] + server["GET /status/410"]
    assert seen["failures"] == seen["num_failures"] == total["failures"] == server["GET /status/410"]
    assert seen["p50"] == pytest.approx(total["latency_ms"]["p50"], rel=0.01)
    assert seen["entries"] == ["GET /ok", "GET /status/410"]


def test_stop_user_self_stop_and_reschedule_task(target, run_here):
    code, summary, text = run_here("stop_reschedule.py", target.url, "-u", "6", "-r", "100", "-t", "1s")
    assert code == 0, text[-2000:]
    seen = server_requests(target)
    ours = by_name(summary)
    # 3 ThreeAndOut users make 3 requests each then StopUser (on_stop once each); 3 SkipsOdd users
    # skip odd turns with RescheduleTask and stop themselves after turn 6: 3 requests each
    assert ours["GET three"]["requests"] == 9 and ours["GET goodbye"]["requests"] == 3
    assert ours["GET even"]["requests"] == 9
    assert seen == {"GET /ok": 18, "GET /status/200": 3}
    assert summary["total"]["failures"] == 0


def test_async_surge_tasks_and_sync_locust_tasks_coexist(target, run_here):
    code, summary, text = run_here("mixed.py", target.url, "-u", "4", "-r", "100", "-t", "1s")
    assert code == 0, text[-2000:]
    ours = by_name(summary)
    assert all(ours[f"GET {n}"]["requests"] > 10 for n in ("sync", "async", "native"))
    assert sum(e["requests"] + e["cancelled"] for e in ours.values()) == target.stats()["requests"]["GET /ok"]


@pytest.mark.parametrize("args, named", [
    (["-f", str(FILES / "unsupported_api.py")], "locust.run_single_user"),
    (["-f", str(FILES / "tagged.py"), "--master"], "--master"),
    (["-f", str(FILES / "tagged.py"), "--web-port=8089"], "--web-port"),
])
def test_an_unsupported_feature_is_one_line_and_exit_2(tmp_path, args, named):
    proc = surge("run", *args, "-H", "http://127.0.0.1:9", "--live", "off", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in proc.stderr
    assert "(" in lines[0]  # with what to use instead


def test_an_unsupported_client_keyword_is_counted_with_what_to_do(target, run_here):
    code, summary, _ = run_here("unsupported_kw.py", target.url, "-u", "1", "-t", "1s")
    assert code == 3  # no request could be sent
    (failure,) = summary["failures"] if "failures" in summary else [None]
    assert failure["kind"] == "exception" and "files=" in failure["message"] and "data=" in failure["message"]
    assert target.stats()["requests_total"] == 0


def test_locust_conf_and_tool_locust_fill_what_the_command_line_left(target, tmp_path, run_here):
    (tmp_path / "locust.conf").write_text(
        f"# the team's file\nlocustfile = {FILES / 'tagged.py'}\nhost = {target.url}\nusers = 2\n"
        "spawn-rate = 100\nrun-time = 1s\nheadless = true\ntags = [webhooks]\nloglevel = INFO\n")
    (tmp_path / "pyproject.toml").write_text('[tool.locust]\ncsv = "reports/run"\n')
    code, _, text = run_here(None, None)
    assert code == 0, text[-2000:]
    assert set(target.stats()["requests"]) == {"GET /ok"}  # tags = [webhooks] only
    assert (tmp_path / "reports" / "run_stats.csv").read_text().startswith("Type,Name")
    (tmp_path / "locust.conf").write_text("master = true\n")
    proc = surge("run", str(FILES / "tagged.py"), "--live", "off", cwd=tmp_path)
    assert proc.returncode == 2 and "master" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_the_corrections_guides_locustfile_unchanged_passes_against_an_api_that_speaks_it(tmp_path):
    with CorrectionsAPI() as api:
        proc, summary = run_file("corrections_guide.py", api.url, tmp_path, "-u", "10", "-r", "100", "-t", "1s",
                                 "--processes", "2")
        counts = dict(api.counts)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert summary["total"]["failures"] == 0 and summary["total"]["requests"] > 10
    assert sum(counts.values()) == summary["total"]["requests"] + summary["total"]["cancelled"]
    assert "GET /v1/facts" in counts and "POST /v1/corrections" in counts
    assert f"Load test starting against {api.url}" in proc.stdout
    assert f"Total requests: {summary['total']['requests']}" in proc.stdout and "Failures: 0" in proc.stdout


def test_the_corrections_guides_locustfile_unchanged_passes_against_surge_demos_api(tmp_path, run_here):
    from surge.demo.launch import start_in_subprocess, stop

    proc_api, url = start_in_subprocess(port=0, db=str(tmp_path / "demo.sqlite3"))
    try:
        code, summary, text = run_here("corrections_guide.py", url, "-u", "5", "-r", "10", "-t", "2s")
    finally:
        stop(proc_api)
    assert summary is not None and summary["total"]["requests"] > 10
    assert summary["total"]["failures"] == 0, summary["failures"]
    assert code == 0


def test_time_sleep_in_a_task_lets_the_other_users_run(target, run_here):
    code, summary, text = run_here("sleepy.py", target.url, "-u", "10", "-r", "1000", "-t", "1s")
    assert code == 0, text[-2000:]
    # 10 users, 0.25 s of sleeps an iteration: ~40 iterations in 1 s when the sleeps overlap,
    # 4 if each held the worker's loop
    assert by_name(summary)["GET step1"]["requests"] >= 25
    assert summary["total"]["requests"] + summary["total"]["cancelled"] == target.stats()["requests"]["GET /ok"]
