"""``AgentStore`` in Redis.

Key layout (``{p}`` is the prefix):

- ``{p}:agent:<agent_id>`` string: the serialized ``runwire.v1.Agent``.
- ``{p}:agents`` sorted set: the index of agent ids, listed by id
  (``redis_index``, ``IndexOrder.BY_ID``).

``create`` is a Lua script (``SET NX`` and the index entry together);
``replace`` is ``WATCH``/``MULTI`` on the record, so an etag check and the
write are atomic across processes. Agents never expire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from runwire.v1 import agent_pb2

from runwire_server.service.core.spec import labels_match
from runwire_server.service.stores.agents import (
    agent_exists,
    agent_not_found,
    new_record,
    replacement,
)
from runwire_server.service.stores.redis_client import multi, optimistic, require_bytes_client
from runwire_server.service.stores.redis_index import IndexOrder, RedisIndex

_ORDER = IndexOrder.BY_ID

# KEYS: record, index. ARGV: agent id, serialized agent. Returns 1 when stored, 0 when taken.
_CREATE = f"""
if not redis.call('SET', KEYS[1], ARGV[2], 'NX') then return 0 end
{_ORDER.lua_add(keys_at=2, member="ARGV[1]")}
return 1
"""


class RedisAgentStore:
    """``AgentStore`` in Redis (see the module docstring for the key layout).

    Args:
        client: A ``redis.asyncio.Redis`` with ``decode_responses=False``. Not
            closed by this class.
        prefix: Prepended to every key.

    Raises:
        ValueError: ``client`` decodes responses.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "runwire") -> None:
        require_bytes_client(client, "RedisAgentStore")
        self._client = client
        self._prefix = prefix
        self._index = RedisIndex(
            client,
            key=f"{prefix}:agents",
            order=_ORDER,
            record_key=self._key,
            record_field=None,
            parse=agent_pb2.Agent.FromString,
            records_expire=False,
        )
        self._create = client.register_script(_CREATE)

    def _key(self, agent_id: str) -> str:
        return f"{self._prefix}:agent:{agent_id}"

    async def create(self, agent: agent_pb2.Agent) -> agent_pb2.Agent:
        """Stores a new agent with a fresh etag and create/update times; returns it.

        Raises:
            AlreadyExistsError: the id is taken (``AGENT_ALREADY_EXISTS``).
        """
        stored = new_record(agent)
        args: list[str | bytes] = [agent.agent_id, stored.SerializeToString()]
        keys = [self._key(agent.agent_id), *self._index.keys]
        if not await self._create(keys=keys, args=args):
            raise agent_exists(agent.agent_id)
        return stored

    async def get(self, agent_id: str) -> agent_pb2.Agent:
        """The agent.

        Raises:
            NotFoundError: unknown id (``AGENT_NOT_FOUND``).
        """
        data = await self._client.get(self._key(agent_id))
        if data is None:
            raise agent_not_found(agent_id)
        return agent_pb2.Agent.FromString(cast("bytes", data))

    async def list(
        self, *, page_size: int, page_token: str, labels: Mapping[str, str] | None = None
    ) -> tuple[list[agent_pb2.Agent], str]:
        """A page of at most ``page_size`` (>= 1) agents ordered by id, and the
        next page token ("" at the end). With ``labels``, only agents carrying
        every pair; the scan reads a bounded number of agents per call, so a
        filtered page may end early (fewer agents, even none) with a token.

        Raises:
            InvalidArgumentError: a malformed ``page_token`` (``INVALID_PAGE_TOKEN``).
        """
        wanted = dict(labels or {})
        return await self._index.page(
            page_size=page_size,
            page_token=page_token,
            keep=(lambda a: labels_match(a.labels, wanted)) if wanted else None,
        )

    async def replace(self, agent: agent_pb2.Agent, *, expected_etag: str) -> agent_pb2.Agent:
        """Replaces a stored agent, keeping its create time; sets a new etag
        and update time. A non-empty ``expected_etag`` must match the stored one.

        Raises:
            NotFoundError: unknown id (``AGENT_NOT_FOUND``).
            AbortedError: the etag does not match (``ETAG_MISMATCH``).
        """
        key = self._key(agent.agent_id)

        async def attempt(pipe: Pipeline) -> agent_pb2.Agent:
            await pipe.watch(key)
            data = await pipe.get(key)
            if data is None:
                raise agent_not_found(agent.agent_id)
            current = agent_pb2.Agent.FromString(cast("bytes", data))
            stored = replacement(current, agent, expected_etag=expected_etag)
            multi(pipe)
            pipe.set(key, stored.SerializeToString())
            await pipe.execute()
            return stored

        return await optimistic(self._client, attempt)

    async def count(self) -> int:
        """How many agents the store holds (``ZCARD`` of the index)."""
        return int(await self._client.zcard(self._index.keys[0]))

    async def delete(self, agent_id: str) -> None:
        """Deletes the agent.

        Raises:
            NotFoundError: unknown id (``AGENT_NOT_FOUND``).
        """
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(agent_id))
            self._index.remove(pipe, agent_id)
            deleted, _ = await pipe.execute()
        if not deleted:
            raise agent_not_found(agent_id)
