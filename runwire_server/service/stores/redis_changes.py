"""``ChangeLog`` in Redis: one stream per tenant, shared by every replica and worker.

Key layout (``{p}`` is the prefix):

- ``{p}:changes:<tenant>`` stream: one entry per change, fields ``k`` (``r``
  for a run, ``a`` for an approval), ``c`` (the change type), ``p`` (the
  previous state) and ``b`` (the serialized resource after the change). Entry
  ids are the log's positions. Appended by the run and approval stores in the
  script or transaction that writes the record (``APPEND_LUA``,
  ``queue_append``), trimmed with ``MAXLEN ~ max_changes`` and expiring
  ``retention_seconds`` after the last change.
- ``{p}:changes-wake:<token>`` stream: wakes this process's follower when a
  watch of a tenant it does not read yet starts waiting (``MAXLEN 1``, expires).

A position is valid when it is not newer than the last id the stream
generated and, once entries were trimmed (``XINFO STREAM``: ``entries-added``
above ``length``, Redis 7), not older than the first entry kept; ``0-0`` is
valid while nothing was trimmed. (A position just before the first kept entry
counts as expired: the log cannot tell it from an older one.)

Waiting: one task per process (the follower) blocks in one ``XREAD`` on the
streams of every tenant a watch waits on, and wakes that tenant's waiters
when an entry arrives; they read from their own position (``XRANGE``). A
process with any number of watches holds one connection for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, cast

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from runwire_server.service.stores.changes import (
    DEFAULT_MAX_CHANGES,
    Change,
    CursorExpiredError,
    Kind,
    encode_cursor,
)

logger = logging.getLogger(__name__)

#: Milliseconds one follower read blocks at most.
BLOCK_MS = 10_000
#: Seconds the follower pauses after a failed read.
FAILURE_PAUSE_SECONDS = 0.5
#: Lifetime of a wake-up stream after its last wake-up, milliseconds.
WAKE_TTL_MS = 3_600_000

#: The ``k`` field of each kind.
KIND_CODES: dict[Kind, bytes] = {"run": b"r", "approval": b"a"}
_KIND_OF: dict[bytes, Kind] = {v: k for k, v in KIND_CODES.items()}

#: Appends one change inside a store's script. Expects locals ``stream``
#: (key), ``kind``, ``ctype``, ``prev``, ``payload``, ``maxlen``, ``ttl``.
APPEND_LUA = """
redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*',
  'k', kind, 'c', ctype, 'p', prev, 'b', payload)
redis.call('PEXPIRE', stream, ttl)
"""

# KEYS: the stream. ARGV: position, entries to read (0: only the head).
# Returns {'expired'} or {'ok', last generated id, entries}.
_READ = """
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if not ms then return nil end
  return {tonumber(ms), tonumber(seq)}
end
local function less(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
local after = parse(ARGV[1])
if not after then return {'expired'} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if after[1] == 0 and after[2] == 0 then return {'ok', '0-0', {}} end
  return {'expired'}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last, first, added, length = nil, nil, nil, nil
for i = 1, #info, 2 do
  local name = info[i]
  if name == 'last-generated-id' then last = info[i + 1]
  elseif name == 'entries-added' then added = info[i + 1]
  elseif name == 'length' then length = info[i + 1]
  elseif name == 'first-entry' and info[i + 1] then first = info[i + 1][1] end
end
if less(parse(last), after) then return {'expired'} end
-- Entries were trimmed: only a position at or after the first kept one is known.
if added ~= length and (not first or less(after, parse(first))) then return {'expired'} end
local count = tonumber(ARGV[2])
if count == 0 then return {'ok', last, {}} end
return {'ok', last, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', count)}
"""

# KEYS: the stream. Returns its last generated id, "0-0" when it does not exist.
_HEAD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return '0-0' end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return info[i + 1] end
end
return '0-0'
"""


def stream_key(prefix: str, tenant: str) -> str:
    """The key of ``tenant``'s change stream."""
    return f"{prefix}:changes:{tenant}"


def append_args(kind: Kind, change: tuple[int, int], resource: bytes) -> list[bytes | int]:
    """``kind``, change type, previous state, payload: the ARGV a store passes
    to its script for ``APPEND_LUA``."""
    return [KIND_CODES[kind], change[0], change[1], resource]


def queue_append(
    pipe: Pipeline,
    key: str,
    kind: Kind,
    change: tuple[int, int],
    resource: bytes,
    *,
    max_changes: int,
    ttl_ms: int,
) -> None:
    """Queues the append of one change on a transaction pipeline (``MULTI``)."""
    fields: dict[Any, Any] = {
        b"k": KIND_CODES[kind],
        b"c": change[0],
        b"p": change[1],
        b"b": resource,
    }
    pipe.xadd(key, fields, maxlen=max_changes, approximate=True)
    pipe.pexpire(key, ttl_ms)


def _id(position: str) -> tuple[int, int]:
    ms, _, seq = position.partition("-")
    return int(ms), int(seq)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisChangeLog:
    """``ChangeLog`` in Redis (see the module docstring).

    Args:
        client: A ``redis.asyncio.Redis`` with ``decode_responses=False``; not closed here.
        prefix: Prepended to every key.
        max_changes: Changes kept per tenant (approximately: ``MAXLEN ~``).
        retention_seconds: A tenant's stream expires this long after its last change.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "runwire",
        max_changes: int = DEFAULT_MAX_CHANGES,
        retention_seconds: float = 7 * 24 * 3600,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.max_changes = max(1, max_changes)
        self.ttl_ms = max(1, round(retention_seconds * 1000))
        self._read = client.register_script(_READ)
        self._head = client.register_script(_HEAD)
        self._wake_key = f"{prefix}:changes-wake:{uuid.uuid4().hex}"
        self._wake_id = "0-0"
        #: tenant -> (position read from, waiters' futures)
        self._waiting: dict[str, tuple[str, set[asyncio.Future[None]]]] = {}
        self._reading: set[str] = set()
        self._follower: asyncio.Task[None] | None = None

    def key(self, tenant: str) -> str:
        """The stream of ``tenant``."""
        return stream_key(self._prefix, tenant)

    async def _call(self, tenant: str, after: str, count: int) -> tuple[str, list[Any]]:
        result = cast("list[Any]", await self._read(keys=[self.key(tenant)], args=[after, count]))
        if _text(result[0]) != "ok":
            raise CursorExpiredError(encode_cursor(after))
        return _text(result[1]), list(result[2] or [])

    async def head(self, tenant: str) -> str:
        """The id of ``tenant``'s newest change ("0-0" when its stream is empty or gone)."""
        return _text(await self._head(keys=[self.key(tenant)]))

    async def read(self, tenant: str, after: str, *, limit: int) -> list[Change]:
        """At most ``limit`` changes after ``after``, oldest first.

        Raises:
            CursorExpiredError: ``after`` is older than the changes kept, or unknown.
        """
        _, entries = await self._call(tenant, after, max(1, limit))
        changes = []
        for raw_id, raw_fields in entries:
            fields = dict(zip(raw_fields[::2], raw_fields[1::2], strict=True))
            changes.append(
                Change(
                    position=_text(raw_id),
                    kind=_KIND_OF[fields[b"k"]],
                    type=int(fields[b"c"]),
                    previous_state=int(fields[b"p"]),
                    resource=fields[b"b"],
                )
            )
        return changes

    async def wait(self, tenant: str, after: str, *, seconds: float) -> None:
        """Returns when an entry after ``after`` may be in ``tenant``'s stream
        (the follower saw one), or after ``seconds``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = self._waiting.get(tenant)
        if entry is None:
            self._waiting[tenant] = (after, {future})
            if self._follower is not None and not self._follower.done():
                await self._wake()
        else:
            read_from, futures = entry
            if _id(read_from) > _id(after):
                return  # the follower read past ``after`` already: read again
            futures.add(future)
        if self._follower is None or self._follower.done():
            self._follower = asyncio.create_task(self._follow(), name="redis-change-follower")
        try:
            async with asyncio.timeout(seconds):
                await future
        except TimeoutError:
            pass
        finally:
            current = self._waiting.get(tenant)
            if current is not None:
                current[1].discard(future)
                if not current[1]:
                    del self._waiting[tenant]

    async def _wake(self) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(self._wake_key, {b"w": b"1"}, maxlen=1)
            pipe.pexpire(self._wake_key, WAKE_TTL_MS)
            await pipe.execute()

    async def _follow(self) -> None:
        while self._waiting:
            streams: dict[Any, Any] = {self._wake_key: self._wake_id}
            tenants = list(self._waiting)
            for tenant in tenants:
                streams[self.key(tenant)] = self._waiting[tenant][0]
            try:
                result = await self._client.xread(streams, count=1, block=BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                logger.warning("change follower: read failed: %s", exc)
                self._wake_all()
                await asyncio.sleep(FAILURE_PAUSE_SECONDS)
                continue
            for raw_key, entries in _streams(result):
                name = _text(raw_key)
                if name == self._wake_key:
                    self._wake_id = _text(entries[-1][0])
                    continue
                tenant = name[len(self.key("")) :]
                entry = self._waiting.pop(tenant, None)
                if entry is None:
                    continue
                for future in entry[1]:
                    if not future.done():
                        future.set_result(None)

    def _wake_all(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for _, futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)

    async def aclose(self) -> None:
        """Stops the follower and wakes its waiters."""
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        self._wake_all()


def _streams(result: Any) -> list[tuple[Any, Any]]:
    if not result:
        return []
    if isinstance(result, dict):  # RESP3
        return list(result.items())
    return [(item[0], item[1]) for item in result]
