"""What cookies cost per request: surge's closed loop in memory (``hotpath.py``'s peer), seven ways.

- **none**: no cookie at all (the cost every client pays; a cookie jar must not change it);
- **scenario**: ``on_start`` sets ``self.client.cookies["s"]``, every request carries it;
- **sticky**: every response sets the same cookie again (``Set-Cookie: s=abc; Path=/``, a load
  balancer's sticky-session cookie);
- **rolling**: every response sets it with a fresh ``Max-Age`` (a sliding session expiry);
- **kw** and **kw-scenario**: a request with keywords (``name=``, built for every request: no
  bytes cache), without a cookie and with the scenario's;
- **kw-headers**: a request with its own ``headers=`` (an API key the redactor learns).

    .venv/bin/python benchmarks/cookies.py                       # 5 interleaved rounds of 100,000
    .venv/bin/python benchmarks/cookies.py --src /other/checkout/src   # the same against another tree

Prints CPU µs per request (median of the rounds) for each.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

import hotpath

SCENARIO = """
from surge import HttpUser, constant, task

class Hello(HttpUser):
    wait_time = constant(0)

    async def on_start(self):
        if {scenario_cookie}:
            self.client.cookies["s"] = "abc"

    @task
    async def index(self):
        await self.client.get("/"{keywords})
"""
HEAD = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 10:00:00 GMT\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n")
#: variant -> (the response, whether on_start sets a cookie, the request's keywords)
VARIANTS = {
    "none": (HEAD + b"\r\nok", False, ""),
    "scenario": (HEAD + b"\r\nok", True, ""),
    "sticky": (HEAD + b"Set-Cookie: s=abc; Path=/\r\n\r\nok", False, ""),
    "rolling": (HEAD + b"Set-Cookie: s=abc; Path=/; Max-Age=3600\r\n\r\nok", False, ""),
    "kw": (HEAD + b"\r\nok", False, ', name="/"'),
    "kw-scenario": (HEAD + b"\r\nok", True, ', name="/"'),
    "kw-headers": (HEAD + b"\r\nok", False, ', headers={"X-Api-Key": "key-1234"}'),
}


def measure(variant: str, users: int, requests: int, folder: Path) -> float:
    response, scenario_cookie, keywords = VARIANTS[variant]

    class Transport(hotpath.EchoTransport):
        pass

    class Loop(hotpath.InMemoryLoop):
        transport_class = Transport

    Transport.response = response
    path = folder / f"cookies_{variant.replace('-', '_')}.py"
    path.write_text(textwrap.dedent(SCENARIO.format(scenario_cookie=scenario_cookie, keywords=keywords)))
    return hotpath.cpu_us_per_request(Loop(), hotpath.run_surge(users, requests, path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(VARIANTS))
    parser.add_argument("--src", help="the surge source tree to measure (default: this checkout's)")
    args = parser.parse_args()
    if args.src:
        sys.path.insert(0, args.src)  # before surge is first imported (hotpath imports it lazily)
    hotpath.import_surge()
    names = args.only.split(",")
    results: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):  # interleaved: a noisy neighbour hits every variant alike
            for name in names:
                results[name].append(measure(name, args.users, args.requests, Path(tmp)))
    for name in names:
        values = results[name]
        print(f"{name:11} {statistics.median(values):6.2f} µs/request  "
              f"({min(values):.2f}-{max(values):.2f}, {args.rounds} x {args.requests:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
