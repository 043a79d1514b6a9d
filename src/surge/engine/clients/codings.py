"""Content codings of response bodies (``Content-Encoding``), decoded when a body is read.

surge asks for ``gzip, deflate`` by default (``ACCEPT_ENCODING``, as requests and Locust's
HttpUser do) and decodes what comes back only when the scenario reads the body: the wire bytes
are what the recorder counts, and a task that never reads a body pays nothing for it.

``gzip`` (and ``x-gzip``) and ``deflate`` use the standard library; ``deflate`` is accepted both
zlib-wrapped (what RFC 9110 means) and raw (what some servers send). ``br`` needs ``brotli`` or
``brotlicffi`` and ``zstd`` needs ``zstandard`` (``pip install 'surge[compression]'``); a body
in a coding that cannot be decoded here is a :class:`DecodeError` naming it. Pure: no I/O.
"""
from __future__ import annotations

import functools
import gzip
import importlib
import re
import zlib
from collections.abc import Callable

from .errors import stable_message
from .head import final_head

#: the Accept-Encoding header sent unless the scenario sets its own or compression is off
ACCEPT_ENCODING = "gzip, deflate"
EXTRA_HINT = "pip install 'surge[compression]'"
#: the values of Content-Encoding in a head (~0.3 µs; parsing every header line takes ~4)
_CONTENT_ENCODING = re.compile(rb"\ncontent-encoding[ \t]*:([^\r\n]*)", re.IGNORECASE)


class DecodeError(ValueError):
    """A body that cannot be decoded from its Content-Encoding (corrupt, or no decoder here)."""

    def __init__(self, message: str) -> None:
        super().__init__(stable_message(message))


def may_be_encoded(raw: bytes) -> bool:
    """A cheap test that the head in ``raw`` may carry Content-Encoding (never a false negative)."""
    return bool(raw.lower().partition(b"content-encoding")[1])


def decode_body(raw: bytes, body: bytes) -> bytes:
    """``body`` decoded from the codings the final head in ``raw`` names, last applied first."""
    codings = [c.strip().lower() for value in _CONTENT_ENCODING.findall(_head(raw))
               for c in value.decode("latin-1").split(",")]
    for coding in reversed([c for c in codings if c and c != "identity"]):
        decoder = _decoder(coding)
        try:
            body = decoder(body)
        except DecodeError:
            raise
        except Exception as exc:  # zlib.error, gzip.BadGzipFile, EOFError, brotli.error, ZstdError
            raise DecodeError(f"{coding} body could not be decoded: {exc or type(exc).__name__}") from exc
    return body


def _head(raw: bytes) -> bytes:
    """The final head of ``raw``: most often simply up to the first blank line (~0.1 µs, where
    ``head.final_head`` takes ~2 µs to also step over interim 1xx heads and bare-LF ones)."""
    end = raw.find(b"\r\n\r\n")
    if end < 0 or raw[9:10] == b"1":  # HTTP/1.1 1xx ...: an interim head comes first
        return final_head(raw)
    return raw[:end]


def _gzip(body: bytes) -> bytes:
    return gzip.decompress(body)


def _deflate(body: bytes) -> bytes:
    try:
        return zlib.decompress(body)
    except zlib.error:
        return zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate, without the zlib wrapper


def _cannot(message: str) -> Callable[[bytes], bytes]:
    def fail(body: bytes) -> bytes:
        raise DecodeError(message)
    return fail


def _zstandard(zstandard) -> Callable[[bytes], bytes]:
    def decode(body: bytes) -> bytes:
        stream = zstandard.ZstdDecompressor().decompressobj()
        out = stream.decompress(body)
        if not stream.eof:  # zstandard hands back what it could of a cut-short frame, silently
            raise DecodeError("zstd body could not be decoded: the frame is incomplete")
        return out
    return decode


def _first_module(*names: str):
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


@functools.lru_cache(maxsize=16)
def _decoder(coding: str) -> Callable[[bytes], bytes]:
    """The function that decodes one coding; looked up once per process (a failed import is slow)."""
    if coding in ("gzip", "x-gzip"):
        return _gzip
    if coding == "deflate":
        return _deflate
    if coding == "br":
        brotli = _first_module("brotli", "brotlicffi")
        if brotli is None:
            return _cannot(f"br body cannot be decoded without brotli (or brotlicffi): {EXTRA_HINT}")
        return brotli.decompress
    if coding == "zstd":
        zstd = _first_module("compression.zstd")  # the standard library from Python 3.14
        if zstd is not None:
            return zstd.decompress
        zstandard = _first_module("zstandard")
        if zstandard is None:
            return _cannot(f"zstd body cannot be decoded without zstandard: {EXTRA_HINT}")
        return _zstandard(zstandard)
    return _cannot(f"{coding} body cannot be decoded: an unknown content coding "
                   "(surge decodes gzip, deflate, br and zstd)")
