"""Requests that cannot be decoded, or are refused before they are: never UNKNOWN.

grpcio decodes a request with the method handler's ``request_deserializer``
before any servicer code runs; a deserializer that raises (truncated varints,
garbage, a length prefix past the end, nesting past protobuf's depth limit)
makes grpcio answer ``UNKNOWN`` with the Python exception's text and log a
traceback per request. The interceptor (``runwire_server.service.api.interceptor``) swaps in
``safe_deserializer``, which returns ``MALFORMED`` instead of raising; the
wrapped behavior, after authentication, refuses a ``MALFORMED`` request with
``malformed_request_error`` (reason ``MALFORMED_REQUEST``). With a byte limit
for the method, a longer request is not parsed at all (``Oversized``; parsing
a few megabytes holds the event loop for a noticeable time) and is refused
with RESOURCE_EXHAUSTED naming the limit.

Some requests cost far more to parse than their size suggests: every item of a
repeated message field and every key of a ``google.protobuf.Struct`` becomes an
object, parsed on the event loop, and a Struct's cost grows faster than its size.
A ``WireCheck`` reads the encoded request first, without parsing it, and refuses
it (``Refused``) at the first repeated field or map past its ``max_items`` /
``max_pairs`` (INVALID_ARGUMENT, the violation validation would give), the first
JSON value (``Struct``, ``Value``, ``ListValue``) over ``max_struct_bytes``
(RESOURCE_EXHAUSTED, ``QuotaFailure``), or past ``MAX_SCANNED_FIELDS`` fields.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from runwire_server.service.api.errors import count_limit
from runwire_server.service.auth.quotas import Quotas
from runwire_server.service.core.errors import InvalidArgumentError, RunwireError

logger = logging.getLogger(__name__)

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


class Refused(MalformedRequest):
    """The marker of a request a ``WireCheck`` refused (not parsed): ``error`` says why."""

    __slots__ = ("error",)

    def __init__(self, error: RunwireError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"REFUSED({self.error.reason})"


def safe_deserializer(
    deserialize: Callable[[bytes], Any],
    max_bytes: int | None = None,
    check: Callable[[bytes], RunwireError | None] | None = None,
) -> Callable[[bytes], Any]:
    """``deserialize`` returning ``MALFORMED`` instead of raising, ``Oversized``
    without parsing for more than ``max_bytes`` bytes, and ``Refused`` without
    parsing when ``check`` (a ``WireCheck``) finds a reason to refuse the bytes.

    Any exception counts (protobuf's ``DecodeError``, and whatever a parser
    raises on nesting or sizes it refuses); ``deserialize`` is called once per
    request message, on the event loop, as grpcio does anyway.
    """

    def decode(data: bytes) -> Any:
        if max_bytes is not None and len(data) > max_bytes:
            return Oversized(len(data))
        if check is not None:
            try:
                error = check(data)
            except Exception:  # a bug of the check: the parser decides
                logger.exception("the request check failed; parsing the request")
                error = None
            if error is not None:
                return Refused(error)
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
    handler: grpc.RpcMethodHandler,
    max_bytes: int | None = None,
    check: Callable[[bytes], RunwireError | None] | None = None,
) -> grpc.RpcMethodHandler:
    """``handler`` with its ``request_deserializer`` made safe (unchanged when it has none)."""
    deserializer = handler.request_deserializer
    if deserializer is None:
        return handler
    return handler._replace(request_deserializer=safe_deserializer(deserializer, max_bytes, check))


async def checked_requests(
    requests: AsyncIterator[Any], reject: Callable[[object], Awaitable[NoReturn]]
) -> AsyncIterator[Any]:
    """The messages of a request stream; at the first one not decoded,
    ``reject(marker)`` (which aborts the call) instead."""
    async for request in requests:
        if is_malformed(request):
            await reject(request)
        yield request


#: Fields a ``WireCheck`` reads at most in one request (every level counted); a
#: request with more is refused. A run request with 64 client tools has about 260.
MAX_SCANNED_FIELDS = 4096

#: Groups nested deeper than this are left to the parser (whose own limit is lower).
MAX_GROUP_DEPTH = 128

#: The JSON-valued well-known types, each as unbounded as a Struct.
JSON_TYPES = frozenset(
    {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
)


@dataclass(frozen=True)
class _Wire:
    """A field a ``WireCheck`` looks at, by its number in the encoding.

    Attributes:
        name: Its name, for field paths.
        repeated: A repeated field or a map (paths get an index).
        limit: Its ``max_items`` / ``max_pairs``, if any.
        map: A map (its violation reads as protovalidate's for maps).
        json: A JSON value: its encoded length is checked against ``max_struct_bytes``.
        inner: The fields of its message type to look at (empty: none).
    """

    name: str
    repeated: bool
    limit: int | None
    map: bool
    json: bool
    inner: Mapping[int, _Wire]


def _wire_plan(
    descriptor: Descriptor, *, sizes: bool, within: frozenset[str] = frozenset()
) -> dict[int, _Wire]:
    """The fields of ``descriptor`` with a count limit, JSON values (with ``sizes``),
    and message fields leading to either; message types met again inside themselves
    and map values are not followed."""
    plan: dict[int, _Wire] = {}
    for field in descriptor.fields:
        kind = field.message_type
        is_map = kind is not None and bool(kind.GetOptions().map_entry)
        json = sizes and kind is not None and not is_map and kind.full_name in JSON_TYPES
        inner: dict[int, _Wire] = {}
        if kind is not None and not is_map and not json and kind.full_name not in within:
            inner = _wire_plan(kind, sizes=sizes, within=within | {descriptor.full_name})
        limit = count_limit(field)
        if limit is not None or json or inner:
            plan[field.number] = _Wire(field.name, _is_repeated(field), limit, is_map, json, inner)
    return plan


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


class _Unreadable(Exception):
    """The bytes are not a protobuf encoding: the parser will say so."""


class _TooMany(Exception):
    """More than ``MAX_SCANNED_FIELDS`` fields."""


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Unreadable
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


class WireCheck:
    """Reads a method's encoded request, without parsing it, for reasons to refuse it.

    Built from the request type's descriptor (nested messages included, so a field
    added to the contract is covered with no change here): repeated fields and maps
    with a ``max_items`` / ``max_pairs`` rule, and with ``quotas`` the JSON values
    (``JSON_TYPES``), whose encoded length is their serialized size. Items are
    counted as encoded (map entries repeating a key included). The work is one step
    per field read, at most ``MAX_SCANNED_FIELDS``; a field not looked at is skipped
    whole. Bytes that are not a protobuf encoding are left to the parser, which stops
    where this reading stopped.
    """

    def __init__(self, method: str, request_type: Descriptor, quotas: Quotas | None) -> None:
        """
        Args:
            method: ``/package.Service/Method``, for messages.
            request_type: The method's request message type.
            quotas: Where ``max_struct_bytes`` comes from; None: counts only.
        """
        self._method = method
        self._type = request_type.name
        self._quotas = quotas
        self._plan = _wire_plan(request_type, sizes=quotas is not None)

    @property
    def needed(self) -> bool:
        """Whether the request type has anything to check."""
        return bool(self._plan)

    def __call__(self, data: bytes) -> RunwireError | None:
        """Why the request ``data`` is refused; None: it is not (or it is left to the parser).

        The error is an ``InvalidArgumentError`` (a count past its limit, with the
        field violation validation gives; more than ``MAX_SCANNED_FIELDS`` fields,
        reason ``MALFORMED_REQUEST``) or a ``ResourceExhaustedError`` (a JSON value
        over ``max_struct_bytes``, its field path in the QuotaFailure's subject).
        """
        scan = _Scan(data, self._quotas)
        try:
            found = scan.message(0, len(data), self._plan, "")
        except _Unreadable:
            return None
        except _TooMany:
            return InvalidArgumentError(
                f"the request of {self._method} has more than {MAX_SCANNED_FIELDS} fields",
                reason=MALFORMED_REQUEST,
                metadata={"method": self._method},
            )
        except RunwireError as error:
            return error
        if found is None:
            return None
        path, violation = found
        return InvalidArgumentError(
            f"invalid {self._type}: {path}: {violation}", field_violations={path: violation}
        )


class _Scan:
    """One request's reading: the fields read so far and the JSON bytes per path."""

    def __init__(self, data: bytes, quotas: Quotas | None) -> None:
        self._data = data
        self._quotas = quotas
        self._left = MAX_SCANNED_FIELDS
        self._sizes: dict[str, int] = {}

    def message(
        self, pos: int, end: int, plan: Mapping[int, _Wire], prefix: str
    ) -> tuple[str, str] | None:
        """Reads the message encoded in ``data[pos:end]``: the first count violation
        as (path, text), None when nothing is wrong.

        Raises:
            _Unreadable: not a protobuf encoding.
            _TooMany: past the field budget.
            ResourceExhaustedError: a JSON value over ``max_struct_bytes``.
        """
        counts: dict[int, int] = {}
        while pos < end:
            number, wire_type, start, pos = self._field(pos, end)
            if wire_type == 4:  # an end tag outside a group
                raise _Unreadable
            field = plan.get(number)
            if field is None or wire_type != 2:  # a wrong wire type: an unknown field
                continue
            index = counts.get(number, 0)
            counts[number] = index + 1
            path = prefix + field.name
            if field.limit is not None and index >= field.limit:
                # protovalidate's wording for the same rules
                if field.map:
                    return path, f"map must be at most {field.limit} entries"
                return path, f"must contain no more than {field.limit} item(s)"
            if field.repeated:
                path = f"{path}[{index}]"
            if field.json and self._quotas is not None:
                # A singular field sent twice is merged: count both parts.
                size = self._sizes[path] = self._sizes.get(path, 0) + pos - start
                self._quotas.check_size("max_struct_bytes", size=size, subject=f"field {path}")
            elif field.inner:
                found = self.message(start, pos, field.inner, path + ".")
                if found is not None:
                    return found
        return None

    def _field(self, pos: int, end: int) -> tuple[int, int, int, int]:
        """Reads the field at ``pos``: (number, wire type, where its value starts, where
        it ends); a length-delimited value is not read, a group is skipped whole."""
        number, wire_type, pos = self._tag(pos, end)
        if wire_type != 3:
            start, pos = self._value(pos, end, wire_type)
            return number, wire_type, start, pos
        start = pos
        groups = [number]  # the groups open here, innermost last
        while groups:
            inner, inner_type, pos = self._tag(pos, end)
            if inner_type == 3:
                groups.append(inner)
                if len(groups) > MAX_GROUP_DEPTH:
                    raise _Unreadable
            elif inner_type == 4:
                if groups.pop() != inner:
                    raise _Unreadable
            else:
                _, pos = self._value(pos, end, inner_type)
        return number, wire_type, start, pos

    def _tag(self, pos: int, end: int) -> tuple[int, int, int]:
        """(field number, wire type, position after the tag); one field of the budget."""
        self._left -= 1
        if self._left < 0:
            raise _TooMany
        tag, pos = _varint(self._data, pos, end)
        if tag >> 3 == 0:
            raise _Unreadable
        return tag >> 3, tag & 7, pos

    def _value(self, pos: int, end: int, wire_type: int) -> tuple[int, int]:
        """Skips a value of ``wire_type`` (not a group's): (where its bytes start, where
        it ends); an end tag has none."""
        start = pos
        if wire_type == 2:
            length, start = _varint(self._data, pos, end)
            pos = start + length
        elif wire_type == 0:
            _, pos = _varint(self._data, pos, end)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type != 4:
            raise _Unreadable
        if pos > end:
            raise _Unreadable
        return start, pos


__all__ = [
    "JSON_TYPES",
    "MALFORMED",
    "MALFORMED_REQUEST",
    "MAX_SCANNED_FIELDS",
    "MalformedRequest",
    "Oversized",
    "Refused",
    "WireCheck",
    "checked_requests",
    "is_malformed",
    "malformed_request_error",
    "safe_deserializer",
    "with_safe_deserializer",
]
