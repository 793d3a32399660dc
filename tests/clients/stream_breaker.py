"""A TCP proxy that breaks live streams for real, for the clients' resume tests.

``StreamBreaker`` sits on loopback in front of a server; a client's unit tests
connect through it and ask its control endpoint (``POST /cut``) to abort every
proxied connection mid-stream. ``route`` sends new connections to another
upstream and ``commands`` adds control requests of its own (the drain lab,
tests/clients/lab_drain.py, adds ``POST /drain``). ``unit_test_env`` is the
environment the Go, TypeScript and Java unit tests read
(tests/clients/test_go_client.py, test_typescript_client.py,
test_java_client.py); the ``stream_breaker`` fixture is in conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from tests.clients.secure_server import SecureServer


class StreamBreaker:
    """A TCP proxy on loopback in front of ``upstream`` ("host:port"; TLS passes
    through untouched) with a plain-HTTP control endpoint: ``POST /cut`` aborts
    every connection proxied so far (both sides, as a network failure would)
    and answers ``cut N``; new connections are proxied as before.

    ``commands`` maps a path to a coroutine function: ``POST /<path>`` awaits it
    and answers its text (``500`` with the error when it raises)."""

    def __init__(self, upstream: str) -> None:
        self._upstream = _host_port(upstream)
        self.commands: dict[str, Callable[[], Awaitable[str]]] = {}
        self._open: set[asyncio.StreamWriter] = set()
        self._servers: list[asyncio.Server] = []
        self.cuts = 0
        self.address = ""
        self.control = ""

    async def start(self) -> None:
        proxy = await asyncio.start_server(self._proxy, "127.0.0.1", 0)
        control = await asyncio.start_server(self._control, "127.0.0.1", 0)
        self._servers = [proxy, control]
        self.address = f"127.0.0.1:{proxy.sockets[0].getsockname()[1]}"
        self.control = f"http://127.0.0.1:{control.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        self.cut()
        for server in self._servers:
            server.close()
            await server.wait_closed()

    @property
    def upstream(self) -> str:
        """Where new connections go ("host:port")."""
        return f"{self._upstream[0]}:{self._upstream[1]}"

    def route(self, upstream: str) -> None:
        """Sends new connections to ``upstream`` ("host:port"); open ones stay
        where they are until they end or are cut."""
        self._upstream = _host_port(upstream)

    def cut(self) -> int:
        """Aborts every open proxied connection; returns how many sockets it closed."""
        writers, self._open = list(self._open), set()
        for writer in writers:
            writer.transport.abort()
        self.cuts += 1
        return len(writers)

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # the headers; a control request has no body
        method, _, rest = request.decode(errors="replace").partition(" ")
        path = rest.partition(" ")[0].strip("/")
        command = self.commands.get(path)
        if method == "POST" and path == "cut":
            status, body = "200 OK", f"cut {self.cut()}"
        elif method == "POST" and command is not None:
            try:
                status, body = "200 OK", await command()
            except Exception as error:  # the test sees why its command failed
                status, body = "500 Internal Server Error", f"{type(error).__name__}: {error}"
        else:
            status, body = "404 Not Found", "unknown"
        payload = body.encode()
        head = f"HTTP/1.1 {status}\r\ncontent-length: {len(payload)}\r\nconnection: close\r\n\r\n"
        writer.write(head.encode() + payload)
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copies reader to writer until either side ends; then closes writer."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    writer.transport.abort()


def unit_test_env(server: SecureServer, breaker: StreamBreaker) -> dict[str, str]:
    """The environment of a client's unit tests: the server's client settings,
    its address, and the proxy's address and control URL (``RUNWIRE_TEST_*``)."""
    return server.client_env() | {
        "RUNWIRE_TEST_ADDRESS": server.address,
        "RUNWIRE_TEST_PROXY_ADDRESS": breaker.address,
        "RUNWIRE_TEST_PROXY_CONTROL": breaker.control,
    }
