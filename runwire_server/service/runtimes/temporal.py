"""The Temporal runtime, client side: start, update and cancel ``runwire.AgentRun``.

Runs execute on Runwire workers (``python -m runwire_server.app worker``, or a worker embedded in
the service); this module only talks to the Temporal service. It names the
workflow, its updates and signals by their registered names (``temporal_contract``)
and never imports ``worker``. Large inputs (a long client tool output, a big
run spec) leave workflow history through the client's claim-check payload
codec (``payload_codec``), not here.

``CancelRun`` cancels the workflow and answers once the workflow has stopped
the run (``runwire_server.worker.workflows``: its gate is closed, its model or tool activity
in flight cancelled, CANCELLING logged by the workflow itself after every
event it emitted before), so no model or tool activity starts after it
answered. A decision racing the cancel is taken by the run or refused
(``APPROVAL_NOT_PENDING``, state ``APPROVAL_STATE_CANCELLED``), never both.

``PauseRun`` and ``ResumeRun`` are signals: durable once Temporal accepted
them, so they need no live worker, and the workflow keeps the pause in its
state (and across continue-as-new).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from runwire.v1 import run_pb2
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from runwire_server.service.agent.decisions import APPROVAL_NOT_PENDING, TOOL_CALL_NOT_PENDING
from runwire_server.service.core.errors import (
    FailedPreconditionError,
    RunwireError,
    UnavailableError,
)
from runwire_server.service.core.spec import Decision, RunSpec, ToolOutput
from runwire_server.service.runtimes.inprocess import wait_approval_closed
from runwire_server.service.runtimes.recorder import RunRecorder
from runwire_server.service.runtimes.temporal_contract import (
    REFUSAL_REASONS,
    SIGNAL_PAUSE,
    SIGNAL_RESUME,
    UPDATE_RESOLVE_APPROVAL,
    UPDATE_SUBMIT_TOOL_OUTPUTS,
    WORKFLOW_NAME,
    AgentRunInput,
    ResolveApprovalInput,
    SubmitToolOutputsInput,
)
from runwire_server.service.stores.events import TERMINAL_PAYLOADS
from runwire_server.service.stores.projection import TERMINAL_STATES

logger = logging.getLogger(__name__)

#: Workflow execution timeout beyond the run timeout (the loop ends the run first).
_EXECUTION_MARGIN = timedelta(minutes=5)
#: Longest wait, seconds, of CancelRun for the workflow to log CANCELLING (a
#: worker must take the cancellation; a model or tool activity in flight must
#: notice it at its next heartbeat). Past it, CancelRun answers with the run
#: as it is (no worker is running it).
CANCEL_WAIT_SECONDS = 10.0


class TemporalRuntime:
    """Starts runs as ``runwire.AgentRun`` workflows on ``task_queue``.

    Args:
        client: A client whose data converter has the claim-check codec on the
            workers' claim store (``runwire_server.app.temporal_client.connect_temporal``).
    """

    def __init__(self, client: Client, *, task_queue: str, recorder: RunRecorder) -> None:
        self._client = client
        self._task_queue = task_queue
        self._recorder = recorder

    async def reserve(self, run_id: str, *, tenant: str, thread_id: str) -> None:
        """Nothing to prepare: the workflow is the run's durable owner once started."""

    async def unreserve(self, run_id: str) -> None:
        """Nothing was reserved."""

    async def start(self, spec: RunSpec) -> None:
        """Starts the workflow (id = run id).

        Raises:
            UnavailableError: Temporal cannot be reached (``RUNTIME_UNAVAILABLE``).
        """
        try:
            await self._client.start_workflow(
                WORKFLOW_NAME,
                AgentRunInput(spec=spec),
                id=spec.run_id,
                task_queue=self._task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                execution_timeout=timedelta(seconds=spec.timeout_seconds) + _EXECUTION_MARGIN,
                # For operators in the Temporal UI: whose run this is, and its
                # labels (memo, not search attributes: those need attributes
                # registered on the Temporal service first).
                memo={
                    "tenant": spec.tenant,
                    "created_by": spec.created_by,
                    **({"labels": spec.labels} if spec.labels else {}),
                },
            )
        except RPCError as exc:
            raise UnavailableError(
                f"cannot start run {spec.run_id} on Temporal: {exc.message}",
                reason="RUNTIME_UNAVAILABLE",
                metadata={"run_id": spec.run_id, "runtime": "RUNTIME_TEMPORAL"},
            ) from exc

    async def resolve_approval(self, run_id: str, approval_id: str, decision: Decision) -> Decision:
        """Delivers the decision (an update that returns once the run took it).

        Raises:
            FailedPreconditionError: as the workflow's ``PendingDecisions``
                refuse it; a refusal of a closed approval (state
                ``APPROVAL_STATE_CANCELLED``: the run stopped before it took
                the decision) returns once the run logged how it closed.
            UnavailableError: Temporal cannot be reached (``RUNTIME_UNAVAILABLE``).
        """
        handle = self._client.get_workflow_handle(run_id)
        try:
            result: Decision = await handle.execute_update(
                UPDATE_RESOLVE_APPROVAL,
                ResolveApprovalInput(approval_id=approval_id, decision=decision),
                result_type=Decision,
            )
        except (WorkflowUpdateFailedError, RPCError) as exc:
            refusal = _refusal(exc, run_id, not_pending=APPROVAL_NOT_PENDING, what="approval")
            if refusal.reason == APPROVAL_NOT_PENDING and refusal.metadata.get("state"):
                await wait_approval_closed(self._recorder, run_id, approval_id, decision)
            raise refusal from exc
        return result

    async def submit_tool_outputs(self, run_id: str, outputs: list[ToolOutput]) -> None:
        """Sends the outputs to the workflow (an update)."""
        handle = self._client.get_workflow_handle(run_id)
        try:
            await handle.execute_update(
                UPDATE_SUBMIT_TOOL_OUTPUTS, SubmitToolOutputsInput(outputs=tuple(outputs))
            )
        except (WorkflowUpdateFailedError, RPCError) as exc:
            raise _refusal(
                exc, run_id, not_pending=TOOL_CALL_NOT_PENDING, what="tool output"
            ) from exc

    async def pause(self, run_id: str, reason: str) -> None:
        """Signals the workflow to pause at its next safe point (``reason`` stays
        in the server log); returns once Temporal has recorded the signal, which
        a worker then takes (a paused run stays paused across worker restarts).
        No-op when the workflow has closed.

        Raises:
            UnavailableError: Temporal cannot be reached (``RUNTIME_UNAVAILABLE``).
        """
        await self._signal(run_id, SIGNAL_PAUSE)

    async def resume(self, run_id: str) -> None:
        """Signals the workflow to continue (or to withdraw a pause it has not
        reached); returns once Temporal has recorded the signal. No-op when the
        workflow has closed.

        Raises:
            UnavailableError: Temporal cannot be reached (``RUNTIME_UNAVAILABLE``).
        """
        await self._signal(run_id, SIGNAL_RESUME)

    async def _signal(self, run_id: str, signal: str) -> None:
        try:
            await self._client.get_workflow_handle(run_id).signal(signal)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return  # the workflow has closed: the run has ended
            raise UnavailableError(
                f"cannot {signal} run {run_id} on Temporal: {exc.message}",
                reason="RUNTIME_UNAVAILABLE",
                metadata={"run_id": run_id},
            ) from exc

    async def cancel(self, run_id: str, reason: str) -> None:
        """Cancels the workflow; returns once the workflow logged CANCELLING
        (or the run's end), at most ``CANCEL_WAIT_SECONDS`` later.

        Raises:
            UnavailableError: Temporal cannot be reached (``RUNTIME_UNAVAILABLE``).
        """
        cursor = await self._recorder.events.last_sequence(run_id)
        try:
            await self._client.get_workflow_handle(run_id).cancel(
                reason=reason or "cancelled by CancelRun"
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return  # the workflow has closed: the run has ended
            raise UnavailableError(
                f"cannot cancel run {run_id} on Temporal: {exc.message}",
                reason="RUNTIME_UNAVAILABLE",
                metadata={"run_id": run_id},
            ) from exc
        try:
            async with asyncio.timeout(CANCEL_WAIT_SECONDS):
                await self._until_stopped(run_id, cursor)
        except TimeoutError:
            logger.warning(
                "run has not logged CANCELLING %g s after its workflow was cancelled",
                CANCEL_WAIT_SECONDS,
                extra={"run_id": run_id},
            )

    async def _until_stopped(self, run_id: str, cursor: int) -> None:
        """Returns once the run reads CANCELLING or has ended: in its record
        (an earlier cancel), or in its log after ``cursor``."""
        run = await self._recorder.current(run_id)
        if run.state == run_pb2.RUN_STATE_CANCELLING or run.state in TERMINAL_STATES:
            return
        tail = self._recorder.events.subscribe(run_id, after_sequence=cursor)
        try:
            async for event in tail:
                if event.WhichOneof("payload") in TERMINAL_PAYLOADS or (
                    event.HasField("state_changed")
                    and event.state_changed.state == run_pb2.RUN_STATE_CANCELLING
                ):
                    return
        finally:
            close = getattr(tail, "aclose", None)
            if close is not None:
                await close()

    async def aclose(self) -> None:
        """Nothing to close: runs live on in Temporal."""


def _refusal(
    exc: WorkflowUpdateFailedError | RPCError, run_id: str, *, not_pending: str, what: str
) -> RunwireError:
    """A failed decision update as the error the API returns.

    A refusal by the workflow's ``PendingDecisions`` crosses Temporal as an
    ``ApplicationError`` (type = reason, first detail = metadata) and becomes
    the same ``FailedPreconditionError`` the in-process runtime raises. A run
    that is not running (no such workflow, or it has closed) waits for
    nothing (``not_pending``); an unreachable Temporal is ``RUNTIME_UNAVAILABLE``.
    """
    metadata = {"run_id": run_id}
    if isinstance(exc, WorkflowUpdateFailedError):
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in REFUSAL_REASONS:
            if cause.details and isinstance(cause.details[0], dict):
                metadata.update({str(k): str(v) for k, v in cause.details[0].items()})
            return FailedPreconditionError(cause.message, reason=cause.type, metadata=metadata)
        return FailedPreconditionError(
            f"run {run_id} refused the update: {cause}", reason=not_pending, metadata=metadata
        )
    if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
        return FailedPreconditionError(
            f"run {run_id} is not running, so it waits for no {what}",
            reason=not_pending,
            metadata=metadata,
        )
    return UnavailableError(
        f"cannot reach run {run_id} on Temporal: {exc.message}",
        reason="RUNTIME_UNAVAILABLE",
        metadata=metadata,
    )
