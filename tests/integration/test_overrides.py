"""Per-run overrides (issue 17, item 4), on every runtime.

A run request may append instructions, set sampling options (temperature,
top_p, max_output_tokens) and tighten the agent's limits. What the model
receives is read at the HTTP seam: a loopback fake of the Chat Completions
and Messages APIs records each request body, and this module's servers (one
per runtime) name it in their ``[[model_endpoints]]``. Limits are checked on
the scripted model, through what the run does. Loosening a limit, or a
sampling option a model of the agent has no option for, is INVALID_ARGUMENT
with a field violation naming the override.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, json_format
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2

from tests.conftest import RUNTIMES, server_settings
from tests.fake_models import FakeHandler, LoopbackServer, serving, without_proxies
from tests.support import (
    PARITY_TOKEN,
    Script,
    Stubs,
    collect,
    create_agent,
    parity_auth,
    running_server,
    status_details,
    struct,
    unique,
)

LOOP_FOREVER: Script = [{"tool_calls": [{"name": "echo", "arguments": {"text": "x"}}]}] * 10


class RecordingServer(LoopbackServer):
    """Chat Completions and Messages, streamed "ok"; records (path, JSON body) of
    every POST. Paths under ``/down/`` answer 503 with ``retry-after: 0``."""

    def __init__(self) -> None:
        super().__init__(_Recording)
        self.lock = threading.Lock()
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def bodies(self, part: str) -> list[dict[str, Any]]:
        """The bodies of the requests whose path contains ``part``."""
        with self.lock:
            return [body for path, body in self.seen if part in path]


class _Recording(FakeHandler):
    server: RecordingServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        with self.server.lock:
            self.server.seen.append((self.path, body))
        if "/down/" in self.path:
            error = {"error": {"type": "overloaded_error", "message": "try later"}}
            self.send_json(503, error, {"retry-after": "0"})
        elif self.path.endswith("/chat/completions"):
            chunk = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            }
            self.send_events([f"data: {json.dumps(chunk)}\n\n", "data: [DONE]\n\n"])
        else:
            self.send_events(
                [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in _messages("ok")]
            )


def _messages(text: str) -> list[tuple[str, dict[str, Any]]]:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    block = {"type": "text", "text": ""}
    return [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 1},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


@pytest.fixture(scope="module")
def recording() -> Iterator[RecordingServer]:
    with pytest.MonkeyPatch.context() as patch:
        without_proxies(patch)
        with serving(RecordingServer()) as server:
            yield server


@pytest.fixture(scope="module", params=RUNTIMES)
async def model_stubs(
    request: pytest.FixtureRequest,
    redis_url: str,
    temporal_address: str,
    recording: RecordingServer,
) -> AsyncIterator[Stubs]:
    """A parity-suite server (``request.param``) whose model endpoints are the recorder."""
    url = recording.url
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        auth=parity_auth(),
        model_endpoints=[
            {"name": "ovr-openai", "provider": "openai", "base_url": f"{url}/up/openai/v1"},
            {"name": "ovr-down", "provider": "openai", "base_url": f"{url}/down/openai/v1"},
            {"name": "ovr-anthropic", "provider": "anthropic", "base_url": f"{url}/up/anthropic"},
        ],
    )
    async with running_server(settings) as server:
        client = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
        yield client
        await client.channel.close()


def model(provider: str, endpoint: str, **options: Any) -> agent_pb2.Model:
    return agent_pb2.Model(
        provider=provider, name="m-test", options=struct({"endpoint": endpoint, **options})
    )


async def http_agent(
    stubs: Stubs, primary: agent_pb2.Model, fallbacks: list[agent_pb2.Model] | None = None
) -> str:
    agent = agent_pb2.Agent(
        instructions="You are the base agent.",
        model=primary,
        fallback_models=fallbacks or [],
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
    )
    response = await stubs.agents.CreateAgent(
        agent_pb2.CreateAgentRequest(agent_id=unique("agent"), agent=agent)
    )
    return str(response.agent.agent_id)


async def stream(
    stubs: Stubs, agent_id: str, overrides: run_pb2.RunOverrides, prompt: str
) -> run_pb2.Run:
    """Streams a run with ``overrides`` to its end; returns its record."""
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt=prompt, overrides=overrides),
            timeout=120,
        )
    )
    response = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))
    run: run_pb2.Run = response.run
    return run


def with_prompt(bodies: list[dict[str, Any]], prompt: str) -> list[dict[str, Any]]:
    """The request bodies whose conversation carries ``prompt`` (this test's calls)."""
    return [b for b in bodies if prompt in json.dumps(b.get("messages", []))]


async def test_instructions_and_sampling_reach_the_model(
    model_stubs: Stubs, recording: RecordingServer
) -> None:
    agent_id = await http_agent(model_stubs, model("openai", "ovr-openai", temperature=1.5))
    overrides = run_pb2.RunOverrides(
        instructions="Answer in French.", temperature=0.25, top_p=0.5, max_output_tokens=77
    )
    prompt = unique("prompt")
    run = await stream(model_stubs, agent_id, overrides, prompt)
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED, run
    assert run.overrides == overrides
    [body] = with_prompt(recording.bodies("/up/openai/"), prompt)
    assert body["messages"][0] == {
        "role": "system",
        "content": "You are the base agent.\n\nAnswer in French.",
    }
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.25, 0.5, 77)

    # Without overrides, the agent's own options and instructions.
    prompt = unique("prompt")
    plain = await stream(model_stubs, agent_id, run_pb2.RunOverrides(), prompt)
    assert not plain.HasField("overrides")
    [body] = with_prompt(recording.bodies("/up/openai/"), prompt)
    assert body["messages"][0]["content"] == "You are the base agent."
    assert body["temperature"] == 1.5
    assert "top_p" not in body and "max_tokens" not in body


async def test_sampling_applies_to_fallback_models(
    model_stubs: Stubs, recording: RecordingServer
) -> None:
    agent_id = await http_agent(
        model_stubs,
        model("openai", "ovr-down"),
        [model("anthropic", "ovr-anthropic", max_tokens=500)],
    )
    overrides = run_pb2.RunOverrides(temperature=0.0, max_output_tokens=33)
    prompt = unique("prompt")
    run = await stream(model_stubs, agent_id, overrides, prompt)
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED, run
    down = with_prompt(recording.bodies("/down/openai/"), prompt)
    assert down and all((b["temperature"], b["max_tokens"]) == (0.0, 33) for b in down)
    [body] = with_prompt(recording.bodies("/up/anthropic/"), prompt)
    assert (body["temperature"], body["max_tokens"]) == (0.0, 33)
    assert "top_p" not in body


# The parity server (scripted model) from here on.


async def test_tighter_max_iterations_applies(stubs: Stubs) -> None:
    agent = await create_agent(stubs, LOOP_FOREVER, tools=["echo"], max_iterations=4)
    overrides = run_pb2.RunOverrides(
        instructions="Be brief.", limits=agent_pb2.Limits(max_iterations=1)
    )
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="p", overrides=overrides
            )
        )
    )
    assert [e.step_started.step for e in events if e.HasField("step_started")] == [1, 2]
    assert events[-1].run_finished.finish_reason == "max_iterations"
    run = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))
    assert run.run.overrides == overrides
    listed = await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(agent_id=agent.agent_id))
    assert [r.overrides for r in listed.runs] == [overrides]


async def test_a_token_budget_tightens_an_agent_without_one(stubs: Stubs) -> None:
    script: Script = [
        {"tool_calls": [{"name": "echo", "arguments": {"text": "x" * 200}}]},
        {"text": "never reached"},
    ]
    agent = await create_agent(stubs, script, tools=["echo"])
    response = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(
            agent_id=agent.agent_id,
            prompt="p",
            overrides=run_pb2.RunOverrides(limits=agent_pb2.Limits(token_budget=20)),
        )
    )
    assert (response.run.state, response.run.finish_reason) == (
        run_pb2.RUN_STATE_FAILED,
        "budget_exceeded",
    )
    assert response.run.overrides.limits.token_budget == 20


LOOSER = [
    pytest.param(agent_pb2.Limits(max_iterations=3), "max_iterations", id="max_iterations"),
    pytest.param(
        agent_pb2.Limits(timeout=duration_pb2.Duration(seconds=61)), "timeout", id="timeout"
    ),
    pytest.param(
        agent_pb2.Limits(approval_timeout=duration_pb2.Duration(seconds=31)),
        "approval_timeout",
        id="approval_timeout",
    ),
    pytest.param(agent_pb2.Limits(token_budget=1001), "token_budget", id="token_budget"),
]


@pytest.mark.parametrize(("limits", "field"), LOOSER)
async def test_loosening_a_limit_is_refused(
    stubs: Stubs, limits: agent_pb2.Limits, field: str
) -> None:
    agent = await create_agent(
        stubs,
        [{"text": "ok"}],
        max_iterations=2,
        timeout_seconds=60,  # the approval timeout defaults to 30 s
        token_budget=1000,
    )
    before = await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(agent_id=agent.agent_id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id,
                prompt="p",
                overrides=run_pb2.RunOverrides(limits=limits),
            )
        )
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert list(details.field_violations) == [f"overrides.limits.{field}"], details
    after = await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(agent_id=agent.agent_id))
    assert len(after.runs) == len(before.runs) == 0  # no run was created

    # The agent's own value is allowed (equal is not looser).
    equal = agent_pb2.Limits(
        max_iterations=2,
        timeout=duration_pb2.Duration(seconds=60),
        approval_timeout=duration_pb2.Duration(seconds=30),
        token_budget=1000,
    )
    response = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(
            agent_id=agent.agent_id, prompt="p", overrides=run_pb2.RunOverrides(limits=equal)
        )
    )
    assert response.run.state == run_pb2.RUN_STATE_SUCCEEDED


async def test_loosening_past_a_server_default_is_refused(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "ok"}])  # defaults: 5 iterations, 300 s
    for limits, field in [
        (agent_pb2.Limits(max_iterations=6), "max_iterations"),
        (agent_pb2.Limits(timeout=duration_pb2.Duration(seconds=301)), "timeout"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.runs.CreateRun(
                run_service_pb2.CreateRunRequest(
                    agent_id=agent.agent_id,
                    prompt="p",
                    overrides=run_pb2.RunOverrides(limits=limits),
                )
            )
        details = status_details(caught.value)
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT
        assert list(details.field_violations) == [f"overrides.limits.{field}"], details


async def test_sampling_a_model_has_no_option_for_is_refused(stubs: Stubs) -> None:
    agent = await create_agent(stubs, [{"text": "ok"}])  # scripted: no sampling options
    overrides = run_pb2.RunOverrides(temperature=0.5, max_output_tokens=10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id, prompt="p", overrides=overrides
            )
        )
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details.field_violations) == {
        "overrides.temperature",
        "overrides.max_output_tokens",
    }, details
    assert "scripted" in details.field_violations["overrides.temperature"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param(run_pb2.RunOverrides(temperature=2.5), "overrides.temperature", id="temp"),
        pytest.param(run_pb2.RunOverrides(top_p=0.0), "overrides.top_p", id="top_p"),
        pytest.param(
            run_pb2.RunOverrides(max_output_tokens=0), "overrides.max_output_tokens", id="tokens"
        ),
        pytest.param(
            run_pb2.RunOverrides(limits=agent_pb2.Limits(max_iterations=101)),
            "overrides.limits.max_iterations",
            id="limits",
        ),
    ],
)
async def test_out_of_range_overrides_are_invalid(
    stubs: Stubs, overrides: run_pb2.RunOverrides, field: str
) -> None:
    agent = await create_agent(stubs, [{"text": "ok"}])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id, prompt="p", overrides=overrides
            )
        )
    details = status_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in details.field_violations, details


async def test_a_request_id_reused_with_other_overrides_or_labels_is_refused(
    stubs: Stubs,
) -> None:
    agent = await create_agent(stubs, [{"text": "ok"}])
    request_id = unique("req")
    first = run_service_pb2.CreateRunRequest(
        agent_id=agent.agent_id,
        prompt="p",
        request_id=request_id,
        labels={"k": "v"},
        overrides=run_pb2.RunOverrides(instructions="A."),
    )
    created = await stubs.runs.CreateRun(first)
    again = await stubs.runs.CreateRun(first)
    assert again.run.run_id == created.run.run_id
    for changed in (
        {"labels": {"k": "w"}},
        {"overrides": {"instructions": "B."}},
    ):
        other = run_service_pb2.CreateRunRequest()
        other.CopyFrom(first)
        json_format.ParseDict(changed, other)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.runs.CreateRun(other)
        assert status_details(caught.value).reason == "REQUEST_ID_REUSED"
