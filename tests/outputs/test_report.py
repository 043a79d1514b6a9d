"""report.html from a results folder: the data it reads, thinning, escaping, size, optional panels.

The folders here are written directly (a synthetic 2-hour soak, monitors, a db report, a
baseline section); the page of a real run in a browser is test_report_browser.py's."""
from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path


from surge.outputs.histograms import render_histograms
from surge.outputs.locust_csv import HISTORY_HEADER
from surge.outputs.report import ReportWriter, render_report
from surge.outputs.report.data import downsample, load_folder, percentile_ticks, stage_boundaries
from surge.outputs.report.render import embed_json
from surge.metrics.hdr import Histogram
from surge.model.events import Notice

T0 = 1_796_000_000
LATENCY = {k: 1.0 for k in ("min", "mean", "p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p999", "p9999", "max")}


def endpoint(method: str, name: str, requests: int = 100) -> dict:
    return {"method": method, "name": name, "requests": requests, "failures": 0, "cancelled": 0, "rps": 1.5,
            "failures_per_s": 0.0, "error_rate": 0.0, "latency_ms": dict(LATENCY)}


def summary(endpoints: list[dict], **extra) -> dict:
    return {"schema": 1, "status": "passed", "scenario": "soak-test", "profile": "soak", "host": "http://127.0.0.1:1",
            "started_at": "2026-12-01T10:00:00Z", "duration_s": 7200.0, "workload": "closed",
            "total": endpoint("", "Aggregated", sum(e["requests"] for e in endpoints)), "endpoints": endpoints,
            "failures_by_kind": {}, "failures": [], "thresholds": [], "custom_metrics": [], "warnings": [], **extra}


def write_history(folder: Path, names: list[str], seconds: int, users=lambda i: 200) -> None:
    """One row per endpoint and one Aggregated row per second, as the streamed file has them."""
    rng = random.Random(9)
    with open(folder / "stats_history.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HISTORY_HEADER)
        for i in range(seconds):
            for key in [*names, " Aggregated"]:
                method, name = key.split(" ", 1)
                p = [round(rng.uniform(1, 50), 3) for _ in range(11)]
                p.sort()
                w.writerow([T0 + i, users(i), method, name, round(rng.uniform(5, 15), 6), 0.0, *p,
                            i * 10, 0, p[0], p[0], 0.1, p[-1], 400])


def test_a_two_hour_soak_with_20_endpoints_stays_under_5_mb(tmp_path):
    names = [f"GET /v1/resource{i}" for i in range(20)]
    (tmp_path / "summary.json").write_text(json.dumps(summary([endpoint(*n.split(" ")) for n in names])))
    write_history(tmp_path, names, 2 * 3600)
    hists = {}
    for n in [*names, "*"]:
        h = Histogram()
        h.record_many([random.Random(n).randint(500, 90_000) for _ in range(20_000)])
        hists[n] = h.encode()
    (tmp_path / "histograms.json").write_text(render_histograms(hists))

    html = render_report(tmp_path)
    size = len(html.encode())
    print(f"2-hour 20-endpoint report: {size / 1e6:.2f} MB")
    assert size < 5_000_000
    data = load_folder(tmp_path)
    assert len(data["history"]) == 21 and all(len(s["t"]) <= 2000 for s in data["history"].values())
    assert data["history"]["*"]["t"][0] == T0 and data["history"]["*"]["t"][-1] == T0 + 7199
    assert set(data["distributions"]) == {*names, "*"}


def test_a_ten_minute_run_stays_under_1_mb(tmp_path):
    names = [f"GET /v1/r{i}" for i in range(6)]
    (tmp_path / "summary.json").write_text(json.dumps(summary([endpoint(*n.split(" ")) for n in names])))
    write_history(tmp_path, names, 600)
    size = len(render_report(tmp_path).encode())
    print(f"10-minute 6-endpoint report: {size / 1e3:.0f} kB")
    assert size < 1_000_000


def test_downsampling_keeps_every_bucket_min_and_max():
    n = 10_000
    series = {"t": list(range(n)), "v": [1.0] * n, "w": [None] * n}
    series["v"][4321] = 999.0  # a one-interval spike
    series["v"][7000] = -5.0
    out = downsample(series, max_points=200)
    assert len(out["t"]) == 200 and out["t"][0] == 0 and out["t"][-1] == n - 1
    assert max(out["v"]) == 999.0 and min(out["v"]) == -5.0
    assert out["w"] == [None] * 200
    short = {"t": [1, 2], "v": [3, 4]}
    assert downsample(short) is short


def test_stage_boundaries_are_where_the_user_count_starts_or_stops_changing():
    t = list(range(10))
    users = [0, 10, 20, 30, 30, 30, 60, 60, 60, 0]
    assert stage_boundaries({"t": t, "users": users}) == [3, 5, 6, 8]
    assert stage_boundaries({"t": [0, 1, 2], "users": [5, 5, 5]}) == []
    assert stage_boundaries({}) == []


def test_percentile_ticks_reach_the_tail_the_count_can_show():
    ticks = percentile_ticks(1000)
    assert ticks[0] == 0 and ticks == sorted(ticks)
    assert 1 / (1 - ticks[-1] / 100) <= 1000 < 1 / (1 - (100 * (1 - 2 ** (-len(ticks) / 5))) / 100)


def test_nothing_in_the_data_can_close_the_script_block(tmp_path):
    text = embed_json({"name": "</script><script>alert(1)</script>", "amp": "a&b"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["name"] == "</script><script>alert(1)</script>"
    hostile = endpoint("GET", "/x</script><b>")
    (tmp_path / "summary.json").write_text(json.dumps(summary([hostile])))
    html = render_report(tmp_path)
    assert "/x</script><b>" not in html and "/x&lt;/script&gt;&lt;b&gt;" in html


def test_optional_sections_appear_only_with_their_data(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(summary([endpoint("GET", "/a")])))
    bare = render_report(tmp_path)
    assert 'id="findings"' not in bare and 'id="baseline"' not in bare and "Slowest statements" not in bare
    assert 'id="levels"' not in bare
    assert json.loads(bare.split('id="surge-data">')[1].split("</script>")[0])["monitors"] == []

    s = summary([endpoint("GET", "/a")],
                findings=[{"kind": "leak", "severity": "warning", "message": "RSS grows 6 MB/min"}],
                levels=[{"level": lv, "hold": True, "from_s": 2.0 * lv, "to_s": 2.0 * lv + 1.5, "requests": 100 * lv,
                         "rps": 66.7 * lv, "error_rate": 0.0125 if lv == 3 else 0.0,
                         "latency_ms": {"p50": 1.0 * lv, "p95": 2.5 * lv, "p99": None}} for lv in (1, 2, 3)],
                baseline={"rows": [{"method": "GET", "name": "/a", "metric": "p95", "baseline": 10.0, "current": 15.0,
                                    "delta": 5.0, "relative": 0.5, "regression": True}]},
                monitors={"target": {"rss_growth_mb_per_min": 6.0, "verdict": "leak", "warmup_s": 10.0}})
    (tmp_path / "summary.json").write_text(json.dumps(s))
    (tmp_path / "monitors").mkdir()
    rows = ["timestamp,elapsed_s,rss_mb,vms_mb,cpu_percent,threads,fds,connections,processes"]
    rows += [f"{T0 + i},{i},{100 + i * 0.1:.3f},500,12,8,20,4,1" for i in range(120)]
    (tmp_path / "monitors" / "target.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "db_report.json").write_text(json.dumps({"statements": {"by_mean_time": [
        {"query": "SELECT * FROM facts WHERE id = $1", "calls": 40, "mean_time_ms": 3.2, "total_time_ms": 128.0}]}}))
    html = render_report(tmp_path)
    assert "RSS grows 6 MB/min" in html and "REGRESSION" in html and "GET /a" in html
    assert "SELECT * FROM facts WHERE id = $1" in html
    levels = html.split('id="levels"')[1].split("</section>")[0]
    assert levels.count("<tr><td>") == 3 and "<td>200.1</td><td>1.25%</td><td>3.0</td><td>7.5</td><td>—</td>" in levels
    panels = load_folder(tmp_path)["monitors"]
    assert [p["title"] for p in panels] == ["Target RSS (MB)", "Target CPU (%)", "Target threads and open files"]
    rss = panels[0]
    assert rss["verdict"] == "leak" and rss["slope_mb_per_min"] == 6.0
    slope = [v for v in rss["series"]["slope"] if v is not None]
    assert len(slope) == 110 and math.isclose(slope[-1] - slope[0], 6.0 / 60 * 109, rel_tol=1e-6)


class Recorder:
    def __init__(self):
        self.events = []

    def emit(self, event):
        self.events.append(event)

    def stop(self, reason):
        pass


def test_the_writer_says_one_warning_and_never_raises_when_it_cannot_render(tmp_path):
    writer, control = ReportWriter(tmp_path), Recorder()
    writer.bind(control)
    writer.finish(None)  # no summary.json: the run must go on
    assert not (tmp_path / "report.html").exists()
    assert len(control.events) == 1 and isinstance(control.events[0], Notice)
    assert "report.html could not be written" in control.events[0].message

    (tmp_path / "summary.json").write_text(json.dumps(summary([endpoint("GET", "/a")])))
    writer.revise(None)
    assert (tmp_path / "report.html").is_file() and len(control.events) == 1
