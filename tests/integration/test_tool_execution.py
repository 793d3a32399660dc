"""Tool execution controls (``Agent.tool_execution``) and the tool context, on both
runtimes: sequential or parallel calls, the per-tool timeout, the cap on consecutive
failures, and the ``ToolContext`` a tool asks for."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2, run_service_pb2

from runwire_server.service.tools.context import idempotency_key
from tests.conftest import server_settings
from tests.support import (
    PARITY_TOKEN,
    Stubs,
    collect,
    create_agent,
    events_until,
    parity_auth,
    run_until,
    running_server,
    unique,
)
from tests.tool_context_tools import MOST_AT_ONCE

RUNTIMES = ("in_process", "temporal")
TERMINAL = (run_pb2.RUN_STATE_SUCCEEDED, run_pb2.RUN_STATE_FAILED, run_pb2.RUN_STATE_CANCELLED)


@pytest.fixture(scope="module", params=RUNTIMES)
async def exec_stubs(
    request: pytest.FixtureRequest, redis_url: str, temporal_address: str
) -> AsyncIterator[tuple[str, Stubs]]:
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        auth=parity_auth(),
        tool_modules=["tests.tools_for_tests", "tests.tool_context_tools"],
    )
    async with running_server(settings) as server:
        stubs = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
        yield request.param, stubs
        await stubs.channel.close()


async def agent_with(
    stubs: Stubs, script: list[dict[str, Any]], tools: list[str], execution: agent_pb2.ToolExecution
) -> agent_pb2.Agent:
    agent = await create_agent(stubs, script, tools=tools, max_iterations=10)
    agent.tool_execution.CopyFrom(execution)
    response = await stubs.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=agent))
    updated: agent_pb2.Agent = response.agent
    return updated


def calls(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": args} for name, args in pairs]}


async def stream(stubs: Stubs, agent_id: str) -> list[event_pb2.RunEvent]:
    return await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt="go"))
    )


def results(events: list[event_pb2.RunEvent]) -> list[event_pb2.ToolCallResult]:
    return [e.tool_call_result for e in events if e.HasField("tool_call_result")]


@pytest.mark.parametrize("sequential", [False, True])
async def test_calls_of_one_reply_run_in_parallel_or_one_after_another(
    exec_stubs: tuple[str, Stubs], sequential: bool
) -> None:
    _, stubs = exec_stubs
    key = unique("overlap")
    script = [calls(*[("overlap", {"key": key, "seconds": 0.5})] * 3), {"text": "done"}]
    agent = await agent_with(
        stubs, script, ["overlap"], agent_pb2.ToolExecution(sequential=sequential)
    )
    events = await stream(stubs, agent.agent_id)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert [r.content for r in results(events)] == [f"done {key}"] * 3
    # Parallel calls all wait together; sequential ones never overlap.
    assert MOST_AT_ONCE[key] == (1 if sequential else 3)


async def test_a_tool_over_its_timeout_is_a_tool_error_and_the_run_goes_on(
    exec_stubs: tuple[str, Stubs],
) -> None:
    _, stubs = exec_stubs
    key = unique("slow")
    script = [
        calls(("overlap", {"key": key, "seconds": 120})),
        calls(("echo", {"text": "after"})),
        {"text": "recovered"},
    ]
    execution = agent_pb2.ToolExecution(tool_timeout=duration_pb2.Duration(seconds=1))
    agent = await agent_with(stubs, script, ["overlap", "echo"], execution)
    events = await stream(stubs, agent.agent_id)
    slow, after = results(events)
    assert slow.is_error and "did not finish within its timeout of 1 s" in slow.content
    assert (after.is_error, after.content) == (False, "after")
    assert events[-1].run_finished.output == "recovered"


async def test_consecutive_failures_past_the_cap_fail_the_run(
    exec_stubs: tuple[str, Stubs],
) -> None:
    _, stubs = exec_stubs
    script = [
        calls(("fail", {"why": "one"})),
        calls(("echo", {"text": "ok"})),  # resets the count
        calls(("fail", {"why": "two"}), ("no_such_tool", {})),
        calls(("fail", {"why": "three"})),
        {"text": "never"},
    ]
    agent = await agent_with(
        stubs, script, ["fail", "echo"], agent_pb2.ToolExecution(max_consecutive_tool_failures=2)
    )
    events = await stream(stubs, agent.agent_id)
    assert len(results(events)) == 4  # the fourth round never ran
    last = events[-1]
    assert last.HasField("run_error"), last
    assert last.run_error.error.code == code_pb2.FAILED_PRECONDITION
    info = error_details_pb2.ErrorInfo()
    assert last.run_error.error.details[0].Unpack(info)
    assert info.reason == "TOOL_FAILURES_EXCEEDED"
    assert info.metadata["limit"] == "2"
    run = await run_until(
        stubs, last.run_id, lambda r: r.state == run_pb2.RUN_STATE_FAILED, "failed"
    )
    assert run.error.code == code_pb2.FAILED_PRECONDITION


async def test_a_cap_of_one_fails_at_the_first_failure(exec_stubs: tuple[str, Stubs]) -> None:
    _, stubs = exec_stubs
    script = [calls(("fail", {"why": "x"})), calls(("echo", {"text": "late"})), {"text": "end"}]
    agent = await agent_with(
        stubs, script, ["fail", "echo"], agent_pb2.ToolExecution(max_consecutive_tool_failures=1)
    )
    events = await stream(stubs, agent.agent_id)
    assert events[-1].HasField("run_error")
    assert [r.is_error for r in results(events)] == [True]


async def test_a_rejected_call_is_not_a_failure(exec_stubs: tuple[str, Stubs]) -> None:
    _, stubs = exec_stubs
    script = [calls(("echo", {"text": "no"})), {"text": "end"}]
    agent = await create_agent(
        stubs, script, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    agent.tool_execution.max_consecutive_tool_failures = 1
    await stubs.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=agent))
    created = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="go")
    )
    run_id = created.run.run_id
    events = await events_until(
        stubs,
        run_id,
        lambda seen: any(e.HasField("approval_requested") for e in seen),
        "an approval request",
    )
    requested = next(e.approval_requested for e in events if e.HasField("approval_requested"))
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=requested.approval_id,
            decision=approval_pb2.APPROVAL_DECISION_REJECT,
            reason="not now",
        )
    )
    run = await run_until(stubs, run_id, lambda r: r.state in TERMINAL, "ended")
    assert (run.state, run.output) == (run_pb2.RUN_STATE_SUCCEEDED, "end")


async def test_a_tool_gets_its_context(exec_stubs: tuple[str, Stubs]) -> None:
    _, stubs = exec_stubs
    script = [calls(("call_context", {"note": "first"}), ("call_context", {"note": "second"}))]
    agent = await agent_with(
        stubs, [*script, {"text": "ok"}], ["call_context"], agent_pb2.ToolExecution()
    )
    events = await stream(stubs, agent.agent_id)
    run_id = events[-1].run_id
    seen = [json.loads(r.content) for r in results(events)]
    call_ids = [r.tool_call_id for r in results(events)]
    # The two calls run in parallel: their results come in either order.
    assert sorted(c["note"] for c in seen) == ["first", "second"]
    for context, call_id in zip(seen, call_ids, strict=True):
        assert context["run_id"] == run_id
        assert context["agent_id"] == agent.agent_id
        assert context["attempt"] == 1
        assert context["tool_call_id"] == call_id  # the model's id, on both runtimes
        assert context["idempotency_key"] == idempotency_key(run_id, call_id)
    assert seen[0]["idempotency_key"] != seen[1]["idempotency_key"]
