"""Durable runs survive crashes: SIGKILL a worker or the service mid-run.

Every test here runs real processes against the session's real Temporal dev
server and real Redis (``tests/durability/processes.py``): one ``runwire
serve`` without an embedded worker (the API; it streams events from Redis)
and separate ``python -m runwire_server.app worker`` processes (they execute the
``runwire.AgentRun`` workflows), all on a task queue and Redis prefix of
their own. A test streams a run like a real client, kills a process at a
chosen moment with SIGKILL (no chance to clean up), starts a replacement at
once, and checks that

- the run still SUCCEEDS with the scripted output;
- side effects happen exactly once: the file tools (``append_line``,
  ``slow_append`` in ``tests/tools_for_tests.py``) write to files, which
  count executions across processes; a tool call that completed is not run
  again, an interrupted one runs to completion exactly once;
- the client sees every event exactly once: the sequences it received are
  1..N without gap or repeat and equal a fresh replay from sequence 0
  (after a broken stream it resumes with ``StreamRunEvents(after_sequence=
  last seen)``, over a new channel).

Scenarios: the worker dies while a tool runs, while the run waits for an
approval, inside ``publish_events`` (its Redis connection is frozen by a
proxy, so the activity hangs there deterministically), and while the model
streams its second answer; the service dies while a client streams (the run
index and the events live in Redis, so a new service process on the same
port serves the rest).

Recovery time: each test measures the seconds from the SIGKILL to the first
*new* event the client receives (an event whose ``create_time``, stamped by
Redis on append, is after the kill, so events logged before the kill but
delivered just after it do not count). It is printed (``pytest -s``)::

    kill-to-next-event worker_killed_during_tool: 5.71 s

with the milestones after the kill (``worker_ready``: the new worker polls;
``service_ready``; ``tool_retry_started``; ``approval_resolved``) and,
when ``RUNWIRE_DURABILITY_REPORT`` names a file, appended to it as a JSON
line. The time includes what the scenario itself takes after the kill: the
rest of the interrupted tool (``slow_append`` sleeps 3 s), the new process's
start (a fresh Python process: seconds, more on a loaded machine), or the
approval decision, and the activities' heartbeat timeout (10 s,
``runwire_server.worker.workflows.HEARTBEAT_TIMEOUT``). Only a generous bound (40 s, i.e. no
hang) is asserted: timing targets are measured, not tested. The publish test
fails when no event came ``STALL_SECONDS`` (25 s) after the kill: the lost
activity moves on after the heartbeat timeout, so a run that silent waits for
its start-to-close timeout (30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2, run_service_pb2
from temporalio.api.enums.v1 import PendingWorkflowTaskState
from temporalio.client import Client, WorkflowHandle

from tests.durability.processes import (
    Deployment,
    FreezingProxy,
    Kill,
    Process,
    deployment,
    free_port,
)
from tests.support import Stubs, assert_gap_free, collect, create_agent, kinds
from tests.tools_for_tests import started_path

#: Seconds a test waits for a stage of a run (a hang fails instead of timing out).
STAGE_TIMEOUT = 30.0
#: Seconds a test waits for a run to end after the crash.
FINISH_TIMEOUT = 60.0
#: The bound asserted on kill-to-next-event: only a hang exceeds it.
NO_HANG_SECONDS = 40.0
#: The bound of the publish test: recovery there comes after the heartbeat timeout
#: (10 s), as for model and tool calls; a run still stalled after this long waits
#: for the start-to-close timeout (30 s).
STALL_SECONDS = 25.0
#: Seconds between attempts to resume a broken stream.
RESUME_BACKOFF = 0.1

Predicate = Callable[[list[event_pb2.RunEvent]], bool]


@dataclass
class Received:
    """An event as the client got it.

    Attributes:
        event: The event.
        at: ``time.monotonic()`` when it arrived.
    """

    event: event_pb2.RunEvent
    at: float


@dataclass
class RunStream:
    """Follows one run like a resuming client, in a background task.

    Starts the run with ``StreamRun``; when the stream breaks (UNAVAILABLE:
    the server went away) it resumes with ``StreamRunEvents(after_sequence=
    last seen)`` over a new channel, again and again, until the stream ends
    after the terminal event. Heartbeats are skipped.

    Attributes:
        address: The service's ``host:port``.
        request: The StreamRun request.
        received: Every event received, in order.
        breaks: Why the stream broke, once per break.
    """

    address: str
    request: run_service_pb2.StreamRunRequest
    received: list[Received] = field(default_factory=list)
    breaks: list[str] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None

    @property
    def events(self) -> list[event_pb2.RunEvent]:
        """The events received so far."""
        return [r.event for r in self.received]

    @property
    def run_id(self) -> str:
        """The run's id (known once an event arrived)."""
        return self.received[0].event.run_id

    def start(self) -> None:
        """Starts following in the background."""
        self._task = asyncio.create_task(self._follow())

    async def _add(self, event: event_pb2.RunEvent) -> None:
        async with self._changed:
            self.received.append(Received(event=event, at=time.monotonic()))
            self._changed.notify_all()

    async def _follow(self) -> None:
        stubs = Stubs.connect(self.address)
        call: AsyncIterator[run_service_pb2.StreamRunResponse] = stubs.runs.StreamRun(self.request)
        try:
            while True:
                try:
                    async for response in call:
                        if not response.event.HasField("heartbeat"):
                            await self._add(response.event)
                    return
                except grpc.aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE or not self.received:
                        raise
                    self.breaks.append(f"{exc.code().name}: {exc.details()}")
                await stubs.channel.close()
                await asyncio.sleep(RESUME_BACKOFF)
                stubs = Stubs.connect(self.address)
                call = stubs.runs.StreamRunEvents(
                    run_service_pb2.StreamRunEventsRequest(
                        run_id=self.run_id, after_sequence=self.received[-1].event.sequence
                    )
                )
        finally:
            await stubs.channel.close()
            async with self._changed:
                self._changed.notify_all()

    async def wait_for(
        self, what: str, predicate: Predicate, seconds: float = STAGE_TIMEOUT
    ) -> list[event_pb2.RunEvent]:
        """Waits until ``predicate(events)`` holds; returns the events then.

        Raises:
            AssertionError: the stream ended or failed first, or ``seconds``
                passed (the message names ``what``).
        """
        assert self._task is not None, "start() first"
        try:
            async with asyncio.timeout(seconds), self._changed:
                while not predicate(self.events):
                    if self._task.done():
                        self._task.result()  # raises the stream's failure, if any
                        raise AssertionError(
                            f"the stream ended before {what}: {kinds(self.events)}"
                        )
                    await self._changed.wait()
                return self.events
        except TimeoutError:
            raise AssertionError(
                f"no {what} within {seconds:.1f} s: {kinds(self.events)}"
            ) from None

    async def finished(self) -> list[event_pb2.RunEvent]:
        """Waits (``FINISH_TIMEOUT``) until the stream ended after the terminal event."""
        assert self._task is not None, "start() first"
        try:
            await asyncio.wait_for(asyncio.shield(self._task), FINISH_TIMEOUT)
        except TimeoutError:
            raise AssertionError(
                f"the run did not end within {FINISH_TIMEOUT} s: {kinds(self.events)}"
            ) from None
        events = self.events
        last = events[-1].WhichOneof("payload") if events else None
        assert last in ("run_finished", "run_error"), kinds(events)
        return events

    async def close(self) -> None:
        """Stops following (if still running) and waits for the task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await self._task

    def seconds_to_next_event(self, kill: Kill) -> tuple[float, str]:
        """Seconds from ``kill`` to the first event received that was logged
        after it, and that event's kind.

        Raises:
            AssertionError: no event was logged after the kill.
        """
        for item in self.received:
            logged = item.event.create_time.ToMicroseconds() / 1e6
            if item.at > kill.monotonic and logged > kill.wall:
                return item.at - kill.monotonic, str(item.event.WhichOneof("payload"))
        raise AssertionError(f"no event was logged after the kill: {kinds(self.events)}")


def report(name: str, stream: RunStream, kill: Kill, **extra: float) -> None:
    """Prints and records kill-to-next-event of scenario ``name``; asserts no hang.

    Args:
        extra: More seconds since the kill (say, until the new worker was
            ready), printed and recorded with it.
    """
    seconds, kind = stream.seconds_to_next_event(kill)
    print(f"kill-to-next-event {name}: {seconds:.2f} s")
    if extra:
        print("  after the kill: " + ", ".join(f"{k} {v:.2f} s" for k, v in extra.items()))
    target = os.environ.get("RUNWIRE_DURABILITY_REPORT")
    if target:
        line = {"name": name, "seconds": round(seconds, 3), "first_event": kind}
        line.update({key: round(value, 3) for key, value in extra.items()})
        with pathlib.Path(target).open("a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")
    assert seconds < NO_HANG_SECONDS, f"{name}: {seconds:.1f} s from the kill to the next event"


async def assert_exactly_once(address: str, seen: list[event_pb2.RunEvent]) -> None:
    """``seen`` is gap-free from 1 and equals a fresh replay of the run's log."""
    assert_gap_free(seen)
    stubs = Stubs.connect(address)
    try:
        replay = await collect(
            stubs.runs.StreamRunEvents(
                run_service_pb2.StreamRunEventsRequest(run_id=seen[0].run_id, after_sequence=0)
            )
        )
    finally:
        await stubs.channel.close()
    assert [e.sequence for e in replay] == [e.sequence for e in seen]
    assert replay == seen


async def get_run(address: str, run_id: str) -> run_pb2.Run:
    """GetRun over a channel of its own."""
    stubs = Stubs.connect(address)
    try:
        response = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))
    finally:
        await stubs.channel.close()
    run: run_pb2.Run = response.run
    return run


def lines(path: pathlib.Path) -> list[str]:
    """The lines of a file the test tools wrote ([] when it does not exist)."""
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def of_kind(events: list[event_pb2.RunEvent], kind: str) -> list[event_pb2.RunEvent]:
    """The events whose payload is ``kind``."""
    return [e for e in events if e.WhichOneof("payload") == kind]


def text_of(events: list[event_pb2.RunEvent], message_id: str) -> str:
    """The concatenated deltas of message ``message_id``."""
    return "".join(
        e.text_message_content.delta
        for e in of_kind(events, "text_message_content")
        if e.text_message_content.message_id == message_id
    )


def assert_succeeded(events: list[event_pb2.RunEvent], output: str) -> None:
    """The run ended SUCCEEDED with ``output``."""
    assert events[-1].HasField("run_finished"), events[-1]
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert events[-1].run_finished.output == output


@pytest.fixture
async def deployed(
    redis_url: str, temporal_address: str, tmp_path: pathlib.Path
) -> AsyncIterator[Deployment]:
    """This test's processes (none started yet); all stopped at teardown."""
    logs = tmp_path / "logs"
    logs.mkdir()
    async with deployment(
        redis_url=redis_url, temporal_address=temporal_address, directory=logs
    ) as deployed:
        yield deployed


async def _start(
    deployed: Deployment, worker_env: dict[str, str] | None = None
) -> tuple[str, Process, Process]:
    """Starts a service and one worker; returns the service's address, the service
    and the worker."""
    port = free_port()
    service, worker = await asyncio.gather(
        deployed.start_service(port), deployed.start_worker(worker_env)
    )
    return f"127.0.0.1:{port}", service, worker


async def _replace_worker(deployed: Deployment, worker: Process) -> tuple[Kill, float]:
    """SIGKILLs ``worker`` and at once starts another; returns the kill and the
    seconds from it until the new worker polled."""
    kill = await worker.kill()
    await deployed.start_worker()
    return kill, time.monotonic() - kill.monotonic


async def _until_file_has(path: pathlib.Path, line: str, count: int = 1) -> float:
    """Waits until ``path`` holds ``count`` lines ``line``; returns ``time.monotonic()`` then."""
    async with asyncio.timeout(STAGE_TIMEOUT):
        while True:  # a file has no change notification to await
            if lines(path).count(line) >= count:
                return time.monotonic()
            await asyncio.sleep(0.01)


async def _workflow(temporal_address: str, run_id: str) -> WorkflowHandle[Any, Any]:
    """A Temporal handle on the run's workflow (workflow id = run id)."""
    client = await Client.connect(temporal_address)
    return client.get_workflow_handle(run_id)


async def _until_idle(handle: WorkflowHandle[Any, Any]) -> None:
    """Waits until the workflow has no activity and no workflow task pending:
    its worker has reported everything and only waits (for a decision)."""
    async with asyncio.timeout(STAGE_TIMEOUT):
        while True:
            described = (await handle.describe()).raw_description
            if not described.pending_activities and not described.HasField("pending_workflow_task"):
                return
            await asyncio.sleep(0.05)


async def _until_heartbeat(handle: WorkflowHandle[Any, Any], activity_type: str) -> None:
    """Waits until Temporal has a heartbeat of the workflow's pending
    ``activity_type`` activity: its worker is heard from while working on it."""
    async with asyncio.timeout(STAGE_TIMEOUT):
        while True:
            described = (await handle.describe()).raw_description
            if any(
                a.activity_type.name == activity_type and a.HasField("last_heartbeat_time")
                for a in described.pending_activities
            ):
                return
            await asyncio.sleep(0.05)


async def _until_approval(stream: RunStream) -> event_pb2.ApprovalRequested:
    """Waits until the run is in REQUIRES_ACTION; returns its one approval request."""
    seen = await stream.wait_for(
        "REQUIRES_ACTION",
        lambda events: any(
            e.state_changed.state == run_pb2.RUN_STATE_REQUIRES_ACTION
            for e in of_kind(events, "state_changed")
        ),
    )
    (requested,) = [e.approval_requested for e in of_kind(seen, "approval_requested")]
    return requested


async def _approve(stubs: Stubs, approval_id: str) -> None:
    """Approves; the update waits until a live worker has the workflow (sticky
    timeout, replay), so it gets ``STAGE_TIMEOUT``."""
    approval = (
        await stubs.approvals.ResolveApproval(
            approval_pb2.ResolveApprovalRequest(
                approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
            ),
            timeout=STAGE_TIMEOUT,
        )
    ).approval
    assert approval.state == approval_pb2.APPROVAL_STATE_APPROVED


def _approval_script(effects: pathlib.Path) -> list[dict[str, Any]]:
    return [
        {
            "tool_calls": [
                {"name": "append_line", "arguments": {"path": str(effects), "line": "ok"}}
            ]
        },
        {"text": "appended"},
    ]


async def _assert_approved_once(
    address: str, events: list[event_pb2.RunEvent], approval_id: str, effects: pathlib.Path
) -> None:
    assert_succeeded(events, "appended")
    assert len(of_kind(events, "approval_requested")) == 1  # not asked again
    resolved = [e.approval_resolved for e in of_kind(events, "approval_resolved")]
    assert [(r.approval_id, r.state) for r in resolved] == [
        (approval_id, approval_pb2.APPROVAL_STATE_APPROVED)
    ]
    assert lines(effects) == ["ok"]
    await assert_exactly_once(address, events)


async def test_worker_killed_while_a_tool_runs(
    deployed: Deployment, temporal_address: str, tmp_path: pathlib.Path
) -> None:
    address, _, worker = await _start(deployed)
    effects = tmp_path / "effects.txt"
    started = pathlib.Path(started_path(str(effects)))
    script: list[dict[str, Any]] = [
        {
            "tool_calls": [
                {"name": "append_line", "arguments": {"path": str(effects), "line": "first"}}
            ]
        },
        {
            "tool_calls": [
                {
                    "name": "slow_append",
                    "arguments": {"path": str(effects), "line": "slow", "seconds": 3},
                }
            ]
        },
        {"text": "done both"},
    ]
    stubs = Stubs.connect(address)
    stream: RunStream | None = None
    try:
        agent = await create_agent(stubs, script, tools=["append_line", "slow_append"])
        stream = RunStream(
            address, run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        stream.start()

        def slow_call_announced(events: list[event_pb2.RunEvent]) -> bool:
            slow = {
                e.tool_call_start.tool_call_id
                for e in of_kind(events, "tool_call_start")
                if e.tool_call_start.tool_call_name == "slow_append"
            }
            ended = {e.tool_call_end.tool_call_id for e in of_kind(events, "tool_call_end")}
            return bool(slow & ended)

        await stream.wait_for("tool_call_end of slow_append", slow_call_announced)
        await _until_file_has(started, "slow")  # the tool sleeps now
        await _until_heartbeat(await _workflow(temporal_address, stream.run_id), "run_tool")
        kill = await worker.kill()
        assert lines(effects) == ["first"]  # killed before slow_append appended
        await deployed.start_worker()
        ready = time.monotonic() - kill.monotonic
        retried = await _until_file_has(started, "slow", count=2)
        events = await stream.finished()
    finally:
        if stream is not None:
            await stream.close()
        await stubs.channel.close()

    report(
        "worker_killed_during_tool",
        stream,
        kill,
        worker_ready=ready,
        tool_retry_started=retried - kill.monotonic,
    )
    assert_succeeded(events, "done both")
    assert lines(effects) == ["first", "slow"]  # each tool call took effect once
    assert lines(started) == ["slow", "slow"]  # the interrupted call ran again, once
    results = [e.tool_call_result for e in of_kind(events, "tool_call_result")]
    assert [(r.content, r.is_error) for r in results] == [("first", False), ("slow", False)]
    await assert_exactly_once(address, events)
    run = await get_run(address, events[0].run_id)
    assert run.runtime == agent_pb2.RUNTIME_TEMPORAL
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED


async def test_worker_killed_while_waiting_for_an_approval(
    deployed: Deployment, temporal_address: str, tmp_path: pathlib.Path
) -> None:
    address, _, worker = await _start(deployed)
    effects = tmp_path / "effects.txt"
    stubs = Stubs.connect(address)
    stream: RunStream | None = None
    try:
        agent = await create_agent(
            stubs,
            _approval_script(effects),
            tools=["append_line"],
            mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        )
        stream = RunStream(
            address, run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        stream.start()
        requested = await _until_approval(stream)
        # Kill while the run only waits: the worker has reported the activity that
        # published REQUIRES_ACTION (a kill before that is the next test's case).
        await _until_idle(await _workflow(temporal_address, stream.run_id))
        kill, ready = await _replace_worker(deployed, worker)
        await _approve(stubs, requested.approval_id)
        resolved = time.monotonic() - kill.monotonic
        events = await stream.finished()
    finally:
        if stream is not None:
            await stream.close()
        await stubs.channel.close()

    report(
        "worker_killed_waiting_for_approval",
        stream,
        kill,
        worker_ready=ready,
        approval_resolved=resolved,
    )
    await _assert_approved_once(address, events, requested.approval_id, effects)


async def test_worker_killed_while_publishing_events(
    deployed: Deployment, redis_url: str, temporal_address: str, tmp_path: pathlib.Path
) -> None:
    """The worker dies inside ``publish_events`` (its Redis is cut off, so the
    local activity hangs there deterministically, inside the workflow task); the
    new worker must take over after the workflow task timeout, and publish the
    events again (their keys make a repeat harmless), not after the local
    activity's start-to-close timeout.

    The same happens by chance when a worker dies right after publishing,
    before Temporal got the activity's completion (the previous test, killing
    as soon as REQUIRES_ACTION arrives, hit it about every other run).
    """
    proxy, proxied_redis = await FreezingProxy.for_url(redis_url)
    effects = tmp_path / "effects.txt"
    stream: RunStream | None = None
    try:
        address, _, worker = await _start(deployed, {"RUNWIRE_REDIS_URL": proxied_redis})
        stubs = Stubs.connect(address)
        try:
            agent = await create_agent(
                stubs,
                _approval_script(effects),
                tools=["append_line"],
                mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
            )
            stream = RunStream(
                address, run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
            )
            stream.start()
            requested = await _until_approval(stream)
            workflow = await _workflow(temporal_address, stream.run_id)
            await _until_idle(workflow)
            proxy.freeze()
            await _approve(stubs, requested.approval_id)
            # The workflow goes on: its first step publishes approval_resolved, and
            # the worker's Redis does not answer.
            async with asyncio.timeout(STAGE_TIMEOUT):
                await proxy.held.wait()
            # A local activity: no activity is pending, the workflow task is.
            description = (await workflow.describe()).raw_description
            assert not description.pending_activities, description.pending_activities
            assert (
                description.pending_workflow_task.state
                == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED
            ), description.pending_workflow_task
            kill, ready = await _replace_worker(deployed, worker)
            # Not a timing target: the run moves on after the workflow task
            # timeout (10 s); a run still silent after STALL_SECONDS waits for
            # the start-to-close timeout. Fail then instead of waiting it out.
            await stream.wait_for(
                "event after the kill",
                lambda events: any(
                    e.create_time.ToMicroseconds() / 1e6 > kill.wall for e in events
                ),
                seconds=STALL_SECONDS - (time.monotonic() - kill.monotonic),
            )
            events = await stream.finished()
        finally:
            await stubs.channel.close()
    finally:
        if stream is not None:
            await stream.close()
        await proxy.close()

    report("worker_killed_while_publishing", stream, kill, worker_ready=ready)
    await _assert_approved_once(address, events, requested.approval_id, effects)


async def test_worker_killed_while_the_model_streams(
    deployed: Deployment, tmp_path: pathlib.Path
) -> None:
    address, _, worker = await _start(deployed)
    effects = tmp_path / "effects.txt"
    first_text = "A" * 10
    second_text = "".join(chr(ord("a") + i % 26) for i in range(200))
    script: list[dict[str, Any]] = [
        {
            "text": first_text,
            "tool_calls": [
                {"name": "append_line", "arguments": {"path": str(effects), "line": "turn 1"}}
            ],
        },
        {"text": second_text},
    ]
    stubs = Stubs.connect(address)
    stream: RunStream | None = None
    try:
        agent = await create_agent(stubs, script, tools=["append_line"], chunk_chars=2, delay_ms=20)
        stream = RunStream(
            address, run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        stream.start()

        def second_message_streaming(events: list[event_pb2.RunEvent]) -> bool:
            starts = of_kind(events, "text_message_start")
            if len(starts) < 2:
                return False
            return len(text_of(events, starts[1].text_message_start.message_id)) >= 10

        seen = await stream.wait_for("5 deltas of the second message", second_message_streaming)
        interrupted = of_kind(seen, "text_message_start")[1].text_message_start.message_id
        kill, ready = await _replace_worker(deployed, worker)
        events = await stream.finished()
    finally:
        if stream is not None:
            await stream.close()
        await stubs.channel.close()

    report("worker_killed_during_model_stream", stream, kill, worker_ready=ready)
    assert_succeeded(events, second_text)
    starts = [e.text_message_start.message_id for e in of_kind(events, "text_message_start")]
    assert len(starts) == 3, starts
    first, _, retry = starts
    assert starts[1] == interrupted and retry not in (first, interrupted)
    assert text_of(events, first) == first_text  # turn 1 streamed once, not redone
    assert len(of_kind(events, "tool_call_start")) == 1
    assert lines(effects) == ["turn 1"]
    discarded = [e.message_discarded.message_id for e in of_kind(events, "message_discarded")]
    assert discarded == [interrupted]
    discarded_at = kinds(events).index("message_discarded")
    retry_at = next(
        i
        for i, e in enumerate(events)
        if e.HasField("text_message_start") and e.text_message_start.message_id == retry
    )
    assert discarded_at < retry_at
    assert text_of(events, retry) == second_text
    ended = [e.text_message_end.message_id for e in of_kind(events, "text_message_end")]
    assert interrupted not in ended and ended.count(retry) == 1
    await assert_exactly_once(address, events)


async def test_service_restart_mid_stream(deployed: Deployment) -> None:
    address, service, _ = await _start(deployed)
    port = int(address.rpartition(":")[2])
    text = "survives a service restart. " * 20
    stubs = Stubs.connect(address)
    try:
        agent = await create_agent(stubs, [{"text": text}], chunk_chars=3, delay_ms=15)
    finally:
        await stubs.channel.close()
    stream: RunStream | None = None
    try:
        stream = RunStream(
            address, run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        stream.start()
        await stream.wait_for(
            "10 text deltas", lambda events: len(of_kind(events, "text_message_content")) >= 10
        )
        kill = await service.kill()
        await deployed.start_service(port, bind_retry_seconds=10)
        ready = time.monotonic() - kill.monotonic
        events = await stream.finished()
    finally:
        if stream is not None:
            await stream.close()

    report("service_restart", stream, kill, service_ready=ready)
    assert stream.breaks, "the stream should have broken when the service died"
    assert_succeeded(events, text)
    await assert_exactly_once(address, events)
    run = await get_run(address, events[0].run_id)
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert run.output == text
    assert run.last_sequence == events[-1].sequence
