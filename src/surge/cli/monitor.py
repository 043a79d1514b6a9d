"""``surge monitor``: the memory profile of a running process, without a load test.

The same monitors and sampler loop as a run's (``surge.monitors``): the target process and its
children, and the host. The CSV is streamed (a kill loses at most the last interval); the JSON,
the report lines and the plot come at the end, which Ctrl-C and SIGTERM only bring forward.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from ..model.durations import format_duration, parse_duration
from ..model.errors import ConfigError, ExitCode
from ..model.events import MonitorSample

if TYPE_CHECKING:
    from ..monitors.target import TargetMonitor

MONITOR_JSON = "monitor.json"
MONITOR_CSV = "monitor.csv"
MEMORY_PNG = "memory.png"
MIN_INTERVAL_S = 0.1
SHORT_FIT_S = 60.0
SHORT_FIT_NOTE = " (a fit over less than a minute: allocator noise weighs heavily per minute)"

MONITOR_HELP = """Watch a running process (and its children) and write its memory profile.

\b
  surge monitor --pid 4242 --duration 10m
  surge monitor --port 8000 --interval 1s --plot

Every --interval it samples the process tree's RSS, VMS, CPU, threads, open files and TCP
connections, and the host's CPU, memory, load, network and disk, until --duration has passed,
the process exits, or Ctrl-C / SIGTERM. It prints start, peak and final RSS, the RSS growth
in MB/min (MB = 10^6 bytes; a Theil-Sen fit after --warmup) and a verdict: healthy (< 5 MB/min),
warning (5 to 10), leak (> 10). It writes monitor.json (the summary: a "target" and a "host"
section) and monitor.csv (one row per sample: timestamp, elapsed_s, the target's columns, then
the host's prefixed host_) to --out, and with --plot memory.png.

\b
Exit codes: 0 done, whatever the verdict (also when the process exited);
2 usage error (no such pid, nobody listening on the port, both --pid and --port,
a bad duration or interval, --plot without matplotlib);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM): the files are written in every case.
"""


@click.command("monitor", help=MONITOR_HELP)
@click.option("--pid", type=int, metavar="PID", help="The process to watch (with its children).")
@click.option("--port", type=int, metavar="PORT", help="Watch the process listening on this TCP port on this machine.")
@click.option("--duration", "-d", metavar="DURATION", default="5m", show_default=True,
              help="How long to watch (500ms, 2s, 5m, 1h; a bare number is seconds).")
@click.option("--interval", "-i", metavar="DURATION", default="5s", show_default=True,
              help="Time between samples (at least 100ms).")
@click.option("--warmup", metavar="DURATION",
              help="Samples before this are left out of the growth fits (default: the first 10% or 60s, the shorter).")
@click.option("--out", "-o", metavar="DIR", help="Folder for the files (default results/monitor-<UTC time>/).")
@click.option("--plot", is_flag=True, help="Also write memory.png (needs matplotlib: pip install 'surge[plot]').")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def monitor_command(pid: int | None, port: int | None, duration: str, interval: str, warmup: str | None,
                    out: str | None, plot: bool, debug: bool) -> None:
    raise SystemExit(run_monitor(pid=pid, port=port, duration=duration, interval=interval, warmup=warmup,
                                 out=out, plot=plot))


def run_monitor(*, pid: int | None, port: int | None, duration: str, interval: str, warmup: str | None = None,
                out: str | None = None, plot: bool = False) -> int:
    """Settle the flags, watch, write, report; the exit code."""
    from ..monitors.target import TargetMonitor

    duration_s = _positive(duration, "--duration")
    interval_s = _positive(interval, "--interval")
    if interval_s < MIN_INTERVAL_S:
        raise ConfigError(f"--interval: {interval!r} is below the minimum of 100ms")
    if interval_s > duration_s:
        raise ConfigError(f"--interval {interval} is longer than --duration {duration}")
    warmup_s = None if warmup is None else parse_duration(warmup, key="--warmup")
    if plot:
        from .monitor_plot import require_matplotlib

        require_matplotlib()
    watch = _Watch(TargetMonitor(_settle_pid(pid, port), warmup_s), duration_s, interval_s, plot)
    watch.sampler.start()  # a pid that is gone: one line, exit 2, nothing written
    try:
        return asyncio.run(watch.run(Path(out) if out else None))
    finally:
        watch.sampler.close()


def _settle_pid(pid: int | None, port: int | None) -> int:
    from ..monitors.target import pid_listening_on

    if pid is not None and port is not None:
        raise ConfigError("pass --pid or --port, not both")
    if pid is None and port is None:
        raise ConfigError("say which process to watch: --pid PID or --port PORT")
    if pid is not None:
        if pid <= 0:
            raise ConfigError(f"--pid: {pid} is not a process id")
        return pid
    if not 0 < port < 65536:
        raise ConfigError(f"--port: {port} is not a TCP port (1-65535)")
    return pid_listening_on(port)


def _positive(text: str, key: str) -> float:
    seconds = parse_duration(text, key=key)
    if seconds <= 0:
        raise ConfigError(f"{key}: {text!r} must be more than 0")
    return seconds


def _default_out_dir(started: datetime) -> Path:
    from ..outputs.results import RESULTS_ROOT  # numpy comes with it: not at import time

    return RESULTS_ROOT / f"monitor-{started.strftime('%Y%m%dT%H%M%SZ')}"


class _Watch:
    """One watch on the event loop: signals and the duration end it; then the files and lines."""

    def __init__(self, target: TargetMonitor, duration_s: float, interval_s: float, plot: bool) -> None:
        from ..monitors.base import Sampler
        from ..monitors.host import HostMonitor

        self.target, self.duration_s, self.interval_s, self.plot = target, duration_s, interval_s, plot
        self.sampler = Sampler([target, HostMonitor()], interval_s, emit=self.on_sample, notify=self.on_notice)
        self.started = datetime.now(timezone.utc)
        self.out_dir = Path()
        self.ended_by: str | None = None
        self.signum: int | None = None
        self._stop: asyncio.Event | None = None
        self._csv: _CsvStream | None = None

    async def run(self, out_dir: Path | None) -> int:
        """Watch until the duration, a signal or the process's exit; write the files; the exit code."""
        self.started = datetime.now(timezone.utc)
        self.out_dir = out_dir or _default_out_dir(self.started)
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum)
        try:
            self._csv = _open_folder(self.out_dir, self.sampler)
        except OSError as exc:
            raise ConfigError(f"--out {str(self.out_dir)!r} cannot be written: {exc.strerror or exc}",
                              "pass --out with a folder you can write to") from None
        click.echo(f"watching pid {self.target.pid} ({self.target.process_name or '?'}) every "
                   f"{format_duration(self.interval_s)} for {format_duration(self.duration_s)}; "
                   f"Ctrl-C ends it early; files in {self.out_dir}/")
        timer = loop.call_later(self.duration_s, self._end, "duration")
        try:
            await self.sampler.run(time.time(), self._stop)
        finally:
            timer.cancel()
            self._csv.close()
        self._finish()
        if self.signum is None:
            return int(ExitCode.PASSED)
        return int(ExitCode.TERMINATED if self.signum == signal.SIGTERM else ExitCode.INTERRUPTED)

    def _end(self, why: str) -> None:
        if self.ended_by is None:
            self.ended_by = why
        self._stop.set()

    def _on_signal(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
            click.echo(f"{signal.Signals(signum).name}: stopping, writing the files", err=True)
        self._end(signal.Signals(signum).name)

    def on_sample(self, sample: MonitorSample) -> None:
        self._csv.add(sample)
        self._progress(sample)

    def on_notice(self, message: str) -> None:
        click.echo(f"warning: {message}", err=True)
        if self.sampler.records[self.target.name].done:  # the process is gone: nothing left to watch
            self._end("exited")

    def _progress(self, sample: MonitorSample) -> None:
        if sample.monitor != self.target.name:
            return
        v = sample.values
        cpu = "" if v.get("cpu_percent") is None else f"  cpu {v['cpu_percent']:.0f}%"
        click.echo(f"{sample.elapsed_s:8.1f}s  rss {v['rss_mb']:.1f} MB  vms {v['vms_mb']:.1f} MB  "
                   f"threads {v['threads']}  fds {_cell(v.get('fds'))}  conns {_cell(v.get('connections'))}{cpu}")

    def _finish(self) -> None:
        from ..outputs.results import write_atomic

        sections = self.sampler.sections()
        target = sections[self.target.name]
        written = [MONITOR_CSV]
        if self.plot:
            from .monitor_plot import render_memory_png

            png = render_memory_png(self.sampler.records[self.target.name].samples, target)
            tmp = self.out_dir / f".{MEMORY_PNG}.tmp"  # never half a picture under the real name
            tmp.write_bytes(png)
            os.replace(tmp, self.out_dir / MEMORY_PNG)
            written.append(MEMORY_PNG)
        report = self._report(sections, written)
        write_atomic(self.out_dir / MONITOR_JSON, json.dumps(report, indent=2) + "\n")
        for line in report_lines(target):
            click.echo(line)
        click.echo(f"wrote {self.out_dir}/ ({', '.join([MONITOR_JSON, *written])})")

    def _report(self, sections: dict[str, dict[str, Any]], written: list[str]) -> dict[str, Any]:
        rows = self.sampler.records[self.target.name].samples
        return {
            "pid": self.target.pid,
            "process_name": self.target.process_name,
            "started_at": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round(max((r.elapsed_s for r in rows), default=0.0), 3),
            "planned_duration_s": self.duration_s,
            "interval_s": self.interval_s,
            "ended_by": self.ended_by or "duration",
            "target": sections[self.target.name],
            "host": sections["host"],
            "warnings": self.sampler.warnings(),
            "files": [MONITOR_JSON, *written],
        }


def report_lines(target: dict[str, Any]) -> list[str]:
    """What the terminal shows at the end: RSS, the growth and its verdict, the other trends."""
    lines = [
        f"pid {target['pid']}: {target['samples']} samples; RSS start {_mb(target['rss_mb_start'])}, "
        f"peak {_mb(target['rss_mb_peak'])}, final {_mb(target['rss_mb_final'])}",
        _growth_line(target),
        f"threads {_cell(target['threads_max'])} max ({_rate(target['threads_growth_per_min'])}), "
        f"fds {_cell(target['fds_max'])} max ({_rate(target['fds_growth_per_min'])}), "
        f"CPU {_cell(target['cpu_percent_mean'])}% mean",
    ]
    if target.get("exited_at_s") is not None:
        lines.append(f"the process exited at {target['exited_at_s']:.1f}s")
    return lines


def _growth_line(target: dict[str, Any]) -> str:
    warmup = format_duration(target["warmup_s"])
    growth = target["rss_growth_mb_per_min"]
    if growth is None:
        return f"RSS growth: too few samples after the {warmup} warm-up: {target['verdict']}"
    note = SHORT_FIT_NOTE if target["fit_span_s"] < SHORT_FIT_S else ""
    return (f"RSS growth {growth:+.2f} MB/min after a {warmup} warm-up ({target['fit_samples']} samples over "
            f"{format_duration(target['fit_span_s'])}): {target['verdict']}{note}")


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} MB"


def _rate(per_min: float | None) -> str:
    return "-" if per_min is None else f"{per_min:+.1f}/min"


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _open_folder(out_dir: Path, sampler) -> "_CsvStream":
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = []
    for name, record in sampler.records.items():
        prefix = "" if name == "target" else f"{name}_"
        columns += [(name, column, prefix + column) for column in record.monitor.columns]
    return _CsvStream(open(out_dir / MONITOR_CSV, "w", encoding="utf-8", newline=""), columns)


class _CsvStream:
    """monitor.csv, one line per sampling round (the monitors' rows of one round share its
    timestamp), flushed as each round is complete: a kill loses at most the last round."""

    def __init__(self, f: IO[str], columns: list[tuple[str, str, str]]) -> None:
        self._f, self._columns = f, columns
        self._round: tuple[float, float] | None = None
        self._values: dict[tuple[str, str], Any] = {}
        f.write(",".join(["timestamp", "elapsed_s", *(header for _, _, header in columns)]) + "\n")
        f.flush()

    def add(self, sample: MonitorSample) -> None:
        if self._round is not None and sample.timestamp != self._round[0]:
            self._write()
        self._round = (sample.timestamp, sample.elapsed_s)
        self._values.update(((sample.monitor, k), v) for k, v in sample.values.items())

    def _write(self) -> None:
        timestamp, elapsed = self._round
        cells = [f"{timestamp:.3f}", f"{elapsed:.3f}"]
        cells += ["" if (v := self._values.get((m, c))) is None else str(v) for m, c, _ in self._columns]
        self._f.write(",".join(cells) + "\n")
        self._f.flush()
        self._round, self._values = None, {}

    def close(self) -> None:
        if self._round is not None:
            self._write()
        self._f.close()
