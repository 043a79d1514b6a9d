"""Analysis: pure functions over a finished run's data (DESIGN, "Where the next capabilities live").

``compare`` is pure; ``loader`` is the one place that reads a results folder into its inputs.
"""
