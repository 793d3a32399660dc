"""Where a run's time goes: scenario 1's Runwire side (or 5's) under pyinstrument.

``python -m bench.profile [--runs N] [--temporal] [--html FILE]``

Runs N scripted runs (2 LLM turns + 1 tool call) through StreamRun on a server
in this process — in-process runtime by default, the Temporal runtime with
``--temporal`` (dev server, embedded worker) — under pyinstrument (wall clock,
whole main thread, so the event loop's own work and the gRPC client's are in
it too), then prints the heaviest functions by self time and by total time,
per run. pyinstrument comes with the dev extra (``make dev``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bench.common import (
    LocalRunwire,
    check_succeeded,
    collect,
    create_agent,
    exit_now,
    run_request,
    scripted_agent,
    stream_run_call,
)
from bench.stream_run import SCRIPT
from runwire_server.app.config import Settings


@contextlib.asynccontextmanager
async def _settings(temporal: bool) -> AsyncIterator[Settings]:
    if not temporal:
        yield Settings(listen=["127.0.0.1:0"], log_level="WARNING")
        return
    from tests.temporal_server import start_temporal  # noqa: PLC0415 - on demand

    async with start_temporal() as address:
        yield Settings(
            listen=["127.0.0.1:0"],
            log_level="WARNING",
            temporal_address=address,
            default_runtime="temporal",
        )


def _label(frame: Any) -> str:
    return f"{frame.function}  {frame.file_path_short}:{frame.line_no}"


def _area(frame: Any) -> str:
    """The package (or ``service/<part>``, ``worker/<part>``, ``bench/<part>``) a frame's
    code belongs to."""
    path = str(frame.file_path_short or "")
    if path.startswith("<"):
        return f"C: {frame.function}" if frame.function in ("epoll.poll",) else "C built-ins"
    parts = path.split("/")
    if parts[0] == "runwire_server":
        parts = parts[1:]
    if parts and parts[0] in ("service", "worker", "bench") and len(parts) > 1:
        return "/".join(parts[:2])
    return parts[0].removesuffix(".py")


def heaviest(
    root: Any, top: int
) -> tuple[list[tuple[str, float]], list[tuple[str, float]], list[tuple[str, float]]]:
    """(self time, total time) per function and self time per package, heaviest
    first; a recursive function's total time is counted once per stack."""
    own: dict[str, float] = {}
    total: dict[str, float] = {}
    areas: dict[str, float] = {}

    def walk(frame: Any, stack: frozenset[str]) -> None:
        label = _label(frame)
        own[label] = own.get(label, 0.0) + frame.total_self_time
        area = _area(frame)
        areas[area] = areas.get(area, 0.0) + frame.total_self_time
        if label not in stack:
            total[label] = total.get(label, 0.0) + frame.time
        for child in frame.children:
            if not child.is_synthetic:  # its time is in the parent's total_self_time
                walk(child, stack | {label})

    walk(root, frozenset())

    def ordered(values: dict[str, float]) -> list[tuple[str, float]]:
        return sorted(values.items(), key=lambda item: -item[1])[:top]

    return ordered(own), ordered(total), ordered(areas)


async def profile(runs: int, temporal: bool, html: Path | None, top: int) -> None:
    from pyinstrument import Profiler  # noqa: PLC0415 - a dev tool, on demand

    async with _settings(temporal) as settings:
        runwire = await LocalRunwire.start(settings)
        try:
            await create_agent(runwire.channel, "bench", scripted_agent(SCRIPT, tools=["echo"]))
            call = stream_run_call(runwire.channel)
            request = run_request("bench", "ping the echo tool")
            for _ in range(20 if not temporal else 3):
                check_succeeded(await collect(call, request))
            profiler = Profiler(interval=0.001, async_mode="disabled")
            started = time.perf_counter()
            profiler.start()
            for _ in range(runs):
                check_succeeded(await collect(call, request))
            profiler.stop()
            elapsed = time.perf_counter() - started
        finally:
            await runwire.close()
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    per_run = 1000 / runs
    runtime = "Temporal" if temporal else "in-process"
    print(f"{runs} runs on the {runtime} runtime: {elapsed * per_run:.2f} ms per run (profiled)")
    own, total, areas = heaviest(root, top)
    print("\nself time by package:")
    for label, seconds in areas:
        print(f"  {seconds * per_run:7.3f} ms {100 * seconds / root.time:5.1f}%  {label}")
    print(f"\nheaviest by self time (ms per run, % of {root.time * per_run:.2f} ms sampled):")
    for label, seconds in own:
        print(f"  {seconds * per_run:7.3f} ms {100 * seconds / root.time:5.1f}%  {label}")
    print("\nheaviest by total time:")
    for label, seconds in total:
        print(f"  {seconds * per_run:7.3f} ms {100 * seconds / root.time:5.1f}%  {label}")
    if html is not None:
        await asyncio.to_thread(html.write_text, profiler.output_html())
        print(f"\nflame view: {html}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--temporal", action="store_true", help="the Temporal runtime")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML view here")
    args = parser.parse_args()
    asyncio.run(profile(args.runs, args.temporal, args.html, args.top))


if __name__ == "__main__":
    main()
    exit_now()
