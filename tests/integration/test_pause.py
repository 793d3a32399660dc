"""PauseRun / ResumeRun (issue 17 item 5), on every runtime of the parity suite.

A run asked to pause stops at its next safe point: before its next model call,
or before the tool calls of the model reply in flight (the call in flight
finishes first). It logs ``state_changed`` PAUSED there, reads PAUSED in
GetRun, and waits for ResumeRun, which logs RUNNING and lets it go on to its
end with every event once. A pause withdrawn (ResumeRun) before the run
reached a safe point leaves no trace in the log. CancelRun ends a paused run
CANCELLED; its timeout keeps running while paused (RUN_TIMEOUT). Pausing or
resuming an ended run returns it unchanged. An in-process run can only be
paused by the replica that runs it (FAILED_PRECONDITION elsewhere).

The scripted model streams slowly (``delay_ms`` per delta) where a test needs
a model call in flight while it asks; every wait is on a condition.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import re
import sys
import uuid
from collections import Counter
from typing import Any

import grpc
import pytest
import runwire
from google.rpc import error_details_pb2
from rich.console import Console
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2, run_service_pb2

from runwire_server.app.config import Settings
from runwire_server.app.render import Renderer
from runwire_server.app.server import RunwireServer
from tests.support import (
    PARITY_TOKEN,
    Script,
    Stubs,
    assert_gap_free,
    collect,
    create_agent,
    events_until,
    kinds,
    running_server,
    status_details,
    unique,
)
from tests.tools_for_tests import STAMPS

#: Milliseconds before each streamed delta of a slow model reply: the reply
#: below then streams for a few seconds, long enough to ask during it.
SLOW_DELTA_MS = 150
#: Text streamed before the tool call of a slow reply (4 characters a delta).
SLOW_TEXT = "Stamping it now; this takes a little while, one moment."

#: The ``runwire`` console script of the interpreter running the tests.
RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))
#: Deadline of one CLI invocation, seconds: generous, for a busy machine.
CLI_SECONDS = 60.0

#: Events a run may log after CANCELLING: its ending.
CLOSING = {"approval_resolved", "message_discarded", "run_finished", "run_error"}


def _stamp_script(key: str, *, text: str | None = None) -> Script:
    first: dict[str, Any] = {"tool_calls": [{"name": "stamp", "arguments": {"key": key}}]}
    if text is not None:
        first["text"] = text
    return [first, {"text": "done"}]


def _states(events: list[event_pb2.RunEvent]) -> list[int]:
    return [e.state_changed.state for e in events if e.HasField("state_changed")]


def _is_paused(events: list[event_pb2.RunEvent]) -> bool:
    return bool(events) and _states(events)[-1:] == [run_pb2.RUN_STATE_PAUSED]


def _streaming(events: list[event_pb2.RunEvent]) -> bool:
    return any(e.HasField("text_message_content") for e in events)


def _approval_requested(events: list[event_pb2.RunEvent]) -> bool:
    return _states(events)[-1:] == [run_pb2.RUN_STATE_REQUIRES_ACTION]


async def _approve(stubs: Stubs, events: list[event_pb2.RunEvent]) -> None:
    """Approves the one approval requested in ``events``."""
    (approval_id,) = [
        e.approval_requested.approval_id for e in events if e.HasField("approval_requested")
    ]
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
        )
    )


async def _create(stubs: Stubs, agent: agent_pb2.Agent) -> str:
    response = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    run_id: str = response.run.run_id
    return run_id


async def _pause(stubs: Stubs, run_id: str, reason: str = "") -> run_pb2.Run:
    response = await stubs.runs.PauseRun(
        run_service_pb2.PauseRunRequest(run_id=run_id, reason=reason)
    )
    run: run_pb2.Run = response.run
    return run


async def _resume(stubs: Stubs, run_id: str) -> run_pb2.Run:
    response = await stubs.runs.ResumeRun(run_service_pb2.ResumeRunRequest(run_id=run_id))
    run: run_pb2.Run = response.run
    return run


async def _get(stubs: Stubs, run_id: str) -> run_pb2.Run:
    response = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))
    run: run_pb2.Run = response.run
    return run


async def _all_events(stubs: Stubs, run_id: str) -> list[event_pb2.RunEvent]:
    """Every event of the run, once it has ended (the stream ends after the terminal one)."""
    return await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
    )


def _assert_each_once(events: list[event_pb2.RunEvent]) -> None:
    """Gap-free, one start, one end, and each streamed message started once."""
    assert_gap_free(events)
    counts = Counter(kinds(events))
    assert counts["run_started"] == 1, kinds(events)
    assert counts["run_finished"] + counts["run_error"] == 1, kinds(events)
    starts = [e.text_message_start.message_id for e in events if e.HasField("text_message_start")]
    assert len(starts) == len(set(starts)), starts


async def test_pause_stops_before_the_tool_calls_of_the_reply_in_flight(stubs: Stubs) -> None:
    key = unique("pause-tools")
    agent = await create_agent(
        stubs, _stamp_script(key, text=SLOW_TEXT), tools=["stamp"], delay_ms=SLOW_DELTA_MS
    )
    run_id = await _create(stubs, agent)
    await events_until(stubs, run_id, _streaming, "the model streaming")

    asked = await _pause(stubs, run_id, reason="a look at the plan")
    assert asked.state == run_pb2.RUN_STATE_RUNNING  # recorded; the model call goes on
    seen = await events_until(stubs, run_id, _is_paused, "state PAUSED")

    # The reply in flight finished; its tool call did not start.
    assert "tool_call_end" in kinds(seen), kinds(seen)
    assert "tool_call_result" not in kinds(seen), kinds(seen)
    assert (await _get(stubs, run_id)).state == run_pb2.RUN_STATE_PAUSED
    assert not STAMPS[key]
    again = await _pause(stubs, run_id)  # pausing a paused run changes nothing
    assert again.state == run_pb2.RUN_STATE_PAUSED
    assert again.last_sequence == seen[-1].sequence

    resumed = await _resume(stubs, run_id)
    assert resumed.run_id == run_id
    events = await _all_events(stubs, run_id)
    _assert_each_once(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, kinds(events)
    assert events[-1].run_finished.output == "done"
    assert len(STAMPS[key]) == 1
    assert _states(events) == [
        run_pb2.RUN_STATE_RUNNING,
        run_pb2.RUN_STATE_PAUSED,
        run_pb2.RUN_STATE_RUNNING,
    ]
    paused_at = kinds(events).index("state_changed", kinds(events).index("tool_call_end"))
    assert events[paused_at].state_changed.state == run_pb2.RUN_STATE_PAUSED
    assert "tool_call_result" in kinds(events[paused_at:])
    assert (await _get(stubs, run_id)).state == run_pb2.RUN_STATE_SUCCEEDED


async def test_pause_stops_before_the_next_model_call(stubs: Stubs) -> None:
    """Asked while the run waits for an approval: the tool runs once approved,
    and the run pauses before it calls the model again."""
    key = unique("pause-model")
    agent = await create_agent(
        stubs, _stamp_script(key), tools=["stamp"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    run_id = await _create(stubs, agent)
    waiting = await events_until(stubs, run_id, _approval_requested, "the approval request")
    asked = await _pause(stubs, run_id)
    assert asked.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    await _approve(stubs, waiting)
    seen = await events_until(stubs, run_id, _is_paused, "state PAUSED")
    assert len(STAMPS[key]) == 1
    assert "tool_call_result" in kinds(seen), kinds(seen)
    # Paused before the second model call: its reply has not started.
    assert kinds(seen).count("step_finished") == 1, kinds(seen)
    assert (await _get(stubs, run_id)).state == run_pb2.RUN_STATE_PAUSED

    await _resume(stubs, run_id)
    events = await _all_events(stubs, run_id)
    _assert_each_once(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, kinds(events)
    assert events[-1].run_finished.output == "done"
    assert len(STAMPS[key]) == 1
    assert _states(events)[-3:] == [
        run_pb2.RUN_STATE_RUNNING,  # the approval was taken
        run_pb2.RUN_STATE_PAUSED,
        run_pb2.RUN_STATE_RUNNING,
    ]
    after = kinds(events[len(seen) :])
    assert after[0] == "state_changed" and "text_message_start" in after, after


async def test_resume_before_the_safe_point_withdraws_the_pause(stubs: Stubs) -> None:
    key = unique("pause-withdrawn")
    agent = await create_agent(
        stubs, _stamp_script(key, text=SLOW_TEXT), tools=["stamp"], delay_ms=SLOW_DELTA_MS
    )
    run_id = await _create(stubs, agent)
    await events_until(stubs, run_id, _streaming, "the model streaming")
    assert (await _pause(stubs, run_id)).state == run_pb2.RUN_STATE_RUNNING
    assert (await _resume(stubs, run_id)).state == run_pb2.RUN_STATE_RUNNING

    events = await _all_events(stubs, run_id)
    _assert_each_once(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, kinds(events)
    assert run_pb2.RUN_STATE_PAUSED not in _states(events), kinds(events)
    assert len(STAMPS[key]) == 1


async def test_cancel_ends_a_paused_run(stubs: Stubs) -> None:
    key = unique("pause-cancel")
    agent = await create_agent(
        stubs, _stamp_script(key, text=SLOW_TEXT), tools=["stamp"], delay_ms=SLOW_DELTA_MS
    )
    run_id = await _create(stubs, agent)
    await _pause(stubs, run_id)
    await events_until(stubs, run_id, _is_paused, "state PAUSED")

    cancelled = (
        await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run_id, reason="stop"))
    ).run
    assert cancelled.state in (run_pb2.RUN_STATE_CANCELLING, run_pb2.RUN_STATE_CANCELLED)
    events = await _all_events(stubs, run_id)
    _assert_each_once(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED, kinds(events)
    at = _states(events).index(run_pb2.RUN_STATE_CANCELLING)
    assert _states(events)[at - 1] == run_pb2.RUN_STATE_PAUSED
    cancelling = next(
        i
        for i, e in enumerate(events)
        if e.state_changed.state == run_pb2.RUN_STATE_CANCELLING and e.HasField("state_changed")
    )
    assert set(kinds(events[cancelling + 1 :])) <= CLOSING, kinds(events)
    assert not STAMPS[key]
    # A resume after the end changes nothing.
    ended = await _resume(stubs, run_id)
    assert ended.state == run_pb2.RUN_STATE_CANCELLED
    assert ended.last_sequence == events[-1].sequence


async def test_the_timeout_runs_on_while_paused(stubs: Stubs) -> None:
    key = unique("pause-timeout")
    agent = await create_agent(
        stubs,
        _stamp_script(key),
        tools=["stamp"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        timeout_seconds=5,
        approval_timeout_seconds=4,
    )
    run_id = await _create(stubs, agent)
    waiting = await events_until(stubs, run_id, _approval_requested, "the approval request")
    await _pause(stubs, run_id)
    await _approve(stubs, waiting)
    await events_until(stubs, run_id, _is_paused, "state PAUSED")

    events = await _all_events(stubs, run_id)
    _assert_each_once(events)
    assert events[-1].HasField("run_error"), kinds(events)
    error = events[-1].run_error
    assert error.finish_reason == "timeout"
    info = error_details_pb2.ErrorInfo()
    assert error.error.details[0].Unpack(info)
    assert info.reason == "RUN_TIMEOUT"
    assert _states(events)[-1] == run_pb2.RUN_STATE_PAUSED  # never resumed
    assert (await _get(stubs, run_id)).state == run_pb2.RUN_STATE_FAILED
    assert kinds(events).count("text_message_start") == 0  # the second call never started


async def test_pause_and_resume_of_an_ended_run_change_nothing(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "hello"}])
    run_id = await _create(stubs, agent)
    events = await _all_events(stubs, run_id)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED

    paused = await _pause(stubs, run_id, reason="too late")
    resumed = await _resume(stubs, run_id)
    for run in (paused, resumed, await _get(stubs, run_id)):
        assert run.state == run_pb2.RUN_STATE_SUCCEEDED
        assert run.last_sequence == events[-1].sequence
        assert run.output == "hello"


async def test_pause_of_an_unknown_run_is_not_found(stubs: Stubs) -> None:
    for call in (
        stubs.runs.PauseRun(run_service_pb2.PauseRunRequest(run_id="run_missing")),
        stubs.runs.ResumeRun(run_service_pb2.ResumeRunRequest(run_id="run_missing")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert status_details(caught.value).reason == "RUN_NOT_FOUND"


async def test_an_in_process_run_is_paused_by_its_own_replica_only(redis_url: str) -> None:
    """Two replicas on one Redis prefix: the other one answers FAILED_PRECONDITION
    (metadata ``run_id``); the owner pauses and resumes the run."""
    values: dict[str, Any] = {
        "listen": ["127.0.0.1:0"],
        "redis_url": redis_url,
        "redis_prefix": f"test-{uuid.uuid4().hex[:8]}",
        "tool_modules": ["tests.tools_for_tests"],
        "heartbeat_interval_seconds": 0.5,
        "shutdown_grace_seconds": 1.0,
        "log_level": "WARNING",
    }
    key = unique("pause-replica")
    async with (
        running_server(Settings(**values)) as owner,
        running_server(Settings(**values)) as other,
    ):
        owner_stubs = Stubs.connect(owner.addresses[0], token="")
        other_stubs = Stubs.connect(other.addresses[0], token="")
        try:
            agent = await create_agent(
                owner_stubs,
                _stamp_script(key),
                tools=["stamp"],
                mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
            )
            run_id = await _create(owner_stubs, agent)
            await events_until(
                owner_stubs,
                run_id,
                lambda events: "approval_requested" in kinds(events),
                "the approval request",
            )
            for call in (
                other_stubs.runs.PauseRun(run_service_pb2.PauseRunRequest(run_id=run_id)),
                other_stubs.runs.ResumeRun(run_service_pb2.ResumeRunRequest(run_id=run_id)),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call
                assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                details = status_details(caught.value)
                assert details.reason == "FAILED_PRECONDITION"
                assert details.metadata.get("run_id") == run_id
                assert "another replica" in (caught.value.details() or "")
            assert (await _pause(owner_stubs, run_id)).run_id == run_id
            assert (await _resume(owner_stubs, run_id)).run_id == run_id
            await owner_stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run_id))
        finally:
            await owner_stubs.channel.close()
            await other_stubs.channel.close()


async def _cli(server: RunwireServer, *args: str) -> tuple[int, str, str]:
    """Runs ``runwire ARGS`` against ``server`` to its end: (exit code, stdout, stderr)."""
    env = dict(os.environ) | {
        "RUNWIRE_ADDRESS": server.addresses[0],
        "RUNWIRE_TOKEN": PARITY_TOKEN,
        "NO_COLOR": "1",
    }
    process = await asyncio.create_subprocess_exec(
        RUNWIRE,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CLI_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_python_client_and_cli_pause_and_resume(server: RunwireServer, stubs: Stubs) -> None:
    """``AsyncRun.pause`` and ``runwire runs list --state paused`` / ``runs resume``."""
    key = unique("pause-client")
    agent = await create_agent(
        stubs, _stamp_script(key), tools=["stamp"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    async with runwire.connect_async(server.addresses[0], token=PARITY_TOKEN, tls=False) as client:
        run = await client.runs.create(agent.agent_id, "p")
        waiting = await events_until(stubs, run.run_id, _approval_requested, "the approval request")
        asked = await run.pause(reason="from the client")
        assert asked.run_id == run.run_id and asked.state == run_pb2.RUN_STATE_REQUIRES_ACTION
        await _approve(stubs, waiting)
        await events_until(stubs, run.run_id, _is_paused, "state PAUSED")
        assert (await client.runs.get(run.run_id)).state == run_pb2.RUN_STATE_PAUSED

        code, out, err = await _cli(
            server, "runs", "list", "--state", "paused", "--agent", agent.agent_id, "-o", "json"
        )
        assert code == 0, err
        assert [(r["run_id"], r["state"]) for r in json.loads(out)] == [
            (run.run_id, "RUN_STATE_PAUSED")
        ]
        code, out, err = await _cli(server, "runs", "pause", run.run_id)
        assert code == 0, err
        assert out == f"run/{run.run_id} PAUSED\n"
        code, out, err = await _cli(server, "runs", "resume", run.run_id)
        assert code == 0, err
        assert re.fullmatch(rf"run/{run.run_id} (PAUSED|RUNNING|SUCCEEDED)\n", out), out

        ended = await run.wait()
        assert ended.state == run_pb2.RUN_STATE_SUCCEEDED
        assert (await client.runs.resume(run.run_id)).state == run_pb2.RUN_STATE_SUCCEEDED
    assert len(STAMPS[key]) == 1


def test_the_renderer_shows_a_pause_and_its_resume() -> None:
    """``runwire run`` and ``runwire demo`` print a pause and the resume after it."""
    console = Console(record=True, width=100, color_system=None)
    renderer = Renderer(console)
    for state in (
        run_pb2.RUN_STATE_RUNNING,
        run_pb2.RUN_STATE_PAUSED,
        run_pb2.RUN_STATE_RUNNING,
        run_pb2.RUN_STATE_REQUIRES_ACTION,
        run_pb2.RUN_STATE_RUNNING,
    ):
        renderer.render(event_pb2.RunEvent(state_changed=event_pb2.StateChanged(state=state)))
    assert console.export_text().splitlines() == [
        "paused: waits for ResumeRun (`runwire runs resume`)",
        "resumed",
    ]


async def test_wait_run_returns_when_the_run_pauses(stubs: Stubs) -> None:
    """A paused run waits for someone (ResumeRun), as REQUIRES_ACTION does: WaitRun
    returns it PAUSED instead of waiting for its timeout."""
    key = unique("pause-wait")
    agent = await create_agent(
        stubs, _stamp_script(key), tools=["stamp"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    run_id = await _create(stubs, agent)
    waiting = await events_until(stubs, run_id, _approval_requested, "the approval request")
    await _pause(stubs, run_id)
    await _approve(stubs, waiting)
    await events_until(stubs, run_id, _is_paused, "state PAUSED")
    response = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=agent.agent_id, prompt="p", request_id=run_id)
    )
    assert response.run.run_id != run_id  # a new run: it pauses at nothing, so it waits
    paused = await _get(stubs, run_id)
    assert paused.state == run_pb2.RUN_STATE_PAUSED
    await _resume(stubs, run_id)
    events = await _all_events(stubs, run_id)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, kinds(events)
