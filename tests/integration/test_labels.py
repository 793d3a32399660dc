"""Labels on runs and agents (issue 17, item 3), on every runtime.

Runs carry the labels of the request that created them (CreateRun, StreamRun,
WaitRun) and return them on GetRun, WaitRun and ListRuns; agents carry their
own. ListRuns and ListAgents keep only what carries every pair asked for,
page after page. The contract's bounds (32 pairs, key pattern, value length)
are protovalidate's: INVALID_ARGUMENT with a field violation under ``labels``.
With Redis, two replicas on one prefix share the labels of each other's runs;
on Temporal, the workflow's memo holds them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

import grpc
import pytest
import runwire
from google.protobuf import field_mask_pb2
from runwire.cli import _app
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2
from temporalio.client import Client
from typer.testing import CliRunner

from runwire_server.app.server import RunwireServer
from tests.conftest import server_settings
from tests.support import (
    PARITY_CALLERS,
    PARITY_TOKEN,
    Stubs,
    collect,
    create_agent,
    parity_auth,
    run_until,
    running_server,
    status_details,
    unique,
)

#: Most ListRuns/ListAgents calls a paging loop of these tests makes.
MAX_PAGES = 200


async def list_runs(
    stubs: Stubs, labels: dict[str, str], *, page_size: int = 2, agent_id: str = ""
) -> list[run_pb2.Run]:
    """Every run ListRuns returns for ``labels``, page after page."""
    runs: list[run_pb2.Run] = []
    token = ""
    for _ in range(MAX_PAGES):
        response = await stubs.runs.ListRuns(
            run_service_pb2.ListRunsRequest(
                labels=labels, page_size=page_size, page_token=token, agent_id=agent_id
            )
        )
        assert len(response.runs) <= page_size
        runs.extend(response.runs)
        token = response.next_page_token
        if not token:
            return runs
    raise AssertionError(f"ListRuns still had pages after {MAX_PAGES} calls")


async def list_agents(
    stubs: Stubs, labels: dict[str, str], *, page_size: int = 1
) -> list[agent_pb2.Agent]:
    """Every agent ListAgents returns for ``labels``, page after page."""
    agents: list[agent_pb2.Agent] = []
    token = ""
    for _ in range(MAX_PAGES):
        response = await stubs.agents.ListAgents(
            agent_pb2.ListAgentsRequest(labels=labels, page_size=page_size, page_token=token)
        )
        assert len(response.agents) <= page_size
        agents.extend(response.agents)
        token = response.next_page_token
        if not token:
            return agents
    raise AssertionError(f"ListAgents still had pages after {MAX_PAGES} calls")


async def create_run(stubs: Stubs, agent_id: str, labels: dict[str, str]) -> run_pb2.Run:
    response = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent_id, prompt="hi", labels=labels)
    )
    run: run_pb2.Run = response.run
    return run


async def test_labels_round_trip_on_every_run_call(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "ok"}])
    labels = {"user": "u-17", "ticket": "RW-42", "trace.id/x": "a b c"}

    created = await create_run(stubs, agent.agent_id, labels)
    assert dict(created.labels) == labels
    ended = await run_until(
        stubs, created.run_id, lambda r: r.state == run_pb2.RUN_STATE_SUCCEEDED, "succeeded"
    )
    assert dict(ended.labels) == labels

    waited = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=agent.agent_id, prompt="hi", labels={"via": "wait"})
    )
    assert waited.run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert dict(waited.run.labels) == {"via": "wait"}

    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="hi", labels={"via": "stream"}
            )
        )
    )
    streamed = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))
    assert dict(streamed.run.labels) == {"via": "stream"}

    listed = await list_runs(stubs, {}, agent_id=agent.agent_id, page_size=10)
    assert {r.run_id: dict(r.labels) for r in listed} == {
        created.run_id: labels,
        waited.run.run_id: {"via": "wait"},
        streamed.run.run_id: {"via": "stream"},
    }


async def test_list_runs_filters_on_every_pair_across_pages(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "ok"}])
    suite = unique("suite")
    mine = [
        await create_run(stubs, agent.agent_id, {"suite": suite, "n": str(i % 2)}) for i in range(5)
    ]
    # Same key, other value; and the pair under another key: neither matches.
    await create_run(stubs, agent.agent_id, {"suite": unique("suite")})
    await create_run(stubs, agent.agent_id, {"other": suite})

    found = await list_runs(stubs, {"suite": suite}, page_size=2)
    assert [r.run_id for r in found] == [r.run_id for r in reversed(mine)]  # newest first
    assert all(r.labels["suite"] == suite for r in found)

    even = await list_runs(stubs, {"suite": suite, "n": "0"}, page_size=1)
    assert [r.run_id for r in even] == [r.run_id for r in reversed(mine[0::2])]
    # Combined with the other filters.
    with_agent = await list_runs(stubs, {"suite": suite, "n": "1"}, agent_id=agent.agent_id)
    assert [r.run_id for r in with_agent] == [r.run_id for r in reversed(mine[1::2])]
    assert await list_runs(stubs, {"suite": suite, "n": "2"}) == []
    assert await list_runs(stubs, {"suite": suite}, agent_id=unique("agent")) == []


async def test_list_runs_by_label_stays_in_the_callers_tenant(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "ok"}])
    suite = unique("suite")
    run = await create_run(stubs, agent.agent_id, {"suite": suite})
    assert [r.run_id for r in await list_runs(stubs, {"suite": suite})] == [run.run_id]
    token, _, _ = PARITY_CALLERS["other-admin"]
    other = Stubs.connect(stubs.address, token=token)
    try:
        assert await list_runs(other, {"suite": suite}) == []
    finally:
        await other.channel.close()


async def test_agent_labels_stored_updated_and_filtered(stubs: Stubs) -> None:
    team = unique("team")
    ids = []
    for i in range(3):
        agent = agent_pb2.Agent(
            model=agent_pb2.Model(provider="scripted"),
            labels={"team": team, "env": "prod" if i else "dev"},
        )
        response = await stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(agent_id=unique("agent"), agent=agent)
        )
        assert dict(response.agent.labels) == {"team": team, "env": "prod" if i else "dev"}
        ids.append(response.agent.agent_id)
    await create_agent(stubs)  # no labels: never listed below

    assert [a.agent_id for a in await list_agents(stubs, {"team": team})] == sorted(ids)
    prod = await list_agents(stubs, {"team": team, "env": "prod"}, page_size=1)
    assert [a.agent_id for a in prod] == sorted(ids[1:])

    # Labels are replaced as a whole by an update that names them.
    updated = await stubs.agents.UpdateAgent(
        agent_pb2.UpdateAgentRequest(
            agent=agent_pb2.Agent(agent_id=ids[0], labels={"team": team, "env": "prod"}),
            update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
        )
    )
    assert dict(updated.agent.labels) == {"team": team, "env": "prod"}
    prod = await list_agents(stubs, {"team": team, "env": "prod"}, page_size=2)
    assert [a.agent_id for a in prod] == sorted(ids)
    got = await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=ids[0]))
    assert dict(got.agent.labels) == {"team": team, "env": "prod"}

    # Runs do not inherit their agent's labels.
    run = await create_run(stubs, ids[0], {})
    assert dict(run.labels) == {}


BAD_LABELS = [
    pytest.param({"-starts-with-dash": "v"}, id="key-pattern"),
    pytest.param({"k" * 64: "v"}, id="key-too-long"),
    pytest.param({"k": "v" * 257}, id="value-too-long"),
    pytest.param({f"k{i}": "v" for i in range(33)}, id="too-many"),
]


@pytest.mark.parametrize("labels", BAD_LABELS)
async def test_label_bounds_are_invalid_argument_naming_labels(
    stubs: Stubs, labels: dict[str, str]
) -> None:
    agent = await create_agent(stubs, [{"text": "ok"}])
    calls = [
        stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="hi", labels=labels)
        ),
        stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(labels=labels)),
        stubs.agents.ListAgents(agent_pb2.ListAgentsRequest(labels=labels)),
        stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(
                agent_id=unique("agent"),
                agent=agent_pb2.Agent(model=agent_pb2.Model(provider="scripted"), labels=labels),
            )
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        details = status_details(caught.value)
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert any(
            path.startswith(("labels", "agent.labels")) for path in details.field_violations
        ), details


async def test_labels_in_the_temporal_memo(
    stubs: Stubs, server: RunwireServer, runtime: str
) -> None:
    if runtime != "temporal":
        pytest.skip("the memo is Temporal's")
    agent = await create_agent(stubs, [{"text": "ok"}])
    run = await create_run(stubs, agent.agent_id, {"user": "u-1", "ticket": "RW-9"})
    address = server.settings.temporal_address
    assert address is not None
    client = await Client.connect(address)
    description = await client.get_workflow_handle(run.run_id).describe()
    memo = await description.memo()
    assert memo["labels"] == {"user": "u-1", "ticket": "RW-9"}


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[Stubs, Stubs]]:
    """Two in-process replicas on one Redis prefix."""
    prefix = f"test-{unique('labels')}"
    settings = [
        server_settings(
            "in_process_redis",
            redis_url=redis_url,
            temporal_address="",
            auth=parity_auth(),
            redis_prefix=prefix,
        )
        for _ in range(2)
    ]
    async with running_server(settings[0]) as one, running_server(settings[1]) as two:
        first = Stubs.connect(one.addresses[0], token=PARITY_TOKEN)
        second = Stubs.connect(two.addresses[0], token=PARITY_TOKEN)
        try:
            yield first, second
        finally:
            await first.channel.close()
            await second.channel.close()


async def test_two_replicas_share_labels(replicas: tuple[Stubs, Stubs]) -> None:
    first, second = replicas
    team = unique("team")
    agent = agent_pb2.Agent(model=agent_pb2.Model(provider="scripted"), labels={"team": team})
    created = await first.agents.CreateAgent(
        agent_pb2.CreateAgentRequest(agent_id=unique("agent"), agent=agent)
    )
    agent_id = created.agent.agent_id
    assert [a.agent_id for a in await list_agents(second, {"team": team})] == [agent_id]

    on_first = [await create_run(first, agent_id, {"team": team, "at": "first"}) for _ in range(2)]
    on_second = [
        await create_run(second, agent_id, {"team": team, "at": "second"}) for _ in range(2)
    ]
    everything = [r.run_id for r in reversed(on_first + on_second)]
    for replica in (first, second):
        assert [
            r.run_id for r in await list_runs(replica, {"team": team}, page_size=1)
        ] == everything
        at_first = await list_runs(replica, {"team": team, "at": "first"})
        assert [r.run_id for r in at_first] == [r.run_id for r in reversed(on_first)]
    got = await second.runs.GetRun(run_service_pb2.GetRunRequest(run_id=on_first[0].run_id))
    assert dict(got.run.labels) == {"team": team, "at": "first"}


async def test_python_client_and_cli_carry_labels(server: RunwireServer, runtime: str) -> None:
    if runtime != "in_process":
        pytest.skip("the client and the CLI are the same on every runtime")
    address = server.addresses[0]
    team = unique("team")
    async with runwire.connect_async(address, token=PARITY_TOKEN, tls=False) as client:
        agent = await client.agents.create(
            unique("agent"), model=runwire.model("scripted"), labels={"team": team}
        )
        assert dict(agent.labels) == {"team": team}
        updated = await client.agents.update(agent.agent_id, labels={"team": team, "env": "x"})
        assert dict(updated.labels) == {"team": team, "env": "x"}
        assert [
            a.agent_id
            for a in await client.agents.list(labels={"env": "x", "team": team}).to_list()
        ] == [agent.agent_id]
        run = await client.runs.create(agent.agent_id, "hi", labels={"team": team})
        waited = await client.runs.wait(
            agent.agent_id,
            "hi",
            labels={"team": team, "n": "2"},
            overrides=run_pb2.RunOverrides(instructions="More."),
        )
        assert waited.overrides.instructions == "More."
        listed = await client.runs.list(labels={"team": team}, page_size=1).to_list()
        assert [r.run_id for r in listed] == [waited.run_id, run.run.run_id]

    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    env |= {"RUNWIRE_ADDRESS": address, "RUNWIRE_TOKEN": PARITY_TOKEN, "COLUMNS": "300"}

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(_app.build_app(), list(args), env=env)
        assert result.exit_code == 0, result.output
        return str(result.stdout)

    table = await asyncio.to_thread(invoke, "runs", "list", "-l", f"team={team}", "-l", "n=2")
    lines = table.splitlines()
    assert lines[0].split()[-1] == "LABELS"
    assert [line.split()[0] for line in lines[1:]] == [waited.run_id]
    assert lines[1].split()[-1] == f"n=2,team={team}"
    agents_json = await asyncio.to_thread(
        invoke, "agents", "list", "--label", f"team={team}", "-o", "json"
    )
    assert [a["agent_id"] for a in json.loads(agents_json)] == [agent.agent_id]
    bad = await asyncio.to_thread(
        CliRunner().invoke, _app.build_app(), ["runs", "list", "-l", "novalue"], env=env
    )
    assert bad.exit_code == 2
