"""Findings and ``surge capacity`` on real runs against targets of a known shape
(tests/support/): ``CappedServer`` serves at most 4 requests at once at 10 ms each
(capacity 400 req/s); the target's ``/gate`` answers 503 beyond 5 in flight, ``/drift`` grows its latency
by a known slope. Each run is one worker process with users that never wait."""
from __future__ import annotations

import json
import subprocess

import jsonschema
import pytest
from importlib import resources

from support.capped import CappedServer
from test_cli_run import SURGE, clean_env, run_surge, summary_of


def schema() -> dict:
    return json.loads(resources.files("surge.outputs").joinpath("schema/summary.schema.json").read_text())

NO_WAIT = """
from surge import HttpUser, task

class Hammer(HttpUser):
    @task
    async def get(self):
        await self.client.get("{path}", name="shaped")
"""


def scenario(path: str) -> str:
    return NO_WAIT.format(path=path)


def by_kind(summary: dict) -> dict[str, dict]:
    return {f["kind"]: f for f in summary["findings"]}


def test_a_ramp_into_a_4_slot_server_finds_the_plateau_near_400_rps(tmp_path):
    """0 -> 10 users over 8 s: RPS follows the users up to 4 (about 100 req/s each), then stays
    at the server's 400 req/s while the users go on rising."""
    with CappedServer(slots=4, ms=10) as target:
        proc = run_surge(tmp_path, target.url, "--profile", "ramp", "--users", "10", "--duration", "8s",
                         "--interval", "500ms", scenario=scenario("/"))
        served = target.stats()["requests_total"]
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(tmp_path)
    jsonschema.validate(summary, schema())
    plateau = by_kind(summary)["plateau"]
    assert plateau["severity"] == "warning"
    assert 400 * 0.85 <= plateau["evidence"]["rps"] <= 400 * 1.15, plateau
    assert 3 <= plateau["evidence"]["users"] <= 7, plateau
    assert "Findings" in proc.stdout and "plateau: Throughput stopped rising" in proc.stdout
    assert served == summary["total"]["requests"] + summary["total"]["cancelled"]


@pytest.fixture(scope="module")
def stress_folder(tmp_path_factory, target_server):
    """A stress run stepping 2, 4, 6 ... 10 users (2 s each) into a server that takes 5 at once:
    from 6 users on, the sixth request in flight gets a 503."""
    target_server.configure(defaults=True)
    target_server.reset_stats()
    tmp_path = tmp_path_factory.mktemp("stress")
    proc = run_surge(tmp_path, target_server.url, "--profile", "stress", "--until-break", "10", "--step-users", "2",
                     "--step-duration", "2s", "--interval", "500ms", "--threshold", "*: p99<10s",
                     scenario=scenario("/gate?n=5&ms=20"))
    return tmp_path, proc


def test_a_stress_run_finds_the_breaking_point_where_the_server_turns_requests_away(stress_folder):
    tmp_path, proc = stress_folder
    summary = summary_of(tmp_path)
    jsonschema.validate(summary, schema())
    bp = by_kind(summary)["breaking_point"]
    assert bp["evidence"]["users"] == 6 and bp["evidence"]["last_good"]["users"] == 4, bp
    assert bp["evidence"]["reason"].startswith("error rate") and 4.0 <= bp["evidence"]["elapsed_s"] <= 6.0, bp
    assert bp["evidence"]["rps"] > 0
    assert [lv["level"] for lv in summary["levels"] if lv["hold"]] == [2, 4, 6, 8, 10]
    assert "breaking_point: The target broke at 6 users" in proc.stdout


def test_capacity_from_the_stress_folder_is_the_formula_of_its_inputs(stress_folder):
    tmp_path, _ = stress_folder
    out = tmp_path / "capacity.json"
    proc = subprocess.run([SURGE, "capacity", str(tmp_path / "out"), "--peak-users", "100", "--safety", "1.5",
                           "--sla", "error_rate<1%", "--output", str(out)],
                          capture_output=True, text=True, env=clean_env(), timeout=30)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["per_instance"]["capacity"] == 4 and doc["required_instances"] == 38  # ceil(100 * 1.5 / 4)
    assert doc["formula"] == "ceil(100 x 1.5 / 4) = 38" and doc["lower_bound"] is False
    assert [lv["held"] for lv in doc["levels"]][:3] == [True, True, False]
    assert "Required instances: ceil(100 x 1.5 / 4) = 38" in proc.stdout
    by_rps = subprocess.run([SURGE, "capacity", str(tmp_path / "out"), "--peak-rps", "1000", "--sla", "error_rate<1%"],
                            capture_output=True, text=True, env=clean_env(), timeout=30)
    per_rps = next(lv["rps"] for lv in doc["levels"] if lv["level"] == 4)
    expected = -(-1000 * 1.5 // per_rps)
    assert by_rps.returncode == 0 and f"= {int(expected)}" in by_rps.stdout, (by_rps.stdout, per_rps)
    none_held = subprocess.run([SURGE, "capacity", str(tmp_path / "out"), "--peak-users", "10", "--sla", "p50<0.001ms"],
                               capture_output=True, text=True, env=clean_env(), timeout=30)
    assert none_held.returncode == 1 and "No level held the SLA" in none_held.stdout


@pytest.mark.parametrize("args, words", [
    ([], "give the peak to plan for"),
    (["--peak-users", "5", "--peak-rps", "5"], "give the peak to plan for"),
    (["--peak-users", "-5"], "--peak-users"),
    (["--peak-users", "5", "--safety", "0.5"], "--safety"),
    (["--peak-users", "5", "--sla", "GET /x: p95<3ms"], "capacity judges all requests together"),
    (["--peak-users", "5", "--sla", "p95<<3ms"], "--sla"),
])
def test_capacity_refuses_bad_input_in_one_line(stress_folder, args, words):
    tmp_path, _ = stress_folder
    proc = subprocess.run([SURGE, "capacity", str(tmp_path / "out"), *args], capture_output=True, text=True,
                          env=clean_env(), timeout=30)
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2, proc.stderr


def test_capacity_of_a_folder_that_is_not_one_is_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text(json.dumps({"total": {}, "endpoints": []}))
    for folder, words in (("empty", "has no summary.json"), ("old", "has no levels"), ("missing", "no such directory")):
        proc = subprocess.run([SURGE, "capacity", str(tmp_path / folder), "--peak-users", "5"], capture_output=True,
                              text=True, env=clean_env(), timeout=30)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr


def test_latency_growing_by_a_known_slope_is_found_as_drift(tmp_path, target):
    """2 users for 8 s; the server adds 10 ms of latency per second: 600 ms/min."""
    proc = run_surge(tmp_path, target.url, "--users", "2", "--spawn-rate", "100", "--duration", "8s",
                     "--interval", "500ms", scenario=scenario("/drift?base=5&per_s=10"))
    assert proc.returncode == 0, proc.stderr
    drift = by_kind(summary_of(tmp_path))["latency_drift"]
    assert drift["evidence"]["slope_ms_per_min"] == pytest.approx(600, rel=0.25), drift
    assert drift["evidence"]["stage"] == 1


def test_a_healthy_steady_run_raises_no_warning(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--users", "5", "--spawn-rate", "100", "--duration", "4s",
                     "--interval", "500ms", scenario=scenario("/delay/5"))
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(tmp_path)
    assert [f for f in summary["findings"] if f["severity"] != "info"] == [], summary["findings"]
    assert [lv["level"] for lv in summary["levels"]] == [5]
