"""Runwire run events as AG-UI events, and when an AG-UI run ends.

``RunTranslator`` folds a run's ``RunEvent``s in log order (``feed``) into what
the AG-UI endpoint needs:

- the AG-UI events each one maps to (docs/agui.md has the table);
- what is open (text and reasoning messages, tool calls, the LLM round, sub-agent
  runs), so an AG-UI run that starts or ends mid-way re-opens (``reopen``) or
  closes (``close_open``) them: AG-UI clients refuse a ``RUN_FINISHED`` with
  anything open, and an event of something never opened;
- what the run waits for: client tool calls (AG-UI frontend tools) and
  approvals (AG-UI interrupts), its own and its sub-agents';
- whether the run is *settled*: it waits for the caller and every tool call of
  the current round has a result or waits too (``settled``). The SSE response
  then ends with ``RUN_FINISHED`` (``finish_waiting``): an ``interrupt`` outcome
  naming the approvals, else a ``success`` outcome whose ``pendingToolCallIds``
  name the frontend tool calls to answer.

The fold is deterministic: replaying the same log gives the same state, which is
how a continuation request finds where the previous response stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ag_ui.core import (
    BaseEvent,
    CustomEvent,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedSuccessOutcome,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    SubagentErrorEvent,
    SubagentFinishedEvent,
    SubagentFinishedSuccessOutcome,
    SubagentFinishedSuspendedOutcome,
    SubagentStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from google.rpc import error_details_pb2, status_pb2
from runwire.v1 import approval_pb2, event_pb2, run_pb2

#: ``Interrupt.reason`` of a Runwire approval.
APPROVAL_REASON = "tool_approval"
#: The key of the AG-UI state under which the endpoint keeps the run's state.
STATE_KEY = "runwire"
#: JSON Schema of the ``resume`` payload that answers an approval interrupt.
APPROVAL_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "description": "true: run the tool call; false: do not"},
        "reason": {"type": "string", "maxLength": 4000, "description": "why; the model sees it"},
        "editedArguments": {
            "type": "object",
            "description": "with approved: run the tool with these arguments instead",
        },
    },
    "required": ["approved"],
}

_TERMINAL = frozenset(
    {run_pb2.RUN_STATE_SUCCEEDED, run_pb2.RUN_STATE_FAILED, run_pb2.RUN_STATE_CANCELLED}
)


def is_terminal(state: int) -> bool:
    """Whether a ``RunState`` value is SUCCEEDED, FAILED or CANCELLED."""
    return state in _TERMINAL


def error_reason(status: status_pb2.Status) -> str:
    """The ``ErrorInfo.reason`` of a ``google.rpc.Status`` ("" when it has none)."""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""


def _state_name(state: int) -> str:
    return run_pb2.RunState.Name(state).removeprefix("RUN_STATE_") if state else "QUEUED"


def _timestamp(event: event_pb2.RunEvent) -> int | None:
    if not event.HasField("create_time"):
        return None
    return event.create_time.seconds * 1000 + event.create_time.nanos // 1_000_000


@dataclass
class _ToolCall:
    name: str
    parent_message_id: str


@dataclass
class _SubRun:
    agent_id: str
    tool_call_id: str


@dataclass
class RunTranslator:
    """The fold of one Runwire run's events for one AG-UI request.

    Args:
        thread_id: The AG-UI ``threadId`` (echoed in ``RUN_FINISHED``).
        agui_run_id: The AG-UI ``runId`` of the request (echoed likewise).
        state_is_object: Whether the request's AG-UI ``state`` is a JSON object:
            then the run's state is sent as a ``STATE_DELTA`` under ``/runwire``
            (the application's own keys are kept), else as a ``STATE_SNAPSHOT``.
    """

    thread_id: str
    agui_run_id: str
    state_is_object: bool = False
    #: The Runwire run (from its first event).
    run_id: str = ""
    #: The last sequence folded.
    sequence: int = 0
    #: The run's state (``RunState`` value).
    state: int = run_pb2.RUN_STATE_QUEUED
    #: Set by the terminal event.
    terminal: bool = False
    #: Tool calls answered by this request (their results are not re-sent).
    answered_calls: set[str] = field(default_factory=set)
    #: Approvals resolved by this request.
    answered_approvals: set[str] = field(default_factory=set)
    #: Client tool calls waiting: id -> tool name.
    pending_client: dict[str, str] = field(default_factory=dict)
    #: Approvals waiting (this run's and its sub-agents'), by approval id.
    approvals: dict[str, event_pb2.ApprovalRequested] = field(default_factory=dict)
    _step: int = 0
    _step_open: bool = False
    _text: dict[str, None] = field(default_factory=dict)
    _reasoning: dict[str, None] = field(default_factory=dict)
    _tool_calls: dict[str, _ToolCall] = field(default_factory=dict)
    _sub_runs: dict[str, _SubRun] = field(default_factory=dict)
    #: The tool calls of the current round: id -> whether it has its result.
    _round_calls: dict[str, bool] = field(default_factory=dict)
    _client_calls: set[str] = field(default_factory=set)
    _state_sent: bool = False

    # -- folding ---------------------------------------------------------

    def feed(self, event: event_pb2.RunEvent) -> list[BaseEvent]:
        """Folds ``event`` (not a heartbeat); returns the AG-UI events it maps to."""
        self.run_id = self.run_id or event.run_id
        self.sequence = max(self.sequence, event.sequence)
        kind = event.WhichOneof("payload")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            return []
        events: list[BaseEvent] = handler(getattr(event, str(kind)))
        stamp = _timestamp(event)
        if stamp is not None:
            for out in events:
                out.timestamp = stamp
        return events

    def _on_state_changed(self, payload: event_pb2.StateChanged) -> list[BaseEvent]:
        self.state = payload.state
        return [self.state_event()]

    def _on_step_started(self, payload: event_pb2.StepStarted) -> list[BaseEvent]:
        self._step = payload.step
        self._step_open = True
        self._round_calls = {}
        return [StepStartedEvent(step_name=self._step_name())]

    def _on_step_finished(self, payload: event_pb2.StepFinished) -> list[BaseEvent]:
        if not self._step_open:
            return []
        self._step_open = False
        return [StepFinishedEvent(step_name=f"step {payload.step}")]

    def _on_text_message_start(self, payload: event_pb2.TextMessageStart) -> list[BaseEvent]:
        self._text[payload.message_id] = None
        return [TextMessageStartEvent(message_id=payload.message_id, role="assistant")]

    def _on_text_message_content(self, payload: event_pb2.TextMessageContent) -> list[BaseEvent]:
        if payload.message_id not in self._text or not payload.delta:
            return []
        return [TextMessageContentEvent(message_id=payload.message_id, delta=payload.delta)]

    def _on_text_message_end(self, payload: event_pb2.TextMessageEnd) -> list[BaseEvent]:
        if payload.message_id not in self._text:
            return []
        del self._text[payload.message_id]
        return [TextMessageEndEvent(message_id=payload.message_id)]

    def _on_reasoning_start(self, payload: event_pb2.ReasoningStart) -> list[BaseEvent]:
        self._reasoning[payload.message_id] = None
        return _reasoning_openers(payload.message_id)

    def _on_reasoning_content(self, payload: event_pb2.ReasoningContent) -> list[BaseEvent]:
        if payload.message_id not in self._reasoning or not payload.delta:
            return []
        return [ReasoningMessageContentEvent(message_id=payload.message_id, delta=payload.delta)]

    def _on_reasoning_end(self, payload: event_pb2.ReasoningEnd) -> list[BaseEvent]:
        if payload.message_id not in self._reasoning:
            return []
        del self._reasoning[payload.message_id]
        return _reasoning_closers(payload.message_id)

    def _on_message_discarded(self, payload: event_pb2.MessageDiscarded) -> list[BaseEvent]:
        # AG-UI cannot withdraw a message: close what the failed model call left
        # open, and say which message to drop.
        out: list[BaseEvent] = []
        if payload.message_id in self._text:
            del self._text[payload.message_id]
            out.append(TextMessageEndEvent(message_id=payload.message_id))
        for call_id, call in list(self._tool_calls.items()):
            if call.parent_message_id == payload.message_id:
                del self._tool_calls[call_id]
                self._round_calls.pop(call_id, None)
                out.append(ToolCallEndEvent(tool_call_id=call_id))
        for reasoning_id in list(self._reasoning):
            del self._reasoning[reasoning_id]
            out.extend(_reasoning_closers(reasoning_id))
        out.append(
            CustomEvent(
                name="runwire.message_discarded",
                value={"messageId": payload.message_id, "reason": payload.reason},
            )
        )
        return out

    def _on_tool_call_start(self, payload: event_pb2.ToolCallStart) -> list[BaseEvent]:
        self._tool_calls[payload.tool_call_id] = _ToolCall(
            payload.tool_call_name, payload.parent_message_id
        )
        self._round_calls[payload.tool_call_id] = False
        return [_tool_call_start(payload.tool_call_id, self._tool_calls[payload.tool_call_id])]

    def _on_tool_call_args(self, payload: event_pb2.ToolCallArgs) -> list[BaseEvent]:
        if payload.tool_call_id not in self._tool_calls or not payload.delta:
            return []
        return [ToolCallArgsEvent(tool_call_id=payload.tool_call_id, delta=payload.delta)]

    def _on_tool_call_end(self, payload: event_pb2.ToolCallEnd) -> list[BaseEvent]:
        if self._tool_calls.pop(payload.tool_call_id, None) is None:
            return []
        return [ToolCallEndEvent(tool_call_id=payload.tool_call_id)]

    def _on_tool_call_result(self, payload: event_pb2.ToolCallResult) -> list[BaseEvent]:
        call_id = payload.tool_call_id
        self._round_calls[call_id] = True
        self.pending_client.pop(call_id, None)
        if call_id in self._client_calls and call_id in self.answered_calls:
            return []  # the frontend sent this result: it has it
        result = ToolCallResultEvent(
            message_id=f"result-{call_id}", tool_call_id=call_id, content=payload.content
        )
        result.role = "tool"
        if payload.is_error:
            result.metadata = {STATE_KEY: {"isError": True}}
        return [result]

    def _on_client_tool_call_requested(
        self, payload: event_pb2.ClientToolCallRequested
    ) -> list[BaseEvent]:
        self._client_calls.add(payload.tool_call_id)
        self.pending_client[payload.tool_call_id] = payload.tool_name
        return []

    def _on_approval_requested(self, payload: event_pb2.ApprovalRequested) -> list[BaseEvent]:
        self.approvals[payload.approval_id] = payload
        value = {
            "approvalId": payload.approval_id,
            "toolCallId": payload.tool_call_id,
            "toolName": payload.tool_name,
            "arguments": payload.arguments,
        }
        if payload.run_id:
            value["runId"] = payload.run_id
        if payload.HasField("expire_time"):
            value["expireTime"] = payload.expire_time.ToJsonString()
        return [CustomEvent(name="runwire.approval_requested", value=value)]

    def _on_approval_resolved(self, payload: event_pb2.ApprovalResolved) -> list[BaseEvent]:
        self.approvals.pop(payload.approval_id, None)
        value = {
            "approvalId": payload.approval_id,
            "toolCallId": payload.tool_call_id,
            "state": approval_pb2.ApprovalState.Name(payload.state).removeprefix("APPROVAL_STATE_"),
            "reason": payload.reason,
            "resolvedBy": payload.resolved_by,
        }
        if payload.run_id:
            value["runId"] = payload.run_id
        return [CustomEvent(name="runwire.approval_resolved", value=value)]

    def _on_sub_run_started(self, payload: event_pb2.SubRunStarted) -> list[BaseEvent]:
        sub = _SubRun(payload.agent_id, payload.tool_call_id)
        self._sub_runs[payload.child_run_id] = sub
        return [_subagent_started(payload.child_run_id, sub)]

    def _on_sub_run_finished(self, payload: event_pb2.SubRunFinished) -> list[BaseEvent]:
        if self._sub_runs.pop(payload.child_run_id, None) is None:
            return []
        if payload.state == run_pb2.RUN_STATE_SUCCEEDED:
            return [
                SubagentFinishedEvent(subagent_run_id=payload.child_run_id, result=payload.output)
            ]
        message = payload.error.message or f"the sub-agent's run ended {_state_name(payload.state)}"
        code = error_reason(payload.error) or _state_name(payload.state)
        return [
            SubagentErrorEvent(subagent_run_id=payload.child_run_id, message=message, code=code)
        ]

    def _on_run_finished(self, payload: event_pb2.RunFinished) -> list[BaseEvent]:
        self.terminal = True
        self.state = payload.state
        out = [*self.close_open(), self.state_event()]
        finished = RunFinishedEvent(thread_id=self.thread_id, run_id=self.agui_run_id)
        if payload.state == run_pb2.RUN_STATE_CANCELLED:
            finished.outcome = RunFinishedCancelledOutcome()
        else:
            finished.outcome = RunFinishedSuccessOutcome()
            finished.result = payload.output
        usage = _token_usage(payload.usage)
        if usage is not None:
            finished.usage = [usage]
        finished.metadata = self._metadata()
        out.append(finished)
        return out

    def _on_run_error(self, payload: event_pb2.RunError) -> list[BaseEvent]:
        self.terminal = True
        self.state = run_pb2.RUN_STATE_FAILED
        out = [*self.close_open(), self.state_event()]
        error = RunErrorEvent(
            message=payload.error.message or "the run failed",
            code=error_reason(payload.error) or "INTERNAL",
        )
        usage = _token_usage(payload.usage)
        if usage is not None:
            error.usage = [usage]
        error.metadata = self._metadata()
        out.append(error)
        return out

    # -- what the endpoint asks ----------------------------------------

    def _step_name(self) -> str:
        return f"step {self._step}"

    def _metadata(self) -> dict[str, Any]:
        return {STATE_KEY: {"runId": self.run_id, "sequence": self.sequence}}

    def state_value(self) -> dict[str, Any]:
        """The run's state as kept under ``/runwire`` in the AG-UI state."""
        value: dict[str, Any] = {
            "runId": self.run_id,
            "state": _state_name(self.state),
            "sequence": self.sequence,
        }
        return value

    def state_event(self) -> BaseEvent:
        """The AG-UI state update carrying ``state_value``: a ``STATE_DELTA``
        adding ``/runwire`` when the application's state is an object (its own
        keys kept), else first a ``STATE_SNAPSHOT`` of ``{"runwire": ...}``."""
        value = self.state_value()
        if self._state_sent or self.state_is_object:
            self._state_sent = True
            return StateDeltaEvent.model_validate(
                {"delta": [{"op": "add", "path": f"/{STATE_KEY}", "value": value}]}
            )
        self._state_sent = True
        return StateSnapshotEvent(snapshot={STATE_KEY: value})

    def _unanswered_approvals(self) -> list[event_pb2.ApprovalRequested]:
        return [a for a in self.approvals.values() if a.approval_id not in self.answered_approvals]

    def _unanswered_calls(self) -> list[str]:
        return [c for c in self.pending_client if c not in self.answered_calls]

    def waiting(self) -> bool:
        """Whether the run waits for the caller: a frontend tool call or an
        approval (its own, or a sub-agent's) not answered by this request."""
        if self.terminal:
            return False
        approvals = self._unanswered_approvals()
        if not approvals and not self._unanswered_calls():
            return False
        child_waits = any(a.run_id for a in approvals)
        return self.state == run_pb2.RUN_STATE_REQUIRES_ACTION or child_waits

    def settled(self) -> bool:
        """Whether the run waits for the caller (``waiting``) and nothing else is
        under way in its round: every tool call of the round has its result, or
        waits for a frontend answer, for an approval, or (a sub-agent's call)
        for a sub-agent's approval. Answers given by this request do not count
        as waiting. (A round whose calls run one after the other never settles
        so while a call waits: the endpoint then ends on a quiet period.)"""
        if not self.waiting():
            return False
        approvals = self._unanswered_approvals()
        calls = set(self._unanswered_calls())
        child_waits = any(a.run_id for a in approvals)
        own = {a.tool_call_id for a in approvals if not a.run_id}
        delegating = {s.tool_call_id for s in self._sub_runs.values()}
        for call_id, done in self._round_calls.items():
            if done or call_id in calls or call_id in own:
                continue
            if child_waits and call_id in delegating:
                continue
            return False
        return True

    def reopen(self) -> list[BaseEvent]:
        """Openers of what is open now, for an AG-UI run that starts mid-way
        (the round, sub-agent runs, messages, tool calls)."""
        out: list[BaseEvent] = []
        if self._step_open:
            out.append(StepStartedEvent(step_name=self._step_name()))
        for child, sub in self._sub_runs.items():
            out.append(_subagent_started(child, sub))
        for message_id in self._reasoning:
            out.extend(_reasoning_openers(message_id))
        for message_id in self._text:
            out.append(TextMessageStartEvent(message_id=message_id, role="assistant"))
        for call_id, call in self._tool_calls.items():
            out.append(_tool_call_start(call_id, call))
        return out

    def close_open(self, suspended: dict[str, list[str]] | None = None) -> list[BaseEvent]:
        """Closers of what is open now (the fold keeps it open): tool calls,
        messages, sub-agent runs (``suspended``: child run -> the interrupt ids
        it waits for), the round."""
        out: list[BaseEvent] = []
        for call_id in self._tool_calls:
            out.append(ToolCallEndEvent(tool_call_id=call_id))
        for message_id in self._text:
            out.append(TextMessageEndEvent(message_id=message_id))
        for message_id in self._reasoning:
            out.extend(_reasoning_closers(message_id))
        for child in self._sub_runs:
            finished = SubagentFinishedEvent(subagent_run_id=child)
            waits = (suspended or {}).get(child)
            if waits is not None:
                finished.outcome = SubagentFinishedSuspendedOutcome(interrupt_ids=waits)
            else:
                finished.outcome = SubagentFinishedSuccessOutcome()
            out.append(finished)
        if self._step_open:
            out.append(StepFinishedEvent(step_name=self._step_name()))
        return out

    def interrupts(self) -> list[Interrupt]:
        """The approvals waiting, as AG-UI interrupts (id = the approval id)."""
        out: list[Interrupt] = []
        for approval in self._unanswered_approvals():
            interrupt = Interrupt(
                id=approval.approval_id,
                reason=APPROVAL_REASON,
                message=f"Approve the call of {approval.tool_name} with {approval.arguments}?",
                tool_call_id=approval.tool_call_id,
                response_schema=APPROVAL_RESPONSE_SCHEMA,
            )
            if approval.HasField("expire_time"):
                interrupt.expires_at = approval.expire_time.ToJsonString()
            if approval.run_id in self._sub_runs:
                interrupt.subagent_run_id = approval.run_id
            interrupt.metadata = {
                STATE_KEY: {
                    "toolName": approval.tool_name,
                    "arguments": approval.arguments,
                    "runId": approval.run_id or self.run_id,
                }
            }
            out.append(interrupt)
        return out

    def finish_waiting(self) -> list[BaseEvent]:
        """The end of an AG-UI run whose Runwire run waits (``settled``):
        what is open closed, the state, and ``RUN_FINISHED`` with an
        ``interrupt`` outcome (approvals) or a ``success`` outcome naming the
        frontend tool calls to answer (``pendingToolCallIds``)."""
        interrupts = self.interrupts()
        suspended: dict[str, list[str]] = {}
        for interrupt in interrupts:
            if interrupt.subagent_run_id:
                suspended.setdefault(interrupt.subagent_run_id, []).append(interrupt.id)
        out = [*self.close_open(suspended), self.state_event()]
        finished = RunFinishedEvent(thread_id=self.thread_id, run_id=self.agui_run_id)
        pending = self._unanswered_calls()
        if interrupts:
            finished.outcome = RunFinishedInterruptOutcome(interrupts=interrupts)
        else:
            finished.outcome = RunFinishedSuccessOutcome(pending_tool_call_ids=pending)
        metadata = self._metadata()
        metadata[STATE_KEY]["pendingToolCallIds"] = pending
        finished.metadata = metadata
        out.append(finished)
        return out


def _tool_call_start(call_id: str, call: _ToolCall) -> ToolCallStartEvent:
    start = ToolCallStartEvent(tool_call_id=call_id, tool_call_name=call.name)
    if call.parent_message_id:
        start.parent_message_id = call.parent_message_id
    return start


def _subagent_started(child: str, sub: _SubRun) -> SubagentStartedEvent:
    return SubagentStartedEvent(
        subagent_run_id=child, name=sub.agent_id, parent_tool_call_id=sub.tool_call_id
    )


def _reasoning_openers(message_id: str) -> list[BaseEvent]:
    return [
        ReasoningStartEvent(message_id=message_id),
        ReasoningMessageStartEvent(message_id=message_id),
    ]


def _reasoning_closers(message_id: str) -> list[BaseEvent]:
    return [
        ReasoningMessageEndEvent(message_id=message_id),
        ReasoningEndEvent(message_id=message_id),
    ]


def _token_usage(usage: run_pb2.Usage) -> TokenUsage | None:
    if not usage.total_tokens and not usage.input_tokens and not usage.output_tokens:
        return None
    return TokenUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


__all__ = [
    "APPROVAL_REASON",
    "APPROVAL_RESPONSE_SCHEMA",
    "STATE_KEY",
    "RunTranslator",
    "error_reason",
    "is_terminal",
]
