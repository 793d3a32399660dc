"""AgentService happy paths: create, get, list, update (mask, replace, etag), delete,
and the run snapshot that later edits never change."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2

from tests.support import Stubs, collect, create_agent, status_details, struct, unique


def scripted(script: list[dict[str, Any]]) -> agent_pb2.Model:
    return agent_pb2.Model(provider="scripted", options=struct({"script": script}))


def full_agent(**fields: Any) -> agent_pb2.Agent:
    """A definition setting every field a client may set."""
    agent = agent_pb2.Agent(
        display_name="Full agent",
        description="sets every field",
        instructions="Be brief.",
        model=scripted([{"text": "hello"}]),
        tools=["echo", "calculator"],
        approval_policy=agent_pb2.ApprovalPolicy(
            mode=agent_pb2.APPROVAL_MODE_ALLOWLIST, auto_approved_tools=["echo"]
        ),
        limits=agent_pb2.Limits(
            max_iterations=3,
            timeout=duration_pb2.Duration(seconds=60),
            approval_timeout=duration_pb2.Duration(seconds=30),
        ),
        runtime=agent_pb2.RUNTIME_IN_PROCESS,
    )
    for name, value in fields.items():
        setattr(agent, name, value)
    return agent


async def get(stubs: Stubs, agent_id: str) -> agent_pb2.Agent:
    response: agent_pb2.GetAgentResponse = await stubs.agents.GetAgent(
        agent_pb2.GetAgentRequest(agent_id=agent_id)
    )
    return response.agent


def definition(agent: agent_pb2.Agent) -> agent_pb2.Agent:
    """``agent`` without its output-only fields."""
    out = agent_pb2.Agent()
    out.CopyFrom(agent)
    for name in ("agent_id", "etag", "create_time", "update_time"):
        out.ClearField(name)
    return out


async def test_create_returns_output_only_fields_and_ignores_the_clients(stubs: Stubs) -> None:
    agent_id = unique("agent")
    decoy_id = unique("decoy")
    sent = full_agent()
    sent.agent_id = decoy_id
    sent.etag = "client-etag"
    sent.create_time.FromDatetime(datetime(2001, 1, 1, tzinfo=UTC))
    sent.update_time.FromDatetime(datetime(2002, 2, 2, tzinfo=UTC))
    before = datetime.now(UTC)

    created = (
        await stubs.agents.CreateAgent(agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=sent))
    ).agent

    assert created.agent_id == agent_id
    assert created.etag and created.etag != "client-etag"
    assert created.HasField("create_time") and created.HasField("update_time")
    created_at = created.create_time.ToDatetime(tzinfo=UTC)
    assert before - timedelta(seconds=5) <= created_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert created.update_time == created.create_time
    assert definition(created) == definition(sent)  # the definition is kept as sent
    # The agent_id inside the body named nothing.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get(stubs, decoy_id)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_get_returns_the_created_agent(stubs: Stubs) -> None:
    created = await create_agent(stubs, [{"text": "hi"}], tools=["echo"], max_iterations=7)
    got = await get(stubs, created.agent_id)
    assert got == created
    assert list(got.tools) == ["echo"]
    assert got.limits.max_iterations == 7


async def test_list_pages_ordered_by_id(stubs: Stubs) -> None:
    prefix = unique("list")
    ids = [f"{prefix}-{suffix}" for suffix in ("a", "b", "c", "d", "e", "f")]
    for agent_id in random.sample(ids, len(ids)):  # created out of order
        await stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(
                agent_id=agent_id, agent=agent_pb2.Agent(model=scripted([]))
            )
        )

    listed: list[str] = []
    pages = 0
    token = ""
    while True:
        page = await stubs.agents.ListAgents(
            agent_pb2.ListAgentsRequest(page_size=2, page_token=token)
        )
        pages += 1
        token = page.next_page_token
        assert len(page.agents) == 2 or not token  # only the last page may be short
        listed.extend(a.agent_id for a in page.agents)
        if not token:
            break
    # Other tests create agents too: the whole listing is ordered, ours included.
    assert listed == sorted(listed)
    assert len(listed) == len(set(listed))  # nothing listed twice across pages
    assert [i for i in listed if i.startswith(prefix)] == ids
    assert pages >= 3

    everything = await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest(page_size=1000))
    assert [a.agent_id for a in everything.agents if a.agent_id.startswith(prefix)] == ids


async def test_update_with_mask_changes_only_the_named_field(stubs: Stubs) -> None:
    created = (
        await stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(agent_id=unique("agent"), agent=full_agent())
        )
    ).agent
    patch = full_agent(instructions="New instructions.", display_name="not in the mask")
    patch.agent_id = created.agent_id
    patch.ClearField("tools")

    updated = (
        await stubs.agents.UpdateAgent(
            agent_pb2.UpdateAgentRequest(
                agent=patch, update_mask=field_mask_pb2.FieldMask(paths=["instructions"])
            )
        )
    ).agent

    assert updated.instructions == "New instructions."
    assert updated.etag and updated.etag != created.etag
    assert updated.create_time == created.create_time
    assert updated.update_time.ToDatetime() >= created.update_time.ToDatetime()
    expected = agent_pb2.Agent()
    expected.CopyFrom(created)
    expected.instructions = "New instructions."
    assert definition(updated) == definition(expected)  # nothing else changed
    assert await get(stubs, created.agent_id) == updated


async def test_update_nested_mask_path_replaces_only_that_part(stubs: Stubs) -> None:
    created = (
        await stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(agent_id=unique("agent"), agent=full_agent())
        )
    ).agent
    patch = agent_pb2.Agent(agent_id=created.agent_id, limits=agent_pb2.Limits(max_iterations=9))
    updated = (
        await stubs.agents.UpdateAgent(
            agent_pb2.UpdateAgentRequest(
                agent=patch,
                update_mask=field_mask_pb2.FieldMask(paths=["limits.max_iterations"]),
            )
        )
    ).agent
    assert updated.limits.max_iterations == 9
    assert updated.limits.timeout == created.limits.timeout
    assert updated.limits.approval_timeout == created.limits.approval_timeout
    assert updated.model == created.model


async def test_update_with_empty_mask_replaces_the_definition(stubs: Stubs) -> None:
    created = (
        await stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(agent_id=unique("agent"), agent=full_agent())
        )
    ).agent
    replacement = agent_pb2.Agent(agent_id=created.agent_id, model=scripted([{"text": "replaced"}]))

    # model is required when the whole definition is replaced.
    without_model = agent_pb2.Agent(agent_id=created.agent_id, instructions="no model")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=without_model))
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "agent.model" in details.field_violations
    assert await get(stubs, created.agent_id) == created

    updated = (
        await stubs.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=replacement))
    ).agent
    assert updated.agent_id == created.agent_id
    assert definition(updated) == definition(replacement)  # every other field cleared
    assert not updated.display_name and not updated.instructions and not updated.tools
    assert not updated.HasField("limits") and not updated.HasField("approval_policy")
    assert updated.create_time == created.create_time
    assert updated.etag != created.etag


async def test_update_with_current_etag_succeeds_and_stale_etag_is_aborted(
    stubs: Stubs,
) -> None:
    created = await create_agent(stubs, [{"text": "v1"}])
    mask = field_mask_pb2.FieldMask(paths=["description"])

    first = (
        await stubs.agents.UpdateAgent(
            agent_pb2.UpdateAgentRequest(
                agent=agent_pb2.Agent(
                    agent_id=created.agent_id, etag=created.etag, description="first"
                ),
                update_mask=mask,
            )
        )
    ).agent
    assert first.description == "first"
    assert first.etag != created.etag

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.agents.UpdateAgent(
            agent_pb2.UpdateAgentRequest(
                agent=agent_pb2.Agent(
                    agent_id=created.agent_id, etag=created.etag, description="lost update"
                ),
                update_mask=mask,
            )
        )
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.ABORTED
    assert details.reason == "ETAG_MISMATCH"
    assert details.domain == "runwire.dev"
    assert details.metadata["etag"] == first.etag  # tells the current etag
    assert await get(stubs, created.agent_id) == first

    # Without an etag the update is unconditional.
    second = (
        await stubs.agents.UpdateAgent(
            agent_pb2.UpdateAgentRequest(
                agent=agent_pb2.Agent(agent_id=created.agent_id, description="second"),
                update_mask=mask,
            )
        )
    ).agent
    assert second.description == "second"
    assert len({created.etag, first.etag, second.etag}) == 3


async def test_delete_then_get_is_not_found(stubs: Stubs) -> None:
    created = await create_agent(stubs, [{"text": "bye"}])
    await stubs.agents.DeleteAgent(agent_pb2.DeleteAgentRequest(agent_id=created.agent_id))

    for call in (
        stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=created.agent_id)),
        stubs.agents.DeleteAgent(agent_pb2.DeleteAgentRequest(agent_id=created.agent_id)),
        stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=created.agent_id, prompt="p")
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        details = status_details(caught.value)
        assert details.code == grpc.StatusCode.NOT_FOUND
        assert details.reason == "AGENT_NOT_FOUND"
    listed = await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest(page_size=1000))
    assert created.agent_id not in {a.agent_id for a in listed.agents}
    # The id is free again.
    again = (
        await stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(
                agent_id=created.agent_id, agent=agent_pb2.Agent(model=scripted([]))
            )
        )
    ).agent
    assert again.etag != created.etag


SLEEP_THEN_OLD: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 1}}]},
    {"text": "old script"},
]


async def test_run_started_before_an_update_keeps_its_snapshot(stubs: Stubs) -> None:
    agent = await create_agent(stubs, SLEEP_THEN_OLD, tools=["sleep"], instructions="old")
    stream = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    seen = []
    updated = None
    async for response in stream:
        event = response.event
        if event.HasField("heartbeat"):
            continue
        seen.append(event)
        if event.HasField("tool_call_end") and updated is None:
            # The run is inside the 1 s sleep tool: change the script under it.
            updated = (
                await stubs.agents.UpdateAgent(
                    agent_pb2.UpdateAgentRequest(
                        agent=agent_pb2.Agent(
                            agent_id=agent.agent_id,
                            instructions="new",
                            model=scripted([{"text": "new script"}]),
                            tools=[],
                        ),
                        update_mask=field_mask_pb2.FieldMask(
                            paths=["model.options", "instructions", "tools"]
                        ),
                    )
                )
            ).agent
    assert updated is not None
    assert updated.model.options["script"][0]["text"] == "new script"
    results = [e.tool_call_result for e in seen if e.HasField("tool_call_result")]
    assert [(r.content, r.is_error) for r in results] == [("slept 1 s", False)]
    finished = seen[-1].run_finished
    assert finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert finished.output == "old script"

    # A run started after the update uses the new definition.
    fresh = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    assert fresh.run.output == "new script"


async def test_delete_does_not_affect_a_run_in_flight(stubs: Stubs) -> None:
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 0.5}}]},
        {"text": "finished anyway"},
    ]
    agent = await create_agent(stubs, script, tools=["sleep"])
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
    ).run
    await stubs.agents.DeleteAgent(agent_pb2.DeleteAgentRequest(agent_id=agent.agent_id))
    events = await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run.run_id))
    )
    assert events[-1].run_finished.output == "finished anyway"
    got = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run.run_id))).run
    assert got.agent_id == agent.agent_id
    assert got.state == run_pb2.RUN_STATE_SUCCEEDED
