"""Graceful shutdown: SIGTERM while a run streams; the client resumes elsewhere.

Two real service processes share one Redis. A run streams from replica A;
A gets SIGTERM: its health turns NOT_SERVING, it refuses new runs, after the
grace period its stream ends with UNAVAILABLE (DRAINING, naming the sequence
to resume after), the in-process run finishes on A within the drain timeout,
and the client, resuming on replica B, sees every event exactly once.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import sys
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.app.wiring import Runwire
from tests.support import (
    Stubs,
    assert_gap_free,
    collect,
    create_agent,
    status_details,
    wait_until,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))


async def _serve(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        RUNWIRE,
        "serve",
        "--listen",
        "127.0.0.1:0",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    if not line.startswith(b"serving on "):
        process.kill()
        _, err = await process.communicate()
        raise AssertionError(f"runwire serve did not start: {line!r} {err.decode()[-2000:]}")
    return process, line.decode().removeprefix("serving on ").strip()


async def _is_not_serving(channel: grpc.aio.Channel) -> bool:
    response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    return bool(response.status == health_pb2.HealthCheckResponse.NOT_SERVING)


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, str]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RUNWIRE_REDIS_URL": redis_url,
        "RUNWIRE_REDIS_PREFIX": f"drain-{uuid.uuid4().hex[:8]}",
        "RUNWIRE_SHUTDOWN_GRACE_SECONDS": "1",
        "RUNWIRE_DRAIN_TIMEOUT_SECONDS": "30",
        "RUNWIRE_LOG_LEVEL": "WARNING",
    }
    a, address_a = await _serve(env)
    b, address_b = await _serve(env)
    try:
        yield a, address_a, address_b
    finally:
        for process in (a, b):
            if process.returncode is None:
                process.kill()
            await process.communicate()


async def test_sigterm_drains_and_the_client_resumes_on_another_replica(
    replicas: tuple[asyncio.subprocess.Process, str, str],
) -> None:
    process_a, address_a, address_b = replicas
    a, b = Stubs.connect(address_a), Stubs.connect(address_b)
    try:
        # Streams long after the grace period: the stream ends DRAINING, not finished.
        text = "draining is graceful " * 40
        agent = await create_agent(a, [{"text": text}], chunk_chars=3, delay_ms=20)
        call = a.runs.StreamRun(
            run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        seen: list[event_pb2.RunEvent] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for response in call:
                if response.event.HasField("heartbeat"):
                    continue
                seen.append(response.event)
                if len(seen) == 6:
                    process_a.send_signal(signal.SIGTERM)
                    # Draining: NOT_SERVING (once the signal is handled), and no new runs.
                    await wait_until(
                        lambda: _is_not_serving(a.channel), "replica A's health NOT_SERVING"
                    )
                    with pytest.raises(grpc.aio.AioRpcError) as refused:
                        await a.runs.CreateRun(
                            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="x")
                        )
                    assert status_details(refused.value).reason == "DRAINING"
        details = status_details(caught.value)
        assert details.code == grpc.StatusCode.UNAVAILABLE
        assert details.reason == "DRAINING"
        last = seen[-1].sequence
        assert details.metadata["last_sequence"] == str(last)
        rest = await collect(
            b.runs.StreamRunEvents(
                run_service_pb2.StreamRunEventsRequest(run_id=seen[0].run_id, after_sequence=last)
            )
        )
        full = seen + rest
        assert_gap_free(full)
        assert full[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
        assert full[-1].run_finished.output == text
        # The drained replica finished the run, then exited cleanly.
        assert await asyncio.wait_for(process_a.wait(), timeout=30) == 0
    finally:
        await a.channel.close()
        await b.channel.close()


async def test_drain_ends_idle_streams_with_the_sequence_to_resume_after() -> None:
    """Streams that wait for an event (the run waits for an approval) end with
    UNAVAILABLE (DRAINING) after the grace period, naming the last sequence each
    was sent; a stream its client cancelled meanwhile ends as CANCELLED."""
    settings = Settings(
        listen=["127.0.0.1:0"],
        tool_modules=["tests.tools_for_tests"],
        log_level="WARNING",
        drain_timeout_seconds=0.5,
    )
    server = RunwireServer(await Runwire.create(settings), settings)
    await server.start()
    stubs = Stubs.connect(server.addresses[0])
    try:
        agent = await create_agent(
            stubs,
            [{"tool_calls": [{"name": "echo", "arguments": {"text": "x"}}]}],
            tools=["echo"],
            mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        )
        run = (
            await stubs.runs.CreateRun(
                run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
            )
        ).run
        streams = [
            stubs.runs.StreamRunEvents(
                run_service_pb2.StreamRunEventsRequest(run_id=run.run_id, after_sequence=after)
            )
            for after in (0, 1, 2)
        ]
        last = [0, 0, 0]
        for i, call in enumerate(streams):
            async for response in call:
                last[i] = response.event.sequence
                state = response.event.state_changed.state
                if state == run_pb2.RUN_STATE_REQUIRES_ACTION:  # the last event until approved
                    break
        cancelled = stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=run.run_id, after_sequence=last[0])
        )
        reader = asyncio.ensure_future(cancelled.read())
        await wait_until(lambda: server.runs.open_streams == 4, "4 open streams", interval=0.02)
        cancelled.cancel()
        await asyncio.wait([reader])
        # The server sees the cancellation.
        await wait_until(lambda: server.runs.open_streams == 3, "3 open streams", interval=0.02)
        stopping = asyncio.ensure_future(server.stop(grace_seconds=0.2))
        for i, call in enumerate(streams):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                async for response in call:
                    assert response.event.HasField("heartbeat"), response.event
            details = status_details(caught.value)
            assert details.code == grpc.StatusCode.UNAVAILABLE
            assert details.reason == "DRAINING"
            assert details.metadata["last_sequence"] == str(last[i])
            assert details.metadata["run_id"] == run.run_id
        await stopping
        assert server.runs.open_streams == 0
    finally:
        await stubs.channel.close()
        await server.stop(grace_seconds=0)
