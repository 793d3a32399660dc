"""Watches: ``runs.watch`` and ``approvals.watch`` of ``runwire.AsyncClient``.

``AsyncWatch`` iterates the messages of a ``WatchRuns`` or ``WatchApprovals``
call (``WatchRunsResponse`` / ``WatchApprovalsResponse``: ``type``, the run or
approval, ``cursor``) and opens the call again by itself when it breaks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc

from runwire._errors import RunwireError, StreamBrokenError, UnavailableError, error_from_rpc
from runwire._types import Retry
from runwire.v1 import watch_pb2

__all__ = ["AsyncWatch", "OnWatchResume", "Watch", "WatchResume"]

#: ``run_service_pb2.WatchRunsResponse`` or ``approval_pb2.WatchApprovalsResponse``.
M = TypeVar("M")


@dataclass(frozen=True)
class WatchResume:
    """A broken watch being opened again (what ``on_resume`` callbacks get).

    Attributes:
        cursor: The watch goes on after this cursor ("" while it had not synced:
            it lists again, leaving out what it already yielded).
        attempt: This attempt's number, from 1.
        max_attempts: Attempts allowed in a row.
        error: Why it broke (``UnavailableError``: reason ``DRAINING`` on a
            server shutting down; ``StreamBrokenError`` when it ended).
    """

    cursor: str
    attempt: int
    max_attempts: int
    error: RunwireError


#: Told about every resume of a watch, before it is attempted.
OnWatchResume = Callable[[WatchResume], None]


class AsyncWatch(Generic[M]):
    """The messages of a watch, resumed by itself: iterate it once
    (``async for change in watch``).

    Each message has ``type`` (``runwire.v1.watch_pb2.ChangeType``: EXISTING,
    then one SYNCED, then CREATED / UPDATED / ENDED), the resource (``run`` or
    ``approval``) and ``cursor``. Heartbeats are left out unless asked for;
    their cursor is kept all the same.

    When the call fails with UNAVAILABLE (a dropped connection, or a draining
    server: reason ``DRAINING``) or ends, it is opened again after ``cursor``,
    up to ``retry.max_attempts`` times in a row, pausing ``retry.delay(attempt)``
    before each: nothing is missed or yielded twice. A watch that broke before
    SYNCED lists again and leaves out the EXISTING resources it yielded.

    Raises (while iterating):
        OutOfRangeError: the cursor is older than the changes the server keeps
            (reason ``CURSOR_EXPIRED``): watch again without one.
        RunwireError: any other failure, or resuming gave up.

    Attributes:
        cursor: The cursor of the last message handled ("" before one); pass it
            as ``cursor=`` to a later watch to go on from there.
        synced: Whether SYNCED was seen (or the watch started from a cursor).
        resumes: Resumes so far, in all.
    """

    def __init__(
        self,
        open_call: Callable[[str], Any],
        *,
        retry: Retry,
        cursor: str = "",
        heartbeats: bool = False,
        on_resume: OnWatchResume | None = None,
    ) -> None:
        self._open_call = open_call
        self._retry = retry
        self.cursor = cursor
        self.synced = bool(cursor)
        self.resumes = 0
        self._heartbeats = heartbeats
        self._on_resume = on_resume
        self._iterating = False

    def __aiter__(self) -> AsyncIterator[M]:
        if self._iterating:
            raise RuntimeError("a watch can be iterated once")
        self._iterating = True
        return self._messages()

    async def _messages(self) -> AsyncIterator[M]:
        attempts = 0
        listed: set[str] = set()
        call = self._open_call(self.cursor if self.synced else "")
        try:
            while True:
                try:
                    async for message in call:
                        attempts = 0
                        if self._keep(message, listed):
                            yield message
                    broken: RunwireError = StreamBrokenError(
                        "the watch ended", metadata={"cursor": self.cursor}
                    )
                except grpc.aio.AioRpcError as exc:
                    broken = error_from_rpc(exc)
                    broken.__cause__ = exc
                    if not isinstance(broken, UnavailableError):
                        raise broken from exc
                if attempts >= self._retry.max_attempts:
                    raise broken
                attempts += 1
                await self._pause_before_resume(attempts, broken)
                call = self._open_call(self.cursor if self.synced else "")
        finally:
            cancel = getattr(call, "cancel", None)
            if cancel is not None:
                cancel()

    def _keep(self, message: Any, listed: set[str]) -> bool:
        """Takes ``message``'s cursor; whether to yield it (not a heartbeat
        unless asked for, not an EXISTING yielded before listing again)."""
        if message.type == watch_pb2.CHANGE_TYPE_HEARTBEAT:
            self.cursor = message.cursor
            return self._heartbeats
        if not self.synced:
            if message.type == watch_pb2.CHANGE_TYPE_EXISTING:
                key = _key(message)
                if key in listed:
                    return False
                listed.add(key)
            elif message.type == watch_pb2.CHANGE_TYPE_SYNCED:
                self.synced = True
                listed.clear()
        self.cursor = message.cursor
        return True

    async def _pause_before_resume(self, attempt: int, broken: RunwireError) -> None:
        self.resumes += 1
        if self._on_resume is not None:
            self._on_resume(
                WatchResume(
                    cursor=self.cursor if self.synced else "",
                    attempt=attempt,
                    max_attempts=self._retry.max_attempts,
                    error=broken,
                )
            )
        await asyncio.sleep(self._retry.delay(attempt))


class Watch(Generic[M]):
    """``AsyncWatch`` for the blocking ``runwire.Client``: iterate it once
    (``for change in watch``); ``cursor`` and ``resumes`` as there."""

    def __init__(
        self, iterate: Callable[[AsyncIterable[M]], Iterator[M]], watch: AsyncWatch[M]
    ) -> None:
        self._iterate: Callable[[AsyncIterable[M]], Iterator[M]] = iterate
        self._watch: AsyncWatch[M] = watch

    def __iter__(self) -> Iterator[M]:
        return self._iterate(self._watch)

    @property
    def cursor(self) -> str:
        """The cursor of the last message handled ("" before one)."""
        return self._watch.cursor

    @property
    def synced(self) -> bool:
        """Whether SYNCED was seen (or the watch started from a cursor)."""
        return self._watch.synced

    @property
    def resumes(self) -> int:
        """Resumes so far."""
        return self._watch.resumes


def _key(message: Any) -> str:
    """The id of the run or approval a message carries."""
    if hasattr(message, "run"):
        return str(message.run.run_id)
    return str(message.approval.approval_id)
