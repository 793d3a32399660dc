"""An MCP server for the tests, written with the SDK's ``MCPServer`` (FastMCP in mcp 1.x).

Run it over stdio (``python -m tests.mcp_servers stdio``) or over streamable HTTP
(``python -m tests.mcp_servers http PORT``). Its tools:

- ``add(a, b)``: the sum of two integers.
- ``shout(text)``: the text in capitals.
- ``whoami()``: the value of ``MCP_TEST_SECRET`` in its environment (stdio), or of the
  ``X-Test-Secret`` header of the request (HTTP): how the tests see that the operator's
  environment and headers arrived.
- ``crash()``: ends the server's process at once, mid-call.
- ``nap(seconds)``: sleeps, then answers ``"rested"``.
- ``hidden()``: a tool the tests' filters leave out.

Over HTTP every request must carry ``X-Test-Secret`` (the value of ``MCP_TEST_SECRET``
in the server's environment, when that is set): 401 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from mcp.server.mcpserver import MCPServer

#: The tools of the test server, as listed (before any filter).
TOOL_NAMES = ("add", "crash", "hidden", "nap", "shout", "whoami")

#: The header (HTTP) and variable (stdio) carrying the tests' secret.
SECRET_HEADER = "x-test-secret"
SECRET_VARIABLE = "MCP_TEST_SECRET"

_request_headers: dict[str, str] = {}

server: MCPServer[Any] = MCPServer("runwire-test", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> str:
    """Adds two integers."""
    return str(a + b)


@server.tool()
def shout(text: str) -> str:
    """Returns the text in capitals."""
    return text.upper()


@server.tool()
def whoami() -> str:
    """Tells the secret the server was given (environment over stdio, header over HTTP)."""
    return _request_headers.get(SECRET_HEADER) or os.environ.get(SECRET_VARIABLE, "")


@server.tool()
def crash() -> str:
    """Ends the server's process in the middle of the call."""
    sys.stdout.flush()
    os._exit(3)


@server.tool()
async def nap(seconds: float) -> str:
    """Sleeps for the given seconds, then answers."""
    await asyncio.sleep(seconds)
    return "rested"


@server.tool()
def hidden() -> str:
    """A tool the filters of the tests leave out."""
    return "you found me"


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _SecretCheck:
    """ASGI middleware: refuses requests without the expected secret header."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.secret = os.environ.get(SECRET_VARIABLE, "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            if self.secret and headers.get(SECRET_HEADER) != self.secret:
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"missing secret"})
                return
            _request_headers[SECRET_HEADER] = headers.get(SECRET_HEADER, "")
        await self.app(scope, receive, send)


async def _serve_http(port: int) -> None:
    import uvicorn  # noqa: PLC0415 - only for HTTP

    app = _SecretCheck(server.streamable_http_app())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    await uvicorn.Server(config).serve()


def free_port() -> int:
    """A TCP port free on loopback now."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def http_server(
    port: int | None = None, *, secret: str = ""
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """Runs the server over streamable HTTP in a child process.

    Yields:
        (its URL, the process); the process is killed on exit.
    """
    port = port or free_port()
    env = {**os.environ, SECRET_VARIABLE: secret}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.mcp_servers", "http", str(port), env=env
    )
    try:
        await wait_port(port)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


#: Longest wait for a test MCP server to listen, seconds.
LISTEN_SECONDS = 20.0


async def wait_port(port: int) -> None:
    """Waits until something accepts connections on ``port`` of loopback.

    Raises:
        TimeoutError: nothing did within ``LISTEN_SECONDS``.
    """
    async with asyncio.timeout(LISTEN_SECONDS):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


def main(argv: list[str]) -> None:
    """``stdio`` or ``http PORT``."""
    if argv[:1] == ["http"]:
        asyncio.run(_serve_http(int(argv[1])))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main(sys.argv[1:])
