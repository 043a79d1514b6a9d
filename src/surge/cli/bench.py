"""``surge bench URL``: the quick ab-style benchmark, no scenario file.

Parses and checks the options (each bad one: one line, exit 2, before anything is sent), runs
:class:`surge.engine.bench.Bench` on uvloop with Ctrl-C / SIGTERM turned into a stop that keeps
what was measured, then prints the table and writes ``--output`` (``bench_render``).
"""
from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from ..model.errors import ConfigError

MAX_CONCURRENCY = 10_000
DEFAULT_REQUESTS = 1000
DEFAULT_DURATION = "10s"
SINGLE_REQUESTS = 10  # engine.bench.SINGLE_REQUESTS (a test keeps them equal), not imported: --help stays fast

BENCH_HELP = f"""Benchmark one URL, ab-style, no scenario file: single-request latency
({SINGLE_REQUESTS} requests one at a time, the cold first one, connect included, shown
apart), sequential throughput, then a concurrency sweep. Prints one table
(concurrency, req/s, p50, p95, p99, max, errors, scaling efficiency) and says
where throughput stopped scaling.

\b
A step at concurrency C is C loops sending back to back, each with its own
keep-alive connection: the same HTTP client, HDR recording and failure kinds
(connect, timeout, reset, protocol, status) as `surge run`.
Each phase ends after -n requests (default {DEFAULT_REQUESTS}) or --duration
(default {DEFAULT_DURATION}), whichever comes first; --duration alone: each
phase runs for that long. Requests in flight then finish (within --timeout).

\b
Efficiency at C = rps_C / (C x rps_1), rps_1 from the concurrency-1 step (or
the sequential phase). Throughput stopped scaling at the step before the
first one whose successful req/s gained less than half of what perfect
scaling would add, at most +25% (from 10 to 11: +5%; from 4 to 8 or 1 to
10: +25%; a fall counts).

\b
Examples:
  surge bench http://127.0.0.1:8000/health
  surge bench -m POST -d @order.json -H 'Authorization: Bearer $TOKEN' \\
      --concurrency 1,4,16,64 --duration 5s --output bench.json https://api.local/v1/orders

\b
Exit codes: 0 ran and no request failed; 1 some request failed (errors are
in the table and --output); 2 bad input; 3 target unreachable (the first
request could not connect); 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM): what was measured is still printed and written to --output.
"""


@click.command("bench", help=BENCH_HELP, no_args_is_help=True)
@click.argument("url")
@click.option("--method", "-m", metavar="METHOD", help="HTTP method (default GET, or POST with -d).")
@click.option("--header", "-H", "headers", metavar="'NAME: VALUE'", multiple=True,
              help="A header for every request (repeatable).")
@click.option("--data", "-d", metavar="@FILE|TEXT", help="Request body: the bytes of FILE with @FILE, else TEXT as is.")
@click.option("--content-type", "-T", metavar="TYPE",
              help="Content-Type of the body (default with -d: application/json for a .json file, "
                   "else application/x-www-form-urlencoded, as curl does).")
@click.option("--requests", "-n", metavar="N", help=f"Requests per phase (default {DEFAULT_REQUESTS}; none with --duration alone).")
@click.option("--duration", metavar="DURATION", help=f"Time per phase: a cap with -n, the length without (default {DEFAULT_DURATION}).")
@click.option("--concurrency", "-c", metavar="LIST", default="1,10,25,50", show_default=True,
              help=f"The concurrency sweep, comma-separated (each 1..{MAX_CONCURRENCY:,}).")
@click.option("--output", "-o", metavar="FILE", help="Write the results as JSON (schema: bench.schema.json).")
@click.option("--insecure", is_flag=True, help="Skip TLS certificate verification.")
@click.option("--timeout", metavar="DURATION", default="30s", show_default=True, help="Request timeout.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def bench_command(url: str, method: str | None, headers: tuple[str, ...], data: str | None, content_type: str | None,
                  requests: str | None, duration: str | None, concurrency: str, output: str | None,
                  insecure: bool, timeout: str, debug: bool) -> None:
    from ..engine.bench import Bench
    from .bench_render import bench_dict, exit_code, print_bench, write_output

    plan, redactor = settle_bench(url, method=method, headers=headers, data=data, content_type=content_type,
                                  requests=requests, duration=duration, concurrency=concurrency,
                                  insecure=insecure, timeout=timeout)
    out = _output_path(output)
    click.echo(f"surge bench {plan.method} {redactor(url)}", err=True)
    bench = Bench(plan, redactor, on_phase=_progress if sys.stderr.isatty() else None)
    result = _run(bench)
    doc = bench_dict(plan, result, redactor(url))
    print_bench(doc)
    if out is not None:
        write_output(out, doc)
    raise SystemExit(exit_code(result))


def settle_bench(url: str, *, method=None, headers=(), data=None, content_type=None, requests=None, duration=None,
                 concurrency="1,10,25,50", insecure=False, timeout="30s"):
    """The checked :class:`BenchPlan` and the redactor that knows its secrets; ConfigError (exit 2)
    naming the bad value otherwise."""
    from ..engine.bench import BenchPlan
    from ..model.durations import parse_duration
    from ..model.redact import Redactor

    parts = _check_url(url)
    pairs = [_header(h) for h in headers]
    if parts.password is not None or parts.username:
        creds = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        pairs.insert(0, ("Authorization", "Basic " + base64.b64encode(creds.encode()).decode()))
    body = _body(data)
    if content_type:  # -T is the more specific: it replaces a Content-Type given with -H
        pairs = [p for p in pairs if p[0].lower() != "content-type"] + [("Content-Type", content_type)]
    elif body is not None and not any(n.lower() == "content-type" for n, _ in pairs):
        pairs.append(("Content-Type", _default_type(data)))
    redactor = Redactor(urls=[url], headers=[dict(pairs)])
    timeout_s = parse_duration(timeout, "--timeout")
    if timeout_s <= 0:
        raise ConfigError(f"--timeout {timeout!r} must be above 0", "use e.g. 500ms, 2s, 30s")
    duration_s = parse_duration(duration if duration is not None else DEFAULT_DURATION, "--duration")
    if duration_s <= 0:
        raise ConfigError(f"--duration {duration!r} must be above 0", "use e.g. 500ms, 5s, 1m")
    count = _requests(requests) if requests is not None else (None if duration is not None else DEFAULT_REQUESTS)
    plan = BenchPlan(url=url, method=(method or ("POST" if body is not None else "GET")).upper(),
                     headers=tuple(pairs), body=body, concurrency=parse_concurrency(concurrency),
                     requests=count, duration_s=duration_s, timeout_s=timeout_s, insecure=insecure)
    if not plan.method.isalpha():
        raise ConfigError(f"--method {method!r} is not an HTTP method", "use e.g. GET, POST, PUT")
    return plan, redactor


def parse_concurrency(text: str) -> tuple[int, ...]:
    """``1,10,25,50`` -> (1, 10, 25, 50), sorted, repeats dropped; each 1..MAX_CONCURRENCY."""
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t.isdigit() for t in items):
        raise ConfigError(f"--concurrency {text!r} is not a comma-separated list of whole numbers",
                          "use e.g. 1,10,25,50")
    values = sorted({int(t) for t in items})
    if values[0] < 1 or values[-1] > MAX_CONCURRENCY:
        raise ConfigError(f"--concurrency {text!r}: each level must be 1..{MAX_CONCURRENCY:,}", "use e.g. 1,10,25,50")
    return tuple(values)


def _check_url(url: str):
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"URL {url!r} has an invalid port", "use e.g. http://127.0.0.1:8000/path") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"URL {url!r} is not an http:// or https:// URL with a host",
                          "use e.g. http://127.0.0.1:8000/path")
    return parts


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or " " in name.strip():
        shown = text.split(None, 1)[0] + " ***" if " " in text.strip() else text
        raise ConfigError(f"-H {shown!r} is not 'Name: value'", "e.g. -H 'Accept: application/json'")
    return name.strip(), value.strip()


def _body(data: str | None) -> bytes | None:
    if data is None:
        return None
    if not data.startswith("@"):
        return data.encode()
    try:
        return Path(data[1:]).read_bytes()
    except OSError as exc:
        raise ConfigError(f"-d {data!r}: {exc.strerror or exc}", "give a readable file after @, or the body itself") from None


def _default_type(data: str | None) -> str:
    return "application/json" if (data or "").lower().endswith(".json") else "application/x-www-form-urlencoded"


def _requests(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"-n {text!r} must be a whole number of requests above 0", "e.g. -n 1000")
    return value


def _output_path(output: str | None) -> Path | None:
    """--output checked before any load: its folder must exist and be writable."""
    if output is None:
        return None
    path = Path(output)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ConfigError(f"--output {output!r} cannot be written", "give a file in a folder that exists and you can write to")
    return path


def _progress(phase) -> None:
    click.echo(f"  {phase.name}: {phase.requests:,} requests in {phase.elapsed_s:.2f} s", err=True)


def _run(bench):
    """Run the bench on uvloop; SIGINT/SIGTERM stop it keeping what was measured (its result
    says which signal). The handlers there before are restored after."""
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for sig in previous:
            loop.add_signal_handler(sig, bench.interrupt, int(sig))
        return loop.run_until_complete(bench.run())
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)

