"""Cancel wins (issue 14): once CancelRun has answered, no model or tool call starts.

The rule, on every runtime, for a run whose tool waits for an approval when
ResolveApproval(APPROVE) and CancelRun race:

- the decision is either *taken* by the run (ResolveApproval answers the
  approval APPROVED, and its record and its ``approval_resolved`` say
  APPROVED) or *refused* (FAILED_PRECONDITION ``APPROVAL_NOT_PENDING`` with
  metadata ``state`` ``APPROVAL_STATE_CANCELLED``, and the record and the
  ``approval_resolved`` say CANCELLED); never an answer the record contradicts;
- the tool runs at most once, and only if it started before CancelRun answered;
- after CANCELLING the log holds only the run's closing events
  (``approval_resolved``, ``message_discarded``, ``run_finished``,
  ``run_error``): no RUNNING, no tool result, no model output;
- the run ends CANCELLED, or SUCCEEDED when the cancel reached it only after
  all its work was done (approval taken, tool run, final answer streamed):
  then the tool's result is in the log before any CANCELLING.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import grpc
import pytest
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2, run_service_pb2
from temporalio.client import Client, WorkflowExecutionStatus

from runwire_server.app.server import RunwireServer
from tests.support import (
    Script,
    Stubs,
    assert_gap_free,
    collect,
    create_agent,
    events_until,
    kinds,
    status_details,
    unique,
    wait_until,
)
from tests.tools_for_tests import STAMPS

#: Events a run may log after CANCELLING: its ending.
CLOSING = {"approval_resolved", "message_discarded", "run_finished", "run_error"}
#: Races per runtime.
TRIES = 20


def _stamp_script(key: str) -> Script:
    return [{"tool_calls": [{"name": "stamp", "arguments": {"key": key}}]}, {"text": "done"}]


def _waiting_for_approval(events: list[event_pb2.RunEvent]) -> bool:
    return any(e.HasField("approval_requested") for e in events) and any(
        e.state_changed.state == run_pb2.RUN_STATE_REQUIRES_ACTION
        for e in events
        if e.HasField("state_changed")
    )


def _cancelling_index(events: list[event_pb2.RunEvent]) -> int | None:
    for index, event in enumerate(events):
        if event.state_changed.state == run_pb2.RUN_STATE_CANCELLING:
            return index
    return None


def _assert_only_closing_after_cancelling(events: list[event_pb2.RunEvent]) -> None:
    at = _cancelling_index(events)
    if at is None:
        return
    after = kinds(events[at + 1 :])
    assert set(after) <= CLOSING, f"work logged after CANCELLING: {kinds(events)}"


async def _all_events(stubs: Stubs, run_id: str) -> list[event_pb2.RunEvent]:
    return await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
    )


async def _approval(stubs: Stubs, approval_id: str) -> approval_pb2.Approval:
    response: approval_pb2.GetApprovalResponse = await stubs.approvals.GetApproval(
        approval_pb2.GetApprovalRequest(approval_id=approval_id)
    )
    return response.approval


async def _waiting_run(stubs: Stubs, key: str) -> tuple[str, str]:
    """Starts a run whose ``stamp`` call waits for an approval; returns (run id, approval id)."""
    agent = await create_agent(
        stubs, _stamp_script(key), tools=["stamp"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
    ).run
    seen = await events_until(stubs, run.run_id, _waiting_for_approval, "the approval request")
    approval_id = next(
        e.approval_requested.approval_id for e in seen if e.HasField("approval_requested")
    )
    return run.run_id, approval_id


async def _race(
    stubs: Stubs, run_id: str, approval_id: str, rng: random.Random
) -> tuple[approval_pb2.Approval | grpc.aio.AioRpcError, run_pb2.Run, float]:
    """ResolveApproval(APPROVE) and CancelRun at once, each after a small random
    delay (so they reach the server in either order); returns ResolveApproval's
    answer, CancelRun's run and when it answered (``time.monotonic()``)."""
    approve_delay, cancel_delay = rng.uniform(0, 0.004), rng.uniform(0, 0.004)

    async def approve() -> approval_pb2.Approval | grpc.aio.AioRpcError:
        await asyncio.sleep(approve_delay)
        try:
            response = await stubs.approvals.ResolveApproval(
                approval_pb2.ResolveApprovalRequest(
                    approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
                )
            )
        except grpc.aio.AioRpcError as exc:
            return exc
        return response.approval

    async def cancel() -> tuple[run_pb2.Run, float]:
        await asyncio.sleep(cancel_delay)
        response = await stubs.runs.CancelRun(
            run_service_pb2.CancelRunRequest(run_id=run_id, reason="race")
        )
        return response.run, time.monotonic()

    answer, (cancelled, answered_at) = await asyncio.gather(approve(), cancel())
    return answer, cancelled, answered_at


async def _race_once(stubs: Stubs, rng: random.Random) -> str:
    """One race, checked against the rule; returns its outcome: ``refused``,
    ``taken`` (then cancelled) or ``succeeded``."""
    key = unique("race")
    run_id, approval_id = await _waiting_run(stubs, key)
    answer, cancelled, answered_at = await _race(stubs, run_id, approval_id, rng)
    events = await _all_events(stubs, run_id)
    assert_gap_free(events)
    where = f"run {run_id}: {kinds(events)}"
    resolved = [
        e.approval_resolved
        for e in events
        if e.HasField("approval_resolved") and e.approval_resolved.approval_id == approval_id
    ]
    assert len(resolved) == 1, where
    record = await _approval(stubs, approval_id)

    # The tool never starts after CancelRun answered, and runs at most once.
    assert len(STAMPS[key]) <= 1, where
    assert all(at < answered_at for at in STAMPS[key]), where
    _assert_only_closing_after_cancelling(events)
    assert cancelled.state in (
        run_pb2.RUN_STATE_CANCELLING,
        run_pb2.RUN_STATE_CANCELLED,
        run_pb2.RUN_STATE_SUCCEEDED,
    ), where

    # ResolveApproval's answer agrees with the approval's record and its event.
    if isinstance(answer, grpc.aio.AioRpcError):
        details = status_details(answer)
        assert answer.code() == grpc.StatusCode.FAILED_PRECONDITION, where
        assert details.reason == "APPROVAL_NOT_PENDING", where
        assert details.metadata.get("state") == "APPROVAL_STATE_CANCELLED", (details, where)
        assert record.state == resolved[0].state == approval_pb2.APPROVAL_STATE_CANCELLED, where
        assert not STAMPS[key], where
        outcome = "refused"
    else:
        assert answer.state == approval_pb2.APPROVAL_STATE_APPROVED, where
        assert record.state == resolved[0].state == approval_pb2.APPROVAL_STATE_APPROVED, where
        outcome = "taken"

    end = events[-1].run_finished
    if end.state != run_pb2.RUN_STATE_SUCCEEDED:
        assert end.state == run_pb2.RUN_STATE_CANCELLED, where
        assert _cancelling_index(events) is not None, where
        return outcome
    # All its work was done before the cancel reached the run.
    assert outcome == "taken" and len(STAMPS[key]) == 1 and end.output == "done", where
    results = [i for i, e in enumerate(events) if e.HasField("tool_call_result")]
    at = _cancelling_index(events)
    assert len(results) == 1 and (at is None or results[0] < at), where
    return "succeeded"


async def test_approval_racing_cancel_never_runs_the_tool_after_the_cancel(
    stubs: Stubs, runtime: str
) -> None:
    rng = random.Random(14)
    outcomes: Counter[str] = Counter()
    for _ in range(TRIES):
        outcomes[await _race_once(stubs, rng)] += 1
    # Shown with -s: how the races went on this runtime.
    print(f"\ncancel race on {runtime}: {dict(outcomes)} in {TRIES} tries")
    assert sum(outcomes.values()) == TRIES


async def test_cancel_during_a_model_call_starts_no_further_call(stubs: Stubs) -> None:
    key = unique("model")
    script: Script = [
        {"text": "thinking " * 40, "tool_calls": [{"name": "stamp", "arguments": {"key": key}}]},
        {"text": "never said"},
    ]
    agent = await create_agent(stubs, script, tools=["stamp"], chunk_chars=4, delay_ms=50)
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
    ).run
    await events_until(
        stubs,
        run.run_id,
        lambda events: "text_message_content" in kinds(events),
        "the model's first words",
    )
    # Twice at once: both answer once the run has stopped.
    answers = await asyncio.gather(
        *(
            stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))
            for _ in range(2)
        )
    )
    for answer in answers:
        assert answer.run.state in (run_pb2.RUN_STATE_CANCELLING, run_pb2.RUN_STATE_CANCELLED)
    events = await _all_events(stubs, run.run_id)
    assert_gap_free(events)
    _assert_only_closing_after_cancelling(events)
    names = kinds(events)
    assert _cancelling_index(events) is not None, names
    assert names.count("step_started") == 1, names  # no second model call
    assert "tool_call_result" not in names and not STAMPS[key], names
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED
    assert events[-1].run_finished.finish_reason == "cancelled"


async def test_outputs_after_the_cancel_are_refused(stubs: Stubs) -> None:
    agent = await create_agent(
        stubs, [{"tool_calls": [{"name": "lookup", "arguments": {"id": "7"}}]}, {"text": "x"}]
    )
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id,
                prompt="p",
                client_tools=[run_pb2.ClientTool(name="lookup")],
            )
        )
    ).run
    seen = await events_until(
        stubs,
        run.run_id,
        lambda events: "client_tool_call_requested" in kinds(events),
        "the client tool call",
    )
    call_id = next(
        e.client_tool_call_requested.tool_call_id
        for e in seen
        if e.HasField("client_tool_call_requested")
    )
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.SubmitToolOutputs(
            run_service_pb2.SubmitToolOutputsRequest(
                run_id=run.run_id,
                tool_outputs=[run_pb2.ToolOutput(tool_call_id=call_id, output="late")],
            )
        )
    assert status_details(caught.value).reason == "TOOL_CALL_NOT_PENDING"
    events = await _all_events(stubs, run.run_id)
    _assert_only_closing_after_cancelling(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED


async def test_cancel_from_temporal_stops_the_run_as_cancel_run_does(
    server: RunwireServer, stubs: Stubs, runtime: str
) -> None:
    """An operator cancelling the workflow in Temporal (UI, CLI) stops the run
    through the same gate: CANCELLING, the approval cancelled, the run and its
    workflow CANCELLED."""
    if runtime != "temporal":
        pytest.skip("a Temporal workflow only")
    key = unique("external")
    run_id, approval_id = await _waiting_run(stubs, key)
    address = server.settings.temporal_address
    assert address is not None
    client = await Client.connect(address)
    handle = client.get_workflow_handle(run_id)
    await handle.cancel(reason="an operator")
    events = await _all_events(stubs, run_id)
    assert_gap_free(events)
    _assert_only_closing_after_cancelling(events)
    assert _cancelling_index(events) is not None, kinds(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED
    assert (await _approval(stubs, approval_id)).state == approval_pb2.APPROVAL_STATE_CANCELLED
    assert not STAMPS[key]

    async def workflow_cancelled() -> bool:
        return (await handle.describe()).status == WorkflowExecutionStatus.CANCELED

    await wait_until(workflow_cancelled, "the workflow ends CANCELED")


async def test_cancel_as_the_run_starts_ends_it_cancelled(stubs: Stubs) -> None:
    """CancelRun right after CreateRun, before the loop may have logged
    anything: ``run_started`` still comes first, then CANCELLING, then the end."""
    key = unique("start")
    agent = await create_agent(stubs, _stamp_script(key), tools=["stamp"])
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
    ).run
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))
    events = await _all_events(stubs, run.run_id)
    assert_gap_free(events)
    names = kinds(events)
    assert names[0] == "run_started", names
    _assert_only_closing_after_cancelling(events)
    end = events[-1].run_finished
    assert end.state == run_pb2.RUN_STATE_CANCELLED or (
        end.state == run_pb2.RUN_STATE_SUCCEEDED and _cancelling_index(events) is None
    ), names
