"""Keep secrets out of everything a run writes or prints.

A target URL may carry credentials (``http://user:pass@host``), a failure message may quote that
URL or a request's query (``?api_key=...``), and scenario headers often carry tokens that a
task's exception then repeats (``raise Exception(f"bad {token}")``). Results folders get attached
to CI jobs and pasted into tickets, so every message is scrubbed two ways before it is written:

* **by pattern**: URL passwords, ``Bearer …`` / ``Basic …`` credentials, and the value after a
  secret-looking name (``api_key=…``, ``token: …``, ``'X-Api-Key': '…'``, ``Cookie: …``);
* **by value**: the secrets the run knows (header values of secret-named headers from the
  command line, the config file, user classes and requests; URL passwords), wherever they appear.

Scrubbing costs regular expressions per message, so it runs where a failure *message* is kept,
once per distinct message (:class:`Redactor` caches), never per request. Stdlib only.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from .summary import FailureGroup, RunSummary, ThresholdResult

MASK = "***"

#: Header names whose values are always secret (compared case-insensitively).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
#: Header names that look like they carry a credential (``X-Api-Key``, ``X-Auth-Token``, ...).
_SECRET_HEADER_RE = re.compile(r"api[-_]?key|token|secret|passw(or)?d|credential|session|auth", re.I)
#: ``scheme://user:password@`` anywhere in free text (a failure message quoting the URL).
_USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:)[^\s/@]*@")
#: ``Bearer <token>`` (any case) and ``Basic <base64>``: the scheme stays, it helps debugging.
_SCHEME_RE = re.compile(r"\b((?i:bearer)|Basic)(\s+)[A-Za-z0-9][A-Za-z0-9._~+/-]*=*")
#: ``Cookie: a=1; b=2`` / ``'cookie': '...'``: every pair of it, to the end of the value.
_COOKIE_RE = re.compile(r"""(?i)\b((?:set-)?cookie['"]?\s*[:=]\s*)(['"]?)[^'"\r\n]*""")
#: a secret-looking name (``api_key``, ``access_token``, ``X-Api-Key``, ``client_secret``,
#: ``password``, ``sig``, ``X-Amz-Signature``, ``key``...) then ``=`` or ``:`` and its value:
#: a query string, a form body, a header line, a JSON object or a Python dict/kwargs repr.
_PAIR_RE = re.compile(
    r"""(?ix)
    \b((?:[\w.-]*?(?:api[-_]?key|token|secret|passw(?:or)?d|signature|authorization|session(?:[-_]?id)?
           |credentials?|jwt)
         |(?:[\w.-]*[-_.])?(?:key|sig|pwd|auth))       # short words: alone or after a separator
      ['"]?\s*[:=]\s*)                                 # name, a closing quote, the separator
    (?:((?:bearer|basic|digest|negotiate)\s+)?)        # an auth scheme stays
    ('[^']*'|"[^"]*"|[^\s&;,'"<>(){}\[\]]+)            # the value, quoted or bare
    """)
#: Secrets shorter than this are not searched for literally: "a" would mangle every message.
_MIN_LITERAL = 4
#: literal secrets a Redactor keeps (per-user tokens could be many; the patterns still apply)
MAX_SECRETS = 1000
#: distinct messages whose redaction a Redactor remembers
_CACHE_ENTRIES = 4096


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


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask credentials in free text by pattern, and any of ``secrets`` appearing literally."""
    return _scrub(text, _longest_first(secrets))


def _longest_first(secrets: Iterable[str]) -> tuple[str, ...]:
    """The secrets worth searching for, longest first ("Bearer abcd" before "abcd")."""
    return tuple(sorted((s for s in secrets if len(s) >= _MIN_LITERAL), key=len, reverse=True))


def _scrub(text: str, ordered: tuple[str, ...]) -> str:
    text = _USERINFO_RE.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    text = _COOKIE_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _SCHEME_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _PAIR_RE.sub(_masked_pair, text)
    for secret in ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _masked_pair(m: re.Match) -> str:
    name, scheme, value = m.group(1), m.group(2) or "", m.group(3)
    if MASK in value:  # already masked (``'Bearer ***'``): keep what is left of it
        return m.group(0)
    quote = value[0] if value[0] in "'\"" else ""
    return f"{name}{scheme}{quote}{MASK}{quote}"


def is_secret_header(name: str) -> bool:
    """Whether a header of this name carries a credential (Authorization, Cookie, X-Api-Key...)."""
    lower = name.lower()
    return lower in SECRET_HEADERS or _SECRET_HEADER_RE.search(lower) is not None


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
        elif is_secret_header(name):
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


def header_secrets(name: str, value: str) -> tuple[str, ...]:
    """The literal secrets a header carries: its whole value, and the parts a message may quote
    alone (the token of ``Bearer <token>``, each value of ``Cookie: a=1; b=2``). Nothing for a
    header whose name does not look secret."""
    if not isinstance(value, str) or not is_secret_header(name):
        return ()
    value = value.strip()
    parts = [value]
    if "cookie" in name.lower():
        parts += [pair.partition("=")[2].strip() for pair in value.split(";")]
    elif " " in value:
        parts.append(value.split(None, 1)[1])  # the credential of ``Bearer <token>``
    return tuple(p for p in parts if len(p) >= _MIN_LITERAL)


class Redactor:
    """Scrubs messages by pattern and by the literal secrets it was told (:meth:`learn_headers`,
    :meth:`learn_url`). Call it: ``redactor(text)``. Results are cached per distinct message, so
    a failure repeated a million times costs one scrub per interval it appears in, or less."""

    def __init__(self, *, urls: Iterable[str] = (), headers: Iterable[Mapping[str, str] | None] = ()) -> None:
        self._secrets: dict[str, None] = {}  # ordered set
        self._ordered: tuple[str, ...] | None = None  # the same, longest first (once per change)
        self._cache: dict[str, str] = {}
        self._names: dict[str, bool] = {}  # header name -> secret-looking (a few distinct names)
        for url in urls:
            self.learn_url(url)
        for mapping in headers:
            if mapping:
                self.learn_headers(mapping)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def learn_url(self, url: str | None) -> None:
        for secret in url_secrets(url or ""):
            self._learn(secret)

    def learn_headers(self, headers: Mapping[str, str]) -> None:
        """Remember the values of the secret-named ones. Cheap enough for a request's own
        ``headers=`` (a dict lookup per name; values already known cost a set lookup)."""
        names = self._names
        for name, value in headers.items():
            secret = names.get(name)
            if secret is None:
                secret = is_secret_header(name)
                if len(names) < _CACHE_ENTRIES:
                    names[name] = secret
            if secret and value not in self._secrets:
                self._learn(value)
                for part in header_secrets(name, value):
                    self._learn(part)

    def _learn(self, secret) -> None:
        if (isinstance(secret, str) and len(secret) >= _MIN_LITERAL and secret not in self._secrets
                and len(self._secrets) < MAX_SECRETS):
            self._secrets[secret] = None
            self._ordered = None
            self._cache.clear()  # a new secret may change any earlier result

    def __call__(self, text: str) -> str:
        done = self._cache.get(text)
        if done is None:
            if self._ordered is None:
                self._ordered = _longest_first(self._secrets)
            done = _scrub(text, self._ordered)
            if len(self._cache) >= _CACHE_ENTRIES:
                self._cache.clear()
            self._cache[text] = done
        return done


def redact_summary(summary: RunSummary, redactor: Redactor | None = None) -> RunSummary:
    """The summary with every free-text field scrubbed (by ``redactor``'s secrets too, when given).

    Writers call this first, so a caller cannot forget it and each writer stays safe alone.
    Failure groups that scrub to the same text are merged (``bad tokA`` and ``bad tokB``).
    """
    scrub = redactor if redactor is not None else Redactor(urls=(summary.host,))

    def threshold(t: ThresholdResult) -> ThresholdResult:
        return dataclasses.replace(t, message=scrub(t.message))

    return dataclasses.replace(
        summary,
        host=redact_url(summary.host),
        failures=_merged(summary.failures, scrub),
        thresholds=tuple(threshold(t) for t in summary.thresholds),
        warnings=tuple(scrub(w) for w in summary.warnings),
        status_reasons=tuple(scrub(r) for r in summary.status_reasons),
        aborted_by=scrub(summary.aborted_by) if summary.aborted_by else summary.aborted_by,
        findings=tuple(dataclasses.replace(f, message=scrub(f.message)) for f in summary.findings),
    )


def _merged(failures: tuple[FailureGroup, ...], scrub: Redactor) -> tuple[FailureGroup, ...]:
    counts: Counter[tuple] = Counter()
    for f in failures:
        counts[(f.method, scrub(f.name), f.kind, scrub(f.message))] += f.count
    return tuple(FailureGroup(m, n, k, msg, c) for (m, n, k, msg), c in counts.most_common())
