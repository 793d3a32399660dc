"""Runwire: a gRPC service that runs tool-calling AI agents.

Packages: ``service.api`` (gRPC servicers), ``service.agent`` (the
engine-agnostic agent loop), ``service.llm`` (model providers),
``service.tools`` (tool registry and built-ins), ``service.runtimes``
(executors of the loop), ``service.stores`` (event log, runs, agents,
approvals, threads).
"""

__version__ = "0.1.0"
