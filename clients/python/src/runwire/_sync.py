"""``runwire.Client``: the synchronous client, a thin layer over ``AsyncClient``.

The client owns a private event loop on a daemon thread; every method hands
the ``AsyncClient`` coroutine to that loop and blocks for its result, so the
logic (retries, resumes, approvals, client tools) exists once. Iterators pull
one item per step from the async iterator on the loop. Callbacks run as they
do in ``AsyncClient``: plain functions in a worker thread (they may call this
client), coroutine functions on the private loop.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterable, AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

from runwire._client import (
    AsyncAgents,
    AsyncApprovals,
    AsyncClient,
    AsyncEventStream,
    AsyncPager,
    AsyncRun,
    AsyncRuns,
    AsyncThreads,
    AsyncTools,
)
from runwire._connect import Credentials, PathLike
from runwire._types import OnApproval, OnResume, Page, Retry, ToolFunction
from runwire._watch import OnWatchResume, Watch
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
    tool_pb2,
)

__all__ = [
    "Agents",
    "Approvals",
    "Client",
    "EventStream",
    "Pager",
    "Run",
    "Runs",
    "Threads",
    "Tools",
    "connect",
]

T = TypeVar("T")

_DONE = object()


class _Portal:
    """An event loop on a daemon thread, and a way to run coroutines on it from
    other threads."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="runwire-client-loop", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs ``coroutine`` on the loop and returns its result (or raises its error).

        Raises:
            RuntimeError: called from the loop's own thread (a coroutine callback
                calling the sync client), or after ``close``.
        """
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError(
                "the sync runwire.Client was called from its own event loop; "
                "use a plain function callback, or AsyncClient"
            )
        if self.loop.is_closed():
            coroutine.close()
            raise RuntimeError("the runwire.Client is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            if not future.done():  # interrupted here (KeyboardInterrupt): stop the call too
                future.cancel()
                with contextlib.suppress(concurrent.futures.CancelledError, Exception):
                    future.result(timeout=5)
            raise

    def iterate(self, iterable: AsyncIterable[T]) -> Iterator[T]:
        """The items of an async iterable, each pulled on the loop; leaving the
        loop early closes the async iterator."""

        async def start() -> AsyncIterator[T]:
            return iterable.__aiter__()

        async def step(iterator: AsyncIterator[T]) -> object:
            try:
                return await iterator.__anext__()
            except StopAsyncIteration:
                return _DONE

        async def close(iterator: AsyncIterator[T]) -> None:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

        iterator = self.call(start())
        try:
            while True:
                item = self.call(step(iterator))
                if item is _DONE:
                    return
                yield item  # type: ignore[misc]
        finally:
            if not self.loop.is_closed():
                self.call(close(iterator))

    def close(self) -> None:
        """Stops the loop and joins its thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Pager(Generic[T]):
    """The items of a List call, fetched a page at a time as they are iterated
    (``for run in client.runs.list(): ...``); see ``AsyncPager``."""

    def __init__(self, portal: _Portal, pager: AsyncPager[T]) -> None:
        self._portal = portal
        self._pager = pager

    def __iter__(self) -> Iterator[T]:
        return self._portal.iterate(self._pager)

    def pages(self) -> Iterator[Page[T]]:
        """Every page."""
        return self._portal.iterate(self._pager.pages())

    def first_page(self) -> Page[T]:
        """One page only (``page.next_page_token`` continues)."""
        return self._portal.call(self._pager.first_page())

    def to_list(self) -> list[T]:
        """Every item of every page."""
        return self._portal.call(self._pager.to_list())


class EventStream:
    """A run's events, resumed by itself when the stream breaks; iterate it once
    (``for event in stream``) or call ``result()``. See ``AsyncEventStream``."""

    def __init__(self, portal: _Portal, stream: AsyncEventStream) -> None:
        self._portal = portal
        self._stream = stream

    def __iter__(self) -> Iterator[event_pb2.RunEvent]:
        return self._portal.iterate(self._stream)

    def result(self) -> run_pb2.Run:
        """Reads the stream to its end and returns the run as it ended."""
        return self._portal.call(self._stream.result())

    @property
    def run_id(self) -> str:
        """The run ("" until the first event of a ``runs.stream``)."""
        return self._stream.run_id

    @property
    def last_sequence(self) -> int:
        """The sequence of the last event handled."""
        return self._stream.last_sequence

    @property
    def terminal_event(self) -> event_pb2.RunEvent | None:
        """The ``run_finished`` / ``run_error`` event, once seen."""
        return self._stream.terminal_event

    @property
    def resumes(self) -> int:
        """Resumes so far."""
        return self._stream.resumes


class Run:
    """A handle on one run; see ``AsyncRun``."""

    def __init__(self, portal: _Portal, run: AsyncRun) -> None:
        self._portal = portal
        self._run = run

    def __repr__(self) -> str:
        return f"Run({self.run_id!r}, state={run_pb2.RunState.Name(self.run.state)})"

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self._run.run_id

    @property
    def run(self) -> run_pb2.Run:
        """The run as last read."""
        return self._run.run

    def get(self) -> run_pb2.Run:
        """The run now (``GetRun``)."""
        return self._portal.call(self._run.get())

    def cancel(self, reason: str = "") -> run_pb2.Run:
        """Cancels the run (``CancelRun``)."""
        return self._portal.call(self._run.cancel(reason))

    def pause(self, reason: str = "") -> run_pb2.Run:
        """Asks the run to pause at its next safe point (``PauseRun``)."""
        return self._portal.call(self._run.pause(reason))

    def resume(self) -> run_pb2.Run:
        """Continues the paused run (``ResumeRun``)."""
        return self._portal.call(self._run.resume())

    def events(
        self,
        after_sequence: int = 0,
        *,
        on_approval: OnApproval | None = None,
        tools: Mapping[str, ToolFunction] | None = None,
        heartbeats: bool = False,
        on_resume: OnResume | None = None,
    ) -> EventStream:
        """The run's events after ``after_sequence`` (see ``AsyncRun.events``)."""
        return EventStream(
            self._portal,
            self._run.events(
                after_sequence,
                on_approval=on_approval,
                tools=tools,
                heartbeats=heartbeats,
                on_resume=on_resume,
            ),
        )

    def wait(
        self,
        *,
        on_approval: OnApproval | None = None,
        tools: Mapping[str, ToolFunction] | None = None,
        on_resume: OnResume | None = None,
    ) -> run_pb2.Run:
        """Follows the run to its end and returns it (see ``AsyncRun.wait``)."""
        return self._portal.call(
            self._run.wait(on_approval=on_approval, tools=tools, on_resume=on_resume)
        )

    def submit_tool_output(
        self, tool_call_id: str, output: str, *, is_error: bool = False
    ) -> run_pb2.Run:
        """Answers one client tool call."""
        return self._portal.call(
            self._run.submit_tool_output(tool_call_id, output, is_error=is_error)
        )

    def approvals(
        self, *, state: approval_pb2.ApprovalState = approval_pb2.APPROVAL_STATE_UNSPECIFIED
    ) -> Pager[approval_pb2.Approval]:
        """The run's approvals, newest first."""
        return Pager(self._portal, self._run.approvals(state=state))


class Agents:
    """``AgentService``; the methods of ``AsyncAgents``, blocking."""

    def __init__(self, portal: _Portal, agents: AsyncAgents) -> None:
        self._portal = portal
        self._agents = agents

    def create(
        self,
        agent_id: str,
        agent: agent_pb2.Agent | None = None,
        *,
        model: agent_pb2.Model | None = None,
        instructions: str = "",
        display_name: str = "",
        description: str = "",
        tools: Sequence[str] = (),
        approval_policy: agent_pb2.ApprovalPolicy | None = None,
        approval_mode: agent_pb2.ApprovalMode = agent_pb2.APPROVAL_MODE_UNSPECIFIED,
        limits: agent_pb2.Limits | None = None,
        runtime: agent_pb2.Runtime = agent_pb2.RUNTIME_UNSPECIFIED,
        response_format: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        sub_agents: Sequence[agent_pb2.SubAgent] = (),
        toolsets: Sequence[str] = (),
        tool_execution: agent_pb2.ToolExecution | None = None,
    ) -> agent_pb2.Agent:
        """Creates an agent (see ``AsyncAgents.create``)."""
        return self._portal.call(
            self._agents.create(
                agent_id,
                agent,
                model=model,
                instructions=instructions,
                display_name=display_name,
                description=description,
                tools=tools,
                approval_policy=approval_policy,
                approval_mode=approval_mode,
                limits=limits,
                runtime=runtime,
                response_format=response_format,
                labels=labels,
                sub_agents=sub_agents,
                toolsets=toolsets,
                tool_execution=tool_execution,
            )
        )

    def get(self, agent_id: str) -> agent_pb2.Agent:
        """One agent."""
        return self._portal.call(self._agents.get(agent_id))

    def list(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> Pager[agent_pb2.Agent]:
        """Every agent, ordered by id; with ``labels``, those carrying every pair."""
        return Pager(
            self._portal,
            self._agents.list(page_size=page_size, page_token=page_token, labels=labels),
        )

    def update(
        self,
        agent: agent_pb2.Agent | str,
        *,
        update_mask: Sequence[str] = (),
        model: agent_pb2.Model | None = None,
        instructions: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        tools: Sequence[str] | None = None,
        approval_policy: agent_pb2.ApprovalPolicy | None = None,
        limits: agent_pb2.Limits | None = None,
        labels: Mapping[str, str] | None = None,
        etag: str = "",
    ) -> agent_pb2.Agent:
        """Updates an agent (see ``AsyncAgents.update``)."""
        return self._portal.call(
            self._agents.update(
                agent,
                update_mask=update_mask,
                model=model,
                instructions=instructions,
                display_name=display_name,
                description=description,
                tools=tools,
                approval_policy=approval_policy,
                limits=limits,
                labels=labels,
                etag=etag,
            )
        )

    def delete(self, agent_id: str) -> None:
        """Deletes an agent."""
        self._portal.call(self._agents.delete(agent_id))

    def list_tools(self, agent_id: str) -> builtins.list[agent_pb2.AgentTool]:
        """The tools a run of the agent offers its model (see ``AsyncAgents.list_tools``)."""
        return self._portal.call(self._agents.list_tools(agent_id))


class Runs:
    """``RunService``; the methods of ``AsyncRuns``, blocking."""

    def __init__(self, portal: _Portal, runs: AsyncRuns) -> None:
        self._portal = portal
        self._runs = runs

    def create(
        self,
        agent_id: str,
        prompt: str,
        *,
        thread_id: str = "",
        client_tools: Sequence[run_pb2.ClientTool] = (),
        tools: Mapping[str, ToolFunction] | None = None,
        on_approval: OnApproval | None = None,
        request_id: str = "",
        runtime: agent_pb2.Runtime = agent_pb2.RUNTIME_UNSPECIFIED,
        labels: Mapping[str, str] | None = None,
        overrides: run_pb2.RunOverrides | None = None,
    ) -> Run:
        """Starts a run and returns its handle (see ``AsyncRuns.create``)."""
        run = self._portal.call(
            self._runs.create(
                agent_id,
                prompt,
                thread_id=thread_id,
                client_tools=client_tools,
                tools=tools,
                on_approval=on_approval,
                request_id=request_id,
                runtime=runtime,
                labels=labels,
                overrides=overrides,
            )
        )
        return Run(self._portal, run)

    def stream(
        self,
        agent_id: str,
        prompt: str,
        *,
        thread_id: str = "",
        client_tools: Sequence[run_pb2.ClientTool] = (),
        tools: Mapping[str, ToolFunction] | None = None,
        on_approval: OnApproval | None = None,
        request_id: str = "",
        runtime: agent_pb2.Runtime = agent_pb2.RUNTIME_UNSPECIFIED,
        labels: Mapping[str, str] | None = None,
        overrides: run_pb2.RunOverrides | None = None,
        heartbeats: bool = False,
        on_resume: OnResume | None = None,
        profile: event_pb2.EventProfile = event_pb2.EVENT_PROFILE_UNSPECIFIED,
        event_types: Sequence[event_pb2.EventType] = (),
    ) -> EventStream:
        """Starts a run and streams its events (see ``AsyncRuns.stream``; ``profile``
        or ``event_types`` choose the events)."""
        return EventStream(
            self._portal,
            self._runs.stream(
                agent_id,
                prompt,
                thread_id=thread_id,
                client_tools=client_tools,
                tools=tools,
                on_approval=on_approval,
                request_id=request_id,
                runtime=runtime,
                labels=labels,
                overrides=overrides,
                heartbeats=heartbeats,
                on_resume=on_resume,
                profile=profile,
                event_types=event_types,
            ),
        )

    def wait(
        self,
        agent_id: str,
        prompt: str,
        *,
        thread_id: str = "",
        client_tools: Sequence[run_pb2.ClientTool] = (),
        request_id: str = "",
        runtime: agent_pb2.Runtime = agent_pb2.RUNTIME_UNSPECIFIED,
        timeout: float | None = None,
        labels: Mapping[str, str] | None = None,
        overrides: run_pb2.RunOverrides | None = None,
    ) -> run_pb2.Run:
        """Starts a run and waits for it (``WaitRun``; see ``AsyncRuns.wait``)."""
        return self._portal.call(
            self._runs.wait(
                agent_id,
                prompt,
                thread_id=thread_id,
                client_tools=client_tools,
                request_id=request_id,
                runtime=runtime,
                timeout=timeout,
                labels=labels,
                overrides=overrides,
            )
        )

    def get(self, run_id: str) -> run_pb2.Run:
        """One run."""
        return self._portal.call(self._runs.get(run_id))

    def handle(self, run_id: str) -> Run:
        """A handle on an existing run (no call is made)."""
        return Run(self._portal, self._runs.handle(run_id))

    def list(
        self,
        *,
        agent_id: str = "",
        thread_id: str = "",
        state: run_pb2.RunState = run_pb2.RUN_STATE_UNSPECIFIED,
        page_size: int = 0,
        page_token: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> Pager[run_pb2.Run]:
        """Runs, newest first; with ``labels``, those carrying every pair."""
        return Pager(
            self._portal,
            self._runs.list(
                agent_id=agent_id,
                thread_id=thread_id,
                state=state,
                page_size=page_size,
                page_token=page_token,
                labels=labels,
            ),
        )

    def watch(
        self,
        *,
        agent_id: str = "",
        thread_id: str = "",
        states: Sequence[run_pb2.RunState] = (),
        labels: Mapping[str, str] | None = None,
        cursor: str = "",
        heartbeats: bool = False,
        on_resume: OnWatchResume | None = None,
    ) -> Watch[run_service_pb2.WatchRunsResponse]:
        """The matching runs, then their changes, resumed by itself; see
        ``AsyncRuns.watch``."""
        return Watch(
            self._portal.iterate,
            self._runs.watch(
                agent_id=agent_id,
                thread_id=thread_id,
                states=states,
                labels=labels,
                cursor=cursor,
                heartbeats=heartbeats,
                on_resume=on_resume,
            ),
        )

    def cancel(self, run_id: str, *, reason: str = "") -> run_pb2.Run:
        """Cancels a run."""
        return self._portal.call(self._runs.cancel(run_id, reason=reason))

    def pause(self, run_id: str, *, reason: str = "") -> run_pb2.Run:
        """Asks a run to pause at its next safe point (``AsyncRuns.pause``)."""
        return self._portal.call(self._runs.pause(run_id, reason=reason))

    def resume(self, run_id: str) -> run_pb2.Run:
        """Continues a paused run, or withdraws a pause (``AsyncRuns.resume``)."""
        return self._portal.call(self._runs.resume(run_id))

    def events(
        self,
        run_id: str,
        *,
        after_sequence: int = 0,
        on_approval: OnApproval | None = None,
        tools: Mapping[str, ToolFunction] | None = None,
        heartbeats: bool = False,
        on_resume: OnResume | None = None,
        profile: event_pb2.EventProfile = event_pb2.EVENT_PROFILE_UNSPECIFIED,
        event_types: Sequence[event_pb2.EventType] = (),
    ) -> EventStream:
        """A run's events after ``after_sequence`` (see ``AsyncRuns.events``;
        ``profile`` or ``event_types`` choose the events)."""
        return EventStream(
            self._portal,
            self._runs.events(
                run_id,
                after_sequence=after_sequence,
                on_approval=on_approval,
                tools=tools,
                heartbeats=heartbeats,
                on_resume=on_resume,
                profile=profile,
                event_types=event_types,
            ),
        )

    def list_events(
        self,
        run_id: str,
        *,
        after_sequence: int = 0,
        page_size: int = 0,
        profile: event_pb2.EventProfile = event_pb2.EVENT_PROFILE_UNSPECIFIED,
        event_types: Sequence[event_pb2.EventType] = (),
    ) -> Pager[event_pb2.RunEvent]:
        """A run's logged events, in sequence order (``profile`` or ``event_types``
        choose the events)."""
        return Pager(
            self._portal,
            self._runs.list_events(
                run_id,
                after_sequence=after_sequence,
                page_size=page_size,
                profile=profile,
                event_types=event_types,
            ),
        )

    def submit_tool_outputs(
        self, run_id: str, outputs: Sequence[run_pb2.ToolOutput]
    ) -> run_pb2.Run:
        """Answers client tool calls."""
        return self._portal.call(self._runs.submit_tool_outputs(run_id, outputs))

    def submit_tool_output(
        self, run_id: str, tool_call_id: str, output: str, *, is_error: bool = False
    ) -> run_pb2.Run:
        """Answers one client tool call."""
        return self._portal.call(
            self._runs.submit_tool_output(run_id, tool_call_id, output, is_error=is_error)
        )


class Approvals:
    """``ApprovalService``; the methods of ``AsyncApprovals``, blocking."""

    def __init__(self, portal: _Portal, approvals: AsyncApprovals) -> None:
        self._portal = portal
        self._approvals = approvals

    def list(
        self,
        *,
        run_id: str = "",
        state: approval_pb2.ApprovalState = approval_pb2.APPROVAL_STATE_UNSPECIFIED,
        page_size: int = 0,
        page_token: str = "",
    ) -> Pager[approval_pb2.Approval]:
        """Approvals, newest first."""
        return Pager(
            self._portal,
            self._approvals.list(
                run_id=run_id, state=state, page_size=page_size, page_token=page_token
            ),
        )

    def watch(
        self,
        *,
        run_id: str = "",
        agent_id: str = "",
        states: Sequence[approval_pb2.ApprovalState] = (),
        cursor: str = "",
        heartbeats: bool = False,
        on_resume: OnWatchResume | None = None,
    ) -> Watch[approval_pb2.WatchApprovalsResponse]:
        """The matching approvals, then their changes, resumed by itself; see
        ``AsyncApprovals.watch``."""
        return Watch(
            self._portal.iterate,
            self._approvals.watch(
                run_id=run_id,
                agent_id=agent_id,
                states=states,
                cursor=cursor,
                heartbeats=heartbeats,
                on_resume=on_resume,
            ),
        )

    def get(self, approval_id: str) -> approval_pb2.Approval:
        """One approval."""
        return self._portal.call(self._approvals.get(approval_id))

    def resolve(
        self,
        approval_id: str,
        approve: bool,
        *,
        reason: str = "",
        edited_arguments: Mapping[str, Any] | None = None,
    ) -> approval_pb2.Approval:
        """Approves or rejects (see ``AsyncApprovals.resolve``)."""
        return self._portal.call(
            self._approvals.resolve(
                approval_id, approve, reason=reason, edited_arguments=edited_arguments
            )
        )

    def approve(
        self,
        approval_id: str,
        *,
        reason: str = "",
        edited_arguments: Mapping[str, Any] | None = None,
    ) -> approval_pb2.Approval:
        """Approves."""
        return self._portal.call(
            self._approvals.approve(approval_id, reason=reason, edited_arguments=edited_arguments)
        )

    def reject(self, approval_id: str, *, reason: str = "") -> approval_pb2.Approval:
        """Rejects."""
        return self._portal.call(self._approvals.reject(approval_id, reason=reason))


class Threads:
    """``ThreadService``; the methods of ``AsyncThreads``, blocking."""

    def __init__(self, portal: _Portal, threads: AsyncThreads) -> None:
        self._portal = portal
        self._threads = threads

    def create(
        self, thread_id: str = "", *, metadata: Mapping[str, str] | None = None
    ) -> thread_pb2.Thread:
        """Creates a thread."""
        return self._portal.call(self._threads.create(thread_id, metadata=metadata))

    def get(self, thread_id: str) -> thread_pb2.Thread:
        """One thread."""
        return self._portal.call(self._threads.get(thread_id))

    def messages(
        self, thread_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> Pager[thread_pb2.Message]:
        """A thread's messages, oldest first."""
        return Pager(
            self._portal,
            self._threads.messages(thread_id, page_size=page_size, page_token=page_token),
        )

    def delete(self, thread_id: str) -> None:
        """Deletes a thread and its messages."""
        self._portal.call(self._threads.delete(thread_id))


class Tools:
    """``ToolService``; the methods of ``AsyncTools``, blocking."""

    def __init__(self, portal: _Portal, tools: AsyncTools) -> None:
        self._portal = portal
        self._tools = tools

    def list(self) -> tool_pb2.ListToolsResponse:
        """The server's tools and MCP servers (see ``AsyncTools.list``)."""
        return self._portal.call(self._tools.list())


class Client:
    """Runwire's synchronous client: ``client.agents``, ``client.runs``,
    ``client.approvals``, ``client.threads``, ``client.tools``, blocking.

    Open it with ``runwire.connect(address, ...)`` or ``Client(...)``, close it
    with ``client.close()`` or a ``with`` block. Arguments as for
    ``AsyncClient``. Thread-safe: calls from several threads share the channel.

    Attributes:
        aio: The ``AsyncClient`` underneath (its ``stubs`` are the test seam);
            use it only from coroutines run by this client.
        address: The server's address.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        tls: bool | None = None,
        ca_file: PathLike | None = None,
        client_cert_file: PathLike | None = None,
        client_key_file: PathLike | None = None,
        server_name: str | None = None,
        credentials: Credentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        timeout: float | None = None,
        retry: Retry | None = None,
    ) -> None:
        self._portal = _Portal()

        async def build() -> AsyncClient:
            # In the loop: the grpc.aio channel belongs to the loop it is made in.
            return AsyncClient(
                address,
                token=token,
                tls=tls,
                ca_file=ca_file,
                client_cert_file=client_cert_file,
                client_key_file=client_key_file,
                server_name=server_name,
                credentials=credentials,
                options=options,
                timeout=timeout,
                retry=retry,
            )

        try:
            self.aio = self._portal.call(build())
        except BaseException:
            self._portal.close()
            raise
        self.address = self.aio.address
        self.agents = Agents(self._portal, self.aio.agents)
        self.runs = Runs(self._portal, self.aio.runs)
        self.approvals = Approvals(self._portal, self.aio.approvals)
        self.threads = Threads(self._portal, self.aio.threads)
        self.tools = Tools(self._portal, self.aio.tools)

    def __repr__(self) -> str:
        return f"Client({self.address!r})"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs a coroutine (for example one using ``client.aio``) on the
        client's loop and returns its result."""
        return self._portal.call(coroutine)

    def close(self) -> None:
        """Closes the channel and stops the client's loop. Idempotent."""
        if self._portal.loop.is_closed():
            return
        try:
            self._portal.call(self.aio.close())
        finally:
            self._portal.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    address: str | None = None,
    *,
    token: str | None = None,
    tls: bool | None = None,
    ca_file: PathLike | None = None,
    client_cert_file: PathLike | None = None,
    client_key_file: PathLike | None = None,
    server_name: str | None = None,
    credentials: Credentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
    timeout: float | None = None,
    retry: Retry | None = None,
) -> Client:
    """A ``Client`` for ``address``: ``with runwire.connect("127.0.0.1:50051") as client: ...``.
    Arguments as for ``AsyncClient``; None reads the environment
    (``RUNWIRE_ADDRESS``, ``RUNWIRE_TOKEN``, ``RUNWIRE_CA_FILE`` ...).

    Raises:
        ValueError: a client certificate without its key, or the reverse.
        OSError: a certificate or key file cannot be read.
    """
    return Client(
        address,
        token=token,
        tls=tls,
        ca_file=ca_file,
        client_cert_file=client_cert_file,
        client_key_file=client_key_file,
        server_name=server_name,
        credentials=credentials,
        options=options,
        timeout=timeout,
        retry=retry,
    )
