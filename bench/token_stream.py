"""Scenario 4 — token streaming: 2,000 one-character deltas as fast as the model emits them.

Runwire: a scripted model answering 2,000 characters of text in deltas of one
character with no delay (``chunk_chars`` 1, ``delay_ms`` 0), through StreamRun
on a gRPC server in this process: end-to-end deltas/s and events/s on the wire
(every delta is one ``text_message_content`` event; the run adds a few more).
Floor: a bare grpc.aio stream of the same messages, interleaved run by run.

The second row set is the same 2,000 characters in 125 deltas of 16 characters:
what a coalescing window for text deltas (flush at 16 characters or after a
few milliseconds, whichever first) would put on the wire for a fast model. Its
characters/s against the one-character run is the gain to expect from
coalescing when per-message cost is the limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.common import (
    NO_TARGET,
    Context,
    LocalRunwire,
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

NAME = "tokens"
CHARS = 2_000
_SENTENCE = "Runwire streams every token of the answer to each client as it arrives. "
TEXT = (_SENTENCE * (CHARS // len(_SENTENCE) + 1))[:CHARS]


@dataclass
class Side:
    """Elapsed seconds per run of one configuration."""

    events: int
    runwire: list[float]
    floor: list[float]

    def median(self, floor: bool = False) -> float:
        return percentile(self.floor if floor else self.runwire, 0.5)


async def measure(runs: int, chunk_sizes: tuple[int, ...] = (1, 16)) -> dict[int, Side]:
    """Interleaved runs per chunk size: Runwire then its floor."""
    runwire = await LocalRunwire.start()
    floors = []
    try:
        sides: dict[int, Side] = {}
        calls = {}
        for size in chunk_sizes:
            agent_id = f"tokens-{size}"
            agent = scripted_agent([{"text": TEXT}], chunk_chars=size)
            await create_agent(runwire.channel, agent_id, agent)
            call = stream_run_call(runwire.channel)
            request = run_request(agent_id)
            payloads = await collect(call, request)  # warm-up, and the floor's messages
            check_succeeded(payloads)
            server, address = await start_floor(payloads)
            floor_channel = channel(address)
            floors.append((server, floor_channel))
            await collect(floor_call(floor_channel), b"")
            calls[size] = (call, request, floor_call(floor_channel))
            sides[size] = Side(events=len(payloads), runwire=[], floor=[])
        for _ in range(runs):
            for size, (call, request, fcall) in calls.items():
                start = time.perf_counter()
                payloads = await collect(call, request)
                sides[size].runwire.append(time.perf_counter() - start)
                check_succeeded(payloads)
                start = time.perf_counter()
                received = await collect(fcall, b"")
                sides[size].floor.append(time.perf_counter() - start)
                assert len(received) == sides[size].events
        return sides
    finally:
        for server, floor_channel in floors:
            await floor_channel.close()
            await server.stop(0)
        await runwire.close()


async def run(ctx: Context) -> list[Row]:
    """Scenario 4's rows."""
    sides = await measure(ctx.pick(20, 3))
    one, coalesced = sides[1], sides[16]
    deltas = CHARS / one.median(), CHARS / one.median(floor=True)
    events = one.events / one.median(), one.events / one.median(floor=True)
    chars16 = CHARS / coalesced.median(), CHARS / coalesced.median(floor=True)
    gain = chars16[0] / deltas[0]
    ctx.note(
        f"4: {one.events:,} events per 1-char run; the 16-char run ({coalesced.events} events)"
        f" streams {gain:.1f}x the characters/s of the 1-char run on Runwire"
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
            f"4 Tokens, as 16-char deltas: chars/s ({gain:.1f}x 1-char)",
            rate(chars16[0]),
            rate(chars16[1]),
            times(chars16[0] / chars16[1]),
            NO_TARGET,
        ),
    ]
