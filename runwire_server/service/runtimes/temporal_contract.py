"""What the service and the Temporal worker share: names and payload models.

The service never imports ``worker``: it starts the workflow and calls its
updates by the registered names below, with these pydantic models as
payloads (Temporal's pydantic data converter carries them as JSON, and the
claim-check codec, ``payload_codec``, keeps large ones out of history). One
model per durable boundary (workflow, update, activity).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runwire_server.service.agent.decisions import (
    APPROVAL_ALREADY_RESOLVED,
    APPROVAL_NOT_PENDING,
    TOOL_CALL_ALREADY_ANSWERED,
    TOOL_CALL_NOT_PENDING,
)
from runwire_server.service.core.messages import ChatMessage, Usage
from runwire_server.service.core.spec import Decision, LoopCheckpoint, ModelRef, RunSpec, ToolOutput
from runwire_server.service.llm.base import ModelRequest

#: Registered workflow name; the workflow id is the run id.
WORKFLOW_NAME = "runwire.AgentRun"
#: Update delivering an approval decision (returns the decision in force).
UPDATE_RESOLVE_APPROVAL = "resolve_approval"
#: Update delivering client tool outputs.
UPDATE_SUBMIT_TOOL_OUTPUTS = "submit_tool_outputs"
#: Signal (no argument) asking the run to pause at its next safe point
#: (PauseRun); durable once Temporal accepted it, with or without a live worker.
SIGNAL_PAUSE = "pause"
#: Signal (no argument) continuing a paused run, or withdrawing a pause it has
#: not reached (ResumeRun).
SIGNAL_RESUME = "resume"

#: ``ApplicationError.type`` values a refused update carries; they are the
#: ErrorInfo reasons the API returns (FAILED_PRECONDITION).
REFUSAL_REASONS = frozenset(
    {
        APPROVAL_ALREADY_RESOLVED,
        APPROVAL_NOT_PENDING,
        TOOL_CALL_NOT_PENDING,
        TOOL_CALL_ALREADY_ANSWERED,
    }
)


class ResumeState(BaseModel):
    """What a continued-as-new execution of a run carries over.

    Attributes:
        checkpoint: Where the loop resumes.
        event_counter: Workflow events published so far (their keys go on).
        messages: The whole conversation so far (the payload codec keeps it
            out of history once it is large).
        pause_requested: PauseRun asked the run to pause and ResumeRun has
            not continued it (the new execution pauses at its next safe point).
    """

    model_config = ConfigDict(frozen=True)

    checkpoint: LoopCheckpoint
    event_counter: int
    messages: tuple[ChatMessage, ...]
    pause_requested: bool = False


class AgentRunInput(BaseModel):
    """Input of the ``runwire.AgentRun`` workflow: the run's snapshot, and
    where to resume when the run continued as new."""

    model_config = ConfigDict(frozen=True)

    spec: RunSpec
    resume: ResumeState | None = None


class ResolveApprovalInput(BaseModel):
    """Input of the ``resolve_approval`` update."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    decision: Decision


class SubmitToolOutputsInput(BaseModel):
    """Input of the ``submit_tool_outputs`` update."""

    model_config = ConfigDict(frozen=True)

    outputs: tuple[ToolOutput, ...]


class KeyedEvent(BaseModel):
    """A run event to publish, with its idempotency key.

    Attributes:
        key: Deterministic key (``w<n>`` for workflow events); a retried
            publish with the same key logs nothing new.
        event: The serialized ``runwire.v1.RunEvent`` (payload only; base64 in JSON).
        edited_arguments: With an approving ``approval_resolved``: the
            decision's edited arguments, for the approval record
            (``RunRecorder.publish``); the event does not carry them.
        announce_to: See the field.
    """

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    key: str
    event: bytes
    edited_arguments: dict[str, Any] | None = None
    #: A sub-agent run's approval event: the ancestor runs whose streams
    #: announce it too (``effects.announcement``; keyed ``<run id>:<key>`` there).
    announce_to: tuple[str, ...] = ()


class PublishInput(BaseModel):
    """Input of the ``publish_events`` activity."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    events: tuple[KeyedEvent, ...]


class ModelCallInput(BaseModel):
    """Input of the ``call_model`` activity: one whole model call.

    The request is sent whole every time (conversation, instructions, tools);
    the payload codec (``payload_codec.ClaimCheckCodec``) keeps it out of
    history once it is large, so history bytes per LLM turn stay flat.

    Attributes:
        run_id: The run.
        agent_id: The run's agent (telemetry, log context).
        provider: The primary model's provider.
        fallback_models: Models tried in order when the primary is unavailable
            (``RunSpec.fallback_models``).
        request: The call for the primary model.
        message_id: Id of the assistant message this call streams.
        before: Workflow events to publish before the call (keeps order).
        labels: The run's labels (log context and span attributes).
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    agent_id: str = ""
    provider: str
    fallback_models: tuple[ModelRef, ...] = ()
    request: ModelRequest
    message_id: str
    before: tuple[KeyedEvent, ...] = ()
    labels: dict[str, str] = Field(default_factory=dict)


class ModelCallResult(BaseModel):
    """Output of the ``call_model`` activity."""

    model_config = ConfigDict(frozen=True)

    message: ChatMessage
    usage: Usage


class ToolCallInput(BaseModel):
    """Input of the ``run_tool`` activity (``labels``: the run's, for the log context;
    ``tool_call_id``: the model's id of the call, for the tool's ``ToolContext``)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    name: str
    arguments: dict[str, object]
    agent_id: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    tool_call_id: str = ""


class ToolCallResult(BaseModel):
    """Output of the ``run_tool`` activity: the result as the model sees it."""

    model_config = ConfigDict(frozen=True)

    content: str
    is_error: bool = False


class ThreadAppendInput(BaseModel):
    """Input of the ``append_to_thread`` activity (also releases the thread).

    Attributes:
        run_id: The run.
        thread_id: The run's thread.
        messages: The run's new messages, in order.
        tenant: The tenant of the run and its thread.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    thread_id: str
    messages: tuple[ChatMessage, ...]
    tenant: str = "default"


class SubRunInput(BaseModel):
    """Input of the ``open_sub_run`` activity: the child run to create (its
    record and log), before the parent starts its workflow as a child workflow."""

    model_config = ConfigDict(frozen=True)

    spec: RunSpec


class SubRunQuery(BaseModel):
    """Input of the ``sub_run_outcome`` activity: an ended child run."""

    model_config = ConfigDict(frozen=True)

    run_id: str


class SubRunResult(BaseModel):
    """Output of the ``sub_run_outcome`` activity: how the child run ended.

    Attributes:
        state: Its terminal ``runwire.v1.RunState`` (number).
        output: Its final output.
        error: Its ``google.rpc.Status`` when FAILED, serialized (empty otherwise).
        usage: Tokens it used.
    """

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    state: int
    output: str = ""
    error: bytes = b""
    usage: Usage = Field(default_factory=Usage)
