"""Configuration: CLI flags, ``SURGE_*`` environment, surge.toml / ``[tool.surge]`` -> a frozen TestPlan."""
from __future__ import annotations

from .settle import settle

__all__ = ["settle"]
