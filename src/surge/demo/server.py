"""``python -m surge.demo``: serve the demo API with uvicorn, on loopback unless told otherwise.

Once the socket is bound and the app has started, exactly one line goes to stdout:
``listening on http://HOST:PORT`` (with the real port when ``--port 0`` asked for a free one), so
a parent process can read the address instead of guessing it. Everything else (warnings,
errors) goes to stderr; there is no access log, which would cost more than the app itself.

Security rule: servers surge starts bind to 127.0.0.1. Any other address is refused (exit 2, one
line on stderr) unless ``--token`` is given, and then every route but ``/health`` requires
``Authorization: Bearer TOKEN``.
"""
from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Sequence

import uvicorn

from . import store
from .app import DEFAULT_DATABASE, create_app, resolve_database

EXIT_USAGE = 2
EXIT_CANNOT_START = 3


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # any other host name may resolve anywhere
        return False


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that prints the bound address once it is ready to accept requests."""

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            print(f"listening on {_url(host, port)}", flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m surge.demo", description="Serve surge's demo target API."
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (default 8000)")
    p.add_argument(
        "--db",
        default=None,
        help=f"SQLite path, {DEFAULT_DATABASE} or a postgresql:// URL "
        f"(default: $DATABASE_URL, else {DEFAULT_DATABASE})",
    )
    p.add_argument("--token", default=None, help="bearer token; required to bind beyond loopback")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    host = "127.0.0.1" if args.host == "localhost" else args.host  # one address, one port
    if not is_loopback(host) and not args.token:
        print(
            f"error: refusing to listen on {args.host}: the demo binds to loopback only "
            "unless --token TOKEN is given",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be 0..65535, got {args.port}", file=sys.stderr)
        return EXIT_USAGE
    database = resolve_database(args.db)
    try:
        store.check(database)
    except Exception as exc:  # sqlite3.Error, psycopg.Error, OSError: all mean "cannot start"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: cannot open the database: {reason}", file=sys.stderr)
        return EXIT_CANNOT_START
    config = uvicorn.Config(
        create_app(database, token=args.token),
        host=host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,  # launch.stop() kills after 5 s; finish well before
    )
    server = _AnnouncingServer(config)
    server.run()
    return 0 if server.started else EXIT_CANNOT_START


if __name__ == "__main__":
    raise SystemExit(main())
