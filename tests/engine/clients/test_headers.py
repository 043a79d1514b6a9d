"""Header layering and the credentials a cross-origin redirect drops (``headers.py``)."""
from __future__ import annotations

from surge.engine.clients.headers import layered, without_credentials


def test_a_later_layer_replaces_a_header_however_spelt():
    cls = {"authorization": "Bearer class", "Accept": "text/plain"}
    cli = {"Authorization": "Bearer cli", "X-Team": "cli"}
    assert layered(cls, None, cli) == {"Accept": "text/plain", "Authorization": "Bearer cli", "X-Team": "cli"}
    assert layered(None, {}) == {}
    assert cls == {"authorization": "Bearer class", "Accept": "text/plain"}  # the inputs stay as they were


def test_without_credentials_keeps_only_what_may_cross_origins():
    headers = {"Authorization": "Bearer a", "proxy-authorization": "Basic b", "Cookie": "s=1", "X-Api-Key": "k",
               "X-Auth-Token": "t", "Accept": "application/json", "X-Request-Id": "42"}
    assert without_credentials(headers) == {"Accept": "application/json", "X-Request-Id": "42"}
    assert without_credentials(None) is None
