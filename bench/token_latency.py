"""Scenario 11 — token latency: from a model delta to the client, on Temporal vs in-process.

One Runwire server in this process, with the Temporal runtime and its embedded
worker (on the benchmark's Temporal dev server) and the in-process runtime,
memory stores, default stream settings (no delta coalescing). Two agents on
the same scripted answer, one per runtime: ``DELTAS`` text deltas
(``TOKEN_CHARS`` characters each, every one different), ``DELAY_MS`` apart so
that each delta is sent before the next one comes (latency, not queueing).

The model is ``StampedProvider``, registered under ``PROVIDER`` in the
service's provider registry and in the embedded worker's (``register``, as a
test double would be): it plays the scripted provider's answer and notes, per
delta text, ``time.perf_counter()`` when it yields the delta. The client (a
raw StreamRun, messages as bytes) notes when each message arrives and, after
the run, matches every ``text_message_content`` to the deltas it carries. The
Temporal activity that calls the model runs on this process's event loop, so
both ends read one clock. Runs alternate between the runtimes.

Rows: p50 and p99 of the delta → client latency, Temporal against in-process
(the floor column), and the difference of the p50s (issue 19's target:
≤ ``TARGET_MS`` ms). A second server in this process merges deltas
(``RUNWIRE_STREAM_COALESCE_MS`` = ``COALESCE_MS``, in-process runtime): the
note gives what coalescing adds to the latency of each delta.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from runwire.v1 import agent_pb2, run_service_pb2

from bench.common import (
    NO_TARGET,
    Context,
    LocalRunwire,
    Raw,
    Row,
    check_succeeded,
    create_agent,
    ms,
    percentile,
    run_request,
    scripted_agent,
    stream_run_call,
    times,
)
from runwire_server.app.config import Settings
from runwire_server.service.llm.base import ModelChunk, ModelRequest, TextDelta
from runwire_server.service.llm.scripted import ScriptedOptions, ScriptedProvider

NAME = "token_latency"
#: The provider name the stamped scripted model is registered under.
PROVIDER = "bench-stamped"
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


def answer(deltas: int) -> str:
    """``deltas`` distinct tokens of ``TOKEN_CHARS`` characters (``t0001 t0002 ...``)."""
    return "".join(f"t{number:0{TOKEN_CHARS - 2}d} " for number in range(1, deltas + 1))


def tokens(text: str) -> list[str]:
    """The ``TOKEN_CHARS`` pieces of a (merged) delta."""
    return [text[i : i + TOKEN_CHARS] for i in range(0, len(text), TOKEN_CHARS)]


class StampedProvider:
    """The scripted provider, noting when it yields each text delta.

    Attributes:
        stamps: Delta text → ``time.perf_counter()`` seconds at its yield; the
            caller clears it between runs (texts repeat from run to run).
    """

    def __init__(self) -> None:
        self._scripted = ScriptedProvider()
        self.stamps: dict[str, float] = {}

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """``ScriptedProvider.stream``, stamping every ``TextDelta``."""
        async for chunk in self._scripted.stream(request):
            if isinstance(chunk, TextDelta):
                self.stamps[chunk.text] = time.perf_counter()
            yield chunk


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


async def one_run(call: Raw, request: object, provider: StampedProvider) -> Sample:
    """One run, measured."""
    provider.stamps.clear()
    received = [(time.perf_counter(), payload) async for payload in call(request)]
    check_succeeded([payload for _, payload in received])
    latencies = []
    run_id = ""
    for arrived, payload in received:
        event = run_service_pb2.StreamRunResponse.FromString(payload).event
        run_id = event.run_id
        if event.HasField("text_message_content"):
            for token in tokens(event.text_message_content.delta):
                latencies.append(arrived - provider.stamps[token])
    if len(latencies) != len(provider.stamps):
        raise RuntimeError(f"{len(latencies)} deltas received of {len(provider.stamps)} streamed")
    return Sample(latencies, len(received), run_id)


async def measure(
    address: str, deltas: int, runs: int, *, warm_up: bool = True
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Seconds per delta by side (``temporal``, ``in_process``, ``coalesced``),
    and events per run by side; ``warm_up``: one unmeasured run per side first."""
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
            "temporal": (main, agent_pb2.RUNTIME_TEMPORAL),
            "in_process": (main, agent_pb2.RUNTIME_IN_PROCESS),
            "coalesced": (coalescing, agent_pb2.RUNTIME_IN_PROCESS),
        }
        calls = {}
        for side, (runwire, runtime) in sides.items():
            await create_agent(runwire.channel, side, stamped_agent(deltas, runtime))
            calls[side] = (stream_run_call(runwire.channel), run_request(side))
            if warm_up:
                await one_run(*calls[side], provider)
        latencies: dict[str, list[float]] = {side: [] for side in sides}
        events: dict[str, int] = {}
        for _ in range(runs):
            for side, (call, request) in calls.items():
                sample = await one_run(call, request, provider)
                latencies[side] += sample.latencies
                if side not in events:
                    runwire, runtime = sides[side]
                    ran = await runwire.app.stores.runs.get(sample.run_id)
                    if ran.runtime != runtime:
                        raise RuntimeError(f"a {side} run ran on runtime {ran.runtime}")
                events[side] = sample.events
        return latencies, events
    finally:
        await coalescing.close()
        await main.close()


async def run(ctx: Context) -> list[Row]:
    """Scenario 11's rows."""
    address = await ctx.temporal()
    deltas = DELTAS if not ctx.quick else QUICK_DELTAS
    latencies, events = await measure(address, deltas, ctx.pick(3, 1), warm_up=not ctx.quick)
    temporal, in_process = latencies["temporal"], latencies["in_process"]
    p50 = percentile(temporal, 0.5), percentile(in_process, 0.5)
    p99 = percentile(temporal, 0.99), percentile(in_process, 0.99)
    over = p50[0] - p50[1]
    merged = latencies["coalesced"]
    ctx.note(
        f"11: {len(in_process):,} deltas per runtime ({deltas} a run, {DELAY_MS:g} ms apart,"
        f" {events['in_process']} events a run); default settings: no coalescing, each delta is"
        f" one event. With RUNWIRE_STREAM_COALESCE_MS={COALESCE_MS:g} (in-process) a delta"
        f" waits for the ones merged after it: p50 {ms(percentile(merged, 0.5))},"
        f" p99 {ms(percentile(merged, 0.99))}, {events['coalesced']} events a run"
    )
    return [
        Row(
            f"11 Token latency, model delta → client, p50 ({deltas} deltas {DELAY_MS:g} ms"
            " apart): Temporal vs in-process",
            ms(p50[0]),
            ms(p50[1]),
            times(p50[0] / p50[1]),
            NO_TARGET,
        ),
        Row(
            "11 Token latency p99: Temporal vs in-process",
            ms(p99[0]),
            ms(p99[1]),
            times(p99[0] / p99[1]),
            NO_TARGET,
        ),
        Row(
            "11 Token latency p50: Temporal - in-process",
            f"{over * 1000:+.2f} ms",
            "",
            "",
            f"≤ {TARGET_MS:g} ms {'✓' if over * 1000 <= TARGET_MS else '✗'}",
        ),
    ]
