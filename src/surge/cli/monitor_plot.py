"""memory.png for ``surge monitor --plot``: RSS (with its fitted growth), VMS, threads and fds over time.

matplotlib is an optional extra (``surge[plot]``): only this picture needs it, and it is a large
install for a load tester. It is imported here only, without pyplot (no global figure state,
no GUI backend): a :class:`~matplotlib.figure.Figure` rendered by the Agg canvas to PNG bytes.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from ..metrics.trend import theil_sen_intercept
from ..model.errors import ConfigError
from ..model.events import MonitorSample

PANELS = (("rss_mb", "RSS (MB)"), ("vms_mb", "VMS (MB)"), ("threads", "threads"), ("fds", "open fds"))


def require_matplotlib() -> None:
    """:class:`ConfigError` with the install hint when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("--plot needs matplotlib, which is not installed",
                          "pip install 'surge[plot]'") from None


def render_memory_png(rows: Sequence[MonitorSample], section: dict[str, Any]) -> bytes:
    """Four panels sharing the time axis; the Theil–Sen line over the fitted span of RSS."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(9, 9), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(PANELS), 1, sharex=True)
    for ax, (column, label) in zip(axes, PANELS):
        points = [(r.elapsed_s, v) for r in rows if (v := r.values.get(column)) is not None]
        ax.plot([x for x, _ in points], [y for _, y in points], linewidth=1.2)
        ax.set_ylabel(label)
        if column in ("threads", "fds"):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    _draw_fit(axes[0], rows, section)
    axes[-1].set_xlabel("elapsed (s)")
    figure.suptitle(f"pid {section.get('pid')} ({section.get('process_name') or '?'}): "
                    f"{section.get('verdict', 'unknown')}")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()


def _draw_fit(ax, rows: Sequence[MonitorSample], section: dict[str, Any]) -> None:
    growth = section.get("rss_growth_mb_per_min")
    fit = [(r.elapsed_s, v) for r in rows if r.elapsed_s >= section.get("warmup_s", 0)
           and (v := r.values.get("rss_mb")) is not None]
    if growth is None or len(fit) < 2:
        return
    slope = growth / 60.0
    xs = [x for x, _ in fit]
    intercept = theil_sen_intercept(xs, [y for _, y in fit], slope)
    ends = [xs[0], xs[-1]]
    ax.plot(ends, [intercept + slope * x for x in ends], linestyle="--", color="tab:red",
            label=f"{growth:+.2f} MB/min ({section.get('verdict')})")
    if section.get("warmup_s"):
        ax.axvspan(0, section["warmup_s"], color="grey", alpha=0.15, label="warm-up")
    ax.legend(loc="upper left")
