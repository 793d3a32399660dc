"""The generated async stubs of Runwire's four services on one channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

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
    close with ``await stubs.close()`` or an ``async with`` block.

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
    def connect(cls, address: str, *, options: Sequence[tuple[str, Any]] = ()) -> Stubs:
        """Opens a plaintext channel to ``address`` and the stubs on it.

        Args:
            address: ``host:port``, ``unix:PATH`` or any gRPC target.
            options: gRPC channel arguments (``("grpc.max_receive_message_length", N)``).

        Returns:
            The stubs; the channel connects on the first call.
        """
        channel = grpc.aio.insecure_channel(address, options=list(options))
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
