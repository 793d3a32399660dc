"""One blocking ``XREAD`` for many waiting streams: the event streams of a
process share a few Redis connections instead of holding one each.

A subscriber of ``RedisEventLog`` that has caught up with its run's log calls
``StreamReader.wait(key, after, seconds)`` and gets the entries that come after
sequence ``after``. Behind it:

- **Shards.** Waited keys are spread over at most ``max_readers`` shards. A
  shard, while it has keys, holds one connection of the client's pool and loops
  on ``XREAD COUNT c BLOCK b STREAMS <wake> k1 … kn <wake id> id1 … idn``. A new
  key joins the first shard holding fewer than ``keys_per_read`` keys, else the
  least loaded one: a few streams use one connection, 10,000 use
  ``max_readers``, and one command names about ``keys_per_read`` keys until
  every shard is full. At each read Redis registers and unregisters the
  blocked client on every key it names, so a read costs in proportion to its
  keys: that is why keys are chunked rather than all named in one command, and
  why a shard packs its command from cached pieces of each key.
- **Positions.** Entry ids are ``<sequence>-0``. A key is read after the lowest
  position of its waiters. A reply wakes every waiter positioned before the
  last entry returned for its key and hands it the returned entries after its
  position, so a live tail needs no second read. Waiters positioned at or past
  that entry stay registered.
- **Registration.** A registration the read in flight already covers (its key
  is in the read at or below the waiter's position) costs nothing. Otherwise
  (a new key, or a position below the one in flight) the shard is woken: one
  ``XADD`` (``MAXLEN 1``, with a ``PEXPIRE`` of ``WAKE_TTL_MS``) to the shard's
  wake-up stream ``{prefix}:reader:<token>``, which its read also names, so the
  read returns at once and the next one names the new key. At most one wake-up
  is sent per read. Chosen over a short block time, which re-registers every
  key many times a second and still delays a registration by up to the block
  time, and over ``CLIENT UNBLOCK``, an admin command that ACLs and managed
  Redis services often refuse.
- **Lingering.** A key whose last waiter left stays in the reads for
  ``linger_seconds``, so a subscriber that comes back (after a heartbeat, or
  after handing events to its client) needs no wake-up; entries read for it
  meanwhile are remembered by sequence, and a waiter registering behind them
  returns at once to re-read. A shard without keys returns its connection to
  the pool and stops; the next registration starts it again.
- **Spacing.** After a reply with entries, a shard starts its next read no
  sooner than ``SPACING_PER_KEY`` per key it names (at most ``MAX_SPACING``) after
  the previous one: a busy shard gathers events into fewer reads instead of
  re-registering all its keys for every event.
- **Liveness.** Every ``check_seconds`` a shard sends one ``EXISTS`` over the
  guard keys (the run's ``meta`` key) of its waited keys; when one is gone,
  the shard's waiters are woken with nothing, to re-check (a deleted log then
  reads as NOT_FOUND). ``XREAD`` alone would wait on a deleted key forever.
- **Errors.** A failed read (connection lost, Redis restarting or loading, no
  answer within the block time plus ``GRACE_SECONDS``) drops the connection
  (kept when Redis answered with an error) and the keys nobody waits on; the
  shard reconnects at once, then with jittered exponential backoff up to
  ``MAX_BACKOFF_SECONDS``, and once it reads again wakes every waiter with
  nothing. A waiter woken with nothing re-reads from its own
  position (``XRANGE``): subscribers decide what they yield by sequence, so
  nothing is lost or repeated across a reconnect.
- **Close.** ``aclose`` stops the shards and returns their connections; later
  waits poll (sleep at most the block time, then re-check).

Redis Cluster is not supported: one read names keys of many hash slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from typing import Any

import redis.asyncio as redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError, ResponseError

logger = logging.getLogger(__name__)

#: One stream entry: (sequence, fields).
Entry = tuple[int, dict[bytes, bytes]]

#: Seconds a read may take beyond its block time before its connection counts as lost.
GRACE_SECONDS = 5.0
#: Longest pause between reconnection attempts, seconds.
MAX_BACKOFF_SECONDS = 2.0
#: First pause after a second failure in a row, seconds (doubling from there).
BASE_BACKOFF_SECONDS = 0.05
#: Seconds of spacing between a busy shard's reads, per key it names.
SPACING_PER_KEY = 2e-5
#: Longest spacing between a busy shard's reads, seconds.
MAX_SPACING = 0.05
#: Lifetime of a wake-up stream after its last wake-up, milliseconds.
WAKE_TTL_MS = 3_600_000


def _bulk(value: bytes) -> bytes:
    """``value`` as a RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


_XREAD = _bulk(b"XREAD")
_COUNT = _bulk(b"COUNT")
_BLOCK = _bulk(b"BLOCK")
_STREAMS = _bulk(b"STREAMS")


class _Waiter:
    """One ``wait`` call: its position and the future its entries go to."""

    __slots__ = ("after", "future")

    def __init__(self, after: int, future: asyncio.Future[list[Entry]]) -> None:
        self.after = after
        self.future = future


class _Key:
    """A key a shard reads, its waiters and what its reads have shown."""

    __slots__ = (
        "guard",
        "id_at",
        "id_bulk",
        "idle_since",
        "name_bulk",
        "position",
        "read_at",
        "read_generation",
        "seen",
        "waiters",
    )

    def __init__(self, name: str, guard: str, position: int, now: float) -> None:
        self.guard = guard
        self.waiters: set[_Waiter] = set()
        #: Highest sequence a reply returned (0: none since the last reconnect).
        self.seen = 0
        #: Read after this sequence while no waiter is registered.
        self.position = position
        #: Since when the key has had no waiter.
        self.idle_since = now
        #: The key and its last read id as RESP bulk strings (reads pack thousands).
        self.name_bulk = _bulk(name.encode())
        self.id_at = -1
        self.id_bulk = b""
        #: The read that named this key last, and after which sequence.
        self.read_generation = -1
        self.read_at = 0

    def read_after(self) -> int:
        if self.waiters:
            return min(waiter.after for waiter in self.waiters)
        return self.position

    def id_for(self, position: int) -> bytes:
        """The RESP bulk string of id ``<position>-0``."""
        if position != self.id_at:
            self.id_at = position
            self.id_bulk = _bulk(b"%d-0" % position)
        return self.id_bulk


class _Shard:
    """One connection, one blocking read over its keys (see the module docstring)."""

    def __init__(self, reader: StreamReader, index: int) -> None:
        self.reader = reader
        self.index = index
        self.keys: dict[str, _Key] = {}
        self.task: asyncio.Task[None] | None = None
        #: Whether a read is in flight (its keys have ``read_generation == generation``).
        self.reading = False
        #: Reads issued so far; a wake-up is sent at most once per read.
        self.generation = 0
        self.woken_generation = -1
        self.wake_key = f"{reader.prefix}:reader:{uuid.uuid4().hex}"
        self.wake_bulk = _bulk(self.wake_key.encode())
        self.wake_cursor: bytes = b"0-0"
        self.wake_tasks: set[asyncio.Task[None]] = set()
        #: The connection this shard holds, and whether no reply is pending on it.
        self.conn: AbstractConnection | None = None
        self.clean = True
        #: Failed commands in a row; whether waiters must re-check once reconnected.
        self.failures = 0
        self.recheck = False
        self.next_check = 0.0
        self.next_drop = 0.0

    # ------------------------------------------------------------ waiters' side

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name=f"redis-reader-{self.index}")

    def wake_if_needed(self, state: _Key, after: int) -> None:
        """Interrupts the read in flight when it does not cover ``state``'s key after ``after``."""
        if not self.reading:
            return  # the next read names the key
        if state.read_generation == self.generation and state.read_at <= after:
            return
        if self.woken_generation == self.generation:
            return
        self.woken_generation = self.generation
        task = asyncio.create_task(self._send_wake(self.generation))
        self.wake_tasks.add(task)
        task.add_done_callback(self.wake_tasks.discard)

    async def _send_wake(self, generation: int) -> None:
        try:
            async with self.reader.client.pipeline(transaction=False) as pipe:
                pipe.xadd(self.wake_key, {"w": "1"}, maxlen=1, approximate=False)
                pipe.pexpire(self.wake_key, WAKE_TTL_MS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # The read still returns within its block time and names the key then.
            logger.debug("stream reader %d: wake-up failed: %s", self.index, exc)
            if self.woken_generation == generation:
                self.woken_generation = -1

    # ------------------------------------------------------------ the read loop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self.failures = 0
        self.recheck = False
        self.next_check = loop.time() + self.reader.check_seconds
        try:
            while True:
                if loop.time() >= self.next_drop:
                    self.next_drop = loop.time() + self.reader.linger_seconds / 4
                    self._drop_idle(loop.time())
                if not self.keys:
                    self.task = None
                    return
                if self.conn is None and not await self._connect():
                    continue
                if self.recheck:  # reading again after a failure
                    self.recheck = False
                    self._wake_all(loop.time())
                await self._step()
        finally:
            self.reading = False
            if self.task is asyncio.current_task():
                # Cancelled (aclose): nobody may wait on a shard that no longer reads.
                self.task = None
                self._wake_all(loop.time())
            conn, self.conn = self.conn, None
            if conn is not None:
                try:
                    if not self.clean:
                        await conn.disconnect()
                finally:
                    self.clean = True
                    await self.reader.pool.release(conn)

    async def _connect(self) -> bool:
        """Takes a connection from the pool; False (after a pause) when that failed."""
        try:
            self.conn = await self.reader.pool.get_connection()  # type: ignore[no-untyped-call]
        except (RedisError, OSError) as exc:
            await self._failure(exc)
            return False
        return True

    async def _step(self) -> None:
        """One read (and, when due, one check of the guards), its reply delivered."""
        conn = self.conn
        assert conn is not None
        loop = asyncio.get_running_loop()
        try:
            self.clean = False
            if loop.time() >= self.next_check:
                self.next_check = loop.time() + self.reader.check_seconds
                await self._check_guards(conn)
            started = loop.time()
            reply = await self._read(conn)
            self.clean = True
        except Exception as exc:
            await self._failure(exc)
            return
        if self.failures:
            logger.info(
                "stream reader %d: reading again after %d failures", self.index, self.failures
            )
            self.failures = 0
        if self._deliver(reply, loop.time()):
            spacing = min(MAX_SPACING, len(self.keys) * SPACING_PER_KEY)
            delay = started + spacing - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

    async def _failure(self, exc: Exception) -> None:
        """After a failed command: drops a connection in doubt, pauses (backoff)."""
        self.failures += 1
        if isinstance(exc, RedisError | OSError):
            log = logger.warning if self.failures == 1 else logger.debug
            log("stream reader %d: Redis read failed (%s); retrying", self.index, exc)
        else:
            logger.exception("stream reader %d failed", self.index)
        conn = self.conn
        if conn is not None and not (self.clean or isinstance(exc, ResponseError)):
            self.conn = None
            try:
                await conn.disconnect()
            finally:
                await self.reader.pool.release(conn)
        self.clean = True
        self.recheck = True
        self._drop_unwaited()
        await asyncio.sleep(_backoff(self.failures))

    async def _read(self, conn: AbstractConnection) -> Any:
        """One blocking XREAD over the wake-up stream and every key; its raw reply.

        Packed here from each key's cached RESP pieces rather than by redis-py,
        whose packing of thousands of arguments dominates a shard's own work.
        """
        reader = self.reader
        self.generation += 1
        generation = self.generation
        names = []
        ids = []
        for state in self.keys.values():
            position = state.read_after()
            state.read_generation, state.read_at = generation, position
            names.append(state.name_bulk)
            ids.append(state.id_for(position))
        head = b"*%d\r\n%s%s%s%s%s%s" % (
            8 + 2 * len(names),
            _XREAD,
            _COUNT,
            _bulk(b"%d" % reader.count),
            _BLOCK,
            _bulk(b"%d" % reader.block_ms),
            _STREAMS,
        )
        command = [head, self.wake_bulk, *names, _bulk(self.wake_cursor), *ids]
        self.reading = True
        try:
            await conn.send_packed_command(command)
            async with asyncio.timeout(reader.block_ms / 1000 + GRACE_SECONDS):
                return await conn.read_response()
        finally:
            self.reading = False

    async def _check_guards(self, conn: AbstractConnection) -> None:
        """Wakes the waiters to re-check when a guard key of a waited key is gone."""
        guards = [state.guard for state in self.keys.values() if state.waiters and state.guard]
        if not guards:
            return
        await conn.send_command("EXISTS", *guards)
        async with asyncio.timeout(GRACE_SECONDS):
            present = await conn.read_response()
        if int(present) < len(guards):
            logger.debug("stream reader %d: a waited log is gone", self.index)
            self._wake_all(asyncio.get_running_loop().time())

    def _deliver(self, reply: Any, now: float) -> bool:
        """Hands a reply's entries to the waiters; True if any key had entries."""
        delivered = False
        for raw_name, raw_entries in _streams(reply):
            name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
            if not raw_entries:
                continue
            if name == self.wake_key:
                self.wake_cursor = bytes(raw_entries[-1][0])
                continue
            state = self.keys.get(name)
            if state is None:
                continue
            entries = [_entry(raw) for raw in raw_entries if raw[1] is not None]
            if not entries:
                continue
            delivered = True
            first, top = entries[0][0], entries[-1][0]
            state.seen = max(state.seen, top)
            state.position = max(state.position, top)
            for waiter in [w for w in state.waiters if w.after < top]:
                state.waiters.discard(waiter)
                if not waiter.future.done():
                    after = waiter.after
                    waiter.future.set_result(
                        entries if after < first else [e for e in entries if e[0] > after]
                    )
            if not state.waiters:
                state.idle_since = now
        return delivered

    def _wake_all(self, now: float) -> None:
        """Wakes every waiter with nothing (each re-reads from its position)."""
        for state in self.keys.values():
            state.seen = 0
            for waiter in state.waiters:
                if not waiter.future.done():
                    waiter.future.set_result([])
            if state.waiters:
                state.waiters.clear()
                state.idle_since = now

    def _drop_idle(self, now: float) -> None:
        linger = self.reader.linger_seconds
        for name in [
            name
            for name, state in self.keys.items()
            if not state.waiters and now - state.idle_since >= linger
        ]:
            self._drop(name)

    def _drop_unwaited(self) -> None:
        for name in [name for name, state in self.keys.items() if not state.waiters]:
            self._drop(name)

    def _drop(self, name: str) -> None:
        del self.keys[name]
        if self.reader.shard_of.get(name) is self:
            del self.reader.shard_of[name]

    def _failed(self, failures: int, exc: BaseException) -> None:
        log = logger.warning if failures == 1 else logger.debug
        log("stream reader %d: Redis read failed (%s); retrying", self.index, exc)


class StreamReader:
    """Waits for new entries of many Redis streams over a few shared connections.

    For streams whose entry ids are ``<sequence>-0``. Connections come from
    ``client``'s pool: a shard takes one when it gets its first key and gives
    it back when it has had none for ``linger_seconds``.

    Args:
        client: The ``redis.asyncio.Redis`` whose pool lends the connections
            (and sends the wake-ups). Not closed here.
        prefix: Prefix of the wake-up stream keys (``{prefix}:reader:<token>``).
        block_ms: Longest single ``XREAD BLOCK``, milliseconds (>= 1).
        count: Entries returned per key and read (``XREAD COUNT``, >= 1).
        max_readers: Shards, hence connections, at most; None: a quarter of the
            pool's ``max_connections``, between 1 and 4.
        keys_per_read: Keys a shard takes before the next shard is used (>= 1).
        linger_seconds: How long a key stays in the reads after its last waiter
            left; None: twice the block time, at least 1 s.
        check_seconds: Seconds between checks that waited logs still exist.

    Raises:
        ValueError: a bound is below 1.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        block_ms: int = 1000,
        count: int = 100,
        max_readers: int | None = None,
        keys_per_read: int = 1000,
        linger_seconds: float | None = None,
        check_seconds: float = 15.0,
    ) -> None:
        if block_ms < 1 or count < 1 or keys_per_read < 1:
            raise ValueError("block_ms, count and keys_per_read must be >= 1")
        if max_readers is None:
            max_readers = min(4, max(1, client.connection_pool.max_connections // 4))
        if max_readers < 1:
            raise ValueError("max_readers must be >= 1")
        self.client = client
        self.pool = client.connection_pool
        self.prefix = prefix
        self.block_ms = block_ms
        self.count = count
        self.keys_per_read = keys_per_read
        self.linger_seconds = (
            max(1.0, 2 * block_ms / 1000) if linger_seconds is None else linger_seconds
        )
        self.check_seconds = check_seconds
        self.shards = [_Shard(self, index) for index in range(max_readers)]
        #: The shard each known key belongs to.
        self.shard_of: dict[str, _Shard] = {}
        self._closed = False

    @property
    def connections(self) -> int:
        """Connections the shards hold now."""
        return sum(1 for shard in self.shards if shard.conn is not None)

    @property
    def keys(self) -> int:
        """Keys the shards read now (waited, or lingering)."""
        return len(self.shard_of)

    async def wait(
        self, key: str, after: int, seconds: float, *, guard: str = ""
    ) -> list[Entry] | None:
        """Waits for entries of stream ``key`` with a sequence above ``after``.

        Args:
            key: The stream.
            after: The caller's position: the last sequence it has.
            seconds: How long to wait at most.
            guard: A key whose deletion wakes the caller (to re-check), e.g.
                the key that says the stream's log exists.

        Returns:
            None when ``seconds`` passed with nothing new. Otherwise the entries
            after ``after`` that a read returned, in order (at most ``count``;
            there may be more), or an empty list: something may have changed
            (a reconnect, a deleted guard, entries already read past ``after``),
            re-read from ``after``.
        """
        if seconds <= 0:
            return None
        loop = asyncio.get_running_loop()
        if self._closed:
            pause = min(seconds, self.block_ms / 1000)
            await asyncio.sleep(pause)
            return None if pause >= seconds else []
        shard = self.shard_of.get(key)
        if shard is None:
            shard = self._pick_shard()
            self.shard_of[key] = shard
            shard.keys[key] = _Key(key, guard, after, loop.time())
        state = shard.keys[key]
        if state.seen > after:
            # Once: a stream deleted under its log must not make callers spin.
            state.seen = 0
            return []
        if guard:
            state.guard = guard
        waiter = _Waiter(after, loop.create_future())
        state.waiters.add(waiter)
        shard.start()
        shard.wake_if_needed(state, after)
        try:
            async with asyncio.timeout(seconds):
                return await waiter.future
        except TimeoutError:
            if waiter.future.done() and not waiter.future.cancelled():
                return waiter.future.result()
            return None
        finally:
            if waiter in state.waiters:
                state.waiters.discard(waiter)
                state.position = max(state.position, after)
                if not state.waiters:
                    state.idle_since = loop.time()

    def _pick_shard(self) -> _Shard:
        for shard in self.shards:
            if len(shard.keys) < self.keys_per_read:
                return shard
        return min(self.shards, key=lambda shard: len(shard.keys))

    async def aclose(self) -> None:
        """Stops every shard and returns its connection to the pool. Idempotent."""
        self._closed = True
        tasks: list[asyncio.Task[None]] = []
        for shard in self.shards:
            if shard.task is not None:
                tasks.append(shard.task)
            tasks.extend(shard.wake_tasks)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)


def _backoff(failures: int) -> float:
    """Seconds to pause after ``failures`` failures in a row: none after the first."""
    if failures <= 1:
        return 0.0
    delay = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** (failures - 2))
    return float(delay * random.uniform(0.5, 1.0))


def _streams(reply: Any) -> list[tuple[Any, Any]]:
    """(key, entries) pairs of an XREAD reply (RESP2 list or RESP3 map; None: timeout)."""
    if reply is None:
        return []
    if isinstance(reply, dict):
        return list(reply.items())
    return [(item[0], item[1]) for item in reply]


def _entry(raw: Any) -> Entry:
    entry_id, flat = raw
    fields = flat if isinstance(flat, dict) else dict(zip(flat[::2], flat[1::2], strict=True))
    return int(bytes(entry_id).split(b"-", 1)[0]), fields
