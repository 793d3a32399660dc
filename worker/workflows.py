"""The ``runwire.AgentRun`` workflow: the shared agent loop, made durable.

The workflow runs ``service.agent.loop.execute_run`` — the same loop as the
in-process runtime — through ``WorkflowEffects``: model and tool calls are
activities, events are buffered and published by activities (keyed, so a
retry never doubles one), approvals and client tool outputs arrive as
workflow updates whose validators refuse bad or conflicting input before it
enters history, approval expiry is a durable timer, and time and ids come
from ``workflow.now()`` / ``workflow.uuid4()``.

Only deterministic code runs here: service modules are passed through the
sandbox (they hold no per-run global state) and do no I/O from the workflow.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import CancelledError as TemporalCancelledError

with workflow.unsafe.imports_passed_through():
    from runwire.v1 import event_pb2, run_pb2

    from service.agent.effects import ModelTurn, ToolResult
    from service.agent.loop import execute_run
    from service.core.messages import ChatMessage, Role
    from service.core.spec import Decision, LoopCheckpoint, RunSpec, ToolOutput
    from service.llm.base import ModelError, ModelRequest
    from service.runtimes.temporal_contract import (
        UPDATE_RESOLVE_APPROVAL,
        UPDATE_SUBMIT_TOOL_OUTPUTS,
        WORKFLOW_NAME,
        AgentRunInput,
        ConversationInput,
        KeyedEvent,
        ModelCallInput,
        ModelCallResult,
        ModelContext,
        PublishInput,
        ResolveApprovalInput,
        ResumeState,
        SubmitToolOutputsInput,
        ThreadAppendInput,
        ToolCallInput,
        ToolCallResult,
        stored_result_marker,
    )

#: Activity heartbeat timeout: how soon a killed worker's activity is retried elsewhere.
#: Activities record a heartbeat every 0.25 s and the worker sends them at most every
#: 0.3 s (``worker.factory``), so a live activity has ~1.2 s of slack against a stalled
#: event loop; a killed one is retried ~2.4 s after the kill on the dev server (2 s
#: gave 3.4-3.8 s from kill to the next event: ``tests/durability``, target 3 s).
HEARTBEAT_TIMEOUT = timedelta(seconds=1.5)
_PUBLISH_TIMEOUT = timedelta(seconds=30)
_PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=5)
)
_MODEL_RETRY = RetryPolicy(
    # A short first interval: a model call lost with a killed worker resumes
    # within heartbeat timeout + 0.2 s on another worker.
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)
_TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)


class _Refused(ApplicationError):
    """An update refused by its validator; ``type`` is the API's reason and
    the first detail the ErrorInfo metadata."""

    def __init__(self, message: str, reason: str, **metadata: str) -> None:
        super().__init__(message, metadata, type=reason, non_retryable=True)


async def _activity(name: str, arg: Any, **options: Any) -> Any:
    """``workflow.execute_activity`` where a cancelled activity raises
    ``asyncio.CancelledError`` (as any cancelled await does in-process), so
    the loop's timeout and cancel handling work alike on both runtimes."""
    try:
        return await workflow.execute_activity(name, arg, **options)
    except ActivityError as exc:
        if isinstance(exc.cause, TemporalCancelledError):
            raise asyncio.CancelledError(str(exc.cause)) from exc
        raise


#: ``workflow.patched`` id of the change that stopped loading the stored
#: conversation into a continued-as-new execution (histories recorded before it
#: replay the ``load_conversation`` activity).
STORED_CONVERSATION_PATCH = "stored-conversation"
#: ``workflow.patched`` id of the change that keeps long tool results out of
#: history (``temporal_contract.STORED_RESULT_MIN_CHARS``).
STORED_RESULTS_PATCH = "stored-tool-results"
_STORED_ID = "stored"
#: Stands for a message of the run's stored conversation (``ConversationStore``)
#: that this execution does not hold because it continued as new. Only messages
#: after ``known_messages`` are ever sent to an activity, so the loop never needs
#: their content here, and history does not grow with the conversation.
_STORED = ChatMessage(role=Role.USER, message_id=_STORED_ID)


class WorkflowEffects:
    """``Effects`` of one run inside the workflow."""

    def __init__(self, run: AgentRun, spec: RunSpec) -> None:
        self._run = run
        self._spec = spec
        self._buffer: list[KeyedEvent] = []
        self._counter = 0
        self._lock = asyncio.Lock()
        self._known_messages = 0
        self._context_sent = False
        self._timeout = timedelta(seconds=spec.timeout_seconds + 60)

    async def emit(self, event: event_pb2.RunEvent) -> None:
        kind = event.WhichOneof("payload")
        if kind == "approval_requested":
            self._run.pending_approvals.add(event.approval_requested.approval_id)
        elif kind == "client_tool_call_requested":
            self._run.pending_tool_calls.add(event.client_tool_call_requested.tool_call_id)
        self._counter += 1
        self._buffer.append(KeyedEvent(key=f"w{self._counter}", event=event.SerializeToString()))

    def _take(self) -> tuple[KeyedEvent, ...]:
        events, self._buffer = tuple(self._buffer), []
        return events

    async def flush(self) -> None:
        """Publishes buffered events (in emission order)."""
        async with self._lock:
            events = self._take()
            if events:
                await _activity(
                    "publish_events",
                    PublishInput(run_id=self._spec.run_id, events=events),
                    start_to_close_timeout=_PUBLISH_TIMEOUT,
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=_PUBLISH_RETRY,
                )

    async def call_model(self, request: ModelRequest, *, message_id: str) -> ModelTurn:
        async with self._lock:
            known = self._known_messages
            context = None
            if not self._context_sent:
                context = ModelContext(
                    provider=self._spec.provider,
                    model=request.model,
                    options=dict(request.options),
                    instructions=request.instructions,
                    tools=(*self._spec.tools, *self._spec.client_tools),
                    agent_id=self._spec.agent_id,
                    fallback_models=self._spec.fallback_models,
                    response_format=request.response_format,
                )
            call = ModelCallInput(
                run_id=self._spec.run_id,
                context=context,
                offer_tools=bool(request.tools),
                step=request.step,
                known_messages=known,
                new_messages=request.messages[known:],
                message_id=message_id,
                before=self._take(),
            )
            try:
                result = await _activity(
                    "call_model",
                    call,
                    result_type=ModelCallResult,
                    start_to_close_timeout=self._timeout,
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=_MODEL_RETRY,
                )
            except ActivityError as exc:
                cause = exc.cause
                reason = cause.type if isinstance(cause, ApplicationError) and cause.type else ""
                raise ModelError(
                    str(cause.message if isinstance(cause, ApplicationError) else exc),
                    provider=self._spec.provider,
                    retryable=reason == "PROVIDER_UNAVAILABLE" or not reason,
                ) from exc
            self._known_messages = len(request.messages)
            self._context_sent = True
        return ModelTurn(message=result.message, usage=result.usage)

    async def run_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        await self.flush()
        result_key = ""
        if workflow.patched(STORED_RESULTS_PATCH):
            result_key = f"res_{workflow.uuid4().hex}"
        result = await _activity(
            "run_tool",
            ToolCallInput(
                run_id=self._spec.run_id,
                name=name,
                arguments=arguments,
                agent_id=self._spec.agent_id,
                result_key=result_key,
            ),
            result_type=ToolCallResult,
            start_to_close_timeout=self._timeout,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=_TOOL_RETRY,
        )
        if result.stored_key:
            # A long result stays in the conversation store; the activities that
            # publish it or send it to the model put the content back.
            return ToolResult(
                content=stored_result_marker(result.stored_key), is_error=result.is_error
            )
        return ToolResult(content=result.content, is_error=result.is_error)

    async def wait_approval(self, approval_id: str, *, timeout_seconds: float) -> Decision | None:
        await self.flush()
        try:
            await workflow.wait_condition(
                lambda: approval_id in self._run.decisions,
                timeout=timeout_seconds,
                timeout_summary=f"approval {approval_id} expires",
            )
        except TimeoutError:
            self._run.pending_approvals.discard(approval_id)
            self._run.expired.add(approval_id)
            return None
        self._run.pending_approvals.discard(approval_id)
        return self._run.decisions[approval_id]

    async def wait_tool_output(self, tool_call_id: str) -> ToolOutput:
        await self.flush()
        await workflow.wait_condition(lambda: tool_call_id in self._run.tool_outputs)
        self._run.pending_tool_calls.discard(tool_call_id)
        return self._run.tool_outputs[tool_call_id]

    async def append_to_thread(self, thread_id: str, messages: list[ChatMessage]) -> None:
        await self.flush()
        # ``messages`` are the run's new messages (conversation index
        # len(history) on); leading _STORED ones are fetched from the store.
        stored = 0
        while stored < len(messages) and messages[stored].message_id == _STORED_ID:
            stored += 1
        await _activity(
            "append_to_thread",
            ThreadAppendInput(
                run_id=self._spec.run_id,
                thread_id=thread_id,
                messages=tuple(messages[stored:]),
                stored_from=len(self._spec.history),
                stored_count=stored,
            ),
            start_to_close_timeout=_PUBLISH_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=_PUBLISH_RETRY,
        )

    async def checkpoint(self, checkpoint: LoopCheckpoint, messages: list[ChatMessage]) -> None:
        """Continues as new when Temporal suggests it (history too long or
        large), carrying the checkpoint; the conversation goes to the store."""
        if not workflow.info().is_continue_as_new_suggested():
            return
        await self.flush()
        known = self._known_messages
        if len(messages) > known:
            known = await _activity(
                "save_conversation",
                ConversationInput(
                    run_id=self._spec.run_id,
                    known_messages=known,
                    new_messages=tuple(messages[known:]),
                ),
                result_type=int,
                start_to_close_timeout=_PUBLISH_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=_PUBLISH_RETRY,
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            AgentRunInput(
                spec=self._spec,
                resume=ResumeState(
                    checkpoint=checkpoint,
                    event_counter=self._counter,
                    known_messages=known,
                    context_sent=self._context_sent,
                ),
            )
        )

    def resume_from(self, state: ResumeState) -> None:
        """Restores the effects' counters in a continued-as-new execution."""
        self._counter = state.event_counter
        self._known_messages = state.known_messages
        self._context_sent = state.context_sent

    def now(self) -> Any:
        return workflow.now()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{workflow.uuid4().hex}"


@workflow.defn(name=WORKFLOW_NAME)
class AgentRun:
    """One agent run (workflow id = run id). Result: the terminal state name;
    a FAILED run fails the workflow (non-retryable), a cancelled one ends cancelled."""

    def __init__(self) -> None:
        self.decisions: dict[str, Decision] = {}
        self.tool_outputs: dict[str, ToolOutput] = {}
        self.pending_approvals: set[str] = set()
        self.pending_tool_calls: set[str] = set()
        self.expired: set[str] = set()

    @workflow.run
    async def run(self, request: AgentRunInput) -> str:
        effects = WorkflowEffects(self, request.spec)
        conversation = None
        if request.resume is not None:
            effects.resume_from(request.resume)
        if request.resume is not None and workflow.patched(STORED_CONVERSATION_PATCH):
            conversation = [_STORED] * request.resume.known_messages
        elif request.resume is not None:
            conversation = await _activity(
                "load_conversation",
                ConversationInput(
                    run_id=request.spec.run_id, known_messages=request.resume.known_messages
                ),
                result_type=list[ChatMessage],
                start_to_close_timeout=_PUBLISH_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=_PUBLISH_RETRY,
            )
        try:
            state = await execute_run(
                request.spec,
                effects,
                resume=request.resume.checkpoint if request.resume else None,
                conversation=conversation,
            )
            await effects.flush()
        except asyncio.CancelledError:
            await effects.flush()
            raise
        except workflow.NondeterminismError:
            raise  # a task failure: a fixed deployment can resume the run
        except Exception as exc:
            # Anything else means this run failed: fail the workflow, not the
            # workflow task, so it is not retried forever.
            raise ApplicationError(
                f"run {request.spec.run_id} failed: {type(exc).__name__}: {exc}",
                type="RUN_FAILED",
                non_retryable=True,
            ) from exc
        if state == run_pb2.RUN_STATE_FAILED:
            raise ApplicationError(
                f"run {request.spec.run_id} failed (see its run_error event)",
                type="RUN_FAILED",
                non_retryable=True,
            )
        return run_pb2.RunState.Name(state)

    @workflow.update(name=UPDATE_RESOLVE_APPROVAL)
    def resolve_approval(self, request: ResolveApprovalInput) -> Decision:
        """Records a decision; returns the decision in force."""
        first = self.decisions.get(request.approval_id)
        if first is not None:
            return first
        self.decisions[request.approval_id] = request.decision
        return request.decision

    @resolve_approval.validator
    def _check_resolve(self, request: ResolveApprovalInput) -> None:
        first = self.decisions.get(request.approval_id)
        if first is not None:
            if first.approve != request.decision.approve:
                decided = "APPROVE" if first.approve else "REJECT"
                raise _Refused(
                    f"approval {request.approval_id!r} was already resolved with {decided}",
                    "APPROVAL_ALREADY_RESOLVED",
                    approval_id=request.approval_id,
                    decision=decided,
                )
            return
        if request.approval_id not in self.pending_approvals:
            raise _Refused(
                f"the run does not wait for approval {request.approval_id!r}",
                "APPROVAL_NOT_PENDING",
                approval_id=request.approval_id,
            )

    @workflow.update(name=UPDATE_SUBMIT_TOOL_OUTPUTS)
    def submit_tool_outputs(self, request: SubmitToolOutputsInput) -> None:
        """Records client tool outputs."""
        for output in request.outputs:
            self.tool_outputs[output.tool_call_id] = output

    @submit_tool_outputs.validator
    def _check_outputs(self, request: SubmitToolOutputsInput) -> None:
        for output in request.outputs:
            if output.tool_call_id in self.tool_outputs:
                raise _Refused(
                    f"tool call {output.tool_call_id!r} was already answered",
                    "TOOL_CALL_ALREADY_ANSWERED",
                    tool_call_id=output.tool_call_id,
                )
            if output.tool_call_id not in self.pending_tool_calls:
                raise _Refused(
                    f"the run does not wait for an output of tool call {output.tool_call_id!r}",
                    "TOOL_CALL_NOT_PENDING",
                    tool_call_id=output.tool_call_id,
                )
