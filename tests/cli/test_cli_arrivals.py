"""``surge run --arrival poisson --seed N`` end to end, against a loopback server that notes when
each request arrived; and the option's bad values (one line, exit 2)."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.stamps import StampingServer

SURGE = str(Path(sys.executable).with_name("surge"))
HOST = ("-H", "http://127.0.0.1:9")  # never reached: --dry-run starts nothing

SCENARIO = """
    from surge import HttpUser, task

    class Caller(HttpUser):
        @task
        async def ok(self):
            await self.client.get("/ok")
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "arrivals.py"
    path.write_text(textwrap.dedent(SCENARIO))
    return path


def run(scenario: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([SURGE, "run", str(scenario), "--live", "off", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=scenario.parent)


def served(scenario: Path, out: Path) -> tuple[list[float], dict]:
    """Run 2 s at 200/s, Poisson with seed 1, on one worker: when each request reached the
    server (seconds since the first) and the summary."""
    with StampingServer() as server:
        proc = run(scenario, "-H", server.url, "--rate", "200", "--duration", "2s", "--processes", "1",
                   "--arrival", "poisson", "--seed", "1", "--out", str(out))
        stamps = [t - server.stamps[0] for t in server.stamps] if server.stamps else []
    assert proc.returncode == 0, proc.stderr
    return stamps, json.loads((out / "summary.json").read_text())


def cv(times: list[float]) -> float:
    gaps = [b - a for a, b in zip(times, times[1:])]
    return statistics.pstdev(gaps) / statistics.fmean(gaps)


def spread_from(stamps: list[float], schedule: list[float]) -> float:
    """The median distance between the i-th stamp and the i-th scheduled time, once the two are
    aligned by their median offset (robust to a few late arrivals on a busy machine)."""
    n = min(len(stamps), len(schedule))
    offsets = [stamps[i] - schedule[i] for i in range(n)]
    middle = statistics.median(offsets)
    return statistics.median(abs(d - middle) for d in offsets)


def test_poisson_arrivals_reach_the_server_as_the_seed_scheduled_them(scenario, tmp_path):
    """2 s at 200/s with --seed 1: every arrival the seed draws (computed here from the plan) is
    sent or counted dropped; the summary counts what the server saw; the server's arrival times
    follow the seed's schedule (median distance < 5 ms; the evenly spaced schedule is > 15 ms
    from it, so a generator that sent those would fail); and the gaps the server saw have a CV
    within 0.3 of 1 (the sample CV's standard error is ~0.05 at 400 gaps; the generator's timer
    jitter, ~1 ms against a 5 ms mean gap, and a start-up burst on a busy machine add up to ~0.1)."""
    from surge.config import settle
    from surge.model.arrivals import worker_arrivals

    args = {"scenario": str(scenario), "rate": "200", "duration": "2s", "arrival": "poisson", "seed": "1"}
    arrivals, planned = worker_arrivals(settle(args, {}, tmp_path).workload, 0, 1)
    schedule = [t for _, t in arrivals]
    evenly = [k / 200 for k in range(400)]
    assert spread_from(schedule, evenly) > 0.015  # the contrast is there to be seen

    stamps, summary = served(scenario, tmp_path / "poisson")
    total = summary["total"]
    assert len(stamps) == total["requests"] + total["cancelled"]
    assert len(stamps) + summary["dropped_iterations"] == planned
    assert len(stamps) >= planned - 3 and total["failures"] == 0
    print(f"server saw {len(stamps)} of {planned}: CV {cv(stamps):.3f}, median distance from the schedule "
          f"{spread_from(stamps, schedule) * 1000:.2f} ms (evenly spaced: {spread_from(stamps, evenly) * 1000:.1f} ms)")
    assert spread_from(stamps, schedule) < 0.005
    assert 0.7 < cv(stamps) < 1.3, cv(stamps)


def test_dry_run_shows_the_arrival_process_and_its_seed(scenario):
    proc = run(scenario, "--rate", "50", "--arrival", "poisson", "--seed", "7", "--processes", "2", "--dry-run", *HOST)
    assert proc.returncode == 0, proc.stderr
    assert "arrival process: poisson, each worker its own stream (seed 7)" in proc.stdout
    proc = run(scenario, "--rate", "50", "--dry-run", *HOST)
    assert "arrival process: uniform" in proc.stdout


def test_help_shows_the_options():
    out = subprocess.run([SURGE, "run", "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "--arrival" in out and "--seed" in out and "poisson" in out


@pytest.mark.parametrize("args,message", [
    (("--rate", "5", "--arrival", "gaussian"), "--arrival 'gaussian' is not one of uniform, poisson"),
    (("--rate", "5", "--arrival", "poisson", "--seed", "-1"), "--seed '-1' is not a whole number >= 0"),
    (("--rate", "5", "--arrival", "poisson", "--seed", "1.5"), "--seed '1.5' is not a whole number >= 0"),
    (("--users", "2", "--arrival", "poisson"), "--arrival only shapes open workloads"),
    (("--arrival", "poisson"), "--arrival only shapes open workloads"),
    (("--rate", "5", "--seed", "3"), "--seed seeds Poisson arrivals only"),
])
def test_bad_values_are_one_line_and_exit_2(scenario, args, message):
    proc = run(scenario, *args, "--dry-run", *HOST)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_poisson_arrivals_beyond_the_generator_are_all_accounted_for(scenario, tmp_path, target):
    """1,000,000 Poisson arrivals/s for 1 s on 2 workers: the drawn count (the same seed's, computed
    here from the settled plan) equals requests + cancelled + dropped, counted without a walk."""
    from surge.config import settle
    from surge.model.arrivals import planned_arrivals

    args = {"rate": "1000000", "duration": "1s", "processes": "2", "arrival": "poisson", "seed": "5",
            "max_users": "200"}
    planned = planned_arrivals(settle({"scenario": str(scenario), **args}, {}, tmp_path).workload, 2)
    assert abs(planned - 1_000_000) < 5.5 * 1000  # Poisson(1e6): sd 1000
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in args.items()]
    proc = run(scenario, "-H", target.url, *flags, "--no-host-monitor", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    total = s["total"]
    assert total["requests"] + total["cancelled"] + s["dropped_iterations"] == planned
    assert total["requests"] + total["cancelled"] == target.stats()["requests_total"]


def test_the_config_file_keys_settle_into_the_plan(tmp_path):
    from surge.config import settle

    (tmp_path / "surge.toml").write_text('rate = 20\narrival = "poisson"\nseed = 11\n')
    workload = settle({"scenario": "s.py"}, {}, tmp_path).workload
    assert (workload.kind, workload.arrival, workload.seed) == ("open", "poisson", 11)
    (tmp_path / "surge.toml").write_text('users = 2\narrival = "poisson"\n')
    with pytest.raises(Exception, match="arrival in .*surge.toml only shapes open workloads"):
        settle({"scenario": "s.py"}, {}, tmp_path)
    (tmp_path / "empty").mkdir()
    assert settle({"scenario": "s.py", "rate": 3}, {}, tmp_path / "empty").workload.arrival == "uniform"
