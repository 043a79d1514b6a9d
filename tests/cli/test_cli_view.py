"""The live view and the final table through the real CLI: frames in a pseudo-terminal of 80
columns, the compact lines off a terminal, and the summary's columns, units and notes."""
from __future__ import annotations

import fcntl
import json
import os
import re
import select
import socket
import struct
import subprocess
import termios
import textwrap
import time
from importlib import resources
from pathlib import Path

import jsonschema

from test_cli_run import clean_env, summary_of, surge_args

#: six endpoints with names of realistic length; the Rare user's two come every other second only
SIX = """
    from surge import HttpUser, Rate, Trend, constant, task

    checkout_ms = Trend("checkout_ms")
    hits = Rate("hits")


    class Busy(HttpUser):
        weight = 2
        wait_time = constant(0.05)

        @task(3)
        async def history(self):
            await self.client.get("/ok", name="/v1/corrections/{id}/history")

        @task(2)
        async def facts(self):
            resp = await self.client.get("/ok", name="/v1/facts")
            hits.add(resp.status == 200)

        @task(1)
        async def correct(self):
            resp = await self.client.post("/status/201", name="/v1/corrections")
            checkout_ms.add(12.5)

        @task(1)
        async def attachments(self):
            await self.client.get("/ok", name="/v1/subjects/{subject_id}/corrections/{correction_id}/attachments")


    class Rare(HttpUser):
        weight = 1
        wait_time = constant(2)

        @task
        async def escalate(self):
            await self.client.get("/ok", name="/v1/enforcement/escalation")
            await self.client.post("/status/201", name="/v1/enforcement/heartbeat")
"""
ENDPOINTS = ["POST /v1/corrections", "GET /v1/corrections/{id}/history", "GET /v1/enforcement/escalation",
             "POST /v1/enforcement/heartbeat", "GET /v1/facts",
             "GET /v1/subjects/{subject_id}/corrections/{correction_id}/attachments"]
_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def env_for(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in clean_env().items() if k not in ("CI", "COLUMNS", "LINES", "FORCE_COLOR")}
    return {**env, "TERM": "xterm-256color", **extra}


def run_in_pty(args: list[str], cwd: Path, env: dict[str, str], columns: int = 80,
               timeout_s: float = 60) -> tuple[int, str]:
    """Run ``args`` on a pseudo-terminal of ``columns`` x 40; its exit code and everything it
    wrote, terminal control sequences removed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        code = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, _CSI.sub("", out.decode("utf-8", "replace"))


def frames_of(text: str) -> list[list[str]]:
    """Each live frame's lines, from its title to its last row (or to the summary)."""
    frames = []
    for chunk in text.split("surge scenario → ")[1:]:
        lines = [line for line in re.split(r"\r\n|\r|\n", chunk)]
        end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
        frames.append(lines[:end])
    return [f for f in frames if any(_is_header(line) for line in f)]


def _is_header(line: str) -> bool:
    return " requests " in line and " rps " in line


def rows_of(frame: list[str]) -> list[str]:
    header = next(i for i, line in enumerate(frame) if _is_header(line))
    return frame[header + 1:]


def full_name(shown: str) -> str:
    """The endpoint a row's (maybe shortened) name stands for."""
    head, cut, tail = shown.partition("…")
    [name] = [e for e in ENDPOINTS if e == shown or (cut and e.startswith(head) and e.endswith(tail))]
    return name


def test_live_frames_keep_every_endpoint_and_fit_80_columns(tmp_path, target):
    args = surge_args(tmp_path, target.url, "--users", "3", "--duration", "5s", "--live", "auto", scenario=SIX)
    code, text = run_in_pty(args, tmp_path, env_for())
    assert code == 0, text[-2000:]
    frames = frames_of(text)
    assert len(frames) >= 5, text[:3000]  # one per interval, on a real terminal in auto mode
    seen: list[str] = []
    for frame in frames:
        assert max(len(line) for line in frame) <= 80, frame
        rows = rows_of(frame)
        assert all(re.match(r"^(GET|POST) /v1/\S+ +[\d,]+ +\d+ ", row) for row in rows), rows  # none wrapped
        names = [full_name(row.split("  ")[0].strip()) for row in rows]
        assert [n for n in names if n in seen] == seen, (seen, names)  # none left, none moved
        seen = names
        head = "\n".join(frame[:3])
        assert "stage 1/1" in head and "users 0/0" not in head
    assert seen == ENDPOINTS  # by name, then method
    shown = {row.split("  ")[0].strip() for frame in frames for row in rows_of(frame)}
    assert set(ENDPOINTS[:-1]) < shown  # typical names whole...
    [long] = shown - set(ENDPOINTS[:-1])
    assert long.startswith("GET /v1/subjects/") and "…" in long and long.endswith("/attachments")  # ...cut in the middle
    assert any("users 3/3 (Busy 2 · Rare 1)" in "\n".join(f) for f in frames)
    assert "→ stage" not in text  # a steady run is one stage: nothing to announce
    summary = text[text.index("Endpoints (latency in ms)"):]
    assert max(len(line) for line in summary.splitlines()) <= 80 and " avg " in summary


def test_auto_prints_lines_off_a_terminal_or_in_ci_even_with_force_color(tmp_path, target):
    args = surge_args(tmp_path, target.url, "--users", "3", "--duration", "2s", "--live", "auto", scenario=SIX)
    piped = subprocess.run(args, cwd=tmp_path, env=env_for(FORCE_COLOR="1"), capture_output=True, text=True,
                           timeout=60)
    code, on_terminal = run_in_pty(args, tmp_path, env_for(FORCE_COLOR="1", CI="true"))
    for out in (_CSI.sub("", piped.stdout), on_terminal):
        lines = [line for line in out.splitlines() if line.startswith("[")]
        assert lines and lines[0].startswith("[1s/2s] stage 1/1 users 3 (Busy 2, Rare 1) | rps "), out
        assert "━" not in out and "waiting for the first interval" not in out  # no live frame
    assert piped.returncode == 0 == code


def test_an_interval_without_a_timed_request_shows_a_dash(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens: connect failures, never timed
    proc = subprocess.run(surge_args(tmp_path, host, "--duration", "2s", "--live", "lines", scenario=SIX),
                          cwd=tmp_path, env=env_for(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr  # every request failed, and no threshold was set
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[")]
    assert lines and all("| p50 — p95 — p99 — ms |" in line for line in lines), lines
    assert "0.00 ms" not in proc.stdout


def test_the_final_table_at_80_columns(tmp_path, target):
    thresholds = ["*: p(95)<5s", "*: avg<5s", "*: med<5s", "hits: rate>50%", "checkout_ms: p95<1s",
                  "GET /v1/fcts: p95<50ms", "nope: p95<1"]
    args = surge_args(tmp_path, target.url, "--users", "3", "--duration", "2s", "--live", "off", scenario=SIX,
                      *[arg for t in thresholds for arg in ("--threshold", t)])
    proc = subprocess.run(args, cwd=tmp_path, env=env_for(COLUMNS="80"), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1, proc.stderr  # the two targets that matched nothing fail
    out = proc.stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = out[out.index("Thresholds"):out.index("Matched nothing")].splitlines()[3:]
    actual = {line.split()[1]: line.split()[2:4] for line in rows if re.match(r"^ *(\*|hits|checkout_ms) ", line)}
    assert [actual[e][1] for e in ("p(95)<5s", "avg<5s", "med<5s", "p95<1s")] == ["ms"] * 4, actual
    assert actual["rate>50%"] == ["100.0%", "✓"], actual  # a rate as a percentage
    assert out.count("matched nothing") == 2 and "known:" not in out  # a short note in each row...
    assert out.count("Known names") == 1 and "Matched nothing: GET /v1/fcts, nope. Known names:" in out  # ...one list
    table = out[out.index("Endpoints (latency in ms)"):out.index("Aggregated")]
    assert " avg " in table and "GET /v1/corrections/{id}/history " in table
    assert re.search(r"GET /v1/subjects/\S*…\S*/attachments +\d", table)
    metrics = out[out.index("Custom metrics"):]
    assert re.search(r"checkout_ms +\d+ avg 12\.5 .* max 12\.5 ms *\n", metrics)  # one row, with its unit
    assert re.search(r"hits +\d+ rate 100\.0% *\n", metrics)
    assert "Users: peak 3 (Busy 2 · Rare 1) · 3 started" in out

    summary = summary_of(tmp_path)
    schema = json.loads(resources.files("surge.outputs").joinpath("schema/summary.schema.json").read_text())
    jsonschema.validate(summary, schema)
    assert summary["users"]["by_class"] == {"Busy": 2, "Rare": 1}
    assert {m["name"]: m["unit"] for m in summary["custom_metrics"]} == {"checkout_ms": "ms", "hits": ""}


def test_an_open_run_reports_the_users_each_class_got(tmp_path, target):
    args = surge_args(tmp_path, target.url, "--rate", "30", "--duration", "2s", "--live", "lines", scenario=SIX)
    proc = subprocess.run(args, cwd=tmp_path, env=env_for(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    by_class = summary_of(tmp_path)["users"]["by_class"]
    assert set(by_class) == {"Busy", "Rare"} and all(n >= 1 for n in by_class.values()), by_class
    assert re.search(r"vus \d+ \(Busy \d+, Rare \d+\) \|", proc.stdout), proc.stdout
