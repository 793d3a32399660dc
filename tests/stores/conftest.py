"""Fixtures: one real redis-server for the session, a fresh client and key prefix per test.

The store fixtures are parametrized over ``memory`` and ``redis`` so every
contract test runs against both implementations.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from runwire_server.service.stores.agents import AgentStore, MemoryAgentStore
from runwire_server.service.stores.approvals import ApprovalStore, MemoryApprovalStore
from runwire_server.service.stores.events import EventLog, MemoryEventLog
from runwire_server.service.stores.redis_agents import RedisAgentStore
from runwire_server.service.stores.redis_approvals import RedisApprovalStore
from runwire_server.service.stores.redis_events import RedisEventLog
from runwire_server.service.stores.redis_runs import RedisRunStore
from runwire_server.service.stores.redis_threads import RedisThreadStore
from runwire_server.service.stores.runs import MemoryRunStore, RunStore
from runwire_server.service.stores.threads import MemoryThreadStore, ThreadStore
from tests.redis_server import running_redis

BACKENDS = ["memory", "redis"]


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    async with running_redis() as server:
        yield server.url


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def event_log(backend: str, redis_client: redis.Redis, redis_prefix: str) -> EventLog:
    if backend == "memory":
        return MemoryEventLog()
    return RedisEventLog(redis_client, prefix=redis_prefix, block_ms=200)


@pytest.fixture
def run_store(backend: str, redis_client: redis.Redis, redis_prefix: str) -> RunStore:
    if backend == "memory":
        return MemoryRunStore()
    return RedisRunStore(redis_client, prefix=redis_prefix, scan_batch=3)


@pytest.fixture
def approval_store(backend: str, redis_client: redis.Redis, redis_prefix: str) -> ApprovalStore:
    if backend == "memory":
        return MemoryApprovalStore()
    return RedisApprovalStore(redis_client, prefix=redis_prefix, scan_batch=3)


@pytest.fixture
def agent_store(backend: str, redis_client: redis.Redis, redis_prefix: str) -> AgentStore:
    if backend == "memory":
        return MemoryAgentStore()
    return RedisAgentStore(redis_client, prefix=redis_prefix)


@pytest.fixture
def thread_store(backend: str, redis_client: redis.Redis, redis_prefix: str) -> ThreadStore:
    if backend == "memory":
        return MemoryThreadStore()
    return RedisThreadStore(redis_client, prefix=redis_prefix)
