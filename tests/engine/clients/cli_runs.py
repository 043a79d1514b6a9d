"""``surge run`` as a user runs it, for the client tests that concern run results: the real
console script in a subprocess, one process, a tiny scenario, the results folder read back."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

SURGE = str(Path(sys.executable).with_name("surge"))


@dataclass
class CliRun:
    proc: subprocess.CompletedProcess
    out: Path

    @property
    def summary(self) -> dict:
        return json.loads((self.out / "summary.json").read_text())

    def endpoint(self, method: str, name: str) -> dict:
        found = [e for e in self.summary["endpoints"] if (e["method"], e["name"]) == (method, name)]
        assert found, (method, name, [(e["method"], e["name"]) for e in self.summary["endpoints"]])
        return found[0]

    def rows(self, name: str) -> list[dict]:
        """The rows of one of the results folder's CSV files (``failures.csv``, ``stats.csv``)."""
        return list(csv.DictReader(io.StringIO((self.out / name).read_text())))


def surge_command(tmp_path: Path, scenario: str, host: str, *extra: str, users: int = 5,
                  duration: str = "1s") -> tuple[list[str], dict[str, str]]:
    """Write ``scenario``; the command that runs it with ``--processes 1 --live off`` for
    ``duration`` (results in ``tmp_path/out``), and its environment (no ``SURGE_*``)."""
    (tmp_path / "scenario.py").write_text(textwrap.dedent(scenario))
    args = [SURGE, "run", "scenario.py", "--host", host, "--processes", "1", "--live", "off",
            "--users", str(users), "--spawn-rate", "1000", "--duration", duration,
            "--out", str(tmp_path / "out"), *extra]
    return args, {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}


def surge_run(tmp_path: Path, scenario: str, host: str, *extra: str, users: int = 5,
              duration: str = "1s", timeout_s: float = 60) -> CliRun:
    """Run ``scenario`` (see :func:`surge_command`) to its end."""
    args, env = surge_command(tmp_path, scenario, host, *extra, users=users, duration=duration)
    proc = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout_s)
    return CliRun(proc, tmp_path / "out")
