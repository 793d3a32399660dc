"""The Temporal runtime, client side: start, update and cancel ``runwire.AgentRun``.

Runs execute on Runwire workers (``python -m app worker``, or a worker embedded in
the service); this module only talks to the Temporal service. It names the
workflow and its updates by their registered names (``temporal_contract``)
and never imports ``worker``. Large inputs (a long client tool output, a big
run spec) leave workflow history through the client's claim-check payload
codec (``payload_codec``), not here.
"""

from __future__ import annotations

from datetime import timedelta

from runwire.v1 import event_pb2, run_pb2
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from service.agent.decisions import APPROVAL_NOT_PENDING, TOOL_CALL_NOT_PENDING
from service.core.errors import FailedPreconditionError, RunwireError, UnavailableError
from service.core.spec import Decision, RunSpec, ToolOutput
from service.runtimes.recorder import RunRecorder
from service.runtimes.temporal_contract import (
    REFUSAL_REASONS,
    UPDATE_RESOLVE_APPROVAL,
    UPDATE_SUBMIT_TOOL_OUTPUTS,
    WORKFLOW_NAME,
    AgentRunInput,
    ResolveApprovalInput,
    SubmitToolOutputsInput,
)

#: Workflow execution timeout beyond the run timeout (the loop ends the run first).
_EXECUTION_MARGIN = timedelta(minutes=5)


class TemporalRuntime:
    """Starts runs as ``runwire.AgentRun`` workflows on ``task_queue``.

    Args:
        client: A client whose data converter has the claim-check codec on the
            workers' claim store (``app.temporal_client.connect_temporal``).
    """

    def __init__(self, client: Client, *, task_queue: str, recorder: RunRecorder) -> None:
        self._client = client
        self._task_queue = task_queue
        self._recorder = recorder

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
                # For operators in the Temporal UI: whose run this is.
                memo={"tenant": spec.tenant, "created_by": spec.created_by},
            )
        except RPCError as exc:
            raise UnavailableError(
                f"cannot start run {spec.run_id} on Temporal: {exc.message}",
                reason="RUNTIME_UNAVAILABLE",
                metadata={"run_id": spec.run_id, "runtime": "RUNTIME_TEMPORAL"},
            ) from exc

    async def resolve_approval(self, run_id: str, approval_id: str, decision: Decision) -> Decision:
        handle = self._client.get_workflow_handle(run_id)
        try:
            result: Decision = await handle.execute_update(
                UPDATE_RESOLVE_APPROVAL,
                ResolveApprovalInput(approval_id=approval_id, decision=decision),
                result_type=Decision,
            )
        except (WorkflowUpdateFailedError, RPCError) as exc:
            raise _refusal(exc, run_id, not_pending=APPROVAL_NOT_PENDING, what="approval") from exc
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

    async def cancel(self, run_id: str, reason: str) -> None:
        await self._recorder.publish(
            run_id,
            event_pb2.RunEvent(
                state_changed=event_pb2.StateChanged(state=run_pb2.RUN_STATE_CANCELLING)
            ),
            key="cancel-requested",
        )
        try:
            await self._client.get_workflow_handle(run_id).cancel()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise UnavailableError(
                    f"cannot cancel run {run_id} on Temporal: {exc.message}",
                    reason="RUNTIME_UNAVAILABLE",
                    metadata={"run_id": run_id},
                ) from exc

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
