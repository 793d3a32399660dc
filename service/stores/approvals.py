"""Approval records (``runwire.v1.Approval``)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from runwire.v1 import approval_pb2

from service.core.errors import NotFoundError
from service.stores.paging import decode_token, encode_token


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

    async def list(
        self,
        *,
        run_id: str,
        state: approval_pb2.ApprovalState,
        page_size: int,
        page_token: str,
    ) -> tuple[list[approval_pb2.Approval], str]:
        """Approvals newest first, filtered by the non-empty arguments."""
        ...


class MemoryApprovalStore:
    """``ApprovalStore`` in this process's memory (at most ``max_approvals``, oldest dropped)."""

    def __init__(self, *, max_approvals: int = 100_000) -> None:
        self._approvals: OrderedDict[str, approval_pb2.Approval] = OrderedDict()
        self._max = max_approvals

    async def put(self, approval: approval_pb2.Approval) -> None:
        stored = approval_pb2.Approval()
        stored.CopyFrom(approval)
        self._approvals[approval.approval_id] = stored
        while len(self._approvals) > self._max:
            self._approvals.popitem(last=False)

    async def find(self, approval_id: str) -> approval_pb2.Approval | None:
        approval = self._approvals.get(approval_id)
        if approval is None:
            return None
        out = approval_pb2.Approval()
        out.CopyFrom(approval)
        return out

    async def get(self, approval_id: str) -> approval_pb2.Approval:
        approval = self._approvals.get(approval_id)
        if approval is None:
            raise NotFoundError(
                f"approval {approval_id!r} does not exist",
                reason="APPROVAL_NOT_FOUND",
                metadata={"approval_id": approval_id},
            )
        out = approval_pb2.Approval()
        out.CopyFrom(approval)
        return out

    async def list(
        self,
        *,
        run_id: str,
        state: approval_pb2.ApprovalState,
        page_size: int,
        page_token: str,
    ) -> tuple[list[approval_pb2.Approval], str]:
        after = decode_token(page_token)
        ordered = list(reversed(self._approvals.values()))
        if after is not None:
            ids = [a.approval_id for a in ordered]
            ordered = ordered[ids.index(after) + 1 :] if after in ids else []
        matches = [
            a
            for a in ordered
            if (not run_id or a.run_id == run_id) and (not state or a.state == state)
        ]
        page = matches[:page_size]
        next_token = encode_token(page[-1].approval_id) if len(matches) > page_size else ""
        out = []
        for a in page:
            copy = approval_pb2.Approval()
            copy.CopyFrom(a)
            out.append(copy)
        return out, next_token
