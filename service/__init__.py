"""Runwire's building blocks: a gRPC service that runs tool-calling AI agents.

Layers, lowest first (imports point down only; ``tests/unit/test_layers.py`` checks it):
``service.core`` (messages, run spec, errors), then ``service.llm`` (model providers),
``service.tools`` (tool registry and built-ins) and ``service.stores`` (event log, runs,
agents, approvals, threads), then ``service.agent`` (the engine-agnostic loop and the
decisions it waits for), ``service.runtimes`` (executors of the loop) and ``service.api``
(the RPC servicers). Process wiring lives in the ``app`` package, the Temporal worker in
``worker``; neither is imported from here.
"""

__version__ = "0.1.0"
