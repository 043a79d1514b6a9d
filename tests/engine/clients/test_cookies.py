"""The client's cookie jar (``cookies.py``) and what a followed redirect carries to another origin,
against real origins on loopback (tests/support/echo_origins.py records each request as it
arrived). Origin = scheme, host and port; cookies are scoped by host and path, not port."""
from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

import pytest

from support.echo_origins import Origin
from surge.engine.clients.http import ClientContext, HttpClient
from surge.metrics.recorder import Recorder

from .helpers import drive

CREDENTIALS = {"Authorization": "Bearer tok-1", "X-Api-Key": "key-2", "Proxy-Authorization": "Basic cHJveHk="}


@pytest.fixture
def first():
    with Origin() as origin:
        yield origin


@pytest.fixture
def other_host():
    """Another origin on another host name (localhost: the same loopback address)."""
    with Origin(hostname="localhost") as origin:
        yield origin


@pytest.fixture
def other_port():
    """Another origin on the same host (127.0.0.1), another port."""
    with Origin() as origin:
        yield origin


def set_cookie(*values: str) -> str:
    return "/set-cookie?" + "&".join(f"c={quote(v)}" for v in values)


def redirect(to: str, status: int = 302) -> str:
    return f"/redirect?to={quote(to, safe='')}&status={status}"


def cookie_lines(origin: Origin, path: str = "/echo") -> list[list[str]]:
    """The Cookie header lines of each request ``origin`` received for ``path``."""
    return [r.values("Cookie") for r in origin.requests_to(path)]


async def with_credentials(client: HttpClient) -> None:
    client.headers.update({**CREDENTIALS, "Cookie": "own=scenario"})
    await client.get(set_cookie("jar=first; Path=/"))


# -- redirects ----------------------------------------------------------------------------------
def test_a_redirect_to_another_host_carries_no_credential_and_no_cookie(first, other_host):
    async def body(client, recorder):
        await with_credentials(client)
        return await client.get(redirect(other_host.url + "/echo"), allow_redirects=True)

    resp = drive(first.url, body)
    assert resp.status == 200
    [arrived] = other_host.requests_to("/echo")
    names = {name.lower() for name, _ in arrived.headers}
    assert not names & {"authorization", "x-api-key", "proxy-authorization", "cookie"}, arrived.headers
    [sent] = first.requests_to("/redirect")  # the first origin did get them all, in one Cookie line
    assert sent.values("Authorization") == ["Bearer tok-1"] and sent.values("X-Api-Key") == ["key-2"]
    assert sent.values("Cookie") == ["own=scenario; jar=first"]


def test_a_redirect_within_the_origin_keeps_the_credentials_and_one_cookie_line(first):
    async def body(client, recorder):
        await with_credentials(client)
        await client.get(redirect("/echo"), allow_redirects=True)
        await client.get(redirect(first.url + "/echo", status=307), allow_redirects=True)  # absolute, same origin

    drive(first.url, body)
    for arrived in first.requests_to("/echo"):
        assert arrived.values("Authorization") == ["Bearer tok-1"]
        assert arrived.values("X-Api-Key") == ["key-2"]
        assert arrived.values("Cookie") == ["own=scenario; jar=first"]  # exactly one line
    assert len(first.requests_to("/echo")) == 2


def test_another_port_gets_no_credential_header_but_the_hosts_cookies(first, other_port):
    """Cookies are not scoped by port (RFC 6265 §8.5; browsers and curl alike), headers are."""
    async def body(client, recorder):
        await with_credentials(client)
        await client.get(redirect(other_port.url + "/echo"), allow_redirects=True)

    drive(first.url, body, follow_redirects=True)
    [arrived] = other_port.requests_to("/echo")
    assert arrived.values("Authorization") == [] and arrived.values("X-Api-Key") == []
    assert arrived.values("Proxy-Authorization") == []
    assert arrived.values("Cookie") == ["jar=first"]  # the jar's, for 127.0.0.1; not the scenario's header


def test_credentials_do_not_come_back_when_the_chain_returns_to_the_first_origin(first, other_host):
    async def body(client, recorder):
        await with_credentials(client)
        back = first.url + "/echo"
        await client.get(redirect(other_host.url + redirect(back)), headers={"X-Auth-Token": "tok-3"},
                         allow_redirects=True)

    drive(first.url, body)
    [arrived] = first.requests_to("/echo")
    assert arrived.values("Authorization") == [] and arrived.values("X-Auth-Token") == []
    assert arrived.values("Cookie") == ["jar=first"]  # the first origin's own cookies: the jar is scoped


def test_cookies_set_on_the_way_go_where_their_host_says(first, other_host):
    async def body(client, recorder):
        hop = other_host.url + set_cookie("there=1; Path=/")  # a 200 ends the chain: set it first
        await client.get(hop)
        await client.get(redirect(other_host.url + "/echo"), allow_redirects=True)
        await client.get("/echo")
        return dict(client.cookies)

    cookies = drive(first.url, body)
    assert cookie_lines(other_host) == [["there=1"]]
    assert cookie_lines(first) == [[]]  # localhost's cookie is not 127.0.0.1's
    assert cookies == {"there": "1"}


# -- the jar ------------------------------------------------------------------------------------
def test_path_secure_and_deletion_rules(first):
    async def body(client, recorder):
        await client.get(set_cookie("api=1; Path=/api", "root=2; Path=/", "tls=3; Path=/; Secure"))
        await client.get("/api/echo")
        await client.get("/echo")
        await client.get(set_cookie("root=; Max-Age=0; Path=/", "api=gone; Path=/api; Expires=Thu, 01 Jan 1970 00:00:00 GMT"))
        await client.get("/api/echo")
        return dict(client.cookies)

    cookies = drive(first.url, body)
    api, root = first.requests_to("/api/echo"), first.requests_to("/echo")
    assert api[0].values("Cookie") == ["api=1; root=2"]  # the longer path first; Secure only over https
    assert root[0].values("Cookie") == ["root=2"]
    assert api[1].values("Cookie") == []  # Max-Age=0 and a past Expires delete
    assert cookies == {"tls": "3"}


def test_a_cookie_expires_on_time(first):
    async def body(client, recorder):
        await client.get(set_cookie("short=1; Path=/; Max-Age=1", "long=2; Path=/; Max-Age=3600"))
        await client.get("/echo")
        await asyncio.sleep(1.05)
        deadline = time.time() + 1.5
        while True:  # cookiejar counts whole seconds: gone within one more second
            await client.get("/echo")
            if first.requests_to("/echo")[-1].values("Cookie") == ["long=2"] or time.time() > deadline:
                break
            await asyncio.sleep(0.05)

    drive(first.url, body)
    lines = cookie_lines(first)
    assert lines[0] == ["short=1; long=2"] and lines[-1] == ["long=2"]


def test_the_dict_view_sets_host_only_cookies_for_the_base_origin(first, other_host):
    async def body(client, recorder):
        client.cookies["mine"] = "a b"  # any text is kept whole
        await client.get("/echo")
        await client.get(other_host.url + "/echo")
        await client.get(set_cookie("mine=server; Path=/"))
        seen = dict(client.cookies)
        del client.cookies["mine"]
        client.cookies = {"x": "1", "y": "2"}
        await client.get("/echo")
        assert "mine" not in client.cookies and len(client.cookies) == 2
        with pytest.raises(KeyError):
            del client.cookies["nope"]
        client.cookies.clear()
        await client.get("/echo")
        return seen

    seen = drive(first.url, body)
    assert cookie_lines(first) == [["mine=a b"], ["x=1; y=2"], []]
    assert cookie_lines(other_host) == [[]]
    assert seen == {"mine": "server"}  # the server's replaced the scenario's: one cookie of a name


def test_a_client_that_never_gets_a_cookie_has_no_jar(first):
    async def body(client, recorder):
        await client.get("/echo")
        await client.get("/set-cookie")  # the route with no c=: no Set-Cookie header at all
        return client._jar

    assert drive(first.url, body) is None


def test_the_same_set_cookie_again_keeps_the_request_bytes_cached(first):
    """A sticky-session cookie on every response must not rebuild the request each time."""
    async def main():
        ctx = ClientContext(first.url, Recorder())
        client = HttpClient(ctx)
        try:
            await client.get(set_cookie("lb=node1; Path=/"))
            version = client._jar.version
            for _ in range(3):
                await client.get(set_cookie("lb=node1; Path=/"))
            await client.get(set_cookie("lb=node2; Path=/"))
            return version, client._jar.version
        finally:
            await client.close()

    before, after = asyncio.run(main())
    assert after == before + 1


def test_the_dict_view_is_a_mapping_with_a_plain_copy(first):
    async def body(client, recorder):
        await client.get(set_cookie("a=1; Path=/", "b=2; Path=/"))
        view = client.cookies
        assert view == {"a": "1", "b": "2"} and "a" in view and view.get("zz") is None
        view.update(c="3")
        assert view.pop("a") == "1" and view.setdefault("b", "x") == "2"
        return view.copy(), repr(view)

    copy, text = drive(first.url, body)
    assert copy == {"b": "2", "c": "3"} and type(copy) is dict and text == repr(copy)
