"""Run records (``runwire.v1.Run``) and the idempotency index of CreateRun."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from runwire.v1 import event_pb2, run_pb2

from service.core.errors import NotFoundError
from service.stores.clone import clone
from service.stores.paging import page_after
from service.stores.projection import TERMINAL_STATES, apply_event


def run_not_found(run_id: str) -> NotFoundError:
    """The error for an unknown run id (reason ``RUN_NOT_FOUND``)."""
    return NotFoundError(
        f"run {run_id!r} does not exist", reason="RUN_NOT_FOUND", metadata={"run_id": run_id}
    )


class RunStore(Protocol):
    """Where run records and request ids live."""

    async def create(self, run: run_pb2.Run, *, request_id: str = "") -> tuple[run_pb2.Run, bool]:
        """Stores a new run, unless ``request_id`` was seen: then returns the
        run that request created and ``False``."""
        ...

    async def find_request(self, request_id: str) -> run_pb2.Run | None:
        """The run an earlier request with ``request_id`` created, if any."""
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
    ) -> tuple[list[run_pb2.Run], str]:
        """Runs newest first, filtered by the non-empty arguments."""
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
    """

    def __init__(self, *, max_runs: int = 10_000) -> None:
        self._runs: OrderedDict[str, run_pb2.Run] = OrderedDict()
        self._requests: dict[str, str] = {}
        self._max_runs = max_runs

    async def create(self, run: run_pb2.Run, *, request_id: str = "") -> tuple[run_pb2.Run, bool]:
        if request_id:
            existing = self._requests.get(request_id)
            if existing is not None and existing in self._runs:
                return clone(self._runs[existing]), False
            self._requests[request_id] = run.run_id
        self._runs[run.run_id] = clone(run)
        self._evict()
        return clone(run), True

    def _evict(self) -> None:
        if len(self._runs) <= self._max_runs:
            return
        ended = [r for r, run in self._runs.items() if run.state in TERMINAL_STATES]
        for run_id in ended[: len(self._runs) - self._max_runs]:
            del self._runs[run_id]
        live = set(self._runs)
        self._requests = {k: v for k, v in self._requests.items() if v in live}

    async def find_request(self, request_id: str) -> run_pb2.Run | None:
        run_id = self._requests.get(request_id)
        run = self._runs.get(run_id) if run_id else None
        return clone(run) if run is not None else None

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
    ) -> tuple[list[run_pb2.Run], str]:
        page, next_token = page_after(
            list(reversed(self._runs.values())),
            page_size=page_size,
            page_token=page_token,
            id_of=lambda r: r.run_id,
            keep=lambda r: run_matches(r, agent_id=agent_id, thread_id=thread_id, state=state),
        )
        return [clone(r) for r in page], next_token

    async def apply(self, events: Sequence[event_pb2.RunEvent]) -> run_pb2.Run:
        run = self._runs.get(events[0].run_id)
        if run is None:
            raise run_not_found(events[0].run_id)
        for event in events:
            apply_event(run, event)
        return clone(run)


def run_matches(
    run: run_pb2.Run, *, agent_id: str, thread_id: str, state: run_pb2.RunState
) -> bool:
    """Whether ``run`` passes the ListRuns filters (empty ones pass all)."""
    return (
        (not agent_id or run.agent_id == agent_id)
        and (not thread_id or run.thread_id == thread_id)
        and (not state or run.state == state)
    )
