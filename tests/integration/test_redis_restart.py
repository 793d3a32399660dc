"""A Redis restart in the middle of an in-process run (issue 14, item 4).

A server of the test's own (in-process runtime, Redis stores) on a redis-server of
the test's own with the append-only file (``appendfsync always``, so the ``kill -9``
loses nothing and events can be counted). A run on a thread streams a long scripted
answer in small deltas; while it does, Redis is killed and, ``OUTAGE_SECONDS`` later,
started again on the same files. The run must go on: the service's commands reconnect with backoff
(``redis_client.ReconnectRetry``) and every write is safe to send twice. Then:

- the run ended SUCCEEDED;
- its log is gap-free and holds every delta once (the answer reads as scripted);
- a stream open across the restart got every event once, as the log has them;
- the thread holds the prompt and the answer once each.

And the case a restart rarely hits but must not double anything: a script that ran
while its reply was lost is sent again by the client, and is done once (an unkeyed
event append, a thread's create, append and delete).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from runwire.v1 import event_pb2, run_pb2, run_service_pb2, thread_pb2

from runwire_server.service.core.errors import NotFoundError
from runwire_server.service.core.messages import ChatMessage, Role
from runwire_server.service.stores.redis_client import (
    RETRY_MAX_PAUSE_SECONDS,
    ReconnectRetry,
    reply,
)
from runwire_server.service.stores.redis_events import TOKEN_TTL_MS, RedisEventLog
from runwire_server.service.stores.redis_runs import RedisRunStore
from runwire_server.service.stores.redis_threads import RedisThreadStore
from tests.conftest import server_settings
from tests.redis_server import OwnRedis, free_port
from tests.stores.test_event_log import finished
from tests.support import (
    Follower,
    Stubs,
    assert_gap_free,
    collect,
    create_agent,
    kinds,
    polls,
    running_server,
    unique,
)

#: The answer the scripted model streams, 4 characters per delta.
ANSWER = " ".join(f"word{i:03d}" for i in range(150))
#: Milliseconds between two deltas: the answer streams for a few seconds.
DELAY_MS = 20
#: Deltas seen on the stream before Redis is killed.
DELTAS_BEFORE_KILL = 10
#: Seconds Redis stays down: the fault's length (a restart that takes this long; far
#: longer than a delta's interval, shorter than the retry budget), not a wait.
OUTAGE_SECONDS = 2.0


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(tmp_path, free_port(), appendonly=True)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


def answer_of(events: list[event_pb2.RunEvent]) -> str:
    return "".join(e.text_message_content.delta for e in events)


async def test_a_run_goes_on_across_a_redis_restart(own_redis: OwnRedis) -> None:
    settings = server_settings("in_process_redis", redis_url=own_redis.url, temporal_address="")
    async with running_server(settings) as server:
        stubs = Stubs.connect(server.addresses[0], token="")
        follower: Follower | None = None
        try:
            agent = await create_agent(stubs, [{"text": ANSWER}], delay_ms=DELAY_MS)
            thread_id = unique("thread")
            await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=thread_id))
            created = await stubs.runs.CreateRun(
                run_service_pb2.CreateRunRequest(
                    agent_id=agent.agent_id, prompt="Say the words.", thread_id=thread_id
                )
            )
            run_id = created.run.run_id
            follower = Follower(stubs, run_id)
            follower.start()
            await follower.wait_for("text_message_content", DELTAS_BEFORE_KILL)

            await own_redis.kill()
            await asyncio.sleep(OUTAGE_SECONDS)
            await own_redis.start()

            streamed = await follower.ended()
            assert streamed[-1].HasField("run_finished"), kinds(streamed)
            assert streamed[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
            assert kinds(streamed).count("text_message_content") > DELTAS_BEFORE_KILL
            assert_gap_free(streamed)
            assert answer_of(streamed) == ANSWER  # every delta once, in order

            # The log, read again, is what the open stream got.
            replay = await collect(
                stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
            )
            assert [e.SerializeToString() for e in replay] == [
                e.SerializeToString() for e in streamed
            ]
            assert kinds(replay).count("run_started") == 1
            assert kinds(replay).count("run_finished") == 1

            run = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))
            assert run.run.state == run_pb2.RUN_STATE_SUCCEEDED

            # The thread got the prompt and the answer once each, and is free again.
            thread = await stubs.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
            assert thread.thread.message_count == 2
            await stubs.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread_id))
        finally:
            if follower is not None:
                await follower.close()
            await stubs.channel.close()


# ----------------------------------------------------------------- replies lost


class LosingConnection(redis.Connection):
    """A connection that drops itself after Redis answered an ``EVALSHA``, while
    ``lose`` > 0: the script ran, its reply is lost, the client sends it again."""

    lose = 0

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        self.last_command = str(args[0]).upper()
        await super().send_command(*args, **kwargs)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        answer = await super().read_response(*args, **kwargs)
        if getattr(self, "last_command", "") == "EVALSHA" and LosingConnection.lose > 0:
            LosingConnection.lose -= 1
            await self.disconnect()
            raise redis.ConnectionError("reply lost (test)")
        return answer


@pytest.fixture
async def losing_client(own_redis: OwnRedis) -> AsyncIterator[redis.Redis]:
    """A client as ``build_stores`` makes it (``ReconnectRetry``), whose connections
    lose the replies of scripts while ``LosingConnection.lose`` > 0."""
    pool = redis.BlockingConnectionPool.from_url(
        own_redis.url, max_connections=4, retry=ReconnectRetry(), connection_class=LosingConnection
    )
    client = redis.Redis.from_pool(pool)
    try:
        yield client
    finally:
        LosingConnection.lose = 0
        await client.aclose()


async def test_an_unkeyed_append_whose_reply_was_lost_is_logged_once(
    losing_client: redis.Redis,
) -> None:
    prefix = unique("lost")
    log = RedisEventLog(losing_client, prefix=prefix)
    try:
        await log.create("run-1")
        event = event_pb2.RunEvent()
        event.text_message_content.delta = "once"
        LosingConnection.lose = 1
        logged = await log.append("run-1", event)  # sent twice: the first reply is lost
        assert LosingConnection.lose == 0
        assert logged.sequence == 1
        again = await log.append("run-1", event)  # a new call: a new event
        assert again.sequence == 2
        assert [e.sequence for e in await log.read("run-1")] == [1, 2]
        # The tokens are kept while the run goes on, and briefly after its end.
        tokens = f"{prefix}:run:{{run-1}}:tokens"
        assert await reply(losing_client.hlen(tokens)) == 2
        assert await losing_client.pttl(tokens) == -1
        await log.append("run-1", finished())
        assert 0 < await losing_client.pttl(tokens) <= TOKEN_TTL_MS
        assert await losing_client.pttl(f"{prefix}:run:{{run-1}}:events") > TOKEN_TTL_MS
    finally:
        await log.aclose()


async def test_thread_writes_whose_replies_were_lost_are_done_once(
    losing_client: redis.Redis,
) -> None:
    threads = RedisThreadStore(losing_client, prefix=unique("lost"))
    LosingConnection.lose = 1
    await threads.create("t", {"k": "v"})  # no THREAD_ALREADY_EXISTS from its own record
    assert LosingConnection.lose == 0
    message = ChatMessage(role=Role.USER, content="hello")
    LosingConnection.lose = 1
    await threads.append("t", [message])
    assert LosingConnection.lose == 0
    assert [m.message.content for m in (await threads.get("t")).messages] == ["hello"]
    await threads.append("t", [message])  # a new call appends again
    assert len((await threads.get("t")).messages) == 2
    LosingConnection.lose = 1
    await threads.delete("t")  # no THREAD_NOT_FOUND from its own delete
    assert LosingConnection.lose == 0
    with pytest.raises(NotFoundError):
        await threads.delete("t")


async def test_a_run_create_whose_reply_was_lost_is_created_once(
    losing_client: redis.Redis,
) -> None:
    runs = RedisRunStore(losing_client, prefix=unique("lost"))
    run = run_pb2.Run(run_id="run-1", agent_id="a", tenant="t", state=run_pb2.RUN_STATE_QUEUED)
    LosingConnection.lose = 1
    stored, created = await runs.create(run, request_id="t/runs.create/r1", fingerprint="f")
    assert LosingConnection.lose == 0
    assert created and stored.run_id == "run-1"  # not "already created by itself"
    other = run_pb2.Run(run_id="run-2", agent_id="a", tenant="t", state=run_pb2.RUN_STATE_QUEUED)
    first, created = await runs.create(other, request_id="t/runs.create/r1", fingerprint="f")
    assert (first.run_id, created) == ("run-1", False)
    assert await runs.count_active("t") == 1


async def test_a_command_gives_up_once_its_retry_budget_is_spent(own_redis: OwnRedis) -> None:
    """Redis gone for good while a command waits for its reply: the command is sent
    again and again for its budget, then fails; the reconnects nested in each attempt
    keep to the same deadline (no multiple of it)."""
    budget = 2.0
    pool = redis.BlockingConnectionPool.from_url(
        own_redis.url, max_connections=2, retry=ReconnectRetry(budget_seconds=budget)
    )
    client = redis.Redis.from_pool(pool)
    watcher = redis.Redis.from_url(own_redis.url)
    try:
        waiting = asyncio.ensure_future(reply(client.blpop(["nothing"], timeout=0)))
        async for _ in polls(interval=0.01):
            if int((await watcher.info("clients"))["blocked_clients"]) == 1:
                break
        else:
            raise AssertionError("BLPOP never blocked")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await own_redis.kill()
        with pytest.raises(redis.ConnectionError):
            await waiting
        elapsed = loop.time() - started
        print(f"gave up after {elapsed:.2f} s (budget {budget:g} s)")
        # The last pause (at most RETRY_MAX_PAUSE_SECONDS) is skipped when it would
        # end past the deadline; a busy machine may add a little.
        assert budget - RETRY_MAX_PAUSE_SECONDS - 0.1 <= elapsed <= 1.5 * budget, elapsed
    finally:
        await watcher.aclose()
        await client.aclose()
        await own_redis.start()  # for the fixture's kill
