"""Runwire end to end on a real model: SmolLM2-135M-Instruct on llama.cpp's server.

These tests check structure, never wording: which events came, in which order, what
the tool received and returned, what Runwire sent the model (through a recording
proxy), and that token usage is the server's count. They run on the in-process
runtime and on Temporal (``realmodel`` fixture).

The weather agent has ``max_iterations: 1``: round 1 offers ``get_weather``, round 2
(the final answer) offers no tools. With tools offered, llama-cpp-python's
``chatml-function-calling`` cannot answer in text (its grammar allows only a tool call
or an empty message), and this model calls the tool again and again.

Select them with ``-m realmodel``; they need ``scripts/install_local_model.sh``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import struct_pb2
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2

from devtools import local_model
from devtools.local_model import MODEL_NAME, LocalModelError, LocalModelServer, plain_tool_messages
from runwire_server.service.core.messages import ChatMessage, Role, ToolCall
from runwire_server.service.llm.base import ModelRequest
from runwire_server.service.llm.usage import estimate_input_tokens, estimate_usage
from tests.realmodel import weather_tools
from tests.realmodel.conftest import LOCAL_ENDPOINT, RealModel
from tests.realmodel.weather_mcp import MCP_FORECAST
from tests.support import Stubs, assert_gap_free, collect, kinds, unique

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]

WEATHER_PROMPT = "What is the weather in Paris?"
WEATHER_INSTRUCTIONS = (
    "You are a weather assistant. Always call get_weather for weather questions. "
    "After the tool result, answer in one short sentence."
)
#: Bounds a rambling small model, tokens per LLM call.
MAX_TOKENS = 128

PLAIN_PROMPT = "Write two sentences about the sea."
PLAIN_INSTRUCTIONS = "You are a helpful assistant."


async def create_agent(
    stubs: Stubs,
    *,
    instructions: str,
    tools: list[str],
    max_iterations: int = 0,
) -> str:
    """Creates an agent on the ``openai`` provider at the server's model endpoint
    ``LOCAL_ENDPOINT`` (the recording proxy); returns its id."""
    options = struct_pb2.Struct()
    options.update({"endpoint": LOCAL_ENDPOINT, "temperature": 0, "max_tokens": MAX_TOKENS})
    agent_id = unique("realmodel")
    await stubs.agents.CreateAgent(
        agent_pb2.CreateAgentRequest(
            agent_id=agent_id,
            agent=agent_pb2.Agent(
                instructions=instructions,
                model=agent_pb2.Model(provider="openai", name=MODEL_NAME, options=options),
                tools=tools,
                approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
                limits=agent_pb2.Limits(max_iterations=max_iterations),
            ),
        )
    )
    return agent_id


async def stream(
    stubs: Stubs, agent_id: str, prompt: str
) -> tuple[list[event_pb2.RunEvent], float]:
    """Runs ``prompt`` through StreamRun; returns its events and the latency (s)."""
    started = time.perf_counter()
    events = await collect(
        stubs.runs.StreamRun(run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt=prompt))
    )
    return events, time.perf_counter() - started


def of_kind(events: list[event_pb2.RunEvent], kind: str) -> list[tuple[int, Any]]:
    """(position, payload) of the events whose payload is ``kind``."""
    return [(i, getattr(e, kind)) for i, e in enumerate(events) if e.WhichOneof("payload") == kind]


def position(events: list[event_pb2.RunEvent], kind: str, test: Callable[[Any], bool]) -> int:
    """The position of the first ``kind`` event whose payload passes ``test``."""
    return next(i for i, payload in of_kind(events, kind) if test(payload))


def server_usage(base_url: str, body: dict[str, Any]) -> dict[str, int]:
    """Sends ``body`` (non-streamed) straight to the server; returns its ``usage``."""
    request = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps({**body, "stream": False}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        usage: dict[str, int] = json.load(response)["usage"]
    return usage


def check_tool_round(requests: list[dict[str, Any]], status: list[int | None]) -> dict[str, Any]:
    """Checks round 1's requests; returns the one that was answered.

    All offer the tools with ``tool_choice: auto``. The server cannot stream a tool
    call: at most one streamed try (the first on this Runwire server; the provider
    remembers the refusal), then the same request not streamed. None was dropped
    (status None): the server closes the refused stream's connection, which the
    provider does not reuse.
    """
    assert status == [200] * len(requests)
    assert all(r["tools"] and r["tool_choice"] == "auto" for r in requests)
    *streamed, plain = requests
    assert len(streamed) <= 1
    assert all(r["stream"] is True for r in streamed)
    assert plain["stream"] is False
    without_streaming = {"stream", "stream_options"}
    for request in streamed:
        assert {k: v for k, v in request.items() if k not in without_streaming} == {
            k: v for k, v in plain.items() if k not in without_streaming
        }
    return plain


def check_final_round(request: dict[str, Any], call_id: str, result: str) -> None:
    """Round 2 is streamed without tools and ends with the tool call and its result."""
    assert "tools" not in request
    assert request["stream"] is True
    *_, call_message, tool_message = request["messages"]
    assert call_message["role"] == "assistant"
    assert call_message["content"] == ""
    calls = [(c["id"], c["function"]["name"]) for c in call_message["tool_calls"]]
    assert calls == [(call_id, "get_weather")]
    assert tool_message == {"role": "tool", "tool_call_id": call_id, "content": result}


async def test_weather_question_calls_the_tool(
    realmodel: RealModel, measure: Callable[[str], None]
) -> None:
    agent_id = await create_agent(
        realmodel.stubs,
        instructions=WEATHER_INSTRUCTIONS,
        tools=["get_weather"],
        max_iterations=1,
    )
    calls_before = len(weather_tools.CALLS)
    sent_before = len(realmodel.proxy.recorded())
    events, latency = await stream(realmodel.stubs, agent_id, WEATHER_PROMPT)
    sent = realmodel.proxy.recorded()[sent_before:]
    status = realmodel.proxy.status()[sent_before:]
    model_seconds = realmodel.proxy.seconds()[sent_before:]

    assert_gap_free(events)
    assert events[-1].WhichOneof("payload") == "run_finished", kinds(events)
    finished = events[-1].run_finished
    assert finished.state == run_pb2.RUN_STATE_SUCCEEDED, kinds(events)
    assert finished.finish_reason == "max_iterations"  # round 2 was the last, without tools
    assert finished.output.strip()

    # The model called get_weather with a city; the tool ran once; its result came back.
    ((_, start),) = of_kind(events, "tool_call_start")
    assert start.tool_call_name == "get_weather"
    call_id = start.tool_call_id
    arguments = "".join(a.delta for _, a in of_kind(events, "tool_call_args"))
    city = json.loads(arguments).get("city")
    assert isinstance(city, str) and city
    assert weather_tools.CALLS[calls_before:] == [city]
    result_at = position(events, "tool_call_result", lambda r: r.tool_call_id == call_id)
    result = events[result_at].tool_call_result
    assert not result.is_error
    assert weather_tools.FORECAST in result.content

    # A second LLM round ran after the tool result, and the result was in its request.
    step2_at = position(events, "step_started", lambda s: s.step == 2)
    assert result_at < step2_at < position(events, "step_finished", lambda s: s.step == 2)
    answered = check_tool_round(sent[:-1], status[:-1])
    check_final_round(sent[-1], call_id, result.content)
    assert status[-1] == 200
    deltas = len(of_kind(events, "text_message_content"))
    assert deltas >= 1

    # Usage: round 1 (not streamed) is the server's own count, not Runwire's estimate.
    first, total = (u for _, u in of_kind(events, "usage"))  # cumulative, one per round
    server = await asyncio.to_thread(server_usage, realmodel.model.base_url, answered)
    assert first.input_tokens == server["prompt_tokens"] > 0
    assert first.output_tokens == server["completion_tokens"] > 0
    user = ChatMessage(role=Role.USER, content=WEATHER_PROMPT)
    round1 = ModelRequest(model=MODEL_NAME, instructions=WEATHER_INSTRUCTIONS, messages=(user,))
    assert first.input_tokens != estimate_input_tokens(round1)
    assert finished.usage == total
    # Round 2 was streamed, and llama-cpp-python sends no usage in streams (it ignores
    # stream_options.include_usage): Runwire's estimate stands in for it.
    call = ToolCall(id=call_id, name="get_weather", arguments=arguments)
    round2 = ModelRequest(
        model=MODEL_NAME,
        instructions=WEATHER_INSTRUCTIONS,
        messages=(
            user,
            ChatMessage(role=Role.ASSISTANT, tool_calls=(call,)),
            ChatMessage(role=Role.TOOL, content=result.content, tool_call_id=call_id),
        ),
    )
    estimate = estimate_usage(round2, len(finished.output))
    round2_estimated = (
        total.input_tokens - first.input_tokens == estimate.input_tokens
        and total.output_tokens - first.output_tokens == estimate.output_tokens
    )
    measure(
        f"{latency:.2f} s, {len(sent)} model requests ({len(sent) - 2} refused stream; "
        f"{', '.join(f'{s:.2f}' for s in model_seconds)} s), {len(events)} events, "
        f"{deltas} text deltas, get_weather({arguments}), tokens round 1 in "
        f"{first.input_tokens} out {first.output_tokens} (server), total in "
        f"{total.input_tokens} out {total.output_tokens} (round 2 estimated: "
        f"{round2_estimated}), output {finished.output!r}"
    )


async def test_plain_question_streams_deltas(
    realmodel: RealModel, measure: Callable[[str], None]
) -> None:
    agent_id = await create_agent(realmodel.stubs, instructions=PLAIN_INSTRUCTIONS, tools=[])
    sent_before = len(realmodel.proxy.recorded())
    events, latency = await stream(realmodel.stubs, agent_id, PLAIN_PROMPT)
    (sent,) = realmodel.proxy.recorded()[sent_before:]

    assert sent["stream"] is True
    assert "tools" not in sent
    assert_gap_free(events)
    assert events[-1].WhichOneof("payload") == "run_finished", kinds(events)
    finished = events[-1].run_finished
    assert finished.state == run_pb2.RUN_STATE_SUCCEEDED
    assert finished.finish_reason == "stop"
    deltas = [c.delta for _, c in of_kind(events, "text_message_content")]
    assert len(deltas) >= 3, deltas
    assert "".join(deltas) == finished.output
    assert finished.output.strip()
    seen = kinds(events)
    assert not of_kind(events, "tool_call_start")
    assert seen.index("text_message_start") < seen.index("text_message_content")
    assert seen.index("text_message_end") > max(
        i for i, _ in of_kind(events, "text_message_content")
    )
    assert finished.usage.input_tokens > 0
    assert finished.usage.output_tokens > 0
    measure(
        f"{latency:.2f} s, {len(events)} events, {len(deltas)} text deltas, tokens in "
        f"{finished.usage.input_tokens} out {finished.usage.output_tokens} (estimated)"
    )


# --------------------------------------------------------------------------- no model needed


def test_plain_tool_messages() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "echo", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "hi"}]},
        {"role": "tool", "tool_call_id": "nope", "content": "x"},
        {"role": "assistant", "content": "It is sunny."},
    ]
    assert plain_tool_messages(messages) == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": 'I called get_weather({"city": "Paris"}). I called echo({}).',
        },
        {"role": "user", "content": "get_weather returned: sunny"},
        {"role": "user", "content": "echo returned: hi"},
        {"role": "user", "content": "the tool returned: x"},
        {"role": "assistant", "content": "It is sunny."},
    ]


def test_missing_packages_name_the_install_script(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    for call in (
        local_model.find_model_file,
        local_model.check_server_installed,
        LocalModelServer().start,
    ):
        with pytest.raises(LocalModelError, match=r"install_local_model\.sh"):
            call()


@pytest.mark.usefixtures("local_model")  # skips when llama.cpp is not installed
def test_a_server_that_exits_is_reported_with_its_output() -> None:
    server = LocalModelServer(extra_args=["--no-such-option"])
    with pytest.raises(LocalModelError, match="exited with code 2") as caught:
        server.start(timeout_seconds=60)
    assert "--no-such-option" in str(caught.value)
    assert not server.running


async def test_weather_question_calls_an_mcp_tool(realmodel: RealModel) -> None:
    """The same question through an MCP toolset: the model is offered ``wx_forecast``
    (tests/realmodel/weather_mcp.py over stdio, the official SDK's server), calls it,
    and its answer comes back from the MCP server as the tool result."""
    options = struct_pb2.Struct()
    options.update({"endpoint": LOCAL_ENDPOINT, "temperature": 0, "max_tokens": MAX_TOKENS})
    agent_id = unique("realmodel-mcp")
    await realmodel.stubs.agents.CreateAgent(
        agent_pb2.CreateAgentRequest(
            agent_id=agent_id,
            agent=agent_pb2.Agent(
                instructions=(
                    "You are a weather assistant. Always call wx_forecast for weather "
                    "questions. After the tool result, answer in one short sentence."
                ),
                model=agent_pb2.Model(provider="openai", name=MODEL_NAME, options=options),
                toolsets=["wx"],
                approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
                limits=agent_pb2.Limits(max_iterations=1),
            ),
        )
    )
    events, _ = await stream(realmodel.stubs, agent_id, WEATHER_PROMPT)
    assert_gap_free(events)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, kinds(events)
    ((_, start),) = of_kind(events, "tool_call_start")
    assert start.tool_call_name == "wx_forecast", kinds(events)
    result_at = position(events, "tool_call_result", lambda r: r.tool_call_id == start.tool_call_id)
    result = events[result_at].tool_call_result
    assert not result.is_error, result.content
    assert MCP_FORECAST in result.content
