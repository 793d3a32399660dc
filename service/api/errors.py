"""The API edge of errors: validation and the one mapping to ``google.rpc.Status``.

Every servicer method is wrapped by ``unary`` or ``server_stream``:
1. the request is validated with protovalidate against the rules in the
   .proto files; violations become INVALID_ARGUMENT with
   ``google.rpc.BadRequest`` field violations;
2. a ``RunwireError`` becomes its status code with ``google.rpc.ErrorInfo``
   (reason, domain ``runwire.dev``, metadata), plus ``google.rpc.QuotaFailure``
   for a ``ResourceExhaustedError``;
3. anything else is a bug: logged with its traceback and returned as
   INTERNAL (reason ``INTERNAL``) without internals in the message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
import protovalidate
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from service.core.errors import (
    ERROR_DOMAIN,
    InvalidArgumentError,
    ResourceExhaustedError,
    RunwireError,
)

logger = logging.getLogger(__name__)

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Self = TypeVar("Self")


def violation_path(violation: protovalidate.Violation) -> str:
    """A violation's field path in AIP-style notation: ``agent.tools[2]``."""
    parts: list[str] = []
    field_path = violation.proto.field
    elements: list[Any] = list(field_path.elements) if field_path is not None else []
    for element in elements:
        # protovalidate's own FieldPathElement: ``subscript`` is None or
        # ``Oneof(field=..., value=...)`` (index, bool/int/uint/string key).
        part = element.field_name
        subscript = element.subscript
        if subscript is not None:
            value = subscript.value
            part += f"[{value!r}]" if subscript.field == "string_key" else f"[{value}]"
        parts.append(part)
    return ".".join(parts)


def validate(request: Message) -> None:
    """Checks ``request`` against its protovalidate rules.

    Raises:
        InvalidArgumentError: with one field violation per broken rule.
    """
    violations = protovalidate.collect_violations(request)
    if not violations:
        return
    fields: dict[str, str] = {}
    for violation in violations:
        path = violation_path(violation) or request.DESCRIPTOR.name
        message = violation.proto.message or violation.proto.rule_id
        fields[path] = f"{fields[path]}; {message}" if path in fields else message
    summary = "; ".join(f"{path}: {message}" for path, message in fields.items())
    raise InvalidArgumentError(
        f"invalid {request.DESCRIPTOR.name}: {summary}", field_violations=fields
    )


#: The status travels in trailers (the message percent-encoded, the details in base64),
#: which grpc drops past 8 KiB: texts a caller can make long (ids, paths) are cut to
#: these many UTF-8 bytes, the violations listed to this count.
MAX_STATUS_MESSAGE_BYTES = 512
MAX_DETAIL_BYTES = 128
MAX_DESCRIPTION_BYTES = 320
MAX_FIELD_VIOLATIONS = 10


def _cut(text: str, limit: int = MAX_DETAIL_BYTES) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def to_status(error: RunwireError) -> grpc.Status:
    """``error`` as a gRPC status carrying ErrorInfo (and BadRequest when invalid).

    Texts are cut (``MAX_STATUS_MESSAGE_BYTES``, ``MAX_DETAIL_BYTES``) and at most
    ``MAX_FIELD_VIOLATIONS`` violations are listed, so the status always fits its trailer.
    """
    info = error_details_pb2.ErrorInfo(
        reason=error.reason,
        domain=ERROR_DOMAIN,
        metadata={_cut(k): _cut(v) for k, v in error.metadata.items()},
    )
    status = status_pb2.Status(
        code=error.code.value[0], message=_cut(error.message, MAX_STATUS_MESSAGE_BYTES)
    )
    status.details.add().Pack(info)
    if isinstance(error, ResourceExhaustedError):
        quota = error_details_pb2.QuotaFailure(
            violations=[
                error_details_pb2.QuotaFailure.Violation(
                    subject=_cut(error.subject),
                    description=_cut(error.message, MAX_DESCRIPTION_BYTES),
                )
            ]
        )
        status.details.add().Pack(quota)
    if isinstance(error, InvalidArgumentError) and error.field_violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=_cut(f), description=_cut(d, MAX_DESCRIPTION_BYTES)
                )
                for f, d in list(error.field_violations.items())[:MAX_FIELD_VIOLATIONS]
            ]
        )
        status.details.add().Pack(bad_request)
    return rpc_status.to_status(status)


def _internal(method: str) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN)
    status = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error in {method}; the server log has the details",
    )
    status.details.add().Pack(info)
    return rpc_status.to_status(status)


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    if isinstance(exc, RunwireError):
        await context.abort_with_status(to_status(exc))
    logger.exception("unexpected error in %s", method)
    await context.abort_with_status(_internal(method))


def unary(
    fn: Callable[[Self, Req, grpc.aio.ServicerContext], Awaitable[Resp]],
) -> Callable[[Self, Req, grpc.aio.ServicerContext], Awaitable[Resp]]:
    """Wraps a unary servicer method with validation and error mapping."""

    @functools.wraps(fn)
    async def wrapper(self: Self, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        try:
            validate(request)
            return await fn(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _abort(context, exc, fn.__qualname__)
            raise AssertionError("unreachable") from exc

    return wrapper


def server_stream(
    fn: Callable[[Self, Req, grpc.aio.ServicerContext], AsyncIterator[Resp]],
) -> Callable[[Self, Req, grpc.aio.ServicerContext], AsyncIterator[Resp]]:
    """Wraps a server-streaming servicer method with validation and error mapping."""

    @functools.wraps(fn)
    async def wrapper(
        self: Self, request: Req, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Resp]:
        try:
            validate(request)
            async for response in fn(self, request, context):
                yield response
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _abort(context, exc, fn.__qualname__)

    return wrapper
