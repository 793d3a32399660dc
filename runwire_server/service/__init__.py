"""Runwire's building blocks: a gRPC service that runs tool-calling AI agents.

Layers, lowest first (imports point down only; ``tests/unit/test_layers.py`` checks it):
``core`` (messages, run spec, errors), then ``llm`` (model providers), ``tools`` (tool
registry and built-ins) and ``stores`` (event log, runs, agents, approvals, threads), then
``agent`` (the engine-agnostic loop and the decisions it waits for), ``runtimes``
(executors of the loop) and ``api`` (the RPC servicers), all under ``runwire_server.service``.
Process wiring lives in ``runwire_server.app``, the Temporal worker in
``runwire_server.worker``; neither is imported from here.
"""

__version__ = "0.1.0"
