"""Which headers a request carries: the layers merged in order, and what may cross to another origin.

Pure, and off the hot path: a client layers its headers once, when it is created, and strips
credentials only from the hops of a redirect that left the request's origin.
"""
from __future__ import annotations

from ...model.redact import is_secret_header


def without_credentials(headers: dict[str, str] | None) -> dict[str, str] | None:
    """``headers`` without Authorization, Proxy-Authorization, Cookie and secret-named ones
    (``X-Api-Key``, ``X-Auth-Token``...): what a redirect to another origin must not carry."""
    if not headers:
        return headers
    return {name: value for name, value in headers.items() if not is_secret_header(name)}


def layered(*sources: dict[str, str] | None) -> dict[str, str]:
    """Header dicts merged in order: a later source replaces an earlier one's header however
    spelt (``authorization`` over ``Authorization``), taking the later spelling."""
    out: dict[str, str] = {}
    for source in sources:
        if not source:
            continue
        if out:
            spelt = {key.lower(): key for key in out}
            for key in source:
                earlier = spelt.get(key.lower())
                if earlier is not None and earlier != key:
                    del out[earlier]
        out.update(source)
    return out
