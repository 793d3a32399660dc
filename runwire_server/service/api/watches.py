"""Watches: ``RunService.WatchRuns`` and ``ApprovalService.WatchApprovals``.

A watch follows its tenant's change log (``runwire_server.service.stores.changes``):

1. Without a cursor: read the log's head *first*, then list the matching
   resources (EXISTING), send SYNCED carrying the head read first, then follow
   the changes after it. Changes logged while the listing ran (up to the head
   read right after it) may already show in the listing: one whose version
   (a run's ``last_sequence``; an approval's pending/settled) is not newer
   than the one listed is skipped, so nothing is sent twice.
2. With a cursor: only the changes after it. A cursor older than the changes
   kept, or one this server never made: OUT_OF_RANGE (``CURSOR_EXPIRED``).
3. A change is sent when the resource matches the filter before *or* after
   it (the log keeps the previous state).
4. Idle: a HEARTBEAT carrying the newest cursor every ``heartbeat_interval``.
5. Drain: once the server drains (``draining``, checked every
   ``DRAIN_CHECK_SECONDS`` while watches are open) or ``close`` is called, open
   watches end UNAVAILABLE (``DRAINING``, metadata ``cursor``) and new ones are
   refused alike; the client resumes with its last cursor on another replica.
   A watch holds nothing a drain waits for, so it ends when the drain begins.

Memory per watch is bounded: changes are read in batches of ``READ_BATCH``
and gRPC flow control holds a slow client's watch at its position. A watch
that falls behind the changes kept ends OUT_OF_RANGE (``CURSOR_EXPIRED``):
its client watches again without a cursor (list, then follow).

Open watches count toward ``max_open_streams_per_principal`` (of watches,
counted apart from run streams).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from runwire.v1 import approval_pb2, run_pb2, watch_pb2

from runwire_server.service.auth.principal import current_principal
from runwire_server.service.auth.quotas import Quotas
from runwire_server.service.core.errors import UnavailableError
from runwire_server.service.core.spec import labels_match
from runwire_server.service.stores.approvals import ApprovalStore
from runwire_server.service.stores.changes import (
    Change,
    ChangeLog,
    decode_cursor,
    encode_cursor,
)
from runwire_server.service.stores.runs import RunStore

#: Changes read from the log at a time.
READ_BATCH = 100
#: Records read per page while listing the EXISTING resources.
LIST_PAGE = 200
#: Recent (resource id, version) pairs a watch remembers to drop a change
#: logged twice (a store write retried after a lost reply).
RECENT = 1024
#: Seconds between two looks at ``draining`` while watches are open.
DRAIN_CHECK_SECONDS = 0.1

R = TypeVar("R", run_pb2.Run, approval_pb2.Approval)


def _draining(cursor: str) -> UnavailableError:
    return UnavailableError(
        "the server is shutting down; watch again with this cursor on another replica",
        reason="DRAINING",
        metadata={"cursor": cursor},
    )


@dataclass(frozen=True)
class RunFilter:
    """The filter of a ``WatchRuns`` (empty fields match everything)."""

    agent_id: str = ""
    thread_id: str = ""
    states: frozenset[int] = frozenset()
    labels: Mapping[str, str] = field(default_factory=dict)

    def matches(self, run: run_pb2.Run, state: int) -> bool:
        """Whether ``run``, in ``state``, passes the filter."""
        return (
            (not self.agent_id or run.agent_id == self.agent_id)
            and (not self.thread_id or run.thread_id == self.thread_id)
            and (not self.states or state in self.states)
            and labels_match(run.labels, self.labels)
        )


@dataclass(frozen=True)
class ApprovalFilter:
    """The filter of a ``WatchApprovals`` (empty fields match everything)."""

    run_id: str = ""
    agent_id: str = ""
    states: frozenset[int] = frozenset()

    def matches(self, approval: approval_pb2.Approval, state: int) -> bool:
        """Whether ``approval``, in ``state``, passes the filter."""
        return (
            (not self.run_id or approval.run_id == self.run_id)
            and (not self.agent_id or approval.agent_id == self.agent_id)
            and (not self.states or state in self.states)
        )


@dataclass(frozen=True)
class Update(Generic[R]):
    """One message of a watch: its type, resource (None for SYNCED and
    HEARTBEAT) and cursor."""

    type: int
    resource: R | None
    cursor: str


class _Kind(Generic[R]):
    """What differs between run and approval watches."""

    def __init__(
        self,
        name: str,
        parse: Callable[[bytes], R],
        identity: Callable[[R], str],
        version: Callable[[R], int],
    ) -> None:
        self.name = name
        self.parse: Callable[[bytes], R] = parse
        self.identity: Callable[[R], str] = identity
        self.version: Callable[[R], int] = version


_RUNS: _Kind[run_pb2.Run] = _Kind(
    "run", run_pb2.Run.FromString, lambda r: r.run_id, lambda r: r.last_sequence
)
_APPROVALS: _Kind[approval_pb2.Approval] = _Kind(
    "approval",
    approval_pb2.Approval.FromString,
    lambda a: a.approval_id,
    lambda a: int(a.state != approval_pb2.APPROVAL_STATE_PENDING),
)


class _Follow(Generic[R]):
    """Where one watch is in its tenant's log, and what it decides per change."""

    def __init__(self, kind: _Kind[R], matches: Callable[[R, int], bool]) -> None:
        self.kind: _Kind[R] = kind
        self.matches: Callable[[R, int], bool] = matches
        #: The position of the last change read.
        self.position = ""
        #: While the changes logged during the listing are read (up to
        #: ``window_end``): resource id -> the version the client has.
        self.known: dict[str, int] | None = None
        self.window_end = ""
        #: Recent resource id -> version sent (drops a change logged twice).
        self.recent: collections.OrderedDict[str, int] = collections.OrderedDict()

    def decide(self, change: Change) -> Update[R] | None:
        """Moves past ``change``; returns the message it makes for this watch, or None."""
        self.position = change.position
        known = self.known
        if known is not None and change.position == self.window_end:
            self.known = None
        if change.kind != self.kind.name:
            return None
        resource = self.kind.parse(change.resource)
        identity, version = self.kind.identity(resource), self.kind.version(resource)
        after = self.matches(resource, resource.state)
        before = change.type != watch_pb2.CHANGE_TYPE_CREATED and self.matches(
            resource, change.previous_state
        )
        if known is not None:
            seen = known.get(identity)
            if seen is not None and version <= seen:
                return None  # the listing showed it already
            if not (after if seen is None else (before or after)):
                return None
            known[identity] = version
        else:
            if self.recent.get(identity, -1) >= version:
                return None  # logged twice
            if not (before or after):
                return None
        self.recent[identity] = version
        self.recent.move_to_end(identity)
        if len(self.recent) > RECENT:
            self.recent.popitem(last=False)
        return Update(change.type, resource, encode_cursor(change.position))


class Watches:
    """Every watch of one process: the change log they follow, their count per
    principal and the drain.

    Args:
        changes: The tenants' change log.
        runs: The run store (listing EXISTING runs).
        approvals: The approval store (listing EXISTING approvals).
        quotas: ``max_open_streams_per_principal`` applies to watches.
        heartbeat_interval: Seconds of silence after which a watch gets a HEARTBEAT.
        draining: Whether the server drains (the router's flag): once true, open
            watches end DRAINING and new ones are refused, as after ``close``.
    """

    def __init__(
        self,
        *,
        changes: ChangeLog,
        runs: RunStore,
        approvals: ApprovalStore,
        quotas: Quotas | None = None,
        heartbeat_interval: float = 15.0,
        draining: Callable[[], bool] | None = None,
    ) -> None:
        self.changes = changes
        self._draining = draining
        self._drain_check: asyncio.Task[None] | None = None
        self.runs_store = runs
        self.approvals_store = approvals
        self.quotas = quotas or Quotas()
        self.heartbeat_interval = heartbeat_interval
        #: Set by ``close``: open watches end UNAVAILABLE (DRAINING).
        self.closing = asyncio.Event()
        #: Watches open now.
        self.open_watches = 0
        self._of: collections.Counter[str] = collections.Counter()
        self._waiting: set[asyncio.Task[object]] = set()
        self._drained: set[asyncio.Task[object]] = set()
        self._followed: dict[asyncio.Event, asyncio.Task[None]] = {}

    def close(self) -> None:
        """Ends every open watch with UNAVAILABLE (DRAINING) and its last cursor. Idempotent."""
        self.closing.set()
        for task in self._waiting - self._drained:
            self._drained.add(task)
            task.cancel()

    def follow(self, closing: asyncio.Event) -> None:
        """Closes the watches too when ``closing`` is set (a servicer's drain
        signal). Idempotent per event."""
        if self.closing.is_set() or closing in self._followed:
            return

        async def wait_then_close() -> None:
            await closing.wait()
            self.close()

        self._followed[closing] = asyncio.create_task(wait_then_close())

    def admit(self) -> str:
        """Counts a new watch of the caller; returns the holder to ``release``.

        Raises:
            ResourceExhaustedError: the caller holds ``max_open_streams_per_principal`` watches.
            UnavailableError: the server is draining (``DRAINING``).
        """
        principal = current_principal()
        holder = f"{principal.tenant}/{principal.name}"
        if self.closing.is_set() or (self._draining is not None and self._draining()):
            raise _draining("")
        self.quotas.check(
            "max_open_streams_per_principal",
            used=self._of[holder],
            subject=f"principal:{principal.name}",
        )
        self._of[holder] += 1
        self.open_watches += 1
        if self._draining is not None and (self._drain_check is None or self._drain_check.done()):
            self._drain_check = asyncio.create_task(self._check_draining(self._draining))
        return holder

    async def _check_draining(self, draining: Callable[[], bool]) -> None:
        """While watches are open, closes them once ``draining()`` is true."""
        while self.open_watches and not self.closing.is_set():
            if draining():
                self.close()
                return
            await asyncio.sleep(DRAIN_CHECK_SECONDS)

    def release(self, holder: str) -> None:
        """Uncounts a watch ``admit`` counted."""
        self._of[holder] -= 1
        if not self._of[holder]:
            del self._of[holder]
        self.open_watches -= 1

    def watch_runs(
        self, flt: RunFilter, cursor: str, tenant: str
    ) -> AsyncIterator[Update[run_pb2.Run]]:
        """The messages of a ``WatchRuns`` of ``tenant`` (see the module docstring).

        Raises:
            CursorExpiredError: ``cursor`` (or the watch's position) is older
                than the changes kept, or unknown (``CURSOR_EXPIRED``).
            UnavailableError: the server drains (``DRAINING``).
        """
        states = sorted(flt.states)

        async def listing() -> AsyncIterator[run_pb2.Run]:
            token = ""
            while True:
                page, token = await self.runs_store.list(
                    agent_id=flt.agent_id,
                    thread_id=flt.thread_id,
                    state=states[0] if len(states) == 1 else 0,  # type: ignore[arg-type]
                    page_size=LIST_PAGE,
                    page_token=token,
                    tenant=tenant,
                )
                for run in page:
                    run.ClearField("output")  # as the change log keeps runs (run_snapshot)
                    yield run
                if not token:
                    return

        return self._watch(_RUNS, flt.matches, listing, cursor, tenant)

    def watch_approvals(
        self, flt: ApprovalFilter, cursor: str, tenant: str
    ) -> AsyncIterator[Update[approval_pb2.Approval]]:
        """The messages of a ``WatchApprovals`` of ``tenant`` (as ``watch_runs``)."""
        states = sorted(flt.states)

        async def listing() -> AsyncIterator[approval_pb2.Approval]:
            token = ""
            while True:
                page, token = await self.approvals_store.list(
                    run_id=flt.run_id,
                    state=states[0] if len(states) == 1 else 0,  # type: ignore[arg-type]
                    page_size=LIST_PAGE,
                    page_token=token,
                    tenant=tenant,
                )
                for approval in page:
                    yield approval
                if not token:
                    return

        return self._watch(_APPROVALS, flt.matches, listing, cursor, tenant)

    async def _watch(
        self,
        kind: _Kind[R],
        matches: Callable[[R, int], bool],
        listing: Callable[[], AsyncIterator[R]],
        cursor: str,
        tenant: str,
    ) -> AsyncIterator[Update[R]]:
        holder = self.admit()
        try:
            follow = _Follow(kind, matches)
            if cursor:
                follow.position = decode_cursor(cursor)
                await self.changes.read(tenant, follow.position, limit=1)  # CURSOR_EXPIRED
            else:
                follow.position = await self.changes.head(tenant)
                follow.known = {}
                start = encode_cursor(follow.position)
                async for resource in listing():
                    if matches(resource, resource.state):
                        follow.known[kind.identity(resource)] = kind.version(resource)
                        yield Update(watch_pb2.CHANGE_TYPE_EXISTING, resource, start)
                follow.window_end = await self.changes.head(tenant)
                if follow.window_end == follow.position:
                    follow.known = None
                yield Update(watch_pb2.CHANGE_TYPE_SYNCED, None, start)
            async for update in self._follow(follow, tenant):
                yield update
        finally:
            self.release(holder)

    async def _follow(self, follow: _Follow[R], tenant: str) -> AsyncIterator[Update[R]]:
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        while True:
            if self.closing.is_set():
                raise _draining(encode_cursor(follow.position))
            batch = await self.changes.read(tenant, follow.position, limit=READ_BATCH)
            for change in batch:
                update = follow.decide(change)
                if update is not None:
                    yield update
                    quiet_since = loop.time()
            if batch:
                continue
            left = quiet_since + self.heartbeat_interval - loop.time()
            if left <= 0:
                cursor = encode_cursor(follow.position)
                yield Update(watch_pb2.CHANGE_TYPE_HEARTBEAT, None, cursor)
                quiet_since = loop.time()
                continue
            await self._wait(tenant, follow.position, left)

    async def _wait(self, tenant: str, position: str, seconds: float) -> None:
        """Waits for a change after ``position`` (at most ``seconds``) in a way
        ``close`` can interrupt: that cancellation becomes DRAINING."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - gRPC runs handlers in tasks
            raise RuntimeError("a watch must run in a task")
        self._waiting.add(task)
        try:
            await self.changes.wait(tenant, position, seconds=seconds)
        except asyncio.CancelledError:
            if task not in self._drained or task.cancelling() > 1:
                raise
            task.uncancel()
            raise _draining(encode_cursor(position)) from None
        finally:
            self._waiting.discard(task)
            self._drained.discard(task)


_HUBS: dict[int, Watches] = {}


def attach(owner: object, watches: Watches) -> None:
    """Makes ``watches`` the hub of ``owner`` (the run router the servicers
    share), for ``watches_of``."""
    _HUBS[id(owner)] = watches


def detach(owner: object) -> None:
    """Forgets ``owner``'s hub (when the service closes)."""
    _HUBS.pop(id(owner), None)


def watches_of(owner: object) -> Watches:
    """The hub ``attach`` made for ``owner``.

    Raises:
        UnavailableError: none was attached (the service was built without watches).
    """
    hub = _HUBS.get(id(owner))
    if hub is None:
        raise UnavailableError("watches are not set up on this server", reason="UNAVAILABLE")
    return hub
