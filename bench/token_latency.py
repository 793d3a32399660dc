"""Scenario 11 — token latency: from a model delta to the client, on Temporal vs in-process.

Two setups, each measured against the in-process runtime of the same server (the floor
column), runs alternating between the runtimes:

* **Embedded worker**: one Runwire server in this process, with the Temporal runtime and
  its embedded worker (on the benchmark's Temporal dev server) and the in-process runtime,
  memory stores.
* **Worker process**: the deployment of a service and separate workers sharing Redis: a
  ``runwire serve`` child (Temporal runtime without an embedded worker, Redis stores) and
  one ``runwire worker`` child on a real ``redis-server`` (both started through
  ``bench.stamped_process``). A delta of a Temporal run goes worker → Redis → service →
  client; one of an in-process run goes service → Redis → service → client (the service's
  event log is Redis in both).

Default stream settings (no delta coalescing). Every agent has the same scripted answer:
``DELTAS`` text deltas (``TOKEN_CHARS`` characters each, every one different), ``DELAY_MS``
apart so that each delta is sent before the next one comes (latency, not queueing).

The model is ``StampedProvider``, registered under ``PROVIDER`` in every provider
registry of the servers and workers (``register``, as a test double would be): it plays the
scripted provider's answer and notes, per delta text, ``time.perf_counter()`` when it
yields the delta. In this process the client reads those notes directly; a child process
appends them to a file (``STAMPS_ENV``) when the model call ends, and this process reads
the file after the run: ``perf_counter`` is CLOCK_MONOTONIC on Linux, one clock for every
process on the machine. The client (a raw StreamRun, messages as bytes) notes when each
message arrives and, after the run, matches every ``text_message_content`` to the deltas
it carries. Which process's file holds a run's stamps tells where its model ran: a
Temporal run's must be the worker's, an in-process run's the service's.

Rows, per setup: p50 and p99 of the delta → client latency, Temporal against in-process,
and the difference of the p50s (issue 19's target: ≤ ``TARGET_MS`` ms). A third server in
this process merges deltas (``RUNWIRE_STREAM_COALESCE_MS`` = ``COALESCE_MS``, in-process
runtime): the note gives what coalescing adds to the latency of each delta.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from runwire.v1 import agent_pb2, run_service_pb2

from bench.common import (
    NO_TARGET,
    UNLIMITED,
    Context,
    LocalRunwire,
    Raw,
    Row,
    ServerProcess,
    channel,
    check_succeeded,
    create_agent,
    ms,
    percentile,
    run_request,
    scripted_agent,
    stop_all,
    stream_run_call,
    times,
)
from runwire_server.app.config import Settings
from runwire_server.service.llm.base import ModelChunk, ModelRequest, TextDelta
from runwire_server.service.llm.scripted import ScriptedOptions, ScriptedProvider

if TYPE_CHECKING:
    from tests.redis_server import RedisServer

NAME = "token_latency"
#: The provider name the stamped scripted model is registered under.
PROVIDER = "bench-stamped"
#: The environment variable naming the file a child process's stamped model appends to.
STAMPS_ENV = "BENCH_STAMPS_FILE"
#: Characters per delta: every delta is ``TOKEN_CHARS`` characters, numbered.
TOKEN_CHARS = 6
DELTAS = 300
QUICK_DELTAS = 100
DELAY_MS = 5.0
#: Issue 19: Temporal's p50 at most this many milliseconds over in-process.
TARGET_MS = 15.0
#: The coalescing window of the note's run (milliseconds) and its largest merged delta.
COALESCE_MS = 20.0
COALESCE_CHARS = 256
TASK_QUEUE = "bench-token-latency"
#: The task queue of the worker-process setup (its own: the embedded worker never takes its runs).
SPLIT_TASK_QUEUE = "bench-token-latency-split"
#: Seconds this process waits for a child's stamps of a run that has ended.
STAMPS_TIMEOUT = 10.0

logger = logging.getLogger("bench.token_latency")

Stamps = dict[str, float]
#: Gives the stamps of the run that just ended (delta text → seconds), given its delta count.
Take = Callable[[int], Awaitable[Stamps]]


def answer(deltas: int) -> str:
    """``deltas`` distinct tokens of ``TOKEN_CHARS`` characters (``t0001 t0002 ...``)."""
    return "".join(f"t{number:0{TOKEN_CHARS - 2}d} " for number in range(1, deltas + 1))


def tokens(text: str) -> list[str]:
    """The ``TOKEN_CHARS`` pieces of a (merged) delta."""
    return [text[i : i + TOKEN_CHARS] for i in range(0, len(text), TOKEN_CHARS)]


class StampedProvider:
    """The scripted provider, noting when it yields each text delta.

    Attributes:
        stamps: Delta text → ``time.perf_counter()`` seconds at its yield, since the
            last ``take`` (texts repeat from run to run).
        path: When set, each model call that streams to its end appends its stamps
            there, one ``SECONDS<TAB>TEXT`` line per delta (``StampFile`` reads them).
    """

    def __init__(self, path: Path | None = None) -> None:
        self._scripted = ScriptedProvider()
        self.stamps: Stamps = {}
        self.path = path

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """``ScriptedProvider.stream``, stamping every ``TextDelta``."""
        noted: list[tuple[float, str]] = []
        async for chunk in self._scripted.stream(request):
            if isinstance(chunk, TextDelta):
                stamp = time.perf_counter()
                self.stamps[chunk.text] = stamp
                noted.append((stamp, chunk.text))
            yield chunk
        if self.path is not None:
            with self.path.open("a") as file:
                file.write("".join(f"{stamp!r}\t{text}\n" for stamp, text in noted))

    async def take(self, deltas: int) -> Stamps:
        """The stamps noted since the last call (``Take``; all of them are here already)."""
        taken, self.stamps = self.stamps, {}
        return taken


class StampFile:
    """The stamps a child process's ``StampedProvider`` appends to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()
        self._offset = 0

    def _read(self) -> list[str]:
        """The complete lines appended since the last read."""
        with self.path.open("rb") as file:
            file.seek(self._offset)
            data = file.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        return complete.decode().splitlines()

    async def take(self, deltas: int) -> Stamps:
        """The next ``deltas`` stamps (``Take``), waiting up to ``STAMPS_TIMEOUT`` for them.

        Raises:
            RuntimeError: fewer came in time.
        """
        lines: list[str] = []
        deadline = time.perf_counter() + STAMPS_TIMEOUT
        while True:
            lines += self._read()
            if len(lines) >= deltas or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.01)
        if len(lines) != deltas:
            raise RuntimeError(f"{self.path.name}: {len(lines)} stamps for {deltas} deltas")
        stamps: Stamps = {}
        for line in lines:
            seconds, text = line.split("\t", 1)
            stamps[text] = float(seconds)
        return stamps

    def check_idle(self) -> None:
        """Raises if stamps were appended since the last read (a model ran in the wrong process)."""
        if self.path.stat().st_size != self._offset:
            raise RuntimeError(f"a run's model ran in the {self.path.name} process")


def stamped_agent(deltas: int, runtime: agent_pb2.Runtime) -> agent_pb2.Agent:
    """An agent on ``StampedProvider`` answering ``answer(deltas)``, one token per delta."""
    agent = scripted_agent(
        [{"text": answer(deltas)}], chunk_chars=TOKEN_CHARS, delay_ms=DELAY_MS, runtime=runtime
    )
    agent.model.provider = PROVIDER
    return agent


async def start(settings: Settings, provider: StampedProvider) -> LocalRunwire:
    """A server in this process with ``provider`` registered in every registry it has."""
    runwire = await LocalRunwire.start(settings)
    registries = [runwire.app.providers, runwire.app.worker_providers]
    for registry in registries:
        if registry is not None:
            registry.register(PROVIDER, provider, ScriptedOptions.violations)
    return runwire


@dataclass(frozen=True)
class Sample:
    """One run: seconds from each delta's yield to its arrival; its events and id."""

    latencies: list[float]
    events: int
    run_id: str


async def one_run(call: Raw, request: object, take: Take, deltas: int) -> Sample:
    """One run, measured; ``take`` gives its model's stamps once it has ended."""
    received = [(time.perf_counter(), payload) async for payload in call(request)]
    check_succeeded([payload for _, payload in received])
    stamps = await take(deltas)
    latencies = []
    run_id = ""
    for arrived, payload in received:
        event = run_service_pb2.StreamRunResponse.FromString(payload).event
        run_id = event.run_id
        if event.HasField("text_message_content"):
            for token in tokens(event.text_message_content.delta):
                latencies.append(arrived - stamps[token])
    if len(latencies) != len(stamps) or len(stamps) != deltas:
        raise RuntimeError(
            f"{len(latencies)} deltas received of {len(stamps)} streamed ({deltas} expected)"
        )
    if min(latencies) < 0:
        raise RuntimeError(f"a delta arrived {-min(latencies):.6f} s before it was stamped")
    return Sample(latencies, len(received), run_id)


@dataclass(frozen=True)
class Side:
    """One agent to measure: where it runs and where its model's stamps come from.

    Attributes:
        runtime: The agent's runtime.
        call: StreamRun on its server.
        create: CreateAgent on its server (agent id, agent).
        take: Its model's stamps after each run.
        check: Called with the id of each run: raises if it ran on another runtime or
            its model in another process.
    """

    runtime: agent_pb2.Runtime
    call: Raw
    create: Callable[[str, agent_pb2.Agent], Awaitable[None]]
    take: Take
    check: Callable[[str], Awaitable[None]]


@dataclass
class Measured:
    """Seconds per delta and events per run, by side."""

    latencies: dict[str, list[float]]
    events: dict[str, int]


async def alternate(sides: dict[str, Side], deltas: int, runs: int, *, warm_up: bool) -> Measured:
    """``runs`` rounds of one run per side, in turn (an agent per side, named after it);
    ``warm_up``: one unmeasured run per side first."""
    for side, measured in sides.items():
        await measured.create(side, stamped_agent(deltas, measured.runtime))
    requests = {side: run_request(side) for side in sides}

    async def one(side: str) -> Sample:
        measured = sides[side]
        sample = await one_run(measured.call, requests[side], measured.take, deltas)
        await measured.check(sample.run_id)
        return sample

    if warm_up:
        for side in sides:
            await one(side)
    result = Measured({side: [] for side in sides}, {})
    for _ in range(runs):
        for side in sides:
            sample = await one(side)
            result.latencies[side] += sample.latencies
            result.events[side] = sample.events
    return result


def local_side(
    runwire: LocalRunwire, runtime: agent_pb2.Runtime, provider: StampedProvider
) -> Side:
    """An agent on ``runtime`` of a server in this process."""

    async def create(agent_id: str, agent: agent_pb2.Agent) -> None:
        await create_agent(runwire.channel, agent_id, agent)

    async def check(run_id: str) -> None:
        ran = await runwire.app.stores.runs.get(run_id)
        if ran.runtime != runtime:
            raise RuntimeError(f"a run meant for runtime {runtime} ran on {ran.runtime}")

    return Side(runtime, stream_run_call(runwire.channel), create, provider.take, check)


async def measure(address: str, deltas: int, runs: int, *, warm_up: bool = True) -> Measured:
    """The embedded-worker setup: seconds per delta by side (``temporal``, ``in_process``,
    ``coalesced``), and events per run by side."""
    provider = StampedProvider()
    main = await start(
        Settings(
            listen=["127.0.0.1:0"],
            log_level="WARNING",
            temporal_address=address,
            temporal_task_queue=TASK_QUEUE,
        ),
        provider,
    )
    coalescing = await start(
        Settings(
            listen=["127.0.0.1:0"],
            log_level="WARNING",
            stream_coalesce_ms=COALESCE_MS,
            stream_coalesce_chars=COALESCE_CHARS,
        ),
        provider,
    )
    try:
        sides = {
            "temporal": local_side(main, agent_pb2.RUNTIME_TEMPORAL, provider),
            "in_process": local_side(main, agent_pb2.RUNTIME_IN_PROCESS, provider),
            "coalesced": local_side(coalescing, agent_pb2.RUNTIME_IN_PROCESS, provider),
        }
        return await alternate(sides, deltas, runs, warm_up=warm_up)
    finally:
        await coalescing.close()
        await main.close()


async def start_children(*starting: Awaitable[ServerProcess]) -> list[ServerProcess]:
    """Starts child processes concurrently; if one fails, stops the others and raises."""
    started = await asyncio.gather(*starting, return_exceptions=True)
    children = [p for p in started if isinstance(p, ServerProcess)]
    for failed in started:
        if isinstance(failed, BaseException):
            await stop_all(children)
            raise failed
    return children


@dataclass
class SplitDeployment:
    """The worker-process setup: a ``runwire serve`` child (Temporal without an embedded
    worker, Redis stores) and a ``runwire worker`` child sharing a ``redis-server``, both
    with the stamped model (``bench.stamped_process``), and a channel to the service.

    Attributes:
        service_stamps: Stamps of the models run in the service (in-process runs).
        worker_stamps: Stamps of the models run in the worker (Temporal runs).
    """

    redis: RedisServer
    directory: tempfile.TemporaryDirectory[str]
    service_stamps: StampFile
    worker_stamps: StampFile
    children: list[ServerProcess] = field(default_factory=list)
    channel: grpc.aio.Channel | None = None

    @classmethod
    async def start(cls, address: str) -> SplitDeployment:
        """Starts Redis, then both children at once, on the Temporal server at ``address``.

        Raises:
            RuntimeError: a child exited or was not ready in time (``ServerProcess.start``).
        """
        from tests.redis_server import start_redis  # noqa: PLC0415 - on demand

        started = time.perf_counter()
        redis = await start_redis()
        directory = tempfile.TemporaryDirectory(prefix="bench-stamps-")
        folder = Path(directory.name)
        deployment = cls(
            redis, directory, StampFile(folder / "service"), StampFile(folder / "worker")
        )
        env = {
            "RUNWIRE_TEMPORAL_ADDRESS": address,
            "RUNWIRE_REDIS_URL": redis.url,
            "RUNWIRE_TEMPORAL_TASK_QUEUE": SPLIT_TASK_QUEUE,
            "RUNWIRE_TEMPORAL_EMBEDDED_WORKER": "false",
            **{f"RUNWIRE_{key.upper()}": str(value) for key, value in UNLIMITED.items()},
        }
        try:
            deployment.children = await start_children(
                ServerProcess.start(
                    "runwire serve (stamped, no worker)",
                    ["-m", "bench.stamped_process", "serve"],
                    ready="serving on",
                    env={**env, STAMPS_ENV: str(deployment.service_stamps.path)},
                ),
                ServerProcess.start(
                    "runwire worker (stamped)",
                    ["-m", "bench.stamped_process", "worker"],
                    ready="worker polling",
                    env={**env, STAMPS_ENV: str(deployment.worker_stamps.path)},
                ),
            )
            deployment.channel = channel(deployment.children[0].address)
        except BaseException:
            await deployment.close()
            raise
        logger.info(
            "11: service and worker processes ready in %.1f s", time.perf_counter() - started
        )
        return deployment

    async def measure(self, deltas: int, runs: int, *, warm_up: bool = True) -> Measured:
        """Seconds per delta by side (``temporal``: the worker process, ``in_process``: the
        service's own runtime), and events per run by side."""
        served = self.channel
        assert served is not None
        call = stream_run_call(served)

        async def create(agent_id: str, agent: agent_pb2.Agent) -> None:
            await create_agent(served, agent_id, agent)

        def idle(stamps: StampFile) -> Callable[[str], Awaitable[None]]:
            async def check(run_id: str) -> None:
                stamps.check_idle()

            return check

        sides = {
            "temporal": Side(
                agent_pb2.RUNTIME_TEMPORAL,
                call,
                create,
                self.worker_stamps.take,
                idle(self.service_stamps),
            ),
            "in_process": Side(
                agent_pb2.RUNTIME_IN_PROCESS,
                call,
                create,
                self.service_stamps.take,
                idle(self.worker_stamps),
            ),
        }
        measured = await alternate(sides, deltas, runs, warm_up=warm_up)
        for child in self.children:
            child.check_alive()
        return measured

    async def close(self) -> None:
        """Closes the channel, stops the children and Redis, removes the stamp files."""
        if self.channel is not None:
            await self.channel.close()
        await stop_all(self.children)
        await self.redis.stop()
        self.directory.cleanup()


def latency_rows(
    label: str, deltas: str, temporal: list[float], in_process: list[float]
) -> list[Row]:
    """p50, p99 and the difference of the p50s (against ``TARGET_MS``) of one setup."""
    p50 = percentile(temporal, 0.5), percentile(in_process, 0.5)
    p99 = percentile(temporal, 0.99), percentile(in_process, 0.99)
    over = (p50[0] - p50[1]) * 1000
    return [
        Row(
            f"11 Token latency{deltas} p50, {label}: Temporal vs in-process",
            ms(p50[0]),
            ms(p50[1]),
            times(p50[0] / p50[1]),
            NO_TARGET,
        ),
        Row(
            f"11 Token latency p99, {label}: Temporal vs in-process",
            ms(p99[0]),
            ms(p99[1]),
            times(p99[0] / p99[1]),
            NO_TARGET,
        ),
        Row(
            f"11 Token latency p50, {label}: Temporal - in-process",
            f"{over:+.2f} ms",
            "",
            "",
            f"≤ {TARGET_MS:g} ms {'✓' if over <= TARGET_MS else '✗'}",
        ),
    ]


async def run(ctx: Context) -> list[Row]:
    """Scenario 11's rows (the worker-process setup starts after the embedded one is
    measured: its start-up would load the machine meanwhile)."""
    address = await ctx.temporal()
    deltas = DELTAS if not ctx.quick else QUICK_DELTAS
    runs = ctx.pick(3, 1)
    started = time.perf_counter()
    embedded = await measure(address, deltas, runs, warm_up=not ctx.quick)
    logger.info("11: embedded worker measured in %.1f s", time.perf_counter() - started)
    deployment = await SplitDeployment.start(address)
    try:
        started = time.perf_counter()
        split = await deployment.measure(deltas, runs, warm_up=not ctx.quick)
        logger.info("11: worker process measured in %.1f s", time.perf_counter() - started)
    finally:
        await deployment.close()
    merged = embedded.latencies["coalesced"]
    ctx.note(
        f"11: {len(embedded.latencies['in_process']):,} deltas per runtime and setup ({deltas}"
        f" a run, {DELAY_MS:g} ms apart, {embedded.events['in_process']} events a run);"
        " default settings: no coalescing, each delta is one event. With"
        f" RUNWIRE_STREAM_COALESCE_MS={COALESCE_MS:g} (in-process) a delta waits for the ones"
        f" merged after it: p50 {ms(percentile(merged, 0.5))},"
        f" p99 {ms(percentile(merged, 0.99))}, {embedded.events['coalesced']} events a run"
    )
    memory = percentile(embedded.latencies["in_process"], 0.5)
    worker = percentile(split.latencies["temporal"], 0.5)
    ctx.note(
        "11: worker process: a runwire serve child (Redis stores, no embedded worker) and a"
        " runwire worker child on one redis-server; in-process (the floor) is that service's"
        " own runtime, its deltas through the same Redis event log. Against in-process on"
        f" memory stores (the embedded rows' floor, p50 {ms(memory)}) the worker process's"
        f" p50 is {(worker - memory) * 1000:+.2f} ms"
    )
    return [
        *latency_rows(
            "embedded worker",
            f", model delta → client ({deltas} deltas {DELAY_MS:g} ms apart)",
            embedded.latencies["temporal"],
            embedded.latencies["in_process"],
        ),
        *latency_rows(
            "worker process (Redis)",
            "",
            split.latencies["temporal"],
            split.latencies["in_process"],
        ),
    ]
