"""histograms.json: the run's final latency histograms, kept whole.

Summaries hold a fixed set of percentiles; the histograms hold every one. Keeping them (in
the standard compressed HdrHistogram encoding, readable by HdrHistogram tools in any language)
lets ``surge compare`` or a notebook recompute any percentile later, or merge runs losslessly.
"""
from __future__ import annotations

import json

from ..metrics.hdr import SIGNIFICANT_DIGITS, Histogram

FORMAT = "HdrHistogram compressed base64"


def render_histograms(encoded: dict[str, str], *, unit: str = "us",
                      significant_digits: int = SIGNIFICANT_DIGITS) -> str:
    """JSON text for encoded histograms keyed ``"METHOD NAME"`` (``"*"``: all requests)."""
    doc = {
        "format": FORMAT,
        "unit": unit,
        "significant_digits": significant_digits,
        "series": dict(sorted(encoded.items())),
    }
    return json.dumps(doc, indent=2) + "\n"


def load_histograms(text: str) -> dict[str, Histogram]:
    """Read histograms.json back into :class:`Histogram` values (µs), keyed as written."""
    doc = json.loads(text)
    if doc.get("format") != FORMAT:
        raise ValueError(f"not a surge histograms file: format is {doc.get('format')!r}, expected {FORMAT!r}")
    if doc.get("unit") != "us":
        raise ValueError(f"histograms in unit {doc.get('unit')!r}; only 'us' can be loaded")
    return {key: Histogram.decode(value) for key, value in doc.get("series", {}).items()}
