"""redact_url / redact_headers / redact_summary (surge.model.redact): secrets never reach an output."""
from __future__ import annotations

import pytest

from surge.model.redact import MASK, redact_headers, redact_summary, redact_text, redact_url

from .conftest import PASSWORD


@pytest.mark.parametrize("url,expected", [
    ("http://user:pass@host", "http://user:***@host"),
    ("https://user:p%40ss@host:8443/base?q=1#f", "https://user:***@host:8443/base?q=1#f"),
    ("http://user:a@b@host/x", "http://user:***@host/x"),
    ("http://host:8080/x", "http://host:8080/x"),
    ("http://user@host", "http://user@host"),
    ("http://[::1]:80/", "http://[::1]:80/"),
    ("not a url", "not a url"),
    ("", ""),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redact_text_finds_urls_and_literal_secrets():
    text = f"connect to http://bob:{PASSWORD}@db:5432/x failed; retry with {PASSWORD}"
    out = redact_text(text, (PASSWORD,))
    assert PASSWORD not in out
    assert "http://bob:***@db:5432/x" in out
    assert redact_text("a b", ("a",)) == "a b"  # too short to search for literally


def test_redact_headers():
    headers = {"Authorization": "Bearer abc.def", "proxy-authorization": "Basic Zm9v", "Cookie": "s=1",
               "X-Api-Key": "k", "X-Auth-Token": "t", "Accept": "application/json", "Content-Type": "text/plain"}
    out = redact_headers(headers)
    assert out == {"Authorization": f"Bearer {MASK}", "proxy-authorization": f"Basic {MASK}", "Cookie": MASK,
                   "X-Api-Key": MASK, "X-Auth-Token": MASK, "Accept": "application/json",
                   "Content-Type": "text/plain"}
    assert headers["Authorization"] == "Bearer abc.def"  # a copy, the original is untouched
    assert redact_headers((("authorization", "rawtoken"),)) == {"authorization": MASK}


def test_redact_summary_scrubs_every_text_field(summary):
    out = redact_summary(summary)
    assert PASSWORD not in repr(out)
    assert PASSWORD in repr(summary)  # the input is not mutated (frozen anyway)
