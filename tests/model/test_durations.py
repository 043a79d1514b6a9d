"""Durations as users write them, everywhere: 500ms, 2s, 5m, 1h, compounds and bare seconds."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surge.model.durations import format_duration, parse_duration
from surge.model.errors import ConfigError


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("500ms", 0.5), ("2s", 2), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("1m30s", 90),
        ("1h0m5s", 3605), ("2s500ms", 2.5), ("1.5s", 1.5), ("0.5h", 1800), ("0s", 0), ("0", 0),
        ("90", 90), ("2.5", 2.5), (" 10S ", 10), ("5M", 300), (90, 90), (1.25, 1.25), (0, 0),
    ],
)
def test_valid_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)
    assert isinstance(parse_duration(text), float)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "5x", "s5", "5 s", "1h 30m", "ms", "5sm", "1.s", "--5s", "5s-", "inf", "nan", "-inf",
     "1e400", float("nan"), float("inf"), True],
)
def test_garbage_is_a_config_error_naming_the_key(text):
    with pytest.raises(ConfigError) as err:
        parse_duration(text, key="run.duration")
    assert err.value.message.startswith("run.duration:")
    assert err.value.hint  # says what a duration looks like


@pytest.mark.parametrize("text", ["-5", "-0.5", -1, -0.001])
def test_negative_durations_are_rejected(text):
    with pytest.raises(ConfigError, match="negative") as err:
        parse_duration(text, key="--graceful-stop")
    assert "--graceful-stop" in str(err.value)


def test_default_key_is_duration():
    with pytest.raises(ConfigError, match="^duration: 'soon'"):
        parse_duration("soon")


@pytest.mark.parametrize(
    "seconds, text",
    [(0, "0ms"), (0.25, "250ms"), (0.9994, "999ms"), (1, "1s"), (75, "1m15s"), (60, "1m"), (3600, "1h"),
     (5400, "1h30m"), (3661, "1h1m1s"), (7200, "2h"), (59.6, "1m"), (90.4, "1m30s")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@given(st.integers(1, 10 * 24 * 3600))
def test_whole_seconds_round_trip(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(0, 999))
def test_milliseconds_round_trip(ms):
    assert parse_duration(format_duration(ms / 1000)) == pytest.approx(ms / 1000)
