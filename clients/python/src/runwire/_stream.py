"""What a run's stream tells: ``RunOutcome`` from its terminal event, and
``collect_events`` to read a whole stream. Following a run (resuming,
answering approvals and client tools) is ``runwire.AsyncClient``'s
(``AsyncEventStream``)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from runwire._errors import code_name
from runwire.v1 import event_pb2, run_pb2

__all__ = [
    "Decide",
    "RunOutcome",
    "collect_events",
    "run_outcome",
]

#: Decides one approval: True approves, False rejects.
Decide = Callable[[event_pb2.ApprovalRequested], Awaitable[bool]]


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, from its terminal event.

    Attributes:
        run_id: The run's id.
        state: The terminal ``run_pb2.RunState``.
        finish_reason: ``stop``, ``max_iterations``, ``timeout``, ``cancelled``,
            ``error`` or ``budget_exceeded``.
        output: The final text (empty unless SUCCEEDED).
        usage: Tokens of the whole run.
        error: ``CODE: MESSAGE`` of the failure when FAILED, else "".
        events: Logged events received (heartbeats not counted); 0 when unknown.
    """

    run_id: str
    state: run_pb2.RunState
    finish_reason: str
    output: str
    usage: run_pb2.Usage
    error: str = ""
    events: int = 0

    @property
    def state_name(self) -> str:
        """The state without its prefix: ``SUCCEEDED``, ``FAILED``, ``CANCELLED``."""
        return run_pb2.RunState.Name(self.state).removeprefix("RUN_STATE_")

    @property
    def succeeded(self) -> bool:
        """True when the run SUCCEEDED."""
        return self.state == run_pb2.RUN_STATE_SUCCEEDED


def run_outcome(event: event_pb2.RunEvent, events: int = 0) -> RunOutcome | None:
    """The outcome a terminal event tells (``run_finished`` or ``run_error``).

    Args:
        event: Any event of a run.
        events: The number of logged events received, stored in the outcome.

    Returns:
        The outcome, or None when ``event`` is not terminal.
    """
    if event.HasField("run_finished"):
        finished = event.run_finished
        return RunOutcome(
            run_id=event.run_id,
            state=finished.state,
            finish_reason=finished.finish_reason,
            output=finished.output,
            usage=finished.usage,
            events=events,
        )
    if event.HasField("run_error"):
        failed = event.run_error
        return RunOutcome(
            run_id=event.run_id,
            state=run_pb2.RUN_STATE_FAILED,
            finish_reason=failed.finish_reason,
            output="",
            usage=failed.usage,
            error=f"{code_name(failed.error.code)}: {failed.error.message}",
            events=events,
        )
    return None


async def collect_events(
    call: AsyncIterable[Any], *, heartbeats: bool = False
) -> list[event_pb2.RunEvent]:
    """Every event of a ``StreamRun`` or ``StreamRunEvents`` call, until it ends.

    Args:
        call: The call (an async iterable of ``StreamRunResponse`` or
            ``StreamRunEventsResponse``).
        heartbeats: Keep heartbeats (unnumbered) too.

    Returns:
        The events in the order received.

    Raises:
        grpc.aio.AioRpcError: the call failed.
    """
    events: list[event_pb2.RunEvent] = []
    async for response in call:
        if heartbeats or not response.event.HasField("heartbeat"):
            events.append(response.event)
    return events
