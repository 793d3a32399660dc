"""Approvals (human in the loop) through the real gRPC server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import grpc
import pytest
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
)

from tests.support import (
    PARITY_PRINCIPAL,
    Script,
    Stubs,
    assert_gap_free,
    collect,
    create_agent,
    events_until,
    status_details,
    struct,
    unique,
)
from tests.tools_for_tests import CALLS


def _record_script(key: str, then: str = "finished") -> list[dict[str, object]]:
    return [
        {"tool_calls": [{"name": "record", "arguments": {"key": key, "value": "v"}}]},
        {"text": then},
    ]


async def _start_until_approval(
    stubs: Stubs, agent: agent_pb2.Agent
) -> tuple[grpc.aio.UnaryStreamCall, list[event_pb2.RunEvent], event_pb2.ApprovalRequested]:
    call = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    events: list[event_pb2.RunEvent] = []
    async for response in call:
        if response.event.HasField("heartbeat"):
            continue
        events.append(response.event)
        if response.event.HasField("state_changed") and (
            response.event.state_changed.state == run_pb2.RUN_STATE_REQUIRES_ACTION
        ):
            break
    requested = next(e.approval_requested for e in events if e.HasField("approval_requested"))
    return call, events, requested


def _waits_for_approvals(count: int) -> Callable[[list[event_pb2.RunEvent]], bool]:
    """Whether the events hold ``count`` approval requests and the run's REQUIRES_ACTION."""

    def done(events: list[event_pb2.RunEvent]) -> bool:
        requested = [e for e in events if e.HasField("approval_requested")]
        waiting = [
            e
            for e in events
            if e.HasField("state_changed")
            and e.state_changed.state == run_pb2.RUN_STATE_REQUIRES_ACTION
        ]
        return len(requested) == count and bool(waiting)

    return done


def _resolved_ids(events: list[event_pb2.RunEvent]) -> set[str]:
    return {e.approval_resolved.approval_id for e in events if e.HasField("approval_resolved")}


async def _rest(call: grpc.aio.UnaryStreamCall) -> list[event_pb2.RunEvent]:
    return [r.event async for r in call if not r.event.HasField("heartbeat")]


async def _resolve(
    stubs: Stubs,
    approval_id: str,
    decision: approval_pb2.ApprovalDecision,
    reason: str = "",
    edited: dict[str, object] | None = None,
) -> approval_pb2.Approval:
    request = approval_pb2.ResolveApprovalRequest(
        approval_id=approval_id, decision=decision, reason=reason
    )
    if edited is not None:
        request.edited_arguments.CopyFrom(struct(edited))
    response: approval_pb2.ResolveApprovalResponse = await stubs.approvals.ResolveApproval(request)
    return response.approval


async def test_approve_runs_the_tool_once(stubs: Stubs) -> None:
    key = unique("approve")
    agent = await create_agent(
        stubs, _record_script(key), tools=["record"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    call, events, requested = await _start_until_approval(stubs, agent)
    assert requested.tool_name == "record"
    assert json.loads(requested.arguments) == {"key": key, "value": "v"}
    assert CALLS[key] == 0  # nothing runs before the decision

    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))).run
    assert run.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    assert [(a.type, a.approval_id) for a in run.required_actions] == [
        (run_pb2.REQUIRED_ACTION_TYPE_APPROVAL, requested.approval_id)
    ]
    pending = await stubs.approvals.ListApprovals(
        approval_pb2.ListApprovalsRequest(
            run_id=run.run_id, state=approval_pb2.APPROVAL_STATE_PENDING
        )
    )
    assert [a.approval_id for a in pending.approvals] == [requested.approval_id]
    assert pending.approvals[0].agent_id == agent.agent_id

    approval = await _resolve(stubs, requested.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE)
    assert approval.state == approval_pb2.APPROVAL_STATE_APPROVED
    assert approval.resolved_by == PARITY_PRINCIPAL
    assert approval.HasField("resolve_time")
    rest = await _rest(call)
    full = events + rest
    assert_gap_free(full)
    resolved = next(e.approval_resolved for e in rest if e.HasField("approval_resolved"))
    assert resolved.state == approval_pb2.APPROVAL_STATE_APPROVED
    result = next(e.tool_call_result for e in rest if e.HasField("tool_call_result"))
    assert result.content.startswith(f"recorded {key}=v") and not result.is_error
    assert CALLS[key] == 1
    assert full[-1].run_finished.output == "finished"
    states = [e.state_changed.state for e in full if e.HasField("state_changed")]
    assert states == [
        run_pb2.RUN_STATE_RUNNING,
        run_pb2.RUN_STATE_REQUIRES_ACTION,
        run_pb2.RUN_STATE_RUNNING,
    ]


async def test_reject_tells_the_model_and_the_run_goes_on(stubs: Stubs) -> None:
    key = unique("reject")
    agent = await create_agent(
        stubs,
        _record_script(key, "ok, not doing it"),
        tools=["record"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    call, _, requested = await _start_until_approval(stubs, agent)
    approval = await _resolve(
        stubs, requested.approval_id, approval_pb2.APPROVAL_DECISION_REJECT, "too risky"
    )
    assert approval.state == approval_pb2.APPROVAL_STATE_REJECTED
    assert approval.reason == "too risky"
    rest = await _rest(call)
    result = next(e.tool_call_result for e in rest if e.HasField("tool_call_result"))
    assert result.is_error and "rejected" in result.content and "too risky" in result.content
    assert CALLS[key] == 0
    assert rest[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert rest[-1].run_finished.output == "ok, not doing it"


async def test_edited_arguments_replace_the_models(stubs: Stubs) -> None:
    key, edited_key = unique("orig"), unique("edited")
    agent = await create_agent(
        stubs, _record_script(key), tools=["record"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    call, _, requested = await _start_until_approval(stubs, agent)
    approval = await _resolve(
        stubs,
        requested.approval_id,
        approval_pb2.APPROVAL_DECISION_APPROVE,
        edited={"key": edited_key, "value": "changed"},
    )
    assert dict(approval.edited_arguments) == {"key": edited_key, "value": "changed"}
    rest = await _rest(call)
    result = next(e.tool_call_result for e in rest if e.HasField("tool_call_result"))
    assert result.content.startswith(f"recorded {edited_key}=changed")
    assert (CALLS[key], CALLS[edited_key]) == (0, 1)


async def test_approval_timeout_expires_rejects_and_the_run_goes_on(stubs: Stubs) -> None:
    key = unique("expire")
    agent = await create_agent(
        stubs,
        _record_script(key, "nobody answered"),
        tools=["record"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        approval_timeout_seconds=1,
    )
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    resolved = next(e.approval_resolved for e in events if e.HasField("approval_resolved"))
    assert resolved.state == approval_pb2.APPROVAL_STATE_EXPIRED
    assert resolved.resolved_by == "system"
    result = next(e.tool_call_result for e in events if e.HasField("tool_call_result"))
    assert result.is_error and "expired" in result.content
    assert CALLS[key] == 0
    assert events[-1].run_finished.output == "nobody answered"
    approval = (
        await stubs.approvals.GetApproval(
            approval_pb2.GetApprovalRequest(approval_id=resolved.approval_id)
        )
    ).approval
    assert approval.state == approval_pb2.APPROVAL_STATE_EXPIRED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _resolve(stubs, resolved.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE)
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.FAILED_PRECONDITION
    assert details.reason == "APPROVAL_NOT_PENDING"


async def test_double_resolve_same_decision_returns_it_other_decision_fails(stubs: Stubs) -> None:
    key = unique("double")
    agent = await create_agent(
        stubs, _record_script(key), tools=["record"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    call, _, requested = await _start_until_approval(stubs, agent)
    first, second = await asyncio.gather(
        _resolve(stubs, requested.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE),
        _resolve(stubs, requested.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE),
    )
    assert first == second
    await _rest(call)
    again = await _resolve(stubs, requested.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE)
    assert again == first
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _resolve(stubs, requested.approval_id, approval_pb2.APPROVAL_DECISION_REJECT)
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.FAILED_PRECONDITION
    assert details.reason == "APPROVAL_ALREADY_RESOLVED"
    assert details.domain == "runwire.dev"
    assert CALLS[key] == 1


async def test_allowlist_runs_listed_tools_without_approval(stubs: Stubs) -> None:
    key = unique("allow")
    script: Script = [
        {
            "tool_calls": [
                {"name": "echo", "arguments": {"text": "free"}},
                {"name": "record", "arguments": {"key": key}},
            ]
        },
        {"text": "done both"},
    ]
    agent = await create_agent(
        stubs,
        script,
        tools=["echo", "record"],
        mode=agent_pb2.APPROVAL_MODE_ALLOWLIST,
        auto_approved=["echo"],
    )
    call, events, requested = await _start_until_approval(stubs, agent)
    assert requested.tool_name == "record"
    await _resolve(stubs, requested.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE)
    full = events + await _rest(call)
    asked = [e.approval_requested.tool_name for e in full if e.HasField("approval_requested")]
    assert asked == ["record"]
    results = {e.tool_call_result.content for e in full if e.HasField("tool_call_result")}
    assert "free" in results
    assert full[-1].run_finished.output == "done both"


async def test_parallel_approvals_keep_requires_action_until_all_resolved(stubs: Stubs) -> None:
    k1, k2 = unique("p1"), unique("p2")
    script: Script = [
        {
            "tool_calls": [
                {"name": "record", "arguments": {"key": k1}},
                {"name": "record", "arguments": {"key": k2}},
            ]
        },
        {"text": "both"},
    ]
    agent = await create_agent(
        stubs, script, tools=["record"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
    ).run
    # Both requests and the state change are logged (in an order that varies: the
    # calls run concurrently) before GetRun reads them; it folds the log in.
    seen = await events_until(
        stubs, run.run_id, _waits_for_approvals(2), "two approval requests and REQUIRES_ACTION"
    )
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run.run_id))).run
    assert run.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    first, second = run.required_actions
    approval = await _resolve(stubs, first.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE)
    assert approval.state == approval_pb2.APPROVAL_STATE_APPROVED
    # Once the first decision is logged, the run still waits for the second.
    await events_until(
        stubs,
        run.run_id,
        lambda events: first.approval_id in _resolved_ids(events),
        f"approval_resolved of {first.approval_id}",
        after_sequence=seen[-1].sequence,
    )
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run.run_id))).run
    assert run.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    assert [a.approval_id for a in run.required_actions] == [second.approval_id]
    await _resolve(stubs, second.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE)
    events = await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run.run_id))
    )
    assert events[-1].run_finished.output == "both"
    assert (CALLS[k1], CALLS[k2]) == (1, 1)


async def test_cancel_while_waiting_closes_the_approval(stubs: Stubs) -> None:
    key = unique("cancel")
    agent = await create_agent(
        stubs, _record_script(key), tools=["record"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    call, events, requested = await _start_until_approval(stubs, agent)
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=events[0].run_id))
    rest = await _rest(call)
    resolved = next(e.approval_resolved for e in rest if e.HasField("approval_resolved"))
    assert resolved.state == approval_pb2.APPROVAL_STATE_CANCELLED
    assert rest[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED
    assert_gap_free(events + rest)
    approval = (
        await stubs.approvals.GetApproval(
            approval_pb2.GetApprovalRequest(approval_id=requested.approval_id)
        )
    ).approval
    assert approval.state == approval_pb2.APPROVAL_STATE_CANCELLED
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))).run
    assert run.state == run_pb2.RUN_STATE_CANCELLED and list(run.required_actions) == []
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _resolve(stubs, requested.approval_id, approval_pb2.APPROVAL_DECISION_APPROVE)
    assert status_details(caught.value).reason == "APPROVAL_NOT_PENDING"
    assert CALLS[key] == 0
