"""The stores one process uses: in memory, or in Redis when a Redis URL is given."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis.asyncio as redis

from service.stores.agents import AgentStore, MemoryAgentStore
from service.stores.approvals import ApprovalStore, MemoryApprovalStore
from service.stores.claims import (
    ClaimStore,
    MemoryClaimStore,
    RedisClaimStore,
)
from service.stores.events import EventLog, MemoryEventLog
from service.stores.redis_agents import RedisAgentStore
from service.stores.redis_approvals import RedisApprovalStore
from service.stores.redis_events import RedisEventLog
from service.stores.redis_runs import RedisRunStore
from service.stores.redis_threads import RedisThreadStore
from service.stores.runs import MemoryRunStore, RunStore
from service.stores.threads import MemoryThreadStore, ThreadStore


@dataclass(kw_only=True)
class Stores:
    """Every store one process uses. Close with ``aclose()``."""

    events: EventLog
    runs: RunStore
    approvals: ApprovalStore
    agents: AgentStore
    threads: ThreadStore
    claims: ClaimStore
    redis_client: redis.Redis | None = field(default=None)

    async def aclose(self) -> None:
        """Closes the Redis connection pool, if any."""
        if self.redis_client is not None:
            await self.redis_client.aclose()


def build_stores(
    *, redis_url: str, redis_prefix: str, retention_seconds: float, retained_runs: int
) -> Stores:
    """Memory stores, or Redis ones sharing one connection pool when ``redis_url`` is set.

    Args:
        redis_url: ``redis://`` URL; empty for memory stores.
        redis_prefix: Prefix of every Redis key.
        retention_seconds: How long Redis keeps a run's events, record and approvals.
        retained_runs: Runs the memory stores keep (oldest dropped first).
    """
    if not redis_url:
        return Stores(
            events=MemoryEventLog(max_runs=retained_runs),
            runs=MemoryRunStore(max_runs=retained_runs),
            approvals=MemoryApprovalStore(),
            agents=MemoryAgentStore(),
            threads=MemoryThreadStore(),
            claims=MemoryClaimStore(),
        )
    # Every open event stream holds one connection while it blocks on XREAD.
    client = redis.from_url(redis_url, max_connections=10_000)
    prefix, retention = redis_prefix, retention_seconds
    return Stores(
        events=RedisEventLog(client, prefix=prefix, retention_seconds=retention),
        runs=RedisRunStore(client, prefix=prefix, retention_seconds=retention),
        approvals=RedisApprovalStore(client, prefix=prefix, retention_seconds=retention),
        agents=RedisAgentStore(client, prefix=prefix),
        threads=RedisThreadStore(client, prefix=prefix),
        claims=RedisClaimStore(client, prefix=prefix, ttl_seconds=retention),
        redis_client=client,
    )
