"""The plumbing of a fake model API on loopback: what each fake answers is its test's.

- ``LoopbackServer``: a threading HTTP server on 127.0.0.1 at a free port (``url``).
- ``FakeHandler``: a quiet HTTP/1.1 handler that answers a JSON body (``send_json``) or
  a whole server-sent event stream at once (``send_events``); a fake's handler
  subclasses it and writes ``do_POST``.
- ``serving``: runs a server in a thread for a ``with`` block.
- ``without_proxies``: unsets the proxy variables (and any others named) and sets
  ``NO_PROXY`` for loopback, so that the SDKs under test call the fake directly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import pytest

#: The proxy variables ``without_proxies`` unsets (each in upper and lower case).
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 at a port the system picks."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://127.0.0.1:{self.server_address[1]}"


class FakeHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 handler that logs nothing; each answer closes its connection."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(
        self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        """Answers ``status`` with ``payload`` as JSON, plus ``headers``."""
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def send_events(self, events: list[str]) -> None:
        """Answers 200 with a server-sent event stream of ``events`` (each a whole
        event, ``data: ...`` and its blank line included), sized up front."""
        data = "".join(events).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


ServerT = TypeVar("ServerT", bound=ThreadingHTTPServer)


@contextmanager
def serving(server: ServerT) -> Iterator[ServerT]:
    """Serves ``server`` in a daemon thread for the block; then shuts it down and closes it."""
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def without_proxies(patch: pytest.MonkeyPatch, *also: str) -> None:
    """Unsets ``PROXY_VARIABLES`` and ``also`` (upper and lower case) and sets
    ``NO_PROXY`` to loopback, on ``patch`` (undone with it)."""
    for name in (*also, *PROXY_VARIABLES):
        patch.delenv(name, raising=False)
        patch.delenv(name.lower(), raising=False)
    patch.setenv("NO_PROXY", "127.0.0.1,localhost")
