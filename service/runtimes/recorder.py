"""Where a run's events go: the log first, then the records derived from them.

``RunRecorder.publish`` appends an event to the event log (which numbers it)
and folds it into the run record and, for approval events, the approval
record. Every runtime publishes through it, so ``GetRun``/``GetApproval``
always agree with the log.
"""

from __future__ import annotations

from runwire.v1 import approval_pb2, event_pb2, run_pb2

from service.stores.approvals import ApprovalStore
from service.stores.events import EventLog
from service.stores.runs import RunStore

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

        Idempotent with ``key`` (see ``EventLog.append``). The records catch
        up from the log, so an append whose record update was lost (a crash
        between the two, a concurrent publisher) is applied by the next one.

        Raises:
            NotFoundError: the run has no log (``RUN_NOT_FOUND``).
        """
        logged = await self.events.append(run_id, event, key=key)
        run = await self.runs.get(run_id)
        if logged.sequence <= run.last_sequence:
            return logged
        missing = await self.events.read(
            run_id,
            after_sequence=run.last_sequence,
            limit=logged.sequence - run.last_sequence,
        )
        run = await self.runs.apply(missing)
        for applied in missing:
            kind = applied.WhichOneof("payload")
            if kind == "approval_requested":
                await self._approval_requested(run, applied)
            elif kind == "approval_resolved":
                await self._approval_resolved(applied)
        return logged

    async def _approval_requested(self, run: run_pb2.Run, event: event_pb2.RunEvent) -> None:
        p = event.approval_requested
        if await self.approvals.find(p.approval_id) is not None:
            return
        approval = approval_pb2.Approval(
            approval_id=p.approval_id,
            run_id=run.run_id,
            agent_id=run.agent_id,
            tool_call_id=p.tool_call_id,
            tool_name=p.tool_name,
            arguments=p.arguments,
            state=approval_pb2.APPROVAL_STATE_PENDING,
        )
        approval.create_time.CopyFrom(event.create_time)
        approval.expire_time.CopyFrom(p.expire_time)
        await self.approvals.put(approval)

    async def _approval_resolved(self, event: event_pb2.RunEvent) -> None:
        p = event.approval_resolved
        approval = await self.approvals.get(p.approval_id)
        if approval.state != approval_pb2.APPROVAL_STATE_PENDING and approval.HasField(
            "resolve_time"
        ):
            return
        approval.state = p.state
        approval.decision = _DECISIONS.get(p.state, approval_pb2.APPROVAL_DECISION_UNSPECIFIED)
        approval.reason = p.reason
        approval.resolved_by = p.resolved_by
        approval.resolve_time.CopyFrom(event.create_time)
        await self.approvals.put(approval)
