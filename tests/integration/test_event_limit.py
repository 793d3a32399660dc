"""Events per run (``max_events_per_run``, issue 13 item 4) on every runtime.

A run that logs more events than the limit fails with RESOURCE_EXHAUSTED and
reason ``EVENT_LIMIT_EXCEEDED`` (the event past the limit is logged, then the
run's closing events); a run within the limit is untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.rpc import error_details_pb2
from runwire.v1 import run_pb2, run_service_pb2

from runwire_server.app.server import RunwireServer
from tests.conftest import server_settings
from tests.support import Stubs, create_agent, running_server

LIMIT = 40


@pytest.fixture(scope="module", params=["in_process", "in_process_redis", "temporal"])
async def stubs(
    request: pytest.FixtureRequest, redis_url: str, temporal_address: str
) -> AsyncIterator[Stubs]:
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        max_events_per_run=LIMIT,
    )
    server: RunwireServer
    async with running_server(settings) as server:
        stubs = Stubs.connect(server.addresses[0], token="")
        yield stubs
        await stubs.channel.close()


async def test_a_run_past_the_limit_fails_with_the_limit_named(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "y" * 400}], chunk_chars=4)  # 100 deltas
    stream = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    events = [response.event async for response in stream if response.event.sequence]
    last = events[-1]
    assert last.WhichOneof("payload") == "run_error", last
    assert last.run_error.error.code == 8  # google.rpc.Code.RESOURCE_EXHAUSTED
    info = error_details_pb2.ErrorInfo()
    assert last.run_error.error.details[0].Unpack(info)
    assert info.reason == "EVENT_LIMIT_EXCEEDED"
    assert info.metadata["limit"] == "max_events_per_run"
    assert info.metadata["run_id"] == last.run_id
    # Past the limit: one refused event per publisher, then the run's closing events.
    assert LIMIT < last.sequence <= LIMIT + 5
    assert [e.sequence for e in events] == list(range(1, last.sequence + 1))
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=last.run_id))).run
    assert run.state == run_pb2.RUN_STATE_FAILED
    assert run.error == last.run_error.error


async def test_a_run_within_the_limit_succeeds(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "short"}])
    done = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    assert done.run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert done.run.output == "short"
    assert done.run.last_sequence < LIMIT
