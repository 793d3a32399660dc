"""Runwire's services for Connect: the Connect protocol (JSON and binary), gRPC-Web and gRPC.

Each service's ASGI application is the one ``protoc-gen-connectrpc`` generated
(``runwire.v1.*_connect``), given an adapter whose methods call ``Calls``: the
caller is admitted from its ``authorization`` header, the request goes to the
same servicer method the gRPC server calls, and a failure becomes a
``ConnectError`` with the same code, message and details (``ErrorInfo``,
``BadRequest``, ``QuotaFailure``) as on gRPC.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from connectrpc.code import Code
from connectrpc.codec import Codec
from connectrpc.compat import google_protobuf_binary_codec
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from connectrpc.server import ConnectASGIApplication
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2
from protobuf.wkt import Any as AnyDetail
from runwire.v1 import (
    agent_connect,
    approval_connect,
    run_service_connect,
    thread_connect,
    tool_connect,
)

from runwire_server.service.api.decoding import MALFORMED_REQUEST
from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.http.calls import CallFailed, Calls, Method

#: Each service's generated ASGI application, by full service name.
APPLICATIONS: Mapping[str, Callable[..., ConnectASGIApplication[Any]]] = {
    "runwire.v1.AgentService": agent_connect.AgentServiceASGIApplication,
    "runwire.v1.RunService": run_service_connect.RunServiceASGIApplication,
    "runwire.v1.ApprovalService": approval_connect.ApprovalServiceASGIApplication,
    "runwire.v1.ThreadService": thread_connect.ThreadServiceASGIApplication,
    "runwire.v1.ToolService": tool_connect.ToolServiceASGIApplication,
}

_CODES = {index: code for index, code in enumerate(Code, start=1)}


class CompactJsonCodec(Codec[Message, Any]):
    """Protobuf's canonical JSON, written on one line (the library's default
    indents every field); reading ignores unknown fields, as Connect does."""

    def name(self) -> str:
        return "json"

    def encode(self, message: Message) -> bytes:
        return json_format.MessageToJson(message, indent=None).encode()

    def decode(self, data: bytes | bytearray, message_class: type[Any]) -> Any:
        message = message_class()
        json_format.Parse(bytes(data), message, ignore_unknown_fields=True)
        return message


class RefusingCodec(Codec[Message, Any]):
    """``codec``, with a request it cannot decode refused the way the gRPC server
    refuses one: INVALID_ARGUMENT, ErrorInfo reason ``MALFORMED_REQUEST`` with the
    request type in its metadata, the parser's complaint in the message."""

    def __init__(self, codec: Codec[Message, Any]) -> None:
        self._codec = codec

    def name(self) -> str:
        return self._codec.name()

    def encode(self, message: Message) -> bytes:
        return self._codec.encode(message)

    def decode(self, data: bytes | bytearray, message_class: type[Any]) -> Any:
        try:
            return self._codec.decode(data, message_class)
        except Exception as exc:
            type_name = message_class.DESCRIPTOR.full_name
            error = InvalidArgumentError(
                f"the request is not a valid {self.name()} encoding of {type_name}: {exc}",
                reason=MALFORMED_REQUEST,
                metadata={"type": type_name, "codec": self.name()},
            )
            raise connect_error(CallFailed.of(error).status) from None


#: What requests and responses may be encoded as: binary protobuf and JSON.
CODECS: tuple[Codec[Any, Any], ...] = (
    RefusingCodec(google_protobuf_binary_codec()),
    RefusingCodec(CompactJsonCodec()),
)


def connect_error(status: status_pb2.Status) -> ConnectError:
    """``status`` (a ``google.rpc.Status``) as a ``ConnectError`` with its details."""
    code = _CODES.get(status.code, Code.UNKNOWN)
    details = [AnyDetail(type_url=d.type_url, value=d.value) for d in status.details]
    return ConnectError(code, status.message, details)


def _snake(name: str) -> str:
    """``ListAgentTools`` -> ``list_agent_tools`` (the generated methods' names)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _authorization(ctx: RequestContext[Any, Any]) -> str | None:
    value: str | None = ctx.request_headers.get("authorization")
    return value


def _unary(calls: Calls, method: Method) -> Callable[..., Any]:
    async def call(request: Message, ctx: RequestContext[Any, Any]) -> Message:
        try:
            await calls.admit(method.path, _authorization(ctx))
            return await calls.unary(method.path, request)
        except CallFailed as failed:
            raise connect_error(failed.status) from None

    return call


def _server_stream(calls: Calls, method: Method) -> Callable[..., Any]:
    async def call(request: Message, ctx: RequestContext[Any, Any]) -> AsyncIterator[Message]:
        try:
            await calls.admit(method.path, _authorization(ctx))
            async for response in calls.server_stream(method.path, request):
                yield response
        except CallFailed as failed:
            raise connect_error(failed.status) from None

    return call


class _Adapter:
    """A service's methods, named as the generated protocol names them."""

    def __init__(self, methods: Mapping[str, Callable[..., Any]]) -> None:
        self.__dict__.update(methods)


def connect_applications(
    calls: Calls, *, read_max_bytes: int
) -> dict[str, ConnectASGIApplication[Any]]:
    """The ASGI application of each service ``calls`` serves, by its path prefix
    (``/runwire.v1.RunService/``).

    Args:
        calls: The RPCs.
        read_max_bytes: Largest request message read, in bytes; larger is refused
            (RESOURCE_EXHAUSTED).
    """
    by_service: dict[str, dict[str, Callable[..., Any]]] = {}
    for method in calls.methods.values():
        service = method.descriptor.containing_service.full_name
        make = _server_stream if method.server_streaming else _unary
        by_service.setdefault(service, {})[_snake(method.descriptor.name)] = make(calls, method)
    return {
        f"/{service}/": APPLICATIONS[service](
            _Adapter(methods), read_max_bytes=read_max_bytes, codecs=CODECS
        )
        for service, methods in by_service.items()
    }


__all__ = [
    "APPLICATIONS",
    "CODECS",
    "CompactJsonCodec",
    "RefusingCodec",
    "connect_applications",
    "connect_error",
]
