"""Tenants, approvers and request ids on every runtime (the parity server, auth on).

The parity server (tests/conftest.py) knows the admin of tenant ``parity``
(``stubs``), the admin of tenant ``other`` and two approvers of ``parity``
(``tests.support.PARITY_CALLERS``). Another tenant's resources answer
NOT_FOUND to every RPC, are missing from every list, and are unchanged
afterwards; the same ids can exist in both tenants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from runwire_server.app.server import RunwireServer
from tests.support import (
    PARITY_CALLERS,
    PARITY_PRINCIPAL,
    PARITY_TENANT,
    Stubs,
    create_agent,
    status_details,
    struct,
    unique,
)


def _record_script(key: str) -> list[dict[str, object]]:
    return [
        {"tool_calls": [{"name": "record", "arguments": {"key": key, "value": "v"}}]},
        {"text": "done"},
    ]


@pytest.fixture
async def other(server: RunwireServer) -> AsyncIterator[Stubs]:
    """The admin of tenant ``other`` on the parity server."""
    async with Stubs.connect(server.addresses[0], token=PARITY_CALLERS["other-admin"][0]) as s:
        yield s


def _caller(server: RunwireServer, principal: str) -> Stubs:
    return Stubs.connect(server.addresses[0], token=PARITY_CALLERS[principal][0])


async def _until_approval(
    stubs: Stubs, request: run_service_pb2.StreamRunRequest
) -> tuple[grpc.aio.UnaryStreamCall, list[event_pb2.RunEvent]]:
    call = stubs.runs.StreamRun(request)
    events: list[event_pb2.RunEvent] = []
    async for response in call:
        if response.event.HasField("heartbeat"):
            continue
        events.append(response.event)
        if response.event.HasField("approval_requested"):
            break
    return call, events


async def _not_found(attempt: Awaitable[Any]) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await attempt
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND, caught.value
    return status_details(caught.value).reason


async def _assert_workflow_memo(server: RunwireServer, run_id: str) -> None:
    """The run's workflow names its tenant and principal in its memo."""
    assert server.settings.temporal_address is not None
    client = await Client.connect(
        server.settings.temporal_address, data_converter=pydantic_data_converter
    )
    described = await client.get_workflow_handle(run_id).describe()
    assert await described.memo_value("tenant") == PARITY_TENANT
    assert await described.memo_value("created_by") == PARITY_PRINCIPAL


async def _first_of(call: grpc.aio.UnaryStreamCall) -> None:
    async for _ in call:
        return


async def test_another_tenant_sees_nothing_and_changes_nothing(
    stubs: Stubs, other: Stubs, server: RunwireServer, runtime: str
) -> None:
    key = unique("tenant")
    agent = await create_agent(
        stubs, _record_script(key), tools=["record"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    thread_id = unique("thr")
    await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=thread_id))
    call, events = await _until_approval(
        stubs,
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p", thread_id=thread_id),
    )
    run_id = events[0].run_id
    approval_id = next(
        e.approval_requested.approval_id for e in events if e.HasField("approval_requested")
    )
    started = next(e.run_started for e in events if e.HasField("run_started"))
    assert started.created_by == PARITY_PRINCIPAL
    before = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))).run
    assert (before.created_by, before.tenant) == (PARITY_PRINCIPAL, PARITY_TENANT)
    if runtime == "temporal":
        await _assert_workflow_memo(server, run_id)

    # Every RPC of the other tenant on these ids: NOT_FOUND, and no hint of existence.
    stolen = agent_pb2.Agent(agent_id=agent.agent_id, instructions="exfiltrate")
    attempts: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("AGENT_NOT_FOUND", lambda: other.agents.GetAgent(
            agent_pb2.GetAgentRequest(agent_id=agent.agent_id))),
        ("AGENT_NOT_FOUND", lambda: other.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(
            agent=stolen, update_mask=field_mask_pb2.FieldMask(paths=["instructions"])))),
        ("AGENT_NOT_FOUND", lambda: other.agents.DeleteAgent(
            agent_pb2.DeleteAgentRequest(agent_id=agent.agent_id))),
        ("THREAD_NOT_FOUND", lambda: other.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id=thread_id))),
        ("THREAD_NOT_FOUND", lambda: other.threads.ListThreadMessages(
            thread_pb2.ListThreadMessagesRequest(thread_id=thread_id))),
        ("THREAD_NOT_FOUND", lambda: other.threads.DeleteThread(
            thread_pb2.DeleteThreadRequest(thread_id=thread_id))),
        ("RUN_NOT_FOUND", lambda: other.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))),
        ("RUN_NOT_FOUND", lambda: other.runs.CancelRun(
            run_service_pb2.CancelRunRequest(run_id=run_id))),
        ("RUN_NOT_FOUND", lambda: other.runs.ListRunEvents(
            run_service_pb2.ListRunEventsRequest(run_id=run_id))),
        ("RUN_NOT_FOUND", lambda: _first_of(other.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=run_id)))),
        ("RUN_NOT_FOUND", lambda: other.runs.SubmitToolOutputs(
            run_service_pb2.SubmitToolOutputsRequest(
                run_id=run_id,
                tool_outputs=[run_pb2.ToolOutput(tool_call_id="call_1", output="{}")],
            ))),
        ("APPROVAL_NOT_FOUND", lambda: other.approvals.GetApproval(
            approval_pb2.GetApprovalRequest(approval_id=approval_id))),
        ("APPROVAL_NOT_FOUND", lambda: other.approvals.ResolveApproval(
            approval_pb2.ResolveApprovalRequest(
                approval_id=approval_id,
                decision=approval_pb2.APPROVAL_DECISION_APPROVE,
                edited_arguments=struct({"key": key, "value": "stolen"}),
            ))),
        ("AGENT_NOT_FOUND", lambda: other.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p"))),
    ]  # fmt: skip
    for reason, attempt in attempts:
        assert await _not_found(attempt()) == reason

    # Lists of the other tenant hold none of it.
    agents = await other.agents.ListAgents(agent_pb2.ListAgentsRequest(page_size=1000))
    assert agent.agent_id not in {a.agent_id for a in agents.agents}
    runs = await other.runs.ListRuns(run_service_pb2.ListRunsRequest(page_size=1000))
    assert run_id not in {r.run_id for r in runs.runs}
    assert all(r.tenant == "other" for r in runs.runs)
    approvals = await other.approvals.ListApprovals(
        approval_pb2.ListApprovalsRequest(page_size=1000)
    )
    assert approval_id not in {a.approval_id for a in approvals.approvals}
    by_run = await other.approvals.ListApprovals(approval_pb2.ListApprovalsRequest(run_id=run_id))
    assert list(by_run.approvals) == []

    # The same agent and thread ids exist in the other tenant, apart; its
    # thread is not the first tenant's (another tenant's run on it is not THREAD_BUSY).
    twin = await create_agent(other, [{"text": "twin"}], agent_id=agent.agent_id)
    assert twin.agent_id == agent.agent_id
    await other.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=thread_id))
    twin_run = await other.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=agent.agent_id, prompt="p", thread_id=thread_id)
    )
    assert (twin_run.run.state, twin_run.run.output) == (run_pb2.RUN_STATE_SUCCEEDED, "twin")
    assert (twin_run.run.created_by, twin_run.run.tenant) == ("other-admin", "other")

    # The first tenant's things are as they were.
    after = await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=agent.agent_id))
    assert after.agent.etag == agent.etag
    assert after.agent.instructions == agent.instructions
    approval = await stubs.approvals.GetApproval(
        approval_pb2.GetApprovalRequest(approval_id=approval_id)
    )
    assert approval.approval.state == approval_pb2.APPROVAL_STATE_PENDING
    assert approval.approval.tenant == PARITY_TENANT
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))).run
    assert run.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    thread = await stubs.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.thread.message_count == 0

    # ... and its run finishes with its own decision.
    resolved = await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
        )
    )
    assert resolved.approval.resolved_by == PARITY_PRINCIPAL
    rest = [r.event async for r in call]
    assert rest[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    resolved_events = [e.approval_resolved for e in rest if e.HasField("approval_resolved")]
    assert [e.resolved_by for e in resolved_events] == [PARITY_PRINCIPAL]
    thread = await stubs.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.thread.message_count > 0


async def test_only_the_agents_approvers_resolve_its_approvals(
    stubs: Stubs, server: RunwireServer, runtime: str
) -> None:
    agent = await create_agent(
        stubs,
        _record_script(unique("approvers")),
        tools=["record"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        approvers=["carol", "role:editor"],
    )
    call, events = await _until_approval(
        stubs, run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    approval_id = next(
        e.approval_requested.approval_id for e in events if e.HasField("approval_requested")
    )
    request = approval_pb2.ResolveApprovalRequest(
        approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
    )
    # The admin has approvals.resolve but is neither carol nor an editor.
    for denied in (stubs, _caller(server, "dave")):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await denied.approvals.ResolveApproval(request)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert status_details(caught.value).reason == "NOT_AN_APPROVER"
    async with _caller(server, "carol") as carol:
        resolved = await carol.approvals.ResolveApproval(request)
    assert resolved.approval.resolved_by == "carol"
    rest = [r.event async for r in call]
    assert rest[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED


async def test_a_request_id_belongs_to_its_tenant_and_its_parameters(
    stubs: Stubs, other: Stubs, runtime: str
) -> None:
    request_id = unique("req")
    agent = await create_agent(stubs, [{"text": "one"}])
    twin = await create_agent(other, [{"text": "two"}], agent_id=agent.agent_id)
    first = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p", request_id=request_id)
    )
    again = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p", request_id=request_id)
    )
    assert again.run.run_id == first.run.run_id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id, prompt="other", request_id=request_id
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = status_details(caught.value)
    assert details.reason == "REQUEST_ID_REUSED"
    assert "request_id" in details.field_violations
    # The same request id in another tenant is another request.
    theirs = await other.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=twin.agent_id, prompt="p", request_id=request_id)
    )
    assert theirs.run.run_id != first.run.run_id
    assert theirs.run.tenant == "other"
