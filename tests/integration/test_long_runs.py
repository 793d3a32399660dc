"""Long runs: many LLM rounds; on Temporal they continue as new and lose nothing."""

from __future__ import annotations

from runwire.v1 import run_pb2, run_service_pb2, thread_pb2
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from runwire_server.app.server import RunwireServer
from runwire_server.service.runtimes.payload_codec import CLAIM_MIN_BYTES
from tests.support import (
    Script,
    Stubs,
    assert_gap_free,
    collect,
    create_agent,
    unique,
    workflow_history_bytes,
)

TURNS = 12


async def test_a_long_run_keeps_every_event_and_its_thread(
    stubs: Stubs, runtime: str, server: RunwireServer
) -> None:
    script = [
        {"text": f"turn {i}", "tool_calls": [{"name": "echo", "arguments": {"text": f"e{i}"}}]}
        for i in range(TURNS)
    ]
    script.append({"text": "all turns done"})
    agent = await create_agent(stubs, script, tools=["echo"], max_iterations=TURNS + 1)
    thread_id = unique("thread")

    await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=thread_id))
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="go", thread_id=thread_id
            )
        )
    )
    assert_gap_free(events)
    finished = events[-1].run_finished
    assert (finished.state, finished.output) == (run_pb2.RUN_STATE_SUCCEEDED, "all turns done")
    steps = [e.step_started.step for e in events if e.HasField("step_started")]
    assert steps == list(range(1, TURNS + 2))
    results = [e.tool_call_result.content for e in events if e.HasField("tool_call_result")]
    assert results == [f"e{i}" for i in range(TURNS)]
    assert len([e for e in events if e.HasField("run_started")]) == 1
    # The thread got the whole exchange once: prompt, 12 x (call + result), answer.
    messages = await stubs.threads.ListThreadMessages(
        thread_pb2.ListThreadMessagesRequest(thread_id=thread_id, page_size=1000)
    )
    assert len(messages.messages) == 1 + 2 * TURNS + 1
    # ... with every message's content, also those an execution that continued as
    # new held only through its input (the claim store keeps them out of history).
    expected = ["go"]
    for i in range(TURNS):
        expected += [f"turn {i}", f"e{i}"]
    expected.append("all turns done")
    assert [m.content for m in messages.messages] == expected
    if runtime == "temporal":
        address = server.settings.temporal_address
        assert address is not None
        client = await Client.connect(address, data_converter=pydantic_data_converter)
        history = await client.get_workflow_handle(events[0].run_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        assert started.continued_execution_run_id, "the run should have continued as new"


async def test_a_long_tool_result_reaches_everyone_but_history(
    stubs: Stubs, runtime: str, server: RunwireServer
) -> None:
    """A tool result past CLAIM_MIN_BYTES (here 3,817 digits from a short
    call) streams, reaches the thread and the next model call; on Temporal
    the payload codec keeps it in the claim store, not in workflow history."""
    expected = str(9**4000)
    # The calculator takes exponents up to 1,000: 9**4000 as four factors.
    expression = "*".join(["9**1000"] * 4)
    assert len(expected) > CLAIM_MIN_BYTES
    script: Script = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": expression}}]},
        {"text": "that is a big number"},
    ]
    agent = await create_agent(stubs, script, tools=["calculator"])
    thread_id = unique("thread")
    await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=thread_id))
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="compute", thread_id=thread_id
            )
        )
    )
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    (result,) = [e.tool_call_result for e in events if e.HasField("tool_call_result")]
    assert result.content == expected
    # The second model call saw the whole result: the scripted model's input
    # token estimate grows with the characters it was sent.
    usages = [e.usage.input_tokens for e in events if e.HasField("usage")]
    assert usages[1] - usages[0] >= len(expected) // 4
    messages = await stubs.threads.ListThreadMessages(
        thread_pb2.ListThreadMessagesRequest(thread_id=thread_id, page_size=100)
    )
    assert expected in [m.content for m in messages.messages]
    if runtime == "temporal":
        raw = await workflow_history_bytes(server, events[0].run_id)
        assert b"that is a big number" in raw  # payloads are searchable as they are
        assert expected[:200].encode() not in raw
