"""The run router: turns API requests into runs on the right runtime.

``RunRouter`` owns the run lifecycle that is the same on every runtime:
idempotent creation (``request_id``), the agent snapshot (``RunSpec``), the
thread claim, the run record and log, and delivery of approvals, client tool
outputs and cancellation to the runtime executing the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from runwire.v1 import agent_pb2, approval_pb2, run_pb2

from runwire_server.service.agent.decisions import APPROVAL_NOT_PENDING
from runwire_server.service.auth.principal import ANONYMOUS, Principal
from runwire_server.service.auth.quotas import Quotas
from runwire_server.service.core.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RunwireError,
    UnavailableError,
)
from runwire_server.service.core.messages import ChatMessage, ToolSpec
from runwire_server.service.core.spec import (
    APPROVAL_TIMEOUT_MARGIN_SECONDS,
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_MAX_SUB_AGENT_DEPTH,
    DEFAULT_RUN_TIMEOUT_SECONDS,
    DEFAULT_THREAD_HISTORY_MESSAGES,
    ApprovalDecision,
    ApprovalMode,
    Decision,
    LimitOverrides,
    ModelRef,
    RunOverrides,
    RunSpec,
    SubAgentRef,
    ToolOutput,
    sub_agent_tool_name,
)
from runwire_server.service.core.structs import struct_dict
from runwire_server.service.core.telemetry import METRICS
from runwire_server.service.core.timestamps import stamp_now
from runwire_server.service.llm.registry import ProviderRegistry
from runwire_server.service.runtimes.base import Runtime
from runwire_server.service.runtimes.recorder import RunRecorder, settled_decisions
from runwire_server.service.stores.agents import AgentStore
from runwire_server.service.stores.approvals import ApprovalStore, approval_not_found
from runwire_server.service.stores.events import EventLog
from runwire_server.service.stores.projection import TERMINAL_STATES
from runwire_server.service.stores.runs import RunStore, run_not_found
from runwire_server.service.stores.tenants import PerTenant
from runwire_server.service.stores.threads import ThreadStore
from runwire_server.service.tools.catalog import agent_tools
from runwire_server.service.tools.registry import ToolRegistry

#: How long ResolveApproval waits for the run to log a decision it took before
#: answering with the approval as its record will read (``RunRecorder.resolved_approval``).
RESOLUTION_WAIT_SECONDS = 10.0

logger = logging.getLogger(__name__)

_APPROVAL_MODES = {
    agent_pb2.APPROVAL_MODE_UNSPECIFIED: ApprovalMode.REQUIRE_ALL,
    agent_pb2.APPROVAL_MODE_REQUIRE_ALL: ApprovalMode.REQUIRE_ALL,
    agent_pb2.APPROVAL_MODE_AUTO: ApprovalMode.AUTO,
    agent_pb2.APPROVAL_MODE_ALLOWLIST: ApprovalMode.ALLOWLIST,
}

#: ``RunOverrides`` sampling field → the provider option it sets.
SAMPLING_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_output_tokens": "max_tokens",
}


@dataclass(frozen=True, kw_only=True)
class RunDefaults:
    """Server-wide defaults for what an agent leaves unset (DESIGN §4).

    Attributes:
        max_iterations: LLM rounds that may request tools.
        run_timeout_seconds: Wall-clock limit of a run.
        thread_history_messages: Thread messages included in the model context.
        runtime: The runtime of runs that name none and whose agent names none.
    """

    max_iterations: int = DEFAULT_MAX_ITERATIONS
    run_timeout_seconds: float = DEFAULT_RUN_TIMEOUT_SECONDS
    thread_history_messages: int = DEFAULT_THREAD_HISTORY_MESSAGES
    runtime: agent_pb2.Runtime = agent_pb2.RUNTIME_IN_PROCESS


@dataclass(frozen=True, kw_only=True)
class RunInput:
    """The fields of CreateRun/StreamRun/WaitRun (already validated by protovalidate)."""

    agent_id: str
    prompt: str
    thread_id: str = ""
    client_tools: tuple[ToolSpec, ...] = ()
    request_id: str = ""
    runtime: agent_pb2.Runtime = agent_pb2.RUNTIME_UNSPECIFIED
    #: The caller: the run belongs to its tenant and records its name.
    principal: Principal = ANONYMOUS
    #: The run's labels (``CreateRunRequest.labels``).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: ``CreateRunRequest.overrides`` when the request set it, else None.
    overrides: run_pb2.RunOverrides | None = None

    def fingerprint(self) -> str:
        """A digest of the request's parameters (SHA-256, hex): a ``request_id``
        reused with other parameters is refused."""
        document: dict[str, Any] = {
            "agent_id": self.agent_id,
            "prompt": self.prompt,
            "thread_id": self.thread_id,
            "client_tools": [t.model_dump(mode="json") for t in self.client_tools],
            "runtime": int(self.runtime),
        }
        # Only when set, so a request without them digests as before they existed.
        if self.labels:
            document["labels"] = dict(self.labels)
        if self.overrides is not None:
            document["overrides"] = json_format.MessageToDict(self.overrides)
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def request_key(self) -> str:
        """The idempotency key ("" without a ``request_id``): the tenant, the
        request kind (starting a run: CreateRun, StreamRun and WaitRun share
        it, so a StreamRun retried after a CreateRun streams that run) and
        the ``request_id``."""
        if not self.request_id:
            return ""
        return f"{self.principal.tenant}/runs.create/{self.request_id}"


@dataclass(kw_only=True)
class RunRouter:
    """Creates runs and routes calls about them to their runtime."""

    agents: PerTenant[AgentStore]
    runs: RunStore
    events: EventLog
    approvals: ApprovalStore
    threads: PerTenant[ThreadStore]
    tools: ToolRegistry
    #: The model providers: whose options say which sampling overrides a model takes.
    providers: ProviderRegistry
    runtimes: dict[int, Runtime]
    recorder: RunRecorder
    defaults: RunDefaults = field(default_factory=RunDefaults)
    quotas: Quotas = field(default_factory=Quotas)
    #: True while the server drains: new runs are refused (UNAVAILABLE, DRAINING).
    draining: bool = False

    async def get_run(self, run_id: str, tenant: str) -> run_pb2.Run:
        """The run with every logged event folded in.

        Raises:
            NotFoundError: unknown run, or another tenant's (``RUN_NOT_FOUND``).
        """
        await self.owned_run(run_id, tenant)
        return await self.recorder.current(run_id)

    async def caught_up(self, runs: list[run_pb2.Run]) -> list[run_pb2.Run]:
        """``runs`` as listed by the store, each active one with every logged
        event folded in (``RunRecorder.current``: a record may lag behind the
        events that change only its sequence); one dropped since is kept as listed."""
        for index, run in enumerate(runs):
            if run.state not in TERMINAL_STATES:
                with contextlib.suppress(NotFoundError):
                    runs[index] = await self.recorder.current(run.run_id)
        return runs

    async def owned_run(self, run_id: str, tenant: str) -> run_pb2.Run:
        """The run's record as stored, when it belongs to ``tenant``.

        Raises:
            NotFoundError: unknown run, or another tenant's (``RUN_NOT_FOUND``):
                the answer does not tell the two apart.
        """
        run = await self.runs.get(run_id)
        if run.tenant != tenant:
            raise run_not_found(run_id)
        return run

    async def owned_approval(self, approval_id: str, tenant: str) -> approval_pb2.Approval:
        """The approval, when its run belongs to ``tenant``.

        Raises:
            NotFoundError: unknown approval, or another tenant's (``APPROVAL_NOT_FOUND``).
        """
        approval = await self.approvals.get(approval_id)
        if approval.tenant != tenant:
            raise approval_not_found(approval_id)
        return approval

    async def create_run(self, request: RunInput) -> run_pb2.Run:
        """Starts a run, or returns the one an earlier request with the same
        ``request_id`` started.

        Raises:
            NotFoundError: unknown agent or thread.
            InvalidArgumentError: a client tool collides with a server tool.
            FailedPreconditionError: the agent names a tool the server lacks,
                or the runtime is not configured (``RUNTIME_UNAVAILABLE``).
            AbortedError: the thread is busy (``THREAD_BUSY``).
        """
        tenant = request.principal.tenant
        request_key = request.request_key()
        # Only a request_id makes a request repeatable: without one nothing is compared.
        fingerprint = request.fingerprint() if request_key else ""
        if request_key:
            existing = await self.runs.find_request(request_key)
            if existing is not None:
                return await self._repeated(request, existing, fingerprint)
        if self.draining:
            raise UnavailableError(
                "this server is shutting down and takes no new runs; retry on another replica",
                reason="DRAINING",
            )
        await self._check_active_runs(tenant)
        await self._check_pending_approvals(tenant)
        agent = await self.agents(tenant).get(request.agent_id)
        runtime_kind = request.runtime or agent.runtime or self.defaults.runtime
        runtime = self._runtime(runtime_kind)
        run_id = f"run_{uuid.uuid4().hex}"
        history: tuple[ChatMessage, ...] = ()
        threads = self.threads(tenant)
        # Held before the thread is claimed: an in-process run is leased from here on,
        # so a replica that dies before starting it leaves no claim behind.
        await runtime.reserve(run_id, tenant=tenant, thread_id=request.thread_id)
        try:
            if request.thread_id:
                await threads.claim(request.thread_id, run_id)
        except BaseException:
            await runtime.unreserve(run_id)
            raise
        try:
            if request.thread_id:
                history = tuple(
                    await threads.history(
                        request.thread_id, limit=self.defaults.thread_history_messages
                    )
                )
            tree = await self._sub_agent_tree(agent, tenant)
            spec = self._snapshot(agent, request, run_id, history, tree=tree)
            run = _new_record(request, run_id, agent.agent_id, runtime_kind)
            await self.events.create(run_id)
            stored, created = await self.runs.create(
                run, request_id=request_key, fingerprint=fingerprint
            )
        except BaseException:
            if request.thread_id:
                await threads.release(request.thread_id, run_id)
            await runtime.unreserve(run_id)
            raise
        if not created:
            if request.thread_id:
                await threads.release(request.thread_id, run_id)
            await runtime.unreserve(run_id)
            return await self._repeated(request, stored, fingerprint)
        try:
            await runtime.start(spec)
        except Exception as exc:
            # The run is FAILED, its thread and lease released: nothing waits on it.
            await self._start_failed(spec, exc)
            await runtime.unreserve(run_id)
            raise
        METRICS.runs_started.add(1, {"runwire.runtime": agent_pb2.Runtime.Name(runtime_kind)})
        logger.info(
            "run created",
            extra={
                "run_id": run_id,
                "agent_id": agent.agent_id,
                "principal": run.created_by,
                "labels": spec.labels,
            },
        )
        return await self.recorder.current(run_id)

    async def _check_active_runs(self, tenant: str) -> None:
        """Refuses a run past ``max_active_runs_per_tenant`` (counted again
        exactly, forgetting runs that ended unseen, before refusing)."""
        limit = self.quotas.max_active_runs_per_tenant
        if not limit:
            return
        used = await self.runs.count_active(tenant)
        if used >= limit:
            used = await self.runs.count_active(tenant, verify=True)
        self.quotas.check("max_active_runs_per_tenant", used=used, subject=f"tenant:{tenant}")

    async def _check_pending_approvals(self, tenant: str) -> None:
        """Refuses a run while ``tenant`` has ``max_pending_approvals_per_tenant``
        approvals waiting (a pending approval is never evicted to make room)."""
        if self.quotas.max_pending_approvals_per_tenant:
            self.quotas.check(
                "max_pending_approvals_per_tenant",
                used=await self.approvals.count_pending(tenant),
                subject=f"tenant:{tenant}",
            )

    async def _repeated(
        self, request: RunInput, existing: run_pb2.Run, fingerprint: str
    ) -> run_pb2.Run:
        """The run an earlier request with the same request_id created, if its
        parameters were the same.

        Raises:
            InvalidArgumentError: ``REQUEST_ID_REUSED``: other parameters.
        """
        if await self.runs.request_fingerprint(existing.run_id) != fingerprint:
            raise InvalidArgumentError(
                f"request_id {request.request_id!r} was already used for a request with other "
                "parameters; use a new request_id for a new request",
                reason="REQUEST_ID_REUSED",
                field_violations={"request_id": "already used with other parameters"},
                metadata={"request_id": request.request_id, "run_id": existing.run_id},
            )
        return existing

    async def _start_failed(self, spec: RunSpec, error: Exception) -> None:
        """Ends a run its runtime did not start: FAILED with ``error``'s
        ``run_error`` (``RunRecorder.end_failed``; INTERNAL for an error that
        is not a ``RunwireError``), its streams ended, its thread released.
        Never raises: the caller re-raises ``error``."""
        if isinstance(error, RunwireError):
            failure = error
        else:
            logger.error("run could not start", exc_info=error, extra={"run_id": spec.run_id})
            failure = RunwireError(
                "the run could not start; the server log has the details", reason="RUN_FAILED"
            )
        try:
            await self.recorder.end_failed(spec.run_id, failure)
        except Exception:
            logger.exception("could not record a failed start", extra={"run_id": spec.run_id})
        finally:
            if spec.thread_id:
                try:
                    await self.threads(spec.tenant).release(spec.thread_id, spec.run_id)
                except Exception:
                    logger.exception(
                        "could not release the thread of a failed start",
                        extra={"run_id": spec.run_id},
                    )
        logger.warning("run could not start: %s", failure.message, extra={"run_id": spec.run_id})

    def _runtime(self, kind: agent_pb2.Runtime) -> Runtime:
        runtime = self.runtimes.get(kind)
        if runtime is None:
            name = agent_pb2.Runtime.Name(kind)
            raise FailedPreconditionError(
                f"runtime {name} is not configured on this server",
                reason="RUNTIME_UNAVAILABLE",
                metadata={"runtime": name},
            )
        return runtime

    def _snapshot(
        self,
        agent: agent_pb2.Agent,
        request: RunInput,
        run_id: str,
        history: tuple[ChatMessage, ...],
        *,
        tree: Mapping[str, agent_pb2.Agent] | None = None,
        template: bool = False,
    ) -> RunSpec:
        """The run's snapshot of ``agent`` with ``request`` applied.

        ``tree``: the agents its delegation tree may reach (``_sub_agent_tree``),
        by id; with it, the snapshot holds theirs too (``RunSpec.sub_agent_specs``),
        unless it is one of them (``template``).

        Raises:
            FailedPreconditionError: the agent names a tool the server lacks (``TOOL_NOT_FOUND``).
            InvalidArgumentError: client tools collide, or overrides loosen a limit.
        """
        # Server tools, then the agent's MCP toolsets' tools (tools/catalog.py: the
        # same list ListAgentTools shows); sub-agents are offered from ``sub_agents``.
        server_tools = [offered.spec for offered in agent_tools(agent, self.tools)]
        names = [t.name for t in request.client_tools]
        sub_agents = sub_agent_refs(agent, tree or {})
        taken = {*(t.name for t in server_tools), *(s.tool_name for s in sub_agents)}
        violations = {
            f"client_tools[{i}].name": "collides with a server tool of the agent"
            for i, n in enumerate(names)
            if n in taken
        }
        violations.update(
            {
                f"client_tools[{i}].name": "declared twice"
                for i, n in enumerate(names)
                if n in names[:i]
            }
        )
        if violations:
            raise InvalidArgumentError(
                "client tools must have unique names distinct from the agent's server tools",
                field_violations=violations,
            )
        overrides = _overrides_of(request.overrides) if request.overrides is not None else None
        violations = (
            _sampling_violations(self.providers, agent, overrides) if overrides is not None else {}
        )
        limits = agent.limits
        timeout = (
            limits.timeout.ToTimedelta().total_seconds()
            if limits.HasField("timeout")
            else self.defaults.run_timeout_seconds
        )
        approval_timeout = (
            limits.approval_timeout.ToTimedelta().total_seconds()
            if limits.HasField("approval_timeout")
            else max(1.0, timeout - APPROVAL_TIMEOUT_MARGIN_SECONDS)
        )
        max_iterations = limits.max_iterations or self.defaults.max_iterations
        token_budget = limits.token_budget
        max_depth = limits.max_sub_agent_depth or DEFAULT_MAX_SUB_AGENT_DEPTH
        tighter = overrides.limits if overrides is not None else None
        if tighter is not None:
            effective: dict[str, tuple[float | None, float]] = {
                "max_iterations": (tighter.max_iterations, max_iterations),
                "timeout": (tighter.timeout_seconds, timeout),
                "approval_timeout": (tighter.approval_timeout_seconds, approval_timeout),
                # 0: the agent has no budget, so any budget is tighter.
                "token_budget": (tighter.token_budget, token_budget or float("inf")),
                "max_sub_agent_depth": (tighter.max_sub_agent_depth, max_depth),
            }
            violations.update(
                {
                    f"overrides.limits.{name}": f"may only tighten the agent's limit ({limit:g}), "
                    f"not loosen it: {wanted:g}"
                    for name, (wanted, limit) in effective.items()
                    if wanted is not None and wanted > limit
                }
            )
            max_iterations = tighter.max_iterations or max_iterations
            if tighter.timeout_seconds is not None:
                timeout = tighter.timeout_seconds
                if not limits.HasField("approval_timeout"):
                    approval_timeout = max(1.0, timeout - APPROVAL_TIMEOUT_MARGIN_SECONDS)
            if tighter.approval_timeout_seconds is not None:
                approval_timeout = tighter.approval_timeout_seconds
            token_budget = tighter.token_budget or token_budget
            max_depth = tighter.max_sub_agent_depth or max_depth
        if violations:
            raise InvalidArgumentError(
                "invalid overrides: " + "; ".join(f"{k}: {v}" for k, v in violations.items()),
                field_violations=violations,
            )
        sampling = {
            SAMPLING_OPTIONS[name]: value
            for name, value in (overrides.sampling() if overrides is not None else {}).items()
        }
        return RunSpec(
            run_id=run_id,
            agent_id=agent.agent_id,
            thread_id=request.thread_id,
            tenant=request.principal.tenant,
            created_by=request.principal.name,
            prompt=request.prompt,
            instructions=(
                overrides.instructions_after(agent.instructions)
                if overrides is not None
                else agent.instructions
            ),
            provider=agent.model.provider,
            model=agent.model.name,
            model_options={**struct_dict(agent.model.options), **sampling},
            tools=tuple(server_tools),
            client_tools=request.client_tools,
            approval_mode=_APPROVAL_MODES[agent.approval_policy.mode],
            auto_approved_tools=tuple(agent.approval_policy.auto_approved_tools),
            max_iterations=max_iterations,
            timeout_seconds=timeout,
            approval_timeout_seconds=approval_timeout,
            history=history,
            response_format=(
                struct_dict(agent.response_format) if agent.HasField("response_format") else None
            ),
            fallback_models=tuple(
                ModelRef(
                    provider=m.provider,
                    model=m.name,
                    options={**struct_dict(m.options), **sampling},
                )
                for m in agent.fallback_models
            ),
            token_budget=token_budget,
            labels=dict(request.labels),
            overrides=overrides,
            sub_agents=sub_agents,
            root_run_id=run_id,
            parallel_tool_calls=not agent.tool_execution.sequential,
            tool_timeout_seconds=(
                agent.tool_execution.tool_timeout.ToTimedelta().total_seconds()
                if agent.tool_execution.HasField("tool_timeout")
                else None
            ),
            max_consecutive_tool_failures=agent.tool_execution.max_consecutive_tool_failures,
            max_sub_agent_depth=max_depth,
            **(self._sub_agent_specs(tree, request.principal) if tree and not template else {}),
        )

    async def _sub_agent_tree(
        self, agent: agent_pb2.Agent, tenant: str
    ) -> dict[str, agent_pb2.Agent]:
        """The agents a run of ``agent`` may delegate to, directly or below,
        by id: breadth first through ``sub_agents``, as deep as the agent's
        ``max_sub_agent_depth`` plus one level (whose descriptions its deepest
        sub-agents' tools show). Unknown (deleted) agents are left out. Empty
        for an agent without sub-agents (no store read)."""
        found: dict[str, agent_pb2.Agent] = {}
        store = self.agents(tenant)
        level = [s.agent_id for s in agent.sub_agents]
        for _ in range((agent.limits.max_sub_agent_depth or DEFAULT_MAX_SUB_AGENT_DEPTH) + 1):
            below: list[str] = []
            for agent_id in dict.fromkeys(level):
                if agent_id in found or agent_id == agent.agent_id:
                    continue
                try:
                    sub = await store.get(agent_id)
                except NotFoundError:
                    continue
                found[agent_id] = sub
                below.extend(s.agent_id for s in sub.sub_agents)
            if not below:
                break
            level = below
        return found

    def _sub_agent_specs(
        self, tree: Mapping[str, agent_pb2.Agent], principal: Principal
    ) -> dict[str, Any]:
        """``RunSpec.sub_agent_specs`` and ``sub_agent_problems`` of a root run
        whose delegation tree reaches ``tree``: each agent's snapshot (ids and
        prompt empty: ``RunSpec.child_spec`` sets them), or why it has none."""
        specs: dict[str, RunSpec] = {}
        problems: dict[str, str] = {}
        for agent_id, sub in tree.items():
            try:
                specs[agent_id] = self._snapshot(
                    sub,
                    RunInput(agent_id=agent_id, prompt="", principal=principal),
                    "",
                    (),
                    tree=tree,
                    template=True,
                )
            except RunwireError as exc:
                problems[agent_id] = exc.message
        return {"sub_agent_specs": specs, "sub_agent_problems": problems}

    async def cancel_run(self, run_id: str, reason: str, tenant: str) -> run_pb2.Run:
        """Asks a run to stop; returns it (CANCELLING, or unchanged when ended).

        An in-process run whose replica was lost (its lease expired) is ended
        at once, FAILED with reason ``REPLICA_LOST``, and returned so
        (``InProcessRuntime.cancel``).

        Raises:
            NotFoundError: unknown run, or another tenant's.
        """
        return await self._while_active(
            run_id, tenant, lambda runtime: runtime.cancel(run_id, reason)
        )

    async def pause_run(self, run_id: str, reason: str, tenant: str) -> run_pb2.Run:
        """Asks a run to pause at its next safe point; returns it as it is once
        the request is recorded (usually still RUNNING; unchanged when ended).
        ``reason`` goes to the server log only.

        Raises:
            NotFoundError: unknown run, or another tenant's.
            FailedPreconditionError: an in-process run of another replica.
            UnavailableError: the runtime cannot be reached.
        """

        async def pause(runtime: Runtime) -> None:
            # repr: the reason is the caller's text, kept on one log line.
            logger.info("run pause requested (reason %r)", reason, extra={"run_id": run_id})
            await runtime.pause(run_id, reason)

        return await self._while_active(run_id, tenant, pause)

    async def resume_run(self, run_id: str, tenant: str) -> run_pb2.Run:
        """Continues a paused run, or withdraws a pause it has not reached; returns
        the run once the request is recorded (unchanged when ended).

        Raises:
            NotFoundError: unknown run, or another tenant's.
            FailedPreconditionError: an in-process run of another replica.
            UnavailableError: the runtime cannot be reached.
        """

        async def resume(runtime: Runtime) -> None:
            logger.info("run resume requested", extra={"run_id": run_id})
            await runtime.resume(run_id)

        return await self._while_active(run_id, tenant, resume)

    async def _while_active(
        self, run_id: str, tenant: str, act: Callable[[Runtime], Awaitable[None]]
    ) -> run_pb2.Run:
        """Asks the run's runtime to ``act`` unless the run has ended; returns the
        run as it is afterwards (an ended one unchanged).

        Raises:
            NotFoundError: unknown run, or another tenant's.
        """
        run = await self.get_run(run_id, tenant)
        if run.state in TERMINAL_STATES:
            return run
        await act(self._runtime(run.runtime))
        return await self.recorder.current(run_id)

    async def submit_tool_outputs(
        self, run_id: str, outputs: list[ToolOutput], tenant: str
    ) -> run_pb2.Run:
        """Delivers client tool outputs; returns the run.

        Raises:
            NotFoundError: unknown run, or another tenant's. InvalidArgumentError:
            a tool_call_id twice. FailedPreconditionError: a call is not pending.
        """
        run = await self.get_run(run_id, tenant)
        ids = [o.tool_call_id for o in outputs]
        duplicates = {
            f"tool_outputs[{i}].tool_call_id": "answered twice in this request"
            for i, tool_call_id in enumerate(ids)
            if tool_call_id in ids[:i]
        }
        if duplicates:
            raise InvalidArgumentError(
                "each tool call may be answered once", field_violations=duplicates
            )
        if run.state in TERMINAL_STATES:
            raise FailedPreconditionError(
                f"run {run_id!r} has ended; it waits for no tool output",
                reason="TOOL_CALL_NOT_PENDING",
                metadata={"run_id": run_id},
            )
        await self._runtime(run.runtime).submit_tool_outputs(run_id, outputs)
        await asyncio.sleep(0)  # let the run take the outputs before we read it back
        return await self.recorder.current(run_id)

    async def resolve_approval(
        self,
        approval_id: str,
        *,
        choice: ApprovalDecision,
        reason: str,
        edited_arguments: dict[str, Any] | None,
        principal: Principal,
    ) -> approval_pb2.Approval:
        """Delivers a decision to the run that waits for the approval; returns
        the approval as its record shows it once resolved.

        The run's ``PendingDecisions`` judge the decision (first decision
        wins; the same decision again returns the stored one). When the run
        no longer holds the approval (it ended, or continued as new), the
        approval's record judges it by the same rules (``settled_decisions``).
        The recorder writes the record when the run logs ``approval_resolved``;
        this call waits for that (a bounded wait), so a caller reads its
        decision back at once.

        Raises:
            NotFoundError: unknown approval, or another tenant's (``APPROVAL_NOT_FOUND``).
            PermissionDeniedError: the agent's ``approval_policy.approvers``
                do not name the principal or one of its roles.
            FailedPreconditionError: resolved otherwise, expired or cancelled
                (``APPROVAL_ALREADY_RESOLVED``, ``APPROVAL_NOT_PENDING``).
        """
        approval = await self.owned_approval(approval_id, principal.tenant)
        await self._check_approver(approval, principal)
        decision = Decision(
            choice=choice,
            reason=reason,
            edited_arguments=edited_arguments if choice is ApprovalDecision.APPROVE else None,
            resolved_by=principal.name,
            resolve_time=datetime.now(UTC),
        )
        run = await self.runs.get(approval.run_id)
        try:
            first = await self._runtime(run.runtime).resolve_approval(
                approval.run_id, approval_id, decision
            )
        except FailedPreconditionError as exc:
            if exc.reason != APPROVAL_NOT_PENDING:
                raise
            settled = await self.approvals.get(approval_id)
            settled_decisions(settled).record_approval(approval_id, decision)
            return settled
        return await self.recorder.resolved_approval(
            approval_id, approval.run_id, decision=first, timeout_seconds=RESOLUTION_WAIT_SECONDS
        )

    async def _check_approver(self, approval: approval_pb2.Approval, principal: Principal) -> None:
        """Refuses a principal the agent's ``approval_policy.approvers`` leave out.

        The agent's policy as it reads now (an approver removed from it can no
        longer resolve); a deleted agent leaves the permission alone to decide.
        """
        try:
            agent = await self.agents(principal.tenant).get(approval.agent_id)
        except NotFoundError:
            return
        approvers = set(agent.approval_policy.approvers)
        if not approvers:
            return
        if principal.name in approvers or any(f"role:{r}" in approvers for r in principal.roles):
            return
        raise PermissionDeniedError(
            f"principal {principal.name!r} is not among the approvers of agent "
            f"{approval.agent_id!r}",
            reason="NOT_AN_APPROVER",
            metadata={"approval_id": approval.approval_id, "agent_id": approval.agent_id},
        )


def _new_record(
    request: RunInput, run_id: str, agent_id: str, runtime: agent_pb2.Runtime
) -> run_pb2.Run:
    """The record of a new run: QUEUED, with the request's labels and overrides."""
    run = run_pb2.Run(
        run_id=run_id,
        agent_id=agent_id,
        thread_id=request.thread_id,
        state=run_pb2.RUN_STATE_QUEUED,
        runtime=runtime,
        created_by=request.principal.name,
        tenant=request.principal.tenant,
        labels=dict(request.labels),
        root_run_id=run_id,
    )
    if request.overrides is not None:
        run.overrides.CopyFrom(request.overrides)
    stamp_now(run.create_time)
    run.update_time.CopyFrom(run.create_time)
    return run


def sub_agent_refs(
    agent: agent_pb2.Agent, tree: Mapping[str, agent_pb2.Agent]
) -> tuple[SubAgentRef, ...]:
    """The tools of ``agent``'s sub-agents: the tool name (default: from the
    agent id), the description (default: the sub-agent's own, from ``tree``)."""
    refs = []
    for sub in agent.sub_agents:
        known = tree.get(sub.agent_id)
        description = sub.description or (known.description if known is not None else "")
        refs.append(
            SubAgentRef(
                tool_name=sub.tool_name or sub_agent_tool_name(sub.agent_id),
                agent_id=sub.agent_id,
                description=description or f"Delegates a task to agent {sub.agent_id}.",
            )
        )
    return tuple(refs)


def sub_run_record(spec: RunSpec, runtime: agent_pb2.Runtime) -> run_pb2.Run:
    """The record of a new child run (``RunSpec.child_spec``): QUEUED, in its
    parent's tenant, with its place in the delegation tree."""
    now = datetime.now(UTC)
    run = run_pb2.Run(
        run_id=spec.run_id,
        agent_id=spec.agent_id,
        state=run_pb2.RUN_STATE_QUEUED,
        runtime=runtime,
        created_by=spec.created_by,
        tenant=spec.tenant,
        parent_run_id=spec.parent_run_id,
        root_run_id=spec.root_run_id,
        depth=spec.depth,
    )
    run.create_time.FromDatetime(now)
    run.update_time.FromDatetime(now)
    return run


async def open_sub_run(
    runs: RunStore, events: EventLog, spec: RunSpec, runtime: agent_pb2.Runtime
) -> None:
    """Creates the log and the record of a child run; a second call for the
    same run (a retried activity) changes nothing."""
    try:
        await runs.get(spec.run_id)
        return
    except NotFoundError:
        pass
    await events.create(spec.run_id)
    await runs.create(sub_run_record(spec, runtime))
    logger.info(
        "sub-agent run created",
        extra={
            "run_id": spec.run_id,
            "agent_id": spec.agent_id,
            "parent_run_id": spec.parent_run_id,
        },
    )


def _overrides_of(message: run_pb2.RunOverrides) -> RunOverrides:
    """``runwire.v1.RunOverrides`` (checked by protovalidate) as the snapshot's record.

    Limits left at 0 or unset are not overridden (0 means "the default" in ``Limits``).
    """
    limits = None
    if message.HasField("limits"):
        given = message.limits
        limits = LimitOverrides(
            max_iterations=given.max_iterations or None,
            timeout_seconds=(
                given.timeout.ToTimedelta().total_seconds() if given.HasField("timeout") else None
            ),
            approval_timeout_seconds=(
                given.approval_timeout.ToTimedelta().total_seconds()
                if given.HasField("approval_timeout")
                else None
            ),
            token_budget=given.token_budget or None,
            max_sub_agent_depth=given.max_sub_agent_depth or None,
        )
    return RunOverrides(
        instructions=message.instructions,
        temperature=message.temperature if message.HasField("temperature") else None,
        top_p=message.top_p if message.HasField("top_p") else None,
        max_output_tokens=(
            message.max_output_tokens if message.HasField("max_output_tokens") else None
        ),
        limits=limits,
    )


def _sampling_violations(
    providers: ProviderRegistry, agent: agent_pb2.Agent, overrides: RunOverrides
) -> dict[str, str]:
    """Field violations (``overrides.<field>``) for each sampling override that a
    model of the agent (the primary or a fallback) has no option for: the
    provider's own options check (``ProviderRegistry.validate_options``) refuses
    the model's options with the override merged in, at the option's key."""
    models = [("model", agent.model)] + [
        (f"fallback_models[{i}]", m) for i, m in enumerate(agent.fallback_models)
    ]
    violations: dict[str, str] = {}
    for name, value in overrides.sampling().items():
        option = SAMPLING_OPTIONS[name]
        lacking = [
            f"{where} (provider {model.provider!r})"
            for where, model in models
            if _refuses(providers, model, option, value)
        ]
        if lacking:
            violations[f"overrides.{name}"] = (
                f"not supported by the agent's {', '.join(lacking)}: it takes no {option!r} option"
            )
    return violations


def _refuses(
    providers: ProviderRegistry, model: agent_pb2.Model, option: str, value: object
) -> bool:
    """Whether ``model``'s provider refuses ``option`` (set to ``value``) in its options."""
    options = {**struct_dict(model.options), option: value}
    try:
        found = providers.validate_options(model.provider, options)
    except InvalidArgumentError:  # a provider no longer registered takes nothing
        return True
    return any(path == option or path.startswith(f"{option}.") for path in found)


__all__ = ["NotFoundError", "RunDefaults", "RunInput", "RunRouter"]
