"""Where a run's events go: the log first, then the records derived from them.

``RunRecorder.publish`` appends an event to the event log (which numbers it)
and folds it into the run record and, for approval events, the approval
record. Every runtime publishes through it, so ``GetRun``/``GetApproval``
always agree with the log. The recorder is the only writer of approval
records: they are the projection of the ``approval_requested`` and
``approval_resolved`` events the loop emits.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from typing import Any

from google.rpc import error_details_pb2, status_pb2
from runwire.v1 import approval_pb2, event_pb2, run_pb2

from runwire_server.service.agent.decisions import PendingDecisions
from runwire_server.service.agent.loop import FINISH_ERROR
from runwire_server.service.core.errors import (
    ERROR_DOMAIN,
    NotFoundError,
    ResourceExhaustedError,
    RunwireError,
)
from runwire_server.service.core.spec import ApprovalDecision, Decision
from runwire_server.service.core.telemetry import ATTR_STATE, METRICS
from runwire_server.service.core.timestamps import stamp_now
from runwire_server.service.stores.approvals import ApprovalStore
from runwire_server.service.stores.events import TERMINAL_PAYLOADS, EventLog, is_terminal
from runwire_server.service.stores.projection import RECORD_PAYLOADS, TERMINAL_STATES
from runwire_server.service.stores.runs import RunStore

logger = logging.getLogger(__name__)

#: Events folded per catch-up read; ``current`` reads again while a read is full.
_CATCH_UP_LIMIT = 10_000

_DECISIONS = {
    approval_pb2.APPROVAL_STATE_APPROVED: approval_pb2.APPROVAL_DECISION_APPROVE,
    approval_pb2.APPROVAL_STATE_REJECTED: approval_pb2.APPROVAL_DECISION_REJECT,
}
_CHOICES = {
    approval_pb2.APPROVAL_STATE_APPROVED: ApprovalDecision.APPROVE,
    approval_pb2.APPROVAL_STATE_REJECTED: ApprovalDecision.REJECT,
}


#: Events a run logs while it ends early, accepted past ``max_events_per_run``.
CLOSING_PAYLOADS = TERMINAL_PAYLOADS | {"approval_resolved", "message_discarded"}


class EventLimitExceeded(ResourceExhaustedError):
    """A run logged more than ``max_events_per_run`` events; it fails with this."""

    def __init__(self, run_id: str, limit: int) -> None:
        super().__init__(
            f"the run logged more than {limit} events (max_events_per_run)",
            subject=f"run:{run_id}",
            limit="max_events_per_run",
            value=limit,
            reason="EVENT_LIMIT_EXCEEDED",
        )


class RunRecorder:
    """Publishes run events to the log and the derived records."""

    def __init__(
        self,
        *,
        events: EventLog,
        runs: RunStore,
        approvals: ApprovalStore,
        max_events_per_run: int = 0,
    ) -> None:
        self.events = events
        self.runs = runs
        self.approvals = approvals
        #: Events a run may log before its publishers are refused (0: no limit).
        self.max_events_per_run = max_events_per_run

    async def publish(
        self,
        run_id: str,
        event: event_pb2.RunEvent,
        *,
        key: str = "",
        edited_arguments: dict[str, Any] | None = None,
    ) -> event_pb2.RunEvent:
        """Logs ``event`` for ``run_id`` and updates the records; returns the logged event.

        Args:
            run_id: The run.
            event: The event (payload only).
            key: Idempotency key (see ``EventLog.append``); empty for none.
            edited_arguments: With ``approval_resolved``: the arguments the
                approval replaced the model's with (``Decision.edited_arguments``),
                which the event does not carry but the approval record shows.

        Approval records are written *before* the event is logged, so a
        client that sees ``approval_requested`` always finds the approval.
        The run record folds the log *after* the append and catches up from
        the log, so an update lost to a crash or a concurrent publisher is
        applied by the next publish or read (``current``). An event that
        changes nothing in the record but its sequence (text, reasoning,
        steps, tool call arguments: not ``RECORD_PAYLOADS``) is not folded
        here: the next event that does change it, or the next read, catches
        up (one store write per change instead of one per event). Idempotent
        with ``key`` (see ``EventLog.append``).

        A run has ``max_events_per_run`` events: past it, an event is still logged
        but its publisher gets ``EventLimitExceeded``, so the run fails; the
        events that end a run (``CLOSING_PAYLOADS``) are logged and accepted past it.

        Raises:
            NotFoundError: the run has no log (``RUN_NOT_FOUND``).
            EventLimitExceeded: the event was logged past ``max_events_per_run``.
        """
        kind = event.WhichOneof("payload")
        if kind == "approval_requested":
            await self._approval_requested(run_id, event)
        elif kind == "approval_resolved":
            await self._approval_resolved(event, edited_arguments)
        logged = await self.events.append(run_id, event, key=key)
        limit = self.max_events_per_run
        if limit and logged.sequence > limit and kind not in CLOSING_PAYLOADS:
            await self.current(run_id, at_least=logged.sequence)
            raise EventLimitExceeded(run_id, limit)
        if is_terminal(logged):
            # Through the catch-up path, which records the run's end exactly once.
            await self.current(run_id, at_least=logged.sequence)
            return logged
        if kind not in RECORD_PAYLOADS:
            return logged
        # Often the record is one event behind: fold just this one (one store
        # call instead of get + read the log + apply). If it lags further (events
        # left to this fold, or an earlier update lost), catch up from the log.
        run = await self.runs.apply([logged])
        if run.last_sequence < logged.sequence:
            await self.current(run_id, at_least=logged.sequence)
        return logged

    async def current(self, run_id: str, *, at_least: int = 0) -> run_pb2.Run:
        """The run record with every logged event folded in.

        Args:
            at_least: A sequence known to be logged; 0 reads the log to find out.

        Raises:
            NotFoundError: unknown run (``RUN_NOT_FOUND``).
        """
        run = await self.runs.get(run_id)
        if at_least and at_least <= run.last_sequence:
            return run
        while True:
            try:
                missing = await self.events.read(
                    run_id, after_sequence=run.last_sequence, limit=_CATCH_UP_LIMIT
                )
            except NotFoundError:
                return run  # the log expired before the record: the record is final
            if not missing:
                return run
            folded = run.last_sequence
            run = await self.runs.apply(missing)
            for event in missing:
                if is_terminal(event):
                    _record_end(run)
            if len(missing) < _CATCH_UP_LIMIT or run.last_sequence <= folded:
                return run

    async def end_failed(self, run_id: str, error: RunwireError) -> run_pb2.Run:
        """Ends a run that no loop will end (its start failed, its replica was
        lost); returns the run as its record then reads (FAILED).

        As the loop does when a run ends early: every approval still pending
        in the record is closed first (``approval_resolved`` CANCELLED, so its
        record is CANCELLED too), then ``run_error`` with ``error`` is logged
        (``run_error_event``), which ends the run's streams and releases its
        place among the tenant's active runs. An ended run is returned as is.
        The run's thread is the caller's to release.

        Raises:
            NotFoundError: unknown run (``RUN_NOT_FOUND``).
        """
        run = await self.current(run_id)
        if run.state in TERMINAL_STATES:
            return run
        for action in run.required_actions:
            if action.type != run_pb2.REQUIRED_ACTION_TYPE_APPROVAL:
                continue
            cancelled = event_pb2.ApprovalResolved(
                approval_id=action.approval_id,
                tool_call_id=action.tool_call_id,
                state=approval_pb2.APPROVAL_STATE_CANCELLED,
                reason="the run ended before a decision",
                resolved_by="system",
            )
            stamp_now(cancelled.resolve_time)
            await self.publish(run_id, event_pb2.RunEvent(approval_resolved=cancelled))
        logged = await self.publish(run_id, run_error_event(run_id, error, usage=run.usage))
        return await self.current(run_id, at_least=logged.sequence)

    async def resolved_approval(
        self, approval_id: str, run_id: str, *, decision: Decision, timeout_seconds: float
    ) -> approval_pb2.Approval:
        """The approval once its record shows the run's decision.

        Waits on the run's event log (no polling) for the ``approval_resolved``
        event of ``approval_id``. The record is written before its event is
        logged (``publish``), so an event logged before the wait began is
        already in the record read here. A run that took ``decision`` but does
        not log it within ``timeout_seconds`` (a stalled worker) still gets an
        answer: the approval as its record will read (``decided``), not stored.

        Raises:
            NotFoundError: unknown approval (``APPROVAL_NOT_FOUND``).
        """
        cursor = await self.events.last_sequence(run_id)
        approval = await self.approvals.get(approval_id)
        if approval.state != approval_pb2.APPROVAL_STATE_PENDING:
            return approval
        tail = self.events.subscribe(run_id, after_sequence=cursor)
        try:
            async with asyncio.timeout(timeout_seconds):
                async for event in tail:
                    if (
                        event.WhichOneof("payload") == "approval_resolved"
                        and event.approval_resolved.approval_id == approval_id
                    ):
                        break
        except TimeoutError:
            logger.warning(
                "run took the decision on approval %s but has not logged it yet",
                approval_id,
                extra={"run_id": run_id, "approval_id": approval_id},
            )
            return decided(approval, decision)
        finally:
            close = getattr(tail, "aclose", None)
            if close is not None:
                await close()
        return await self.approvals.get(approval_id)

    async def _approval_requested(self, run_id: str, event: event_pb2.RunEvent) -> None:
        p = event.approval_requested
        if await self.approvals.find(p.approval_id) is not None:
            return
        run = await self.runs.get(run_id)
        approval = approval_pb2.Approval(
            approval_id=p.approval_id,
            run_id=run_id,
            agent_id=run.agent_id,
            tenant=run.tenant,
            tool_call_id=p.tool_call_id,
            tool_name=p.tool_name,
            arguments=p.arguments,
            state=approval_pb2.APPROVAL_STATE_PENDING,
        )
        stamp_now(approval.create_time)
        approval.expire_time.CopyFrom(p.expire_time)
        await self.approvals.put(approval)

    async def _approval_resolved(
        self, event: event_pb2.RunEvent, edited_arguments: dict[str, Any] | None
    ) -> None:
        p = event.approval_resolved
        approval = await self.approvals.find(p.approval_id)
        if approval is None or approval.state != approval_pb2.APPROVAL_STATE_PENDING:
            return  # settled already (a publish retried with another key), or unknown
        approval.state = p.state
        approval.decision = _DECISIONS.get(p.state, approval_pb2.APPROVAL_DECISION_UNSPECIFIED)
        approval.reason = p.reason
        approval.resolved_by = p.resolved_by
        if edited_arguments is not None and p.state == approval_pb2.APPROVAL_STATE_APPROVED:
            approval.edited_arguments.update(edited_arguments)
        if p.HasField("resolve_time"):
            approval.resolve_time.CopyFrom(p.resolve_time)
        else:
            stamp_now(approval.resolve_time)
        await self.approvals.put(approval)


def run_error_event(
    run_id: str, error: RunwireError, *, usage: run_pb2.Usage | None = None
) -> event_pb2.RunEvent:
    """The ``run_error`` event that ends ``run_id`` with ``error``: its code and
    message, and an ``ErrorInfo`` with its reason and metadata plus ``run_id``;
    finish reason ``error``."""
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
    )
    info.metadata["run_id"] = run_id
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    status.details.add().Pack(info)
    return event_pb2.RunEvent(
        run_error=event_pb2.RunError(error=status, finish_reason=FINISH_ERROR, usage=usage)
    )


def decided(approval: approval_pb2.Approval, decision: Decision) -> approval_pb2.Approval:
    """A copy of pending ``approval`` as its record reads once the run logs ``decision``."""
    view = approval_pb2.Approval()
    view.CopyFrom(approval)
    approved = decision.choice is ApprovalDecision.APPROVE
    view.state = (
        approval_pb2.APPROVAL_STATE_APPROVED if approved else approval_pb2.APPROVAL_STATE_REJECTED
    )
    view.decision = _DECISIONS[view.state]
    view.reason = decision.reason
    view.resolved_by = decision.resolved_by
    view.resolve_time.FromDatetime(decision.resolve_time)
    if approved and decision.edited_arguments is not None:
        view.edited_arguments.update(decision.edited_arguments)
    return view


def settled_decisions(approval: approval_pb2.Approval) -> PendingDecisions:
    """The decisions of a run that no longer holds them (it ended, or continued
    as new), as ``approval``'s record shows them: decided or closed. A pending
    record counts as not pending there: the run that could take it is gone."""
    decisions = PendingDecisions(approval.run_id)
    choice = _CHOICES.get(approval.state)
    if choice is not None:
        decision = Decision(
            choice=choice,
            reason=approval.reason,
            resolved_by=approval.resolved_by,
            resolve_time=approval.resolve_time.ToDatetime(UTC),
        )
        decisions.remember_approval(approval.approval_id, decision=decision)
    elif approval.state != approval_pb2.APPROVAL_STATE_PENDING:
        decisions.remember_approval(
            approval.approval_id, closed=approval_pb2.ApprovalState.Name(approval.state)
        )
    return decisions


def _record_end(run: run_pb2.Run) -> None:
    state = run_pb2.RunState.Name(run.state)
    METRICS.runs_finished.add(1, {ATTR_STATE: state})
    if run.HasField("start_time") and run.HasField("end_time"):
        seconds = (run.end_time.ToNanoseconds() - run.start_time.ToNanoseconds()) / 1e9
        METRICS.run_duration.record(seconds, {ATTR_STATE: state})
