"""``runwire.AsyncClient`` against a real Runwire server on loopback.

One in-process server for the module, with authentication on (the parity
suite's API keys: ``PARITY_TOKEN`` is an admin, ``carol`` an approver), so the
typed errors include UNAUTHENTICATED and PERMISSION_DENIED. Broken streams and
lost answers are made at the client's seam: a method of ``client.stubs``
replaced by one that fails the way a dropped connection does, around the real
call. The drain test runs two servers on one Redis and lets one of them drain
for real (``RunwireServer.stop``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import runwire
from google.protobuf import duration_pb2, json_format
from pydantic import SecretStr
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
)

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from tests.conftest import server_settings
from tests.support import (
    PARITY_CALLERS,
    PARITY_PRINCIPAL,
    PARITY_TOKEN,
    assert_gap_free,
    parity_auth,
    running_server,
    unique,
    wait_until,
)

ECHO_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "ping"}}]},
    {"text": "The echo said ping."},
]
CLIENT_TOOL_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "lookup", "arguments": {"key": "a"}}]},
    {"text": "looked up"},
]
#: Fast retries: the tests break streams on purpose.
FAST = runwire.Retry(max_attempts=3, backoff_seconds=0.01)


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[RunwireServer]:
    settings = server_settings("in_process", redis_url="", temporal_address="", auth=parity_auth())
    async with running_server(settings) as srv:
        yield srv


@pytest.fixture
async def client(server: RunwireServer) -> AsyncIterator[runwire.AsyncClient]:
    async with runwire.connect_async(
        server.addresses[0], token=PARITY_TOKEN, tls=False, retry=FAST
    ) as c:
        yield c


def _unavailable(details: str = "Socket closed") -> grpc.aio.AioRpcError:
    """The error a call gets when the connection drops."""
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details
    )


async def _agent(
    client: runwire.AsyncClient,
    script: list[dict[str, Any]],
    *,
    tools: list[str] | None = None,
    mode: agent_pb2.ApprovalMode = agent_pb2.APPROVAL_MODE_AUTO,
    **options: Any,
) -> agent_pb2.Agent:
    return await client.agents.create(
        unique("py-async"),
        model=runwire.model("scripted", script=script, chunk_chars=4, **options),
        instructions="You are a test agent.",
        tools=tools or [],
        approval_mode=mode,
    )


async def _collect(stream: runwire.AsyncEventStream) -> list[event_pb2.RunEvent]:
    return [event async for event in stream]


# --------------------------------------------------------------------------- agents


async def test_agents_create_get_list_update_delete(client: runwire.AsyncClient) -> None:
    prefix = f"py-agents-{uuid.uuid4().hex[:6]}"
    created = [
        await client.agents.create(
            f"{prefix}-{i}",
            model=runwire.model("scripted", script=[{"text": str(i)}]),
            display_name=f"agent {i}",
            tools=["echo"],
            approval_mode=agent_pb2.APPROVAL_MODE_ALLOWLIST,
        )
        for i in range(5)
    ]
    assert [a.agent_id for a in created] == [f"{prefix}-{i}" for i in range(5)]
    assert created[0].approval_policy.mode == agent_pb2.APPROVAL_MODE_ALLOWLIST
    assert json_format.MessageToDict(created[0].model.options)["script"] == [{"text": "0"}]
    got = await client.agents.get(f"{prefix}-2")
    assert got == created[2]

    # Paging: pages of 2 follow next_page_token to the end.
    pager = client.agents.list(page_size=2)
    pages = [page async for page in pager.pages()]
    assert all(len(page.items) <= 2 for page in pages)
    assert pages[-1].next_page_token == "" and all(p.next_page_token for p in pages[:-1])
    listed = [a.agent_id async for a in client.agents.list(page_size=2)]
    assert [a.agent_id for page in pages for a in page.items] == listed
    assert [i for i in listed if i.startswith(prefix)] == [a.agent_id for a in created]
    first = await client.agents.list(page_size=2).first_page()
    assert first.items == pages[0].items
    assert len(await client.agents.list().to_list()) == len(listed)

    # Keyword update: the mask is the keywords given.
    updated = await client.agents.update(
        f"{prefix}-1", instructions="new instructions", tools=["echo", "calculator"]
    )
    assert updated.instructions == "new instructions"
    assert list(updated.tools) == ["echo", "calculator"]
    assert updated.display_name == "agent 1"  # not in the mask: kept
    assert updated.etag != created[1].etag
    # A whole agent with a mask, and the etag check.
    whole = agent_pb2.Agent()
    whole.CopyFrom(updated)
    whole.display_name = "renamed"
    renamed = await client.agents.update(whole, update_mask=["display_name"])
    assert renamed.display_name == "renamed" and renamed.instructions == "new instructions"
    with pytest.raises(runwire.AbortedError) as stale:
        await client.agents.update(f"{prefix}-1", description="x", etag=updated.etag)
    assert stale.value.code == grpc.StatusCode.ABORTED and stale.value.reason

    await client.agents.delete(f"{prefix}-0")
    with pytest.raises(runwire.NotFoundError) as gone:
        await client.agents.get(f"{prefix}-0")
    assert gone.value.reason == "AGENT_NOT_FOUND"
    with pytest.raises(runwire.NotFoundError):
        await client.agents.delete(f"{prefix}-0")


# --------------------------------------------------------------------------- errors


async def test_errors_are_typed_with_reason_metadata_and_violations(
    client: runwire.AsyncClient, server: RunwireServer
) -> None:
    agent = await _agent(client, [{"text": "x"}])
    with pytest.raises(runwire.AlreadyExistsError) as taken:
        await client.agents.create(agent.agent_id, agent)
    error = taken.value
    assert isinstance(error, runwire.RunwireError)
    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "AGENT_ALREADY_EXISTS" and error.domain == "runwire.dev"
    assert error.from_server and agent.agent_id in error.message
    assert str(error) == f"ALREADY_EXISTS: {error.message} (reason AGENT_ALREADY_EXISTS)"
    assert isinstance(error.__cause__, grpc.aio.AioRpcError)

    with pytest.raises(runwire.InvalidArgumentError) as invalid:
        await client.runs.create("", "p")
    assert "agent_id" in invalid.value.field_violations

    with pytest.raises(runwire.NotFoundError) as missing:
        await client.runs.get("run_" + "0" * 32)
    assert missing.value.reason == "RUN_NOT_FOUND"
    assert missing.value.metadata.get("run_id") == "run_" + "0" * 32

    with pytest.raises(runwire.FailedPreconditionError) as not_pending:
        run = await client.runs.wait(agent.agent_id, "p")
        await client.runs.submit_tool_output(run.run_id, "call_x", "out")
    assert not_pending.value.reason == "TOOL_CALL_NOT_PENDING"

    address = server.addresses[0]
    async with runwire.connect_async(address, token="", tls=False) as anonymous:
        with pytest.raises(runwire.UnauthenticatedError) as unauthenticated:
            await anonymous.agents.get(agent.agent_id)
    assert unauthenticated.value.code == grpc.StatusCode.UNAUTHENTICATED
    carol_token = PARITY_CALLERS["carol"][0]
    async with runwire.connect_async(address, token=carol_token, tls=False) as approver:
        with pytest.raises(runwire.PermissionDeniedError) as denied:
            await approver.agents.create(unique("denied"), agent)
    assert denied.value.reason

    async with runwire.connect_async(
        "unix:/nonexistent/runwire.sock", retry=runwire.Retry(max_attempts=1, backoff_seconds=0)
    ) as nowhere:
        with pytest.raises(runwire.UnavailableError) as unreachable:
            await nowhere.runs.create("a", "p")
    assert not unreachable.value.from_server and unreachable.value.reason == ""


def test_error_classes_cover_every_code() -> None:
    for code in grpc.StatusCode:
        if code == grpc.StatusCode.OK:
            continue
        error = runwire.error_from_rpc(
            grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="d")
        )
        assert type(error) is not runwire.RunwireError, code
        assert type(error).default_code == error.code == code and error.message == "d"
        assert error.reason == "" and not error.from_server
    classes = {
        grpc.StatusCode.NOT_FOUND: runwire.NotFoundError,
        grpc.StatusCode.RESOURCE_EXHAUSTED: runwire.ResourceExhaustedError,
        grpc.StatusCode.DEADLINE_EXCEEDED: runwire.DeadlineExceededError,
        grpc.StatusCode.OUT_OF_RANGE: runwire.OutOfRangeError,
        grpc.StatusCode.CANCELLED: runwire.RpcCancelledError,
    }
    for code, cls in classes.items():
        assert cls.default_code == code
    assert runwire.StreamBrokenError("x").code == grpc.StatusCode.UNAVAILABLE
    assert issubclass(runwire.StreamBrokenError, runwire.UnavailableError)


# --------------------------------------------------------------------------- runs


async def test_run_handle_wait_answers_approvals_and_client_tools(
    client: runwire.AsyncClient,
) -> None:
    script: list[dict[str, Any]] = [
        {
            "tool_calls": [
                {"name": "echo", "arguments": {"text": "ping"}},
                {"name": "lookup", "arguments": {"key": "k1"}},
            ]
        },
        {"text": "done"},
    ]
    agent = await _agent(client, script, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL)
    asked: list[str] = []
    calls: list[dict[str, Any]] = []

    async def on_approval(requested: event_pb2.ApprovalRequested) -> runwire.Decision:
        asked.append(requested.tool_name)
        return runwire.Decision.approved(edited_arguments={"text": "edited"})

    def lookup(arguments: dict[str, Any]) -> dict[str, Any]:
        """Looks a key up."""
        calls.append(arguments)
        return {"value": arguments["key"].upper()}

    run = await client.runs.create(
        agent.agent_id, "p", tools={"lookup": lookup}, on_approval=on_approval
    )
    assert run.run_id.startswith("run_") and run.run.agent_id == agent.agent_id
    ended = await run.wait()
    assert ended.state == run_pb2.RUN_STATE_SUCCEEDED and ended.output == "done"
    assert run.run == ended and (await run.get()) == ended
    assert asked == ["echo"] and calls == [{"key": "k1"}]
    events = await client.runs.list_events(run.run_id, page_size=7).to_list()
    assert_gap_free(events)
    assert len(events) == ended.last_sequence
    results = {e.tool_call_result.content for e in events if e.HasField("tool_call_result")}
    assert results == {"edited", '{"value":"K1"}'}
    (approval,) = await run.approvals().to_list()
    assert approval.state == approval_pb2.APPROVAL_STATE_APPROVED
    assert approval.resolved_by == PARITY_PRINCIPAL
    # The client tool was declared from the map (its docstring's first line).
    # Replaying the ended run asks nothing again.
    replayed = await _collect(
        client.runs.events(run.run_id, on_approval=on_approval, tools={"lookup": lookup})
    )
    assert replayed == events
    assert asked == ["echo"] and len(calls) == 1


async def test_a_run_already_waiting_is_answered_when_followed(
    client: runwire.AsyncClient,
) -> None:
    """run.wait(on_approval=...) on a run that waits for an approval since before
    the stream opened answers it (history the run still waits for), once."""
    agent = await _agent(
        client, ECHO_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    run = await client.runs.create(agent.agent_id, "p")
    await wait_until(
        lambda: _state_is(client, run.run_id, run_pb2.RUN_STATE_REQUIRES_ACTION), "an approval"
    )
    asked: list[str] = []

    async def reject(requested: event_pb2.ApprovalRequested) -> runwire.Decision:
        asked.append(requested.approval_id)
        return runwire.Decision.rejected("not now")

    ended = await run.wait(on_approval=reject)
    assert ended.state == run_pb2.RUN_STATE_SUCCEEDED and len(asked) == 1
    approval = await client.approvals.get(asked[0])
    assert approval.state == approval_pb2.APPROVAL_STATE_REJECTED
    assert approval.reason == "not now"


async def test_a_failing_client_tool_is_an_error_output(client: runwire.AsyncClient) -> None:
    agent = await _agent(client, CLIENT_TOOL_SCRIPT)

    async def broken(arguments: dict[str, Any]) -> str:
        raise KeyError(arguments["key"])

    stream = client.runs.stream(agent.agent_id, "p", tools={"lookup": broken})
    events = await _collect(stream)
    (result,) = [e.tool_call_result for e in events if e.HasField("tool_call_result")]
    assert result.is_error and result.content == "KeyError: 'a'"
    assert stream.terminal_event is not None and stream.terminal_event == events[-1]
    assert (await client.runs.get(stream.run_id)).state == run_pb2.RUN_STATE_SUCCEEDED


async def test_runs_without_callbacks_wait_for_the_caller(client: runwire.AsyncClient) -> None:
    """Without on_approval or tools the run waits: the caller answers with the
    resource methods (approve, reject, submit_tool_output)."""
    agent = await _agent(
        client, ECHO_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    waited = await client.runs.wait(agent.agent_id, "p", timeout=30)
    assert waited.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    (action,) = waited.required_actions
    pending = await client.approvals.list(
        run_id=waited.run_id, state=approval_pb2.APPROVAL_STATE_PENDING
    ).to_list()
    assert [a.approval_id for a in pending] == [action.approval_id]
    assert (await client.approvals.get(action.approval_id)).tool_name == "echo"
    rejected = await client.approvals.reject(action.approval_id, reason="no")
    assert rejected.state == approval_pb2.APPROVAL_STATE_REJECTED and rejected.reason == "no"
    with pytest.raises(runwire.FailedPreconditionError) as again:
        await client.approvals.approve(action.approval_id)
    assert again.value.reason == "APPROVAL_ALREADY_RESOLVED"
    ended = await client.runs.handle(waited.run_id).wait()
    assert ended.state == run_pb2.RUN_STATE_SUCCEEDED

    tool_agent = await _agent(client, CLIENT_TOOL_SCRIPT)
    run = await client.runs.create(
        tool_agent.agent_id, "p", client_tools=[runwire.client_tool("lookup", "Looks up.")]
    )
    seen: list[str] = []
    async for event in run.events():
        seen.append(event.WhichOneof("payload") or "")
        if event.HasField("client_tool_call_requested"):
            call = event.client_tool_call_requested
            after = await run.submit_tool_output(call.tool_call_id, "A")
            assert after.run_id == run.run_id
    assert seen[-1] == "run_finished" and "tool_call_result" in seen
    assert (await run.get()).output == "looked up"


async def test_runs_list_pages_and_cancel(client: runwire.AsyncClient) -> None:
    agent = await _agent(client, [{"text": "slow " * 200}], delay_ms=50)
    runs = [await client.runs.create(agent.agent_id, f"p{i}") for i in range(3)]
    listed = [r.run_id async for r in client.runs.list(agent_id=agent.agent_id, page_size=2)]
    assert listed == [r.run_id for r in reversed(runs)]  # newest first, across pages
    cancelled = await runs[0].cancel("enough")
    assert cancelled.state in (run_pb2.RUN_STATE_CANCELLING, run_pb2.RUN_STATE_CANCELLED)
    for run in runs[1:]:
        await client.runs.cancel(run.run_id)
    ended = [await run.wait() for run in runs]
    assert {r.state for r in ended} == {run_pb2.RUN_STATE_CANCELLED}
    by_state = client.runs.list(agent_id=agent.agent_id, state=run_pb2.RUN_STATE_CANCELLED)
    assert len(await by_state.to_list()) == 3


async def test_threads_create_get_messages_delete(client: runwire.AsyncClient) -> None:
    agent = await _agent(client, [{"text": "answer"}])  # each run starts the script anew
    thread = await client.threads.create(metadata={"team": "py"})
    assert thread.thread_id.startswith("thr_") and dict(thread.metadata) == {"team": "py"}
    named = await client.threads.create(unique("py-thread"))
    with pytest.raises(runwire.AlreadyExistsError):
        await client.threads.create(named.thread_id)
    for prompt in ("one", "two"):
        run = await client.runs.wait(agent.agent_id, prompt, thread_id=thread.thread_id)
        assert run.state == run_pb2.RUN_STATE_SUCCEEDED
    got = await client.threads.get(thread.thread_id)
    assert got.message_count == 4
    pages = [page async for page in client.threads.messages(thread.thread_id, page_size=3).pages()]
    assert [len(p.items) for p in pages] == [3, 1]
    messages = [m async for m in client.threads.messages(thread.thread_id, page_size=3)]
    assert [(m.role, m.content) for m in messages] == [
        (thread_pb2.MESSAGE_ROLE_USER, "one"),
        (thread_pb2.MESSAGE_ROLE_ASSISTANT, "answer"),
        (thread_pb2.MESSAGE_ROLE_USER, "two"),
        (thread_pb2.MESSAGE_ROLE_ASSISTANT, "answer"),
    ]
    await client.threads.delete(thread.thread_id)
    with pytest.raises(runwire.NotFoundError):
        await client.threads.get(thread.thread_id)


# --------------------------------------------------------------------------- request_id


async def test_create_run_retries_reuse_the_request_id(client: runwire.AsyncClient) -> None:
    """A CreateRun whose answer is lost (UNAVAILABLE after the server started the
    run) is sent again with the same request_id: one run, not two."""
    agent = await _agent(client, [{"text": "once"}])
    real = client.stubs.runs.CreateRun
    sent: list[run_service_pb2.CreateRunRequest] = []

    async def lossy(request: run_service_pb2.CreateRunRequest, **kwargs: Any) -> Any:
        sent.append(request)
        response = await real(request, **kwargs)
        if len(sent) == 1:
            raise _unavailable()
        return response

    client.stubs.runs.CreateRun = lossy
    run = await client.runs.create(agent.agent_id, "p")
    assert len(sent) == 2 and sent[0].request_id == sent[1].request_id
    assert sent[0].request_id.startswith("py-")
    assert [r.run_id async for r in client.runs.list(agent_id=agent.agent_id)] == [run.run_id]

    given = await client.runs.create(agent.agent_id, "p", request_id="mine-1")
    assert sent[-1].request_id == "mine-1"
    again = await client.runs.create(agent.agent_id, "p", request_id="mine-1")
    assert again.run_id == given.run_id
    fresh = await client.runs.create(agent.agent_id, "p")
    assert sent[-1].request_id not in {sent[0].request_id, "mine-1"}
    assert fresh.run_id != run.run_id


async def test_wait_run_is_retried_with_the_same_request_id(client: runwire.AsyncClient) -> None:
    agent = await _agent(client, [{"text": "waited"}])
    real = client.stubs.runs.WaitRun
    sent: list[str] = []

    async def refused_once(request: run_service_pb2.WaitRunRequest, **kwargs: Any) -> Any:
        sent.append(request.request_id)
        if len(sent) == 1:
            raise _unavailable("Connection refused")
        return await real(request, **kwargs)

    client.stubs.runs.WaitRun = refused_once
    run = await client.runs.wait(agent.agent_id, "p", timeout=30)
    assert run.output == "waited" and len(sent) == 2 and sent[0] == sent[1]


async def test_retries_give_up_after_max_attempts(client: runwire.AsyncClient) -> None:
    calls: list[str] = []

    async def down(request: run_service_pb2.CreateRunRequest, **kwargs: Any) -> Any:
        calls.append(request.request_id)
        raise _unavailable("Connection refused")

    client.stubs.runs.CreateRun = down
    with pytest.raises(runwire.UnavailableError):
        await client.runs.create("any", "p")
    assert len(calls) == FAST.max_attempts + 1 and len(set(calls)) == 1


# --------------------------------------------------------------------------- resume


async def test_stream_resumes_after_a_break_without_gap_or_duplicate(
    client: runwire.AsyncClient,
) -> None:
    real_stream_run = client.stubs.runs.StreamRun
    real_events = client.stubs.runs.StreamRunEvents
    resumed_after: list[int] = []

    class Breaking:
        """A stream that fails with UNAVAILABLE after three events."""

        def __init__(self, call: Any) -> None:
            self._call = call
            self._count = 0

        def __aiter__(self) -> Breaking:
            return self

        async def __anext__(self) -> Any:
            if self._count == 3:
                self._call.cancel()
                raise _unavailable()
            self._count += 1
            return await self._call.read()

        def cancel(self) -> None:
            self._call.cancel()

    def stream_events(request: run_service_pb2.StreamRunEventsRequest) -> Breaking:
        resumed_after.append(request.after_sequence)
        return Breaking(real_events(request))

    client.stubs.runs.StreamRun = lambda request: Breaking(real_stream_run(request))
    client.stubs.runs.StreamRunEvents = stream_events
    agent = await _agent(client, [{"text": "resumed twice without a gap"}])
    notices: list[runwire.Resume] = []
    stream = client.runs.stream(agent.agent_id, "p", on_resume=notices.append)
    events = await _collect(stream)
    assert_gap_free(events)
    assert events[-1].run_finished.output == "resumed twice without a gap"
    assert len(events) == (await client.runs.get(stream.run_id)).last_sequence
    assert resumed_after[:2] == [3, 6]
    assert [n.after_sequence for n in notices] == resumed_after
    assert all(n.attempt == 1 and n.run_id == stream.run_id for n in notices)
    assert stream.resumes == len(notices)


async def test_stream_broken_before_its_first_event_starts_the_same_run(
    client: runwire.AsyncClient,
) -> None:
    """StreamRun failing before any event is sent again with the same request_id:
    the server returns the run it started, streamed from the first event."""
    real = client.stubs.runs.StreamRun
    requests: list[run_service_pb2.StreamRunRequest] = []

    class Lost:
        def __init__(self, call: Any) -> None:
            self._call = call

        def __aiter__(self) -> Lost:
            return self

        async def __anext__(self) -> Any:
            await self._call.read()  # the run is started; its first event is lost
            self._call.cancel()
            raise _unavailable()

    def stream_run(request: run_service_pb2.StreamRunRequest) -> Any:
        requests.append(request)
        return Lost(real(request)) if len(requests) == 1 else real(request)

    client.stubs.runs.StreamRun = stream_run
    agent = await _agent(client, [{"text": "one run"}])
    events = await _collect(client.runs.stream(agent.agent_id, "p"))
    assert_gap_free(events)
    assert len(requests) == 2 and requests[0].request_id == requests[1].request_id
    assert len(await client.runs.list(agent_id=agent.agent_id).to_list()) == 1


async def test_a_broken_resolve_is_retried_without_asking_again(
    client: runwire.AsyncClient,
) -> None:
    real = client.stubs.approvals.ResolveApproval
    resolves: list[str] = []

    async def flaky(request: approval_pb2.ResolveApprovalRequest, **kwargs: Any) -> Any:
        resolves.append(request.approval_id)
        if len(resolves) == 1:
            raise _unavailable()
        return await real(request, **kwargs)

    client.stubs.approvals.ResolveApproval = flaky
    agent = await _agent(
        client, ECHO_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    asked: list[str] = []
    seen: list[event_pb2.RunEvent] = []

    def decide(requested: event_pb2.ApprovalRequested) -> bool:
        assert seen[-1].approval_requested == requested  # yielded before it is asked
        asked.append(requested.approval_id)
        return True

    stream = client.runs.stream(agent.agent_id, "p", on_approval=decide)
    async for event in stream:
        seen.append(event)
    assert len(asked) == 1 and resolves == asked * 2
    assert_gap_free(seen)
    assert seen[-1].run_finished.output == "The echo said ping."
    assert stream.resumes == 1


async def test_a_submit_broken_by_the_connection_is_sent_again_not_rerun(
    client: runwire.AsyncClient,
) -> None:
    real = client.stubs.runs.SubmitToolOutputs
    submits: list[run_service_pb2.SubmitToolOutputsRequest] = []

    async def flaky(request: run_service_pb2.SubmitToolOutputsRequest, **kwargs: Any) -> Any:
        submits.append(request)
        if len(submits) == 1:
            raise _unavailable()
        return await real(request, **kwargs)

    client.stubs.runs.SubmitToolOutputs = flaky
    agent = await _agent(client, CLIENT_TOOL_SCRIPT)
    ran: list[str] = []

    def lookup(arguments: dict[str, Any]) -> str:
        ran.append(arguments["key"])
        return "found"

    run = await client.runs.stream(agent.agent_id, "p", tools={"lookup": lookup})
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED and run.output == "looked up"
    assert ran == ["a"] and len(submits) == 2 and submits[0] == submits[1]


async def test_resuming_gives_up_after_max_attempts(client: runwire.AsyncClient) -> None:
    real = client.stubs.runs.StreamRun

    async def two_events(request: run_service_pb2.StreamRunRequest) -> AsyncIterator[Any]:
        call = real(request)
        for _ in range(2):
            yield await call.read()
        call.cancel()

    async def nothing(request: run_service_pb2.StreamRunEventsRequest) -> AsyncIterator[Any]:
        assert request.after_sequence == 2
        for response in list[Any]():
            yield response

    client.stubs.runs.StreamRun = two_events
    client.stubs.runs.StreamRunEvents = nothing
    agent = await _agent(client, [{"text": "never seen to the end"}], delay_ms=20)
    stream = client.runs.stream(agent.agent_id, "p")
    seen: list[event_pb2.RunEvent] = []
    with pytest.raises(runwire.StreamBrokenError, match="ended before the run did") as caught:
        async for event in stream:
            seen.append(event)
    assert [e.sequence for e in seen] == [1, 2]
    assert caught.value.metadata == {"run_id": stream.run_id, "last_sequence": "2"}
    assert stream.resumes == FAST.max_attempts


async def test_an_error_that_is_not_unavailable_is_raised_at_once(
    client: runwire.AsyncClient,
) -> None:
    with pytest.raises(runwire.NotFoundError):
        await _collect(client.runs.events("run_" + "f" * 32))
    with pytest.raises(runwire.NotFoundError):
        await client.runs.stream("no-such-agent", "p").result()


# --------------------------------------------------------------------------- drain


@pytest.fixture
async def two_replicas(redis_url: str) -> AsyncIterator[tuple[RunwireServer, RunwireServer]]:
    """Two servers on one Redis; A drains with a short grace and a long drain timeout."""
    prefix = f"py-drain-{uuid.uuid4().hex[:8]}"

    def settings(grace: float) -> Settings:
        return Settings(
            listen=["127.0.0.1:0"],
            tool_modules=["tests.tools_for_tests"],
            log_level="WARNING",
            redis_url=SecretStr(redis_url),
            redis_prefix=prefix,
            shutdown_grace_seconds=grace,
            drain_timeout_seconds=30,
        )

    async with running_server(settings(0.3)) as a, running_server(settings(1.0)) as b:
        yield a, b


async def test_stream_resumes_on_another_replica_after_a_real_drain(
    two_replicas: tuple[RunwireServer, RunwireServer],
) -> None:
    """Replica A drains while a run streams: its stream ends UNAVAILABLE/DRAINING
    (last_sequence in the ErrorInfo), the client resumes by itself and, once A is
    gone, reads the rest from replica B: every event once, in order."""
    a, b = two_replicas
    # One channel over both replicas (pick_first: A while it is up, then B).
    target = f"ipv4:{a.addresses[0]},{b.addresses[0]}"
    # A refuses resumes (DRAINING) until its in-process run has finished and it is gone.
    retry = runwire.Retry(max_attempts=40, backoff_seconds=0.05, max_backoff_seconds=1.0)
    async with runwire.connect_async(target, token="", tls=False, retry=retry) as client:
        text = "draining is graceful " * 15
        agent = await client.agents.create(
            unique("py-drain"),
            model=runwire.model("scripted", script=[{"text": text}], chunk_chars=3, delay_ms=20),
        )
        notices: list[runwire.Resume] = []
        stream = client.runs.stream(agent.agent_id, "p", on_resume=notices.append)
        events: list[event_pb2.RunEvent] = []
        stopping: asyncio.Task[None] | None = None
        async for event in stream:
            events.append(event)
            if len(events) == 6:
                stopping = asyncio.ensure_future(a.stop())
        assert stopping is not None
        await stopping
    assert_gap_free(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert events[-1].run_finished.output == text
    draining = [n for n in notices if n.error.reason == "DRAINING"]
    assert draining, notices
    first = draining[0]
    assert first.error.metadata["run_id"] == stream.run_id
    assert int(first.error.metadata["last_sequence"]) == first.after_sequence >= 6
    assert isinstance(first.error, runwire.UnavailableError)
    assert a.runs.open_streams == 0


# --------------------------------------------------------------------------- surface


async def test_wait_timeout_is_sent_to_the_server(client: runwire.AsyncClient) -> None:
    agent = await _agent(
        client, ECHO_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    real = client.stubs.runs.WaitRun
    timeouts: list[duration_pb2.Duration] = []

    async def spy(request: run_service_pb2.WaitRunRequest, **kwargs: Any) -> Any:
        timeouts.append(request.timeout)
        return await real(request, **kwargs)

    client.stubs.runs.WaitRun = spy
    run = await client.runs.wait(agent.agent_id, "p", timeout=1.5)
    assert timeouts == [duration_pb2.Duration(seconds=1, nanos=500_000_000)]
    await wait_until(
        lambda: _state_is(client, run.run_id, run_pb2.RUN_STATE_REQUIRES_ACTION), "waiting"
    )
    await client.runs.cancel(run.run_id)


async def _state_is(client: runwire.AsyncClient, run_id: str, state: int) -> bool:
    return (await client.runs.get(run_id)).state == state
