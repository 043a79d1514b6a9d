"""Durations as users write them: ``500ms``, ``2s``, ``5m``, ``1h``; a bare number is seconds."""
from __future__ import annotations

import math
import re

from .errors import ConfigError

_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(text: str | int | float, key: str = "duration") -> float:
    """Return seconds. Compound forms like ``1h30m`` are accepted. Raises ConfigError naming ``key``."""
    if isinstance(text, bool):
        raise ConfigError(f"{key}: expected a duration, got {text!r}", "use e.g. 500ms, 2s, 5m, 1h")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        raw = str(text).strip().lower()
        try:
            seconds = float(raw)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(raw):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS_S[match.group(2)]
                pos = match.end()
            if pos != len(raw) or not raw:
                raise ConfigError(
                    f"{key}: {text!r} is not a duration", "use e.g. 500ms, 2s, 5m, 1h, or a number of seconds"
                ) from None
    if not math.isfinite(seconds):  # float() also reads "inf" and "nan"
        raise ConfigError(f"{key}: {text!r} is not a duration", "use e.g. 500ms, 2s, 5m, 1h, or a number of seconds")
    if seconds < 0:
        raise ConfigError(f"{key}: {text!r} is negative", "durations must be >= 0")
    return seconds


def format_duration(seconds: float) -> str:
    """``75.0`` -> ``1m15s``; used in the console and summaries."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"
