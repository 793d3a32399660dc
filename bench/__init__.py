"""Benchmarks: Runwire measured against a floor measured in the same process run.

Absolute times on a shared machine are noisy; the ratios are what to read.
``python -m bench`` runs every scenario (under 10 minutes on 2 cores) and prints
one table; ``python -m bench --quick`` is CI's smoke mode (under 90 s).
``python -m bench.profile`` profiles scenario 1 (or 5 with ``--temporal``).

Modules: ``stream_run`` (1), ``throughput`` (2), ``fanout`` (3), ``token_stream``
(4), ``temporal_runtime`` (5), ``harness`` (6), ``auth`` (7); ``common`` (options, rows,
servers, child processes), ``floor_server`` (the bare grpc.aio floor),
``temporal_floor`` (the minimal Temporal workflow); ``temporal_run`` and
``temporal_history`` are standalone measurements.
"""
