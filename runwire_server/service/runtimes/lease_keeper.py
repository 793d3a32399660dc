"""Keeping the leases of this process's in-process runs (``runwire_server.service.stores.leases``).

With shared (Redis) stores, other replicas see this process's runs, so each run
is held under a lease. ``LeaseKeeper`` owns that bookkeeping for
``InProcessRuntime``: one heartbeat task renews the leases of all the runs of
this process every quarter of the lease (one call), and a sweeper task looks for
runs whose lease expired (their replica died or was cut off) about as often, with
jitter; it takes each over (atomically: one replica per run) and ends it FAILED
with reason ``REPLICA_LOST`` (``RunRecorder.end_failed``: pending approvals
cancelled, ``run_error`` logged, so streams end), then releases its thread and
lease. A run whose lease this process lost (it could not renew in time, or
another replica took the run over) is handed to the runtime's ``on_lost``, which
stops it without logging anything more; a cancel request another replica put on
a lease goes to ``on_cancel``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from runwire_server.service.core.errors import NotFoundError, UnavailableError
from runwire_server.service.runtimes.recorder import RunRecorder
from runwire_server.service.stores.leases import CancelOutcome, LeaseStore, ThreadClaim
from runwire_server.service.stores.projection import TERMINAL_STATES
from runwire_server.service.stores.tenants import PerTenant
from runwire_server.service.stores.threads import ThreadStore

logger = logging.getLogger(__name__)

#: ``ErrorInfo.reason`` of a run ended because its replica stopped renewing its lease.
REPLICA_LOST = "REPLICA_LOST"
#: Expired leases taken over per round trip by a sweep.
SWEEP_BATCH = 100
#: Shortest time a lease renewal is given, seconds (when a lease is about to expire).
MIN_RENEW_SECONDS = 0.05


def replica_lost(run_id: str, lease_seconds: float) -> UnavailableError:
    """The error a run ends with when its replica was lost (``REPLICA_LOST``)."""
    return UnavailableError(
        f"the replica running in-process run {run_id!r} stopped renewing its lease of "
        f"{lease_seconds:g} s (it was killed or cut off from Redis) before the run ended; "
        "in-process runs do not survive their process: use the Temporal runtime for runs "
        "that must",
        reason=REPLICA_LOST,
        metadata={"lease_seconds": f"{lease_seconds:g}"},
    )


class LeaseKeeper:
    """The leases this process holds: acquired, renewed, released, taken over."""

    def __init__(
        self,
        leases: LeaseStore,
        *,
        recorder: RunRecorder,
        threads: PerTenant[ThreadStore],
        on_lost: Callable[[str, str], None],
        on_cancel: Callable[[str, str], None],
    ) -> None:
        """Creates the keeper; ``start`` runs its heartbeat and sweeper.

        Args:
            leases: Where the leases live.
            recorder: Ends runs taken over.
            threads: Releases their threads.
            on_lost: ``(run_id, why)``: this process lost the run's lease; the run
                must stop here and log nothing more.
            on_cancel: ``(run_id, reason)``: another replica asked to cancel a run
                of this process.
        """
        self.leases = leases
        self._recorder = recorder
        self._threads = threads
        self._on_lost = on_lost
        self._on_cancel = on_cancel
        #: run id -> ``time.monotonic()`` until which this process surely holds its
        #: lease: a renewal sent at t extends it to t + the lease. Local runs, and
        #: lost runs of other replicas while this one ends them.
        self._held_until: dict[str, float] = {}
        self._background: list[asyncio.Task[None]] = []

    @property
    def shared(self) -> bool:
        """Other processes see the leases (else there is nothing to keep)."""
        return self.leases.shared

    @property
    def ttl_seconds(self) -> float:
        """How long a lease lasts unless renewed."""
        return self.leases.ttl_seconds

    def start(self) -> None:
        """Starts the heartbeat and the sweeper, when the leases are shared; stopped
        by ``aclose``. Idempotent."""
        if not self.leases.shared or self._background:
            return
        self._background = [
            asyncio.create_task(self._heartbeat(), name="run-lease-heartbeat"),
            asyncio.create_task(self._sweeper(), name="run-lease-sweeper"),
        ]

    async def acquire(self, run_id: str, *, claim: ThreadClaim | None = None) -> None:
        """Leases a new run to this process (with the thread it is about to claim).

        Raises:
            redis.exceptions.RedisError: the lease could not be written.
        """
        sent = time.monotonic()
        await self.leases.acquire(run_id, claim=claim)
        self._held_until[run_id] = sent + self.leases.ttl_seconds

    def holds(self, run_id: str) -> bool:
        """The run's lease has surely not expired (always, when leases are not shared)."""
        return not self.leases.shared or time.monotonic() < self._held_until.get(run_id, 0.0)

    def holding(self, run_id: str) -> bool:
        """This process keeps the run's lease (a run of its own, or one it ends)."""
        return run_id in self._held_until

    def forget(self, run_id: str) -> None:
        """Stops renewing the run's lease (it ended here, or was lost)."""
        self._held_until.pop(run_id, None)

    async def release(self, run_id: str) -> None:
        """Drops the lease of a run that ended here.

        Raises:
            redis.exceptions.RedisError: Redis could not be reached.
        """
        await self.leases.release(run_id)

    async def cancel(self, run_id: str, reason: str) -> CancelOutcome:
        """Puts a cancel request on the lease of a run of another replica; a run
        whose lease expired is ended here and now (``end_lost``)."""
        sent = time.monotonic()
        outcome = await self.leases.cancel(run_id, reason)
        if outcome is CancelOutcome.TAKEN:
            await self.end_lost(run_id, taken_at=sent)
        return outcome

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.leases.ttl_seconds / 4)
            await self.renew()

    async def renew(self) -> None:
        """Renews the leases this process holds, in one call; hands the runs
        whose lease was lost (or expired while Redis could not be reached) to
        ``on_lost`` and cancel requests to ``on_cancel``. Never raises."""
        run_ids = list(self._held_until)
        if not run_ids:
            return
        sent = time.monotonic()
        # No longer than the earliest lease lasts: a Redis that does not answer (the
        # client retries for up to its budget) must not keep a run past its lease.
        left = min(self._held_until[run_id] for run_id in run_ids) - sent
        try:
            async with asyncio.timeout(max(left, MIN_RENEW_SECONDS)):
                renewal = await self.leases.renew(run_ids)
        except Exception:
            logger.warning("could not renew the leases of %d runs", len(run_ids), exc_info=True)
            for run_id in run_ids:
                if time.monotonic() >= self._held_until.get(run_id, 0.0):
                    self._lost(run_id, "its lease expired while Redis could not be reached")
            return
        for run_id in run_ids:
            if run_id in renewal.lost:
                self._lost(run_id, "another replica took it over after its lease expired")
            elif run_id in self._held_until:
                self._held_until[run_id] = sent + self.leases.ttl_seconds
        for run_id, reason in renewal.cancels.items():
            self._on_cancel(run_id, reason)

    def _lost(self, run_id: str, why: str) -> None:
        self._held_until.pop(run_id, None)
        self._on_lost(run_id, why)

    async def _sweeper(self) -> None:
        quarter = self.leases.ttl_seconds / 4
        while True:
            await asyncio.sleep(quarter * random.uniform(0.5, 1.0))
            try:
                await self.sweep()
            except Exception:
                logger.warning("could not look for runs whose replica was lost", exc_info=True)

    async def sweep(self) -> list[str]:
        """Ends every in-process run whose lease expired: FAILED with reason
        ``REPLICA_LOST`` (see ``end_lost``). Returns the ids of the runs this
        process took over (``SWEEP_BATCH`` per round trip).

        Raises:
            redis.exceptions.RedisError: Redis could not be reached.
        """
        taken_over: list[str] = []
        while True:
            sent = time.monotonic()
            taken = await self.leases.take_expired(limit=SWEEP_BATCH)
            await asyncio.gather(*(self.end_lost(run_id, taken_at=sent) for run_id in taken))
            taken_over.extend(taken)
            if len(taken) < SWEEP_BATCH:
                return taken_over

    async def end_lost(self, run_id: str, *, taken_at: float) -> None:
        """Ends a run whose lease this process just took over (its replica was
        lost), unless it has ended: approvals still pending cancelled,
        ``run_error`` with ``REPLICA_LOST`` logged; then releases its thread and
        its lease. On failure the lease is left to expire, so a later sweep
        tries again. Never raises.

        Args:
            run_id: The run.
            taken_at: ``time.monotonic()`` before the lease was taken.
        """
        # Our own run, if this process stalled for longer than its lease.
        self._lost(run_id, "its lease expired before it was renewed")
        self._held_until[run_id] = taken_at + self.leases.ttl_seconds
        try:
            run = await self._recorder.current(run_id)
            if run.state not in TERMINAL_STATES:
                run = await self._recorder.end_failed(
                    run_id, replica_lost(run_id, self.leases.ttl_seconds)
                )
                logger.warning(
                    "run ended FAILED (%s): its replica stopped renewing its lease",
                    REPLICA_LOST,
                    extra={"run_id": run_id, "agent_id": run.agent_id, "tenant": run.tenant},
                )
            if run.thread_id:
                await self._threads(run.tenant).release(run.thread_id, run_id)
            await self.leases.release(run_id)
        except NotFoundError:
            # No record: its replica died before creating it (after claiming the
            # thread recorded with the lease), or the records expired.
            await self._release_claim(run_id)
            await self._forget_lease(run_id)
        except Exception:
            logger.warning(
                "could not end a run whose replica was lost; a later sweep will",
                exc_info=True,
                extra={"run_id": run_id},
            )
        finally:
            self._held_until.pop(run_id, None)

    async def _release_claim(self, run_id: str) -> None:
        try:
            claim = await self.leases.thread_claim(run_id)
            if claim is not None:
                await self._threads(claim.tenant).release(claim.thread_id, run_id)
        except Exception:
            logger.warning(
                "could not release the thread of a run lost before its record existed",
                exc_info=True,
                extra={"run_id": run_id},
            )

    async def _forget_lease(self, run_id: str) -> None:
        try:
            await self.leases.release(run_id)
        except Exception:
            logger.warning("could not release a lease", exc_info=True, extra={"run_id": run_id})

    async def aclose(self) -> None:
        """Stops the heartbeat and the sweeper."""
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
