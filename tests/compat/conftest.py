"""Shared by the Locust-layer tests: ``run_here`` runs ``surge run -f FILE`` in this process."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FILES = Path(__file__).with_name("locustfiles")


def _summary(out: Path) -> dict | None:
    return json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else None


@pytest.fixture
def run_here(tmp_path, monkeypatch, capsys):
    """``surge run -f FILE ...`` in this process with one worker (no process start-up: ~2 s less a
    run on this machine); returns (exit code, summary.json, stdout). The probe dir is tmp_path/probe."""
    from surge.cli.main import main

    monkeypatch.chdir(tmp_path)
    probe = tmp_path / "probe"
    probe.mkdir()
    monkeypatch.setenv("LOCUST_PROBE_DIR", str(probe))
    for key in [k for k in os.environ if k.startswith("SURGE_")]:
        monkeypatch.delenv(key)

    def run(name: str | None, host: str | None, *flags: str, out: str = "out"):
        where = [*(["-f", str(FILES / name)] if name else []), *(["-H", host] if host else [])]
        with pytest.raises(SystemExit) as exit_info:
            main(["run", *where, "--headless", "--live", "off", "-o", out, "--processes", "1", *flags])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err, captured.err
        return exit_info.value.code, _summary(tmp_path / out), captured.out + captured.err

    return run
