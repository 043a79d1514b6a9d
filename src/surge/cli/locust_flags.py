"""Locust's command line on ``surge run``: its flags, ``locust.conf`` and ``[tool.locust]``.

The flags that mean the same in surge are aliases declared on ``surge run`` itself (``-u``,
``-r``, ``-t/--run-time``, ``-H``, ``-T/--tags``, ``-E/--exclude-tags``, ``--stop-timeout``,
``--exit-code-on-error``, ``-f``, ``--headless``, ``--csv``, ``--html``). This module does the rest:

* :func:`check_argv` refuses Locust flags surge has no counterpart for, with one line saying
  what to use instead (exit 2), and joins Locust's space-separated tag lists (``--tags a b``);
* :func:`settle_locust` resolves ``-f``, for a locustfile reads ``locust.conf`` /
  ``[tool.locust]`` (below the command line), and says whether a ``LoadTestShape`` may drive
  the users (no workload flag given), as Locust lets it.

It reads files and argv only; it imports nothing of the engine (``surge --help`` stays quick).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

from ..model.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

_DISTRIBUTED = "surge runs one worker per CPU by itself (--processes N); there is no master/worker to start"
#: Locust flags with no surge counterpart -> what to use instead
UNSUPPORTED_FLAGS = {
    "--master": _DISTRIBUTED, "--worker": _DISTRIBUTED, "--master-host": _DISTRIBUTED,
    "--master-port": _DISTRIBUTED, "--master-bind-host": _DISTRIBUTED, "--master-bind-port": _DISTRIBUTED,
    "--expect-workers": _DISTRIBUTED, "--expect-workers-max-wait": _DISTRIBUTED,
    "--web-host": "surge has no Locust web UI: the run is headless (the live view is --live)",
    "--web-port": "surge has no Locust web UI: the run is headless (the live view is --live)",
    "-P": "surge has no Locust web UI: the run is headless (the live view is --live)",
    "--web-auth": "surge has no Locust web UI", "--web-login": "surge has no Locust web UI",
    "--tls-cert": "surge has no Locust web UI", "--tls-key": "surge has no Locust web UI",
    "--autostart": "every surge run starts at once", "--autoquit": "every surge run ends by itself (-t)",
    "--modern-ui": "surge has no Locust web UI", "--legacy-ui": "surge has no Locust web UI",
    "--class-picker": "pick classes with --user-classes",
    "--csv-full-history": "PREFIX_stats_history.csv is written with --csv",
    "--reset-stats": "surge does not reset statistics when the users are spawned",
    "--only-summary": "use --live off (the summary is always printed at the end)",
    "--print-stats": "use --live lines for a line per interval",
    "--json": "the results folder's summary.json has every figure (--out DIR)",
    "--show-task-ratio": "use --list", "--show-task-ratio-json": "use --list",
    "--hatch-rate": "use -r / --spawn-rate",
    "--step-load": "use --stage DURATION:USERS (repeatable) or --profile stress",
    "--loglevel": "surge has no log levels; --debug shows tracebacks",
    "-L": "surge has no log levels; --debug shows tracebacks",
    "--logfile": "surge writes its results to the results folder (--out DIR)",
    "--skip-log-setup": "surge sets up no logging", "--equal-weights": "set weight on the user classes",
    "--enable-rebalancing": "users are split across workers exactly already",
    "--heartbeat-liveness": _DISTRIBUTED, "--heartbeat-interval": _DISTRIBUTED,
}
_TAG_FLAGS = ("--tags", "-T", "--exclude-tags", "-E")
#: locust.conf / [tool.locust] keys -> surge run's option names
_CONF_KEYS = {
    "locustfile": "locustfile", "host": "host", "users": "users", "spawn-rate": "spawn_rate",
    "run-time": "duration", "headless": "headless", "csv": "csv", "html": "html", "tags": "tags",
    "exclude-tags": "exclude_tags", "stop-timeout": "graceful_stop", "exit-code-on-error": "exit_code_on_error",
    "iterations": "iterations", "processes": "processes",
}
_IGNORED_CONF_KEYS = {"loglevel", "logfile", "headful", "skip-log-setup", "only-summary"}


def check_argv(args: list[str]) -> list[str]:
    """``surge run``'s arguments: unsupported Locust flags refused, ``--tags a b`` made ``--tags a,b``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag = arg.split("=", 1)[0]
        if flag in UNSUPPORTED_FLAGS:
            raise ConfigError(f"Locust's {flag} is not supported by surge run", UNSUPPORTED_FLAGS[flag])
        out.append(arg)
        i += 1
        if arg in _TAG_FLAGS:  # Locust takes a space-separated list after the flag
            tags = []
            while i < len(args) and not args[i].startswith("-") and not args[i].endswith(".py"):
                tags.append(args[i])
                i += 1
            if tags:
                out.append(",".join(tags))
    return out


def settle_locust(scenario: str | None, options: dict, cwd: Path) -> tuple[str | None, dict, dict]:
    """The scenario path, surge run's options and the Locust outputs (``csv``, ``html``).

    For a locustfile (a file importing ``locust``), ``locust.conf`` in ``cwd`` (or ``--config
    FILE.conf``) and ``[tool.locust]`` in ``./pyproject.toml`` fill what the command line left
    unset. ``auto_shape`` in the outputs: no workload flag was given, so a locustfile's
    ``LoadTestShape`` drives the users (``cli.execute`` decides once the file is loaded)."""
    options = dict(options)
    locustfile = options.pop("locustfile", None)
    options.pop("headless", None)
    if locustfile and scenario and locustfile != scenario:
        raise ConfigError(f"two scenario files: {scenario} and -f {locustfile}", "pass one")
    scenario = scenario or locustfile
    conf_path = options.get("config")
    conf: dict = {}
    if conf_path and str(conf_path).endswith(".conf"):
        options.pop("config")
        conf = read_locust_conf(Path(conf_path) if Path(conf_path).is_absolute() else cwd / conf_path)
    elif scenario is None or imports_locust(_path(scenario, cwd)):
        conf = {**_pyproject_table(cwd), **read_locust_conf(cwd / "locust.conf")}
    if scenario is None:
        scenario = conf.get("locustfile")
    for key, value in conf.items():
        if key != "locustfile":
            options.setdefault(key, value)
    outputs = {key: options.pop(key) for key in ("csv", "html") if options.get(key)}
    options.pop("headless", None)
    if not (set(options) & {"users", "profile", "rate", "stages", "shape", "until_break"}):
        outputs["auto_shape"] = True  # a locustfile's LoadTestShape, once loaded, drives the users
    return scenario, options, outputs


def _path(scenario: str, cwd: Path) -> Path:
    path = Path(scenario)
    return path if path.is_absolute() else cwd / path


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None  # the scenario loader reports it properly


def imports_locust(path: Path) -> bool:
    tree = _parse(path)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "locust" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "locust" and not node.level:
            return True
    return False


def read_locust_conf(path: Path) -> dict:
    """``key = value`` lines (ConfigArgParse's format, ``#`` comments, optional ``[section]``)."""
    if not path.is_file():
        return {}
    table: dict = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith(("#", ";", "[")):
            continue
        key, sep, value = text.partition("=")
        if not sep:
            key, _, value = text.partition(" ")
        table[key.strip()] = value.strip().strip('"').strip("'")
    return _translate(table, str(path))


def _pyproject_table(cwd: Path) -> dict:
    path = cwd / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("locust")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return _translate(table or {}, f"[tool.locust] in {path}")


def _translate(table: dict, where: str) -> dict:
    out = {}
    for raw_key, value in table.items():
        key = str(raw_key).replace("_", "-")
        if key in _IGNORED_CONF_KEYS:
            continue
        flag = f"--{key}"
        if flag in UNSUPPORTED_FLAGS:
            raise ConfigError(f"{raw_key} in {where}: Locust's {flag} is not supported by surge run",
                              UNSUPPORTED_FLAGS[flag])
        name = _CONF_KEYS.get(key)
        if name is None:
            raise ConfigError(f"{raw_key} in {where} is not a Locust option surge knows",
                              f"known: {', '.join(sorted(_CONF_KEYS))}")
        if name in ("tags", "exclude_tags"):
            items = value if isinstance(value, list) else str(value).strip("[]").replace(",", " ").split()
            value = [str(v).strip() for v in items if str(v).strip()]
        elif name == "headless":
            continue
        out[name] = value if isinstance(value, (list, bool)) or name == "locustfile" else str(value)
    return out
