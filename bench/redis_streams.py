"""Scenario 8 — event streams through Redis: connections, idle commands and memory per stream.

A real ``redis-server`` (as the tests start it: loopback, no persistence) and
two ``runwire serve`` children sharing it (``RUNWIRE_REDIS_URL``):

* the *runs* replica executes N in-process runs, each waiting for an approval
  (no event flows);
* the *streams* replica, the one measured, serves one ``StreamRunEvents`` per
  run (``after_sequence`` 0, 100 streams per client connection, opened in
  waves of ``OPEN_WINDOW``): each replays its run's events up to
  ``REQUIRES_ACTION`` through Redis, then waits in the replica's shared reader
  (``runwire_server/service/stores/redis_reader.py``).

At each level (1,000 then 10,000 streams; quick: 100), once every stream has
caught up:

* **connections**: the streams replica's established TCP connections to
  Redis (its sockets in ``/proc/<pid>/fd`` matched in ``/proc/net/tcp``);
* **commands/s idle**: Redis ``total_commands_processed`` over
  ``IDLE_SECONDS`` (quick: ``QUICK_IDLE_SECONDS``), minus this process's own
  ``INFO`` calls; "the streams' share" subtracts the same figure measured
  before any stream was open (the runs replica's own idle commands);
* **server KB/stream**: the streams replica's VmRSS growth since the warm-up,
  per stream (as scenario 3 measures it);
* **Redis KB/stream**: Redis ``used_memory`` growth since the runs were
  created, per stream (the runs' own data is not counted).

Then every run is cancelled (``CancelRun`` on the runs replica, 64 at a time)
and each stream must end with the run's terminal event: the row gives the
time from a run's ``CancelRun`` answer to its stream's end (p50 / p99), and the
scenario breaks if a stream ends otherwise.

No floor is measured: the row's target is the issue's (≤ 16 connections and
≤ 40 KB per stream with 10,000 held). Before the shared reader, 300 idle
streams held 301 connections and cost 820 commands/s.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import redis.asyncio as redis
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2, run_service_pb2_grpc

from bench.common import (
    NO_TARGET,
    Context,
    Row,
    ServerProcess,
    at_most,
    channel,
    create_agent,
    ms,
    percentile,
    rate,
    runwire_process,
    scripted_agent,
    stop_all,
    stream_events_call,
)
from tests.redis_server import RedisServer, start_redis

NAME = "redis_streams"
#: Streams per client connection (the server's ``max_concurrent_streams``).
PER_CHANNEL = 100
#: Streams opening at once (see scenario 3: gRPC cancels beyond ~1,000 pending calls).
OPEN_WINDOW = 500
#: Runs created, and runs cancelled, at once.
CALL_WINDOW = 64
#: Seconds of idle measurement (longer than the heartbeat interval, 15 s).
IDLE_SECONDS = 20.0
QUICK_IDLE_SECONDS = 1.0
#: Seconds a level may take to open, and the cancellations to end every stream.
LEVEL_TIMEOUT = 300.0
TARGET_CONNECTIONS = 16
#: Longest MONITOR line read (a read naming 2,500 keys is about 150 KB).
MONITOR_LINE_LIMIT = 64 * 2**20
#: A MONITOR line: ``+<time> [<db> <ip>:<port>] "<COMMAND>" ...``.
MONITOR_LINE = re.compile(rb'\+[\d.]+ \[\d+ [^\]]*:(?P<port>\d+)\] "(?P<command>[^"]+)"')
TARGET_KB = 40.0

logger = logging.getLogger("bench.redis_streams")

T = TypeVar("T")

IDLE_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "waiting for a human"}}]},
    {"text": "approved"},
]


@dataclass
class Level:
    """One measured level: N streams open and idle."""

    streams: int
    #: Seconds from opening the level's new streams until all had caught up.
    open_seconds: float
    connections: int
    redis_clients: int
    commands: Commands
    rss_per_stream: float
    redis_per_stream: float


@dataclass
class Stream:
    """One held StreamRunEvents: how far it got."""

    run_id: str
    waiting: bool = False
    ended: bool = False
    #: Seconds from the terminal event's append (its ``create_time``, Redis's
    #: clock on this host) to its arrival here.
    end_latency: float = 0.0


@dataclass
class Streams:
    """The streams this process holds on the streams replica."""

    address: str
    held: list[Stream] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    waiting: int = 0
    ended: int = 0
    closing: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    channels: list[grpc.aio.Channel] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    opening: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(OPEN_WINDOW))

    async def add(self, run_id: str) -> None:
        """Opens one stream once fewer than ``OPEN_WINDOW`` are catching up."""
        await self.opening.acquire()
        if len(self.held) % PER_CHANNEL == 0:
            self.channels.append(channel(self.address))
        stream = Stream(run_id)
        self.held.append(stream)
        call = stream_events_call(self.channels[-1])
        self.tasks.append(asyncio.create_task(self._hold(stream, call)))

    async def _hold(self, stream: Stream, call: Any) -> None:
        request = run_service_pb2.StreamRunEventsRequest(run_id=stream.run_id)
        try:
            async for payload in call(request):
                event = run_service_pb2.StreamRunEventsResponse.FromString(payload).event
                kind = event.WhichOneof("payload")
                if (
                    kind == "state_changed"
                    and event.state_changed.state == run_pb2.RUN_STATE_REQUIRES_ACTION
                    and not stream.waiting
                ):
                    stream.waiting = True
                    self.waiting += 1
                    self.opening.release()
                    self.changed.set()
                elif kind in ("run_finished", "run_error"):
                    stream.ended = True
                    stream.end_latency = time.time() - event.create_time.ToMicroseconds() / 1e6
            if not stream.ended:
                self.failures.append(f"stream of {stream.run_id} ended before its run")
        except grpc.aio.AioRpcError as exc:
            if not self.closing:
                self.failures.append(
                    f"stream of {stream.run_id}: {exc.code().name} {exc.details()}"
                )
        finally:
            if not stream.waiting:
                self.opening.release()
            self.ended += 1
            self.changed.set()

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Waits until ``condition()`` (at most ``LEVEL_TIMEOUT`` s); raises on a failure."""
        deadline = time.perf_counter() + LEVEL_TIMEOUT
        while not condition():
            if self.failures:
                raise RuntimeError(f"{len(self.failures)} streams failed, e.g. {self.failures[0]}")
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise RuntimeError(f"not within {LEVEL_TIMEOUT:.0f} s: {what}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 1.0))

    async def close(self) -> None:
        self.closing = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self.channels), return_exceptions=True)


def redis_ports(pid: int, port: int) -> set[int]:
    """Local ports of the established TCP connections of process ``pid`` to ``port``."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass
class Commands:
    """Redis commands over an idle window."""

    #: Every client's, per second (``total_commands_processed``, without this process's).
    total: float
    #: The streams replica's, per second (``MONITOR``, by its connections' ports).
    replica: float
    #: The streams replica's commands by name, over the window.
    names: collections.Counter[str]


async def idle_commands(
    admin: redis.Redis, url: str, seconds: float, pid: int, port: int
) -> Commands:
    """Redis commands over ``seconds``: all, and those of process ``pid``'s connections.

    ``MONITOR`` is read on a raw connection: a read naming thousands of keys is
    one line longer than redis-py's ``Monitor`` accepts.
    """
    names: collections.Counter[str] = collections.Counter()
    ports = redis_ports(pid, port)
    host = url.split("//", 1)[1].rsplit(":", 1)[0]
    reader, writer = await asyncio.open_connection(host, port, limit=MONITOR_LINE_LIMIT)
    try:
        writer.write(b"MONITOR\r\n")
        await writer.drain()
        await reader.readline()  # +OK
        before = int((await admin.info("stats"))["total_commands_processed"])
        deadline = asyncio.get_running_loop().time() + seconds
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while True:
                    match = MONITOR_LINE.match(await reader.readline())
                    if match and int(match["port"]) in ports:
                        names[match["command"].decode().upper()] += 1
        after = int((await admin.info("stats"))["total_commands_processed"])
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    # The first INFO counts once processed; MONITOR and the second do not.
    return Commands(
        total=(after - before - 1) / seconds,
        replica=sum(names.values()) / seconds,
        names=names,
    )


async def used_memory(admin: redis.Redis) -> int:
    """Redis ``used_memory``, bytes."""
    return int((await admin.info("memory"))["used_memory"])


async def windowed(calls: list[Callable[[], Awaitable[T]]], window: int) -> list[T]:
    """Makes and awaits the calls ``window`` at a time; their results in order."""
    gate = asyncio.Semaphore(window)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


async def create_runs(address: str, count: int) -> list[str]:
    """``count`` runs on the runs replica, each soon waiting for an approval."""
    control = channel(address)
    try:
        agent = scripted_agent(
            IDLE_SCRIPT,
            tools=["echo"],
            mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
            timeout_seconds=7200,
        )
        await create_agent(control, "redis-streams", agent)
        stub = run_service_pb2_grpc.RunServiceStub(control)
        request = run_service_pb2.CreateRunRequest(agent_id="redis-streams", prompt="go")
        responses = await windowed([lambda: stub.CreateRun(request)] * count, CALL_WINDOW)
        return [response.run.run_id for response in responses]
    finally:
        await control.close()


async def cancel_runs(address: str, run_ids: list[str]) -> None:
    """Cancels the runs, ``CALL_WINDOW`` at a time."""
    control = channel(address)
    try:
        stub = run_service_pb2_grpc.RunServiceStub(control)

        async def cancel(run_id: str) -> None:
            await stub.CancelRun(run_service_pb2.CancelRunRequest(run_id=run_id))

        await windowed([functools.partial(cancel, run_id) for run_id in run_ids], CALL_WINDOW)
    finally:
        await control.close()


async def measure(
    ctx: Context,
    redis_server: RedisServer,
    runs: ServerProcess,
    streams_server: ServerProcess,
    levels: tuple[int, ...],
) -> tuple[list[Level], list[float]]:
    """Opens the levels' streams, measures each idle level, then ends every run."""
    port = int(redis_server.url.rsplit(":", 1)[1].split("/", 1)[0])
    admin = redis.Redis.from_url(redis_server.url)
    idle = ctx.seconds(IDLE_SECONDS, QUICK_IDLE_SECONDS)
    streams = Streams(streams_server.address)
    results: list[Level] = []
    try:
        started = time.perf_counter()
        run_ids = await create_runs(runs.address, levels[-1])
        logger.info("%d runs created in %.1f s", len(run_ids), time.perf_counter() - started)
        # Warm-up on the streams replica: a few streams opened and closed.
        warm = Streams(streams_server.address)
        for run_id in run_ids[:10]:
            await warm.add(run_id)
        await warm.until(lambda: warm.waiting == 10, "the warm-up streams waiting")
        await warm.close()
        await asyncio.sleep(0.5)
        baseline_rss = streams_server.rss()
        baseline_redis = await used_memory(admin)
        baseline = await idle_commands(admin, redis_server.url, idle, streams_server.pid, port)
        logger.info("runs idle, no stream: %.1f Redis commands/s", baseline.total)
        for level in levels:
            started = time.perf_counter()
            for run_id in run_ids[len(streams.held) : level]:
                await streams.add(run_id)

            def caught_up(level: int = level) -> bool:
                return streams.waiting >= level

            await streams.until(caught_up, f"{level} streams waiting")
            open_seconds = time.perf_counter() - started
            logger.info("%d streams caught up in %.1f s", level, open_seconds)
            await asyncio.sleep(0.5)
            commands = await idle_commands(admin, redis_server.url, idle, streams_server.pid, port)
            streams_server.check_alive()
            clients = int((await admin.info("clients"))["connected_clients"])
            results.append(
                Level(
                    streams=level,
                    open_seconds=open_seconds,
                    connections=len(redis_ports(streams_server.pid, port)),
                    redis_clients=clients,
                    commands=commands,
                    rss_per_stream=(streams_server.rss() - baseline_rss) / level,
                    redis_per_stream=(await used_memory(admin) - baseline_redis) / level,
                )
            )
            logger.info("%s", results[-1])
        await cancel_runs(runs.address, run_ids)
        await streams.until(
            lambda: all(s.ended for s in streams.held), "every stream ended by its run's end"
        )
        if streams.failures:
            raise RuntimeError(
                f"{len(streams.failures)} streams failed, e.g. {streams.failures[0]}"
            )
        latencies = [s.end_latency for s in streams.held]
        return results, latencies
    finally:
        await streams.close()
        await admin.aclose()


def _rows(ctx: Context, levels: list[Level], latencies: list[float], idle: float) -> list[Row]:
    counts = " | ".join(f"{level.streams:,}" for level in levels)

    def joined(values: list[str]) -> str:
        return " | ".join(values)

    last = levels[-1]
    top = ", ".join(
        f"{name} {count / idle:.1f}/s" for name, count in last.commands.names.most_common(4)
    )
    ctx.note(
        f"8 Redis: at {last.streams:,} idle streams the streams replica sent {top or 'nothing'};"
        f" Redis processed {last.commands.total:,.1f} commands/s from all its"
        f" {last.redis_clients} clients (the runs replica's included). Before the shared"
        " reader, 300 idle streams held 301 connections and cost 820 commands/s"
    )
    return [
        Row(
            f"8 Redis streams idle: replica's Redis connections at {counts}",
            joined([str(level.connections) for level in levels]),
            "—",
            "—",
            at_most(last.connections, TARGET_CONNECTIONS, ""),
        ),
        Row(
            f"8 Redis streams idle: replica's Redis commands/s at {counts}",
            joined([rate(level.commands.replica) for level in levels]),
            "—",
            "—",
            NO_TARGET,
        ),
        Row(
            f"8 Redis streams idle: server KB/stream at {counts}",
            joined([f"{level.rss_per_stream / 1024:.1f} KB" for level in levels]),
            "—",
            "—",
            at_most(last.rss_per_stream / 1024, TARGET_KB, " KB"),
        ),
        Row(
            f"8 Redis streams idle: Redis KB/stream at {counts}",
            joined([f"{level.redis_per_stream / 1024:.2f} KB" for level in levels]),
            "—",
            "—",
            at_most(last.redis_per_stream / 1024, TARGET_KB, " KB"),
        ),
        Row(
            f"8 Redis streams: time to open and catch up (replay) {counts}",
            joined([f"{level.open_seconds:.2f} s" for level in levels]),
            "—",
            "—",
            NO_TARGET,
        ),
        Row(
            f"8 Redis streams: run end appended to received, {last.streams:,} runs cancelled,"
            " p50 / p99",
            f"{ms(percentile(latencies, 0.5))} / {ms(percentile(latencies, 0.99))}",
            "—",
            "—",
            NO_TARGET,
        ),
    ]


async def run(ctx: Context) -> list[Row]:
    """Scenario 8's rows."""
    levels = (100,) if ctx.quick else (1_000, 10_000)
    redis_server = await start_redis()
    children: list[ServerProcess] = []
    try:
        env = {
            "RUNWIRE_REDIS_URL": redis_server.url,
            "RUNWIRE_REDIS_PREFIX": "bench",
            # Each run waits for an approval on purpose (see UNLIMITED in bench.common).
            "RUNWIRE_MAX_PENDING_APPROVALS_PER_TENANT": "0",
        }
        started = await asyncio.gather(
            runwire_process("runwire serve (runs, Redis)", env),
            runwire_process("runwire serve (streams, Redis)", env),
            return_exceptions=True,
        )
        children = [s for s in started if isinstance(s, ServerProcess)]
        for server in started:
            if isinstance(server, BaseException):
                raise server
        runs, streams = children
        measured, latencies = await measure(ctx, redis_server, runs, streams, levels)
        idle = ctx.seconds(IDLE_SECONDS, QUICK_IDLE_SECONDS)
        return _rows(ctx, measured, latencies, idle)
    finally:
        await stop_all(children)
        await redis_server.stop()
