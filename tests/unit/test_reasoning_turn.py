"""Reasoning in one model turn: events, whole texts on end events, what the message keeps.

The turn (``stream_model_turn``) is fed by real providers' chunk mappers where a
stream is needed (the scripted provider) and by a provider of given chunks where a
provider's exact chunks matter (Anthropic's signed and redacted blocks).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Sequence

from runwire.v1 import event_pb2

from runwire_server.service.agent.model_turn import reasoning_id, stream_model_turn
from runwire_server.service.core.messages import (
    ChatMessage,
    ReasoningPart,
    Role,
    ToolCall,
    ToolSpec,
    Usage,
)
from runwire_server.service.llm.anthropic import to_anthropic_messages
from runwire_server.service.llm.base import (
    ModelChunk,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from runwire_server.service.llm.coalesce import Coalescing, coalesce_text
from runwire_server.service.llm.scripted import ScriptedProvider

RSN_ID = re.compile(r"rsn_[0-9a-f]{32}")


class GivenChunks:
    """A provider that streams the same chunks for every request."""

    def __init__(self, chunks: Sequence[ModelChunk]) -> None:
        self._chunks = list(chunks)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        for chunk in self._chunks:
            yield chunk


async def turn_events(
    provider: object, request: ModelRequest, coalescing: Coalescing | None = None
) -> tuple[list[event_pb2.RunEvent], ChatMessage, Usage]:
    events: list[event_pb2.RunEvent] = []

    async def emit(event: event_pb2.RunEvent) -> None:
        events.append(event)

    turn = await stream_model_turn(
        provider,  # type: ignore[arg-type]
        request,
        message_id="msg_" + "a" * 32,
        emit=emit,
        coalescing=coalescing,
    )
    return events, turn.message, turn.usage


def kinds(events: list[event_pb2.RunEvent]) -> list[str]:
    return [str(e.WhichOneof("payload")) for e in events]


def scripted(turn: dict[str, object], *, chunk_chars: int = 4) -> ModelRequest:
    return ModelRequest(
        model="",
        options={"script": [turn], "chunk_chars": chunk_chars},
        messages=(ChatMessage(role=Role.USER, content="Hi"),),
        tools=(),
        step=1,
    )


async def test_scripted_reasoning_streams_first_and_stays_out_of_the_answer() -> None:
    request = scripted({"reasoning": "Think about it.", "text": "The answer."})
    events, message, usage = await turn_events(ScriptedProvider(), request)

    assert kinds(events) == [
        "reasoning_start",
        *["reasoning_content"] * 4,
        "reasoning_end",
        "text_message_start",
        *["text_message_content"] * 3,
        "text_message_end",
    ]
    start, end = events[0].reasoning_start, events[5].reasoning_end
    assert RSN_ID.fullmatch(start.message_id)
    assert {e.reasoning_content.message_id for e in events[1:5]} == {start.message_id}
    assert end.message_id == start.message_id
    assert end.text == "Think about it."
    assert "".join(e.reasoning_content.delta for e in events[1:5]) == end.text
    assert events[-1].text_message_end.text == "The answer."
    assert message.content == "The answer."
    assert message.reasoning == ()  # nothing a provider needs back
    # Usage is as without reasoning.
    _, _, plain_usage = await turn_events(ScriptedProvider(), scripted({"text": "The answer."}))
    assert usage == plain_usage


async def test_end_events_carry_the_whole_text_and_arguments() -> None:
    request = ModelRequest(
        model="",
        options={
            "script": [
                {
                    "text": "Let me compute.",
                    "tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}],
                }
            ],
            "chunk_chars": 3,
        },
        messages=(ChatMessage(role=Role.USER, content="6*7?"),),
        tools=(),
        step=1,
    )
    request = dataclasses.replace(request, tools=(ToolSpec(name="calculator"),))
    events, message, _ = await turn_events(ScriptedProvider(), request)

    (text_end,) = [e.text_message_end for e in events if e.HasField("text_message_end")]
    (call_end,) = [e.tool_call_end for e in events if e.HasField("tool_call_end")]
    assert text_end.text == "Let me compute." == message.content
    assert call_end.arguments == '{"expression":"6*7"}' == message.tool_calls[0].arguments
    deltas = "".join(e.tool_call_args.delta for e in events if e.HasField("tool_call_args"))
    assert deltas == call_end.arguments


ANTHROPIC_LIKE: list[ModelChunk] = [
    ReasoningDelta(index=0, text="First, "),
    ReasoningDelta(index=0, text="think."),
    ReasoningDelta(index=0, signature="sig-1"),
    ReasoningDelta(index=1, redacted="opaque-data"),
    TextDelta(text="Calling."),
    ToolCallDelta(index=0, id="toolu_1", name="calculator", arguments='{"expression":'),
    ToolCallDelta(index=0, arguments='"1+1"}'),
    UsageReport(usage=Usage(input_tokens=10, output_tokens=20)),
]


async def test_signed_and_redacted_blocks_are_kept_for_the_provider() -> None:
    events, message, usage = await turn_events(GivenChunks(ANTHROPIC_LIKE), scripted({"text": ""}))

    assert kinds(events) == [
        "reasoning_start",
        "reasoning_content",
        "reasoning_content",
        "reasoning_end",
        "reasoning_start",
        "reasoning_end",
        "text_message_start",
        "text_message_content",
        "tool_call_start",
        "tool_call_args",
        "tool_call_args",
        "text_message_end",
        "tool_call_end",
    ]
    first, second = events[0].reasoning_start.message_id, events[4].reasoning_start.message_id
    assert first != second
    assert first == reasoning_id("msg_" + "a" * 32, 0)
    assert second == reasoning_id("msg_" + "a" * 32, 1)
    assert events[3].reasoning_end.text == "First, think."
    assert events[5].reasoning_end.text == ""  # redacted: no text is shown
    assert "opaque-data" not in str(events) and "sig-1" not in str(events)
    assert message.content == "Calling."
    assert message.reasoning == (
        ReasoningPart(text="First, think.", signature="sig-1"),
        ReasoningPart(redacted="opaque-data"),
    )
    assert usage == Usage(input_tokens=10, output_tokens=20)
    assert message.without_reasoning().reasoning == ()
    # A message without reasoning serializes as before the field existed.
    assert "reasoning" not in message.without_reasoning().model_dump(mode="json")
    assert ChatMessage.model_validate(message.model_dump(mode="json")) == message


async def test_reasoning_deltas_are_coalesced_like_text_within_a_block() -> None:
    chunks: list[ModelChunk] = [
        *(ReasoningDelta(index=0, text=c) for c in "abcdef"),
        ReasoningDelta(index=0, signature="s"),
        *(ReasoningDelta(index=1, text=c) for c in "xy"),
        *(TextDelta(text=c) for c in "hello"),
    ]

    async def source() -> AsyncIterator[ModelChunk]:
        for chunk in chunks:
            yield chunk

    merged = [c async for c in coalesce_text(source(), Coalescing(window_seconds=5, max_chars=4))]
    assert merged == [
        ReasoningDelta(index=0, text="abcd"),
        ReasoningDelta(index=0, text="ef"),
        ReasoningDelta(index=0, signature="s"),
        ReasoningDelta(index=1, text="xy"),
        TextDelta(text="hell"),
        TextDelta(text="o"),
    ]
    events, message, _ = await turn_events(
        GivenChunks(chunks), scripted({"text": ""}), Coalescing(window_seconds=5, max_chars=4)
    )
    ends = [e.reasoning_end.text for e in events if e.HasField("reasoning_end")]
    assert ends == ["abcdef", "xy"]
    assert message.reasoning == (ReasoningPart(text="abcdef", signature="s"),)


def test_anthropic_gets_back_reasoning_of_the_tool_use_turn_only() -> None:
    signed = (ReasoningPart(text="old thought", signature="sig-old"),)
    current = (ReasoningPart(text="new thought", signature="sig-new"), ReasoningPart(redacted="r"))
    call = ToolCall(id="toolu_1", name="calculator", arguments='{"expression":"1+1"}')
    messages = [
        ChatMessage(role=Role.USER, content="first question"),
        ChatMessage(role=Role.ASSISTANT, content="first answer", reasoning=signed),
        ChatMessage(role=Role.USER, content="second question"),
        ChatMessage(role=Role.ASSISTANT, content="", tool_calls=(call,), reasoning=current),
        ChatMessage(role=Role.TOOL, content="2", tool_call_id="toolu_1"),
    ]
    turns = to_anthropic_messages(messages)

    assert turns[1] == {"role": "assistant", "content": "first answer"}  # no reasoning back
    assert turns[3]["role"] == "assistant"
    assert list(turns[3]["content"]) == [
        {"type": "thinking", "thinking": "new thought", "signature": "sig-new"},
        {"type": "redacted_thinking", "data": "r"},
        {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "1+1"}},
    ]
