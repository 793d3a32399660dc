"""The ``runwire.AgentRun`` workflow: the shared agent loop, made durable.

The workflow runs ``runwire_server.service.agent.loop.execute_run`` — the same loop as the
in-process runtime — through ``WorkflowEffects``
(``runwire_server.worker.workflow_effects``): model and tool calls are
activities (``runwire_server.worker.activities.RunActivities``, called by method reference
with one ``ActivityConfig`` per kind: ``PUBLISH``, local, ``MODEL``, ``TOOL``),
events are buffered and published by activities (keyed, so a retry never
doubles one), approvals and client tool outputs arrive as workflow updates
whose validators refuse bad or conflicting input before it enters history,
pause and resume are signals (the paused loop waits in
``workflow.wait_condition``, so a paused run stays paused across worker
restarts), approval expiry is a durable timer, and time and ids come from
``workflow.now()`` / ``workflow.uuid4()``.

Cancel wins. The loop runs in a task of its own; when Temporal cancels the
workflow (``CancelRun`` does, through ``runwire_server.service.runtimes.temporal``, and so
does an operator in the Temporal UI) the workflow stops the run
(``WorkflowEffects.stop``): the effects' gate closes (no event but the
closing ones, no model or tool activity, no wait gets past it), the run's
decisions close (a decision the loop has not taken is refused), the model
or tool activity in flight is cancelled and waited for
(``WAIT_CANCELLATION_COMPLETED``: it publishes nothing more), and CANCELLING
is logged after every event emitted before. The loop meets the closed gate
at its next effect and ends CANCELLED through its own ending. CancelRun
answers once CANCELLING is in the log, so by then no model or tool activity
can start: one scheduled but not started is cancelled in the same workflow
task that stops the run. Activities get whole inputs (the
whole model request, the whole conversation on continue-as-new); the
claim-check payload codec (``runwire_server.service.runtimes.payload_codec``) keeps large
payloads out of history, and nothing here sees its references.

Only deterministic code runs here. The worker runs it without the SDK's
sandbox (``runwire_server.worker.factory.build_worker``); the replay test
replays the recorded histories in the sandbox, with the service modules and
the effects passed through (they hold no per-run global state and do no I/O
from the workflow).

Versioning: nothing is released yet, so this code may change in
non-deterministic ways as long as the replay histories (``tests/replay``) are
re-recorded with it. From the first tagged release on, every change to the
workflow (or to the loop it runs) is guarded with ``workflow.patched`` or
shipped as a new workflow version, and the replay test keeps the recorded
histories replaying (``docs/temporal.md``).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from runwire.v1 import run_pb2

    from runwire_server.service.agent.decisions import PendingDecisions
    from runwire_server.service.agent.loop import execute_run
    from runwire_server.service.core.errors import FailedPreconditionError, safe_error_text
    from runwire_server.service.core.spec import Decision
    from runwire_server.service.runtimes.temporal_contract import (
        SIGNAL_PAUSE,
        SIGNAL_RESUME,
        UPDATE_RESOLVE_APPROVAL,
        UPDATE_SUBMIT_TOOL_OUTPUTS,
        WORKFLOW_NAME,
        AgentRunInput,
        ResolveApprovalInput,
        SubmitToolOutputsInput,
    )
    from runwire_server.worker.workflow_effects import (
        HEARTBEAT_TIMEOUT,
        MODEL,
        PUBLISH,
        TOOL,
        ActivityConfig,
        WorkflowEffects,
    )

__all__ = [
    "CANCEL_REQUESTED",
    "HEARTBEAT_TIMEOUT",
    "MODEL",
    "PUBLISH",
    "TOOL",
    "ActivityConfig",
    "AgentRun",
    "WorkflowEffects",
]

#: Why a run stops when Temporal cancels its workflow.
CANCEL_REQUESTED = "the workflow was cancelled (CancelRun, or an operator in Temporal)"


def _refusal(error: FailedPreconditionError) -> ApplicationError:
    """A ``PendingDecisions`` refusal as the update failure that carries it
    across Temporal: ``type`` is the reason, the first detail the ErrorInfo
    metadata (``runwire_server.service.runtimes.temporal`` maps it back)."""
    return ApplicationError(
        error.message, dict(error.metadata), type=error.reason, non_retryable=True
    )


@workflow.defn(name=WORKFLOW_NAME)
class AgentRun:
    """One agent run (workflow id = run id). Result: the terminal state name;
    a FAILED run fails the workflow (non-retryable), a cancelled one ends cancelled."""

    @workflow.init
    def __init__(self, request: AgentRunInput) -> None:
        #: The update state: validators check against it, handlers record in it.
        self.decisions = PendingDecisions()
        #: The pause signal arrived and no resume signal after it (carried
        #: across continue-as-new; set before any signal of this execution).
        self.pause_requested = request.resume is not None and request.resume.pause_requested

    @workflow.run
    async def run(self, request: AgentRunInput) -> str:
        effects = WorkflowEffects(self, request.spec)
        if request.resume is not None:
            effects.resume_from(request.resume)
        # The loop runs in a task of its own, so Temporal's cancellation (of
        # this task) stops the run through its gate instead of cutting short
        # whatever the loop awaits.
        loop = asyncio.create_task(self._execute(request, effects))
        while not loop.done():
            try:
                await workflow.wait([loop])
            except asyncio.CancelledError:
                effects.stop(CANCEL_REQUESTED)
        # Decision handlers waiting for the loop to take their decision have
        # their answer now (the loop closed the decisions when it ended).
        while True:
            try:
                await workflow.wait_condition(workflow.all_handlers_finished)
                break
            except asyncio.CancelledError:
                effects.stop(CANCEL_REQUESTED)
        return loop.result()

    async def _execute(self, request: AgentRunInput, effects: WorkflowEffects) -> str:
        try:
            try:
                state = await execute_run(
                    request.spec,
                    effects,
                    resume=request.resume.checkpoint if request.resume else None,
                    conversation=list(request.resume.messages) if request.resume else None,
                )
            finally:
                # The loop has ended: a decision arriving now is refused (NOT_PENDING).
                self.decisions.close()
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
                safe_error_text(f"run {request.spec.run_id} failed: {type(exc).__name__}: {exc}"),
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

    @workflow.signal(name=SIGNAL_PAUSE)
    def pause(self) -> None:
        """PauseRun: the loop pauses at its next safe point (``Effects.pause_requested``)."""
        self.pause_requested = True

    @workflow.signal(name=SIGNAL_RESUME)
    def resume(self) -> None:
        """ResumeRun: a paused loop goes on; a pause not reached yet is withdrawn."""
        self.pause_requested = False

    @workflow.update(name=UPDATE_RESOLVE_APPROVAL)
    async def resolve_approval(self, request: ResolveApprovalInput) -> Decision:
        """Records a decision (``PendingDecisions.record_approval``), then waits
        until the loop takes it (at once, as it waits for the approval);
        returns the decision in force. Refused (``APPROVAL_NOT_PENDING``,
        state ``APPROVAL_STATE_CANCELLED``) when the run stops or ends first."""
        decisions = self.decisions
        approval_id = request.approval_id

        def settled() -> bool:  # a wait condition must not raise
            try:
                return decisions.approval_outcome(approval_id) is not None
            except FailedPreconditionError:
                return True

        try:
            decisions.record_approval(approval_id, request.decision)
            await workflow.wait_condition(settled)
            outcome = decisions.approval_outcome(approval_id)
        except FailedPreconditionError as exc:
            raise _refusal(exc) from None
        assert outcome is not None
        return outcome

    @resolve_approval.validator
    def _check_resolve(self, request: ResolveApprovalInput) -> None:
        try:
            self.decisions.check_approval(request.approval_id, request.decision)
        except FailedPreconditionError as exc:
            raise _refusal(exc) from None

    @workflow.update(name=UPDATE_SUBMIT_TOOL_OUTPUTS)
    def submit_tool_outputs(self, request: SubmitToolOutputsInput) -> None:
        """Records client tool outputs (``PendingDecisions.record_tool_outputs``)."""
        try:
            self.decisions.record_tool_outputs(request.outputs)
        except FailedPreconditionError as exc:
            raise _refusal(exc) from None

    @submit_tool_outputs.validator
    def _check_outputs(self, request: SubmitToolOutputsInput) -> None:
        try:
            self.decisions.check_tool_outputs(request.outputs)
        except FailedPreconditionError as exc:
            raise _refusal(exc) from None
