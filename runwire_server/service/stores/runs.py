"""Run records (``runwire.v1.Run``) and the idempotency index of CreateRun."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Protocol

from runwire.v1 import event_pb2, run_pb2

from runwire_server.service.core.errors import NotFoundError
from runwire_server.service.core.spec import labels_match
from runwire_server.service.stores.changes import MemoryChangeLog, run_change, run_snapshot
from runwire_server.service.stores.clone import clone
from runwire_server.service.stores.paging import page_after
from runwire_server.service.stores.projection import TERMINAL_STATES, apply_event


def run_not_found(run_id: str) -> NotFoundError:
    """The error for an unknown run id (reason ``RUN_NOT_FOUND``)."""
    return NotFoundError(
        f"run {run_id!r} does not exist", reason="RUN_NOT_FOUND", metadata={"run_id": run_id}
    )


class RunStore(Protocol):
    """Where run records and request ids live."""

    async def create(
        self, run: run_pb2.Run, *, request_id: str = "", fingerprint: str = ""
    ) -> tuple[run_pb2.Run, bool]:
        """Stores a new run, unless ``request_id`` was seen (and has not
        expired): then returns the run that request created and ``False``.
        ``fingerprint`` (of the request's parameters) is kept with the run."""
        ...

    async def find_request(self, request_id: str) -> run_pb2.Run | None:
        """The run an earlier request with ``request_id`` created, if any and not expired."""
        ...

    async def request_fingerprint(self, run_id: str) -> str:
        """The ``fingerprint`` the run was created with ("" when none or unknown)."""
        ...

    async def count_active(self, tenant: str, *, verify: bool = False) -> int:
        """How many of ``tenant``'s runs have not ended. ``verify`` re-reads
        each counted record and forgets the ended or vanished ones (slower)."""
        ...

    async def get(self, run_id: str) -> run_pb2.Run:
        """Raises NotFoundError (``RUN_NOT_FOUND``)."""
        ...

    async def list(
        self,
        *,
        agent_id: str,
        thread_id: str,
        state: run_pb2.RunState,
        page_size: int,
        page_token: str,
        tenant: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> tuple[list[run_pb2.Run], str]:
        """Runs newest first, filtered by the non-empty arguments (``tenant``
        "": every tenant's; ``labels``: runs carrying every pair). A page may
        hold fewer than ``page_size`` runs, even none, with a next page token:
        a filtered listing reads a bounded number of records per call."""
        ...

    async def apply(self, events: Sequence[event_pb2.RunEvent]) -> run_pb2.Run:
        """Folds logged events of one run, in sequence order, into its record
        and returns the record. Events already applied are skipped; applying
        stops at a gap (see ``projection.apply_event``)."""
        ...


class MemoryRunStore:
    """``RunStore`` in this process's memory.

    Args:
        max_runs: Records kept at most; the oldest ended runs are dropped first.
        changes: The change log a record's creation and state changes are
            appended to (``runwire_server.service.stores.changes``), if any.
    """

    def __init__(
        self,
        *,
        max_runs: int = 10_000,
        request_ttl_seconds: float = 86_400.0,
        changes: MemoryChangeLog | None = None,
    ) -> None:
        self._changes = changes
        self._runs: OrderedDict[str, run_pb2.Run] = OrderedDict()
        #: request id -> (run id, monotonic expiry)
        self._requests: dict[str, tuple[str, float]] = {}
        self._fingerprints: dict[str, str] = {}
        #: tenant -> ids of its runs not yet ended
        self._active: dict[str, set[str]] = {}
        self._max_runs = max_runs
        self._request_ttl = request_ttl_seconds

    async def create(
        self, run: run_pb2.Run, *, request_id: str = "", fingerprint: str = ""
    ) -> tuple[run_pb2.Run, bool]:
        if request_id:
            existing = await self.find_request(request_id)
            if existing is not None:
                return existing, False
            self._requests[request_id] = (run.run_id, time.monotonic() + self._request_ttl)
        if fingerprint:
            self._fingerprints[run.run_id] = fingerprint
        self._runs[run.run_id] = clone(run)
        if run.state not in TERMINAL_STATES:
            self._active.setdefault(run.tenant, set()).add(run.run_id)
        self._changed(None, run)
        self._evict()
        return clone(run), True

    async def count_active(self, tenant: str, *, verify: bool = False) -> int:
        del verify  # the set is exact in one process
        return len(self._active.get(tenant, ()))

    async def request_fingerprint(self, run_id: str) -> str:
        return self._fingerprints.get(run_id, "")

    def _evict(self) -> None:
        if len(self._runs) <= self._max_runs:
            return
        ended = [r for r, run in self._runs.items() if run.state in TERMINAL_STATES]
        for run_id in ended[: len(self._runs) - self._max_runs]:
            del self._runs[run_id]
        live = set(self._runs)
        now = time.monotonic()
        self._requests = {
            k: (run_id, expiry)
            for k, (run_id, expiry) in self._requests.items()
            if run_id in live and expiry > now
        }
        self._fingerprints = {k: v for k, v in self._fingerprints.items() if k in live}

    async def find_request(self, request_id: str) -> run_pb2.Run | None:
        entry = self._requests.get(request_id)
        if entry is None:
            return None
        run_id, expiry = entry
        run = self._runs.get(run_id)
        if run is None or expiry <= time.monotonic():
            del self._requests[request_id]
            return None
        return clone(run)

    async def get(self, run_id: str) -> run_pb2.Run:
        run = self._runs.get(run_id)
        if run is None:
            raise run_not_found(run_id)
        return clone(run)

    async def list(
        self,
        *,
        agent_id: str,
        thread_id: str,
        state: run_pb2.RunState,
        page_size: int,
        page_token: str,
        tenant: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> tuple[list[run_pb2.Run], str]:
        page, next_token = page_after(
            list(reversed(self._runs.values())),
            page_size=page_size,
            page_token=page_token,
            id_of=lambda r: r.run_id,
            keep=lambda r: run_matches(
                r,
                agent_id=agent_id,
                thread_id=thread_id,
                state=state,
                tenant=tenant,
                labels=labels,
            ),
        )
        return [clone(r) for r in page], next_token

    async def apply(self, events: Sequence[event_pb2.RunEvent]) -> run_pb2.Run:
        run = self._runs.get(events[0].run_id)
        if run is None:
            raise run_not_found(events[0].run_id)
        for event in events:
            before = run.state
            if apply_event(run, event):
                self._changed(before, run)
        if run.state in TERMINAL_STATES:
            self._active.get(run.tenant, set()).discard(run.run_id)
        return clone(run)

    def _changed(self, before: int | None, run: run_pb2.Run) -> None:
        change = run_change(before, run.state)
        if change is not None and self._changes is not None:
            self._changes.append(run.tenant, "run", change, run_snapshot(run))


def run_matches(
    run: run_pb2.Run,
    *,
    agent_id: str,
    thread_id: str,
    state: run_pb2.RunState,
    tenant: str = "",
    labels: Mapping[str, str] | None = None,
) -> bool:
    """Whether ``run`` passes the ListRuns filters (empty ones pass all;
    ``labels``: the run carries every pair)."""
    return (
        (not tenant or run.tenant == tenant)
        and (not agent_id or run.agent_id == agent_id)
        and (not thread_id or run.thread_id == thread_id)
        and (not state or run.state == state)
        and (not labels or labels_match(run.labels, labels))
    )
