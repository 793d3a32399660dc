"""The effects of a ``runwire.AgentRun`` run: the agent loop's seam made durable.

``WorkflowEffects`` implements ``runwire_server.service.agent.effects.Effects``
inside the workflow (``runwire_server.worker.workflows``): model and tool calls
are activities (``runwire_server.worker.activities.RunActivities``, called by
method reference with one ``ActivityConfig`` per kind: ``PUBLISH``, ``MODEL``,
``TOOL``); events are buffered and published with the next model call
(``ModelCallInput.before``) or by the ``publish_events`` local activity, keyed,
so a retry never doubles one; waits are ``workflow.wait_condition`` and durable
timers; time and ids come from ``workflow.now()`` / ``workflow.uuid4()``.

The worker runs workflows without the SDK's sandbox
(``runwire_server.worker.factory.build_worker``); the replay test replays in it
with this module passed through (``PASSTHROUGH_MODULES``), as the loop itself:
it is imported once per worker process, not once per workflow instance. So,
like the loop, it must stay deterministic by construction: no
I/O, no clock, no randomness but the ``workflow`` API's, no per-run global
state. Changes to it are workflow changes (the versioning policy of
``runwire_server.worker.workflows`` applies).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from google.rpc import status_pb2
from runwire.v1 import event_pb2, run_pb2
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.exceptions import CancelledError as TemporalCancelledError
from temporalio.types import MethodAsyncSingleParam
from temporalio.workflow import (
    ActivityCancellationType,
    ChildWorkflowCancellationType,
    ParentClosePolicy,
)

from runwire_server.service.agent.decisions import PendingDecisions
from runwire_server.service.agent.effects import (
    ANNOUNCED_PAYLOADS,
    ModelTurn,
    SubRunOutcome,
    ToolResult,
)
from runwire_server.service.core.errors import ResourceExhaustedError
from runwire_server.service.core.messages import ChatMessage
from runwire_server.service.core.spec import Decision, LoopCheckpoint, RunSpec, ToolOutput
from runwire_server.service.llm.base import ModelError, ModelRequest
from runwire_server.service.runtimes.recorder import CLOSING_PAYLOADS
from runwire_server.service.runtimes.temporal_contract import (
    WORKFLOW_NAME,
    AgentRunInput,
    KeyedEvent,
    ModelCallInput,
    PublishInput,
    ResumeState,
    SubRunInput,
    SubRunQuery,
    ThreadAppendInput,
    ToolCallInput,
)
from runwire_server.service.stores.events import TERMINAL_PAYLOADS
from runwire_server.service.tools.context import CURRENT_TOOL_CALL
from runwire_server.worker.activities import RunActivities

#: Activity heartbeat timeout: how soon a killed worker's activity is retried
#: elsewhere. A worker whose event loop falls behind (a CPU-bound burst of runs)
#: must not miss it: a missed heartbeat retries an activity that is still running,
#: and a tool call that completes meanwhile is refused and runs again. So it is far
#: above the worker's heartbeat throttle (``runwire_server.worker.factory.HEARTBEAT_THROTTLE``);
#: recovery after a kill and behaviour under load are measured by the fault matrix
#: and ``bench`` scenario 9 (docs/faults.md, docs/benchmarks.md).
HEARTBEAT_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True, kw_only=True)
class ActivityConfig:
    """How the workflow runs one kind of activity.

    Attributes:
        start_to_close_timeout: Longest one attempt may run; None for the
            run's own bound (its timeout plus a minute: ``bounded``).
        heartbeat_timeout: How long an attempt may go without a heartbeat
            before it is retried (its worker is presumed dead).
        retry_policy: Temporal's retries of a failed attempt.
        cancellation_type: What cancelling the activity waits for:
            ``WAIT_CANCELLATION_COMPLETED`` for work the run's stop cancels
            (model and tool calls: the loop goes on once the attempt has
            stopped, so nothing it does lands after CANCELLING).
        local: Run it as a local activity: in the worker that runs the
            workflow task, at once, with no round trip through the task queue;
            its result is recorded (a marker) when the workflow task completes.
            Only for short, idempotent work: an attempt cut short by a crash
            before that runs again on the next worker. ``heartbeat_timeout``
            does not apply.
    """

    start_to_close_timeout: timedelta | None = None
    heartbeat_timeout: timedelta = HEARTBEAT_TIMEOUT
    retry_policy: RetryPolicy
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL
    local: bool = False

    def bounded(self, run_timeout: timedelta) -> ActivityConfig:
        """This config, with ``run_timeout`` as the attempt timeout if it has none."""
        if self.start_to_close_timeout is not None:
            return self
        return replace(self, start_to_close_timeout=run_timeout)


#: Event publishing, thread appends, a child run's record and outcome: short,
#: idempotent (keyed events, appends that find themselves done), retried until
#: they succeed; local activities (no task queue round trip), so the events of a
#: workflow task reach the log before the task completes.
PUBLISH = ActivityConfig(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=5)
    ),
    local=True,
)
#: Model calls. A short first retry interval: a call lost with a killed worker
#: resumes on another worker soon after the heartbeat timeout.
MODEL = ActivityConfig(
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=5,
    ),
    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
)
#: Server tool calls.
TOOL = ActivityConfig(
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=3,
    ),
    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
)

#: Execution timeout of a child workflow beyond its run timeout (its loop ends it first).
CHILD_EXECUTION_MARGIN = timedelta(minutes=5)


_In = TypeVar("_In")
_Out = TypeVar("_Out")


async def _activity(
    method: MethodAsyncSingleParam[RunActivities, _In, _Out],
    arg: _In,
    config: ActivityConfig,
    *,
    work: set[asyncio.Task[Any]] | None = None,
) -> _Out:
    """Runs one activity with ``config``, where a cancelled activity raises
    ``asyncio.CancelledError`` (as any cancelled await does in-process), so
    the loop's timeout and cancel handling work alike on both runtimes. With
    ``work``, its handle is in that set while it runs (the run's stop cancels it)."""
    handle = (
        workflow.start_local_activity_method(
            method,
            arg,
            start_to_close_timeout=config.start_to_close_timeout,
            retry_policy=config.retry_policy,
            cancellation_type=config.cancellation_type,
        )
        if config.local
        else workflow.start_activity_method(
            method,
            arg,
            start_to_close_timeout=config.start_to_close_timeout,
            heartbeat_timeout=config.heartbeat_timeout,
            retry_policy=config.retry_policy,
            cancellation_type=config.cancellation_type,
        )
    )
    if work is not None:
        work.add(handle)
    try:
        return await handle
    except ActivityError as exc:
        if isinstance(exc.cause, TemporalCancelledError):
            raise asyncio.CancelledError(str(exc.cause)) from exc
        exhausted = _quota_error(exc.cause)
        if exhausted is not None:
            raise exhausted from exc
        raise
    finally:
        if work is not None:
            work.discard(handle)


def _quota_error(cause: BaseException | None) -> ResourceExhaustedError | None:
    """The quota error an activity refused with (``activities._refusals``), or None."""
    if not isinstance(cause, ApplicationError) or not cause.type or not cause.details:
        return None
    details = cause.details[0]
    if not isinstance(details, dict) or "limit" not in details:
        return None
    metadata = details.get("metadata") or {}
    error = ResourceExhaustedError(
        cause.message,
        subject=str(details.get("subject", "")),
        limit=str(details["limit"]),
        value=0,
        reason=cause.type,
    )
    error.metadata = {str(k): str(v) for k, v in metadata.items()}
    return error


class RunControl(Protocol):
    """What the effects read from their workflow (``AgentRun``): the run's
    decisions (update state) and whether PauseRun asked for a pause."""

    decisions: PendingDecisions
    pause_requested: bool


class WorkflowEffects:
    """``Effects`` of one run inside the workflow; each effect passes the
    run's gate first (see ``stop``)."""

    def __init__(self, run: RunControl, spec: RunSpec) -> None:
        self._run = run
        self._spec = spec
        self._buffer: list[KeyedEvent] = []
        self._counter = 0
        self._publish_soon = False
        self._lock = asyncio.Lock()
        # Model and tool calls are bounded by the run (plus a margin for the
        # loop to end it first).
        run_bound = timedelta(seconds=spec.timeout_seconds + 60)
        self._model = MODEL.bounded(run_bound)
        self._tool = TOOL.bounded(run_bound)
        #: Why the run was asked to stop; None while it was not (the gate is open).
        self._stop: str | None = None
        #: ``run_started`` was emitted (CANCELLING comes after it).
        self._opened = False
        #: The terminal event was emitted (a stop then logs no CANCELLING).
        self._ended = False
        #: Model and tool activities in flight.
        self._work: set[asyncio.Task[Any]] = set()

    def stop(self, reason: str) -> None:
        """Stops the run: closes the gate (from now on only the closing events,
        ``recorder.CLOSING_PAYLOADS``, and the thread append pass; any other
        effect raises ``asyncio.CancelledError``, so the loop ends CANCELLED),
        closes the decisions, buffers CANCELLING after every event emitted so
        far (after ``run_started`` when that is still to come; none once the
        run logged its end) and cancels the model or tool activity in flight.
        Idempotent."""
        if self._stop is not None:
            return
        self._stop = reason
        self._run.decisions.close()
        if self._opened and not self._ended:
            self._cancelling()
        for handle in list(self._work):
            handle.cancel()

    def _cancelling(self) -> None:
        self._append(
            event_pb2.RunEvent(
                state_changed=event_pb2.StateChanged(state=run_pb2.RUN_STATE_CANCELLING)
            ),
            None,
        )

    def _gate(self, *, closing: bool = False) -> None:
        """Raises ``asyncio.CancelledError`` once the run was asked to stop,
        unless the effect is ``closing`` (part of the run's ending)."""
        if self._stop is not None and not closing:
            raise asyncio.CancelledError(self._stop)

    def _append(self, event: event_pb2.RunEvent, decision: Decision | None) -> None:
        self._counter += 1
        announced = event.WhichOneof("payload") in ANNOUNCED_PAYLOADS
        self._buffer.append(
            KeyedEvent(
                key=f"w{self._counter}",
                event=event.SerializeToString(),
                edited_arguments=decision.edited_arguments if decision else None,
                announce_to=self._spec.ancestor_run_ids if announced else (),
            )
        )

    async def emit(self, event: event_pb2.RunEvent) -> None:
        kind = event.WhichOneof("payload")
        opening = kind == "run_started"
        self._gate(closing=opening or kind in CLOSING_PAYLOADS)
        if kind in TERMINAL_PAYLOADS:
            self._ended = True
        decision = self._run.decisions.observe(event)
        self._append(event, decision)
        if opening:
            self._opened = True
            if self._stop is not None:
                self._cancelling()  # stopped before it started
        # ResolveApproval returns once the approval's record shows the decision,
        # and the record follows this event: publish it with the loop's next
        # event (the state change or the tool result that follow at once), or
        # with the flush before the tool call, whichever comes first.
        if self._publish_soon:
            await self.flush()  # this event included
        elif decision is not None or kind == "sub_run_finished":
            # Also a child run's end: its tool result follows at once, and both
            # must not wait in the buffer for the parent's next activity (other
            # delegations of the round may run for long).
            self._publish_soon = True

    def _take(self) -> tuple[KeyedEvent, ...]:
        events, self._buffer = tuple(self._buffer), []
        self._publish_soon = False
        return events

    def _put_back(self, events: tuple[KeyedEvent, ...]) -> None:
        """Puts events taken for an activity that was cancelled back in front
        of the buffer, to be published in order (their keys make a second
        publish of those already out a no-op)."""
        self._buffer[:0] = events

    async def flush(self) -> None:
        """Publishes buffered events (in emission order)."""
        async with self._lock:
            events = self._take()
            if not events:
                return
            try:
                await _activity(
                    RunActivities.publish_events,
                    PublishInput(run_id=self._spec.run_id, events=events),
                    PUBLISH,
                )
            except asyncio.CancelledError:
                self._put_back(events)
                raise

    async def call_model(self, request: ModelRequest, *, message_id: str) -> ModelTurn:
        self._gate()
        async with self._lock:
            self._gate()
            call = ModelCallInput(
                run_id=self._spec.run_id,
                agent_id=self._spec.agent_id,
                provider=self._spec.provider,
                fallback_models=self._spec.fallback_models,
                request=request,
                message_id=message_id,
                before=self._take(),
                labels=self._spec.labels,
            )
            try:
                result = await _activity(
                    RunActivities.call_model, call, self._model, work=self._work
                )
            except ActivityError as exc:
                raise _model_error(exc, self._spec.provider) from exc
            except asyncio.CancelledError:
                self._put_back(call.before)
                raise
        return ModelTurn(message=result.message, usage=result.usage)

    async def run_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        await self.flush()
        self._gate()
        result = await _activity(
            RunActivities.run_tool,
            ToolCallInput(
                run_id=self._spec.run_id,
                name=name,
                arguments=arguments,
                agent_id=self._spec.agent_id,
                labels=self._spec.labels,
                tool_call_id=CURRENT_TOOL_CALL.get(),
            ),
            self._tool,
            work=self._work,
        )
        return ToolResult(content=result.content, is_error=result.is_error)

    async def run_sub_run(self, spec: RunSpec) -> SubRunOutcome:
        """Creates the child run's record (an activity), starts it as a child
        workflow (id = its run id, on this task queue), waits for it to close
        and reads how it ended (an activity). The run's stop cancels the child
        workflow and waits for it to close (``WAIT_CANCELLATION_COMPLETED``);
        should the parent close first, Temporal cancels the child
        (``REQUEST_CANCEL``). A worker that dies meanwhile resumes the parent
        waiting for the same child: a started child is never started again."""
        await self.flush()
        self._gate()
        await _activity(RunActivities.open_sub_run, SubRunInput(spec=spec), PUBLISH)
        handle = await workflow.start_child_workflow(
            WORKFLOW_NAME,
            AgentRunInput(spec=spec),
            id=spec.run_id,
            cancellation_type=ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            execution_timeout=timedelta(seconds=spec.timeout_seconds) + CHILD_EXECUTION_MARGIN,
            memo={
                "tenant": spec.tenant,
                "created_by": spec.created_by,
                "parent_run_id": spec.parent_run_id,
            },
        )
        self._work.add(handle)
        if self._stop is not None:
            handle.cancel()  # stopped while it started: the child is cancelled too
        try:
            with contextlib.suppress(ChildWorkflowError):  # FAILED or CANCELLED: see its record
                await handle
        except asyncio.CancelledError:
            if not handle.done():
                handle.cancel()
                with contextlib.suppress(asyncio.CancelledError, ChildWorkflowError):
                    await handle
            raise
        finally:
            self._work.discard(handle)
        result = await _activity(
            RunActivities.sub_run_outcome, SubRunQuery(run_id=spec.run_id), PUBLISH
        )
        return SubRunOutcome(
            state=result.state,  # type: ignore[arg-type]
            output=result.output,
            error=status_pb2.Status.FromString(result.error) if result.error else None,
            usage=result.usage,
        )

    async def wait_approval(self, approval_id: str, *, timeout_seconds: float) -> Decision | None:
        await self.flush()
        self._gate()
        decisions = self._run.decisions
        try:
            await workflow.wait_condition(
                lambda: decisions.decision(approval_id) is not None or self._stop is not None,
                timeout=timeout_seconds,
                timeout_summary=f"approval {approval_id} expires",
            )
        except TimeoutError:
            self._gate()  # stopped as it expired: cancelled, not expired
            return decisions.expire_approval(approval_id)
        self._gate()
        return decisions.take_approval(approval_id)

    async def wait_tool_output(self, tool_call_id: str) -> ToolOutput:
        await self.flush()
        self._gate()
        decisions = self._run.decisions
        await workflow.wait_condition(
            lambda: decisions.tool_output(tool_call_id) is not None or self._stop is not None
        )
        self._gate()
        output = decisions.tool_output(tool_call_id)
        assert output is not None
        return output

    def pause_requested(self) -> bool:
        return self._run.pause_requested

    async def wait_resumed(self) -> None:
        """Publishes PAUSED, then waits (durably: a new worker replays into this
        wait) for the resume signal or the run's stop."""
        await self.flush()
        self._gate()
        run = self._run
        await workflow.wait_condition(lambda: not run.pause_requested or self._stop is not None)
        self._gate()

    async def append_to_thread(self, thread_id: str, messages: list[ChatMessage]) -> None:
        await self.flush()
        await _activity(
            RunActivities.append_to_thread,
            ThreadAppendInput(
                run_id=self._spec.run_id,
                thread_id=thread_id,
                messages=tuple(messages),
                tenant=self._spec.tenant,
            ),
            PUBLISH,
        )

    async def checkpoint(self, checkpoint: LoopCheckpoint, messages: list[ChatMessage]) -> None:
        """Continues as new when Temporal suggests it (history too long or
        large), carrying the checkpoint and the whole conversation (the payload
        codec keeps it out of history); never once the run was asked to stop."""
        if self._stop is not None or not workflow.info().is_continue_as_new_suggested():
            return
        await self.flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._gate()
        workflow.continue_as_new(
            AgentRunInput(
                spec=self._spec,
                resume=ResumeState(
                    checkpoint=checkpoint,
                    event_counter=self._counter,
                    messages=tuple(messages),
                    pause_requested=self._run.pause_requested,
                ),
            )
        )

    def resume_from(self, state: ResumeState) -> None:
        """Restores the event counter in a continued-as-new execution (whose
        ``run_started`` was logged by the first)."""
        self._counter = state.event_counter
        self._opened = True

    def now(self) -> Any:
        return workflow.now()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{workflow.uuid4().hex}"


def _model_error(exc: ActivityError, provider: str) -> ModelError:
    """The ``ModelError`` a failed ``call_model`` activity raised, rebuilt from its
    ``ApplicationError`` (type = reason, details = provider and ErrorInfo metadata);
    a failure without one (a timeout, a lost worker) is a retryable one."""
    cause = exc.cause
    if not isinstance(cause, ApplicationError) or not cause.type:
        return ModelError(str(exc), provider=provider, retryable=True)
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    error = ModelError(
        cause.message,
        provider=str(details.get("provider") or provider),
        retryable=cause.type == "PROVIDER_UNAVAILABLE",
    )
    error.reason = cause.type
    metadata = details.get("metadata")
    if isinstance(metadata, dict):
        error.metadata.update({str(k): str(v) for k, v in metadata.items()})
    return error
