"""The scripted provider: turns, chunking, tool calls, usage estimate, option checks."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from runwire_server.service.core.messages import ChatMessage, Role, ToolCall, ToolSpec, Usage
from runwire_server.service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
)
from runwire_server.service.llm.base import UsageReport as UsageChunk
from runwire_server.service.llm.scripted import ScriptedOptions, ScriptedProvider

TOOLS = (ToolSpec(name="calculator"), ToolSpec(name="echo"))


def request(
    options: dict[str, Any], *, step: int = 1, tools: bool = True, **kw: Any
) -> ModelRequest:
    return ModelRequest(model="", options=options, step=step, tools=TOOLS if tools else (), **kw)


async def play(req: ModelRequest) -> list[ModelChunk]:
    return [chunk async for chunk in ScriptedProvider().stream(req)]


def text_of(chunks: list[ModelChunk]) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextDelta))


def calls_of(chunks: list[ModelChunk]) -> list[dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        if isinstance(c, ToolCallDelta):
            call = calls.setdefault(c.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += c.id
            call["name"] += c.name
            call["arguments"] += c.arguments
    return [calls[i] for i in sorted(calls)]


def usage_of(chunks: list[ModelChunk]) -> Usage:
    assert isinstance(chunks[-1], UsageChunk)
    assert sum(isinstance(c, UsageChunk) for c in chunks) == 1
    return chunks[-1].usage


async def test_text_turn_is_streamed_in_chunks() -> None:
    text = "The quick brown fox jumps over the lazy dog."
    chunks = await play(request({"script": [{"text": text}], "chunk_chars": 10}))

    deltas = [c for c in chunks if isinstance(c, TextDelta)]
    assert [d.text for d in deltas] == [text[i : i + 10] for i in range(0, len(text), 10)]
    assert text_of(chunks) == text
    assert calls_of(chunks) == []


async def test_default_chunk_size_is_16() -> None:
    chunks = await play(request({"script": [{"text": "x" * 40}]}))
    assert [len(c.text) for c in chunks if isinstance(c, TextDelta)] == [16, 16, 8]


async def test_tool_call_turn_reassembles() -> None:
    arguments = {"expression": "(2 + 3) * 4", "note": "ünïcode"}
    script = [
        {"text": "let me compute"},
        {
            "text": "calling",
            "tool_calls": [
                {"name": "calculator", "arguments": arguments},
                {"name": "echo", "arguments": {"text": "hi"}},
                {"name": "echo"},
            ],
        },
    ]
    chunks = await play(request({"script": script, "chunk_chars": 5}, step=2))

    assert text_of(chunks) == "calling"
    first_call = next(i for i, c in enumerate(chunks) if isinstance(c, ToolCallDelta))
    assert all(isinstance(c, TextDelta) for c in chunks[:first_call])  # text first
    assert calls_of(chunks) == [
        {
            "id": "call_2_0",
            "name": "calculator",
            "arguments": json.dumps(arguments, separators=(",", ":")),
        },
        {"id": "call_2_1", "name": "echo", "arguments": '{"text":"hi"}'},
        {"id": "call_2_2", "name": "echo", "arguments": "{}"},
    ]
    deltas = [c for c in chunks if isinstance(c, ToolCallDelta) and c.index == 0]
    assert len(deltas) > 1
    assert all(len(d.arguments) <= 5 for d in deltas)
    assert deltas[0].id and deltas[0].name
    assert all(d.id == "" and d.name == "" for d in deltas[1:])
    assert json.loads(calls_of(chunks)[0]["arguments"]) == arguments


async def test_exhausted_script_answers_done() -> None:
    options = {"script": [{"text": "only turn"}]}
    for step in (2, 5):
        chunks = await play(request(options, step=step))
        assert text_of(chunks) == "done"
        assert calls_of(chunks) == []
    assert text_of(await play(request({}))) == "done"


async def test_tool_turn_without_tools_offered_answers_done() -> None:
    script = [{"text": "x", "tool_calls": [{"name": "echo", "arguments": {"text": "a"}}]}]
    chunks = await play(request({"script": script}, tools=False))
    assert text_of(chunks) == "done"
    assert calls_of(chunks) == []


async def test_usage_estimate() -> None:
    messages = (
        ChatMessage(role=Role.USER, content="a" * 10),  # ceil(10/4) = 3
        ChatMessage(
            role=Role.ASSISTANT,
            content="",
            tool_calls=(ToolCall(id="c", name="echo", arguments='{"text":"hi"}'),),
        ),  # 13 chars -> 4
        ChatMessage(role=Role.TOOL, content="", tool_call_id="c"),  # empty -> 1
    )
    script = [{"text": "x" * 9, "tool_calls": [{"name": "echo", "arguments": {"a": 1}}]}]
    req = request({"script": script}, instructions="i" * 8, messages=messages)  # 8 -> 2

    usage = usage_of(await play(req))

    assert usage.input_tokens == 2 + 3 + 4 + 1
    assert usage.output_tokens == 4  # 9 chars of text + 7 of '{"a":1}' = 16 -> 4


async def test_usage_estimate_minimums() -> None:
    usage = usage_of(await play(request({"script": [{"text": ""}]})))
    assert usage == Usage(input_tokens=0, output_tokens=1)


async def test_delay_ms_paces_deltas() -> None:
    options = {"script": [{"text": "abcdef"}], "chunk_chars": 2, "delay_ms": 20}
    started = time.monotonic()
    chunks = await play(request(options))
    assert text_of(chunks) == "abcdef"
    assert time.monotonic() - started >= 0.05  # 3 deltas x 20 ms, loosely


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"script": "nope"}, {"script": "Input should be a valid list"}),
        ({"script": [{}]}, {"script[0]": 'a turn needs "text", "tool_calls" or both'}),
        (
            {"script": [{"text": "ok"}, {"tool_calls": [{"name": "x"}, {"arguments": {}}]}]},
            {"script[1].tool_calls[1].name": "Field required"},
        ),
        (
            {"script": [{"tool_calls": [{"name": ""}]}]},
            {"script[0].tool_calls[0].name": "String should have at least 1 character"},
        ),
        (
            {"script": [{"tool_calls": [{"name": "x", "arguments": [1]}]}]},
            {"script[0].tool_calls[0].arguments": "Input should be a valid dictionary"},
        ),
        ({"script": [{"tool_calls": []}]}, {"script[0].tool_calls": "List should have at least"}),
        ({"script": [{"text": 3}]}, {"script[0].text": "Input should be a valid string"}),
        ({"script": [{"txt": "a"}]}, {"script[0].txt": "Extra inputs are not permitted"}),
        ({"chunk_chars": 0}, {"chunk_chars": "greater than or equal to 1"}),
        ({"chunk_chars": "4"}, {"chunk_chars": "must be a number"}),
        ({"chunk_chars": True}, {"chunk_chars": "must be a number"}),
        ({"delay_ms": -1}, {"delay_ms": "greater than or equal to 0"}),
        ({"delay_ms": float("inf")}, {"delay_ms": "must be a finite number"}),
        ({"chunk_chars": 2.5}, {"chunk_chars": "fractional part"}),
        ({"temperature": 0.2}, {"temperature": "unknown option; scripted takes: chunk_chars"}),
    ],
)
def test_validate_reports_violations(options: dict[str, Any], expected: dict[str, str]) -> None:
    violations = ScriptedOptions.violations(options)
    assert set(violations) == set(expected), violations
    for path, fragment in expected.items():
        assert fragment in violations[path]


def test_validate_accepts_good_options() -> None:
    options = {
        "script": [
            {"text": "hi"},
            {"tool_calls": [{"name": "echo", "arguments": {"text": "x"}}]},
            {"text": "", "tool_calls": [{"name": "echo"}]},
        ],
        "chunk_chars": 4.0,  # protobuf Struct numbers are doubles
        "delay_ms": 2.5,
    }
    assert ScriptedOptions.violations(options) == {}
    parsed = ScriptedOptions.parse(options)
    assert (parsed.chunk_chars, parsed.delay_ms, len(parsed.script)) == (4, 2.5, 3)


async def test_malformed_options_raise_at_stream_time() -> None:
    with pytest.raises(ModelError) as caught:
        await play(request({"script": [{"tool_calls": [{"name": 1}]}]}))
    assert caught.value.provider == "scripted"
    assert not caught.value.retryable
    assert caught.value.reason == "MODEL_ERROR"
    assert "script[0].tool_calls[0].name" in caught.value.message
