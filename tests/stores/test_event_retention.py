"""The memory event log keeps at most ``max_bytes`` of events: the oldest ended
runs' logs go first, a running run's log never does."""

from __future__ import annotations

import pytest
from runwire.v1 import event_pb2, run_pb2

from runwire_server.service.core.errors import NotFoundError
from runwire_server.service.stores.events import MemoryEventLog


def text(size: int) -> event_pb2.RunEvent:
    return event_pb2.RunEvent(
        text_message_content=event_pb2.TextMessageContent(message_id="m", delta="x" * size)
    )


FINISHED = event_pb2.RunEvent(run_finished=event_pb2.RunFinished(state=run_pb2.RUN_STATE_SUCCEEDED))


async def test_ended_logs_are_dropped_oldest_first_past_the_byte_limit() -> None:
    log = MemoryEventLog(max_bytes=10_000)
    running = "run_running"
    await log.create(running)
    await log.append(running, text(3_000))
    for n in range(6):
        await log.create(f"run_{n}")
        await log.append(f"run_{n}", text(2_000))
        await log.append(f"run_{n}", FINISHED)
    assert log.size <= 10_000
    await log.append(running, text(3_000))  # a running run's log grows past the limit
    assert len(await log.read(running)) == 2
    kept = []
    for n in range(6):
        try:
            await log.read(f"run_{n}")
        except NotFoundError:
            continue
        kept.append(n)
    assert kept and kept == list(range(6 - len(kept), 6))  # the newest are kept
    assert len(kept) < 6


async def test_no_byte_limit_by_default() -> None:
    log = MemoryEventLog()
    for n in range(20):
        await log.create(f"run_{n}")
        await log.append(f"run_{n}", text(10_000))
        await log.append(f"run_{n}", FINISHED)
    assert log.size > 200_000
    assert await log.last_sequence("run_0") == 2
    with pytest.raises(NotFoundError):
        await log.read("run_missing")
