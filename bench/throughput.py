"""Scenario 2 — throughput: 64 concurrent clients starting runs for a fixed time.

Runwire: ``runwire serve`` in a child process (in-process runtime, memory
stores); 64 clients in this process, each on its own connection, start the
run of scenario 1 (2 LLM turns + 1 auto-approved tool call) through
StreamRun one after another and read every event. Floor: the bare grpc.aio
server (``bench.floor_server``) in a child process, same 64 clients, same
messages per call. Windows alternate Runwire / floor (two of 5 s each per
side; quick: one of 2 s). Reports runs/s and events/s; target: Runwire's
events/s ≥ 0.75x the floor's.

The server's CPU use during each window is logged (``-v``): a server at
~100% of a core is the limit; less means the client (this process) is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from bench.common import (
    NO_TARGET,
    Context,
    Raw,
    Row,
    ServerProcess,
    at_least,
    channel,
    check_succeeded,
    collect,
    create_agent,
    rate,
    run_request,
    scripted_agent,
    stop_all,
    stream_run_call,
    times,
)
from bench.floor_server import floor_call, write_payloads
from bench.stream_run import SCRIPT

NAME = "throughput"
#: ``runwire serve`` children this scenario takes from ``Context.runwire``.
RUNWIRE_PROCESSES = 1
CLIENTS = 64
TARGET_EVENTS_RATIO = 0.75

logger = logging.getLogger("bench.throughput")


@dataclass
class Load:
    """What the clients completed in one window."""

    runs: int = 0
    events: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0

    def add(self, other: Load) -> None:
        self.runs += other.runs
        self.events += other.events
        self.seconds += other.seconds
        self.server_cpu += other.server_cpu

    @property
    def runs_per_second(self) -> float:
        return self.runs / self.seconds

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_per_event(self) -> float:
        """Server CPU seconds per event streamed (all the server's threads)."""
        return self.server_cpu / self.events

    @property
    def cpu_percent(self) -> float:
        return 100 * self.server_cpu / self.seconds


async def drive(calls: list[Raw], request: Any, seconds: float, server: ServerProcess) -> Load:
    """Each call (one per client) starts runs back to back for ``seconds``;
    runs in flight at the deadline are finished and counted."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def client(call: Raw) -> tuple[int, int]:
        runs = events = 0
        while loop.time() < deadline:
            payloads = await collect(call, request)
            check_succeeded(payloads)
            runs += 1
            events += len(payloads)
        return runs, events

    cpu = server.cpu()
    started = time.perf_counter()
    done = await asyncio.gather(*(client(call) for call in calls))
    elapsed = time.perf_counter() - started
    server.check_alive()
    return Load(
        runs=sum(r for r, _ in done),
        events=sum(e for _, e in done),
        seconds=elapsed,
        server_cpu=server.cpu() - cpu,
    )


async def run(ctx: Context) -> list[Row]:
    """Scenario 2's rows."""
    window = ctx.seconds(5.0, 2.0)
    warm_up = ctx.seconds(1.0, 0.5)
    rounds = 1 if ctx.quick else 2
    processes: list[ServerProcess] = []
    channels: list[grpc.aio.Channel] = []
    try:
        runwire = await ctx.runwire("runwire serve")
        processes.append(runwire)
        runwire_channels = [channel(runwire.address) for _ in range(CLIENTS)]
        channels += runwire_channels
        await create_agent(runwire_channels[0], "bench", scripted_agent(SCRIPT, tools=["echo"]))
        request = run_request("bench", "ping the echo tool")
        payloads = await collect(stream_run_call(runwire_channels[0]), request)
        check_succeeded(payloads)
        with tempfile.TemporaryDirectory(prefix="runwire-bench-") as directory:
            path = Path(directory) / "payloads"
            write_payloads(path, payloads)
            floor = await ServerProcess.start(
                "floor server", ["-m", "bench.floor_server", str(path)], ready="serving on"
            )
        processes.append(floor)
        floor_channels = [channel(floor.address) for _ in range(CLIENTS)]
        channels += floor_channels
        runwire_calls = [stream_run_call(c) for c in runwire_channels]
        floor_calls = [floor_call(c) for c in floor_channels]
        # Warm-up: connections up, code paths hot.
        await drive(runwire_calls, request, warm_up, runwire)
        await drive(floor_calls, b"", warm_up, floor)
        totals = {"runwire": Load(), "floor": Load()}
        for _ in range(rounds):
            for side, calls, server, req in (
                ("runwire", runwire_calls, runwire, request),
                ("floor", floor_calls, floor, b""),
            ):
                load = await drive(calls, req, window, server)
                logger.info(
                    "%s: %d runs, %d events in %.2f s; server CPU %.0f%%",
                    side,
                    load.runs,
                    load.events,
                    load.seconds,
                    load.cpu_percent,
                )
                totals[side].add(load)
    finally:
        await asyncio.gather(*(c.close() for c in channels))
        await stop_all(processes)
    runwire_load, floor_load = totals["runwire"], totals["floor"]
    events_ratio = runwire_load.events_per_second / floor_load.events_per_second
    ctx.note(
        f"2: server CPU while loaded: Runwire {runwire_load.cpu_percent:.0f}%,"
        f" floor {floor_load.cpu_percent:.0f}% (100% = one core; the machine has"
        f" {os.cpu_count()}, shared with the clients)"
    )
    return [
        Row(
            f"2 Throughput, {CLIENTS} clients: runs/s",
            rate(runwire_load.runs_per_second),
            rate(floor_load.runs_per_second),
            times(runwire_load.runs_per_second / floor_load.runs_per_second),
            NO_TARGET,
        ),
        Row(
            f"2 Throughput, {CLIENTS} clients: events/s",
            rate(runwire_load.events_per_second),
            rate(floor_load.events_per_second),
            times(events_ratio),
            at_least(events_ratio, TARGET_EVENTS_RATIO),
        ),
        Row(
            f"2 Throughput, {CLIENTS} clients: server CPU per event",
            f"{runwire_load.cpu_per_event * 1e6:.1f} µs",
            f"{floor_load.cpu_per_event * 1e6:.1f} µs",
            times(runwire_load.cpu_per_event / floor_load.cpu_per_event),
            NO_TARGET,
        ),
    ]
