"""``import surge`` is the scenario author's vocabulary, and importing it changes nothing else."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import surge

VOCABULARY = [
    "Counter", "HttpUser", "LoadTestShape", "Rate", "RequestEvent", "Response", "StopUser", "Trend", "User",
    "WebSocketClosed", "WebSocketTimeout", "__version__",
    "between", "constant", "constant_pacing", "poisson", "tag", "task",
]


def test_all_is_sorted_and_exactly_the_vocabulary():
    assert surge.__all__ == sorted(surge.__all__)
    assert surge.__all__ == VOCABULARY
    assert all(hasattr(surge, name) for name in surge.__all__)


def test_nothing_else_public_but_subpackages():
    extra = {n for n in dir(surge) if not n.startswith("_")} - set(surge.__all__)
    assert all(isinstance(getattr(surge, n), type(surge)) for n in extra), extra  # only submodules


def test_version_is_a_string():
    assert isinstance(surge.__version__, str) and surge.__version__.count(".") >= 1


PROBE = textwrap.dedent("""
    import asyncio, json, signal, sys, threading

    def handlers():
        out = {}
        for sig in signal.valid_signals():
            try:
                out[int(sig)] = repr(signal.getsignal(sig))
            except (ValueError, OSError):
                pass
        return out

    before = handlers()
    hook, policy, threads = sys.excepthook, asyncio.events._event_loop_policy, threading.active_count()
    import surge
    print(json.dumps({
        "handlers_changed": [s for s, h in handlers().items() if before.get(s) != h],
        "excepthook_changed": sys.excepthook is not hook,
        "policy_set": asyncio.events._event_loop_policy is not policy,
        "running_loop": asyncio.events._get_running_loop() is not None,
        "threads": threading.active_count() - threads,
        "cli_imported": any(m.startswith("surge.cli") for m in sys.modules),
        "uvloop_imported": "uvloop" in sys.modules,
    }))
""")


def test_import_installs_no_handler_starts_no_loop_and_sets_no_policy():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=30, check=True)
    report = json.loads(out.stdout)
    assert report == {
        "handlers_changed": [], "excepthook_changed": False, "policy_set": False, "running_loop": False,
        "threads": 0, "cli_imported": False, "uvloop_imported": False,
    }


def test_the_package_says_it_is_typed():
    from importlib import resources

    assert resources.files("surge").joinpath("py.typed").is_file()
