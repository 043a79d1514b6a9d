"""ResultsWriter: the results folder, streamed history, atomic rewrites, no secrets on disk."""
from __future__ import annotations

import csv
import errno
import io
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from surge.outputs import RESULT_FILES, ResultsWriter, default_out_dir, load_histograms
from surge.outputs import results as results_module
from support.small_disk import fill, mount_tmpfs, unmount
from surge.model.events import Notice
from surge.outputs.locust_csv import history_header, render_history_rows

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


# -- when the disk says no ------------------------------------------------------------------
class Control:
    """The run's handle as the writer sees it: records what it emits."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def emit(self, event) -> None:
        self.notices.append(event)

    def stop(self, reason: str) -> None:
        raise AssertionError("the writer never stops the run")


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MB tmpfs, unmounted afterwards; skipped where this process cannot mount one."""
    disk = tmp_path / "disk"
    complaint = mount_tmpfs(disk)
    if complaint is not None:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {complaint}")
    yield disk
    unmount(disk)


def bound_writer(out: Path) -> tuple[ResultsWriter, Control]:
    writer, control = ResultsWriter(out), Control()
    writer.bind(control)
    return writer, control


def test_a_history_that_cannot_start_is_an_error_at_open(tmp_path):
    """/dev/full answers every write with ENOSPC: a full disk before the run is a usage error."""
    (tmp_path / "stats_history.csv").symlink_to("/dev/full")
    with pytest.raises(OSError) as caught:
        ResultsWriter(tmp_path).open()
    assert caught.value.errno == errno.ENOSPC
    assert tmp_path.is_dir()  # the folder was there before: not ours to remove


def test_a_full_disk_at_open_leaves_no_folder_behind(small_disk):
    fill(small_disk)
    with pytest.raises(OSError) as caught:
        ResultsWriter(small_disk / "results" / "run").open()
    assert caught.value.errno == errno.ENOSPC
    assert sorted(p.name for p in small_disk.iterdir()) == ["fill"]  # neither results/ nor run/


def test_a_full_disk_mid_run_cuts_the_history_to_whole_rows_and_the_run_goes_on(small_disk, stats, summary,
                                                                                 history):
    out = small_disk / "out"
    writer, control = bound_writer(out)
    writer.open()
    writer.write_history(history)
    fill(small_disk)  # the page the history is in still has room for a few rows
    for _ in range(30):
        writer.write_history(history)  # never raises: the run must not stop for it

    data = (out / "stats_history.csv").read_bytes()
    header, block = history_header().encode(), render_history_rows(history).encode()
    whole = (len(data) - len(header)) // len(block)
    assert whole >= 1 and data == header + block * whole  # no half row at the end
    assert len(control.notices) == 1  # said once, not every interval
    notice = control.notices[0]
    assert notice.level == "warning" and notice.message == writer.history_warning
    assert notice.message.startswith(f"{out / 'stats_history.csv'} could not be written (No space left on device)")
    assert notice.message.endswith("the run goes on, the history is incomplete")

    written = writer.write(summary, stats.histograms())  # nothing else fits either
    assert written == [out / "stats_history.csv"]
    missing = ["stats.csv", "failures.csv", "junit.xml", "histograms.json", "summary.json"]
    assert writer.not_written == dict.fromkeys(missing, "No space left on device")
    assert len(control.notices) == 2 and control.notices[1].level == "error"
    assert control.notices[1].message == (
        f"results not written in full to {out}: {', '.join(missing)} (No space left on device); "
        "stats_history.csv is incomplete (No space left on device)")
    assert sorted(p.name for p in out.iterdir()) == ["stats_history.csv"]  # no temp file left

    (small_disk / "fill").unlink()  # room again: a second write() writes everything
    assert len(writer.write(summary, stats.histograms())) == len(RESULT_FILES) and writer.not_written == {}
    assert (out / "stats_history.csv").read_bytes() == data  # the history stays as it stopped
    assert writer.history_warning in json.loads((out / "summary.json").read_text())["warnings"]


def test_a_file_that_cannot_be_written_is_named_in_summary_json_and_the_others_are_written(tmp_path, stats,
                                                                                            summary, history):
    out = tmp_path / "out"
    (out / "junit.xml").mkdir(parents=True)  # a folder in the way: os.replace cannot put the file there
    (out / "junit.xml" / "keep").write_text("not ours")
    writer, control = bound_writer(out)
    writer.open()
    writer.write_history(history)
    written = writer.write(summary, stats.histograms())

    assert [p.name for p in written] == [n for n in RESULT_FILES if n != "junit.xml"]
    assert list(writer.not_written) == ["junit.xml"]
    why = writer.not_written["junit.xml"]
    line = f"results not written in full to {out}: junit.xml ({why})"
    assert [(n.level, n.message) for n in control.notices] == [("error", line)]
    warnings = json.loads((out / "summary.json").read_text())["warnings"]
    assert len(warnings) == len(summary.warnings) + 1 and warnings[-1] == line
    assert load_histograms((out / "histograms.json").read_text())["*"].count == stats.total.latency.count
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_write_on_a_full_disk_leaves_the_previous_file_whole(small_disk):
    target = small_disk / "summary.json"
    results_module.write_atomic(target, "old\n")
    fill(small_disk)
    with pytest.raises(OSError) as caught:
        results_module.write_atomic(target, "new\n" * 10_000)
    assert caught.value.errno == errno.ENOSPC
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["fill", "summary.json"]  # temp file removed


@pytest.mark.parametrize("earlier", [False, True])
def test_discard_removes_the_folders_open_created_and_only_those(tmp_path, earlier):
    results = tmp_path / "results"
    if earlier:
        (results / "earlier-run").mkdir(parents=True)
    writer = ResultsWriter(results / "run")
    writer.open()
    writer.discard()
    if earlier:
        assert [p.name for p in results.iterdir()] == ["earlier-run"]
    else:
        assert not results.exists()
    ResultsWriter(tmp_path).discard()  # a folder that was there before is left alone
    assert tmp_path.is_dir()
