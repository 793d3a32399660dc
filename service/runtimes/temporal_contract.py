"""What the service and the Temporal worker share: names and payload models.

The service never imports ``worker``: it starts the workflow and calls its
updates by the registered names below, with these pydantic models as
payloads (Temporal's pydantic data converter carries them as JSON). One
model per durable boundary (workflow, update, activity).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from service.core.messages import ChatMessage, ToolSpec, Usage
from service.core.spec import Decision, LoopCheckpoint, ModelRef, RunSpec, ToolOutput

#: Registered workflow name; the workflow id is the run id.
WORKFLOW_NAME = "runwire.AgentRun"
#: Update delivering an approval decision (returns the decision in force).
UPDATE_RESOLVE_APPROVAL = "resolve_approval"
#: Update delivering client tool outputs.
UPDATE_SUBMIT_TOOL_OUTPUTS = "submit_tool_outputs"

#: ``ApplicationError.type`` values a refused update carries; they are the
#: ErrorInfo reasons the API returns (FAILED_PRECONDITION).
REFUSAL_REASONS = frozenset(
    {
        "APPROVAL_ALREADY_RESOLVED",
        "APPROVAL_NOT_PENDING",
        "TOOL_CALL_NOT_PENDING",
        "TOOL_CALL_ALREADY_ANSWERED",
    }
)


class ResumeState(BaseModel):
    """What a continued-as-new execution of a run carries over.

    Attributes:
        checkpoint: Where the loop resumes.
        event_counter: Workflow events published so far (their keys go on).
        known_messages: Messages the conversation store holds.
        context_sent: Whether the model context is in the store already.
    """

    model_config = ConfigDict(frozen=True)

    checkpoint: LoopCheckpoint
    event_counter: int
    known_messages: int
    context_sent: bool


class AgentRunInput(BaseModel):
    """Input of the ``runwire.AgentRun`` workflow: the run's snapshot, and
    where to resume when the run continued as new."""

    model_config = ConfigDict(frozen=True)

    spec: RunSpec
    resume: ResumeState | None = None


class ConversationInput(BaseModel):
    """Input of the ``save_conversation`` / ``load_conversation`` activities."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    known_messages: int = 0
    new_messages: tuple[ChatMessage, ...] = ()


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
    """

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    key: str
    event: bytes


class PublishInput(BaseModel):
    """Input of the ``publish_events`` activity."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    events: tuple[KeyedEvent, ...]


class ModelContext(BaseModel):
    """What every model call of a run shares; stored once per run, not per call.

    Attributes:
        provider, model, options: The run's (primary) model.
        instructions: The system prompt.
        tools: Every tool offered (server and client).
        agent_id: The run's agent (telemetry).
        fallback_models: Models tried in order when the primary is unavailable
            (``RunSpec.fallback_models``); empty in contexts stored before they
            existed.
        response_format: The JSON Schema the final answer must satisfy
            (``RunSpec.response_format``), or None.
    """

    model_config = ConfigDict(frozen=True)

    provider: str
    model: str = ""
    options: dict[str, object]
    instructions: str = ""
    tools: tuple[ToolSpec, ...] = ()
    agent_id: str = ""
    fallback_models: tuple[ModelRef, ...] = ()
    response_format: dict[str, object] | None = None


class ModelCallInput(BaseModel):
    """Input of the ``call_model`` activity.

    Neither the conversation nor the run's model context is carried whole:
    the activity keeps both in the conversation store. The workflow sends
    the context once (first call) and then only the messages added since the
    previous call (``new_messages``, after the first ``known_messages``), so
    history bytes per LLM turn stay constant however long the conversation,
    the instructions or the tool schemas.

    Attributes:
        run_id: The run.
        context: The run's model context on the first call; None after.
        offer_tools: False for the last call without tools (max_iterations).
        step: 1-based LLM round.
        known_messages: Messages the store already holds for this run.
        new_messages: Messages to add after them.
        message_id: Id of the assistant message this call streams.
        before: Workflow events to publish before the call (keeps order).
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    context: ModelContext | None = None
    offer_tools: bool = True
    step: int
    known_messages: int
    new_messages: tuple[ChatMessage, ...]
    message_id: str
    before: tuple[KeyedEvent, ...] = ()


class ModelCallResult(BaseModel):
    """Output of the ``call_model`` activity."""

    model_config = ConfigDict(frozen=True)

    message: ChatMessage
    usage: Usage


#: Tool results longer than this (characters) stay out of workflow history: the
#: ``run_tool`` activity keeps them in the conversation store and the workflow
#: carries ``stored_result_marker(key)`` in their place; the activities that
#: publish events, feed the model or append to threads put the content back.
STORED_RESULT_MIN_CHARS = 2048
_STORED_RESULT_PREFIX = "\x00runwire:stored-result:"


def stored_result_marker(key: str) -> str:
    """The text that stands for the stored tool result ``key`` inside the workflow."""
    return f"{_STORED_RESULT_PREFIX}{key}"


def stored_result_key(text: str) -> str | None:
    """The key of a ``stored_result_marker``; None for any other text."""
    if text.startswith(_STORED_RESULT_PREFIX):
        return text[len(_STORED_RESULT_PREFIX) :]
    return None


class ToolCallInput(BaseModel):
    """Input of the ``run_tool`` activity.

    Attributes:
        result_key: When set, a result longer than ``STORED_RESULT_MIN_CHARS`` is
            kept in the conversation store under this key (unique per run) and
            returned as ``ToolCallResult.stored_key``.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    name: str
    arguments: dict[str, object]
    agent_id: str = ""
    result_key: str = ""


class ToolCallResult(BaseModel):
    """Output of the ``run_tool`` activity: the result's ``content``, or, for a
    long one, empty content and the ``stored_key`` it is kept under."""

    model_config = ConfigDict(frozen=True)

    content: str
    is_error: bool = False
    stored_key: str = ""


class ThreadAppendInput(BaseModel):
    """Input of the ``append_to_thread`` activity (also releases the thread).

    The thread gets ``stored_count`` messages of the run's stored conversation
    from index ``stored_from`` on (those the workflow did not hold after a
    continue-as-new), then ``messages``.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    thread_id: str
    messages: tuple[ChatMessage, ...]
    stored_from: int = 0
    stored_count: int = 0
