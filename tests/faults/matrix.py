"""The fault matrix (issue 14): each fault by runtime, run on real processes and counted.

One ``Lab`` serves a whole matrix: a redis-server of its own with the append-only
file (``appendfsync everysec``, as docker/compose.yaml and the Kubernetes files run
it), reached by every Runwire process through a Toxiproxy proxy (so the network to
Redis can be cut), and a Temporal dev server of its own on a database file (so it
can be restarted). Each cell (``run_cell``) starts processes of its own
(tests/durability/processes.py: two ``runwire serve`` replicas and, on Temporal, a
worker) on a fresh Redis prefix and task queue, and drives one run as a client
would: ``CreateRun`` on replica 0, then ``StreamRunEvents`` from the cell's home
replica, resuming after the last sequence seen on another live replica whenever
the stream breaks (UNAVAILABLE); an approver resolves the run's approval through
any live replica. At the fault's moment (``Moment``) the fault is injected; then
the run is followed to its end and the cell counts:

- **events lost**: sequences missing from what the client received, or from the
  run's log read again afterwards;
- **events duplicated**: sequences the client received twice, plus events of the log
  that say the same thing twice (a second ``run_started``, tool call, tool result,
  approval request or decision, message start or end, or terminal event);
- **tool effects duplicated**: lines the recording tools wrote more than once
  (``append_line``, ``slow_append`` in tests/tools_for_tests.py write files, so side
  effects are counted across processes);
- **tool re-runs**: calls of ``slow_append`` started again after the fault (an
  interrupted call runs again: at-least-once execution; its effect stays once);
- **runs stuck**: runs not ended ``DEADLINE_SECONDS`` after the fault;
- **client errors**: failures other than UNAVAILABLE that the client saw;
- **recovery**: seconds from the fault (the kill, or the end of an outage) to the
  first event the client received that was logged after it.

``PROMISES`` states what the design promises per cell: the outcome (SUCCEEDED, or
FAILED with REPLICA_LOST where an in-process run's replica died) and zero for every
count. tests/faults/test_matrix.py asserts it; ``python -m bench.faults`` prints the
table (docs/faults.md carries it).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import pathlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from runwire import Stubs
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2, run_service_pb2

from tests.durability.processes import Deployment, Process, deployment_env, free_port
from tests.faults.toxiproxy import Toxiproxy
from tests.redis_server import OwnRedis
from tests.support import create_agent, kinds
from tests.temporal_server import OwnTemporal
from tests.tools_for_tests import started_path

#: The runtimes of the matrix: in-process runs on Redis stores, and Temporal.
RUNTIMES = ("in_process", "temporal")
#: Seconds after the fault by which the run must have ended (else it counts as stuck).
DEADLINE_SECONDS = 90.0
#: Seconds to reach the fault's moment (a run that does not get there fails the cell).
MOMENT_SECONDS = 60.0
#: The lease of in-process runs in the cells where their replica dies (short, so the
#: matrix does not wait the default 20 s; ``bench.faults --lease-seconds`` sets it).
SHORT_LEASE_SECONDS = 3.0
#: Seconds a network cut lasts (issue 14: 5 s).
CUT_SECONDS = 5.0
#: Seconds Redis or Temporal stays down in a restart, on top of the restart itself.
DOWN_SECONDS = 2.0
#: Seconds between a client's attempts after a broken stream or refused call.
BACKOFF_SECONDS = 0.2
#: Seconds ``slow_append`` sleeps (the window of the mid-tool faults).
SLOW_TOOL_SECONDS = 2.0
#: The final answer: 2 characters per delta, ``DELAY_MS`` apart (the window of the
#: mid-model faults, a few seconds).
ANSWER = " ".join(f"w{i:03d}" for i in range(60))
DELAY_MS = 25
#: Deltas of the answer received before a mid-model fault.
DELTAS_BEFORE_FAULT = 10
#: What the two tool calls write when each takes effect once.
EFFECTS = ["approved", "slow"]
#: The Redis proxy's name in Toxiproxy.
REDIS_PROXY = "redis"


class Moment(enum.Enum):
    """When in the run a fault strikes."""

    AWAITING_APPROVAL = "awaiting approval"
    MID_TOOL = "mid-tool"
    MID_MODEL = "mid-model"


@dataclass(frozen=True)
class Mark:
    """When a fault took effect: the kill, or the end of an outage.

    Attributes:
        monotonic: ``time.monotonic()`` then.
        wall: ``time.time()`` then (events' ``create_time`` is stamped by Redis on
            this host).
    """

    monotonic: float
    wall: float

    @classmethod
    def now(cls) -> Mark:
        return cls(monotonic=time.monotonic(), wall=time.time())


@dataclass
class Lab:
    """What a matrix shares: Redis (behind Toxiproxy) and a Temporal dev server.

    Attributes:
        directory: Files of the servers and of every cell.
        redis: The redis-server (append-only file, ``appendfsync everysec``).
        toxiproxy: The proxy every process reaches Redis through.
        temporal: The dev server on its database file.
        redis_url: Redis through the proxy, for the processes.
        lease_seconds: In-process run lease where the owner replica dies.
    """

    directory: pathlib.Path
    redis: OwnRedis
    toxiproxy: Toxiproxy
    temporal: OwnTemporal
    redis_url: str
    lease_seconds: float = SHORT_LEASE_SECONDS

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, directory: pathlib.Path, *, lease_seconds: float = SHORT_LEASE_SECONDS
    ) -> AsyncIterator[Lab]:
        """Starts the servers for the block; stops them on exit."""
        (directory / "redis").mkdir(parents=True, exist_ok=True)
        (directory / "temporal").mkdir(exist_ok=True)
        redis = OwnRedis(
            directory=directory / "redis", port=free_port(), appendonly=True, appendfsync="everysec"
        )
        toxiproxy = Toxiproxy(directory=directory)
        temporal = OwnTemporal(directory=directory / "temporal", port=free_port())
        try:
            await asyncio.gather(redis.start(), toxiproxy.start(), temporal.start())
            listen = await toxiproxy.proxy(REDIS_PROXY, f"127.0.0.1:{redis.port}")
            yield cls(
                directory=directory,
                redis=redis,
                toxiproxy=toxiproxy,
                temporal=temporal,
                redis_url=f"redis://{listen}/0",
                lease_seconds=lease_seconds,
            )
        finally:
            with contextlib.suppress(Exception):
                await toxiproxy.stop()
            if redis.process is not None and redis.process.poll() is None:
                await redis.stop()
            await temporal.stop()

    async def heal(self) -> None:
        """Undoes whatever a failed cell left broken: the cut, a stopped server."""
        with contextlib.suppress(RuntimeError):
            await self.toxiproxy.restore(REDIS_PROXY)
        if self.redis.process is None or self.redis.process.poll() is not None:
            await self.redis.start()
        if self.temporal.process is None or self.temporal.process.poll() is not None:
            await self.temporal.start()


@dataclass
class Cell:
    """One cell's processes while it runs.

    Attributes:
        lab: The shared servers.
        runtime: ``in_process`` or ``temporal``.
        deployed: Starts and stops the cell's processes.
        replicas: The two ``runwire serve`` processes (replica 0 creates the run:
            on in-process, it owns it).
        addresses: Their ``host:port``.
        workers: The Temporal workers (none on in-process).
    """

    lab: Lab
    runtime: str
    deployed: Deployment
    replicas: list[Process]
    addresses: list[str]
    workers: list[Process] = field(default_factory=list)

    def live(self) -> list[str]:
        """Addresses of the replicas still running."""
        return [a for a, p in zip(self.addresses, self.replicas, strict=True) if p.running]


Inject = Callable[[Cell], Awaitable[Mark]]


@dataclass(frozen=True)
class Fault:
    """A row of the matrix.

    Attributes:
        name: Its name (``--only``, test ids).
        what: What happens, for the table.
        moment: When it strikes.
        inject: Does it; returns when it took effect (``Mark``).
        runtimes: Where it applies.
        home: The replica the client streams from first.
        short_lease: In-process runs get ``Lab.lease_seconds`` (their replica dies);
            otherwise the default lease (an outage must not outlast it).
    """

    name: str
    what: str
    moment: Moment
    inject: Inject
    runtimes: tuple[str, ...] = RUNTIMES
    home: int = 0
    short_lease: bool = False


async def _kill_owner(cell: Cell) -> Mark:
    if cell.runtime == "temporal":
        await cell.workers[0].kill()
        mark = Mark.now()
        cell.workers.append(await cell.deployed.start_worker())
        return mark
    await cell.replicas[0].kill()  # the replica that runs the in-process run
    return Mark.now()


async def _kill_streaming_replica(cell: Cell) -> Mark:
    await cell.replicas[1].kill()
    return Mark.now()


async def _restart_redis(cell: Cell) -> Mark:
    await cell.lab.redis.stop()
    await asyncio.sleep(DOWN_SECONDS)  # the fault's length, not a wait for a condition
    await cell.lab.redis.start()
    return Mark.now()


async def _restart_temporal(cell: Cell) -> Mark:
    await cell.lab.temporal.stop()
    await asyncio.sleep(DOWN_SECONDS)  # the fault's length
    await cell.lab.temporal.start()
    return Mark.now()


async def _cut_redis(cell: Cell) -> Mark:
    await cell.lab.toxiproxy.cut(REDIS_PROXY)
    await asyncio.sleep(CUT_SECONDS)  # the fault's length
    await cell.lab.toxiproxy.restore(REDIS_PROXY)
    return Mark.now()


async def _drain_replica(cell: Cell) -> Mark:
    cell.replicas[0].popen.terminate()  # SIGTERM: drain, then exit
    return Mark.now()


async def _drain_worker(cell: Cell) -> Mark:
    cell.workers[0].popen.terminate()
    mark = Mark.now()
    cell.workers.append(await cell.deployed.start_worker())
    return mark


FAULTS: tuple[Fault, ...] = (
    Fault(
        "worker_killed_mid_model",
        "SIGKILL of the process running the run (Temporal: the worker; in-process: "
        "its replica) while the model streams",
        Moment.MID_MODEL,
        _kill_owner,
        short_lease=True,
    ),
    Fault(
        "worker_killed_mid_tool",
        "the same, while a tool runs",
        Moment.MID_TOOL,
        _kill_owner,
        short_lease=True,
    ),
    Fault(
        "worker_killed_awaiting_approval",
        "the same, while the run waits for an approval (approved after the kill)",
        Moment.AWAITING_APPROVAL,
        _kill_owner,
        short_lease=True,
    ),
    Fault(
        "replica_killed_mid_stream",
        "SIGKILL of the replica the client streams from (not the run's)",
        Moment.MID_MODEL,
        _kill_streaming_replica,
        home=1,
    ),
    Fault(
        "redis_restarted",
        f"Redis stopped (SIGTERM), {DOWN_SECONDS:g} s down, started on its append-only file",
        Moment.MID_MODEL,
        _restart_redis,
    ),
    Fault(
        "temporal_restarted",
        f"the Temporal dev server stopped, {DOWN_SECONDS:g} s down, started on its database",
        Moment.MID_MODEL,
        _restart_temporal,
        runtimes=("temporal",),
    ),
    Fault(
        "redis_cut",
        f"every process's network to Redis cut for {CUT_SECONDS:g} s (Toxiproxy)",
        Moment.MID_MODEL,
        _cut_redis,
    ),
    Fault(
        "replica_drained",
        "SIGTERM of the replica the client streams from (in-process: the run's own)",
        Moment.MID_MODEL,
        _drain_replica,
    ),
    Fault(
        "worker_drained",
        "SIGTERM of the worker while a tool runs; a new worker starts",
        Moment.MID_TOOL,
        _drain_worker,
        runtimes=("temporal",),
    ),
)

#: The outcome each cell promises (every count zero in every cell).
SUCCEEDED = "SUCCEEDED"
REPLICA_LOST = "FAILED REPLICA_LOST"


def promised_outcome(fault: Fault, runtime: str) -> str:
    """``SUCCEEDED``, or ``REPLICA_LOST`` where an in-process run's own replica dies."""
    if runtime == "in_process" and fault.inject is _kill_owner:
        return REPLICA_LOST
    return SUCCEEDED


def cells(only: Iterable[str] = ()) -> list[tuple[Fault, str]]:
    """The (fault, runtime) cells, in table order; ``only``: fault names to keep."""
    wanted = set(only)
    return [
        (fault, runtime)
        for fault in FAULTS
        for runtime in RUNTIMES
        if runtime in fault.runtimes and (not wanted or fault.name in wanted)
    ]


@dataclass
class Outcome:
    """What one run of a cell counted.

    Attributes:
        outcome: ``SUCCEEDED``, ``FAILED <reason>``, ``CANCELLED`` or ``STUCK``.
        events: Events in the run's log.
        lost: Events lost (see the module docstring).
        duplicated: Events duplicated.
        tool_effects_duplicated: Tool side effects beyond once per call.
        tool_reruns: Interrupted tool calls started again.
        stuck: 1 when the run had not ended by the deadline.
        client_errors: Failures other than UNAVAILABLE the client saw.
        recovery_seconds: Fault to the first event logged after it (None: none came).
        breaks: Times the client's stream broke and resumed.
        notes: What else was off (content that differs from the script ...).
    """

    outcome: str
    events: int = 0
    lost: int = 0
    duplicated: int = 0
    tool_effects_duplicated: int = 0
    tool_reruns: int = 0
    stuck: int = 0
    client_errors: int = 0
    recovery_seconds: float | None = None
    breaks: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Received:
    """An event as the client got it, and when (``time.monotonic()``)."""

    event: event_pb2.RunEvent
    at: float


@dataclass
class Client:
    """A client following one run across replicas, and approving it.

    Attributes:
        cell: The cell (which replicas live).
        run_id: The run.
        home: Index of the replica it streams from first.
        received: Every event received, in order (heartbeats skipped).
        breaks: Why the stream broke, once per break.
        errors: Failures other than UNAVAILABLE (streams and approvals).
        approve: Set when the approver may resolve the approval.
    """

    cell: Cell
    run_id: str
    home: int
    received: list[Received] = field(default_factory=list)
    breaks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    approve: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def events(self) -> list[event_pb2.RunEvent]:
        return [r.event for r in self.received]

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._follow()),
            asyncio.create_task(self._approver()),
        ]

    @property
    def ended(self) -> bool:
        """The stream ended after the terminal event."""
        return self._tasks[0].done()

    def _address(self, attempt: int) -> str | None:
        live = self.cell.live()
        if not live:
            return None
        preferred = self.cell.addresses[self.home]
        if attempt == 0 and preferred in live:
            return preferred
        return live[attempt % len(live)]

    async def _follow(self) -> None:
        attempt = 0
        while True:
            address = self._address(attempt)
            if address is None:
                self.errors.append("no replica left to stream from")
                return
            last = self.received[-1].event.sequence if self.received else 0
            async with Stubs.connect(address, token="") as stubs:
                try:
                    request = run_service_pb2.StreamRunEventsRequest(
                        run_id=self.run_id, after_sequence=last
                    )
                    async for response in stubs.runs.StreamRunEvents(request):
                        if response.event.HasField("heartbeat"):
                            continue
                        async with self._changed:
                            self.received.append(Received(response.event, time.monotonic()))
                            self._changed.notify_all()
                    if self.received and _terminal(self.received[-1].event):
                        return
                    self.breaks.append("the stream ended before the terminal event")
                except grpc.aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE:
                        self.errors.append(f"StreamRunEvents: {exc.code().name}: {exc.details()}")
                        return
                    self.breaks.append(f"{exc.code().name}: {exc.details()}")
            attempt += 1
            await asyncio.sleep(BACKOFF_SECONDS)

    async def _approver(self) -> None:
        requested = await self.wait_for(
            "approval_requested",
            lambda events: any(e.HasField("approval_requested") for e in events),
            MOMENT_SECONDS + DEADLINE_SECONDS,
        )
        (approval_id,) = [
            e.approval_requested.approval_id for e in requested if e.HasField("approval_requested")
        ]
        await self.approve.wait()
        attempt = 0
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            address = self._address(attempt)
            if address is None:
                return
            async with Stubs.connect(address, token="") as stubs:
                try:
                    await stubs.approvals.ResolveApproval(
                        approval_pb2.ResolveApprovalRequest(
                            approval_id=approval_id,
                            decision=approval_pb2.APPROVAL_DECISION_APPROVE,
                        ),
                        timeout=DEADLINE_SECONDS,
                    )
                    return
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.FAILED_PRECONDITION and _ended(self.events):
                        return  # the run ended without it (REPLICA_LOST): a clear refusal
                    if exc.code() not in (
                        grpc.StatusCode.UNAVAILABLE,
                        grpc.StatusCode.FAILED_PRECONDITION,
                    ):
                        self.errors.append(f"ResolveApproval: {exc.code().name}: {exc.details()}")
                        return
            attempt += 1
            await asyncio.sleep(BACKOFF_SECONDS)
        self.errors.append("ResolveApproval: still refused at the deadline")

    async def wait_for(
        self,
        what: str,
        predicate: Callable[[list[event_pb2.RunEvent]], bool],
        seconds: float,
    ) -> list[event_pb2.RunEvent]:
        """Waits until ``predicate(events)``; returns the events then.

        Raises:
            AssertionError: the stream ended first, or ``seconds`` passed.
        """
        try:
            async with asyncio.timeout(seconds), self._changed:
                while not predicate(self.events):
                    if self._tasks and self._tasks[0].done():
                        raise AssertionError(
                            f"the stream ended before {what}: {kinds(self.events)}; "
                            f"errors: {self.errors}"
                        )
                    await self._changed.wait()
                return self.events
        except TimeoutError:
            raise AssertionError(
                f"no {what} within {seconds:.0f} s: {kinds(self.events)}"
            ) from None

    async def finish(self, seconds: float) -> bool:
        """Waits up to ``seconds`` for the stream to end; True if it did."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._tasks[0]), seconds)
        return self._tasks[0].done()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._changed:
            self._changed.notify_all()


def _terminal(event: event_pb2.RunEvent) -> bool:
    return event.WhichOneof("payload") in ("run_finished", "run_error")


def _ended(events: list[event_pb2.RunEvent]) -> bool:
    return bool(events) and _terminal(events[-1])


def _lines(path: pathlib.Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _reason(status: Any) -> str:
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


def outcome_of(event: event_pb2.RunEvent | None) -> str:
    """``SUCCEEDED``, ``CANCELLED``, ``FAILED <reason>`` from a terminal event; else STUCK."""
    if event is not None and event.HasField("run_finished"):
        return run_pb2.RunState.Name(event.run_finished.state).removeprefix("RUN_STATE_")
    if event is not None and event.HasField("run_error"):
        return f"FAILED {_reason(event.run_error.error) or 'UNKNOWN'}"
    return "STUCK"


def _identities(event: event_pb2.RunEvent) -> str | None:
    """What an event says once per run (two events with the same value are a duplicate)."""
    kind = event.WhichOneof("payload")
    if kind in ("run_started", "run_finished", "run_error"):
        return "terminal" if kind != "run_started" else kind
    ids = {
        "tool_call_start": lambda: event.tool_call_start.tool_call_id,
        "tool_call_result": lambda: event.tool_call_result.tool_call_id,
        "approval_requested": lambda: event.approval_requested.approval_id,
        "approval_resolved": lambda: event.approval_resolved.approval_id,
        "text_message_start": lambda: event.text_message_start.message_id,
        "text_message_end": lambda: event.text_message_end.message_id,
    }
    if kind in ids:
        return f"{kind}:{ids[kind]()}"
    return None


def count(
    received: list[Received],
    log: list[event_pb2.RunEvent],
    mark: Mark | None,
    effects: pathlib.Path,
) -> Outcome:
    """The counts of one run from what the client received and the log read afterwards."""
    seen = [r.event.sequence for r in received]
    logged = [e.sequence for e in log]
    last = max([*seen, *logged, 0])
    everything = set(range(1, last + 1))
    lost = len((everything - set(seen)) | (everything - set(logged)))
    repeats = collections.Counter(filter(None, (_identities(e) for e in log)))
    duplicated = (len(seen) - len(set(seen))) + sum(n - 1 for n in repeats.values())
    written = collections.Counter(_lines(effects))
    slow_starts = _lines(pathlib.Path(started_path(str(effects)))).count("slow")
    outcome = Outcome(
        outcome=outcome_of(log[-1] if log and _terminal(log[-1]) else None),
        events=len(log),
        lost=lost,
        duplicated=duplicated,
        tool_effects_duplicated=sum(n - 1 for n in written.values()),
        tool_reruns=max(0, slow_starts - 1),
    )
    if mark is not None:
        after = [
            r
            for r in received
            if r.at > mark.monotonic and r.event.create_time.ToMicroseconds() / 1e6 > mark.wall
        ]
        if after:
            outcome.recovery_seconds = after[0].at - mark.monotonic
    if outcome.outcome == SUCCEEDED:
        final = log[-1].run_finished.output
        if final != ANSWER:
            outcome.notes.append(f"output differs from the script: {final[:60]!r}")
        if _lines(effects) != EFFECTS:
            outcome.notes.append(f"tool effects {_lines(effects)} instead of {EFFECTS}")
    return outcome


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def _script(effects: pathlib.Path) -> list[dict[str, Any]]:
    return [
        {
            "tool_calls": [
                {"name": "append_line", "arguments": {"path": str(effects), "line": "approved"}}
            ]
        },
        {
            "tool_calls": [
                {
                    "name": "slow_append",
                    "arguments": {
                        "path": str(effects),
                        "line": "slow",
                        "seconds": SLOW_TOOL_SECONDS,
                    },
                }
            ]
        },
        {"text": ANSWER},
    ]


def _env(lab: Lab, fault: Fault, runtime: str) -> tuple[dict[str, str], str]:
    env, task_queue = deployment_env(redis_url=lab.redis_url, temporal_address=lab.temporal.address)
    env["RUNWIRE_REDIS_PREFIX"] = f"faults-{uuid.uuid4().hex[:8]}"
    if runtime == "in_process":
        for key in [k for k in env if k.startswith("RUNWIRE_TEMPORAL_")]:
            del env[key]
        env["RUNWIRE_DEFAULT_RUNTIME"] = "in_process"
        if fault.short_lease:
            env["RUNWIRE_RUN_LEASE_SECONDS"] = f"{lab.lease_seconds:g}"
    if fault.inject in (_drain_replica, _drain_worker):
        # A drain as operators get it: the default grace before streams end with
        # DRAINING, and the default drain for in-process runs and activities.
        for key in ("RUNWIRE_SHUTDOWN_GRACE_SECONDS", "RUNWIRE_DRAIN_TIMEOUT_SECONDS"):
            env.pop(key, None)
    return env, task_queue


async def _moment(client: Client, moment: Moment, effects: pathlib.Path) -> None:
    if moment is Moment.AWAITING_APPROVAL:
        await client.wait_for(
            "approval_requested",
            lambda events: any(e.HasField("approval_requested") for e in events),
            MOMENT_SECONDS,
        )
        return
    client.approve.set()
    if moment is Moment.MID_MODEL:
        await client.wait_for(
            f"{DELTAS_BEFORE_FAULT} deltas of the answer",
            lambda events: (
                sum(e.HasField("text_message_content") for e in events) >= DELTAS_BEFORE_FAULT
            ),
            MOMENT_SECONDS,
        )
        return
    started = pathlib.Path(started_path(str(effects)))
    deadline = time.monotonic() + MOMENT_SECONDS
    while "slow" not in _lines(started):  # a file has no change notification to await
        if time.monotonic() > deadline:
            raise AssertionError(f"slow_append did not start: {kinds(client.events)}")
        await asyncio.sleep(0.01)


async def _read_log(cell: Cell, run_id: str) -> list[event_pb2.RunEvent]:
    """The run's whole log, from a live replica."""
    for address in cell.live():
        async with Stubs.connect(address, token="") as stubs:
            try:
                events = []
                request = run_service_pb2.StreamRunEventsRequest(run_id=run_id, after_sequence=0)
                async with asyncio.timeout(DEADLINE_SECONDS):
                    async for response in stubs.runs.StreamRunEvents(request):
                        if not response.event.HasField("heartbeat"):
                            events.append(response.event)
                return events
            except (grpc.aio.AioRpcError, TimeoutError):
                continue
    return []


async def run_cell(lab: Lab, fault: Fault, runtime: str, directory: pathlib.Path) -> Outcome:
    """Runs one cell once on fresh processes; returns its counts.

    Raises:
        AssertionError: the run did not reach the fault's moment, or a process did
            not start (the message says which; its output is in ``directory``).
    """
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    env, task_queue = _env(lab, fault, runtime)
    deployed = Deployment(env=env, directory=directory, task_queue=task_queue)
    effects = directory / "effects.txt"
    client: Client | None = None
    try:
        ports = [free_port(), free_port()]
        starts: list[Awaitable[Process]] = [deployed.start_service(port) for port in ports]
        if runtime == "temporal":
            starts.append(deployed.start_worker())
        started = await asyncio.gather(*starts)
        cell = Cell(
            lab=lab,
            runtime=runtime,
            deployed=deployed,
            replicas=list(started[:2]),
            addresses=[f"127.0.0.1:{port}" for port in ports],
            workers=list(started[2:]),
        )
        async with Stubs.connect(cell.addresses[0], token="") as stubs:
            agent = await create_agent(
                stubs,
                _script(effects),
                tools=["append_line", "slow_append"],
                mode=agent_pb2.APPROVAL_MODE_ALLOWLIST,
                auto_approved=["slow_append"],
                chunk_chars=2,
                delay_ms=DELAY_MS,
            )
            created = await stubs.runs.CreateRun(
                run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="go")
            )
        run_id = created.run.run_id
        client = Client(cell=cell, run_id=run_id, home=fault.home)
        client.start()
        await _moment(client, fault.moment, effects)
        mark = await fault.inject(cell)
        client.approve.set()
        ended = await client.finish(DEADLINE_SECONDS - (time.monotonic() - mark.monotonic))
        log = await _read_log(cell, run_id)
        outcome = count(client.received, log, mark, effects)
        outcome.breaks = len(client.breaks)
        outcome.client_errors = len(client.errors)
        outcome.notes.extend(client.errors)
        if not ended or not log or not _terminal(log[-1]):
            outcome.stuck = 1
            outcome.outcome = "STUCK"
        return outcome
    finally:
        if client is not None:
            await client.close()
        await deployed.close()
        await lab.heal()


@dataclass
class Row:
    """A cell's runs summed up for the table."""

    fault: Fault
    runtime: str
    outcomes: list[Outcome]

    @property
    def promised(self) -> str:
        return promised_outcome(self.fault, self.runtime)

    def total(self, name: str) -> int:
        return sum(int(getattr(o, name)) for o in self.outcomes)

    def recovery(self) -> str:
        seconds = [o.recovery_seconds for o in self.outcomes if o.recovery_seconds is not None]
        if not seconds:
            return "-"
        if len(seconds) == 1:
            return f"{seconds[0]:.1f}"
        return f"{statistics.median(seconds):.1f} (max {max(seconds):.1f})"

    def outcome(self) -> str:
        found = collections.Counter(o.outcome for o in self.outcomes)
        if len(self.outcomes) == 1:
            return self.outcomes[0].outcome
        return ", ".join(f"{n}x {name}" for name, n in found.most_common())

    def kept(self) -> bool:
        """Every run had the promised outcome and zero in every count."""
        return all(
            o.outcome == self.promised
            and not (o.lost or o.duplicated or o.tool_effects_duplicated or o.stuck)
            and not o.client_errors
            and not o.notes
            for o in self.outcomes
        )


#: The table's columns: header and how a row fills it.
COLUMNS: tuple[tuple[str, Callable[[Row], str]], ...] = (
    ("fault", lambda r: r.fault.name),
    ("runtime", lambda r: r.runtime),
    ("moment", lambda r: r.fault.moment.value),
    ("outcome", lambda r: r.outcome()),
    ("events lost", lambda r: str(r.total("lost"))),
    ("events duplicated", lambda r: str(r.total("duplicated"))),
    ("tool effects duplicated", lambda r: str(r.total("tool_effects_duplicated"))),
    ("tool re-runs", lambda r: str(r.total("tool_reruns"))),
    ("runs stuck", lambda r: str(r.total("stuck"))),
    ("client errors", lambda r: str(r.total("client_errors"))),
    ("recovery s", lambda r: r.recovery()),
    ("promise kept", lambda r: "yes" if r.kept() else "NO"),
)
