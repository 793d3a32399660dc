"""The engine-agnostic agent loop, written once.

``execute_run(spec, effects)`` drives a run (model turn, tool calls, approvals,
client tool calls, until a final answer or a limit) through the ``Effects`` seam,
which each runtime implements; ``PendingDecisions`` owns the rules of the decisions
a run waits for. ``model_turn`` and ``resilient_turn`` turn provider streams into run
events, with retries, circuit breakers and fallback models.
"""

from runwire_server.service.agent.decisions import PendingDecisions
from runwire_server.service.agent.effects import Effects, ModelTurn, ToolResult
from runwire_server.service.agent.loop import execute_run

__all__ = ["Effects", "ModelTurn", "PendingDecisions", "ToolResult", "execute_run"]
