"""The authenticated caller of the current RPC.

The authentication interceptor binds a ``Principal`` for the length of each
call (a context variable); servicers read it with ``current_principal()``.
With auth off every caller is ``ANONYMOUS``: the admin of tenant ``default``.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from runwire_server.service.auth.config import DEFAULT_TENANT
from runwire_server.service.auth.permissions import permissions_of


@dataclass(frozen=True)
class Principal:
    """Who calls, in which tenant, with which roles.

    Attributes:
        name: The principal (API key owner, JWT subject, certificate identity).
        tenant: The tenant every resource the call touches belongs to.
        roles: Role names (``viewer`` … ``admin``).
        method: How the caller authenticated: ``api_key``, ``jwt``,
            ``client_certificate`` or ``none`` (auth off).
    """

    name: str
    tenant: str
    roles: frozenset[str]
    method: str = "none"
    permissions: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", permissions_of(self.roles))

    def can(self, permission: str) -> bool:
        """True when one of the principal's roles grants ``permission``."""
        return permission in self.permissions


#: The caller when authentication is off.
ANONYMOUS = Principal(name="anonymous", tenant=DEFAULT_TENANT, roles=frozenset({"admin"}))

_CURRENT: contextvars.ContextVar[Principal] = contextvars.ContextVar(
    "runwire_principal", default=ANONYMOUS
)


def current_principal() -> Principal:
    """The principal of the RPC being served (``ANONYMOUS`` outside one, or with auth off)."""
    return _CURRENT.get()


def bind_principal(principal: Principal) -> contextvars.Token[Principal]:
    """Makes ``principal`` current until ``reset_principal(token)``."""
    return _CURRENT.set(principal)


def reset_principal(token: contextvars.Token[Principal]) -> None:
    """Undoes ``bind_principal``."""
    _CURRENT.reset(token)
