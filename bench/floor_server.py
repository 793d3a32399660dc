"""The floor: a bare grpc.aio server that streams given messages and does nothing else.

Methods of the generic service ``bench.Floor`` (requests are ignored, responses
are the given bytes, so serialization costs nothing on either side):

* ``Stream``: every payload, in order, then the end (a whole run's messages).
* ``Hold``: the first payload, then nothing until the client leaves (an idle
  subscription).
* ``Drip``: the first payload, then one more on every tick of a shared ticker
  until the client leaves (a subscription receiving a streamed run: one
  ticker wakes every stream, as one appended event wakes every subscriber).

In this process (``start_floor``) or as a child (``python -m bench.floor_server
PAYLOADS [--tick-ms MS]``; PAYLOADS is a file written by ``write_payloads``;
prints ``serving on HOST:PORT``).

The server is made with grpc.aio's own ``server()`` captured at import: the
OpenTelemetry gRPC instrumentation that Runwire installs patches
``grpc.aio.server`` process-wide, and the floor must not carry Runwire's costs.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import grpc

#: grpc.aio's server factory before any instrumentation patches it.
_BARE_SERVER = grpc.aio.server
if getattr(_BARE_SERVER, "__module__", "") != "grpc.aio._server":  # pragma: no cover
    from grpc.aio import _server

    _BARE_SERVER = _server.server

SERVICE = "bench.Floor"


class _Ticker:
    """Wakes every waiting stream at once, every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.tick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            tick, self.tick = self.tick, asyncio.Event()
            tick.set()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def _handler(payloads: Sequence[bytes], ticker: _Ticker) -> grpc.GenericRpcHandler:
    async def stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
        for payload in payloads:
            yield payload

    async def hold(request: bytes, context: Any) -> AsyncIterator[bytes]:
        yield payloads[0]
        await asyncio.Event().wait()  # until cancelled by the client's leaving
        yield b""  # pragma: no cover

    async def drip(request: bytes, context: Any) -> AsyncIterator[bytes]:
        ticker.start()
        yield payloads[0]
        index = 0
        while True:
            await ticker.tick.wait()
            index = (index + 1) % len(payloads)
            yield payloads[index]

    def method(fn: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_stream_rpc_method_handler(fn)

    return grpc.method_handlers_generic_handler(
        SERVICE, {"Stream": method(stream), "Hold": method(hold), "Drip": method(drip)}
    )


async def start_floor(
    payloads: Sequence[bytes], *, tick_seconds: float = 1.0, host: str = "127.0.0.1"
) -> tuple[grpc.aio.Server, str]:
    """Starts a floor server in this process; returns it and ``host:port``."""
    ticker = _Ticker(tick_seconds)
    server = _BARE_SERVER()
    server.add_generic_rpc_handlers((_handler(list(payloads), ticker),))
    port = server.add_insecure_port(f"{host}:0")
    await server.start()
    return server, f"{host}:{port}"


def floor_call(channel: grpc.aio.Channel, method: str = "Stream") -> Any:
    """A raw call of ``bench.Floor/<method>`` (request and responses are bytes)."""
    return channel.unary_stream(f"/{SERVICE}/{method}")


def write_payloads(path: Path, payloads: Sequence[bytes]) -> None:
    """Writes payloads length-prefixed (4 bytes, big-endian)."""
    with path.open("wb") as out:
        for payload in payloads:
            out.write(struct.pack(">I", len(payload)))
            out.write(payload)


def read_payloads(path: Path) -> list[bytes]:
    """Reads what ``write_payloads`` wrote."""
    data = path.read_bytes()
    payloads = []
    offset = 0
    while offset < len(data):
        (size,) = struct.unpack_from(">I", data, offset)
        payloads.append(data[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return payloads


async def _serve(payloads: list[bytes], tick_seconds: float) -> None:
    server, address = await start_floor(payloads, tick_seconds=tick_seconds)
    print(f"serving on {address}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_server")
    parser.add_argument("payloads", type=Path, help="file written by write_payloads")
    parser.add_argument("--tick-ms", type=float, default=1000.0, help="Drip interval")
    args = parser.parse_args()
    asyncio.run(_serve(read_payloads(args.payloads), args.tick_ms / 1000))


if __name__ == "__main__":
    main()
