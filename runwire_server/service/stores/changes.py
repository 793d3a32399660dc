"""The change log of a tenant's runs and approvals, which watches follow.

Every write of a run record that creates it or changes its state, and every
write of an approval record that creates it or ends it, appends one
``Change`` to its tenant's log, in the same step as the record (one
transaction in Redis, no ``await`` between them in memory). So a record and
its change are seen together, on any replica, whichever process wrote them
(the service, or a Temporal worker folding a run's events into its record).

A change holds the resource as it is after the change and the state it had
before, so a watch can send a change when the resource matches its filter
before *or* after it. A run is kept without its ``output`` (``run_snapshot``):
the final text can be as long as a model answer, and the log keeps thousands
of changes per tenant; GetRun has it.

Positions are strings private to the log (``MemoryChangeLog``: ``<epoch>.<n>``;
``RedisChangeLog``: the stream entry id); the API turns them into opaque
cursors. The log keeps the newest ``max_changes`` changes of each tenant; a
position older than those (or one the log never gave) raises
``CursorExpiredError``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

from runwire.v1 import approval_pb2, run_pb2, watch_pb2

from runwire_server.service.core.errors import OutOfRangeError
from runwire_server.service.stores.projection import TERMINAL_STATES

#: Changes kept per tenant by default (``max_changes``).
DEFAULT_MAX_CHANGES = 10_000

#: What a change is about.
Kind = Literal["run", "approval"]

CREATED = watch_pb2.CHANGE_TYPE_CREATED
UPDATED = watch_pb2.CHANGE_TYPE_UPDATED
ENDED = watch_pb2.CHANGE_TYPE_ENDED

_CURSOR_PREFIX = b"w1:"


def run_snapshot(run: run_pb2.Run) -> bytes:
    """``run`` as a change keeps it: serialized, without ``output``."""
    if not run.output:
        return run.SerializeToString()
    kept = run_pb2.Run()
    kept.CopyFrom(run)
    kept.ClearField("output")
    return kept.SerializeToString()


@dataclass(frozen=True, slots=True)
class Change:
    """One change of a run or an approval.

    Attributes:
        position: Where it is in its tenant's log (private to the log).
        kind: ``"run"`` or ``"approval"``.
        type: ``CHANGE_TYPE_CREATED``, ``_UPDATED`` or ``_ENDED``.
        previous_state: The resource's state before the change (0 when created).
        resource: The serialized ``runwire.v1.Run`` or ``Approval`` after the change.
    """

    position: str
    kind: Kind
    type: int
    previous_state: int
    resource: bytes

    def run(self) -> run_pb2.Run:
        """The run after the change (``kind == "run"``)."""
        return run_pb2.Run.FromString(self.resource)

    def approval(self) -> approval_pb2.Approval:
        """The approval after the change (``kind == "approval"``)."""
        return approval_pb2.Approval.FromString(self.resource)


class CursorExpiredError(OutOfRangeError):
    """A watch's cursor is older than the changes kept, or names none the log
    gave (``CURSOR_EXPIRED``, metadata ``cursor``)."""

    def __init__(self, cursor: str) -> None:
        super().__init__(
            "the cursor is older than the changes the server keeps, or unknown: "
            "watch again without a cursor",
            reason="CURSOR_EXPIRED",
            metadata={"cursor": cursor},
        )


def encode_cursor(position: str) -> str:
    """The opaque cursor clients get for a log ``position`` (URL-safe base64)."""
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The log position of a cursor made by ``encode_cursor``.

    Raises:
        CursorExpiredError: not a cursor this server makes.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        return raw[len(_CURSOR_PREFIX) :].decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise CursorExpiredError(cursor) from None


class ChangeLog(Protocol):
    """Reads a tenant's changes (writes are the stores')."""

    async def head(self, tenant: str) -> str:
        """The position of ``tenant``'s newest change (the position before any
        when there is none): reading after it returns what comes next."""
        ...

    async def read(self, tenant: str, after: str, *, limit: int) -> list[Change]:
        """At most ``limit`` (>= 1) changes of ``tenant`` after position
        ``after``, oldest first.

        Raises:
            CursorExpiredError: ``after`` is older than the changes kept, or unknown.
        """
        ...

    async def wait(self, tenant: str, after: str, *, seconds: float) -> None:
        """Returns when ``tenant`` may have a change after ``after``, or after
        ``seconds``; the caller reads to find out."""
        ...


def run_change(before: int | None, after: int) -> tuple[int, int] | None:
    """The (change type, previous state) a write of a run record in state
    ``after`` over one in state ``before`` (None: a new record) makes, or None
    when it changes nothing a watch reports (the state is the same)."""
    if before is None:
        return CREATED, 0
    if before == after:
        return None
    ended = after in TERMINAL_STATES and before not in TERMINAL_STATES
    return (ENDED if ended else UPDATED), before


def approval_change(before: int | None, after: int) -> tuple[int, int] | None:
    """The (change type, previous state) a write of an approval in state
    ``after`` over one in state ``before`` (None: a new record) makes: CREATED,
    or ENDED when a pending one settles; None otherwise."""
    pending = approval_pb2.APPROVAL_STATE_PENDING
    if before is None:
        return CREATED, 0
    if before == after or before != pending:
        return None  # unchanged, or settled already: nothing follows an end
    return ENDED, before


class _TenantLog:
    __slots__ = ("changes", "dropped_through", "signal")

    def __init__(self, max_changes: int) -> None:
        self.changes: deque[tuple[int, Change]] = deque(maxlen=max_changes)
        #: The number of the newest change dropped (0: none yet).
        self.dropped_through = 0
        self.signal = asyncio.Event()


class MemoryChangeLog:
    """``ChangeLog`` in this process's memory: a bounded deque per tenant.

    Positions carry a random epoch of this log, so a cursor from another
    process (or from before a restart) is unknown (``CursorExpiredError``).

    Args:
        max_changes: Changes kept per tenant; older ones are dropped.
    """

    def __init__(self, *, max_changes: int = DEFAULT_MAX_CHANGES) -> None:
        self._max = max(1, max_changes)
        self._epoch = uuid.uuid4().hex[:12]
        self._numbers = itertools.count(1)
        self._last = 0
        self._tenants: dict[str, _TenantLog] = {}

    def _log(self, tenant: str) -> _TenantLog:
        log = self._tenants.get(tenant)
        if log is None:
            log = self._tenants[tenant] = _TenantLog(self._max)
        return log

    def append(self, tenant: str, kind: Kind, change: tuple[int, int], resource: bytes) -> None:
        """Appends a change of ``tenant`` (synchronous: the store calls it in
        the same step as its write). ``change`` is (type, previous state)."""
        number = next(self._numbers)
        self._last = number
        log = self._log(tenant)
        if len(log.changes) == log.changes.maxlen:
            log.dropped_through = log.changes[0][0]
        position = f"{self._epoch}.{number}"
        log.changes.append((number, Change(position, kind, change[0], change[1], resource)))
        log.signal.set()
        log.signal = asyncio.Event()

    def _number(self, tenant: str, position: str) -> int:
        epoch, _, number = position.partition(".")
        try:
            value = int(number)
        except ValueError:
            raise CursorExpiredError(encode_cursor(position)) from None
        if epoch != self._epoch or value > self._last or value < 0:
            raise CursorExpiredError(encode_cursor(position))
        log = self._tenants.get(tenant)
        if log is not None and value < log.dropped_through:
            raise CursorExpiredError(encode_cursor(position))
        return value

    async def head(self, tenant: str) -> str:
        log = self._tenants.get(tenant)
        number = log.changes[-1][0] if log and log.changes else 0
        if log and not log.changes:
            number = log.dropped_through
        return f"{self._epoch}.{number}"

    async def read(self, tenant: str, after: str, *, limit: int) -> list[Change]:
        number = self._number(tenant, after)
        log = self._tenants.get(tenant)
        if log is None:
            return []
        newer: list[Change] = []
        for n, change in reversed(log.changes):
            if n <= number:
                break
            newer.append(change)
        newer.reverse()
        return newer[:limit]

    async def wait(self, tenant: str, after: str, *, seconds: float) -> None:
        number = self._number(tenant, after)
        log = self._log(tenant)
        if log.changes and log.changes[-1][0] > number:
            return
        signal = log.signal
        try:
            async with asyncio.timeout(seconds):
                await signal.wait()
        except TimeoutError:
            return
