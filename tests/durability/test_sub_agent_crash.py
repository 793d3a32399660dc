"""A delegating run survives a crashed worker: SIGKILL it while a child run works.

Real processes as in ``test_crash.py`` (one ``runwire serve`` without an
embedded worker, separate workers, the session's Temporal and Redis). A
parent agent delegates to two sub-agents in parallel: one appends a line at
once (``append_line``), the other sleeps inside its tool (``slow_append``).
Each delegation is a child workflow. The worker is killed while the slow
child's tool sleeps, after the fast child has ended; a new worker takes over.

Then the parent still SUCCEEDS with both children's outputs; the fast child
is not run again (one child workflow each, its line written once, its log
with one start and one end), and the interrupted tool call completes exactly
once (it starts twice: the second attempt is Temporal's retry of the lost
activity); every stream is gap-free and equal to a fresh replay.
"""

from __future__ import annotations

import pathlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2
from temporalio.api.enums.v1 import EventType

from tests.durability.processes import Deployment, deployment
from tests.durability.test_crash import (
    RunStream,
    _start,
    _until_file_has,
    _until_heartbeat,
    _workflow,
    assert_exactly_once,
    assert_succeeded,
    get_run,
    lines,
    of_kind,
    report,
)
from tests.support import Stubs, collect, create_agent, kinds, unique
from tests.tools_for_tests import started_path

#: How long the slow child's tool sleeps, seconds: long enough that the fast
#: child ends first on a busy machine, so the kill lands in the slow one's tool.
SLOW_SECONDS = 8


@pytest.fixture
async def deployed(
    redis_url: str, temporal_address: str, tmp_path: pathlib.Path
) -> AsyncIterator[Deployment]:
    """This test's processes (none started yet); all stopped at teardown."""
    logs = tmp_path / "logs"
    logs.mkdir()
    async with deployment(
        redis_url=redis_url, temporal_address=temporal_address, directory=logs
    ) as deployed:
        yield deployed


def _tool_turn(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


async def _child_events(address: str, run_id: str) -> list[event_pb2.RunEvent]:
    stubs = Stubs.connect(address)
    try:
        return await collect(
            stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
        )
    finally:
        await stubs.channel.close()


async def test_worker_killed_while_a_child_run_works(
    deployed: Deployment, temporal_address: str, tmp_path: pathlib.Path
) -> None:
    address, _, worker = await _start(deployed)
    effects = tmp_path / "effects.txt"
    started = pathlib.Path(started_path(str(effects)))
    stubs = Stubs.connect(address)
    stream: RunStream | None = None
    try:
        fast = await create_agent(
            stubs,
            [_tool_turn("append_line", path=str(effects), line="fast"), {"text": "fast done"}],
            tools=["append_line"],
        )
        slow = await create_agent(
            stubs,
            [
                _tool_turn("slow_append", path=str(effects), line="slow", seconds=SLOW_SECONDS),
                {"text": "slow done"},
            ],
            tools=["slow_append"],
        )
        script: list[dict[str, Any]] = [
            {
                "tool_calls": [
                    {"name": "fast", "arguments": {"prompt": "append fast"}},
                    {"name": "slow", "arguments": {"prompt": "append slow"}},
                ]
            },
            {"text": "both done"},
        ]
        parent = agent_pb2.Agent(
            model=agent_pb2.Model(provider="scripted"),
            sub_agents=[
                agent_pb2.SubAgent(agent_id=fast.agent_id, tool_name="fast"),
                agent_pb2.SubAgent(agent_id=slow.agent_id, tool_name="slow"),
            ],
            approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
        )
        parent.model.options.update({"script": script})
        parent_id = unique("parent")
        await stubs.agents.CreateAgent(
            agent_pb2.CreateAgentRequest(agent_id=parent_id, agent=parent)
        )
        stream = RunStream(
            address, run_service_pb2.StreamRunRequest(agent_id=parent_id, prompt="p")
        )
        stream.start()

        def fast_child_done(events: list[event_pb2.RunEvent]) -> bool:
            return any(
                e.sub_run_finished.agent_id == fast.agent_id
                for e in of_kind(events, "sub_run_finished")
            )

        seen = await stream.wait_for("the fast child's end", fast_child_done)
        children = {
            e.sub_run_started.agent_id: e.sub_run_started
            for e in seen
            if e.HasField("sub_run_started")
        }
        slow_run = children[slow.agent_id].child_run_id
        await _until_file_has(started, "slow")  # the slow child's tool sleeps now
        await _until_heartbeat(await _workflow(temporal_address, slow_run), "run_tool")
        kill = await worker.kill()
        assert lines(effects) == ["fast"]  # killed before slow_append appended
        await deployed.start_worker()
        ready = time.monotonic() - kill.monotonic
        retried = await _until_file_has(started, "slow", count=2)
        events = await stream.finished()
    finally:
        if stream is not None:
            await stream.close()
        await stubs.channel.close()

    report(
        "worker_killed_during_child_run",
        stream,
        kill,
        worker_ready=ready,
        tool_retry_started=retried - kill.monotonic,
    )
    assert_succeeded(events, "both done")
    await assert_exactly_once(address, events)
    assert lines(effects) == ["fast", "slow"]  # each tool call took effect once
    assert lines(started) == ["slow", "slow"]  # the interrupted call ran again, once
    await _assert_children_once(address, events, fast.agent_id, slow.agent_id)
    # The new worker resumed the parent waiting for the same children: each
    # child workflow was started once.
    history = await (await _workflow(temporal_address, events[0].run_id)).fetch_history()
    initiated = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    assert len(initiated) == 2


async def _assert_children_once(
    address: str, events: list[event_pb2.RunEvent], fast_id: str, slow_id: str
) -> None:
    """Two delegations, each with one child run that ran once and succeeded."""
    counts = Counter(kinds(events))
    assert counts["sub_run_started"] == 2 and counts["sub_run_finished"] == 2, kinds(events)
    finished = {
        e.sub_run_finished.agent_id: e.sub_run_finished for e in of_kind(events, "sub_run_finished")
    }
    assert finished[fast_id].output == "fast done"
    assert finished[slow_id].output == "slow done"
    for sub in finished.values():
        assert sub.state == run_pb2.RUN_STATE_SUCCEEDED
        child = await get_run(address, sub.child_run_id)
        assert child.state == run_pb2.RUN_STATE_SUCCEEDED
        assert (child.parent_run_id, child.depth) == (events[0].run_id, 1)
        child_events = await _child_events(address, sub.child_run_id)
        await assert_exactly_once(address, child_events)
        child_counts = Counter(kinds(child_events))
        assert child_counts["run_started"] == 1 and child_counts["run_finished"] == 1
        assert child_counts["tool_call_result"] == 1
