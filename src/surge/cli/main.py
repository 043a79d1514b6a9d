"""``surge``: the command line. Parses flags, settles the plan, wires the run to its observers.

Only this layer turns a :class:`SurgeError` into an exit code and one line of text; a
traceback is shown only with ``--debug``.

Ctrl-C and SIGTERM are handled from the moment this module is imported (the console script
imports it first): one arriving while the rest is imported is remembered and ends the command
as soon as ``main`` begins; one arriving in ``main`` before the run takes over its signals
(settling the plan, loading the scenario, starting workers) ends it with one line, the
documented exit code, and nothing left behind.
"""
from __future__ import annotations

import _signal  # the C module: the handler goes in before ``signal`` imports enum (~10 ms at start-up)


class EarlySignal(BaseException):
    """Ctrl-C or SIGTERM before the run took over its signals."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_early: list[int] = []  # a signal that came while this module was still being imported
_in_main = [False]


def _on_early_signal(signum: int, frame: object) -> None:
    if _in_main[0]:
        raise EarlySignal(signum)
    _early.append(signum)  # raising here would be a traceback out of an import


for _sig in (_signal.SIGINT, _signal.SIGTERM):  # first, before the imports below
    try:
        _signal.signal(_sig, _on_early_signal)
    except ValueError:  # not the main thread (imported by a test's thread): leave them be
        pass

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import click  # noqa: E402

from .. import __version__
from ..model.errors import ExitCode, SurgeError
from ..model.redact import redact_text
from .bench import bench_command  # noqa: E402
from .capacity import capacity_command  # noqa: E402
from .compare import compare_command  # noqa: E402
from .db import db_group  # noqa: E402
from .monitor import monitor_command  # noqa: E402
from .report import report_command  # noqa: E402
from .session import Session

RUN_HELP = """Run SCENARIO (a Python file of HttpUser classes, or a locustfile) against --host.
SCENARIO may be left out when the config file sets scenario = "..." (or
locust.conf sets locustfile = ...). Locust's flags -u -r -t -H -f -T -E
--headless --csv --html --stop-timeout --exit-code-on-error work as in Locust.

\b
Closed workload: --users N [--spawn-rate R] [--duration D], --stage 30s:50
                 (repeatable), or --profile NAME.
Open workload:   --rate R [--duration D], or --profile NAME --rate R.
--iterations N ends either after N iterations; --list and --dry-run show
the scenario or the plan without running it.
Profiles: smoke, load (baseline), peak, stress, spike, soak, ramp.
Durations: 500ms, 2s, 5m, 1h; a bare number is seconds.

\b
Exit codes: 0 passed; 1 thresholds failed or a regression against --baseline
(or, with no thresholds set, requests failed: --exit-code-on-error changes
that code); 2 usage or configuration error;
3 could not proceed or did nothing (target unreachable, scenario failed to import,
no request sent, no user started, a worker lost without --allow-worker-loss);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""


def _workload_options(fn):
    options = [
        click.option("--host", "-H", metavar="URL", help="Target base URL, e.g. http://127.0.0.1:8000 (default: the user class's host)."),
        click.option("--profile", "-p", metavar="NAME", help="Built-in load profile: smoke, load, baseline, peak, stress, spike, soak, ramp."),
        click.option("--users", "-u", "--vus", "users", metavar="N",
                     help="Concurrent virtual users (closed workload); scales a profile's peak."),
        click.option("--spawn-rate", "-r", metavar="PER_S", help="Users started per second (default: all within 1 s)."),
        click.option("--rate", metavar="PER_S", help="Iterations per second (open workload); scales a profile's peak."),
        click.option("--arrival", metavar="uniform|poisson",
                     help="Open workload: arrivals evenly spaced (default) or a Poisson process at the rate."),
        click.option("--seed", metavar="N", help="With --arrival poisson: seed the arrival times (same seed, same times)."),
        click.option("--max-users", metavar="N", help="Open workload: cap on concurrent virtual users (default max(100, 10 x rate))."),
        click.option("--stage", "stages", metavar="DURATION:TARGET", multiple=True,
                     help="A stage, k6's form: --stage 30s:50 moves to 50 users over 30 s (repeat, in order; "
                          "30s:50/s moves to 50 iterations/s)."),
        click.option("--duration", "-d", "-t", "--run-time", "duration", metavar="DURATION", help="Run length (default 1m); with --profile, stretches the whole profile."),
        click.option("--processes", metavar="N", help="Worker processes (default: the CPUs this process may use)."),
        click.option("--iterations", "-i", metavar="N",
                     help="End the run once N task picks (open: arrivals) have started across all users, split like "
                          "users; --duration still caps it (default then 10m)."),
        click.option("--think-time", metavar="DURATION|0",
                     help="Every user class's wait_time for this run: 0 (none), 500ms, 2s (closed workloads)."),
        click.option("--tags", "-T", metavar="TAG", multiple=True, help="Only run tasks with one of these tags (repeat or comma-separate)."),
        click.option("--exclude-tags", "-E", metavar="TAG", multiple=True, help="Skip tasks with one of these tags."),
        click.option("--user-classes", metavar="CLASS", multiple=True, help="Only run these user classes."),
        click.option("--timeout", metavar="DURATION", help="Request timeout (default 30s)."),
        click.option("--connect-timeout", metavar="DURATION", help="TCP/TLS connect timeout (default 10s)."),
        click.option("--graceful-stop", "--stop-timeout", "graceful_stop", metavar="DURATION",
                     help="Time in-flight requests get at the end (default 5s)."),
        click.option("--interval", metavar="DURATION", help="Snapshot and history interval (default 1s, at least 100ms)."),
        click.option("--hook-timeout", metavar="DURATION",
                     help="How long setup() and teardown() may take before they are abandoned (default 60s)."),
        click.option("--monitor-pid", metavar="PID", help="Watch this process (and its children) during the run: memory, CPU, threads, FDs."),
        click.option("--monitor-port", metavar="PORT", help="Watch the process listening on this port of this machine."),
        click.option("--monitor-cmd", metavar="'CMD ARGS'",
                     help="Start this command as the target, watch it, stop it after the run (its output: target.log)."),
        click.option("--db", metavar="URL", help="Watch this PostgreSQL database during the run, e.g. postgresql://app@127.0.0.1/app."),
        click.option("--redis", metavar="URL", help="Watch this Redis during the run, e.g. redis://127.0.0.1:6379/0."),
        click.option("--monitor-interval", metavar="DURATION", help="How often monitors sample (default 1s)."),
        click.option("--no-host-monitor", "host_monitor", flag_value=False, default=None,
                     help="Do not sample this machine's CPU, memory, network and disk."),
        click.option("--health", metavar="PATH", help="Path polled before the run starts, e.g. /health."),
        click.option("--health-timeout", metavar="DURATION", help="How long --health waits for the target (default 30s)."),
        click.option("--out", "-o", metavar="DIR", help="Results folder (default results/<scenario>-<profile>-<UTC time>/)."),
        click.option("--baseline", metavar="DIR",
                     help="Compare this run with the results folder DIR at the end, as `surge compare` does "
                          "with its defaults (see `surge compare --help`): a regression fails the "
                          "run like a threshold (exit 1); compare.json and compare.md go into the results folder."),
        click.option("--insecure", is_flag=True, default=None, help="Skip TLS certificate verification."),
        click.option("--follow-redirects", is_flag=True, default=None, help="Follow 3xx redirects."),
        click.option("--no-compression", "compression", is_flag=True, flag_value=False, default=None,
                     help="Do not send 'Accept-Encoding: gzip, deflate' by default (compressed bodies are still decoded)."),
        click.option("--header", "headers", metavar="'NAME: VALUE'", multiple=True, help="Extra header for every request: 'Name: value'."),
        click.option("--threshold", metavar="'TARGET: EXPR'", multiple=True, help="SLA threshold 'TARGET: STAT OP VALUE', e.g. 'GET /v1/facts: p95<50ms'."),
        click.option("--thresholds", "thresholds_file", metavar="FILE", help="TOML file with a [thresholds] table."),
        click.option("--abort-on-fail", is_flag=True, default=None, help="Abort the run as soon as a threshold fails."),
        click.option("--abort-grace", metavar="DURATION", help="No abort before this much time has passed."),
        click.option("--until-break", is_flag=False, flag_value="5000", default=None, metavar="[MAX_USERS]",
                     help="stress profile: keep stepping up (to MAX_USERS, default 5000) until a threshold breaks "
                          "on a step's own window (after --abort-grace, default a quarter of the step)."),
        click.option("--step-users", metavar="N", help="stress profile: users added each step (default 100)."),
        click.option("--step-duration", metavar="DURATION", help="stress profile: how long each step lasts (default 2m)."),
        click.option("--shape", is_flag=True, default=None,
                     help="Let the scenario's LoadTestShape drive the users, for as long as it ticks (--duration caps it)."),
        click.option("--allow-worker-loss", is_flag=True, default=None,
                     help="A lost worker leaves the verdict as it is, with a warning (default: the run errors, exit 3)."),
        click.option("--exit-code-on-error", metavar="CODE",
                     help="Exit code when requests failed and no threshold is set (default 1; 0 passes such runs)."),
        click.option("--live", type=click.Choice(["auto", "rich", "lines", "off"]), default=None,
                     help="Live view: rich (terminal), lines (CI logs), off. Default auto."),
        click.option("--list", "list_scenario", is_flag=True, default=False,
                     help="Print the scenario's user classes and tasks (weights, tags) and exit; no load, no --host."),
        click.option("--dry-run", is_flag=True, default=False,
                     help="Print the settled plan (stages, users per class and worker, thresholds, results folder) "
                          "and exit; nothing starts."),
        click.option("--config", metavar="FILE", help="Config file (default surge.toml, or [tool.surge] in pyproject.toml; "
                                                        "a FILE.conf is a locust.conf)."),
        click.option("--locustfile", "-f", metavar="FILE", help="Locust's spelling of SCENARIO."),
        click.option("--headless", is_flag=True, default=None, help="Accepted for Locust's command lines: surge runs headless."),
        click.option("--csv", metavar="PREFIX", help="Also write Locust's PREFIX_stats.csv, PREFIX_stats_history.csv, "
                                                     "PREFIX_failures.csv and PREFIX_exceptions.csv."),
        click.option("--html", metavar="FILE", help="Also write the run's report.html to FILE."),
        click.option("--debug", is_flag=True, default=None, help="Show tracebacks."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="surge")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """surge: load and performance testing for HTTP APIs.

    \b
    surge demo                     the built-in sample API under a real smoke test
    surge run scenario.py --host http://127.0.0.1:8000 --profile load
    """
    ctx.ensure_object(Session)


@cli.command("run", help=RUN_HELP)
@click.argument("scenario", required=False)
@_workload_options
@click.pass_obj
def run_command(session: Session, scenario: str | None, list_scenario: bool, dry_run: bool, **options) -> None:
    from .execute import execute

    if list_scenario and dry_run:
        raise click.UsageError("--list and --dry-run: choose one")
    show = "list" if list_scenario else "plan" if dry_run else None
    from pathlib import Path

    from .locust_flags import settle_locust

    scenario, cleaned, files = settle_locust(scenario, _clean(options), Path.cwd())
    sys.exit(execute({"scenario": scenario, **cleaned}, session=session, show=show, locust_outputs=files))


@cli.command("demo")
@click.option("--duration", "-d", metavar="DURATION", help="How long the smoke run lasts (default 30s).")
@click.option("--users", "-u", metavar="N", help="Virtual users (default 5, the smoke profile).")
@click.option("--processes", metavar="N", help="Worker processes (default: the CPUs this process may use).")
@click.option("--out", "-o", metavar="DIR", help="Results folder (default results/corrections-smoke-<UTC time>/).")
@click.option("--live", type=click.Choice(["auto", "rich", "lines", "off"]), default=None,
              help="Live view: rich (terminal), lines (CI logs), off. Default auto.")
@click.option("--debug", is_flag=True, default=None, help="Show tracebacks.")
@click.pass_obj
def demo_command(session: Session, **options) -> None:
    """Start the built-in sample API on 127.0.0.1, run the example scenario against it under the
    smoke profile with the sample SLA thresholds, write the results and stop the API."""
    from .demo import run_demo

    sys.exit(run_demo(_clean(options), session=session))


cli.add_command(bench_command)
cli.add_command(capacity_command)
cli.add_command(compare_command)
cli.add_command(db_group)
cli.add_command(monitor_command)
cli.add_command(report_command)


def _clean(options: dict) -> dict:
    """Drop what the user did not pass; join repeated and comma-separated list flags."""
    out = {}
    for key, value in options.items():
        if value is None or value == ():
            continue
        if key in ("tags", "exclude_tags", "user_classes"):
            value = [item.strip() for v in value for item in v.split(",") if item.strip()]
        elif key in ("threshold", "stages"):
            value = list(value)
        elif key == "headers":
            value = dict(_header(h) for h in value)
        out[key] = value
    return out


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():  # the rest may be a token the colon was meant to precede
        shown = text.split(None, 1)[0] + " ***" if " " in text.strip() else text
        raise click.UsageError(f"--header {shown!r} is not 'Name: value'")
    return name.strip(), value.strip()


def _signal_code(signum: int) -> int:
    return int(ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED)


def main(argv: list[str] | None = None) -> None:
    """Entry point: click in non-standalone mode so that every error is one line and a documented code."""
    argv = sys.argv[1:] if argv is None else argv
    session = Session(debug="--debug" in argv or os.environ.get("SURGE_DEBUG", "").lower() in ("1", "true", "yes"))
    _in_main[0] = True
    try:
        if _early:
            raise EarlySignal(_early[0])
        if argv[:1] == ["run"]:  # Locust's flags that surge has no counterpart for: one line, exit 2
            from .locust_flags import check_argv

            argv = ["run", *check_argv(argv[1:])]
        code = cli.main(args=argv, prog_name="surge", standalone_mode=False, obj=session)
    except BaseException as exc:
        code = _exit_for(exc, session)
    sys.exit(int(code or 0))


def _signal_behind(exc: BaseException) -> int | None:
    """The signal an exception stands for: a Ctrl-C / SIGTERM itself, or one that code in between
    wrapped (a dataclass being created turns it into a RuntimeError, a scenario import into a
    ScenarioError): the user stopped us, that is not a bug or a bad scenario."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, EarlySignal):
            return exc.signum
        if isinstance(exc, KeyboardInterrupt):
            return int(signal.SIGINT)
        exc = exc.__cause__ or exc.__context__
    return None


def _exit_for(exc: BaseException, session: Session) -> int:
    """One line and the documented exit code for whatever ended the command."""
    signum = _signal_behind(exc)
    if signum is not None:
        if session.debug:
            traceback.print_exception(exc)
        click.echo(f"surge: interrupted by {signal.Signals(signum).name}", err=True)
        return _signal_code(signum)
    try:
        raise exc
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        code = ExitCode.USAGE
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        _error(f"surge: error: {exc.format_message()}{hint}")
        code = ExitCode.USAGE
    except click.Abort:
        code = ExitCode.INTERRUPTED
    except SurgeError as exc:
        if session.debug:  # the traceback, then the same line and exit code as without --debug
            traceback.print_exc()
        _error(f"surge: error: {exc}")
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # a bug of ours: one line, a hint, and the traceback only with --debug
        if session.debug:
            traceback.print_exc()
        _error(f"surge: internal error: {type(exc).__name__}: {exc} "
               "(run with --debug for the traceback, and please report it)")
        code = ExitCode.CANNOT_PROCEED
    return int(code or 0)


def _error(line: str) -> None:
    """An error line on stderr, scrubbed of credentials: it may quote a URL with a password or a
    header value (``--host 'http://alice:***@...' has an invalid port``)."""
    click.echo(redact_text(line), err=True)


if __name__ == "__main__":
    main()
