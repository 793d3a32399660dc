"""Benchmarks: Runwire measured against a floor measured in the same process run.

Absolute times on a shared machine are noisy; the ratios are what to read.
Run ``python -m bench`` (full) or ``python -m bench --quick`` (CI's smoke mode).
"""
