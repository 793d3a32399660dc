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
5. a request whose bytes do not decode (``runwire_server.service.api.decoding``: the
   method's deserializer is swapped for one that returns a marker instead of
   raising) is refused with INVALID_ARGUMENT, reason ``MALFORMED_REQUEST``,
   after steps 2 and 3 (health methods too, without them);
6. a request a ``WireCheck`` of its method refuses (read before it is
   parsed: a repeated field over its ``max_items``, INVALID_ARGUMENT; a
   ``google.protobuf.Struct`` over ``max_struct_bytes``, RESOURCE_EXHAUSTED
   with a ``QuotaFailure``; ``wire_checks`` builds them) is refused with that
   error, after steps 2 and 3.

A refusal ends the call without raising (``runwire_server.service.api.errors.refuse``), so
nothing of a refused request outlives the call. Each grpc.aio call runs in a
task of its own, so the binding ends with the call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, NoReturn

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from runwire_server.service.api.admission import Admission, bind_caller
from runwire_server.service.api.decoding import (
    Oversized,
    Refused,
    WireCheck,
    checked_requests,
    is_malformed,
    malformed_request_error,
    with_safe_deserializer,
)
from runwire_server.service.api.errors import refuse, to_status
from runwire_server.service.auth.authenticate import Authenticator
from runwire_server.service.auth.permissions import OPEN_METHODS
from runwire_server.service.auth.quotas import Quotas
from runwire_server.service.core.errors import ResourceExhaustedError, RunwireError

logger = logging.getLogger(__name__)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates and authorizes every call; ``authenticator=None`` is auth off."""

    def __init__(
        self,
        authenticator: Authenticator | None,
        *,
        request_limits: Mapping[str, tuple[str, int]] | None = None,
        wire_checks: Mapping[str, WireCheck] | None = None,
    ) -> None:
        """
        Args:
            authenticator: How callers prove who they are; None: auth off.
            request_limits: Method -> (setting name, largest request in bytes):
                a longer request is refused (RESOURCE_EXHAUSTED) unparsed.
            wire_checks: Method -> its ``WireCheck``, which may refuse a request
                unparsed (``wire_checks``).
        """
        self._admission = Admission(authenticator)
        self._limits = dict(request_limits or {})
        self._checks = dict(wire_checks or {})
        #: Method -> (the handler found for it, that handler guarded): a method's
        #: handler is the same object on every call, so it is wrapped once.
        self._guarded: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None:
            return handler
        known = self._guarded.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        guarded = self._guard(method, handler)
        self._guarded[method] = (handler, guarded)
        return guarded

    def _guard(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """``handler`` behind admission and the request checks (``_guarded``)."""
        limit = self._limits.get(method)
        handler = with_safe_deserializer(
            handler, limit[1] if limit else None, self._checks.get(method)
        )

        def refusal(request: object) -> RunwireError | None:
            """Why ``request`` (decoded, or a marker) is refused; None: it is not."""
            if isinstance(request, Oversized) and limit is not None:
                return ResourceExhaustedError(
                    f"the request of {method} is {request.size} bytes, over {limit[0]}",
                    subject=f"request:{method}",
                    limit=limit[0],
                    value=request.size,
                )
            if isinstance(request, Refused):
                return request.error
            if is_malformed(request):
                return malformed_request_error(method)
            return None

        async def reject(context: grpc.aio.ServicerContext, request: object) -> NoReturn:
            """Aborts a call of a request stream at a message ``refusal`` refuses."""
            error = refusal(request) or malformed_request_error(method)
            logger.info("refused %s: %s", method, error.reason, extra={"rpc": method})
            # Mid-stream, only an abort ends the call; the request is a marker.
            await context.abort_with_status(to_status(error))
            raise AssertionError("unreachable")

        if method in OPEN_METHODS:
            return _guarded(handler, method, _admit_anyone, refusal, reject)

        async def admit(context: grpc.aio.ServicerContext) -> RunwireError | None:
            try:
                principal = await self._admission.admit(method, *_credentials(context))
            except RunwireError as exc:
                return exc
            bind_caller(principal)
            return None

        return _guarded(handler, method, admit, refusal, reject)


def _credentials(context: grpc.aio.ServicerContext) -> tuple[str | None, bytes | None]:
    """A call's ``authorization`` metadata and verified TLS client certificate (PEM)."""
    authorization = None
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            authorization = value if isinstance(value, str) else value.decode()
            break
    peer = context.auth_context().get("x509_pem_cert")
    return authorization, peer[0] if peer else None


async def _admit_anyone(context: grpc.aio.ServicerContext) -> RunwireError | None:
    """The admission of ``OPEN_METHODS``: everyone."""
    return None


#: Why the caller may not make the call (None: it may).
Admit = Callable[[grpc.aio.ServicerContext], Awaitable[RunwireError | None]]
#: Why a request (decoded, or a marker of one that was not) is refused (None: it is not).
Refusal = Callable[[object], RunwireError | None]
#: Aborts a call at a message of its request stream that ``Refusal`` refuses.
Reject = Callable[[grpc.aio.ServicerContext, object], Awaitable[NoReturn]]


def _refused(method: str, context: grpc.aio.ServicerContext, error: RunwireError) -> None:
    logger.info("refused %s: %s (%s)", method, error.reason, error.message, extra={"rpc": method})
    refuse(context, to_status(error))


def _guarded(
    handler: grpc.RpcMethodHandler, method: str, admit: Admit, refusal: Refusal, reject: Reject
) -> grpc.RpcMethodHandler:
    """``handler`` with ``admit`` awaited before its behavior runs, then its request
    checked with ``refusal`` (a request stream: each message, ``reject`` aborting at
    one refused). A refused call ends with the error's status (``refuse``) and its
    behavior never runs."""

    async def gate(context: grpc.aio.ServicerContext, request: object) -> bool:
        error = await admit(context)
        if error is None:
            error = refusal(request)
        if error is None:
            return True
        _refused(method, context, error)
        return False

    if handler.unary_unary is not None:
        unary_unary = handler.unary_unary

        async def guarded_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if not await gate(context, request):
                return None  # discarded: the status is not OK
            return await unary_unary(request, context)

        return handler._replace(unary_unary=guarded_unary)
    if handler.unary_stream is not None:
        unary_stream = handler.unary_stream

        async def guarded_unary_stream(
            request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            if not await gate(context, request):
                return
            result = unary_stream(request, context)
            if hasattr(result, "__aiter__"):
                async for response in result:
                    yield response
            else:  # a behavior that writes its responses with ``context.write``
                await result

        return handler._replace(unary_stream=guarded_unary_stream)
    if handler.stream_stream is not None:
        stream_stream = handler.stream_stream

        async def guarded_stream_stream(
            requests: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            error = await admit(context)
            if error is not None:
                _refused(method, context, error)
                return
            checked = checked_requests(requests, lambda message: reject(context, message))
            async for response in _responses(stream_stream(checked, context)):
                yield response

        return handler._replace(stream_stream=guarded_stream_stream)
    stream_unary = handler.stream_unary

    async def guarded_stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
        error = await admit(context)
        if error is not None:
            _refused(method, context, error)
            return None
        checked = checked_requests(requests, lambda message: reject(context, message))
        return await stream_unary(checked, context)

    return handler._replace(stream_unary=guarded_stream_unary)


async def _responses(result: Any) -> AsyncIterator[Any]:
    """The responses of a server-streaming behavior: an async iterator, or a
    coroutine that writes them with ``context.write`` (then none here)."""
    if hasattr(result, "__aiter__"):
        async for response in result:
            yield response
    else:
        await result


def wire_checks(
    quotas: Quotas,
    *,
    counted: Iterable[ServiceDescriptor],
    struct_limited: Iterable[ServiceDescriptor],
) -> dict[str, WireCheck]:
    """The ``WireCheck`` of each method that needs one, by ``/package.Service/Method``.

    Args:
        quotas: Where ``max_struct_bytes`` comes from.
        counted: Services whose requests' repeated fields and maps are counted
            before they are parsed.
        struct_limited: Services whose requests' Structs (and other JSON values) are
            also held to ``max_struct_bytes``.
    """
    checks: dict[str, WireCheck] = {}
    limited = {service.full_name for service in struct_limited}
    services = {service.full_name: service for service in (*counted, *struct_limited)}
    for name, service in services.items():
        for method in service.methods:
            path = f"/{name}/{method.name}"
            check = WireCheck(path, method.input_type, quotas if name in limited else None)
            if check.needed:
                checks[path] = check
    return checks


__all__ = ["AuthInterceptor", "wire_checks"]
