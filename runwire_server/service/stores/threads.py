"""Threads: conversations that runs read their history from and append to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from runwire_server.service.core.errors import (
    AbortedError,
    AlreadyExistsError,
    FailedPreconditionError,
    NotFoundError,
)
from runwire_server.service.core.messages import ChatMessage


@dataclass(frozen=True, kw_only=True)
class StoredMessage:
    """A thread message with the time it was added."""

    message: ChatMessage
    create_time: datetime


@dataclass(kw_only=True)
class ThreadRecord:
    """A thread and its messages (oldest first)."""

    thread_id: str
    metadata: dict[str, str]
    create_time: datetime
    update_time: datetime
    messages: list[StoredMessage] = field(default_factory=list)
    active_run_id: str = ""


class ThreadStore(Protocol):
    """Where threads live."""

    async def count(self) -> int:
        """How many threads there are."""
        ...

    async def create(self, thread_id: str, metadata: dict[str, str]) -> ThreadRecord:
        """Raises AlreadyExistsError (``THREAD_ALREADY_EXISTS``)."""
        ...

    async def get(self, thread_id: str) -> ThreadRecord:
        """Raises NotFoundError (``THREAD_NOT_FOUND``)."""
        ...

    async def history(self, thread_id: str, *, limit: int) -> list[ChatMessage]:
        """The last ``limit`` messages, oldest first, starting at a user message
        so that no tool result is separated from its call."""
        ...

    async def append(self, thread_id: str, messages: list[ChatMessage]) -> None:
        """Adds messages at the end."""
        ...

    async def claim(self, thread_id: str, run_id: str) -> None:
        """Marks ``run_id`` as the thread's active run.

        Raises:
            NotFoundError: unknown thread. AbortedError: another run is active
                (``THREAD_BUSY``).
        """
        ...

    async def release(self, thread_id: str, run_id: str) -> None:
        """Clears the active run if it is ``run_id``."""
        ...

    async def delete(self, thread_id: str) -> None:
        """Raises NotFoundError, or FailedPreconditionError (``THREAD_BUSY``)
        while a run on it has not ended."""
        ...


def thread_not_found(thread_id: str) -> NotFoundError:
    """The error for an unknown thread id (reason ``THREAD_NOT_FOUND``)."""
    return NotFoundError(
        f"thread {thread_id!r} does not exist",
        reason="THREAD_NOT_FOUND",
        metadata={"thread_id": thread_id},
    )


class MemoryThreadStore:
    """``ThreadStore`` in this process's memory."""

    def __init__(self) -> None:
        self._threads: dict[str, ThreadRecord] = {}

    async def count(self) -> int:
        return len(self._threads)

    async def create(self, thread_id: str, metadata: dict[str, str]) -> ThreadRecord:
        if thread_id in self._threads:
            raise AlreadyExistsError(
                f"thread {thread_id!r} already exists",
                reason="THREAD_ALREADY_EXISTS",
                metadata={"thread_id": thread_id},
            )
        now = datetime.now(UTC)
        record = ThreadRecord(
            thread_id=thread_id, metadata=dict(metadata), create_time=now, update_time=now
        )
        self._threads[thread_id] = record
        return record

    async def get(self, thread_id: str) -> ThreadRecord:
        record = self._threads.get(thread_id)
        if record is None:
            raise thread_not_found(thread_id)
        return record

    async def history(self, thread_id: str, *, limit: int) -> list[ChatMessage]:
        messages = [m.message for m in (await self.get(thread_id)).messages[-limit:]]
        while messages and messages[0].role.value != "user":
            messages.pop(0)
        return messages

    async def append(self, thread_id: str, messages: list[ChatMessage]) -> None:
        record = await self.get(thread_id)
        now = datetime.now(UTC)
        record.messages.extend(StoredMessage(message=m, create_time=now) for m in messages)
        record.update_time = now

    async def claim(self, thread_id: str, run_id: str) -> None:
        record = await self.get(thread_id)
        if record.active_run_id and record.active_run_id != run_id:
            raise AbortedError(
                f"thread {thread_id!r} is busy with run {record.active_run_id!r}; "
                "retry when it has ended",
                reason="THREAD_BUSY",
                metadata={"thread_id": thread_id, "run_id": record.active_run_id},
            )
        record.active_run_id = run_id

    async def release(self, thread_id: str, run_id: str) -> None:
        record = self._threads.get(thread_id)
        if record is not None and record.active_run_id == run_id:
            record.active_run_id = ""

    async def delete(self, thread_id: str) -> None:
        record = await self.get(thread_id)
        if record.active_run_id:
            raise FailedPreconditionError(
                f"thread {thread_id!r} has an active run {record.active_run_id!r}",
                reason="THREAD_BUSY",
                metadata={"thread_id": thread_id, "run_id": record.active_run_id},
            )
        del self._threads[thread_id]
