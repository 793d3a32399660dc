"""Quotas: how much of the server one tenant or principal may hold.

``Quotas`` is one frozen set of limits (from settings, docs/security.md
lists each with its default); ``Quotas.check`` raises the one error every
quota refusal is: RESOURCE_EXHAUSTED with ``google.rpc.QuotaFailure``
naming the limit and reason ``QUOTA_EXCEEDED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from runwire_server.service.core.errors import ResourceExhaustedError


@dataclass(frozen=True, kw_only=True)
class Quotas:
    """The limits (``0``: none).

    Attributes:
        max_agents_per_tenant: Agents one tenant may keep.
        max_agent_bytes: Size of one agent definition (serialized ``Agent``), bytes.
        max_active_runs_per_tenant: Runs of one tenant not yet ended (queued,
            running, waiting for an action).
        max_open_streams_per_principal: Event streams (StreamRun,
            StreamRunEvents) one principal may hold open on one replica.
        max_list_response_bytes: Size a List response is cut to (a shorter
            page, with a next_page_token), bytes.
        max_struct_bytes: Size of one ``google.protobuf.Struct`` in a run or
            approval request (serialized), bytes.
        max_threads_per_tenant: Threads one tenant may keep.
        max_pending_approvals_per_tenant: Approvals of one tenant waiting for a
            decision (at the limit new runs are refused; none is evicted).
        max_events_per_run: Events one run may log (its terminal events excepted).
    """

    max_agents_per_tenant: int = 1_000
    max_agent_bytes: int = 256 * 1024
    max_active_runs_per_tenant: int = 500
    max_open_streams_per_principal: int = 200
    max_list_response_bytes: int = 4 * 1024 * 1024
    max_struct_bytes: int = 256 * 1024
    max_threads_per_tenant: int = 10_000
    max_pending_approvals_per_tenant: int = 1_000
    max_events_per_run: int = 50_000

    def check(self, limit: str, *, used: int, adding: int = 1, subject: str) -> None:
        """Refuses taking ``adding`` more when ``used`` already counts toward ``limit``.

        Args:
            limit: The attribute (and setting) name, e.g. ``max_agents_per_tenant``.
            used: How much is held now.
            adding: How much the request would add.
            subject: Who holds it, for QuotaFailure (``tenant:acme``, ``principal:alice``).

        Raises:
            ResourceExhaustedError: ``used + adding`` is over the limit.
        """
        allowed: int = getattr(self, limit)
        if allowed and used + adding > allowed:
            raise ResourceExhaustedError(
                f"{subject} has reached {limit} = {allowed} (it holds {used}); free some or "
                "ask the operator to raise the limit",
                subject=subject,
                limit=limit,
                value=used,
            )

    def check_size(self, limit: str, *, size: int, subject: str) -> None:
        """Refuses a thing of ``size`` bytes over the ``limit`` size.

        Raises:
            ResourceExhaustedError: ``size`` is over the limit.
        """
        allowed: int = getattr(self, limit)
        if allowed and size > allowed:
            raise ResourceExhaustedError(
                f"{subject} is {size} bytes, over {limit} = {allowed}",
                subject=subject,
                limit=limit,
                value=size,
            )


def fit_bytes(items: Sequence[Message], budget: int) -> int:
    """How many of ``items``, from the first, fit in ``budget`` serialized
    bytes (at least one, so a page always moves on)."""
    total = 0
    for count, item in enumerate(items):
        total += item.ByteSize() + 8  # field tag and length prefix
        if total > budget:
            return max(count, 1)
    return len(items)
