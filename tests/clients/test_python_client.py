"""The Python client's lower-level helpers (``runwire``) against a real Runwire server on loopback.

One in-process server for the module (the helpers only speak the wire contract,
which the parity suites check on every runtime). Following runs (resume,
approvals, client tools) is tested with the clients in
test_python_async_client.py and test_python_sync_client.py.
"""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import runwire
from runwire import StatusDetails, Stubs
from runwire.v1 import (
    agent_pb2,
    event_pb2,
    run_service_pb2,
)

from runwire_server.app.server import RunwireServer
from tests.conftest import server_settings
from tests.support import assert_gap_free, create_agent, running_server, unique

CLIENT_SOURCES = pathlib.Path(runwire.__file__).parent

ECHO_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "ping"}}]},
    {"text": "The echo said ping."},
]

#: What ``runwire`` exports; a change here is a change of the client's public API
#: (``Client`` and ``AsyncClient`` are tested in test_python_sync_client.py and
#: test_python_async_client.py; the lower-level helpers here).
EXPORTED = [
    "AbortedError",
    "Agents",
    "AlreadyExistsError",
    "Approvals",
    "AsyncAgents",
    "AsyncApprovals",
    "AsyncClient",
    "AsyncEventStream",
    "AsyncPager",
    "AsyncRun",
    "AsyncRuns",
    "AsyncThreads",
    "AsyncTools",
    "AsyncWatch",
    "Client",
    "Credentials",
    "DataLossError",
    "DeadlineExceededError",
    "Decide",
    "Decision",
    "ErrorReason",
    "EventStream",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OnApproval",
    "OnResume",
    "OnWatchResume",
    "OutOfRangeError",
    "Page",
    "Pager",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "Resume",
    "Retry",
    "RpcCancelledError",
    "Run",
    "RunOutcome",
    "Runs",
    "RunwireError",
    "StatusDetails",
    "StreamBrokenError",
    "Stubs",
    "Threads",
    "ToolFunction",
    "Tools",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnknownError",
    "Watch",
    "WatchResume",
    "__version__",
    "client_tool",
    "code_name",
    "collect_events",
    "connect",
    "connect_async",
    "describe_rpc_error",
    "error_from_rpc",
    "model",
    "open_channel",
    "run_outcome",
    "status_details",
]


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[RunwireServer]:
    settings = server_settings("in_process", redis_url="", temporal_address="")
    async with running_server(settings) as srv:
        yield srv


@pytest.fixture
async def stubs(server: RunwireServer) -> AsyncIterator[Stubs]:
    async with Stubs.connect(server.addresses[0]) as s:
        yield s


def _unavailable() -> grpc.aio.AioRpcError:
    """The error a call gets when the connection drops."""
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="Socket closed",
    )


async def _approve(_: event_pb2.ApprovalRequested) -> bool:
    return True


async def _never(_: event_pb2.ApprovalRequested) -> bool:
    raise AssertionError("no approval expected")


async def _last_sequence(stubs: Stubs, run_id: str) -> int:
    response = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))
    last: int = response.run.last_sequence
    return last


# --------------------------------------------------------------------------- surface


def test_exported_names_are_pinned() -> None:
    assert sorted(runwire.__all__) == sorted(EXPORTED)
    assert all(hasattr(runwire, name) for name in EXPORTED)


def test_the_client_imports_no_server_code() -> None:
    """The client package stands alone: no import of the server (``runwire_server``) or the
    dev tools, in its sources or when imported in a fresh interpreter."""
    server_packages = {"runwire_server", "devtools"}
    imported: dict[str, set[str]] = {}
    for path in CLIENT_SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = {node.module.split(".")[0]}
            else:
                continue
            if names & server_packages:
                imported.setdefault(path.name, set()).update(names & server_packages)
    assert imported == {}
    probe = "import json, runwire, sys; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(result.stdout)
    assert [m for m in loaded if m.split(".")[0] in server_packages] == []


# --------------------------------------------------------------------------- outcomes


async def test_collect_events_reads_a_finished_run(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "collected"}])
    streamed = await runwire.collect_events(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    assert_gap_free(streamed)
    replayed = await runwire.collect_events(
        stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=streamed[0].run_id, after_sequence=1)
        )
    )
    assert replayed == streamed[1:]
    outcome = runwire.run_outcome(streamed[-1], len(streamed))
    assert outcome is not None and outcome.output == "collected"
    assert runwire.run_outcome(streamed[0]) is None


# --------------------------------------------------------------------------- errors


async def test_status_details_of_a_not_found(stubs: Stubs) -> None:
    agent_id = unique("nosuch")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=agent_id))
    details = runwire.status_details(caught.value)
    assert details == StatusDetails(
        code=grpc.StatusCode.NOT_FOUND,
        message=details.message,
        reason="AGENT_NOT_FOUND",
        domain="runwire.dev",
        metadata=details.metadata,
        from_server=True,
    )
    assert agent_id in details.message
    line = runwire.describe_rpc_error(caught.value, stubs.address)
    assert line == f"NOT_FOUND: {caught.value.details()} (reason AGENT_NOT_FOUND)"


async def test_status_details_of_an_invalid_argument(stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.CreateRun(run_service_pb2.CreateRunRequest(agent_id="", prompt="p"))
    details = runwire.status_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT and details.from_server
    assert "agent_id" in details.field_violations


async def test_nothing_listening_is_described_as_unreachable() -> None:
    address = "unix:/nonexistent/runwire.sock"
    async with Stubs.connect(address) as stubs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id="a"), timeout=30)
    details = runwire.status_details(caught.value)
    assert details.code == grpc.StatusCode.UNAVAILABLE and not details.from_server
    assert details.reason == ""
    assert runwire.describe_rpc_error(caught.value, address) == (
        f"cannot reach Runwire at {address}: no such socket file"
    )


def test_code_name() -> None:
    assert runwire.code_name(5) == "NOT_FOUND"
    assert runwire.code_name(4) == "DEADLINE_EXCEEDED"
    assert runwire.code_name(99) == "99"
