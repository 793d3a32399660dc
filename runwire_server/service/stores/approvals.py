"""Approval records (``runwire.v1.Approval``)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from runwire.v1 import approval_pb2

from runwire_server.service.core.errors import NotFoundError
from runwire_server.service.stores.changes import MemoryChangeLog, approval_change
from runwire_server.service.stores.clone import clone
from runwire_server.service.stores.paging import page_after


class ApprovalStore(Protocol):
    """Where approvals live. Decisions are made by the runtime; the store keeps records."""

    async def put(self, approval: approval_pb2.Approval) -> None:
        """Creates or replaces an approval record."""
        ...

    async def get(self, approval_id: str) -> approval_pb2.Approval:
        """Raises NotFoundError (``APPROVAL_NOT_FOUND``)."""
        ...

    async def find(self, approval_id: str) -> approval_pb2.Approval | None:
        """The approval, or None."""
        ...

    async def count_pending(self, tenant: str) -> int:
        """How many of ``tenant``'s approvals are PENDING."""
        ...

    async def list(
        self,
        *,
        run_id: str,
        state: approval_pb2.ApprovalState,
        page_size: int,
        page_token: str,
        tenant: str = "",
    ) -> tuple[list[approval_pb2.Approval], str]:
        """Approvals newest first, filtered by the non-empty arguments
        (``tenant`` "": every tenant's)."""
        ...


def approval_not_found(approval_id: str) -> NotFoundError:
    """The error for an unknown approval id (reason ``APPROVAL_NOT_FOUND``)."""
    return NotFoundError(
        f"approval {approval_id!r} does not exist",
        reason="APPROVAL_NOT_FOUND",
        metadata={"approval_id": approval_id},
    )


class MemoryApprovalStore:
    """``ApprovalStore`` in this process's memory.

    Past ``max_approvals`` the oldest *settled* approvals are dropped; a
    pending one never is (its run waits for it; runs are bounded by
    ``max_active_runs_per_tenant`` instead).

    A put that creates an approval or changes its state appends a change to
    ``changes``, if given (``runwire_server.service.stores.changes``).
    """

    def __init__(
        self, *, max_approvals: int = 100_000, changes: MemoryChangeLog | None = None
    ) -> None:
        self._changes = changes
        self._approvals: OrderedDict[str, approval_pb2.Approval] = OrderedDict()
        self._max = max_approvals
        #: tenant -> ids of its PENDING approvals.
        self._pending: dict[str, set[str]] = {}

    async def count_pending(self, tenant: str) -> int:
        return len(self._pending.get(tenant, ()))

    async def put(self, approval: approval_pb2.Approval) -> None:
        previous = self._approvals.get(approval.approval_id)
        self._approvals[approval.approval_id] = clone(approval)
        change = approval_change(None if previous is None else previous.state, approval.state)
        if change is not None and self._changes is not None:
            self._changes.append(approval.tenant, "approval", change, approval.SerializeToString())
        pending = self._pending.setdefault(approval.tenant, set())
        if approval.state == approval_pb2.APPROVAL_STATE_PENDING:
            pending.add(approval.approval_id)
        else:
            pending.discard(approval.approval_id)
            if not pending:
                del self._pending[approval.tenant]
        if len(self._approvals) <= self._max:
            return
        settled = [
            approval_id
            for approval_id, a in self._approvals.items()
            if a.state != approval_pb2.APPROVAL_STATE_PENDING
        ]
        for approval_id in settled[: len(self._approvals) - self._max]:
            del self._approvals[approval_id]

    async def find(self, approval_id: str) -> approval_pb2.Approval | None:
        approval = self._approvals.get(approval_id)
        return None if approval is None else clone(approval)

    async def get(self, approval_id: str) -> approval_pb2.Approval:
        approval = await self.find(approval_id)
        if approval is None:
            raise approval_not_found(approval_id)
        return approval

    async def list(
        self,
        *,
        run_id: str,
        state: approval_pb2.ApprovalState,
        page_size: int,
        page_token: str,
        tenant: str = "",
    ) -> tuple[list[approval_pb2.Approval], str]:
        page, next_token = page_after(
            list(reversed(self._approvals.values())),
            page_size=page_size,
            page_token=page_token,
            id_of=lambda a: a.approval_id,
            keep=lambda a: approval_matches(a, run_id=run_id, state=state, tenant=tenant),
        )
        return [clone(a) for a in page], next_token


def approval_matches(
    approval: approval_pb2.Approval,
    *,
    run_id: str,
    state: approval_pb2.ApprovalState,
    tenant: str = "",
) -> bool:
    """Whether ``approval`` passes the ListApprovals filters (empty ones pass all)."""
    return (
        (not run_id or approval.run_id == run_id)
        and (not state or approval.state == state)
        and (not tenant or approval.tenant == tenant)
    )
