"""Watches (issue 17, item 1): WatchRuns and WatchApprovals, on every runtime.

A watch lists what matches (EXISTING, then SYNCED), then follows the tenant's
change log; it resumes after a cursor with nothing missed or repeated, also on
another replica after a drain; a cursor the server does not know is
OUT_OF_RANGE (CURSOR_EXPIRED). Filters keep a change whose resource matches
before or after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
import runwire
from pydantic import SecretStr
from runwire import WatchResume
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    run_pb2,
    run_service_pb2,
    watch_pb2,
)

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.service.stores.changes import encode_cursor
from tests.support import (
    PARITY_CALLERS,
    PARITY_PRINCIPAL,
    PARITY_TOKEN,
    Stubs,
    create_agent,
    polls,
    run_until,
    running_server,
    status_details,
    unique,
)

EXISTING = watch_pb2.CHANGE_TYPE_EXISTING
SYNCED = watch_pb2.CHANGE_TYPE_SYNCED
CREATED = watch_pb2.CHANGE_TYPE_CREATED
UPDATED = watch_pb2.CHANGE_TYPE_UPDATED
ENDED = watch_pb2.CHANGE_TYPE_ENDED
HEARTBEAT = watch_pb2.CHANGE_TYPE_HEARTBEAT

RUNNING = run_pb2.RUN_STATE_RUNNING
SUCCEEDED = run_pb2.RUN_STATE_SUCCEEDED
PENDING = approval_pb2.APPROVAL_STATE_PENDING

APPROVAL_SCRIPT: list[dict[str, object]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "hi"}}]},
    {"text": "done"},
]


@dataclass
class Watch:
    """A WatchRuns or WatchApprovals call read in a background task: every
    message but heartbeats in ``messages``, the error that ended it in ``error``."""

    call: Any
    messages: list[Any] = field(default_factory=list)
    heartbeats: list[Any] = field(default_factory=list)
    error: grpc.aio.AioRpcError | None = None
    task: asyncio.Task[None] | None = None

    def start(self) -> Watch:
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for message in self.call:
                (self.heartbeats if message.type == HEARTBEAT else self.messages).append(message)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc

    def resources(self, *types: int) -> list[Any]:
        """The runs or approvals of the messages of ``types`` (every type when none)."""
        kind = "run" if hasattr(self.messages[0] if self.messages else None, "run") else "approval"
        return [
            getattr(m, kind)
            for m in self.messages
            if m.HasField(kind) and (not types or m.type in types)
        ]

    async def until(self, what: str, condition: Any) -> None:
        async for _ in polls(interval=0.01):
            if condition(self):
                return
            if self.error is not None:
                raise AssertionError(f"{what}: the watch ended with {self.error!r}")
        raise AssertionError(f"not within time: {what}; messages: {self.summary()}")

    def summary(self) -> list[tuple[str, str, str]]:
        out = []
        for m in self.messages:
            if m.HasField("run"):
                out.append((m.run.run_id, run_pb2.RunState.Name(m.run.state)))
            elif hasattr(m, "approval") and m.HasField("approval"):
                a = m.approval
                out.append((a.approval_id, approval_pb2.ApprovalState.Name(a.state)))
            else:
                out.append(("", ""))
        return [
            (watch_pb2.ChangeType.Name(m.type), *o) for m, o in zip(self.messages, out, strict=True)
        ]

    async def close(self) -> None:
        self.call.cancel()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@contextlib.asynccontextmanager
async def watching(stubs: Stubs, **request: Any) -> AsyncIterator[Watch]:
    """A WatchRuns of ``request``'s filter, started; closed after the block."""
    watch = Watch(stubs.runs.WatchRuns(run_service_pb2.WatchRunsRequest(**request))).start()
    try:
        yield watch
    finally:
        await watch.close()


@contextlib.asynccontextmanager
async def inbox(stubs: Stubs, **request: Any) -> AsyncIterator[Watch]:
    """A WatchApprovals of ``request``'s filter, started; closed after the block."""
    call = stubs.approvals.WatchApprovals(approval_pb2.WatchApprovalsRequest(**request))
    watch = Watch(call).start()
    try:
        yield watch
    finally:
        await watch.close()


def synced(watch: Watch) -> bool:
    return any(m.type == SYNCED for m in watch.messages)


def ended_ids(watch: Watch) -> set[str]:
    return {r.run_id for r in watch.resources(ENDED)}


def ended(run_ids: set[str]) -> Any:
    def done(watch: Watch) -> bool:
        return run_ids <= ended_ids(watch)

    return done


async def finished_run(stubs: Stubs, agent_id: str, **extra: Any) -> run_pb2.Run:
    created = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent_id, prompt="p", **extra)
    )
    return await in_state(stubs, created.run.run_id, SUCCEEDED)


async def in_state(stubs: Stubs, run_id: str, state: int) -> run_pb2.Run:
    name = run_pb2.RunState.Name(state)
    return await run_until(stubs, run_id, lambda r: r.state == state, name)


async def test_watch_runs_lists_then_follows_and_resumes_after_a_cursor(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "hello"}])
    before = await finished_run(stubs, agent.agent_id)
    async with watching(stubs, agent_id=agent.agent_id) as watch:
        await watch.until("synced", synced)
        assert [m.type for m in watch.messages] == [EXISTING, SYNCED]
        assert watch.messages[0].run.run_id == before.run_id
        assert watch.messages[0].run.state == SUCCEEDED
        run = await finished_run(stubs, agent.agent_id)
        await watch.until("the new run ended", ended({run.run_id}))
    changes = watch.messages[2:]
    assert {m.run.run_id for m in changes} == {run.run_id}
    assert changes[0].type == CREATED
    assert changes[0].run.state == run_pb2.RUN_STATE_QUEUED
    assert changes[-1].type == ENDED
    assert changes[-1].run.state == SUCCEEDED
    assert changes[-1].run.output == ""  # never in a watch: GetRun has it
    assert all(m.type == UPDATED for m in changes[1:-1])
    sequences = [m.run.last_sequence for m in changes]
    assert sequences == sorted(set(sequences)), watch.summary()
    # Resumed after the CREATED message: exactly what followed it, no EXISTING or SYNCED.
    async with watching(stubs, agent_id=agent.agent_id, cursor=changes[0].cursor) as resumed:
        await resumed.until("the run ended again", ended({run.run_id}))
    assert resumed.messages == changes[1:]


async def test_a_state_filter_sees_runs_arrive_and_leave(stubs: Stubs) -> None:
    """A watch of RUNNING runs gets the change into RUNNING (it matches after) and
    the change out of it (it matched before), not the creation (QUEUED)."""
    agent = await create_agent(
        stubs, APPROVAL_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    async with watching(stubs, agent_id=agent.agent_id, states=[RUNNING]) as watch:
        await watch.until("synced", synced)
        created = await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        run_id = created.run.run_id
        waiting = await in_state(stubs, run_id, run_pb2.RUN_STATE_REQUIRES_ACTION)
        await stubs.approvals.ResolveApproval(
            approval_pb2.ResolveApprovalRequest(
                approval_id=waiting.required_actions[0].approval_id,
                decision=approval_pb2.APPROVAL_DECISION_APPROVE,
            )
        )
        await in_state(stubs, run_id, SUCCEEDED)
        await watch.until("the run ended", ended({run_id}))
    states = [(m.type, m.run.state) for m in watch.messages[1:]]
    assert states == [
        (UPDATED, RUNNING),
        (UPDATED, run_pb2.RUN_STATE_REQUIRES_ACTION),
        (UPDATED, RUNNING),
        (ENDED, SUCCEEDED),
    ], watch.summary()


async def test_label_and_thread_filters(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "x"}])
    ticket = unique("ticket")
    async with watching(stubs, labels={"ticket": ticket}) as watch:
        await watch.until("synced", synced)
        await finished_run(stubs, agent.agent_id)  # no label: not seen
        labelled = await finished_run(stubs, agent.agent_id, labels={"ticket": ticket, "u": "1"})
        await watch.until("the labelled run ended", ended({labelled.run_id}))
    assert {r.run_id for r in watch.resources()} == {labelled.run_id}
    # A new watch lists it as EXISTING.
    async with watching(stubs, labels={"ticket": ticket}, thread_id="") as again:
        await again.until("synced", synced)
    assert [(m.type, m.run.run_id) for m in again.messages] == [
        (EXISTING, labelled.run_id),
        (SYNCED, ""),
    ]
    assert dict(again.messages[0].run.labels) == {"ticket": ticket, "u": "1"}


async def test_approvals_inbox_pending_first_then_new_then_resolved(stubs: Stubs) -> None:
    agent = await create_agent(
        stubs, APPROVAL_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )

    async def waiting_run() -> tuple[str, str]:
        created = await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        run = await in_state(stubs, created.run.run_id, run_pb2.RUN_STATE_REQUIRES_ACTION)
        return run.run_id, run.required_actions[0].approval_id

    first_run, first = await waiting_run()
    async with inbox(stubs, agent_id=agent.agent_id, states=[PENDING]) as watch:
        await watch.until("synced", synced)
        assert [(m.type, m.approval.approval_id) for m in watch.messages] == [
            (EXISTING, first),
            (SYNCED, ""),
        ]
        second_run, second = await waiting_run()
        await watch.until(
            "the second approval arrives",
            lambda w: second in {a.approval_id for a in w.resources(CREATED)},
        )
        await stubs.approvals.ResolveApproval(
            approval_pb2.ResolveApprovalRequest(
                approval_id=first, decision=approval_pb2.APPROVAL_DECISION_APPROVE
            )
        )
        await watch.until(
            "the first approval leaves",
            lambda w: first in {a.approval_id for a in w.resources(ENDED)},
        )
        await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=second_run))
        await watch.until(
            "the second approval is cancelled",
            lambda w: second in {a.approval_id for a in w.resources(ENDED)},
        )
    changes = [(m.type, m.approval.approval_id, m.approval.state) for m in watch.messages[2:]]
    assert changes == [
        (CREATED, second, PENDING),
        (ENDED, first, approval_pb2.APPROVAL_STATE_APPROVED),
        (ENDED, second, approval_pb2.APPROVAL_STATE_CANCELLED),
    ]
    await in_state(stubs, first_run, SUCCEEDED)


async def test_unknown_cursors_are_cursor_expired(stubs: Stubs) -> None:
    for cursor in ("garbage", encode_cursor("abc.1"), encode_cursor("99999999999999-0")):
        call = stubs.runs.WatchRuns(run_service_pb2.WatchRunsRequest(cursor=cursor))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
        assert caught.value.code() == grpc.StatusCode.OUT_OF_RANGE
        details = status_details(caught.value)
        assert details.reason == "CURSOR_EXPIRED"
        assert details.metadata["cursor"]


async def test_idle_watches_get_heartbeats_with_the_newest_cursor(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "x"}])
    async with watching(stubs, agent_id=unique("nobody")) as watch:
        await watch.until("synced", synced)
        run = await finished_run(stubs, agent.agent_id)  # another agent: filtered out
        await watch.until("a heartbeat", lambda w: len(w.heartbeats) >= 2)
        beat = watch.heartbeats[-1]
    assert not beat.HasField("run")
    assert [m.type for m in watch.messages] == [SYNCED]
    # The heartbeat's cursor is past the filtered-out changes: nothing follows it.
    async with watching(stubs, cursor=beat.cursor) as resumed:
        await resumed.until("a heartbeat", lambda w: len(w.heartbeats) >= 1)
    assert run.run_id not in {r.run_id for r in resumed.resources()}


async def test_watches_are_tenant_scoped(server: RunwireServer, stubs: Stubs) -> None:
    token, _, _ = PARITY_CALLERS["other-admin"]
    other = Stubs.connect(server.addresses[0], token=token)
    try:
        agent = await create_agent(stubs, [{"text": "x"}])
        async with watching(other) as watch:
            await watch.until("synced", synced)
            listed = [m.run.tenant for m in watch.messages if m.type == EXISTING]
            run = await finished_run(stubs, agent.agent_id)
            await watch.until("a heartbeat", lambda w: len(w.heartbeats) >= 2)
        assert set(listed) <= {"other"}
        assert run.run_id not in {r.run_id for r in watch.resources()}
    finally:
        await other.channel.close()


# --------------------------------------------------------------------------- replicas


@pytest.fixture
async def two_replicas(redis_url: str) -> AsyncIterator[tuple[RunwireServer, RunwireServer]]:
    """Two servers on one Redis prefix; A drains with a short grace."""
    prefix = f"watch-{uuid.uuid4().hex[:8]}"

    def settings(grace: float) -> Settings:
        return Settings(
            listen=["127.0.0.1:0"],
            tool_modules=["tests.tools_for_tests"],
            log_level="WARNING",
            redis_url=SecretStr(redis_url),
            redis_prefix=prefix,
            heartbeat_interval_seconds=0.5,
            shutdown_grace_seconds=grace,
            drain_timeout_seconds=5,
        )

    async with running_server(settings(0.2)) as a, running_server(settings(1.0)) as b:
        yield a, b


async def test_a_watch_resumes_on_another_replica_after_a_drain(
    two_replicas: tuple[RunwireServer, RunwireServer],
) -> None:
    """Concurrent runs on two replicas; a watch on A ends DRAINING when A stops
    and resumes on B with its last cursor: what it saw in all is exactly what a
    watch on B that never stopped saw, nothing missed, nothing twice."""
    a, b = two_replicas
    on_a, on_b = Stubs.connect(a.addresses[0]), Stubs.connect(b.addresses[0])
    try:
        agent = await create_agent(on_b, [{"text": "t" * 40}], chunk_chars=4, delay_ms=5)
        async with (
            watching(on_a, agent_id=agent.agent_id) as first,
            watching(on_b, agent_id=agent.agent_id) as reference,
        ):
            await first.until("synced", synced)
            await reference.until("synced", synced)

            async def start(stubs: Stubs) -> str:
                response = await stubs.runs.CreateRun(
                    run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
                )
                return str(response.run.run_id)

            early = set(await asyncio.gather(*(start(s) for s in (on_a, on_b) * 3)))
            await first.until("a change of each run", lambda w: len(w.resources()) >= 6)
            await a.stop()
            await first.until("the drain", lambda w: w.error is not None)
            assert first.error is not None
            assert first.error.code() == grpc.StatusCode.UNAVAILABLE
            details = status_details(first.error)
            assert details.reason == "DRAINING"
            last = first.messages[-1].cursor
            assert details.metadata["cursor"] in {last} | {h.cursor for h in first.heartbeats}
            late = set(await asyncio.gather(*(start(on_b) for _ in range(4))))
            async with watching(on_b, agent_id=agent.agent_id, cursor=last) as second:
                before = {m.run.run_id for m in first.messages if m.type == ENDED}
                await second.until(
                    "every run ended", lambda w: early | late <= before | ended_ids(w)
                )
                await reference.until("every run ended", ended(early | late))
                seen = first.messages + second.messages
        assert [m.type for m in second.messages if m.type in (EXISTING, SYNCED)] == []
        expected = [(m.type, m.run.run_id, m.run.last_sequence) for m in reference.messages]
        got = [(m.type, m.run.run_id, m.run.last_sequence) for m in seen]
        assert got == expected
        assert len(set(got)) == len(got)
        for run_id in early | late:
            types = [t for t, r, _ in got if r == run_id]
            assert types[0] == CREATED and types[-1] == ENDED and types.count(ENDED) == 1
    finally:
        await on_a.channel.close()
        await on_b.channel.close()


# --------------------------------------------------------------------------- the CLI

RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))


async def test_the_cli_inbox_approves_a_pending_approval(
    server: RunwireServer, stubs: Stubs
) -> None:
    """``runwire approvals watch --interactive`` prints the pending approval, asks,
    reads "y" and approves it: the run goes on and succeeds."""
    agent = await create_agent(
        stubs, APPROVAL_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    created = await stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
    )
    waiting = await in_state(stubs, created.run.run_id, run_pb2.RUN_STATE_REQUIRES_ACTION)
    approval_id = waiting.required_actions[0].approval_id
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    env["COLUMNS"] = "200"
    process = await asyncio.create_subprocess_exec(
        RUNWIRE,
        "approvals",
        "watch",
        "--interactive",
        "--agent",
        agent.agent_id,
        "--limit",
        "1",
        "--address",
        server.addresses[0],
        "--token",
        PARITY_TOKEN,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(b"y\n"), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0].startswith("EXISTING"), lines
    assert f"approval/{approval_id} PENDING echo(" in lines[0]
    assert f"approval/{approval_id} APPROVED" in err.decode()
    run = await in_state(stubs, created.run.run_id, SUCCEEDED)
    assert run.output == "done"
    approval = await stubs.approvals.GetApproval(
        approval_pb2.GetApprovalRequest(approval_id=approval_id)
    )
    assert approval.approval.resolved_by == PARITY_PRINCIPAL


async def test_the_cli_prints_one_json_object_per_run_change(
    server: RunwireServer, stubs: Stubs
) -> None:
    agent = await create_agent(stubs, [{"text": "x"}])
    run = await finished_run(stubs, agent.agent_id)
    process = await asyncio.create_subprocess_exec(
        RUNWIRE,
        "runs",
        "watch",
        "--agent",
        agent.agent_id,
        "--state",
        "succeeded",
        "--limit",
        "1",
        "-o",
        "json",
        "--address",
        server.addresses[0],
        "--token",
        PARITY_TOKEN,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    (line,) = out.decode().splitlines()
    change = json.loads(line)
    assert change["type"] == "CHANGE_TYPE_EXISTING"
    assert change["run"]["run_id"] == run.run_id
    assert change["cursor"]


async def test_the_python_client_watch_resumes_by_itself_after_a_drain(
    two_replicas: tuple[RunwireServer, RunwireServer],
) -> None:
    """``client.runs.watch`` over both replicas: A drains, the watch is opened
    again after its cursor (on B once A is gone) and goes on with nothing missed
    or doubled."""
    a, b = two_replicas
    target = f"ipv4:{a.addresses[0]},{b.addresses[0]}"
    retry = runwire.Retry(max_attempts=40, backoff_seconds=0.05, max_backoff_seconds=1.0)
    async with (
        runwire.connect_async(target, token="", tls=False, retry=retry) as client,
        runwire.connect_async(b.addresses[0], token="", tls=False) as on_b,
    ):
        agent = await client.agents.create(
            unique("watch"), model=runwire.model("scripted", script=[{"text": "ok"}])
        )
        resumes: list[WatchResume] = []
        watch = client.runs.watch(agent_id=agent.agent_id, on_resume=resumes.append)
        run_ids: list[str] = []
        seen: list[tuple[int, str, int]] = []
        stopping: asyncio.Task[None] | None = None
        async with asyncio.timeout(120):
            async for change in watch:
                if change.type == SYNCED:
                    run_ids.append((await on_b.runs.create(agent.agent_id, "p")).run_id)
                    continue
                seen.append((change.type, change.run.run_id, change.run.last_sequence))
                if change.type != ENDED:
                    continue
                if len(run_ids) == 1:
                    stopping = asyncio.ensure_future(a.stop())
                    await stopping
                    run_ids.append((await on_b.runs.create(agent.agent_id, "p")).run_id)
                elif len(run_ids) == 2 and change.run.run_id == run_ids[1]:
                    break
    assert stopping is not None
    assert resumes and resumes[0].error.reason == "DRAINING"
    assert resumes[0].cursor
    assert len(set(seen)) == len(seen), seen
    for run_id in run_ids:
        types = [t for t, r, _ in seen if r == run_id]
        assert types[0] == CREATED and types[-1] == ENDED, seen


async def test_the_blocking_client_watches_and_goes_on_after_its_cursor(
    server: RunwireServer, stubs: Stubs
) -> None:
    agent = await create_agent(stubs, [{"text": "x"}])
    first = await finished_run(stubs, agent.agent_id)

    def listed() -> tuple[list[tuple[int, str]], str]:
        with runwire.connect(server.addresses[0], token=PARITY_TOKEN, tls=False) as client:
            watch = client.runs.watch(agent_id=agent.agent_id)
            seen: list[tuple[int, str]] = []
            for change in watch:
                seen.append((change.type, change.run.run_id))
                if change.type == SYNCED:
                    break
            return seen, watch.cursor

    seen, cursor = await asyncio.to_thread(listed)
    assert seen == [(EXISTING, first.run_id), (SYNCED, "")]
    second = await finished_run(stubs, agent.agent_id)

    def after() -> list[tuple[int, str]]:
        with runwire.connect(server.addresses[0], token=PARITY_TOKEN, tls=False) as client:
            out: list[tuple[int, str]] = []
            for change in client.runs.watch(agent_id=agent.agent_id, cursor=cursor):
                out.append((change.type, change.run.run_id))
                if change.type == ENDED:
                    return out
        return out

    changes = await asyncio.to_thread(after)
    assert changes[0] == (CREATED, second.run_id)
    assert changes[-1] == (ENDED, second.run_id)
    assert {r for _, r in changes} == {second.run_id}


async def test_an_approvals_watch_ends_draining_with_its_cursor(
    two_replicas: tuple[RunwireServer, RunwireServer],
) -> None:
    a, b = two_replicas
    on_a, on_b = Stubs.connect(a.addresses[0]), Stubs.connect(b.addresses[0])
    try:
        agent = await create_agent(
            on_b, APPROVAL_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
        )
        async with inbox(on_a, agent_id=agent.agent_id, states=[PENDING]) as watch:
            await watch.until("synced", synced)
            await a.stop()
            await watch.until("the drain", lambda w: w.error is not None)
        assert watch.error is not None
        assert watch.error.code() == grpc.StatusCode.UNAVAILABLE
        details = status_details(watch.error)
        assert details.reason == "DRAINING"
        cursor = details.metadata["cursor"]
        # Resumed on B with that cursor: the approval requested since then arrives.
        created = await on_b.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        async with inbox(on_b, agent_id=agent.agent_id, states=[PENDING], cursor=cursor) as again:
            await again.until("the new approval", lambda w: bool(w.resources(CREATED)))
        assert [m.type for m in again.messages] == [CREATED]
        assert again.messages[0].approval.run_id == created.run.run_id
        await on_b.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=created.run.run_id))
    finally:
        await on_a.channel.close()
        await on_b.channel.close()
