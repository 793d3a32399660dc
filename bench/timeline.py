"""When each event of scenario 1's run reaches the client, against the floor.

``python -m bench.timeline [--runs N]``

Runs the scripted run of scenario 1 (2 LLM turns + 1 tool call, in-process,
StreamRun on a server in this process) and the bare grpc.aio stream of the
same messages, interleaved, ``N`` times each (default 200, after 30 warm-ups),
and prints for every message the median time from the call to its arrival,
in milliseconds, on both sides. The first row shows the cost of starting a
run (request handling, run creation, the run task's first events); the
spacing of later rows the cost per event.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

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


async def timeline(runs: int) -> list[tuple[str, float, float]]:
    """(event kind, Runwire ms, floor ms) per message, medians over ``runs``."""
    runwire = await LocalRunwire.start()
    try:
        await create_agent(runwire.channel, "bench", scripted_agent(SCRIPT, tools=["echo"]))
        call = stream_run_call(runwire.channel)
        request = run_request("bench", "ping the echo tool")
        payloads = await collect(call, request)
        check_succeeded(payloads)
        server, address = await start_floor(payloads)
        floor_channel = channel(address)
        try:
            fcall = floor_call(floor_channel)
            ours: list[list[float]] = []
            floor: list[list[float]] = []
            for i in range(WARM_UPS + runs):
                mine, bare = await _arrivals(call, request), await _arrivals(fcall, b"")
                if i >= WARM_UPS and len(mine) == len(payloads):
                    ours.append(mine)
                    floor.append(bare)
        finally:
            await floor_channel.close()
            await server.stop(0)
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.timeline", description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    rows = asyncio.run(timeline(args.runs))
    print(f"{'#':>2} {'event':28} {'Runwire':>9} {'floor':>9}  (ms from the call, median)")
    for number, (kind, ours, floor) in enumerate(rows, start=1):
        print(f"{number:2d} {kind:28} {ours:9.2f} {floor:9.2f}")


if __name__ == "__main__":
    main()
    exit_now()
