"""Scenario 12 — cost growth: per event with the run, per run with the thread; memory per run.

Three tables of issue 19, on the in-process runtime with memory stores:

a. **Per-event cost against the run's length.** A ``runwire serve`` child
   (``Context.runwire``) runs scripted runs of 20, 200, 2,000 and 20,000 events
   (quick: up to 2,000) back to back from one client in this process (raw
   StreamRun, bytes), about ``EVENTS_PER_SIZE`` events per length (a thousand
   runs of 20 events, one of 20,000); the child's CPU time (``/proc``, all its
   threads) divided by the events streamed. A run of up to 1,008 events is one
   answer of 1-character text deltas; a longer one has turns of 980 deltas and
   an ``echo`` call (1,000 events each) before its answer (``script_for``).
   Floor: the 20-event run's CPU per event (it carries the run's fixed cost,
   start and end, over fewer events: a flat curve is at or below a ratio of 1).
b. **Per-run cost against the thread's length.** The same child: a thread is
   filled by runs to ``MESSAGES`` minus the measured runs (two messages a run:
   the prompt and the answer), so that it holds ``MESSAGES`` on average while
   measured; then batches of 20-event runs on it alternate with batches of the
   same runs each on a new, empty thread (created before the timing). The
   model context is the last ``thread_history_messages`` (default 20) messages.
   Row: child CPU per run, the full thread against the empty one.
c. **Memory per ended run retained.** A fresh ``python -m bench.cost_growth
   --memory RUNS`` child holds a Runwire server and its client in one process:
   after warm-up runs and ``gc.collect()`` it reads its RSS, runs ``RUNS`` runs
   of scenario 1's script (all kept: ``retained_runs`` is 10,000 by default),
   collects again and reads its RSS. Row: RSS growth per run against the bytes
   of the run's events on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from runwire.v1 import run_service_pb2, thread_pb2, thread_pb2_grpc

from bench.common import (
    CHILD_ENV,
    NO_TARGET,
    ROOT,
    Context,
    LocalRunwire,
    Raw,
    Row,
    ServerProcess,
    channel,
    check_succeeded,
    collect,
    create_agent,
    exit_now,
    ms,
    proc_rss_bytes,
    run_request,
    scripted_agent,
    stream_run_call,
    times,
)
from bench.stream_run import SCRIPT

NAME = "cost_growth"
RUNWIRE_PROCESSES = 1

SIZES = (20, 200, 2_000, 20_000)
QUICK_SIZES = (20, 200, 2_000)
#: Events streamed per run length (at least one run each).
EVENTS_PER_SIZE = 20_000
QUICK_EVENTS_PER_SIZE = 2_000
#: Text deltas of a turn that ends in a tool call; with the call it logs 1,000 events.
TOOL_TURN_DELTAS = 980
#: Events of a run but its deltas: run_started, state_changed, run_finished, and the
#: answer's step_started, text_message_start, text_message_end, usage, step_finished.
RUN_EVENTS = 8
#: Events of a tool turn but its text deltas: step_started, text_message_start,
#: text_message_end, tool_call_start, 12 tool_call_args (``ECHO`` in 1-character
#: pieces), tool_call_end, usage, step_finished, tool_call_result.
TOOL_TURN_EVENTS = 20
ECHO = {"name": "echo", "arguments": {"text": "p"}}
MAX_TEXT_DELTAS = 1_000

MESSAGES = 1_000
QUICK_MESSAGES = 100
THREAD_RUNS = 100
QUICK_THREAD_RUNS = 40
BATCHES = 5
QUICK_BATCHES = 4

MEMORY_RUNS = 1_000
QUICK_MEMORY_RUNS = 100
MEMORY_WARM_UP = 50
QUICK_MEMORY_WARM_UP = 20


def script_for(events: int) -> tuple[list[dict[str, Any]], int]:
    """A scripted run logging exactly ``events`` events (≥ 9) in 1-character deltas:
    the script and the LLM rounds it needs (``Limits.max_iterations``)."""
    turn = TOOL_TURN_DELTAS + TOOL_TURN_EVENTS
    tool_turns = max(0, -(-(events - RUN_EVENTS - MAX_TEXT_DELTAS) // turn))
    answer = events - RUN_EVENTS - tool_turns * turn
    if not 1 <= answer <= MAX_TEXT_DELTAS:
        raise ValueError(f"no script of {events} events")
    script: list[dict[str, Any]] = [
        {"text": "w" * TOOL_TURN_DELTAS, "tool_calls": [ECHO]} for _ in range(tool_turns)
    ]
    script.append({"text": "a" * answer})
    return script, tool_turns + 1


@dataclass(frozen=True)
class Cost:
    """Child CPU seconds over a number of runs and events."""

    cpu: float
    runs: int
    events: int


async def _runs(call: Raw, requests: Sequence[object], events: int = 0) -> None:
    """Runs the requests one after the other; checks each succeeded (and its event count)."""
    for request in requests:
        payloads = await collect(call, request)
        check_succeeded(payloads)
        if events and len(payloads) != events:
            raise RuntimeError(f"a run logged {len(payloads)} events, not {events}")


async def _timed(server: ServerProcess, call: Raw, requests: Sequence[object], events: int) -> Cost:
    before = server.cpu()
    await _runs(call, requests, events)
    return Cost(server.cpu() - before, len(requests), events * len(requests))


async def per_event(
    server: ServerProcess, channel_: grpc.aio.Channel, sizes: Sequence[int], budget: int
) -> dict[int, Cost]:
    """(a): the child's CPU over about ``budget`` events of runs of each size."""
    for size in sizes:
        script, rounds = script_for(size)
        agent = scripted_agent(script, tools=["echo"], chunk_chars=1, max_iterations=rounds)
        await create_agent(channel_, f"events-{size}", agent)
    call = stream_run_call(channel_)
    for size in sizes[:3]:  # warm-up
        await _runs(call, [run_request(f"events-{size}")] * max(1, 200 // size), size)
    costs = {}
    for size in sizes:
        runs = max(1, budget // size)
        costs[size] = await _timed(server, call, [run_request(f"events-{size}")] * runs, size)
    return costs


async def per_run_on_thread(
    server: ServerProcess, channel_: grpc.aio.Channel, messages: int, runs: int, batches: int
) -> tuple[Cost, Cost, int]:
    """(b): the child's CPU per run on a thread of about ``messages`` messages and
    on empty threads (agent ``events-20`` of ``per_event``); and the messages the
    full thread held at the end."""
    call = stream_run_call(channel_)
    threads = thread_pb2_grpc.ThreadServiceStub(channel_)

    async def new_thread() -> str:
        response = await threads.CreateThread(thread_pb2.CreateThreadRequest())
        return str(response.thread.thread_id)

    def on(thread_id: str) -> run_service_pb2.StreamRunRequest:
        return run_service_pb2.StreamRunRequest(
            agent_id="events-20", prompt="go", thread_id=thread_id
        )

    full = await new_thread()
    await _runs(call, [on(full)] * max(0, (messages - runs) // 2))
    empty = [await new_thread() for _ in range(runs)]
    per_batch = max(1, runs // batches)
    full_cost, empty_cost = Cost(0.0, 0, 0), Cost(0.0, 0, 0)
    for batch in range(batches):
        fresh = empty[batch * per_batch : (batch + 1) * per_batch]
        for side in ("full", "empty") if batch % 2 == 0 else ("empty", "full"):
            if side == "full":
                full_cost = _add(full_cost, await _timed(server, call, [on(full)] * len(fresh), 20))
            else:
                empty_cost = _add(
                    empty_cost, await _timed(server, call, [on(t) for t in fresh], 20)
                )
    response = await threads.GetThread(thread_pb2.GetThreadRequest(thread_id=full))
    return full_cost, empty_cost, int(response.thread.message_count)


def _add(a: Cost, b: Cost) -> Cost:
    return Cost(a.cpu + b.cpu, a.runs + b.runs, a.events + b.events)


# --------------------------------------------------------------------------- (c), in a child


async def _memory(runs: int, warm_up: int) -> dict[str, float]:
    """In this process: RSS growth over ``runs`` retained runs, after ``gc.collect()``."""
    runwire = await LocalRunwire.start()
    try:
        await create_agent(runwire.channel, "bench", scripted_agent(SCRIPT, tools=["echo"]))
        call = stream_run_call(runwire.channel)
        request = run_request("bench", "ping the echo tool")
        payloads: list[bytes] = []
        for _ in range(warm_up):
            payloads = await collect(call, request)
            check_succeeded(payloads)
        gc.collect()
        before = proc_rss_bytes(os.getpid())
        started = time.perf_counter()
        await _runs(call, [request] * runs)
        elapsed = time.perf_counter() - started
        gc.collect()
        after = proc_rss_bytes(os.getpid())
        return {
            "rss_per_run": (after - before) / runs,
            "wire_bytes": sum(len(p) for p in payloads),
            "events": len(payloads),
            "seconds": elapsed,
        }
    finally:
        await runwire.close()


async def per_ended_run(runs: int, warm_up: int) -> dict[str, float]:
    """(c) in a fresh ``python -m bench.cost_growth --memory RUNS --warm-up N`` process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.cost_growth",
        "--memory",
        str(runs),
        "--warm-up",
        str(warm_up),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **CHILD_ENV},
    )
    stdout, stderr = await process.communicate()
    for line in stdout.decode().splitlines():
        if line.startswith("memory "):
            result: dict[str, float] = json.loads(line.removeprefix("memory "))
            return result
    raise RuntimeError(
        f"bench.cost_growth --memory exited with {process.returncode}: {stderr.decode()[-2000:]}"
    )


def main() -> None:
    """``python -m bench.cost_growth --memory RUNS [--warm-up N]``: prints ``memory {json}``
    (``_memory``: RSS growth per run, bytes; the run's events and their bytes; seconds)."""
    parser = argparse.ArgumentParser(prog="python -m bench.cost_growth")
    parser.add_argument("--memory", type=int, required=True, help="runs to retain")
    parser.add_argument("--warm-up", type=int, default=MEMORY_WARM_UP, help="runs before")
    args = parser.parse_args()
    print("memory " + json.dumps(asyncio.run(_memory(args.memory, args.warm_up))))
    exit_now(0)


# --------------------------------------------------------------------------- rows


def us(seconds: float) -> str:
    """Seconds as microseconds."""
    return f"{seconds * 1e6:,.0f} µs" if seconds >= 1e-4 else f"{seconds * 1e6:.1f} µs"


def kb(value: float) -> str:
    """Bytes as KB (1,000 bytes)."""
    return f"{value / 1000:,.1f} KB"


async def run(ctx: Context) -> list[Row]:
    """Scenario 12's rows."""
    sizes = QUICK_SIZES if ctx.quick else SIZES
    server = await ctx.runwire("runwire serve (cost growth)")
    channel_ = channel(server.address)
    try:
        events = await per_event(
            server, channel_, sizes, EVENTS_PER_SIZE if not ctx.quick else QUICK_EVENTS_PER_SIZE
        )
        full, empty, held = await per_run_on_thread(
            server,
            channel_,
            QUICK_MESSAGES if ctx.quick else MESSAGES,
            ctx.pick(THREAD_RUNS, QUICK_THREAD_RUNS),
            QUICK_BATCHES if ctx.quick else BATCHES,
        )
        server.check_alive()
    finally:
        await channel_.close()
        await server.stop()
    memory = await per_ended_run(
        ctx.pick(MEMORY_RUNS, QUICK_MEMORY_RUNS),
        QUICK_MEMORY_WARM_UP if ctx.quick else MEMORY_WARM_UP,
    )

    def cpu_per_event(size: int) -> float:
        return events[size].cpu / events[size].events

    rows = []
    smallest = sizes[0]
    for size in sizes[1:]:
        ratio = cpu_per_event(size) / cpu_per_event(smallest)
        rows.append(
            Row(
                f"12 Server CPU per event, runs of {size:,} vs {smallest} events",
                us(cpu_per_event(size)),
                us(cpu_per_event(smallest)),
                times(ratio),
                NO_TARGET,
            )
        )
    # Marginal CPU per event between consecutive lengths: the run's fixed cost cancels out.
    slopes = []
    for shorter, longer in itertools.pairwise(sizes):
        run_cpu = {n: events[n].cpu / events[n].runs for n in (shorter, longer)}
        added = (run_cpu[longer] - run_cpu[shorter]) / (longer - shorter)
        slopes.append(f"{shorter:,}→{longer:,} {us(added)}")
    ctx.note(
        "12: server CPU per run: "
        + ", ".join(f"{n:,} events {ms(events[n].cpu / events[n].runs)}" for n in sizes)
        + "; per added event: "
        + ", ".join(slopes)
    )
    per_run = full.cpu / full.runs, empty.cpu / empty.runs
    messages = QUICK_MESSAGES if ctx.quick else MESSAGES
    rows.append(
        Row(
            f"12 Server CPU per run on a thread of {messages:,} messages vs an empty thread",
            ms(per_run[0]),
            ms(per_run[1]),
            times(per_run[0] / per_run[1]),
            NO_TARGET,
        )
    )
    ctx.note(
        f"12: thread runs: {full.runs} per side, 20 events each, history window 20 (default"
        f" thread_history_messages); the full thread held {messages - full.runs:,} to {held:,}"
        " messages while measured"
    )
    rss, wire = memory["rss_per_run"], memory["wire_bytes"]
    runs = ctx.pick(MEMORY_RUNS, QUICK_MEMORY_RUNS)
    rows.append(
        Row(
            f"12 Memory per ended run retained ({int(memory['events'])} events,"
            f" {runs:,} runs, after gc) vs its events' bytes",
            kb(rss),
            kb(wire),
            times(rss / wire),
            NO_TARGET,
        )
    )
    ctx.note(
        f"12: memory stores keep retained_runs (default 10,000) ended runs: about"
        f" {rss * 10_000 / 1e6:,.0f} MB at that cap for runs like these"
    )
    return rows


if __name__ == "__main__":
    main()
