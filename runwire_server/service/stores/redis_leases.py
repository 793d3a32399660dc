"""``LeaseStore`` in Redis: leases of in-process runs, shared by every replica.

Key layout (``{p}`` is the prefix):

- ``{p}:run-lease:<run_id>`` hash, with a time to live of ``ttl_seconds``
  (``PEXPIRE``) renewed by the owner: ``owner`` (the replica's id) and, once
  another replica asked, ``cancel`` (the CancelRun reason).
- ``{p}:run-leases`` sorted set: the ids of the leased runs, scored by when
  their lease expires (milliseconds since the epoch, Redis ``TIME``). It is
  the index a sweeper reads (``ZRANGEBYSCORE -inf <now>``): no ``SCAN``.
- ``{p}:run-lease-threads`` hash: run id -> ``tenant`` newline ``thread id``
  of a leased run on a thread, kept (no time to live) until ``release``, so a
  run whose replica died before its record existed still frees its thread.

Every write is one Lua script, with Redis's own clock, so replicas whose
clocks disagree still agree on expiry. The lease key is the truth; the score
only says when to look: a due entry whose key still lives (renewed
meanwhile) is rescored, one whose key is gone is taken over, atomically
(``take_expired``), so one replica alone ends each lost run. ``release``
removes the key and the entry together, so a run that ended is never taken
over.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection
from typing import cast

import redis.asyncio as redis

from runwire_server.service.stores.leases import (
    DEFAULT_LEASE_SECONDS,
    CancelOutcome,
    Renewal,
    ThreadClaim,
)
from runwire_server.service.stores.redis_client import reply

#: Leases renewed per script call (one call per this many runs).
RENEW_BATCH = 1000

_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function score(ms) return string.format('%.0f', ms) end
"""

# KEYS: lease, index, threads. ARGV: run id, owner, ttl ms, thread claim ("" for none).
_ACQUIRE = (
    _NOW
    + """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], score(now_ms() + tonumber(ARGV[3])), ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[4]) end
return 1
"""
)

# KEYS: index, lease of each run. ARGV: owner, ttl ms, run id of each lease.
# Returns {lost run ids, {run id, cancel reason, ...}}.
_RENEW = (
    _NOW
    + """
local expiry = score(now_ms() + tonumber(ARGV[2]))
local lost, cancels = {}, {}
for i = 2, #KEYS do
  local run = ARGV[i + 1]
  local fields = redis.call('HMGET', KEYS[i], 'owner', 'cancel')
  if fields[1] == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
    redis.call('ZADD', KEYS[1], expiry, run)
    if fields[2] then
      cancels[#cancels + 1] = run
      cancels[#cancels + 1] = fields[2]
    end
  else
    lost[#lost + 1] = run
  end
end
return {lost, cancels}
"""
)

# KEYS: lease, index, threads. ARGV: run id, owner. Returns 0 when another replica holds
# the lease.
_RELEASE = """
local holder = redis.call('HGET', KEYS[1], 'owner')
if holder and holder ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""

# KEYS: index. ARGV: limit. Returns the ids of runs whose lease is due.
_DUE = (
    _NOW
    + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', score(now_ms()), 'LIMIT', 0, ARGV[1])
"""
)

# Takes the lease of a run whose lease key is gone (it expired) while its index entry
# remains (it did not end): the caller now owns it. Used by _TAKE and _CANCEL.
_TAKE_ONE = """
local function take(lease, index, run, owner, ttl, expiry)
  redis.call('HSET', lease, 'owner', owner)
  redis.call('PEXPIRE', lease, ttl)
  redis.call('ZADD', index, expiry, run)
end
"""

# KEYS: index, lease of each run. ARGV: owner, ttl ms, run id of each lease.
# Returns the ids of the runs taken over.
_TAKE = (
    _NOW
    + _TAKE_ONE
    + """
local now = now_ms()
local expiry = score(now + tonumber(ARGV[2]))
local taken = {}
for i = 2, #KEYS do
  local run = ARGV[i + 1]
  if redis.call('ZSCORE', KEYS[1], run) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl == -2 then
      take(KEYS[i], KEYS[1], run, ARGV[1], ARGV[2], expiry)
      taken[#taken + 1] = run
    elseif ttl == -1 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2])
      redis.call('ZADD', KEYS[1], expiry, run)
    else
      redis.call('ZADD', KEYS[1], score(now + ttl), run)
    end
  end
end
return taken
"""
)

# KEYS: lease, index. ARGV: run id, owner, ttl ms, reason.
_CANCEL = (
    _NOW
    + _TAKE_ONE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'cancel', ARGV[4])
  return 'requested'
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'not_leased' end
take(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], score(now_ms() + tonumber(ARGV[3])))
return 'taken'
"""
)


def replica_id() -> str:
    """A new id for this process: ``host/pid/random``."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class RedisLeaseStore:
    """``LeaseStore`` in Redis (see the module docstring for the key layout).

    Args:
        client: A ``redis.asyncio.Redis`` (either ``decode_responses`` setting
            works). Not closed by this class.
        prefix: Prepended to every key.
        ttl_seconds: How long a lease lasts unless renewed (> 0).
        owner: This replica's id; a new ``replica_id()`` by default.
    """

    shared = True

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "runwire",
        ttl_seconds: float = DEFAULT_LEASE_SECONDS,
        owner: str | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._index = f"{prefix}:run-leases"
        self._threads = f"{prefix}:run-lease-threads"
        self.owner = owner or replica_id()
        self.ttl_seconds = ttl_seconds
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._due = client.register_script(_DUE)
        self._take = client.register_script(_TAKE)
        self._cancel = client.register_script(_CANCEL)

    def _lease(self, run_id: str) -> str:
        return f"{self._prefix}:run-lease:{run_id}"

    async def acquire(self, run_id: str, *, claim: ThreadClaim | None = None) -> None:
        """Takes the run's lease for this replica, for ``ttl_seconds``, and
        records ``claim`` with it."""
        keys = [self._lease(run_id), self._index, self._threads]
        recorded = "" if claim is None else f"{claim.tenant}\n{claim.thread_id}"
        await self._acquire(keys=keys, args=[run_id, self.owner, self._ttl_ms, recorded])

    async def thread_claim(self, run_id: str) -> ThreadClaim | None:
        """The thread recorded with the run's lease, or None."""
        value = await reply(self._client.hget(self._threads, run_id))
        if value is None:
            return None
        tenant, _, thread_id = _text(cast("bytes | str", value)).partition("\n")
        return ThreadClaim(tenant=tenant, thread_id=thread_id)

    async def renew(self, run_ids: Collection[str]) -> Renewal:
        """Renews the leases of ``run_ids`` this replica holds: one script call
        per ``RENEW_BATCH`` runs. Returns the lost ones and the cancel requests."""
        ids = list(run_ids)
        lost: set[str] = set()
        cancels: dict[str, str] = {}
        for start in range(0, len(ids), RENEW_BATCH):
            batch = ids[start : start + RENEW_BATCH]
            keys = [self._index, *(self._lease(r) for r in batch)]
            answer = await self._renew(keys=keys, args=[self.owner, self._ttl_ms, *batch])
            lost_ids, cancel_pairs = cast("list[list[bytes | str]]", answer)
            lost.update(_text(r) for r in lost_ids)
            pairs = [_text(v) for v in cancel_pairs]
            cancels.update(zip(pairs[::2], pairs[1::2], strict=True))
        return Renewal(lost=frozenset(lost), cancels=cancels)

    async def release(self, run_id: str) -> None:
        """Drops the run's lease and index entry, unless another replica holds it."""
        keys = [self._lease(run_id), self._index, self._threads]
        await self._release(keys=keys, args=[run_id, self.owner])

    async def take_expired(self, *, limit: int) -> list[str]:
        """Takes over up to ``limit`` runs whose lease expired (two round trips:
        the due index entries, then one atomic script over them)."""
        due = [_text(r) for r in await self._due(keys=[self._index], args=[limit])]
        if not due:
            return []
        keys = [self._index, *(self._lease(r) for r in due)]
        taken = await self._take(keys=keys, args=[self.owner, self._ttl_ms, *due])
        return [_text(r) for r in cast("list[bytes | str]", taken)]

    async def cancel(self, run_id: str, reason: str) -> CancelOutcome:
        """Puts a cancel request on a live lease, or takes an expired one over."""
        keys = [self._lease(run_id), self._index]
        answer = await self._cancel(keys=keys, args=[run_id, self.owner, self._ttl_ms, reason])
        return CancelOutcome(_text(cast("bytes | str", answer)))

    async def holder(self, run_id: str) -> str | None:
        """The id of the replica holding the run's lease, or None (no live lease)."""
        value = await reply(self._client.hget(self._lease(run_id), "owner"))
        return None if value is None else _text(cast("bytes | str", value))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
