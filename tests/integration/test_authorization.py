"""Every RPC of every service against the role table (a real server, auth on).

The RPCs are found from the service descriptors of ``runwire.v1``, so a new
RPC cannot skip the check: it must be added to ``EXPECTED`` below, this
test's own copy of the table in docs/security.md. Each RPC is called with an
empty request: past authorization it fails validation or finds nothing,
which is how "allowed" shows without changing anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from runwire.v1 import agent_pb2, approval_pb2, run_service_pb2, thread_pb2, tool_pb2

from runwire_server.app.server import RunwireServer
from runwire_server.service.auth.config import AuthSettings
from tests.conftest import server_settings
from tests.support import api_key, running_server, status_details, unique

ROLES = ("viewer", "runner", "approver", "editor", "admin")
EVERYONE = frozenset(ROLES)
RUNNERS = frozenset({"runner", "editor", "admin"})
EDITORS = frozenset({"editor", "admin"})
APPROVERS = frozenset({"approver", "admin"})

#: Which roles may call each RPC (docs/security.md, "Roles").
EXPECTED: dict[str, frozenset[str]] = {
    "runwire.v1.AgentService/CreateAgent": EDITORS,
    "runwire.v1.AgentService/GetAgent": EVERYONE,
    "runwire.v1.AgentService/ListAgents": EVERYONE,
    "runwire.v1.AgentService/UpdateAgent": EDITORS,
    "runwire.v1.AgentService/DeleteAgent": EDITORS,
    "runwire.v1.AgentService/ListAgentTools": EVERYONE,
    "runwire.v1.ToolService/ListTools": EVERYONE,
    "runwire.v1.RunService/CreateRun": RUNNERS,
    "runwire.v1.RunService/StreamRun": RUNNERS,
    "runwire.v1.RunService/WaitRun": RUNNERS,
    "runwire.v1.RunService/GetRun": EVERYONE,
    "runwire.v1.RunService/ListRuns": EVERYONE,
    "runwire.v1.RunService/CancelRun": RUNNERS,
    "runwire.v1.RunService/StreamRunEvents": EVERYONE,
    "runwire.v1.RunService/ListRunEvents": EVERYONE,
    "runwire.v1.RunService/SubmitToolOutputs": RUNNERS,
    "runwire.v1.RunService/PauseRun": RUNNERS,
    "runwire.v1.RunService/ResumeRun": RUNNERS,
    "runwire.v1.RunService/WatchRuns": EVERYONE,
    "runwire.v1.ApprovalService/WatchApprovals": EVERYONE,
    "runwire.v1.ApprovalService/ListApprovals": EVERYONE,
    "runwire.v1.ApprovalService/GetApproval": EVERYONE,
    "runwire.v1.ApprovalService/ResolveApproval": APPROVERS,
    "runwire.v1.ThreadService/CreateThread": RUNNERS,
    "runwire.v1.ThreadService/GetThread": EVERYONE,
    "runwire.v1.ThreadService/ListThreadMessages": EVERYONE,
    "runwire.v1.ThreadService/DeleteThread": RUNNERS,
}

TOKENS = {role: f"rw-{role}-{unique('key')}" for role in ROLES}
REFUSALS = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def methods() -> dict[str, MethodDescriptor]:
    """Every RPC of every Runwire service, by ``Service/Method``."""
    found = {}
    for module in (agent_pb2, run_service_pb2, approval_pb2, thread_pb2, tool_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found[f"{service.full_name}/{method.name}"] = method
    return found


@pytest.fixture(scope="module")
async def secured() -> AsyncIterator[RunwireServer]:
    """An in-process server with one API key per role, in tenant ``acme``."""
    auth = AuthSettings(api_keys=[api_key(TOKENS[r], f"{r}-user", r, tenant="acme") for r in ROLES])
    settings = server_settings(
        "in_process", redis_url="", temporal_address="", auth=auth, http_listen=["127.0.0.1:0"]
    )
    async with running_server(settings) as server:
        yield server


#: The listeners every RPC is checked on: gRPC, and gRPC over the HTTP listener
#: (Hypercorn, through runwire_server.service.http.calls), which admits the same way.
LISTENERS = ("grpc", "http")


def target(server: RunwireServer, listener: str) -> str:
    return server.addresses[0] if listener == "grpc" else server.http_addresses[0]


async def call(
    channel: grpc.aio.Channel, name: str, method: MethodDescriptor, token: str | None
) -> grpc.StatusCode:
    """Calls ``name`` with an empty request; the status it ends with."""
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    metadata = (("authorization", f"Bearer {token}"),) if token is not None else ()
    path = f"/{name}"
    try:
        if method.server_streaming:
            stream = channel.unary_stream(
                path,
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )(request_class(), metadata=metadata, timeout=30)
            async for _ in stream:
                stream.cancel()
                break
        else:
            await channel.unary_unary(
                path,
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )(request_class(), metadata=metadata, timeout=30)
    except grpc.aio.AioRpcError as error:
        if error.code() in REFUSALS:
            details = status_details(error)
            assert details.domain == "runwire.dev", error
            if error.code() == grpc.StatusCode.PERMISSION_DENIED:
                assert details.reason == "PERMISSION_DENIED"
                assert details.metadata["permission"], error
            else:
                assert details.reason == "UNAUTHENTICATED"
        return error.code()
    return grpc.StatusCode.OK


def test_the_table_covers_every_rpc() -> None:
    assert set(methods()) == set(EXPECTED)


@pytest.mark.parametrize("listener", LISTENERS)
async def test_every_rpc_needs_credentials(secured: RunwireServer, listener: str) -> None:
    async with grpc.aio.insecure_channel(target(secured, listener)) as channel:
        for name, method in methods().items():
            assert await call(channel, name, method, None) == grpc.StatusCode.UNAUTHENTICATED, name
            wrong = await call(channel, name, method, "rw-not-a-key")
            assert wrong == grpc.StatusCode.UNAUTHENTICATED, name


@pytest.mark.parametrize("listener", LISTENERS)
@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_exactly_its_rpcs(
    secured: RunwireServer, role: str, listener: str
) -> None:
    async with grpc.aio.insecure_channel(target(secured, listener)) as channel:
        for name, method in methods().items():
            code = await call(channel, name, method, TOKENS[role])
            if role in EXPECTED[name]:
                assert code not in REFUSALS, (name, role, code)
            else:
                assert code == grpc.StatusCode.PERMISSION_DENIED, (name, role, code)


async def test_health_is_open_and_reflection_needs_a_principal(secured: RunwireServer) -> None:
    async with grpc.aio.insecure_channel(secured.addresses[0]) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING

        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in reflection.ServerReflectionInfo(iter([ask])):
                pass
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        metadata = (("authorization", f"Bearer {TOKENS['viewer']}"),)
        answers = [a async for a in reflection.ServerReflectionInfo(iter([ask]), metadata=metadata)]
        names = {s.name for s in answers[0].list_services_response.service}
        assert "runwire.v1.RunService" in names


async def test_a_refusal_names_the_missing_permission(secured: RunwireServer) -> None:
    async with grpc.aio.insecure_channel(secured.addresses[0]) as channel:
        create = channel.unary_unary(
            "/runwire.v1.AgentService/CreateAgent",
            request_serializer=agent_pb2.CreateAgentRequest.SerializeToString,
            response_deserializer=agent_pb2.CreateAgentResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await create(
                agent_pb2.CreateAgentRequest(agent_id="x"),
                metadata=(("authorization", f"Bearer {TOKENS['runner']}"),),
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        details = status_details(caught.value)
        assert details.metadata["permission"] == "agents.write"
        assert "runner-user" in (caught.value.details() or "")


async def test_an_error_about_a_huge_id_still_fits_its_trailer(secured: RunwireServer) -> None:
    async with grpc.aio.insecure_channel(secured.addresses[0]) as channel:
        get = channel.unary_unary(
            "/runwire.v1.AgentService/GetAgent",
            request_serializer=agent_pb2.GetAgentRequest.SerializeToString,
            response_deserializer=agent_pb2.GetAgentResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get(
                agent_pb2.GetAgentRequest(agent_id="x" * 20_000),
                metadata=(("authorization", f"Bearer {TOKENS['viewer']}"),),
            )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    details = status_details(caught.value)
    assert details.from_server and details.reason == "AGENT_NOT_FOUND"
    assert len(details.metadata["agent_id"].encode()) <= 128
