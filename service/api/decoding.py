"""Requests that cannot be decoded: INVALID_ARGUMENT, never UNKNOWN.

grpcio decodes a request with the method handler's ``request_deserializer``
before any servicer code runs; a deserializer that raises (truncated varints,
garbage, a length prefix past the end, nesting past protobuf's depth limit)
makes grpcio answer ``UNKNOWN`` with the Python exception's text and log a
traceback per request. The interceptor (``service.api.interceptor``) swaps in
``safe_deserializer``, which returns ``MALFORMED`` instead of raising; the
wrapped behavior, after authentication, refuses a ``MALFORMED`` request with
``malformed_request_error`` (reason ``MALFORMED_REQUEST``). With a byte limit
for the method, a longer request is not parsed at all (``Oversized``; parsing
a few megabytes holds the event loop for a noticeable time) and is refused
with RESOURCE_EXHAUSTED naming the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, NoReturn

import grpc

from service.core.errors import InvalidArgumentError

#: ``ErrorInfo.reason`` of a request whose bytes are not a message of its type.
MALFORMED_REQUEST = "MALFORMED_REQUEST"


class MalformedRequest:
    """The marker a safe deserializer returns for bytes it could not decode."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MALFORMED"


#: What ``safe_deserializer`` returns for undecodable bytes (one instance).
MALFORMED: Final = MalformedRequest()


class Oversized(MalformedRequest):
    """The marker of a request longer than its method's byte limit (not parsed)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __repr__(self) -> str:
        return f"OVERSIZED({self.size})"


def safe_deserializer(
    deserialize: Callable[[bytes], Any], max_bytes: int | None = None
) -> Callable[[bytes], Any]:
    """``deserialize`` returning ``MALFORMED`` instead of raising, and
    ``Oversized`` without parsing for more than ``max_bytes`` bytes.

    Any exception counts (protobuf's ``DecodeError``, and whatever a parser
    raises on nesting or sizes it refuses); ``deserialize`` is called once per
    request message, on the event loop, as grpcio does anyway.
    """

    def decode(data: bytes) -> Any:
        if max_bytes is not None and len(data) > max_bytes:
            return Oversized(len(data))
        try:
            return deserialize(data)
        except Exception:
            return MALFORMED

    return decode


def is_malformed(request: object) -> bool:
    """Whether ``request`` is a marker of a request not decoded (``MALFORMED``, ``Oversized``)."""
    return isinstance(request, MalformedRequest)


def malformed_request_error(method: str) -> InvalidArgumentError:
    """The error for a request of ``method`` (``/pkg.Service/Method``) whose
    bytes are not a message of the method's request type: INVALID_ARGUMENT,
    reason ``MALFORMED_REQUEST``, metadata ``method``."""
    return InvalidArgumentError(
        f"the request of {method} is not a valid protobuf message of its request type",
        reason=MALFORMED_REQUEST,
        metadata={"method": method},
    )


def with_safe_deserializer(
    handler: grpc.RpcMethodHandler, max_bytes: int | None = None
) -> grpc.RpcMethodHandler:
    """``handler`` with its ``request_deserializer`` made safe (unchanged when it has none)."""
    deserializer = handler.request_deserializer
    if deserializer is None:
        return handler
    return handler._replace(request_deserializer=safe_deserializer(deserializer, max_bytes))


async def checked_requests(
    requests: AsyncIterator[Any], reject: Callable[[object], Awaitable[NoReturn]]
) -> AsyncIterator[Any]:
    """The messages of a request stream; at the first one not decoded,
    ``reject(marker)`` (which aborts the call) instead."""
    async for request in requests:
        if is_malformed(request):
            await reject(request)
        yield request


__all__ = [
    "MALFORMED",
    "MALFORMED_REQUEST",
    "MalformedRequest",
    "Oversized",
    "checked_requests",
    "is_malformed",
    "malformed_request_error",
    "safe_deserializer",
    "with_safe_deserializer",
]
