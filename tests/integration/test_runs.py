"""Runs end to end through the real gRPC server: streaming, resume, limits, idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest
from google.protobuf import duration_pb2
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2, run_service_pb2

from tests.support import (
    Script,
    Stubs,
    assert_gap_free,
    collect,
    create_agent,
    events_until,
    kinds,
    run_until,
    status_details,
    unique,
)


def _has(kind: str) -> Callable[[list[event_pb2.RunEvent]], bool]:
    """Whether a list of events holds one of payload ``kind``."""
    return lambda events: kind in kinds(events)


TOOL_THEN_TEXT: Script = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "ping"}}]},
    {"text": "The echo said ping."},
]


async def test_stream_run_happy_path_orders_events_and_numbers_them(
    stubs: Stubs, runtime: str
) -> None:
    agent = await create_agent(stubs, TOOL_THEN_TEXT, tools=["echo"])
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="say ping")
        )
    )
    assert_gap_free(events)
    assert kinds(events) == [
        "run_started",
        "state_changed",
        "step_started",
        "tool_call_start",
        *["tool_call_args"] * len([e for e in events if e.HasField("tool_call_args")]),
        "tool_call_end",
        "usage",
        "step_finished",
        "tool_call_result",
        "step_started",
        "text_message_start",
        *["text_message_content"] * len([e for e in events if e.HasField("text_message_content")]),
        "text_message_end",
        "usage",
        "step_finished",
        "run_finished",
    ]
    args = "".join(e.tool_call_args.delta for e in events if e.HasField("tool_call_args"))
    assert args == '{"text":"ping"}'
    result = next(e.tool_call_result for e in events if e.HasField("tool_call_result"))
    assert (result.content, result.is_error) == ("ping", False)
    text = "".join(
        e.text_message_content.delta for e in events if e.HasField("text_message_content")
    )
    assert text == "The echo said ping."
    assert len([e for e in events if e.HasField("text_message_content")]) > 1  # really streamed
    finished = events[-1].run_finished
    assert finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert finished.output == "The echo said ping."
    assert finished.finish_reason == "stop"
    assert finished.usage.total_tokens == finished.usage.input_tokens + finished.usage.output_tokens
    assert finished.usage.input_tokens > 0 and finished.usage.output_tokens > 0
    assert {e.run_id for e in events} == {events[0].run_id}

    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))).run
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert run.output == "The echo said ping."
    assert run.last_sequence == len(events)
    assert run.usage == finished.usage
    assert run.agent_id == agent.agent_id
    expected = agent_pb2.RUNTIME_TEMPORAL if runtime == "temporal" else agent_pb2.RUNTIME_IN_PROCESS
    assert run.runtime == expected
    assert run.HasField("start_time") and run.HasField("end_time")


async def test_resume_after_every_sequence_replays_exactly_the_rest(stubs: Stubs) -> None:
    agent = await create_agent(stubs, TOOL_THEN_TEXT, tools=["echo"])
    full = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    run_id = full[0].run_id
    for after in (0, 1, 2, len(full) // 2, len(full) - 1):
        resumed = await collect(
            stubs.runs.StreamRunEvents(
                run_service_pb2.StreamRunEventsRequest(run_id=run_id, after_sequence=after)
            )
        )
        assert resumed == full[after:], after
    # After the last event of an ended run the stream ends at once, empty.
    tail = await collect(
        stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=run_id, after_sequence=len(full))
        )
    )
    assert tail == []


async def test_disconnect_mid_run_then_resume_loses_and_doubles_nothing(stubs: Stubs) -> None:
    script = [{"text": "x" * 80}]
    agent = await create_agent(stubs, script, chunk_chars=2, delay_ms=20)
    call = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    seen = []
    async for response in call:
        if response.event.HasField("heartbeat"):
            continue
        seen.append(response.event)
        if len(seen) == 7:
            break
    call.cancel()  # the client goes away; the run must go on
    run_id = seen[0].run_id
    rest = await collect(
        stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=run_id, after_sequence=seen[-1].sequence)
        )
    )
    combined = seen + rest
    assert_gap_free(combined)
    assert combined[-1].run_finished.output == "x" * 80
    whole = await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
    )
    assert whole == combined


async def test_run_goes_on_after_client_disconnects(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "still here"}], chunk_chars=1, delay_ms=10)
    call = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    first = await call.read()
    call.cancel()
    run_id = first.event.run_id
    run = await run_until(
        stubs, run_id, lambda r: r.state == run_pb2.RUN_STATE_SUCCEEDED, "SUCCEEDED"
    )
    assert run.output == "still here"


async def test_get_run_then_stream_from_last_sequence_has_no_gap(stubs: Stubs) -> None:
    # The snapshot is taken while the text streams; the approval after the text
    # keeps the run going until the stream from the snapshot is open.
    script: Script = [
        {"text": "abcdefghij" * 4, "tool_calls": [{"name": "echo", "arguments": {"text": "e"}}]},
        {"text": "after"},
    ]
    agent = await create_agent(
        stubs,
        script,
        tools=["echo"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        chunk_chars=2,
        delay_ms=10,
    )
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
    ).run
    assert run.state in (run_pb2.RUN_STATE_QUEUED, run_pb2.RUN_STATE_RUNNING)
    await events_until(stubs, run.run_id, _has("text_message_content"), "a text delta")
    snapshot = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run.run_id))).run
    assert snapshot.state in (run_pb2.RUN_STATE_RUNNING, run_pb2.RUN_STATE_REQUIRES_ACTION)
    rest_of_run = asyncio.ensure_future(
        collect(
            stubs.runs.StreamRunEvents(
                run_service_pb2.StreamRunEventsRequest(
                    run_id=run.run_id, after_sequence=snapshot.last_sequence
                )
            )
        )
    )
    requested = await events_until(
        stubs, run.run_id, _has("approval_requested"), "the approval request"
    )
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=requested[-1].approval_requested.approval_id,
            decision=approval_pb2.APPROVAL_DECISION_APPROVE,
        )
    )
    rest = await rest_of_run
    assert rest[0].sequence == snapshot.last_sequence + 1
    assert_gap_free(rest, start=snapshot.last_sequence + 1)
    assert rest[-1].run_finished.output == "after"


async def test_max_iterations_ends_with_a_last_call_without_tools(stubs: Stubs) -> None:
    loop_forever = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": str(i)}}]} for i in range(10)
    ]
    agent = await create_agent(stubs, loop_forever, tools=["echo"], max_iterations=2)
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    steps = [e.step_started.step for e in events if e.HasField("step_started")]
    assert steps == [1, 2, 3]
    assert len([e for e in events if e.HasField("tool_call_result")]) == 2
    finished = events[-1].run_finished
    assert finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert finished.finish_reason == "max_iterations"
    assert finished.output == "done"


async def test_default_max_iterations_is_five(stubs: Stubs) -> None:
    loop_forever = [{"tool_calls": [{"name": "echo", "arguments": {"text": "x"}}]}] * 10
    agent = await create_agent(stubs, loop_forever, tools=["echo"])
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    assert [e.step_started.step for e in events if e.HasField("step_started")] == [1, 2, 3, 4, 5, 6]
    assert events[-1].run_finished.finish_reason == "max_iterations"


async def test_run_timeout_fails_the_run_with_deadline_exceeded(stubs: Stubs) -> None:
    script = [{"tool_calls": [{"name": "sleep", "arguments": {"seconds": 30}}]}]
    agent = await create_agent(stubs, script, tools=["sleep"], timeout_seconds=1)
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    error = events[-1].run_error
    assert error.finish_reason == "timeout"
    assert error.error.code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))).run
    assert run.state == run_pb2.RUN_STATE_FAILED
    assert run.finish_reason == "timeout"
    assert run.error.code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]


async def test_failing_tool_is_reported_to_the_model_and_the_run_goes_on(stubs: Stubs) -> None:
    script: Script = [
        {"tool_calls": [{"name": "explode", "arguments": {"message": "boom"}}]},
        {"text": "the tool failed"},
    ]
    agent = await create_agent(stubs, script, tools=["explode"])
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    result = next(e.tool_call_result for e in events if e.HasField("tool_call_result"))
    assert result.is_error and "boom" in result.content
    assert events[-1].run_finished.output == "the tool failed"


async def test_unknown_tool_and_malformed_arguments_are_tool_errors(stubs: Stubs) -> None:
    script: Script = [
        {"tool_calls": [{"name": "no_such_tool", "arguments": {}}]},
        {"text": "ok"},
    ]
    agent = await create_agent(stubs, script, tools=["echo"])
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    result = next(e.tool_call_result for e in events if e.HasField("tool_call_result"))
    assert result.is_error and "unknown tool" in result.content
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED


async def test_parallel_tool_calls_run_concurrently(stubs: Stubs) -> None:
    key = unique("meet")
    call = {"name": "rendezvous", "arguments": {"key": key, "parties": 3}}
    agent = await create_agent(
        stubs, [{"tool_calls": [call, call, call]}, {"text": "met"}], tools=["rendezvous"]
    )
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    results = [e.tool_call_result for e in events if e.HasField("tool_call_result")]
    # Each call only returns once all three run at the same time.
    assert [(r.content, r.is_error) for r in results] == [("met 3", False)] * 3


async def test_repeated_request_id_returns_the_first_run(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "once"}])
    request_id = unique("req")
    request = run_service_pb2.CreateRunRequest(
        agent_id=agent.agent_id, prompt="p", request_id=request_id
    )
    first, second = await asyncio.gather(
        stubs.runs.CreateRun(request), stubs.runs.CreateRun(request)
    )
    third = await stubs.runs.CreateRun(request)
    assert first.run.run_id == second.run.run_id == third.run.run_id
    listed = await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(agent_id=agent.agent_id))
    assert [r.run_id for r in listed.runs] == [first.run.run_id]
    # StreamRun with the same key streams the same run instead of starting one.
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="p", request_id=request_id
            )
        )
    )
    assert {e.run_id for e in events} == {first.run.run_id}


async def test_wait_run_returns_the_ended_run(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "waited"}])
    response = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    assert response.run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert response.run.output == "waited"


async def test_wait_run_times_out_and_returns_the_run_as_it_is(stubs: Stubs) -> None:
    script = [{"tool_calls": [{"name": "sleep", "arguments": {"seconds": 30}}]}]
    agent = await create_agent(stubs, script, tools=["sleep"])
    request_id = unique("req")
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id, prompt="p", request_id=request_id
            )
        )
    ).run
    # RUNNING until its tool has slept 30 s: WaitRun (the same request_id waits on
    # the same run) must give up after its timeout and return the run as it is.
    await run_until(stubs, run.run_id, lambda r: r.state == run_pb2.RUN_STATE_RUNNING, "RUNNING")
    response = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(
            agent_id=agent.agent_id,
            prompt="p",
            request_id=request_id,
            timeout=duration_pb2.Duration(nanos=300_000_000),
        )
    )
    assert response.run.run_id == run.run_id
    assert response.run.state == run_pb2.RUN_STATE_RUNNING
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))


async def test_list_runs_pages_newest_first_and_filters(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "x"}])
    ids = []
    for _ in range(5):
        run = (
            await stubs.runs.WaitRun(
                run_service_pb2.WaitRunRequest(agent_id=agent.agent_id, prompt="p")
            )
        ).run
        ids.append(run.run_id)
    pages, token = [], ""
    while True:
        page = await stubs.runs.ListRuns(
            run_service_pb2.ListRunsRequest(agent_id=agent.agent_id, page_size=2, page_token=token)
        )
        pages.append([r.run_id for r in page.runs])
        token = page.next_page_token
        if not token:
            break
    assert pages == [ids[::-1][0:2], ids[::-1][2:4], ids[::-1][4:5]]
    failed = await stubs.runs.ListRuns(
        run_service_pb2.ListRunsRequest(agent_id=agent.agent_id, state=run_pb2.RUN_STATE_FAILED)
    )
    assert list(failed.runs) == []


async def test_list_run_events_pages_through_the_log(stubs: Stubs) -> None:
    agent = await create_agent(stubs, TOOL_THEN_TEXT, tools=["echo"])
    full = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p"))
    )
    got, token = [], ""
    while True:
        page = await stubs.runs.ListRunEvents(
            run_service_pb2.ListRunEventsRequest(
                run_id=full[0].run_id, page_size=4, page_token=token
            )
        )
        got.extend(page.events)
        token = page.next_page_token
        if not token:
            break
    assert got == full
    after = await stubs.runs.ListRunEvents(
        run_service_pb2.ListRunEventsRequest(run_id=full[0].run_id, after_sequence=3, page_size=2)
    )
    assert [e.sequence for e in after.events] == [4, 5]


async def test_idle_stream_gets_heartbeats(stubs: Stubs) -> None:
    # While the run waits for an approval it logs nothing: its stream gets heartbeats.
    script: Script = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": "x"}}]},
        {"text": "up"},
    ]
    agent = await create_agent(
        stubs, script, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
    ).run

    def beats_while_waiting(events: list[event_pb2.RunEvent]) -> bool:
        names = kinds(events)
        asked = "approval_requested" in names
        return asked and "heartbeat" in names[names.index("approval_requested") :]

    idle = await events_until(
        stubs, run.run_id, beats_while_waiting, "a heartbeat while waiting", heartbeats=True
    )
    logged = [e for e in idle if not e.HasField("heartbeat")]
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=next(
                e.approval_requested.approval_id for e in logged if e.HasField("approval_requested")
            ),
            decision=approval_pb2.APPROVAL_DECISION_APPROVE,
        )
    )
    rest = await collect(
        stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(
                run_id=run.run_id, after_sequence=logged[-1].sequence
            )
        ),
        heartbeats=True,
    )
    beats = [e for e in idle + rest if e.HasField("heartbeat")]
    assert beats and all(e.sequence == 0 and e.run_id == run.run_id for e in beats)
    full = logged + [e for e in rest if not e.HasField("heartbeat")]
    assert_gap_free(full)
    assert full[-1].run_finished.output == "up"


async def test_cancel_running_run_ends_cancelled(stubs: Stubs) -> None:
    script = [{"tool_calls": [{"name": "sleep", "arguments": {"seconds": 30}}]}]
    agent = await create_agent(stubs, script, tools=["sleep"])
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
    ).run
    # The model's turn has ended: the run is RUNNING its 30 s tool.
    await events_until(stubs, run.run_id, _has("step_finished"), "the end of the model's turn")
    cancelled = (
        await stubs.runs.CancelRun(
            run_service_pb2.CancelRunRequest(run_id=run.run_id, reason="stop")
        )
    ).run
    assert cancelled.state in (run_pb2.RUN_STATE_CANCELLING, run_pb2.RUN_STATE_CANCELLED)
    events = await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run.run_id))
    )
    states = [e.state_changed.state for e in events if e.HasField("state_changed")]
    assert run_pb2.RUN_STATE_CANCELLING in states
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED
    assert events[-1].run_finished.finish_reason == "cancelled"
    again = (await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))).run
    assert again.state == run_pb2.RUN_STATE_CANCELLED


async def test_runtime_per_run_is_honoured_or_refused(stubs: Stubs, runtime: str) -> None:
    agent = await create_agent(stubs, [{"text": "x"}])
    request = run_service_pb2.WaitRunRequest(
        agent_id=agent.agent_id, prompt="p", runtime=agent_pb2.RUNTIME_TEMPORAL
    )
    if runtime == "temporal":
        run = (await stubs.runs.WaitRun(request)).run
        assert (run.runtime, run.state) == (agent_pb2.RUNTIME_TEMPORAL, run_pb2.RUN_STATE_SUCCEEDED)
        request.runtime = agent_pb2.RUNTIME_IN_PROCESS
        run = (await stubs.runs.WaitRun(request)).run
        assert (run.runtime, run.state) == (
            agent_pb2.RUNTIME_IN_PROCESS,
            run_pb2.RUN_STATE_SUCCEEDED,
        )
        return
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.WaitRun(request)
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.FAILED_PRECONDITION
    assert details.reason == "RUNTIME_UNAVAILABLE"
