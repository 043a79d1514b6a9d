"""Cells both terminal tables use (the live frame's and the final summary's): numbers in their
fixed formats, and names that shorten in the middle instead of wrapping."""
from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

from surge.model.summary import EndpointStats

__all__ = ["NO_VALUE", "Name", "endpoint_label", "fmt_count", "fmt_ms", "fmt_pct", "fmt_rps", "shorten_middle"]

#: a figure that does not exist (nothing was timed): never a 0 that claims instant answers
NO_VALUE = "—"


def fmt_ms(value: float) -> str:
    """Milliseconds: 2 decimals below 1 ms, 1 decimal below 1 s, whole ms with separators above."""
    if value < 1:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_rps(value: float) -> str:
    return f"{value:,.1f}"


def fmt_count(value: int | float) -> str:
    return f"{int(value):,}"


def fmt_pct(fraction: float) -> str:
    """A fraction as a percentage: ``0.001`` -> ``0.10%``, ``0.125`` -> ``12.5%``."""
    pct = fraction * 100
    return f"{pct:.2f}%" if pct < 10 else f"{pct:.1f}%"


def shorten_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut in the middle where it is too long, so both
    ends stay (an endpoint's first and last segments tell it apart): ``/v1/subjects/…/attachments``."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


class Name:
    """A table cell holding a name that never wraps: given less room than it needs, it is
    shortened in the middle (:func:`shorten_middle`) down to ``min_width``."""

    def __init__(self, text: str, style: str = "", min_width: int = 16) -> None:
        self.text, self.style, self.min_width = text, style, min_width

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(self.min_width, len(self.text)), len(self.text))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(shorten_middle(self.text, options.max_width), style=self.style, no_wrap=True,
                   overflow="crop")


def endpoint_label(stats: EndpointStats) -> str:
    """``GET /v1/facts``: method and name in one cell, for tables too narrow for both."""
    return f"{stats.method} {stats.name}".strip()
