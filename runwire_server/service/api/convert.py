"""Conversions between protobuf messages and domain types at the API edge."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from google.protobuf import struct_pb2
from runwire.v1 import approval_pb2, run_pb2, thread_pb2

from runwire_server.service.core import schemas
from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.core.messages import ChatMessage, Role, ToolSpec
from runwire_server.service.core.spec import ApprovalDecision
from runwire_server.service.core.structs import struct_dict
from runwire_server.service.stores.threads import StoredMessage, ThreadRecord

_ROLES = {
    Role.USER: thread_pb2.MESSAGE_ROLE_USER,
    Role.ASSISTANT: thread_pb2.MESSAGE_ROLE_ASSISTANT,
    Role.TOOL: thread_pb2.MESSAGE_ROLE_TOOL,
}


def struct_to_dict(message: struct_pb2.Struct, *, field: str = "") -> dict[str, Any]:
    """A ``google.protobuf.Struct`` as a plain dict of JSON values.

    Raises:
        InvalidArgumentError: the Struct holds NaN or an infinity, which JSON
            cannot carry (field violation on ``field``).
    """
    try:
        result: dict[str, Any] = struct_dict(message)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"{field or 'a Struct field'} holds a number JSON cannot carry: {exc}",
            field_violations={field or "struct": "NaN and infinities are not allowed"},
        ) from exc
    return result


def approval_choice(decision: int) -> ApprovalDecision:
    """``runwire.v1.ApprovalDecision`` as the domain's choice: ``APPROVE``, or
    ``REJECT`` for anything else (protovalidate refuses ``UNSPECIFIED``)."""
    if decision == approval_pb2.APPROVAL_DECISION_APPROVE:
        return ApprovalDecision.APPROVE
    return ApprovalDecision.REJECT


#: A schema Struct over this many encoded bytes is refused before it is converted
#: (protobuf spends up to a few times the bytes of compact JSON on small values).
MAX_SCHEMA_STRUCT_BYTES = 2 * schemas.MAX_SCHEMA_BYTES


def checked_schema(message: struct_pb2.Struct, *, field: str) -> dict[str, Any]:
    """The JSON Schema in ``message`` as a dict, once ``runwire_server.service.core.schemas``
    accepts it (size and depth caps, the Draft 2020-12 metaschema, local references
    only, RE2 regular expressions). Work grows with the schema: on an event loop,
    call it in a thread.

    Raises:
        InvalidArgumentError: with one field violation on ``field``.
    """
    size = message.ByteSize()
    if size > MAX_SCHEMA_STRUCT_BYTES:
        problem = f"the schema is {size} bytes encoded, over the limit of {MAX_SCHEMA_STRUCT_BYTES}"
        raise InvalidArgumentError(f"invalid {field}: {problem}", field_violations={field: problem})
    schema = struct_to_dict(message, field=field)
    schemas.check_schema(schema, field=field)
    return schema


def client_tool_spec(tool: run_pb2.ClientTool, *, field: str) -> ToolSpec:
    """A ``ClientTool`` as offered to the model (default schema: an empty object).

    Its ``parameters`` go through ``checked_schema``, whose work grows with the
    schema: on an event loop, prefer ``client_tool_specs``.

    Raises:
        InvalidArgumentError: the parameters are not an accepted JSON Schema
            (field violation on ``<field>.parameters``).
    """
    parameters = (
        checked_schema(tool.parameters, field=f"{field}.parameters")
        if tool.HasField("parameters")
        else {}
    )
    return ToolSpec(
        name=tool.name,
        description=tool.description,
        parameters=parameters or {"type": "object", "properties": {}},
    )


async def client_tool_specs(tools: Sequence[run_pb2.ClientTool]) -> tuple[ToolSpec, ...]:
    """``client_tool_spec`` of each tool (fields ``client_tools[i]``), in a worker
    thread so the event loop keeps serving while the schemas are checked (none:
    no thread).

    Raises:
        InvalidArgumentError: a tool's parameters are not an accepted JSON Schema.
    """
    if not tools:
        return ()

    def convert() -> tuple[ToolSpec, ...]:
        return tuple(client_tool_spec(t, field=f"client_tools[{i}]") for i, t in enumerate(tools))

    return await asyncio.to_thread(convert)


def run_overrides(overrides: run_pb2.RunOverrides) -> run_pb2.RunOverrides | None:
    """A copy of the ``overrides`` of a CreateRun/StreamRun/WaitRun request
    (protovalidate checked its ranges), or None when it is unset or empty.

    The router checks the rest against the agent (sampling options its models
    take, limits that only tighten; INVALID_ARGUMENT with field violations
    ``overrides.<field>``, ``overrides.limits.<field>``).
    """
    if overrides.ByteSize() == 0:
        return None
    copy = run_pb2.RunOverrides()
    copy.CopyFrom(overrides)
    return copy


def thread_pb(record: ThreadRecord) -> thread_pb2.Thread:
    """A stored thread as ``runwire.v1.Thread``."""
    thread = thread_pb2.Thread(
        thread_id=record.thread_id,
        metadata=record.metadata,
        message_count=len(record.messages),
    )
    thread.create_time.FromDatetime(record.create_time)
    thread.update_time.FromDatetime(record.update_time)
    return thread


def message_pb(stored: StoredMessage) -> thread_pb2.Message:
    """A stored thread message as ``runwire.v1.Message``."""
    m: ChatMessage = stored.message
    out = thread_pb2.Message(
        message_id=m.message_id,
        role=_ROLES.get(m.role, thread_pb2.MESSAGE_ROLE_UNSPECIFIED),
        content=m.content,
        tool_calls=[
            thread_pb2.ToolCall(tool_call_id=c.id, name=c.name, arguments=c.arguments)
            for c in m.tool_calls
        ],
        tool_call_id=m.tool_call_id,
        run_id=m.run_id,
    )
    out.create_time.FromDatetime(stored.create_time)
    return out
