"""A run its runtime cannot start ends at once: FAILED, its thread released.

A real Temporal dev server is reachable, but the service is configured with a
namespace it does not have, so ``start_workflow`` fails as it would with
Temporal down after the service started.
"""

from __future__ import annotations

import uuid

import grpc
import pytest
from runwire.v1 import run_pb2, run_service_pb2, thread_pb2

from tests.conftest import server_settings
from tests.support import Stubs, collect, create_agent, running_server, status_details


async def test_a_run_that_cannot_start_fails_and_releases_its_thread(
    redis_url: str, temporal_address: str
) -> None:
    settings = server_settings(
        "temporal",
        redis_url=redis_url,
        temporal_address=temporal_address,
        temporal_namespace=f"missing-{uuid.uuid4().hex[:8]}",
        temporal_embedded_worker=False,
    )
    async with running_server(settings) as server:
        stubs = Stubs.connect(server.addresses[0])
        try:
            agent = await create_agent(stubs, [{"text": "never"}])
            thread = (await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest())).thread
            request = run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id, prompt="p", thread_id=thread.thread_id
            )
            for _ in range(2):  # the second would be THREAD_BUSY if the claim leaked
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stubs.runs.CreateRun(request)
                details = status_details(caught.value)
                assert details.code == grpc.StatusCode.UNAVAILABLE
                assert details.reason == "RUNTIME_UNAVAILABLE"
            runs = (
                await stubs.runs.ListRuns(
                    run_service_pb2.ListRunsRequest(thread_id=thread.thread_id)
                )
            ).runs
            assert len(runs) == 2
            for run in runs:
                assert run.state == run_pb2.RUN_STATE_FAILED
                assert run.finish_reason == "error"
                assert run.error.code == grpc.StatusCode.UNAVAILABLE.value[0]
                events = await collect(
                    stubs.runs.StreamRunEvents(
                        run_service_pb2.StreamRunEventsRequest(run_id=run.run_id)
                    )
                )
                assert [e.WhichOneof("payload") for e in events] == ["run_error"]
            await stubs.threads.DeleteThread(
                thread_pb2.DeleteThreadRequest(thread_id=thread.thread_id)
            )
        finally:
            await stubs.channel.close()
