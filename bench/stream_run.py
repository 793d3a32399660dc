"""Scenario 1 — per-run overhead, in-process: one scripted run through StreamRun vs a bare stream.

Runwire: a scripted run of 2 LLM turns and 1 auto-approved tool call (echo)
through ``RunService.StreamRun`` on a real gRPC server on loopback, in this
process. Floor: a bare grpc.aio server-streaming RPC in this process that sends
the very same response messages (same count, same bytes) with no work between
them. Both clients receive bytes (no decoding on either side). Both are
measured in the same process run, interleaved run by run, so machine noise
hits both alike. Reports p50/p99 latency and the ratio (targets ≤ 1.3x, ≤ 1.5x).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench.common import (
    Context,
    LocalRunwire,
    Row,
    at_most,
    channel,
    check_succeeded,
    collect,
    create_agent,
    ms,
    percentile,
    run_request,
    scripted_agent,
    stream_run_call,
    times,
)
from bench.floor_server import floor_call, start_floor
from runwire_server.app.config import Settings

NAME = "stream_run"

SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "ping"}}]},
    {"text": "The echo said ping, so the service is alive and well."},
]
#: Issue 19's targets: p50 within 1.3x the floor, p99 within 1.5x.
TARGET_P50_RATIO = 1.3
TARGET_P99_RATIO = 1.5


@dataclass(frozen=True)
class Result:
    """Latency percentiles in milliseconds, and the number of events per run."""

    p50_ms: float
    p99_ms: float
    events: int


async def measure(runs: int, settings: Settings | None = None) -> tuple[Result, Result]:
    """Runs ``runs`` StreamRun calls and ``runs`` floor calls, interleaved;
    returns (runwire, floor).

    Args:
        runs: Measured runs per side (after warm-ups).
        settings: Server settings (default: in-process runtime, memory stores);
            the runs use the settings' default runtime.
    """
    runwire = await LocalRunwire.start(settings)
    try:
        await create_agent(runwire.channel, "bench", scripted_agent(SCRIPT, tools=["echo"]))
        call = stream_run_call(runwire.channel)
        request = run_request("bench", "ping the echo tool")

        async def one_run() -> tuple[float, list[bytes]]:
            start = time.perf_counter()
            payloads = await collect(call, request)
            elapsed = time.perf_counter() - start
            check_succeeded(payloads)
            return elapsed, payloads

        for _ in range(3):
            _, payloads = await one_run()  # warm-up, and the floor's messages
        floor_server, floor_address = await start_floor(payloads)
        floor_channel = channel(floor_address)
        try:
            fcall = floor_call(floor_channel)

            async def one_floor() -> float:
                start = time.perf_counter()
                received = await collect(fcall, b"")
                elapsed = time.perf_counter() - start
                assert len(received) == len(payloads)
                return elapsed

            for _ in range(3):
                await one_floor()
            runwire_times: list[float] = []
            floor_times: list[float] = []
            for _ in range(runs):
                elapsed, _ = await one_run()
                runwire_times.append(elapsed)
                floor_times.append(await one_floor())
        finally:
            await floor_channel.close()
            await floor_server.stop(0)
    finally:
        await runwire.close()

    def result(seconds: list[float]) -> Result:
        values = [t * 1000 for t in seconds]
        return Result(percentile(values, 0.5), percentile(values, 0.99), len(payloads))

    return result(runwire_times), result(floor_times)


def rows(
    runwire: Result, floor: Result, label: str, target: float, p99_target: float | None = None
) -> list[Row]:
    """Table rows for p50 and p99 of a ``measure`` result (``p99_target``: default ``target``)."""
    p50 = runwire.p50_ms / floor.p50_ms
    p99 = runwire.p99_ms / floor.p99_ms
    return [
        Row(
            f"{label} p50 ({runwire.events} events)",
            ms(runwire.p50_ms / 1000),
            ms(floor.p50_ms / 1000),
            times(p50),
            at_most(p50, target),
        ),
        Row(
            f"{label} p99",
            ms(runwire.p99_ms / 1000),
            ms(floor.p99_ms / 1000),
            times(p99),
            at_most(p99, target if p99_target is None else p99_target),
        ),
    ]


async def run(ctx: Context) -> list[Row]:
    """Scenario 1's rows."""
    runs = ctx.pick(300, 10)
    runwire, floor = await measure(runs)
    return rows(runwire, floor, "1 StreamRun in-process", TARGET_P50_RATIO, TARGET_P99_RATIO)
