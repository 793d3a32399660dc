"""Streaming a run: approvals answered as they come, resumed when the stream breaks.

``stream_run`` starts a run with ``RunService.StreamRun`` and reads it to its
terminal event. Every ``approval_requested`` event is answered through
``ApprovalService.ResolveApproval`` with what a ``Decide`` callback says, and a
stream that breaks (UNAVAILABLE, or an early end) is resumed with
``StreamRunEvents`` after the last event handled, so no event is handed out
twice and no approval is asked twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from runwire._errors import StreamBrokenError, code_name, describe_rpc_error
from runwire._stubs import Stubs
from runwire.v1 import approval_pb2, event_pb2, run_pb2, run_service_pb2

__all__ = [
    "MAX_RESUMES",
    "Decide",
    "RunOutcome",
    "collect_events",
    "run_outcome",
    "stream_run",
]

#: Resume attempts in a row (without a new event between them) after a broken stream.
MAX_RESUMES = 3

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


async def _resolve(
    stubs: Stubs,
    requested: event_pb2.ApprovalRequested,
    approve: bool,
    reject_reason: str,
    on_notice: Callable[[str], None],
) -> None:
    request = approval_pb2.ResolveApprovalRequest(
        approval_id=requested.approval_id,
        decision=(
            approval_pb2.APPROVAL_DECISION_APPROVE
            if approve
            else approval_pb2.APPROVAL_DECISION_REJECT
        ),
        reason="" if approve else reject_reason,
    )
    try:
        await stubs.approvals.ResolveApproval(request)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        # Expired or cancelled meanwhile: the stream tells what happened next.
        on_notice(f"approval not resolved: {describe_rpc_error(exc, stubs.address)}")


def _ignore(_: str) -> None:
    return None


async def stream_run(
    stubs: Stubs,
    request: run_service_pb2.StreamRunRequest,
    *,
    decide: Decide,
    on_event: Callable[[event_pb2.RunEvent], None] | None = None,
    on_notice: Callable[[str], None] = _ignore,
    reject_reason: str = "",
    max_resumes: int = MAX_RESUMES,
    resume_backoff_seconds: float = 0.5,
) -> RunOutcome:
    """Starts a run with StreamRun and reads it until its terminal event.

    Every ``approval_requested`` event is passed to ``decide`` and resolved with
    ResolveApproval before the next event is read; a FAILED_PRECONDITION answer
    (expired or cancelled meanwhile) is a notice, not an error. When the stream
    (or a ResolveApproval) breaks with UNAVAILABLE, or the stream ends early,
    after at least one event, it resumes with StreamRunEvents after the last
    event handled, up to ``max_resumes`` attempts in a row, waiting
    ``resume_backoff_seconds`` before the first and twice as long before each
    next one. No event is handed to ``on_event`` twice and ``decide`` is asked
    once per approval. Heartbeats are skipped.

    Args:
        stubs: Connected stubs.
        request: The run to start; a ``request_id`` is added if it has none, so a
            repeat of the call never starts a second run.
        decide: Answers approvals.
        on_event: Called with every logged event, in sequence order, before its
            approval (if any) is decided.
        on_notice: Called with one line when the stream is resumed or an approval
            could not be resolved.
        reject_reason: The reason sent with a rejection.
        max_resumes: Resume attempts in a row before giving up.
        resume_backoff_seconds: Pause before the first resume attempt, seconds.

    Returns:
        The terminal state, output, finish reason, usage and event count.

    Raises:
        grpc.aio.AioRpcError: the run could not be started, a call failed with a
            code other than UNAVAILABLE, or resuming failed.
        StreamBrokenError: the stream kept ending without a terminal event.
    """
    if not request.request_id:
        request.request_id = f"py-{uuid.uuid4().hex}"
    call = stubs.runs.StreamRun(request)
    # last_sequence: the last event fully handled (its approval resolved), where a
    # resume starts after; handed: the last event given to on_event. They differ only
    # while an approval is being resolved: if that breaks, the event comes again and
    # is resolved with the decision already made, without handing it out or asking twice.
    last_sequence, handed, run_id, attempts, seen = 0, 0, "", 0, 0
    decisions: dict[str, bool] = {}
    while True:
        try:
            async for response in call:
                event = response.event
                if event.HasField("heartbeat") or event.sequence <= last_sequence:
                    continue
                attempts = 0
                run_id = event.run_id
                if event.sequence > handed:
                    seen += 1
                    handed = event.sequence
                    if on_event is not None:
                        on_event(event)
                if event.HasField("approval_requested"):
                    requested = event.approval_requested
                    if requested.approval_id not in decisions:
                        decisions[requested.approval_id] = await decide(requested)
                    approve = decisions[requested.approval_id]
                    await _resolve(stubs, requested, approve, reject_reason, on_notice)
                last_sequence = event.sequence
                outcome = run_outcome(event, seen)
                if outcome is not None:
                    return outcome
            broken: Exception = StreamBrokenError(
                f"the event stream of run {run_id or '?'} ended before the run did"
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or not run_id:
                raise
            broken = exc
        if not run_id or attempts >= max_resumes:
            raise broken
        attempts += 1
        why = (
            describe_rpc_error(broken, stubs.address)
            if isinstance(broken, grpc.aio.AioRpcError)
            else str(broken)
        )
        on_notice(
            f"stream interrupted ({why}); resuming after event {last_sequence} "
            f"(attempt {attempts}/{max_resumes})"
        )
        await asyncio.sleep(resume_backoff_seconds * 2 ** (attempts - 1))
        call = stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=run_id, after_sequence=last_sequence)
        )
