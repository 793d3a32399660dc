"""Domain types of the agent loop: messages, tool calls, tool specs, usage.

These are plain pydantic models so that both runtimes can carry them: the
in-process runtime passes them as objects, the Temporal runtime serializes
them as JSON through its pydantic data converter.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)


class Role(StrEnum):
    """Who said a message; the values are the Chat Completions role names."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class ToolCall(BaseModel):
    """A tool call the model made.

    Attributes:
        id: The tool call's id, unique within the run (from the provider, or
            generated as ``call_<step>_<index>``).
        name: The tool's name.
        arguments: The arguments as JSON text, exactly as the model gave them
            (possibly malformed; parsed by ``parse_arguments``).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: str = "{}"

    def parse_arguments(self) -> dict[str, Any]:
        """Returns the arguments as a JSON object.

        Raises:
            ValueError: the text is not JSON or not a JSON object.
        """
        text = self.arguments.strip() or "{}"
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("tool call arguments must be a JSON object")
        return value


class ReasoningPart(BaseModel):
    """A block of the model's reasoning that the provider must get back.

    Only signed or redacted blocks are kept (Anthropic's thinking blocks, which
    the Messages API requires again on the following calls of the same
    tool-use turn); reasoning no provider needs back (``reasoning_content``)
    is only streamed as events, never kept on a message.

    Attributes:
        text: The reasoning text, exactly as streamed (empty when redacted).
        signature: The provider's signature of ``text``.
        redacted: The opaque data of a redacted block; empty otherwise.
    """

    model_config = ConfigDict(frozen=True)

    text: str = ""
    signature: str = ""
    redacted: str = ""


class ChatMessage(BaseModel):
    """One message of a conversation, as sent to a model and kept in threads.

    Attributes:
        role: Who said it.
        content: The text; for a tool message, the tool's result.
        tool_calls: With ``Role.ASSISTANT``, the tool calls the model made.
        tool_call_id: With ``Role.TOOL``, the call this result answers.
        message_id: Stable id (``msg_...``), used in events and threads.
        run_id: The run that added the message; empty for history supplied
            otherwise.
        reasoning: With ``Role.ASSISTANT``, the reasoning blocks the provider
            must get back, in the order streamed (see ``ReasoningPart``); never
            part of ``content``, dropped from thread history
            (``without_reasoning``).
    """

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""
    message_id: str = ""
    run_id: str = ""
    reasoning: tuple[ReasoningPart, ...] = ()

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Without reasoning a message serializes as before the field existed:
        # Temporal payloads and stored threads stay byte for byte the same.
        data: dict[str, Any] = handler(self)
        if not self.reasoning:
            data.pop("reasoning", None)
        return data

    def without_reasoning(self) -> ChatMessage:
        """This message without its ``reasoning`` (itself when it has none): what
        a thread keeps."""
        return self.model_copy(update={"reasoning": ()}) if self.reasoning else self


class ToolSpec(BaseModel):
    """A tool as offered to the model.

    Attributes:
        name: The name the model calls.
        description: What the tool does, shown to the model.
        parameters: JSON Schema (an object schema) of the arguments.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class Usage(BaseModel):
    """Token counts, as reported by the provider (or estimated by ``scripted``)."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """input_tokens + output_tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )
