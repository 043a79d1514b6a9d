"""``surge monitor`` end to end: the real console script in a subprocess watching a real process.

The files and their columns, the printed verdict, the end when the process exits, exit codes
130 / 143 with everything written, and bad input as one line and exit 2 with nothing written.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support.leaky import Leaky
from surge.monitors.host import HostMonitor
from surge.monitors.target import COLUMNS

SURGE = str(Path(sys.executable).with_name("surge"))


def surge(*args: str, cwd: Path, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([SURGE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_leak_is_reported_with_files_columns_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "profile"
    with Leaky(leak_bytes=50_000) as leaky:
        drive = threading.Thread(target=leaky.drive, args=(50.0, 4.5))
        drive.start()
        done = surge("monitor", "--port", str(leaky.port), "--duration", "4s", "--interval", "250ms",
                     "--warmup", "500ms", "--out", str(out), "--plot", cwd=tmp_path)
        drive.join()
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["memory.png", "monitor.csv", "monitor.json"]
    report = json.loads((out / "monitor.json").read_text())
    target = report["target"]
    assert report["pid"] == target["pid"] == leaky.pid and report["ended_by"] == "duration"
    assert target["verdict"] == "leak" and target["rss_growth_mb_per_min"] > 100  # truth: ~150 MB/min
    assert target["warmup_s"] == 0.5 and 15 <= target["samples"] <= 18 and target["gaps"] == 0
    assert report["host"]["cores"] == os.cpu_count() and report["host"]["cpu_percent_max"] > 0
    rows = csv_rows(out / "monitor.csv")
    host_columns = [f"host_{c}" for c in HostMonitor().columns]
    assert list(rows[0]) == ["timestamp", "elapsed_s", *COLUMNS, *host_columns]
    assert len(rows) == target["samples"] and rows[0]["elapsed_s"] == "0.000"
    assert float(rows[-1]["rss_mb"]) == target["rss_mb_final"] and rows[0]["cpu_percent"] == ""
    assert all(row["host_mem_used_pct"] for row in rows)
    assert (out / "memory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"watching pid {leaky.pid} (python")
    assert f"pid {leaky.pid}: {target['samples']} samples; RSS start" in done.stdout
    assert any(line.startswith("RSS growth +") and ": leak" in line for line in lines)
    assert lines[-1] == f"wrote {out}/ (monitor.json, monitor.csv, memory.png)"


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_ends_it_early_with_everything_written(tmp_path, signum, code):
    out = tmp_path / "profile"
    with Leaky() as leaky:
        proc = subprocess.Popen([SURGE, "monitor", "--pid", str(leaky.pid), "--duration", "1m", "--interval", "0.2s",
                                 "--out", str(out)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            deadline = time.monotonic() + 10
            while not ((out / "monitor.csv").exists() and len(csv_rows(out / "monitor.csv")) >= 3):
                assert time.monotonic() < deadline and proc.poll() is None, "no rows streamed"
                time.sleep(0.05)
            sent = time.monotonic()
            proc.send_signal(signum)
            stdout, stderr = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == code and time.monotonic() - sent < 3, stderr
    assert "Traceback" not in stderr and f"{signal.Signals(signum).name}: stopping, writing the files" in stderr
    report = json.loads((out / "monitor.json").read_text())
    assert report["ended_by"] == signal.Signals(signum).name and report["target"]["verdict"] == "healthy"
    assert len(csv_rows(out / "monitor.csv")) == report["target"]["samples"] >= 3
    assert f"wrote {out}/ (monitor.json, monitor.csv)" in stdout


def test_it_ends_when_the_process_exits(tmp_path):
    with Leaky("--exit-after", "1.0") as leaky:
        done = surge("monitor", "--pid", str(leaky.pid), "--duration", "30s", "--interval", "0.2s",
                     "--out", str(tmp_path / "p"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "p" / "monitor.json").read_text())
    assert report["ended_by"] == "exited" and report["target"]["exited_at_s"] == pytest.approx(1.1, abs=0.35)
    assert report["duration_s"] < 2 and f"process {leaky.pid} exited at" in done.stderr
    assert "the process exited at" in done.stdout


def _nobody_port() -> int:
    with Leaky() as leaky:
        return leaky.port


@pytest.mark.parametrize("args, message", [
    (["--pid", "999999999"], "no process 999999999 on this machine"),
    (["--port", "PORT"], "nobody listens on port PORT on this machine"),
    (["--pid", "1", "--port", "80"], "pass --pid or --port, not both"),
    ([], "say which process to watch: --pid PID or --port PORT"),
    (["--pid", "1", "--duration", "0"], "--duration: '0' must be more than 0"),
    (["--pid", "1", "--interval", "10m"], "--interval 10m is longer than --duration 5m"),
])
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(tmp_path, args, message):
    if "PORT" in args:
        port = str(_nobody_port())
        args, message = [a.replace("PORT", port) for a in args], message.replace("PORT", port)
    done = surge("monitor", *args, cwd=tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (2, f"surge: error: {message}\n", "")
    assert list(tmp_path.iterdir()) == []


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path):
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not here')\n")
    done = surge("monitor", "--pid", str(os.getpid()), "--plot", cwd=tmp_path,
                 env={"PYTHONPATH": str(tmp_path / "fake")})
    assert done.returncode == 2
    assert done.stderr == ("surge: error: --plot needs matplotlib, which is not installed "
                           "(pip install 'surge[plot]')\n")
