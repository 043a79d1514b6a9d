"""ResultsWriter: the results folder, streamed history, atomic rewrites, no secrets on disk."""
from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from surge.outputs import RESULT_FILES, ResultsWriter, default_out_dir, load_histograms
from surge.outputs import results as results_module
from surge.outputs.locust_csv import history_header

from .conftest import PASSWORD


def test_default_out_dir_is_utc_stamped():
    started = datetime(2024, 5, 1, 14, 3, 9, tzinfo=timezone(timedelta(hours=2)))
    assert default_out_dir("demo", "smoke", started) == Path("results/demo-smoke-20240501T120309Z")
    assert default_out_dir("demo", None, datetime(2024, 5, 1, 12, 0, 0)).name == "demo-custom-20240501T120000Z"
    assert default_out_dir("my scenario/x", "load", started).name == "my_scenario_x-load-20240501T120309Z"


def test_writes_all_six_files(tmp_path, stats, summary, history):
    out = tmp_path / "run"
    writer = ResultsWriter(out)
    writer.open()
    writer.write_history(history)
    paths = writer.write(summary, stats.histograms())
    assert [p.name for p in paths] == list(RESULT_FILES) == [
        "summary.json", "stats.csv", "stats_history.csv", "failures.csv", "junit.xml", "histograms.json"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert json.loads((out / "summary.json").read_text())["scenario"] == "demo"
    assert load_histograms((out / "histograms.json").read_text())["*"].count == stats.total.latency.count
    history = list(csv.reader(io.StringIO((out / "stats_history.csv").read_bytes().decode(), newline="")))
    assert len(history) == 1 + 4  # header, three series (one a task that raised), Aggregated
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_history_is_flushed_after_every_interval(tmp_path, history):
    writer = ResultsWriter(tmp_path)
    writer.open()
    path = tmp_path / "stats_history.csv"
    assert path.read_bytes() == history_header().encode()  # on disk before any interval ends
    writer.write_history(history)
    lines = path.read_bytes().split(b"\r\n")
    assert len(lines) == 1 + 4 + 1  # header, four rows, the empty tail after the last "\r\n"
    writer.close()


def test_finish_twice_rewrites(tmp_path, stats, summary, history):
    import dataclasses

    writer = ResultsWriter(tmp_path)
    writer.open()
    writer.write_history(history)
    first = writer.write(summary, stats.histograms())
    history_before = (tmp_path / "stats_history.csv").read_bytes()
    second = writer.write(dataclasses.replace(summary, status="interrupted"), stats.histograms())
    assert first == second
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "interrupted"
    assert (tmp_path / "stats_history.csv").read_bytes() == history_before  # not truncated


def test_finish_without_open_still_leaves_every_file(tmp_path, stats, summary):
    out = tmp_path / "deep" / "er"
    paths = ResultsWriter(out).write(summary, stats.histograms())
    assert all(p.is_file() for p in paths)
    assert (out / "stats_history.csv").read_bytes().decode() == history_header()


def test_no_file_carries_the_password(tmp_path, stats, summary, history):
    writer = ResultsWriter(tmp_path)
    writer.open()
    writer.write_history(history)
    for path in writer.write(summary, stats.histograms()):
        assert PASSWORD.encode() not in path.read_bytes(), path.name
    assert b"alice:***@api.example.test" in (tmp_path / "summary.json").read_bytes()


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    results_module.write_atomic(target, "old\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        results_module.write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # temp file cleaned up
