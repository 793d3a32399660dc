"""The claim store: large Temporal payloads, kept outside workflow history.

``runwire_server.service.runtimes.payload_codec.ClaimCheckCodec`` saves every payload larger
than its threshold here (whole model requests, long tool results and client
tool outputs, the conversation a continued-as-new run carries) and leaves a
reference in history. Keys are content hashes (SHA-256 hex of the bytes), so
a claim is written once however many runs or replays send it, and a key
always names the same bytes. Claims are never deleted by runs: Redis expires
them, the memory store evicts them.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

import redis.asyncio as redis

#: Bytes of claims ``MemoryClaimStore`` keeps by default (256 MiB).
#: The memory store serves one process with the embedded worker and no Redis
#: (development, demos, small single-process deployments), where everything
#: else of a run lives in memory too and is lost with the process. Least
#: recently used claims go first; a run still in flight rarely needs an old
#: claim again (only when its workflow is replayed after leaving the worker's
#: cache), and then fails with ``ClaimNotFoundError`` instead of growing memory
#: without bound.
MEMORY_CLAIM_MAX_BYTES = 256 * 1024 * 1024


class ClaimStore(Protocol):
    """Where claimed payloads live, by content hash."""

    async def save_claim(self, key: str, data: bytes) -> None:
        """Keeps ``data`` under ``key`` (the SHA-256 hex of ``data``); saving
        a key again keeps one copy and renews its lifetime."""
        ...

    async def load_claim(self, key: str) -> bytes | None:
        """The bytes saved under ``key``, or None if unknown, expired or evicted."""
        ...


class MemoryClaimStore:
    """``ClaimStore`` in this process (embedded worker, no Redis): an
    LRU cache bounded by the total size of its claims.

    Args:
        max_bytes: Total bytes of claims kept; the least recently saved or
            loaded go first (``MEMORY_CLAIM_MAX_BYTES`` explains the default).
    """

    def __init__(self, *, max_bytes: int = MEMORY_CLAIM_MAX_BYTES) -> None:
        self._claims: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes

    async def save_claim(self, key: str, data: bytes) -> None:
        if key in self._claims:
            self._claims.move_to_end(key)
            return
        self._claims[key] = data
        self._bytes += len(data)
        while self._bytes > self._max_bytes and self._claims:
            _, dropped = self._claims.popitem(last=False)
            self._bytes -= len(dropped)

    async def load_claim(self, key: str) -> bytes | None:
        data = self._claims.get(key)
        if data is not None:
            self._claims.move_to_end(key)
        return data

    @property
    def total_bytes(self) -> int:
        """Bytes of the claims held now."""
        return self._bytes


class RedisClaimStore:
    """``ClaimStore`` in Redis: one string key per claim
    (``{prefix}:claim:{sha256}``) that expires ``ttl_seconds`` after it was
    last saved.

    Args:
        client: The Redis client.
        prefix: Key prefix.
        ttl_seconds: Lifetime of a claim: the event retention, so a run's
            payloads stay readable (in history and on replay) as long as its events.
    """

    def __init__(
        self, client: redis.Redis, *, prefix: str = "runwire", ttl_seconds: float = 7 * 24 * 3600
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = max(1, int(ttl_seconds))

    def key(self, claim: str) -> str:
        """The Redis key of ``claim``."""
        return f"{self._prefix}:claim:{claim}"

    async def save_claim(self, key: str, data: bytes) -> None:
        await self._client.set(self.key(key), data, ex=self._ttl)

    async def load_claim(self, key: str) -> bytes | None:
        raw = await self._client.get(self.key(key))
        # Claims are binary: the store's client must not decode responses.
        assert raw is None or isinstance(raw, bytes), "a decode_responses client"
        return raw
