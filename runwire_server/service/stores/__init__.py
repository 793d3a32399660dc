"""Where runs, events, agents, approvals, threads and payload claims are kept.

Each record type has a protocol and a memory implementation in its own module
(``events``, ``runs``, ``agents``, ``approvals``, ``threads``, ``claims``)
and a Redis one in ``redis_*`` (loaded on their own: they import redis-py);
``factory.Stores`` groups one process's stores. ``projection`` folds events into
run records; ``paging`` and ``redis_index`` are the list helpers.
"""

__all__ = [
    "agents",
    "approvals",
    "claims",
    "events",
    "factory",
    "paging",
    "projection",
    "runs",
    "tenants",
    "threads",
]
