"""``PendingDecisions``: the one owner of the approval and client tool output rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runwire_server.service.agent.decisions import (
    APPROVAL_ALREADY_RESOLVED,
    APPROVAL_NOT_PENDING,
    CANCELLED,
    EXPIRED,
    TOOL_CALL_ALREADY_ANSWERED,
    TOOL_CALL_NOT_PENDING,
    PendingDecisions,
)
from runwire_server.service.core.errors import FailedPreconditionError
from runwire_server.service.core.spec import ApprovalDecision, Decision, ToolOutput

APPROVE = ApprovalDecision.APPROVE
REJECT = ApprovalDecision.REJECT


def _decision(choice: ApprovalDecision, reason: str = "") -> Decision:
    return Decision(choice=choice, reason=reason, resolve_time=datetime(2025, 1, 1, tzinfo=UTC))


def _refusal(call: object, *args: object) -> FailedPreconditionError:
    assert callable(call)
    with pytest.raises(FailedPreconditionError) as caught:
        call(*args)
    return caught.value


def test_first_decision_wins_and_a_repeat_returns_it() -> None:
    decisions = PendingDecisions("run_1")
    decisions.expect_approval("apr_1")
    first = _decision(APPROVE, "ok")
    assert decisions.check_approval("apr_1", first) is None
    assert decisions.decision("apr_1") is None  # checking records nothing
    assert decisions.record_approval("apr_1", first) == first
    again = _decision(APPROVE, "a second click")
    assert decisions.check_approval("apr_1", again) == first
    assert decisions.record_approval("apr_1", again) == first
    assert decisions.decision("apr_1") == first


def test_a_conflicting_decision_is_already_resolved() -> None:
    decisions = PendingDecisions("run_1")
    decisions.expect_approval("apr_1")
    decisions.record_approval("apr_1", _decision(REJECT))
    error = _refusal(decisions.record_approval, "apr_1", _decision(APPROVE))
    assert error.reason == APPROVAL_ALREADY_RESOLVED
    assert error.metadata == {"approval_id": "apr_1", "decision": "REJECT", "run_id": "run_1"}
    assert decisions.decision("apr_1") == _decision(REJECT)


def test_unknown_expired_and_closed_approvals_are_not_pending() -> None:
    decisions = PendingDecisions()
    error = _refusal(decisions.check_approval, "apr_unknown", _decision(APPROVE))
    assert (error.reason, error.metadata) == (
        APPROVAL_NOT_PENDING,
        {"approval_id": "apr_unknown"},
    )

    decisions.expect_approval("apr_late")
    assert decisions.expire_approval("apr_late") is None
    error = _refusal(decisions.record_approval, "apr_late", _decision(APPROVE))
    assert (error.reason, error.metadata["state"]) == (APPROVAL_NOT_PENDING, EXPIRED)
    assert decisions.decision("apr_late") is None

    decisions.expect_approval("apr_open")
    decisions.close()
    error = _refusal(decisions.record_approval, "apr_open", _decision(REJECT))
    assert (error.reason, error.metadata["state"]) == (APPROVAL_NOT_PENDING, CANCELLED)


def test_a_decision_recorded_before_the_timeout_wins_over_expiry() -> None:
    decisions = PendingDecisions()
    decisions.expect_approval("apr_1")
    decisions.record_approval("apr_1", _decision(APPROVE))
    assert decisions.expire_approval("apr_1") == _decision(APPROVE)
    decisions.close()
    assert decisions.record_approval("apr_1", _decision(APPROVE)) == _decision(APPROVE)


def test_remembered_approvals_follow_the_same_rules() -> None:
    decisions = PendingDecisions()
    decisions.remember_approval("apr_done", decision=_decision(APPROVE, "fine"))
    decisions.remember_approval("apr_gone", closed=EXPIRED)
    assert decisions.record_approval("apr_done", _decision(APPROVE)) == _decision(APPROVE, "fine")
    assert _refusal(decisions.check_approval, "apr_done", _decision(REJECT)).reason == (
        APPROVAL_ALREADY_RESOLVED
    )
    assert _refusal(decisions.check_approval, "apr_gone", _decision(APPROVE)).reason == (
        APPROVAL_NOT_PENDING
    )


def test_tool_outputs_are_taken_all_or_none() -> None:
    decisions = PendingDecisions("run_1")
    decisions.expect_tool_call("call_1")
    outputs = [ToolOutput(tool_call_id="call_1", output="a"), ToolOutput(tool_call_id="call_9")]
    error = _refusal(decisions.record_tool_outputs, outputs)
    assert (error.reason, error.metadata) == (
        TOOL_CALL_NOT_PENDING,
        {"tool_call_id": "call_9", "run_id": "run_1"},
    )
    assert decisions.tool_output("call_1") is None  # nothing was taken

    answer = ToolOutput(tool_call_id="call_1", output="a", is_error=True)
    decisions.check_tool_outputs([answer])
    assert decisions.tool_output("call_1") is None  # checking records nothing
    decisions.record_tool_outputs([answer])
    assert decisions.tool_output("call_1") == answer


def test_an_answered_tool_call_is_already_answered() -> None:
    decisions = PendingDecisions()
    decisions.expect_tool_call("call_1")
    decisions.expect_tool_call("call_2")
    decisions.record_tool_outputs([ToolOutput(tool_call_id="call_1", output="a")])
    error = _refusal(decisions.check_tool_outputs, [ToolOutput(tool_call_id="call_1")])
    assert (error.reason, error.metadata) == (
        TOOL_CALL_ALREADY_ANSWERED,
        {"tool_call_id": "call_1"},
    )
    twice = [ToolOutput(tool_call_id="call_2"), ToolOutput(tool_call_id="call_2")]
    assert _refusal(decisions.check_tool_outputs, twice).reason == TOOL_CALL_ALREADY_ANSWERED
    assert decisions.tool_output("call_2") is None


def test_a_closed_run_waits_for_no_tool_output() -> None:
    decisions = PendingDecisions()
    decisions.expect_tool_call("call_1")
    decisions.close()
    error = _refusal(decisions.record_tool_outputs, [ToolOutput(tool_call_id="call_1")])
    assert error.reason == TOOL_CALL_NOT_PENDING
