"""The HTTP listener: Hypercorn serving ``runwire_server.service.http.asgi.http_app``.

Hypercorn speaks HTTP/1.1 and HTTP/2 (cleartext with prior knowledge, or ALPN
over TLS) and sends ASGI trailers, which gRPC over this listener needs. Sockets
are bound here (so port 0 reports the real port) and handed to Hypercorn; TLS
uses the gRPC listener's files (``tls_cert_file``, ``tls_key_file``, and with
``tls_client_ca_file`` client certificates are required).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

from hypercorn.asyncio import serve
from hypercorn.config import Config

from runwire_server.app.config import Settings
from runwire_server.service.http.asgi import ASGIApp

logger = logging.getLogger(__name__)


def _bind(address: str) -> socket.socket:
    """A listening socket on ``host:port`` (``[v6]:port`` too).

    Raises:
        RuntimeError: the address is malformed or cannot be bound.
    """
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]")
    if not port_text.isdigit():
        raise RuntimeError(f"cannot listen on {address} (HTTP): expected host:port")
    try:
        infos = socket.getaddrinfo(
            host or None, int(port_text), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, sockaddr = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(128)
    except OSError as exc:
        raise RuntimeError(f"cannot listen on {address} (HTTP): {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class HttpListener:
    """Serves an ASGI app on ``settings.http_listen``. Use ``start``/``stop``."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sockets: list[socket.socket] = []
        self._fds: list[int] = []
        self.addresses: list[str] = []

    def _config(self) -> Config:
        settings = self._settings
        config = Config()
        config.bind = [f"fd://{fd}" for fd in self._fds]
        config.accesslog = None
        config.errorlog = logging.getLogger("hypercorn.error")
        config.graceful_timeout = settings.shutdown_grace_seconds
        config.h2_max_concurrent_streams = settings.max_concurrent_streams
        config.include_server_header = False
        if settings.tls_cert_file is not None and settings.tls_key_file is not None:
            config.certfile = str(settings.tls_cert_file)
            config.keyfile = str(settings.tls_key_file)
            if settings.tls_client_ca_file is not None:
                config.ca_certs = str(settings.tls_client_ca_file)
                config.verify_mode = ssl.CERT_REQUIRED
        return config

    async def start(self) -> list[str]:
        """Binds every ``http_listen`` address and starts serving; returns the
        bound addresses (``host:port``, the real port for port 0).

        Raises:
            RuntimeError: an address cannot be bound.
        """
        try:
            for address in self._settings.http_listen:
                self._sockets.append(_bind(address))
        except RuntimeError:
            for sock in self._sockets:
                sock.close()
            raise
        self.addresses = [_address(sock) for sock in self._sockets]
        # Hypercorn owns the sockets from here on (it closes them when it stops).
        self._fds = [sock.detach() for sock in self._sockets]
        self._sockets = []
        self._task = asyncio.create_task(
            serve(self._app, self._config(), shutdown_trigger=self._stop.wait),  # type: ignore[arg-type]
            name="runwire-http",
        )
        logger.info("serving HTTP on %s", ", ".join(self.addresses))
        return self.addresses

    async def stop(self) -> None:
        """Stops accepting, lets open requests end (``shutdown_grace_seconds``), closes."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, self._settings.shutdown_grace_seconds + 5)
            except TimeoutError:
                self._task.cancel()
            except Exception:
                logger.exception("the HTTP listener failed while stopping")


__all__ = ["HttpListener"]
