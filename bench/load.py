"""Scenario 9 — load: 1,000 concurrent runs across 2 service replicas, on both runtimes.

Two deployments on one real ``redis-server`` (as the tests start it: loopback,
no persistence), started and stopped with ``tests.durability.processes``:

* **Temporal**: 2 ``runwire serve`` processes (no embedded worker) and 2
  ``python -m runwire_server.app worker`` processes on the benchmark's Temporal dev server;
* **in-process**: 2 ``runwire serve`` processes, ``RUNWIRE_DEFAULT_RUNTIME=in_process``
  (each run executes on the replica that started it; its lease lives in Redis).

Every process runs with the defaults but for the per-tenant quotas of
``bench.common.UNLIMITED`` (one anonymous client starts 1,000 runs on purpose)
and a quick stop. The agent is on the scripted model: one ``calculator`` call
(auto-approved), then an answer streamed as a few text deltas.

After a short warm-up, 1,000 clients (quick: 40) in this process each start
one run with ``StreamRun`` at once, spread round-robin over the 2 replicas
(100 streams per client connection, the server's ``max_concurrent_streams``),
and read every event. A client counts as an error: an RPC error; a logged
event whose ``sequence`` is not the next of 1..N (a gap or a duplicate); an
event after the terminal one; a stream that ends without ``run_finished``
SUCCEEDED; and a stream without its end within ``DEADLINE`` seconds (a stuck
run, cancelled then). Heartbeats (sequence 0) are counted apart.

Reported per deployment: runs/s (runs over the time from the first request
to the last terminal event), logged events/s delivered, p50/p99 run latency
(request to terminal event), errors. Floor: the same number of concurrent
streams from the same client code (same connections, every message parsed
and checked alike) against 2 bare grpc.aio servers (``bench.floor_server``,
child processes), each stream carrying the very messages of one run of that
deployment (recorded in the warm-up): the cost of delivering the events, with
no run behind them. The scenario breaks (exit status 1) when any run has an
error; its figures are then printed under the table.
"""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from runwire import run_outcome
from runwire.v1 import run_pb2, run_service_pb2

from bench.common import (
    NO_TARGET,
    UNLIMITED,
    Context,
    Raw,
    Row,
    ServerProcess,
    channel,
    check_succeeded,
    create_agent,
    ms,
    percentile,
    proc_cpu_seconds,
    rate,
    run_request,
    scripted_agent,
    stop_all,
    stream_run_call,
    times,
)
from bench.floor_server import floor_call, write_payloads
from tests.durability.processes import Deployment, deployment, free_port
from tests.redis_server import start_redis

NAME = "load"
RUNS = 1_000
QUICK_RUNS = 40
REPLICAS = 2
WORKERS = 2
#: Streams per client connection (the server's default ``max_concurrent_streams``).
PER_CHANNEL = 100
#: Seconds the concurrent runs of one side may take before the rest count as stuck.
DEADLINE = 600.0
QUICK_DEADLINE = 45.0
#: Seconds a starting ``runwire serve`` may retry its port (taken meanwhile).
BIND_RETRY_SECONDS = 5.0
#: Warm-up: runs in a row per replica, then this many at once over the replicas.
WARM_UP_SEQUENTIAL = 2
WARM_UP_CONCURRENT = 20
#: Errors described in the log (the rest are counted).
ERRORS_LOGGED = 10

SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6 * 7"}}]},
    {"text": "The calculator says that 6 * 7 is 42, so the answer is 42."},
]

#: Settings of every process of both deployments, on top of ``deployment_env``'s.
ENV = {
    **{f"RUNWIRE_{key.upper()}": str(value) for key, value in UNLIMITED.items()},
    "RUNWIRE_SHUTDOWN_GRACE_SECONDS": "0",
    "RUNWIRE_DRAIN_TIMEOUT_SECONDS": "0",
}
#: ``deployment_env`` settings dropped: a test's short heartbeat (the default
#: applies, as in production).
DROPPED = ("RUNWIRE_HEARTBEAT_INTERVAL_SECONDS",)
#: Dropped for the in-process deployment: no Temporal at all.
TEMPORAL_SETTINGS = (
    "RUNWIRE_TEMPORAL_ADDRESS",
    "RUNWIRE_TEMPORAL_TASK_QUEUE",
    "RUNWIRE_TEMPORAL_EMBEDDED_WORKER",
)

logger = logging.getLogger("bench.load")


@dataclass
class Stream:
    """One client's run, as its stream went; updated as messages arrive."""

    started: float = 0.0
    ended: float = 0.0
    run_id: str = ""
    #: Logged events received (sequence 1..N).
    events: int = 0
    heartbeats: int = 0
    #: ``message_discarded`` events (a model call retried midway).
    discarded: int = 0
    last: run_service_pb2.StreamRunResponse | None = None
    error: str = ""
    #: The error's kind, for counting (``gap``, ``rpc UNAVAILABLE``, ``stuck`` ...).
    kind: str = ""

    def fail(self, kind: str, error: str) -> None:
        if not self.error:
            self.kind, self.error = kind, error


@dataclass
class Load:
    """The outcome of one side's concurrent runs."""

    streams: list[Stream]
    #: Seconds from the first request to the last terminal event.
    seconds: float
    #: CPU seconds of each server process over the window, by name.
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> list[Stream]:
        return [s for s in self.streams if s.error]

    @property
    def events(self) -> int:
        return sum(s.events for s in self.streams)

    @property
    def runs_per_second(self) -> float:
        return len(self.streams) / self.seconds

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    def latency(self, q: float) -> float:
        return percentile([s.ended - s.started for s in self.streams if not s.error], q)

    def describe_errors(self) -> str:
        """``N errors of M: kind: n, ...; e.g. <first error>``, or ``''``."""
        errors = self.errors
        if not errors:
            return ""
        kinds = Counter(s.kind for s in errors)
        counted = ", ".join(f"{kind}: {n}" for kind, n in kinds.most_common())
        return f"{len(errors)} errors of {len(self.streams):,} ({counted}); e.g. {errors[0].error}"


async def follow(call: Raw, request: Any, stream: Stream) -> None:
    """Reads one StreamRun to its end, checking every message into ``stream``."""
    stream.started = time.perf_counter()
    expected = 1
    terminal = False
    try:
        async for payload in call(request):
            response = run_service_pb2.StreamRunResponse.FromString(payload)
            event = response.event
            if event.sequence == 0:
                if event.HasField("heartbeat"):
                    stream.heartbeats += 1
                    continue
                stream.fail("no sequence", f"a {event.WhichOneof('payload')} event of sequence 0")
                break
            stream.run_id = stream.run_id or event.run_id
            if terminal:
                stream.fail(
                    "after end", f"run {stream.run_id}: event {event.sequence} after its end"
                )
                break
            if event.run_id != stream.run_id:
                stream.fail("other run", f"run {stream.run_id}: an event of run {event.run_id}")
                break
            if event.sequence != expected:
                kind = "duplicate" if event.sequence < expected else "gap"
                stream.fail(
                    kind, f"run {stream.run_id}: sequence {event.sequence} after {expected - 1}"
                )
                break
            expected += 1
            stream.events += 1
            stream.last = response
            terminal = event.HasField("run_finished") or event.HasField("run_error")
            stream.discarded += event.HasField("message_discarded")
    except grpc.aio.AioRpcError as exc:
        stream.fail(
            f"rpc {exc.code().name}",
            f"run {stream.run_id or '?'} after {stream.events} events: "
            f"{exc.code().name} {exc.details()}",
        )
    stream.ended = time.perf_counter()
    if stream.error:
        return
    if stream.last is None:
        stream.fail("no event", "the stream ended without an event")
        return
    event = stream.last.event
    if event.HasField("run_finished") and event.run_finished.state == run_pb2.RUN_STATE_SUCCEEDED:
        return
    outcome = run_outcome(event)
    if outcome is None:
        stream.fail(
            "no end",
            f"run {stream.run_id}: the stream ended after event {event.sequence} "
            f"({event.WhichOneof('payload')}) without the run's end",
        )
        return
    error = f": {outcome.error}" if outcome.error else ""
    stream.fail(
        f"{outcome.state_name} {outcome.finish_reason or ''}".strip(),
        f"run {outcome.run_id} ended {outcome.state_name} "
        f"(finish reason {outcome.finish_reason or '-'}){error}",
    )


async def drive(calls: list[Raw], request: Any, count: int, deadline: float) -> Load:
    """``count`` concurrent streams, stream ``i`` on ``calls[i % len(calls)]``.

    Streams without their end after ``deadline`` seconds are cancelled and
    count as stuck.
    """
    streams = [Stream() for _ in range(count)]
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(follow(calls[i % len(calls)], request, stream))
        for i, stream in enumerate(streams)
    ]
    _, pending = await asyncio.wait(tasks, timeout=deadline)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for stream, task in zip(streams, tasks, strict=True):
        if task in pending:
            stream.ended = time.perf_counter()
            stream.fail(
                "stuck",
                f"run {stream.run_id or '?'}: no end within {deadline:.0f} s "
                f"({stream.events} events received)",
            )
    ended = max((s.ended for s in streams), default=started)
    return Load(streams=streams, seconds=ended - started)


@dataclass
class Clients:
    """Client connections to some servers: ``PER_CHANNEL`` streams each.

    ``calls`` lists one raw call per stream slot, round-robin over the servers:
    slot ``i`` is on server ``i % servers``.
    """

    channels: list[grpc.aio.Channel]
    calls: list[Raw]

    @classmethod
    def open(cls, addresses: list[str], streams: int, make: Callable[[Any], Raw]) -> Clients:
        per_server = math.ceil(streams / len(addresses))
        channels: list[list[grpc.aio.Channel]] = [
            [channel(a) for _ in range(math.ceil(per_server / PER_CHANNEL))] for a in addresses
        ]
        calls_of = [[make(c) for c in server] for server in channels]
        calls = [
            calls_of[i % len(addresses)][(i // len(addresses)) // PER_CHANNEL]
            for i in range(streams)
        ]
        return cls(channels=[c for server in channels for c in server], calls=calls)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.channels), return_exceptions=True)


async def measured(pids: dict[str, int], run: Callable[[], Awaitable[Load]]) -> Load:
    """``run()``, with the CPU seconds the processes ``pids`` and this one
    (``client``) used meanwhile."""
    before = {name: proc_cpu_seconds(pid) for name, pid in pids.items()}
    client = time.process_time()
    load = await run()
    load.cpu = {name: proc_cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    load.cpu["client"] = time.process_time() - client
    return load


@dataclass
class Result:
    """One deployment's load and its floor's."""

    label: str
    runwire: Load
    floor: Load
    events_per_run: int


async def start_deployment(deployed: Deployment, temporal: bool) -> list[str]:
    """Starts the replicas (and, on Temporal, the workers); returns the replicas' addresses."""
    deployed.env.update(ENV)
    for key in DROPPED:
        deployed.env.pop(key, None)
    if not temporal:
        for key in TEMPORAL_SETTINGS:
            deployed.env.pop(key, None)
        deployed.env["RUNWIRE_DEFAULT_RUNTIME"] = "in_process"
    ports = [free_port() for _ in range(REPLICAS)]
    starting = [
        deployed.start_service(port, bind_retry_seconds=BIND_RETRY_SECONDS) for port in ports
    ]
    if temporal:
        starting += [deployed.start_worker() for _ in range(WORKERS)]
    for outcome in await asyncio.gather(*starting, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome
    return [f"127.0.0.1:{port}" for port in ports]


async def measure(
    ctx: Context,
    deployed: Deployment,
    *,
    label: str,
    temporal: bool,
    runs: int,
    redis_pid: int,
) -> Result:
    """Starts the deployment, warms it up, then the concurrent runs and the floor's."""
    addresses = await start_deployment(deployed, temporal)
    pids = {p.name: p.popen.pid for p in deployed.processes} | {"redis": redis_pid}
    clients = Clients.open(addresses, runs, stream_run_call)
    floors: list[ServerProcess] = []
    floor_clients: Clients | None = None
    deadline = ctx.seconds(DEADLINE, QUICK_DEADLINE)
    try:
        await create_agent(
            clients.channels[0], "load", scripted_agent(SCRIPT, tools=["calculator"])
        )
        request = run_request("load", "What is 6 * 7?")
        warm_up = [clients.calls[i % REPLICAS] for i in range(REPLICAS)]
        for _ in range(1 if ctx.quick else WARM_UP_SEQUENTIAL):
            for call in warm_up:
                load = await drive([call], request, 1, deadline)
                if load.errors:
                    raise RuntimeError(f"{label} warm-up: {load.errors[0].error}")
        recorded = [payload async for payload in clients.calls[0](request)]
        check_succeeded(recorded)
        warm = await drive(clients.calls, request, min(runs, WARM_UP_CONCURRENT), deadline)
        if warm.errors:
            raise RuntimeError(f"{label} warm-up: {warm.describe_errors()}")
        runwire = await measured(pids, lambda: drive(clients.calls, request, runs, deadline))
        logger.info(
            "%s: %d runs in %.1f s, %d events; CPU s %s",
            label,
            runs,
            runwire.seconds,
            runwire.events,
            ", ".join(f"{n} {c:.1f}" for n, c in runwire.cpu.items()),
        )
        for stream in runwire.errors[:ERRORS_LOGGED]:
            logger.warning("%s: %s", label, stream.error)
        if runwire.errors:
            for process in deployed.processes:
                logger.warning("%s %s stderr:\n%s", label, process.name, process.errors())
        with tempfile.TemporaryDirectory(prefix="runwire-bench-") as directory:
            path = Path(directory) / "payloads"
            write_payloads(path, recorded)
            started = await asyncio.gather(
                *(
                    ServerProcess.start(
                        f"floor server {n}",
                        ["-m", "bench.floor_server", str(path)],
                        ready="serving on",
                    )
                    for n in range(REPLICAS)
                ),
                return_exceptions=True,
            )
        floors = [p for p in started if isinstance(p, ServerProcess)]
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        opened = floor_clients = Clients.open([f.address for f in floors], runs, floor_call)
        await drive(opened.calls, b"", min(runs, WARM_UP_CONCURRENT), deadline)
        floor = await measured(
            {f.name: f.pid for f in floors}, lambda: drive(opened.calls, b"", runs, deadline)
        )
        return Result(label=label, runwire=runwire, floor=floor, events_per_run=len(recorded))
    finally:
        await clients.close()
        if floor_clients is not None:
            await floor_clients.close()
        await stop_all(floors)


def _rows(ctx: Context, result: Result) -> list[Row]:
    runwire, floor = result.runwire, result.floor
    runs = f"{len(runwire.streams):,}"
    p50 = runwire.latency(0.5), floor.latency(0.5)
    p99 = runwire.latency(0.99), floor.latency(0.99)
    cpu = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in runwire.cpu.items())
    ctx.note(
        f"9 {result.label}: {runs} runs of {result.events_per_run} events in"
        f" {runwire.seconds:.1f} s (floor {floor.seconds:.1f} s); CPU over the runs: {cpu};"
        f" heartbeats received {sum(s.heartbeats for s in runwire.streams)};"
        f" message_discarded (model call retried midway)"
        f" {sum(s.discarded for s in runwire.streams)} in"
        f" {sum(1 for s in runwire.streams if s.discarded)} runs"
    )
    return [
        Row(
            f"9 Load {result.label}, {runs} concurrent runs: runs/s",
            rate(runwire.runs_per_second),
            rate(floor.runs_per_second),
            times(runwire.runs_per_second / floor.runs_per_second),
            NO_TARGET,
        ),
        Row(
            f"9 Load {result.label}: events/s delivered",
            rate(runwire.events_per_second),
            rate(floor.events_per_second),
            times(runwire.events_per_second / floor.events_per_second),
            NO_TARGET,
        ),
        Row(
            f"9 Load {result.label}: run latency p50 | p99",
            f"{ms(p50[0])} | {ms(p99[0])}",
            f"{ms(p50[1])} | {ms(p99[1])}",
            f"{times(p50[0] / p50[1])} | {times(p99[0] / p99[1])}",
            NO_TARGET,
        ),
        Row(
            f"9 Load {result.label}: errors (failed, gap, duplicate, stuck)",
            str(len(runwire.errors)),
            str(len(floor.errors)),
            "—",
            f"0 {'✓' if not runwire.errors else '✗'}",
        ),
    ]


async def run(ctx: Context) -> list[Row]:
    """Scenario 9's rows.

    Raises:
        RuntimeError: a run had an error (the figures are then notes).
    """
    runs = ctx.pick(RUNS, QUICK_RUNS)
    temporal_address = await ctx.temporal()
    redis_server = await start_redis()
    results: list[Result] = []
    try:
        for label, temporal in (
            ("Temporal, 2 replicas + 2 workers", True),
            ("in-process, 2 replicas", False),
        ):
            directory = Path(tempfile.mkdtemp(prefix="runwire-load-"))
            kept = True
            async with deployment(
                redis_url=redis_server.url, temporal_address=temporal_address, directory=directory
            ) as deployed:
                results.append(
                    await measure(
                        ctx,
                        deployed,
                        label=label,
                        temporal=temporal,
                        runs=runs,
                        redis_pid=redis_server.process.pid,
                    )
                )
                kept = bool(results[-1].runwire.errors)
            if kept:
                logger.warning("%s: the processes' output is kept in %s", label, directory)
            else:
                shutil.rmtree(directory, ignore_errors=True)
    finally:
        await redis_server.stop()
    rows = [row for result in results for row in _rows(ctx, result)]
    broken = [
        f"{r.label}: {r.runwire.describe_errors() or r.floor.describe_errors()}"
        for r in results
        if r.runwire.errors or r.floor.errors
    ]
    if broken:
        ctx.notes.extend(f"9 BROKEN {reason}" for reason in broken)
        ctx.notes.extend(
            f"9 (broken) {row.scenario}: {row.runwire} (floor {row.floor})" for row in rows
        )
        raise RuntimeError("; ".join(broken))
    ctx.note(
        f"9: floor: {runs:,} concurrent streams from the same client code to 2 bare grpc.aio"
        " servers (bench.floor_server), each carrying the messages of one run of the deployment"
    )
    return rows
