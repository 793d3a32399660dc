"""``AgentStore`` in Redis.

Key layout (``{p}`` is the prefix):

- ``{p}:agent:<agent_id>`` string: the serialized ``runwire.v1.Agent``.
- ``{p}:agents`` sorted set: every agent id with score 0, so ``ZRANGEBYLEX``
  lists them ordered by id (byte order, which for UTF-8 is code point order,
  as the memory store's ``sorted``).

``create`` is a Lua script (``SET NX`` and ``ZADD`` together); ``replace`` is
``WATCH``/``MULTI`` on the record, so an etag check and the write are atomic
across processes. Agents never expire.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError
from runwire.v1 import agent_pb2

from service.core.errors import AbortedError, AlreadyExistsError, NotFoundError
from service.core.timestamps import stamp_now
from service.stores.paging import decode_token, encode_token

# KEYS: record, index. ARGV: agent id, serialized agent. Returns 1 when stored, 0 when taken.
_CREATE = """
if not redis.call('SET', KEYS[1], ARGV[2], 'NX') then return 0 end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
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
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisAgentStore needs a client with decode_responses=False")
        self._client = client
        self._prefix = prefix
        self._index = f"{prefix}:agents"
        self._create = client.register_script(_CREATE)

    def _key(self, agent_id: str) -> str:
        return f"{self._prefix}:agent:{agent_id}"

    async def create(self, agent: agent_pb2.Agent) -> agent_pb2.Agent:
        """Stores a new agent with a fresh etag and create/update times; returns it.

        Raises:
            AlreadyExistsError: the id is taken (``AGENT_ALREADY_EXISTS``).
        """
        stored = _copy(agent)
        now = datetime.now(UTC)
        stored.create_time.FromDatetime(now)
        stored.update_time.FromDatetime(now)
        stored.etag = uuid.uuid4().hex[:16]
        args: list[str | bytes] = [agent.agent_id, stored.SerializeToString()]
        created = await self._create(keys=[self._key(agent.agent_id), self._index], args=args)
        if not created:
            raise AlreadyExistsError(
                f"agent {agent.agent_id!r} already exists",
                reason="AGENT_ALREADY_EXISTS",
                metadata={"agent_id": agent.agent_id},
            )
        return stored

    async def get(self, agent_id: str) -> agent_pb2.Agent:
        """The agent.

        Raises:
            NotFoundError: unknown id (``AGENT_NOT_FOUND``).
        """
        data = await self._client.get(self._key(agent_id))
        if data is None:
            raise _not_found(agent_id)
        return agent_pb2.Agent.FromString(cast("bytes", data))

    async def list(self, *, page_size: int, page_token: str) -> tuple[list[agent_pb2.Agent], str]:
        """A page of at most ``page_size`` (>= 1) agents ordered by id, and the
        next page token ("" at the end).

        Raises:
            InvalidArgumentError: a malformed ``page_token`` (``INVALID_PAGE_TOKEN``).
        """
        after = decode_token(page_token)
        lower = "-" if after is None else f"({after}"
        ids = cast(
            "list[bytes]",
            await self._client.zrangebylex(self._index, lower, "+", start=0, num=page_size + 1),
        )
        page_ids = [i.decode() for i in ids[:page_size]]
        records = cast(
            "list[bytes | None]",
            await self._client.mget([self._key(i) for i in page_ids]) if page_ids else [],
        )
        page = [agent_pb2.Agent.FromString(r) for r in records if r is not None]
        next_token = encode_token(page_ids[-1]) if len(ids) > page_size else ""
        return page, next_token

    async def replace(self, agent: agent_pb2.Agent, *, expected_etag: str) -> agent_pb2.Agent:
        """Replaces a stored agent, keeping its create time; sets a new etag
        and update time. A non-empty ``expected_etag`` must match the stored one.

        Raises:
            NotFoundError: unknown id (``AGENT_NOT_FOUND``).
            AbortedError: the etag does not match (``ETAG_MISMATCH``).
        """
        key = self._key(agent.agent_id)
        async with self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    return await self._replace_once(pipe, key, agent, expected_etag)
                except WatchError:
                    continue

    async def _replace_once(
        self, pipe: Pipeline, key: str, agent: agent_pb2.Agent, expected_etag: str
    ) -> agent_pb2.Agent:
        await pipe.watch(key)
        data = await pipe.get(key)
        if data is None:
            raise _not_found(agent.agent_id)
        current = agent_pb2.Agent.FromString(cast("bytes", data))
        if expected_etag and expected_etag != current.etag:
            raise AbortedError(
                f"agent {agent.agent_id!r} was changed meanwhile (etag {current.etag!r}, "
                f"request had {expected_etag!r}); get it again and retry",
                reason="ETAG_MISMATCH",
                metadata={"agent_id": agent.agent_id, "etag": current.etag},
            )
        stored = _copy(agent)
        stored.create_time.CopyFrom(current.create_time)
        stamp_now(stored.update_time)
        stored.etag = uuid.uuid4().hex[:16]
        _multi(pipe)
        pipe.set(key, stored.SerializeToString())
        await pipe.execute()
        return stored

    async def delete(self, agent_id: str) -> None:
        """Deletes the agent.

        Raises:
            NotFoundError: unknown id (``AGENT_NOT_FOUND``).
        """
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(agent_id))
            pipe.zrem(self._index, agent_id)
            deleted, _ = await pipe.execute()
        if not deleted:
            raise _not_found(agent_id)


def _not_found(agent_id: str) -> NotFoundError:
    return NotFoundError(
        f"agent {agent_id!r} does not exist",
        reason="AGENT_NOT_FOUND",
        metadata={"agent_id": agent_id},
    )


def _multi(pipe: Pipeline) -> None:
    """Starts the transaction block (``Pipeline.multi`` carries no annotations)."""
    cast("Callable[[], None]", pipe.multi)()


def _copy(agent: agent_pb2.Agent) -> agent_pb2.Agent:
    out = agent_pb2.Agent()
    out.CopyFrom(agent)
    return out
