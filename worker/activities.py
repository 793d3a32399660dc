"""Activities of ``runwire.AgentRun``: everything with side effects.

- ``publish_events``: appends workflow events to the event log (idempotent by key).
- ``call_model``: one streamed model call; deltas go straight to the event log.
- ``run_tool``: one server tool call.
- ``append_to_thread``: the run's messages to its thread; releases the thread.

Activities heartbeat while they work, so a killed worker is noticed within
the heartbeat timeout and the activity is retried on another worker. Provider
SDK retries are off here: Temporal's retry policy is the only one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from runwire.v1 import event_pb2
from temporalio import activity
from temporalio.exceptions import ApplicationError

from service.agent.model_turn import stream_model_turn
from service.llm.base import ModelError, ModelRequest
from service.llm.registry import ProviderRegistry
from service.runtimes.recorder import RunRecorder
from service.runtimes.temporal_contract import (
    KeyedEvent,
    ModelCallInput,
    ModelCallResult,
    ModelContext,
    PublishInput,
    ThreadAppendInput,
    ToolCallInput,
    ToolCallResult,
)
from service.stores.conversations import ConversationStore
from service.stores.events import is_terminal
from service.stores.threads import ThreadStore
from service.telemetry import ATTR_AGENT_ID, ATTR_PROVIDER, ATTR_RUN_ID
from service.tools.execution import run_server_tool
from service.tools.registry import ToolRegistry

#: Seconds between heartbeats of a running activity.
HEARTBEAT_EVERY_SECONDS = 0.5


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

    async def _publish(self, run_id: str, events: tuple[KeyedEvent, ...]) -> None:
        for item in events:
            event = event_pb2.RunEvent.FromString(item.event)
            await self._recorder.publish(run_id, event, key=item.key)
            if is_terminal(event):
                await self._conversations.drop(run_id)

    @activity.defn(name="publish_events")
    async def publish_events(self, request: PublishInput) -> None:
        """Appends the workflow's events, in order, each at most once."""
        await self._publish(request.run_id, request.events)

    @activity.defn(name="call_model")
    async def call_model(self, request: ModelCallInput) -> ModelCallResult:
        """Streams one model call into the event log.

        A retried attempt first logs ``message_discarded`` for the previous
        attempt's message and streams under a new message id
        (``<message_id>-<attempt>``).

        Raises:
            ApplicationError: type = the ModelError reason; non-retryable
                unless the provider said a retry may succeed.
        """
        await self._publish(request.run_id, request.before)
        attempt = activity.info().attempt
        message_id = request.message_id if attempt == 1 else f"{request.message_id}-{attempt}"
        if attempt > 1:
            previous = request.message_id if attempt == 2 else f"{request.message_id}-{attempt - 1}"
            await self._recorder.publish(
                request.run_id,
                event_pb2.RunEvent(
                    message_discarded=event_pb2.MessageDiscarded(
                        message_id=previous, reason=f"model call retried (attempt {attempt})"
                    )
                ),
                key=f"{previous}:discarded",
            )
        context = await self._context(request)
        messages = await self._conversations.sync(
            request.run_id, known=request.known_messages, new=request.new_messages
        )
        model_request = ModelRequest(
            model=context.model,
            options=dict(context.options),
            instructions=context.instructions,
            messages=tuple(messages),
            tools=context.tools if request.offer_tools else (),
            step=request.step,
        )
        position = 0

        async def emit(event: event_pb2.RunEvent) -> None:
            nonlocal position
            await self._recorder.publish(request.run_id, event, key=f"{message_id}:{position}")
            position += 1

        try:
            async with _heartbeating():
                turn = await stream_model_turn(
                    self._providers.get(context.provider),
                    model_request,
                    message_id=message_id,
                    emit=emit,
                    attributes={
                        ATTR_RUN_ID: request.run_id,
                        ATTR_AGENT_ID: context.agent_id,
                        ATTR_PROVIDER: context.provider,
                    },
                )
        except ModelError as exc:
            raise ApplicationError(
                exc.message,
                {"provider": exc.provider, "status_code": exc.status_code},
                type=exc.reason,
                non_retryable=not exc.retryable,
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

    @activity.defn(name="run_tool")
    async def run_tool(self, request: ToolCallInput) -> ToolCallResult:
        """Runs one server tool; failures are results (``is_error``)."""
        async with _heartbeating():
            outcome = await run_server_tool(
                self._tools,
                request.name,
                dict(request.arguments),
                run_id=request.run_id,
                agent_id=request.agent_id,
            )
        return ToolCallResult(content=outcome.content, is_error=outcome.is_error)

    @activity.defn(name="append_to_thread")
    async def append_to_thread(self, request: ThreadAppendInput) -> None:
        """Adds the run's messages to its thread once (a retry finds them
        there and adds nothing), then releases the thread."""
        thread = await self._threads.get(request.thread_id)
        already = any(m.message.run_id == request.run_id for m in thread.messages[-1:])
        if not already and request.messages:
            await self._threads.append(request.thread_id, list(request.messages))
        await self._threads.release(request.thread_id, request.run_id)
        await self._conversations.drop(request.run_id)

    def all(self) -> list[Callable[..., Any]]:
        """The activity callables to register on a worker."""
        return [self.publish_events, self.call_model, self.run_tool, self.append_to_thread]
