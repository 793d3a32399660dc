"""Who the caller is and whether it may call the method: one owner for every transport.

The gRPC interceptor (``runwire_server.service.api.interceptor``) and the HTTP
transports (``runwire_server.service.http``) both ask ``Admission`` about a call,
then ``bind_caller`` the principal for the rest of it, so authentication,
authorization and what the logs and spans say are the same whichever way a
request arrived.
"""

from __future__ import annotations

from opentelemetry import trace

from runwire_server.service.auth.authenticate import Authenticator
from runwire_server.service.auth.permissions import AUTHENTICATED_METHODS, METHOD_PERMISSIONS
from runwire_server.service.auth.principal import ANONYMOUS, Principal, bind_principal
from runwire_server.service.core.errors import PermissionDeniedError
from runwire_server.service.core.logs import bind_log_context
from runwire_server.service.core.telemetry import ATTR_PRINCIPAL, ATTR_TENANT


def permission_of(method: str) -> str | None:
    """The permission ``method`` (``/package.Service/Method``) needs; None: any
    authenticated caller may call it. A method missing from the table needs a
    permission no role grants (``unlisted:<method>``): refused to everyone."""
    permission = METHOD_PERMISSIONS.get(method)
    if permission is None and method not in AUTHENTICATED_METHODS:
        return f"unlisted:{method}"
    return permission


class Admission:
    """Authenticates a caller and checks its roles against ``METHOD_PERMISSIONS``;
    ``authenticator=None`` is auth off (every caller is ``ANONYMOUS``)."""

    def __init__(self, authenticator: Authenticator | None) -> None:
        self._authenticator = authenticator

    @property
    def enabled(self) -> bool:
        """Whether callers must prove who they are."""
        return self._authenticator is not None

    async def admit(
        self, method: str, authorization: str | None, peer_pem: bytes | None = None
    ) -> Principal:
        """The principal of a call of ``method``, if it may make it.

        Args:
            method: ``/package.Service/Method``.
            authorization: The ``authorization`` metadata or HTTP header, if any.
            peer_pem: The verified TLS client certificate (PEM), if any.

        Raises:
            UnauthenticatedError: no credentials, or credentials not accepted.
            PermissionDeniedError: none of the principal's roles grants the
                method's permission (ErrorInfo metadata ``permission``, ``method``).
        """
        principal = (
            ANONYMOUS
            if self._authenticator is None
            else await self._authenticator.authenticate(authorization, peer_pem)
        )
        permission = permission_of(method)
        if permission is not None and not principal.can(permission):
            raise PermissionDeniedError(
                f"principal {principal.name!r} may not call {method}: it needs the "
                f"permission {permission!r}, which none of its roles "
                f"({', '.join(sorted(principal.roles)) or 'none'}) grants",
                metadata={"permission": permission, "method": method},
            )
        return principal


def bind_caller(principal: Principal) -> None:
    """Binds ``principal`` for the rest of the current task (``current_principal()``),
    names it in the task's log lines and on the current span."""
    bind_principal(principal)
    bind_log_context(principal=principal.name, tenant=principal.tenant)
    span = trace.get_current_span()
    span.set_attribute(ATTR_PRINCIPAL, principal.name)
    span.set_attribute(ATTR_TENANT, principal.tenant)


__all__ = ["Admission", "bind_caller", "permission_of"]
