"""Pure data shared by every layer: the frozen test plan, workloads, summary records, errors.

Stdlib only; nothing here does I/O.
"""
