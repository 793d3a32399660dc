"""Running one server tool call, traced and counted (shared by both runtimes)."""

from __future__ import annotations

from typing import Any

from runwire_server.service.core.telemetry import (
    ATTR_AGENT_ID,
    ATTR_RUN_ID,
    ATTR_TOOL_NAME,
    METRICS,
    start_span,
)
from runwire_server.service.tools.context import CURRENT_TOOL_CALL, ToolContext
from runwire_server.service.tools.registry import ToolOutcome, ToolRegistry


async def run_server_tool(
    tools: ToolRegistry,
    name: str,
    arguments: dict[str, Any],
    *,
    run_id: str,
    agent_id: str,
    tool_call_id: str | None = None,
    attempt: int = 1,
) -> ToolOutcome:
    """Executes ``name`` in a ``runwire.tool.call`` span; failures are outcomes.

    The tool gets a ``ToolContext`` for call ``tool_call_id`` (None: the call the
    agent loop named in ``CURRENT_TOOL_CALL``, which an in-process run's task
    carries) and ``attempt`` (1-based; the Temporal activity's attempt).

    Metrics: ``runwire.tool.calls`` and ``runwire.tool.failures`` (attribute
    ``runwire.tool.name``).
    """
    call_id = CURRENT_TOOL_CALL.get() if tool_call_id is None else tool_call_id
    context = ToolContext.of(
        run_id=run_id, agent_id=agent_id, tool_call_id=call_id, attempt=attempt
    )
    attributes = {ATTR_RUN_ID: run_id, ATTR_AGENT_ID: agent_id, ATTR_TOOL_NAME: name}
    with start_span("runwire.tool.call", attributes) as span:
        outcome = await tools.execute(name, arguments, context)
        span.set_attribute("runwire.tool.is_error", outcome.is_error)
    METRICS.tool_calls.add(1, {ATTR_TOOL_NAME: name})
    if outcome.is_error:
        METRICS.tool_failures.add(1, {ATTR_TOOL_NAME: name})
    return outcome
