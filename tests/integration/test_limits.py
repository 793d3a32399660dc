"""Token budgets and structured output (response_format), on every runtime."""

from __future__ import annotations

import grpc
from runwire.v1 import event_pb2, run_pb2, run_service_pb2

from tests.support import Script, Stubs, collect, create_agent

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
    "additionalProperties": False,
}


async def _run(stubs: Stubs, agent_id: str) -> list[event_pb2.RunEvent]:
    return await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt="p"))
    )


async def test_token_budget_stops_the_run(stubs: Stubs) -> None:
    script: Script = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": "x" * 200}}]},
        {"tool_calls": [{"name": "echo", "arguments": {"text": "y" * 200}}]},
        {"text": "never reached"},
    ]
    agent = await create_agent(stubs, script, tools=["echo"], token_budget=60)
    events = await _run(stubs, agent.agent_id)
    error = events[-1].run_error
    assert error.finish_reason == "budget_exceeded"
    assert error.error.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert error.usage.total_tokens > 60
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))).run
    assert (run.state, run.finish_reason) == (run_pb2.RUN_STATE_FAILED, "budget_exceeded")


async def test_structured_output_valid_at_once(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": '{"answer": 42}'}], response_format=SCHEMA)
    events = await _run(stubs, agent.agent_id)
    finished = events[-1].run_finished
    assert finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert finished.output == '{"answer": 42}'


async def test_structured_output_gets_one_repair(stubs: Stubs) -> None:
    script = [{"text": "The answer is 42."}, {"text": '{"answer": 42}'}]
    agent = await create_agent(stubs, script, response_format=SCHEMA)
    events = await _run(stubs, agent.agent_id)
    steps = [e.step_started.step for e in events if e.HasField("step_started")]
    assert steps == [1, 2]
    finished = events[-1].run_finished
    assert (finished.state, finished.output) == (run_pb2.RUN_STATE_SUCCEEDED, '{"answer": 42}')


async def test_structured_output_mismatch_after_repair_fails(stubs: Stubs) -> None:
    script = [{"text": "42"}, {"text": '{"answer": "forty-two"}'}]
    agent = await create_agent(stubs, script, response_format=SCHEMA)
    events = await _run(stubs, agent.agent_id)
    error = events[-1].run_error
    assert error.error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert "response_format" in error.error.message
