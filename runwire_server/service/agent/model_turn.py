"""One streamed model call turned into run events and an assistant message.

Shared by both runtimes' ``Effects.call_model``: in-process it runs in the
run's task; on Temporal inside the model-call activity. Event order follows
AG-UI: ``reasoning_start``, ``reasoning_content``*, ``reasoning_end`` per
reasoning block (the end as soon as anything else comes, or the stream closes);
``text_message_start``, ``text_message_content``* , ``text_message_end`` for
text; ``tool_call_start``, ``tool_call_args``*, ``tool_call_end`` per tool call
(the text and tool call ends are emitted when the stream closes). Every end
event carries the whole text (``text_message_end.text``,
``tool_call_end.arguments``, ``reasoning_end.text``), so a client that takes no
deltas still sees it all.

Reasoning goes to events only: never into the message's ``content``. Blocks a
provider must get back (signed or redacted ones: Anthropic's thinking) are
kept on the message's ``reasoning`` for the next calls of the run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from runwire.v1 import event_pb2

from runwire_server.service.agent.effects import ModelTurn
from runwire_server.service.core.messages import (
    ChatMessage,
    ReasoningPart,
    Role,
    ToolCall,
    Usage,
)
from runwire_server.service.core.telemetry import (
    ATTR_INPUT_TOKENS,
    ATTR_OUTPUT_TOKENS,
    ATTR_PROVIDER,
    METRICS,
    start_span,
)
from runwire_server.service.llm.base import (
    ModelChunk,
    ModelProvider,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from runwire_server.service.llm.coalesce import Coalescing, coalesce_text

Emit = Callable[[event_pb2.RunEvent], Awaitable[None]]


@dataclass
class _PendingCall:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Reasoning:
    """The reasoning block being streamed."""

    index: int
    id: str
    text: list[str] = field(default_factory=list)
    signature: str = ""
    redacted: str = ""


def reasoning_id(message_id: str, number: int) -> str:
    """The id of reasoning block ``number`` (0-based) of the turn streamed under
    ``message_id``: ``rsn_`` and 32 hex digits derived from both, so a retried
    Temporal activity names its blocks the same way."""
    digest = hashlib.sha256(f"{message_id}/{number}".encode()).hexdigest()
    return f"rsn_{digest[:32]}"


async def stream_model_turn(
    provider: ModelProvider,
    request: ModelRequest,
    *,
    message_id: str,
    emit: Emit,
    attributes: Mapping[str, str] | None = None,
    coalescing: Coalescing | None = None,
) -> ModelTurn:
    """Streams ``request`` through ``provider``, emitting events via ``emit``.

    With ``coalescing``, consecutive text deltas are merged into fewer
    ``text_message_content`` events (``runwire_server.service.llm.coalesce``).

    Traced as a ``runwire.llm.call`` span (``attributes`` plus token counts);
    records ``runwire.llm.duration`` (s) and the token counters.

    Returns:
        The assistant message (id ``message_id``) and the call's usage.

    Raises:
        ModelError: from the provider.
    """
    labels = dict(attributes or {})
    started = time.perf_counter()
    with start_span("runwire.llm.call", labels) as span:
        chunks = provider.stream(request)
        if coalescing is not None:
            chunks = coalesce_text(chunks, coalescing)
        turn = await _stream(chunks, request, message_id=message_id, emit=emit)
        span.set_attribute(ATTR_INPUT_TOKENS, turn.usage.input_tokens)
        span.set_attribute(ATTR_OUTPUT_TOKENS, turn.usage.output_tokens)
    metric_labels = {ATTR_PROVIDER: labels.get(ATTR_PROVIDER, "")}
    METRICS.llm_latency.record(time.perf_counter() - started, metric_labels)
    METRICS.input_tokens.add(turn.usage.input_tokens, metric_labels)
    METRICS.output_tokens.add(turn.usage.output_tokens, metric_labels)
    return turn


class _TurnStream:
    """The events and the message of one streamed turn, chunk by chunk."""

    def __init__(self, request: ModelRequest, message_id: str, emit: Emit) -> None:
        self._request = request
        self._message_id = message_id
        self._emit = emit
        self.text: list[str] = []
        self.calls: dict[int, _PendingCall] = {}
        self.usage = Usage()
        self.started = False
        self.reasoning: _Reasoning | None = None
        self.blocks = 0
        #: The reasoning blocks the provider must get back.
        self.kept: list[ReasoningPart] = []

    async def add(self, chunk: ModelChunk) -> None:
        if isinstance(chunk, ReasoningDelta):
            await self._reasoning(chunk)
            return
        if isinstance(chunk, UsageReport):
            self.usage = chunk.usage
            return
        if isinstance(chunk, TextDelta) and not chunk.text:
            return
        await self.end_reasoning()
        if isinstance(chunk, TextDelta):
            await self._text(chunk)
        elif isinstance(chunk, ToolCallDelta):
            await self._tool_call(chunk)

    async def _reasoning(self, chunk: ReasoningDelta) -> None:
        block = self.reasoning
        if block is not None and block.index != chunk.index:
            await self.end_reasoning()
            block = None
        if block is None:
            if not (chunk.text or chunk.signature or chunk.redacted):
                return
            block = _Reasoning(index=chunk.index, id=reasoning_id(self._message_id, self.blocks))
            self.blocks += 1
            self.reasoning = block
            await self._emit(
                event_pb2.RunEvent(reasoning_start=event_pb2.ReasoningStart(message_id=block.id))
            )
        if chunk.text:
            block.text.append(chunk.text)
            await self._emit(
                event_pb2.RunEvent(
                    reasoning_content=event_pb2.ReasoningContent(
                        message_id=block.id, delta=chunk.text
                    )
                )
            )
        block.signature += chunk.signature
        block.redacted += chunk.redacted

    async def end_reasoning(self) -> None:
        """Closes the reasoning block being streamed, if any."""
        block, self.reasoning = self.reasoning, None
        if block is None:
            return
        text = "".join(block.text)
        await self._emit(
            event_pb2.RunEvent(reasoning_end=event_pb2.ReasoningEnd(message_id=block.id, text=text))
        )
        if block.signature or block.redacted:
            self.kept.append(
                ReasoningPart(
                    text="" if block.redacted else text,
                    signature=block.signature,
                    redacted=block.redacted,
                )
            )

    async def _text(self, chunk: TextDelta) -> None:
        if not self.started:
            self.started = True
            await self._emit(
                event_pb2.RunEvent(
                    text_message_start=event_pb2.TextMessageStart(
                        message_id=self._message_id, role="assistant"
                    )
                )
            )
        self.text.append(chunk.text)
        await self._emit(
            event_pb2.RunEvent(
                text_message_content=event_pb2.TextMessageContent(
                    message_id=self._message_id, delta=chunk.text
                )
            )
        )

    async def _tool_call(self, chunk: ToolCallDelta) -> None:
        call = self.calls.get(chunk.index)
        if call is None:
            call = _PendingCall(
                id=chunk.id or f"call_{self._request.step}_{chunk.index}", name=chunk.name
            )
            self.calls[chunk.index] = call
            await self._emit(
                event_pb2.RunEvent(
                    tool_call_start=event_pb2.ToolCallStart(
                        tool_call_id=call.id,
                        tool_call_name=call.name,
                        parent_message_id=self._message_id,
                    )
                )
            )
        if chunk.arguments:
            call.arguments.append(chunk.arguments)
            await self._emit(
                event_pb2.RunEvent(
                    tool_call_args=event_pb2.ToolCallArgs(
                        tool_call_id=call.id, delta=chunk.arguments
                    )
                )
            )

    async def finish(self) -> ModelTurn:
        """Emits the end events; returns the turn."""
        await self.end_reasoning()
        text = "".join(self.text)
        if self.started:
            await self._emit(
                event_pb2.RunEvent(
                    text_message_end=event_pb2.TextMessageEnd(
                        message_id=self._message_id, text=text
                    )
                )
            )
        for call in self.calls.values():
            await self._emit(
                event_pb2.RunEvent(
                    tool_call_end=event_pb2.ToolCallEnd(
                        tool_call_id=call.id, arguments="".join(call.arguments)
                    )
                )
            )
        message = ChatMessage(
            role=Role.ASSISTANT,
            content=text,
            tool_calls=tuple(
                ToolCall(id=c.id, name=c.name, arguments="".join(c.arguments) or "{}")
                for _, c in sorted(self.calls.items())
            ),
            message_id=self._message_id,
            reasoning=tuple(self.kept),
        )
        return ModelTurn(message=message, usage=self.usage)


async def _stream(
    chunks: AsyncIterator[ModelChunk], request: ModelRequest, *, message_id: str, emit: Emit
) -> ModelTurn:
    turn = _TurnStream(request, message_id, emit)
    async for chunk in chunks:
        await turn.add(chunk)
    return await turn.finish()
