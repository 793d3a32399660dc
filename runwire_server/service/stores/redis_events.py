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
  over many runs at once, which returns ids greater than ``N-0``). Fields: ``t`` (create time,
  microseconds since the epoch, from Redis ``TIME``) and ``ev`` (the
  serialized ``RunEvent`` without ``run_id``, ``sequence`` and
  ``create_time``, which are rebuilt from the key, the id and ``t``).
- ``{p}:run:{<run_id>}:keys`` hash: idempotency key -> sequence.
- ``{p}:run:{<run_id>}:tokens`` hash: the same for the random token ``append``
  gives an event logged without a key, so that the client sending the append
  again after a lost reply (``redis_client.ReconnectRetry``) logs it once. Kept
  while the run goes on and ``TOKEN_TTL_MS`` after its end, not for the retention.

One Lua script appends (number, store, index the key, mark ended), so
concurrent appenders in many processes get gap-free sequences. When the
terminal event is logged the first three keys get ``PEXPIRE retention_seconds``
(the tokens ``TOKEN_TTL_MS``); an expired log reads as an unknown run (NOT_FOUND).

Connections: subscribers never hold a connection while they wait. A
subscriber reads by ``XRANGE`` from its position until it has caught up, then
waits in the log's ``StreamReader`` (``runwire_server/service/stores/redis_reader.py``): a
few shards, each one connection of the pool doing one ``XREAD BLOCK`` over all
the keys waited on, fanning entries out in the process. So the event streams
of a process hold at most ``max_readers`` connections however many are open,
and an idle stream costs Redis no command of its own (a shard re-reads once
per block time, and checks now and then that the waited logs still exist).
Every other command holds a connection for one round trip. The client's
``socket_timeout``, if set, must exceed the block time: ``block_ms`` is
lowered to half of it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import cast

import redis.asyncio as redis
from runwire.v1 import event_pb2

from runwire_server.service.core.errors import NotFoundError, OutOfRangeError
from runwire_server.service.stores.events import heartbeat, is_terminal
from runwire_server.service.stores.redis_client import reply
from runwire_server.service.stores.redis_reader import Entry, StreamReader

# KEYS: meta, events, keys, tokens. ARGV: idempotency key ("" for none), payload
# bytes, "1" if terminal else "0", retention in ms, "1" when the key is a token made
# by ``append`` (kept in KEYS[4]) else "0" (a caller's key, kept in KEYS[3]), how long
# tokens outlive the run's end in ms.
# Returns nil for an unknown run, else {sequence, create time in µs, payload}.
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local index = KEYS[3]
if ARGV[5] == '1' then index = KEYS[4] end
if ARGV[1] ~= '' then
  local seq = redis.call('HGET', index, ARGV[1])
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
if ARGV[1] ~= '' then redis.call('HSET', index, ARGV[1], seq) end
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'ended', '1') end
if redis.call('HGET', KEYS[1], 'ended') == '1' then
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
end
return {tostring(seq), micros, ARGV[2]}
"""

#: How long the tokens of unkeyed appends outlive the run's end, ms: longer than a
#: command's retries (``redis_client.ReconnectRetry``), far shorter than the retention.
TOKEN_TTL_MS = 120_000


class _Keys:
    """The Redis keys of one run's log."""

    def __init__(self, prefix: str, run_id: str) -> None:
        base = f"{prefix}:run:{{{run_id}}}"
        self.meta = f"{base}:meta"
        self.events = f"{base}:events"
        self.idempotency = f"{base}:keys"
        self.tokens = f"{base}:tokens"

    def all(self) -> list[str]:
        return [self.meta, self.events, self.idempotency, self.tokens]


class RedisEventLog:
    """``EventLog`` in Redis Streams (see the module docstring for the key layout).

    Args:
        client: A ``redis.asyncio.Redis`` with ``decode_responses=False``
            (payloads are binary). Not closed by this class.
        prefix: Prepended to every key (``{prefix}:run:...``).
        retention_seconds: How long a log is kept after its terminal event.
        block_ms: Longest single ``XREAD BLOCK`` of the reader, in milliseconds (>= 1).
        max_readers: Connections the reader holds at most (``StreamReader``);
            None: a quarter of the pool's ``max_connections``, between 1 and 4.
        keys_per_read: Waited runs per reader connection before the next one
            is used (``StreamReader``).
        batch_size: Events fetched per ``XRANGE`` while replaying, and per
            run and read while tailing.

    Raises:
        ValueError: ``client`` decodes responses, or a bound is below 1.

    Close with ``aclose()`` (stops the reader; the client stays open).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "runwire",
        retention_seconds: float = 7 * 24 * 3600,
        block_ms: int = 1000,
        max_readers: int | None = None,
        keys_per_read: int = 1000,
        batch_size: int = 100,
    ) -> None:
        kwargs = client.connection_pool.connection_kwargs
        if kwargs.get("decode_responses"):
            raise ValueError("RedisEventLog needs a client with decode_responses=False")
        if block_ms < 1 or batch_size < 1:
            raise ValueError("block_ms and batch_size must be >= 1")
        socket_timeout = kwargs.get("socket_timeout")
        if isinstance(socket_timeout, int | float) and socket_timeout > 0:
            block_ms = max(1, min(block_ms, int(socket_timeout * 500)))
        self._client = client
        self._prefix = prefix
        self._retention_ms = max(1, round(retention_seconds * 1000))
        self._batch_size = batch_size
        self._append = client.register_script(_APPEND)
        #: Where caught-up subscribers wait (started on the first wait).
        self.reader = StreamReader(
            client,
            prefix=prefix,
            block_ms=block_ms,
            count=batch_size,
            max_readers=max_readers,
            keys_per_read=keys_per_read,
        )

    async def aclose(self) -> None:
        """Stops the reader and returns its connections to the pool (idempotent).
        Streams still open afterwards poll."""
        await self.reader.aclose()

    async def create(self, run_id: str) -> None:
        """Makes an empty log for ``run_id`` (idempotent; keeps an existing log)."""
        await reply(self._client.hsetnx(_Keys(self._prefix, run_id).meta, "seq", "0"))

    async def append(
        self, run_id: str, event: event_pb2.RunEvent, *, key: str = ""
    ) -> event_pb2.RunEvent:
        """Logs ``event`` with the next sequence; see ``EventLog.append``.

        Without ``key`` the event gets a random token as its key, so that this call,
        sent again by the client after a lost reply, logs it once.

        Raises:
            NotFoundError: no log for ``run_id`` (``RUN_NOT_FOUND``).
        """
        keys = _Keys(self._prefix, run_id)
        payload = event_pb2.RunEvent()
        payload.CopyFrom(event)
        for name in ("run_id", "sequence", "create_time"):
            payload.ClearField(name)
        terminal = "1" if is_terminal(event) else "0"
        generated = "0" if key else "1"
        args: list[str | bytes | int] = [
            key or secrets.token_urlsafe(12),
            payload.SerializeToString(),
            terminal,
            self._retention_ms,
            generated,
            TOKEN_TTL_MS,
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

        Reads by ``XRANGE`` from its position until it has caught up, then
        waits in the shared reader, which hands over the entries after its
        position as they come. Whatever it yields it checks by sequence (the
        next one, gap-free), and it re-reads by ``XRANGE`` whenever the reader
        hands nothing (a reconnect, a gap), so events appended meanwhile are
        neither lost nor repeated.

        Raises:
            NotFoundError: no log for ``run_id`` (``RUN_NOT_FOUND``), also when
                the log disappears while the stream is open.
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
        if ended and after_sequence >= last:
            return
        loop = asyncio.get_running_loop()
        position = after_sequence
        idle_since = loop.time()
        read = True
        while True:
            if read:
                batch = await self._range(keys.events, run_id, position, self._batch_size)
                again = len(batch) == self._batch_size  # more may follow
                if not batch:
                    last, ended = await self._state(keys, run_id)
                    if ended and position >= last:
                        return
            else:
                wait = heartbeat_interval - (loop.time() - idle_since)
                if wait <= 0:
                    yield heartbeat(run_id)
                    idle_since = loop.time()
                    continue
                entries = await self.reader.wait(keys.events, position, wait, guard=keys.meta)
                if entries is None:
                    continue
                batch, again = _following(run_id, position, entries)
                del entries
            for event in batch:
                position = event.sequence
                yield event
                if is_terminal(event):
                    return
            if batch:
                idle_since = loop.time()
                # A waiting stream holds no event: thousands of them wait at once.
                del batch, event
            read = again

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
            events.append(_from_fields(run_id, sequence, cast("dict[bytes, bytes]", fields)))
        return events


def _following(
    run_id: str, position: int, entries: list[Entry]
) -> tuple[list[event_pb2.RunEvent], bool]:
    """The events of ``entries`` that follow ``position`` without a gap, and
    whether to re-read by ``XRANGE`` (the reader handed nothing, or a gap)."""
    events: list[event_pb2.RunEvent] = []
    for sequence, fields in entries:
        if sequence != position + 1:
            return events, True
        events.append(_from_fields(run_id, sequence, fields))
        position = sequence
    return events, not entries


def _from_fields(run_id: str, sequence: int, fields: dict[bytes, bytes]) -> event_pb2.RunEvent:
    """The event of a stream entry (fields ``t`` and ``ev``; see the module docstring)."""
    return _event(run_id, sequence, int(fields[b"t"]), fields[b"ev"])


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
