"""The ``EventLog`` contract, run against the memory and the Redis Streams logs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import cast

import pytest
import redis.asyncio as redis
from runwire.v1 import event_pb2, run_pb2

from runwire_server.service.core.errors import NotFoundError, OutOfRangeError
from runwire_server.service.stores.events import EventLog
from runwire_server.service.stores.redis_events import RedisEventLog
from tests.support import CONDITION_SECONDS, wait_until

HEARTBEAT = 0.2


def text(delta: str) -> event_pb2.RunEvent:
    return event_pb2.RunEvent(
        text_message_content=event_pb2.TextMessageContent(message_id="msg_1", delta=delta)
    )


def finished() -> event_pb2.RunEvent:
    return event_pb2.RunEvent(
        run_finished=event_pb2.RunFinished(
            state=run_pb2.RUN_STATE_SUCCEEDED, output="done", finish_reason="stop"
        )
    )


def new_run_id() -> str:
    return f"run_{uuid.uuid4().hex}"


async def new_run(log: EventLog, events: int = 0) -> str:
    run_id = new_run_id()
    await log.create(run_id)
    for i in range(events):
        await log.append(run_id, text(f"d{i + 1}"))
    return run_id


def closing(
    stream: AsyncIterator[event_pb2.RunEvent],
) -> aclosing[AsyncGenerator[event_pb2.RunEvent, None]]:
    """``aclosing`` for a subscription (both logs return async generators)."""
    return aclosing(cast("AsyncGenerator[event_pb2.RunEvent, None]", stream))


async def collect(
    stream: AsyncIterator[event_pb2.RunEvent], *, skip_heartbeats: bool = True
) -> list[event_pb2.RunEvent]:
    out = []
    async with closing(stream) as events:
        async for event in events:
            if skip_heartbeats and event.HasField("heartbeat"):
                continue
            out.append(event)
    return out


async def until_waiting(events: AsyncIterator[event_pb2.RunEvent]) -> list[event_pb2.RunEvent]:
    """Reads an open subscription up to its first heartbeat, sent once it has
    replayed the log and waits for new events; returns the events before it.

    Raises:
        AssertionError: the subscription ended first, or sent no heartbeat
            within ``CONDITION_SECONDS``.
    """
    replayed: list[event_pb2.RunEvent] = []
    async with asyncio.timeout(CONDITION_SECONDS):
        async for event in events:
            if event.HasField("heartbeat"):
                return replayed
            replayed.append(event)
    raise AssertionError(f"ended instead of waiting: {[e.sequence for e in replayed]}")


async def rest_of(events: AsyncIterator[event_pb2.RunEvent]) -> list[event_pb2.RunEvent]:
    """The events an open subscription yields until it ends (no heartbeats)."""
    return [event async for event in events if not event.HasField("heartbeat")]


async def assert_each_subscriber_sees_every_event(
    log: EventLog, subscribers: int, events: int
) -> None:
    """Subscribes ``subscribers`` times to a new run of ``log``, each waiting past its
    replay; then appends ``events`` text events and the terminal one. Every subscriber
    must see each of them once, in order (sequences 1 to ``events`` + 1)."""
    run_id = await new_run(log)
    waiting: list[int] = []

    async def subscriber(i: int) -> list[event_pb2.RunEvent]:
        async with closing(log.subscribe(run_id, heartbeat_interval=HEARTBEAT)) as stream:
            replayed = await until_waiting(stream)
            waiting.append(i)
            return replayed + await rest_of(stream)

    tasks = [asyncio.create_task(subscriber(i)) for i in range(subscribers)]
    await wait_until(
        lambda: len(waiting) == subscribers, lambda: f"{len(waiting)} of {subscribers} waiting"
    )
    for i in range(events):
        await log.append(run_id, text(str(i)))
    await log.append(run_id, finished())
    for result in await asyncio.wait_for(asyncio.gather(*tasks), CONDITION_SECONDS):
        assert [e.sequence for e in result] == list(range(1, events + 2))


async def test_append_numbers_events_gap_free_and_stamps_them(event_log: EventLog) -> None:
    run_id = await new_run(event_log)
    logged = [await event_log.append(run_id, text(str(i))) for i in range(5)]
    assert [e.sequence for e in logged] == [1, 2, 3, 4, 5]
    assert all(e.run_id == run_id and e.create_time.seconds > 0 for e in logged)
    assert logged[2].text_message_content.delta == "2"
    assert await event_log.last_sequence(run_id) == 5
    assert await event_log.read(run_id) == logged


async def test_append_ignores_fields_the_log_sets(event_log: EventLog) -> None:
    run_id = await new_run(event_log)
    event = text("x")
    event.run_id, event.sequence = "other", 42
    logged = await event_log.append(run_id, event)
    assert (logged.run_id, logged.sequence) == (run_id, 1)
    assert (await event_log.read(run_id))[0] == logged


async def test_append_with_a_seen_key_logs_nothing_and_returns_the_first(
    event_log: EventLog,
) -> None:
    run_id = await new_run(event_log)
    first = await event_log.append(run_id, text("a"), key="step-1/0")
    await event_log.append(run_id, text("b"))
    again = await event_log.append(run_id, text("changed"), key="step-1/0")
    assert again == first
    assert again.text_message_content.delta == "a"
    assert await event_log.last_sequence(run_id) == 2


async def test_concurrent_appends_are_gap_free_and_deduplicated(event_log: EventLog) -> None:
    run_id = await new_run(event_log)
    keys = [f"k{i % 20}" for i in range(60)]  # each key three times
    logged = await asyncio.gather(
        *(event_log.append(run_id, text(key), key=key) for key in keys),
        *(event_log.append(run_id, text("unkeyed")) for _ in range(20)),
    )
    assert await event_log.last_sequence(run_id) == 40
    events = await event_log.read(run_id, limit=1000)
    assert [e.sequence for e in events] == list(range(1, 41))
    by_key = {e.text_message_content.delta: e.sequence for e in logged[:60]}
    assert len(by_key) == 20
    for event in logged[:60]:
        assert event.sequence == by_key[event.text_message_content.delta]


async def test_read_after_and_limit(event_log: EventLog) -> None:
    run_id = await new_run(event_log, events=10)
    assert [e.sequence for e in await event_log.read(run_id, after_sequence=3, limit=4)] == [
        4,
        5,
        6,
        7,
    ]
    assert [e.sequence for e in await event_log.read(run_id, after_sequence=8)] == [9, 10]
    assert await event_log.read(run_id, after_sequence=10) == []
    assert await event_log.read(run_id, after_sequence=50) == []
    assert await event_log.read(run_id, limit=0) == []


async def test_new_log_is_empty(event_log: EventLog) -> None:
    run_id = await new_run(event_log)
    await event_log.create(run_id)  # idempotent
    assert await event_log.last_sequence(run_id) == 0
    assert await event_log.read(run_id) == []


async def test_create_keeps_an_existing_log(event_log: EventLog) -> None:
    run_id = await new_run(event_log, events=2)
    await event_log.create(run_id)
    assert await event_log.last_sequence(run_id) == 2


async def test_unknown_run_is_not_found(event_log: EventLog) -> None:
    run_id = new_run_id()
    calls = [
        event_log.append(run_id, text("x")),
        event_log.read(run_id),
        event_log.last_sequence(run_id),
        collect(event_log.subscribe(run_id)),
    ]
    for call in calls:
        with pytest.raises(NotFoundError) as err:
            await call
        assert err.value.reason == "RUN_NOT_FOUND"
        assert err.value.metadata == {"run_id": run_id}


async def test_subscribe_replays_then_stops_after_the_terminal_event(
    event_log: EventLog,
) -> None:
    run_id = await new_run(event_log, events=3)
    await event_log.append(run_id, finished())
    events = await collect(event_log.subscribe(run_id, heartbeat_interval=HEARTBEAT))
    assert [e.sequence for e in events] == [1, 2, 3, 4]
    assert events[-1].HasField("run_finished")
    tail = await collect(event_log.subscribe(run_id, after_sequence=2))
    assert [e.sequence for e in tail] == [3, 4]


async def test_subscribe_stops_at_the_terminal_event_even_with_events_after_it(
    event_log: EventLog,
) -> None:
    run_id = await new_run(event_log, events=1)
    await event_log.append(run_id, event_pb2.RunEvent(run_error=event_pb2.RunError()))
    await event_log.append(run_id, text("late"))
    events = await collect(event_log.subscribe(run_id))
    assert [e.sequence for e in events] == [1, 2]


async def test_subscribe_at_the_end_of_an_ended_run_yields_nothing(event_log: EventLog) -> None:
    run_id = await new_run(event_log, events=2)
    await event_log.append(run_id, finished())
    assert await collect(event_log.subscribe(run_id, after_sequence=3)) == []


async def test_subscribe_past_the_end_of_an_ended_run_is_out_of_range(
    event_log: EventLog,
) -> None:
    run_id = await new_run(event_log, events=2)
    await event_log.append(run_id, finished())
    with pytest.raises(OutOfRangeError) as err:
        await collect(event_log.subscribe(run_id, after_sequence=4))
    assert err.value.reason == "SEQUENCE_OUT_OF_RANGE"
    assert err.value.metadata == {"run_id": run_id, "last_sequence": "3"}


async def test_subscribe_past_the_end_of_a_live_run_waits_for_later_events(
    event_log: EventLog,
) -> None:
    run_id = await new_run(event_log, events=2)
    task = asyncio.create_task(collect(event_log.subscribe(run_id, after_sequence=4)))
    for i in range(3):
        await event_log.append(run_id, text(f"more{i}"))
    await event_log.append(run_id, finished())
    assert [e.sequence for e in await asyncio.wait_for(task, CONDITION_SECONDS)] == [5, 6]


async def test_subscribe_tails_live_events_and_nothing_is_lost_or_doubled(
    event_log: EventLog,
) -> None:
    run_id = await new_run(event_log, events=30)
    received: list[int] = []

    async def consume() -> None:
        stream = event_log.subscribe(run_id, after_sequence=5, heartbeat_interval=HEARTBEAT)
        async with closing(stream) as events:
            async for event in events:
                if not event.HasField("heartbeat"):
                    received.append(event.sequence)
                await asyncio.sleep(0)  # let the producer interleave with the replay

    async def produce() -> None:
        for i in range(50):
            await event_log.append(run_id, text(f"live{i}"))
            if i % 7 == 0:
                await asyncio.sleep(0.01)
        await event_log.append(run_id, finished())

    await asyncio.wait_for(asyncio.gather(consume(), produce()), CONDITION_SECONDS)
    assert received == list(range(6, 82))


async def test_many_subscribers_each_see_every_event_once(event_log: EventLog) -> None:
    await assert_each_subscriber_sees_every_event(event_log, subscribers=20, events=10)


async def test_subscribe_sends_heartbeats_while_idle(event_log: EventLog) -> None:
    run_id = await new_run(event_log)  # no events yet: waits instead of NOT_FOUND
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with closing(event_log.subscribe(run_id, heartbeat_interval=HEARTBEAT)) as events:
        first = await asyncio.wait_for(anext(events), CONDITION_SECONDS)
        elapsed = loop.time() - started
        assert first.HasField("heartbeat")
        assert (first.run_id, first.sequence) == (run_id, 0)
        assert elapsed >= HEARTBEAT * 0.8  # after an idle interval, not at once
        second = await asyncio.wait_for(anext(events), CONDITION_SECONDS)
        assert second.HasField("heartbeat")
        await event_log.append(run_id, text("hello"))
        event = await asyncio.wait_for(anext(events), CONDITION_SECONDS)
        while event.HasField("heartbeat"):
            event = await asyncio.wait_for(anext(events), CONDITION_SECONDS)
        assert event.sequence == 1
    assert await event_log.last_sequence(run_id) == 1  # heartbeats are not logged


async def test_subscribe_ends_when_the_run_ends_while_waiting(event_log: EventLog) -> None:
    run_id = await new_run(event_log, events=1)
    stream = event_log.subscribe(run_id, after_sequence=1, heartbeat_interval=HEARTBEAT)
    async with closing(stream) as events:
        assert await until_waiting(events) == []
        await event_log.append(run_id, finished())
        rest = await asyncio.wait_for(rest_of(events), CONDITION_SECONDS)
    assert [e.sequence for e in rest] == [2]


# Redis only.


async def test_two_clients_share_one_log(redis_url: str, redis_prefix: str) -> None:
    writer_client = redis.Redis.from_url(redis_url)
    reader_client = redis.Redis.from_url(redis_url)
    try:
        writer = RedisEventLog(writer_client, prefix=redis_prefix)
        reader = RedisEventLog(reader_client, prefix=redis_prefix, block_ms=100)
        run_id = await new_run(writer, events=2)
        stream = reader.subscribe(run_id, heartbeat_interval=HEARTBEAT)
        async with closing(stream) as events:
            replayed = await until_waiting(events)
            await writer.append(run_id, text("x"), key="k")
            assert (await reader.append(run_id, text("y"), key="k")).sequence == 3
            await writer.append(run_id, finished())
            tailed = await asyncio.wait_for(rest_of(events), CONDITION_SECONDS)
        assert [e.sequence for e in replayed] == [1, 2]
        assert [e.sequence for e in tailed] == [3, 4]
        assert await reader.read(run_id) == await writer.read(run_id)
    finally:
        await writer_client.aclose()
        await reader_client.aclose()


async def _none_exist(client: redis.Redis, keys: list[str]) -> bool:
    return int(await client.exists(*keys)) == 0


async def test_terminal_event_sets_retention_and_expired_logs_are_not_found(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    log = RedisEventLog(redis_client, prefix=redis_prefix, retention_seconds=0.3)
    run_id = await new_run(log)
    await log.append(run_id, text("a"), key="a")
    keys = [f"{redis_prefix}:run:{{{run_id}}}:{name}" for name in ("meta", "events", "keys")]
    assert [await redis_client.pttl(k) for k in keys] == [-1, -1, -1]
    await log.append(run_id, finished())
    for key in keys:
        # Expiring (at most the retention left), or already expired (-2): not kept (-1).
        ttl = await redis_client.pttl(key)
        assert 0 < ttl <= 300 or ttl == -2, (key, ttl)
    await wait_until(
        lambda: _none_exist(redis_client, keys), "the run's keys expired", interval=0.02
    )
    with pytest.raises(NotFoundError):
        await log.read(run_id)
    with pytest.raises(NotFoundError):
        await collect(log.subscribe(run_id))


async def test_many_subscribers_share_a_small_blocking_pool(
    redis_url: str, redis_prefix: str
) -> None:
    # 40 subscribers waiting on a pool of 6 connections: appends and the other
    # commands still get connections, and every subscriber sees every event.
    pool = redis.BlockingConnectionPool.from_url(
        redis_url, max_connections=6, timeout=CONDITION_SECONDS
    )
    client = redis.Redis.from_pool(pool)
    try:
        log = RedisEventLog(client, prefix=redis_prefix, block_ms=100)
        await assert_each_subscriber_sees_every_event(log, subscribers=40, events=5)
    finally:
        await client.aclose()


async def test_rejects_clients_that_decode_responses(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisEventLog(client)
    finally:
        await client.aclose()


async def test_cancelling_a_blocked_subscriber_leaves_the_client_usable(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    # The log's connections carry a name of their own, to find them in CLIENT LIST.
    name = f"blocked-{redis_prefix}"
    client = redis.Redis.from_url(redis_url, client_name=name)
    try:
        log = RedisEventLog(client, prefix=redis_prefix, block_ms=1000)
        run_id = await new_run(log)
        task = asyncio.create_task(collect(log.subscribe(run_id, heartbeat_interval=10)))

        async def blocked_in_xread() -> bool:
            return any(
                c.get("name") == name and c.get("cmd") == "xread" and "b" in c.get("flags", "")
                for c in await redis_client.client_list()
            )

        await wait_until(blocked_in_xread, "a connection of the log blocked in XREAD")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await log.append(run_id, text("after"))).sequence == 1
        assert [e.sequence for e in await log.read(run_id)] == [1]
    finally:
        await client.aclose()
