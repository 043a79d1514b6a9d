"""``surge run --profile stress --until-break`` end to end: each step judged on its own window
once it settled, so a spike while step 1 settles does not end the run, and the run breaks at
the step where latency crossed the threshold; --step-users / --step-duration set the steps."""
from __future__ import annotations

import csv
import json
import subprocess
import textwrap

import pytest

from support.stress import growing
from test_cli_run import SURGE, clean_env, run_surge

#: the first two requests (step 1, settling) spike to 250 ms; then latency is 10 ms per user
SPIKE_THEN_GROW = growing(spike_ms=250, spike_requests=2)
STEPS = ("--profile", "stress", "--until-break", "20", "--step-users", "2", "--step-duration", "2s",
         "--interval", "500ms", "--threshold", "*: mean<50ms")


def test_a_spike_while_step_1_settles_does_not_break_it_the_step_that_crosses_does(tmp_path, target):
    """Means per step: ~20, ~40, ~60 ms (plus a 250 ms spike in step 1's first 0.5 s, its settle
    time). Judged on totals from the first second the spike broke the run at 2 users; judged
    on each step's window after its settle time, the run breaks at step 3 (6 users), where the
    latency crossed 50 ms, after one judged interval of it."""
    proc = run_surge(tmp_path, target.url, *STEPS, scenario=SPIKE_THEN_GROW)
    assert proc.returncode == 1, proc.stderr
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    point = summary["breaking_point"]
    assert (point["users"], point["step"], point["step_level"], point["held_level"]) == (6, 3, 6, 4), point
    assert point["threshold"] == "*: mean<50ms" and 50 < point["actual"] < 80, point
    assert point["settle_s"] == 0.5 and point["window_from_s"] == 4.5 and point["window_to_s"] == 5.0, point
    assert point["window_requests"] > 0 and point["elapsed_s"] == 5.0
    assert summary["status"] == "failed" and summary["aborted_by"] is None
    assert summary["status_reasons"][0].startswith("breaking point at 6 users: *: mean<50ms failed on step 3")
    assert summary["duration_s"] < 6.5  # not the plan's 20 s
    # the spike was there: step 1's settling interval
    history = [r for r in csv.DictReader((out / "stats_history.csv").open()) if r["Name"] == "Aggregated"]
    assert float(history[0]["100%"]) >= 240, history[0]
    breaches = [line for line in proc.stdout.splitlines() if "threshold failed" in line]
    assert len(breaches) == 1 and "*: mean<50ms" in breaches[0], proc.stdout


def test_abort_grace_sets_the_settle_time(tmp_path, target):
    """With --abort-grace 0 nothing settles: step 1's spike is judged, and it breaks at once."""
    proc = run_surge(tmp_path, target.url, *STEPS, "--abort-grace", "0", scenario=SPIKE_THEN_GROW)
    assert proc.returncode == 1, proc.stderr
    point = json.loads((tmp_path / "out" / "summary.json").read_text())["breaking_point"]
    assert (point["users"], point["step"], point["held_level"], point["settle_s"]) == (2, 1, None, 0), point
    assert point["window_from_s"] == 0 and point["actual"] > 50


@pytest.mark.parametrize("flags, words", [
    (("--step-users", "2"), ["--step-users sets the steps of --profile stress only"]),
    (("--profile", "load", "--step-duration", "2s"), ["--step-duration sets the steps of --profile stress only"]),
    (("--profile", "stress", "--step-duration", "2s", "--duration", "1m"),
     ["--step-duration and --duration are both set"]),
    (("--profile", "stress", "--step-users", "2", "--users", "10"), ["--step-users and --users are both set"]),
    (("--profile", "stress", "--until-break", "10", "--step-users", "2", "--step-duration", "1s",
      "--abort-grace", "800ms"), ["stress step 1 lasts 1s", "could never break", "--step-duration"]),
])
def test_step_flags_that_clash_are_one_line_exit_2(tmp_path, flags, words):
    (tmp_path / "scenario.py").write_text(textwrap.dedent(SPIKE_THEN_GROW))
    proc = subprocess.run([SURGE, "run", "scenario.py", "--host", "http://127.0.0.1:9", *flags], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=30)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
