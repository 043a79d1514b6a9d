"""What the benchmarks share: starting a target, pinning to cores, measuring process trees.

Everything binds and talks to 127.0.0.1 only. Processes are stopped by their PID.
"""
from __future__ import annotations

import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

NGINX_CONF = """\
worker_processes 1;
{user}
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok"; }}
    }}
}}
"""


def parse_duration_s(text: str) -> float:
    """``500ms``, ``10s``, ``2m`` or a bare number of seconds."""
    match = re.fullmatch(r"\s*([\d.]+)\s*(ms|s|m|h)?\s*", text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (try 10s, 500ms, 2m)")
    scale = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match.group(2)]
    return float(match.group(1)) * scale


def usable_cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pinned(core: int | None, argv: list[str]) -> list[str]:
    """``taskset -c CORE argv`` (taskset execs, so the PID is the tool's own)."""
    if core is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", str(core), *argv]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"target exited with code {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def stop(process: subprocess.Popen | None, timeout_s: float = 5.0) -> None:
    """Terminate one process we started, by its PID; kill it if it does not go."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Target:
    name: str  # "nginx" or "fast_target"
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        return tree_cpu_s(self.process.pid)

    def stop(self) -> None:
        stop(self.process)


def start_nginx(tmp: Path, core: int | None, connections: int = 4096) -> Target:
    """One nginx worker answering ``200 ok``; config, pid and logs in ``tmp``."""
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""  # else the default user may not exist
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port, user=user, connections=connections))
    argv = ["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")]
    process = subprocess.Popen(pinned(core, argv), stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
    except RuntimeError:
        stop(process)
        raise
    return Target("nginx", process, port)


def start_fast_target(core: int | None, delay_ms: float = 0.0) -> Target:
    """benchmarks/fast_target.py on uvloop; it exits by itself if we die (stdin closes)."""
    argv = [sys.executable, str(HERE / "fast_target.py"), "--port", "0", "--watch-stdin"]
    if delay_ms:
        argv += ["--delay-ms", str(delay_ms)]
    process = subprocess.Popen(pinned(core, argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = process.stdout.readline().decode()
    if not line.startswith("PORT="):
        stop(process)
        raise RuntimeError(f"fast_target did not start (printed {line!r})")
    return Target("fast_target", process, int(line.strip().removeprefix("PORT=")))


def start_target(kind: str, tmp: Path, core: int | None, connections: int = 4096) -> Target:
    """``auto``: nginx when it is on PATH, else fast_target.py."""
    if kind == "nginx" or (kind == "auto" and shutil.which("nginx")):
        return start_nginx(tmp, core, connections)
    return start_fast_target(core)


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process and its live descendants."""
    total = 0.0
    for process in tree(pid):
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def tree_rss_bytes(pid: int) -> int:
    total = 0
    for process in tree(pid):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def core_busy_s(core: int | None) -> float:
    """CPU seconds processes (anyone's) ran on one core, or on all cores.

    Interrupt and softirq time is left out: loopback networking of the tool pinned there lands
    in it, and no process is charged for it, so it is not a sign of other load.
    """
    times = psutil.cpu_times(percpu=True)[core] if core is not None else psutil.cpu_times()
    return times.user + times.nice + times.system


def children_cpu_s() -> float:
    """CPU seconds of all our waited-for children (and theirs): diff around one tool run."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def find_surge(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    beside_python = Path(sys.executable).with_name("surge")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("surge")


def tail(text: str | bytes, lines: int = 8) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:])
