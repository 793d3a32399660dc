"""Hypothesis strategies of request bytes for any RPC, built from protobuf descriptors.

For a request type (a protobuf ``Descriptor``), ``requests`` draws ``Request``s of three
kinds:

* ``valid``: a message of the type with hostile values in its fields (``messages``):
  strings empty, huge (up to 300,000 characters), with control characters, odd code
  points, paths, URLs and template syntax; integers at their type's bounds; enums with
  undefined numbers; nested messages; repeated fields and maps past their limits;
  ``google.protobuf.Struct`` values nested, wide, with NaN and infinities, and shaped
  like model options or JSON Schemas by field name; ``Timestamp`` and ``Duration``
  at and past their extremes. ``Hints`` mixes in values the server knows (ids of
  existing agents, runs, threads and approvals; page tokens), so requests get past
  the lookups into the code behind them.
* ``mutated``: the encoding of such a message with bytes flipped, set, inserted,
  deleted, duplicated or cut, or an over-long varint inserted.
* ``raw``: arbitrary bytes, and crafted encodings (``crafted``): lengths past the end,
  invalid wire types, field number 0, invalid UTF-8 in a string field, groups and
  Structs nested past protobuf's depth limit, floods of repeated elements and of
  unknown fields, a string over the agent size limit.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from google.protobuf import duration_pb2, field_mask_pb2, message_factory, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

__all__ = ["KINDS", "Hints", "Request", "crafted", "messages", "mutated", "raw", "requests"]

#: The kinds of request ``requests`` draws, in the order it prefers them.
KINDS = ("valid", "mutated", "raw")

#: How deep ``messages`` nests message fields (Structs nest on their own).
MAX_DEPTH = 4

#: Longest repeated field or map drawn (past the contract's 64-item limits).
MAX_ITEMS = 70


@dataclass(frozen=True)
class Hints:
    """What the server knows and accepts, so that requests reach past its checks.

    Attributes:
        strings: Field name (``agent_id``, ``run_id``, ``page_token``, ``tools``,
            ``paths`` ...) -> values that exist on the server or pass its checks; a
            string field of that name draws one of them about a third of the time.
        templates: Message type (full name) -> a valid message of it; a message of
            that type is drawn half the time as the template with a few of its
            fields made hostile (``_Builder.overlaid``).
        fresh: Fields (``runwire.v1.CreateAgentRequest.agent_id``) drawn afresh in
            every copy of their message's template, from the id's pattern: ids a
            create request must not reuse.
    """

    strings: Mapping[str, Sequence[str]] = field(default_factory=dict)
    templates: Mapping[str, Message] = field(default_factory=dict)
    fresh: frozenset[str] = frozenset()


# --- scalars -------------------------------------------------------------------------

_BOUNDARY_INTS = (
    0, 1, -1, 2, 63, 64, 65, 100, 101, 127, 128, 1000, 1001, 3600, 3601, 86400, 86401,
    200_000, 200_001, 2**31 - 1, -(2**31), 2**32 - 1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1,
)  # fmt: skip

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}

#: Enum numbers no runwire enum defines (proto3 enums are open: they go on the wire).
_UNDEFINED_ENUMS = (-1, 99, 2**31 - 1, -(2**31))


def _ints(low: int, high: int) -> st.SearchStrategy[int]:
    bounds = sorted({v for v in _BOUNDARY_INTS if low <= v <= high})
    return st.one_of(st.sampled_from(bounds), st.integers(max(low, 0), 100), st.integers(low, high))


def _pick(items: Sequence[Any]) -> st.SearchStrategy[Any]:
    """One of ``items`` (``sampled_from`` without its repr, which would print every item)."""
    return st.integers(0, len(items) - 1).map(items.__getitem__)


HOSTILE_STRINGS = (
    "", " ", "\x00", "a\x00b", "\t\n\r", "\x1b[31mred\x1b[0m", "\x7f", "\u200b", "\u202e",
    "\ufeff", "\uffff", "\U0010ffff", "\U0001f600", "e\u0301", "\u0130", "\ufb00", "\u00df",
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "/dev/zero", "/proc/self/environ",
    "file:///etc/passwd", "http://127.0.0.1:9/v1", "http://169.254.169.254/latest/meta-data/",
    "https://example.com/v1", "http://[::1]:9/", "http://user:secret@127.0.0.1:9/v1",
    "${jndi:ldap://127.0.0.1:9/a}", "{{7*7}}", "%s%s%s%n", "'; DROP TABLE agents; --",
    "<script>alert(1)</script>", "AWS_SECRET_ACCESS_KEY", "$RUNWIRE_OPENAI_API_KEY",
    "role:admin", "role:", "*", "-1", "NaN", "1e309", "null", "{}", "[]", '{"after":"x"}',
    "__import__('os').system('true')", "9**9**9", "a" * 63, "a" * 64, "a" * 65, "a" * 128,
    "a" * 129, "a" * 200, "a" * 201, "A" * 64, "run_", "apr_", "-a", ".a", "a..b",
)  # fmt: skip

#: Long strings, at and past the contract's limits (64 KiB and 100,000 / 200,000 characters).
HUGE_STRINGS = (
    "a" * 65_536,
    "\u00e9" * 32_768,
    "\U0001f600" * 16_384,
    "\x00" * 16_384,
    "../" * 20_000,
    "a\n" * 30_000,
    "\u202e" * 10_000,
    "x" * 100_001,
    "y" * 200_001,
    "z" * 300_000,
)


def hostile_strings() -> st.SearchStrategy[str]:
    """Short hostile strings or now and then a huge one; arbitrary UTF-8 text (no surrogates)."""
    return st.one_of(
        _pick(HOSTILE_STRINGS + HUGE_STRINGS),
        st.text(st.characters(codec="utf-8"), max_size=40),
    )


def _token(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: Page tokens no response issued: nested, wrong types, not base64, oversized.
HOSTILE_PAGE_TOKENS = (
    _token({"after": 12}),
    _token({"after": "\x00"}),
    _token({"after": "x", "more": 1}),
    _token({"after": None}),
    _token({"after": "9" * 40}),
    _token({"after": "-1"}),
    _token(["after"]),
    _token(b"[" * 5_000 + b"]" * 5_000),
    _token(b'{"after":' * 600 + b'"x"' + b"}" * 600),
    _token(b"\xff\xfe not json"),
    "not base64!",
    "====",
    "A" * 1_025,
    _token({"after": "a" * 5_000}),
)

#: Patterns shaped like the ids the server hands out or accepts (drawn beside the hints).
_ID_PATTERNS = {
    "agent_id": r"[a-z0-9][a-z0-9._-]{0,62}",
    "thread_id": r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}",
    "request_id": r"[A-Za-z0-9-]{1,40}",
    "run_id": r"run_[0-9a-f]{1,32}",
    "approval_id": r"apr_[0-9a-f]{1,32}",
    "tool_call_id": r"call_[A-Za-z0-9]{1,24}",
}


def _string_for(name: str, hints: Hints) -> st.SearchStrategy[str]:
    parts: list[st.SearchStrategy[str]] = []
    known = list(hints.strings.get(name, ()))
    if known:
        parts.append(st.sampled_from(known))
    pattern = _ID_PATTERNS.get(name)
    if pattern is not None:
        parts.append(st.from_regex(pattern, fullmatch=True))
    if name == "page_token":
        parts.append(_pick(HOSTILE_PAGE_TOKENS))
    parts.append(hostile_strings())
    return st.one_of(*parts)


# --- JSON values, Structs -----------------------------------------------------------

_ODD_NUMBERS: tuple[Any, ...] = (
    0, 1, -1, 0.5, 1e9, 2**53, 2**63, -(2**63), 1e308, -1e308, 5e-324, float("nan"),
    float("inf"), float("-inf"), "4", True, None, [], {},
)  # fmt: skip

_keys = st.one_of(st.sampled_from(HOSTILE_STRINGS[:40]), st.text(max_size=10))

_json_scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**63), 2**63),
    st.sampled_from(_ODD_NUMBERS),
    st.sampled_from(HOSTILE_STRINGS),
    _pick(HUGE_STRINGS[:3]),
)

json_values: st.SearchStrategy[Any] = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(_keys, inner, max_size=6)),
    max_leaves=25,
)

json_objects: st.SearchStrategy[dict[str, Any]] = st.dictionaries(_keys, json_values, max_size=8)

_TOOL_NAMES = ("calculator", "echo", "current_time", "sleep", "lookup", "", "no-such-tool")

_script_turns: st.SearchStrategy[Any] = st.one_of(
    st.fixed_dictionaries({"text": hostile_strings()}),
    st.fixed_dictionaries(
        {
            "tool_calls": st.lists(
                st.fixed_dictionaries(
                    {
                        "name": st.one_of(st.sampled_from(_TOOL_NAMES), hostile_strings()),
                        "arguments": st.one_of(
                            st.fixed_dictionaries(
                                {"expression": st.sampled_from(("6*7", "9**9**9", "1/0"))}
                            ),
                            st.fixed_dictionaries({"seconds": st.sampled_from(_ODD_NUMBERS)}),
                            json_objects,
                        ),
                    }
                ),
                max_size=3,
            ),
        },
        optional={"text": hostile_strings()},
    ),
    json_values,
)

#: Options of the scripted model, with hostile knobs.
scripted_options: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "script": st.one_of(st.lists(_script_turns, max_size=4), json_values),
        "chunk_chars": st.sampled_from(_ODD_NUMBERS),
        "delay_ms": st.sampled_from(_ODD_NUMBERS),
        "unknown_option": json_values,
    },
)

URLS = (
    "http://127.0.0.1:9/v1", "http://localhost:9/v1", "http://169.254.169.254/latest/meta-data/",
    "https://api.openai.com/v1", "http://example.com/v1", "http://[::1]:9/",
    "http://user:secret@127.0.0.1:9/v1", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO",
    "http://127.0.0.1:9/v1?x=1", "http://127.0.0.1:9/v1#f", "http://%31%32%37.0.0.1/",
    "http://0x7f000001/", "http://2130706433/", "HTTP://EXAMPLE.COM:80/v1",
    "http://example.com\\@127.0.0.1/", "http://example.com:99999/", "not a url",
    " http://127.0.0.1:9/", "http://127.0.0.1:9/v1\r\nX-Injected: 1", "",
)  # fmt: skip

#: Options of the HTTP providers, naming keys, variables, files and URLs as an attacker would.
http_options: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "endpoint": st.one_of(st.sampled_from(("default", "openai", "")), hostile_strings()),
        "base_url": st.one_of(st.sampled_from(URLS), hostile_strings()),
        "api_key": st.sampled_from(("sk-fuzz-canary", "")),
        "api_key_env": st.sampled_from(("AWS_SECRET_ACCESS_KEY", "RUNWIRE_OPENAI_API_KEY")),
        "api_key_file": st.sampled_from(("/etc/passwd", "/proc/self/environ")),
        "headers": st.fixed_dictionaries({"Authorization": st.just("Bearer x")}),
        "temperature": st.sampled_from(_ODD_NUMBERS),
        "top_p": st.sampled_from(_ODD_NUMBERS),
        "max_tokens": st.sampled_from(_ODD_NUMBERS),
        "stream_tools": st.sampled_from(_ODD_NUMBERS),
    },
)

_PATTERNS = (
    "^(a+)+$", "(a|aa)+$", "(x+x+)+y", "[", "(?<=a)b", "\\", "^.*$", "a{1,100000}",
    "(?P<x>a)(?P=x)", "\\p{L}+", ".*" * 50, "(" * 200 + ")" * 200,
)  # fmt: skip

_REFS = (
    "http://127.0.0.1:9/schema.json", "https://example.com/schema.json", "file:///etc/passwd",
    "#/$defs/a", "#", "#/definitions/missing", "urn:fuzz", "//example.com/s", "other.json",
)  # fmt: skip


def _nested_items(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


#: JSON Schemas an attacker would send: backtracking patterns, remote and recursive
#: references, huge and deep schemas.
HOSTILE_SCHEMAS: tuple[dict[str, Any], ...] = (
    {"type": "string", "pattern": "^(a+)+$"},
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "(x+x+)+y"}}},
    {"$ref": "http://127.0.0.1:9/schema.json"},
    {"$ref": "https://example.com/schema.json"},
    {"$schema": "http://127.0.0.1:9/meta.json", "type": "object"},
    {"$id": "http://127.0.0.1:9/", "$ref": "other.json"},
    {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
    {"type": "object", "patternProperties": {"^(a+)+$": {"type": "string"}}},
    {"type": "string", "format": "regex"},
    {"type": 5},
    {"enum": list(range(50_000))},
    {"properties": {str(i): {"type": "string"} for i in range(20_000)}},
    _nested_items(60),
    _nested_items(300),
)

_schema_leaves: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ("object", "string", "array", "number", "integer", "boolean", "null", "nope", 5)
        ),
        "pattern": st.sampled_from(_PATTERNS),
        "format": st.sampled_from(("regex", "uri", "email", "date-time", "hostname", "x")),
        "minLength": st.sampled_from(_ODD_NUMBERS),
        "maxLength": st.sampled_from(_ODD_NUMBERS),
        "multipleOf": st.sampled_from((0, -1, 1e-308, 5e-324, float("nan"))),
        "enum": st.lists(_json_scalars, max_size=5),
        "$ref": st.sampled_from(_REFS),
    },
)

schema_like: st.SearchStrategy[dict[str, Any]] = st.one_of(
    _pick(HOSTILE_SCHEMAS),
    st.recursive(
        _schema_leaves,
        lambda inner: st.fixed_dictionaries(
            {"type": st.just("object")},
            optional={
                "properties": st.dictionaries(st.text(max_size=8), inner, max_size=4),
                "required": st.lists(st.text(max_size=8), max_size=4),
                "items": inner,
                "anyOf": st.lists(inner, max_size=3),
                "additionalProperties": st.one_of(inner, st.booleans()),
                "$defs": st.dictionaries(st.sampled_from(("a", "b")), inner, max_size=2),
            },
        ),
        max_leaves=10,
    ),
)

#: Struct fields whose name says what they hold: drawn in that shape half the time.
_STRUCT_SHAPES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "options": st.one_of(scripted_options, http_options),
    "response_format": schema_like,
    "parameters": schema_like,
}


@functools.cache
def _wide_struct(keys: int) -> struct_pb2.Struct:
    wide = struct_pb2.Struct()
    wide.update({f"k{i}": i for i in range(keys)})
    return wide


def _as_struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def _copy(message: struct_pb2.Struct) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.CopyFrom(message)
    return result


def _structs(name: str) -> st.SearchStrategy[Message]:
    shaped = _STRUCT_SHAPES.get(name, json_objects)
    return st.one_of(
        st.one_of(json_objects, shaped).map(_as_struct),
        st.sampled_from((1_000, 50_000)).map(lambda keys: _copy(_wide_struct(keys))),
    )


def _values() -> st.SearchStrategy[Message]:
    return json_values.map(lambda value: _as_struct({"v": value}).fields["v"])


def _list_values() -> st.SearchStrategy[Message]:
    return st.lists(json_values, max_size=6).map(
        lambda items: _as_struct({"v": items}).fields["v"].list_value
    )


_TIMESTAMP_SECONDS = (0, 1, -1, -62_135_596_800, -62_135_596_801, 253_402_300_799,
                      253_402_300_800, 10**10, 2**63 - 1, -(2**63))  # fmt: skip
_DURATION_SECONDS = (0, 1, -1, 59, 60, 3600, 3601, 86400, 86401, 315_576_000_000,
                     315_576_000_001, 2**63 - 1, -(2**63))  # fmt: skip
_NANOS = (0, 1, -1, 999_999_999, 1_000_000_000, -999_999_999, 2**31 - 1, -(2**31))


def _timestamps() -> st.SearchStrategy[Message]:
    return st.builds(
        timestamp_pb2.Timestamp,
        seconds=st.one_of(st.sampled_from(_TIMESTAMP_SECONDS), st.integers(-(2**63), 2**63 - 1)),
        nanos=st.sampled_from(_NANOS),
    )


def _durations() -> st.SearchStrategy[Message]:
    return st.builds(
        duration_pb2.Duration,
        seconds=st.one_of(st.sampled_from(_DURATION_SECONDS), st.integers(-(2**63), 2**63 - 1)),
        nanos=st.sampled_from(_NANOS),
    )


# --- messages -------------------------------------------------------------------------


def messages(descriptor: Descriptor, hints: Hints) -> st.SearchStrategy[Message]:
    """Messages of ``descriptor``'s type, each field unset or hostile (module docstring)."""
    return _Builder(hints).message(descriptor, "", 0)


class _Builder:
    """Strategies per message type and field, for one ``Hints``."""

    def __init__(self, hints: Hints) -> None:
        self._hints = hints

    def message(self, descriptor: Descriptor, name: str, depth: int) -> st.SearchStrategy[Message]:
        specials: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
            "google.protobuf.Struct": lambda: _structs(name),
            "google.protobuf.Value": _values,
            "google.protobuf.ListValue": _list_values,
            "google.protobuf.Timestamp": _timestamps,
            "google.protobuf.Duration": _durations,
            "google.protobuf.FieldMask": lambda: st.builds(
                field_mask_pb2.FieldMask,
                paths=st.lists(_string_for("paths", self._hints), max_size=5),
            ),
        }
        special = specials.get(descriptor.full_name)
        if special is not None:
            return special()
        message_class = message_factory.GetMessageClass(descriptor)
        fields = {
            f.name: st.one_of(st.none(), self._field(f, depth))
            for f in descriptor.fields
            if depth < MAX_DEPTH or f.message_type is None
        }
        hostile = st.fixed_dictionaries(fields).map(
            lambda values: _build(message_class(), descriptor, values)
        )
        template = self._hints.templates.get(descriptor.full_name)
        if template is None or depth >= MAX_DEPTH:
            return hostile
        return st.one_of(self.overlaid(template, depth), hostile)

    def overlaid(self, template: Message, depth: int) -> st.SearchStrategy[Message]:
        """Copies of ``template`` with about one field in ten made hostile, and one in
        ten of its message fields drawn again (from their own template, or hostile)."""

        @st.composite
        def overlay(draw: st.DrawFn) -> Message:
            message = type(template)()
            message.CopyFrom(template)
            descriptor = cast("Descriptor", message.DESCRIPTOR)
            values: dict[str, Any] = {}
            for f in descriptor.fields:
                if f.full_name in self._hints.fresh:
                    values[f.name] = draw(st.from_regex(_ID_PATTERNS[f.name], fullmatch=True))
                    continue
                # 0 (keep) is what Hypothesis shrinks towards: a failing case shrinks
                # to the template with only the fields that matter made hostile.
                choice = draw(st.integers(0, 9))
                if choice == 9:
                    values[f.name] = draw(self._field(f, depth))
                elif choice == 8 and f.message_type is not None and not f.is_repeated:
                    values[f.name] = draw(self.message(f.message_type, f.name, depth + 1))
            for name in values:
                message.ClearField(name)
            return _build(message, descriptor, values)

        return overlay()

    def _field(self, f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        entry = f.message_type
        if entry is not None and entry.GetOptions().map_entry:
            keys = self._single(entry.fields_by_name["key"], depth)
            values = self._single(entry.fields_by_name["value"], depth)
            return st.dictionaries(keys, values, max_size=MAX_ITEMS)
        if f.is_repeated:
            items = MAX_ITEMS if f.message_type is None else 4
            return st.lists(self._single(f, depth), max_size=items)
        return self._single(f, depth)

    def _single(self, f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        kind = f.type
        if kind == FieldDescriptor.TYPE_STRING:
            return _string_for(f.name, self._hints)
        if kind == FieldDescriptor.TYPE_BYTES:
            return st.binary(max_size=256)
        if kind == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if kind == FieldDescriptor.TYPE_DOUBLE:
            return st.floats()
        if kind == FieldDescriptor.TYPE_FLOAT:
            return st.floats(width=32)
        if kind == FieldDescriptor.TYPE_ENUM:
            assert f.enum_type is not None
            defined = [v.number for v in f.enum_type.values]
            return st.sampled_from(defined + list(_UNDEFINED_ENUMS))
        if kind in _INT_RANGES:
            return _ints(*_INT_RANGES[kind])
        assert f.message_type is not None
        return self.message(f.message_type, f.name, depth + 1)


def _build(message: Message, descriptor: Descriptor, values: Mapping[str, Any]) -> Message:
    for name, value in values.items():
        if value is None:
            continue
        f = descriptor.fields_by_name[name]
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            target = getattr(message, name)
            for key, item in value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif f.is_repeated:
            target = getattr(message, name)
            for item in value:
                if isinstance(item, Message):
                    target.add().CopyFrom(item)
                else:
                    target.append(item)
        elif isinstance(value, Message):
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


# --- encodings --------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _varint(len(payload)) + payload


def _path_to(descriptor: Descriptor, full_name: str) -> list[int] | None:
    """Field numbers from ``descriptor`` down to a field of type ``full_name`` (breadth first)."""
    queue: list[tuple[Descriptor, list[int]]] = [(descriptor, [])]
    while queue:
        current, path = queue.pop(0)
        if len(path) > MAX_DEPTH:
            continue
        for f in current.fields:
            if f.message_type is None or f.message_type.GetOptions().map_entry:
                continue
            if f.message_type.full_name == full_name:
                return [*path, f.number]
            queue.append((f.message_type, [*path, f.number]))
    return None


def _deep_struct(depth: int) -> bytes:
    """A Struct ``{"a": {"a": ...}}`` nested ``depth`` times (three messages per level)."""
    struct = b""
    for _ in range(depth):
        value = _length_delimited(5, struct)  # Value.struct_value
        struct = _length_delimited(1, _length_delimited(1, b"a") + _length_delimited(2, value))
    return struct


def _deep_list(depth: int) -> bytes:
    """A Struct ``{"a": [[[...]]]}`` with lists nested ``depth`` times."""
    value = b""
    for _ in range(depth):
        value = _length_delimited(6, _length_delimited(1, value))  # Value.list_value.values
    return _length_delimited(1, _length_delimited(1, b"a") + _length_delimited(2, value))


@functools.cache
def crafted(descriptor: Descriptor) -> tuple[bytes, ...]:
    """Hand-made encodings of ``descriptor``'s type that a parser must refuse or survive."""
    fields = list(descriptor.fields)
    strings = [f.number for f in fields if f.type == FieldDescriptor.TYPE_STRING]
    repeated = [f.number for f in fields if f.is_repeated]
    first = fields[0].number if fields else 1
    out = [
        b"",
        b"\x00" * 64,
        _key(first, 0) + b"\xff" * 10 + b"\x01",  # an 11-byte varint
        _key(first, 2) + _varint(2**31) + b"x",  # a length past the end
        _key(first, 2) + _varint(2**64 - 1),  # a "negative" length
        _key(first, 2) + b"\xff" * 10,  # a length that never ends
        _key(0, 0) + b"\x01",  # field number 0
        _key(first, 6),  # wire types 6 and 7 do not exist
        _key(first, 7),
        _key(first, 4),  # an end-group without a start
        _key(first, 5) + b"\x01",  # a fixed32 cut short
        _key(99, 3) * 101 + _key(99, 4) * 101,  # unknown groups past the depth limit
        _key(99, 3) * 5_000 + _key(99, 4) * 5_000,
        b"".join(_key(1_000 + i % 500, 0) + b"\x01" for i in range(50_000)),  # unknown fields
        _key(first, 2) + _varint(300_000) + b"z" * 300_000,  # past the agent size limit
    ]
    for number in strings[:2]:
        out.append(_length_delimited(number, b"\xff\xfe\xc0\xaf\xed\xa0\x80"))  # not UTF-8
        out.append(_key(number, 0) + b"\x01")  # a varint where a string goes
    if repeated:
        out.append(_length_delimited(repeated[0], b"") * 100_000)
    for full_name in ("google.protobuf.Struct", "google.protobuf.Value"):
        path = _path_to(descriptor, full_name)
        if path is None:
            continue
        for depth in (40, 99, 100, 101, 1_000):
            for nested in (_deep_struct(depth), _deep_list(depth)):
                encoded = _length_delimited(5, nested) if full_name.endswith("Value") else nested
                for number in reversed(path):
                    encoded = _length_delimited(number, encoded)
                out.append(encoded)
    return tuple(out)


_MUTATIONS = ("flip", "set", "insert", "delete", "truncate", "overlong", "duplicate")


@st.composite
def _mutate(draw: st.DrawFn, encoded: bytes) -> bytes:
    data = bytearray(encoded)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(_MUTATIONS))
        at = draw(st.integers(0, len(data)))
        if operation == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif operation == "set" and at < len(data):
            data[at] = draw(st.sampled_from((0x00, 0x01, 0x07, 0x0C, 0x7F, 0x80, 0xFF)))
        elif operation == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif operation == "truncate":
            del data[at:]
        elif operation == "overlong":
            data[at:at] = b"\xff" * 10 + b"\x01"
        elif operation == "duplicate":
            start = draw(st.integers(0, len(data)))
            data[at:at] = data[start : start + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def mutated(valid: st.SearchStrategy[Message]) -> st.SearchStrategy[bytes]:
    """Encodings of ``valid``'s messages with one to four byte-level mutations."""
    return valid.flatmap(lambda message: _mutate(message.SerializeToString()))


def raw(descriptor: Descriptor) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes and ``crafted`` encodings of ``descriptor``'s type."""
    return st.one_of(st.binary(max_size=512), _pick(crafted(descriptor)))


class Request:
    """One request drawn by ``requests`` (not a dataclass: Hypothesis would print every
    byte of one).

    Attributes:
        kind: One of ``KINDS``.
        data: The request's bytes.
    """

    __slots__ = ("data", "kind")

    def __init__(self, kind: str, data: bytes) -> None:
        self.kind = kind
        self.data = data

    def __repr__(self) -> str:
        """Kind, size and the first bytes (Hypothesis prints it for a failing case)."""
        shown = self.data[:_SHOWN_BYTES]
        more = "..." if len(self.data) > len(shown) else ""
        return f"Request({self.kind}, {len(self.data)} bytes: {shown!r}{more})"


#: Bytes of a request shown in its repr.
_SHOWN_BYTES = 300


def requests(descriptor: Descriptor, hints: Hints) -> st.SearchStrategy[Request]:
    """Requests of ``descriptor``'s type: valid-shaped half the time, mutated a third,
    raw a sixth."""
    valid = messages(descriptor, hints)
    by_kind: dict[str, st.SearchStrategy[bytes]] = {
        "valid": valid.map(lambda message: message.SerializeToString()),
        "mutated": mutated(valid),
        "raw": raw(descriptor),
    }
    weighted = ("valid", "valid", "valid", "mutated", "mutated", "raw")

    # A composite, not ``.map(lambda ...)``: Hypothesis prints a mapped value as the
    # lambda's call with every argument in full.
    @st.composite
    def request(draw: st.DrawFn) -> Request:
        kind = draw(st.sampled_from(weighted))
        return Request(kind, draw(by_kind[kind]))

    return request()
