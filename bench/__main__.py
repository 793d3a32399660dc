"""``python -m bench [--quick] [--runs N] [--repetitions N] [--only NAME ...] [--markdown] [-v]``.

Runs the scenarios and prints one table. Columns: scenario, the Runwire
figure, the floor figure (measured in the same process run), ratio, target
(✓ met, ✗ not met). Benchmarks never fail on speed: the exit status is 1 only
when a scenario breaks (its row then says why).

Scenarios, in order (``--only`` takes these numbers or names):

1. ``stream_run``   per-run overhead in-process, p50/p99 vs a bare grpc.aio stream
2. ``throughput``   64 concurrent clients: runs/s and events/s vs the raw floor
3. ``fanout``       1,000 / 10,000 StreamRunEvents subscriptions: server RSS and open time
4. ``tokens``       2,000 one-character deltas: deltas/s and events/s vs the floor
5. ``temporal``     the run of 1 on Temporal vs a minimal workflow; runs/s with 1 and 2 workers
6. ``harness``      the Agent SDK for Go's harness settings on both runtimes
7. ``auth``         the cost of auth per RPC: GetAgent p50/p99 by credential vs auth off
8. ``redis_streams`` 10,000 idle StreamRunEvents through Redis: connections, commands/s, memory
9. ``load``         1,000 concurrent runs over 2 replicas (Temporal + 2 workers; in-process, Redis)
10. ``http``        StreamRun over Connect (HTTP/1.1 JSON, binary) and AG-UI (SSE) vs gRPC
11. ``token_latency`` model delta → client latency, p50/p99, on Temporal vs in-process (an
    embedded worker on memory stores; a worker process on Redis)
12. ``cost_growth`` per-event cost from 20 to 20,000 events a run; per-run cost on a thread of
    1,000 messages; memory per ended run retained

``--quick`` (CI's smoke mode, under 90 s) runs every scenario small, once. Otherwise each
scenario runs ``--repetitions`` times (default 3) and every ratio is the median of its
repetitions with the lowest and highest in brackets (``bench.repeat``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from types import ModuleType

from rich import box
from rich.console import Console
from rich.table import Table

from bench import (
    auth,
    cost_growth,
    fanout,
    harness,
    http_transports,
    load,
    redis_streams,
    stream_run,
    temporal_runtime,
    throughput,
    token_latency,
    token_stream,
)
from bench.common import Context, Row, exit_now, raise_fd_limit
from bench.repeat import combine

SCENARIOS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        stream_run,
        throughput,
        fanout,
        token_stream,
        temporal_runtime,
        harness,
        auth,
        redis_streams,
        load,
        http_transports,
        token_latency,
        cost_growth,
    )
}

logger = logging.getLogger("bench")


async def run_all(ctx: Context, names: list[str], repetitions: int = 1) -> tuple[list[Row], bool]:
    """Runs the named scenarios in order, each ``repetitions`` times in a row; returns
    the rows (``bench.repeat.combine``: median ratios and their range) and whether
    all worked. Of a repeated scenario's notes, the last repetition's are kept."""
    rows: list[Row] = []
    ok = True
    ctx.runwire_processes = repetitions * sum(
        getattr(SCENARIOS[name], "RUNWIRE_PROCESSES", 0) for name in names
    )
    async with ctx.stack:
        for name in names:
            scenario: Callable[[Context], Awaitable[list[Row]]] = SCENARIOS[name].run
            started = time.perf_counter()
            results: list[list[Row]] = []
            for repetition in range(repetitions):
                notes_before = len(ctx.notes)
                try:
                    results.append(await scenario(ctx))
                except Exception as exc:
                    ok = False
                    traceback.print_exc()
                    broken = f"{type(exc).__name__}: {exc}"[:80]
                    results = [[Row(f"{name}: BROKEN", broken, "", "", "")]]
                    break
                if repetition < repetitions - 1:
                    del ctx.notes[notes_before:]
            rows.extend(combine(results))
            logger.info("%s: %.1f s", name, time.perf_counter() - started)
    return rows, ok


def markdown(rows: list[Row]) -> str:
    """The table in Markdown (for the README)."""

    def cells(*values: str) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = [cells("scenario", "Runwire", "floor", "ratio", "target"), "| --- " * 5 + "|"]
    lines += [cells(r.scenario, r.runwire, r.floor, r.ratio, r.target) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and short (CI smoke mode)")
    parser.add_argument(
        "--runs", type=int, default=0, help="samples per latency scenario (default: its own)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[*SCENARIOS, *(str(n) for n in range(1, len(SCENARIOS) + 1))],
        metavar="SCENARIO",
        help=f"scenarios to run, by number or name ({', '.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        default=0,
        help="times each scenario runs; ratios are their median [lowest-highest] "
        "(default 3, 1 with --quick)",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("-v", "--verbose", action="store_true", help="details on stderr")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    logger.setLevel(logging.INFO if args.verbose else logging.WARNING)
    raise_fd_limit()
    ctx = Context(quick=args.quick, runs=args.runs)
    started = time.perf_counter()
    names = list(SCENARIOS)
    chosen = [names[int(o) - 1] if o.isdigit() else o for o in args.only or names]
    repetitions = args.repetitions or (1 if args.quick else 3)
    rows, ok = asyncio.run(run_all(ctx, [n for n in names if n in chosen], repetitions))
    elapsed = time.perf_counter() - started
    mode = "quick" if args.quick else "full"
    spread = (
        f"; ratios: median of {repetitions} repetitions [lowest-highest]" if repetitions > 1 else ""
    )
    title = f"Runwire benchmarks ({mode}, {elapsed:.0f} s; floor measured in the same run{spread})"
    if args.markdown:
        notes = "".join(f"\n- {note}" for note in ctx.notes)
        print(f"{title}\n\n{markdown(rows)}\n{notes}")
    else:
        table = Table(
            title=title,
            caption="\n".join(ctx.notes) or None,
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        for column in ("scenario", "Runwire", "floor", "ratio", "target"):
            table.add_column(column, no_wrap=column != "scenario")
        for row in rows:
            table.add_row(row.scenario, row.runwire, row.floor, row.ratio, row.target)
        Console(width=max(Console().width, 150)).print(table)
    exit_now(0 if ok else 1)


if __name__ == "__main__":
    main()
