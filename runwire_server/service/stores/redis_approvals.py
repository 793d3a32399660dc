"""``ApprovalStore`` in Redis.

Key layout (``{p}`` is the prefix):

- ``{p}:approval:<approval_id>`` string: the serialized ``runwire.v1.Approval``.
- ``{p}:approvals`` sorted set (and its ``{p}:approvals:counter``): the index
  of approval ids, newest first by first ``put`` like the memory store; a
  replaced approval keeps its place (``redis_index``, ``IndexOrder.NEWEST_FIRST``).
- ``{p}:pending-approvals:<tenant>`` set: the ids of the tenant's PENDING
  approvals (``count_pending``), kept by the same script as the record.
- ``{p}:changes:<tenant>`` stream: the tenant's change log (``redis_changes``):
  the script appends CREATED for a new record and ENDED for a pending one put final.

Retention: an approval put in a final state (anything but PENDING) expires
``retention_seconds`` later (the TTL is set once and kept by later puts:
``SET ... KEEPTTL``). Runs end only after their approvals are resolved
(pending ones are CANCELLED), so approvals go with their run's records.
Index entries whose record has expired are skipped and removed while listing;
a page token naming a removed approval ends the listing.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as redis
from runwire.v1 import approval_pb2

from runwire_server.service.stores.approvals import approval_matches, approval_not_found
from runwire_server.service.stores.changes import CREATED, DEFAULT_MAX_CHANGES, ENDED
from runwire_server.service.stores.redis_changes import APPEND_LUA, KIND_CODES, stream_key
from runwire_server.service.stores.redis_client import reply, require_bytes_client
from runwire_server.service.stores.redis_index import IndexOrder, RedisIndex

_ORDER = IndexOrder.NEWEST_FIRST

# KEYS: record, index, index counter, the tenant's pending set, the tenant's
# change stream. ARGV: approval id, serialized approval, "1" when the approval is
# final else "0", retention in ms, the change kind, CHANGE_TYPE_CREATED,
# CHANGE_TYPE_ENDED, APPROVAL_STATE_PENDING, the stream's MAXLEN.
# A new record appends CREATED; a pending one put final appends ENDED.
_PUT = f"""
local existed = redis.call('EXISTS', KEYS[1]) == 1
local was_pending = redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
{_ORDER.lua_add(keys_at=2, member="ARGV[1]")}
if ARGV[3] == '1' then
  redis.call('SREM', KEYS[4], ARGV[1])
  if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
else
  redis.call('SADD', KEYS[4], ARGV[1])
end
local stream, kind, payload, maxlen, ttl = KEYS[5], ARGV[5], ARGV[2], ARGV[9], ARGV[4]
local ctype, prev = nil, 0
if not existed then
  ctype = ARGV[6]
elseif was_pending and ARGV[3] == '1' then
  ctype, prev = ARGV[7], ARGV[8]
end
if ctype then
{APPEND_LUA}
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
        scan_batch: Index entries read per round trip while listing with a filter.
        max_changes: Changes kept in each tenant's change stream (``redis_changes``).

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
        max_changes: int = DEFAULT_MAX_CHANGES,
    ) -> None:
        require_bytes_client(client, "RedisApprovalStore")
        self._max_changes = max(1, max_changes)
        self._client = client
        self._prefix = prefix
        self._retention_ms = max(1, round(retention_seconds * 1000))
        self._index = RedisIndex(
            client,
            key=f"{prefix}:approvals",
            order=_ORDER,
            record_key=self._key,
            record_field=None,
            parse=approval_pb2.Approval.FromString,
            records_expire=True,
            scan_batch=scan_batch,
        )
        self._put = client.register_script(_PUT)

    def _key(self, approval_id: str) -> str:
        return f"{self._prefix}:approval:{approval_id}"

    async def put(self, approval: approval_pb2.Approval) -> None:
        """Creates or replaces the record of ``approval.approval_id``."""
        keys = [
            self._key(approval.approval_id),
            *self._index.keys,
            self._pending_key(approval.tenant),
            stream_key(self._prefix, approval.tenant),
        ]
        final = "0" if approval.state == approval_pb2.APPROVAL_STATE_PENDING else "1"
        args: list[str | bytes | int] = [
            approval.approval_id,
            approval.SerializeToString(),
            final,
            self._retention_ms,
            KIND_CODES["approval"],
            CREATED,
            ENDED,
            approval_pb2.APPROVAL_STATE_PENDING,
            self._max_changes,
        ]
        await self._put(keys=keys, args=args)

    def _pending_key(self, tenant: str) -> str:
        return f"{self._prefix}:pending-approvals:{tenant}"

    async def count_pending(self, tenant: str) -> int:
        """How many of ``tenant``'s approvals are PENDING."""
        return int(await reply(self._client.scard(self._pending_key(tenant))))

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
            raise approval_not_found(approval_id)
        return approval

    async def list(
        self,
        *,
        run_id: str,
        state: approval_pb2.ApprovalState,
        page_size: int,
        page_token: str,
        tenant: str = "",
    ) -> tuple[list[approval_pb2.Approval], str]:
        """Approvals newest first, filtered by the non-empty arguments; a page
        of at most ``page_size`` (>= 1) and the next page token ("" at the end).

        Raises:
            InvalidArgumentError: a malformed ``page_token`` (``INVALID_PAGE_TOKEN``).
        """
        filtered = bool(run_id or state or tenant)
        return await self._index.page(
            page_size=page_size,
            page_token=page_token,
            keep=(
                (lambda a: approval_matches(a, run_id=run_id, state=state, tenant=tenant))
                if filtered
                else None
            ),
        )
