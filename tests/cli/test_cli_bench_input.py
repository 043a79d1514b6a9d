"""``surge bench``'s input: each bad option is one line on stderr and exit 2 before anything is
sent; good options settle into the plan the bench runs (in-process: no load is sent here)."""
from __future__ import annotations

import base64
import subprocess

import pytest

from surge.cli.bench import MAX_CONCURRENCY, parse_concurrency, settle_bench
from surge.cli import main as main_module
from surge.cli.main import main
from surge.model.errors import ConfigError
from test_cli_run import SURGE, clean_env

URL = "http://127.0.0.1:9/x"  # the discard port: nothing here may ever be sent to it


@pytest.fixture(autouse=True)
def _main_leaves_no_state():
    """main() marks the process as in main (a Ctrl-C then raises EarlySignal): not this test process."""
    before = list(main_module._in_main)
    yield
    main_module._in_main[:] = before


def exit_of(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(["bench", *argv])
    return info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("argv, says", [
    (["ftp://127.0.0.1/x"], "is not an http:// or https:// URL"),
    (["http://"], "is not an http:// or https:// URL"),
    (["not a url"], "is not an http:// or https:// URL"),
    (["http://127.0.0.1:99999/x"], "has an invalid port"),
    (["-H", "NoColonHere", URL], "-H 'NoColonHere' is not 'Name: value'"),
    (["-H", ": value", URL], "is not 'Name: value'"),
    (["-d", "@/nonexistent/body.json", URL], "-d '@/nonexistent/body.json': No such file"),
    (["--concurrency", "0", URL], "each level must be 1..10,000"),
    (["--concurrency", "a,b", URL], "is not a comma-separated list of whole numbers"),
    (["--concurrency", "", URL], "is not a comma-separated list"),
    (["--concurrency", "1,,4", URL], "is not a comma-separated list"),
    (["--concurrency", "-3", URL], "is not a comma-separated list"),
    (["--concurrency", str(MAX_CONCURRENCY + 1), URL], "each level must be 1..10,000"),
    (["-n", "0", URL], "-n '0' must be a whole number of requests above 0"),
    (["-n", "-5", URL], "must be a whole number of requests above 0"),
    (["-n", "lots", URL], "must be a whole number of requests above 0"),
    (["--duration", "soon", URL], "--duration: 'soon' is not a duration"),
    (["--duration", "0", URL], "--duration '0' must be above 0"),
    (["--timeout", "-1s", URL], "--timeout: '-1s' is not a duration"),
    (["--timeout", "0ms", URL], "--timeout '0ms' must be above 0"),
    (["--method", "GE T", URL], "is not an HTTP method"),
    (["--output", "/nonexistent-dir/out.json", URL], "--output '/nonexistent-dir/out.json' cannot be written"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, says):
    code, err = exit_of(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("surge: error: ") and says in err, err


def test_a_secret_in_a_bad_header_is_not_repeated(capsys):
    code, err = exit_of(capsys, "-H", "Bearer sekrit-token-4711", URL)
    assert code == 2 and "sekrit-token-4711" not in err


def test_a_password_in_a_bad_url_is_not_repeated(capsys):
    code, err = exit_of(capsys, "http://alice:hunter2-secret@127.0.0.1:99999/x")
    assert code == 2 and "hunter2-secret" not in err and "alice:***@" in err


def test_the_console_script_says_the_same_and_sends_nothing(tmp_path):
    proc = subprocess.run([SURGE, "bench", "--concurrency", "a,b", URL], cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "surge: error: --concurrency 'a,b' is not a comma-separated list of whole numbers (use e.g. 1,10,25,50)"]


def test_no_url_shows_the_help_with_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench"])
    assert info.value.code == 2 and "Exit codes" in capsys.readouterr().out


def test_the_help_names_the_single_phase_as_the_engine_runs_it():
    from surge.cli import bench
    from surge.engine.bench import SINGLE_REQUESTS, BenchPlan

    assert bench.SINGLE_REQUESTS == SINGLE_REQUESTS == BenchPlan("http://x").single
    assert f"({SINGLE_REQUESTS} requests one at a time" in bench.BENCH_HELP


def test_the_sweep_is_sorted_and_repeats_dropped():
    assert parse_concurrency(" 25, 1,10,10 ") == (1, 10, 25)
    with pytest.raises(ConfigError):
        parse_concurrency("1.5")


def test_defaults_get_1000_requests_per_phase_capped_at_10_seconds():
    plan, _ = settle_bench(URL)
    assert (plan.method, plan.requests, plan.duration_s, plan.concurrency) == ("GET", 1000, 10.0, (1, 10, 25, 50))
    assert plan.body is None and plan.headers == () and plan.timeout_s == 30.0


def test_duration_alone_bounds_each_phase_by_time_only():
    plan, _ = settle_bench(URL, duration="2s")
    assert plan.requests is None and plan.duration_s == 2.0
    plan, _ = settle_bench(URL, duration="2s", requests="50")
    assert plan.requests == 50 and plan.duration_s == 2.0


def test_a_body_makes_a_post_with_a_content_type(tmp_path):
    body = tmp_path / "order.json"
    body.write_bytes(b'{"a": 1}')
    plan, _ = settle_bench(URL, data=f"@{body}")
    assert plan.method == "POST" and plan.body == b'{"a": 1}'
    assert dict(plan.headers)["Content-Type"] == "application/json"
    plan, _ = settle_bench(URL, data="a=1&b=2", method="put")
    assert plan.method == "PUT" and dict(plan.headers)["Content-Type"] == "application/x-www-form-urlencoded"
    plan, _ = settle_bench(URL, data="<x/>", content_type="application/xml")
    assert dict(plan.headers)["Content-Type"] == "application/xml"
    plan, _ = settle_bench(URL, data="<x/>", headers=("content-type: text/xml",), content_type="application/xml")
    assert [v for k, v in plan.headers if k.lower() == "content-type"] == ["application/xml"]  # -T wins, once
    plan, _ = settle_bench(URL, data="<x/>", headers=("content-type: text/xml",))
    assert [v for k, v in plan.headers if k.lower() == "content-type"] == ["text/xml"]


def test_url_credentials_become_basic_auth_that_the_redactor_masks():
    plan, redactor = settle_bench("http://alice:s3cr%40t-pass@127.0.0.1:9/x", headers=("X-Api-Key: key-123456",))
    auth = dict(plan.headers)["Authorization"]
    assert auth == "Basic " + base64.b64encode(b"alice:s3cr@t-pass").decode()
    leaked = f"failed with {auth} and key-123456 at http://alice:s3cr%40t-pass@127.0.0.1:9/x"
    scrubbed = redactor(leaked)
    assert "s3cr" not in scrubbed and "key-123456" not in scrubbed and auth.split()[1] not in scrubbed
