"""Reasoning events from every source, on every runtime.

- The scripted model's ``reasoning`` (the parity ``server``).
- A fake OpenAI-compatible server on loopback that streams ``reasoning_content``
  (vLLM, llama.cpp, DeepSeek) and, on the next call, ``reasoning``.
- A fake Anthropic Messages API on loopback that streams a signed ``thinking``
  block and a ``redacted_thinking`` block before a tool call: both must come back,
  first in the assistant turn, on the next call of that tool-use turn, and never
  on a later turn.

Reasoning is shown as ``reasoning_*`` events only: never in the run's output,
never sent to an OpenAI-compatible server, never in a thread's messages.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from runwire.v1 import agent_pb2, event_pb2, run_service_pb2, thread_pb2

from tests.conftest import RUNTIMES, server_settings
from tests.fake_models import FakeHandler, LoopbackServer, serving, without_proxies
from tests.support import (
    PARITY_TOKEN,
    Stubs,
    collect,
    create_agent,
    kinds,
    parity_auth,
    running_server,
    struct,
    unique,
)

RSN_ID = re.compile(r"rsn_[0-9a-f]{32}")


def reasoning_blocks(events: list[event_pb2.RunEvent]) -> list[tuple[str, str, str]]:
    """Each reasoning block as (id, its deltas joined, its end's text), checking that
    its events come in order: start, contents, end."""
    blocks: list[tuple[str, str, str]] = []
    open_id, deltas = "", ""
    for event in events:
        kind = event.WhichOneof("payload")
        if kind == "reasoning_start":
            assert not open_id, "a reasoning block started inside another"
            open_id, deltas = event.reasoning_start.message_id, ""
        elif kind == "reasoning_content":
            assert event.reasoning_content.message_id == open_id
            deltas += event.reasoning_content.delta
        elif kind == "reasoning_end":
            assert event.reasoning_end.message_id == open_id
            blocks.append((open_id, deltas, event.reasoning_end.text))
            open_id = ""
        elif open_id:
            raise AssertionError(f"{kind} inside reasoning block {open_id}")
    assert not open_id, "a reasoning block never ended"
    return blocks


async def thread_texts(stubs: Stubs, thread_id: str) -> str:
    response = await stubs.threads.ListThreadMessages(
        thread_pb2.ListThreadMessagesRequest(thread_id=thread_id, page_size=100)
    )
    return str(list(response.messages))


# ------------------------------------------------------------------ scripted model


async def test_scripted_reasoning_is_streamed_and_kept_out_of_output_and_thread(
    stubs: Stubs,
) -> None:
    agent = await create_agent(
        stubs,
        [
            {
                "reasoning": "Use the calculator for this.",
                "tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}],
            },
            {"reasoning": "It said 42.", "text": "The answer is 42."},
        ],
        tools=["calculator"],
    )
    thread = await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread_id=unique("thread"))
    )
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="6*7?", thread_id=thread.thread.thread_id
            )
        )
    )
    blocks = reasoning_blocks(events)
    assert [(deltas, text) for _, deltas, text in blocks] == [
        ("Use the calculator for this.",) * 2,
        ("It said 42.",) * 2,
    ]
    assert all(RSN_ID.fullmatch(block_id) for block_id, _, _ in blocks)
    assert len({block_id for block_id, _, _ in blocks}) == 2
    # Each round reasons first, then speaks or calls.
    first_step = kinds(events)[kinds(events).index("step_started") :]
    assert first_step[1] == "reasoning_start"
    finished = events[-1].run_finished
    assert finished.output == "The answer is 42."
    assert "calculator for this" not in await thread_texts(stubs, thread.thread.thread_id)


# ------------------------------------------------------------- fake model servers


class ReasoningModels(LoopbackServer):
    """A Chat Completions API (``/v1/chat/completions``) and a Messages API
    (``/v1/messages``) whose models reason; keeps every request's JSON body."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []

    def requests_for(self, model: str) -> list[dict[str, Any]]:
        """The bodies of the requests for ``model``, in order."""
        with self.lock:
            return [b for b in self.bodies if b.get("model") == model]


class _Handler(FakeHandler):
    server: ReasoningModels

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        with self.server.lock:
            self.server.bodies.append(body)
        if self.path.endswith("/chat/completions"):
            self.send_events(_openai_answer(body))
        elif self.path.endswith("/messages"):
            self.send_events(_anthropic_answer(body))
        else:
            self.send_json(404, {"error": "not found"})


def _sse(name: str, data: dict[str, Any]) -> str:
    return (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"


def _openai_chunk(delta: dict[str, Any], **extra: Any) -> str:
    return _sse(
        "",
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            **extra,
        },
    )


def _openai_answer(body: dict[str, Any]) -> list[str]:
    """First call: ``reasoning_content`` then a tool call; after the tool's
    result: ``reasoning`` (the other name servers use) then the answer."""
    answered = any(m.get("role") == "tool" for m in body["messages"])
    if not answered:
        chunks = [
            _openai_chunk({"role": "assistant", "reasoning_content": "Six times "}),
            _openai_chunk({"reasoning_content": "seven: ask the tool."}),
            _openai_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_r1",
                            "type": "function",
                            "function": {
                                "name": "calculator",
                                "arguments": '{"expression": "6*7"}',
                            },
                        }
                    ]
                }
            ),
        ]
    else:
        chunks = [
            _openai_chunk({"role": "assistant", "reasoning": "The tool said 42."}),
            _openai_chunk({"content": "It is 42."}),
        ]
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    chunks.append(
        _sse(
            "",
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m",
                "choices": [],
                "usage": usage,
            },
        )
    )
    chunks.append("data: [DONE]\n\n")
    return chunks


def _block(index: int, block: dict[str, Any], *deltas: dict[str, Any]) -> list[str]:
    events = [
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )
    ]
    events += [
        _sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
        for d in deltas
    ]
    events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _anthropic_answer(body: dict[str, Any]) -> list[str]:
    """First call of a turn: a signed thinking block, a redacted one, a tool call;
    after the tool's result: a signed thinking block and the answer."""
    last = body["messages"][-1]
    answered = isinstance(last["content"], list) and any(
        block.get("type") == "tool_result" for block in last["content"]
    )
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [],
        "usage": {"input_tokens": 20, "output_tokens": 1},
    }
    events = [_sse("message_start", {"type": "message_start", "message": message})]
    if not answered:
        events += _block(
            0,
            {"type": "thinking", "thinking": "", "signature": ""},
            {"type": "thinking_delta", "thinking": "I should "},
            {"type": "thinking_delta", "thinking": "use the calculator."},
            {"type": "signature_delta", "signature": "sig-first"},
        )
        events += _block(1, {"type": "redacted_thinking", "data": "REDACTED-DATA"})
        events += _block(
            2,
            {"type": "tool_use", "id": "toolu_r1", "name": "calculator", "input": {}},
            {"type": "input_json_delta", "partial_json": '{"expression": "6*7"}'},
        )
        stop = "tool_use"
    else:
        events += _block(
            0,
            {"type": "thinking", "thinking": "", "signature": ""},
            {"type": "thinking_delta", "thinking": "It is 42."},
            {"type": "signature_delta", "signature": "sig-second"},
        )
        events += _block(
            1,
            {"type": "text", "text": ""},
            {"type": "text_delta", "text": "The answer is 42."},
        )
        stop = "end_turn"
    events.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop},
                "usage": {"output_tokens": 9},
            },
        )
    )
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return events


@pytest.fixture(scope="module")
def models() -> Iterator[ReasoningModels]:
    with pytest.MonkeyPatch.context() as patch:
        without_proxies(patch)
        with serving(ReasoningModels()) as server:
            yield server


@pytest.fixture(scope="module", params=RUNTIMES)
async def fake_stubs(
    request: pytest.FixtureRequest,
    redis_url: str,
    temporal_address: str,
    models: ReasoningModels,
) -> AsyncIterator[Stubs]:
    """A parity-suite server (``request.param``) whose model endpoints are ``models``."""
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        auth=parity_auth(),
        model_endpoints=[
            {"name": "thinking-openai", "provider": "openai", "base_url": f"{models.url}/v1"},
            {"name": "thinking-anthropic", "provider": "anthropic", "base_url": models.url},
        ],
    )
    async with running_server(settings) as server:
        client = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
        yield client
        await client.channel.close()


async def model_agent(stubs: Stubs, model: agent_pb2.Model) -> str:
    agent = agent_pb2.Agent(
        instructions="You are a test agent.",
        model=model,
        tools=["calculator"],
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
    )
    response = await stubs.agents.CreateAgent(
        agent_pb2.CreateAgentRequest(agent_id=unique("agent"), agent=agent)
    )
    return str(response.agent.agent_id)


async def run_on_thread(stubs: Stubs, agent_id: str, thread_id: str) -> list[event_pb2.RunEvent]:
    return await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent_id, prompt="What is 6*7?", thread_id=thread_id
            )
        )
    )


async def new_thread(stubs: Stubs) -> str:
    response = await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread_id=unique("thread"))
    )
    return str(response.thread.thread_id)


async def test_reasoning_content_of_an_openai_compatible_server_is_streamed_never_sent_back(
    fake_stubs: Stubs, models: ReasoningModels
) -> None:
    name = unique("qwen")
    agent_id = await model_agent(
        fake_stubs,
        agent_pb2.Model(
            provider="openai", name=name, options=struct({"endpoint": "thinking-openai"})
        ),
    )
    thread_id = await new_thread(fake_stubs)
    events = await run_on_thread(fake_stubs, agent_id, thread_id)

    assert [(d, t) for _, d, t in reasoning_blocks(events)] == [
        ("Six times seven: ask the tool.",) * 2,
        ("The tool said 42.",) * 2,
    ]
    assert events[-1].run_finished.output == "It is 42."
    assert events[-1].run_finished.usage.total_tokens == 36  # the server's usage, twice
    _, second = models.requests_for(name)
    assert "Six times" not in json.dumps(second)  # never sent back
    (assistant,) = [m for m in second["messages"] if m["role"] == "assistant"]
    assert not {"reasoning_content", "reasoning"} & set(assistant)
    assert "Six times" not in await thread_texts(fake_stubs, thread_id)


async def test_anthropic_thinking_is_streamed_and_signed_blocks_go_back_within_the_turn(
    fake_stubs: Stubs, models: ReasoningModels
) -> None:
    name = unique("claude")
    options = {"endpoint": "thinking-anthropic", "thinking_budget_tokens": 1024}
    agent_id = await model_agent(
        fake_stubs, agent_pb2.Model(provider="anthropic", name=name, options=struct(options))
    )
    thread_id = await new_thread(fake_stubs)
    events = await run_on_thread(fake_stubs, agent_id, thread_id)

    blocks = reasoning_blocks(events)
    assert [(d, t) for _, d, t in blocks] == [
        ("I should use the calculator.",) * 2,
        ("", ""),  # redacted: an end with no text
        ("It is 42.",) * 2,
    ]
    assert "REDACTED-DATA" not in str(events) and "sig-first" not in str(events)
    assert events[-1].run_finished.output == "The answer is 42."

    first, second = models.requests_for(name)
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert first["max_tokens"] > 1024
    # The tool-use turn's next call gets both blocks back, first, as streamed.
    assistant = second["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"] == [
        {"type": "thinking", "thinking": "I should use the calculator.", "signature": "sig-first"},
        {"type": "redacted_thinking", "data": "REDACTED-DATA"},
        {
            "type": "tool_use",
            "id": "toolu_r1",
            "name": "calculator",
            "input": {"expression": "6*7"},
        },
    ]

    # A later turn on the thread sends none of the earlier reasoning.
    await run_on_thread(fake_stubs, agent_id, thread_id)
    third = models.requests_for(name)[2]
    assert third["messages"][0]["content"] == "What is 6*7?"
    sent = json.dumps(third["messages"])
    assert "thinking" not in sent and "REDACTED-DATA" not in sent
    assert "use the calculator" not in await thread_texts(fake_stubs, thread_id)
