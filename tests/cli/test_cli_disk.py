"""``surge run`` on a disk that fills up: the load goes on, the verdict and the table are printed
whatever the disk does, the files that could not be written are named, the exit code is the
verdict's, and no file is left half written.

The full disk is a real 1 MB tmpfs in a private mount namespace (``support.small_disk``), filled
before the run; the load goes to the loopback test target. Each run lasts 3 s.
"""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from support.small_disk import namespace_prefix, run_on_small_disk

from test_cli_run import LOCUST_HISTORY_HEADER, RESULT_FILES, SURGE, clean_env

FINAL_FILES = [name for name in RESULT_FILES if name != "stats_history.csv"]
#: four endpoints, so each interval adds five history rows and a page of history fills in about a second
SCENARIO = """
    from surge import HttpUser, constant, task

    class Browser(HttpUser):
        wait_time = constant(0.01)

        @task
        async def ok(self):
            await self.client.get("/ok")

        @task
        async def echo(self):
            await self.client.get("/echo")

        @task
        async def some_bytes(self):
            await self.client.get("/bytes/64")

        @task
        async def missing(self):
            await self.client.get("/status/404", expect_status=404)
"""
NOT_WRITTEN = re.compile(r"results not written in full to (\S+): (.*)")


@pytest.fixture
def small_disk():
    prefix, why = namespace_prefix()
    if prefix is None:
        pytest.skip(why)


def surge_on_small_disk(tmp_path: Path, host: str, leave_pages: int, *extra: str):
    (tmp_path / "scenario.py").write_text(textwrap.dedent(SCENARIO))
    disk = tmp_path / "disk"
    cmd = [SURGE, "run", "scenario.py", "--host", host, "--processes", "1", "--live", "lines", "--no-host-monitor",
           "--users", "5", "--spawn-rate", "100", "--duration", "3s", "--out", str(disk / "out"), *extra]
    proc = run_on_small_disk(cmd, disk, tmp_path, leave_pages, cwd=tmp_path, env=clean_env())
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def missing_files(proc) -> dict[str, str]:
    """The files the one 'not written' line names, with the reason given for each."""
    match = NOT_WRITTEN.search(proc.stdout)
    assert match, proc.stdout
    named = {}
    for part in match.group(2).split("; "):
        names, _, why = part.rpartition(" (")
        for name in names.replace(" is incomplete", "").split(", "):
            named[name] = why.rstrip(")")
    return named


def table_requests(stdout: str) -> int:
    """The Aggregated request count of the final summary table."""
    row = [line for line in stdout.splitlines() if line.strip().startswith("Aggregated")][-1]
    return int(row.split()[1].replace(",", ""))


def history(path: Path) -> list[dict]:
    text = path.read_bytes().decode("utf-8")
    assert text.startswith(LOCUST_HISTORY_HEADER + "\r\n") and text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    width = LOCUST_HISTORY_HEADER.count(",") + 1
    assert all(len(r) == width and None not in r.values() for r in rows)  # no row cut short
    return rows


def assert_whole(out: Path, name: str) -> None:
    """A results file that is there is complete."""
    text = (out / name).read_bytes().decode("utf-8")
    if name.endswith(".json"):
        json.loads(text)
    elif name.endswith(".xml"):
        ET.fromstring(text)
    else:
        assert text.endswith("\r\n") and list(csv.reader(io.StringIO(text)))


def test_a_disk_that_fills_mid_run_loses_the_history_tail_not_the_run(tmp_path, target, small_disk):
    proc = surge_on_small_disk(tmp_path, target.url, 1, "--interval", "200ms")
    served = sum(target.stats()["requests"].values())
    out = proc.stdout

    assert proc.returncode == 0, proc.stdout + proc.stderr  # the verdict's code: passed
    assert "PASSED" in proc.stdout and table_requests(proc.stdout) == served
    warning = f"{tmp_path / 'disk' / 'out' / 'stats_history.csv'} could not be written (No space left on device)"
    assert out.count(warning) == 1 and "the run goes on, the history is incomplete" in out
    assert missing_files(proc) == dict.fromkeys([*FINAL_FILES, "stats_history.csv"], "No space left on device")

    kept = tmp_path / "out"
    assert sorted(p.name for p in kept.iterdir()) == ["stats_history.csv"]  # no temp file, no half file
    rows = history(kept / "stats_history.csv")
    written = int([r for r in rows if r["Name"] == "Aggregated"][-1]["Total Request Count"])
    assert 0 < written < served / 2  # the history stopped early, the load did not
    assert served > 500  # 5 users for 3 s at ~100 requests/s each when nothing stalls


def test_final_files_that_do_not_fit_are_named_and_the_verdict_still_decides(tmp_path, target, small_disk):
    """Three free pages: the history's and two more; the rest of the files do not fit."""
    proc = surge_on_small_disk(tmp_path, target.url, 3, "--threshold", "*: requests < 1")

    assert proc.returncode == 1, proc.stdout + proc.stderr  # thresholds failed: 1, not 3
    assert "FAILED" in proc.stdout and table_requests(proc.stdout) == sum(target.stats()["requests"].values())
    assert "stats_history.csv could not be written" not in proc.stdout
    missing = missing_files(proc)
    kept = tmp_path / "out"
    present = sorted(p.name for p in kept.iterdir())
    assert sorted([*present, *missing]) == sorted(RESULT_FILES)  # each file is there or named
    assert "summary.json" in missing and set(missing.values()) == {"No space left on device"}
    for name in present:
        assert_whole(kept, name)
    assert len([r for r in history(kept / "stats_history.csv") if r["Name"] == "Aggregated"]) >= 3


def test_a_full_disk_before_the_run_is_a_usage_error_that_leaves_nothing(tmp_path, target, small_disk):
    proc = surge_on_small_disk(tmp_path, target.url, 0)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("surge: error: --out") and "No space left on device" in proc.stderr
    assert not (tmp_path / "out").exists()
    assert target.stats()["requests"] == {}  # no load


def test_a_file_that_cannot_be_written_is_named_in_summary_json(tmp_path, target):
    """No full disk needed: a folder where junit.xml goes cannot be replaced by a file."""
    (tmp_path / "scenario.py").write_text(textwrap.dedent(SCENARIO))
    out = tmp_path / "out"
    (out / "junit.xml").mkdir(parents=True)
    (out / "junit.xml" / "keep").write_text("someone else's")
    proc = subprocess.run([SURGE, "run", "scenario.py", "--host", target.url, "--processes", "1", "--live", "off", "--no-host-monitor",
                           "--users", "2", "--duration", "1s", "--out", str(out)],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "PASSED" in proc.stdout, proc.stdout + proc.stderr
    assert list(missing_files(proc)) == ["junit.xml"]
    warnings = json.loads((out / "summary.json").read_text())["warnings"]
    assert [w for w in warnings if "junit.xml" in w] == [NOT_WRITTEN.search(proc.stdout).group(0)]
    for name in FINAL_FILES:
        if name != "junit.xml":
            assert_whole(out, name)
