"""The in-process runtime: each run is an asyncio task in the service process.

Zero infrastructure; a run does not survive a restart of the process. Runs go
on when the client that started them disconnects. Decisions (approvals,
client tool outputs) are recorded in the run's ``PendingDecisions`` (which
owns their rules) and wake the waiting loop through an ``asyncio.Event``.

Cancel wins: ``cancel`` first closes the run's gate (every effect checks it:
no event but the closing ones, no model call, no tool call, no wait gets past
a closed gate), closes its decisions (``PendingDecisions.close``: a decision
the loop has not taken is refused) and cancels the model or tool calls in
flight; then it logs CANCELLING, after every event the run emitted before,
and only then returns. The loop meets the closed gate at its next effect and
ends CANCELLED through its own ending (``execute_run``): cancelled approvals
and ``run_finished``, logged after CANCELLING. So once CancelRun has answered
no model or tool call starts, and the log holds nothing after CANCELLING but
the run's closing events (``recorder.CLOSING_PAYLOADS``). A run whose work
was all done (only its ending left) may still end SUCCEEDED after CANCELLING.

Leases: with shared (Redis) stores each run of this process is held under a
lease, kept by ``runwire_server.service.runtimes.lease_keeper.LeaseKeeper`` (heartbeat,
sweeper, take-over of runs whose replica was lost: FAILED ``REPLICA_LOST``). A
run whose lease this process lost is stopped here without logging anything
more (``_abandon``). CancelRun of a run held by another replica puts a request
on its lease, which the owner obeys when it next renews; of a run whose lease
expired, it ends the run at once, as the sweeper would. A run stopped that way
(the owner obeys a request on its lease) goes through the same gate;
CANCELLING is then the requesting replica's, logged when it asked.

Pause and resume: ``pause`` sets the run's ``pause_requested``; the loop
meets it at its next safe point (``Effects.pause_requested``), logs PAUSED
and waits (``_RunControl.wait_for``: a cancel ends the wait through the gate,
the run timeout keeps running) until ``resume`` clears it. Only the replica
that runs a run can pause or resume it (elsewhere: FAILED_PRECONDITION), like
decisions.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from runwire.v1 import agent_pb2, event_pb2, run_pb2

from runwire_server.service.agent.decisions import (
    APPROVAL_NOT_PENDING,
    TOOL_CALL_NOT_PENDING,
    PendingDecisions,
)
from runwire_server.service.agent.effects import (
    ModelTurn,
    SubRunOutcome,
    ToolResult,
    announcement,
)
from runwire_server.service.agent.loop import execute_run
from runwire_server.service.agent.resilient_turn import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    resilient_model_turn,
)
from runwire_server.service.core.errors import FailedPreconditionError
from runwire_server.service.core.logs import run_context
from runwire_server.service.core.messages import ChatMessage, Usage
from runwire_server.service.core.spec import (
    Decision,
    LoopCheckpoint,
    RunSpec,
    ToolOutput,
    label_attributes,
)
from runwire_server.service.core.telemetry import (
    ATTR_AGENT_ID,
    ATTR_PRINCIPAL,
    ATTR_PROVIDER,
    ATTR_RUN_ID,
    ATTR_STATE,
    ATTR_TENANT,
    start_span,
)
from runwire_server.service.llm.base import ModelRequest
from runwire_server.service.llm.registry import ProviderRegistry
from runwire_server.service.runtimes.lease_keeper import LeaseKeeper
from runwire_server.service.runtimes.recorder import CLOSING_PAYLOADS, RunRecorder
from runwire_server.service.runtimes.router import open_sub_run
from runwire_server.service.stores.events import TERMINAL_PAYLOADS
from runwire_server.service.stores.leases import (
    CancelOutcome,
    LeaseStore,
    MemoryLeaseStore,
    ThreadClaim,
)
from runwire_server.service.stores.projection import TERMINAL_STATES
from runwire_server.service.stores.tenants import PerTenant
from runwire_server.service.stores.threads import ThreadStore
from runwire_server.service.tools.execution import run_server_tool
from runwire_server.service.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)


_T = TypeVar("_T")

#: Longest wait, seconds, of a refused decision for the run to log how its
#: approval closed (so the refusal and the approval's record agree).
SETTLE_WAIT_SECONDS = 10.0


@dataclass
class _RunControl:
    spec: RunSpec
    task: asyncio.Task[None] | None = None
    decisions: PendingDecisions = field(init=False)
    #: Set and replaced whenever a decision is recorded or taken, or the run
    #: stops; waiters wait on the current one.
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: The task was cancelled (shutdown): it is not cancelled twice.
    cancelling: bool = False
    #: This process lost the run's lease: the run is stopped and logs nothing more.
    lost: bool = False
    #: Why the run was asked to stop (CancelRun); None while it was not. Once
    #: set, the gate is closed (``_Effects.gate``).
    stop_reason: str | None = None
    #: Set once CANCELLING is in the log (or could not be logged): closing
    #: events wait for it, so they come after it.
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set once ``run_started`` is in the log (or the run ended without it):
    #: CANCELLING comes after it.
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    #: The loop emitted its terminal event: a cancel comes too late.
    ended: bool = False
    #: Model and tool calls in flight (cancelled when the run stops).
    work: set[asyncio.Future[Any]] = field(default_factory=set)
    #: One event of the run is published at a time, in emission order.
    publishing: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: PauseRun asked the run to pause and ResumeRun has not (yet) continued it.
    pause_requested: bool = False

    def __post_init__(self) -> None:
        self.decisions = PendingDecisions(self.spec.run_id)

    def recorded(self) -> None:
        """Wakes every waiter to look at the decisions again."""
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def wait_for(self, lookup: Callable[[], _T | None], *, stoppable: bool = True) -> _T:
        """Waits until ``lookup`` finds something (a decision); returns it and
        wakes the other waiters (a resolver waits for the loop to take its
        decision).

        Raises:
            asyncio.CancelledError: with ``stoppable``, the run was asked to stop
                first (once CANCELLING is logged).
        """
        while (found := lookup()) is None:
            if stoppable and self.stop_reason is not None:
                await self.stopped.wait()
                raise asyncio.CancelledError(self.stop_reason)
            await self.changed.wait()
        self.recorded()
        return found

    async def gate(self, *, closing: bool = False, opening: bool = False) -> None:
        """Passes while the run has not been asked to stop. Afterwards: passes
        the ``opening`` event (``run_started``) at once; once CANCELLING is
        logged, passes ``closing`` effects (the run's ending) and raises
        ``asyncio.CancelledError`` for the others, so the loop ends CANCELLED."""
        if self.stop_reason is None or opening:
            return
        await self.stopped.wait()
        if not closing:
            raise asyncio.CancelledError(self.stop_reason)

    async def run_work(self, work: Awaitable[_T]) -> _T:
        """Runs a model or tool call as a future the stop can cancel alone (the
        loop then gets ``asyncio.CancelledError`` and ends through its ending)."""
        future = asyncio.ensure_future(work)
        self.work.add(future)
        try:
            return await future
        finally:
            self.work.discard(future)

    def stop(self, reason: str) -> None:
        """Closes the gate and the decisions, wakes the waiters and cancels
        the model and tool calls in flight. Idempotent."""
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        self.decisions.close()
        self.recorded()
        for future in list(self.work):
            future.cancel(reason)


class _Effects:
    """``Effects`` of one in-process run; each effect passes the run's gate first."""

    def __init__(self, runtime: InProcessRuntime, control: _RunControl) -> None:
        self._runtime = runtime
        self._control = control
        self._run_id = control.spec.run_id

    async def emit(self, event: event_pb2.RunEvent) -> None:
        control = self._control
        kind = event.WhichOneof("payload")
        opening = kind == "run_started"
        await control.gate(closing=kind in CLOSING_PAYLOADS, opening=opening)
        if not self._runtime.holds(control):
            return  # another replica ends the run; this task is being stopped (``_abandon``)
        if kind in TERMINAL_PAYLOADS:
            control.ended = True
        # Expect the decision before anyone can see the request.
        decision = control.decisions.observe(event)
        edited = decision.edited_arguments if decision is not None else None
        async with control.publishing:
            try:
                await self._runtime.recorder.publish(self._run_id, event, edited_arguments=edited)
            finally:
                if opening:
                    control.opened.set()
            await self._runtime.announce(control.spec, event)

    async def call_model(self, request: ModelRequest, *, message_id: str) -> ModelTurn:
        """Calls the run's model with retries, circuit breakers and its fallback
        models (``runwire_server.service.agent.resilient_turn``); events are published unkeyed."""
        await self._control.gate()
        spec = self._control.spec
        return await self._control.run_work(
            resilient_model_turn(
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
                    **label_attributes(spec.labels),
                },
            )
        )

    async def _publish_unkeyed(self, event: event_pb2.RunEvent, key: str) -> None:
        # One process, one attempt at a time: events need no idempotency key.
        await self.emit(event)

    async def run_tool(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        await self._control.gate()
        spec = self._control.spec
        outcome = await self._control.run_work(
            run_server_tool(
                self._runtime.tools, name, arguments, run_id=spec.run_id, agent_id=spec.agent_id
            )
        )
        return ToolResult(content=outcome.content, is_error=outcome.is_error)

    async def run_sub_run(self, spec: RunSpec) -> SubRunOutcome:
        """Starts the child as a run of this process, then waits for its end
        (see ``Effects.run_sub_run``); the parent's stop cancels it."""
        await self._control.gate()
        runtime = self._runtime
        await asyncio.shield(runtime.start_sub_run(spec))
        try:
            await self._control.gate()  # stopped while it started: stop it too
            await self._control.run_work(runtime.wait_ended(spec.run_id))
        except asyncio.CancelledError:
            reason = self._control.stop_reason or "the parent run stopped"
            await asyncio.shield(runtime.stop_sub_run(spec.run_id, reason))
            raise
        return await runtime.sub_run_outcome(spec.run_id)

    async def wait_approval(self, approval_id: str, *, timeout_seconds: float) -> Decision | None:
        control = self._control
        await control.gate()
        decisions = control.decisions
        try:
            async with asyncio.timeout(timeout_seconds):
                return await control.wait_for(lambda: decisions.take_approval(approval_id))
        except TimeoutError:
            await control.gate()  # stopped as it expired: cancelled, not expired
            return decisions.expire_approval(approval_id)

    async def wait_tool_output(self, tool_call_id: str) -> ToolOutput:
        control = self._control
        await control.gate()
        return await control.wait_for(lambda: control.decisions.tool_output(tool_call_id))

    def pause_requested(self) -> bool:
        return self._control.pause_requested

    async def wait_resumed(self) -> None:
        control = self._control
        await control.gate()
        await control.wait_for(lambda: None if control.pause_requested else True)

    async def append_to_thread(self, thread_id: str, messages: list[ChatMessage]) -> None:
        await self._control.gate(closing=True)
        if not self._runtime.holds(self._control):
            return
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
        leases: LeaseStore | None = None,
    ) -> None:
        """Creates the runtime.

        Args:
            recorder: Where run events go.
            providers: Model providers (and their circuit breakers).
            tools: Server tools.
            threads: Thread store.
            model_retry: Retries of a failing model before its fallback is tried.
            leases: Where this process's runs are leased (see the module
                docstring); none: a ``MemoryLeaseStore`` (one process, no leases).
        """
        self.recorder = recorder
        self.providers = providers
        self.tools = tools
        self.threads = threads
        self.model_retry = model_retry
        self._runs: dict[str, _RunControl] = {}
        self._keeper = LeaseKeeper(
            leases if leases is not None else MemoryLeaseStore(),
            recorder=recorder,
            threads=threads,
            on_lost=self._abandon,
            on_cancel=self._obey_cancel,
        )

    @property
    def leases(self) -> LeaseStore:
        """Where this process's runs are leased."""
        return self._keeper.leases

    @property
    def active_runs(self) -> int:
        """Runs whose loop has not ended."""
        return len(self._runs)

    def keep_leases(self) -> None:
        """Starts the heartbeat (renews this process's leases) and the sweeper
        (ends runs whose lease expired), when the leases are shared; stopped by
        ``aclose``. Idempotent."""
        self._keeper.start()

    async def renew_leases(self) -> None:
        """Renews this process's leases now (``LeaseKeeper.renew``). Never raises."""
        await self._keeper.renew()

    async def sweep(self) -> list[str]:
        """Ends the runs whose lease expired now (``LeaseKeeper.sweep``).

        Raises:
            redis.exceptions.RedisError: Redis could not be reached.
        """
        return await self._keeper.sweep()

    def holds(self, control: _RunControl) -> bool:
        """Whether this process may still log for the run: it has not lost the
        run's lease, and the lease has surely not expired (otherwise the run
        is stopped here: another replica ends it)."""
        if control.lost:
            return False
        if self._keeper.holds(control.spec.run_id):
            return True
        self._abandon(control.spec.run_id, "its lease expired before it was renewed")
        return False

    async def reserve(self, run_id: str, *, tenant: str, thread_id: str) -> None:
        """Leases a run about to be created to this process, with the thread it
        is about to claim: if the process dies before the run starts, the
        sweeper of another replica ends it (or, without a record, frees the
        thread). ``start`` keeps the lease; ``unreserve`` drops it.

        Raises:
            redis.exceptions.RedisError: the lease could not be written.
        """
        claim = ThreadClaim(tenant=tenant, thread_id=thread_id) if thread_id else None
        await self._keeper.acquire(run_id, claim=claim)

    async def unreserve(self, run_id: str) -> None:
        """Drops the lease of a reserved run that will not start. Never raises."""
        self._keeper.forget(run_id)
        try:
            await self._keeper.release(run_id)
        except Exception:
            logger.warning("could not release a lease", exc_info=True, extra={"run_id": run_id})

    async def start(self, spec: RunSpec) -> None:
        """Leases the run to this process and starts its task. Runs to its end
        even when the caller is cancelled meanwhile (the run then goes on).

        Raises:
            redis.exceptions.RedisError: the lease could not be written.
        """
        if self._keeper.holding(spec.run_id):
            # Reserved (leased already): nothing to wait for, so starting cannot be
            # cut short, and costs no task of its own.
            self._launch(spec)
            return
        await asyncio.shield(self._start(spec))

    async def _start(self, spec: RunSpec) -> None:
        await self._keeper.acquire(spec.run_id)
        self._launch(spec)

    def _launch(self, spec: RunSpec) -> None:
        control = _RunControl(spec=spec)
        self._runs[spec.run_id] = control
        control.task = asyncio.create_task(self._execute(control), name=f"run:{spec.run_id}")

    async def _execute(self, control: _RunControl) -> None:
        with run_context(control.spec.run_id, control.spec.agent_id, control.spec.labels):
            await self._execute_in_context(control)

    async def _execute_in_context(self, control: _RunControl) -> None:
        spec = control.spec
        logger.info("run started", extra={"run_id": spec.run_id, "agent_id": spec.agent_id})
        attributes = {
            ATTR_RUN_ID: spec.run_id,
            ATTR_AGENT_ID: spec.agent_id,
            ATTR_PRINCIPAL: spec.created_by,
            ATTR_TENANT: spec.tenant,
            **label_attributes(spec.labels),
        }
        recorded_end = False
        try:
            with start_span("runwire.run", attributes) as span:
                state = await execute_run(spec, _Effects(self, control))
                span.set_attribute(ATTR_STATE, run_pb2.RunState.Name(state))
            recorded_end = True
            logger.info(
                "run ended %s",
                run_pb2.RunState.Name(state),
                extra={"run_id": spec.run_id, "agent_id": spec.agent_id},
            )
        except asyncio.CancelledError:
            recorded_end = True  # the loop logged run_finished (CANCELLED) first
            logger.info("run cancelled", extra={"run_id": spec.run_id, "agent_id": spec.agent_id})
        except Exception:
            # Its lease is left to expire: a sweeper then ends the run.
            logger.exception(
                "run could not record its end",
                extra={"run_id": spec.run_id, "agent_id": spec.agent_id},
            )
        finally:
            self._runs.pop(spec.run_id, None)
            control.opened.set()
            control.decisions.close()
            control.recorded()  # resolvers waiting for the loop to take a decision
            if not control.lost:
                # A lost run's thread and lease are the replica's that ends it.
                self._keeper.forget(spec.run_id)
                await self._release(spec, lease=recorded_end)

    async def _release(self, spec: RunSpec, *, lease: bool) -> None:
        """Releases the thread of a run that ended here and, with ``lease``, its lease."""
        try:
            if spec.thread_id:
                await self.threads(spec.tenant).release(spec.thread_id, spec.run_id)
            if lease:
                await self._keeper.release(spec.run_id)
        except Exception:
            # The lease then expires and a sweeper releases both.
            logger.warning(
                "could not release the thread or lease of an ended run",
                exc_info=True,
                extra={"run_id": spec.run_id},
            )

    def _abandon(self, run_id: str, why: str) -> None:
        """Stops a local run whose lease this process lost: it logs nothing more
        (another replica ends it). Forgets the lease of a run it was ending."""
        self._keeper.forget(run_id)
        control = self._runs.get(run_id)
        if control is None or control.lost:
            return
        control.lost = True
        # It logs nothing more: nothing waits for its events.
        control.opened.set()
        control.stopped.set()
        logger.warning(
            "run stopped here: %s; another replica ends it (REPLICA_LOST)",
            why,
            extra={"run_id": run_id},
        )
        if control.task is not None and not control.task.done():
            control.task.cancel(f"lease lost: {why}")

    def _obey_cancel(self, run_id: str, reason: str) -> None:
        """Stops a run of this process that another replica cancelled (a request
        on its lease); CANCELLING was logged by the replica that took the CancelRun."""
        control = self._runs.get(run_id)
        if control is not None and not control.lost:
            control.stop(reason or "cancelled by CancelRun")
            control.stopped.set()

    def _control(self, run_id: str, *, reason: str, what: str) -> _RunControl:
        control = self._runs.get(run_id)
        if control is None or control.lost:
            raise FailedPreconditionError(
                f"run {run_id!r} is not running, so it waits for no {what}",
                reason=reason,
                metadata={"run_id": run_id},
            )
        return control

    async def announce(self, spec: RunSpec, event: event_pb2.RunEvent) -> None:
        """Logs a sub-agent run's approval event in each of its ancestors'
        streams too (``announcement``), after its own log has it (so its
        approval record exists first). Never raises: a stream that misses
        the announcement still has the child's own."""
        if not spec.ancestor_run_ids:
            return
        copy = announcement(event, spec.run_id)
        if copy is None:
            return
        for ancestor in spec.ancestor_run_ids:
            try:
                await self.recorder.publish(ancestor, copy)
            except Exception:
                logger.warning(
                    "could not announce an approval event in run %s",
                    ancestor,
                    exc_info=True,
                    extra={"run_id": spec.run_id},
                )

    async def start_sub_run(self, spec: RunSpec) -> None:
        """Creates the record and log of a sub-agent's child run and starts it
        here (leased to this process like any run)."""
        await self.reserve(spec.run_id, tenant=spec.tenant, thread_id="")
        try:
            await open_sub_run(
                self.recorder.runs, self.recorder.events, spec, agent_pb2.RUNTIME_IN_PROCESS
            )
            await self.start(spec)
        except BaseException:
            await self.unreserve(spec.run_id)
            raise

    async def wait_ended(self, run_id: str) -> None:
        """Returns once the run has ended: its task here has finished, or (a run
        this process no longer runs) its log holds its terminal event."""
        control = self._runs.get(run_id)
        if control is not None and control.task is not None:
            await asyncio.shield(control.task)
            return
        tail = self.recorder.events.subscribe(run_id, after_sequence=0)
        try:
            async for event in tail:
                if event.WhichOneof("payload") in TERMINAL_PAYLOADS:
                    return
        finally:
            close = getattr(tail, "aclose", None)
            if close is not None:
                await close()

    async def stop_sub_run(self, run_id: str, reason: str) -> None:
        """Cancels a sub-agent's run (its parent stopped) and waits for its end."""
        try:
            await self.cancel(run_id, f"its parent run stopped: {reason}")
            await self.wait_ended(run_id)
        except Exception:
            logger.warning(
                "could not stop a sub-agent run", exc_info=True, extra={"run_id": run_id}
            )

    async def sub_run_outcome(self, run_id: str) -> SubRunOutcome:
        """How an ended sub-agent's run ended, from its record."""
        return outcome_of(await self.recorder.current(run_id))

    async def resolve_approval(self, run_id: str, approval_id: str, decision: Decision) -> Decision:
        """Records the decision, then waits until the loop takes it (it does at
        once when it waits for the approval); returns the decision in force.

        Raises:
            FailedPreconditionError: as ``PendingDecisions.record_approval``; or
                ``APPROVAL_NOT_PENDING`` (state ``APPROVAL_STATE_CANCELLED``) when
                the run stopped or ended before it took the decision. A refusal
                of a closed approval returns once the run has logged how it
                closed (bounded by ``SETTLE_WAIT_SECONDS``), so the approval's
                record reads as the refusal says.
        """
        control = self._control(run_id, reason=APPROVAL_NOT_PENDING, what="approval")
        decisions = control.decisions
        try:
            decisions.record_approval(approval_id, decision)
            control.recorded()
            return await control.wait_for(
                lambda: decisions.approval_outcome(approval_id), stoppable=False
            )
        except FailedPreconditionError as exc:
            if exc.reason == APPROVAL_NOT_PENDING and exc.metadata.get("state"):
                await wait_approval_closed(self.recorder, run_id, approval_id, decision)
            raise

    async def submit_tool_outputs(self, run_id: str, outputs: list[ToolOutput]) -> None:
        control = self._control(run_id, reason=TOOL_CALL_NOT_PENDING, what="tool output")
        control.decisions.record_tool_outputs(outputs)
        control.recorded()

    async def pause(self, run_id: str, reason: str) -> None:
        """Asks a run of this process to pause at its next safe point (the loop
        logs PAUSED there and waits for ``resume``). No-op for a run that is
        paused or asked to pause already, that is stopping, or that has ended.

        Raises:
            FailedPreconditionError: the run is not ended but runs on another
                replica (``FAILED_PRECONDITION``, metadata ``run_id``): only
                the replica that runs an in-process run can pause it.
        """
        control = await self._local(run_id, "pause")
        if control is not None and control.stop_reason is None and not control.ended:
            control.pause_requested = True

    async def resume(self, run_id: str) -> None:
        """Continues a paused run of this process, or withdraws a pause request
        it has not reached yet. No-op for a run that is neither, or has ended.

        Raises:
            FailedPreconditionError: as ``pause``.
        """
        control = await self._local(run_id, "resume")
        if control is not None and control.pause_requested:
            control.pause_requested = False
            control.recorded()

    async def _local(self, run_id: str, what: str) -> _RunControl | None:
        """The run's control when it runs here; None when it has ended (a
        pause or resume then changes nothing).

        Raises:
            FailedPreconditionError: the run runs on another replica.
        """
        control = self._runs.get(run_id)
        if control is not None and not control.lost:
            return control
        run = await self.recorder.current(run_id)
        if run.state in TERMINAL_STATES:
            return None
        raise FailedPreconditionError(
            f"in-process run {run_id!r} runs on another replica; only that replica can "
            f"{what} it (send the request there, or use the Temporal runtime)",
            reason="FAILED_PRECONDITION",
            metadata={"run_id": run_id},
        )

    async def cancel(self, run_id: str, reason: str) -> None:
        """Asks the run to stop; returns once no model or tool call can start.

        A run of this process: its gate is closed at once (see the module
        docstring), then ``state_changed`` CANCELLING is logged after the
        events it emitted before; it ends CANCELLED. A run leased by another
        replica: CANCELLING is logged and the request put on its lease; the
        owner stops the run when it next renews (within a quarter of the
        lease), or, if the owner is gone, a sweeper ends the run FAILED
        (``REPLICA_LOST``) once the lease expires. A run whose lease has
        expired is ended here and now, FAILED (``REPLICA_LOST``). Asking again
        waits for the first request's CANCELLING; a run that is not leased
        (ended, or not started yet) or has logged its end is left alone.
        """
        reason = reason or "cancelled by CancelRun"
        control = self._runs.get(run_id)
        if control is not None:
            if control.lost or control.task is None or control.task.done():
                return
            if control.stop_reason is not None:
                await control.stopped.wait()
                return
            if control.ended:
                return
            control.stop(reason)
            # To its end even when the caller goes away: the run waits for it.
            await asyncio.shield(self._log_stop(control))
            return
        outcome = await self._keeper.cancel(run_id, reason)
        if outcome is CancelOutcome.REQUESTED and not self._keeper.holding(run_id):
            await self._log_cancelling(run_id)

    async def _log_stop(self, control: _RunControl) -> None:
        """Logs CANCELLING for a run of this process that was just stopped,
        after its ``run_started`` and every event it emitted before (unless it
        has ended or was lost meanwhile); then lets its ending through the gate."""
        try:
            await control.opened.wait()
            async with control.publishing:
                task = control.task
                if not (control.ended or control.lost or task is None or task.done()):
                    await self._log_cancelling(control.spec.run_id)
        finally:
            control.stopped.set()

    async def _log_cancelling(self, run_id: str) -> None:
        await self.recorder.publish(
            run_id,
            event_pb2.RunEvent(
                state_changed=event_pb2.StateChanged(state=run_pb2.RUN_STATE_CANCELLING)
            ),
        )

    def _cancel_task(self, control: _RunControl, reason: str) -> None:
        """Cancels the run's task once (shutdown): a second cancel would cut
        short the loop's own ending (cancelled approvals, ``run_finished``)."""
        if control.cancelling or control.task is None or control.task.done():
            return
        control.cancelling = True
        control.task.cancel(reason)

    async def aclose(self) -> None:
        """Cancels the runs of this process (they end CANCELLED and release
        their leases), then stops the heartbeat and the sweeper."""
        controls = [c for c in self._runs.values() if c.task is not None]
        for control in controls:
            self._cancel_task(control, "server shutting down")
        await asyncio.gather(
            *(c.task for c in controls if c.task is not None), return_exceptions=True
        )
        await self._keeper.aclose()


def outcome_of(run: run_pb2.Run) -> SubRunOutcome:
    """A sub-agent's ended run as its parent's tool call sees it."""
    return SubRunOutcome(
        state=run.state,
        output=run.output,
        error=run.error if run.HasField("error") else None,
        usage=Usage(input_tokens=run.usage.input_tokens, output_tokens=run.usage.output_tokens),
    )


async def wait_approval_closed(
    recorder: RunRecorder, run_id: str, approval_id: str, decision: Decision
) -> None:
    """Waits (at most ``SETTLE_WAIT_SECONDS``) until the approval's record no
    longer reads PENDING: the run logs ``approval_resolved`` for an approval
    it closed. Never raises."""
    try:
        await recorder.resolved_approval(
            approval_id, run_id, decision=decision, timeout_seconds=SETTLE_WAIT_SECONDS
        )
    except Exception:
        logger.warning(
            "could not read back a closed approval",
            exc_info=True,
            extra={"run_id": run_id, "approval_id": approval_id},
        )
