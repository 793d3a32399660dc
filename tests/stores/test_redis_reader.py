"""The shared Redis reader of ``RedisEventLog``: many idle streams, few connections.

The tests run on the session's real redis-server, but the restart ones, which
start (and kill) one of their own. Clients are named so that ``CLIENT LIST``
shows exactly the connections of the log under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as redis

from runwire_server.service.core.errors import NotFoundError
from runwire_server.service.stores.factory import REDIS_MAX_CONNECTIONS, REDIS_POOL_TIMEOUT_SECONDS
from runwire_server.service.stores.redis_client import reply
from runwire_server.service.stores.redis_events import RedisEventLog
from tests.redis_server import OwnRedis, free_port
from tests.stores.test_event_log import finished, text
from tests.support import polls

#: Seconds a test waits for a condition at most.
DEADLINE = 30.0


@dataclass
class Subscriber:
    """One subscription consumed in a task: what it received, in order."""

    run_id: str
    sequences: list[int] = field(default_factory=list)
    heartbeats: int = 0
    error: BaseException | None = None
    task: asyncio.Task[None] = field(init=False)


async def consume(log: RedisEventLog, subscriber: Subscriber, after: int, heartbeat: float) -> None:
    stream = log.subscribe(subscriber.run_id, after_sequence=after, heartbeat_interval=heartbeat)
    try:
        async with aclosing(stream) as events:  # type: ignore[type-var]
            async for event in events:
                if event.HasField("heartbeat"):
                    subscriber.heartbeats += 1
                else:
                    subscriber.sequences.append(event.sequence)
    except Exception as exc:
        subscriber.error = exc


def subscribe(
    log: RedisEventLog, run_id: str, *, after: int = 0, heartbeat: float = 60.0
) -> Subscriber:
    subscriber = Subscriber(run_id)
    subscriber.task = asyncio.create_task(consume(log, subscriber, after, heartbeat))
    return subscriber


async def until(condition: Callable[[], bool], what: str) -> None:
    """Waits until ``condition()`` is true (at most ``DEADLINE`` s); fails naming ``what``."""
    async for _ in polls(interval=0.02, seconds=DEADLINE):
        if condition():
            return
    pytest.fail(f"not within {DEADLINE:.0f} s: {what}")


async def named_clients(admin: redis.Redis, name: str) -> list[dict[str, str]]:
    """The ``CLIENT LIST`` entries of connections named ``name``."""
    clients = await admin.client_list()
    return [c for c in clients if c.get("name") == name]


async def commands_of(url: str, addresses: set[str], seconds: float) -> list[str]:
    """The names of the commands Redis processed from ``addresses`` (``ip:port``)
    over ``seconds``, by ``MONITOR`` on a raw connection (one read naming
    hundreds of keys makes a line longer than redis-py's ``Monitor`` reads)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port), limit=2**24)
    names = []
    try:
        writer.write(b"MONITOR\r\n")
        await writer.drain()
        assert await reader.readline() == b"+OK\r\n"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    # +<time> [<db> <ip>:<port>] "<COMMAND>" ...
                    line = (await reader.readline()).decode(errors="replace")
                    client, _, rest = line.partition("] ")
                    if client.rsplit(" ", 1)[-1] in addresses:
                        names.append(rest.split('"', 2)[1].upper())
    finally:
        writer.close()
        await writer.wait_closed()
    return names


@pytest.fixture
async def named(redis_url: str) -> AsyncIterator[tuple[redis.Redis, str]]:
    """A client built as ``build_stores`` builds it (a blocking pool of
    ``REDIS_MAX_CONNECTIONS``), every connection of it named; and the name."""
    name = f"reader-{uuid.uuid4().hex[:10]}"
    pool = redis.BlockingConnectionPool.from_url(
        redis_url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=REDIS_POOL_TIMEOUT_SECONDS,
        client_name=name,
    )
    client = redis.Redis.from_pool(pool)
    yield client, name
    await client.aclose()


async def new_runs(log: RedisEventLog, count: int, events: int = 1) -> list[str]:
    run_ids = [f"run_{uuid.uuid4().hex}" for _ in range(count)]
    for run_id in run_ids:
        await log.create(run_id)
        for i in range(events):
            await log.append(run_id, text(f"d{i}"))
    return run_ids


@contextlib.asynccontextmanager
async def log_on(url: str) -> AsyncIterator[RedisEventLog]:
    """A ``RedisEventLog`` (prefix ``restart``) on a client of its own to the Redis at
    ``url`` (a blocking pool of 16 connections); closed, with its client, on exit."""
    client = redis.Redis.from_pool(redis.BlockingConnectionPool.from_url(url, max_connections=16))
    try:
        async with aclosing(RedisEventLog(client, prefix="restart")) as log:
            yield log
    finally:
        await client.aclose()


async def test_500_idle_streams_share_at_most_16_connections_and_all_get_their_events(
    named: tuple[redis.Redis, str], redis_client: redis.Redis, redis_url: str, redis_prefix: str
) -> None:
    client, name = named
    async with aclosing(RedisEventLog(client, prefix=redis_prefix)) as log:
        run_ids = await new_runs(log, 500)
        subscribers = [subscribe(log, run_id) for run_id in run_ids]
        await until(lambda: all(s.sequences == [1] for s in subscribers), "every replay of event 1")
        await until(lambda: log.reader.keys == 500, "every stream waiting in the reader")
        connections = await named_clients(redis_client, name)
        assert 1 <= len(connections) <= 16
        blocked = [c for c in connections if c.get("cmd") == "xread"]
        assert 1 <= len(blocked) <= 4

        # Idle: no command per stream, one read per block time. (A connection
        # per stream, as before, spent three commands per stream and second.)
        addresses = {c["addr"] for c in connections}
        idle = await commands_of(redis_url, addresses, seconds=2.0)
        assert "XREAD" in idle  # the reader, re-reading once per block time
        assert set(idle) <= {"XREAD", "EXISTS"}
        assert len(idle) <= 10
        assert len(await named_clients(redis_client, name)) <= 16

        # Live: every subscriber gets its next event, then its terminal one.
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(log.append(run_id, text("live")) for run_id in run_ids))
        await until(lambda: all(s.sequences == [1, 2] for s in subscribers), "every live event 2")
        assert loop.time() - started < 10
        await asyncio.gather(*(log.append(run_id, finished()) for run_id in run_ids))
        await asyncio.wait_for(asyncio.gather(*(s.task for s in subscribers)), DEADLINE)
        assert all(s.sequences == [1, 2, 3] and s.error is None for s in subscribers)
        assert len(await named_clients(redis_client, name)) <= 16


async def test_a_new_stream_does_not_wait_for_the_block_time(
    named: tuple[redis.Redis, str], redis_prefix: str
) -> None:
    client, _ = named
    async with aclosing(RedisEventLog(client, prefix=redis_prefix, block_ms=60_000)) as log:
        first, second = await new_runs(log, 2, events=0)
        early = subscribe(log, first)
        await until(lambda: log.reader.connections == 1, "the reader blocking on the first run")
        await until(lambda: log.reader.shards[0].reading, "a read in flight")
        late = subscribe(log, second)  # joins while the read blocks for 60 s
        await until(lambda: log.reader.keys == 2, "the second stream waiting")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await log.append(second, text("x"))
        await until(lambda: late.sequences == [1], "the second stream's event")
        assert loop.time() - started < 10  # far below the 60 s block
        await log.append(first, finished())
        await log.append(second, finished())
        await asyncio.wait_for(asyncio.gather(early.task, late.task), DEADLINE)
        assert (early.sequences, late.sequences) == ([1], [1, 2])


async def test_streams_behind_and_past_the_end_of_one_run_each_get_theirs(
    named: tuple[redis.Redis, str], redis_prefix: str
) -> None:
    client, _ = named
    async with aclosing(RedisEventLog(client, prefix=redis_prefix, block_ms=60_000)) as log:
        (run_id,) = await new_runs(log, 1, events=2)
        ahead = subscribe(log, run_id, after=4)  # past the end of a live run: waits for 5
        behind = subscribe(log, run_id, after=2)
        await until(lambda: log.reader.keys == 1, "both waiting on the run")
        for i in range(4):
            await log.append(run_id, text(f"more{i}"))
        await until(lambda: behind.sequences == [3, 4, 5, 6], "events 3 to 6 behind")
        await until(lambda: ahead.sequences == [5, 6], "events 5 and 6 ahead")
        await log.append(run_id, finished())
        await asyncio.wait_for(asyncio.gather(ahead.task, behind.task), DEADLINE)
        assert behind.sequences == [3, 4, 5, 6, 7]
        assert ahead.sequences == [5, 6, 7]


async def test_keys_are_chunked_over_a_few_reader_connections(
    named: tuple[redis.Redis, str], redis_client: redis.Redis, redis_prefix: str
) -> None:
    client, name = named
    async with aclosing(
        RedisEventLog(client, prefix=redis_prefix, max_readers=3, keys_per_read=10)
    ) as log:
        run_ids = await new_runs(log, 45)
        subscribers = [subscribe(log, run_id) for run_id in run_ids]
        await until(lambda: log.reader.keys == 45, "every stream waiting")
        # Filled 10 at a time, then the least loaded takes the next.
        assert [len(shard.keys) for shard in log.reader.shards] == [15, 15, 15]
        await until(lambda: log.reader.connections == 3, "three reader connections")
        blocked = [c for c in await named_clients(redis_client, name) if c.get("cmd") == "xread"]
        assert len(blocked) == 3
        await asyncio.gather(*(log.append(run_id, finished()) for run_id in run_ids))
        await asyncio.wait_for(asyncio.gather(*(s.task for s in subscribers)), DEADLINE)
        assert all(s.sequences == [1, 2] for s in subscribers)


async def test_a_killed_reader_connection_reconnects_and_nothing_is_lost_or_doubled(
    named: tuple[redis.Redis, str], redis_client: redis.Redis, redis_prefix: str
) -> None:
    client, name = named
    async with aclosing(RedisEventLog(client, prefix=redis_prefix, block_ms=60_000)) as log:
        run_ids = await new_runs(log, 20)
        subscribers = [subscribe(log, run_id) for run_id in run_ids]
        await until(lambda: log.reader.keys == 20, "every stream waiting")

        async def blocked_reader() -> list[dict[str, str]]:
            clients = await named_clients(redis_client, name)
            return [c for c in clients if c.get("cmd") == "xread"]

        for round_ in range(3):
            readers: list[dict[str, str]] = []
            async for _ in polls(interval=0.02, seconds=DEADLINE):
                readers = await blocked_reader()
                if readers:
                    break
            assert len(readers) == 1
            await reply(redis_client.client_kill_filter(_id=readers[0]["id"]))
            # Appended while the reader is down or reconnecting.
            await asyncio.gather(*(log.append(r, text(f"r{round_}")) for r in run_ids))
            expected = list(range(1, round_ + 3))

            def caught_up(expected: list[int] = expected) -> bool:
                return all(s.sequences == expected for s in subscribers)

            await until(caught_up, f"every event after kill {round_ + 1}")
        await asyncio.gather(*(log.append(run_id, finished()) for run_id in run_ids))
        await asyncio.wait_for(asyncio.gather(*(s.task for s in subscribers)), DEADLINE)
        assert all(s.sequences == [1, 2, 3, 4, 5] and s.error is None for s in subscribers)


async def test_a_log_deleted_under_a_waiting_stream_ends_it_with_not_found(
    named: tuple[redis.Redis, str], redis_client: redis.Redis, redis_prefix: str
) -> None:
    client, _ = named
    async with aclosing(RedisEventLog(client, prefix=redis_prefix)) as log:
        log.reader.check_seconds = 0.1
        (run_id,) = await new_runs(log, 1)
        subscriber = subscribe(log, run_id)
        await until(lambda: log.reader.keys == 1, "the stream waiting")
        keys = [f"{redis_prefix}:run:{{{run_id}}}:{name}" for name in ("meta", "events", "keys")]
        await redis_client.delete(*keys)
        await asyncio.wait_for(subscriber.task, DEADLINE)
        assert subscriber.sequences == [1]
        assert isinstance(subscriber.error, NotFoundError)
        assert subscriber.error.reason == "RUN_NOT_FOUND"


async def test_heartbeats_come_while_waiting_in_the_reader(
    named: tuple[redis.Redis, str], redis_prefix: str
) -> None:
    client, _ = named
    async with aclosing(RedisEventLog(client, prefix=redis_prefix, block_ms=60_000)) as log:
        (run_id,) = await new_runs(log, 1, events=0)
        subscriber = subscribe(log, run_id, heartbeat=0.1)
        await until(lambda: subscriber.heartbeats >= 3, "three heartbeats")
        assert log.reader.connections == 1
        await log.append(run_id, finished())
        await asyncio.wait_for(subscriber.task, DEADLINE)
        assert subscriber.sequences == [1]


async def test_the_reader_returns_its_connection_when_idle_and_starts_again(
    named: tuple[redis.Redis, str], redis_prefix: str
) -> None:
    client, _ = named
    async with aclosing(RedisEventLog(client, prefix=redis_prefix, block_ms=100)) as log:
        (run_id,) = await new_runs(log, 1)
        subscriber = subscribe(log, run_id)
        await until(lambda: log.reader.connections == 1, "the reader connected")
        subscriber.task.cancel()
        await asyncio.gather(subscriber.task, return_exceptions=True)
        await until(lambda: log.reader.connections == 0, "the reader stopped")
        assert log.reader.keys == 0
        again = subscribe(log, run_id, after=1)
        await until(lambda: log.reader.connections == 1, "the reader started again")
        await log.append(run_id, finished())
        await asyncio.wait_for(again.task, DEADLINE)
        assert again.sequences == [2]


async def test_streams_open_at_close_go_on_by_polling(
    named: tuple[redis.Redis, str], redis_prefix: str
) -> None:
    client, _ = named
    log = RedisEventLog(client, prefix=redis_prefix, block_ms=100)
    (run_id,) = await new_runs(log, 1)
    subscriber = subscribe(log, run_id)
    await until(lambda: log.reader.connections == 1, "the reader connected")
    await log.aclose()
    assert log.reader.connections == 0
    await log.append(run_id, text("after close"))
    await log.append(run_id, finished())
    await asyncio.wait_for(subscriber.task, DEADLINE)
    assert subscriber.sequences == [1, 2, 3]
    assert log.reader.connections == 0


@pytest.fixture
async def own_redis(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(tmp_path, free_port(), appendonly=bool(request.param))
    await server.start()
    yield server
    await server.kill()


@pytest.mark.parametrize("own_redis", [True], indirect=True, ids=["aof"])
async def test_after_a_redis_restart_waiting_streams_go_on_without_a_gap_or_a_double(
    own_redis: OwnRedis,
) -> None:
    async with log_on(own_redis.url) as log:
        run_ids = await new_runs(log, 10)
        subscribers = [subscribe(log, run_id) for run_id in run_ids]
        await until(lambda: log.reader.keys == 10, "every stream waiting")
        await until(lambda: log.reader.connections == 1, "the reader connected")
        await own_redis.kill()
        await until(lambda: log.reader.connections == 0, "the reader noticing")
        await own_redis.start()
        await until(lambda: log.reader.connections == 1, "the reader reconnected")
        await asyncio.gather(*(log.append(run_id, text("after")) for run_id in run_ids))
        await asyncio.gather(*(log.append(run_id, finished()) for run_id in run_ids))
        await asyncio.wait_for(asyncio.gather(*(s.task for s in subscribers)), DEADLINE)
        assert all(s.sequences == [1, 2, 3] and s.error is None for s in subscribers)


@pytest.mark.parametrize("own_redis", [False], indirect=True, ids=["no-persistence"])
async def test_streams_of_logs_a_redis_restart_lost_end_with_not_found(
    own_redis: OwnRedis,
) -> None:
    async with log_on(own_redis.url) as log:
        run_ids = await new_runs(log, 5)
        subscribers = [subscribe(log, run_id) for run_id in run_ids]
        await until(lambda: log.reader.keys == 5, "every stream waiting")
        await own_redis.kill()
        await own_redis.start()  # empty
        await asyncio.wait_for(asyncio.gather(*(s.task for s in subscribers)), DEADLINE)
        for subscriber in subscribers:
            assert subscriber.sequences == [1]
            assert isinstance(subscriber.error, NotFoundError)
