"""Where settings come from (CLI, environment, config file), and turning raw values into typed ones.

Every raw value travels as a :class:`Raw` that remembers its origin, so any error can name
the key, the source (``--users``, ``SURGE_USERS`` or the file) and the bad value.
"""
from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..model.durations import parse_duration
from ..model.errors import ConfigError
from ..model.redact import redact_headers, redact_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
#: CLI spellings that are not ``--key-with-dashes`` (DESIGN.md: ``surge run SCENARIO``, ``--thresholds FILE``)
_CLI_LABELS = {"scenario": "SCENARIO", "thresholds_file": "--thresholds", "stages": "--stage"}


@dataclass(frozen=True)
class Raw:
    """One value as given, with its origin. ``base`` anchors relative paths (cwd or the file's dir)."""

    key: str
    value: Any
    origin: str  # "cli" | "env" | a config file path
    base: Path

    @property
    def label(self) -> str:
        """How the user wrote the key: ``--spawn-rate``, ``SURGE_SPAWN_RATE`` or ``spawn_rate in FILE``."""
        if self.origin == "cli":
            return _CLI_LABELS.get(self.key, "--" + self.key.replace("_", "-"))
        if self.origin == "env":
            return "SURGE_" + self.key.upper()
        return f"{self.key} in {self.origin}"

    def fail(self, problem: str) -> ConfigError:
        """``--users 0 is not a whole number >= 1`` (file: ``users 0 in surge.toml is ...``).
        The value is shown scrubbed: a bad host may carry a password, bad headers a token."""
        if self.origin in ("cli", "env"):
            return ConfigError(f"{self.label} {self.shown} {problem}")
        return ConfigError(f"{self.key} {self.shown} in {self.origin} {problem}")

    @property
    def shown(self) -> str:
        """The value as an error message quotes it, credentials masked."""
        value = self.value
        if isinstance(value, Mapping):
            value = redact_headers({str(k): v for k, v in value.items()})
        return redact_text(repr(value))


# -- sources ---------------------------------------------------------------------------------
def read_toml(path: Path, label: str) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{label} {str(path)!r}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{label} {str(path)!r} is not valid TOML: {exc}") from None


def find_config(explicit: Raw | None, cwd: Path) -> tuple[dict, Path | None]:
    """The config table and its file: ``--config``, else ./surge.toml, else ./pyproject.toml [tool.surge]."""
    if explicit is not None:
        path = explicit.base / str(explicit.value)
        return read_toml(path, explicit.label), path
    if (cwd / "surge.toml").is_file():
        return read_toml(cwd / "surge.toml", "config file"), cwd / "surge.toml"
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        table = read_toml(pyproject, "config file").get("tool", {}).get("surge")
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"[tool.surge] in {pyproject} must be a table")
            return table, pyproject
    return {}, None


def file_values(table: Mapping, path: Path, known: set[str]) -> dict[str, Raw]:
    """A config file's keys (``spawn-rate`` is accepted for ``spawn_rate``); unknown keys are errors."""
    out: dict[str, Raw] = {}
    for name, value in table.items():
        key = name.replace("-", "_")
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(known))}"
            raise ConfigError(f"unknown key {name!r} in {path}{hint}")
        out[key] = Raw(key, value, str(path), path.parent)
    return out


def env_values(env: Mapping[str, str], keys: set[str], cwd: Path) -> dict[str, Raw]:
    """``SURGE_<KEY>`` for each settable key; other ``SURGE_*`` variables are left alone."""
    return {k: Raw(k, env[f"SURGE_{k.upper()}"], "env", cwd) for k in keys if f"SURGE_{k.upper()}" in env}


def cli_values(cli: Mapping[str, Any], keys: set[str], cwd: Path) -> dict[str, Raw]:
    """What the user passed: keys whose value is None (or an empty tuple) were not given."""
    out: dict[str, Raw] = {}
    for key, value in cli.items():
        if value is None or value == ():
            continue
        if key not in keys:
            raise ConfigError(f"unknown option {key!r}")
        out[key] = Raw(key, value, "cli", cwd)
    return out


# -- conversions -------------------------------------------------------------------------------
def to_int(raw: Raw, minimum: int = 1) -> int:
    v = raw.value
    number = None
    if isinstance(v, int) and not isinstance(v, bool):
        number = v
    elif isinstance(v, float) and v.is_integer():
        number = int(v)
    elif isinstance(v, str) and v.strip().isdigit():
        number = int(v)
    if number is None or number < minimum:
        raise raw.fail(f"is not a whole number >= {minimum}")
    return number


def to_positive(raw: Raw) -> float:
    try:
        number = float(raw.value) if not isinstance(raw.value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise raw.fail("is not a number > 0")
    return number


def to_duration(raw: Raw, allow_zero: bool = False) -> float:
    seconds = parse_duration(raw.value, key=raw.label)
    if seconds == 0 and not allow_zero:
        raise raw.fail("is not a duration > 0")
    return seconds


def to_bool(raw: Raw) -> bool:
    if isinstance(raw.value, bool):
        return raw.value
    text = str(raw.value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise raw.fail("is not a boolean; use true/false (or 1/0, yes/no, on/off)")


def to_str(raw: Raw) -> str:
    if not isinstance(raw.value, str):
        raise raw.fail("is not a string")
    return raw.value.strip()


def to_list(raw: Raw) -> tuple[str, ...]:
    """A list of strings; ``"a,b"`` (env, CLI) splits on commas."""
    v = raw.value
    items = v.split(",") if isinstance(v, str) else v
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise raw.fail("is not a list of names (or a comma-separated string)")
    return tuple(i.strip() for i in items if i.strip())


def to_path(raw: Raw) -> str:
    """An absolute path; relative ones are taken from the cwd (CLI, env) or the config file's folder."""
    text = to_str(raw)
    if not text:
        raise raw.fail("is not a path")
    return str((raw.base / text).resolve())


#: k6's ``--out NAME=VALUE`` (json=FILE, csv=FILE, influxdb=URL, experimental-prometheus-rw...)
_K6_OUTPUT = re.compile(r"^[A-Za-z][\w-]*=")


def to_results_dir(raw: Raw) -> str:
    """A results folder, as :func:`to_path`; k6's ``json=FILE`` and URLs are refused, not made folders of."""
    text = to_str(raw)
    what = "k6's NAME=VALUE form" if _K6_OUTPUT.match(text) else "a URL" if "://" in text else None
    if what is not None:
        tail = "" if what == "a URL" else f"; for a folder of that name write ./{text}"
        raise raw.fail(f"is {what}: --out takes a results folder (summary.json, the CSVs, junit.xml go in it){tail}")
    return to_path(raw)


def to_choice(raw: Raw, choices: tuple[str, ...]) -> str:
    text = str(raw.value).strip().lower()
    if text not in choices:
        raise raw.fail(f"is not one of {', '.join(choices)}")
    return text


def to_url(raw: Raw) -> str:
    """An http(s) URL with a host part, without a trailing slash; empty: the scenario's ``host``."""
    text = to_str(raw)
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise raw.fail("is not a URL; use e.g. http://127.0.0.1:8000")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise raw.fail("has an invalid port; use e.g. http://127.0.0.1:8000") from None
    return text.rstrip("/")


def to_health(raw: Raw) -> str:
    """A path on the target (``/health``) or a full http(s) URL."""
    text = to_str(raw)
    if text.startswith("/"):
        return text
    if text.startswith(("http://", "https://")):
        return to_url(raw)
    raise raw.fail("is not a path; use e.g. /health")


def to_headers(raw: Raw) -> dict[str, str]:
    """A table ``{name = "value"}`` or a list of ``"Name: value"`` strings."""
    v = raw.value
    if isinstance(v, (list, tuple)) and all(isinstance(i, str) and ":" in i for i in v):
        v = dict((name.strip(), value.strip()) for name, _, value in (i.partition(":") for i in v))
    if not isinstance(v, Mapping) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise raw.fail('is not a table of header names to strings; use e.g. { Accept = "application/json" }')
    return dict(v)
