"""A paused Temporal run is durable: it stays paused across worker restarts.

Real processes (``tests/durability/processes.py``): one ``runwire serve``
without an embedded worker and separate worker processes, on the session's
Temporal dev server and Redis. The run's tool call waits for an approval; the
test asks it to pause, approves, and the run pauses before its next model call
(state PAUSED). Then:

- the worker gets SIGKILL and a new one starts; a second PauseRun (a no-op for
  a paused run) makes the new worker replay the workflow: the run stays
  PAUSED and logs nothing;
- that worker gets SIGKILL too, and ResumeRun is sent while no worker runs
  (a signal: Temporal records it without one); a third worker starts and the
  run goes on to SUCCEEDED,

with the tool's side effect once and every event once (gap-free, equal to a
fresh replay).
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import pytest
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2

from tests.durability.processes import Deployment, deployment
from tests.durability.test_crash import (
    STAGE_TIMEOUT,
    RunStream,
    _approval_script,
    _approve,
    _assert_approved_once,
    _start,
    _until_approval,
    _until_idle,
    _workflow,
    get_run,
    lines,
    of_kind,
)
from tests.support import Stubs, create_agent


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


def _states(events: list[event_pb2.RunEvent]) -> list[int]:
    return [e.state_changed.state for e in of_kind(events, "state_changed")]


async def test_a_paused_run_survives_worker_restarts(
    deployed: Deployment, temporal_address: str, tmp_path: pathlib.Path
) -> None:
    address, _, worker = await _start(deployed)
    effects = tmp_path / "effects.txt"
    stubs = Stubs.connect(address)
    stream: RunStream | None = None
    try:
        agent = await create_agent(
            stubs,
            _approval_script(effects),
            tools=["append_line"],
            mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        )
        stream = RunStream(
            address, run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        stream.start()
        requested = await _until_approval(stream)
        run_id = stream.run_id
        await stubs.runs.PauseRun(
            run_service_pb2.PauseRunRequest(run_id=run_id, reason="durability"),
            timeout=STAGE_TIMEOUT,
        )
        await _approve(stubs, requested.approval_id)
        paused = await stream.wait_for(
            "state PAUSED", lambda events: _states(events)[-1:] == [run_pb2.RUN_STATE_PAUSED]
        )
        handle = await _workflow(temporal_address, run_id)
        await _until_idle(handle)

        # A new worker replays the paused workflow: it stays paused.
        await worker.kill()
        worker = await deployed.start_worker()
        again = (
            await stubs.runs.PauseRun(
                run_service_pb2.PauseRunRequest(run_id=run_id), timeout=STAGE_TIMEOUT
            )
        ).run
        assert again.state == run_pb2.RUN_STATE_PAUSED
        await _until_idle(handle)  # the new worker took the signal's workflow task
        assert (await get_run(address, run_id)).state == run_pb2.RUN_STATE_PAUSED
        assert stream.events == paused  # nothing logged meanwhile
        assert lines(effects) == ["ok"]

        # Resumed while no worker runs; the next worker goes on.
        await worker.kill()
        await stubs.runs.ResumeRun(
            run_service_pb2.ResumeRunRequest(run_id=run_id), timeout=STAGE_TIMEOUT
        )
        await deployed.start_worker()
        events = await stream.finished()
    finally:
        if stream is not None:
            await stream.close()
        await stubs.channel.close()

    await _assert_approved_once(address, events, requested.approval_id, effects)
    assert _states(events) == [
        run_pb2.RUN_STATE_RUNNING,
        run_pb2.RUN_STATE_REQUIRES_ACTION,
        run_pb2.RUN_STATE_RUNNING,
        run_pb2.RUN_STATE_PAUSED,
        run_pb2.RUN_STATE_RUNNING,
    ]
    run = await get_run(address, run_id)
    assert run.runtime == agent_pb2.RUNTIME_TEMPORAL
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED
