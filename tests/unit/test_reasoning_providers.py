"""Each provider's reasoning, chunk by chunk: OpenAI-compatible ``reasoning_content``
/ ``reasoning`` (streamed and whole), Anthropic thinking events, scripted turns."""

from __future__ import annotations

from anthropic.types import RawContentBlockDeltaEvent, RawContentBlockStartEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from runwire_server.service.llm.anthropic import _EventMapper
from runwire_server.service.llm.base import ReasoningDelta, TextDelta
from runwire_server.service.llm.openai import _ChunkMapper, reasoning_text
from runwire_server.service.llm.scripted import ScriptedOptions


def chunk(delta: dict[str, object]) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": delta}],
        }
    )


def test_openai_compatible_reasoning_comes_before_the_text_of_its_chunk() -> None:
    mapper = _ChunkMapper(step=1)
    assert mapper.map(chunk({"reasoning_content": "think", "content": "say"})) == [
        ReasoningDelta(text="think"),
        TextDelta(text="say"),
    ]
    assert mapper.map(chunk({"reasoning": "other name"})) == [ReasoningDelta(text="other name")]
    assert mapper.map(chunk({"reasoning_content": None, "content": "x"})) == [TextDelta(text="x")]
    # Reasoning is not the answer: no output characters (the usage estimate is unchanged).
    assert mapper.output_chars == len("say") + len("x")


def test_a_whole_completion_gives_its_reasoning_first() -> None:
    completion = ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": "42",
                        "reasoning_content": "6*7",
                    },
                }
            ],
        }
    )
    assert _ChunkMapper(step=1).map_completion(completion) == [
        ReasoningDelta(text="6*7"),
        TextDelta(text="42"),
    ]
    assert reasoning_text(object()) == ""


def test_anthropic_thinking_signature_and_redacted_blocks() -> None:
    mapper = _EventMapper()
    start = RawContentBlockStartEvent.model_validate(
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        }
    )
    assert mapper.map(start) == []
    thinking = RawContentBlockDeltaEvent.model_validate(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        }
    )
    signature = RawContentBlockDeltaEvent.model_validate(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "sig"},
        }
    )
    redacted = RawContentBlockStartEvent.model_validate(
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "redacted_thinking", "data": "opaque"},
        }
    )
    assert mapper.map(thinking) == [ReasoningDelta(index=0, text="hmm")]
    assert mapper.map(signature) == [ReasoningDelta(index=0, signature="sig")]
    assert mapper.map(redacted) == [ReasoningDelta(index=1, redacted="opaque")]
    assert mapper.output_chars == 0


def test_scripted_turns_take_reasoning_but_not_alone() -> None:
    ok = {"script": [{"reasoning": "r", "text": "t"}]}
    assert ScriptedOptions.violations(ok) == {}
    assert ScriptedOptions.violations({"script": [{"reasoning": "only"}]}) != {}
