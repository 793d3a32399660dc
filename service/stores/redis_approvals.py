"""``ApprovalStore`` in Redis.

Key layout (``{p}`` is the prefix):

- ``{p}:approval:<approval_id>`` string: the serialized ``runwire.v1.Approval``.
- ``{p}:approvals`` sorted set: approval ids scored by first-``put`` order
  (from ``{p}:approvals:counter``), so listing is newest first like the
  memory store; a replaced approval keeps its place.

Retention: an approval put in a final state (anything but PENDING) expires
``retention_seconds`` later (the TTL is set once and kept by later puts:
``SET ... KEEPTTL``). Runs end only after their approvals are resolved
(pending ones are CANCELLED), so approvals go with their run's records.
Index entries whose record has expired are skipped and removed while listing;
a page token naming a removed approval ends the listing (as with the memory
store's eviction).
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as redis
from runwire.v1 import approval_pb2

from service.core.errors import NotFoundError
from service.stores.paging import decode_token, encode_token

# KEYS: record, index, counter. ARGV: approval id, serialized approval,
# "1" when the approval is final else "0", retention in ms.
_PUT = """
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
if ARGV[3] == '1' and redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return 1
"""


class RedisApprovalStore:
    """``ApprovalStore`` in Redis (see the module docstring for the key layout).

    Args:
        client: A ``redis.asyncio.Redis`` with ``decode_responses=False``. Not
            closed by this class.
        prefix: Prepended to every key.
        retention_seconds: How long a record is kept once the approval is final.
        scan_batch: Index entries read per round trip while listing.

    Raises:
        ValueError: ``client`` decodes responses.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "runwire",
        retention_seconds: float = 7 * 24 * 3600,
        scan_batch: int = 200,
    ) -> None:
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisApprovalStore needs a client with decode_responses=False")
        self._client = client
        self._prefix = prefix
        self._index = f"{prefix}:approvals"
        self._counter = f"{prefix}:approvals:counter"
        self._retention_ms = max(1, round(retention_seconds * 1000))
        self._scan_batch = max(1, scan_batch)
        self._put = client.register_script(_PUT)

    def _key(self, approval_id: str) -> str:
        return f"{self._prefix}:approval:{approval_id}"

    async def put(self, approval: approval_pb2.Approval) -> None:
        """Creates or replaces the record of ``approval.approval_id``."""
        keys = [self._key(approval.approval_id), self._index, self._counter]
        final = "0" if approval.state == approval_pb2.APPROVAL_STATE_PENDING else "1"
        args: list[str | bytes | int] = [
            approval.approval_id,
            approval.SerializeToString(),
            final,
            self._retention_ms,
        ]
        await self._put(keys=keys, args=args)

    async def find(self, approval_id: str) -> approval_pb2.Approval | None:
        """The approval, or None."""
        data = await self._client.get(self._key(approval_id))
        return approval_pb2.Approval.FromString(cast("bytes", data)) if data else None

    async def get(self, approval_id: str) -> approval_pb2.Approval:
        """The approval.

        Raises:
            NotFoundError: unknown id (``APPROVAL_NOT_FOUND``).
        """
        approval = await self.find(approval_id)
        if approval is None:
            raise NotFoundError(
                f"approval {approval_id!r} does not exist",
                reason="APPROVAL_NOT_FOUND",
                metadata={"approval_id": approval_id},
            )
        return approval

    async def list(
        self,
        *,
        run_id: str,
        state: approval_pb2.ApprovalState,
        page_size: int,
        page_token: str,
    ) -> tuple[list[approval_pb2.Approval], str]:
        """Approvals newest first, filtered by the non-empty arguments; a page
        of at most ``page_size`` (>= 1) and the next page token ("" at the end).

        Raises:
            InvalidArgumentError: a malformed ``page_token`` (``INVALID_PAGE_TOKEN``).
        """
        after = decode_token(page_token)
        upper = "+inf"
        if after is not None:
            score = await self._client.zscore(self._index, after)
            if score is None:
                return [], ""
            upper = f"({int(score)}"
        matches: list[approval_pb2.Approval] = []
        stale: list[bytes] = []
        while len(matches) <= page_size:
            entries = cast(
                "list[tuple[bytes, float]]",
                await self._client.zrevrangebyscore(
                    self._index, upper, "-inf", start=0, num=self._scan_batch, withscores=True
                ),
            )
            if not entries:
                break
            keys = [self._key(i.decode()) for i, _ in entries]
            records = cast("list[bytes | None]", await self._client.mget(keys))
            for (approval_id, _), data in zip(entries, records, strict=True):
                if data is None:
                    stale.append(approval_id)
                    continue
                approval = approval_pb2.Approval.FromString(data)
                if (not run_id or approval.run_id == run_id) and (
                    not state or approval.state == state
                ):
                    matches.append(approval)
            upper = f"({int(entries[-1][1])}"
            if len(entries) < self._scan_batch:
                break
        if stale:
            await self._client.zrem(self._index, *stale)
        page = matches[:page_size]
        next_token = encode_token(page[-1].approval_id) if len(matches) > page_size else ""
        return page, next_token
