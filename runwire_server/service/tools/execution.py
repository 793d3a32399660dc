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
from runwire_server.service.tools.registry import ToolOutcome, ToolRegistry


async def run_server_tool(
    tools: ToolRegistry, name: str, arguments: dict[str, Any], *, run_id: str, agent_id: str
) -> ToolOutcome:
    """Executes ``name`` in a ``runwire.tool.call`` span; failures are outcomes.

    Metrics: ``runwire.tool.calls`` and ``runwire.tool.failures`` (attribute
    ``runwire.tool.name``).
    """
    attributes = {ATTR_RUN_ID: run_id, ATTR_AGENT_ID: agent_id, ATTR_TOOL_NAME: name}
    with start_span("runwire.tool.call", attributes) as span:
        outcome = await tools.execute(name, arguments)
        span.set_attribute("runwire.tool.is_error", outcome.is_error)
    METRICS.tool_calls.add(1, {ATTR_TOOL_NAME: name})
    if outcome.is_error:
        METRICS.tool_failures.add(1, {ATTR_TOOL_NAME: name})
    return outcome
