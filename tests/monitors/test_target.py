"""The target monitor against real processes: a leak found and measured, a healthy server left
alone, a process that exits mid-sampling, the process behind a port, a started command stopped."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from support.leaky import Leaky
from surge.model.events import MonitorSample
from surge.monitors.base import MonitorUnavailable, Sampler, SourceLost
from surge.monitors._descriptors import descriptors
from surge.monitors.target import (StartedTarget, TargetMonitor, default_warmup_s, pid_listening_on,
                                   summarise_target, verdict)

LEAK_BYTES = 50_000
RATE_PER_S = 50.0


def sample_while(sampler: Sampler, *work):
    """Run the sampler on an event loop while each ``work`` callable runs in a thread; their results."""
    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        sampling = asyncio.ensure_future(sampler.run(time.time(), stop))
        results = await asyncio.gather(*(loop.run_in_executor(None, fn) for fn in work))
        stop.set()
        await sampling
        return results

    sampler.start()
    try:
        return asyncio.run(main())
    finally:
        sampler.close()


def test_a_leak_is_found_and_measured_and_the_same_server_without_it_is_healthy():
    with Leaky(leak_bytes=LEAK_BYTES) as leaky, Leaky() as sound:
        watched = TargetMonitor(leaky.pid, warmup_s=1.0), TargetMonitor(sound.pid, warmup_s=1.0, name="sound")
        sampler = Sampler(watched, 0.25)
        leaky_rate, sound_rate = sample_while(sampler, lambda: leaky.drive(RATE_PER_S, 7.0),
                                              lambda: sound.drive(RATE_PER_S, 7.0))
        sections = sampler.sections()
    truth = LEAK_BYTES * leaky_rate * 60 / 1e6  # MB/min
    leak, ok = sections["target"], sections["sound"]
    print(f"leak: fitted {leak['rss_growth_mb_per_min']} MB/min, truth {truth:.1f} ({leaky_rate:.1f} req/s); "
          f"healthy: {ok['rss_growth_mb_per_min']} MB/min")
    assert leak["verdict"] == "leak"
    assert leak["rss_growth_mb_per_min"] == pytest.approx(truth, rel=0.2)
    assert leak["rss_mb_peak"] - leak["rss_mb_start"] > 0.5 * LEAK_BYTES * leaky_rate * 6 / 1e6
    assert ok["verdict"] == "healthy" and abs(ok["rss_growth_mb_per_min"]) < 1.0
    assert sound_rate > 0.9 * RATE_PER_S
    for section, pid in ((leak, leaky.pid), (ok, sound.pid)):
        assert section["pid"] == pid and section["exited_at_s"] is None and section["gaps"] == 0
        assert section["threads_max"] >= 2 and section["threads_growth_per_min"] == 0.0  # stdin watcher + main
        assert section["fds_max"] >= 3 and abs(section["fds_growth_per_min"]) < 1.0
        assert section["connections_max"] == 1  # the drive's one keep-alive connection
        assert 0 < section["cpu_percent_mean"] < 100 and section["processes_max"] == 1
        assert section["fit_samples"] >= 20 and section["warmup_s"] == 1.0


def test_a_process_that_exits_while_sampled_is_recorded_with_its_time_and_the_others_go_on():
    notes = []
    with Leaky("--exit-after", "1.0") as leaky, Leaky() as other:
        sampler = Sampler([TargetMonitor(leaky.pid), TargetMonitor(other.pid, name="other")], 0.2, notify=notes.append)
        sample_while(sampler, lambda: time.sleep(2.0))
        record = sampler.records["target"]
        section = sampler.sections()["target"]
        assert len(sampler.records["other"].samples) >= 9
    assert record.done and record.lost_at_s == pytest.approx(1.1, abs=0.3)  # found gone within an interval
    assert section["exited_at_s"] == pytest.approx(record.lost_at_s, abs=0.05)
    assert section["rss_mb_final"] > 5 and 4 <= section["samples"] <= 7  # the last row is from before the exit
    assert notes == [f"monitor target: process {leaky.pid} exited at {record.lost_at_s:.1f}s; no more samples"]


def test_children_are_counted_and_the_port_leads_to_the_master_not_a_worker():
    with Leaky("--forks", "2") as leaky:
        assert pid_listening_on(leaky.port) == leaky.pid  # the children hold the listening socket too
        monitor = TargetMonitor(leaky.pid)
        monitor.start()
        deadline = time.monotonic() + 5
        while monitor.sample()["processes"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        row = monitor.sample()
        master_mb = psutil.Process(leaky.pid).memory_info().rss / 1e6
        monitor.close()
    assert row["processes"] == 3 and row["rss_mb"] > 2 * master_mb  # each fork's resident pages count too
    assert row["threads"] >= 4 and row["cpu_percent"] is not None


def test_connections_are_tcp_sockets_not_listening_counted_once_as_psutil_sees_them():
    with socket.create_server(("127.0.0.1", 0)) as v4, socket.create_server(("::1", 0), family=socket.AF_INET6) as v6:
        held = []
        for server, n in ((v4, 30), (v6, 5)):
            for _ in range(n):
                held += [socket.create_connection(server.getsockname()[:2]), server.accept()[0]]
        for _ in range(10):  # closed from this side first: TIME_WAIT, which belongs to no process
            client = socket.create_connection(v4.getsockname())
            peer = v4.accept()[0]
            client.close()
            peer.close()
        held.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))  # not TCP
        me = psutil.Process()
        expected = sum(1 for c in me.net_connections(kind="tcp") if c.status != psutil.CONN_LISTEN)
        open_fds = me.num_fds()
        fds, connections = descriptors([os.getpid(), os.getpid()], os.getpid())  # the same process twice
        for sock in held:
            sock.close()
    assert connections == expected == 70
    assert fds == 2 * open_fds  # fds count per process, as the per-process limit does; sockets once


def test_nobody_on_the_port_and_no_such_pid_are_one_line():
    with Leaky() as leaky:
        port = leaky.port
    with pytest.raises(MonitorUnavailable, match=f"^nobody listens on port {port} on this machine$"):
        pid_listening_on(port)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with pytest.raises(MonitorUnavailable, match=f"^no process {gone.pid} on this machine$"):
        TargetMonitor(gone.pid).start()


def test_a_zombie_is_not_watchable_and_a_process_found_gone_is_lost_for_good():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    monitor = TargetMonitor(child.pid)
    monitor.start()
    assert monitor.sample()["processes"] == 1
    child.stdin.close()
    deadline = time.monotonic() + 5
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.02)  # exited, not reaped: a zombie with the same pid
    with pytest.raises(SourceLost) as lost:
        monitor.sample()
    assert lost.value.final and monitor.exited_at is not None
    with pytest.raises(MonitorUnavailable, match="has already exited"):
        TargetMonitor(child.pid).start()
    child.wait()


def test_a_started_command_logs_and_stops_with_sigterm_then_sigkill(tmp_path):
    polite = StartedTarget(f"{sys.executable} -c \"print('up', flush=True); import time; time.sleep(30)\"",
                           tmp_path / "target.log")
    _wait_for(lambda: (tmp_path / "target.log").read_text() == "up\n")
    polite.check_running()
    assert os.getpgid(polite.pid) == polite.pid  # a session of its own: the terminal's Ctrl-C is surge's
    began = time.monotonic()
    assert polite.stop() == -signal.SIGTERM and time.monotonic() - began < 2

    stubborn_code = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                     "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
                     "print('ignoring', flush=True); time.sleep(30)")
    stubborn = StartedTarget(f"{sys.executable} -c {stubborn_code!r}", tmp_path / "stubborn.log", stop_grace_s=0.5)
    _wait_for(lambda: "ignoring" in (tmp_path / "stubborn.log").read_text())
    child = psutil.Process(stubborn.pid).children()[0]
    began = time.monotonic()
    assert stubborn.stop() == -signal.SIGKILL and 0.5 <= time.monotonic() - began < 3
    _wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE)  # its group went too


def test_a_command_that_cannot_start_or_exits_at_once_is_one_line(tmp_path):
    with pytest.raises(MonitorUnavailable, match="^--monitor-cmd: 'no-such-server-xyz': not found$"):
        StartedTarget("no-such-server-xyz --port 8000", tmp_path / "target.log")
    with pytest.raises(MonitorUnavailable, match="cannot be split"):
        StartedTarget("uvicorn 'app:app", tmp_path / "target.log")
    failing = StartedTarget(f"{sys.executable} -c \"import sys; sys.exit('address already in use')\"",
                            tmp_path / "target.log")
    _wait_for(lambda: failing.returncode is not None)
    with pytest.raises(MonitorUnavailable, match="exited at once with code 1: address already in use"):
        failing.check_running()
    failing.stop()


def rows(points, column="rss_mb", step_s=1.0):
    return [MonitorSample("target", 1000.0 + i * step_s, i * step_s, {column: v}) for i, v in enumerate(points)]


@pytest.mark.parametrize("growth, expected", [(None, "unknown"), (-3.0, "healthy"), (4.99, "healthy"),
                                              (5.0, "warning"), (10.0, "warning"), (10.01, "leak")])
def test_the_verdict_bands(growth, expected):
    assert verdict(growth) == expected


def test_the_warm_up_is_a_tenth_of_the_run_or_a_minute_and_is_left_out_of_the_fit():
    assert default_warmup_s(300) == 30 and default_warmup_s(3600) == 60 and default_warmup_s(0) == 0
    start_up = [50.0 + 5 * i for i in range(10)]  # 10 s of pools filling: 300 MB/min
    steady = [start_up[-1] + 0.05 * i for i in range(90)]  # then 3 MB/min
    section = summarise_target(rows(start_up + steady), pid=7)
    assert section["warmup_s"] == pytest.approx(9.9) and section["fit_samples"] == 90
    assert section["rss_growth_mb_per_min"] == pytest.approx(3.0) and section["verdict"] == "healthy"
    assert section["rss_mb_start"] == 50.0 and section["rss_mb_final"] == pytest.approx(steady[-1])
    long_start = [50.0 + 5 * i for i in range(60)]  # more start-up than the fit can shrug off
    long_start += [long_start[-1] + 0.05 * i for i in range(90)]
    assert summarise_target(rows(long_start), pid=7, warmup_s=60)["verdict"] == "healthy"
    assert summarise_target(rows(long_start), pid=7, warmup_s=0)["verdict"] == "leak"


def test_a_summary_without_enough_rows_says_unknown():
    assert summarise_target([], pid=1)["verdict"] == "unknown"
    section = summarise_target(rows([10.0, 11.0]), pid=1, warmup_s=5)
    assert section["verdict"] == "unknown" and section["rss_growth_mb_per_min"] is None
    assert section["rss_mb_peak"] == 11.0 and section["fit_samples"] == 0


def _wait_for(condition, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
