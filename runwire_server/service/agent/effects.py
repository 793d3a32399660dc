"""The effects seam: everything the agent loop does to the world.

The loop (``runwire_server.service.agent.loop``) is written once against ``Effects``. The
in-process runtime implements it with asyncio; the Temporal runtime with
activities (model and tool calls, event publishing), workflow updates
(decisions), signals (pause and resume), durable timers and
``workflow.now()``/``workflow.uuid4()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from google.rpc import status_pb2
from runwire.v1 import event_pb2, run_pb2

from runwire_server.service.core.messages import ChatMessage, Usage
from runwire_server.service.core.spec import Decision, LoopCheckpoint, RunSpec, ToolOutput
from runwire_server.service.llm.base import ModelRequest


@dataclass(frozen=True, kw_only=True)
class ModelTurn:
    """What one model call produced.

    Attributes:
        message: The assistant message (text and tool calls).
        usage: Tokens of this call.
    """

    message: ChatMessage
    usage: Usage


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """A server tool's result as the model will see it."""

    content: str
    is_error: bool = False


@dataclass(frozen=True, kw_only=True)
class SubRunOutcome:
    """How a sub-agent's child run ended.

    Attributes:
        state: Its terminal state (SUCCEEDED, FAILED or CANCELLED).
        output: Its final output ("" unless SUCCEEDED).
        error: Its error when FAILED (``google.rpc.Status``), else None.
        usage: Tokens it used.
    """

    state: run_pb2.RunState
    output: str = ""
    error: status_pb2.Status | None = None
    usage: Usage = field(default_factory=Usage)


#: Events of a sub-agent's run that its ancestors' streams announce too
#: (``announcement``), so one subscriber sees everything waiting for a human.
ANNOUNCED_PAYLOADS = frozenset({"approval_requested", "approval_resolved"})


def announcement(event: event_pb2.RunEvent, run_id: str) -> event_pb2.RunEvent | None:
    """The copy of ``run_id``'s ``event`` that its ancestors log (the payload's
    ``run_id`` set to the child's), or None when the event is not announced."""
    kind = event.WhichOneof("payload")
    if kind not in ANNOUNCED_PAYLOADS:
        return None
    copy = event_pb2.RunEvent()
    copy.CopyFrom(event)
    for name in ("run_id", "sequence", "create_time"):
        copy.ClearField(name)
    getattr(copy, kind).run_id = run_id
    return copy


class Effects(Protocol):
    """The side effects of one run. Implementations are per runtime."""

    async def emit(self, event: event_pb2.RunEvent) -> None:
        """Appends an event (payload only) to the run's log and updates the
        run's records (run, approvals) from it."""
        ...

    async def call_model(self, request: ModelRequest, *, message_id: str) -> ModelTurn:
        """Calls the model, streaming its text and tool-call events to the
        log under ``message_id``.

        Raises:
            ModelError: the provider failed (after the runtime's retries).
        """
        ...

    async def run_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Runs a server tool. Tool failures are results (``is_error``), not
        exceptions."""
        ...

    async def run_sub_run(self, spec: RunSpec) -> SubRunOutcome:
        """Starts the child run ``spec`` (``RunSpec.child_spec``) on this run's
        runtime and waits for its end. Cancelled (the parent stops or times
        out), it cancels the child and waits for the child's end before
        re-raising.

        Raises:
            RunwireError: the child could not be started.
            asyncio.CancelledError: as above.
        """
        ...

    async def wait_approval(self, approval_id: str, *, timeout_seconds: float) -> Decision | None:
        """Waits for ResolveApproval on ``approval_id``; None when
        ``timeout_seconds`` pass first (the approval expired)."""
        ...

    async def wait_tool_output(self, tool_call_id: str) -> ToolOutput:
        """Waits for SubmitToolOutputs to answer a client tool call (bounded
        only by the run timeout)."""
        ...

    def pause_requested(self) -> bool:
        """Whether PauseRun asked the run to pause (and ResumeRun has not
        withdrawn it); the loop asks at its safe points."""
        ...

    async def wait_resumed(self) -> None:
        """Waits, at a safe point, until ResumeRun continues the paused run
        (at once when the pause was withdrawn meanwhile); bounded only by the
        run timeout.

        Raises:
            asyncio.CancelledError: the run was cancelled while paused.
        """
        ...

    async def append_to_thread(self, thread_id: str, messages: list[ChatMessage]) -> None:
        """Adds the run's new messages to its thread when the run ends and
        releases the thread, before the terminal event is logged (so a client
        that sees the run end can start the next run on the thread)."""
        ...

    async def checkpoint(self, checkpoint: LoopCheckpoint, messages: list[ChatMessage]) -> None:
        """Offers a point to resume from (the top of an LLM round, nothing
        pending; ``messages`` is the whole conversation). A durable runtime
        may end its execution here and resume the loop in a fresh one
        (Temporal continue-as-new); others do nothing."""
        ...

    def now(self) -> datetime:
        """The current time (UTC); deterministic on durable runtimes."""
        ...

    def new_id(self, prefix: str) -> str:
        """A new unique id ``<prefix>_<32 hex>``; deterministic on durable runtimes."""
        ...
