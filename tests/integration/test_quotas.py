"""Quotas and size limits (issue 13, item 4) on a real server, memory and Redis stores.

Each limit is set small; going past it answers RESOURCE_EXHAUSTED with
``google.rpc.QuotaFailure`` (the subject) and ErrorInfo ``QUOTA_EXCEEDED``
(metadata ``limit``), and refuses nothing to another tenant or principal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
)

from runwire_server.app.server import RunwireServer
from runwire_server.service.auth.config import AuthSettings
from runwire_server.service.llm.scripted import MAX_DELTAS_PER_TEXT
from runwire_server.service.stores.approvals import MemoryApprovalStore
from tests.conftest import server_settings
from tests.support import (
    Stubs,
    api_key,
    create_agent,
    polls,
    running_server,
    status_details,
    unique,
)

TOKENS = {name: f"rw-{name}-{unique('k')}" for name in ("alice", "bob", "zed")}


@pytest.fixture(scope="module", params=["in_process", "in_process_redis"])
async def limited(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[RunwireServer]:
    auth = AuthSettings(
        api_keys=[
            api_key(TOKENS["alice"], "alice", "admin", tenant="acme"),
            api_key(TOKENS["bob"], "bob", "admin", tenant="acme"),
            api_key(TOKENS["zed"], "zed", "admin", tenant="zeta"),
        ]
    )
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address="",
        auth=auth,
        max_agents_per_tenant=3,
        max_agent_bytes=4096,
        max_active_runs_per_tenant=2,
        max_open_streams_per_principal=2,
        max_list_response_bytes=2048,
        max_threads_per_tenant=2,
        max_pending_approvals_per_tenant=2,
    )
    async with running_server(settings) as server:
        yield server


@pytest.fixture
async def callers(limited: RunwireServer) -> AsyncIterator[dict[str, Stubs]]:
    stubs = {n: Stubs.connect(limited.addresses[0], token=t) for n, t in TOKENS.items()}
    yield stubs
    for s in stubs.values():
        await s.channel.close()


async def clear_agents(stubs: Stubs) -> None:
    """Deletes the caller's tenant's agents (the module's tests share a server)."""
    while listed := (await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest())).agents:
        for agent in listed:
            await stubs.agents.DeleteAgent(agent_pb2.DeleteAgentRequest(agent_id=agent.agent_id))


def assert_quota(error: grpc.aio.AioRpcError, limit: str, subject: str) -> None:
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    details = status_details(error)
    assert (details.reason, details.metadata["limit"]) == ("QUOTA_EXCEEDED", limit)
    assert list(details.quota_violations) == [subject]


async def test_agents_per_tenant_and_agent_size(callers: dict[str, Stubs]) -> None:
    alice, zed = callers["alice"], callers["zed"]
    await clear_agents(alice)
    kept = [await create_agent(alice, [{"text": "x"}]) for _ in range(3)]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create_agent(alice, [{"text": "x"}])
    assert_quota(caught.value, "max_agents_per_tenant", "tenant:acme")
    await create_agent(zed, [{"text": "x"}])  # another tenant counts apart
    await alice.agents.DeleteAgent(agent_pb2.DeleteAgentRequest(agent_id=kept[0].agent_id))
    await create_agent(alice, [{"text": "x"}], instructions="fits again")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create_agent(zed, [{"text": "x"}], instructions="y" * 5000)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_details(caught.value).metadata["limit"] == "max_agent_bytes"
    big = agent_pb2.Agent()
    big.CopyFrom(kept[1])
    big.instructions = "y" * 5000
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await alice.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=big))
    assert status_details(caught.value).metadata["limit"] == "max_agent_bytes"


async def test_a_long_list_comes_in_pages_that_fit(callers: dict[str, Stubs]) -> None:
    zed = callers["zed"]
    await clear_agents(zed)
    made = {(await create_agent(zed, [], instructions="z" * 900)).agent_id for _ in range(3)}
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await zed.agents.ListAgents(
            agent_pb2.ListAgentsRequest(page_size=100, page_token=token)
        )
        assert page.ByteSize() <= 2048 + 1024  # one agent always fits a page
        seen += [a.agent_id for a in page.agents]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert set(seen) == made and len(seen) == 3
    assert pages > 1


async def test_active_runs_per_tenant_and_streams_per_principal(
    callers: dict[str, Stubs],
) -> None:
    alice, bob, zed = callers["alice"], callers["bob"], callers["zed"]
    await clear_agents(alice)
    await clear_agents(zed)
    script = [{"tool_calls": [{"name": "record", "arguments": {"key": unique("q"), "value": "v"}}]}]
    waiting = await create_agent(
        bob, script, tools=["record"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    runs = []
    for _ in range(2):
        created = await bob.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=waiting.agent_id, prompt="p")
        )
        runs.append(created.run)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await alice.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=waiting.agent_id, prompt="p")
        )
    assert_quota(caught.value, "max_active_runs_per_tenant", "tenant:acme")

    # Streams: two per principal; a refused StreamRun starts no run.
    streams = [
        alice.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=r.run_id))
        for r in runs
    ]
    for stream in streams:
        await anext(aiter(stream))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        third = alice.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=runs[0].run_id)
        )
        await anext(aiter(third))
    assert_quota(caught.value, "max_open_streams_per_principal", "principal:alice")
    other = bob.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=runs[0].run_id))
    await anext(aiter(other))  # bob's streams count apart
    other.cancel()

    # A run that ends frees its place.
    await bob.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=runs[0].run_id))
    async for _ in polls():
        got = await bob.runs.GetRun(run_service_pb2.GetRunRequest(run_id=runs[0].run_id))
        if got.run.state == run_pb2.RUN_STATE_CANCELLED:
            break
    assert got.run.state == run_pb2.RUN_STATE_CANCELLED
    for stream in streams:
        stream.cancel()
    zed_agent = await create_agent(zed, [{"text": "ok"}])
    done = await zed.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=zed_agent.agent_id, prompt="p")
    )
    assert done.run.state == run_pb2.RUN_STATE_SUCCEEDED
    replacement = await alice.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=waiting.agent_id, prompt="p")
    )
    for run in (runs[1], replacement.run):
        await bob.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))


async def test_threads_per_tenant(callers: dict[str, Stubs]) -> None:
    zed, alice = callers["zed"], callers["alice"]
    made = [
        (await zed.threads.CreateThread(thread_pb2.CreateThreadRequest())).thread.thread_id
        for _ in range(2)
    ]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await zed.threads.CreateThread(thread_pb2.CreateThreadRequest())
    assert_quota(caught.value, "max_threads_per_tenant", "tenant:zeta")
    mine = await alice.threads.CreateThread(thread_pb2.CreateThreadRequest())  # apart
    await zed.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=made[0]))
    again = await zed.threads.CreateThread(thread_pb2.CreateThreadRequest())
    for stubs, thread_id in (
        (zed, made[1]),
        (zed, again.thread.thread_id),
        (alice, mine.thread.thread_id),
    ):
        await stubs.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread_id))


async def test_pending_approvals_per_tenant_refuse_new_runs(callers: dict[str, Stubs]) -> None:
    zed = callers["zed"]
    await clear_agents(zed)
    calls = [{"name": "record", "arguments": {"key": unique("q"), "value": "v"}} for _ in range(2)]
    asking = await create_agent(
        zed, [{"tool_calls": calls}], tools=["record"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    plain = await create_agent(zed, [{"text": "ok"}])
    run = (
        await zed.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=asking.agent_id, prompt="p")
        )
    ).run
    pending = approval_pb2.ListApprovalsRequest(
        run_id=run.run_id, state=approval_pb2.APPROVAL_STATE_PENDING
    )
    async for _ in polls():
        approvals = (await zed.approvals.ListApprovals(pending)).approvals
        if len(approvals) == 2:
            break
    assert len(approvals) == 2
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await zed.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=plain.agent_id, prompt="p")
        )
    assert_quota(caught.value, "max_pending_approvals_per_tenant", "tenant:zeta")
    await zed.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=approvals[0].approval_id,
            decision=approval_pb2.APPROVAL_DECISION_REJECT,
        )
    )
    done = await zed.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=plain.agent_id, prompt="p")
    )
    assert done.run.state == run_pb2.RUN_STATE_SUCCEEDED
    for approval in approvals:  # both stay readable, neither was evicted
        assert (
            await zed.approvals.GetApproval(
                approval_pb2.GetApprovalRequest(approval_id=approval.approval_id)
            )
        ).approval.approval_id == approval.approval_id
    await zed.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))


async def test_a_pending_approval_is_never_evicted() -> None:
    store = MemoryApprovalStore(max_approvals=2)
    pending = [
        approval_pb2.Approval(approval_id=f"apr_{i}", state=approval_pb2.APPROVAL_STATE_PENDING)
        for i in range(3)
    ]
    settled = approval_pb2.Approval(
        approval_id="apr_done", state=approval_pb2.APPROVAL_STATE_APPROVED
    )
    await store.put(settled)
    for approval in pending:
        await store.put(approval)
    for approval in pending:
        assert (await store.get(approval.approval_id)).state == approval.state
    assert await store.find("apr_done") is None


async def test_one_character_deltas_of_a_long_text_are_bounded(callers: dict[str, Stubs]) -> None:
    zed = callers["zed"]
    await clear_agents(zed)
    text = "x" * 3 * MAX_DELTAS_PER_TEXT  # within this server's max_agent_bytes
    agent = await create_agent(zed, [{"text": text}], chunk_chars=1)
    done = await zed.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    assert done.run.output == text
    assert done.run.last_sequence <= MAX_DELTAS_PER_TEXT + 50
