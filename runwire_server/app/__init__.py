"""Runwire's composition: the code that wires ``service`` and ``worker`` into processes.

``wiring`` builds stores, providers, tools and runtimes from ``config.Settings``;
``server`` serves them over gRPC (``health``: the health service); ``cli`` holds the
server's commands of ``runwire`` (``serve``, ``worker``, ``run``, ``demo``, ``health``, …);
``worker_process`` is a standalone Temporal worker. Nothing in ``runwire_server.service`` or
``runwire_server.worker`` imports this package.
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
