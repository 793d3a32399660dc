"""A real Toxiproxy server for network faults (``build/bin/toxiproxy-server``).

``Toxiproxy.start()`` runs one on a free loopback port; ``proxy(name, upstream)``
opens a TCP proxy to ``upstream`` (``host:port``) and returns its listen address;
``cut(name)`` stops every byte through it both ways (the ``timeout`` toxic with
timeout 0: connections stay open and hang, as behind a network partition, and new
ones connect but get no answer) until ``restore(name)``, which closes the
connections that hung (what they sent during the cut is dropped; clients
reconnect). The server comes from the
Go module proxy (``clients/go/install-tools.sh toxiproxy-server``); its HTTP API
is small enough for ``urllib`` (https://github.com/Shopify/toxiproxy#http-api).
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from tests.redis_server import free_port

#: The server binary, installed by ``scripts/bootstrap.sh --dev``.
SERVER = pathlib.Path(__file__).resolve().parents[2] / "build" / "bin" / "toxiproxy-server"
#: Seconds to wait for a started server's API to answer.
START_TIMEOUT = 30.0
#: Seconds an API request may take.
REQUEST_TIMEOUT = 10.0
#: Directions a cut stops: client to upstream and back.
_STREAMS = ("upstream", "downstream")


@dataclass
class Toxiproxy:
    """A running toxiproxy-server.

    Attributes:
        directory: Holds its output (``toxiproxy.log``).
        port: Its API's port on 127.0.0.1.
    """

    directory: pathlib.Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Starts the server and waits until its API answers.

        Raises:
            RuntimeError: the binary is missing, or the server did not answer
                within ``START_TIMEOUT`` seconds.
        """
        if not SERVER.exists():
            raise RuntimeError(
                f"{SERVER} is missing: run scripts/bootstrap.sh --dev "
                "(clients/go/install-tools.sh toxiproxy-server)"
            )
        self.port = free_port()
        with (self.directory / "toxiproxy.log").open("ab") as log:
            self.process = await asyncio.to_thread(
                subprocess.Popen,
                [str(SERVER), "-host", "127.0.0.1", "-port", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                await self._request("GET", "/proxies")
                return
            except OSError:
                await asyncio.sleep(0.05)
        await self.stop()
        raise RuntimeError(f"toxiproxy-server did not start; see {self.directory}/toxiproxy.log")

    async def stop(self) -> None:
        """Terminates the server (every proxy closes with it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait)

    async def proxy(self, name: str, upstream: str) -> str:
        """Opens proxy ``name`` to ``upstream`` (``host:port``); returns its ``host:port``."""
        listen = f"127.0.0.1:{free_port()}"
        await self._request(
            "POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream}
        )
        return listen

    async def cut(self, name: str) -> None:
        """From now on, no byte passes through proxy ``name`` either way."""
        for stream in _STREAMS:
            await self._request(
                "POST",
                f"/proxies/{name}/toxics",
                {
                    "name": f"cut-{stream}",
                    "type": "timeout",
                    "stream": stream,
                    "toxicity": 1.0,
                    "attributes": {"timeout": 0},
                },
            )

    async def restore(self, name: str) -> None:
        """Ends the cut: connections that hung are closed, new ones pass bytes again."""
        for stream in _STREAMS:
            await self._request("DELETE", f"/proxies/{name}/toxics/cut-{stream}")

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )

        def send() -> Any:
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                    payload = response.read()
            except urllib.error.HTTPError as exc:
                raise RuntimeError(
                    f"toxiproxy {method} {path}: {exc.code} {exc.read().decode(errors='replace')}"
                ) from None
            return json.loads(payload) if payload else None

        return await asyncio.to_thread(send)
