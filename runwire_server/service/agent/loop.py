"""The agent loop, written once for every runtime.

``execute_run`` drives one run to a terminal event through an ``Effects``
implementation: LLM round -> tool calls (in parallel by default) -> approvals
per policy -> results back to the model -> ... until a final answer or a
limit. Its safe points (before each model call, and before the tool calls
of a model reply) are where a run asked to pause (PauseRun) stops until
ResumeRun. It never raises for a run's failure: failures become a ``run_error``
event (the run's failure is data). Cancellation (``asyncio.CancelledError``)
ends the run CANCELLED and is re-raised so the runtime sees it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from google.rpc import code_pb2, error_details_pb2, status_pb2
from runwire.v1 import approval_pb2, event_pb2, run_pb2

from runwire_server.service.agent.effects import Effects, SubRunOutcome, ToolResult
from runwire_server.service.core import schemas
from runwire_server.service.core.errors import ERROR_DOMAIN, ResourceExhaustedError, RunwireError
from runwire_server.service.core.messages import ChatMessage, Role, ToolCall, ToolSpec, Usage
from runwire_server.service.core.spec import (
    ApprovalDecision,
    LoopCheckpoint,
    RunSpec,
    SubAgentRef,
)
from runwire_server.service.llm.base import ModelError, ModelRequest
from runwire_server.service.tools.context import CURRENT_TOOL_CALL

logger = logging.getLogger(__name__)

FINISH_STOP = "stop"
FINISH_MAX_ITERATIONS = "max_iterations"
FINISH_TIMEOUT = "timeout"
FINISH_CANCELLED = "cancelled"
FINISH_ERROR = "error"
FINISH_BUDGET_EXCEEDED = "budget_exceeded"

#: The message that asks the model to repair a final answer that does not
#: match ``response_format`` (one attempt).
REPAIR_PROMPT = (
    "Your answer does not match the required JSON Schema ({error}). Answer again with only "
    "a JSON value that matches the schema, and nothing else."
)


#: The approval state an approval_resolved event carries for each decision.
_APPROVAL_STATES = {
    ApprovalDecision.APPROVE: approval_pb2.APPROVAL_STATE_APPROVED,
    ApprovalDecision.REJECT: approval_pb2.APPROVAL_STATE_REJECTED,
}


class _BudgetExceeded(RunwireError):
    """The run used more tokens than its ``token_budget``."""

    default_reason = "TOKEN_BUDGET_EXCEEDED"

    def __init__(self, used: int, budget: int) -> None:
        super().__init__(
            f"the run used {used} tokens, over its budget of {budget}",
            metadata={"used_tokens": str(used), "token_budget": str(budget)},
        )


class _ToolFailuresExceeded(RunwireError):
    """More consecutive tool calls failed than ``max_consecutive_tool_failures``."""

    default_reason = "TOOL_FAILURES_EXCEEDED"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"{limit} consecutive tool calls failed, the agent's "
            "tool_execution.max_consecutive_tool_failures",
            metadata={"limit": str(limit)},
        )


class _OutputMismatch(RunwireError):
    """The final answer does not match ``response_format``, even after the repair."""

    default_reason = "OUTPUT_SCHEMA_MISMATCH"


@dataclass(frozen=True, kw_only=True)
class _Ending:
    """How a run ends when its loop raises ``error``: the ``run_error`` event.

    Attributes:
        error: The exception type of this row (subclasses too).
        finish_reason: ``RunError.finish_reason``.
        code: The ``google.rpc.Code`` of ``RunError.error``.
        retryable_code: The code instead for a retryable ``ModelError``.
        reason: ``ErrorInfo.reason``; ``None`` takes the ``RunwireError``'s own.
        message: ``Status.message``, formatted with ``timeout`` (the run's, in
            seconds), ``kind`` (the exception's type name) and ``error`` (its
            text); ``None`` takes the ``RunwireError``'s own.
        keep_metadata: Copies the ``RunwireError``'s metadata into ``ErrorInfo``.
        unexpected: A bug rather than a run's failure: logged with its traceback.
    """

    error: type[Exception]
    finish_reason: str
    code: int
    retryable_code: int | None = None
    reason: str | None = None
    message: str | None = None
    keep_metadata: bool = False
    unexpected: bool = False


#: How each exception ends a run; the first row whose ``error`` matches wins.
#: (Cancellation is not a failure: it ends the run CANCELLED, see ``execute_run``.)
_ENDINGS = (
    _Ending(
        error=TimeoutError,
        finish_reason=FINISH_TIMEOUT,
        code=code_pb2.DEADLINE_EXCEEDED,
        reason="RUN_TIMEOUT",
        message="the run did not finish within its timeout of {timeout:g} s",
    ),
    _Ending(
        error=_BudgetExceeded,
        finish_reason=FINISH_BUDGET_EXCEEDED,
        code=code_pb2.RESOURCE_EXHAUSTED,
        keep_metadata=True,
    ),
    _Ending(error=_OutputMismatch, finish_reason=FINISH_ERROR, code=code_pb2.FAILED_PRECONDITION),
    _Ending(
        error=_ToolFailuresExceeded,
        finish_reason=FINISH_ERROR,
        code=code_pb2.FAILED_PRECONDITION,
        keep_metadata=True,
    ),
    _Ending(
        error=ResourceExhaustedError,
        finish_reason=FINISH_ERROR,
        code=code_pb2.RESOURCE_EXHAUSTED,
        keep_metadata=True,
    ),
    _Ending(
        error=ModelError,
        finish_reason=FINISH_ERROR,
        code=code_pb2.FAILED_PRECONDITION,
        retryable_code=code_pb2.UNAVAILABLE,
        keep_metadata=True,
    ),
    _Ending(error=RunwireError, finish_reason=FINISH_ERROR, code=code_pb2.INTERNAL),
    _Ending(
        error=Exception,
        finish_reason=FINISH_ERROR,
        code=code_pb2.INTERNAL,
        reason="RUN_FAILED",
        message="the run failed unexpectedly; the server log has the details",
        unexpected=True,
    ),
)


@dataclass
class _RunState:
    """What the loop has done so far; read by the terminal handlers."""

    usage: Usage = field(default_factory=Usage)
    new_messages: list[ChatMessage] = field(default_factory=list)
    # approval_id -> tool_call_id of approvals still pending.
    pending_approvals: dict[str, str] = field(default_factory=dict)
    waiting: int = 0
    # tool_call_id -> whether the call failed (an error result; a call a person
    # rejected, or whose approval expired, did not run and did not fail).
    failed_calls: dict[str, bool] = field(default_factory=dict)
    not_run: set[str] = field(default_factory=set)
    consecutive_failures: int = 0


class _Loop:
    def __init__(self, spec: RunSpec, fx: Effects, deadline: datetime) -> None:
        self.spec = spec
        self.fx = fx
        self.deadline = deadline
        self.state = _RunState()
        self.server_tools = {t.name for t in spec.tools}
        self.client_tools = {t.name for t in spec.client_tools}
        self.sub_agents = {s.tool_name: s for s in spec.sub_agents}

    async def emit(self, **payload: object) -> None:
        await self.fx.emit(event_pb2.RunEvent(**payload))  # type: ignore[arg-type]

    async def set_state(self, state: run_pb2.RunState) -> None:
        await self.emit(state_changed=event_pb2.StateChanged(state=state))

    async def run(
        self, resume: LoopCheckpoint | None, conversation: list[ChatMessage] | None
    ) -> tuple[str, str]:
        """Returns (output, finish_reason)."""
        spec = self.spec
        if resume is not None and conversation is not None:
            messages = list(conversation)
            self.state.new_messages.extend(messages[len(spec.history) :])
            self.state.usage = resume.usage
            step = resume.step - 1
        else:
            user = ChatMessage(
                role=Role.USER,
                content=spec.prompt,
                message_id=self.fx.new_id("msg"),
                run_id=spec.run_id,
            )
            messages = [*spec.history, user]
            self.state.new_messages.append(user)
            step = 0
        tools = (*spec.tools, *spec.sub_agent_tools(), *spec.client_tools)
        while True:
            if step:
                await self.fx.checkpoint(
                    LoopCheckpoint(step=step + 1, usage=self.state.usage, deadline=self.deadline),
                    messages,
                )
            step += 1
            last = step > spec.max_iterations
            await self.emit(step_started=event_pb2.StepStarted(step=step))
            reply = await self.model_round(messages, step, tools=() if last else tools)
            if last or not reply.tool_calls:
                output = await self.final_output(reply, messages, step)
                return output, FINISH_MAX_ITERATIONS if last else FINISH_STOP
            await self.safe_point()
            if spec.parallel_tool_calls:
                results = await asyncio.gather(*(self.tool_call(c) for c in reply.tool_calls))
            else:
                results = [await self.tool_call(c) for c in reply.tool_calls]
            messages.extend(results)
            self.state.new_messages.extend(results)
            self.count_failures(reply.tool_calls)

    def count_failures(self, calls: Sequence[ToolCall]) -> None:
        """Counts the round's failed calls in order; raises once
        ``max_consecutive_tool_failures`` failed in a row (0: never)."""
        cap = self.spec.max_consecutive_tool_failures
        for call in calls:
            if self.state.failed_calls.pop(call.id, False):
                self.state.consecutive_failures += 1
            else:
                self.state.consecutive_failures = 0
            if cap and self.state.consecutive_failures >= cap:
                raise _ToolFailuresExceeded(cap)

    async def model_round(
        self, messages: list[ChatMessage], step: int, *, tools: tuple[ToolSpec, ...]
    ) -> ChatMessage:
        """One model call: its events, usage, budget check; returns the reply."""
        spec = self.spec
        request = ModelRequest(
            model=spec.model,
            options=dict(spec.model_options),
            instructions=spec.instructions,
            messages=tuple(messages),
            tools=tools,
            step=step,
            response_format=spec.response_format,
        )
        await self.safe_point()
        turn = await self.fx.call_model(request, message_id=self.fx.new_id("msg"))
        self.state.usage = self.state.usage + turn.usage
        await self.emit(usage=_usage_pb(self.state.usage))
        reply = turn.message.model_copy(update={"run_id": spec.run_id})
        messages.append(reply)
        self.state.new_messages.append(reply)
        await self.emit(step_finished=event_pb2.StepFinished(step=step))
        used = self.state.usage.total_tokens
        if spec.token_budget and used > spec.token_budget:
            raise _BudgetExceeded(used, spec.token_budget)
        return reply

    async def final_output(self, reply: ChatMessage, messages: list[ChatMessage], step: int) -> str:
        """The final answer, checked against ``response_format`` with one repair."""
        schema = self.spec.response_format
        if schema is None:
            return reply.content
        error = await schemas.answer_problem_off_loop(reply.content, schema)
        if error is None:
            return reply.content
        repair = ChatMessage(
            role=Role.USER,
            content=REPAIR_PROMPT.format(error=error),
            message_id=self.fx.new_id("msg"),
            run_id=self.spec.run_id,
        )
        messages.append(repair)
        self.state.new_messages.append(repair)
        await self.emit(step_started=event_pb2.StepStarted(step=step + 1))
        repaired = await self.model_round(messages, step + 1, tools=())
        error = await schemas.answer_problem_off_loop(repaired.content, schema)
        if error is not None:
            raise _OutputMismatch(f"the final answer does not match response_format: {error}")
        return repaired.content

    async def safe_point(self) -> None:
        """Pauses here when PauseRun asked (before a model call, and before the
        tool calls of a model reply): logs PAUSED, waits for ResumeRun, logs
        RUNNING. The run timeout keeps running meanwhile; a cancel ends the
        wait (``asyncio.CancelledError``)."""
        if not self.fx.pause_requested():
            return
        await self.set_state(run_pb2.RUN_STATE_PAUSED)
        await self.fx.wait_resumed()
        await self.set_state(run_pb2.RUN_STATE_RUNNING)

    async def begin_wait(self) -> None:
        self.state.waiting += 1
        if self.state.waiting == 1:
            await self.set_state(run_pb2.RUN_STATE_REQUIRES_ACTION)

    async def end_wait(self) -> None:
        self.state.waiting -= 1
        if self.state.waiting == 0:
            await self.set_state(run_pb2.RUN_STATE_RUNNING)

    async def tool_call(self, call: ToolCall) -> ChatMessage:
        if call.name in self.client_tools:
            result = await self.client_tool(call)
        elif call.name in self.server_tools:
            result = await self.server_tool(call)
        elif call.name in self.sub_agents:
            result = await self.delegate(call, self.sub_agents[call.name])
        else:
            known = sorted(self.server_tools | self.client_tools | self.sub_agents.keys())
            result = ToolResult(
                content=f"error: unknown tool {call.name!r}; available tools: {known}",
                is_error=True,
            )
        self.state.failed_calls[call.id] = result.is_error and call.id not in self.state.not_run
        await self.emit(
            tool_call_result=event_pb2.ToolCallResult(
                tool_call_id=call.id, content=result.content, is_error=result.is_error
            )
        )
        return ChatMessage(
            role=Role.TOOL,
            content=result.content,
            tool_call_id=call.id,
            message_id=self.fx.new_id("msg"),
            run_id=self.spec.run_id,
        )

    async def client_tool(self, call: ToolCall) -> ToolResult:
        await self.emit(
            client_tool_call_requested=event_pb2.ClientToolCallRequested(
                tool_call_id=call.id, tool_name=call.name, arguments=call.arguments
            )
        )
        await self.begin_wait()
        output = await self.fx.wait_tool_output(call.id)
        await self.end_wait()
        return ToolResult(content=output.output, is_error=output.is_error)

    async def checked_arguments(self, call: ToolCall) -> dict[str, object] | ToolResult:
        """The call's arguments, parsed and, when the policy asks, approved (an
        approver may edit them); or the tool error the model sees instead (not a
        JSON object, rejected, expired)."""
        try:
            arguments = call.parse_arguments()
        except ValueError as exc:
            return ToolResult(
                content=f"error: the arguments of {call.name!r} are not a JSON object ({exc}); "
                "call the tool again with valid JSON arguments",
                is_error=True,
            )
        if not self.spec.needs_approval(call.name):
            return arguments
        approved, arguments_or_notice = await self.approval(call, arguments)
        if not approved:
            return ToolResult(content=str(arguments_or_notice), is_error=True)
        assert isinstance(arguments_or_notice, dict)
        return arguments_or_notice

    async def server_tool(self, call: ToolCall) -> ToolResult:
        arguments = await self.checked_arguments(call)
        if isinstance(arguments, ToolResult):
            return arguments
        return await self.execute_tool(call, arguments)

    async def execute_tool(self, call: ToolCall, arguments: dict[str, object]) -> ToolResult:
        """Runs a server tool (built-in, Python or MCP) under the agent's
        ``tool_timeout`` (a timeout is a tool error the model sees), with
        ``CURRENT_TOOL_CALL`` naming the call (the tool's ``ToolContext``)."""
        token = CURRENT_TOOL_CALL.set(call.id)
        try:
            timeout = self.spec.tool_timeout_seconds
            if timeout is None:
                return await self.fx.run_tool(call.name, arguments)
            try:
                async with asyncio.timeout(timeout):
                    return await self.fx.run_tool(call.name, arguments)
            except TimeoutError:
                return ToolResult(
                    content=f"error: the tool {call.name!r} did not finish within its timeout "
                    f"of {timeout:g} s",
                    is_error=True,
                )
        finally:
            CURRENT_TOOL_CALL.reset(token)

    async def delegate(self, call: ToolCall, sub: SubAgentRef) -> ToolResult:
        """A call of a sub-agent's tool: a child run of that agent with the
        call's ``prompt`` (after an approval, per policy, like any tool). The
        parent logs ``sub_run_started`` and ``sub_run_finished``; the child's
        usage rolls up into the parent's; its output is the result, and a
        child that did not succeed (or could not start, or would be too deep)
        is a tool error the model sees."""
        arguments = await self.checked_arguments(call)
        if isinstance(arguments, ToolResult):
            return arguments
        prompt = arguments.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return ToolResult(
                content=f"error: {call.name!r} needs a non-empty string argument 'prompt' (the "
                "task for the sub-agent); call it again with one",
                is_error=True,
            )
        try:
            child = self.spec.child_spec(sub, run_id=self.fx.new_id("run"), prompt=prompt)
        except RunwireError as exc:
            return ToolResult(content=f"error: {exc.message}", is_error=True)

        await self.emit(
            sub_run_started=event_pb2.SubRunStarted(
                child_run_id=child.run_id, agent_id=sub.agent_id, tool_call_id=call.id
            )
        )
        try:
            outcome = await self.fx.run_sub_run(child)
        except RunwireError as exc:
            error = status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=exc.message)
            outcome = SubRunOutcome(state=run_pb2.RUN_STATE_FAILED, error=error)
        self.state.usage = self.state.usage + outcome.usage
        await self.emit(usage=_usage_pb(self.state.usage))
        finished = event_pb2.SubRunFinished(
            child_run_id=child.run_id,
            agent_id=sub.agent_id,
            tool_call_id=call.id,
            state=outcome.state,
            output=outcome.output,
            usage=_usage_pb(outcome.usage),
        )
        if outcome.error is not None:
            finished.error.CopyFrom(outcome.error)
        await self.emit(sub_run_finished=finished)
        if outcome.state == run_pb2.RUN_STATE_SUCCEEDED:
            return ToolResult(content=outcome.output)
        state = run_pb2.RunState.Name(outcome.state).removeprefix("RUN_STATE_")
        why = f": {outcome.error.message}" if outcome.error is not None else ""
        return ToolResult(
            content=f"error: the run of sub-agent {sub.agent_id!r} ended {state}{why}",
            is_error=True,
        )

    async def approval(
        self, call: ToolCall, arguments: dict[str, object]
    ) -> tuple[bool, dict[str, object] | str]:
        approval_id = self.fx.new_id("apr")
        timeout = self.spec.approval_timeout_seconds
        requested = event_pb2.ApprovalRequested(
            approval_id=approval_id,
            tool_call_id=call.id,
            tool_name=call.name,
            arguments=call.arguments,
        )
        requested.expire_time.FromDatetime(self.fx.now() + timedelta(seconds=timeout))
        self.state.pending_approvals[approval_id] = call.id
        await self.emit(approval_requested=requested)
        await self.begin_wait()
        decision = await self.fx.wait_approval(approval_id, timeout_seconds=timeout)
        del self.state.pending_approvals[approval_id]
        resolve_time = self.fx.now()
        if decision is None:
            state = approval_pb2.APPROVAL_STATE_EXPIRED
            reason = f"nobody approved the call within {timeout:g} s"
            resolved_by = "system"
        else:
            resolve_time = decision.resolve_time
            state = _APPROVAL_STATES[decision.choice]
            reason = decision.reason
            resolved_by = decision.resolved_by
        resolved = event_pb2.ApprovalResolved(
            approval_id=approval_id,
            tool_call_id=call.id,
            state=state,
            reason=reason,
            resolved_by=resolved_by,
        )
        resolved.resolve_time.FromDatetime(resolve_time)
        await self.emit(approval_resolved=resolved)
        await self.end_wait()
        if decision is None or decision.choice is ApprovalDecision.REJECT:
            self.state.not_run.add(call.id)
        if decision is None:
            return (
                False,
                f"error: the call of {call.name!r} was not run: approval expired ({reason})",
            )
        if decision.choice is ApprovalDecision.REJECT:
            why = f": {decision.reason}" if decision.reason else ""
            return False, f"error: the call of {call.name!r} was rejected by {resolved_by}{why}"
        if decision.edited_arguments is not None:
            return True, dict(decision.edited_arguments)
        return True, arguments

    async def close_pending(self) -> None:
        """Cancels approvals left pending when the run ends early."""
        for approval_id, tool_call_id in list(self.state.pending_approvals.items()):
            cancelled = event_pb2.ApprovalResolved(
                approval_id=approval_id,
                tool_call_id=tool_call_id,
                state=approval_pb2.APPROVAL_STATE_CANCELLED,
                reason="the run ended before a decision",
                resolved_by="system",
            )
            cancelled.resolve_time.FromDatetime(self.fx.now())
            await self.emit(approval_resolved=cancelled)
        self.state.pending_approvals.clear()


async def execute_run(
    spec: RunSpec,
    fx: Effects,
    *,
    resume: LoopCheckpoint | None = None,
    conversation: list[ChatMessage] | None = None,
) -> run_pb2.RunState:
    """Runs ``spec`` to its terminal event; returns the terminal state.

    Args:
        spec: The run.
        fx: The runtime's effects.
        resume: Resume a run at this checkpoint instead of starting it (its
            start events are not logged again).
        conversation: With ``resume``, the whole conversation so far.

    Raises:
        asyncio.CancelledError: after logging ``run_finished`` (CANCELLED),
            when the run was cancelled.
    """
    deadline = resume.deadline if resume else fx.now() + timedelta(seconds=spec.timeout_seconds)
    loop = _Loop(spec, fx, deadline)
    try:
        # Inside the try: a run cancelled as it starts still ends CANCELLED.
        if resume is None:
            await loop.emit(
                run_started=event_pb2.RunStarted(
                    agent_id=spec.agent_id, thread_id=spec.thread_id, created_by=spec.created_by
                )
            )
            await loop.set_state(run_pb2.RUN_STATE_RUNNING)
        async with asyncio.timeout(max(0.0, (deadline - fx.now()).total_seconds())):
            output, finish_reason = await loop.run(resume, conversation)
    except asyncio.CancelledError:
        await loop.close_pending()
        await _finish_thread(loop)
        await loop.emit(
            run_finished=event_pb2.RunFinished(
                state=run_pb2.RUN_STATE_CANCELLED,
                finish_reason=FINISH_CANCELLED,
                usage=_usage_pb(loop.state.usage),
            )
        )
        raise
    except Exception as exc:  # a failure ends the run as data (``_ENDINGS``)
        await _end_failed(loop, exc)
        return run_pb2.RUN_STATE_FAILED
    await _finish_thread(loop)
    await loop.emit(
        run_finished=event_pb2.RunFinished(
            state=run_pb2.RUN_STATE_SUCCEEDED,
            output=output,
            finish_reason=finish_reason,
            usage=_usage_pb(loop.state.usage),
        )
    )
    return run_pb2.RUN_STATE_SUCCEEDED


async def _end_failed(loop: _Loop, exc: Exception) -> None:
    """Ends the run with the ``run_error`` that ``exc``'s row of ``_ENDINGS`` gives,
    after cancelling pending approvals and saving the thread."""
    ending = next(e for e in _ENDINGS if isinstance(exc, e.error))
    if ending.unexpected:
        logger.error("run %s failed unexpectedly", loop.spec.run_id, exc_info=exc)
    reason, message, metadata = "", "", {}
    if isinstance(exc, RunwireError):
        reason, message = exc.reason, exc.message
        metadata = exc.metadata if ending.keep_metadata else {}
    if ending.reason is not None:
        reason = ending.reason
    if ending.message is not None:
        message = ending.message.format(
            timeout=loop.spec.timeout_seconds, kind=type(exc).__name__, error=exc
        )
    code = ending.code
    if ending.retryable_code is not None and isinstance(exc, ModelError) and exc.retryable:
        code = ending.retryable_code
    await loop.close_pending()
    await _finish_thread(loop)
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata)
    info.metadata["run_id"] = loop.spec.run_id
    error = status_pb2.Status(code=code, message=message)
    error.details.add().Pack(info)
    await loop.emit(
        run_error=event_pb2.RunError(
            error=error, finish_reason=ending.finish_reason, usage=_usage_pb(loop.state.usage)
        )
    )


async def _finish_thread(loop: _Loop) -> None:
    if loop.spec.thread_id:
        # Reasoning (Anthropic's signed thinking) is for the turn in progress only.
        messages = [m.without_reasoning() for m in complete_exchanges(loop.state.new_messages)]
        await loop.fx.append_to_thread(loop.spec.thread_id, messages)


def complete_exchanges(messages: list[ChatMessage]) -> list[ChatMessage]:
    """``messages`` without a trailing assistant tool-call message whose
    results are missing (a run cut short), so a thread never holds a tool
    call without its result."""
    out = list(messages)
    for index in range(len(out) - 1, -1, -1):
        message = out[index]
        if message.role is Role.ASSISTANT and message.tool_calls:
            answered = {m.tool_call_id for m in out[index + 1 :] if m.role is Role.TOOL}
            if not {c.id for c in message.tool_calls} <= answered:
                return out[:index]
            break
    return out


def _usage_pb(usage: Usage) -> run_pb2.Usage:
    return run_pb2.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )
