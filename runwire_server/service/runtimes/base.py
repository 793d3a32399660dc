"""The runtime protocol: what executes a run's loop.

The router (``runwire_server.service.runtimes.router``) picks a runtime per run
(``Run.runtime``) and calls it; the in-process runtime runs the loop in this
process, the Temporal runtime (issue 3) as a workflow.
"""

from __future__ import annotations

from typing import Protocol

from runwire_server.service.core.spec import Decision, RunSpec, ToolOutput


class Runtime(Protocol):
    """Executes runs and delivers what they wait for."""

    async def reserve(self, run_id: str, *, tenant: str, thread_id: str) -> None:
        """Prepares for a run about to be created (before its thread is claimed),
        so that a process dying before ``start`` leaves nothing held forever."""
        ...

    async def unreserve(self, run_id: str) -> None:
        """Undoes ``reserve`` for a run that will not start. Never raises."""
        ...

    async def start(self, spec: RunSpec) -> None:
        """Starts the run in the background; returns at once."""
        ...

    async def resolve_approval(self, run_id: str, approval_id: str, decision: Decision) -> Decision:
        """Records a decision in the run's ``PendingDecisions`` (which owns the
        rules); returns the decision in force (the first one, when the same
        decision is delivered twice). The approval's record follows from the
        ``approval_resolved`` event the run then logs.

        Raises:
            FailedPreconditionError: the run does not wait for this approval,
                or is not running (``APPROVAL_NOT_PENDING``), or it was decided
                otherwise (``APPROVAL_ALREADY_RESOLVED``).
        """
        ...

    async def submit_tool_outputs(self, run_id: str, outputs: list[ToolOutput]) -> None:
        """Records client tool outputs in the run's ``PendingDecisions``, all or none.

        Raises:
            FailedPreconditionError: a tool call is not waiting
                (``TOOL_CALL_NOT_PENDING``) or already answered
                (``TOOL_CALL_ALREADY_ANSWERED``).
        """
        ...

    async def cancel(self, run_id: str, reason: str) -> None:
        """Asks the run to stop; it ends CANCELLED. Returns once the run can start no
        model or tool call (docs/runs.md, "Cancel wins"). No-op for ended runs."""
        ...

    async def pause(self, run_id: str, reason: str) -> None:
        """Asks the run to pause at its next safe point (before a model call, or
        before the tool calls of a model reply): it logs PAUSED there and waits
        for ``resume``. Returns once the request is recorded. No-op for a run
        that is paused or asked to pause already, or has ended.

        Raises:
            FailedPreconditionError: the runtime cannot reach the run from here
                (an in-process run of another replica).
            UnavailableError: the runtime cannot be reached (``RUNTIME_UNAVAILABLE``).
        """
        ...

    async def resume(self, run_id: str) -> None:
        """Continues a paused run (it logs RUNNING), or withdraws a pause it has
        not reached yet. No-op for a run that is neither, or has ended.

        Raises:
            FailedPreconditionError: as ``pause``.
            UnavailableError: as ``pause``.
        """
        ...

    async def aclose(self) -> None:
        """Stops every run this runtime executes in this process."""
        ...
