"""Scenario 3 — fan-out and memory: thousands of StreamRunEvents subscriptions to one run.

Runwire: ``runwire serve`` in a child process (in-process runtime, memory
stores), one run, and N concurrent ``StreamRunEvents`` subscriptions to it from
this process (100 per connection), opened in waves (at most ``OPEN_WINDOW``
waiting for their first message at a time):

* idle: the run waits for an approval (no event flows);
* receiving: the run streams text, one delta every ``TICK_SECONDS`` (quick:
  every second) to every subscriber; the server's CPU time per delivered
  event is measured over two ticks at the last level.

Each subscription starts one event before the run's last, so its first message
comes at once; "time to open" is from starting the N calls until each has its
first message. Server memory is the child's VmRSS (``/proc/<pid>/status``)
after the subscriptions are open (receiving: after each got a live event too),
minus its VmRSS before, divided by N; the subscriptions of a level stay open
while the next level adds to them (1,000, then 10,000; quick: 200). Each kind
runs in a fresh server process.

Floor: the bare grpc.aio server (``bench.floor_server``) in a child process,
same clients, same message bytes: ``Hold`` sends one message and holds the
stream, ``Drip`` sends one per tick from one shared ticker.

Target: ≤ 40 KB of server memory per subscription with 10,000 held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2, run_service_pb2_grpc

from bench.common import (
    NO_TARGET,
    Context,
    Raw,
    Row,
    ServerProcess,
    at_most,
    channel,
    create_agent,
    proc_fds,
    proc_threads,
    scripted_agent,
    stop_all,
    stream_events_call,
    times,
)
from bench.floor_server import floor_call, write_payloads

NAME = "fanout"
#: ``runwire serve`` children this scenario takes from ``Context.runwire``.
RUNWIRE_PROCESSES = 2
PER_CHANNEL = 100
#: Seconds between live events of the receiving run (quick mode: 1 s). At 10,000
#: subscribers one event is 10,000 deliveries: 5 s keeps Runwire's server under
#: one core (each delivery costs it about 0.3 ms of CPU; see the CPU row). At one
#: event per second its server saturates a core from about 4,000 subscribers on,
#: and new subscriptions then start failing with CANCELLED.
TICK_SECONDS = 5.0
QUICK_TICK_SECONDS = 1.0
TARGET_KB = 40.0
#: Subscriptions opening at once. gRPC's server cancels new calls (CANCELLED) once
#: more than ``grpc.server.max_pending_requests`` (default 1,000; hard limit 3,000)
#: wait for the application to take them: a burst of 10,000 opens at once loses
#: about half. Clients here open in waves, as reconnecting clients with backoff do.
OPEN_WINDOW = 500
#: Seconds a level may take to open (and, receiving, to get one live event each).
LEVEL_TIMEOUT = 180.0

logger = logging.getLogger("bench.fanout")

IDLE_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "waiting for a human"}}]},
    {"text": "approved"},
]
# One 4-character delta per second for an hour (the run is cancelled long before).
RECEIVING_SCRIPT: list[dict[str, Any]] = [{"text": "tick" * 3600}]


@dataclass
class Level:
    """One measured level: N subscriptions open."""

    subscriptions: int
    open_seconds: float
    rss_per_subscription: float
    fds: int
    threads: int
    #: Receiving, at the last level: server CPU seconds per delivered event.
    cpu_per_delivery: float = 0.0


@dataclass
class Subscribers:
    """Subscriptions held open by this process."""

    target: int = 0
    opened: int = 0
    live_target: int = 0
    live: int = 0
    counts: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    closing: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    all_opened: asyncio.Event = field(default_factory=asyncio.Event)
    all_live: asyncio.Event = field(default_factory=asyncio.Event)

    opening: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(OPEN_WINDOW))

    async def add(self, call: Raw, request: Any) -> None:
        """Starts one subscription once fewer than ``OPEN_WINDOW`` are opening."""
        await self.opening.acquire()
        index = len(self.counts)
        self.counts.append(0)
        self.tasks.append(asyncio.create_task(self._hold(index, call, request)))

    async def _hold(self, index: int, call: Raw, request: Any) -> None:
        try:
            async for _ in call(request):
                self.counts[index] += 1
                if self.counts[index] == 1:
                    self.opening.release()
                    self.opened += 1
                    if self.opened >= self.target:
                        self.all_opened.set()
                elif self.counts[index] == 2:
                    self.live += 1
                    if self.live >= self.live_target:
                        self.all_live.set()
            self.failures.append(f"stream {index} ended")
        except grpc.aio.AioRpcError as exc:
            if not self.closing:
                self.failures.append(
                    f"stream {index} after {self.counts[index]} messages: "
                    f"{exc.code().name} {exc.details()}"
                )
        finally:
            if self.counts[index] == 0:
                self.opening.release()
            if self.failures:
                self.all_opened.set()
                self.all_live.set()

    def check(self) -> None:
        """Raises if a subscription failed."""
        if self.failures:
            raise RuntimeError(
                f"{len(self.failures)} subscriptions failed, e.g. {self.failures[0]}"
            )

    async def wait(self, event: asyncio.Event, what: str, server: ServerProcess) -> None:
        """Waits for ``event`` at most ``LEVEL_TIMEOUT`` s; raises saying how far it got."""
        try:
            await asyncio.wait_for(event.wait(), LEVEL_TIMEOUT)
        except TimeoutError:
            got = sum(1 for c in self.counts if c >= (2 if event is self.all_live else 1))
            raise RuntimeError(
                f"{server.name}: only {got} of {len(self.counts)} subscriptions {what} "
                f"within {LEVEL_TIMEOUT:.0f} s"
            ) from None

    async def close(self) -> None:
        self.closing = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def hold(
    server: ServerProcess,
    make_call: Any,
    request: Any,
    levels: tuple[int, ...],
    *,
    tick: float | None,
) -> list[Level]:
    """Opens subscriptions up to each level in turn; measures each level.

    Args:
        tick: Seconds between live events (receiving), None when idle.
    """
    channels: list[grpc.aio.Channel] = []
    subscribers = Subscribers()

    def next_call() -> Raw:
        if len(subscribers.counts) % PER_CHANNEL == 0:
            channels.append(channel(server.address))
        return make_call(channels[-1])  # type: ignore[no-any-return]

    results = []
    try:
        # Warm-up: one connection's worth, opened and closed, before the baseline.
        warm = Subscribers(target=10, live_target=10**9)
        warm_channel = channel(server.address)
        for _ in range(10):
            await warm.add(make_call(warm_channel), request)
        await asyncio.wait_for(warm.all_opened.wait(), LEVEL_TIMEOUT)
        await warm.close()
        await warm_channel.close()
        await asyncio.sleep(0.5)
        baseline = server.rss()
        for number, level in enumerate(levels, 1):
            subscribers.target = level
            subscribers.live_target = level
            subscribers.all_opened.clear()
            started = time.perf_counter()
            while len(subscribers.counts) < level and not subscribers.failures:
                await subscribers.add(next_call(), request)
            await subscribers.wait(subscribers.all_opened, "opened", server)
            open_seconds = time.perf_counter() - started
            cost = 0.0
            if tick is None:
                await asyncio.sleep(0.5)
            else:
                await subscribers.wait(subscribers.all_live, "received a live event", server)
                if number == len(levels):
                    cost = await _delivery_cost(server, subscribers, 2 * tick)
            subscribers.check()
            server.check_alive()
            rss = server.rss()
            results.append(
                Level(
                    subscriptions=level,
                    open_seconds=open_seconds,
                    rss_per_subscription=(rss - baseline) / level,
                    fds=proc_fds(server.pid),
                    threads=proc_threads(server.pid),
                    cpu_per_delivery=cost,
                )
            )
            logger.info(
                "%s: %d open in %.2f s, RSS %.0f MB (+%.1f KB each), %d fds, %d threads%s",
                server.name,
                level,
                open_seconds,
                rss / 2**20,
                results[-1].rss_per_subscription / 1024,
                results[-1].fds,
                results[-1].threads,
                f", {cost * 1e6:.0f} us CPU per delivered event" if cost else "",
            )
    finally:
        await subscribers.close()
        await asyncio.gather(*(c.close() for c in channels), return_exceptions=True)
    return results


async def _delivery_cost(server: ServerProcess, subscribers: Subscribers, seconds: float) -> float:
    """Server CPU seconds per message delivered to a subscriber, over ``seconds``."""
    cpu, delivered = server.cpu(), sum(subscribers.counts)
    await asyncio.sleep(seconds)
    cpu, delivered = server.cpu() - cpu, sum(subscribers.counts) - delivered
    if delivered == 0:
        raise RuntimeError(f"{server.name}: no event delivered in {seconds:.0f} s")
    return cpu / delivered


async def _runwire_side(
    server: ServerProcess, levels: tuple[int, ...], *, tick: float | None
) -> tuple[list[Level], bytes]:
    """Measures Runwire; returns the levels and one subscription message (for the floor)."""
    control = channel(server.address)
    try:
        if tick is not None:
            agent = scripted_agent(
                RECEIVING_SCRIPT, chunk_chars=4, delay_ms=tick * 1000, timeout_seconds=7200
            )
        else:
            agent = scripted_agent(
                IDLE_SCRIPT,
                tools=["echo"],
                mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
                timeout_seconds=7200,
            )
        await create_agent(control, "fanout", agent)
        runs = run_service_pb2_grpc.RunServiceStub(control)
        run = (
            await runs.CreateRun(run_service_pb2.CreateRunRequest(agent_id="fanout", prompt="go"))
        ).run
        while True:  # idle: waiting for the approval; receiving: streaming
            run = (await runs.GetRun(run_service_pb2.GetRunRequest(run_id=run.run_id))).run
            if (tick is not None and run.last_sequence >= 4) or (
                run.state == run_pb2.RUN_STATE_REQUIRES_ACTION
            ):
                break
            await asyncio.sleep(0.05)
        request = run_service_pb2.StreamRunEventsRequest(
            run_id=run.run_id, after_sequence=run.last_sequence - 1
        )
        sample = b""
        async for message in stream_events_call(control)(request):
            sample = message
            break
        measured = await hold(server, stream_events_call, request, levels, tick=tick)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))
        return measured, sample
    finally:
        await control.close()


async def _floor_side(sample: bytes, levels: tuple[int, ...], *, tick: float | None) -> list[Level]:
    with tempfile.TemporaryDirectory(prefix="runwire-bench-") as directory:
        path = Path(directory) / "payloads"
        write_payloads(path, [sample])
        floor = await ServerProcess.start(
            f"floor server ({'receiving' if tick else 'idle'})",
            ["-m", "bench.floor_server", str(path), "--tick-ms", str((tick or 1.0) * 1000)],
            ready="serving on",
        )
    try:
        method = "Drip" if tick else "Hold"
        return await hold(floor, lambda c: floor_call(c, method), b"", levels, tick=tick)
    finally:
        await floor.stop()


def _rows(
    ctx: Context, runwire: list[Level], floor: list[Level], *, tick: float | None
) -> list[Row]:
    kind = f"receiving (1 event/{tick:g} s)" if tick else "idle"

    def joined(values: list[str]) -> str:
        return " | ".join(values)

    counts = joined([f"{level.subscriptions:,}" for level in runwire])
    kb = [level.rss_per_subscription / 1024 for level in runwire]
    floor_kb = [level.rss_per_subscription / 1024 for level in floor]
    opens = [level.open_seconds for level in runwire]
    floor_opens = [level.open_seconds for level in floor]
    last, floor_last = runwire[-1], floor[-1]
    ctx.note(
        f"3 {kind}: with {last.subscriptions:,} subscriptions the Runwire server had"
        f" {last.fds} fds and {last.threads} threads ({PER_CHANNEL} streams per connection;"
        f" the floor {floor_last.fds} fds)"
    )
    rows = [
        Row(
            f"3 Fan-out {kind}: server KB/subscription at {counts}",
            joined([f"{v:.1f} KB" for v in kb]),
            joined([f"{v:.1f} KB" for v in floor_kb]),
            joined([times(a / b) if b > 0 else "—" for a, b in zip(kb, floor_kb, strict=True)]),
            at_most(kb[-1], TARGET_KB, " KB"),
        ),
        Row(
            f"3 Fan-out {kind}: time to open {counts}",
            joined([f"{v:.2f} s" for v in opens]),
            joined([f"{v:.2f} s" for v in floor_opens]),
            joined([times(a / b) for a, b in zip(opens, floor_opens, strict=True)]),
            NO_TARGET,
        ),
    ]
    if tick:
        rows.append(
            Row(
                f"3 Fan-out {kind}: server CPU per delivery at {last.subscriptions:,}",
                f"{last.cpu_per_delivery * 1e6:.0f} µs",
                f"{floor_last.cpu_per_delivery * 1e6:.0f} µs",
                times(last.cpu_per_delivery / floor_last.cpu_per_delivery),
                NO_TARGET,
            )
        )
    return rows


async def run(ctx: Context) -> list[Row]:
    """Scenario 3's rows."""
    levels = (200,) if ctx.quick else (1_000, 10_000)
    tick = ctx.seconds(TICK_SECONDS, QUICK_TICK_SECONDS)
    servers = await asyncio.gather(
        ctx.runwire("runwire serve (idle)"),
        ctx.runwire("runwire serve (receiving)"),
        return_exceptions=True,
    )
    started = [s for s in servers if isinstance(s, ServerProcess)]
    try:
        for server in servers:
            if isinstance(server, BaseException):
                raise server
        rows = []
        for server, kind_tick in zip(started, (None, tick), strict=True):
            runwire, sample = await _runwire_side(server, levels, tick=kind_tick)
            await server.stop()
            floor = await _floor_side(sample, levels, tick=kind_tick)
            rows += _rows(ctx, runwire, floor, tick=kind_tick)
        return rows
    finally:
        await stop_all(started)
