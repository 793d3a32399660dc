"""Activities of ``runwire.AgentRun``: everything with side effects.

- ``publish_events``: appends workflow events to the event log (idempotent by key).
- ``call_model``: one streamed model call (falling back along the run's
  fallback models); deltas go straight to the event log.
- ``run_tool``: one server tool call.
- ``append_to_thread``: the run's messages to its thread; releases the thread.

Activities heartbeat while they work, so a killed worker is noticed within
the heartbeat timeout and the activity is retried on another worker. Provider
SDK retries are off here: Temporal's retry policy is the only one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

from runwire.v1 import event_pb2
from temporalio import activity
from temporalio.exceptions import ApplicationError

from service.agent.resilient_turn import (
    NO_RETRIES,
    attempt_message_id,
    discard_message,
    resilient_model_turn,
)
from service.core.messages import ChatMessage, Role
from service.core.telemetry import ATTR_AGENT_ID, ATTR_RUN_ID
from service.llm.base import ModelError, ModelRequest
from service.llm.registry import ProviderRegistry
from service.runtimes.recorder import RunRecorder
from service.runtimes.temporal_contract import (
    STORED_RESULT_MIN_CHARS,
    ConversationInput,
    KeyedEvent,
    ModelCallInput,
    ModelCallResult,
    ModelContext,
    PublishInput,
    ThreadAppendInput,
    ToolCallInput,
    ToolCallResult,
    stored_result_key,
)
from service.stores.conversations import ConversationStore
from service.stores.events import is_terminal
from service.stores.threads import ThreadStore
from service.tools.execution import run_server_tool
from service.tools.registry import ToolRegistry

#: Seconds between heartbeats of a running activity.
HEARTBEAT_EVERY_SECONDS = 0.25
#: Shortest retry delay a provider's retry-after hint sets (a zero delay would
#: mean "no hint" to Temporal), seconds.
MIN_RETRY_DELAY_SECONDS = 0.1


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeats every HEARTBEAT_EVERY_SECONDS while the body runs."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _next_retry_delay(error: ModelError) -> timedelta | None:
    """When Temporal should retry a failed model call: after the providers'
    retry-after hint (capped at ``NO_RETRIES.max_retry_after_seconds``, at least
    ``MIN_RETRY_DELAY_SECONDS``), or None for the activity retry policy's backoff."""
    if not error.retryable or error.retry_after_seconds is None:
        return None
    seconds = NO_RETRIES.delay_seconds(1, retry_after_seconds=error.retry_after_seconds)
    return timedelta(seconds=max(seconds, MIN_RETRY_DELAY_SECONDS))


class RunActivities:
    """The activities, bound to one process's stores and registries."""

    def __init__(
        self,
        *,
        recorder: RunRecorder,
        providers: ProviderRegistry,
        tools: ToolRegistry,
        threads: ThreadStore,
        conversations: ConversationStore,
    ) -> None:
        self._recorder = recorder
        self._providers = providers
        self._tools = tools
        self._threads = threads
        self._conversations = conversations

    async def _stored_result(self, run_id: str, key: str) -> str:
        content = await self._conversations.load_result(run_id, key)
        if content is None:
            raise ApplicationError(
                f"tool result {key} of run {run_id} is gone from the conversation store "
                "(expired or flushed)",
                type="RUN_STATE_LOST",
                non_retryable=True,
            )
        return content

    async def _expand(self, run_id: str, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        """``messages`` with stored tool results (``stored_result_marker``) put back."""
        out = []
        for message in messages:
            key = stored_result_key(message.content) if message.role is Role.TOOL else None
            if key is None:
                out.append(message)
            else:
                content = await self._stored_result(run_id, key)
                out.append(message.model_copy(update={"content": content}))
        return out

    async def _publish(self, run_id: str, events: tuple[KeyedEvent, ...]) -> None:
        for item in events:
            event = event_pb2.RunEvent.FromString(item.event)
            if event.HasField("tool_call_result"):
                key = stored_result_key(event.tool_call_result.content)
                if key is not None:
                    event.tool_call_result.content = await self._stored_result(run_id, key)
            await self._recorder.publish(run_id, event, key=item.key)
            if is_terminal(event):
                await self._conversations.drop(run_id)

    @activity.defn(name="publish_events")
    async def publish_events(self, request: PublishInput) -> None:
        """Appends the workflow's events, in order, each at most once."""
        async with _heartbeating():
            await self._publish(request.run_id, request.events)

    @activity.defn(name="call_model")
    async def call_model(self, request: ModelCallInput) -> ModelCallResult:
        """Streams one model call into the event log, falling back along the
        run's ``fallback_models`` past unavailable models and open circuit breakers.

        Retries are Temporal's (the activity retry policy): within one activity
        attempt each model of the chain is called at most once
        (``resilient_model_turn`` with ``NO_RETRIES``). Model attempts are numbered
        across activity attempts: activity attempt *a* owns the numbers
        ``(a-1)*k+1 .. a*k`` (*k* = models in the chain), and model attempt *n*
        streams under ``attempt_message_id(message_id, n)``. A retried activity
        first logs ``message_discarded`` for every message id of the previous
        activity attempt (keyed ``<id>:discarded``, so one already discarded is
        not logged again); with a single model that is the previous attempt's
        message (``<message_id>-<attempt - 1>``).

        Raises:
            ApplicationError: type = the ModelError reason; non-retryable unless
                the provider said a retry may succeed (then ``next_retry_delay``
                follows the retry-after hint, if any: ``_next_retry_delay``).
        """
        await self._publish(request.run_id, request.before)
        context = await self._context(request)

        async def publish(event: event_pb2.RunEvent, key: str) -> None:
            await self._recorder.publish(request.run_id, event, key=key)

        attempt = activity.info().attempt
        slots = (1 + len(context.fallback_models)) * NO_RETRIES.max_attempts
        first = (attempt - 1) * slots + 1
        for number in range(max(1, first - slots), first):
            await discard_message(
                publish,
                attempt_message_id(request.message_id, number),
                f"model call retried (attempt {attempt})",
            )
        messages = await self._conversations.sync(
            request.run_id,
            known=request.known_messages,
            new=await self._expand(request.run_id, request.new_messages),
        )
        model_request = ModelRequest(
            model=context.model,
            options=dict(context.options),
            instructions=context.instructions,
            messages=tuple(messages),
            tools=context.tools if request.offer_tools else (),
            step=request.step,
            response_format=(
                dict(context.response_format) if context.response_format is not None else None
            ),
        )
        try:
            async with _heartbeating():
                turn = await resilient_model_turn(
                    self._providers,
                    model_request,
                    provider=context.provider,
                    fallback_models=context.fallback_models,
                    message_id=request.message_id,
                    publish=publish,
                    policy=NO_RETRIES,
                    first_attempt=first,
                    attributes={ATTR_RUN_ID: request.run_id, ATTR_AGENT_ID: context.agent_id},
                )
        except ModelError as exc:
            raise ApplicationError(
                exc.message,
                {"provider": exc.provider, "status_code": exc.status_code},
                type=exc.reason,
                non_retryable=not exc.retryable,
                next_retry_delay=_next_retry_delay(exc),
            ) from exc
        return ModelCallResult(message=turn.message, usage=turn.usage)

    async def _context(self, request: ModelCallInput) -> ModelContext:
        if request.context is not None:
            await self._conversations.save_context(
                request.run_id, request.context.model_dump_json()
            )
            return request.context
        raw = await self._conversations.load_context(request.run_id)
        if raw is None:
            raise ApplicationError(
                f"the model context of run {request.run_id} is gone from the conversation "
                "store (expired or flushed)",
                type="RUN_STATE_LOST",
                non_retryable=True,
            )
        return ModelContext.model_validate_json(raw)

    @activity.defn(name="save_conversation")
    async def save_conversation(self, request: ConversationInput) -> int:
        """Stores the run's conversation up to now; returns its length."""
        messages = await self._conversations.sync(
            request.run_id,
            known=request.known_messages,
            new=await self._expand(request.run_id, request.new_messages),
        )
        return len(messages)

    @activity.defn(name="load_conversation")
    async def load_conversation(self, request: ConversationInput) -> list[ChatMessage]:
        """The run's whole conversation, for executions recorded before
        ``workflows.STORED_CONVERSATION_PATCH`` (newer ones never load it)."""
        return await self._conversations.sync(request.run_id, known=request.known_messages, new=())

    @activity.defn(name="run_tool")
    async def run_tool(self, request: ToolCallInput) -> ToolCallResult:
        """Runs one server tool; failures are results (``is_error``). With
        ``result_key``, a result of more than ``STORED_RESULT_MIN_CHARS``
        characters is kept in the conversation store, out of history."""
        async with _heartbeating():
            outcome = await run_server_tool(
                self._tools,
                request.name,
                dict(request.arguments),
                run_id=request.run_id,
                agent_id=request.agent_id,
            )
            if request.result_key and len(outcome.content) > STORED_RESULT_MIN_CHARS:
                await self._conversations.save_result(
                    request.run_id, request.result_key, outcome.content
                )
                return ToolCallResult(
                    content="", is_error=outcome.is_error, stored_key=request.result_key
                )
        return ToolCallResult(content=outcome.content, is_error=outcome.is_error)

    @activity.defn(name="append_to_thread")
    async def append_to_thread(self, request: ThreadAppendInput) -> None:
        """Adds the run's messages to its thread once (a retry finds them
        there and adds nothing), then releases the thread."""
        async with _heartbeating():
            thread = await self._threads.get(request.thread_id)
            already = any(m.message.run_id == request.run_id for m in thread.messages[-1:])
            # A retry after the run's store was dropped finds the messages there.
            messages = [] if already else await self._expand(request.run_id, request.messages)
            if request.stored_count and not already:
                end = request.stored_from + request.stored_count
                stored = await self._conversations.sync(request.run_id, known=end, new=())
                if len(stored) < end:
                    raise ApplicationError(
                        f"the conversation of run {request.run_id} is gone from the "
                        "conversation store (expired or flushed)",
                        type="RUN_STATE_LOST",
                        non_retryable=True,
                    )
                messages = [*stored[request.stored_from : end], *messages]
            if not already and messages:
                await self._threads.append(request.thread_id, messages)
            await self._threads.release(request.thread_id, request.run_id)
            await self._conversations.drop(request.run_id)

    def all(self) -> list[Callable[..., Any]]:
        """The activity callables to register on a worker."""
        return [
            self.publish_events,
            self.call_model,
            self.run_tool,
            self.append_to_thread,
            self.save_conversation,
            self.load_conversation,
        ]
