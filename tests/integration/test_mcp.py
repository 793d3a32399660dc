"""MCP toolsets through the real gRPC server, on both runtimes.

The MCP servers are ``tests.mcp_servers`` (the SDK's ``MCPServer``), over stdio (a
child process of the Runwire server, or of its worker) and over streamable HTTP (a
child process of the tests): listing, calls, the allow/deny filter, approvals of an
MCP tool, a server that crashes mid-call (a tool error, the run goes on), reconnection,
and a server that is down at start (reported, never fatal).
"""

from __future__ import annotations

import os
import pathlib
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    tool_pb2,
    tool_pb2_grpc,
)

from tests.conftest import server_settings
from tests.mcp_servers import SECRET_VARIABLE, free_port, http_server
from tests.support import (
    PARITY_TOKEN,
    Stubs,
    collect,
    create_agent,
    events_until,
    parity_auth,
    running_server,
    status_details,
    wait_until,
)

#: The runtimes these tests run on (Redis stores change nothing for MCP).
MCP_RUNTIMES = ("in_process", "temporal")

#: The variable of the Runwire server holding the secret the stdio server gets.
STDIO_SECRET_SOURCE = "RUNWIRE_TEST_MCP_STDIO_SECRET"


def stdio_server(name: str, **extra: Any) -> dict[str, Any]:
    """A ``[[mcp_servers]]`` entry running ``tests.mcp_servers`` over stdio."""
    return {
        "name": name,
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", "tests.mcp_servers", "stdio"],
        "cwd": str(pathlib.Path(__file__).resolve().parents[2]),
        **extra,
    }


class McpSetup:
    """The MCP side of one test server: the HTTP servers and the secrets."""

    def __init__(self, tmp: pathlib.Path) -> None:
        self.stdio_secret = "stdio-" + uuid.uuid4().hex
        self.http_secret = "http-" + uuid.uuid4().hex
        self.secret_file = tmp / "mcp-header"
        self.secret_file.write_text(self.http_secret + "\n")
        self.web_url = ""
        self.flaky_port = free_port()


@pytest.fixture(scope="module")
async def mcp_setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[McpSetup]:
    setup = McpSetup(tmp_path_factory.mktemp("mcp"))
    os.environ[STDIO_SECRET_SOURCE] = setup.stdio_secret
    try:
        async with http_server(secret=setup.http_secret) as (url, _):
            setup.web_url = url
            yield setup
    finally:
        os.environ.pop(STDIO_SECRET_SOURCE, None)


def mcp_servers(setup: McpSetup) -> list[dict[str, Any]]:
    """The test servers' ``mcp_servers``: ``local`` (stdio), ``web`` (HTTP, with a
    header from a file), ``flaky`` (HTTP, restarted by a test), ``down`` (a process
    that exits at once)."""
    return [
        stdio_server(
            "local",
            env_from_env={SECRET_VARIABLE: STDIO_SECRET_SOURCE},
            allow_tools=["add", "shout", "whoami", "crash", "n*"],
        ),
        {
            "name": "web",
            "transport": "streamable_http",
            "url": setup.web_url,
            "headers_from_files": {"X-Test-Secret": str(setup.secret_file)},
            "deny_tools": ["hidden", "crash"],
        },
        {
            "name": "flaky",
            "transport": "streamable_http",
            "url": f"http://127.0.0.1:{setup.flaky_port}/mcp",
            "connect_timeout_seconds": 5,
        },
        {
            "name": "down",
            "transport": "stdio",
            "command": sys.executable,
            "args": ["-c", "raise SystemExit(1)"],
            "connect_timeout_seconds": 2,
        },
    ]


@pytest.fixture(scope="module", params=MCP_RUNTIMES)
async def mcp_stubs(
    request: pytest.FixtureRequest, redis_url: str, temporal_address: str, mcp_setup: McpSetup
) -> AsyncIterator[Stubs]:
    """A parity-suite server (``request.param``) with the test MCP servers."""
    async with http_server(mcp_setup.flaky_port):
        settings = server_settings(
            request.param,
            redis_url=redis_url,
            temporal_address=temporal_address,
            auth=parity_auth(),
            mcp_servers=mcp_servers(mcp_setup),
        )
        async with running_server(settings) as server:
            stubs = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
            yield stubs
            await stubs.channel.close()


def tool_stub(stubs: Stubs) -> Any:
    return tool_pb2_grpc.ToolServiceStub(stubs.channel)


async def list_tools(stubs: Stubs) -> tool_pb2.ListToolsResponse:
    response: tool_pb2.ListToolsResponse = await tool_stub(stubs).ListTools(
        tool_pb2.ListToolsRequest()
    )
    return response


async def mcp_agent(
    stubs: Stubs, script: list[dict[str, Any]], toolsets: list[str], **options: Any
) -> agent_pb2.Agent:
    agent = await create_agent(stubs, script, **options)
    agent.toolsets.extend(toolsets)
    response = await stubs.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=agent))
    updated: agent_pb2.Agent = response.agent
    return updated


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": args} for name, args in pairs]}


def results(events: list[event_pb2.RunEvent]) -> list[event_pb2.ToolCallResult]:
    return [e.tool_call_result for e in events if e.HasField("tool_call_result")]


def finished(events: list[event_pb2.RunEvent]) -> event_pb2.RunFinished:
    ends = [e.run_finished for e in events if e.HasField("run_finished")]
    assert ends, [e.WhichOneof("payload") for e in events]
    return ends[-1]


async def stream(stubs: Stubs, agent_id: str) -> list[event_pb2.RunEvent]:
    return await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt="go"))
    )


async def test_list_tools_shows_filtered_mcp_tools_and_server_states(mcp_stubs: Stubs) -> None:
    listing = await list_tools(mcp_stubs)
    sources = {tool.name: tool for tool in listing.tools}
    assert [t.name for t in listing.tools] == sorted(sources)
    assert sources["calculator"].source == agent_pb2.TOOL_SOURCE_BUILTIN
    assert sources["record"].source == agent_pb2.TOOL_SOURCE_PYTHON
    local = {n for n, t in sources.items() if t.mcp_server == "local"}
    assert local == {"local_add", "local_shout", "local_whoami", "local_crash", "local_nap"}
    web = {n for n, t in sources.items() if t.mcp_server == "web"}
    assert web == {"web_add", "web_shout", "web_whoami", "web_nap"}  # hidden, crash denied
    add = sources["local_add"]
    assert add.source == agent_pb2.TOOL_SOURCE_MCP
    assert add.description == "Adds two integers."
    schema = json_format.MessageToDict(add.parameters)
    assert schema["required"] == ["a", "b"] and schema["properties"]["a"]["type"] == "integer"

    servers = {server.name: server for server in listing.mcp_servers}
    assert [s.name for s in listing.mcp_servers] == ["down", "flaky", "local", "web"]
    assert servers["local"].state == tool_pb2.MCP_SERVER_STATE_CONNECTED
    assert servers["local"].transport == tool_pb2.MCP_SERVER_TRANSPORT_STDIO
    assert servers["web"].transport == tool_pb2.MCP_SERVER_TRANSPORT_STREAMABLE_HTTP
    assert list(servers["web"].tool_names) == sorted(web)
    assert servers["web"].error == ""
    down = servers["down"]
    assert down.state == tool_pb2.MCP_SERVER_STATE_UNAVAILABLE
    assert down.error and not down.tool_names
    assert sys.executable not in down.error and "SystemExit" not in down.error
    assert down.HasField("update_time")
    text = str(listing)
    assert sys.executable not in text and "127.0.0.1" not in text


async def test_health_reports_each_mcp_server(mcp_stubs: Stubs) -> None:
    health = health_pb2_grpc.HealthStub(mcp_stubs.channel)
    serving = health_pb2.HealthCheckResponse.SERVING
    for name, expected in (
        ("local", serving),
        ("down", health_pb2.HealthCheckResponse.NOT_SERVING),
    ):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=f"runwire.mcp.{name}"))
        assert answer.status == expected, name
    whole = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert whole.status == serving


async def test_calls_over_stdio_and_http_with_operator_secrets(
    mcp_stubs: Stubs, mcp_setup: McpSetup
) -> None:
    script = [
        calls(
            ("local_add", {"a": 2, "b": 3}),
            ("web_shout", {"text": "hello"}),
            ("local_whoami", {}),
            ("web_whoami", {}),
        ),
        {"text": "done"},
    ]
    agent = await mcp_agent(mcp_stubs, script, ["local", "web"])
    events = await stream(mcp_stubs, agent.agent_id)
    assert finished(events).state == run_pb2.RUN_STATE_SUCCEEDED
    by_call = {r.tool_call_id: r for r in results(events)}
    assert [by_call[f"call_1_{i}"].content for i in range(4)] == [
        "5",
        "HELLO",
        mcp_setup.stdio_secret,
        mcp_setup.http_secret,
    ]
    assert not any(r.is_error for r in by_call.values())


async def test_filtered_and_invalid_calls_are_tool_errors(mcp_stubs: Stubs) -> None:
    script = [
        calls(("local_hidden", {}), ("local_add", {"a": "not a number", "b": 1})),
        {"text": "done"},
    ]
    agent = await mcp_agent(mcp_stubs, script, ["local"])
    events = await stream(mcp_stubs, agent.agent_id)
    assert finished(events).state == run_pb2.RUN_STATE_SUCCEEDED
    hidden, invalid = results(events)
    assert hidden.is_error and "unknown tool 'local_hidden'" in hidden.content
    assert invalid.is_error and "valid integer" in invalid.content


async def test_unknown_toolset_is_refused(mcp_stubs: Stubs) -> None:
    agent = agent_pb2.Agent(model=agent_pb2.Model(provider="scripted"), toolsets=["nowhere"])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mcp_stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(agent_id=f"mcp-{uuid.uuid4().hex[:8]}", agent=agent)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = status_details(caught.value).field_violations
    assert "agent.toolsets[0]" in violations


async def test_an_mcp_tool_waits_for_its_approval(mcp_stubs: Stubs) -> None:
    script = [
        calls(("local_add", {"a": 1, "b": 2}), ("local_shout", {"text": "ok"})),
        {"text": "x"},
    ]
    agent = await mcp_agent(
        mcp_stubs,
        script,
        ["local"],
        mode=agent_pb2.APPROVAL_MODE_ALLOWLIST,
        auto_approved=["local_add"],
    )
    created = await mcp_stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="go")
    )
    run_id = created.run.run_id
    events = await events_until(
        mcp_stubs,
        run_id,
        lambda seen: any(e.HasField("approval_requested") for e in seen),
        "an approval request",
    )
    requested = next(e.approval_requested for e in events if e.HasField("approval_requested"))
    assert requested.tool_name == "local_shout"
    await mcp_stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=requested.approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
        )
    )
    events = await events_until(
        mcp_stubs, run_id, lambda seen: any(e.HasField("run_finished") for e in seen), "the end"
    )
    assert finished(events).state == run_pb2.RUN_STATE_SUCCEEDED
    assert sorted(r.content for r in results(events)) == ["3", "OK"]


async def test_a_stdio_server_that_crashes_mid_call_is_a_tool_error_then_reconnects(
    mcp_stubs: Stubs,
) -> None:
    script = [
        calls(("local_crash", {})),
        calls(("local_add", {"a": 20, "b": 22})),
        {"text": "still here"},
    ]
    agent = await mcp_agent(mcp_stubs, script, ["local"])
    events = await stream(mcp_stubs, agent.agent_id)
    end = finished(events)
    assert end.state == run_pb2.RUN_STATE_SUCCEEDED and end.output == "still here"
    crashed, added = results(events)
    assert crashed.is_error and "failed during the call of 'local_crash'" in crashed.content
    assert not added.is_error and added.content == "42"
    await wait_until(
        lambda: _state(mcp_stubs, "local", tool_pb2.MCP_SERVER_STATE_CONNECTED),
        "local connected again",
    )


async def test_an_http_server_that_crashes_is_reconnected_once_it_is_back(
    mcp_stubs: Stubs, mcp_setup: McpSetup
) -> None:
    script = [calls(("flaky_crash", {})), calls(("flaky_add", {"a": 1, "b": 2})), {"text": "on"}]
    agent = await mcp_agent(mcp_stubs, script, ["flaky"])
    created = await mcp_stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="go")
    )
    events = await events_until(
        mcp_stubs,
        created.run.run_id,
        lambda seen: any(e.HasField("run_finished") for e in seen),
        "the end",
    )
    crashed, down = results(events)
    assert crashed.is_error and "failed during the call" in crashed.content
    # The server is gone: the next call is a tool error too, and the run goes on.
    assert down.is_error and "flaky" in down.content
    assert finished(events).state == run_pb2.RUN_STATE_SUCCEEDED
    await wait_until(
        lambda: _state(mcp_stubs, "flaky", tool_pb2.MCP_SERVER_STATE_UNAVAILABLE),
        "flaky reported unavailable",
    )
    async with http_server(mcp_setup.flaky_port):
        await wait_until(
            lambda: _state(mcp_stubs, "flaky", tool_pb2.MCP_SERVER_STATE_CONNECTED),
            "flaky reconnected",
        )
        again = await mcp_agent(
            mcp_stubs, [calls(("flaky_add", {"a": 2, "b": 2})), {"text": "ok"}], ["flaky"]
        )
        events = await stream(mcp_stubs, again.agent_id)
        assert [r.content for r in results(events)] == ["4"]


async def _state(stubs: Stubs, server: str, state: tool_pb2.McpServerState) -> bool:
    listing = await list_tools(stubs)
    return any(s.name == server and s.state == state for s in listing.mcp_servers)


async def test_a_server_down_at_start_offers_nothing_and_the_run_goes_on(
    mcp_stubs: Stubs,
) -> None:
    script = [calls(("down_anything", {})), {"text": "fine"}]
    agent = await mcp_agent(mcp_stubs, script, ["down"], tools=["echo"])
    tools = await mcp_stubs.agents.ListAgentTools(
        agent_pb2.ListAgentToolsRequest(agent_id=agent.agent_id)
    )
    assert [tool.name for tool in tools.tools] == ["echo"]
    events = await stream(mcp_stubs, agent.agent_id)
    assert finished(events).output == "fine"
    (result,) = results(events)
    assert result.is_error and "unknown tool" in result.content
