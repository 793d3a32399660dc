"""A tool module for the tool-execution tests (``tool_modules``): tools that show
their ``ToolContext`` and how many of their calls overlap."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from runwire_server.service.tools.context import ToolContext
from runwire_server.service.tools.registry import ToolRegistry

#: Calls of ``overlap`` in flight now, per key.
IN_FLIGHT: defaultdict[str, int] = defaultdict(int)
#: The most calls of ``overlap`` that were in flight at once, per key.
MOST_AT_ONCE: defaultdict[str, int] = defaultdict(int)


def call_context(note: str, ctx: ToolContext) -> str:
    """Returns the call's context as JSON (and the note)."""
    return json.dumps(
        {
            "note": note,
            "run_id": ctx.run_id,
            "agent_id": ctx.agent_id,
            "tool_call_id": ctx.tool_call_id,
            "attempt": ctx.attempt,
            "idempotency_key": ctx.idempotency_key,
        }
    )


async def overlap(key: str, seconds: float) -> str:
    """Stays in flight for ``seconds``, counting how many calls of ``key`` overlap."""
    IN_FLIGHT[key] += 1
    MOST_AT_ONCE[key] = max(MOST_AT_ONCE[key], IN_FLIGHT[key])
    try:
        await asyncio.sleep(seconds)
    finally:
        IN_FLIGHT[key] -= 1
    return f"done {key}"


def fail(why: str) -> str:
    """Always fails."""
    raise RuntimeError(why)


def register_tools(registry: ToolRegistry) -> None:
    for fn in (call_context, overlap, fail):
        registry.register(fn)
