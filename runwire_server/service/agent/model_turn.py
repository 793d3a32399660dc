"""One streamed model call turned into run events and an assistant message.

Shared by both runtimes' ``Effects.call_model``: in-process it runs in the
run's task; on Temporal inside the model-call activity. Event order follows
AG-UI: ``text_message_start``, ``text_message_content``* ,
``text_message_end`` for text; ``tool_call_start``, ``tool_call_args``*,
``tool_call_end`` per tool call (ends are emitted when the stream closes).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from runwire.v1 import event_pb2

from runwire_server.service.agent.effects import ModelTurn
from runwire_server.service.core.messages import ChatMessage, Role, ToolCall, Usage
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


async def _stream(
    chunks: AsyncIterator[ModelChunk], request: ModelRequest, *, message_id: str, emit: Emit
) -> ModelTurn:
    text: list[str] = []
    calls: dict[int, _PendingCall] = {}
    usage = Usage()
    started = False
    async for chunk in chunks:
        if isinstance(chunk, TextDelta):
            if not chunk.text:
                continue
            if not started:
                started = True
                await emit(
                    event_pb2.RunEvent(
                        text_message_start=event_pb2.TextMessageStart(
                            message_id=message_id, role="assistant"
                        )
                    )
                )
            text.append(chunk.text)
            await emit(
                event_pb2.RunEvent(
                    text_message_content=event_pb2.TextMessageContent(
                        message_id=message_id, delta=chunk.text
                    )
                )
            )
        elif isinstance(chunk, ToolCallDelta):
            call = calls.get(chunk.index)
            if call is None:
                call = _PendingCall(
                    id=chunk.id or f"call_{request.step}_{chunk.index}", name=chunk.name
                )
                calls[chunk.index] = call
                await emit(
                    event_pb2.RunEvent(
                        tool_call_start=event_pb2.ToolCallStart(
                            tool_call_id=call.id,
                            tool_call_name=call.name,
                            parent_message_id=message_id,
                        )
                    )
                )
            if chunk.arguments:
                call.arguments.append(chunk.arguments)
                await emit(
                    event_pb2.RunEvent(
                        tool_call_args=event_pb2.ToolCallArgs(
                            tool_call_id=call.id, delta=chunk.arguments
                        )
                    )
                )
        elif isinstance(chunk, UsageReport):
            usage = chunk.usage
    if started:
        await emit(
            event_pb2.RunEvent(text_message_end=event_pb2.TextMessageEnd(message_id=message_id))
        )
    for call in calls.values():
        await emit(event_pb2.RunEvent(tool_call_end=event_pb2.ToolCallEnd(tool_call_id=call.id)))
    message = ChatMessage(
        role=Role.ASSISTANT,
        content="".join(text),
        tool_calls=tuple(
            ToolCall(id=c.id, name=c.name, arguments="".join(c.arguments) or "{}")
            for _, c in sorted(calls.items())
        ),
        message_id=message_id,
    )
    return ModelTurn(message=message, usage=usage)
