"""``grpc.health.v1.Health/List``: every registered service's status, to anyone.

grpcio-health-checking's servicer left List unimplemented: UNIMPLEMENTED, and a
traceback logged at ERROR per call (issue 13's fuzzer, known issue ``HEALTH_LIST``).
A real server with authentication on, called by a real client without credentials.
"""

from __future__ import annotations

import logging
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runwire_server.app.server import SERVICE_NAMES
from runwire_server.service.auth.config import AuthSettings
from tests.conftest import server_settings
from tests.support import api_key, running_server

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_list_reports_every_service_to_anyone(caplog: pytest.LogCaptureFixture) -> None:
    token = f"rw-health-{uuid.uuid4().hex}"
    settings = server_settings(
        "in_process",
        redis_url="",
        temporal_address="",
        auth=AuthSettings(api_keys=[api_key(token, "health-admin", "admin")]),
    )
    caplog.set_level(logging.INFO)
    async with (
        running_server(settings) as server,
        # No credentials: health answers everyone.
        grpc.aio.insecure_channel(server.addresses[0]) as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        listed = await health.List(health_pb2.HealthListRequest(), timeout=10)
        statuses = {name: response.status for name, response in listed.statuses.items()}
        assert statuses == dict.fromkeys(("", *SERVICE_NAMES), SERVING)
        for name, status in statuses.items():
            checked = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert checked.status == status

        # Draining: every service turns NOT_SERVING, in List as in Check.
        await server.health.enter_graceful_shutdown()
        listed = await health.List(health_pb2.HealthListRequest(), timeout=10)
        assert {name: r.status for name, r in listed.statuses.items()} == dict.fromkeys(
            statuses, NOT_SERVING
        )
        checked = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAMES[0]))
        assert checked.status == NOT_SERVING
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [f"{r.name}: {r.getMessage()}" for r in errors]
