"""The context a tool call runs in: which run, which call, which attempt.

A tool function that wants it declares a parameter annotated ``ToolContext``
(any name; it is not part of the JSON Schema the model sees)::

    def charge(amount: int, ctx: ToolContext) -> str:
        payments.charge(amount, idempotency_key=ctx.idempotency_key)

``idempotency_key`` is derived from the run id and the tool call id only, so it
is the same on every attempt of one call: on Temporal a tool activity whose
worker died is retried (``attempt`` 2, 3, ...) with the same key, and a
side-effecting tool can hand it to the system it changes to do the work once.

The agent loop names the call it runs in ``CURRENT_TOOL_CALL`` (a context
variable), so the runtimes need no extra argument to pass it down.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass

#: The tool call id the agent loop is running (``""`` outside a tool call).
CURRENT_TOOL_CALL: ContextVar[str] = ContextVar("runwire_current_tool_call", default="")


def idempotency_key(run_id: str, tool_call_id: str) -> str:
    """The idempotency key of one tool call: 32 lower-case hex characters (a
    SHA-256 prefix of ``run_id`` and ``tool_call_id``), the same on every attempt."""
    digest = hashlib.sha256(f"runwire-tool-call\0{run_id}\0{tool_call_id}".encode()).hexdigest()
    return digest[:32]


@dataclass(frozen=True, kw_only=True)
class ToolContext:
    """What a tool is told about the call it serves.

    Attributes:
        run_id: The run (``run_…``); ``""`` when the tool is called outside a run.
        agent_id: The run's agent.
        tool_call_id: The model's id of this call; stable across attempts.
        attempt: 1 for the first execution of the call; on Temporal, 2, 3, ... for
            the activity's retries (a crashed worker, an activity timeout).
        idempotency_key: ``idempotency_key(run_id, tool_call_id)``: the same on
            every attempt of the call, distinct for every other call.
    """

    run_id: str = ""
    agent_id: str = ""
    tool_call_id: str = ""
    attempt: int = 1
    idempotency_key: str = ""

    @classmethod
    def of(
        cls, *, run_id: str, agent_id: str = "", tool_call_id: str, attempt: int = 1
    ) -> ToolContext:
        """The context of call ``tool_call_id`` of run ``run_id``, with its key."""
        return cls(
            run_id=run_id,
            agent_id=agent_id,
            tool_call_id=tool_call_id,
            attempt=attempt,
            idempotency_key=idempotency_key(run_id, tool_call_id),
        )
