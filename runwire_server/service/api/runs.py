"""``runwire.v1.RunService``: start runs, stream and list their events, feed them."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

import grpc
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2, run_service_pb2_grpc

from runwire_server.service.api.convert import client_tool_specs, run_overrides
from runwire_server.service.api.errors import server_stream, unary
from runwire_server.service.api.event_filter import FilteredEvents, requested_filter
from runwire_server.service.api.watches import RunFilter, watches_of
from runwire_server.service.auth.principal import current_principal
from runwire_server.service.auth.quotas import Quotas, fit_bytes
from runwire_server.service.core.errors import UnavailableError
from runwire_server.service.core.spec import ToolOutput
from runwire_server.service.core.telemetry import METRICS
from runwire_server.service.runtimes.router import RunInput, RunRouter
from runwire_server.service.stores.events import EventLog
from runwire_server.service.stores.paging import decode_int_token, encode_token, page_size
from runwire_server.service.stores.projection import TERMINAL_STATES

#: WaitRun's wait when the request leaves ``timeout`` unset, in seconds.
DEFAULT_WAIT_SECONDS = 60.0

#: WaitRun returns when the run reaches one of these: it ended, or it waits for someone.
_STOP_WAITING = TERMINAL_STATES | {run_pb2.RUN_STATE_REQUIRES_ACTION, run_pb2.RUN_STATE_PAUSED}


class _RunRequest(Protocol):
    agent_id: str
    thread_id: str
    prompt: str
    request_id: str

    @property
    def client_tools(self) -> Sequence[run_pb2.ClientTool]: ...

    @property
    def runtime(self) -> agent_pb2.Runtime: ...

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def overrides(self) -> run_pb2.RunOverrides: ...


async def _run_input(request: _RunRequest) -> RunInput:
    return RunInput(
        agent_id=request.agent_id,
        prompt=request.prompt,
        thread_id=request.thread_id,
        # Checking client tool schemas grows with them: off the event loop.
        client_tools=await client_tool_specs(request.client_tools),
        request_id=request.request_id,
        runtime=request.runtime,
        principal=current_principal(),
        labels=dict(request.labels),
        overrides=run_overrides(request.overrides),
    )


def _tenant() -> str:
    return current_principal().tenant


def _holder() -> str:
    """The caller, as counted by max_open_streams_per_principal."""
    principal = current_principal()
    return f"{principal.tenant}/{principal.name}"


def _draining(run_id: str, last: int) -> UnavailableError:
    return UnavailableError(
        f"the server is shutting down; resume with StreamRunEvents(run_id="
        f"{run_id!r}, after_sequence={last}) on another replica",
        reason="DRAINING",
        metadata={"run_id": run_id, "last_sequence": str(last)},
    )


#: Events a filtered ListRunEvents reads from the log at a time, at most.
FILTER_READ_BATCH = 500
#: Events a filtered ListRunEvents page reads at most (then it names the next page).
FILTER_SCAN_LIMIT = 5_000


def _fit_page(page: list[event_pb2.RunEvent], budget: int) -> tuple[list[event_pb2.RunEvent], int]:
    """``page`` cut to ``budget`` bytes, and the sequence of its last event."""
    cut = page[: fit_bytes(page, budget)]
    return cut, cut[-1].sequence if cut else 0


def _read_up_to(last_sent: int, filtered: FilteredEvents | None) -> int:
    """The sequence a cut stream may resume after: the last one sent, or a later
    one its filter read and left out."""
    return last_sent if filtered is None else max(last_sent, filtered.scanned)


class RunServicer(run_service_pb2_grpc.RunServiceServicer):
    """Runs over the ``RunRouter``; streams from the ``EventLog``.

    Args:
        heartbeat_interval: Seconds of silence after which a stream gets a
            heartbeat event.
    """

    def __init__(
        self,
        *,
        router: RunRouter,
        events: EventLog,
        heartbeat_interval: float,
        quotas: Quotas | None = None,
    ) -> None:
        self._router = router
        self._events = events
        self._heartbeat = heartbeat_interval
        self._quotas = quotas or Quotas()
        #: Open streams per principal ("tenant/name"), for max_open_streams_per_principal.
        self._streams_of: collections.Counter[str] = collections.Counter()
        #: Set when the server drains (``close_streams``): open streams end with
        #: UNAVAILABLE (DRAINING).
        self.closing = asyncio.Event()
        #: Streams open now.
        self.open_streams = 0
        # The RPC tasks of streams now waiting for their next event, and those
        # of them ``close_streams`` cancelled.
        self._waiting: set[asyncio.Task[object]] = set()
        self._drained: set[asyncio.Task[object]] = set()

    def close_streams(self) -> None:
        """Ends every open stream with UNAVAILABLE (DRAINING), naming the
        sequence to resume after: those waiting for an event now, the others
        before they would next wait. Idempotent."""
        self.closing.set()
        for task in self._waiting - self._drained:
            self._drained.add(task)
            task.cancel()

    def _subscribe(self, run_id: str, after: int) -> AsyncIterator[event_pb2.RunEvent]:
        return self._events.subscribe(
            run_id, after_sequence=after, heartbeat_interval=self._heartbeat
        )

    def _admit_stream(self) -> None:
        """Refuses a stream past ``max_open_streams_per_principal`` (before any
        run is created for it).

        Raises:
            ResourceExhaustedError: the caller holds that many streams here.
        """
        self._quotas.check(
            "max_open_streams_per_principal",
            used=self._streams_of[_holder()],
            subject=f"principal:{current_principal().name}",
        )

    async def _stream(
        self, run_id: str, after: int, allowed: frozenset[str] | None = None
    ) -> AsyncIterator[event_pb2.RunEvent]:
        """The run's events after ``after``, until the terminal event or until
        the server drains (then UNAVAILABLE/DRAINING naming the sequence to
        resume after, on another replica).

        With ``allowed`` (``event_filter.event_filter``), only the events whose
        payload it names (the terminal event and heartbeats always); without,
        the log's iterator is streamed as it is, with no check per event. A
        drain then names the last sequence read, sent or not.

        The event log's iterator runs in the RPC's own task: no task or
        ``asyncio.wait`` per event (the profile of scenario 1 in ``bench/``
        showed those as most of a run's tasks). A drain interrupts a waiting
        stream by cancelling its task (``close_streams``); that one
        cancellation is turned into the DRAINING error here and withdrawn
        (``Task.uncancel``), any other (the client went away) propagates.
        """
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - gRPC always runs handlers in a task
            raise RuntimeError("_stream must run in a task")
        holder = _holder()
        self._streams_of[holder] += 1
        self.open_streams += 1
        METRICS.open_streams.add(1)
        events = self._subscribe(run_id, after)
        filtered = None if allowed is None else FilteredEvents(events, allowed)
        if filtered is not None:
            events = filtered
        last = after
        try:
            while True:
                if self.closing.is_set():
                    raise _draining(run_id, _read_up_to(last, filtered))
                self._waiting.add(task)
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if task not in self._drained or task.cancelling() > 1:
                        raise
                    task.uncancel()
                    raise _draining(run_id, _read_up_to(last, filtered)) from None
                finally:
                    self._waiting.discard(task)
                last = event.sequence or last
                yield event
        finally:
            self._drained.discard(task)
            self._streams_of[holder] -= 1
            if not self._streams_of[holder]:
                del self._streams_of[holder]
            self.open_streams -= 1
            METRICS.open_streams.add(-1)
            close = getattr(events, "aclose", None)
            if close is not None:
                await close()

    @unary
    async def CreateRun(
        self, request: run_service_pb2.CreateRunRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.CreateRunResponse:
        run = await self._router.create_run(await _run_input(request))
        return run_service_pb2.CreateRunResponse(run=run)

    @server_stream
    async def StreamRun(
        self, request: run_service_pb2.StreamRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[run_service_pb2.StreamRunResponse]:
        allowed = requested_filter(request)  # a bad filter starts no run
        self._admit_stream()
        run = await self._router.create_run(await _run_input(request))
        async for event in self._stream(run.run_id, 0, allowed):
            yield run_service_pb2.StreamRunResponse(event=event)

    @unary
    async def WaitRun(
        self, request: run_service_pb2.WaitRunRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.WaitRunResponse:
        run = await self._router.create_run(await _run_input(request))
        timeout = (
            request.timeout.ToTimedelta().total_seconds()
            if request.HasField("timeout")
            else DEFAULT_WAIT_SECONDS
        )
        run = await self._wait(run, timeout)
        return run_service_pb2.WaitRunResponse(run=run)

    async def _wait(self, run: run_pb2.Run, wait_seconds: float) -> run_pb2.Run:
        if run.state in _STOP_WAITING:
            return run

        async def until_stop() -> None:
            async for event in self._subscribe(run.run_id, run.last_sequence):
                if event.HasField("state_changed") and event.state_changed.state in _STOP_WAITING:
                    return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until_stop(), timeout=wait_seconds)
        return await self._router.get_run(run.run_id, run.tenant)

    @unary
    async def GetRun(
        self, request: run_service_pb2.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.GetRunResponse:
        run = await self._router.get_run(request.run_id, _tenant())
        return run_service_pb2.GetRunResponse(run=run)

    @unary
    async def ListRuns(
        self, request: run_service_pb2.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.ListRunsResponse:
        runs, token = await self._router.runs.list(
            agent_id=request.agent_id,
            thread_id=request.thread_id,
            state=request.state,
            page_size=page_size(request.page_size),
            page_token=request.page_token,
            tenant=_tenant(),
            labels=dict(request.labels),
        )
        runs = await self._router.caught_up(runs)
        return run_service_pb2.ListRunsResponse(runs=runs, next_page_token=token)

    @unary
    async def CancelRun(
        self, request: run_service_pb2.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.CancelRunResponse:
        run = await self._router.cancel_run(request.run_id, request.reason, _tenant())
        return run_service_pb2.CancelRunResponse(run=run)

    @unary
    async def PauseRun(
        self, request: run_service_pb2.PauseRunRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.PauseRunResponse:
        run = await self._router.pause_run(request.run_id, request.reason, _tenant())
        return run_service_pb2.PauseRunResponse(run=run)

    @unary
    async def ResumeRun(
        self, request: run_service_pb2.ResumeRunRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.ResumeRunResponse:
        run = await self._router.resume_run(request.run_id, _tenant())
        return run_service_pb2.ResumeRunResponse(run=run)

    @server_stream
    async def StreamRunEvents(
        self, request: run_service_pb2.StreamRunEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[run_service_pb2.StreamRunEventsResponse]:
        allowed = requested_filter(request)
        await self._router.owned_run(request.run_id, _tenant())
        self._admit_stream()
        async for event in self._stream(request.run_id, request.after_sequence, allowed):
            yield run_service_pb2.StreamRunEventsResponse(event=event)

    @unary
    async def ListRunEvents(
        self, request: run_service_pb2.ListRunEventsRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.ListRunEventsResponse:
        allowed = requested_filter(request)
        await self._router.owned_run(request.run_id, _tenant())
        after = request.after_sequence
        cursor = decode_int_token(request.page_token)
        if cursor is not None:
            after = cursor
        size = page_size(request.page_size)
        if allowed is not None:
            page, resume_after = await self._filtered_page(request.run_id, after, size, allowed)
            token = encode_token(str(resume_after)) if resume_after else ""
            return run_service_pb2.ListRunEventsResponse(events=page, next_page_token=token)
        events = await self._events.read(request.run_id, after_sequence=after, limit=size + 1)
        page = events[: fit_bytes(events[:size], self._quotas.max_list_response_bytes)]
        token = encode_token(str(page[-1].sequence)) if len(events) > len(page) else ""
        return run_service_pb2.ListRunEventsResponse(events=page, next_page_token=token)

    async def _filtered_page(
        self, run_id: str, after: int, size: int, allowed: frozenset[str]
    ) -> tuple[list[event_pb2.RunEvent], int]:
        """At most ``size`` events after ``after`` whose payload is in ``allowed``,
        and the sequence the next page starts after (0: no logged event is left).

        Reads the log in batches of ``FILTER_READ_BATCH`` and at most
        ``FILTER_SCAN_LIMIT`` events per page: a page of a sparse filter may
        hold fewer than ``size`` events (even none) and still name a next page.
        """
        page: list[event_pb2.RunEvent] = []
        scanned = 0
        position = after
        while scanned < FILTER_SCAN_LIMIT:
            batch = await self._events.read(
                run_id, after_sequence=position, limit=min(FILTER_READ_BATCH, size + 1)
            )
            for event in batch:
                if len(page) == size:
                    return _fit_page(page, self._quotas.max_list_response_bytes)
                scanned += 1
                position = event.sequence
                if event.WhichOneof("payload") in allowed:
                    page.append(event)
            if len(batch) < min(FILTER_READ_BATCH, size + 1):
                cut, resume_after = _fit_page(page, self._quotas.max_list_response_bytes)
                return cut, resume_after if len(cut) < len(page) else 0
        # The scan limit: the next page goes on after the last event read.
        cut, last = _fit_page(page, self._quotas.max_list_response_bytes)
        return cut, position if len(cut) == len(page) else last

    @unary
    async def SubmitToolOutputs(
        self, request: run_service_pb2.SubmitToolOutputsRequest, context: grpc.aio.ServicerContext
    ) -> run_service_pb2.SubmitToolOutputsResponse:
        outputs = [
            ToolOutput(tool_call_id=o.tool_call_id, output=o.output, is_error=o.is_error)
            for o in request.tool_outputs
        ]
        run = await self._router.submit_tool_outputs(request.run_id, outputs, _tenant())
        return run_service_pb2.SubmitToolOutputsResponse(run=run)

    @server_stream
    async def WatchRuns(
        self, request: run_service_pb2.WatchRunsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[run_service_pb2.WatchRunsResponse]:
        hub = watches_of(self._router)
        hub.follow(self.closing)  # a drain of run streams ends the watches too
        flt = RunFilter(
            agent_id=request.agent_id,
            thread_id=request.thread_id,
            states=frozenset(request.states),
            labels=dict(request.labels),
        )
        async for update in hub.watch_runs(flt, request.cursor, _tenant()):
            yield run_service_pb2.WatchRunsResponse(
                type=update.type,  # type: ignore[arg-type]
                run=update.resource,
                cursor=update.cursor,
            )
