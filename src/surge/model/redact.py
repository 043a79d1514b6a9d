"""Keep secrets out of everything a run writes or prints.

A target URL may carry credentials (``http://user:pass@host``), a failure message may quote
that URL, and scenario headers often carry tokens. Results folders get attached to CI jobs and
pasted into tickets, so every output passes its text through these helpers first. Stdlib only.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from .summary import FailureGroup, RunSummary, ThresholdResult

MASK = "***"

#: Header names whose values are always secret (compared case-insensitively).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Header names that look like they carry a credential (``X-Api-Key``, ``X-Auth-Token``, ...).
_SECRET_HEADER_RE = re.compile(r"api[-_]?key|token|secret|passw(or)?d|credential|session|auth", re.I)
#: ``scheme://user:password@`` anywhere in free text (a failure message quoting the URL).
_USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:)[^\s/@]*@")
#: Secrets shorter than this are not searched for literally: "a" would mangle every message.
_MIN_LITERAL = 4


def redact_url(url: str) -> str:
    """``http://user:pass@host:8080/x`` -> ``http://user:***@host:8080/x``; other URLs unchanged."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not parseable as a URL (e.g. a bad port): fall back to the text rule
        return redact_text(url)
    if not password:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostport}"))


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask URL passwords inside free text, and any of ``secrets`` appearing literally."""
    text = _USERINFO_RE.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    for secret in secrets:
        if len(secret) >= _MIN_LITERAL:
            text = text.replace(secret, MASK)
    return text


def redact_headers(headers: Mapping[str, str] | tuple[tuple[str, str], ...]) -> dict[str, str]:
    """A copy of ``headers`` with credential values masked.

    ``Authorization: Bearer abc`` keeps its scheme (``Bearer ***``) because the scheme helps
    debugging and is not secret; other secret headers become ``***`` entirely.
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        lower = name.lower()
        if lower in ("authorization", "proxy-authorization") and " " in str(value).strip():
            scheme = str(value).strip().split(" ", 1)[0]
            out[name] = f"{scheme} {MASK}"
        elif lower in SECRET_HEADERS or _SECRET_HEADER_RE.search(lower):
            out[name] = MASK
        else:
            out[name] = value
    return out


def url_secrets(url: str) -> tuple[str, ...]:
    """The literal secrets a URL carries (its password), to scrub from other text."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return ()
    return (password,) if password else ()


def redact_summary(summary: RunSummary) -> RunSummary:
    """The summary with every free-text field scrubbed of the host's credentials.

    Writers call this first, so a caller cannot forget it and each writer stays safe alone.
    """
    secrets = url_secrets(summary.host)

    def scrub(text: str) -> str:
        return redact_text(text, secrets)

    def failure(f: FailureGroup) -> FailureGroup:
        return dataclasses.replace(f, message=scrub(f.message), name=scrub(f.name))

    def threshold(t: ThresholdResult) -> ThresholdResult:
        return dataclasses.replace(t, message=scrub(t.message))

    return dataclasses.replace(
        summary,
        host=redact_url(summary.host),
        failures=tuple(failure(f) for f in summary.failures),
        thresholds=tuple(threshold(t) for t in summary.thresholds),
        warnings=tuple(scrub(w) for w in summary.warnings),
        status_reasons=tuple(scrub(r) for r in summary.status_reasons),
        aborted_by=scrub(summary.aborted_by) if summary.aborted_by else summary.aborted_by,
    )
