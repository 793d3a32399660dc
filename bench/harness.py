"""Scenario 6 — the Agent SDK for Go's harness settings, on both runtimes.

Each run: an LLM call of 200 ± 50 ms that asks for 3 tool calls, the 3 calls in
parallel (the built-in ``sleep`` tool, 50 ms each), then an LLM call of
200 ± 50 ms that answers. 100 sequential runs per runtime (quick: 5), run by run
alternating in-process and Temporal (dev server, embedded worker, memory
stores).

The latency of each LLM call is drawn from a seeded RNG (uniform over 150-250
ms in 10 ms steps) and played by the scripted model: it pauses ``delay_ms`` (10
ms) before each delta, so a call of L ms streams L/10 deltas (16-character text
pieces, plus one argument delta per tool call). Run i uses the same draws on
both runtimes.

Floor: the same waits with nothing else — L1/10 sleeps of 10 ms, 3 parallel
sleeps of 50 ms, L2/10 sleeps of 10 ms — measured in this process, interleaved
with the runs (what a framework with zero overhead would take on this machine;
nominally L1 + 50 ms + L2). Reports p50/p95/p99 and runs/s against it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from runwire.v1 import agent_pb2, run_service_pb2

from bench.common import (
    NO_TARGET,
    Context,
    LocalRunwire,
    Row,
    check_succeeded,
    collect,
    create_agent,
    ms,
    percentile,
    rate,
    scripted_agent,
    stream_run_call,
    times,
)
from runwire_server.app.config import Settings

NAME = "harness"
SEED = 20_240_601
DELAY_MS = 10
CHUNK_CHARS = 16
TOOL_SECONDS = 0.05
PARALLEL_TOOLS = 3
LLM_MS = (150, 250)
WARM_UP_SECONDS = 2.0
QUICK_WARM_UP_SECONDS = 1.0
RUNTIMES: dict[str, agent_pb2.Runtime] = {
    "in-process": agent_pb2.RUNTIME_IN_PROCESS,
    "Temporal": agent_pb2.RUNTIME_TEMPORAL,
}


def _text(deltas: int) -> str:
    piece = "Thinking it over"  # 16 characters: one delta each
    assert len(piece) == CHUNK_CHARS
    return piece * deltas


def plan_run(rng: random.Random) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """One run's script and its two LLM latencies in milliseconds."""
    first, second = (rng.randrange(LLM_MS[0], LLM_MS[1] + 1, DELAY_MS) for _ in range(2))
    arguments = {"seconds": TOOL_SECONDS}  # '{"seconds":0.05}': 16 characters, one delta
    script: list[dict[str, Any]] = [
        {
            "text": _text(first // DELAY_MS - PARALLEL_TOOLS),
            "tool_calls": [{"name": "sleep", "arguments": arguments}] * PARALLEL_TOOLS,
        },
        {"text": _text(second // DELAY_MS)},
    ]
    return script, (first, second)


async def floor_run(latencies: tuple[int, int]) -> float:
    """The run's waits alone, as the scripted model and the tools wait; seconds."""
    start = time.perf_counter()
    for _ in range(latencies[0] // DELAY_MS):
        await asyncio.sleep(DELAY_MS / 1000)
    await asyncio.gather(*(asyncio.sleep(TOOL_SECONDS) for _ in range(PARALLEL_TOOLS)))
    for _ in range(latencies[1] // DELAY_MS):
        await asyncio.sleep(DELAY_MS / 1000)
    return time.perf_counter() - start


@dataclass
class Series:
    """Wall times of one runtime's runs, seconds."""

    times: list[float] = field(default_factory=list)


async def measure(address: str, runs: int, warm_up: float = WARM_UP_SECONDS) -> dict[str, Series]:
    """Returns the wall times per runtime and of the floor."""
    settings = Settings(
        listen=["127.0.0.1:0"],
        log_level="WARNING",
        temporal_address=address,
        temporal_task_queue="bench-harness",
    )
    runwire = await LocalRunwire.start(settings)
    try:
        rng = random.Random(SEED)
        latencies = []
        for number in range(runs):
            script, drawn = plan_run(rng)
            latencies.append(drawn)
            agent = scripted_agent(
                script, tools=["sleep"], chunk_chars=CHUNK_CHARS, delay_ms=DELAY_MS
            )
            await create_agent(runwire.channel, f"harness-{number}", agent)
        call = stream_run_call(runwire.channel)

        async def one(number: int, runtime: agent_pb2.Runtime) -> float:
            request = run_service_pb2.StreamRunRequest(
                agent_id=f"harness-{number}", prompt="go", runtime=runtime
            )
            start = time.perf_counter()
            payloads = await collect(call, request)
            elapsed = time.perf_counter() - start
            check_succeeded(payloads)
            return elapsed

        warm_until = time.perf_counter() + warm_up
        while time.perf_counter() < warm_until:
            for runtime in RUNTIMES.values():
                await one(0, runtime)
            await floor_run(latencies[0])
        series = {name: Series() for name in (*RUNTIMES, "floor")}
        for number in range(runs):
            for name, runtime in RUNTIMES.items():
                series[name].times.append(await one(number, runtime))
            series["floor"].times.append(await floor_run(latencies[number]))
        return series
    finally:
        await runwire.close()


async def run(ctx: Context) -> list[Row]:
    """Scenario 6's rows."""
    runs = ctx.pick(100, 5)
    series = await measure(
        await ctx.temporal(), runs, ctx.seconds(WARM_UP_SECONDS, QUICK_WARM_UP_SECONDS)
    )
    ctx.note(
        f"6: {runs} sequential runs per runtime; each run: LLM call (200±50 ms) → "
        f"{PARALLEL_TOOLS} parallel tool calls (50 ms) → LLM call (200±50 ms); floor: the same"
        " waits alone"
    )
    rows = []
    quantiles = (0.5, 0.95, 0.99)
    floor = series.pop("floor").times
    ideal_q = [percentile(floor, q) for q in quantiles]
    ideal_rate = len(floor) / sum(floor)
    for name, measured in series.items():
        got = [percentile(measured.times, q) for q in quantiles]
        per_second = len(measured.times) / sum(measured.times)
        rows += [
            Row(
                f"6 Harness {name}: p50 | p95 | p99",
                " | ".join(ms(v) for v in got),
                " | ".join(ms(v) for v in ideal_q),
                " | ".join(times(a / b) for a, b in zip(got, ideal_q, strict=True)),
                NO_TARGET,
            ),
            Row(
                f"6 Harness {name}: runs/s",
                rate(per_second),
                rate(ideal_rate),
                times(per_second / ideal_rate),
                NO_TARGET,
            ),
        ]
    return rows
