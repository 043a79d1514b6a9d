"""State the command line carries through one command (click's context object)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Session:
    """``debug`` comes from ``--debug`` or ``SURGE_DEBUG`` at first, and from the settled plan
    (``debug = true`` in surge.toml) once a command has settled one: then errors show tracebacks."""

    debug: bool = False
