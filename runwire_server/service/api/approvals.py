"""``runwire.v1.ApprovalService``: list, read and resolve approvals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from runwire.v1 import approval_pb2, approval_pb2_grpc

from runwire_server.service.api.convert import approval_choice, struct_to_dict
from runwire_server.service.api.errors import server_stream, unary
from runwire_server.service.api.watches import ApprovalFilter, watches_of
from runwire_server.service.auth.principal import current_principal
from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.core.spec import ApprovalDecision
from runwire_server.service.runtimes.router import RunRouter
from runwire_server.service.stores.paging import page_size


class ApprovalServicer(approval_pb2_grpc.ApprovalServiceServicer):
    """Approvals over the ``RunRouter``."""

    def __init__(self, *, router: RunRouter) -> None:
        self._router = router

    @unary
    async def ListApprovals(
        self, request: approval_pb2.ListApprovalsRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.ListApprovalsResponse:
        approvals, token = await self._router.approvals.list(
            run_id=request.run_id,
            state=request.state,
            page_size=page_size(request.page_size),
            page_token=request.page_token,
            tenant=current_principal().tenant,
        )
        return approval_pb2.ListApprovalsResponse(approvals=approvals, next_page_token=token)

    @unary
    async def GetApproval(
        self, request: approval_pb2.GetApprovalRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.GetApprovalResponse:
        approval = await self._router.owned_approval(
            request.approval_id, current_principal().tenant
        )
        return approval_pb2.GetApprovalResponse(approval=approval)

    @unary
    async def ResolveApproval(
        self, request: approval_pb2.ResolveApprovalRequest, context: grpc.aio.ServicerContext
    ) -> approval_pb2.ResolveApprovalResponse:
        choice = approval_choice(request.decision)
        if request.HasField("edited_arguments") and choice is not ApprovalDecision.APPROVE:
            raise InvalidArgumentError(
                "edited_arguments go with APPROVE only",
                field_violations={
                    "edited_arguments": "only allowed with APPROVAL_DECISION_APPROVE"
                },
            )
        approval = await self._router.resolve_approval(
            request.approval_id,
            choice=choice,
            reason=request.reason,
            edited_arguments=(
                struct_to_dict(request.edited_arguments, field="edited_arguments")
                if request.HasField("edited_arguments")
                else None
            ),
            principal=current_principal(),
        )
        return approval_pb2.ResolveApprovalResponse(approval=approval)

    @server_stream
    async def WatchApprovals(
        self, request: approval_pb2.WatchApprovalsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[approval_pb2.WatchApprovalsResponse]:
        flt = ApprovalFilter(
            run_id=request.run_id, agent_id=request.agent_id, states=frozenset(request.states)
        )
        hub = watches_of(self._router)
        async for update in hub.watch_approvals(flt, request.cursor, current_principal().tenant):
            yield approval_pb2.WatchApprovalsResponse(
                type=update.type,  # type: ignore[arg-type]
                approval=update.resource,
                cursor=update.cursor,
            )
