"""WebSocket series in summary.json: messages per series (only where there are any) and the
``closed`` failure kind, carried from worker snapshots through the wire and validated by the schema."""
from __future__ import annotations

import json
from importlib import resources

import jsonschema

from surge.metrics.aggregate import RunStats
from surge.metrics.recorder import Recorder
from surge.metrics.snapshot import Snapshot
from surge.outputs.summary_json import summary_dict

from .conftest import make_summary


def _ws_stats() -> RunStats:
    rec = Recorder()
    stream = rec.series("WS", "stream")
    stream.requests, stream.latencies_us = 4, [1000, 2000, 3000, 4000]
    stream.messages_sent, stream.messages_received, stream.bytes_received = 12, 40, 900
    stream.fail("closed", "closed by the server (close code 1011)")
    ping = rec.series("WS", "ping")
    ping.requests, ping.latencies_us = 8, [500] * 8
    series, _ = rec.flush()
    snap = Snapshot.from_bytes(Snapshot(0, 0, 1, series=series).to_bytes())  # over the wire
    stats = RunStats()
    stats.close([snap])
    return stats


def test_messages_and_the_closed_kind_reach_summary_json_and_validate():
    stats = _ws_stats()
    summary = make_summary(stats)
    doc = json.loads(json.dumps(summary_dict(summary)))
    schema = json.loads(resources.files("surge.outputs").joinpath("schema/summary.schema.json").read_text())
    jsonschema.validate(doc, schema)
    by_name = {e["name"]: e for e in doc["endpoints"]}
    assert by_name["stream"]["messages"] == {"sent": 12, "received": 40}
    assert "messages" not in by_name["ping"]  # no messages on that series: no key (HTTP series neither)
    assert doc["failures_by_kind"] == {"closed": 1}
    assert doc["failures"][0]["kind"] == "closed" and "1011" in doc["failures"][0]["message"]


def test_a_series_with_only_messages_is_still_sent():
    rec = Recorder()
    rec.series("WS", "stream").messages_received = 3  # pushes in an interval without a connect
    series, _ = rec.flush()
    assert [(s.name, s.messages_received) for s in series] == [("stream", 3)]
