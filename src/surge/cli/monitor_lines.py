"""One line per monitor: live (from the latest samples) and in the final summary (its section).

The target's line says its RSS and how fast it grows with the leak verdict, the database's its
connections and cache hits, Redis its operations per second, the host its CPU and memory.
Live, the target's growth is fitted on the samples seen so far (the same Theil-Sen fit and
bands the summary uses, without its warm-up); the final line reads the summary section.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from ..metrics.trend import theil_sen
from ..model.events import MonitorSample
from ..monitors.target import verdict as _verdict_of
from .cells import NO_VALUE, fmt_count

_VERDICT_STYLES = {"healthy": "green", "warning": "bold yellow", "leak": "bold red"}


def _num(value: Any, fmt: str = "{:,.1f}", unit: str = "") -> str:
    if value is None:
        return NO_VALUE
    return fmt.format(value) + unit


def _pct(ratio: Any) -> str:
    return NO_VALUE if ratio is None else f"{100.0 * ratio:.1f}%"


class LiveMonitors:
    """The latest sample of each monitor, and the target's RSS so far (for its live slope)."""

    def __init__(self) -> None:
        self.latest: dict[str, MonitorSample] = {}
        self._rss: list[tuple[float, float]] = []

    def add(self, sample: MonitorSample) -> None:
        self.latest[sample.monitor] = sample
        rss = sample.values.get("rss_mb") if sample.monitor == "target" else None
        if rss is not None:
            self._rss.append((sample.elapsed_s, float(rss)))

    def growth_mb_per_min(self) -> float | None:
        if len(self._rss) < 3:
            return None
        slope = theil_sen([t for t, _ in self._rss], [v for _, v in self._rss])
        return None if slope is None else slope * 60.0

    def line(self) -> Text | None:
        """``target RSS 68.5 MB +0.0 MB/min healthy · db 3 conns (3%) hit 99.9% · redis 1,200 ops/s``"""
        parts: list[Text] = []
        target = self.latest.get("target")
        if target is not None:
            growth = self.growth_mb_per_min()
            verdict = _verdict_of(growth)
            part = Text(f"target RSS {_num(target.values.get('rss_mb'), unit=' MB')} ")
            part.append(NO_VALUE if growth is None else f"{growth:+,.1f} MB/min")
            part.append(f" {verdict}", style=_VERDICT_STYLES.get(verdict, "dim"))
            parts.append(part)
        db = self.latest.get("db")
        if db is not None:
            v = db.values
            parts.append(Text(f"db {fmt_count(v.get('connections') or 0)} conns "
                              f"({_num(v.get('connections_used_pct'), '{:.0f}', '%')}) "
                              f"hit {_pct(v.get('cache_hit_ratio'))}"))
        redis = self.latest.get("redis")
        if redis is not None:
            parts.append(Text(f"redis {_num(redis.values.get('ops_per_s'), '{:,.0f}', ' ops/s')}"))
        host = self.latest.get("host")
        if host is not None:
            parts.append(Text(f"host CPU {_num(host.values.get('cpu_percent'), '{:.0f}', '%')} "
                              f"mem {_num(host.values.get('mem_used_pct'), '{:.0f}', '%')}"))
        if not parts:
            return None
        return Text(" · ").join(parts)


def summary_lines(monitors: Mapping[str, Mapping[str, Any]]) -> list[Text]:
    """The final summary's monitor lines, from summary.json's ``monitors`` sections."""
    out = []
    target = monitors.get("target")
    if target:
        verdict = target.get("verdict") or "unknown"
        line = Text(f"Target: RSS {_num(target.get('rss_mb_start'))}→"
                    f"{_num(target.get('rss_mb_final'))} MB (peak {_num(target.get('rss_mb_peak'))}) "
                    f"{_num(target.get('rss_growth_mb_per_min'), '{:+,.2f}', ' MB/min')} ")
        line.append(verdict, style=_VERDICT_STYLES.get(verdict, "dim"))
        line.append(f" · threads {_num(target.get('threads_max'), '{:,.0f}')}"
                    f" · fds {_num(target.get('fds_max'), '{:,.0f}')}")
        if target.get("exited_at_s") is not None:
            line.append(f" · exited at {target['exited_at_s']:.1f}s", style="bold red")
        out.append(line)
    host = monitors.get("host")
    if host:
        out.append(Text(f"Host: CPU max {_num(host.get('cpu_percent_max'), '{:.0f}', '%')} · memory max "
                        f"{_num(host.get('mem_used_pct_max'), '{:.0f}', '%')} · load max "
                        f"{_num(host.get('load1_max'), '{:.2f}')}"))
    db = monitors.get("db")
    if db:
        out.append(Text(f"Database: conns {_num(db.get('connections_max'), '{:,.0f}')} "
                        f"({_num(db.get('connections_used_pct_max'), '{:.0f}', '%')}) · idle in tx "
                        f"{_num(db.get('idle_in_transaction_max'), '{:,.0f}')} · hit "
                        f"{_pct(db.get('cache_hit_ratio'))} · {_num(db.get('commits_per_s'))} commits/s · "
                        f"deadlocks {_num(db.get('deadlocks'), '{:,.0f}')}"))
    redis = monitors.get("redis")
    if redis:
        out.append(Text(f"Redis: {_num(redis.get('ops_per_s'), '{:,.0f}')} ops/s · clients max "
                        f"{_num(redis.get('clients_max'), '{:,.0f}')} · blocked max "
                        f"{_num(redis.get('blocked_clients_max'), '{:,.0f}')} · hit {_pct(redis.get('hit_ratio'))} · "
                        f"evictions {_num(redis.get('evictions'), '{:,.0f}')}"))
    return out
