"""One store per tenant, for records whose ids callers choose (agents, threads).

Agent and thread ids are picked by callers, so two tenants may use the same
one: each tenant gets a store of its own (memory: its own instance; Redis:
keys under ``{prefix}:tenant:{tenant}``). Runs, approvals and event logs have
server-made ids and carry their tenant in the record instead
(``Run.tenant``, ``Approval.tenant``); the router checks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

S = TypeVar("S")


def tenant_prefix(prefix: str, tenant: str) -> str:
    """The Redis key prefix of ``tenant``'s agents and threads."""
    return f"{prefix}:tenant:{tenant}"


class PerTenant(Generic[S]):
    """The store of each tenant, made on first use by ``make(tenant)`` and kept.

    Tenant names come from configuration or verified tokens
    (``runwire_server.service.auth.config.TENANT_PATTERN``), never from request fields.
    """

    def __init__(self, make: Callable[[str], S]) -> None:
        self._make = make
        self._stores: dict[str, S] = {}

    def __call__(self, tenant: str) -> S:
        store = self._stores.get(tenant)
        if store is None:
            store = self._stores[tenant] = self._make(tenant)
        return store
