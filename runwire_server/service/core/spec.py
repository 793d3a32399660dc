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

from runwire_server.service.core.errors import FailedPreconditionError
from runwire_server.service.core.messages import ChatMessage, ToolSpec, Usage

#: Defaults from the Agent SDK for Go (DESIGN §4).
DEFAULT_MAX_ITERATIONS = 5
DEFAULT_RUN_TIMEOUT_SECONDS = 300.0
#: The approval timeout defaults to the run timeout minus this margin.
APPROVAL_TIMEOUT_MARGIN_SECONDS = 30.0
DEFAULT_THREAD_HISTORY_MESSAGES = 20
#: ``Limits.max_sub_agent_depth`` when 0: a sub-agent's run may delegate once more.
DEFAULT_MAX_SUB_AGENT_DEPTH = 2
#: JSON Schema of the arguments of a sub-agent tool: the child run's prompt.
SUB_AGENT_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {"prompt": {"type": "string"}},
    "required": ["prompt"],
}


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
        max_sub_agent_depth: How deep delegation may go below the run.
    """

    model_config = ConfigDict(frozen=True)

    max_iterations: int | None = None
    timeout_seconds: float | None = None
    approval_timeout_seconds: float | None = None
    token_budget: int | None = None
    max_sub_agent_depth: int | None = None


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


class SubAgentRef(BaseModel):
    """An agent a run may delegate to, as the model sees it (``Agent.sub_agents``).

    Attributes:
        tool_name: The tool name the model calls.
        agent_id: The agent delegated to (same tenant).
        description: What the sub-agent does, shown to the model.
    """

    model_config = ConfigDict(frozen=True)

    tool_name: str
    agent_id: str
    description: str = ""

    def tool_spec(self) -> ToolSpec:
        """The tool offered to the model: one ``prompt`` string argument."""
        return ToolSpec(
            name=self.tool_name, description=self.description, parameters=SUB_AGENT_PARAMETERS
        )


def sub_agent_tool_name(agent_id: str) -> str:
    """The default tool name of a sub-agent: ``agent_id`` with characters other
    than letters, digits, '_' and '-' replaced by '_' (at most 64 characters)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in agent_id)[:64]


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
        sub_agents: Agents this run may delegate to (tools the model sees).
        parent_run_id: The run that delegated to this one ("" for a run a client started).
        root_run_id: The run at the top of the delegation tree ("": this run).
        depth: 0 for a run a client started, 1 for its sub-agents' runs, ...
        ancestor_run_ids: The runs above this one, nearest first (they announce
            this run's approvals in their streams).
        max_sub_agent_depth: The deepest run the delegation tree may hold
            (absolute: a delegation from a run at ``depth`` needs ``depth + 1``
            at most this).
        sub_agent_specs: The snapshot of every agent the delegation tree may
            reach, by agent id, taken when the root run started: a child run is
            its agent's snapshot with the child's ids and prompt
            (``child_spec``). Shared by every run of the tree.
        sub_agent_problems: Agents the tree names but could not snapshot
            (deleted, a tool the server lacks), by agent id: why. Delegating
            to one fails as a tool error.
        tool_timeout_seconds: Longest one server tool call may take
            (``ToolExecution.tool_timeout``), or None: no limit but the run's.
        max_consecutive_tool_failures: Consecutive failed tool calls after
            which the run fails (``TOOL_FAILURES_EXCEEDED``); 0: no cap.
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
    sub_agents: tuple[SubAgentRef, ...] = ()
    parent_run_id: str = ""
    root_run_id: str = ""
    depth: int = 0
    ancestor_run_ids: tuple[str, ...] = ()
    max_sub_agent_depth: int = DEFAULT_MAX_SUB_AGENT_DEPTH
    sub_agent_specs: dict[str, RunSpec] = Field(default_factory=dict)
    sub_agent_problems: dict[str, str] = Field(default_factory=dict)
    tool_timeout_seconds: float | None = None
    max_consecutive_tool_failures: int = 0

    def sub_agent_tools(self) -> tuple[ToolSpec, ...]:
        """The tools of ``sub_agents``, as the model is offered them."""
        return tuple(s.tool_spec() for s in self.sub_agents)

    def child_spec(self, sub: SubAgentRef, *, run_id: str, prompt: str) -> RunSpec:
        """The snapshot of a child run of ``sub`` started by a call of this run.

        The child is its agent's snapshot (``sub_agent_specs``) with its own
        ids, the call's ``prompt``, this run's tenant and principal, one level
        deeper; its depth bound is the tighter of this run's and its agent's
        own ``max_sub_agent_depth`` (below the child).

        Raises:
            FailedPreconditionError: the agent could not be snapshotted when the
                tree started (``sub_agent_problems``), or the delegation would
                go deeper than ``max_sub_agent_depth`` (``SUB_AGENT_DEPTH_EXCEEDED``
                in the metadata's ``why``).
        """
        depth = self.depth + 1
        if depth > self.max_sub_agent_depth:
            raise FailedPreconditionError(
                f"delegating to {sub.agent_id!r} would start a run at depth {depth}, deeper "
                f"than this run tree allows ({self.max_sub_agent_depth}); answer without it",
                metadata={"agent_id": sub.agent_id, "max_sub_agent_depth": str(depth - 1)},
            )
        template = self.sub_agent_specs.get(sub.agent_id)
        if template is None:
            why = self.sub_agent_problems.get(sub.agent_id, "it was not found")
            raise FailedPreconditionError(
                f"sub-agent {sub.agent_id!r} cannot run: {why}",
                metadata={"agent_id": sub.agent_id},
            )
        return template.model_copy(
            update={
                "run_id": run_id,
                "prompt": prompt,
                "tenant": self.tenant,
                "created_by": self.created_by,
                "thread_id": "",
                "history": (),
                "client_tools": (),
                "labels": {},
                "overrides": None,
                "parent_run_id": self.run_id,
                "root_run_id": self.root_run_id or self.run_id,
                "depth": depth,
                "ancestor_run_ids": (self.run_id, *self.ancestor_run_ids),
                "max_sub_agent_depth": min(
                    self.max_sub_agent_depth, depth + template.max_sub_agent_depth
                ),
                "sub_agent_specs": self.sub_agent_specs,
                "sub_agent_problems": self.sub_agent_problems,
            }
        )

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
