"""The stores one process uses: in memory, or in Redis when a Redis URL is given."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis

from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.stores.agents import AgentStore, MemoryAgentStore
from runwire_server.service.stores.approvals import ApprovalStore, MemoryApprovalStore
from runwire_server.service.stores.changes import DEFAULT_MAX_CHANGES, ChangeLog, MemoryChangeLog
from runwire_server.service.stores.claims import (
    ClaimStore,
    MemoryClaimStore,
    RedisClaimStore,
)
from runwire_server.service.stores.events import EventLog, MemoryEventLog
from runwire_server.service.stores.leases import DEFAULT_LEASE_SECONDS, LeaseStore, MemoryLeaseStore
from runwire_server.service.stores.redis_agents import RedisAgentStore
from runwire_server.service.stores.redis_approvals import RedisApprovalStore
from runwire_server.service.stores.redis_changes import RedisChangeLog
from runwire_server.service.stores.redis_client import ReconnectRetry
from runwire_server.service.stores.redis_events import RedisEventLog
from runwire_server.service.stores.redis_leases import RedisLeaseStore
from runwire_server.service.stores.redis_runs import RedisRunStore
from runwire_server.service.stores.redis_threads import RedisThreadStore
from runwire_server.service.stores.runs import MemoryRunStore, RunStore
from runwire_server.service.stores.tenants import PerTenant, tenant_prefix
from runwire_server.service.stores.threads import MemoryThreadStore, ThreadStore

logger = logging.getLogger(__name__)

#: How long ``check_redis_credentials`` waits to connect and for the answer, seconds.
CHECK_TIMEOUT_SECONDS = 5.0
#: Redis connections one process opens at most (``build_stores``): a command waits
#: for a free one rather than opening more.
REDIS_MAX_CONNECTIONS = 16
#: Seconds a command waits for a free connection before failing (ConnectionError).
REDIS_POOL_TIMEOUT_SECONDS = 20.0
#: Seconds one attempt to connect may take (then it is retried: ``ReconnectRetry``).
REDIS_CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass(kw_only=True)
class Stores:
    """Every store one process uses. Close with ``aclose()``."""

    events: EventLog
    runs: RunStore
    approvals: ApprovalStore
    #: The agents of a tenant: ``agents(tenant)``.
    agents: PerTenant[AgentStore]
    #: The threads of a tenant: ``threads(tenant)``.
    threads: PerTenant[ThreadStore]
    claims: ClaimStore
    #: Leases of in-process runs (no-op in memory: the process's runs die with it).
    leases: LeaseStore = field(default_factory=MemoryLeaseStore)
    redis_client: aioredis.Redis | None = field(default=None)
    #: The tenants' change logs of runs and approvals, which watches follow
    #: (written by ``runs`` and ``approvals``).
    changes: ChangeLog = field(default_factory=MemoryChangeLog)

    async def aclose(self) -> None:
        """Stops the Redis event log's reader and the change log's follower, then
        closes the Redis connection pool, if any."""
        if isinstance(self.events, RedisEventLog):
            await self.events.aclose()
        if isinstance(self.changes, RedisChangeLog):
            await self.changes.aclose()
        if self.redis_client is not None:
            await self.redis_client.aclose()


def build_stores(
    *,
    redis_url: str,
    redis_prefix: str,
    retention_seconds: float,
    retained_runs: int,
    retained_event_bytes: int = 0,
    request_ttl_seconds: float = 86_400.0,
    redis_password: str | None = None,
    run_lease_seconds: float = DEFAULT_LEASE_SECONDS,
    max_changes: int = DEFAULT_MAX_CHANGES,
) -> Stores:
    """Memory stores, or Redis ones sharing one connection pool when ``redis_url`` is set.

    Connects lazily: nothing reaches Redis until the first call. A command that loses
    its connection (Redis restarting) reconnects and is sent again with backoff for up
    to ``redis_client.RETRY_BUDGET_SECONDS`` (``ReconnectRetry``).

    Args:
        redis_url: ``redis://`` (or ``rediss://``) URL; empty for memory stores.
        redis_prefix: Prefix of every Redis key.
        retention_seconds: How long Redis keeps a run's events, record and approvals.
        retained_runs: Runs the memory stores keep (oldest dropped first).
        retained_event_bytes: Bytes of events the memory event log keeps (oldest
            ended runs dropped first; 0: no byte limit).
        request_ttl_seconds: How long a run's request id is remembered.
        redis_password: The password of every connection; None: the URL's, if any (a
            password in the URL wins over this one).
        run_lease_seconds: With Redis, the lease of an in-process run
            (``runwire_server.service.stores.leases``), seconds.
        max_changes: Changes of runs and approvals kept per tenant for watches
            (``runwire_server.service.stores.changes``; approximately, in Redis).
    """
    if not redis_url:
        changes = MemoryChangeLog(max_changes=max_changes)
        return Stores(
            events=MemoryEventLog(max_runs=retained_runs, max_bytes=retained_event_bytes),
            runs=MemoryRunStore(
                max_runs=retained_runs, request_ttl_seconds=request_ttl_seconds, changes=changes
            ),
            approvals=MemoryApprovalStore(changes=changes),
            agents=PerTenant(lambda _: MemoryAgentStore()),
            threads=PerTenant(lambda _: MemoryThreadStore()),
            claims=MemoryClaimStore(),
            changes=changes,
        )
    # Every connection of the process: commands take one per round trip, and the
    # event log's reader holds up to a quarter of them however many streams are open.
    # A Redis restart: every command reconnects and is sent again with backoff
    # (ReconnectRetry) instead of failing its run; the stores' writes are safe to repeat.
    pool = aioredis.BlockingConnectionPool.from_url(
        redis_url,
        password=redis_password,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=REDIS_POOL_TIMEOUT_SECONDS,
        retry=ReconnectRetry(),
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
        socket_keepalive=True,
    )
    client = aioredis.Redis.from_pool(pool)
    prefix, retention = redis_prefix, retention_seconds
    return Stores(
        events=RedisEventLog(client, prefix=prefix, retention_seconds=retention),
        runs=RedisRunStore(
            client,
            prefix=prefix,
            retention_seconds=retention,
            request_ttl_seconds=request_ttl_seconds,
            max_changes=max_changes,
        ),
        approvals=RedisApprovalStore(
            client, prefix=prefix, retention_seconds=retention, max_changes=max_changes
        ),
        agents=PerTenant(lambda t: RedisAgentStore(client, prefix=tenant_prefix(prefix, t))),
        threads=PerTenant(lambda t: RedisThreadStore(client, prefix=tenant_prefix(prefix, t))),
        claims=RedisClaimStore(client, prefix=prefix, ttl_seconds=retention),
        leases=RedisLeaseStore(client, prefix=prefix, ttl_seconds=run_lease_seconds),
        redis_client=client,
        changes=RedisChangeLog(
            client, prefix=prefix, max_changes=max_changes, retention_seconds=retention
        ),
    )


def check_redis_credentials(
    redis_url: str, *, password: str | None, timeout_seconds: float = CHECK_TIMEOUT_SECONDS
) -> None:
    """Connects to Redis once and sends PING, so that refused credentials stop a process
    at start rather than failing its calls later.

    Blocking (one connection, closed before returning): for start-up code only. A Redis
    that cannot be reached within ``timeout_seconds`` is logged as a warning and not an
    error: the stores connect again on each call, as when Redis restarts later.

    Args:
        redis_url: ``redis://`` (or ``rediss://``) URL.
        password: As for ``build_stores``.
        timeout_seconds: Limit of the connection and of the answer, seconds.

    Raises:
        InvalidArgumentError: Redis refused the credentials (none, or a wrong password or
            user); the message names Redis by ``redacted_redis_url``, never the password.
    """
    client = redis.Redis.from_url(
        redis_url,
        password=password,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
    )
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        reason = str(exc).rstrip(".")
        raise InvalidArgumentError(
            f"Redis at {redacted_redis_url(redis_url)} refused the credentials ({reason})"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        logger.warning("Redis at %s is not reachable yet: %s", redacted_redis_url(redis_url), exc)
    finally:
        client.close()


def redacted_redis_url(redis_url: str) -> str:
    """``redis_url`` without its password: ``redis://user@host:port/db``."""
    parts = urlsplit(redis_url)
    if parts.password is None:
        return redis_url
    user = f"{parts.username}@" if parts.username else ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return parts._replace(netloc=f"{user}{host}{port}").geturl()
