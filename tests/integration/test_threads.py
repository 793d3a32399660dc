"""ThreadService and runs on threads: history in order, in the model context (bounded),
paging, deletion, and consistency after a cancelled run."""

from __future__ import annotations

import json
import re
from typing import Any, cast

import grpc
import pytest
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2, run_service_pb2, thread_pb2

from tests.support import Stubs, collect, create_agent, status_details, unique

USER = thread_pb2.MESSAGE_ROLE_USER
ASSISTANT = thread_pb2.MESSAGE_ROLE_ASSISTANT
TOOL = thread_pb2.MESSAGE_ROLE_TOOL

#: Tokens the scripted provider counts per message (documented on runwire.v1.Usage).
CHARS_PER_TOKEN = 4

ECHO_THEN_TEXT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "ping"}}]},
    {"text": "pong"},
]


def tokens(text: str) -> int:
    """The scripted provider's estimate for one message: 1 per 4 characters, at least 1."""
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


async def new_thread(stubs: Stubs, **metadata: str) -> thread_pb2.Thread:
    response: thread_pb2.CreateThreadResponse = await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread_id=unique("thread"), metadata=metadata)
    )
    return response.thread


async def get_thread(stubs: Stubs, thread_id: str) -> thread_pb2.Thread:
    response: thread_pb2.GetThreadResponse = await stubs.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=thread_id)
    )
    return response.thread


async def messages_of(stubs: Stubs, thread_id: str) -> list[thread_pb2.Message]:
    response: thread_pb2.ListThreadMessagesResponse = await stubs.threads.ListThreadMessages(
        thread_pb2.ListThreadMessagesRequest(thread_id=thread_id, page_size=1000)
    )
    assert response.next_page_token == ""
    return list(response.messages)


async def wait_run(stubs: Stubs, agent_id: str, prompt: str, thread_id: str = "") -> run_pb2.Run:
    response: run_service_pb2.WaitRunResponse = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=agent_id, thread_id=thread_id, prompt=prompt)
    )
    run = response.run
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED, run
    return run


async def first_call_input_tokens(stubs: Stubs, run_id: str) -> int:
    """Input tokens of the run's first model call (its first usage event)."""
    response: run_service_pb2.ListRunEventsResponse = await stubs.runs.ListRunEvents(
        run_service_pb2.ListRunEventsRequest(run_id=run_id, page_size=1000)
    )
    events = response.events
    return next(e.usage.input_tokens for e in events if e.HasField("usage"))


def assert_tool_calls_answered(messages: list[thread_pb2.Message]) -> None:
    """Every assistant tool call is followed by a tool message answering it."""
    for index, message in enumerate(messages):
        if message.role == ASSISTANT and message.tool_calls:
            answered = {m.tool_call_id for m in messages[index + 1 :] if m.role == TOOL}
            assert {c.tool_call_id for c in message.tool_calls} <= answered, messages


async def test_create_with_a_chosen_id_keeps_metadata(stubs: Stubs) -> None:
    thread_id = unique("thread")
    created = (
        await stubs.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread_id=thread_id, metadata={"customer": "c-42", "channel": "chat"}
            )
        )
    ).thread
    assert created.thread_id == thread_id
    assert dict(created.metadata) == {"customer": "c-42", "channel": "chat"}
    assert created.message_count == 0
    assert created.HasField("create_time") and created.HasField("update_time")
    assert await get_thread(stubs, thread_id) == created
    assert await messages_of(stubs, thread_id) == []


async def test_create_with_a_generated_id(stubs: Stubs) -> None:
    first = (await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest())).thread
    second = (
        await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(metadata={"k": "v"}))
    ).thread
    for thread in (first, second):
        assert re.fullmatch(r"thr_[0-9a-f]{32}", thread.thread_id), thread.thread_id
    assert first.thread_id != second.thread_id
    assert dict(second.metadata) == {"k": "v"}
    assert (await get_thread(stubs, second.thread_id)) == second


async def test_metadata_at_the_limit_is_kept(stubs: Stubs) -> None:
    metadata = {f"key-{i}": f"value {i}" for i in range(64)}
    thread = await new_thread(stubs, **metadata)
    assert dict((await get_thread(stubs, thread.thread_id)).metadata) == metadata


async def test_two_runs_on_a_thread_append_their_messages_in_order(stubs: Stubs) -> None:
    agent = await create_agent(stubs, ECHO_THEN_TEXT, tools=["echo"])
    thread = await new_thread(stubs)
    first = await wait_run(stubs, agent.agent_id, "first question", thread.thread_id)
    second = await wait_run(stubs, agent.agent_id, "second question", thread.thread_id)
    assert first.thread_id == second.thread_id == thread.thread_id

    messages = await messages_of(stubs, thread.thread_id)
    assert [(m.role, m.content, m.run_id) for m in messages] == [
        (USER, "first question", first.run_id),
        (ASSISTANT, "", first.run_id),
        (TOOL, "ping", first.run_id),
        (ASSISTANT, "pong", first.run_id),
        (USER, "second question", second.run_id),
        (ASSISTANT, "", second.run_id),
        (TOOL, "ping", second.run_id),
        (ASSISTANT, "pong", second.run_id),
    ]
    for call_message, result in ((messages[1], messages[2]), (messages[5], messages[6])):
        (call,) = call_message.tool_calls
        assert call.name == "echo"
        assert json.loads(call.arguments) == {"text": "ping"}
        assert call.tool_call_id and result.tool_call_id == call.tool_call_id
    assert [len(m.tool_calls) for m in messages] == [0, 1, 0, 0, 0, 1, 0, 0]
    assert [m.tool_call_id != "" for m in messages] == [m.role == TOOL for m in messages]
    assert len({m.message_id for m in messages}) == len(messages)
    assert all(m.message_id for m in messages)
    times = [m.create_time.ToDatetime() for m in messages]
    assert times == sorted(times)
    assert_tool_calls_answered(messages)

    got = await get_thread(stubs, thread.thread_id)
    assert got.message_count == 8
    assert got.update_time.ToDatetime() >= got.create_time.ToDatetime()
    assert got.update_time == messages[-1].create_time
    # The runs are listed under the thread, newest first.
    listed = await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(thread_id=thread.thread_id))
    assert [r.run_id for r in listed.runs] == [second.run_id, first.run_id]


async def test_second_run_sees_the_history_in_its_model_context(stubs: Stubs) -> None:
    reply = "an answer of some length"
    agent = await create_agent(stubs, [{"text": reply}], instructions="Answer.")
    prompt = "what did I ask before?"

    fresh = await wait_run(stubs, agent.agent_id, prompt, (await new_thread(stubs)).thread_id)
    thread = await new_thread(stubs)
    earlier = "an earlier question"
    await wait_run(stubs, agent.agent_id, earlier, thread.thread_id)
    second = await wait_run(stubs, agent.agent_id, prompt, thread.thread_id)

    assert second.usage.input_tokens > fresh.usage.input_tokens
    # Exactly the earlier exchange was added to the context.
    assert second.usage.input_tokens - fresh.usage.input_tokens == tokens(earlier) + tokens(reply)
    assert second.usage.output_tokens == fresh.usage.output_tokens
    # A run without a thread sees no history at all.
    alone = await wait_run(stubs, agent.agent_id, prompt)
    assert alone.usage.input_tokens == fresh.usage.input_tokens


async def test_history_in_the_context_is_limited_to_the_last_20_messages(stubs: Stubs) -> None:
    text = "x" * 40  # 10 tokens, as is every prompt below
    agent = await create_agent(stubs, [{"text": text}], instructions="")
    thread = await new_thread(stubs)
    inputs = []
    for i in range(12):
        run = await wait_run(stubs, agent.agent_id, f"{i:02d}" + "q" * 38, thread.thread_id)
        inputs.append(run.usage.input_tokens)
    # Run k sees min(2k, 20) earlier messages of 10 tokens each, plus its prompt.
    assert inputs == [10 + 10 * min(2 * k, 20) for k in range(12)]
    assert inputs[10] == inputs[11]  # stopped growing
    # Only the context is limited: the thread keeps every message.
    assert (await get_thread(stubs, thread.thread_id)).message_count == 24


async def test_list_thread_messages_pages(stubs: Stubs) -> None:
    agent = await create_agent(stubs, ECHO_THEN_TEXT, tools=["echo"])
    thread = await new_thread(stubs)
    for prompt in ("one", "two"):
        await wait_run(stubs, agent.agent_id, prompt, thread.thread_id)
    everything = await messages_of(stubs, thread.thread_id)
    assert len(everything) == 8

    pages: list[list[thread_pb2.Message]] = []
    token = ""
    while True:
        page = await stubs.threads.ListThreadMessages(
            thread_pb2.ListThreadMessagesRequest(
                thread_id=thread.thread_id, page_size=2, page_token=token
            )
        )
        pages.append(list(page.messages))
        token = page.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 2, 2]
    assert [m for p in pages for m in p] == everything

    odd = await stubs.threads.ListThreadMessages(
        thread_pb2.ListThreadMessagesRequest(thread_id=thread.thread_id, page_size=3)
    )
    rest = await stubs.threads.ListThreadMessages(
        thread_pb2.ListThreadMessagesRequest(
            thread_id=thread.thread_id, page_size=100, page_token=odd.next_page_token
        )
    )
    assert list(odd.messages) + list(rest.messages) == everything
    assert rest.next_page_token == ""


async def test_delete_thread_then_get_is_not_found(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "kept"}])
    thread = await new_thread(stubs)
    run = await wait_run(stubs, agent.agent_id, "p", thread.thread_id)
    assert (await get_thread(stubs, thread.thread_id)).message_count == 2

    await stubs.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread.thread_id))

    for call in (
        stubs.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread.thread_id)),
        stubs.threads.ListThreadMessages(
            thread_pb2.ListThreadMessagesRequest(thread_id=thread.thread_id)
        ),
        stubs.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread.thread_id)),
        stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id, thread_id=thread.thread_id, prompt="p"
            )
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        details = status_details(caught.value)
        assert details.code == grpc.StatusCode.NOT_FOUND
        assert details.reason == "THREAD_NOT_FOUND"
    # The run on it is still there, and the id can be used again for a new, empty thread.
    kept = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run.run_id))).run
    assert kept.output == "kept" and kept.thread_id == thread.thread_id
    again = (
        await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=thread.thread_id))
    ).thread
    assert again.message_count == 0


async def stream_until_approval(stubs: Stubs, run_id: str) -> event_pb2.ApprovalRequested:
    async for response in stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(run_id=run_id)
    ):
        if response.event.HasField("approval_requested"):
            return cast("event_pb2.ApprovalRequested", response.event.approval_requested)
        assert not response.event.HasField("run_finished"), response.event
    raise AssertionError("the run ended without asking for an approval")


async def cancel(stubs: Stubs, run_id: str) -> list[event_pb2.RunEvent]:
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run_id, reason="stop"))
    events = await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
    )
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED
    return events


async def start_on_thread(stubs: Stubs, agent_id: str, thread_id: str, prompt: str) -> run_pb2.Run:
    response: run_service_pb2.CreateRunResponse = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent_id, thread_id=thread_id, prompt=prompt)
    )
    return response.run


async def test_cancel_while_waiting_for_approval_leaves_the_thread_consistent(
    stubs: Stubs,
) -> None:
    agent = await create_agent(
        stubs, ECHO_THEN_TEXT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    thread = await new_thread(stubs)
    run = await start_on_thread(stubs, agent.agent_id, thread.thread_id, "please echo")
    requested = await stream_until_approval(stubs, run.run_id)

    await cancel(stubs, run.run_id)

    approval = (
        await stubs.approvals.GetApproval(
            approval_pb2.GetApprovalRequest(approval_id=requested.approval_id)
        )
    ).approval
    assert approval.state == approval_pb2.APPROVAL_STATE_CANCELLED
    messages = await messages_of(stubs, thread.thread_id)
    # The unanswered tool call is not kept; the prompt is.
    assert [(m.role, m.content, m.run_id) for m in messages] == [(USER, "please echo", run.run_id)]
    assert_tool_calls_answered(messages)

    # The thread is released: the next run starts and ends, on a consistent history.
    follow_up = await create_agent(stubs, [{"text": "after the cancel"}])
    next_run = await wait_run(stubs, follow_up.agent_id, "again", thread.thread_id)
    assert next_run.output == "after the cancel"
    messages = await messages_of(stubs, thread.thread_id)
    assert [(m.role, m.run_id) for m in messages] == [
        (USER, run.run_id),
        (USER, next_run.run_id),
        (ASSISTANT, next_run.run_id),
    ]
    assert (await get_thread(stubs, thread.thread_id)).message_count == 3


async def test_cancel_after_a_completed_tool_call_keeps_the_complete_exchange(
    stubs: Stubs,
) -> None:
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": "done before cancel"}}]},
        {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 1}}]},
        {"text": "never said"},
    ]
    agent = await create_agent(
        stubs,
        script,
        tools=["echo", "sleep"],
        mode=agent_pb2.APPROVAL_MODE_ALLOWLIST,
        auto_approved=["echo"],
    )
    thread = await new_thread(stubs)
    run = await start_on_thread(stubs, agent.agent_id, thread.thread_id, "echo then sleep")
    requested = await stream_until_approval(stubs, run.run_id)
    assert requested.tool_name == "sleep"

    await cancel(stubs, run.run_id)

    messages = await messages_of(stubs, thread.thread_id)
    assert [(m.role, m.content) for m in messages] == [
        (USER, "echo then sleep"),
        (ASSISTANT, ""),
        (TOOL, "done before cancel"),
    ]
    assert [c.name for c in messages[1].tool_calls] == ["echo"]
    assert_tool_calls_answered(messages)
    follow_up = await create_agent(stubs, [{"text": "fine"}])
    assert (await wait_run(stubs, follow_up.agent_id, "ok?", thread.thread_id)).output == "fine"
