"""Activities of ``runwire.AgentRun``: everything with side effects.

- ``publish_events``: appends workflow events to the event log (idempotent by key).
- ``call_model``: one streamed model call (falling back along the run's
  fallback models); deltas go straight to the event log.
- ``run_tool``: one server tool call.
- ``append_to_thread``: the run's messages to its thread; releases the thread.
- ``open_sub_run``: the record and log of a sub-agent's child run (started
  next as a child workflow); ``sub_run_outcome``: how it ended.

``publish_events``, ``append_to_thread``, ``open_sub_run`` and ``sub_run_outcome``
run as local activities (``runwire_server.worker.workflow_effects.PUBLISH``): in
the worker of the workflow task, re-run by the next worker if this one dies
before the task completes, which their idempotency makes harmless.

A sub-agent run's approval events are published to its ancestors' logs too
(``KeyedEvent.announce_to``), keyed ``<child run id>:<key>``.

Each takes one whole, typed input (``runwire_server.service.runtimes.temporal_contract``);
large ones reach it through the claim-check payload codec, transparently.
Activities heartbeat while they work, so a killed worker is noticed within
the heartbeat timeout and the activity is retried on another worker. Provider
SDK retries are off here: Temporal's retry policy is the only one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

from runwire.v1 import agent_pb2, event_pb2
from temporalio import activity
from temporalio.exceptions import ApplicationError

from runwire_server.service.agent.effects import announcement
from runwire_server.service.agent.resilient_turn import (
    NO_RETRIES,
    attempt_message_id,
    discard_message,
    resilient_model_turn,
)
from runwire_server.service.core.errors import ResourceExhaustedError
from runwire_server.service.core.messages import Usage
from runwire_server.service.core.spec import label_attributes
from runwire_server.service.core.telemetry import ATTR_AGENT_ID, ATTR_RUN_ID
from runwire_server.service.llm.base import ModelError
from runwire_server.service.llm.registry import ProviderRegistry
from runwire_server.service.runtimes.recorder import RunRecorder
from runwire_server.service.runtimes.router import open_sub_run as open_sub_run_records
from runwire_server.service.runtimes.temporal_contract import (
    KeyedEvent,
    ModelCallInput,
    ModelCallResult,
    PublishInput,
    SubRunInput,
    SubRunQuery,
    SubRunResult,
    ThreadAppendInput,
    ToolCallInput,
    ToolCallResult,
)
from runwire_server.service.stores.tenants import PerTenant
from runwire_server.service.stores.threads import ThreadStore
from runwire_server.service.tools.execution import run_server_tool
from runwire_server.service.tools.registry import ToolRegistry

#: Seconds between heartbeats of a running activity.
HEARTBEAT_EVERY_SECONDS = 0.25
#: Shortest retry delay a provider's retry-after hint sets (a zero delay would
#: mean "no hint" to Temporal), seconds.
MIN_RETRY_DELAY_SECONDS = 0.1


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeats every HEARTBEAT_EVERY_SECONDS while the body runs (not in a
    local activity, which has no heartbeat)."""
    if activity.info().is_local:
        yield
        return

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


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """A quota the run reached (``ResourceExhaustedError``, e.g. ``max_events_per_run``)
    becomes a non-retryable ``ApplicationError``: type = its reason, details = one dict
    {"subject", "limit", "metadata"} (``runwire_server.worker.workflows`` rebuilds the error)."""
    try:
        yield
    except ResourceExhaustedError as exc:
        details = {"subject": exc.subject, "limit": exc.limit, "metadata": exc.metadata}
        raise ApplicationError(exc.message, details, type=exc.reason, non_retryable=True) from exc


class RunActivities:
    """The activities, bound to one process's stores and registries."""

    def __init__(
        self,
        *,
        recorder: RunRecorder,
        providers: ProviderRegistry,
        tools: ToolRegistry,
        threads: PerTenant[ThreadStore],
    ) -> None:
        self._recorder = recorder
        self._providers = providers
        self._tools = tools
        self._threads = threads

    async def _publish(self, run_id: str, events: tuple[KeyedEvent, ...]) -> None:
        for item in events:
            event = event_pb2.RunEvent.FromString(item.event)
            await self._recorder.publish(
                run_id, event, key=item.key, edited_arguments=item.edited_arguments
            )
            copy = announcement(event, run_id) if item.announce_to else None
            if copy is None:
                continue
            for ancestor in item.announce_to:
                await self._recorder.publish(ancestor, copy, key=f"{run_id}:{item.key}")

    @activity.defn(name="publish_events")
    async def publish_events(self, request: PublishInput) -> None:
        """Appends the workflow's events, in order, each at most once.

        Raises:
            ApplicationError: the run reached a quota (``_refusals``).
        """
        with _refusals():
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
            ApplicationError: type = the ModelError reason, details = one dict
                {"provider", "metadata"} (the ErrorInfo metadata); non-retryable unless
                the provider said a retry may succeed (then ``next_retry_delay``
                follows the retry-after hint, if any: ``_next_retry_delay``); or
                the run reached a quota (``_refusals``).
        """
        with _refusals():
            return await self._call_model(request)

    async def _call_model(self, request: ModelCallInput) -> ModelCallResult:
        await self._publish(request.run_id, request.before)

        async def publish(event: event_pb2.RunEvent, key: str) -> None:
            await self._recorder.publish(request.run_id, event, key=key)

        attempt = activity.info().attempt
        slots = (1 + len(request.fallback_models)) * NO_RETRIES.max_attempts
        first = (attempt - 1) * slots + 1
        for number in range(max(1, first - slots), first):
            await discard_message(
                publish,
                attempt_message_id(request.message_id, number),
                f"model call retried (attempt {attempt})",
            )
        try:
            async with _heartbeating():
                turn = await resilient_model_turn(
                    self._providers,
                    request.request,
                    provider=request.provider,
                    fallback_models=request.fallback_models,
                    message_id=request.message_id,
                    publish=publish,
                    policy=NO_RETRIES,
                    first_attempt=first,
                    attributes={
                        ATTR_RUN_ID: request.run_id,
                        ATTR_AGENT_ID: request.agent_id,
                        **label_attributes(request.labels),
                    },
                )
        except ModelError as exc:
            raise ApplicationError(
                exc.message,
                {"provider": exc.provider, "metadata": exc.metadata},
                type=exc.reason,
                non_retryable=not exc.retryable,
                next_retry_delay=_next_retry_delay(exc),
            ) from exc
        return ModelCallResult(message=turn.message, usage=turn.usage)

    @activity.defn(name="run_tool")
    async def run_tool(self, request: ToolCallInput) -> ToolCallResult:
        """Runs one server tool; failures are results (``is_error``).

        The tool's ``ToolContext`` has the activity's attempt and the model's id
        of the call (``request.tool_call_id``; an input recorded before it was
        sent has none: then an id of this activity, which its retries keep).
        """
        info = activity.info()
        tool_call_id = request.tool_call_id or f"{info.workflow_run_id}/{info.activity_id}"
        async with _heartbeating():
            outcome = await run_server_tool(
                self._tools,
                request.name,
                dict(request.arguments),
                run_id=request.run_id,
                agent_id=request.agent_id,
                tool_call_id=tool_call_id,
                attempt=info.attempt,
            )
        return ToolCallResult(content=outcome.content, is_error=outcome.is_error)

    @activity.defn(name="append_to_thread")
    async def append_to_thread(self, request: ThreadAppendInput) -> None:
        """Adds the run's messages to its thread once (a retry finds them
        there and adds nothing), then releases the thread."""
        async with _heartbeating():
            threads = self._threads(request.tenant)
            thread = await threads.get(request.thread_id)
            already = any(m.message.run_id == request.run_id for m in thread.messages[-1:])
            if not already and request.messages:
                await threads.append(request.thread_id, list(request.messages))
            await threads.release(request.thread_id, request.run_id)

    @activity.defn(name="open_sub_run")
    async def open_sub_run(self, request: SubRunInput) -> None:
        """Creates the record and the log of a sub-agent's child run (once: a
        retry finds them), before its parent starts it as a child workflow."""
        await open_sub_run_records(
            self._recorder.runs, self._recorder.events, request.spec, agent_pb2.RUNTIME_TEMPORAL
        )

    @activity.defn(name="sub_run_outcome")
    async def sub_run_outcome(self, request: SubRunQuery) -> SubRunResult:
        """How an ended child run ended, from its record."""
        run = await self._recorder.current(request.run_id)
        return SubRunResult(
            state=run.state,
            output=run.output,
            error=run.error.SerializeToString() if run.HasField("error") else b"",
            usage=Usage(input_tokens=run.usage.input_tokens, output_tokens=run.usage.output_tokens),
        )

    def all(self) -> list[Callable[..., Any]]:
        """The activity callables to register on a worker."""
        return [
            self.publish_events,
            self.call_model,
            self.run_tool,
            self.append_to_thread,
            self.open_sub_run,
            self.sub_run_outcome,
        ]
