"""Hostile JSON Schemas and large Structs: refused cleanly, never fetched, never a stall.

Issue 13's findings, each replayed against a real in-process server on loopback while
a probe on the server's event loop (``tests.health_probe``) sends a health check every
``PROBE_INTERVAL`` seconds. For every check, the CPU time the event loop's thread used stays under
``LOOP_CPU_BOUND`` (no request computes on the loop, however busy the machine), and
its latency, measured from when it was due (so a stall that begins between two
checks counts in full), under ``LATENCY_BOUND`` (the loop never waits blocked). An
attack over a bound is made again (``ATTEMPTS`` in all): a stall the server causes
recurs every time, one of a machine busy with other work seldom does. The hostile
requests end in a clean INVALID_ARGUMENT naming the field (or a quota's
RESOURCE_EXHAUSTED), or succeed harmlessly. ``runwire_server.service.core.schemas`` is checked
directly at the end of the module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import jsonschema
import pytest
from google.protobuf import json_format, struct_pb2
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2

from runwire_server.app.server import RunwireServer
from runwire_server.service.core import schemas
from tests.conftest import server_settings
from tests.health_probe import worst_health_during
from tests.support import (
    Stubs,
    collect,
    create_agent,
    running_server,
    status_details,
    struct,
    unique,
)

#: Seconds between two health checks of the probe.
PROBE_INTERVAL = 0.010

#: Catastrophic backtracking on a backtracking engine: 2^n paths for n "a"s then "!".
BACKTRACKING = "^(a+)+$"
EVIL_ANSWER = json.dumps("a" * 50_000 + "!")


@pytest.fixture(scope="module")
async def hostile_server() -> AsyncIterator[RunwireServer]:
    """An in-process server of its own: the latency probe sees only this module's load."""
    settings = server_settings("in_process", redis_url="", temporal_address="")
    async with running_server(settings) as server:
        yield server


@pytest.fixture(scope="module")
async def hostile_stubs(hostile_server: RunwireServer) -> AsyncIterator[Stubs]:
    stubs = Stubs.connect(hostile_server.addresses[0])
    yield stubs
    await stubs.channel.close()


async def worst_latency_during(
    server: RunwireServer, attack: Callable[[], Awaitable[None]]
) -> float:
    """``tests.health_probe.worst_health_during`` on ``server``, a check every
    ``PROBE_INTERVAL`` seconds."""
    return await worst_health_during(server.addresses[0], attack, PROBE_INTERVAL)


def agent_message(**fields: Any) -> agent_pb2.Agent:
    """An agent on the scripted model that answers "{}"."""
    agent = agent_pb2.Agent(
        instructions="You are a test agent.",
        model=agent_pb2.Model(provider="scripted", options=struct({"script": [{"text": "{}"}]})),
    )
    for name, value in fields.items():
        getattr(agent, name).CopyFrom(value)
    return agent


async def refused(call: Awaitable[object]) -> dict[str, str]:
    """The field violations of a call that must fail with INVALID_ARGUMENT."""
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await call
    details = status_details(failure.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT, details
    return details.field_violations


def create_agent_call(stubs: Stubs, agent: agent_pb2.Agent) -> Awaitable[object]:
    request = agent_pb2.CreateAgentRequest(agent_id=unique("hostile"), agent=agent)
    return stubs.agents.CreateAgent(request)  # type: ignore[no-any-return]


async def create_run_call(stubs: Stubs, *tools: run_pb2.ClientTool) -> object:
    agent = await create_agent(stubs, [{"text": "done"}])
    request = run_service_pb2.CreateRunRequest(
        agent_id=agent.agent_id, prompt="hi", client_tools=list(tools)
    )
    return await stubs.runs.CreateRun(request)


def client_tool(parameters: dict[str, Any]) -> run_pb2.ClientTool:
    return run_pb2.ClientTool(name="lookup", parameters=struct(parameters))


def nested(depth: int) -> dict[str, Any]:
    """A schema nesting ``depth`` JSON objects: ``{"items": {"items": ... {}}}``."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth - 1):
        schema = {"items": schema}
    return schema


@contextlib.asynccontextmanager
async def silent_listener() -> AsyncIterator[tuple[int, list[str]]]:
    """A loopback TCP listener that accepts and never answers: (port, peers seen)."""
    peers: list[str] = []
    hold = asyncio.Event()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(str(writer.get_extra_info("peername")))
        await hold.wait()
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, peers
    finally:
        hold.set()
        server.close()
        await server.wait_closed()


# --- the findings of issue 13, against the server -----------------------------------


async def test_backtracking_pattern_runs_in_linear_time(
    hostile_server: RunwireServer, hostile_stubs: Stubs
) -> None:
    schema = {"type": "string", "pattern": BACKTRACKING}
    agent = await create_agent(
        hostile_stubs,
        [{"text": EVIL_ANSWER}, {"text": EVIL_ANSWER}],
        response_format=schema,
        chunk_chars=len(EVIL_ANSWER),
    )
    events: list[event_pb2.RunEvent] = []

    async def attack() -> None:
        request = run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
        events[:] = await collect(hostile_stubs.runs.StreamRun(request))

    await worst_latency_during(hostile_server, attack)
    error = events[-1].run_error
    assert error.error.code == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert "does not match '^(a+)+$'" in error.error.message
    assert len(error.error.message) < 500


async def test_remote_refs_are_refused_and_never_fetched(
    hostile_server: RunwireServer, hostile_stubs: Stubs
) -> None:
    async with silent_listener() as (port, peers):
        remote = f"http://127.0.0.1:{port}/schema.json"
        agent_schemas: list[dict[str, Any]] = [
            {"$ref": remote},
            {"type": "object", "properties": {"a": {"$ref": remote + "#/a"}}},
            {"$id": f"http://127.0.0.1:{port}/root", "items": {"$ref": "other.json"}},
            {"$defs": {"a": {"$dynamicRef": f"file:///etc/passwd#{port}"}}},
        ]
        violations: list[dict[str, str]] = []

        async def attack() -> None:
            violations.clear()
            for schema in agent_schemas:
                agent = agent_message(response_format=struct(schema))
                violations.append(await refused(create_agent_call(hostile_stubs, agent)))
            tool = client_tool({"type": "object", "properties": {"q": {"$ref": remote}}})
            violations.append(await refused(create_run_call(hostile_stubs, tool)))

        await worst_latency_during(hostile_server, attack)
        assert peers == []
    assert [list(v) for v in violations] == [["agent.response_format"]] * len(agent_schemas) + [
        ["client_tools[0].parameters"]
    ]
    assert all("nothing is fetched" in v for found in violations[:2] for v in found.values())


async def test_huge_options_struct_does_not_stall(
    hostile_server: RunwireServer, hostile_stubs: Stubs
) -> None:
    options = struct_pb2.Struct()
    options.update({f"k{i}": None for i in range(200_000)})
    options["script"] = []
    agent = agent_pb2.Agent(
        instructions="x", model=agent_pb2.Model(provider="scripted", options=options)
    )
    failures: list[grpc.aio.AioRpcError] = []
    # Serialized before the probe starts: this test process is also the client,
    # and encoding 200,000 keys would hold its own event loop, not the server's.
    request = agent_pb2.CreateAgentRequest(agent_id=unique("hostile"), agent=agent)
    data = request.SerializeToString()
    raw = hostile_stubs.channel.unary_unary(
        "/runwire.v1.AgentService/CreateAgent",
        request_serializer=lambda body: body,
        response_deserializer=lambda body: body,
    )

    async def attack() -> None:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await raw(data)
        failures[:] = [failure.value]

    await worst_latency_during(hostile_server, attack)
    details = status_details(failures[0])
    assert details.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details.metadata["limit"] == "max_agent_bytes"


async def test_deeply_nested_schemas_are_refused(
    hostile_server: RunwireServer, hostile_stubs: Stubs
) -> None:
    # 33 levels: within what protobuf carries here, one over MAX_SCHEMA_DEPTH.
    deep = nested(schemas.MAX_SCHEMA_DEPTH + 1)
    violations: list[dict[str, str]] = []

    async def attack() -> None:
        violations.clear()
        agent = agent_message(response_format=struct(deep))
        violations.append(await refused(create_agent_call(hostile_stubs, agent)))
        violations.append(await refused(create_run_call(hostile_stubs, client_tool(deep))))

    await worst_latency_during(hostile_server, attack)
    assert violations == [
        {"agent.response_format": "the schema nests deeper than 32 levels"},
        {"client_tools[0].parameters": "the schema nests deeper than 32 levels"},
    ]


async def test_a_schema_that_takes_long_to_validate_against_is_cut_short(
    hostile_server: RunwireServer, hostile_stubs: Stubs
) -> None:
    # Every level tries two branches that both fail at the innermost value: 2^60 paths.
    schema = {
        "$defs": {
            "x": {
                "anyOf": [
                    {"type": "array", "items": {"$ref": "#/$defs/x"}},
                    {"type": "array", "minItems": 0, "items": {"$ref": "#/$defs/x"}},
                ]
            }
        },
        "$ref": "#/$defs/x",
    }
    answer = "[" * 60 + "1" + "]" * 60
    agent = await create_agent(
        hostile_stubs, [{"text": answer}, {"text": answer}], response_format=schema
    )
    events: list[event_pb2.RunEvent] = []

    async def attack() -> None:
        request = run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
        events[:] = await collect(hostile_stubs.runs.StreamRun(request))

    await worst_latency_during(hostile_server, attack)
    assert "too complex to check" in events[-1].run_error.error.message


async def test_large_valid_client_tool_schemas_do_not_stall(
    hostile_server: RunwireServer, hostile_stubs: Stubs
) -> None:
    """Schemas near MAX_SCHEMA_BYTES take tens of milliseconds each to check
    against the metaschema: the run request checks them in a worker thread."""
    properties = {f"p{i}": {"type": "string", "maxLength": 10} for i in range(1_400)}
    parameters = {"type": "object", "properties": properties}
    size = len(json.dumps(json_format.MessageToDict(struct(parameters)), separators=(",", ":")))
    assert schemas.MAX_SCHEMA_BYTES * 0.8 < size < schemas.MAX_SCHEMA_BYTES
    tools = [run_pb2.ClientTool(name=f"tool_{i}", parameters=struct(parameters)) for i in range(3)]
    runs: list[object] = []

    async def attack() -> None:
        runs[:] = [await create_run_call(hostile_stubs, *tools)]

    await worst_latency_during(hostile_server, attack)
    assert runs


# --- refusals name the field -----------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ({"type": "strin"}, "not a valid JSON Schema (draft 2020-12): at /type"),
        ({"properties": {"a": {"minLength": -1}}}, "at /properties/a/minLength"),
        ({"pattern": "(a)\\1"}, "is not supported: patterns run on RE2"),
        ({"patternProperties": {"(?=x)": {}}}, "is not supported: patterns run on RE2"),
        ({"$ref": "#/$defs/missing"}, "does not resolve inside the schema"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "$schema must be"),
        ({"items": {"$schema": schemas.DIALECT}}, "$schema must be"),
        ({"a": "x" * (schemas.MAX_SCHEMA_BYTES + 1)}, "bytes"),
    ],
)
async def test_invalid_schemas_are_refused_naming_the_field(
    hostile_stubs: Stubs, schema: dict[str, Any], says: str
) -> None:
    agent = agent_message(response_format=struct(schema))
    found = await refused(create_agent_call(hostile_stubs, agent))
    assert list(found) == ["agent.response_format"]
    assert says in found["agent.response_format"]
    found = await refused(create_run_call(hostile_stubs, client_tool(schema)))
    assert list(found) == ["client_tools[0].parameters"]
    assert says in found["client_tools[0].parameters"]


async def test_safe_schemas_still_work(hostile_stubs: Stubs) -> None:
    schema = {
        "$schema": schemas.DIALECT,
        "$defs": {"code": {"type": "string", "pattern": "^[A-Z]{3}-\\d+$"}},
        "type": "object",
        "properties": {"code": {"$ref": "#/$defs/code"}, "name": {"type": "string"}},
        "patternProperties": {"^x-": {"type": "integer"}},
        "additionalProperties": False,
        "required": ["code"],
    }
    answer = '{"code": "ABC-12", "x-size": 3}'
    agent = await create_agent(hostile_stubs, [{"text": answer}], response_format=schema)
    request = run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
    events = await collect(hostile_stubs.runs.StreamRun(request))
    finished = events[-1].run_finished
    assert (finished.state, finished.output) == (run_pb2.RUN_STATE_SUCCEEDED, answer)
    run = await create_run_call(hostile_stubs, client_tool(schema))
    assert isinstance(run, run_service_pb2.CreateRunResponse)


# --- runwire_server.service.core.schemas itself -----------------------------------------

#: Schemas valid and invalid against the metaschema, to compare with jsonschema's own check.
METASCHEMA_CASES: list[Any] = [
    {},
    {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}},
    {"type": ["string", "null"], "maxLength": 3},
    {"items": {"type": "string"}, "prefixItems": [{"const": 1}], "minItems": 1},
    {"$defs": {"n": {"type": "number"}}, "anyOf": [{"$ref": "#/$defs/n"}, {"type": "null"}]},
    {"dependentRequired": {"a": ["b"]}, "dependentSchemas": {"a": {"required": ["c"]}}},
    {"if": {"const": 1}, "then": {"minimum": 0}, "else": False},
    {"contentSchema": {"type": "object"}, "contentMediaType": "application/json"},
    {"definitions": {"x": {}}, "dependencies": {"a": ["b"], "c": {"type": "string"}}},
    {"unevaluatedProperties": {"type": "boolean"}, "propertyNames": {"maxLength": 3}},
    {"$anchor": "here", "$comment": "c", "title": "t", "examples": [1], "deprecated": True},
    {"type": "strin"},
    {"type": 3},
    {"properties": {"a": {"minLength": -1}}},
    {"items": [{"type": "string"}]},
    {"required": "a"},
    {"required": ["a", "a"]},
    {"enum": []},
    {"allOf": []},
    {"allOf": [{"type": "object"}, 3]},
    {"$defs": {"x": {"maxItems": 1.5}}},
    {"multipleOf": 0},
    {"$anchor": "1bad"},
    {"dependencies": {"a": 3}},
    {"$vocabulary": {"https://x": "yes"}},
    {"propertyNames": {"properties": {"a": {"type": "nope"}}}},
]


@pytest.mark.parametrize("schema", METASCHEMA_CASES)
def test_the_flattened_metaschema_agrees_with_jsonschema(schema: Any) -> None:
    stock = jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA).is_valid(
        schema
    )
    problem = schemas.schema_problem(schema)
    assert (problem is None) == stock, problem


def test_patterns_run_on_re2() -> None:
    schema = {"type": "string", "pattern": BACKTRACKING}
    assert schemas.schema_problem(schema) is None
    started = time.perf_counter()
    problem = schemas.answer_problem(json.dumps("a" * 1_000_000 + "!"), schema)
    assert time.perf_counter() - started < 1.0
    assert problem is not None
    assert problem.startswith("at the root: 'aaaa")
    assert len(problem) <= schemas.MAX_MESSAGE_CHARS
    assert schemas.answer_problem('"aaa"', schema) is None
    # ECMA-262's \\uHHHH escapes are understood.
    assert schemas.answer_problem('"\\u00e9\\u00e9"', {"pattern": "^\\u00e9+$"}) is None
    assert schemas.answer_problem('"e"', {"pattern": "^\\u00e9+$"}) is not None
    keys = {"patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False}
    assert schemas.answer_problem('{"x-a": 1}', keys) is None
    assert "'y' unexpected" in str(schemas.answer_problem('{"x-a": 1, "y": 2}', keys))
    assert "at /x-a" in str(schemas.answer_problem('{"x-a": "one"}', keys))


def test_unique_items_compare_as_json_schema_does() -> None:
    unique_items = {"uniqueItems": True}
    assert schemas.answer_problem("[1, true, 0, false, null]", unique_items) is None
    assert schemas.answer_problem('[{"a": [1]}, {"a": [1.0]}]', unique_items) is not None
    assert schemas.answer_problem("[[1, 2], [2, 1]]", unique_items) is None
    many = json.dumps([[i, str(i)] for i in range(10_000)])
    assert schemas.answer_problem(many, unique_items) is None


def test_values_and_work_are_capped() -> None:
    deep = "[" * (schemas.MAX_VALUE_DEPTH + 1) + "]" * (schemas.MAX_VALUE_DEPTH + 1)
    assert schemas.answer_problem(deep, {}) == (
        f"the value nests deeper than {schemas.MAX_VALUE_DEPTH} levels"
    )
    assert schemas.answer_problem("[" * 100_000 + "]" * 100_000, {}) is not None
    wide = json.dumps(list(range(schemas.MAX_VALUE_NODES)))
    assert "more than" in str(schemas.answer_problem(wide, {}))
    # Each of many branches fails on a long string: messages show values cut short.
    branches = {"anyOf": [{"minLength": 2_000_000}] * 2_000}
    assert schemas.schema_problem(branches) is None
    started = time.perf_counter()
    problem = str(schemas.answer_problem(json.dumps("b" * 1_000_000), branches))
    assert time.perf_counter() - started < 1.0
    assert "is not valid under any of the given schemas" in problem
    # An enum scanned for each of many items runs out of work, the same way every time.
    enum = {"items": {"enum": [f"v{i}" for i in range(4_000)]}}
    answers = {schemas.answer_problem(json.dumps(["zz"] * 5_000), enum) for _ in range(2)}
    assert answers == {
        f"the value is too large or the schema too complex to check (over "
        f"{schemas.MAX_VALIDATION_WORK} units of work)"
    }


def test_unsafe_stored_schemas_are_not_run() -> None:
    # An agent stored before these checks: validation refuses to run its schema.
    draft7 = {"items": {"$schema": "http://json-schema.org/draft-07/schema#", "pattern": "(a+)+$"}}
    assert "cannot be checked safely" in str(schemas.answer_problem('["a"]', draft7))
    remote = {"$ref": "http://127.0.0.1:9/x"}
    assert "leaves the schema" in str(schemas.answer_problem("1", remote))
    mixed = {"patternProperties": {"^a": {}}, "unevaluatedProperties": False}
    assert "cannot be combined" in str(schemas.answer_problem("{}", mixed))
