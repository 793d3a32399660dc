"""``ThreadStore`` in Redis.

Key layout (``{p}`` is the prefix):

- ``{p}:thread:<thread_id>`` hash: ``metadata`` (JSON object of strings),
  ``create_time`` and ``update_time`` (ISO 8601, UTC) and ``active_run_id``
  ("" when no run holds the thread).
- ``{p}:thread-messages:<thread_id>`` list: one JSON object per message,
  oldest first: ``{"create_time": ISO 8601, "message": ChatMessage JSON}``.
- ``{p}:thread-ids`` set: the ids of every thread (``count``).
- ``{p}:thread-deleted:<thread_id>`` string: the token of the call that deleted
  the thread, for ``RETRY_TOKEN_TTL_MS``.

Every write is one Lua script that first checks the thread exists, so
``claim`` is a compare-and-set (two processes cannot both hold a thread) and
``append`` never adds messages to a deleted thread. Threads never expire.

Every write is safe to send twice: the client sends a command again when its
reply was lost to a Redis restart (``redis_client.ReconnectRetry``). ``create``
recognises its own record (same metadata and time), ``append`` its token (the
hash's ``append_token``: the last append's), ``delete`` its tombstone;
``claim`` and ``release`` are idempotent as they are.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import cast

import redis.asyncio as redis

from runwire_server.service.core.errors import (
    AbortedError,
    AlreadyExistsError,
    FailedPreconditionError,
)
from runwire_server.service.core.messages import ChatMessage
from runwire_server.service.stores.redis_client import reply
from runwire_server.service.stores.threads import StoredMessage, ThreadRecord, thread_not_found

# KEYS: thread hash, id set. ARGV: metadata JSON, time, thread id.
# Returns 1 when created (also by this very call, sent again), 0 when taken.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local was = redis.call('HMGET', KEYS[1], 'metadata', 'create_time')
  if was[1] == ARGV[1] and was[2] == ARGV[2] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'metadata', ARGV[1], 'create_time', ARGV[2],
  'update_time', ARGV[2], 'active_run_id', '')
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""

# KEYS: thread hash, messages. ARGV: time, token of the call, message JSON...
# Returns 0 for an unknown thread; pushes nothing when the last append had this token.
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'append_token') == ARGV[2] then return 1 end
if #ARGV > 2 then redis.call('RPUSH', KEYS[2], unpack(ARGV, 3)) end
redis.call('HSET', KEYS[1], 'update_time', ARGV[1], 'append_token', ARGV[2])
return 1
"""

# KEYS: thread hash. ARGV: run id. Returns nil for an unknown thread, "" when
# claimed, else the id of the run that holds the thread.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local active = redis.call('HGET', KEYS[1], 'active_run_id')
if active and active ~= '' and active ~= ARGV[1] then return active end
redis.call('HSET', KEYS[1], 'active_run_id', ARGV[1])
return ''
"""

# KEYS: thread hash. ARGV: run id.
_RELEASE = """
if redis.call('HGET', KEYS[1], 'active_run_id') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'active_run_id', '')
end
return 1
"""

# KEYS: thread hash, messages, id set, tombstone. ARGV: thread id, token of the call,
# tombstone ttl ms. Returns nil for an unknown thread, "" when deleted (also by this
# very call, sent again), else the id of the run that holds the thread.
_DELETE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('GET', KEYS[4]) == ARGV[2] then return '' end
  return false
end
local active = redis.call('HGET', KEYS[1], 'active_run_id')
if active and active ~= '' then return active end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3])
return ''
"""

#: How long a deleted thread's tombstone (``delete``'s token) is kept, ms: longer than
#: a command's retries (``redis_client.ReconnectRetry``).
RETRY_TOKEN_TTL_MS = 120_000


class RedisThreadStore:
    """``ThreadStore`` in Redis (see the module docstring for the key layout).

    Args:
        client: A ``redis.asyncio.Redis`` (either ``decode_responses`` setting
            works). Not closed by this class.
        prefix: Prepended to every key.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "runwire") -> None:
        self._client = client
        self._prefix = prefix
        self._create = client.register_script(_CREATE)
        self._append = client.register_script(_APPEND)
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._delete = client.register_script(_DELETE)
        self._ids = f"{prefix}:thread-ids"

    def _keys(self, thread_id: str) -> list[str]:
        """[thread hash, messages list] of ``thread_id``."""
        return [
            f"{self._prefix}:thread:{thread_id}",
            f"{self._prefix}:thread-messages:{thread_id}",
        ]

    async def count(self) -> int:
        """How many threads there are."""
        return int(await reply(self._client.scard(self._ids)))

    async def create(self, thread_id: str, metadata: dict[str, str]) -> ThreadRecord:
        """Creates an empty thread.

        Raises:
            AlreadyExistsError: the id is taken (``THREAD_ALREADY_EXISTS``).
        """
        now = datetime.now(UTC)
        args = [json.dumps(metadata), now.isoformat()]
        keys = [self._keys(thread_id)[0], self._ids]
        if not await self._create(keys=keys, args=[*args, thread_id]):
            raise AlreadyExistsError(
                f"thread {thread_id!r} already exists",
                reason="THREAD_ALREADY_EXISTS",
                metadata={"thread_id": thread_id},
            )
        return ThreadRecord(
            thread_id=thread_id, metadata=dict(metadata), create_time=now, update_time=now
        )

    async def get(self, thread_id: str) -> ThreadRecord:
        """The thread with all its messages (a snapshot).

        Raises:
            NotFoundError: unknown thread (``THREAD_NOT_FOUND``).
        """
        record_key, messages_key = self._keys(thread_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hgetall(record_key)
            pipe.lrange(messages_key, 0, -1)
            fields, entries = cast(
                "tuple[dict[bytes | str, bytes | str], list[bytes | str]]",
                tuple(await pipe.execute()),
            )
        if not fields:
            raise thread_not_found(thread_id)
        hash_ = {_text(k): _text(v) for k, v in fields.items()}
        return ThreadRecord(
            thread_id=thread_id,
            metadata=cast("dict[str, str]", json.loads(hash_["metadata"])),
            create_time=datetime.fromisoformat(hash_["create_time"]),
            update_time=datetime.fromisoformat(hash_["update_time"]),
            messages=[_stored(e) for e in entries],
            active_run_id=hash_.get("active_run_id", ""),
        )

    async def history(self, thread_id: str, *, limit: int) -> list[ChatMessage]:
        """The last ``limit`` messages, oldest first, starting at a user message
        (Python slice semantics: ``limit`` 0 means all messages).

        Raises:
            NotFoundError: unknown thread (``THREAD_NOT_FOUND``).
        """
        record_key, messages_key = self._keys(thread_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.exists(record_key)
            pipe.lrange(messages_key, -limit, -1)
            exists, entries = cast("tuple[int, list[bytes | str]]", tuple(await pipe.execute()))
        if not exists:
            raise thread_not_found(thread_id)
        messages = [_stored(e).message for e in entries]
        while messages and messages[0].role.value != "user":
            messages.pop(0)
        return messages

    async def append(self, thread_id: str, messages: list[ChatMessage]) -> None:
        """Adds ``messages`` at the end, stamped with the current time.

        Raises:
            NotFoundError: unknown thread (``THREAD_NOT_FOUND``).
        """
        now = datetime.now(UTC).isoformat()
        entries = [
            json.dumps({"create_time": now, "message": m.model_dump(mode="json")}) for m in messages
        ]
        token = secrets.token_urlsafe(12)
        if not await self._append(keys=self._keys(thread_id), args=[now, token, *entries]):
            raise thread_not_found(thread_id)

    async def claim(self, thread_id: str, run_id: str) -> None:
        """Makes ``run_id`` the thread's active run (atomic compare-and-set).

        Raises:
            NotFoundError: unknown thread (``THREAD_NOT_FOUND``).
            AbortedError: another run is active (``THREAD_BUSY``).
        """
        active = await self._claim(keys=self._keys(thread_id)[:1], args=[run_id])
        if active is None:
            raise thread_not_found(thread_id)
        if active:
            holder = _text(cast("bytes | str", active))
            raise AbortedError(
                f"thread {thread_id!r} is busy with run {holder!r}; retry when it has ended",
                reason="THREAD_BUSY",
                metadata={"thread_id": thread_id, "run_id": holder},
            )

    async def release(self, thread_id: str, run_id: str) -> None:
        """Clears the active run if it is ``run_id`` (no-op otherwise)."""
        await self._release(keys=self._keys(thread_id)[:1], args=[run_id])

    async def delete(self, thread_id: str) -> None:
        """Deletes the thread and its messages.

        Raises:
            NotFoundError: unknown thread (``THREAD_NOT_FOUND``).
            FailedPreconditionError: a run holds the thread (``THREAD_BUSY``).
        """
        keys = [*self._keys(thread_id), self._ids, f"{self._prefix}:thread-deleted:{thread_id}"]
        token = secrets.token_urlsafe(12)
        active = await self._delete(keys=keys, args=[thread_id, token, RETRY_TOKEN_TTL_MS])
        if active is None:
            raise thread_not_found(thread_id)
        if active:
            holder = _text(cast("bytes | str", active))
            raise FailedPreconditionError(
                f"thread {thread_id!r} has an active run {holder!r}",
                reason="THREAD_BUSY",
                metadata={"thread_id": thread_id, "run_id": holder},
            )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stored(entry: bytes | str) -> StoredMessage:
    value = json.loads(entry)
    return StoredMessage(
        message=ChatMessage.model_validate(value["message"]),
        create_time=datetime.fromisoformat(value["create_time"]),
    )
