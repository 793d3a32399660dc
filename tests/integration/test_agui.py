"""The AG-UI endpoint (``POST {agui_path}/{agent_id}``) against a live server.

A real Runwire server with the HTTP listener and authentication on, in-process
and on Temporal; requests are sent with httpx and the SSE responses parsed as an
AG-UI client would: a text answer, a server tool, a frontend tool round trip
(the result comes back in the next request), an approval through an interrupt
and ``resume``, bad input and authentication errors before the stream, and a
client that disconnects mid-run (the run goes on; the next request picks it up).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2, thread_pb2

from runwire_server.app.server import RunwireServer
from tests.conftest import server_settings
from tests.support import (
    PARITY_CALLERS,
    PARITY_TOKEN,
    Script,
    Stubs,
    create_agent,
    parity_auth,
    run_until,
    running_server,
    unique,
    wait_until,
)

pytestmark = pytest.mark.timeout(180)

#: The server's http_max_request_bytes: small, so a body over it is sent whole.
MAX_REQUEST_BYTES = 256 * 1024

Event = dict[str, Any]

LOOKUP_TOOL = {
    "name": "lookup_order",
    "description": "Looks an order up in the browser's store.",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}


@pytest.fixture(scope="module", params=["in_process", "temporal"])
def agui_runtime(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """The runtime, and the Redis and Temporal addresses it needs (started only
    for Temporal)."""
    runtime: str = request.param
    if runtime != "temporal":
        return runtime, "", ""
    return (
        runtime,
        request.getfixturevalue("redis_url"),
        request.getfixturevalue("temporal_address"),
    )


@pytest.fixture(scope="module")
async def agui_server(agui_runtime: tuple[str, str, str]) -> AsyncIterator[RunwireServer]:
    """A server with the HTTP listener, auth on, in-process or on Temporal."""
    runtime, redis_url, temporal = agui_runtime
    settings = server_settings(
        runtime,
        redis_url=redis_url,
        temporal_address=temporal,
        auth=parity_auth(),
        http_listen=["127.0.0.1:0"],
        http_max_request_bytes=MAX_REQUEST_BYTES,
    )
    async with running_server(settings) as server:
        yield server


@pytest.fixture(scope="module")
async def grpc_stubs(agui_server: RunwireServer) -> AsyncIterator[Stubs]:
    stubs = Stubs.connect(agui_server.addresses[0], token=PARITY_TOKEN)
    yield stubs
    await stubs.channel.close()


@pytest.fixture
async def http(agui_server: RunwireServer) -> AsyncIterator[httpx.AsyncClient]:
    base = f"http://{agui_server.http_addresses[0]}"
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:
        yield client


def _headers(token: str | None = PARITY_TOKEN) -> dict[str, str]:
    headers = {"accept": "text/event-stream"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return headers


def _input(
    thread_id: str,
    messages: list[dict[str, Any]],
    *,
    state: Any = None,
    tools: list[dict[str, Any]] | None = None,
    resume: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "threadId": thread_id,
        "runId": str(uuid.uuid4()),
        "messages": messages,
        "tools": tools or [],
        "context": [],
        "state": state if state is not None else {},
        "forwardedProps": {},
    }
    if resume is not None:
        body["resume"] = resume
    return body


def _user(text: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "role": "user", "content": text}


async def _sse(http: httpx.AsyncClient, agent_id: str, body: dict[str, Any]) -> list[Event]:
    """POSTs ``body``; returns the AG-UI events of the 200 SSE response."""
    async with http.stream("POST", f"/agui/{agent_id}", json=body, headers=_headers()) as r:
        if r.status_code != 200:
            raise AssertionError(f"{r.status_code}: {(await r.aread()).decode()}")
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) async for line in r.aiter_lines() if line[:6] == "data: "]
    _check_run(events, body)
    return events


def _check_run(events: list[Event], body: dict[str, Any]) -> None:
    """What every AG-UI client verifies: RUN_STARTED first, one terminal event
    last, every message, tool call and step opened before it is closed and
    closed before the end."""
    types = [e["type"] for e in events]
    assert types[0] == "RUN_STARTED", types
    assert events[0]["threadId"] == body["threadId"]
    assert events[0]["runId"] == body["runId"]
    assert types[-1] in ("RUN_FINISHED", "RUN_ERROR"), types
    assert sum(t in ("RUN_FINISHED", "RUN_ERROR") for t in types) == 1, types
    open_items: set[str] = set()
    for event in events:
        kind = event["type"]
        key = str(event.get("messageId") or event.get("toolCallId") or event.get("stepName"))
        if kind in ("TEXT_MESSAGE_START", "TOOL_CALL_START", "STEP_STARTED"):
            assert key not in open_items, (kind, key)
            open_items.add(key)
        elif kind in ("TEXT_MESSAGE_CONTENT", "TOOL_CALL_ARGS"):
            assert key in open_items, (kind, key)
        elif kind in ("TEXT_MESSAGE_END", "TOOL_CALL_END", "STEP_FINISHED"):
            assert key in open_items, (kind, key)
            open_items.remove(key)
    assert not open_items, open_items


def _apply_state(state: Any, events: list[Event]) -> Any:
    """The AG-UI state after ``events`` (snapshots and ``add`` deltas), as an
    AG-UI client keeps it and sends it back."""
    for event in events:
        if event["type"] == "STATE_SNAPSHOT":
            state = event["snapshot"]
        elif event["type"] == "STATE_DELTA":
            for op in event["delta"]:
                assert op["op"] == "add" and op["path"].count("/") == 1, op
                state = {**state, op["path"][1:]: op["value"]}
    return state


def _text(events: list[Event]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")


def _finished(events: list[Event]) -> Event:
    assert events[-1]["type"] == "RUN_FINISHED", events[-1]
    return events[-1]


async def test_text_answer(
    http: httpx.AsyncClient, grpc_stubs: Stubs, agui_server: RunwireServer
) -> None:
    agent = await create_agent(grpc_stubs, [{"text": "Hello from Runwire over AG-UI."}])
    thread_id = unique("agui-thread")
    body = _input(thread_id, [_user("Say hello")])
    events = await _sse(http, agent.agent_id, body)

    assert _text(events) == "Hello from Runwire over AG-UI."
    finished = _finished(events)
    assert finished["outcome"] == {"type": "success"}
    assert finished["result"] == "Hello from Runwire over AG-UI."
    assert finished["usage"][0]["totalTokens"] > 0
    types = [e["type"] for e in events]
    assert {"STEP_STARTED", "STEP_FINISHED", "TEXT_MESSAGE_START", "STATE_DELTA"} <= set(types)
    state = _apply_state({}, events)["runwire"]
    assert state["state"] == "SUCCEEDED"
    # The thread was created, and keeps the conversation server-side.
    run = (await grpc_stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=state["runId"]))).run
    assert run.thread_id == thread_id and run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert state["sequence"] == run.last_sequence
    messages = await grpc_stubs.threads.ListThreadMessages(
        thread_pb2.ListThreadMessagesRequest(thread_id=thread_id)
    )
    assert [m.content for m in messages.messages] == ["Say hello", run.output]

    # A state that is not an object gets a snapshot under "runwire".
    again = _input(thread_id, [_user("Again")], state=None)
    again["state"] = None
    events = await _sse(http, agent.agent_id, again)
    snapshots = [e for e in events if e["type"] == "STATE_SNAPSHOT"]
    assert snapshots and set(snapshots[0]["snapshot"]) == {"runwire"}


async def test_server_tool(http: httpx.AsyncClient, grpc_stubs: Stubs) -> None:
    script: Script = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
        {"text": "6*7 = 42"},
    ]
    agent = await create_agent(grpc_stubs, script, tools=["calculator"])
    events = await _sse(http, agent.agent_id, _input(unique("t"), [_user("6*7?")]))

    start = next(e for e in events if e["type"] == "TOOL_CALL_START")
    assert start["toolCallName"] == "calculator"
    args = "".join(
        e["delta"]
        for e in events
        if e["type"] == "TOOL_CALL_ARGS" and e["toolCallId"] == start["toolCallId"]
    )
    assert json.loads(args) == {"expression": "6*7"}
    result = next(e for e in events if e["type"] == "TOOL_CALL_RESULT")
    assert (result["toolCallId"], result["content"], result["role"]) == (
        start["toolCallId"],
        "42",
        "tool",
    )
    steps = [e["stepName"] for e in events if e["type"] == "STEP_STARTED"]
    assert steps == ["step 1", "step 2"]
    assert _text(events) == "6*7 = 42"
    assert _finished(events)["outcome"]["type"] == "success"


async def test_frontend_tool_round_trip(
    http: httpx.AsyncClient, grpc_stubs: Stubs, agui_server: RunwireServer
) -> None:
    script: Script = [
        {
            "text": "Let me look.",
            "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-17"}}],
        },
        {"text": "Order A-17 has shipped."},
    ]
    agent = await create_agent(grpc_stubs, script)
    thread_id = unique("t")
    user = _user("Where is order A-17?")
    first_body = _input(thread_id, [user], tools=[LOOKUP_TOOL])
    first = await _sse(http, agent.agent_id, first_body)

    start = next(e for e in first if e["type"] == "TOOL_CALL_START")
    assert start["toolCallName"] == "lookup_order"
    call_id = start["toolCallId"]
    assert not any(e["type"] == "TOOL_CALL_RESULT" for e in first)
    finished = _finished(first)
    assert finished["outcome"] == {"type": "success", "pendingToolCallIds": [call_id]}
    state = _apply_state({}, first)
    assert state["runwire"]["state"] == "REQUIRES_ACTION"
    run_id = state["runwire"]["runId"]

    # The frontend ran the tool: the result comes back as a tool message.
    assistant = {
        "id": start["parentMessageId"],
        "role": "assistant",
        "content": "Let me look.",
        "toolCalls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "A-17"}'},
            }
        ],
    }
    tool = {"id": str(uuid.uuid4()), "role": "tool", "toolCallId": call_id, "content": "shipped"}
    second_body = _input(thread_id, [user, assistant, tool], state=state, tools=[LOOKUP_TOOL])
    second = await _sse(http, agent.agent_id, second_body)

    assert _text(second) == "Order A-17 has shipped."
    assert not any(e["type"] == "TOOL_CALL_START" for e in second)  # nothing replayed
    assert not any(e["type"] == "TOOL_CALL_RESULT" for e in second)  # the frontend has it
    assert _finished(second)["outcome"]["type"] == "success"
    run = await run_until(
        grpc_stubs, run_id, lambda r: r.state == run_pb2.RUN_STATE_SUCCEEDED, "done"
    )
    assert run.thread_id == thread_id
    runs = await grpc_stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(thread_id=thread_id))
    assert [r.run_id for r in runs.runs] == [run_id]  # one Runwire run for both requests
    await wait_until(lambda: agui_server.runs.open_streams == 0, "every stream closed")


async def test_approval_through_interrupt_and_resume(
    http: httpx.AsyncClient, grpc_stubs: Stubs
) -> None:
    script: Script = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
        {"text": "The answer is 42."},
    ]
    agent = await create_agent(
        grpc_stubs, script, tools=["calculator"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    thread_id = unique("t")
    user = _user("6*7?")
    first = await _sse(http, agent.agent_id, _input(thread_id, [user]))
    outcome = _finished(first)["outcome"]
    assert outcome["type"] == "interrupt", outcome
    (interrupt,) = outcome["interrupts"]
    start = next(e for e in first if e["type"] == "TOOL_CALL_START")
    assert interrupt["id"].startswith("apr_")
    assert interrupt["reason"] == "tool_approval"
    assert interrupt["toolCallId"] == start["toolCallId"]
    assert interrupt["responseSchema"]["required"] == ["approved"]
    assert "expiresAt" in interrupt
    assert not any(e["type"] == "TOOL_CALL_RESULT" for e in first)
    state = _apply_state({}, first)

    # A resume that names no waiting interrupt is refused before the stream.
    bad = _input(
        thread_id, [user], state=state, resume=[{"interruptId": "apr_nope", "status": "resolved"}]
    )
    response = await http.post(f"/agui/{agent.agent_id}", json=bad, headers=_headers())
    assert response.status_code == 400, response.text
    assert response.json()["reason"] == "APPROVAL_NOT_PENDING"

    # A state that claims more was delivered than the run logged: the replay stops once
    # the log is idle (a heartbeat), the run is shown again with its interrupt.
    claimed = {**state, "runwire": {**state["runwire"], "sequence": 10_000}}
    again = await _sse(http, agent.agent_id, _input(thread_id, [user], state=claimed))
    assert _finished(again)["outcome"]["interrupts"][0]["id"] == interrupt["id"], again

    resume = [{"interruptId": interrupt["id"], "status": "resolved", "payload": {"approved": True}}]
    second = await _sse(http, agent.agent_id, _input(thread_id, [user], state=state, resume=resume))
    result = next(e for e in second if e["type"] == "TOOL_CALL_RESULT")
    assert (result["toolCallId"], result["content"]) == (start["toolCallId"], "42")
    resolved = next(
        e for e in second if e["type"] == "CUSTOM" and e["name"] == "runwire.approval_resolved"
    )
    assert resolved["value"]["state"] == "APPROVED"
    assert _text(second) == "The answer is 42."
    assert _finished(second)["outcome"]["type"] == "success"

    # Rejected through a cancelled interrupt: the model sees the rejection.
    state = _apply_state(state, second)
    first = await _sse(http, agent.agent_id, _input(thread_id, [_user("again")], state=state))
    (interrupt,) = _finished(first)["outcome"]["interrupts"]
    cancel = [{"interruptId": interrupt["id"], "status": "cancelled"}]
    state = _apply_state(state, first)
    second = await _sse(http, agent.agent_id, _input(thread_id, [user], state=state, resume=cancel))
    result = next(e for e in second if e["type"] == "TOOL_CALL_RESULT")
    assert "rejected" in result["content"]
    assert result["metadata"] == {"runwire": {"isError": True}}


async def test_errors_before_the_stream(http: httpx.AsyncClient, grpc_stubs: Stubs) -> None:
    agent = await create_agent(grpc_stubs, [{"text": "hi"}])
    url = f"/agui/{agent.agent_id}"
    good = _input(unique("t"), [_user("hi")])

    async def error(
        body: Any, *, token: str | None = PARITY_TOKEN, path: str = url, raw: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        response = await http.post(
            path,
            content=raw if raw is not None else json.dumps(body).encode(),
            headers={**_headers(token), "content-type": "application/json"},
        )
        assert response.headers["content-type"] == "application/json", response.text
        answer: dict[str, Any] = response.json()
        assert set(answer) == {"code", "message", "reason"}, answer
        return response.status_code, answer

    status, answer = await error(None, raw=b"{not json")
    assert (status, answer["code"]) == (400, "invalid_argument"), answer
    status, answer = await error({"runId": "r", "messages": []})
    assert status == 400 and "threadId" in answer["message"], answer
    status, answer = await error({**good, "messages": [{"role": "wizard", "id": "1"}]})
    assert status == 400, answer
    status, answer = await error(_input(unique("t"), []))
    assert status == 400 and "user message" in answer["message"], answer
    status, answer = await error(good, token=None)
    assert (status, answer["reason"]) == (401, "UNAUTHENTICATED"), answer
    status, answer = await error(good, token="rw-wrong")
    assert status == 401, answer
    approver_token = PARITY_CALLERS["carol"][0]  # may not start runs nor write threads
    status, answer = await error(good, token=approver_token)
    assert (status, answer["reason"]) == (403, "PERMISSION_DENIED"), answer
    status, answer = await error(good, path="/agui/no-such-agent")
    assert (status, answer["reason"]) == (404, "AGENT_NOT_FOUND"), answer
    status, answer = await error(good, path="/agui/bad/agent")
    assert status == 404, answer
    status, answer = await error(_input("bad thread id!", [_user("hi")]))
    assert (status, answer["code"]) == (400, "invalid_argument"), answer
    status, answer = await error({**good, "tools": [{"name": "bad name!", "description": "x"}]})
    assert (status, answer["reason"]) == (400, "INVALID_ARGUMENT"), answer
    status, answer = await error(good, raw=b"x" * (MAX_REQUEST_BYTES + 1))
    assert (status, answer["reason"]) == (413, "QUOTA_EXCEEDED"), answer
    # A large body within the limit is parsed off the event loop, and its
    # forwardedProps ignored.
    large = {**good, "threadId": unique("t"), "forwardedProps": {"blob": "x" * 200_000}}
    events = await _sse(http, agent.agent_id, large)
    assert _text(events) == "hi"
    response = await http.get(url, headers=_headers())
    assert response.status_code == 405


async def test_disconnect_leaves_the_run_going(
    http: httpx.AsyncClient, grpc_stubs: Stubs, agui_server: RunwireServer
) -> None:
    text = "A slow answer, streamed one character at a time."
    agent = await create_agent(grpc_stubs, [{"text": text}], chunk_chars=1, delay_ms=40)
    thread_id = unique("t")
    body = _input(thread_id, [_user("go slowly")])
    state: Any = {}
    seen: list[Event] = []
    async with http.stream(
        "POST", f"/agui/{agent.agent_id}", json=body, headers=_headers()
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if seen[-1]["type"] == "TEXT_MESSAGE_CONTENT":
                    break  # leave mid-answer: the response is closed
    state = _apply_state(state, seen)
    run_id = state["runwire"]["runId"]
    await wait_until(lambda: agui_server.runs.open_streams == 0, "the stream closed")
    run = await run_until(
        grpc_stubs, run_id, lambda r: r.state == run_pb2.RUN_STATE_SUCCEEDED, "succeeded"
    )
    assert run.output == text

    # The next request on the thread starts a new run, with the history.
    events = await _sse(http, agent.agent_id, _input(thread_id, [_user("again")], state=state))
    assert _text(events) == text
    runs = await grpc_stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(thread_id=thread_id))
    assert len(runs.runs) == 2
