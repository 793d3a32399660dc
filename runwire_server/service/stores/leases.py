"""Run leases: which replica owns each in-process run, for as long as it renews.

With shared (Redis) stores, every in-process run is owned by the replica that
executes it under a lease of ``ttl_seconds``. The replica renews the leases of
all its runs in one call (``renew``) every quarter of the lease; a replica
that dies (or is cut off) stops renewing, its leases expire, and any replica
takes the lost runs over (``take_expired``, atomic: exactly one replica gets
each run) to end them. A lease also carries a cancel request from another
replica (``cancel``), which the owner sees when it renews.

With memory stores there is one process: its runs die with it, and nobody is
left to take them over. ``MemoryLeaseStore`` is the no-op for that case.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

#: How long a lease lasts unless renewed, seconds (``Settings.run_lease_seconds``).
DEFAULT_LEASE_SECONDS = 20.0


class CancelOutcome(enum.Enum):
    """What ``LeaseStore.cancel`` did with a run's lease."""

    #: A live lease now carries the request; its owner cancels the run when it next renews.
    REQUESTED = "requested"
    #: The lease had expired and this replica took the run over: it must end the run now.
    TAKEN = "taken"
    #: The run holds no lease (it ended, it is not an in-process run, or stores are in memory).
    NOT_LEASED = "not_leased"


@dataclass(frozen=True)
class ThreadClaim:
    """The thread a leased run holds (or is about to claim).

    Attributes:
        tenant: The run's tenant (threads are stored per tenant).
        thread_id: The thread.
    """

    tenant: str
    thread_id: str


@dataclass(frozen=True)
class Renewal:
    """The answer of ``LeaseStore.renew``.

    Attributes:
        lost: Run ids whose lease this replica no longer holds (it expired, or
            another replica took the run over): the replica must stop them
            without logging anything more.
        cancels: Run id -> reason, for runs whose lease carries a cancel request.
    """

    lost: frozenset[str] = frozenset()
    cancels: dict[str, str] = field(default_factory=dict)


class LeaseStore(Protocol):
    """Where run leases live. ``owner`` names this replica."""

    #: Whether other processes can see the leases (and so take lost runs over).
    shared: bool
    #: This replica's id (unique per process).
    owner: str
    #: How long a lease lasts unless renewed, seconds.
    ttl_seconds: float

    async def acquire(self, run_id: str, *, claim: ThreadClaim | None = None) -> None:
        """Gives this replica the lease of a new run, for ``ttl_seconds``; with
        ``claim``, records the thread the run is about to claim, so whoever
        takes the run over can release it (``thread_claim``)."""
        ...

    async def thread_claim(self, run_id: str) -> ThreadClaim | None:
        """The thread recorded with the run's lease (kept until ``release``,
        also once the lease expired), or None."""
        ...

    async def renew(self, run_ids: Collection[str]) -> Renewal:
        """Extends, by ``ttl_seconds``, the leases of ``run_ids`` this replica
        still holds, in one round trip; reports the lost ones and cancel requests."""
        ...

    async def release(self, run_id: str) -> None:
        """Drops the run's lease and its index entry: the run ended. No-op when
        another replica holds the lease."""
        ...

    async def take_expired(self, *, limit: int) -> list[str]:
        """Takes over, for this replica, up to ``limit`` runs whose lease
        expired; returns their ids. Atomic: a run is taken by one replica only."""
        ...

    async def cancel(self, run_id: str, reason: str) -> CancelOutcome:
        """Asks the owner of the run to cancel it, or takes the run over when
        its lease has expired (see ``CancelOutcome``)."""
        ...


class MemoryLeaseStore:
    """``LeaseStore`` for memory stores: one process, whose runs die with it.

    Nothing is recorded: no lease ever expires or is lost, none can be taken
    over, and there is no other replica to send a cancel request to.
    """

    shared = False

    def __init__(self, *, ttl_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self.owner = "memory"
        self.ttl_seconds = ttl_seconds

    async def acquire(self, run_id: str, *, claim: ThreadClaim | None = None) -> None:
        """Nothing to record."""

    async def thread_claim(self, run_id: str) -> ThreadClaim | None:
        """Nothing recorded: None."""
        return None

    async def renew(self, run_ids: Collection[str]) -> Renewal:
        """Every lease is held: nothing lost, no cancel requests."""
        return Renewal()

    async def release(self, run_id: str) -> None:
        """Nothing to drop."""

    async def take_expired(self, *, limit: int) -> list[str]:
        """No lease expires: []."""
        return []

    async def cancel(self, run_id: str, reason: str) -> CancelOutcome:
        """No run is leased: ``NOT_LEASED``."""
        return CancelOutcome.NOT_LEASED
