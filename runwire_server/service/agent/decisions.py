"""One run's pending decisions: approvals and client tool calls, and their rules.

``PendingDecisions`` is the one owner of the rules every runtime applies when
a decision arrives:

- an approval takes the first decision; the same decision again returns the
  stored one, another one is refused (``APPROVAL_ALREADY_RESOLVED``);
- an approval the run does not wait for (unknown, expired, closed by the
  run's end) is refused (``APPROVAL_NOT_PENDING``);
- client tool outputs are taken all or none; an output for a call the run
  does not wait for is refused (``TOOL_CALL_NOT_PENDING``), a second output
  for an answered call too (``TOOL_CALL_ALREADY_ANSWERED``);
- a decision counts once the run *takes* it (``take_approval``, when its wait
  returns). When the run stops or ends first (``close``: CancelRun, a timeout,
  a failure), every approval it has not taken closes ``CANCELLED``, a decision
  recorded but not taken included, and every unanswered tool call closes too:
  so an approval racing a cancel is either taken (its ``approval_resolved``
  reports the decision, and the stopped run runs no tool) or refused
  (``APPROVAL_NOT_PENDING``, state ``CANCELLED``, as its record will read).

Refusals are ``FailedPreconditionError`` with these reasons and the ids in
their metadata. The object is plain and deterministic (no I/O, no asyncio, no
clock), so the Temporal workflow keeps one as its update state and the
in-process runtime one per run. ``check_*`` methods have no side effects
(Temporal update validators); ``record_*`` methods check, then record (update
handlers), and ``approval_outcome`` tells a resolver whether the run took its
decision. The waiting side takes decisions (``take_approval``) and reads
``tool_output``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runwire.v1 import event_pb2

from runwire_server.service.core.errors import FailedPreconditionError
from runwire_server.service.core.spec import Decision, ToolOutput

APPROVAL_NOT_PENDING = "APPROVAL_NOT_PENDING"
APPROVAL_ALREADY_RESOLVED = "APPROVAL_ALREADY_RESOLVED"
TOOL_CALL_NOT_PENDING = "TOOL_CALL_NOT_PENDING"
TOOL_CALL_ALREADY_ANSWERED = "TOOL_CALL_ALREADY_ANSWERED"

#: Why an approval takes no decision any more (``ErrorInfo.metadata["state"]``,
#: named as ``runwire.v1.ApprovalState``).
EXPIRED = "APPROVAL_STATE_EXPIRED"
CANCELLED = "APPROVAL_STATE_CANCELLED"


#: ``ErrorInfo.metadata["state"]`` of a refused output for a tool call that
#: closed unanswered (the run was cancelled or ended).
TOOL_CALL_CANCELLED = "CANCELLED"


@dataclass
class _Approval:
    decision: Decision | None = None
    #: The run took ``decision`` (its wait returned it): it is final.
    taken: bool = False
    #: Set when the approval closed without a decision (``EXPIRED``, ``CANCELLED``).
    closed: str = ""


@dataclass
class _ToolCall:
    output: ToolOutput | None = None
    closed: bool = False


class PendingDecisions:
    """The approvals and client tool calls of one run, and what was decided.

    Args:
        run_id: Added to refusal metadata when set.
    """

    def __init__(self, run_id: str = "") -> None:
        self._run_id = run_id
        self._approvals: dict[str, _Approval] = {}
        self._tool_calls: dict[str, _ToolCall] = {}

    # --- approvals ---

    def observe(self, event: event_pb2.RunEvent) -> Decision | None:
        """Follows the loop's events, before anyone can see them: a requested
        approval or client tool call is expected from then on. Returns the
        decision an ``approval_resolved`` event reports (for its edited
        arguments, which the event does not carry), else None."""
        kind = event.WhichOneof("payload")
        if kind == "approval_requested":
            self.expect_approval(event.approval_requested.approval_id)
        elif kind == "client_tool_call_requested":
            self.expect_tool_call(event.client_tool_call_requested.tool_call_id)
        elif kind == "approval_resolved":
            return self.decision(event.approval_resolved.approval_id)
        return None

    def expect_approval(self, approval_id: str) -> None:
        """Opens ``approval_id`` for a decision (the loop requested it)."""
        self._approvals.setdefault(approval_id, _Approval())

    def remember_approval(
        self, approval_id: str, *, decision: Decision | None = None, closed: str = ""
    ) -> None:
        """Records an approval settled elsewhere (read back from its record):
        decided with ``decision`` (taken), or closed as ``closed`` (``EXPIRED``, ``CANCELLED``)."""
        self._approvals[approval_id] = _Approval(
            decision=decision, taken=decision is not None, closed=closed
        )

    def check_approval(self, approval_id: str, decision: Decision) -> Decision | None:
        """Whether ``decision`` may be delivered; no side effects.

        Returns:
            The stored decision when ``decision`` repeats its choice; None when
            ``decision`` would be the first.

        Raises:
            FailedPreconditionError: ``APPROVAL_NOT_PENDING`` (unknown, expired
                or closed; metadata ``approval_id`` and, when closed, ``state``),
                ``APPROVAL_ALREADY_RESOLVED`` (decided otherwise; metadata
                ``approval_id``, ``decision``).
        """
        entry = self._approvals.get(approval_id)
        if entry is not None and entry.decision is not None:
            first = entry.decision
            if first.choice != decision.choice:
                raise FailedPreconditionError(
                    f"approval {approval_id!r} was already resolved with {first.choice.value}",
                    reason=APPROVAL_ALREADY_RESOLVED,
                    metadata=self._metadata(approval_id=approval_id, decision=first.choice.value),
                )
            return first
        if entry is None or entry.closed:
            state = entry.closed if entry is not None else ""
            raise FailedPreconditionError(
                f"approval {approval_id!r} can no longer be resolved ({state})"
                if state
                else f"the run does not wait for approval {approval_id!r}",
                reason=APPROVAL_NOT_PENDING,
                metadata=self._metadata(approval_id=approval_id, state=state),
            )
        return None

    def record_approval(self, approval_id: str, decision: Decision) -> Decision:
        """Checks (``check_approval``), then records ``decision`` unless one is
        stored; returns the decision in force.

        Raises:
            FailedPreconditionError: as ``check_approval``.
        """
        first = self.check_approval(approval_id, decision)
        if first is not None:
            return first
        self._approvals[approval_id].decision = decision
        return decision

    def approval_outcome(self, approval_id: str) -> Decision | None:
        """After ``record_approval``: the decision in force once the run has
        taken it; None while the run has not.

        Raises:
            FailedPreconditionError: ``APPROVAL_NOT_PENDING`` (metadata
                ``approval_id``, ``state``): the approval closed before the run
                took the decision (the run was cancelled or ended: ``CANCELLED``).
        """
        entry = self._approvals.get(approval_id)
        if entry is not None and entry.taken:
            return entry.decision
        if entry is None or entry.closed:
            state = entry.closed if entry is not None else ""
            raise FailedPreconditionError(
                f"approval {approval_id!r} can no longer be resolved ({state or 'unknown'}): "
                "the run stopped before it took the decision",
                reason=APPROVAL_NOT_PENDING,
                metadata=self._metadata(approval_id=approval_id, state=state),
            )
        return None

    def decision(self, approval_id: str) -> Decision | None:
        """The decision recorded for ``approval_id`` (taken or not), if any."""
        entry = self._approvals.get(approval_id)
        return entry.decision if entry is not None else None

    def take_approval(self, approval_id: str) -> Decision | None:
        """The run takes the decision recorded for ``approval_id``, if any:
        from now on it is final (``close`` leaves it alone). None: no decision
        yet (or the approval closed)."""
        entry = self._approvals.get(approval_id)
        if entry is None or entry.decision is None:
            return None
        entry.taken = True
        return entry.decision

    def expire_approval(self, approval_id: str) -> Decision | None:
        """Closes ``approval_id`` as ``EXPIRED`` (its timeout passed) unless a
        decision is recorded; returns that decision, taken (it won the race), or None."""
        entry = self._approvals.setdefault(approval_id, _Approval())
        if entry.decision is None and not entry.closed:
            entry.closed = EXPIRED
        return self.take_approval(approval_id)

    # --- client tool calls ---

    def expect_tool_call(self, tool_call_id: str) -> None:
        """Opens ``tool_call_id`` for an output (the loop requested it)."""
        self._tool_calls.setdefault(tool_call_id, _ToolCall())

    def check_tool_outputs(self, outputs: Sequence[ToolOutput]) -> None:
        """Whether every output may be delivered (all or none); no side effects.

        Raises:
            FailedPreconditionError: ``TOOL_CALL_NOT_PENDING`` (unknown or
                closed call), ``TOOL_CALL_ALREADY_ANSWERED`` (answered before,
                or twice in ``outputs``); metadata ``tool_call_id``.
        """
        seen: set[str] = set()
        for output in outputs:
            tool_call_id = output.tool_call_id
            entry = self._tool_calls.get(tool_call_id)
            if entry is None or entry.closed:
                closed = entry is not None and entry.closed
                raise FailedPreconditionError(
                    f"tool call {tool_call_id!r} closed unanswered: the run was cancelled or ended"
                    if closed
                    else f"the run does not wait for an output of tool call {tool_call_id!r}",
                    reason=TOOL_CALL_NOT_PENDING,
                    metadata=self._metadata(
                        tool_call_id=tool_call_id, state=TOOL_CALL_CANCELLED if closed else ""
                    ),
                )
            if entry.output is not None or tool_call_id in seen:
                raise FailedPreconditionError(
                    f"tool call {tool_call_id!r} was already answered",
                    reason=TOOL_CALL_ALREADY_ANSWERED,
                    metadata=self._metadata(tool_call_id=tool_call_id),
                )
            seen.add(tool_call_id)

    def record_tool_outputs(self, outputs: Sequence[ToolOutput]) -> None:
        """Checks (``check_tool_outputs``), then records every output.

        Raises:
            FailedPreconditionError: as ``check_tool_outputs``; nothing is recorded.
        """
        self.check_tool_outputs(outputs)
        for output in outputs:
            self._tool_calls[output.tool_call_id].output = output

    def tool_output(self, tool_call_id: str) -> ToolOutput | None:
        """The output recorded for ``tool_call_id``, if any."""
        entry = self._tool_calls.get(tool_call_id)
        return entry.output if entry is not None else None

    # --- the run's end ---

    def close(self) -> None:
        """Closes everything the run has not taken (it is stopping: CancelRun,
        or it ended): approvals as ``CANCELLED``, a decision recorded but not
        taken withdrawn (``approval_outcome`` then refuses it); unanswered tool
        calls as not pending. Idempotent."""
        for approval in self._approvals.values():
            if not approval.taken and not approval.closed:
                approval.decision = None
                approval.closed = CANCELLED
        for call in self._tool_calls.values():
            if call.output is None:
                call.closed = True

    def _metadata(self, **fields: str) -> dict[str, str]:
        metadata = {k: v for k, v in fields.items() if v}
        if self._run_id:
            metadata["run_id"] = self._run_id
        return metadata
