"""JSON Schema checking: the one owner of it.

Callers send JSON Schemas (``Agent.response_format``, ``ClientTool.parameters``)
and the agent loop checks the model's final answer against ``response_format``.
Both go through this module, which keeps that work safe and bounded:

- **Creation** (``schema_problem``, ``check_schema``): a schema must be at most
  ``MAX_SCHEMA_BYTES`` of JSON, nest at most ``MAX_SCHEMA_DEPTH`` levels, be valid
  against the Draft 2020-12 metaschema, use only local references (``#...``; nothing
  is ever fetched), name no other dialect in ``$schema`` and hold only regular
  expressions RE2 compiles (no backreferences, no lookaround).
- **Validation** (``answer_problem``, ``validation_problem``): the value must nest
  at most ``MAX_VALUE_DEPTH`` levels and hold at most ``MAX_VALUE_NODES`` JSON
  values; regular expressions (``pattern``, ``patternProperties``) run on RE2, in
  linear time; ``uniqueItems`` hashes instead of comparing pairs; messages show
  values cut short; and one validation spends at most ``MAX_VALIDATION_WORK``
  units (about one per keyword evaluated, more for keywords whose cost grows with
  their value or the instance), so no schema (not even a recursive ``anyOf``) turns
  one answer into unbounded work. The result is deterministic (a count, not a
  clock), so a Temporal workflow replays it.

Every message this module returns is bounded (``MAX_MESSAGE_CHARS``) and safe to
show to the caller. The checks are synchronous and bounded by the caps; callers on
an event loop run them in a thread (``asyncio.to_thread``, ``answer_problem_off_loop``)
so a request never holds the loop for their duration.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import jsonschema
import re2  # type: ignore[import-untyped]
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema_specifications import REGISTRY as SPECIFICATIONS  # type: ignore[import-untyped]

from runwire_server.service.core.errors import InvalidArgumentError

if TYPE_CHECKING:
    from referencing._core import Resolver

__all__ = [
    "DIALECT",
    "MAX_MESSAGE_CHARS",
    "MAX_SCHEMA_BYTES",
    "MAX_SCHEMA_DEPTH",
    "MAX_VALIDATION_WORK",
    "MAX_VALUE_DEPTH",
    "MAX_VALUE_NODES",
    "answer_problem",
    "answer_problem_off_loop",
    "check_schema",
    "schema_problem",
    "validation_problem",
]

#: Largest schema, in bytes of compact JSON (UTF-8).
MAX_SCHEMA_BYTES = 64 * 1024
#: Deepest nesting of JSON objects and arrays in a schema (``{}`` is 1).
MAX_SCHEMA_DEPTH = 32
#: Deepest nesting of JSON objects and arrays in a validated value.
MAX_VALUE_DEPTH = 64
#: Most JSON values (objects, arrays, strings, numbers, ...) in a validated value.
MAX_VALUE_NODES = 50_000
#: Most work units one validation of one value spends (about one per keyword
#: evaluated; see ``_cost_of``): well under a tenth of a second of CPU.
MAX_VALIDATION_WORK = 20_000
#: Longest message this module returns.
MAX_MESSAGE_CHARS = 300
#: The one dialect accepted, Draft 2020-12 (``$schema``, when present, must name it).
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_SPEC = referencing.jsonschema.DRAFT202012

# Where a Draft 2020-12 schema holds subschemas: one, an array of them, a map of them.
_IN_VALUE = (
    "additionalProperties",
    "contains",
    "contentSchema",
    "else",
    "if",
    "items",
    "not",
    "propertyNames",
    "then",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_IN_ARRAY = ("allOf", "anyOf", "oneOf", "prefixItems")
_IN_MAP = ("$defs", "definitions", "dependentSchemas", "patternProperties", "properties")


def _refuse_retrieval(uri: str) -> referencing.Resource[Any]:
    """The registry's retrieve: nothing outside the schema is ever fetched."""
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]


#: References resolve inside the schema only.
_REGISTRY: referencing.Registry[Any] = referencing.Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


class _TooMuchWork(Exception):
    """A validation ran out of ``MAX_VALIDATION_WORK``."""


#: The validation running in this context (None: none): work units left, and
#: units left until it next yields the GIL.
_WORK: ContextVar[list[int] | None] = ContextVar("runwire_schema_work", default=None)
#: Work units between two GIL yields of a validation (about a millisecond).
_YIELD_EVERY = 256


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 3] + "..."


# --- values with bounded repr ---------------------------------------------------
# jsonschema's messages embed ``repr(instance)`` (and ``repr`` of ``const`` and
# ``enum`` values). Validation runs on copies whose repr is at most a few dozen
# characters, so a thousand errors about a megabyte of JSON cost what they report.

_PREVIEW_CHARS = 60


class _Text(str):
    __slots__ = ()

    def __repr__(self) -> str:
        if len(self) <= _PREVIEW_CHARS:
            return str.__repr__(self)
        return str.__repr__(self[:_PREVIEW_CHARS]) + "..."


def _preview(members: Iterable[str], opening: str, closing: str) -> str:
    text = opening
    for i, member in enumerate(members):
        if len(text) > _PREVIEW_CHARS:
            return text + ", ..." + closing
        text += (", " if i else "") + member
    return text + closing


class _Array(list[Any]):
    __slots__ = ()

    def __repr__(self) -> str:
        return _preview((repr(item) for item in self), "[", "]")


class _Object(dict[str, Any]):
    __slots__ = ()

    def __repr__(self) -> str:
        return _preview((f"{key!r}: {value!r}" for key, value in self.items()), "{", "}")


def _with_bounded_repr(value: Any) -> Any:
    """A copy of the JSON value ``value`` built of ``_Text``, ``_Array`` and
    ``_Object``. Recursive: call it on values whose depth is already capped."""
    if isinstance(value, str):
        return _Text(value)
    if isinstance(value, list):
        return _Array(_with_bounded_repr(item) for item in value)
    if isinstance(value, dict):
        return _Object((_Text(k), _with_bounded_repr(v)) for k, v in value.items())
    return value


# --- regular expressions -------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_HEX = frozenset("0123456789abcdefABCDEF")


def _ecma_to_re2(pattern: str) -> str:
    """``pattern`` with ECMA-262's ``\\uHHHH`` escapes spelled as RE2's ``\\x{HHHH}``
    (one linear pass; every other escape is kept as it is)."""
    if "\\u" not in pattern:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        escaped = pattern[i + 1 : i + 2]
        digits = pattern[i + 2 : i + 6]
        if escaped == "u" and len(digits) == 4 and set(digits) <= _HEX:
            out.append("\\x{" + digits + "}")
            i += 6
        else:
            out.append(char + escaped)
            i += 2
    return "".join(out)


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2 (linear-time matching).

    Raises:
        re2.error: RE2 cannot compile it (backreferences, lookaround, ...).
    """
    return re2.compile(_ecma_to_re2(pattern), options=_RE2_OPTIONS)


def _regex_problem(pattern: object) -> str | None:
    if not isinstance(pattern, str):
        return None  # the metaschema reports the type
    try:
        _regex(pattern)
    except re2.error:
        return (
            f"regular expression {_short(pattern)} is not supported: patterns run on RE2 "
            "(linear time), which has no backreferences or lookaround"
        )
    return None


# --- keywords of the safe validator ------------------------------------------------

_Keyword = Callable[[Any, Any, Any, Any], Any]


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{_short(instance)} does not match {_short(pattern)}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        regex = _regex(pattern)
        for key, value in instance.items():
            if regex.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    declared = schema.get("properties", {})
    regexes = [_regex(p) for p in schema.get("patternProperties", {})]
    extras = [
        key for key in instance if key not in declared and not any(r.search(key) for r in regexes)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        names = ", ".join(_short(e, 40) for e in sorted(extras)[:5])
        more = f" and {len(extras) - 5} more" if len(extras) > 5 else ""
        yield jsonschema.ValidationError(
            f"additional properties are not allowed ({names}{more} unexpected)"
        )


def _acyclic(keyword: _Keyword) -> _Keyword:
    """``anyOf``/``oneOf`` whose errors point to the errors of their branches
    (``context``) while those point back (``parent``) only weakly. jsonschema's own
    two-way links make every such error tree cyclic garbage, freed only by the
    cyclic collector, whose full collections hold the GIL (and so the event loop)
    for a long time; acyclic, the trees are freed as soon as they are dropped.
    ``validation_problem`` keeps the top-level errors alive while it reads paths."""

    def linked_weakly(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        for error in keyword(validator, value, instance, schema) or ():
            for branch_error in error.context:
                branch_error.parent = weakref.proxy(error)
            yield error

    return linked_weakly


def _canonical(value: Any) -> Any:
    """A hashable stand-in equal for values JSON Schema calls equal (1 == 1.0, True != 1)."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(v) for v in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, _canonical(v)) for k, v in value.items()))
    return ("other", repr(value))


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if unique and validator.is_type(instance, "array"):
        seen: set[Any] = set()
        for item in instance:
            key = _canonical(item)
            if key in seen:
                yield jsonschema.ValidationError(
                    f"{_short(instance)} has non-unique elements ({_short(item)} repeats)"
                )
                return
            seen.add(key)


def _count(value: Any) -> int:
    return len(value) if isinstance(value, dict | list) else 0


def _cost_of(name: str) -> Callable[[Any, Any, Any], int]:
    """How many work units one evaluation of keyword ``name`` costs beyond the
    first, from its value, the instance and the schema: about one per subschema
    descended into, per regular expression search, per 16 members compared, per
    64 characters scanned; references cost more (a lookup, a scope search)."""
    costs: dict[str, Callable[[Any, Any, Any], int]] = {
        "allOf": lambda value, instance, schema: 2 * _count(value),
        "prefixItems": lambda value, instance, schema: _count(value),
        "const": lambda value, instance, schema: (_count(value) + _count(instance)) >> 4,
        "patternProperties": lambda value, instance, schema: _count(value) * _count(instance),
        "additionalProperties": lambda value, instance, schema: (
            _count(instance) * (1 + _count(schema.get("patternProperties")))
        ),
        "pattern": lambda value, instance, schema: (
            len(instance) >> 6 if isinstance(instance, str) else 0
        ),
        "$ref": lambda value, instance, schema: 3,
        "$dynamicRef": lambda value, instance, schema: 7,
    }
    for same in ("anyOf", "oneOf"):
        costs[same] = costs["allOf"]
    for per_item in ("items", "contains", "unevaluatedItems", "propertyNames", "uniqueItems"):
        costs[per_item] = lambda value, instance, schema: _count(instance)
    for scan in ("properties", "required", "enum", "dependentRequired", "dependentSchemas"):
        costs[scan] = lambda value, instance, schema: _count(value) >> 4
    costs["unevaluatedProperties"] = costs["additionalProperties"]
    return costs.get(name, lambda value, instance, schema: 0)


def _charge(units: int) -> None:
    """Spends ``units`` of the running validation's budget; every
    ``_YIELD_EVERY`` units, lets other threads (the event loop's) take the GIL.

    Raises:
        _TooMuchWork: the budget is spent.
    """
    work = _WORK.get()
    if work is None:
        return
    work[0] -= units
    if work[0] < 0:
        raise _TooMuchWork
    work[1] -= units
    if work[1] <= 0:
        work[1] = _YIELD_EVERY
        time.sleep(0)  # the GIL goes to a waiting thread now, not after the switch interval


def _charging_errors(errors: Iterable[Any]) -> Iterator[Any]:
    for error in errors:
        _charge(2)  # an error object, and best_match weighing it
        yield error


def _budgeted(name: str, keyword: _Keyword) -> _Keyword:
    """``keyword`` charging the work budget: one unit, plus ``_cost_of(name)``,
    plus two per error it reports."""
    cost = _cost_of(name)

    def counted(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        _charge(1 + cost(value, instance, schema))
        errors = keyword(validator, value, instance, schema)
        return None if errors is None else _charging_errors(errors)

    return counted


_KEYWORDS: dict[str, _Keyword] = {
    **jsonschema.Draft202012Validator.VALIDATORS,
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "uniqueItems": _unique_items,
    "anyOf": _acyclic(jsonschema.Draft202012Validator.VALIDATORS["anyOf"]),
    "oneOf": _acyclic(jsonschema.Draft202012Validator.VALIDATORS["oneOf"]),
}

#: Draft 2020-12 with the keywords above, each counted against the work budget:
#: validates values against callers' schemas.
_SafeValidator: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator,
    validators={name: _budgeted(name, keyword) for name, keyword in _KEYWORDS.items()},
)
#: The same keywords, uncounted: validates schemas against the metaschema, whose
#: work is linear in the schema (capped by MAX_SCHEMA_BYTES and MAX_SCHEMA_DEPTH).
_MetaValidator: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, validators=_KEYWORDS
)


# --- the metaschema -------------------------------------------------------------


def _local(node: Any) -> Any:
    """A vocabulary metaschema's subtree with its references made local to the
    flattened metaschema: ``$dynamicRef: "#meta"`` -> ``$ref: "#"``, and
    ``meta/<vocabulary>#/$defs/<name>`` -> ``#/$defs/<name>``."""
    if isinstance(node, list):
        return [_local(item) for item in node]
    if not isinstance(node, dict):
        return node
    local: dict[str, Any] = {}
    for key, value in node.items():
        if not isinstance(value, str):
            local[key] = _local(value)
        elif key == "$dynamicRef":
            if value != "#meta":
                raise ValueError(f"unexpected $dynamicRef {value!r} in the metaschema")
            local["$ref"] = "#"
        elif key == "$ref":
            where = value.find("#/$defs/")
            if where < 0:
                raise ValueError(f"unexpected $ref {value!r} in the metaschema")
            local["$ref"] = value[where:]
        else:
            local[key] = _local(value)
    return local


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    """``node`` with each ``$ref: "#/$defs/<name>"`` replaced by that definition's
    keywords (none of them recursive), so validating looks nothing up but ``#``."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if not isinstance(ref, str) or ref == "#":  # a property named "$ref", or the root
        return {key: _inline(value, defs) for key, value in node.items()}
    inlined = {key: _inline(value, defs) for key, value in node.items() if key != "$ref"}
    definition = _inline(defs[ref.removeprefix("#/$defs/")], defs)
    if set(definition) & set(inlined):
        raise ValueError(f"cannot inline {ref!r} next to the same keywords")
    return {**inlined, **definition}


def _flattened_metaschema() -> dict[str, Any]:
    """The Draft 2020-12 metaschema as one document whose only reference is ``#``.

    Equivalent for validating schemas: nothing here extends the metaschema, so every
    ``$dynamicRef: "#meta"`` lands on the root, and the vocabularies' definitions are
    inlined where they are used. Several times faster than the stock metaschema,
    whose dynamic scope costs a lookup per subschema.

    Raises:
        ValueError: the metaschema of this ``jsonschema-specifications`` has a shape
            this flattening does not know (checked at import, never silently wrong).
    """
    top = SPECIFICATIONS.contents(DIALECT)
    properties: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    known = {"$schema", "$id", "$vocabulary", "$dynamicAnchor", "title", "type", "properties"}
    for entry in top["allOf"]:
        vocabulary = SPECIFICATIONS.contents(
            "https://json-schema.org/draft/2020-12/" + entry["$ref"]
        )
        if set(vocabulary) - known - {"$defs"} or vocabulary["type"] != ["object", "boolean"]:
            raise ValueError(f"unexpected keywords in the metaschema {entry['$ref']!r}")
        for key, value in vocabulary.get("properties", {}).items():
            if key in properties:
                raise ValueError(f"keyword {key!r} in two vocabularies")
            properties[key] = _local(value)
        for key, value in vocabulary.get("$defs", {}).items():
            if key in defs:
                raise ValueError(f"$defs {key!r} in two vocabularies")
            defs[key] = _local(value)
    if set(top) - known - {"allOf", "$comment"}:
        raise ValueError("unexpected keywords in the Draft 2020-12 metaschema")
    for key, value in top.get("properties", {}).items():
        properties[key] = _local(value)
    flattened: dict[str, Any] = _inline(
        {"type": ["object", "boolean"], "properties": properties}, defs
    )
    return flattened


_METASCHEMA = _MetaValidator(_flattened_metaschema(), registry=_REGISTRY)


# --- checks -----------------------------------------------------------------------


def _json_shape(value: Any, *, max_depth: int, max_nodes: int) -> str | None:
    """Why ``value`` nests deeper than ``max_depth`` or holds more than
    ``max_nodes`` JSON values; None when it does not. Stops at the first excess."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            return f"holds more than {max_nodes} JSON values"
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return f"nests deeper than {max_depth} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


def _pointer(path: Iterator[Any] | Any) -> str:
    text = "/".join(str(part) for part in path)
    return f"/{text}" if text else "the root"


def _subschemas(node: Mapping[str, Any], where: str) -> Iterator[tuple[Any, str]]:
    for key in _IN_VALUE:
        if key in node:
            yield node[key], f"{where}/{key}"
    for key in _IN_ARRAY:
        items = node.get(key)
        if isinstance(items, list):
            for i, item in enumerate(items):
                yield item, f"{where}/{key}/{i}"
    for key in _IN_MAP:
        members = node.get(key)
        if isinstance(members, dict):
            for name, member in members.items():
                yield member, f"{where}/{key}/{name}"


class _Unsafe(Exception):
    """A schema is not safe to validate with; the message says why."""


def _check_node(node: Mapping[str, Any], *, at: str, is_root: bool) -> None:
    """Checks one schema object's own keywords: ``$schema`` and regular expressions.

    Raises:
        _Unsafe: ``$schema`` names another dialect (jsonschema would switch to
            that dialect's validator class, with Python's backtracking ``re``) or
            appears below the root; a regular expression RE2 cannot compile.
    """
    if "$schema" in node and (not is_root or node["$schema"] != DIALECT):
        raise _Unsafe(f"{at}: $schema must be {DIALECT!r}, and only at the root")
    patterns = node.get("patternProperties")
    candidates = [node.get("pattern"), *(patterns if isinstance(patterns, dict) else ())]
    for pattern in candidates:
        problem = _regex_problem(pattern)
        if problem:
            raise _Unsafe(f"{at}: {problem}")


def _targets(
    node: Mapping[str, Any], resolver: Resolver[Any], *, at: str
) -> Iterator[tuple[Any, Resolver[Any], str]]:
    """What ``node``'s ``$ref`` and ``$dynamicRef`` point to.

    Raises:
        _Unsafe: a reference leaves the schema or does not resolve inside it.
    """
    for keyword in ("$ref", "$dynamicRef"):
        if keyword not in node:
            continue
        ref = node[keyword]
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise _Unsafe(
                f"{at}: {keyword} {_short(ref)} leaves the schema; only references "
                "inside it (#/$defs/...) are allowed, nothing is fetched"
            )
        try:
            resolved = resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            raise _Unsafe(
                f"{at}: {keyword} {_short(ref)} does not resolve inside the schema"
            ) from None
        yield resolved.contents, resolved.resolver, ref.removeprefix("#")


def _safety_problem(schema: Mapping[str, Any]) -> str | None:
    """What makes ``schema`` unsafe to validate with (``_check_node``,
    ``_targets``), or ``unevaluatedProperties`` with ``patternProperties``
    (jsonschema evaluates that pair with Python's backtracking ``re``). Walks
    every subschema and every reference target once."""
    root = _SPEC.create_resource(schema)
    stack: list[tuple[Any, Resolver[Any], str]] = [(schema, _REGISTRY.resolver_with_root(root), "")]
    seen: set[int] = set()
    keywords: set[str] = set()
    try:
        while stack:
            node, resolver, where = stack.pop()
            at = f"at {where or 'the root'}"
            if isinstance(node, bool) or id(node) in seen:
                continue
            if not isinstance(node, dict):
                raise _Unsafe(f"{at}: a schema must be an object or a boolean")
            seen.add(id(node))
            _check_node(node, at=at, is_root=node is schema)
            stack.extend(_targets(node, resolver, at=at))
            keywords.update(node)
            for subschema, path in _subschemas(node, where):
                if isinstance(subschema, dict):
                    sub_resolver = resolver.in_subresource(_SPEC.create_resource(subschema))
                else:
                    sub_resolver = resolver
                stack.append((subschema, sub_resolver, path))
    except _Unsafe as unsafe:
        return str(unsafe)
    if {"unevaluatedProperties", "patternProperties"} <= keywords:
        return "unevaluatedProperties cannot be combined with patternProperties"
    return None


def _checked_safety(schema: Mapping[str, Any]) -> str | None:
    """``_safety_problem``, with a malformed schema (one the metaschema was not
    asked about: an agent stored before these checks) reported as such."""
    try:
        return _safety_problem(schema)
    except (TypeError, ValueError, AttributeError, referencing.exceptions.Unresolvable):
        return "it is not a valid JSON Schema"


def _size_problem(schema: Any) -> str | None:
    size = len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_SCHEMA_BYTES:
        return f"the schema is {size} bytes of JSON, over the limit of {MAX_SCHEMA_BYTES}"
    # Compact JSON spends at least one byte per value: the node cap never binds.
    shape = _json_shape(schema, max_depth=MAX_SCHEMA_DEPTH, max_nodes=MAX_SCHEMA_BYTES)
    return f"the schema {shape}" if shape else None


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not accepted as a JSON Schema; None when it is.

    Args:
        schema: A JSON value (a dict from a ``google.protobuf.Struct``).

    Returns:
        One message of at most ``MAX_MESSAGE_CHARS`` characters, safe to show to
        the caller: over a size or depth cap, invalid against the Draft 2020-12
        metaschema (with the path), a non-local or unresolvable reference, another
        ``$schema`` dialect, or a regular expression RE2 cannot compile.
    """
    if not isinstance(schema, dict):
        return "a schema must be a JSON object"
    problem = _size_problem(schema)
    if problem:
        return problem
    errors = list(_METASCHEMA.iter_errors(schema))  # alive while paths are read: _acyclic
    error = jsonschema.exceptions.best_match(errors)
    if error is not None:
        return _bounded(
            f"not a valid JSON Schema (draft 2020-12): at {_pointer(error.absolute_path)}: "
            f"{error.message}"
        )
    problem = _checked_safety(schema)
    return _bounded(problem) if problem else None


def check_schema(schema: Any, *, field: str) -> None:
    """Refuses ``schema`` unless ``schema_problem`` finds nothing.

    Raises:
        InvalidArgumentError: with one field violation on ``field``.
    """
    problem = schema_problem(schema)
    if problem:
        raise InvalidArgumentError(f"invalid {field}: {problem}", field_violations={field: problem})


def validation_problem(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why the JSON value ``value`` does not match ``schema``; None when it does.

    Safe for any schema, even one never checked by ``schema_problem`` (an agent
    stored before these checks): an unsafe schema is reported, not run.

    Returns:
        One message of at most ``MAX_MESSAGE_CHARS`` characters: ``at <JSON
        pointer>: <what is wrong>``, or why the value or schema cannot be checked
        (over a cap, an unsafe schema, more than ``MAX_VALIDATION_WORK`` units
        of work).
    """
    shape = _json_shape(value, max_depth=MAX_VALUE_DEPTH, max_nodes=MAX_VALUE_NODES)
    if shape:
        return f"the value {shape}"
    if not isinstance(schema, dict):
        return "response_format is not a JSON object"
    problem = _size_problem(schema) or _checked_safety(schema)
    if problem:
        return _bounded(f"the schema cannot be checked safely: {problem}")
    root = _with_bounded_repr({k: v for k, v in schema.items() if k != "$schema"})
    token = _WORK.set([MAX_VALIDATION_WORK, _YIELD_EVERY])
    try:
        validator = _SafeValidator(root, registry=_REGISTRY)
        errors = list(validator.iter_errors(_with_bounded_repr(value)))  # alive: see _acyclic
        error = jsonschema.exceptions.best_match(errors)
    except _TooMuchWork:
        return (
            "the value is too large or the schema too complex to check (over "
            f"{MAX_VALIDATION_WORK} units of work)"
        )
    except (
        jsonschema.exceptions.SchemaError,
        referencing.exceptions.Unresolvable,
        TypeError,
        ValueError,
        AttributeError,
        RecursionError,
    ):
        return "the schema cannot be checked: it is not a valid JSON Schema"
    finally:
        _WORK.reset(token)
    if error is None:
        return None
    return _bounded(f"at {_pointer(error.absolute_path)}: {error.message}")


def answer_problem(text: str, schema: Mapping[str, Any]) -> str | None:
    """Why ``text`` is not a JSON value matching ``schema``; None when it is.

    Returns:
        ``not JSON: ...``, or ``validation_problem``'s message.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        return f"the value nests deeper than {MAX_VALUE_DEPTH} levels"
    except ValueError as exc:
        return _bounded(f"not JSON: {exc}")
    return validation_problem(value, schema)


async def answer_problem_off_loop(text: str, schema: Mapping[str, Any]) -> str | None:
    """``answer_problem`` in a worker thread, so the event loop keeps serving.

    On an event loop without an executor (a Temporal workflow's: it refuses
    ``run_in_executor`` with ``NotImplementedError`` before anything runs) the check
    runs inline; it is deterministic and bounded by ``MAX_VALIDATION_WORK``.
    """
    try:
        return await asyncio.to_thread(answer_problem, text, schema)
    except NotImplementedError:
        return answer_problem(text, schema)
