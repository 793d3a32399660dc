"""The Temporal runtime, client side: start, update and cancel ``runwire.AgentRun``.

Runs execute on Runwire workers (``python -m app worker``, or a worker embedded in
the service); this module only talks to the Temporal service. It names the
workflow and its updates by their registered names (``temporal_contract``)
and never imports ``worker``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from runwire.v1 import event_pb2, run_pb2
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from service.core.errors import FailedPreconditionError, UnavailableError
from service.core.spec import Decision, RunSpec, ToolOutput
from service.runtimes.recorder import RunRecorder
from service.runtimes.temporal_contract import (
    REFUSAL_REASONS,
    STORED_RESULT_MIN_CHARS,
    UPDATE_RESOLVE_APPROVAL,
    UPDATE_SUBMIT_TOOL_OUTPUTS,
    WORKFLOW_NAME,
    AgentRunInput,
    ResolveApprovalInput,
    SubmitToolOutputsInput,
    stored_result_marker,
)
from service.stores.conversations import ConversationStore

#: Workflow execution timeout beyond the run timeout (the loop ends the run first).
_EXECUTION_MARGIN = timedelta(minutes=5)


class TemporalRuntime:
    """Starts runs as ``runwire.AgentRun`` workflows on ``task_queue``.

    Args:
        conversations: The store the workers use for conversations (Redis, or
            this process's memory with the embedded worker): long client tool
            outputs are kept there, out of workflow history.
    """

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        recorder: RunRecorder,
        conversations: ConversationStore,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._recorder = recorder
        self._conversations = conversations

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
        except WorkflowUpdateFailedError as exc:
            raise _refusal(exc, run_id, "APPROVAL_NOT_PENDING") from exc
        except RPCError as exc:
            raise _rpc_refusal(exc, run_id, "APPROVAL_NOT_PENDING", "approval") from exc
        return result

    async def submit_tool_outputs(self, run_id: str, outputs: list[ToolOutput]) -> None:
        """Sends the outputs to the workflow (an update); one longer than
        ``STORED_RESULT_MIN_CHARS`` goes to the conversation store and the update
        carries its ``stored_result_marker`` (the workers put the content back)."""
        outputs = [await self._out_of_history(run_id, output) for output in outputs]
        handle = self._client.get_workflow_handle(run_id)
        try:
            await handle.execute_update(
                UPDATE_SUBMIT_TOOL_OUTPUTS, SubmitToolOutputsInput(outputs=tuple(outputs))
            )
        except WorkflowUpdateFailedError as exc:
            raise _refusal(exc, run_id, "TOOL_CALL_NOT_PENDING") from exc
        except RPCError as exc:
            raise _rpc_refusal(exc, run_id, "TOOL_CALL_NOT_PENDING", "tool output") from exc

    async def _out_of_history(self, run_id: str, output: ToolOutput) -> ToolOutput:
        if len(output.output) <= STORED_RESULT_MIN_CHARS:
            return output
        key = f"out_{uuid.uuid4().hex}"
        await self._conversations.save_result(run_id, key, output.output)
        return output.model_copy(update={"output": stored_result_marker(key)})

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


def _refusal(exc: WorkflowUpdateFailedError, run_id: str, default: str) -> FailedPreconditionError:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type in REFUSAL_REASONS:
        metadata = {"run_id": run_id}
        if cause.details and isinstance(cause.details[0], dict):
            metadata.update({str(k): str(v) for k, v in cause.details[0].items()})
        return FailedPreconditionError(cause.message, reason=cause.type, metadata=metadata)
    return FailedPreconditionError(
        f"run {run_id} refused the update: {cause}", reason=default, metadata={"run_id": run_id}
    )


def _rpc_refusal(exc: RPCError, run_id: str, reason: str, what: str) -> Exception:
    if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
        return FailedPreconditionError(
            f"run {run_id} is not running, so it waits for no {what}",
            reason=reason,
            metadata={"run_id": run_id},
        )
    return UnavailableError(
        f"cannot reach run {run_id} on Temporal: {exc.message}",
        reason="RUNTIME_UNAVAILABLE",
        metadata={"run_id": run_id},
    )
