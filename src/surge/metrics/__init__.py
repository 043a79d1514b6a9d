"""Measurement: HDR histograms, the per-interval snapshot protocol, and run-wide aggregation."""
