"""The ``scripted`` provider: a deterministic model for tests, demos and benchmarks.

An agent using it carries its answers in ``model.options``::

    {
        "script": [
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
            {"reasoning": "6 times 7 is 42.", "text": "The answer is 42."}
        ],
        "chunk_chars": 16,
        "delay_ms": 0
    }

Round ``step`` of a run plays ``script[step - 1]``; see ``ScriptedProvider``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from runwire_server.service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from runwire_server.service.llm.options import ProviderOptions, json_number
from runwire_server.service.llm.usage import estimate_usage

#: The text answered when the script is used up or a tool turn cannot be played.
DONE_TEXT = "done"

_PROVIDER = "scripted"


class ScriptedToolCall(BaseModel):
    """One tool call of a scripted turn.

    Attributes:
        name: The tool's name (non-empty).
        arguments: The arguments, a JSON object.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="The tool's name (non-empty).")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="The arguments, a JSON object; default {}."
    )


class ScriptedTurn(BaseModel):
    """One scripted model answer: text, tool calls, or both (text is streamed first),
    optionally preceded by reasoning.

    Attributes:
        reasoning: The model's reasoning, streamed before anything else (as
            ``reasoning_*`` events; never part of the answer), or None.
        text: The assistant's text, or None.
        tool_calls: The tool calls (at least one when given), or None.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    reasoning: str | None = Field(
        default=None,
        description="The model's reasoning, streamed first as reasoning events; "
        "never part of the answer.",
    )
    text: str | None = Field(default=None, description="The assistant's text, streamed first.")
    tool_calls: list[ScriptedToolCall] | None = Field(
        default=None, min_length=1, description="The tool calls (at least one when given)."
    )

    @model_validator(mode="after")
    def _has_content(self) -> ScriptedTurn:
        if self.text is None and self.tool_calls is None:
            raise ValueError('a turn needs "text", "tool_calls" or both')
        return self


_Count = Annotated[int, BeforeValidator(json_number), Field(ge=1)]
_Millis = Annotated[float, BeforeValidator(json_number), Field(ge=0)]


class ScriptedOptions(ProviderOptions):
    """The ``scripted`` provider's options (``Agent.model.options``).

    Unknown keys are refused, at the top level (``unknown option``) and inside turns
    and tool calls.

    Attributes:
        script: The turns, played in order, one per LLM round.
        chunk_chars: Characters per streamed delta (text and argument JSON), >= 1.
        delay_ms: Milliseconds to wait before each delta, >= 0.
    """

    provider_name: ClassVar[str] = "scripted"

    script: list[ScriptedTurn] = Field(
        default_factory=list,
        description="The turns, played in order: turn n answers LLM round n; default [].",
    )
    chunk_chars: _Count = Field(
        default=16,
        description="Characters per streamed delta (text and argument JSON), >= 1.",
    )
    delay_ms: _Millis = Field(
        default=0.0, description="Pause before each delta, in milliseconds, >= 0."
    )


#: Most deltas one text (or one call's arguments) is streamed in: a longer text
#: gets longer pieces than ``chunk_chars``, so one request cannot make unbounded events.
MAX_DELTAS_PER_TEXT = 1_000


def _chunks(text: str, size: int) -> Iterable[str]:
    size = max(size, -(-len(text) // MAX_DELTAS_PER_TEXT))
    return (text[i : i + size] for i in range(0, len(text), size))


class ScriptedProvider:
    """A ``ModelProvider`` that plays the turns of ``request.options["script"]``.

    Round ``request.step`` plays ``script[step - 1]``:

    * its reasoning, if any, as ``ReasoningDelta`` pieces (block 0) of
      ``chunk_chars`` characters (at most ``MAX_DELTAS_PER_TEXT`` pieces);
    * its text, if any, as ``TextDelta`` pieces of ``chunk_chars`` characters (at
      most ``MAX_DELTAS_PER_TEXT`` pieces: longer pieces for a longer text);
    * then each tool call ``i`` as ``ToolCallDelta`` pieces: id ``call_{step}_{i}``
      and the name on the first, the arguments as compact JSON
      (``json.dumps(arguments, separators=(",", ":"))``, key order kept) split into
      pieces of ``chunk_chars`` characters (the JSON is never empty, so every call
      has at least one delta).

    When the script is used up, or the turn has tool calls but ``request.tools`` is
    empty (the loop's last, tool-less round), the whole turn is replaced by the text
    ``"done"``. Every delta is preceded by a ``delay_ms`` pause.

    The stream ends with one ``UsageReport`` estimated by
    ``runwire_server.service.llm.usage.estimate_usage`` (output: all characters of text and argument
    JSON streamed; not the reasoning), since there is no real tokenizer.
    """

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Streams the scripted answer for ``request.step``.

        Raises:
            ModelError: the options are malformed or ``request.step`` < 1
                (``retryable=False``).
        """
        options = ScriptedOptions.parse(request.options)
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

        for piece in _chunks(turn.reasoning or "", size):
            await self._pause(delay)
            yield ReasoningDelta(text=piece)

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
