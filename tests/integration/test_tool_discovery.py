"""Tool discovery: ``AgentService.ListAgentTools`` lists exactly the tools a real model
request offers (a fake OpenAI server records the request), and ``ToolService.ListTools``
lists the server's tools; on both runtimes."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
import runwire
from google.protobuf import json_format
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2, tool_pb2, tool_pb2_grpc

from tests.conftest import server_settings
from tests.fake_models import FakeHandler, LoopbackServer, serving, without_proxies
from tests.integration.test_mcp import stdio_server
from tests.support import (
    PARITY_TOKEN,
    Stubs,
    collect,
    create_agent,
    parity_auth,
    running_server,
    struct,
    unique,
)

MCP_RUNTIMES = ("in_process", "temporal")


class ChatRecorder(LoopbackServer):
    """A Chat Completions API that answers "ok" (streamed) and records each request body."""

    def __init__(self) -> None:
        super().__init__(_Recording)
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []


class _Recording(FakeHandler):
    server: ChatRecorder

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        with self.server.lock:
            self.server.bodies.append(body)
        chunk = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
        }
        self.send_events([f"data: {json.dumps(chunk)}\n\n", "data: [DONE]\n\n"])


@pytest.fixture(scope="module")
def recorder() -> Iterator[ChatRecorder]:
    with pytest.MonkeyPatch.context() as patch:
        without_proxies(patch)
        with serving(ChatRecorder()) as server:
            yield server


@pytest.fixture(scope="module", params=MCP_RUNTIMES)
async def discovery_stubs(
    request: pytest.FixtureRequest, redis_url: str, temporal_address: str, recorder: ChatRecorder
) -> AsyncIterator[Stubs]:
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        auth=parity_auth(),
        tool_modules=["tests.tools_for_tests", "tests.tool_context_tools"],
        mcp_servers=[stdio_server("local", deny_tools=["crash", "hidden"])],
        model_endpoints=[
            {"name": "recorder", "provider": "openai", "base_url": f"{recorder.url}/v1"}
        ],
    )
    async with running_server(settings) as server:
        stubs = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
        yield stubs
        await stubs.channel.close()


async def test_list_agent_tools_is_what_the_model_is_offered(
    discovery_stubs: Stubs, recorder: ChatRecorder
) -> None:
    stubs = discovery_stubs
    agent_id = unique("discover")
    agent = agent_pb2.Agent(
        instructions="You are a test agent.",
        model=agent_pb2.Model(
            provider="openai", name="m-test", options=struct({"endpoint": "recorder"})
        ),
        tools=["calculator", "call_context"],
        toolsets=["local"],
        approval_policy=agent_pb2.ApprovalPolicy(
            mode=agent_pb2.APPROVAL_MODE_ALLOWLIST, auto_approved_tools=["local_add"]
        ),
    )
    await stubs.agents.CreateAgent(agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=agent))
    listed = await stubs.agents.ListAgentTools(agent_pb2.ListAgentToolsRequest(agent_id=agent_id))
    rows = list(listed.tools)
    names = [row.name for row in rows]
    assert names == [
        "calculator",
        "call_context",
        "local_add",
        "local_nap",
        "local_shout",
        "local_whoami",
    ]
    assert [row.source for row in rows[:3]] == [
        agent_pb2.TOOL_SOURCE_BUILTIN,
        agent_pb2.TOOL_SOURCE_PYTHON,
        agent_pb2.TOOL_SOURCE_MCP,
    ]
    assert {row.name for row in rows if row.mcp_server == "local"} == set(names[2:])
    assert [row.requires_approval for row in rows] == [True, True, False, True, True, True]
    # The context parameter is never shown to the model.
    context_schema = json_format.MessageToDict(rows[1].parameters)
    assert set(context_schema["properties"]) == {"note"}

    with recorder.lock:
        before = len(recorder.bodies)
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt="hi"))
    )
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    with recorder.lock:
        (body,) = recorder.bodies[before:]
    offered = [
        (
            tool["function"]["name"],
            tool["function"].get("description", ""),
            tool["function"]["parameters"],
        )
        for tool in body["tools"]
    ]
    assert offered == [
        (row.name, row.description, json_format.MessageToDict(row.parameters)) for row in rows
    ]


async def test_list_agent_tools_of_an_unknown_agent_is_not_found(discovery_stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await discovery_stubs.agents.ListAgentTools(
            agent_pb2.ListAgentToolsRequest(agent_id="no-such-agent")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_list_tools_lists_registered_and_mcp_tools(discovery_stubs: Stubs) -> None:
    stub = tool_pb2_grpc.ToolServiceStub(discovery_stubs.channel)
    listing = await stub.ListTools(tool_pb2.ListToolsRequest())
    by_name = {tool.name: tool for tool in listing.tools}
    assert {"echo", "calculator", "current_time", "sleep"} <= set(by_name)
    assert all(by_name[n].source == agent_pb2.TOOL_SOURCE_BUILTIN for n in ("echo", "sleep"))
    assert by_name["overlap"].source == agent_pb2.TOOL_SOURCE_PYTHON
    assert by_name["local_shout"].mcp_server == "local"
    assert "local_crash" not in by_name
    (server,) = listing.mcp_servers
    assert server.name == "local" and server.state == tool_pb2.MCP_SERVER_STATE_CONNECTED


async def test_an_agent_without_tools_lists_none(discovery_stubs: Stubs) -> None:
    agent = await create_agent(discovery_stubs, [{"text": "x"}])
    listed = await discovery_stubs.agents.ListAgentTools(
        agent_pb2.ListAgentToolsRequest(agent_id=agent.agent_id)
    )
    assert list(listed.tools) == []


RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))


async def runwire_cli(stubs: Stubs, *args: str) -> str:
    """Runs the ``runwire`` CLI against the test server; returns its stdout (exit 0)."""
    env = {
        **os.environ,
        "RUNWIRE_ADDRESS": stubs.address,
        "RUNWIRE_TOKEN": PARITY_TOKEN,
        "NO_COLOR": "1",
    }
    process = await asyncio.create_subprocess_exec(
        RUNWIRE, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_the_clients_and_the_cli_list_tools(discovery_stubs: Stubs) -> None:
    agent = await create_agent(discovery_stubs, [{"text": "x"}], tools=["echo"])
    agent.toolsets.append("local")
    await discovery_stubs.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=agent))
    async with runwire.AsyncClient(discovery_stubs.address, token=PARITY_TOKEN) as client:
        rows = await client.agents.list_tools(agent.agent_id)
        listing = await client.tools.list()
    assert [row.name for row in rows] == [
        "echo",
        "local_add",
        "local_nap",
        "local_shout",
        "local_whoami",
    ]
    assert [server.name for server in listing.mcp_servers] == ["local"]

    def sync_calls() -> tuple[list[str], Any]:
        # The blocking client, off the event loop that serves the test server.
        with runwire.Client(discovery_stubs.address, token=PARITY_TOKEN) as sync:
            names = [r.name for r in sync.agents.list_tools(agent.agent_id)]
            return names, sync.tools.list()

    sync_names, sync_listing = await asyncio.to_thread(sync_calls)
    assert sync_names == [row.name for row in rows]
    assert [s.name for s in sync_listing.mcp_servers] == ["local"]

    table = await runwire_cli(discovery_stubs, "agents", "tools", agent.agent_id)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["NAME", "SOURCE", "FROM", "APPROVAL"]
    assert lines[1].split()[:2] == ["echo", "builtin"]
    assert lines[2].split()[:3] == ["local_add", "mcp", "local"]
    documents = json.loads(await runwire_cli(discovery_stubs, "tools", "list", "-o", "json"))
    assert documents["mcp_servers"][0]["state"] == "MCP_SERVER_STATE_CONNECTED"
    assert "local_shout" in {tool["name"] for tool in documents["tools"]}
    both = await runwire_cli(discovery_stubs, "tools", "list")
    assert "MCP_SERVER  TRANSPORT" in both and "CONNECTED" in both
