"""Thresholds (SLAs): parse ``STAT OP VALUE[UNIT]`` expressions and judge a run against them. Pure."""
from __future__ import annotations

from .evaluate import evaluate, failing, should_abort
from .judge import ThresholdJudge
from .parse import parse_cli_threshold, parse_expression, parse_table, percentile_label, percentile_of

__all__ = [
    "ThresholdJudge",
    "evaluate",
    "failing",
    "parse_cli_threshold",
    "parse_expression",
    "parse_table",
    "percentile_label",
    "percentile_of",
    "should_abort",
]
