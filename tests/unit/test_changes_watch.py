"""The watch hub's list-then-follow: changes logged while it lists are not sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from runwire.v1 import approval_pb2, event_pb2, run_pb2, watch_pb2

from runwire_server.service.api.watches import (
    ApprovalFilter,
    RunFilter,
    Update,
    Watches,
)
from runwire_server.service.auth.quotas import Quotas
from runwire_server.service.core.errors import ResourceExhaustedError
from runwire_server.service.stores.approvals import MemoryApprovalStore
from runwire_server.service.stores.changes import CursorExpiredError, MemoryChangeLog
from runwire_server.service.stores.runs import MemoryRunStore

TENANT = "default"  # the anonymous principal's


class ChangingRuns(MemoryRunStore):
    """A run store whose first ``list`` call runs ``during`` first: changes
    logged after the watch read the log's head, before the listing reads them."""

    def __init__(self, changes: MemoryChangeLog) -> None:
        super().__init__(changes=changes)
        self.during: Callable[[], Awaitable[None]] | None = None

    async def list(self, **kwargs: Any) -> tuple[list[run_pb2.Run], str]:
        during, self.during = self.during, None
        if during is not None:
            await during()
        return await super().list(**kwargs)


def _run(run_id: str) -> run_pb2.Run:
    return run_pb2.Run(run_id=run_id, agent_id="a", tenant=TENANT, state=run_pb2.RUN_STATE_QUEUED)


def _to(run_id: str, sequence: int, state: run_pb2.RunState) -> list[event_pb2.RunEvent]:
    return [
        event_pb2.RunEvent(
            run_id=run_id, sequence=sequence, state_changed=event_pb2.StateChanged(state=state)
        )
    ]


def _hub() -> tuple[Watches, ChangingRuns, MemoryApprovalStore]:
    changes = MemoryChangeLog()
    runs = ChangingRuns(changes)
    approvals = MemoryApprovalStore(changes=changes)
    hub = Watches(changes=changes, runs=runs, approvals=approvals, heartbeat_interval=0.05)
    return hub, runs, approvals


async def _until_heartbeat(updates: AsyncIterator[Update[Any]]) -> list[tuple[int, str, int]]:
    """(type, id, state) of each update before the first heartbeat."""
    out: list[tuple[int, str, int]] = []
    async for update in updates:
        if update.type == watch_pb2.CHANGE_TYPE_HEARTBEAT:
            break
        resource = update.resource
        if resource is None:
            out.append((update.type, "", 0))
        elif isinstance(resource, run_pb2.Run):
            out.append((update.type, resource.run_id, resource.state))
        else:
            out.append((update.type, resource.approval_id, resource.state))
    await updates.aclose()  # type: ignore[attr-defined]
    return out


async def test_changes_the_listing_shows_are_not_sent_again() -> None:
    hub, runs, _ = _hub()
    await runs.create(_run("r1"))
    await runs.apply(_to("r1", 1, run_pb2.RUN_STATE_RUNNING))

    async def during() -> None:
        await runs.apply(_to("r1", 2, run_pb2.RUN_STATE_SUCCEEDED))
        await runs.create(_run("r2"))

    runs.during = during
    updates = hub.watch_runs(RunFilter(), "", TENANT)
    first = [await anext(updates) for _ in range(3)]
    # Logged after SYNCED was sent: the watch sends it.
    await runs.apply(_to("r2", 1, run_pb2.RUN_STATE_RUNNING))
    rest = await _until_heartbeat(updates)
    assert [(u.type, u.resource.run_id if u.resource else "") for u in first] == [
        (watch_pb2.CHANGE_TYPE_EXISTING, "r2"),
        (watch_pb2.CHANGE_TYPE_EXISTING, "r1"),
        (watch_pb2.CHANGE_TYPE_SYNCED, ""),
    ]
    assert rest == [(watch_pb2.CHANGE_TYPE_UPDATED, "r2", run_pb2.RUN_STATE_RUNNING)]
    assert hub.open_watches == 0


async def test_a_run_that_left_the_filter_before_the_listing_is_not_sent() -> None:
    hub, runs, _ = _hub()
    await runs.create(_run("r3"))
    await runs.apply(_to("r3", 1, run_pb2.RUN_STATE_RUNNING))

    async def during() -> None:
        await runs.apply(_to("r3", 2, run_pb2.RUN_STATE_SUCCEEDED))

    runs.during = during
    running = RunFilter(states=frozenset({run_pb2.RUN_STATE_RUNNING}))
    seen = await _until_heartbeat(hub.watch_runs(running, "", TENANT))
    assert seen == [(watch_pb2.CHANGE_TYPE_SYNCED, "", 0)]


async def test_a_resumed_watch_sends_what_left_its_filter() -> None:
    hub, runs, _ = _hub()
    cursor = ""
    running = RunFilter(states=frozenset({run_pb2.RUN_STATE_RUNNING}))
    async for update in hub.watch_runs(running, "", TENANT):
        cursor = update.cursor  # SYNCED
        break
    await runs.create(_run("r4"))
    await runs.apply(_to("r4", 1, run_pb2.RUN_STATE_RUNNING))
    await runs.apply(_to("r4", 2, run_pb2.RUN_STATE_SUCCEEDED))
    seen = await _until_heartbeat(hub.watch_runs(running, cursor, TENANT))
    assert seen == [
        (watch_pb2.CHANGE_TYPE_UPDATED, "r4", run_pb2.RUN_STATE_RUNNING),
        (watch_pb2.CHANGE_TYPE_ENDED, "r4", run_pb2.RUN_STATE_SUCCEEDED),
    ]


async def test_an_inbox_lists_pending_approvals_then_follows() -> None:
    hub, _, approvals = _hub()
    pending = approval_pb2.APPROVAL_STATE_PENDING

    def approval(approval_id: str, state: approval_pb2.ApprovalState) -> approval_pb2.Approval:
        return approval_pb2.Approval(
            approval_id=approval_id, run_id="r", agent_id="a", tenant=TENANT, state=state
        )

    await approvals.put(approval("old", approval_pb2.APPROVAL_STATE_APPROVED))
    await approvals.put(approval("a1", pending))
    updates = hub.watch_approvals(ApprovalFilter(states=frozenset({pending})), "", TENANT)
    first = [await anext(updates) for _ in range(2)]
    await approvals.put(approval("a2", pending))
    await approvals.put(approval("a1", approval_pb2.APPROVAL_STATE_REJECTED))
    rest = await _until_heartbeat(updates)
    assert [(u.type, u.resource.approval_id if u.resource else "") for u in first] == [
        (watch_pb2.CHANGE_TYPE_EXISTING, "a1"),
        (watch_pb2.CHANGE_TYPE_SYNCED, ""),
    ]
    assert rest == [
        (watch_pb2.CHANGE_TYPE_CREATED, "a2", pending),
        (watch_pb2.CHANGE_TYPE_ENDED, "a1", approval_pb2.APPROVAL_STATE_REJECTED),
    ]


async def test_a_watch_that_falls_behind_the_changes_kept_ends_cursor_expired() -> None:
    changes = MemoryChangeLog(max_changes=3)
    runs = MemoryRunStore(changes=changes)
    hub = Watches(
        changes=changes,
        runs=runs,
        approvals=MemoryApprovalStore(changes=changes),
        heartbeat_interval=60,
    )
    updates = hub.watch_runs(RunFilter(), "", TENANT)
    synced = await anext(updates)
    assert synced.type == watch_pb2.CHANGE_TYPE_SYNCED
    # The client reads nothing while 5 changes are logged: 2 of them are dropped.
    for n in range(5):
        await runs.create(_run(f"slow{n}"))
    with pytest.raises(CursorExpiredError) as caught:
        await anext(updates)
    assert caught.value.reason == "CURSOR_EXPIRED"
    assert hub.open_watches == 0
    # Resuming from SYNCED's cursor is refused alike.
    with pytest.raises(CursorExpiredError):
        await anext(hub.watch_runs(RunFilter(), synced.cursor, TENANT))


async def test_open_watches_count_toward_the_streams_of_a_principal() -> None:
    changes = MemoryChangeLog()
    hub = Watches(
        changes=changes,
        runs=MemoryRunStore(changes=changes),
        approvals=MemoryApprovalStore(changes=changes),
        quotas=Quotas(max_open_streams_per_principal=1),
    )
    first = hub.watch_runs(RunFilter(), "", TENANT)
    assert (await anext(first)).type == watch_pb2.CHANGE_TYPE_SYNCED
    second = hub.watch_approvals(ApprovalFilter(), "", TENANT)
    with pytest.raises(ResourceExhaustedError) as caught:
        await anext(second)
    assert caught.value.metadata["limit"] == "max_open_streams_per_principal"
    await first.aclose()  # type: ignore[attr-defined]
    third = hub.watch_approvals(ApprovalFilter(), "", TENANT)
    assert (await anext(third)).type == watch_pb2.CHANGE_TYPE_SYNCED
    await third.aclose()  # type: ignore[attr-defined]
    assert hub.open_watches == 0
