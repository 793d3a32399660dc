"""``max_concurrent_streams``: RPCs past it on one connection wait for a free slot.

The server advertises the setting as HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS; a real
client queues a call past it until an open call ends, instead of failing it.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import server_settings
from tests.support import running_server

SERVING = health_pb2.HealthCheckResponse.SERVING
#: How long the queued call is given before its deadline, seconds: far longer than a
#: health check takes (a few milliseconds) on a free slot.
QUEUED_SECONDS = 1.0


async def test_a_call_past_the_limit_waits_for_a_slot() -> None:
    settings = server_settings(
        "in_process", redis_url="", temporal_address="", max_concurrent_streams=2
    )
    request = health_pb2.HealthCheckRequest()
    async with running_server(settings) as server:
        address = server.addresses[0]
        async with grpc.aio.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watches = [health.Watch(request) for _ in range(2)]
            for watch in watches:  # both open: the connection's two slots are taken
                assert (await watch.read()).status == SERVING

            # A third call on this connection waits: here, until its deadline.
            with pytest.raises(grpc.aio.AioRpcError) as waited:
                await health.Check(request, timeout=QUEUED_SECONDS)
            assert waited.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

            # Another connection has slots of its own (channels of one process share
            # connections unless told not to).
            separate = [("grpc.use_local_subchannel_pool", 1)]
            async with grpc.aio.insecure_channel(address, options=separate) as other:
                answer = await health_pb2_grpc.HealthStub(other).Check(request, timeout=10)
                assert answer.status == SERVING

            # Once a call ends, the waiting one goes through.
            waiting = asyncio.ensure_future(health.Check(request, timeout=30))
            watches[0].cancel()
            assert (await waiting).status == SERVING
            watches[1].cancel()
