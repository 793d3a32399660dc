"""Label filters of the run and agent stores, and the bound on a filtered Redis scan.

A filtered Redis listing reads at most ``max_scan`` index entries per call: a
page may then end early (fewer records, even none) with a token, and the
pages together still hold every match exactly once, in order.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from runwire.v1 import agent_pb2, run_pb2

from runwire_server.service.stores.agents import AgentStore, MemoryAgentStore
from runwire_server.service.stores.redis_agents import RedisAgentStore
from runwire_server.service.stores.redis_runs import RedisRunStore
from runwire_server.service.stores.runs import MemoryRunStore, RunStore

MAX_CALLS = 100


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


async def all_runs(
    store: RunStore, labels: dict[str, str], page_size: int
) -> tuple[list[str], list[int]]:
    """Every run id listed for ``labels``, and the size of each page."""
    ids: list[str] = []
    sizes: list[int] = []
    token = ""
    for _ in range(MAX_CALLS):
        page, token = await store.list(
            agent_id="",
            thread_id="",
            state=run_pb2.RUN_STATE_UNSPECIFIED,
            page_size=page_size,
            page_token=token,
            tenant="t",
            labels=labels,
        )
        assert len(page) <= page_size
        ids.extend(r.run_id for r in page)
        sizes.append(len(page))
        if not token:
            return ids, sizes
    raise AssertionError("the listing never ended")


async def fill(store: RunStore, count: int, every: int) -> list[str]:
    """``count`` runs of tenant "t"; every ``every``-th carries label
    ``pick=yes``; returns those, newest first."""
    picked = []
    for i in range(count):
        labels = {"pick": "yes", "n": str(i)} if i % every == 0 else {"pick": "no"}
        run = run_pb2.Run(run_id=f"run_{i:03}", tenant="t", agent_id="a", labels=labels)
        await store.create(run)
        if i % every == 0:
            picked.append(run.run_id)
    return list(reversed(picked))


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_run_label_filter_pages_cover_every_match_once(
    backend: str, client: redis.Redis
) -> None:
    store: RunStore = (
        MemoryRunStore() if backend == "memory" else RedisRunStore(client, prefix=prefix())
    )
    picked = await fill(store, 30, every=7)
    ids, _ = await all_runs(store, {"pick": "yes"}, page_size=2)
    assert ids == picked
    ids, _ = await all_runs(store, {"pick": "yes", "n": "14"}, page_size=2)
    assert ids == ["run_014"]
    assert (await all_runs(store, {"pick": "maybe"}, page_size=5))[0] == []


async def test_a_filtered_redis_scan_is_bounded_per_call(client: redis.Redis) -> None:
    store = RedisRunStore(client, prefix=prefix(), scan_batch=3, max_scan=4)
    picked = await fill(store, 40, every=9)  # runs 0, 9, 18, 27, 36
    ids, sizes = await all_runs(store, {"pick": "yes"}, page_size=2)
    assert ids == picked
    # 40 entries read at most 4 (page_size + 1 = 3 < 4) per call: at least 10 calls,
    # most of them pages without a match.
    assert len(sizes) >= 10, sizes
    assert 0 in sizes
    # Unfiltered listings are not cut short: page_size + 1 entries settle a page.
    page, token = await store.list(
        agent_id="",
        thread_id="",
        state=run_pb2.RUN_STATE_UNSPECIFIED,
        page_size=10,
        page_token="",
    )
    assert len(page) == 10 and token


async def test_a_bounded_scan_resumes_after_a_vanished_record(client: redis.Redis) -> None:
    p = prefix()
    store = RedisRunStore(client, prefix=p, scan_batch=2, max_scan=2)
    picked = await fill(store, 6, every=5)  # runs 0 and 5 (newest first: 5, 0)
    # The records of run_004 and run_003 vanish (expired): the first call reads
    # run_005, run_004 and stops at its bound after run_004.
    await client.delete(f"{p}:run-record:run_004", f"{p}:run-record:run_003")
    ids, _ = await all_runs(store, {"pick": "yes"}, page_size=1)
    assert ids == picked


async def all_agents(store: AgentStore, labels: dict[str, str]) -> list[str]:
    ids: list[str] = []
    token = ""
    for _ in range(MAX_CALLS):
        page, token = await store.list(page_size=1, page_token=token, labels=labels)
        ids.extend(a.agent_id for a in page)
        if not token:
            return ids
    raise AssertionError("the listing never ended")


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_agent_label_filter(backend: str, client: redis.Redis) -> None:
    store: AgentStore = (
        MemoryAgentStore() if backend == "memory" else RedisAgentStore(client, prefix=prefix())
    )
    for i in range(6):
        labels = {"team": "a" if i % 2 else "b", "env": "prod" if i < 3 else "dev"}
        await store.create(agent_pb2.Agent(agent_id=f"agent-{i}", labels=labels))
    assert await all_agents(store, {"team": "a"}) == ["agent-1", "agent-3", "agent-5"]
    assert await all_agents(store, {"team": "a", "env": "prod"}) == ["agent-1"]
    assert await all_agents(store, {"team": "c"}) == []
    assert len(await all_agents(store, {})) == 6
