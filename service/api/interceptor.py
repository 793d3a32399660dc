"""The one server interceptor every RPC passes: authentication, then authorization.

For each call the interceptor wraps the method's handler so that, before the
servicer runs:

1. health methods pass untouched (``OPEN_METHODS``);
2. the caller is authenticated (``Authenticator``; with auth off, every
   caller is ``ANONYMOUS``); failure: ``UNAUTHENTICATED``;
3. the caller's roles must grant the method's permission
   (``METHOD_PERMISSIONS``; reflection needs none, a method missing from the
   table is refused to everyone); failure: ``PERMISSION_DENIED`` with
   ErrorInfo metadata ``permission``;
4. the principal is bound for the call (``current_principal()``), named in
   the call's log lines and set on its span (``runwire.principal``,
   ``runwire.tenant``);
5. a request whose bytes do not decode (``service.api.decoding``: the
   method's deserializer is swapped for one that returns a marker instead of
   raising) is refused with INVALID_ARGUMENT, reason ``MALFORMED_REQUEST``,
   after steps 2 and 3 (health methods too, without them).

Each grpc.aio call runs in a task of its own, so the binding ends with the call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, NoReturn

import grpc
from opentelemetry import trace

from service.api.decoding import (
    Oversized,
    checked_requests,
    is_malformed,
    malformed_request_error,
    with_safe_deserializer,
)
from service.api.errors import to_status
from service.auth.authenticate import Authenticator
from service.auth.permissions import AUTHENTICATED_METHODS, METHOD_PERMISSIONS, OPEN_METHODS
from service.auth.principal import ANONYMOUS, Principal, bind_principal
from service.core.errors import PermissionDeniedError, ResourceExhaustedError, RunwireError
from service.core.logs import bind_log_context
from service.core.telemetry import ATTR_PRINCIPAL, ATTR_TENANT

logger = logging.getLogger(__name__)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates and authorizes every call; ``authenticator=None`` is auth off."""

    def __init__(
        self,
        authenticator: Authenticator | None,
        *,
        request_limits: Mapping[str, tuple[str, int]] | None = None,
    ) -> None:
        """
        Args:
            authenticator: How callers prove who they are; None: auth off.
            request_limits: Method -> (setting name, largest request in bytes):
                a longer request is refused (RESOURCE_EXHAUSTED) unparsed.
        """
        self._authenticator = authenticator
        self._limits = dict(request_limits or {})

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None:
            return handler
        limit = self._limits.get(method)
        handler = with_safe_deserializer(handler, limit[1] if limit else None)

        async def reject(context: grpc.aio.ServicerContext, request: object) -> NoReturn:
            error: RunwireError = malformed_request_error(method)
            if isinstance(request, Oversized) and limit is not None:
                error = ResourceExhaustedError(
                    f"the request of {method} is {request.size} bytes, over {limit[0]}",
                    subject=f"request:{method}",
                    limit=limit[0],
                    value=request.size,
                )
            logger.info("refused %s: %s", method, error.reason, extra={"rpc": method})
            await context.abort_with_status(to_status(error))
            raise AssertionError("unreachable")

        if method in OPEN_METHODS:
            return _guarded(handler, _admit_anyone, reject)
        permission = METHOD_PERMISSIONS.get(method)
        if permission is None and method not in AUTHENTICATED_METHODS:
            permission = f"unlisted:{method}"

        async def admit(context: grpc.aio.ServicerContext) -> None:
            try:
                principal = await self._principal(context)
                if permission is not None and not principal.can(permission):
                    raise PermissionDeniedError(
                        f"principal {principal.name!r} may not call {method}: it needs the "
                        f"permission {permission!r}, which none of its roles "
                        f"({', '.join(sorted(principal.roles)) or 'none'}) grants",
                        metadata={"permission": permission, "method": method},
                    )
            except RunwireError as exc:
                logger.info(
                    "refused %s: %s (%s)", method, exc.reason, exc.message, extra={"rpc": method}
                )
                await context.abort_with_status(to_status(exc))
                raise AssertionError("unreachable") from exc
            bind_principal(principal)
            bind_log_context(principal=principal.name, tenant=principal.tenant)
            span = trace.get_current_span()
            span.set_attribute(ATTR_PRINCIPAL, principal.name)
            span.set_attribute(ATTR_TENANT, principal.tenant)

        return _guarded(handler, admit, reject)

    async def _principal(self, context: grpc.aio.ServicerContext) -> Principal:
        if self._authenticator is None:
            return ANONYMOUS
        authorization = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                authorization = value if isinstance(value, str) else value.decode()
                break
        peer = context.auth_context().get("x509_pem_cert")
        return await self._authenticator.authenticate(authorization, peer[0] if peer else None)


async def _admit_anyone(context: grpc.aio.ServicerContext) -> None:
    """The admission of ``OPEN_METHODS``: everyone."""


Admit = Callable[[grpc.aio.ServicerContext], Awaitable[None]]
#: Aborts the call: its request (the marker given) was not decoded.
Reject = Callable[[grpc.aio.ServicerContext, object], Awaitable[NoReturn]]


def _guarded(handler: grpc.RpcMethodHandler, admit: Admit, reject: Reject) -> grpc.RpcMethodHandler:
    """``handler`` with ``admit`` awaited before its behavior runs, and a request
    that did not decode refused with ``reject`` (after ``admit``)."""
    if handler.unary_unary is not None:
        unary_unary = handler.unary_unary

        async def guarded_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await admit(context)
            if is_malformed(request):
                await reject(context, request)
            return await unary_unary(request, context)

        return handler._replace(unary_unary=guarded_unary)
    if handler.unary_stream is not None:
        return handler._replace(
            unary_stream=_guarded_stream(handler.unary_stream, admit, reject, streaming=False)
        )
    if handler.stream_stream is not None:
        return handler._replace(
            stream_stream=_guarded_stream(handler.stream_stream, admit, reject, streaming=True)
        )
    stream_unary = handler.stream_unary

    async def guarded_stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
        await admit(context)
        return await stream_unary(
            checked_requests(requests, lambda marker: reject(context, marker)), context
        )

    return handler._replace(stream_unary=guarded_stream_unary)


def _guarded_stream(
    behavior: Callable[..., Any], admit: Admit, reject: Reject, *, streaming: bool
) -> Callable[..., AsyncIterator[Any]]:
    """A server-streaming ``behavior`` guarded as ``_guarded`` says; ``streaming``:
    its request is a stream of messages (each checked as it is read)."""

    async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await admit(context)
        if streaming:
            request = checked_requests(request, lambda marker: reject(context, marker))
        elif is_malformed(request):
            await reject(context, request)
        result = behavior(request, context)
        if hasattr(result, "__aiter__"):
            async for response in result:
                yield response
        else:  # a coroutine that writes with context.write
            await result

    return guarded


__all__ = ["AuthInterceptor"]
