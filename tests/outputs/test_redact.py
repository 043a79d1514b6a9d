"""redact_url / redact_headers / redact_summary (surge.model.redact): secrets never reach an output."""
from __future__ import annotations

import dataclasses

import pytest

from surge.model.kinds import FailureKind
from surge.model.redact import (
    MASK,
    MAX_SECRETS,
    Redactor,
    header_secrets,
    redact_headers,
    redact_summary,
    redact_text,
    redact_url,
)
from surge.model.summary import FailureGroup

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


@pytest.mark.parametrize("text,expected", [
    ("GET /x?api_key=k3y-123&page=2 failed", "GET /x?api_key=***&page=2 failed"),
    ("<Response GET /a?token=t0k&access_token=abc 500>", "<Response GET /a?token=***&access_token=*** 500>"),
    ("https://s3.test/o?X-Amz-Signature=beef&X-Amz-Credential=AKIA1", "https://s3.test/o?X-Amz-Signature=***&X-Amz-Credential=***"),
    ("password: hunter22, secret=xyz; sig=1", "password: ***, secret=***; sig=***"),
    ("{'Authorization': 'Bearer abc.def', 'X-Api-Key': 'k-1'}", "{'Authorization': 'Bearer ***', 'X-Api-Key': '***'}"),
    ('{"client_secret": "s", "expires_in": 3600}', '{"client_secret": "***", "expires_in": 3600}'),
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
    ("sent bearer eyJhbGciOi.x.y twice", "sent bearer *** twice"),
    ("Cookie: session=abc123; csrf=zz99", "Cookie: ***"),
    # not credentials: left alone (a false positive would hide the message's point)
    ("ZeroDivisionError: division by zero", "ZeroDivisionError: division by zero"),
    ("cannot connect to 127.0.0.1:8080: Connection refused", "cannot connect to 127.0.0.1:8080: Connection refused"),
    ("KeyError: 'token'", "KeyError: 'token'"),
    ("monkey=banana keyboard=qwerty", "monkey=banana keyboard=qwerty"),
    ("threshold GET /v1/facts: p95<50ms", "threshold GET /v1/facts: p95<50ms"),
])
def test_redact_text_patterns(text, expected):
    assert redact_text(text) == expected


def test_header_secrets_are_the_value_and_the_parts_a_message_may_quote_alone():
    assert header_secrets("Authorization", "Bearer tok-1234") == ("Bearer tok-1234", "tok-1234")
    assert header_secrets("Cookie", "sid=abcd1234; theme=dark") == ("sid=abcd1234; theme=dark", "abcd1234", "dark")
    assert header_secrets("X-Api-Key", "k-123456") == ("k-123456",)
    assert header_secrets("Accept", "application/json") == ()


def test_redactor_scrubs_what_it_learnt_by_value():
    redactor = Redactor(urls=["http://bob:pw-9876@h"], headers=[{"X-Api-Key": "k-123456", "Accept": "text/plain"}])
    assert redactor("pw-9876 k-123456 text/plain") == "*** *** text/plain"
    assert redactor("bad tok-5678") == "bad tok-5678"
    redactor.learn_headers({"authorization": "Bearer tok-5678"})  # a token set after login
    assert redactor("bad tok-5678") == "bad ***"  # the cached result was dropped with the new secret
    redactor.learn_headers({"X-Api-Key": "abc"})
    assert redactor("abc") == "abc"  # too short to search for literally


def test_redactor_keeps_a_bounded_number_of_secrets():
    redactor = Redactor()
    for n in range(MAX_SECRETS + 10):
        redactor.learn_headers({"Authorization": f"token-{n:06d}"})
    assert len(redactor.secrets) == MAX_SECRETS
    assert redactor("bad token-000001") == "bad ***"


def test_redact_summary_merges_groups_that_scrub_alike(summary):
    groups = (FailureGroup("TASK", "U.t", FailureKind.EXCEPTION, "bad tok-1111", 2),
              FailureGroup("TASK", "U.t", FailureKind.EXCEPTION, "bad tok-2222", 3))
    out = redact_summary(dataclasses.replace(summary, failures=groups),
                         Redactor(headers=[{"X-Token": "tok-1111"}, {"X-Token": "tok-2222"}]))
    assert out.failures == (FailureGroup("TASK", "U.t", FailureKind.EXCEPTION, "bad ***", 5),)
