"""The in-process runtime: each run is an asyncio task in the service process.

Zero infrastructure; a run does not survive a restart of the process. Runs go
on when the client that started them disconnects. Decisions (approvals,
client tool outputs) are recorded in the run's ``PendingDecisions`` (which
owns their rules) and wake the waiting loop through an ``asyncio.Event``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from runwire.v1 import event_pb2, run_pb2

from service.agent.decisions import APPROVAL_NOT_PENDING, TOOL_CALL_NOT_PENDING, PendingDecisions
from service.agent.effects import ModelTurn, ToolResult
from service.agent.loop import execute_run
from service.agent.resilient_turn import DEFAULT_RETRY_POLICY, RetryPolicy, resilient_model_turn
from service.core.errors import FailedPreconditionError
from service.core.logs import run_context
from service.core.messages import ChatMessage
from service.core.spec import Decision, LoopCheckpoint, RunSpec, ToolOutput
from service.core.telemetry import (
    ATTR_AGENT_ID,
    ATTR_PRINCIPAL,
    ATTR_PROVIDER,
    ATTR_RUN_ID,
    ATTR_STATE,
    ATTR_TENANT,
    start_span,
)
from service.llm.base import ModelRequest
from service.llm.registry import ProviderRegistry
from service.runtimes.recorder import RunRecorder
from service.stores.tenants import PerTenant
from service.stores.threads import ThreadStore
from service.tools.execution import run_server_tool
from service.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)


_T = TypeVar("_T")


@dataclass
class _RunControl:
    spec: RunSpec
    task: asyncio.Task[None] | None = None
    decisions: PendingDecisions = field(init=False)
    #: Set and replaced whenever a decision is recorded; waiters wait on the current one.
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.decisions = PendingDecisions(self.spec.run_id)

    def recorded(self) -> None:
        """Wakes every waiter to look at the decisions again."""
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def wait_for(self, lookup: Callable[[], _T | None]) -> _T:
        """Waits until ``lookup`` finds a recorded decision; returns it."""
        while (found := lookup()) is None:
            await self.changed.wait()
        return found


class _Effects:
    """``Effects`` of one in-process run."""

    def __init__(self, runtime: InProcessRuntime, control: _RunControl) -> None:
        self._runtime = runtime
        self._control = control
        self._run_id = control.spec.run_id

    async def emit(self, event: event_pb2.RunEvent) -> None:
        # Expect the decision before anyone can see the request.
        decision = self._control.decisions.observe(event)
        edited = decision.edited_arguments if decision is not None else None
        await self._runtime.recorder.publish(self._run_id, event, edited_arguments=edited)

    async def call_model(self, request: ModelRequest, *, message_id: str) -> ModelTurn:
        """Calls the run's model with retries, circuit breakers and its fallback
        models (``service.agent.resilient_turn``); events are published unkeyed."""
        spec = self._control.spec
        return await resilient_model_turn(
            self._runtime.providers,
            request,
            provider=spec.provider,
            fallback_models=spec.fallback_models,
            message_id=message_id,
            publish=self._publish_unkeyed,
            policy=self._runtime.model_retry,
            attributes={
                ATTR_RUN_ID: spec.run_id,
                ATTR_AGENT_ID: spec.agent_id,
                ATTR_PROVIDER: spec.provider,
            },
        )

    async def _publish_unkeyed(self, event: event_pb2.RunEvent, key: str) -> None:
        # One process, one attempt at a time: events need no idempotency key.
        await self.emit(event)

    async def run_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        spec = self._control.spec
        outcome = await run_server_tool(
            self._runtime.tools, name, arguments, run_id=spec.run_id, agent_id=spec.agent_id
        )
        return ToolResult(content=outcome.content, is_error=outcome.is_error)

    async def wait_approval(self, approval_id: str, *, timeout_seconds: float) -> Decision | None:
        decisions = self._control.decisions
        try:
            async with asyncio.timeout(timeout_seconds):
                return await self._control.wait_for(lambda: decisions.decision(approval_id))
        except TimeoutError:
            return decisions.expire_approval(approval_id)

    async def wait_tool_output(self, tool_call_id: str) -> ToolOutput:
        decisions = self._control.decisions
        return await self._control.wait_for(lambda: decisions.tool_output(tool_call_id))

    async def append_to_thread(self, thread_id: str, messages: list[ChatMessage]) -> None:
        threads = self._runtime.threads(self._control.spec.tenant)
        await threads.append(thread_id, messages)
        await threads.release(thread_id, self._run_id)

    async def checkpoint(self, checkpoint: LoopCheckpoint, messages: list[ChatMessage]) -> None:
        """Nothing to do: an in-process run lives in this process's memory."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{uuid.uuid4().hex}"


class InProcessRuntime:
    """Runs agent loops as asyncio tasks of this process."""

    def __init__(
        self,
        *,
        recorder: RunRecorder,
        providers: ProviderRegistry,
        tools: ToolRegistry,
        threads: PerTenant[ThreadStore],
        model_retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        """Creates the runtime.

        Args:
            recorder: Where run events go.
            providers: Model providers (and their circuit breakers).
            tools: Server tools.
            threads: Thread store.
            model_retry: Retries of a failing model before its fallback is tried.
        """
        self.recorder = recorder
        self.providers = providers
        self.tools = tools
        self.threads = threads
        self.model_retry = model_retry
        self._runs: dict[str, _RunControl] = {}

    @property
    def active_runs(self) -> int:
        """Runs whose loop has not ended."""
        return len(self._runs)

    async def start(self, spec: RunSpec) -> None:
        control = _RunControl(spec=spec)
        self._runs[spec.run_id] = control
        control.task = asyncio.create_task(self._execute(control), name=f"run:{spec.run_id}")

    async def _execute(self, control: _RunControl) -> None:
        with run_context(control.spec.run_id, control.spec.agent_id):
            await self._execute_in_context(control)

    async def _execute_in_context(self, control: _RunControl) -> None:
        spec = control.spec
        logger.info("run started", extra={"run_id": spec.run_id, "agent_id": spec.agent_id})
        attributes = {
            ATTR_RUN_ID: spec.run_id,
            ATTR_AGENT_ID: spec.agent_id,
            ATTR_PRINCIPAL: spec.created_by,
            ATTR_TENANT: spec.tenant,
        }
        try:
            with start_span("runwire.run", attributes) as span:
                state = await execute_run(spec, _Effects(self, control))
                span.set_attribute(ATTR_STATE, run_pb2.RunState.Name(state))
            logger.info(
                "run ended %s",
                run_pb2.RunState.Name(state),
                extra={"run_id": spec.run_id, "agent_id": spec.agent_id},
            )
        except asyncio.CancelledError:
            logger.info("run cancelled", extra={"run_id": spec.run_id, "agent_id": spec.agent_id})
        except Exception:
            logger.exception(
                "run could not record its end",
                extra={"run_id": spec.run_id, "agent_id": spec.agent_id},
            )
        finally:
            self._runs.pop(spec.run_id, None)
            control.decisions.close()
            if spec.thread_id:
                await self.threads(spec.tenant).release(spec.thread_id, spec.run_id)

    def _control(self, run_id: str, *, reason: str, what: str) -> _RunControl:
        control = self._runs.get(run_id)
        if control is None:
            raise FailedPreconditionError(
                f"run {run_id!r} is not running, so it waits for no {what}",
                reason=reason,
                metadata={"run_id": run_id},
            )
        return control

    async def resolve_approval(self, run_id: str, approval_id: str, decision: Decision) -> Decision:
        control = self._control(run_id, reason=APPROVAL_NOT_PENDING, what="approval")
        first = control.decisions.record_approval(approval_id, decision)
        control.recorded()
        return first

    async def submit_tool_outputs(self, run_id: str, outputs: list[ToolOutput]) -> None:
        control = self._control(run_id, reason=TOOL_CALL_NOT_PENDING, what="tool output")
        control.decisions.record_tool_outputs(outputs)
        control.recorded()

    async def cancel(self, run_id: str, reason: str) -> None:
        control = self._runs.get(run_id)
        if control is None or control.task is None or control.task.done():
            return
        await self.recorder.publish(
            run_id,
            event_pb2.RunEvent(
                state_changed=event_pb2.StateChanged(state=run_pb2.RUN_STATE_CANCELLING)
            ),
        )
        control.task.cancel(reason or "cancelled by CancelRun")

    async def aclose(self) -> None:
        tasks = [c.task for c in self._runs.values() if c.task is not None]
        for task in tasks:
            task.cancel("server shutting down")
        await asyncio.gather(*tasks, return_exceptions=True)
