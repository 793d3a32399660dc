"""The change logs watches follow: in memory and in Redis, written by the stores."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from runwire.v1 import approval_pb2, event_pb2, run_pb2, watch_pb2

from runwire_server.service.stores.approvals import MemoryApprovalStore
from runwire_server.service.stores.changes import (
    ChangeLog,
    CursorExpiredError,
    MemoryChangeLog,
    decode_cursor,
    encode_cursor,
)
from runwire_server.service.stores.redis_approvals import RedisApprovalStore
from runwire_server.service.stores.redis_changes import RedisChangeLog, queue_append
from runwire_server.service.stores.redis_runs import RedisRunStore
from runwire_server.service.stores.runs import MemoryRunStore, RunStore

TENANT = "acme"


def _run(run_id: str, tenant: str = TENANT) -> run_pb2.Run:
    return run_pb2.Run(run_id=run_id, agent_id="a", tenant=tenant, state=run_pb2.RUN_STATE_QUEUED)


def _state(run_id: str, sequence: int, state: run_pb2.RunState) -> event_pb2.RunEvent:
    return event_pb2.RunEvent(
        run_id=run_id, sequence=sequence, state_changed=event_pb2.StateChanged(state=state)
    )


def _approval(approval_id: str, state: approval_pb2.ApprovalState) -> approval_pb2.Approval:
    return approval_pb2.Approval(
        approval_id=approval_id, run_id="r", agent_id="a", tenant=TENANT, state=state
    )


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url)
    yield c
    await c.aclose()


@pytest.fixture(params=["memory", "redis"])
async def logged(
    request: pytest.FixtureRequest, client: aioredis.Redis
) -> AsyncIterator[tuple[ChangeLog, RunStore, MemoryApprovalStore | RedisApprovalStore]]:
    """A change log and the run and approval stores writing to it."""
    if request.param == "memory":
        changes = MemoryChangeLog(max_changes=100)
        yield (
            changes,
            MemoryRunStore(changes=changes),
            MemoryApprovalStore(changes=changes),
        )
        return
    prefix = f"changes-{uuid.uuid4().hex[:8]}"
    log = RedisChangeLog(client, prefix=prefix, max_changes=100)
    yield (
        log,
        RedisRunStore(client, prefix=prefix, max_changes=100),
        RedisApprovalStore(client, prefix=prefix, max_changes=100),
    )
    await log.aclose()


async def test_stores_log_creations_state_changes_and_ends(
    logged: tuple[ChangeLog, RunStore, MemoryApprovalStore | RedisApprovalStore],
) -> None:
    changes, runs, approvals = logged
    start = await changes.head(TENANT)
    await runs.create(_run("r1"))
    await runs.create(_run("r-other", tenant="other"))
    await runs.apply([_state("r1", 1, run_pb2.RUN_STATE_RUNNING)])
    await runs.apply([_state("r1", 1, run_pb2.RUN_STATE_RUNNING)])  # applied already
    # Two state changes folded at once: both are logged, each with its snapshot.
    await runs.apply(
        [
            _state("r1", 2, run_pb2.RUN_STATE_REQUIRES_ACTION),
            _state("r1", 3, run_pb2.RUN_STATE_RUNNING),
        ]
    )
    finished = event_pb2.RunEvent(
        run_id="r1",
        sequence=4,
        run_finished=event_pb2.RunFinished(state=run_pb2.RUN_STATE_SUCCEEDED, output="ok"),
    )
    await runs.apply([finished])
    await approvals.put(_approval("ap1", approval_pb2.APPROVAL_STATE_PENDING))
    await approvals.put(_approval("ap1", approval_pb2.APPROVAL_STATE_PENDING))  # no change
    await approvals.put(_approval("ap1", approval_pb2.APPROVAL_STATE_APPROVED))

    logged_changes = await changes.read(TENANT, start, limit=100)
    seen = [(c.kind, c.type, c.previous_state) for c in logged_changes]
    assert seen == [
        ("run", watch_pb2.CHANGE_TYPE_CREATED, 0),
        ("run", watch_pb2.CHANGE_TYPE_UPDATED, run_pb2.RUN_STATE_QUEUED),
        ("run", watch_pb2.CHANGE_TYPE_UPDATED, run_pb2.RUN_STATE_RUNNING),
        ("run", watch_pb2.CHANGE_TYPE_UPDATED, run_pb2.RUN_STATE_REQUIRES_ACTION),
        ("run", watch_pb2.CHANGE_TYPE_ENDED, run_pb2.RUN_STATE_RUNNING),
        ("approval", watch_pb2.CHANGE_TYPE_CREATED, 0),
        ("approval", watch_pb2.CHANGE_TYPE_ENDED, approval_pb2.APPROVAL_STATE_PENDING),
    ]
    snapshots = [c.run().last_sequence for c in logged_changes[:5]]
    assert snapshots == [0, 1, 2, 3, 4]
    assert logged_changes[4].run().output == ""  # kept without it (run_snapshot)
    assert logged_changes[6].approval().state == approval_pb2.APPROVAL_STATE_APPROVED
    # Reading after the head returns nothing; after a change, what follows it.
    assert await changes.read(TENANT, await changes.head(TENANT), limit=10) == []
    after_third = await changes.read(TENANT, logged_changes[2].position, limit=2)
    assert [c.position for c in after_third] == [c.position for c in logged_changes[3:5]]
    # The other tenant's log holds only its own run.
    other = await changes.read("other", start, limit=10)
    assert [c.run().run_id for c in other] == ["r-other"]


async def test_wait_returns_when_a_change_is_logged(
    logged: tuple[ChangeLog, RunStore, MemoryApprovalStore | RedisApprovalStore],
) -> None:
    changes, runs, _ = logged
    head = await changes.head(TENANT)
    waiting = asyncio.ensure_future(changes.wait(TENANT, head, seconds=30))
    await asyncio.sleep(0)
    assert not waiting.done()
    await runs.create(_run("r-wait"))
    await asyncio.wait_for(waiting, 10)
    assert [c.run().run_id for c in await changes.read(TENANT, head, limit=10)] == ["r-wait"]
    # Nothing new: the wait ends after its seconds.
    await changes.wait(TENANT, await changes.head(TENANT), seconds=0.05)


async def test_unknown_positions_are_expired(
    logged: tuple[ChangeLog, RunStore, MemoryApprovalStore | RedisApprovalStore],
) -> None:
    changes, runs, _ = logged
    await runs.create(_run("r-x"))
    for position in ("nonsense", "9999999999999-0", "abc.1"):
        with pytest.raises(CursorExpiredError) as caught:
            await changes.read(TENANT, position, limit=1)
        assert caught.value.reason == "CURSOR_EXPIRED"
        assert decode_cursor(caught.value.metadata["cursor"]) == position


def test_cursors_are_opaque_and_checked() -> None:
    cursor = encode_cursor("1700000000000-3")
    assert "1700000000000" not in cursor
    assert decode_cursor(cursor) == "1700000000000-3"
    with pytest.raises(CursorExpiredError):
        decode_cursor("not a cursor")
    with pytest.raises(CursorExpiredError):
        decode_cursor(encode_cursor("x")[:-3] + "!!")


async def test_memory_log_drops_the_oldest_and_expires_their_cursors() -> None:
    changes = MemoryChangeLog(max_changes=3)
    runs = MemoryRunStore(changes=changes)
    start = await changes.head(TENANT)
    for n in range(5):
        await runs.create(_run(f"r{n}"))
    with pytest.raises(CursorExpiredError):
        await changes.read(TENANT, start, limit=10)
    kept = await changes.read(TENANT, f"{start.split('.')[0]}.2", limit=10)
    assert [c.run().run_id for c in kept] == ["r2", "r3", "r4"]
    # Another process's (or a restarted one's) positions are unknown.
    with pytest.raises(CursorExpiredError):
        await MemoryChangeLog().read(TENANT, kept[0].position, limit=1)


async def test_redis_log_trims_and_expires_the_trimmed_cursors(client: aioredis.Redis) -> None:
    prefix = f"trim-{uuid.uuid4().hex[:8]}"
    changes = RedisChangeLog(client, prefix=prefix, max_changes=10)
    assert await changes.head(TENANT) == "0-0"
    # Nothing logged yet: the position before everything is valid.
    assert await changes.read(TENANT, "0-0", limit=1) == []
    key = changes.key(TENANT)
    async with client.pipeline(transaction=True) as pipe:
        for _ in range(500):  # MAXLEN ~ trims whole nodes of entries
            queue_append(
                pipe,
                key,
                "run",
                (watch_pb2.CHANGE_TYPE_CREATED, 0),
                b"",
                max_changes=10,
                ttl_ms=60_000,
            )
        await pipe.execute()
    with pytest.raises(CursorExpiredError):
        await changes.read(TENANT, "0-0", limit=1)
    head = await changes.head(TENANT)
    assert await changes.read(TENANT, head, limit=1) == []
    assert await client.xlen(key) < 500
    await changes.aclose()
