"""Compatibility layers: scenario APIs of other tools mapped onto surge's engine."""
