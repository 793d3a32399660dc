"""Run conversations kept outside workflow history (Temporal runtime).

The ``call_model`` activity keeps each run's message list here, so the
workflow sends only the messages added since the previous model call.
``sync`` is idempotent: a retried activity trims back to the known prefix
before appending, so messages are never doubled.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as redis

from service.core.messages import ChatMessage


class ConversationStore(Protocol):
    """Where a run's conversation lives between model calls."""

    async def sync(
        self, run_id: str, *, known: int, new: Sequence[ChatMessage]
    ) -> list[ChatMessage]:
        """Keeps the first ``known`` messages, appends ``new``, returns the whole list."""
        ...

    async def save_context(self, run_id: str, context: str) -> None:
        """Keeps the run's model context (JSON text) for later calls."""
        ...

    async def load_context(self, run_id: str) -> str | None:
        """The run's model context, or None if never saved or expired."""
        ...

    async def save_result(self, run_id: str, key: str, content: str) -> None:
        """Keeps a long tool result of the run under ``key`` (kept out of history)."""
        ...

    async def load_result(self, run_id: str, key: str) -> str | None:
        """A tool result kept by ``save_result``, or None if unknown or expired."""
        ...

    async def drop(self, run_id: str) -> None:
        """Forgets a run's conversation, context and tool results (when the run ends)."""
        ...


class MemoryConversationStore:
    """``ConversationStore`` in this process (embedded worker, no Redis)."""

    def __init__(self, *, max_runs: int = 10_000) -> None:
        self._runs: OrderedDict[str, list[ChatMessage]] = OrderedDict()
        self._contexts: OrderedDict[str, str] = OrderedDict()
        self._results: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._max = max_runs

    async def sync(
        self, run_id: str, *, known: int, new: Sequence[ChatMessage]
    ) -> list[ChatMessage]:
        messages = self._runs.setdefault(run_id, [])
        del messages[known:]
        messages.extend(new)
        while len(self._runs) > self._max:
            self._runs.popitem(last=False)
        return list(messages)

    async def save_context(self, run_id: str, context: str) -> None:
        self._contexts[run_id] = context
        while len(self._contexts) > self._max:
            self._contexts.popitem(last=False)

    async def load_context(self, run_id: str) -> str | None:
        return self._contexts.get(run_id)

    async def save_result(self, run_id: str, key: str, content: str) -> None:
        self._results.setdefault(run_id, {})[key] = content
        while len(self._results) > self._max:
            self._results.popitem(last=False)

    async def load_result(self, run_id: str, key: str) -> str | None:
        return self._results.get(run_id, {}).get(key)

    async def drop(self, run_id: str) -> None:
        self._runs.pop(run_id, None)
        self._contexts.pop(run_id, None)
        self._results.pop(run_id, None)


class RedisConversationStore:
    """``ConversationStore`` in a Redis list per run (``{prefix}:run:{id}:conversation``),
    its context in ``...:conversation:context`` and long tool results in the hash
    ``...:conversation:results``.

    Args:
        client: The Redis client.
        prefix: Key prefix.
        ttl_seconds: Lifetime of a conversation after its last change (a run
            that never ends cannot leak it forever).
    """

    def __init__(
        self, client: redis.Redis, *, prefix: str = "runwire", ttl_seconds: float = 7 * 24 * 3600
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = int(ttl_seconds)

    def _key(self, run_id: str) -> str:
        return f"{self._prefix}:run:{run_id}:conversation"

    async def sync(
        self, run_id: str, *, known: int, new: Sequence[ChatMessage]
    ) -> list[ChatMessage]:
        key = self._key(run_id)
        async with self._client.pipeline(transaction=True) as pipe:
            if known == 0:
                pipe.delete(key)
            else:
                pipe.ltrim(key, 0, known - 1)
            if new:
                pipe.rpush(key, *[m.model_dump_json() for m in new])
            pipe.expire(key, self._ttl)
            pipe.lrange(key, 0, -1)
            results = await pipe.execute()
        raw: list[bytes] = results[-1]
        return [ChatMessage.model_validate_json(item) for item in raw]

    async def save_context(self, run_id: str, context: str) -> None:
        await self._client.set(f"{self._key(run_id)}:context", context, ex=self._ttl)

    async def load_context(self, run_id: str) -> str | None:
        raw = await self._client.get(f"{self._key(run_id)}:context")
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def save_result(self, run_id: str, key: str, content: str) -> None:
        results = f"{self._key(run_id)}:results"
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(results, key, content)
            pipe.expire(results, self._ttl)
            await pipe.execute()

    async def load_result(self, run_id: str, key: str) -> str | None:
        raw = await self._client.hget(f"{self._key(run_id)}:results", key)
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def drop(self, run_id: str) -> None:
        key = self._key(run_id)
        await self._client.delete(key, f"{key}:context", f"{key}:results")
