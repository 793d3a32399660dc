"""What a run is started with (the agent snapshot) and what it receives while waiting.

A run **snapshots** the agent at start (instructions, model, tools, policy,
limits), so later edits never change a run in flight and a durable replay
sees the same definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runwire_server.service.core.messages import ChatMessage, ToolSpec, Usage

#: Defaults from the Agent SDK for Go (DESIGN §4).
DEFAULT_MAX_ITERATIONS = 5
DEFAULT_RUN_TIMEOUT_SECONDS = 300.0
#: The approval timeout defaults to the run timeout minus this margin.
APPROVAL_TIMEOUT_MARGIN_SECONDS = 30.0
DEFAULT_THREAD_HISTORY_MESSAGES = 20


class ApprovalMode(StrEnum):
    """Which server tool calls wait for a human decision."""

    REQUIRE_ALL = "require_all"
    AUTO = "auto"
    ALLOWLIST = "allowlist"


class ModelRef(BaseModel):
    """A model to call: provider, model name and provider options (``Agent.model``)."""

    model_config = ConfigDict(frozen=True)

    provider: str
    model: str = ""
    options: dict[str, Any] = Field(default_factory=dict)


#: Prefix of the span attribute of each run label (``runwire.label.<key>``).
LABEL_ATTRIBUTE_PREFIX = "runwire.label."


def label_attributes(labels: Mapping[str, str]) -> dict[str, str]:
    """Span attributes of a run's labels: ``runwire.label.<key>`` → value.

    Bounded by the contract: at most 32 labels, keys of at most 63 characters,
    values of at most 256.
    """
    return {f"{LABEL_ATTRIBUTE_PREFIX}{key}": value for key, value in sorted(labels.items())}


def labels_match(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether ``labels`` carry every pair of ``wanted`` (same key, same value);
    an empty ``wanted`` matches everything."""
    return all(labels.get(key) == value for key, value in wanted.items())


class LimitOverrides(BaseModel):
    """Limits a run request tightened (``RunOverrides.limits``); None: the agent's.

    Attributes:
        max_iterations: LLM rounds that may request tools.
        timeout_seconds: Wall-clock limit of the run, seconds.
        approval_timeout_seconds: How long one approval may stay pending, seconds.
        token_budget: Input + output tokens the run may use.
    """

    model_config = ConfigDict(frozen=True)

    max_iterations: int | None = None
    timeout_seconds: float | None = None
    approval_timeout_seconds: float | None = None
    token_budget: int | None = None


class RunOverrides(BaseModel):
    """What a run request changed of its agent for this run (``runwire.v1.RunOverrides``).

    Kept in the run's snapshot (``RunSpec.overrides``) as requested; the
    snapshot's own fields already hold the effect (instructions appended,
    sampling options merged into every model's options, limits tightened).

    Attributes:
        instructions: Appended to the agent's instructions after a blank line ("" for none).
        temperature: Sampling temperature, 0 to 2, for every model call; None: the agent's.
        top_p: Nucleus sampling, (0, 1]; None: the agent's.
        max_output_tokens: Output tokens per model call, >= 1; None: the agent's.
        limits: Tighter limits, or None.
    """

    model_config = ConfigDict(frozen=True)

    instructions: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    limits: LimitOverrides | None = None

    def sampling(self) -> dict[str, float | int]:
        """The sampling fields that are set, by override field name
        (``temperature``, ``top_p``, ``max_output_tokens``)."""
        values: dict[str, float | int | None] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_output_tokens": self.max_output_tokens,
        }
        return {name: value for name, value in values.items() if value is not None}

    def instructions_after(self, agent_instructions: str) -> str:
        """The run's instructions: the agent's, then a blank line and these
        (either alone when the other is empty)."""
        if not self.instructions:
            return agent_instructions
        if not agent_instructions:
            return self.instructions
        return f"{agent_instructions}\n\n{self.instructions}"


class RunSpec(BaseModel):
    """Everything the loop needs, fixed at run start.

    Attributes:
        run_id, agent_id, thread_id: Ids (thread_id empty without a thread).
        tenant: The tenant the run, its agent and its thread belong to.
        created_by: The authenticated principal that started the run.
        prompt: The user message of this run.
        instructions: The system prompt.
        provider, model, model_options: The model to call (``Agent.model``).
        tools: Server tools offered to the model.
        client_tools: Tools the client executes (``CreateRunRequest.client_tools``).
        approval_mode, auto_approved_tools: The approval policy.
        max_iterations: LLM rounds that may request tools (then one last
            round without tools).
        timeout_seconds: Wall-clock limit of the run.
        approval_timeout_seconds: How long one approval may stay pending.
        history: Earlier thread messages, oldest first.
        parallel_tool_calls: Run the tool calls of one round concurrently.
        response_format: JSON Schema the final answer must satisfy, or None.
        fallback_models: Models tried in order when the primary is unavailable.
        token_budget: Input + output tokens the run may use (0: no budget).
        labels: The run's labels (``CreateRunRequest.labels``), at most 32.
        overrides: What the run request changed of the agent (recorded as
            asked; the fields above already apply it), or None.
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    agent_id: str
    thread_id: str = ""
    tenant: str = "default"
    created_by: str = ""
    prompt: str
    instructions: str = ""
    provider: str
    model: str = ""
    model_options: dict[str, Any] = Field(default_factory=dict)
    tools: tuple[ToolSpec, ...] = ()
    client_tools: tuple[ToolSpec, ...] = ()
    approval_mode: ApprovalMode = ApprovalMode.REQUIRE_ALL
    auto_approved_tools: tuple[str, ...] = ()
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    timeout_seconds: float = DEFAULT_RUN_TIMEOUT_SECONDS
    approval_timeout_seconds: float = DEFAULT_RUN_TIMEOUT_SECONDS - APPROVAL_TIMEOUT_MARGIN_SECONDS
    history: tuple[ChatMessage, ...] = ()
    parallel_tool_calls: bool = True
    response_format: dict[str, Any] | None = None
    fallback_models: tuple[ModelRef, ...] = ()
    token_budget: int = 0
    labels: dict[str, str] = Field(default_factory=dict)
    overrides: RunOverrides | None = None

    def needs_approval(self, tool_name: str) -> bool:
        """True when a call of server tool ``tool_name`` waits for a decision."""
        if self.approval_mode is ApprovalMode.AUTO:
            return False
        if self.approval_mode is ApprovalMode.ALLOWLIST:
            return tool_name not in self.auto_approved_tools
        return True


class LoopCheckpoint(BaseModel):
    """Where a run's loop can resume: the top of an LLM round, nothing pending.

    A durable runtime that starts a fresh execution (Temporal continue-as-new)
    resumes the loop from it; the conversation itself is restored separately.

    Attributes:
        step: The LLM round to run next (1-based).
        usage: Tokens used so far.
        deadline: When the run times out (UTC).
    """

    model_config = ConfigDict(frozen=True)

    step: int
    usage: Usage
    deadline: datetime


class ApprovalDecision(StrEnum):
    """What a person decided about an approval. The API edge converts it
    from ``runwire.v1.ApprovalDecision``; the values name the proto enum
    without its prefix (they appear in ``ErrorInfo.metadata["decision"]``)."""

    APPROVE = "APPROVE"
    REJECT = "REJECT"


class Decision(BaseModel):
    """A person's answer to an approval.

    Attributes:
        choice: Run the tool call (``APPROVE``) or not (``REJECT``).
        reason: Why; the model sees it on a rejection.
        edited_arguments: Replacement arguments (with ``APPROVE``), or None.
        resolved_by: The authenticated caller.
        resolve_time: When the decision was made (UTC).
    """

    model_config = ConfigDict(frozen=True)

    choice: ApprovalDecision
    reason: str = ""
    edited_arguments: dict[str, Any] | None = None
    resolved_by: str = "anonymous"
    resolve_time: datetime


class ToolOutput(BaseModel):
    """The client's result of a client-executed tool call (SubmitToolOutputs)."""

    model_config = ConfigDict(frozen=True)

    tool_call_id: str
    output: str = ""
    is_error: bool = False
