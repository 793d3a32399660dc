"""Scenario 10 — StreamRun over the HTTP listener (Connect, AG-UI) against gRPC, in one run.

One server in this process listens on two loopback ports: gRPC (``listen``) and
HTTP (``http_listen``, Hypercorn). An agent on the scripted model answers
``TOKENS`` text deltas of ``CHUNK_CHARS`` characters (no tool call, no delay).
The same run is streamed over four transports, interleaved round by round (the
order rotated each round, so machine noise and warm caches hit all alike):

- **gRPC**: ``RunService.StreamRun`` over HTTP/2 with the grpc.aio stub; every
  response message is decoded. This is the reference (the ``floor`` column).
- **Connect JSON**: the same RPC with Connect's own Python client
  (``runwire.v1.run_service_connect.RunServiceClient``, pyqwest forced to
  HTTP/1.1) and the protobuf JSON codec: every message parsed into a
  ``StreamRunResponse``.
- **Connect binary**: the same client and HTTP/1.1 with the binary codec.
- **AG-UI**: ``POST {agui_path}/{agent_id}`` with an AG-UI ``RunAgentInput``,
  the answer read as server-sent events, every ``data:`` line parsed as JSON.
  While the endpoint answers 501 (not written yet) its row says it was skipped.

Compression is off on the Connect clients (neither sent nor accepted), so the
rows compare transports and codecs. Each client holds one connection for all
its runs. Each row gives the median and the 90th percentile of a run (request
to the last event) and their ratios to gRPC's; the note gives the p10-p90
spread of each transport and its events and bytes per run.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from connectrpc.compat import google_protobuf_binary_codec, google_protobuf_json_codec
from pyqwest import Client, HTTPTransport, HTTPVersion
from runwire.v1 import event_pb2, run_pb2, run_service_pb2, run_service_pb2_grpc
from runwire.v1.run_service_connect import RunServiceClient

from bench.common import (
    NO_TARGET,
    UNLIMITED,
    Context,
    LocalRunwire,
    Row,
    create_agent,
    ms,
    percentile,
    run_request,
    scripted_agent,
    times,
)
from runwire_server.app.config import Settings

NAME = "http"
AGENT_ID = "bench-http"
#: Text deltas per run, and characters per delta.
TOKENS = 64
CHUNK_CHARS = 8
_WORDS = "Runwire streams each token of the answer over every transport it serves. "
TEXT = (_WORDS * (TOKENS * CHUNK_CHARS // len(_WORDS) + 1))[: TOKENS * CHUNK_CHARS]
#: Warm-up runs per transport before the measured rounds.
WARM_UP = 3
#: The AG-UI endpoint's path prefix (the ``agui_path`` setting's default).
AGUI_PATH = "/agui"
#: What the AG-UI row says while the endpoint is not there.
AGUI_SKIPPED = "skipped: AG-UI endpoint not available"

GRPC = "gRPC (HTTP/2, binary)"
CONNECT_JSON = "Connect HTTP/1.1 JSON"
CONNECT_BINARY = "Connect HTTP/1.1 binary"
AGUI = "AG-UI (HTTP/1.1, SSE)"


@dataclass
class Transport:
    """One way to stream the run: ``once()`` returns (events, bytes on the wire)."""

    name: str
    once: Callable[[], Awaitable[tuple[int, int]]]
    seconds: list[float] = field(default_factory=list)
    events: int = 0
    wire_bytes: int = 0

    async def timed(self) -> None:
        start = time.perf_counter()
        self.events, self.wire_bytes = await self.once()
        self.seconds.append(time.perf_counter() - start)


def _check_finished(event: event_pb2.RunEvent) -> None:
    """Raises unless ``event`` is ``run_finished`` SUCCEEDED."""
    if not (
        event.HasField("run_finished") and event.run_finished.state == run_pb2.RUN_STATE_SUCCEEDED
    ):
        raise RuntimeError(f"the run did not end SUCCEEDED: its last event is {event}")


def grpc_transport(runwire: LocalRunwire) -> Transport:
    """StreamRun with the generated grpc.aio stub (messages decoded)."""
    stub = run_service_pb2_grpc.RunServiceStub(runwire.channel)
    request = run_request(AGENT_ID, "stream")

    async def once() -> tuple[int, int]:
        count, size, last = 0, 0, run_service_pb2.StreamRunResponse()
        async for response in stub.StreamRun(request):
            count, size, last = count + 1, size + response.ByteSize(), response
        _check_finished(last.event)
        return count, size

    return Transport(GRPC, once)


def connect_transport(name: str, client: RunServiceClient) -> Transport:
    """StreamRun with Connect's client (its codec and HTTP client set by the caller)."""
    request = run_request(AGENT_ID, "stream")

    async def once() -> tuple[int, int]:
        count, size, last = 0, 0, run_service_pb2.StreamRunResponse()
        async for response in client.stream_run(request):
            count, size, last = count + 1, size + response.ByteSize(), response
        _check_finished(last.event)
        return count, size

    return Transport(name, once)


def agui_input() -> dict[str, object]:
    """An AG-UI ``RunAgentInput``: a new thread and run, one user message."""
    return {
        "threadId": f"bench-{uuid.uuid4().hex}",
        "runId": f"bench-{uuid.uuid4().hex}",
        "messages": [{"id": uuid.uuid4().hex, "role": "user", "content": "stream"}],
        "tools": [],
        "context": [],
        "state": {},
        "forwardedProps": {},
    }


def agui_transport(http: Client, url: str) -> Transport:
    """``POST url`` with a RunAgentInput; the SSE answer parsed event by event."""
    headers = {"content-type": "application/json", "accept": "text/event-stream"}

    async def once() -> tuple[int, int]:
        body = json.dumps(agui_input()).encode()
        count, size, pending, last = 0, 0, b"", {}
        async with http.stream("POST", url, headers, body) as response:
            if response.status != 200:
                raise AguiUnavailable(response.status)
            async for chunk in response.content:
                size += len(chunk)
                pending += bytes(chunk)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.startswith(b"data:"):
                        last = json.loads(line[5:])
                        count += 1
        if last.get("type") != "RUN_FINISHED":
            raise RuntimeError(f"the AG-UI stream did not end with RUN_FINISHED: {last}")
        return count, size

    return Transport(AGUI, once)


class AguiUnavailable(Exception):
    """The AG-UI endpoint answered with a status other than 200."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the AG-UI endpoint answered HTTP {status}")
        self.status = status


async def measure(rounds: int) -> tuple[list[Transport], str | None]:
    """Streams the run ``rounds`` times over each transport, interleaved.

    Returns:
        The transports with their timings (gRPC first), and why AG-UI was left
        out (None when it was measured).
    """
    settings = Settings(
        listen=["127.0.0.1:0"],
        http_listen=["127.0.0.1:0"],
        agui_path=AGUI_PATH,
        log_level="WARNING",
        **UNLIMITED,
    )
    runwire = await LocalRunwire.start(settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(runwire.close)
        (http_address,) = runwire.server.http_addresses
        base = f"http://{http_address}"
        agent = scripted_agent([{"text": TEXT}], chunk_chars=CHUNK_CHARS)
        await create_agent(runwire.channel, AGENT_ID, agent)

        def http1() -> Client:
            return Client(HTTPTransport(http_version=HTTPVersion.HTTP1))

        transports = [grpc_transport(runwire)]
        for name, codec in (
            (CONNECT_JSON, google_protobuf_json_codec()),
            (CONNECT_BINARY, google_protobuf_binary_codec()),
        ):
            client = RunServiceClient(
                base,
                codec=codec,
                accept_compression=(),
                send_compression=None,
                http_client=http1(),
            )
            stack.push_async_callback(client.close)
            transports.append(connect_transport(name, client))
        agui = agui_transport(http1(), f"{base}{AGUI_PATH}/{AGENT_ID}")
        skipped = None
        try:
            await agui.once()
            transports.append(agui)
        except AguiUnavailable as exc:
            skipped = str(exc)
        for transport in transports:
            for _ in range(WARM_UP):
                await transport.once()
        for index in range(rounds):
            shift = index % len(transports)
            for transport in transports[shift:] + transports[:shift]:
                await transport.timed()
    return transports, skipped


def row(transport: Transport, reference: Transport, label: str) -> Row:
    """A row: p50 | p90 of ``transport`` against ``reference`` (gRPC)."""
    p50, p90 = (percentile(transport.seconds, q) for q in (0.5, 0.9))
    g50, g90 = (percentile(reference.seconds, q) for q in (0.5, 0.9))
    return Row(
        f"{label} {transport.name}: p50 | p90",
        f"{ms(p50)} | {ms(p90)}",
        f"{ms(g50)} | {ms(g90)}",
        f"{times(p50 / g50)} | {times(p90 / g90)}",
        NO_TARGET,
    )


def spread(transport: Transport) -> str:
    """``name p10-p90 ms, N events, B bytes`` of one transport."""
    low, high = (percentile(transport.seconds, q) * 1000 for q in (0.1, 0.9))
    return (
        f"{transport.name} {low:.2f}-{high:.2f} ms, "
        f"{transport.events} events, {transport.wire_bytes:,} B"
    )


async def run(ctx: Context) -> list[Row]:
    """Scenario 10's rows: Connect JSON, Connect binary and AG-UI, each vs gRPC."""
    rounds = ctx.pick(200, 8)
    transports, skipped = await measure(rounds)
    reference, others = transports[0], transports[1:]
    label = "10 StreamRun over"
    rows = [row(transport, reference, label) for transport in others]
    if skipped is not None:
        rows.append(Row(f"{label} {AGUI}", AGUI_SKIPPED, "", "", NO_TARGET))
        ctx.note(f"10: AG-UI skipped: {skipped}")
    ctx.note(
        f"10: floor = {GRPC}; {TOKENS} text deltas of {CHUNK_CHARS} characters, {rounds} runs "
        "per transport, interleaved; spread p10-p90, and per run the events and bytes "
        "(protobuf message bytes for gRPC and Connect, SSE body bytes for AG-UI): "
        + "; ".join(spread(t) for t in transports)
    )
    return rows
