"""Where a run's events go: the log first, then the records derived from them.

``RunRecorder.publish`` appends an event to the event log (which numbers it)
and folds it into the run record and, for approval events, the approval
record. Every runtime publishes through it, so ``GetRun``/``GetApproval``
always agree with the log.
"""

from __future__ import annotations

from runwire.v1 import approval_pb2, event_pb2, run_pb2

from service.core.errors import NotFoundError
from service.core.telemetry import ATTR_STATE, METRICS
from service.core.timestamps import stamp_now
from service.stores.approvals import ApprovalStore
from service.stores.events import EventLog, is_terminal
from service.stores.runs import RunStore

#: Events folded per catch-up read; a longer lag is folded by later reads.
_CATCH_UP_LIMIT = 10_000

_DECISIONS = {
    approval_pb2.APPROVAL_STATE_APPROVED: approval_pb2.APPROVAL_DECISION_APPROVE,
    approval_pb2.APPROVAL_STATE_REJECTED: approval_pb2.APPROVAL_DECISION_REJECT,
}


class RunRecorder:
    """Publishes run events to the log and the derived records."""

    def __init__(self, *, events: EventLog, runs: RunStore, approvals: ApprovalStore) -> None:
        self.events = events
        self.runs = runs
        self.approvals = approvals

    async def publish(
        self, run_id: str, event: event_pb2.RunEvent, *, key: str = ""
    ) -> event_pb2.RunEvent:
        """Logs ``event`` for ``run_id`` and updates the records; returns the logged event.

        Approval records are written *before* the event is logged, so a
        client that sees ``approval_requested`` always finds the approval.
        The run record folds the log *after* the append and catches up from
        the log, so an update lost to a crash or a concurrent publisher is
        applied by the next publish or read (``current``). Idempotent with
        ``key`` (see ``EventLog.append``).

        Raises:
            NotFoundError: the run has no log (``RUN_NOT_FOUND``).
        """
        kind = event.WhichOneof("payload")
        if kind == "approval_requested":
            await self._approval_requested(run_id, event)
        elif kind == "approval_resolved":
            await self._approval_resolved(event)
        logged = await self.events.append(run_id, event, key=key)
        if is_terminal(logged):
            # Through the catch-up path, which records the run's end exactly once.
            await self.current(run_id, at_least=logged.sequence)
            return logged
        # Usually the record is one event behind: fold just this one (one store
        # call instead of get + read the log + apply). If it lags further (an
        # earlier update was lost), catch up from the log.
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
        try:
            missing = await self.events.read(
                run_id, after_sequence=run.last_sequence, limit=_CATCH_UP_LIMIT
            )
        except NotFoundError:
            return run  # the log expired before the record: the record is final
        if missing:
            run = await self.runs.apply(missing)
            for event in missing:
                if is_terminal(event):
                    _record_end(run)
        return run

    async def _approval_requested(self, run_id: str, event: event_pb2.RunEvent) -> None:
        p = event.approval_requested
        if await self.approvals.find(p.approval_id) is not None:
            return
        run = await self.runs.get(run_id)
        approval = approval_pb2.Approval(
            approval_id=p.approval_id,
            run_id=run_id,
            agent_id=run.agent_id,
            tool_call_id=p.tool_call_id,
            tool_name=p.tool_name,
            arguments=p.arguments,
            state=approval_pb2.APPROVAL_STATE_PENDING,
        )
        stamp_now(approval.create_time)
        approval.expire_time.CopyFrom(p.expire_time)
        await self.approvals.put(approval)

    async def _approval_resolved(self, event: event_pb2.RunEvent) -> None:
        p = event.approval_resolved
        approval = await self.approvals.find(p.approval_id)
        if approval is None or approval.state != approval_pb2.APPROVAL_STATE_PENDING:
            return  # resolved through the API (which wrote the record), or unknown
        approval.state = p.state
        approval.decision = _DECISIONS.get(p.state, approval_pb2.APPROVAL_DECISION_UNSPECIFIED)
        approval.reason = p.reason
        approval.resolved_by = p.resolved_by
        if p.HasField("resolve_time"):
            approval.resolve_time.CopyFrom(p.resolve_time)
        else:
            stamp_now(approval.resolve_time)
        await self.approvals.put(approval)


def _record_end(run: run_pb2.Run) -> None:
    state = run_pb2.RunState.Name(run.state)
    METRICS.runs_finished.add(1, {ATTR_STATE: state})
    if run.HasField("start_time") and run.HasField("end_time"):
        seconds = (run.end_time.ToNanoseconds() - run.start_time.ToNanoseconds()) / 1e9
        METRICS.run_duration.record(seconds, {ATTR_STATE: state})
