"""Fallback models and provider unavailability, on every runtime.

Failures are injected only at the HTTP seam: a real loopback server that
answers every request with ``503 Service Unavailable`` and ``retry-after: 0``
(an overloaded Chat Completions or Messages API), or, with ``partial``, a
Messages API stream that breaks off with an ``overloaded_error`` event after
some text. The agents' primary model is the ``openai`` (or ``anthropic``)
provider on an endpoint of the server's configuration (``[[model_endpoints]]``)
pointed at it: this module starts its own server per runtime, with those
endpoints, after the loopback servers. Each test names endpoints of its own, so
the circuit breakers (one per endpoint and process) of one test never affect another.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2

from tests.conftest import RUNTIMES, server_settings
from tests.fake_models import FakeHandler, LoopbackServer, serving, without_proxies
from tests.support import (
    PARITY_TOKEN,
    Stubs,
    collect,
    parity_auth,
    running_server,
    struct,
    unique,
)

#: Upper bound of a run that fails because no model is available, seconds
#: (Temporal retries the model call activity up to 5 times).
FAIL_WITHIN_SECONDS = 60.0


class UnavailableServer(LoopbackServer):
    """Answers every POST with 503, ``retry-after: 0`` and an API error body."""

    def __init__(self, *, partial: bool = False) -> None:
        super().__init__(_Handler)
        self.partial = partial
        self.paths: list[str] = []


class _Handler(FakeHandler):
    server: UnavailableServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.paths.append(self.path)
        if self.server.partial:
            self._partial_stream()
            return
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "try later"}}
        self.send_json(503, error, {"retry-after": "0"})

    def _partial_stream(self) -> None:
        events: list[tuple[str, dict[str, Any]]] = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_x",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-test",
                        "content": [],
                        "usage": {"input_tokens": 5, "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "Half an ans"},
                },
            ),
            ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
        ]
        self.send_events([f"event: {name}\ndata: {json.dumps(body)}\n\n" for name, body in events])


@pytest.fixture(scope="module")
def no_proxy() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        without_proxies(patch)
        yield


@pytest.fixture(scope="module")
def partial_server(no_proxy: None) -> Iterator[UnavailableServer]:
    with serving(UnavailableServer(partial=True)) as server:
        yield server


@pytest.fixture(scope="module")
def unavailable_server(no_proxy: None) -> Iterator[UnavailableServer]:
    with serving(UnavailableServer()) as server:
        yield server


def endpoints(unavailable: UnavailableServer, partial: UnavailableServer) -> list[dict[str, str]]:
    """The module server's ``[[model_endpoints]]``: for each test its own, no keys."""
    down, broken = unavailable.url, partial.url
    return [
        {"name": "down-openai-1", "provider": "openai", "base_url": f"{down}/v1"},
        {"name": "down-openai-2", "provider": "openai", "base_url": f"{down}/v1"},
        {"name": "down-anthropic-2", "provider": "anthropic", "base_url": down},
        {"name": "partial-anthropic-3", "provider": "anthropic", "base_url": broken},
    ]


@pytest.fixture(scope="module", params=RUNTIMES)
async def stubs(
    request: pytest.FixtureRequest,
    redis_url: str,
    temporal_address: str,
    unavailable_server: UnavailableServer,
    partial_server: UnavailableServer,
) -> AsyncIterator[Stubs]:
    """A parity-suite server (``request.param``) with this module's model endpoints."""
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        auth=parity_auth(),
        model_endpoints=endpoints(unavailable_server, partial_server),
    )
    async with running_server(settings) as server:
        client = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
        yield client
        await client.channel.close()


@pytest.fixture
def partial(partial_server: UnavailableServer) -> UnavailableServer:
    partial_server.paths.clear()
    return partial_server


@pytest.fixture
def unavailable(unavailable_server: UnavailableServer) -> UnavailableServer:
    unavailable_server.paths.clear()
    return unavailable_server


def openai_model(endpoint: str) -> agent_pb2.Model:
    return agent_pb2.Model(
        provider="openai", name="gpt-test", options=struct({"endpoint": endpoint})
    )


def anthropic_model(endpoint: str) -> agent_pb2.Model:
    return agent_pb2.Model(
        provider="anthropic", name="claude-test", options=struct({"endpoint": endpoint})
    )


def scripted_model(text: str) -> agent_pb2.Model:
    return agent_pb2.Model(provider="scripted", options=struct({"script": [{"text": text}]}))


async def create_agent(
    stubs: Stubs, model: agent_pb2.Model, fallbacks: list[agent_pb2.Model]
) -> str:
    agent = agent_pb2.Agent(
        instructions="You are a test agent.",
        model=model,
        fallback_models=fallbacks,
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
    )
    response = await stubs.agents.CreateAgent(
        agent_pb2.CreateAgentRequest(agent_id=unique("agent"), agent=agent)
    )
    return str(response.agent.agent_id)


async def run(stubs: Stubs, agent_id: str) -> list[event_pb2.RunEvent]:
    request = run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt="Hello?")
    return await collect(stubs.runs.StreamRun(request, timeout=FAIL_WITHIN_SECONDS + 30))


def error_info(status: Any) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
    return info


async def test_an_unavailable_primary_falls_back_to_the_next_model(
    stubs: Stubs, unavailable: UnavailableServer
) -> None:
    agent_id = await create_agent(
        stubs, openai_model("down-openai-1"), [scripted_model("Answered by the fallback.")]
    )
    events = await run(stubs, agent_id)

    finished = events[-1].run_finished
    assert finished.state == run_pb2.RUN_STATE_SUCCEEDED, events[-1]
    assert finished.output == "Answered by the fallback."
    assert unavailable.paths and set(unavailable.paths) == {"/v1/chat/completions"}
    # The failed attempts streamed nothing, so nothing was discarded.
    assert not any(e.HasField("message_discarded") for e in events)
    run_record = (
        await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))
    ).run
    assert run_record.state == run_pb2.RUN_STATE_SUCCEEDED


async def test_with_every_model_unavailable_the_run_fails_unavailable(
    stubs: Stubs, unavailable: UnavailableServer
) -> None:
    agent_id = await create_agent(
        stubs, openai_model("down-openai-2"), [anthropic_model("down-anthropic-2")]
    )
    started = time.monotonic()
    events = await run(stubs, agent_id)
    elapsed = time.monotonic() - started

    assert elapsed < FAIL_WITHIN_SECONDS
    failed = events[-1].run_error
    assert failed.finish_reason == "error", events[-1]
    assert failed.error.code == grpc.StatusCode.UNAVAILABLE.value[0]
    info = error_info(failed.error)
    assert info.reason == "PROVIDER_UNAVAILABLE"
    assert info.domain == "runwire.dev"
    assert "no model is available" in failed.error.message
    # Both models were tried: the primary (openai) and its fallback (anthropic).
    assert {"/v1/chat/completions", "/v1/messages"} <= set(unavailable.paths)
    run_record = (
        await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))
    ).run
    assert run_record.state == run_pb2.RUN_STATE_FAILED
    assert error_info(run_record.error).reason == "PROVIDER_UNAVAILABLE"
    assert run_record.error.code == grpc.StatusCode.UNAVAILABLE.value[0]


async def test_a_partly_streamed_attempt_is_discarded_before_the_fallback_streams(
    stubs: Stubs, partial: UnavailableServer
) -> None:
    agent_id = await create_agent(
        stubs, anthropic_model("partial-anthropic-3"), [scripted_model("Whole.")]
    )
    events = await run(stubs, agent_id)

    finished = events[-1].run_finished
    assert finished.state == run_pb2.RUN_STATE_SUCCEEDED, events[-1]
    assert finished.output == "Whole."
    started = [e.text_message_start.message_id for e in events if e.HasField("text_message_start")]
    discarded = [e.message_discarded.message_id for e in events if e.HasField("message_discarded")]
    # Every failed attempt streamed under its own id and was withdrawn before the
    # next attempt began; the answer streamed under a fresh id.
    assert discarded and discarded == started[:-1]
    assert len(set(started)) == len(started)
    first = started[0]
    assert all(m == first or m.startswith(f"{first}-") for m in started)
    kinds = [str(e.WhichOneof("payload")) for e in events]
    for message_id in discarded:
        at = next(i for i, e in enumerate(events) if e.message_discarded.message_id == message_id)
        following = started[started.index(message_id) + 1]
        next_start = next(
            i for i, e in enumerate(events) if e.text_message_start.message_id == following
        )
        assert at < next_start, kinds
    answer = "".join(
        e.text_message_content.delta
        for e in events
        if e.HasField("text_message_content") and e.text_message_content.message_id == started[-1]
    )
    assert answer == "Whole."
