"""Runwire's composition: the code that wires ``service`` and ``worker`` into processes.

``app.wiring`` builds stores, providers, tools and runtimes from ``app.config.Settings``;
``app.server`` serves them over gRPC (``app.health``: the health service); ``app.cli`` is
the ``runwire`` command (``serve``, ``worker``, ``run``, ``demo``, ``health``, …);
``app.worker_process`` is a standalone Temporal worker. Nothing in ``service`` or ``worker``
imports this package.
"""

__all__ = [
    "cli",
    "config",
    "health",
    "render",
    "server",
    "temporal_client",
    "wiring",
    "worker_process",
]
