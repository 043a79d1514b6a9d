"""report.html of a real run, opened in headless Chromium (Debian's, driven by Playwright).

One short run against the loopback target writes the folder; the page must load from
``file://`` with no console error and no request, draw every chart, hold summary.json's
numbers in its tables, and switch the latency chart with the endpoint selector. A screenshot
stays in the test's tmp dir. See ../shared/research/browser-tests.md for the launch flags.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from surge.outputs.report import render_report

CHROMIUM = "/usr/bin/chromium"
SURGE = str(Path(sys.executable).with_name("surge"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SCENARIO = """
    from surge import HttpUser, constant, task

    class Reader(HttpUser):
        wait_time = constant(0.005)

        @task(4)
        async def fast(self):
            await self.client.get("/ok")

        @task(2)
        async def slow(self):
            await self.client.get("/delay/15", name="/slow")

        @task(1)
        async def broken(self):
            await self.client.get("/status/500")
"""


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, target_server):
    """A real 3-second run's results folder (with report.html written at its end)."""
    target_server.configure(defaults=True)
    tmp = tmp_path_factory.mktemp("report-run")
    (tmp / "scenario.py").write_text(textwrap.dedent(SCENARIO))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    proc = subprocess.run([SURGE, "run", "scenario.py", "--host", target_server.url, "--processes", "1",
                           "--live", "off", "--out", str(tmp / "out"), "--users", "4", "--spawn-rate", "4",
                           "--duration", "3s", "--threshold", "GET /ok: p95 < 2s",
                           "--threshold", "GET /slow: p50 < 1ms"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr  # the p50 < 1ms on /slow fails, on purpose
    return tmp / "out"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def open_report(browser, path: Path):
    """The loaded page, with the console errors and the requests it made."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


def test_the_report_of_a_real_run_renders_offline_with_the_runs_numbers(run_folder, browser, tmp_path):
    summary = json.loads((run_folder / "summary.json").read_text())
    report = run_folder / "report.html"
    assert report.is_file()
    started = time.monotonic()
    page, errors, requests = open_report(browser, report)

    assert errors == []
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
    assert page.inner_text("#verdict").lower() == summary["status"] == "failed"

    charts = page.eval_on_selector_all("#charts .chart", """els => els.map(el => {
        const c = el.querySelector('canvas');
        return {id: el.id, w: c ? c.width : 0, h: c ? c.height : 0,
                inked: c ? c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0) : false};
    })""")
    assert [c["id"] for c in charts] == ["chart-throughput", "chart-users", "chart-latency", "chart-distribution"]
    assert all(c["w"] > 0 and c["h"] > 0 and c["inked"] for c in charts), charts
    # the host monitor is on by default: its panels are drawn too
    monitors = page.eval_on_selector_all("#monitor-charts .chart canvas", "cs => cs.map(c => c.width)")
    assert monitors and all(w > 0 for w in monitors)

    rows = page.eval_on_selector_all("#threshold-table tbody tr",
                                     "rs => rs.map(r => Array.from(r.cells).map(c => c.textContent.trim()))")
    assert [(r[0], r[1]) for r in rows] == [(t["target"], t["expression"]) for t in summary["thresholds"]]
    assert [float(r[2]) for r in rows] == pytest.approx([t["actual"] for t in summary["thresholds"]], abs=5e-4)
    assert [r[3].startswith("pass") for r in rows] == [t["passed"] for t in summary["thresholds"]] == [True, False]

    table = {r[0] + " " + r[1]: r for r in page.eval_on_selector_all(
        "#endpoint-table tbody tr", "rs => rs.map(r => Array.from(r.cells).map(c => c.textContent.trim()))")}
    for e in summary["endpoints"]:
        row = table[f"{e['method']} {e['name']}"]
        assert int(row[2]) == e["requests"] and int(row[3]) == e["failures"]
        assert float(row[4]) == pytest.approx(e["rps"], abs=5e-4)
        assert float(row[7]) == pytest.approx(e["latency_ms"]["p50"], abs=5e-4)
        assert float(row[11]) == pytest.approx(e["latency_ms"]["p999"], abs=5e-4)
    assert int(table[" Aggregated"][2]) == summary["total"]["requests"]
    failures = page.eval_on_selector_all("#failures tbody tr", "rs => rs.map(r => r.cells[1].textContent)")
    assert failures == ["/status/500"]

    before = page.evaluate("window.surgeCharts.latency.data[2]")  # p95 over time, all requests
    page.select_option("#endpoint-select", "GET /slow")
    after = page.evaluate("window.surgeCharts.latency.data[2]")
    assert after != before and min(v for v in after if v is not None) >= 10  # /slow is delayed 15 ms
    assert "GET /slow" in page.inner_text("#chart-latency .u-title")
    dist = page.evaluate("window.surgeCharts.distribution.data[1]")
    assert dist and min(dist) >= 10

    page.click("#endpoint-table th:nth-child(3)")  # sort by requests: ascending, the total stays last
    counts = page.eval_on_selector_all("#endpoint-table tbody tr", "rs => rs.map(r => +r.cells[2].textContent)")
    assert counts[:-1] == sorted(counts[:-1]) and counts[-1] == summary["total"]["requests"]

    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert errors == []
    assert time.monotonic() - started < 10
    page.close()


def test_surge_report_rebuilds_the_same_page_from_a_copied_folder(run_folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_folder, copy)
    (copy / "report.html").unlink()
    proc = subprocess.run([SURGE, "report", str(copy)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(copy / "report.html")
    assert data_blob(copy / "report.html") == data_blob(run_folder / "report.html")
    assert (copy / "report.html").read_text() == render_report(run_folder)

    elsewhere = tmp_path / "elsewhere.html"
    proc = subprocess.run([SURGE, "report", str(copy), "--out", str(elsewhere)], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0 and elsewhere.read_text() == (copy / "report.html").read_text()


def test_surge_report_on_a_folder_that_is_not_a_results_folder_exits_2(tmp_path):
    proc = subprocess.run([SURGE, "report", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a results folder" in lines[0] and "summary.json" in lines[0]
    assert not (tmp_path / "report.html").exists()


def data_blob(path: Path) -> dict:
    text = path.read_text()
    start = text.index('<script type="application/json" id="surge-data">') + len('<script type="application/json" id="surge-data">')
    return json.loads(text[start:text.index("</script>", start)])
