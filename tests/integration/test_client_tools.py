"""Client-executed tools: the run asks, the client runs the tool and answers."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import struct_pb2
from runwire.v1 import event_pb2, run_pb2, run_service_pb2

from runwire_server.app.server import RunwireServer
from runwire_server.service.runtimes.payload_codec import CLAIM_MIN_BYTES
from tests.support import (
    Script,
    Stubs,
    assert_gap_free,
    create_agent,
    status_details,
    workflow_history_bytes,
)

LOOKUP = run_pb2.ClientTool(
    name="lookup_order",
    description="Looks an order up in the client's database.",
    parameters=struct_pb2.Struct(),
)
LOOKUP.parameters.update(
    {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
)
SCRIPT: Script = [
    {"tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A-17"}}]},
    {"text": "Your order has shipped."},
]


async def _until_requested(
    call: grpc.aio.UnaryStreamCall,
) -> tuple[list[event_pb2.RunEvent], event_pb2.ClientToolCallRequested]:
    events: list[event_pb2.RunEvent] = []
    async for response in call:
        if response.event.HasField("heartbeat"):
            continue
        events.append(response.event)
        if response.event.HasField("state_changed") and (
            response.event.state_changed.state == run_pb2.RUN_STATE_REQUIRES_ACTION
        ):
            break
    requested = next(
        e.client_tool_call_requested for e in events if e.HasField("client_tool_call_requested")
    )
    return events, requested


async def test_client_tool_round_trip(stubs: Stubs) -> None:
    agent = await create_agent(stubs, SCRIPT)
    call = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(
            agent_id=agent.agent_id, prompt="where is my order?", client_tools=[LOOKUP]
        )
    )
    events, requested = await _until_requested(call)
    assert requested.tool_name == "lookup_order"
    assert json.loads(requested.arguments) == {"order_id": "A-17"}
    run_id = events[0].run_id
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))).run
    assert run.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    assert [(a.type, a.tool_call_id) for a in run.required_actions] == [
        (run_pb2.REQUIRED_ACTION_TYPE_CLIENT_TOOL_CALL, requested.tool_call_id)
    ]
    after = (
        await stubs.runs.SubmitToolOutputs(
            run_service_pb2.SubmitToolOutputsRequest(
                run_id=run_id,
                tool_outputs=[
                    run_pb2.ToolOutput(tool_call_id=requested.tool_call_id, output="shipped")
                ],
            )
        )
    ).run
    assert after.run_id == run_id
    rest = [r.event async for r in call if not r.event.HasField("heartbeat")]
    full = events + rest
    assert_gap_free(full)
    result = next(e.tool_call_result for e in rest if e.HasField("tool_call_result"))
    assert (result.tool_call_id, result.content, result.is_error) == (
        requested.tool_call_id,
        "shipped",
        False,
    )
    assert full[-1].run_finished.output == "Your order has shipped."

    # Answering again, or answering a call that never existed, is refused.
    for tool_call_id, reason in (
        (requested.tool_call_id, "TOOL_CALL_NOT_PENDING"),
        ("call_nope", "TOOL_CALL_NOT_PENDING"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.runs.SubmitToolOutputs(
                run_service_pb2.SubmitToolOutputsRequest(
                    run_id=run_id,
                    tool_outputs=[run_pb2.ToolOutput(tool_call_id=tool_call_id, output="x")],
                )
            )
        details = status_details(caught.value)
        assert details.code == grpc.StatusCode.FAILED_PRECONDITION
        assert details.reason == reason


async def test_wrong_and_repeated_outputs_on_a_waiting_run(stubs: Stubs) -> None:
    agent = await create_agent(stubs, SCRIPT)
    call = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p", client_tools=[LOOKUP])
    )
    events, requested = await _until_requested(call)
    run_id = events[0].run_id
    # All or nothing: one unknown id refuses the whole request, the known one stays pending.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.SubmitToolOutputs(
            run_service_pb2.SubmitToolOutputsRequest(
                run_id=run_id,
                tool_outputs=[
                    run_pb2.ToolOutput(tool_call_id=requested.tool_call_id, output="a"),
                    run_pb2.ToolOutput(tool_call_id="call_unknown", output="b"),
                ],
            )
        )
    assert status_details(caught.value).reason == "TOOL_CALL_NOT_PENDING"
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))).run
    assert run.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    await stubs.runs.SubmitToolOutputs(
        run_service_pb2.SubmitToolOutputsRequest(
            run_id=run_id,
            tool_outputs=[
                run_pb2.ToolOutput(tool_call_id=requested.tool_call_id, output="err", is_error=True)
            ],
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.SubmitToolOutputs(
            run_service_pb2.SubmitToolOutputsRequest(
                run_id=run_id,
                tool_outputs=[run_pb2.ToolOutput(tool_call_id=requested.tool_call_id, output="c")],
            )
        )
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.FAILED_PRECONDITION
    assert details.reason in ("TOOL_CALL_ALREADY_ANSWERED", "TOOL_CALL_NOT_PENDING")
    rest = [r.event async for r in call if not r.event.HasField("heartbeat")]
    result = next(e.tool_call_result for e in rest if e.HasField("tool_call_result"))
    assert (result.content, result.is_error) == ("err", True)


async def test_a_long_client_tool_output_reaches_the_run_but_not_history(
    stubs: Stubs, runtime: str, server: RunwireServer
) -> None:
    """An output past CLAIM_MIN_BYTES streams back as the tool result and
    reaches the next model call; on Temporal the update carries a reference to
    the claim store (the payload codec), so the output is not in workflow history."""
    output = "order A-17: " + "shipped in parts; " * 300
    assert len(output) > CLAIM_MIN_BYTES
    agent = await create_agent(stubs, SCRIPT)
    call = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(
            agent_id=agent.agent_id, prompt="where is my order?", client_tools=[LOOKUP]
        )
    )
    events, requested = await _until_requested(call)
    await stubs.runs.SubmitToolOutputs(
        run_service_pb2.SubmitToolOutputsRequest(
            run_id=events[0].run_id,
            tool_outputs=[run_pb2.ToolOutput(tool_call_id=requested.tool_call_id, output=output)],
        )
    )
    rest = [r.event async for r in call if not r.event.HasField("heartbeat")]
    assert_gap_free(events + rest)
    result = next(e.tool_call_result for e in rest if e.HasField("tool_call_result"))
    assert result.content == output
    assert rest[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    # The second model call was sent the output (the scripted model's input
    # token estimate grows with the characters it receives).
    usages = [e.usage.input_tokens for e in events + rest if e.HasField("usage")]
    assert usages[1] - usages[0] >= len(output) // 4
    if runtime == "temporal":
        raw = await workflow_history_bytes(server, events[0].run_id)
        assert b"Your order has shipped." in raw  # payloads are searchable as they are
        assert b"shipped in parts; shipped in parts;" not in raw
