"""The generated async stubs of Runwire's four services on one channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

from runwire._connect import Credentials, PathLike, open_channel
from runwire.v1 import (
    agent_pb2_grpc,
    approval_pb2_grpc,
    run_service_pb2_grpc,
    thread_pb2_grpc,
)

__all__ = ["Stubs"]


@dataclass
class Stubs:
    """``runwire.v1`` stubs sharing one ``grpc.aio`` channel.

    Open with ``Stubs.connect(address)`` (nothing is sent until the first call),
    close with ``await stubs.close()`` or an ``async with`` block. TLS and the
    bearer token come from ``connect``'s arguments, else from the environment
    (``RUNWIRE_TOKEN``, ``RUNWIRE_CA_FILE`` ...; see ``runwire.Credentials``).

    Attributes:
        address: The server's address as given (``host:port`` or ``unix:PATH``).
        channel: The channel every stub calls through.
        agents: ``AgentService``.
        runs: ``RunService``.
        approvals: ``ApprovalService``.
        threads: ``ThreadService``.
    """

    address: str
    channel: grpc.aio.Channel
    agents: Any
    runs: Any
    approvals: Any
    threads: Any

    @classmethod
    def connect(
        cls,
        address: str,
        *,
        options: Sequence[tuple[str, Any]] = (),
        token: str | None = None,
        ca_file: PathLike | None = None,
        client_cert_file: PathLike | None = None,
        client_key_file: PathLike | None = None,
        server_name: str | None = None,
        tls: bool | None = None,
        credentials: Credentials | None = None,
    ) -> Stubs:
        """Opens a channel to ``address`` and the stubs on it.

        Plaintext unless a CA file, a client certificate or ``tls=True`` is
        given (here or in the environment). Every argument left ``None`` comes
        from its environment variable (``Credentials.resolve``).

        Args:
            address: ``host:port``, ``unix:PATH`` or any gRPC target.
            options: gRPC channel arguments (``("grpc.max_receive_message_length", N)``).
            token: Bearer token sent on every call (``RUNWIRE_TOKEN``); "" sends none.
            ca_file: PEM CA bundle to trust; turns TLS on (``RUNWIRE_CA_FILE``).
            client_cert_file: PEM client certificate for mutual TLS
                (``RUNWIRE_CLIENT_CERT_FILE``).
            client_key_file: Its PEM private key (``RUNWIRE_CLIENT_KEY_FILE``).
            server_name: Name checked in the server's certificate instead of the
                address's host (``RUNWIRE_TLS_SERVER_NAME``).
            tls: Force TLS on (system roots without a CA file) or off.
            credentials: All of the above at once; when given, the other
                arguments and the environment are not read.

        Returns:
            The stubs; the channel connects on the first call.

        Raises:
            ValueError: a client certificate without its key, or the reverse.
            OSError: a certificate or key file cannot be read.
        """
        if credentials is None:
            credentials = Credentials.resolve(
                token=token,
                ca_file=ca_file,
                client_cert_file=client_cert_file,
                client_key_file=client_key_file,
                server_name=server_name,
                tls=tls,
            )
        channel = open_channel(address, credentials, options=options)
        return cls(
            address=address,
            channel=channel,
            agents=agent_pb2_grpc.AgentServiceStub(channel),
            runs=run_service_pb2_grpc.RunServiceStub(channel),
            approvals=approval_pb2_grpc.ApprovalServiceStub(channel),
            threads=thread_pb2_grpc.ThreadServiceStub(channel),
        )

    async def close(self) -> None:
        """Closes the channel, cancelling calls still open."""
        await self.channel.close()

    async def __aenter__(self) -> Stubs:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
