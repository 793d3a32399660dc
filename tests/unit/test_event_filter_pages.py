"""Filtered ListRunEvents pages: at most page_size matching events, a bounded scan
per page, every matching event once across pages, the byte budget kept."""

from __future__ import annotations

from typing import cast

import pytest
from runwire.v1 import event_pb2

from runwire_server.service.api import runs
from runwire_server.service.api.event_filter import event_filter
from runwire_server.service.auth.quotas import Quotas
from runwire_server.service.runtimes.router import RunRouter
from runwire_server.service.stores.events import MemoryEventLog

RUN = "run_pages"


class CountingLog(MemoryEventLog):
    """A memory log that records the ``limit`` of every read."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: list[int] = []

    async def read(
        self, run_id: str, *, after_sequence: int = 0, limit: int = 100
    ) -> list[event_pb2.RunEvent]:
        self.limits.append(limit)
        return await super().read(run_id, after_sequence=after_sequence, limit=limit)


async def a_log(events: int, *, every: int) -> CountingLog:
    """``events`` events: an ``approval_requested`` every ``every``-th, ``usage`` else."""
    log = CountingLog()
    await log.create(RUN)
    for n in range(1, events + 1):
        if n % every == 0:
            event = event_pb2.RunEvent(
                approval_requested=event_pb2.ApprovalRequested(approval_id=f"apr_{n}")
            )
        else:
            event = event_pb2.RunEvent(usage=event_pb2.RunEvent().usage)
        await log.append(RUN, event)
    return log


def servicer(log: CountingLog, quotas: Quotas | None = None) -> runs.RunServicer:
    return runs.RunServicer(
        router=cast("RunRouter", None), events=log, heartbeat_interval=60, quotas=quotas
    )


STATE = event_filter(event_pb2.EventFilter(profile=event_pb2.EVENT_PROFILE_STATE))


async def all_pages(service: runs.RunServicer, size: int) -> list[tuple[list[int], int]]:
    assert STATE is not None
    pages: list[tuple[list[int], int]] = []
    after = 0
    for _ in range(1000):
        page, after = await service._filtered_page(RUN, after, size, STATE)
        pages.append(([e.sequence for e in page], after))
        if not after:
            return pages
    raise AssertionError("pages never ended")


async def test_pages_hold_at_most_page_size_and_every_match_once() -> None:
    log = await a_log(40, every=3)
    pages = await all_pages(servicer(log), 4)
    sequences = [s for page, _ in pages for s in page]
    assert sequences == list(range(3, 41, 3))
    assert all(len(page) <= 4 for page, _ in pages)
    assert pages[-1][1] == 0  # no token: nothing logged is left


async def test_a_sparse_filter_scans_a_bounded_number_of_events_per_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runs, "FILTER_READ_BATCH", 4)
    monkeypatch.setattr(runs, "FILTER_SCAN_LIMIT", 10)
    log = await a_log(100, every=45)
    pages = await all_pages(servicer(log), 5)
    assert [s for page, _ in pages for s in page] == [45, 90]
    # Each page read at most FILTER_SCAN_LIMIT + a batch, in reads of at most a batch.
    assert max(log.limits) <= 4
    assert len(log.limits) <= len(pages) * (10 // 4 + 2)
    assert any(not page and after for page, after in pages)  # empty page, token to go on


async def test_a_page_is_cut_to_the_byte_budget_and_goes_on_after_the_cut() -> None:
    log = await a_log(30, every=1)
    one_event = event_pb2.RunEvent(
        approval_requested=event_pb2.ApprovalRequested(approval_id="apr_10")
    )
    service = servicer(log, Quotas(max_list_response_bytes=3 * (one_event.ByteSize() + 30)))
    pages = await all_pages(service, 10)
    assert [s for page, _ in pages for s in page] == list(range(1, 31))
    assert all(len(page) < 10 for page, _ in pages)
