"""``runwire.v1.ThreadService``: conversations shared by runs."""

from __future__ import annotations

import uuid

import grpc
from runwire.v1 import thread_pb2, thread_pb2_grpc

from runwire_server.service.api.convert import message_pb, thread_pb
from runwire_server.service.api.errors import unary
from runwire_server.service.auth.principal import current_principal
from runwire_server.service.auth.quotas import Quotas, fit_bytes
from runwire_server.service.stores.paging import decode_int_token, encode_token, page_size
from runwire_server.service.stores.tenants import PerTenant
from runwire_server.service.stores.threads import ThreadStore


class ThreadServicer(thread_pb2_grpc.ThreadServiceServicer):
    """Threads over the caller's tenant's ``ThreadStore``."""

    def __init__(self, *, threads: PerTenant[ThreadStore], quotas: Quotas | None = None) -> None:
        self._threads = threads
        self._quotas = quotas or Quotas()

    def _store(self) -> ThreadStore:
        """The threads of the caller's tenant."""
        return self._threads(current_principal().tenant)

    @unary
    async def CreateThread(
        self, request: thread_pb2.CreateThreadRequest, context: grpc.aio.ServicerContext
    ) -> thread_pb2.CreateThreadResponse:
        thread_id = request.thread_id or f"thr_{uuid.uuid4().hex}"
        store, tenant = self._store(), current_principal().tenant
        self._quotas.check(
            "max_threads_per_tenant", used=await store.count(), subject=f"tenant:{tenant}"
        )
        record = await store.create(thread_id, dict(request.metadata))
        return thread_pb2.CreateThreadResponse(thread=thread_pb(record))

    @unary
    async def GetThread(
        self, request: thread_pb2.GetThreadRequest, context: grpc.aio.ServicerContext
    ) -> thread_pb2.GetThreadResponse:
        record = await self._store().get(request.thread_id)
        return thread_pb2.GetThreadResponse(thread=thread_pb(record))

    @unary
    async def ListThreadMessages(
        self, request: thread_pb2.ListThreadMessagesRequest, context: grpc.aio.ServicerContext
    ) -> thread_pb2.ListThreadMessagesResponse:
        record = await self._store().get(request.thread_id)
        start = decode_int_token(request.page_token) or 0
        size = page_size(request.page_size)
        messages = [message_pb(m) for m in record.messages[start : start + size]]
        messages = messages[: fit_bytes(messages, self._quotas.max_list_response_bytes)]
        end = start + len(messages)
        token = encode_token(str(end)) if end < len(record.messages) else ""
        return thread_pb2.ListThreadMessagesResponse(messages=messages, next_page_token=token)

    @unary
    async def DeleteThread(
        self, request: thread_pb2.DeleteThreadRequest, context: grpc.aio.ServicerContext
    ) -> thread_pb2.DeleteThreadResponse:
        await self._store().delete(request.thread_id)
        return thread_pb2.DeleteThreadResponse()
