"""Fixtures of the client tests: one secure server (TLS, mutual TLS, an API key)
for the session, shared by every language's example, and a ``StreamBreaker`` in
front of it for the clients' resume tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.clients.secure_server import SecureServer, start_secure_server
from tests.clients.stream_breaker import StreamBreaker


@pytest.fixture(scope="session")
async def secure_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureServer]:
    """A ``runwire serve`` subprocess with TLS, mutual TLS and one admin API key."""
    async with start_secure_server(tmp_path_factory.mktemp("secure-server")) as server:
        yield server


@pytest.fixture(scope="session")
async def stream_breaker(secure_server: SecureServer) -> AsyncIterator[StreamBreaker]:
    """A ``StreamBreaker`` in front of the session's secure server."""
    breaker = StreamBreaker(secure_server.address)
    await breaker.start()
    try:
        yield breaker
    finally:
        await breaker.close()
