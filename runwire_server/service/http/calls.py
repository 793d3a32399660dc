"""Calls of Runwire's RPCs from another transport than grpc.aio.

``Calls`` invokes the gRPC servicers' methods directly, with what the gRPC
server's interceptor does before them (``Admission``; the request size limits and
``WireCheck``s) and what their ``unary``/``server_stream`` wrappers do (validation,
the error mapping of ``runwire_server.service.api.errors``). A call that fails
raises ``CallFailed`` with the ``google.rpc.Status`` a gRPC client would have
received, so every transport speaks the same errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import status_pb2

from runwire_server.service.api.admission import Admission, bind_caller
from runwire_server.service.api.decoding import WireCheck
from runwire_server.service.api.errors import to_status
from runwire_server.service.auth.principal import Principal
from runwire_server.service.core.errors import ResourceExhaustedError, RunwireError

#: The trailer that carries a gRPC status's ``google.rpc.Status`` (details included).
STATUS_DETAILS_KEY = "grpc-status-details-bin"


class CallFailed(Exception):
    """A call ended with a status other than OK: ``status`` is the
    ``google.rpc.Status`` (code, message, ErrorInfo and other details)."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status

    @classmethod
    def of(cls, error: RunwireError) -> CallFailed:
        """The failure ``error`` maps to (``runwire_server.service.api.errors.to_status``)."""
        return cls(_status_proto(to_status(error)))


def _status_proto(status: grpc.Status) -> status_pb2.Status:
    for key, value in status.trailing_metadata or ():
        if key == STATUS_DETAILS_KEY:
            return status_pb2.Status.FromString(value)
    return status_pb2.Status(code=status.code.value[0], message=status.details or "")


class _CallContext:
    """The part of ``grpc.aio.ServicerContext`` the servicers' wrappers use: they
    end a call with a status by setting it (``errors.refuse``)."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode = grpc.StatusCode.OK
        self.details = ""
        self.trailing_metadata: tuple[tuple[str, Any], ...] = ()

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def set_trailing_metadata(self, metadata: tuple[tuple[str, Any], ...]) -> None:
        self.trailing_metadata = tuple(metadata)

    def raise_if_failed(self) -> None:
        if self.code is grpc.StatusCode.OK:
            return
        for key, value in self.trailing_metadata:
            if key == STATUS_DETAILS_KEY:
                raise CallFailed(status_pb2.Status.FromString(value))
        raise CallFailed(status_pb2.Status(code=self.code.value[0], message=self.details))


@dataclass(frozen=True)
class Method:
    """One RPC: ``path`` is ``/package.Service/Method``."""

    path: str
    descriptor: MethodDescriptor
    input_type: type[Message]
    output_type: type[Message]
    server_streaming: bool
    behavior: Callable[[Message, Any], Any]


class Calls:
    """Runwire's RPCs as Python calls, for the HTTP transports."""

    def __init__(
        self,
        servicers: Mapping[ServiceDescriptor, object],
        admission: Admission,
        *,
        request_limits: Mapping[str, tuple[str, int]] | None = None,
        wire_checks: Mapping[str, WireCheck] | None = None,
    ) -> None:
        """
        Args:
            servicers: Each service's gRPC servicer (methods named as in the proto).
            admission: Who may call what.
            request_limits: Method path -> (setting name, largest request in bytes).
            wire_checks: Method path -> its ``WireCheck``.
        """
        self.admission = admission
        self._limits = dict(request_limits or {})
        self._checks = dict(wire_checks or {})
        self.methods: dict[str, Method] = {}
        for service, servicer in servicers.items():
            for descriptor in service.methods:
                path = f"/{service.full_name}/{descriptor.name}"
                self.methods[path] = Method(
                    path=path,
                    descriptor=descriptor,
                    input_type=message_factory.GetMessageClass(descriptor.input_type),
                    output_type=message_factory.GetMessageClass(descriptor.output_type),
                    server_streaming=bool(descriptor.server_streaming),
                    behavior=getattr(servicer, descriptor.name),
                )

    @property
    def services(self) -> Iterable[str]:
        """The full names of the services served."""
        return {method.descriptor.containing_service.full_name for method in self.methods.values()}

    async def admit(
        self, path: str, authorization: str | None, peer_pem: bytes | None = None
    ) -> Principal:
        """The caller's principal, if it may call ``path``; binds it for the
        current task (``bind_caller``).

        Raises:
            CallFailed: UNAUTHENTICATED or PERMISSION_DENIED.
        """
        try:
            principal = await self.admission.admit(path, authorization, peer_pem)
        except RunwireError as error:
            raise CallFailed.of(error) from None
        bind_caller(principal)
        return principal

    def _check(self, method: Method, request: Message) -> None:
        limit = self._limits.get(method.path)
        check = self._checks.get(method.path)
        if limit is None and check is None:
            return
        data = request.SerializeToString()
        if limit is not None and len(data) > limit[1]:
            raise CallFailed.of(
                ResourceExhaustedError(
                    f"the request of {method.path} is {len(data)} bytes, over {limit[0]}",
                    subject=f"request:{method.path}",
                    limit=limit[0],
                    value=len(data),
                )
            )
        error = check(data) if check is not None else None
        if error is not None:
            raise CallFailed.of(error)

    async def unary(self, path: str, request: Message) -> Message:
        """Calls the unary RPC ``path`` as the bound principal (``admit`` first).

        Raises:
            CallFailed: the call's error status.
        """
        method = self.methods[path]
        self._check(method, request)
        context = _CallContext()
        response = await method.behavior(request, context)
        context.raise_if_failed()
        return cast("Message", response)

    async def server_stream(self, path: str, request: Message) -> AsyncIterator[Message]:
        """Calls the server-streaming RPC ``path`` as the bound principal
        (``admit`` first), yielding its responses.

        Raises:
            CallFailed: the call's error status (after the responses sent before it).
        """
        method = self.methods[path]
        self._check(method, request)
        context = _CallContext()
        async for response in method.behavior(request, context):
            yield response
        context.raise_if_failed()


__all__ = ["STATUS_DETAILS_KEY", "CallFailed", "Calls", "Method"]
