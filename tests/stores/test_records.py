"""The run, approval, agent and thread store contracts, run against memory and Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import redis.asyncio as redis
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2

from runwire_server.service.core.errors import (
    AbortedError,
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from runwire_server.service.core.messages import ChatMessage, Role, ToolCall
from runwire_server.service.stores.agents import AgentStore
from runwire_server.service.stores.approvals import ApprovalStore
from runwire_server.service.stores.paging import encode_token
from runwire_server.service.stores.redis_agents import RedisAgentStore
from runwire_server.service.stores.redis_approvals import RedisApprovalStore
from runwire_server.service.stores.redis_runs import RedisRunStore
from runwire_server.service.stores.runs import MemoryRunStore, RunStore
from runwire_server.service.stores.threads import ThreadStore
from tests.support import polls


def uid(kind: str) -> str:
    return f"{kind}_{uuid.uuid4().hex}"


def make_run(run_id: str = "", *, agent_id: str = "agent-a", thread_id: str = "") -> run_pb2.Run:
    run = run_pb2.Run(
        run_id=run_id or uid("run"),
        agent_id=agent_id,
        thread_id=thread_id,
        state=run_pb2.RUN_STATE_QUEUED,
    )
    run.create_time.FromDatetime(datetime.now(UTC))
    return run


def logged(run_id: str, sequence: int, event: event_pb2.RunEvent) -> event_pb2.RunEvent:
    out = event_pb2.RunEvent()
    out.CopyFrom(event)
    out.run_id, out.sequence = run_id, sequence
    out.create_time.FromDatetime(datetime.now(UTC))
    return out


def run_events(run_id: str) -> list[event_pb2.RunEvent]:
    return [
        logged(run_id, 1, event_pb2.RunEvent(run_started=event_pb2.RunStarted(agent_id="a"))),
        logged(
            run_id,
            2,
            event_pb2.RunEvent(
                state_changed=event_pb2.StateChanged(state=run_pb2.RUN_STATE_RUNNING)
            ),
        ),
        logged(
            run_id,
            3,
            event_pb2.RunEvent(
                run_finished=event_pb2.RunFinished(
                    state=run_pb2.RUN_STATE_SUCCEEDED, output="42", finish_reason="stop"
                )
            ),
        ),
    ]


# Runs.


async def test_run_create_get_and_unknown(run_store: RunStore) -> None:
    run = make_run()
    stored, created = await run_store.create(run)
    assert created and stored == run
    assert await run_store.get(run.run_id) == run
    with pytest.raises(NotFoundError) as err:
        await run_store.get("run_missing")
    assert err.value.reason == "RUN_NOT_FOUND"
    assert err.value.metadata == {"run_id": "run_missing"}


async def test_run_create_is_idempotent_by_request_id(run_store: RunStore) -> None:
    request_id = uid("req")
    first = make_run()
    assert await run_store.create(first, request_id=request_id) == (first, True)
    assert await run_store.create(make_run(), request_id=request_id) == (first, False)
    assert await run_store.find_request(request_id) == first
    assert await run_store.find_request(uid("req")) is None


async def test_concurrent_creates_with_one_request_id_make_one_run(run_store: RunStore) -> None:
    request_id = uid("req")
    results = await asyncio.gather(
        *(run_store.create(make_run(), request_id=request_id) for _ in range(20))
    )
    assert sum(created for _, created in results) == 1
    assert len({run.run_id for run, _ in results}) == 1
    runs, _ = await run_store.list(
        agent_id="", thread_id="", state=run_pb2.RUN_STATE_UNSPECIFIED, page_size=100, page_token=""
    )
    assert len(runs) == 1


async def test_apply_folds_events_and_is_idempotent(run_store: RunStore) -> None:
    run = make_run()
    await run_store.create(run)
    events = run_events(run.run_id)
    first = await run_store.apply(events[:2])
    assert (first.state, first.last_sequence) == (run_pb2.RUN_STATE_RUNNING, 2)
    done = await run_store.apply(events)
    assert (done.state, done.output, done.last_sequence) == (run_pb2.RUN_STATE_SUCCEEDED, "42", 3)
    assert await run_store.apply(events) == done
    assert await run_store.get(run.run_id) == done


async def test_apply_stops_at_a_gap(run_store: RunStore) -> None:
    run = make_run()
    await run_store.create(run)
    events = run_events(run.run_id)
    assert (await run_store.apply([events[0], events[2]])).last_sequence == 1


async def test_concurrent_applies_agree(run_store: RunStore) -> None:
    run = make_run()
    await run_store.create(run)
    events = run_events(run.run_id)
    results = await asyncio.gather(*(run_store.apply(events[: 1 + i % 3]) for i in range(12)))
    final = await run_store.get(run.run_id)
    assert final.last_sequence == 3 and final.state == run_pb2.RUN_STATE_SUCCEEDED
    assert max(r.last_sequence for r in results) == 3


async def test_apply_to_an_unknown_run_is_not_found(run_store: RunStore) -> None:
    with pytest.raises(NotFoundError) as err:
        await run_store.apply(run_events("run_missing"))
    assert err.value.reason == "RUN_NOT_FOUND"


async def test_run_list_is_newest_first_with_filters_and_pages(run_store: RunStore) -> None:
    agent = uid("agent")
    runs = [
        make_run(agent_id=agent if i % 2 == 0 else uid("other"), thread_id="t1" if i < 4 else "")
        for i in range(8)
    ]
    for run in runs:
        await run_store.create(run)
    await run_store.apply(run_events(runs[6].run_id))

    async def all_pages(
        agent_id: str = "",
        thread_id: str = "",
        state: run_pb2.RunState = run_pb2.RUN_STATE_UNSPECIFIED,
    ) -> list[str]:
        ids: list[str] = []
        token = ""
        while True:
            page, token = await run_store.list(
                agent_id=agent_id,
                thread_id=thread_id,
                state=state,
                page_size=2,
                page_token=token,
            )
            assert len(page) <= 2
            ids += [r.run_id for r in page]
            if not token:
                return ids

    newest_first = [r.run_id for r in reversed(runs)]
    assert await all_pages() == newest_first
    assert await all_pages(agent_id=agent) == [runs[i].run_id for i in (6, 4, 2, 0)]
    assert await all_pages(thread_id="t1") == [runs[i].run_id for i in (3, 2, 1, 0)]
    assert await all_pages(state=run_pb2.RUN_STATE_SUCCEEDED) == [runs[6].run_id]
    assert await all_pages(agent_id=agent, thread_id="t1") == [runs[2].run_id, runs[0].run_id]
    page, token = await run_store.list(
        agent_id="", thread_id="", state=run_pb2.RUN_STATE_UNSPECIFIED, page_size=8, page_token=""
    )
    assert len(page) == 8 and token == ""
    stale, token = await run_store.list(
        agent_id="",
        thread_id="",
        state=run_pb2.RUN_STATE_UNSPECIFIED,
        page_size=8,
        page_token=encode_token("run_gone"),
    )
    assert (stale, token) == ([], "")
    with pytest.raises(InvalidArgumentError) as err:
        await run_store.list(
            agent_id="",
            thread_id="",
            state=run_pb2.RUN_STATE_UNSPECIFIED,
            page_size=2,
            page_token="not a token",
        )
    assert err.value.reason == "INVALID_PAGE_TOKEN"


# Approvals.


def make_approval(run_id: str, state: approval_pb2.ApprovalState) -> approval_pb2.Approval:
    return approval_pb2.Approval(
        approval_id=uid("apr"), run_id=run_id, tool_name="delete", state=state
    )


async def test_approval_put_get_find(approval_store: ApprovalStore) -> None:
    approval = make_approval("run_1", approval_pb2.APPROVAL_STATE_PENDING)
    await approval_store.put(approval)
    assert await approval_store.get(approval.approval_id) == approval
    assert await approval_store.find(approval.approval_id) == approval
    assert await approval_store.find("apr_missing") is None
    with pytest.raises(NotFoundError) as err:
        await approval_store.get("apr_missing")
    assert err.value.reason == "APPROVAL_NOT_FOUND"
    assert err.value.metadata == {"approval_id": "apr_missing"}
    approval.state = approval_pb2.APPROVAL_STATE_APPROVED
    await approval_store.put(approval)
    assert (await approval_store.get(approval.approval_id)).state == (
        approval_pb2.APPROVAL_STATE_APPROVED
    )


async def test_pending_approvals_are_counted_per_tenant(approval_store: ApprovalStore) -> None:
    tenant, other = uid("tenant"), uid("tenant")
    mine = [make_approval("run_1", approval_pb2.APPROVAL_STATE_PENDING) for _ in range(3)]
    for approval in mine:
        approval.tenant = tenant
        await approval_store.put(approval)
    theirs = make_approval("run_2", approval_pb2.APPROVAL_STATE_PENDING)
    theirs.tenant = other
    await approval_store.put(theirs)
    await approval_store.put(mine[0])  # a repeated put counts once
    assert (
        await approval_store.count_pending(tenant),
        await approval_store.count_pending(other),
    ) == (3, 1)
    mine[1].state = approval_pb2.APPROVAL_STATE_REJECTED
    await approval_store.put(mine[1])
    assert await approval_store.count_pending(tenant) == 2
    assert await approval_store.count_pending(uid("tenant")) == 0


async def test_approval_list_is_newest_first_with_filters_and_pages(
    approval_store: ApprovalStore,
) -> None:
    run_a, run_b = uid("run"), uid("run")
    pending = approval_pb2.APPROVAL_STATE_PENDING
    approvals = [make_approval(run_a if i < 5 else run_b, pending) for i in range(8)]
    for approval in approvals:
        await approval_store.put(approval)
    approvals[1].state = approval_pb2.APPROVAL_STATE_REJECTED
    await approval_store.put(approvals[1])  # a replaced approval keeps its place

    async def all_pages(
        run_id: str = "",
        state: approval_pb2.ApprovalState = approval_pb2.APPROVAL_STATE_UNSPECIFIED,
    ) -> list[str]:
        ids: list[str] = []
        token = ""
        while True:
            page, token = await approval_store.list(
                run_id=run_id, state=state, page_size=3, page_token=token
            )
            ids += [a.approval_id for a in page]
            if not token:
                return ids

    ids = [a.approval_id for a in approvals]
    assert await all_pages() == ids[::-1]
    assert await all_pages(run_id=run_b) == ids[5:][::-1]
    assert await all_pages(run_id=run_a, state=pending) == [ids[i] for i in (4, 3, 2, 0)]
    assert await all_pages(state=approval_pb2.APPROVAL_STATE_REJECTED) == [ids[1]]
    assert await all_pages(run_id=uid("run")) == []


# Agents.


def make_agent(agent_id: str = "") -> agent_pb2.Agent:
    return agent_pb2.Agent(agent_id=agent_id or uid("agent"), display_name="Helper")


async def test_agent_create_get_and_duplicates(agent_store: AgentStore) -> None:
    agent = await agent_store.create(make_agent())
    assert agent.etag and agent.create_time.seconds > 0
    assert agent.update_time == agent.create_time
    assert await agent_store.get(agent.agent_id) == agent
    with pytest.raises(AlreadyExistsError) as exists:
        await agent_store.create(make_agent(agent.agent_id))
    assert exists.value.reason == "AGENT_ALREADY_EXISTS"
    with pytest.raises(NotFoundError) as missing:
        await agent_store.get("agent_missing")
    assert missing.value.reason == "AGENT_NOT_FOUND"
    assert missing.value.metadata == {"agent_id": "agent_missing"}


async def test_agent_replace_checks_the_etag(agent_store: AgentStore) -> None:
    agent = await agent_store.create(make_agent())
    change = make_agent(agent.agent_id)
    change.display_name = "Renamed"
    replaced = await agent_store.replace(change, expected_etag=agent.etag)
    assert replaced.display_name == "Renamed" and replaced.etag != agent.etag
    assert replaced.create_time == agent.create_time
    assert await agent_store.get(agent.agent_id) == replaced
    with pytest.raises(AbortedError) as err:
        await agent_store.replace(change, expected_etag=agent.etag)
    assert err.value.reason == "ETAG_MISMATCH"
    assert err.value.metadata == {"agent_id": agent.agent_id, "etag": replaced.etag}
    unconditional = await agent_store.replace(change, expected_etag="")
    assert unconditional.etag not in (agent.etag, replaced.etag)
    with pytest.raises(NotFoundError):
        await agent_store.replace(make_agent("agent_missing"), expected_etag="")


async def test_concurrent_replaces_with_one_etag_let_one_win(agent_store: AgentStore) -> None:
    agent = await agent_store.create(make_agent())
    results = await asyncio.gather(
        *(
            agent_store.replace(make_agent(agent.agent_id), expected_etag=agent.etag)
            for _ in range(8)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, agent_pb2.Agent) for r in results) == 1
    assert all(isinstance(r, agent_pb2.Agent | AbortedError) for r in results)


async def test_agent_list_by_id_with_pages_and_delete(agent_store: AgentStore) -> None:
    ids = ["b", "a", "d", "c", "e"]
    for agent_id in ids:
        await agent_store.create(make_agent(agent_id))
    page, token = await agent_store.list(page_size=2, page_token="")
    assert [a.agent_id for a in page] == ["a", "b"]
    page, token = await agent_store.list(page_size=2, page_token=token)
    assert [a.agent_id for a in page] == ["c", "d"]
    page, token = await agent_store.list(page_size=2, page_token=token)
    assert ([a.agent_id for a in page], token) == (["e"], "")
    page, token = await agent_store.list(page_size=5, page_token="")
    assert len(page) == 5 and token == ""
    await agent_store.delete("c")
    with pytest.raises(NotFoundError):
        await agent_store.get("c")
    with pytest.raises(NotFoundError):
        await agent_store.delete("c")
    page, _ = await agent_store.list(page_size=10, page_token=encode_token("a"))
    assert [a.agent_id for a in page] == ["b", "d", "e"]


# Threads.


def user(text: str) -> ChatMessage:
    return ChatMessage(role=Role.USER, content=text, message_id=uid("msg"))


def assistant_call() -> ChatMessage:
    return ChatMessage(
        role=Role.ASSISTANT,
        tool_calls=(ToolCall(id="call_1", name="lookup", arguments='{"q": 1}'),),
        run_id="run_1",
    )


def tool_result() -> ChatMessage:
    return ChatMessage(role=Role.TOOL, content="result", tool_call_id="call_1")


async def test_thread_create_get_and_duplicates(thread_store: ThreadStore) -> None:
    thread_id = uid("thread")
    created = await thread_store.create(thread_id, {"topic": "x"})
    got = await thread_store.get(thread_id)
    assert (got.thread_id, got.metadata, got.messages, got.active_run_id) == (
        thread_id,
        {"topic": "x"},
        [],
        "",
    )
    assert got.create_time == created.create_time and got.create_time.tzinfo is not None
    with pytest.raises(AlreadyExistsError) as exists:
        await thread_store.create(thread_id, {})
    assert exists.value.reason == "THREAD_ALREADY_EXISTS"
    with pytest.raises(NotFoundError) as missing:
        await thread_store.get("thread_missing")
    assert missing.value.reason == "THREAD_NOT_FOUND"
    assert missing.value.metadata == {"thread_id": "thread_missing"}


async def test_thread_count_follows_create_and_delete(thread_store: ThreadStore) -> None:
    before = await thread_store.count()
    ids = [uid("thread") for _ in range(3)]
    for thread_id in ids:
        await thread_store.create(thread_id, {})
    with pytest.raises(AlreadyExistsError):
        await thread_store.create(ids[0], {})
    assert await thread_store.count() == before + 3
    await thread_store.delete(ids[1])
    assert await thread_store.count() == before + 2


async def test_thread_append_keeps_messages_and_times(thread_store: ThreadStore) -> None:
    thread_id = uid("thread")
    created = await thread_store.create(thread_id, {})
    messages = [user("hi"), assistant_call(), tool_result()]
    await thread_store.append(thread_id, messages)
    record = await thread_store.get(thread_id)
    assert [m.message for m in record.messages] == messages
    assert all(m.create_time >= created.create_time for m in record.messages)
    assert record.update_time == record.messages[-1].create_time
    with pytest.raises(NotFoundError):
        await thread_store.append("thread_missing", messages)


async def test_thread_history_limit_starts_at_a_user_message(thread_store: ThreadStore) -> None:
    thread_id = uid("thread")
    await thread_store.create(thread_id, {})
    first, second = user("one"), user("two")
    await thread_store.append(thread_id, [first, assistant_call(), tool_result()])
    await thread_store.append(thread_id, [second, assistant_call(), tool_result()])
    assert await thread_store.history(thread_id, limit=3) == [
        second,
        assistant_call(),
        tool_result(),
    ]
    assert await thread_store.history(thread_id, limit=5) == [
        second,
        assistant_call(),
        tool_result(),
    ]
    assert len(await thread_store.history(thread_id, limit=6)) == 6
    assert len(await thread_store.history(thread_id, limit=100)) == 6
    assert await thread_store.history(thread_id, limit=2) == []
    with pytest.raises(NotFoundError):
        await thread_store.history("thread_missing", limit=10)


async def test_thread_claim_is_exclusive(thread_store: ThreadStore) -> None:
    thread_id = uid("thread")
    await thread_store.create(thread_id, {})
    await thread_store.claim(thread_id, "run_1")
    await thread_store.claim(thread_id, "run_1")  # the holder may claim again
    with pytest.raises(AbortedError) as busy:
        await thread_store.claim(thread_id, "run_2")
    assert busy.value.reason == "THREAD_BUSY"
    assert busy.value.metadata == {"thread_id": thread_id, "run_id": "run_1"}
    assert (await thread_store.get(thread_id)).active_run_id == "run_1"
    with pytest.raises(FailedPreconditionError) as held:
        await thread_store.delete(thread_id)
    assert held.value.reason == "THREAD_BUSY"
    assert held.value.metadata == {"thread_id": thread_id, "run_id": "run_1"}
    await thread_store.release(thread_id, "run_2")  # not the holder: no-op
    assert (await thread_store.get(thread_id)).active_run_id == "run_1"
    await thread_store.release(thread_id, "run_1")
    await thread_store.claim(thread_id, "run_2")
    await thread_store.release(thread_id, "run_2")
    await thread_store.delete(thread_id)
    with pytest.raises(NotFoundError):
        await thread_store.get(thread_id)
    with pytest.raises(NotFoundError):
        await thread_store.delete(thread_id)
    with pytest.raises(NotFoundError):
        await thread_store.claim(thread_id, "run_3")
    await thread_store.release(thread_id, "run_3")  # unknown thread: no-op


async def test_concurrent_claims_let_one_run_win(thread_store: ThreadStore) -> None:
    thread_id = uid("thread")
    await thread_store.create(thread_id, {})
    results = await asyncio.gather(
        *(thread_store.claim(thread_id, f"run_{i}") for i in range(10)), return_exceptions=True
    )
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, AbortedError) for r in results if r is not None)
    assert (await thread_store.get(thread_id)).active_run_id == f"run_{winners[0]}"


# Redis only.


async def test_run_records_expire_after_the_run_ends(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    store = RedisRunStore(
        redis_client, prefix=redis_prefix, retention_seconds=60, request_ttl_seconds=3600
    )
    run = make_run()
    request_id = uid("req")
    await store.create(run, request_id=request_id)
    record_key = f"{redis_prefix}:run-record:{run.run_id}"
    request_key = f"{redis_prefix}:request:{request_id}"
    # A request id is remembered for its own time, from the request on.
    assert 60_000 < await redis_client.pttl(request_key) <= 3_600_000
    events = run_events(run.run_id)
    await store.apply(events[:2])
    assert await redis_client.pttl(record_key) == -1
    await store.apply(events)
    assert 0 < await redis_client.pttl(record_key) <= 60_000
    assert 60_000 < await redis_client.pttl(request_key) <= 3_600_000


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_request_ids_expire_and_keep_their_fingerprint(
    kind: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    store: MemoryRunStore | RedisRunStore = (
        MemoryRunStore(request_ttl_seconds=0.2)
        if kind == "memory"
        else RedisRunStore(redis_client, prefix=redis_prefix, request_ttl_seconds=0.2)
    )
    first = make_run()
    request_id = uid("req")
    assert await store.create(first, request_id=request_id, fingerprint="f1") == (first, True)
    assert await store.request_fingerprint(first.run_id) == "f1"
    assert await store.find_request(request_id) == first
    async for _ in polls(interval=0.05, seconds=10):
        if await store.find_request(request_id) is None:
            break
    again = make_run()
    assert await store.create(again, request_id=request_id, fingerprint="f2") == (again, True)
    assert await store.request_fingerprint(again.run_id) == "f2"


async def test_expired_runs_leave_listings_and_free_their_request_id(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    store = RedisRunStore(redis_client, prefix=redis_prefix, retention_seconds=0.1)
    ended, live = make_run(), make_run()
    request_id = uid("req")
    await store.create(ended, request_id=request_id)
    await store.create(live)
    await store.apply(run_events(ended.run_id))
    await until_gone(redis_client, f"{redis_prefix}:run-record:{ended.run_id}")
    page, _ = await store.list(
        agent_id="", thread_id="", state=run_pb2.RUN_STATE_UNSPECIFIED, page_size=10, page_token=""
    )
    assert [r.run_id for r in page] == [live.run_id]
    assert await redis_client.zcard(f"{redis_prefix}:runs") == 1
    assert await store.find_request(request_id) is None
    again = make_run()
    assert await store.create(again, request_id=request_id) == (again, True)


async def until_gone(client: redis.Redis, key: str) -> None:
    """Waits until ``key`` has expired (polling: no notification is configured), at most 5 s."""
    for _ in range(500):
        if not await client.exists(key):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} did not expire")


async def test_index_entries_without_a_record(redis_client: redis.Redis, redis_prefix: str) -> None:
    """Run records expire, so their index entries go while listing; agents are
    only deleted with their entry, so a lone entry is skipped and kept."""
    runs = RedisRunStore(redis_client, prefix=redis_prefix, scan_batch=2)
    kept, lost = make_run(), make_run()
    for run in (kept, lost):
        await runs.create(run)
    await redis_client.delete(f"{redis_prefix}:run-record:{lost.run_id}")
    page, token = await runs.list(
        agent_id="", thread_id="", state=run_pb2.RUN_STATE_UNSPECIFIED, page_size=5, page_token=""
    )
    assert ([r.run_id for r in page], token) == ([kept.run_id], "")
    assert await redis_client.zrange(f"{redis_prefix}:runs", 0, -1) == [kept.run_id.encode()]

    agents = RedisAgentStore(redis_client, prefix=redis_prefix)
    for agent_id in ("a", "b", "c"):
        await agents.create(make_agent(agent_id))
    await redis_client.delete(f"{redis_prefix}:agent:b")
    listed, token = await agents.list(page_size=1, page_token=encode_token("a"))
    assert ([a.agent_id for a in listed], token) == (["c"], "")
    assert await redis_client.zcard(f"{redis_prefix}:agents") == 3


async def test_request_key_naming_a_vanished_run_is_taken_over(
    redis_client: redis.Redis, redis_prefix: str
) -> None:
    store = RedisRunStore(redis_client, prefix=redis_prefix)
    request_id = uid("req")
    await redis_client.set(f"{redis_prefix}:request:{request_id}", "run_vanished")
    run = make_run()
    assert await store.create(run, request_id=request_id) == (run, True)
    assert await store.find_request(request_id) == run


async def test_final_approvals_expire(redis_client: redis.Redis, redis_prefix: str) -> None:
    store = RedisApprovalStore(redis_client, prefix=redis_prefix, retention_seconds=60)
    approval = make_approval(uid("run"), approval_pb2.APPROVAL_STATE_PENDING)
    key = f"{redis_prefix}:approval:{approval.approval_id}"
    await store.put(approval)
    assert await redis_client.pttl(key) == -1
    approval.state = approval_pb2.APPROVAL_STATE_CANCELLED
    await store.put(approval)
    ttl = await redis_client.pttl(key)
    assert 0 < ttl <= 60_000
    await store.put(approval)  # kept, not renewed past the first deadline
    assert 0 < await redis_client.pttl(key) <= ttl


async def test_two_clients_share_the_stores(redis_url: str, redis_prefix: str) -> None:
    clients = [redis.Redis.from_url(redis_url) for _ in range(2)]
    try:
        stores = [RedisRunStore(c, prefix=redis_prefix) for c in clients]
        request_id = uid("req")
        results = await asyncio.gather(
            *(s.create(make_run(), request_id=request_id) for s in stores for _ in range(5))
        )
        assert sum(created for _, created in results) == 1
        run = results[0][0]
        await stores[0].apply(run_events(run.run_id)[:2])
        assert (await stores[1].get(run.run_id)).last_sequence == 2
    finally:
        for client in clients:
            await client.aclose()
