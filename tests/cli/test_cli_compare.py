"""``surge compare`` end to end: real runs against the loopback target, compared by the real CLI.

Open workload (--rate), so each endpoint's rate is set by the plan, not by the other
endpoint's latency: a slower endpoint must be flagged, and only that one.
"""
from __future__ import annotations

import json
import subprocess
import textwrap
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from test_cli_run import SURGE, clean_env

SCENARIO = """
    from surge import HttpUser, task

    class Api(HttpUser):
        @task
        async def fast(self):
            await self.client.get("/ok", name="/fast")

        @task
        async def slow(self):
            await self.client.get("/delay/{delay_ms}", name="/slow")
"""


def run_against(target, tmp_path: Path, label: str, delay_ms: int) -> Path:
    scenario = tmp_path / f"{label}.py"
    scenario.write_text(textwrap.dedent(SCENARIO.format(delay_ms=delay_ms)))
    out = tmp_path / label
    proc = subprocess.run([SURGE, "run", str(scenario), "--host", target.url, "--processes", "1", "--live", "off",
                           "--rate", "100", "--duration", "4s", "--interval", "500ms", "--out", str(out)],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return out


def compare(*args: str, env: dict | None = None, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SURGE, "compare", *args], cwd=cwd, env=env or clean_env(), capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def runs(target_server, tmp_path_factory):
    target_server.configure(defaults=True)
    tmp = tmp_path_factory.mktemp("compare")
    return {label: run_against(target_server, tmp, label, delay)
            for label, delay in (("base", 5), ("again", 5), ("slower", 40))}


def test_two_runs_of_the_same_target_are_not_flagged(runs, tmp_path):
    proc = compare(str(runs["base"]), str(runs["again"]), "--out", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no regression" in proc.stdout
    doc = json.loads((tmp_path / "compare.json").read_text())
    assert not doc["regressed"] and doc["regressions"] == 0 and doc["added"] == doc["removed"] == []
    assert {r["series"] for r in doc["rows"]} == {"*", "GET /fast", "GET /slow"}


def test_a_target_made_slower_is_flagged_on_the_slow_endpoint(runs, tmp_path):
    summary_file = tmp_path / "step_summary.md"
    summary_file.write_text("earlier step\n")
    proc = compare(str(runs["base"]), str(runs["slower"]), cwd=tmp_path,
                   env={**clean_env(), "GITHUB_STEP_SUMMARY": str(summary_file)})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads((runs["slower"] / "compare.json").read_text())  # --out defaults to CURRENT
    schema = json.loads(resources.files("surge.outputs").joinpath("schema/compare.schema.json").read_text())
    jsonschema.validate(doc, schema)
    flagged = {(r["series"], r["metric"]) for r in doc["rows"] if r["regression"]}
    assert {("GET /slow", "p50"), ("GET /slow", "p95"), ("GET /slow", "p99")} <= flagged
    assert not any(series == "GET /fast" for series, _ in flagged)
    assert doc["rows"][0]["regression"]  # regressions first
    slow_p50 = next(r for r in doc["rows"] if (r["series"], r["metric"]) == ("GET /slow", "p50"))
    assert slow_p50["relative"] > 3 and slow_p50["delta"] == pytest.approx(35, abs=8)
    markdown = (runs["slower"] / "compare.md").read_text()
    assert "regression(s)" in markdown and "`GET /slow`" in markdown
    assert summary_file.read_text() == "earlier step\n" + markdown + "\n"  # appended, not overwritten
    assert "REG" in proc.stdout.split("GET", 1)[1]  # the table starts with a flagged row


def test_endpoints_in_one_run_only_are_added_or_removed(runs, tmp_path):
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for name in ("summary.json", "stats_history.csv"):
        text = (runs["again"] / name).read_text().replace("/fast", "/quick")
        (renamed / name).write_text(text)
    proc = compare(str(runs["base"]), str(renamed), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((renamed / "compare.json").read_text())
    assert doc["added"] == ["GET /quick"] and doc["removed"] == ["GET /fast"]


@pytest.mark.parametrize("which", ["baseline", "current"])
def test_a_folder_that_is_not_a_results_folder_exits_2_with_one_line(runs, tmp_path, which):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [str(empty), str(runs["base"])] if which == "baseline" else [str(runs["base"]), str(empty)]
    proc = compare(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == f"surge: error: {empty} is not a results folder: it has no summary.json\n"
    assert proc.stdout == "" and not (empty / "compare.json").exists()


def test_a_bad_tolerance_exits_2(runs, tmp_path):
    proc = compare(str(runs["base"]), str(runs["again"]), "--tolerance", "lots", cwd=tmp_path)
    assert proc.returncode == 2 and "--tolerance 'lots'" in proc.stderr


def test_help_explains_the_noise_method_and_exit_codes(tmp_path):
    proc = compare("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for words in ("--tolerance", "standard error", "stats_history.csv", "GITHUB_STEP_SUMMARY", "Exit codes"):
        assert words in proc.stdout


def run_with_baseline(target, tmp_path: Path, baseline: Path, delay_ms: int, *extra: str) -> subprocess.CompletedProcess:
    scenario = tmp_path / "scenario.py"
    scenario.write_text(textwrap.dedent(SCENARIO.format(delay_ms=delay_ms)))
    return subprocess.run([SURGE, "run", str(scenario), "--host", target.url, "--processes", "1", "--live", "off",
                           "--rate", "100", "--duration", "4s", "--interval", "500ms", "--out", str(tmp_path / "out"),
                           "--baseline", str(baseline), *extra],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)


def summary_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files("surge.outputs").joinpath("schema/summary.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def test_run_with_a_baseline_of_the_same_target_passes_with_the_comparison_in_the_summary(runs, target, tmp_path):
    proc = run_with_baseline(target, tmp_path, runs["base"], 5)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out" / "summary.json").read_text())
    summary_validator().validate(doc)
    assert doc["status"] == "passed" and doc["thresholds"] == []
    assert doc["baseline"]["baseline"] == str(runs["base"]) and not doc["baseline"]["regressed"]
    assert (tmp_path / "out" / "compare.json").is_file() and (tmp_path / "out" / "compare.md").is_file()


def test_run_with_a_baseline_fails_a_slower_target_like_a_threshold(runs, target, tmp_path):
    proc = run_with_baseline(target, tmp_path, runs["base"], 40, "--threshold", "*: error_rate<1%")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "out" / "summary.json").read_text())
    summary_validator().validate(doc)
    assert doc["status"] == "failed" and doc["baseline"]["regressed"]
    failed = [t for t in doc["thresholds"] if not t["passed"]]
    assert failed and {t["target"] for t in failed} == {"baseline"}
    assert any(t["expression"].startswith("GET /slow p95 ") for t in failed)
    assert not any("GET /fast" in t["expression"] for t in failed)
    assert any(t["target"] == "*" and t["passed"] for t in doc["thresholds"])  # the threshold still judged
    assert "baseline" in (tmp_path / "out" / "junit.xml").read_text()


def test_run_with_a_baseline_that_is_not_a_results_folder_exits_2_before_any_load(target, tmp_path):
    proc = run_with_baseline(target, tmp_path, tmp_path / "nowhere", 5)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"surge: error: {tmp_path / 'nowhere'} is not a results folder: no such directory"
    assert not (tmp_path / "out").exists() and target.stats()["requests_total"] == 0
