"""The ``scripted`` provider: a deterministic model for tests, demos and benchmarks.

An agent using it carries its answers in ``model.options``::

    {
        "script": [
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
            {"text": "The answer is 42."}
        ],
        "chunk_chars": 16,
        "delay_ms": 0
    }

Round ``step`` of a run plays ``script[step - 1]``; see ``ScriptedProvider``.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from service.core.messages import Usage
from service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)

#: The text answered when the script is used up or a tool turn cannot be played.
DONE_TEXT = "done"

#: Characters per estimated token (see ``estimate_tokens``).
CHARS_PER_TOKEN = 4

_PROVIDER = "scripted"


def _reject_non_numbers(value: object) -> object:
    # Lax pydantic would accept "16" or True as numbers; options are JSON, so be strict
    # about the kind while still accepting 16.0 (protobuf Struct numbers are doubles).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


class ScriptedToolCall(BaseModel):
    """One tool call of a scripted turn.

    Attributes:
        name: The tool's name (non-empty).
        arguments: The arguments, a JSON object.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptedTurn(BaseModel):
    """One scripted model answer: text, tool calls, or both (text is streamed first).

    Attributes:
        text: The assistant's text, or None.
        tool_calls: The tool calls (at least one when given), or None.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    tool_calls: list[ScriptedToolCall] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _has_content(self) -> ScriptedTurn:
        if self.text is None and self.tool_calls is None:
            raise ValueError('a turn needs "text", "tool_calls" or both')
        return self


class ScriptedOptions(BaseModel):
    """The ``scripted`` provider's options (``Agent.model.options``).

    Unknown top-level keys are ignored (options shared with other providers, such as
    ``temperature``, do no harm); unknown keys inside turns and tool calls are errors.

    Attributes:
        script: The turns, played in order, one per LLM round.
        chunk_chars: Characters per streamed delta (text and argument JSON), >= 1.
        delay_ms: Milliseconds to wait before each delta, >= 0.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    script: list[ScriptedTurn] = Field(default_factory=list)
    chunk_chars: Annotated[int, BeforeValidator(_reject_non_numbers), Field(ge=1)] = 16
    delay_ms: Annotated[float, BeforeValidator(_reject_non_numbers), Field(ge=0)] = 0.0


def _error_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _violations(error: ValidationError) -> dict[str, str]:
    violations: dict[str, str] = {}
    for item in error.errors(include_url=False):
        path = _error_path(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        violations[path] = f"{violations[path]}; {message}" if path in violations else message
    return violations


def validate_scripted_options(options: dict[str, Any]) -> dict[str, str]:
    """Checks ``scripted`` options without playing them.

    Args:
        options: ``Agent.model.options`` (JSON values).

    Returns:
        Field violations: path relative to ``options`` (``script[1].tool_calls[0].name``;
        an empty path means the options object itself) mapped to what is wrong. Empty
        when the options are valid.
    """
    try:
        ScriptedOptions.model_validate(options)
    except ValidationError as error:
        return _violations(error)
    return {}


def parse_scripted_options(options: dict[str, Any]) -> ScriptedOptions:
    """Parses ``scripted`` options.

    Raises:
        ModelError: the options are malformed (``retryable=False``); the message lists
            the field violations.
    """
    try:
        return ScriptedOptions.model_validate(options)
    except ValidationError as error:
        details = "; ".join(
            f"{path or 'options'}: {msg}" for path, msg in _violations(error).items()
        )
        raise ModelError(
            f"invalid scripted options: {details}", provider=_PROVIDER, retryable=False
        ) from None


def estimate_tokens(chars: int) -> int:
    """Estimated tokens of ``chars`` characters: ``max(1, ceil(chars / 4))``."""
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def estimate_input_tokens(request: ModelRequest) -> int:
    """Estimated input tokens of a request.

    The instructions (when non-empty) count as one message; each message counts
    ``estimate_tokens(len(content) + len of all its tool calls' argument JSON)``.
    Tool specs are not counted.

    Returns:
        The sum over those messages; 0 for no instructions and no messages.
    """
    total = estimate_tokens(len(request.instructions)) if request.instructions else 0
    for message in request.messages:
        chars = len(message.content) + sum(len(call.arguments) for call in message.tool_calls)
        total += estimate_tokens(chars)
    return total


def estimate_usage(request: ModelRequest, output_chars: int) -> Usage:
    """Estimated usage of a call: ``estimate_input_tokens(request)`` in and
    ``estimate_tokens(output_chars)`` out (output text plus tool-call argument JSON)."""
    return Usage(
        input_tokens=estimate_input_tokens(request),
        output_tokens=estimate_tokens(output_chars),
    )


def _chunks(text: str, size: int) -> Iterable[str]:
    return (text[i : i + size] for i in range(0, len(text), size))


class ScriptedProvider:
    """A ``ModelProvider`` that plays the turns of ``request.options["script"]``.

    Round ``request.step`` plays ``script[step - 1]``:

    * its text, if any, as ``TextDelta`` pieces of ``chunk_chars`` characters;
    * then each tool call ``i`` as ``ToolCallDelta`` pieces: id ``call_{step}_{i}``
      and the name on the first, the arguments as compact JSON
      (``json.dumps(arguments, separators=(",", ":"))``, key order kept) split into
      pieces of ``chunk_chars`` characters (the JSON is never empty, so every call
      has at least one delta).

    When the script is used up, or the turn has tool calls but ``request.tools`` is
    empty (the loop's last, tool-less round), the whole turn is replaced by the text
    ``"done"``. Every delta is preceded by a ``delay_ms`` pause.

    The stream ends with one ``UsageReport`` estimated as documented in
    ``estimate_input_tokens`` (input) and ``estimate_tokens`` (output: all characters
    of text and argument JSON streamed), since there is no real tokenizer.
    """

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Streams the scripted answer for ``request.step``.

        Raises:
            ModelError: the options are malformed or ``request.step`` < 1
                (``retryable=False``).
        """
        options = parse_scripted_options(request.options)
        if request.step < 1:
            raise ModelError(
                f"step must be >= 1, got {request.step}", provider=_PROVIDER, retryable=False
            )
        turn = options.script[request.step - 1] if request.step <= len(options.script) else None
        if turn is None or (turn.tool_calls and not request.tools):
            turn = ScriptedTurn(text=DONE_TEXT)

        delay = options.delay_ms / 1000
        size = options.chunk_chars
        output_chars = 0

        for piece in _chunks(turn.text or "", size):
            await self._pause(delay)
            output_chars += len(piece)
            yield TextDelta(text=piece)

        for index, call in enumerate(turn.tool_calls or ()):
            arguments = json.dumps(call.arguments, separators=(",", ":"))
            output_chars += len(arguments)
            for number, piece in enumerate(_chunks(arguments, size)):
                await self._pause(delay)
                if number == 0:
                    yield ToolCallDelta(
                        index=index,
                        id=f"call_{request.step}_{index}",
                        name=call.name,
                        arguments=piece,
                    )
                else:
                    yield ToolCallDelta(index=index, arguments=piece)

        yield UsageReport(usage=estimate_usage(request, output_chars))

    @staticmethod
    async def _pause(seconds: float) -> None:
        # With no delay it still yields to the event loop once per chunk, as a
        # network stream does: a fast script must not starve other tasks (the
        # run's own subscribers would otherwise get its deltas only at the end).
        await asyncio.sleep(seconds)
