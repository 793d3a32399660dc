"""Per-run overhead, in-process: one scripted run through StreamRun vs a bare stream.

Runwire: a scripted run of 2 LLM turns and 1 auto-approved tool call (echo)
through ``RunService.StreamRun`` on a real gRPC server on loopback.
Floor: a bare grpc.aio server-streaming RPC on the same machine that sends the
very same response messages (same count, same bytes) with no work between them.
Both are measured sequentially in the same process run, interleaved in rounds,
so machine noise hits both alike. Reports p50/p99 latency (ms) and the ratio.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import grpc
from google.protobuf import struct_pb2
from runwire.v1 import agent_pb2, run_service_pb2, run_service_pb2_grpc

from service.app import Runwire
from service.config import Settings
from service.server import RunwireServer

SCRIPT = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "ping"}}]},
    {"text": "The echo said ping, so the service is alive and well."},
]
TARGET_RATIO = 1.5


@dataclass(frozen=True)
class Result:
    """Latency percentiles in milliseconds, and the number of events per run."""

    p50_ms: float
    p99_ms: float
    events: int


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _floor_server(payloads: list[bytes]) -> tuple[grpc.aio.Server, str]:
    async def stream(request: bytes, context: grpc.aio.ServicerContext) -> object:
        for payload in payloads:
            yield payload

    handler = grpc.method_handlers_generic_handler(
        "bench.Floor",
        {
            "Stream": grpc.unary_stream_rpc_method_handler(
                stream, request_deserializer=None, response_serializer=None
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


async def measure(runs: int, settings: Settings | None = None) -> tuple[Result, Result]:
    """Runs ``runs`` StreamRun calls and ``runs`` floor calls; returns (runwire, floor).

    Args:
        runs: Measured runs per side (after one warm-up each).
        settings: Server settings (default: in-process runtime, memory stores);
            the runs use the settings' default runtime.
    """
    settings = settings or Settings(listen=["127.0.0.1:0"], log_level="WARNING")
    app = await Runwire.create(settings)
    server = RunwireServer(app, settings)
    (address,) = await server.start()
    channel = grpc.aio.insecure_channel(address)
    stub = run_service_pb2_grpc.RunServiceStub(channel)
    options = struct_pb2.Struct()
    options.update({"script": SCRIPT, "chunk_chars": 16})
    agent = agent_pb2.Agent(
        model=agent_pb2.Model(provider="scripted", options=options),
        tools=["echo"],
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
    )
    await app.agent_servicer.CreateAgent(
        agent_pb2.CreateAgentRequest(agent_id="bench", agent=agent),
        None,  # type: ignore[arg-type]
    )
    request = run_service_pb2.StreamRunRequest(agent_id="bench", prompt="ping the echo tool")

    async def one_run() -> tuple[float, list[bytes]]:
        start = time.perf_counter()
        payloads = [r.SerializeToString() async for r in stub.StreamRun(request)]
        return time.perf_counter() - start, payloads

    _, payloads = await one_run()  # warm-up, and the floor's messages
    floor_server, floor_address = await _floor_server(payloads)
    floor_channel = grpc.aio.insecure_channel(floor_address)
    floor_call = floor_channel.unary_stream("/bench.Floor/Stream")

    async def one_floor() -> float:
        start = time.perf_counter()
        count = 0
        async for _ in floor_call(b""):
            count += 1
        assert count == len(payloads)
        return time.perf_counter() - start

    await one_floor()
    runwire_times: list[float] = []
    floor_times: list[float] = []
    for _ in range(runs):
        elapsed, _ = await one_run()
        runwire_times.append(elapsed)
        floor_times.append(await one_floor())
    await channel.close()
    await floor_channel.close()
    await floor_server.stop(0)
    await server.stop(0)

    def result(times: list[float]) -> Result:
        ms = [t * 1000 for t in times]
        return Result(statistics.median(ms), _percentile(ms, 0.99), len(payloads))

    return result(runwire_times), result(floor_times)


def main(runs: int) -> list[tuple[str, str, str, str, str]]:
    """Measures and returns table rows (scenario, runwire, floor, ratio, target)."""
    runwire, floor = asyncio.run(measure(runs))
    return [
        (
            f"StreamRun p50, 2 turns + 1 tool ({runwire.events} events)",
            f"{runwire.p50_ms:.2f} ms",
            f"{floor.p50_ms:.2f} ms",
            f"{runwire.p50_ms / floor.p50_ms:.2f}x",
            f"<= {TARGET_RATIO}x",
        ),
        (
            "StreamRun p99",
            f"{runwire.p99_ms:.2f} ms",
            f"{floor.p99_ms:.2f} ms",
            f"{runwire.p99_ms / floor.p99_ms:.2f}x",
            f"<= {TARGET_RATIO}x",
        ),
    ]
