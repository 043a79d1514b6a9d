"""The demo target of ``surge demo``: a small "corrections" API, its example scenario and SLA file.

- :mod:`surge.demo.app` — the Starlette app (SQLite by default, PostgreSQL with ``DATABASE_URL``).
- :mod:`surge.demo.server` — ``python -m surge.demo``: serves it with uvicorn on loopback.
- :mod:`surge.demo.launch` — ``start_in_subprocess()`` / ``stop()`` for tools and tests.
- ``corrections.py`` (the example scenario) and ``sla.toml`` — what ``surge demo`` runs against it and judges it by.

Nothing here imports the rest of surge (the scenario excepted, which is a surge script): a
target that shared code with the tool measuring it could flatter it.
"""
