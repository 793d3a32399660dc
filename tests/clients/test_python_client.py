"""The Python client's lower-level helpers (``runwire``) against a real Runwire server on loopback.

One in-process server for the module (the helpers only speak the wire contract,
which the parity suites check on every runtime). Broken streams are made at the
client's seam: a ``Stubs`` attribute replaced by a call that fails the way a
dropped connection does, in front of the real call.
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
from runwire import StatusDetails, StreamBrokenError, Stubs
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
)

from app.server import RunwireServer
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
    "MAX_RESUMES",
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
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnknownError",
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
    "stream_run",
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
    """The client package stands alone: no import of service/, worker/ or app/,
    in its sources or when imported in a fresh interpreter."""
    server_packages = {"service", "worker", "app", "devtools"}
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


# --------------------------------------------------------------------------- stream_run


async def test_stream_run_answers_approvals_and_hands_out_every_event(stubs: Stubs) -> None:
    agent = await create_agent(
        stubs, ECHO_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    events: list[event_pb2.RunEvent] = []
    asked: list[str] = []

    async def decide(requested: event_pb2.ApprovalRequested) -> bool:
        assert events[-1].approval_requested == requested  # handed out before it is asked
        asked.append(requested.tool_name)
        return True

    request = run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
    outcome = await runwire.stream_run(stubs, request, decide=decide, on_event=events.append)
    assert request.request_id.startswith("py-")
    assert asked == ["echo"]
    assert outcome.succeeded and outcome.state_name == "SUCCEEDED"
    assert outcome.output == "The echo said ping."
    assert outcome.finish_reason == "stop"
    assert outcome.usage.total_tokens > 0
    assert_gap_free(events)
    assert outcome.events == len(events) == await _last_sequence(stubs, outcome.run_id)
    results = [e.tool_call_result.content for e in events if e.HasField("tool_call_result")]
    assert results == ["ping"]


async def test_a_rejection_carries_the_reason(stubs: Stubs) -> None:
    agent = await create_agent(
        stubs, ECHO_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    events: list[event_pb2.RunEvent] = []

    async def reject(_: event_pb2.ApprovalRequested) -> bool:
        return False

    outcome = await runwire.stream_run(
        stubs,
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"),
        decide=reject,
        on_event=events.append,
        reject_reason="not today",
    )
    assert outcome.succeeded  # the model is told, and the scripted run goes on
    (resolved,) = [e.approval_resolved for e in events if e.HasField("approval_resolved")]
    assert resolved.state == approval_pb2.APPROVAL_STATE_REJECTED
    assert resolved.reason == "not today"
    assert not any(
        e.HasField("tool_call_result") and not e.tool_call_result.is_error for e in events
    )


async def test_a_failed_run_is_an_outcome_not_an_error(stubs: Stubs) -> None:
    script = [{"tool_calls": [{"name": "sleep", "arguments": {"seconds": 30}}]}]
    agent = await create_agent(stubs, script, tools=["sleep"], timeout_seconds=1)
    outcome = await runwire.stream_run(
        stubs,
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"),
        decide=_never,
    )
    assert outcome.state == run_pb2.RUN_STATE_FAILED and not outcome.succeeded
    assert outcome.finish_reason == "timeout"
    assert outcome.error.startswith("DEADLINE_EXCEEDED: ")
    assert outcome.output == ""


async def test_stream_is_resumed_after_a_break(stubs: Stubs) -> None:
    """After UNAVAILABLE, StreamRunEvents resumes after the last event: nothing lost or doubled."""
    real_stream_run = stubs.runs.StreamRun

    class Breaking:
        """A StreamRun call that fails with UNAVAILABLE after three events."""

        def __init__(self, request: run_service_pb2.StreamRunRequest) -> None:
            self._call = real_stream_run(request)
            self._count = 0

        def __aiter__(self) -> Breaking:
            return self

        async def __anext__(self) -> run_service_pb2.StreamRunResponse:
            if self._count == 3:
                self._call.cancel()
                raise _unavailable()
            self._count += 1
            response: run_service_pb2.StreamRunResponse = await self._call.read()
            return response

    agent = await create_agent(stubs, [{"text": "resumed without a gap"}], chunk_chars=2)
    stubs.runs.StreamRun = Breaking
    events: list[event_pb2.RunEvent] = []
    notices: list[str] = []
    outcome = await runwire.stream_run(
        stubs,
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"),
        decide=_never,
        on_event=events.append,
        on_notice=notices.append,
        resume_backoff_seconds=0.01,
    )
    assert outcome.succeeded and outcome.output == "resumed without a gap"
    assert_gap_free(events)
    assert outcome.events == len(events) == await _last_sequence(stubs, outcome.run_id)
    assert notices == [
        "stream interrupted (cannot reach Runwire at "
        f"{stubs.address}: connection closed); resuming after event 3 (attempt 1/3)"
    ]


async def test_broken_resolve_is_retried_without_asking_again(stubs: Stubs) -> None:
    """A ResolveApproval that fails with UNAVAILABLE resumes the stream; the approval
    event comes again and is resolved with the first answer, handed out and asked once."""
    real_resolve = stubs.approvals.ResolveApproval
    resolves: list[str] = []

    async def flaky_resolve(request: approval_pb2.ResolveApprovalRequest) -> object:
        resolves.append(request.approval_id)
        if len(resolves) == 1:
            raise _unavailable()
        return await real_resolve(request)

    asked: list[str] = []

    async def decide(requested: event_pb2.ApprovalRequested) -> bool:
        asked.append(requested.approval_id)
        return True

    agent = await create_agent(
        stubs, ECHO_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    stubs.approvals.ResolveApproval = flaky_resolve
    events: list[event_pb2.RunEvent] = []
    notices: list[str] = []
    outcome = await runwire.stream_run(
        stubs,
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"),
        decide=decide,
        on_event=events.append,
        on_notice=notices.append,
        resume_backoff_seconds=0.01,
    )
    assert outcome.succeeded
    assert len(asked) == 1 and resolves == asked * 2
    assert_gap_free(events)
    assert outcome.events == len(events) == await _last_sequence(stubs, outcome.run_id)
    assert len(notices) == 1 and notices[0].endswith("(attempt 1/3)")


async def test_a_stream_that_keeps_ending_early_raises_stream_broken(stubs: Stubs) -> None:
    real_stream_run = stubs.runs.StreamRun

    async def two_events(request: run_service_pb2.StreamRunRequest) -> AsyncIterator[Any]:
        call = real_stream_run(request)
        for _ in range(2):
            yield await call.read()
        call.cancel()

    async def nothing(request: run_service_pb2.StreamRunEventsRequest) -> AsyncIterator[Any]:
        assert request.after_sequence == 2
        responses: list[run_service_pb2.StreamRunEventsResponse] = []
        for response in responses:
            yield response

    agent = await create_agent(stubs, [{"text": "never seen to the end"}], delay_ms=20)
    stubs.runs.StreamRun = two_events
    stubs.runs.StreamRunEvents = nothing
    notices: list[str] = []
    with pytest.raises(StreamBrokenError, match="ended before the run did"):
        await runwire.stream_run(
            stubs,
            run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"),
            decide=_never,
            on_notice=notices.append,
            max_resumes=1,
            resume_backoff_seconds=0.01,
        )
    assert len(notices) == 1 and "resuming after event 2 (attempt 1/1)" in notices[0]


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
