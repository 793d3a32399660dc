"""Runwire's Temporal worker: the ``runwire.AgentRun`` workflow and its activities.

Start one with ``python -m app worker`` or ``runwire worker``; scale by starting
more on the same task queue.
"""
