"""``EventLog`` in Redis Streams, shared by every process that talks to one Redis.

Key layout per run (``{p}`` is the prefix; the braces around the run id are a
Redis Cluster hash tag, so the three keys of a run share a slot, as the
append script requires):

- ``{p}:run:{<run_id>}:meta`` hash: ``seq`` (last sequence, "0" when none)
  and ``ended`` ("1" once a terminal event is logged). Made by ``create``;
  the log exists exactly as long as this key does.
- ``{p}:run:{<run_id>}:events`` stream: one entry per event with the explicit
  id ``<sequence>-0`` (so the id *is* the sequence: ``read(after=N)`` is
  ``XRANGE key (N+1)-0 +``, and tailing is ``XREAD BLOCK ... STREAMS key N-0``,
  which returns ids greater than ``N-0``). Fields: ``t`` (create time,
  microseconds since the epoch, from Redis ``TIME``) and ``ev`` (the
  serialized ``RunEvent`` without ``run_id``, ``sequence`` and
  ``create_time``, which are rebuilt from the key, the id and ``t``).
- ``{p}:run:{<run_id>}:keys`` hash: idempotency key -> sequence.

One Lua script appends (number, store, index the key, mark ended), so
concurrent appenders in many processes get gap-free sequences. When the
terminal event is logged all three keys get ``PEXPIRE retention_seconds``; an
expired log reads as an unknown run (NOT_FOUND).

Connections: a subscriber holds a pooled connection for long only while it
blocks in ``XREAD`` (at most ``block_ms``). At most ``max_blocking_reads``
subscribers of this log block at once (default: half the pool's
``max_connections``); the others poll every ``POLL_SECONDS``. So blocked
subscribers never hold more than that share of the pool, and appends and
other commands always find connections: no starvation, no deadlock. Every
other command holds a connection for one round trip; size ``max_connections``
for the commands in flight at once (redis-py's default ``ConnectionPool``,
100 connections, raises ``MaxConnectionsError`` beyond it; a
``BlockingConnectionPool`` makes callers wait instead). The client's
``socket_timeout``, if set, must exceed the block time: ``block_ms`` is
lowered to half of it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import cast

import redis.asyncio as redis
from runwire.v1 import event_pb2

from service.core.errors import NotFoundError, OutOfRangeError
from service.stores.events import heartbeat, is_terminal
from service.stores.redis_client import reply

#: Seconds between polls of a subscriber that found every blocking slot taken.
POLL_SECONDS = 0.05

# KEYS: meta, events, keys. ARGV: idempotency key ("" for none), payload bytes,
# "1" if terminal else "0", retention in ms.
# Returns nil for an unknown run, else {sequence, create time in µs, payload}.
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[1] ~= '' then
  local seq = redis.call('HGET', KEYS[3], ARGV[1])
  if seq then
    local entry = redis.call('XRANGE', KEYS[2], seq .. '-0', seq .. '-0')[1]
    local fields, out = entry[2], {seq, '', ''}
    for i = 1, #fields, 2 do
      if fields[i] == 't' then out[2] = fields[i + 1] end
      if fields[i] == 'ev' then out[3] = fields[i + 1] end
    end
    return out
  end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local now = redis.call('TIME')
local micros = now[1] .. string.format('%06d', tonumber(now[2]))
redis.call('XADD', KEYS[2], seq .. '-0', 't', micros, 'ev', ARGV[2])
if ARGV[1] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], seq) end
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'ended', '1') end
if redis.call('HGET', KEYS[1], 'ended') == '1' then
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
end
return {tostring(seq), micros, ARGV[2]}
"""


class _Keys:
    """The Redis keys of one run's log."""

    def __init__(self, prefix: str, run_id: str) -> None:
        base = f"{prefix}:run:{{{run_id}}}"
        self.meta = f"{base}:meta"
        self.events = f"{base}:events"
        self.idempotency = f"{base}:keys"

    def all(self) -> list[str]:
        return [self.meta, self.events, self.idempotency]


class RedisEventLog:
    """``EventLog`` in Redis Streams (see the module docstring for the key layout).

    Args:
        client: A ``redis.asyncio.Redis`` with ``decode_responses=False``
            (payloads are binary). Not closed by this class.
        prefix: Prepended to every key (``{prefix}:run:...``).
        retention_seconds: How long a log is kept after its terminal event.
        block_ms: Longest single ``XREAD BLOCK``, in milliseconds (>= 1).
        max_blocking_reads: Subscribers that may block in ``XREAD`` at once;
            ``None`` means half the pool's ``max_connections`` (at least 1).
        batch_size: Events fetched per ``XRANGE`` while replaying.

    Raises:
        ValueError: ``client`` decodes responses, or a bound is below 1.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "runwire",
        retention_seconds: float = 7 * 24 * 3600,
        block_ms: int = 1000,
        max_blocking_reads: int | None = None,
        batch_size: int = 100,
    ) -> None:
        kwargs = client.connection_pool.connection_kwargs
        if kwargs.get("decode_responses"):
            raise ValueError("RedisEventLog needs a client with decode_responses=False")
        if (
            block_ms < 1
            or batch_size < 1
            or (max_blocking_reads is not None and max_blocking_reads < 1)
        ):
            raise ValueError("block_ms, batch_size and max_blocking_reads must be >= 1")
        socket_timeout = kwargs.get("socket_timeout")
        if isinstance(socket_timeout, int | float) and socket_timeout > 0:
            block_ms = max(1, min(block_ms, int(socket_timeout * 500)))
        if max_blocking_reads is None:
            max_blocking_reads = max(1, client.connection_pool.max_connections // 2)
        self._client = client
        self._prefix = prefix
        self._retention_ms = max(1, round(retention_seconds * 1000))
        self._block_ms = block_ms
        self._batch_size = batch_size
        self._blocking = asyncio.Semaphore(max_blocking_reads)
        self._append = client.register_script(_APPEND)

    async def create(self, run_id: str) -> None:
        """Makes an empty log for ``run_id`` (idempotent; keeps an existing log)."""
        await reply(self._client.hsetnx(_Keys(self._prefix, run_id).meta, "seq", "0"))

    async def append(
        self, run_id: str, event: event_pb2.RunEvent, *, key: str = ""
    ) -> event_pb2.RunEvent:
        """Logs ``event`` with the next sequence; see ``EventLog.append``.

        Raises:
            NotFoundError: no log for ``run_id`` (``RUN_NOT_FOUND``).
        """
        keys = _Keys(self._prefix, run_id)
        payload = event_pb2.RunEvent()
        payload.CopyFrom(event)
        for name in ("run_id", "sequence", "create_time"):
            payload.ClearField(name)
        terminal = "1" if is_terminal(event) else "0"
        args: list[str | bytes | int] = [
            key,
            payload.SerializeToString(),
            terminal,
            self._retention_ms,
        ]
        reply = cast("list[bytes] | None", await self._append(keys=keys.all(), args=args))
        if reply is None:
            raise _not_found(run_id)
        sequence, micros, data = reply
        return _event(run_id, int(sequence), int(micros), data)

    async def read(
        self, run_id: str, *, after_sequence: int = 0, limit: int = 100
    ) -> list[event_pb2.RunEvent]:
        """At most ``limit`` events with sequence > ``after_sequence``, in order.

        Raises:
            NotFoundError: no log for ``run_id`` (``RUN_NOT_FOUND``).
        """
        keys = _Keys(self._prefix, run_id)
        if not await self._client.exists(keys.meta):
            raise _not_found(run_id)
        if limit <= 0:
            return []
        return await self._range(keys.events, run_id, max(after_sequence, 0), limit)

    async def last_sequence(self, run_id: str) -> int:
        """The last logged sequence (0 when none).

        Raises:
            NotFoundError: no log for ``run_id`` (``RUN_NOT_FOUND``).
        """
        last, _ = await self._state(_Keys(self._prefix, run_id), run_id)
        return last

    async def subscribe(
        self, run_id: str, *, after_sequence: int = 0, heartbeat_interval: float = 15.0
    ) -> AsyncIterator[event_pb2.RunEvent]:
        """Replays events after ``after_sequence``, then tails; see ``EventLog``.

        Reads by id cursor only (``XRANGE`` from the last yielded sequence), so
        events appended during the replay are neither lost nor repeated.
        ``XREAD BLOCK`` is used only to wait for the next entry.

        Raises:
            NotFoundError: no log for ``run_id`` (``RUN_NOT_FOUND``).
            OutOfRangeError: ``after_sequence`` is past the last event of an
                ended run (``SEQUENCE_OUT_OF_RANGE``).
        """
        keys = _Keys(self._prefix, run_id)
        last, ended = await self._state(keys, run_id)
        if after_sequence > last and ended:
            raise OutOfRangeError(
                f"after_sequence {after_sequence} is past the last event "
                f"({last}) of ended run {run_id!r}",
                reason="SEQUENCE_OUT_OF_RANGE",
                metadata={"run_id": run_id, "last_sequence": str(last)},
            )
        loop = asyncio.get_running_loop()
        position = after_sequence
        idle_since = loop.time()
        while True:
            batch = await self._range(keys.events, run_id, position, self._batch_size)
            for event in batch:
                position = event.sequence
                yield event
                if is_terminal(event):
                    return
            if batch:
                idle_since = loop.time()
                continue
            last, ended = await self._state(keys, run_id)
            if ended and position >= last:
                return
            wait = heartbeat_interval - (loop.time() - idle_since)
            if wait <= 0:
                yield heartbeat(run_id)
                idle_since = loop.time()
                continue
            await self._wait(keys.events, position, wait)

    async def _state(self, keys: _Keys, run_id: str) -> tuple[int, bool]:
        """(last sequence, ended) of a log; raises NotFoundError when it does not exist."""
        seq, ended = await reply(self._client.hmget(keys.meta, ["seq", "ended"]))
        if seq is None:
            raise _not_found(run_id)
        return int(seq), ended == b"1"

    async def _range(
        self, stream: str, run_id: str, after: int, count: int
    ) -> list[event_pb2.RunEvent]:
        entries = await self._client.xrange(stream, f"{after + 1}-0", "+", count=count)
        events = []
        for entry_id, fields in entries or []:
            if entry_id is None or fields is None:
                continue
            sequence = int(cast("bytes", entry_id).split(b"-", 1)[0])
            micros = int(cast("bytes", fields[b"t"]))
            events.append(_event(run_id, sequence, micros, cast("bytes", fields[b"ev"])))
        return events

    async def _wait(self, stream: str, after: int, seconds: float) -> None:
        """Returns when an entry after sequence ``after`` may exist, or after
        ``seconds`` (capped to ``block_ms``)."""
        block_ms = max(1, min(self._block_ms, math.ceil(seconds * 1000)))
        if self._blocking.locked():
            await asyncio.sleep(min(block_ms / 1000, POLL_SECONDS))
            return
        async with self._blocking:
            await self._client.xread({stream: f"{after}-0"}, count=1, block=block_ms)


def _event(run_id: str, sequence: int, micros: int, payload: bytes) -> event_pb2.RunEvent:
    event = event_pb2.RunEvent.FromString(payload)
    event.run_id = run_id
    event.sequence = sequence
    event.create_time.FromMicroseconds(micros)
    return event


def _not_found(run_id: str) -> NotFoundError:
    return NotFoundError(
        f"no event log for run {run_id!r}",
        reason="RUN_NOT_FOUND",
        metadata={"run_id": run_id},
    )
