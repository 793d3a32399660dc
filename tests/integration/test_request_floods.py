"""Repeated-field floods and large Structs outside an agent: refused before they cost.

Issue 13's fuzzer found two requests that held the event loop (its known issues
``REPEATED_FLOOD`` and ``WIDE_STRUCT``), replayed here against a real in-process
server on loopback while a health probe (``tests.health_probe``) runs on the
server's event loop: for every check, the CPU time the loop's thread used stays
under ``LOOP_CPU_BOUND`` and the latency under ``LATENCY_BOUND`` (an attack over a
bound is made again, ``ATTEMPTS`` in all: a stall the server causes recurs, one of a
machine busy with other work seldom does), and each request ends in a clean refusal
naming the field.

* A repeated field or map over its ``max_items`` / ``max_pairs``: INVALID_ARGUMENT
  with one field violation, found from the count (before parsing, for the run,
  approval and thread requests; before protovalidate for the others), and nothing
  of the refused request left in a reference cycle for the garbage collector.
* A ``google.protobuf.Struct`` in a run or approval request over
  ``max_struct_bytes``: RESOURCE_EXHAUSTED with a ``QuotaFailure`` naming the
  field, before the request is parsed; every Struct of those requests is found
  from the descriptors (``test_every_struct_of_run_and_approval_requests_is_limited``).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory, struct_pb2
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
)

from runwire_server.app.server import RunwireServer
from runwire_server.service.api.decoding import MAX_SCANNED_FIELDS
from runwire_server.service.auth.quotas import Quotas
from tests.conftest import server_settings
from tests.health_probe import worst_health_during
from tests.support import (
    Stubs,
    create_agent,
    running_server,
    status_details,
    struct,
    unique,
)

#: Items of a flood: a 200 KB request (protovalidate checked each item).
FLOOD = 100_000
#: Items of a flood near the message limit: 8 MB (each item an object, once parsed).
BIG_FLOOD = 4_000_000
#: Keys of a wide Struct: 1 MB.
WIDE = 50_000
#: Keys of a Struct near the message limit: 8.5 MB (each key objects, once parsed).
BIG_WIDE = 400_000
#: ``max_struct_bytes`` of the server.
MAX_STRUCT_BYTES = 64 * 1024

ITEMS = "must contain no more than 64 item(s)"
PAIRS = "map must be at most 64 entries"


@pytest.fixture(scope="module")
async def flood_server() -> AsyncIterator[RunwireServer]:
    """A server of its own: the probe sees only this module's load."""
    settings = server_settings(
        "in_process", redis_url="", temporal_address="", max_struct_bytes=MAX_STRUCT_BYTES
    )
    async with running_server(settings) as server:
        yield server


@pytest.fixture(scope="module")
async def flood_stubs(flood_server: RunwireServer) -> AsyncIterator[Stubs]:
    stubs = Stubs.connect(flood_server.addresses[0])
    yield stubs
    await stubs.close()


@pytest.fixture(scope="module")
async def agent_id(flood_stubs: Stubs) -> str:
    agent = await create_agent(flood_stubs, [{"text": "done"}])
    return str(agent.agent_id)


def _identity(data: bytes) -> bytes:
    return data


async def send(stubs: Stubs, method: str, data: bytes) -> grpc.aio.AioRpcError | None:
    """Sends ``data`` as the request of ``method`` (``Service/Method``) as it is; the
    error it ended with, None when it succeeded (a stream is read to its end)."""
    path = f"/runwire.v1.{method}"
    try:
        if method in ("RunService/StreamRun", "RunService/StreamRunEvents"):
            call = stubs.channel.unary_stream(
                path, request_serializer=_identity, response_deserializer=_identity
            )
            async for _ in call(data, timeout=60):
                pass
        else:
            await stubs.channel.unary_unary(
                path, request_serializer=_identity, response_deserializer=_identity
            )(data, timeout=60)
    except grpc.aio.AioRpcError as error:
        return error
    return None


async def sent_while_probing(
    server: RunwireServer, stubs: Stubs, method: str, data: bytes
) -> grpc.aio.AioRpcError | None:
    """``send`` of ``data`` to ``method`` as the attack of ``worst_health_during`` on
    ``server`` (every health check within its bounds); the error the first attempt
    ended with, None when it succeeded.

    Raises:
        AssertionError: every attempt was over a bound of the health probe.
    """
    errors: list[grpc.aio.AioRpcError | None] = []

    async def attack() -> None:
        errors.append(await send(stubs, method, data))

    await worst_health_during(server.addresses[0], attack)
    return errors[0]


def wide_struct(keys: int, prefix: str = "k") -> struct_pb2.Struct:
    """A Struct of ``keys`` short string fields (about 20 bytes each, encoded)."""
    return struct({f"{prefix}{i}": f"v{i}" for i in range(keys)})


def flooded(method: str, items: int, agent: str) -> tuple[bytes, str, str]:
    """A request of ``method`` with ``items`` empty items in its repeated field or map:
    (its bytes, the field path, the violation)."""
    empty = b"\x00"  # each item: its tag, then length 0
    if method in ("RunService/CreateRun", "RunService/StreamRun", "RunService/WaitRun"):
        # client_tools = 4
        head = run_service_pb2.CreateRunRequest(agent_id=agent, prompt="hi").SerializeToString()
        return head + (b"\x22" + empty) * items, "client_tools", ITEMS
    if method == "RunService/SubmitToolOutputs":
        head = run_service_pb2.SubmitToolOutputsRequest(run_id="run_x").SerializeToString()
        return head + (b"\x12" + empty) * items, "tool_outputs", ITEMS  # tool_outputs = 2
    if method == "ThreadService/CreateThread":
        return (b"\x12" + empty) * items, "metadata", PAIRS  # metadata = 2
    assert method == "AgentService/CreateAgent", method
    request = agent_pb2.CreateAgentRequest(agent_id=unique("flood"))
    request.agent.approval_policy.approvers.extend([""] * items)
    return request.SerializeToString(), "agent.approval_policy.approvers", ITEMS


FLOODED = [
    "RunService/CreateRun",
    "RunService/StreamRun",
    "RunService/WaitRun",
    "RunService/SubmitToolOutputs",
    "ThreadService/CreateThread",
    "AgentService/CreateAgent",  # nested, counted before protovalidate
]


def assert_invalid(error: grpc.aio.AioRpcError | None, violations: dict[str, str]) -> None:
    assert error is not None, "the request was accepted"
    details = status_details(error)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert details.domain == "runwire.dev"
    assert details.field_violations == violations


def assert_over_struct_limit(error: grpc.aio.AioRpcError | None, path: str, size: int) -> None:
    assert error is not None, "the request was accepted"
    details = status_details(error)
    assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
    assert (details.reason, details.metadata["limit"]) == ("QUOTA_EXCEEDED", "max_struct_bytes")
    assert details.metadata["value"] == str(size)
    assert list(details.quota_violations) == [f"field {path}"]
    assert f"over max_struct_bytes = {MAX_STRUCT_BYTES}" in details.message


# --- repeated fields over max_items --------------------------------------------------


@pytest.mark.parametrize("method", FLOODED)
async def test_repeated_floods_are_refused_from_their_count(
    flood_server: RunwireServer, flood_stubs: Stubs, agent_id: str, method: str
) -> None:
    data, path, violation = flooded(method, FLOOD, agent_id)
    error = await sent_while_probing(flood_server, flood_stubs, method, data)
    assert_invalid(error, {path: violation})


@pytest.mark.parametrize(
    "method", ["RunService/CreateRun", "RunService/SubmitToolOutputs", "ThreadService/CreateThread"]
)
async def test_floods_near_the_message_limit_are_refused_unparsed(
    flood_server: RunwireServer, flood_stubs: Stubs, agent_id: str, method: str
) -> None:
    data, path, violation = flooded(method, BIG_FLOOD, agent_id)
    assert len(data) >= 8_000_000
    error = await sent_while_probing(flood_server, flood_stubs, method, data)
    assert_invalid(error, {path: violation})


async def test_items_within_the_limit_are_validated_each(flood_stubs: Stubs, agent_id: str) -> None:
    data, _, _ = flooded("RunService/CreateRun", 64, agent_id)
    error = await send(flood_stubs, "RunService/CreateRun", data)
    assert error is not None
    violations = status_details(error).field_violations
    assert len(violations) == 10  # the first of 64, as many as a status carries
    assert violations["client_tools[0].name"].startswith("does not match regex pattern")


async def test_a_request_of_too_many_fields_is_refused(flood_stubs: Stubs, agent_id: str) -> None:
    head = run_service_pb2.CreateRunRequest(agent_id=agent_id, prompt="hi").SerializeToString()
    unknown = b"\xf8\x06\x01"  # field 111, varint 1: kept by the parser as an unknown field
    error = await send(flood_stubs, "RunService/CreateRun", head + unknown * MAX_SCANNED_FIELDS)
    assert error is not None
    details = status_details(error)
    assert (details.code, details.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
    )
    assert f"more than {MAX_SCANNED_FIELDS} fields" in details.message
    # A few unknown fields (a newer client's) are fine.
    assert await send(flood_stubs, "RunService/CreateRun", head + unknown * 3) is None


async def test_refused_requests_leave_no_reference_cycles(
    flood_stubs: Stubs, agent_id: str
) -> None:
    """Every refusal path (before parsing, by validation, by the handler) used to leave
    the call's frames, request included, in a cycle with grpc's call state."""
    requests = [
        ("RunService/CreateRun", flooded("RunService/CreateRun", FLOOD, agent_id)[0]),
        ("AgentService/CreateAgent", flooded("AgentService/CreateAgent", FLOOD, agent_id)[0]),
        ("RunService/GetRun", run_service_pb2.GetRunRequest(run_id="run_none").SerializeToString()),
    ]
    calls = 10
    gc.collect()
    for _ in range(calls):
        for method, data in requests:
            assert await send(flood_stubs, method, data) is not None
    await send(flood_stubs, "RunService/GetRun", b"")  # grpc holds the last call until the next
    found = gc.collect()
    # Each refused call left about 60 objects in cycles (and a flood 100,000 more).
    assert found < calls * len(requests) * 10, f"{found} objects were in reference cycles"


# --- Structs over max_struct_bytes ----------------------------------------------------


def struct_requests(agent: str, parameters: struct_pb2.Struct) -> list[tuple[str, bytes, str]]:
    """The run and approval requests carrying ``parameters``: (method, bytes, path)."""
    tools = [run_pb2.ClientTool(name=f"t{i}") for i in range(3)]
    tools[2].parameters.CopyFrom(parameters)
    found = []
    for method, kind in (
        ("RunService/CreateRun", run_service_pb2.CreateRunRequest),
        ("RunService/StreamRun", run_service_pb2.StreamRunRequest),
        ("RunService/WaitRun", run_service_pb2.WaitRunRequest),
    ):
        request = kind(agent_id=agent, prompt="hi", client_tools=tools)
        found.append((method, request.SerializeToString(), "client_tools[2].parameters"))
    approval = approval_pb2.ResolveApprovalRequest(
        approval_id="apr_none",
        decision=approval_pb2.APPROVAL_DECISION_APPROVE,
        edited_arguments=parameters,
    )
    found.append(
        ("ApprovalService/ResolveApproval", approval.SerializeToString(), "edited_arguments")
    )
    return found


async def test_wide_structs_outside_an_agent_are_refused(
    flood_server: RunwireServer, flood_stubs: Stubs, agent_id: str
) -> None:
    wide = wide_struct(WIDE)
    size = wide.ByteSize()
    assert size > 900_000
    for method, data, path in struct_requests(agent_id, wide):
        error = await sent_while_probing(flood_server, flood_stubs, method, data)
        assert_over_struct_limit(error, path, size)


async def test_structs_near_the_message_limit_are_refused_unparsed(
    flood_server: RunwireServer, flood_stubs: Stubs, agent_id: str
) -> None:
    wide = wide_struct(BIG_WIDE)
    size = wide.ByteSize()
    assert size > 8_000_000
    for method, data, path in struct_requests(agent_id, wide)[::3]:  # CreateRun, Resolve
        error = await sent_while_probing(flood_server, flood_stubs, method, data)
        assert_over_struct_limit(error, path, size)


async def test_structs_within_the_limit_pass(flood_stubs: Stubs, agent_id: str) -> None:
    properties = {f"p{i}": {"type": "string", "maxLength": 10} for i in range(1_100)}
    parameters = struct({"type": "object", "properties": properties})
    assert MAX_STRUCT_BYTES * 0.8 < parameters.ByteSize() <= MAX_STRUCT_BYTES
    run = await flood_stubs.runs.CreateRun(
        run_service_pb2.CreateRunRequest(
            agent_id=agent_id,
            prompt="hi",
            client_tools=[run_pb2.ClientTool(name="lookup", parameters=parameters)],
        )
    )
    assert run.run.run_id
    resolve = approval_pb2.ResolveApprovalRequest(
        approval_id="apr_none",
        decision=approval_pb2.APPROVAL_DECISION_APPROVE,
        edited_arguments=parameters,
    )
    error = await send(flood_stubs, "ApprovalService/ResolveApproval", resolve.SerializeToString())
    assert error is not None
    assert status_details(error).code == grpc.StatusCode.NOT_FOUND  # past the limit's check


async def test_a_struct_sent_in_parts_counts_whole(flood_stubs: Stubs) -> None:
    """Protobuf merges a singular field sent twice: both parts count."""
    half = wide_struct(2_500, prefix="a")
    other = wide_struct(2_500, prefix="b")
    assert half.ByteSize() < MAX_STRUCT_BYTES < half.ByteSize() + other.ByteSize()
    data = b"".join(
        approval_pb2.ResolveApprovalRequest(
            approval_id="apr_none",
            decision=approval_pb2.APPROVAL_DECISION_APPROVE,
            edited_arguments=part,
        ).SerializeToString()
        for part in (half, other)
    )
    merged = approval_pb2.ResolveApprovalRequest.FromString(data)
    assert len(merged.edited_arguments.fields) == 5_000
    error = await send(flood_stubs, "ApprovalService/ResolveApproval", data)
    assert_over_struct_limit(error, "edited_arguments", half.ByteSize() + other.ByteSize())


def struct_paths(descriptor: Descriptor, prefix: str = "", depth: int = 0) -> list[list[str]]:
    """Every path to a ``google.protobuf.Struct`` in messages of type ``descriptor``,
    as field names (a test's own walk over the descriptors)."""
    paths: list[list[str]] = []
    for field in descriptor.fields:
        kind = field.message_type
        if kind is None or kind.GetOptions().map_entry:
            continue
        if kind.full_name == "google.protobuf.Struct":
            paths.append([field.name])
        elif depth < 5 and not kind.full_name.startswith("google.protobuf."):
            paths += [[field.name, *rest] for rest in struct_paths(kind, depth=depth + 1)]
    return paths


def with_struct_at(descriptor: Descriptor, path: list[str], value: struct_pb2.Struct) -> bytes:
    """A request of type ``descriptor`` with ``value`` at ``path`` (one item in each
    repeated field on the way) and nothing else."""
    request: Message = message_factory.GetMessageClass(descriptor)()
    message: Any = request
    for name in path[:-1]:
        field = message.DESCRIPTOR.fields_by_name[name]
        message = getattr(message, name).add() if field.is_repeated else getattr(message, name)
    last = message.DESCRIPTOR.fields_by_name[path[-1]]
    (getattr(message, path[-1]).add() if last.is_repeated else getattr(message, path[-1])).CopyFrom(
        value
    )
    return request.SerializeToString()


def written(path: list[str], descriptor: Descriptor) -> str:
    """``path`` as a field path with the index of each repeated field (``a[0].b``)."""
    parts = []
    message = descriptor
    for name in path:
        field = message.fields_by_name[name]
        parts.append(f"{name}[0]" if field.is_repeated else name)
        if field.message_type is not None:
            message = field.message_type
    return ".".join(parts)


async def test_every_struct_of_run_and_approval_requests_is_limited(
    flood_stubs: Stubs,
) -> None:
    wide = wide_struct(WIDE)
    checked = []
    for module, service in (
        (run_service_pb2, "RunService"),
        (approval_pb2, "ApprovalService"),
    ):
        for method in module.DESCRIPTOR.services_by_name[service].methods:
            for path in struct_paths(method.input_type):
                data = with_struct_at(method.input_type, path, wide)
                error = await send(flood_stubs, f"{service}/{method.name}", data)
                where = written(path, method.input_type)
                assert_over_struct_limit(error, where, wide.ByteSize())
                checked.append(f"{method.name}: {where}")
    assert checked == [
        "CreateRun: client_tools[0].parameters",
        "StreamRun: client_tools[0].parameters",
        "WaitRun: client_tools[0].parameters",
        "ResolveApproval: edited_arguments",
    ]


async def test_agent_structs_are_held_to_the_agent_size_instead(
    flood_stubs: Stubs,
) -> None:
    """An agent's Structs may pass max_struct_bytes, within max_agent_bytes (and, for a
    schema, the schema's own limits)."""
    properties = {f"p{i}": {"type": "string", "maxLength": 10} for i in range(1_400)}
    schema = struct({"type": "object", "properties": properties})
    assert MAX_STRUCT_BYTES < schema.ByteSize() < Quotas().max_agent_bytes
    agent = await create_agent(
        flood_stubs, [{"text": "{}"}], response_format={"type": "object", "properties": properties}
    )
    assert agent.response_format.ByteSize() == schema.ByteSize()


async def test_threads_keep_their_metadata(flood_stubs: Stubs) -> None:
    """The thread request's map is counted before parsing; 64 entries still pass."""
    metadata = {f"k{i}": "v" for i in range(64)}
    response = await flood_stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(metadata=metadata)
    )
    assert dict(response.thread.metadata) == metadata
