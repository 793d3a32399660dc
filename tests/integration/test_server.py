"""The server's standard services: gRPC health checking and server reflection
(grpc.reflection.v1alpha and grpc.reflection.v1)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support import Stubs

RUNWIRE_SERVICES = (
    "runwire.v1.AgentService",
    "runwire.v1.RunService",
    "runwire.v1.ApprovalService",
    "runwire.v1.ThreadService",
)
HEALTH = "grpc.health.v1.Health"
V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"

Reflect = Callable[
    [AsyncIterator[reflection_pb2.ServerReflectionRequest]],
    AsyncIterator[reflection_pb2.ServerReflectionResponse],
]


def v1alpha(channel: grpc.aio.Channel) -> Reflect:
    return reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo  # type: ignore[no-any-return]


def v1(channel: grpc.aio.Channel) -> Reflect:
    # grpc.reflection.v1 has the same messages as v1alpha under a new package name.
    return channel.stream_stream(  # type: ignore[no-any-return]
        V1_METHOD,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )


REFLECTIONS = [pytest.param(v1alpha, id="v1alpha"), pytest.param(v1, id="v1")]


async def ask(
    reflect: Reflect, *requests: reflection_pb2.ServerReflectionRequest
) -> list[reflection_pb2.ServerReflectionResponse]:
    """Sends ``requests`` on one reflection stream; returns the answers in order."""

    async def send() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        for request in requests:
            yield request

    return [response async for response in reflect(send())]


@pytest.mark.parametrize("service", ["", *RUNWIRE_SERVICES])
async def test_health_check_is_serving(stubs: Stubs, service: str) -> None:
    health = health_pb2_grpc.HealthStub(stubs.channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service=service))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_check_of_an_unknown_service_is_not_found(stubs: Stubs) -> None:
    health = health_pb2_grpc.HealthStub(stubs.channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await health.Check(health_pb2.HealthCheckRequest(service="runwire.v1.NoSuchService"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("reflection", REFLECTIONS)
async def test_reflection_lists_the_services(
    stubs: Stubs, reflection: Callable[[grpc.aio.Channel], Reflect]
) -> None:
    (response,) = await ask(
        reflection(stubs.channel), reflection_pb2.ServerReflectionRequest(list_services="")
    )
    assert response.WhichOneof("message_response") == "list_services_response"
    names = {s.name for s in response.list_services_response.service}
    assert {*RUNWIRE_SERVICES, HEALTH} <= names
    assert {"grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"} <= (
        names
    )


@pytest.mark.parametrize("reflection", REFLECTIONS)
async def test_reflection_returns_the_file_containing_a_symbol(
    stubs: Stubs, reflection: Callable[[grpc.aio.Channel], Reflect]
) -> None:
    (response,) = await ask(
        reflection(stubs.channel),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="runwire.v1.RunService"),
    )
    assert response.WhichOneof("message_response") == "file_descriptor_response"
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in response.file_descriptor_response.file_descriptor_proto
    ]
    assert files, "no descriptor returned"
    (run_service_file,) = [f for f in files if any(s.name == "RunService" for s in f.service)]
    assert run_service_file.package == "runwire.v1"
    (service,) = [s for s in run_service_file.service if s.name == "RunService"]
    methods = {m.name for m in service.method}
    assert {"CreateRun", "StreamRun", "StreamRunEvents", "SubmitToolOutputs"} <= methods
    stream_run = next(m for m in service.method if m.name == "StreamRun")
    assert stream_run.server_streaming and not stream_run.client_streaming


@pytest.mark.parametrize("reflection", REFLECTIONS)
async def test_reflection_answers_several_requests_on_one_stream(
    stubs: Stubs, reflection: Callable[[grpc.aio.Channel], Reflect]
) -> None:
    responses = await ask(
        reflection(stubs.channel),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="runwire.v1.Agent"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="runwire.v1.NoSuchThing"),
        reflection_pb2.ServerReflectionRequest(list_services=""),
    )
    assert [r.WhichOneof("message_response") for r in responses] == [
        "file_descriptor_response",
        "error_response",
        "list_services_response",
    ]
    agent_files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in responses[0].file_descriptor_response.file_descriptor_proto
    ]
    assert any(
        f.package == "runwire.v1" and any(m.name == "Agent" for m in f.message_type)
        for f in agent_files
    )
    assert responses[1].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
