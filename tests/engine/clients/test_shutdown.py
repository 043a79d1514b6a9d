"""Nothing of the client outlives its run: the timeout sweeper is cancelled *and awaited* when
the clients close, so a one-process run (its event loop closed right after) prints no
``Task was destroyed but it is pending!`` (issue 6)."""
from __future__ import annotations

import asyncio
import signal
import subprocess
import time

from surge.engine.clients.http import ClientContext, HttpClient
from surge.metrics.recorder import Recorder

from .cli_runs import surge_command, surge_run

SLOW = """
    from surge import HttpUser, constant, task

    class Slow(HttpUser):
        wait_time = constant(0)

        @task
        async def hang(self):
            await self.client.get("/hang", timeout=0.3)
"""


def test_closing_the_context_awaits_its_sweeper_and_starts_no_other(target):
    async def main():
        ctx = ClientContext(target.url, Recorder(), timeout_s=5.0)
        client = HttpClient(ctx)
        await client.get("/ok")
        sweeper = ctx._sweeper
        assert sweeper is not None and not sweeper.done()
        await ctx.close()
        done = sweeper.done()
        ctx.connection_opened()  # a connection opened after the close starts no new sweeper
        await client.close()
        return done, ctx._sweeper

    done, later = asyncio.run(main())
    assert done and later is None


def test_a_one_process_run_leaves_no_task_pending(tmp_path, target):
    run = surge_run(tmp_path, SLOW, target.url, "--graceful-stop", "0", users=3)
    assert run.proc.returncode == 1, run.proc.stderr  # the hangs time out: failures
    assert run.endpoint("GET", "/hang")["failures"] > 0
    assert "Task was destroyed" not in run.proc.stderr, run.proc.stderr


def test_a_failed_preflight_leaves_no_task_pending(tmp_path, hostile):
    """The --health preflight's client timed out against a hanging target; its sweeper was left
    pending when the run gave up (exit 3) and the loop closed."""
    run = surge_run(tmp_path, SLOW, hostile.url("hang"), "--health", "/health", "--health-timeout", "500ms")
    assert run.proc.returncode == 3, run.proc.stderr
    assert "not healthy" in run.proc.stderr
    assert "Task was destroyed" not in run.proc.stderr, run.proc.stderr


def test_ctrl_c_in_the_preflight_leaves_no_task_pending(tmp_path, hostile):
    """The issue's case: the summary printed, then the preflight's sweeper reported destroyed."""
    args, env = surge_command(tmp_path, SLOW, hostile.url("hang"), "--health", "/health", users=1)
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        hostile.reset()
        deadline = time.monotonic() + 20  # start-up takes ~0.5 s idle, seconds on a loaded machine
        while hostile.stats("hang")["requests"] == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert hostile.stats("hang")["requests"] == 1  # inside the preflight: its request hangs for up to 5 s
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Aggregated" in out  # the summary was printed
    assert "Task was destroyed" not in err, err
