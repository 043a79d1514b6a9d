"""``surge demo``: the sample API in a child process on 127.0.0.1 under the example scenario."""
from __future__ import annotations

from datetime import datetime, timezone
from importlib import resources

from rich.console import Console

from ..demo.launch import DemoStartError, start_in_subprocess, stop
from ..model.errors import TargetUnreachable
from ..outputs.results import default_out_dir
from .execute import execute
from .session import Session


def run_demo(options: dict, session: Session | None = None) -> int:
    files = resources.files("surge.demo")
    console = Console(highlight=False, stderr=True)
    try:
        proc, base_url = start_in_subprocess(port=0)
    except DemoStartError as exc:
        raise TargetUnreachable(f"the demo API did not start: {str(exc).strip().splitlines()[-1]}") from exc
    console.print(f"demo API listening on {base_url} (pid {proc.pid})")
    try:
        return execute({
            "scenario": str(files / "corrections.py"),
            "host": base_url,
            "profile": "smoke",
            "duration": options.pop("duration", "30s"),
            "thresholds_file": str(files / "sla.toml"),
            "health": "/health",
            "monitor_pid": proc.pid,  # its memory, CPU and descriptors beside the load
            "out": options.pop("out", None) or str(default_out_dir("corrections", "smoke", datetime.now(timezone.utc))),
            **options,
        }, session=session)
    finally:
        stop(proc)
        console.print("demo API stopped")
