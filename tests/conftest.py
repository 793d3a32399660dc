"""Fixtures: one real Runwire gRPC server on loopback for the session.

Each test creates its own agents, runs and threads with unique ids, so tests
share the server without interfering. Live provider calls are impossible:
agents use the scripted model, and the openai provider tests point at a
loopback fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.app import Runwire
from service.config import Settings
from service.server import RunwireServer
from tests.support import Stubs

HEARTBEAT_SECONDS = 0.5


@pytest.fixture(scope="session")
async def server() -> AsyncIterator[RunwireServer]:
    settings = Settings(
        listen=["127.0.0.1:0"],
        tool_modules=["tests.tools_for_tests"],
        heartbeat_interval_seconds=HEARTBEAT_SECONDS,
        shutdown_grace_seconds=1.0,
    )
    app = await Runwire.create(settings)
    srv = RunwireServer(app, settings)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture(scope="session")
async def stubs(server: RunwireServer) -> AsyncIterator[Stubs]:
    s = Stubs.connect(server.addresses[0])
    yield s
    await s.channel.close()
