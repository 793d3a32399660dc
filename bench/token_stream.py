"""Scenario 4 — token streaming: 2,000 one-character deltas as fast as the model emits them.

Runwire: a scripted model answering 2,000 characters of text in deltas of one
character with no delay (``chunk_chars`` 1, ``delay_ms`` 0), through StreamRun
on a gRPC server in this process: end-to-end deltas/s and events/s on the wire
(every delta is one ``text_message_content`` event; the run adds a few more).
Floor: a bare grpc.aio stream of the same messages, interleaved run by run.

Per-message cost is the limit there, so the third row runs the same model on
a second server in this process with delta coalescing on
(``RUNWIRE_STREAM_COALESCE_MS`` = ``COALESCE_MS``, ``RUNWIRE_STREAM_COALESCE_CHARS``
= ``COALESCE_CHARS``; ``runwire_server.service.llm.coalesce``): characters/s against the
bare stream of the one-character messages. The note gives its gain over the
one-character run, its floor (a bare stream of the coalesced messages) and
the added latency: the time to the first text delta of both runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from runwire.v1 import run_service_pb2

from bench.common import (
    NO_TARGET,
    Context,
    LocalRunwire,
    Raw,
    Row,
    channel,
    check_succeeded,
    collect,
    create_agent,
    percentile,
    rate,
    run_request,
    scripted_agent,
    stream_run_call,
    times,
)
from bench.floor_server import floor_call, start_floor
from runwire_server.app.config import Settings

NAME = "tokens"
CHARS = 2_000
_SENTENCE = "Runwire streams every token of the answer to each client as it arrives. "
TEXT = (_SENTENCE * (CHARS // len(_SENTENCE) + 1))[:CHARS]
#: The coalescing of the third row: window (ms) and largest merged delta (characters).
COALESCE_MS = 20.0
COALESCE_CHARS = 256


@dataclass
class Side:
    """Elapsed seconds per run of one configuration."""

    events: int
    runwire: list[float]
    floor: list[float]
    #: Seconds from the call to the first text delta, per Runwire run.
    first_text: list[float] = field(default_factory=list)

    def median(self, floor: bool = False) -> float:
        return percentile(self.floor if floor else self.runwire, 0.5)


async def _timed_run(call: Raw, request: object) -> tuple[list[bytes], float, float]:
    """One run: its messages, seconds to the first text delta, and seconds in all."""
    start = time.perf_counter()
    first = 0.0
    payloads = []
    async for payload in call(request):
        payloads.append(payload)
        if not first:
            event = run_service_pb2.StreamRunResponse.FromString(payload).event
            if event.HasField("text_message_content"):
                first = time.perf_counter() - start
    return payloads, first, time.perf_counter() - start


async def measure(runs: int) -> dict[str, Side]:
    """Interleaved runs: 1-char deltas, then the same coalesced, each followed by its floor."""
    plain = await LocalRunwire.start()
    coalescing = await LocalRunwire.start(
        Settings(
            listen=["127.0.0.1:0"],
            log_level="WARNING",
            stream_coalesce_ms=COALESCE_MS,
            stream_coalesce_chars=COALESCE_CHARS,
        )
    )
    floors = []
    try:
        sides: dict[str, Side] = {}
        calls = {}
        for name, runwire in (("1-char", plain), ("coalesced", coalescing)):
            await create_agent(
                runwire.channel, "tokens", scripted_agent([{"text": TEXT}], chunk_chars=1)
            )
            call = stream_run_call(runwire.channel)
            request = run_request("tokens")
            payloads = await collect(call, request)  # warm-up, and the floor's messages
            check_succeeded(payloads)
            server, address = await start_floor(payloads)
            floor_channel = channel(address)
            floors.append((server, floor_channel))
            await collect(floor_call(floor_channel), b"")
            calls[name] = (call, request, floor_call(floor_channel))
            sides[name] = Side(events=len(payloads), runwire=[], floor=[])
        for _ in range(runs):
            for name, (call, request, fcall) in calls.items():
                payloads, first, elapsed = await _timed_run(call, request)
                check_succeeded(payloads)
                sides[name].runwire.append(elapsed)
                sides[name].first_text.append(first)
                start = time.perf_counter()
                received = await collect(fcall, b"")
                sides[name].floor.append(time.perf_counter() - start)
                assert len(received) == sides[name].events
        return sides
    finally:
        for server, floor_channel in floors:
            await floor_channel.close()
            await server.stop(0)
        await plain.close()
        await coalescing.close()


async def run(ctx: Context) -> list[Row]:
    """Scenario 4's rows."""
    sides = await measure(ctx.pick(20, 3))
    one, coalesced = sides["1-char"], sides["coalesced"]
    deltas = CHARS / one.median(), CHARS / one.median(floor=True)
    events = one.events / one.median(), one.events / one.median(floor=True)
    merged = CHARS / coalesced.median(), CHARS / coalesced.median(floor=True)
    gain = merged[0] / deltas[0]
    first_one = percentile(one.first_text, 0.5) * 1000
    first_merged = percentile(coalesced.first_text, 0.5) * 1000
    ctx.note(
        f"4: {one.events:,} events per 1-char run; coalesced ({COALESCE_MS:g} ms or "
        f"{COALESCE_CHARS} chars): {coalesced.events} events, {gain:.1f}x the characters/s of "
        f"the 1-char run (its own floor {rate(merged[1])}); first text after "
        f"{first_merged:.1f} ms vs {first_one:.1f} ms (p50)"
    )
    return [
        Row(
            f"4 Tokens, {CHARS:,} 1-char deltas: deltas/s",
            rate(deltas[0]),
            rate(deltas[1]),
            times(deltas[0] / deltas[1]),
            NO_TARGET,
        ),
        Row(
            "4 Tokens, 1-char deltas: events/s on the wire",
            rate(events[0]),
            rate(events[1]),
            times(events[0] / events[1]),
            NO_TARGET,
        ),
        Row(
            f"4 Tokens, coalesced ({COALESCE_MS:g} ms): chars/s vs the 1-char floor",
            rate(merged[0]),
            rate(deltas[1]),
            times(merged[0] / deltas[1]),
            NO_TARGET,
        ),
    ]
