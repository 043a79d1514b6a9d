"""histograms.json: encoded HDR histograms round-trip exactly."""
from __future__ import annotations

import json

import pytest

from surge.outputs.histograms import FORMAT, load_histograms, render_histograms

from .conftest import FACTS_MS, hist_ms


def test_round_trip_keeps_count_and_percentiles(stats):
    text = render_histograms(stats.histograms())
    loaded = load_histograms(text)
    assert set(loaded) == {"GET /v1/facts", "POST /v1/corrections", "TASK Shopper.checkout", "*"}
    assert loaded["TASK Shopper.checkout"].count == 0  # task exceptions are counted, not timed
    for key, (method, name) in (("GET /v1/facts", ("GET", "/v1/facts")), ("POST /v1/corrections", ("POST", "/v1/corrections"))):
        original = stats.series[(method, name)].latency
        assert loaded[key].count == original.count
        assert loaded[key].percentile_us(99) == original.percentile_us(99)
        assert loaded[key].max_us == original.max_us
    assert loaded["*"].count == len(FACTS_MS) + 200


def test_document_shape():
    doc = json.loads(render_histograms({"b": hist_ms([1.0]).encode(), "a": hist_ms([]).encode()}))
    assert doc["format"] == FORMAT == "HdrHistogram compressed base64"
    assert doc["unit"] == "us" and doc["significant_digits"] == 3
    assert list(doc["series"]) == ["a", "b"]
    assert all(v.startswith("HISTF") for v in doc["series"].values())


def test_empty_histogram_round_trips():
    (h,) = load_histograms(render_histograms({"*": hist_ms([]).encode()})).values()
    assert h.count == 0 and h.percentile_us(99) == 0


@pytest.mark.parametrize("doc", [{"format": "other", "unit": "us", "series": {}},
                                 {"format": FORMAT, "unit": "ms", "series": {}}])
def test_foreign_documents_are_refused(doc):
    with pytest.raises(ValueError):
        load_histograms(json.dumps(doc))
