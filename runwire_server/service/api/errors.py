"""The API edge of errors: validation and the one mapping to ``google.rpc.Status``.

Every servicer method is wrapped by ``unary`` or ``server_stream``:
1. the request is validated with protovalidate against the rules in the
   .proto files; violations become INVALID_ARGUMENT with
   ``google.rpc.BadRequest`` field violations. A repeated field (or map)
   over its ``max_items`` (``max_pairs``) is refused first, from the count
   alone, before protovalidate would check each of its items
   (``count_violations``);
2. a ``RunwireError`` becomes its status code with ``google.rpc.ErrorInfo``
   (reason, domain ``runwire.dev``, metadata), plus ``google.rpc.QuotaFailure``
   for a ``ResourceExhaustedError``;
3. anything else is a bug: logged with its traceback and returned as
   INTERNAL (reason ``INTERNAL``) without internals in the message.

The call ends with that status without an exception (``refuse``), so nothing
of a refused call (its request, its violations) outlives it in a reference
cycle.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import grpc
import protovalidate
from buf.validate import validate_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from runwire_server.service.core.errors import (
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


def count_limit(field: FieldDescriptor) -> int | None:
    """The most items ``field`` may hold under its protovalidate rules: the
    ``repeated.max_items`` of a repeated field, the ``map.max_pairs`` of a map;
    None without one (or for a singular field)."""
    if not field.is_repeated:
        return None
    # The stubs type the extension as a plain FieldDescriptor.
    rules: validate_pb2.FieldRules = field.GetOptions().Extensions[validate_pb2.field]  # type: ignore[index]
    if rules.HasField("repeated") and rules.repeated.HasField("max_items"):
        return int(rules.repeated.max_items)
    if rules.HasField("map") and rules.map.HasField("max_pairs"):
        return int(rules.map.max_pairs)
    return None


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and bool(field.message_type.GetOptions().map_entry)


@dataclass(frozen=True)
class _Counted:
    """A field ``count_violations`` looks at: its count limit, and the plan of its
    message type (of each item, for a repeated field), empty when it has nothing
    counted."""

    field: FieldDescriptor
    limit: int | None
    items: tuple[_Counted, ...]


_COUNT_PLANS: dict[str, tuple[_Counted, ...]] = {}


def _count_plan(
    descriptor: Descriptor, within: frozenset[str] = frozenset()
) -> tuple[_Counted, ...]:
    """The fields of ``descriptor`` with a count limit, or leading to one (cached).

    A message type met again inside itself (``google.protobuf.Struct``) is not
    followed: the contract's limits are all on non-recursive paths.
    """
    name = descriptor.full_name
    cached = _COUNT_PLANS.get(name)
    if cached is not None:
        return cached
    plan: list[_Counted] = []
    for field in descriptor.fields:
        limit = count_limit(field)
        item_type = field.message_type
        items: tuple[_Counted, ...] = ()
        if item_type is not None and not _is_map(field) and item_type.full_name not in within:
            items = _count_plan(item_type, within | {name})
        if limit is not None or items:
            plan.append(_Counted(field, limit, items))
    result = tuple(plan)
    if not within:  # a plan cut short by recursion is not cached for other roots
        _COUNT_PLANS[name] = result
    return result


def _count(message: Message, plan: tuple[_Counted, ...], prefix: str, out: dict[str, str]) -> None:
    for counted in plan:
        field = counted.field
        if field.is_repeated:
            values = getattr(message, field.name)
            size = len(values)
            if counted.limit is not None and size > counted.limit:
                # protovalidate's wording for the same rules
                out[prefix + field.name] = (
                    f"map must be at most {counted.limit} entries"
                    if _is_map(field)
                    else f"must contain no more than {counted.limit} item(s)"
                )
                continue  # its items are not looked at
            if counted.items:
                for index, item in enumerate(values):
                    _count(item, counted.items, f"{prefix}{field.name}[{index}].", out)
        elif counted.items and message.HasField(field.name):
            _count(getattr(message, field.name), counted.items, f"{prefix}{field.name}.", out)


def count_violations(request: Message) -> dict[str, str]:
    """The repeated fields and maps of ``request`` (nested messages included) over
    their ``max_items`` / ``max_pairs``: field path -> violation; empty when none.

    Only the counts are read, and the items of a field over its limit are not
    visited: the work is bounded by the limits, not by the request (every repeated
    message field of the contract's requests has a limit; the items of one without
    would each be visited).
    """
    found: dict[str, str] = {}
    _count(request, _count_plan(cast("Descriptor", request.DESCRIPTOR)), "", found)
    return found


def validate(request: Message) -> None:
    """Checks ``request`` against its protovalidate rules.

    A repeated field or map over its count limit (``count_violations``) is
    refused from the count alone, with only those violations; otherwise
    protovalidate checks every rule.

    Raises:
        InvalidArgumentError: with one field violation per broken rule.
    """
    fields = count_violations(request)
    if not fields:
        fields = _protovalidate_violations(request)
    if not fields:
        return
    summary = "; ".join(f"{path}: {message}" for path, message in fields.items())
    raise InvalidArgumentError(
        f"invalid {request.DESCRIPTOR.name}: {summary}", field_violations=fields
    )


def _protovalidate_violations(request: Message) -> dict[str, str]:
    """protovalidate's violations of ``request``: field path -> messages ("; "-joined)."""
    fields: dict[str, str] = {}
    for violation in protovalidate.collect_violations(request):
        path = violation_path(violation) or request.DESCRIPTOR.name
        message = violation.proto.message or violation.proto.rule_id
        fields[path] = f"{fields[path]}; {message}" if path in fields else message
    return fields


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


def status_of(exc: Exception, method: str) -> grpc.Status:
    """The status a call ends with when its handler raised ``exc``: ``to_status``
    of a ``RunwireError``; anything else is logged with its traceback (call it in
    the ``except`` block) and becomes INTERNAL."""
    if isinstance(exc, RunwireError):
        return to_status(exc)
    logger.exception("unexpected error in %s", method)
    return _internal(method)


def refuse(context: grpc.aio.ServicerContext, status: grpc.Status) -> None:
    """Makes the call end with ``status`` when its handler returns (grpc discards
    the response of a call whose code is not OK).

    Unlike ``context.abort_with_status`` this raises nothing: grpc keeps an abort's
    exception on the call's state, and the exception's traceback holds the frames
    of the handler, the request and the context among their locals, which hold
    that state again, so every aborted call stayed in memory, request included,
    until the next full garbage collection.
    """
    context.set_code(status.code)
    context.set_details(status.details)
    context.set_trailing_metadata(status.trailing_metadata)


def unary(
    fn: Callable[[Self, Req, grpc.aio.ServicerContext], Awaitable[Resp]],
) -> Callable[[Self, Req, grpc.aio.ServicerContext], Awaitable[Resp]]:
    """Wraps a unary servicer method with validation and error mapping (the call
    ends with the error's status, ``refuse``)."""

    @functools.wraps(fn)
    async def wrapper(self: Self, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        try:
            validate(request)
            return await fn(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            status = status_of(exc, fn.__qualname__)
        refuse(context, status)
        return cast("Resp", None)  # discarded: the status is not OK

    return wrapper


def server_stream(
    fn: Callable[[Self, Req, grpc.aio.ServicerContext], AsyncIterator[Resp]],
) -> Callable[[Self, Req, grpc.aio.ServicerContext], AsyncIterator[Resp]]:
    """Wraps a server-streaming servicer method with validation and error mapping
    (the stream ends with the error's status, ``refuse``)."""

    @functools.wraps(fn)
    async def wrapper(
        self: Self, request: Req, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Resp]:
        try:
            validate(request)
            async for response in fn(self, request, context):
                yield response
            return
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            status = status_of(exc, fn.__qualname__)
        refuse(context, status)

    return wrapper
