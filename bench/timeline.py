"""When each event of scenario 1's run reaches the client, against the floor.

``python -m bench.timeline [--runs N]``

Runs the scripted run of scenario 1 (2 LLM turns + 1 tool call, in-process,
StreamRun on a server in this process) and the bare grpc.aio stream of the
same messages, interleaved, ``N`` times each (default 200, after 30 warm-ups),
and prints for every message the median time from the call to its arrival,
in milliseconds, on both sides. The first row shows the cost of starting a
run (request handling, run creation, the run task's first events); the
spacing of later rows the cost per event.

``python -m bench.timeline --split [--runs N]``

Splits the CPU of a run into a fixed part and a part per event, on both
sides: the CPU time of this process's main thread (the server's event loop,
the gRPC client and the Python parts of both; not gRPC's own threads) per
run, for a one-delta answer and a 101-delta answer (scripted model, 16
characters a delta, in-process), and for the floor streaming the same
messages. The difference over the 100 extra events gives the cost per event;
what is left of the short run, the fixed cost (request handling, run
creation and ending, the model call). The median of 5 rounds of ``N`` runs
(default 100) per side and length.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator

from runwire.v1 import run_service_pb2

from bench.common import (
    LocalRunwire,
    Raw,
    channel,
    check_succeeded,
    collect,
    create_agent,
    exit_now,
    run_request,
    scripted_agent,
    stream_run_call,
)
from bench.floor_server import floor_call, start_floor
from bench.stream_run import SCRIPT

WARM_UPS = 30


async def _arrivals(call: Raw, request: object) -> list[float]:
    """Seconds from the call to each message's arrival."""
    start = time.perf_counter()
    return [time.perf_counter() - start async for _ in call(request)]


@contextlib.asynccontextmanager
async def _floor_of(call: Raw, request: object) -> AsyncIterator[tuple[list[bytes], Raw]]:
    """Runs ``request`` once through ``call`` (it must succeed); yields its messages and a
    call of a floor server streaming the same messages, stopped afterwards."""
    payloads = await collect(call, request)
    check_succeeded(payloads)
    server, address = await start_floor(payloads)
    floor_channel = channel(address)
    try:
        yield payloads, floor_call(floor_channel)
    finally:
        await floor_channel.close()
        await server.stop(0)


async def timeline(runs: int) -> list[tuple[str, float, float]]:
    """(event kind, Runwire ms, floor ms) per message, medians over ``runs``."""
    runwire = await LocalRunwire.start()
    try:
        await create_agent(runwire.channel, "bench", scripted_agent(SCRIPT, tools=["echo"]))
        call = stream_run_call(runwire.channel)
        request = run_request("bench", "ping the echo tool")
        async with _floor_of(call, request) as (payloads, fcall):
            ours: list[list[float]] = []
            floor: list[list[float]] = []
            for i in range(WARM_UPS + runs):
                mine, bare = await _arrivals(call, request), await _arrivals(fcall, b"")
                if i >= WARM_UPS and len(mine) == len(payloads):
                    ours.append(mine)
                    floor.append(bare)
    finally:
        await runwire.close()
    kinds = [
        run_service_pb2.StreamRunResponse.FromString(p).event.WhichOneof("payload") or "?"
        for p in payloads
    ]
    return [
        (
            kind,
            statistics.median(r[i] for r in ours) * 1000,
            statistics.median(r[i] for r in floor) * 1000,
        )
        for i, kind in enumerate(kinds)
    ]


#: Text deltas of the short and the long answer of ``--split``.
SPLIT_DELTAS = (1, 101)
SPLIT_ROUNDS = 5


def _thread_cpu() -> float:
    return time.clock_gettime(time.CLOCK_THREAD_CPUTIME_ID)


async def _cpu_per_call(call: Raw, request: object, runs: int) -> float:
    """Median over ``SPLIT_ROUNDS`` rounds of the main thread's CPU seconds per call."""
    rounds = []
    for _ in range(SPLIT_ROUNDS):
        started = _thread_cpu()
        for _ in range(runs):
            await collect(call, request)
        rounds.append((_thread_cpu() - started) / runs)
    return statistics.median(rounds)


async def split(runs: int) -> dict[int, tuple[int, float, float]]:
    """Deltas -> (events, Runwire CPU seconds per run, floor's), for ``SPLIT_DELTAS``."""
    runwire = await LocalRunwire.start()
    measured: dict[int, tuple[int, float, float]] = {}
    try:
        for deltas in SPLIT_DELTAS:
            agent = f"split-{deltas}"
            await create_agent(
                runwire.channel, agent, scripted_agent([{"text": "x" * 16 * deltas}])
            )
            call = stream_run_call(runwire.channel)
            request = run_request(agent, "go")
            async with _floor_of(call, request) as (payloads, fcall):
                for _ in range(WARM_UPS):
                    await collect(call, request)
                    await collect(fcall, b"")
                ours = await _cpu_per_call(call, request, runs)
                floor = await _cpu_per_call(fcall, b"", runs)
            measured[deltas] = (len(payloads), ours, floor)
    finally:
        await runwire.close()
    return measured


def _print_split(measured: dict[int, tuple[int, float, float]]) -> None:
    (short_events, short_ours, short_floor), (long_events, long_ours, long_floor) = (
        measured[d] for d in SPLIT_DELTAS
    )
    extra = long_events - short_events
    per_ours = (long_ours - short_ours) / extra
    per_floor = (long_floor - short_floor) / extra
    print("main-thread CPU per run, µs (Runwire | floor)")
    for events, ours, floor in (measured[d] for d in SPLIT_DELTAS):
        print(f"  {events:4d} events: {ours * 1e6:8.0f} | {floor * 1e6:8.0f}")
    print(f"  per event:   {per_ours * 1e6:8.1f} | {per_floor * 1e6:8.1f}")
    print(
        f"  fixed:       {(short_ours - per_ours * short_events) * 1e6:8.0f} | "
        f"{(short_floor - per_floor * short_events) * 1e6:8.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.timeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=None, help="default 200; with --split 100")
    parser.add_argument("--split", action="store_true", help="fixed and per-event CPU")
    args = parser.parse_args()
    if args.split:
        _print_split(asyncio.run(split(args.runs or 100)))
        return
    rows = asyncio.run(timeline(args.runs or 200))
    print(f"{'#':>2} {'event':28} {'Runwire':>9} {'floor':>9}  (ms from the call, median)")
    for number, (kind, ours, floor) in enumerate(rows, start=1):
        print(f"{number:2d} {kind:28} {ours:9.2f} {floor:9.2f}")


if __name__ == "__main__":
    main()
    exit_now()
