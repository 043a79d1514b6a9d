"""Monitors: what the target, the host, the generator, PostgreSQL and Redis did during a run (see base.py)."""
