"""Runwire's Temporal worker: the ``runwire.AgentRun`` workflow and its activities.

Start one with ``python -m runwire_server.app worker`` or ``runwire worker``; scale by starting
more on the same task queue.

Modules: ``workflows`` (``AgentRun`` and its effects), ``activities``
(``RunActivities``), ``interceptors`` (run ids on activity log lines) and
``factory`` (``build_worker``).
"""

__all__ = ["activities", "factory", "interceptors", "workflows"]
