"""The run event log: numbered, gap-free, replayable, tailable.

``EventLog`` is the protocol both runtimes write to; ``MemoryEventLog`` keeps
logs in this process (the in-process default). A Redis Streams
implementation (for split processes) implements the same protocol.

Semantics (docs/runs.md, "Resume"):
- ``append`` assigns sequence numbers 1..N per run, in call order, gap-free.
- ``subscribe(run_id, after_sequence)`` yields every logged event with a
  greater sequence, then live ones as they are appended, each exactly once,
  and stops right after the terminal event (``run_finished`` or
  ``run_error``). While idle it yields a heartbeat (sequence 0, not logged)
  every ``heartbeat_interval`` seconds.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from runwire.v1 import event_pb2

from runwire_server.service.core.errors import NotFoundError, OutOfRangeError
from runwire_server.service.core.timestamps import stamp_now

TERMINAL_PAYLOADS = frozenset({"run_finished", "run_error"})


def is_terminal(event: event_pb2.RunEvent) -> bool:
    """True for the run's last event (``run_finished`` or ``run_error``)."""
    return event.WhichOneof("payload") in TERMINAL_PAYLOADS


class EventLog(Protocol):
    """Where run events are numbered, kept and streamed from."""

    async def create(self, run_id: str) -> None:
        """Opens an empty log for a new run (idempotent)."""
        ...

    async def append(
        self, run_id: str, event: event_pb2.RunEvent, *, key: str = ""
    ) -> event_pb2.RunEvent:
        """Logs ``event`` (its payload; ``run_id``, ``sequence`` and
        ``create_time`` are set here) and returns the logged copy.

        ``key`` makes the append idempotent: a second append with a key
        already logged for the run logs nothing and returns the first event
        (so activity retries never duplicate an event). Keys are derived
        deterministically from the run, step and position by the caller.

        Raises:
            NotFoundError: no log for ``run_id`` (reason ``RUN_NOT_FOUND``).
        """
        ...

    async def read(
        self, run_id: str, *, after_sequence: int = 0, limit: int = 100
    ) -> list[event_pb2.RunEvent]:
        """Returns at most ``limit`` logged events with sequence > ``after_sequence``.

        Raises:
            NotFoundError: no log for ``run_id`` (never created, or dropped
                after retention).
        """
        ...

    async def last_sequence(self, run_id: str) -> int:
        """The sequence of the last logged event (0 when none)."""
        ...

    def subscribe(
        self, run_id: str, *, after_sequence: int = 0, heartbeat_interval: float = 15.0
    ) -> AsyncIterator[event_pb2.RunEvent]:
        """Replays then tails the log; see the module docstring.

        Raises:
            NotFoundError: as ``read``, on first iteration.
            OutOfRangeError: ``after_sequence`` is past the last event of an
                ended run (``SEQUENCE_OUT_OF_RANGE``), on first iteration.
        """
        ...


@dataclass
class _RunLog:
    """One run's log. While the run goes on its events are kept as messages; once it
    ended they are kept encoded (``compact``): a message object takes several times
    its encoded size, and an ended run is read seldom, one parse per event read."""

    events: list[event_pb2.RunEvent | bytes] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    # Set and replaced on every append: subscribers wait on the current one.
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False
    #: Serialized size of ``events``.
    size: int = 0

    def event(self, index: int) -> event_pb2.RunEvent:
        """The event at ``index`` (sequence ``index + 1``), as a message."""
        event = self.events[index]
        if isinstance(event, bytes):
            return event_pb2.RunEvent.FromString(event)
        return event

    def compact(self) -> None:
        """Keeps every event encoded from now on (in place: a reader between two
        events finds either form)."""
        events = self.events
        for index, event in enumerate(events):
            if not isinstance(event, bytes):
                events[index] = event.SerializeToString()


class MemoryEventLog:
    """``EventLog`` in this process's memory.

    Args:
        max_runs: Logs kept at most; when exceeded, the oldest logs of ended
            runs are dropped first (their streams then get NOT_FOUND).
        max_bytes: Serialized bytes of events kept at most (0: no limit); when
            exceeded, the oldest logs of ended runs are dropped first too. Logs
            of runs not ended are never dropped (``max_events_per_run`` and the
            active-run quota bound them).
    """

    def __init__(self, *, max_runs: int = 10_000, max_bytes: int = 0) -> None:
        self._logs: OrderedDict[str, _RunLog] = OrderedDict()
        self._max_runs = max_runs
        self._max_bytes = max_bytes
        self._bytes = 0

    @property
    def size(self) -> int:
        """Serialized bytes of the events kept."""
        return self._bytes

    async def create(self, run_id: str) -> None:
        if run_id not in self._logs:
            self._logs[run_id] = _RunLog()
            self._evict()

    def _over(self) -> bool:
        return len(self._logs) > self._max_runs or bool(
            self._max_bytes and self._bytes > self._max_bytes
        )

    def _evict(self) -> None:
        if not self._over():
            return
        for run_id in [r for r, log in self._logs.items() if log.ended]:
            if not self._over():
                break
            self._bytes -= self._logs.pop(run_id).size

    def _log(self, run_id: str) -> _RunLog:
        log = self._logs.get(run_id)
        if log is None:
            raise NotFoundError(
                f"no event log for run {run_id!r}",
                reason="RUN_NOT_FOUND",
                metadata={"run_id": run_id},
            )
        return log

    async def append(
        self, run_id: str, event: event_pb2.RunEvent, *, key: str = ""
    ) -> event_pb2.RunEvent:
        log = self._log(run_id)
        if key and key in log.keys:
            return log.event(log.keys[key] - 1)
        logged = event_pb2.RunEvent()
        logged.CopyFrom(event)
        logged.run_id = run_id
        logged.sequence = len(log.events) + 1
        stamp_now(logged.create_time)
        log.events.append(logged)
        size = logged.ByteSize()
        log.size += size
        self._bytes += size
        if key:
            log.keys[key] = logged.sequence
        if not log.ended and is_terminal(logged):
            log.ended = True
            log.compact()
        elif log.ended:
            log.events[-1] = logged.SerializeToString()
        changed, log.changed = log.changed, asyncio.Event()
        changed.set()
        if log.ended and self._max_bytes and self._bytes > self._max_bytes:
            self._evict()
        return logged

    async def read(
        self, run_id: str, *, after_sequence: int = 0, limit: int = 100
    ) -> list[event_pb2.RunEvent]:
        log = self._log(run_id)
        end = min(len(log.events), after_sequence + limit)
        return [log.event(index) for index in range(max(after_sequence, 0), end)]

    async def last_sequence(self, run_id: str) -> int:
        return len(self._log(run_id).events)

    async def subscribe(
        self, run_id: str, *, after_sequence: int = 0, heartbeat_interval: float = 15.0
    ) -> AsyncIterator[event_pb2.RunEvent]:
        log = self._log(run_id)
        position = after_sequence
        if position > len(log.events) and log.ended:
            raise OutOfRangeError(
                f"after_sequence {after_sequence} is past the last event "
                f"({len(log.events)}) of ended run {run_id!r}",
                reason="SEQUENCE_OUT_OF_RANGE",
                metadata={"run_id": run_id, "last_sequence": str(len(log.events))},
            )
        while True:
            while position < len(log.events):
                event = log.event(position)
                position += 1
                yield event
                if is_terminal(event):
                    return
            if log.ended:
                return
            changed = log.changed
            try:
                # asyncio.timeout, not wait_for: no task per wait (Python 3.11).
                async with asyncio.timeout(heartbeat_interval):
                    await changed.wait()
            except TimeoutError:
                yield heartbeat(run_id)


def heartbeat(run_id: str) -> event_pb2.RunEvent:
    """A heartbeat event (sequence 0, not logged)."""
    event = event_pb2.RunEvent(run_id=run_id, heartbeat=event_pb2.Heartbeat())
    stamp_now(event.create_time)
    return event
