"""``runwire.AsyncClient``: resource-style methods over every RPC of ``runwire.v1``.

``client.agents``, ``client.runs``, ``client.approvals`` and ``client.threads``
call the generated stubs of ``client.stubs`` (a ``runwire.Stubs``), return the
proto messages, page List calls lazily (``AsyncPager``), and raise
``RunwireError`` subclasses. Run creation carries a ``request_id`` (uuid4 unless
given) that every retry of the same call reuses. Event streams
(``AsyncEventStream``) resume by themselves after a dropped connection or a
draining server, answer approvals and execute client tools.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf import duration_pb2, field_mask_pb2

from runwire._connect import Credentials, PathLike
from runwire._errors import (
    FailedPreconditionError,
    NotFoundError,
    RunwireError,
    StreamBrokenError,
    UnavailableError,
    error_from_rpc,
)
from runwire._stubs import Stubs
from runwire._types import (
    ApprovalAnswer,
    Decision,
    OnApproval,
    OnResume,
    Page,
    Resume,
    Retry,
    ToolFunction,
    client_tool,
    to_struct,
)
from runwire._watch import AsyncWatch, OnWatchResume
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
    tool_pb2,
    tool_pb2_grpc,
)

__all__ = [
    "DEFAULT_ADDRESS",
    "ENV_ADDRESS",
    "AsyncAgents",
    "AsyncApprovals",
    "AsyncClient",
    "AsyncEventStream",
    "AsyncPager",
    "AsyncRun",
    "AsyncRuns",
    "AsyncThreads",
    "AsyncTools",
    "connect_async",
]

T = TypeVar("T")

#: The variable the server's address is read from when none is given.
ENV_ADDRESS = "RUNWIRE_ADDRESS"
#: The address used when neither an argument nor ``RUNWIRE_ADDRESS`` gives one.
DEFAULT_ADDRESS = "127.0.0.1:50051"

_TERMINAL = frozenset(
    {run_pb2.RUN_STATE_SUCCEEDED, run_pb2.RUN_STATE_FAILED, run_pb2.RUN_STATE_CANCELLED}
)


async def _unary(call: Awaitable[T]) -> T:
    """Awaits a unary call; a failure becomes its ``RunwireError``."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise error_from_rpc(exc) from exc


def _new_request_id() -> str:
    return f"py-{uuid.uuid4().hex}"


async def _invoke(function: Callable[[Any], Any], argument: Any) -> Any:
    """Calls a callback: a coroutine function on the loop, a plain function in a
    worker thread (so it may block, and may use a sync ``runwire.Client``)."""
    if inspect.iscoroutinefunction(function):
        return await function(argument)
    result = await asyncio.to_thread(function, argument)
    if inspect.isawaitable(result):
        result = await result
    return result


def _event_filter(
    profile: event_pb2.EventProfile,
    event_types: Sequence[event_pb2.EventType],
) -> event_pb2.EventFilter | None:
    """The ``EventFilter`` of a call's ``profile`` and ``event_types`` (None: every
    event). Both set is the server's INVALID_ARGUMENT."""
    if not profile and not event_types:
        return None
    return event_pb2.EventFilter(profile=profile, event_types=list(event_types))


def _decision(answer: ApprovalAnswer) -> Decision:
    if isinstance(answer, Decision):
        return answer
    if isinstance(answer, bool):
        return Decision(answer)
    raise TypeError(f"on_approval returned {answer!r}: want a runwire.Decision or a bool")


def _tool_output(tool_call_id: str, result: Any) -> run_pb2.ToolOutput:
    text = result if isinstance(result, str) else json.dumps(result, separators=(",", ":"))
    return run_pb2.ToolOutput(tool_call_id=tool_call_id, output=text)


def _declare(
    client_tools: Sequence[run_pb2.ClientTool], tools: Mapping[str, ToolFunction] | None
) -> list[run_pb2.ClientTool]:
    """``client_tools`` plus a declaration of every function of ``tools`` they
    do not name (its docstring's first line as the description)."""
    declared = list(client_tools)
    names = {tool.name for tool in declared}
    for name, function in (tools or {}).items():
        if name not in names:
            doc = inspect.getdoc(function) or ""
            declared.append(client_tool(name, doc.split("\n", 1)[0]))
    return declared


class AsyncPager(Generic[T]):
    """The items of a List call, fetched a page at a time as they are iterated.

    ``async for agent in client.agents.list(): ...`` follows ``next_page_token``
    to the last page; ``pages()`` yields whole pages; ``to_list()`` reads all.
    Each page is one call; a failed call raises its ``RunwireError``.
    """

    def __init__(self, fetch: Callable[[str], Awaitable[Page[T]]], page_token: str = "") -> None:
        self._fetch = fetch
        self._page_token = page_token

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page, from the ``page_token`` given (the first page by default)."""
        token = self._page_token
        while True:
            page = await self._fetch(token)
            yield page
            if not page.next_page_token:
                return
            token = page.next_page_token

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def first_page(self) -> Page[T]:
        """One page only (``page.next_page_token`` continues)."""
        return await self._fetch(self._page_token)

    async def to_list(self) -> list[T]:
        """Every item of every page."""
        return [item async for item in self]


class AsyncEventStream:
    """A run's events, in sequence order, without a gap or a duplicate, resumed
    by itself when the stream breaks.

    Iterate it once (``async for event in stream``), or ``await`` it (``result()``:
    to the end, returning the ``Run``). Heartbeats are left out
    unless asked for. When the stream fails with UNAVAILABLE (a dropped
    connection, or a draining server: reason ``DRAINING``) or ends before the
    run's terminal event, it is opened again with ``StreamRunEvents`` after the
    last event handled, up to ``retry.max_attempts`` times in a row, pausing
    ``retry.delay(attempt)`` before each; a stream that broke before its first
    event starts the run again with the same ``request_id`` (the server returns
    the run the first call started). Iteration ends after the terminal event
    (``run_finished`` or ``run_error``).

    With an event filter (``profile`` or ``event_types`` of ``runs.stream`` and
    ``runs.events``), every open and resume asks for the same events: sequences
    then skip the numbers of the events left out.

    With ``on_approval``, each ``approval_requested`` event is decided by it and
    resolved (``ResolveApproval``); with ``tools``, each
    ``client_tool_call_requested`` for a tool of the map runs it and submits the
    output (``SubmitToolOutputs``). Both happen right after the event is
    yielded, when the next event is asked for (so the event can be shown
    before its question is asked; stopping the iteration at such an event
    leaves it unanswered). A decision or an output is made once per approval or
    tool call even when the stream is resumed in between. Approvals and tool
    calls of events logged before the stream was opened (``run.events()``
    replaying a run) are acted on only if the run still waited for them then.

    Attributes:
        run_id: The run ("" until the first event of a ``runs.stream``).
        last_sequence: The sequence of the last event yielded (resume after it
            with ``runs.events(run_id, after_sequence=...)``).
        terminal_event: The ``run_finished`` / ``run_error`` event, once seen.
        resumes: Resumes so far, in all.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        start: run_service_pb2.StreamRunRequest | None = None,
        run_id: str = "",
        after_sequence: int = 0,
        on_approval: OnApproval | None = None,
        tools: Mapping[str, ToolFunction] | None = None,
        heartbeats: bool = False,
        on_resume: OnResume | None = None,
        check_history: bool = False,
        event_filter: event_pb2.EventFilter | None = None,
    ) -> None:
        self._client = client
        self._start = start
        # Every open and every resume asks for the same events.
        self._filter = event_filter
        self.run_id = run_id
        self.last_sequence = after_sequence
        # The last event fully handled (its approval or tool call answered): where
        # a resume starts after. last_sequence runs ahead of it while an event
        # yielded is being answered; if that breaks, the event comes again and is
        # answered with the decision or output already made, not yielded twice.
        self._handled = after_sequence
        self.terminal_event: event_pb2.RunEvent | None = None
        self.resumes = 0
        self._on_approval = on_approval
        self._tools = dict(tools or {})
        self._heartbeats = heartbeats
        self._on_resume = on_resume
        # With check_history, the run is read when the stream opens: events up to
        # its last sequence are history, whose approvals and tool calls are acted
        # on only if the run still waits for them (its required actions then).
        self._check_history = check_history
        self._history_until = 0
        self._pending: set[str] = set()
        self._decisions: dict[str, Decision] = {}
        self._outputs: dict[str, run_pb2.ToolOutput] = {}
        self._iterating = False

    def __aiter__(self) -> AsyncIterator[event_pb2.RunEvent]:
        if self._iterating:
            raise RuntimeError("an event stream can be iterated once")
        self._iterating = True
        return self._events()

    def __await__(self) -> Generator[Any, None, run_pb2.Run]:
        """``await stream`` is ``await stream.result()``."""
        return self.result().__await__()

    async def result(self) -> run_pb2.Run:
        """Reads the stream to its end (handling approvals and tools as it goes)
        and returns the run as it ended (``GetRun``).

        Raises:
            RunwireError: a call failed, or resuming gave up (``UnavailableError``,
                ``StreamBrokenError``).
        """
        if not self._iterating:
            async for _ in self:
                pass
        elif self.terminal_event is None:
            raise RuntimeError("result() of a stream iterated elsewhere before its end")
        return await self._client.runs.get(self.run_id)

    def _open(self) -> Any:
        stubs = self._client.stubs
        if not self.run_id:
            if self._start is None:
                raise ValueError("an event stream needs a run_id or a run to start")
            return stubs.runs.StreamRun(self._start)
        request = run_service_pb2.StreamRunEventsRequest(
            run_id=self.run_id, after_sequence=self._handled, filter=self._filter
        )
        return stubs.runs.StreamRunEvents(request)

    async def _events(self) -> AsyncIterator[event_pb2.RunEvent]:  # noqa: PLR0912
        retry = self._client.retry
        attempts = 0
        if self._check_history and self.run_id:
            run = await self._client.runs.get(self.run_id)
            self._history_until = run.last_sequence
            self._pending = {a.approval_id or a.tool_call_id for a in run.required_actions}
        call = self._open()
        try:
            while True:
                try:
                    async for response in call:
                        event: event_pb2.RunEvent = response.event
                        if event.HasField("heartbeat"):
                            if self._heartbeats:
                                yield event
                            continue
                        if event.sequence <= self._handled:
                            continue  # handled before a resume (a restarted StreamRun)
                        attempts = 0
                        self.run_id = event.run_id
                        terminal = event.HasField("run_finished") or event.HasField("run_error")
                        if event.sequence > self.last_sequence:  # not yielded before a resume
                            self.last_sequence = event.sequence
                            if terminal:
                                self.terminal_event = event
                            yield event
                        await self._act(event)
                        self._handled = event.sequence
                        if terminal:
                            return
                    broken: RunwireError = StreamBrokenError(
                        f"the event stream of run {self.run_id or '?'} ended before the run did",
                        metadata={"run_id": self.run_id, "last_sequence": str(self._handled)},
                    )
                except grpc.aio.AioRpcError as exc:
                    broken = error_from_rpc(exc)
                    broken.__cause__ = exc
                    if not isinstance(broken, UnavailableError):
                        raise broken from exc
                    if not self.run_id and self._start is None:
                        raise broken from exc
                except UnavailableError as exc:  # resolving or submitting broke
                    broken = exc
                if attempts >= retry.max_attempts:
                    raise broken
                attempts += 1
                await self._pause_before_resume(attempts, broken)
                call = self._open()
        finally:
            cancel = getattr(call, "cancel", None)
            if cancel is not None:
                cancel()

    async def _pause_before_resume(self, attempt: int, broken: RunwireError) -> None:
        retry = self._client.retry
        self.resumes += 1
        if self._on_resume is not None:
            self._on_resume(
                Resume(
                    run_id=self.run_id,
                    after_sequence=self._handled,
                    attempt=attempt,
                    max_attempts=retry.max_attempts,
                    error=broken,
                )
            )
        await asyncio.sleep(retry.delay(attempt))

    def _still_pending(self, event: event_pb2.RunEvent, key: str) -> bool:
        """Whether the run may still wait for approval or tool call ``key``: a
        live event, or history the run waited for when the stream opened."""
        return event.sequence > self._history_until or key in self._pending

    async def _announced_pending(self, approval_id: str) -> bool:
        """Whether a sub-agent run's approval announced in this run's history is
        still pending (the run's own ``required_actions`` do not list it)."""
        try:
            approval = await self._client.approvals.get(approval_id)
        except NotFoundError:
            return False
        return approval.state == approval_pb2.APPROVAL_STATE_PENDING

    async def _act(self, event: event_pb2.RunEvent) -> None:
        if event.HasField("approval_requested") and self._on_approval is not None:
            requested = event.approval_requested
            decision = self._decisions.get(requested.approval_id)
            if decision is None:
                if not self._still_pending(event, requested.approval_id) and not (
                    requested.run_id and await self._announced_pending(requested.approval_id)
                ):
                    return
                decision = _decision(await _invoke(self._on_approval, requested))
                self._decisions[requested.approval_id] = decision
            # FAILED_PRECONDITION: expired, cancelled or resolved meanwhile (the stream tells).
            with contextlib.suppress(FailedPreconditionError):
                await self._client.approvals.resolve(
                    requested.approval_id,
                    decision.approve,
                    reason=decision.reason,
                    edited_arguments=decision.edited_arguments,
                )
        elif event.HasField("client_tool_call_requested"):
            call = event.client_tool_call_requested
            function = self._tools.get(call.tool_name)
            if function is None:
                return
            output = self._outputs.get(call.tool_call_id)
            if output is None:
                if not self._still_pending(event, call.tool_call_id):
                    return
                output = await self._run_tool(function, call)
                self._outputs[call.tool_call_id] = output
            # FAILED_PRECONDITION: answered meanwhile, or the run ended.
            with contextlib.suppress(FailedPreconditionError):
                await self._client.runs.submit_tool_outputs(event.run_id, [output])

    @staticmethod
    async def _run_tool(
        function: ToolFunction, call: event_pb2.ClientToolCallRequested
    ) -> run_pb2.ToolOutput:
        try:
            arguments = json.loads(call.arguments or "{}")
            return _tool_output(call.tool_call_id, await _invoke(function, arguments))
        except Exception as exc:  # the model is told the tool failed
            return run_pb2.ToolOutput(
                tool_call_id=call.tool_call_id,
                output=f"{type(exc).__name__}: {exc}",
                is_error=True,
            )


class AsyncRun:
    """A handle on one run (``runs.create`` returns one; ``runs.handle(run_id)``
    makes one for any run).

    Attributes:
        run_id: The run's id.
        run: The run as last read (``CreateRun``'s answer, then ``get``/``cancel``/``wait``).
    """

    def __init__(
        self,
        client: AsyncClient,
        run: run_pb2.Run,
        *,
        on_approval: OnApproval | None = None,
        tools: Mapping[str, ToolFunction] | None = None,
    ) -> None:
        self._client = client
        self.run = run
        self.run_id = run.run_id
        self._on_approval = on_approval
        self._tools = dict(tools or {})

    def __repr__(self) -> str:
        return f"AsyncRun({self.run_id!r}, state={run_pb2.RunState.Name(self.run.state)})"

    async def get(self) -> run_pb2.Run:
        """The run now (``GetRun``)."""
        self.run = await self._client.runs.get(self.run_id)
        return self.run

    async def cancel(self, reason: str = "") -> run_pb2.Run:
        """Cancels the run (``CancelRun``); returns it CANCELLING or already ended."""
        self.run = await self._client.runs.cancel(self.run_id, reason=reason)
        return self.run

    async def pause(self, reason: str = "") -> run_pb2.Run:
        """Asks the run to pause at its next safe point (``PauseRun``); see ``AsyncRuns.pause``."""
        self.run = await self._client.runs.pause(self.run_id, reason=reason)
        return self.run

    async def resume(self) -> run_pb2.Run:
        """Continues the paused run (``ResumeRun``); see ``AsyncRuns.resume``."""
        self.run = await self._client.runs.resume(self.run_id)
        return self.run

    def events(
        self,
        after_sequence: int = 0,
        *,
        on_approval: OnApproval | None = None,
        tools: Mapping[str, ToolFunction] | None = None,
        heartbeats: bool = False,
        on_resume: OnResume | None = None,
    ) -> AsyncEventStream:
        """The run's events after ``after_sequence``, to its terminal event
        (``StreamRunEvents``, resumed by itself; see ``AsyncEventStream``).

        Args:
            after_sequence: Start after this sequence (0: from the first event).
            on_approval: Answers approvals; default: the one given to ``runs.create``.
            tools: Client tools to execute; default: the ones given to ``runs.create``.
            heartbeats: Yield heartbeats too.
            on_resume: Told about each resume.
        """
        return self._client.runs.events(
            self.run_id,
            after_sequence=after_sequence,
            on_approval=on_approval or self._on_approval,
            tools=tools if tools is not None else self._tools,
            heartbeats=heartbeats,
            on_resume=on_resume,
        )

    async def wait(
        self,
        *,
        on_approval: OnApproval | None = None,
        tools: Mapping[str, ToolFunction] | None = None,
        on_resume: OnResume | None = None,
    ) -> run_pb2.Run:
        """Follows the run to its end (answering approvals and executing client
        tools as ``events`` does) and returns it as it ended."""
        self.run = await self.events(
            on_approval=on_approval, tools=tools, on_resume=on_resume
        ).result()
        return self.run

    async def submit_tool_output(
        self, tool_call_id: str, output: str, *, is_error: bool = False
    ) -> run_pb2.Run:
        """Answers one client tool call (``SubmitToolOutputs``)."""
        self.run = await self._client.runs.submit_tool_output(
            self.run_id, tool_call_id, output, is_error=is_error
        )
        return self.run

    def approvals(
        self, *, state: approval_pb2.ApprovalState = approval_pb2.APPROVAL_STATE_UNSPECIFIED
    ) -> AsyncPager[approval_pb2.Approval]:
        """The run's approvals, newest first (optionally in one state)."""
        return self._client.approvals.list(run_id=self.run_id, state=state)


class _Resource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @property
    def _stubs(self) -> Stubs:
        return self._client.stubs

    @property
    def _timeout(self) -> float | None:
        return self._client.timeout


class AsyncAgents(_Resource):
    """``AgentService``: agent definitions."""

    async def create(  # noqa: PLR0912 - one branch per keyword field
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
        """Creates an agent (``CreateAgent``).

        Give a whole ``agent`` or its fields as keywords (keywords set on top of
        ``agent``). ``model`` is required (``runwire.model("scripted", ...)``).
        ``labels``: key/value pairs ``agents.list(labels=...)`` filters on (at most 32).
        ``sub_agents``: agents it may delegate to; ``toolsets``: MCP servers (by
        the operator's names) whose tools it gets; ``tool_execution``: sequential
        calls, a per-tool timeout, a cap on consecutive failures.

        Raises:
            AlreadyExistsError: the id is taken. InvalidArgumentError: a bad field.
        """
        message = agent_pb2.Agent()
        if agent is not None:
            message.CopyFrom(agent)
        if model is not None:
            message.model.CopyFrom(model)
        if instructions:
            message.instructions = instructions
        if display_name:
            message.display_name = display_name
        if description:
            message.description = description
        if tools:
            message.tools[:] = list(tools)
        if approval_policy is not None:
            message.approval_policy.CopyFrom(approval_policy)
        if approval_mode:
            message.approval_policy.mode = approval_mode
        if limits is not None:
            message.limits.CopyFrom(limits)
        if runtime:
            message.runtime = runtime
        if response_format is not None:
            message.response_format.CopyFrom(to_struct(response_format))
        if labels:
            message.labels.update(labels)
        if sub_agents:
            message.sub_agents.extend(sub_agents)
        if toolsets:
            message.toolsets[:] = list(toolsets)
        if tool_execution is not None:
            message.tool_execution.CopyFrom(tool_execution)
        request = agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=message)
        response = await _unary(self._stubs.agents.CreateAgent(request, timeout=self._timeout))
        result: agent_pb2.Agent = response.agent
        return result

    async def get(self, agent_id: str) -> agent_pb2.Agent:
        """One agent (``GetAgent``). Raises ``NotFoundError`` if unknown."""
        request = agent_pb2.GetAgentRequest(agent_id=agent_id)
        response = await _unary(self._stubs.agents.GetAgent(request, timeout=self._timeout))
        result: agent_pb2.Agent = response.agent
        return result

    def list(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> AsyncPager[agent_pb2.Agent]:
        """Every agent, ordered by id (``ListAgents``, ``page_size`` per call);
        with ``labels``, only those carrying every pair (a page may then hold
        fewer than ``page_size``)."""

        async def fetch(token: str) -> Page[agent_pb2.Agent]:
            request = agent_pb2.ListAgentsRequest(
                page_size=page_size, page_token=token, labels=dict(labels or {})
            )
            response = await _unary(self._stubs.agents.ListAgents(request, timeout=self._timeout))
            return Page(list(response.agents), response.next_page_token)

        return AsyncPager(fetch, page_token)

    async def update(
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
        """Updates an agent (``UpdateAgent``).

        Either a whole ``agent`` (with ``update_mask`` naming the fields to
        replace; empty replaces every updatable field), or its id with the
        fields to change as keywords (the mask is those keywords).

        Raises:
            NotFoundError: unknown agent. AbortedError: ``etag`` (or
            ``agent.etag``) no longer matches. InvalidArgumentError: a bad field.
        """
        mask = list(update_mask)
        if isinstance(agent, str):
            message = agent_pb2.Agent(agent_id=agent)
        else:
            message = agent_pb2.Agent()
            message.CopyFrom(agent)
        if etag:
            message.etag = etag
        fields: dict[str, Any] = {
            "model": model,
            "instructions": instructions,
            "display_name": display_name,
            "description": description,
            "tools": tools,
            "approval_policy": approval_policy,
            "limits": limits,
            "labels": labels,
        }
        for name, value in fields.items():
            if value is None:
                continue
            if name in ("model", "approval_policy", "limits"):
                getattr(message, name).CopyFrom(value)
            elif name == "tools":
                message.tools[:] = list(value)
            elif name == "labels":  # replaced as a whole
                message.labels.clear()
                message.labels.update(value)
            else:
                setattr(message, name, value)
            mask.append(name)
        request = agent_pb2.UpdateAgentRequest(
            agent=message, update_mask=field_mask_pb2.FieldMask(paths=mask)
        )
        response = await _unary(self._stubs.agents.UpdateAgent(request, timeout=self._timeout))
        result: agent_pb2.Agent = response.agent
        return result

    async def delete(self, agent_id: str) -> None:
        """Deletes an agent (``DeleteAgent``). Raises ``NotFoundError`` if unknown."""
        request = agent_pb2.DeleteAgentRequest(agent_id=agent_id)
        await _unary(self._stubs.agents.DeleteAgent(request, timeout=self._timeout))

    async def list_tools(self, agent_id: str) -> builtins.list[agent_pb2.AgentTool]:
        """The tools a run of the agent offers its model, in that order
        (``ListAgentTools``): server tools, MCP toolset tools, sub-agents, each
        with its JSON Schema and whether a call needs an approval. Raises
        ``NotFoundError`` if the agent is unknown."""
        request = agent_pb2.ListAgentToolsRequest(agent_id=agent_id)
        response = await _unary(self._stubs.agents.ListAgentTools(request, timeout=self._timeout))
        return list(response.tools)


class AsyncRuns(_Resource):
    """``RunService``: starting, following, answering and cancelling runs."""

    async def _create_with_retry(self, send: Callable[[], Awaitable[T]]) -> T:
        """Sends a run creation, again (same request, same ``request_id``) after
        UNAVAILABLE, up to ``retry.max_attempts`` more times."""
        retry = self._client.retry
        attempt = 0
        while True:
            try:
                return await _unary(send())
            except UnavailableError:
                if attempt >= retry.max_attempts:
                    raise
                attempt += 1
                await asyncio.sleep(retry.delay(attempt))

    async def create(
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
    ) -> AsyncRun:
        """Starts a run (``CreateRun``) and returns its handle at once.

        Args:
            agent_id: The agent to run.
            prompt: The user message.
            thread_id: A thread to read history from and append to.
            client_tools: Tools this client executes, declared to the model.
            tools: Functions executing client tools by name; each one not in
                ``client_tools`` is declared too. Kept on the handle: its
                ``events()`` and ``wait()`` execute them.
            on_approval: Kept on the handle, for its ``events()`` and ``wait()``.
            request_id: Idempotency key; default: a new uuid4, reused by the
                retries of this call after UNAVAILABLE (never a second run).
            runtime: The runtime for this run (default: the agent's).
            labels: Key/value labels of the run (at most 32); ``runs.list``
                filters on them.
            overrides: Changes to the agent for this run only: instructions
                appended, sampling options, tighter limits (``Run.overrides``).

        Raises:
            NotFoundError: unknown agent or thread. AbortedError: the thread is
            busy. InvalidArgumentError: a bad field, or an override that
            loosens a limit or that a model of the agent cannot take.
            UnavailableError: retries exhausted (or reason ``DRAINING`` on every attempt).
        """
        request = run_service_pb2.CreateRunRequest(
            agent_id=agent_id,
            prompt=prompt,
            thread_id=thread_id,
            client_tools=_declare(client_tools, tools),
            request_id=request_id or _new_request_id(),
            runtime=runtime,
            labels=dict(labels or {}),
            overrides=overrides,
        )
        response = await self._create_with_retry(
            lambda: self._stubs.runs.CreateRun(request, timeout=self._timeout)
        )
        return AsyncRun(self._client, response.run, on_approval=on_approval, tools=tools)

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
    ) -> AsyncEventStream:
        """Starts a run and streams its events from the first (``StreamRun``,
        sent when iteration starts; resumed by itself, see ``AsyncEventStream``).

        ``async for event in client.runs.stream(...)`` handles each event;
        ``await client.runs.stream(...)`` runs it to its end and returns the
        run. Arguments as for ``create``; ``on_approval`` and ``tools`` answer
        the run's approvals and client tool calls as they come (keep
        ``approval_requested`` and ``client_tool_call_requested`` in a filter
        for them). ``profile`` (``EVENT_PROFILE_NO_DELTAS``, ...) or
        ``event_types`` (not both: INVALID_ARGUMENT) choose the events; the
        terminal event always comes, and resumes ask for the same events.
        """
        request = run_service_pb2.StreamRunRequest(
            agent_id=agent_id,
            prompt=prompt,
            thread_id=thread_id,
            client_tools=_declare(client_tools, tools),
            request_id=request_id or _new_request_id(),
            runtime=runtime,
            labels=dict(labels or {}),
            overrides=overrides,
            filter=_event_filter(profile, event_types),
        )
        return AsyncEventStream(
            self._client,
            start=request,
            on_approval=on_approval,
            tools=tools,
            heartbeats=heartbeats,
            on_resume=on_resume,
            event_filter=_event_filter(profile, event_types),
        )

    async def wait(
        self,
        agent_id: str,
        prompt: str,
        *,
        thread_id: str = "",
        client_tools: Sequence[run_pb2.ClientTool] = (),
        request_id: str = "",
        runtime: agent_pb2.Runtime = agent_pb2.RUNTIME_UNSPECIFIED,
        timeout: float | None = None,  # noqa: ASYNC109 - the server's wait, not ours
        labels: Mapping[str, str] | None = None,
        overrides: run_pb2.RunOverrides | None = None,
    ) -> run_pb2.Run:
        """Starts a run and waits until it ends, requires action, or ``timeout``
        seconds pass (``WaitRun``; server default 60 s); returns it as it is then.
        Retried after UNAVAILABLE with the same ``request_id``."""
        request = run_service_pb2.WaitRunRequest(
            agent_id=agent_id,
            prompt=prompt,
            thread_id=thread_id,
            client_tools=list(client_tools),
            request_id=request_id or _new_request_id(),
            runtime=runtime,
            labels=dict(labels or {}),
            overrides=overrides,
        )
        deadline = None
        if timeout is not None:
            seconds = int(timeout)
            request.timeout.CopyFrom(
                duration_pb2.Duration(seconds=seconds, nanos=int((timeout - seconds) * 1e9))
            )
            deadline = timeout + 30
        response = await self._create_with_retry(
            lambda: self._stubs.runs.WaitRun(request, timeout=deadline)
        )
        result: run_pb2.Run = response.run
        return result

    async def get(self, run_id: str) -> run_pb2.Run:
        """One run (``GetRun``). Raises ``NotFoundError`` if unknown."""
        request = run_service_pb2.GetRunRequest(run_id=run_id)
        response = await _unary(self._stubs.runs.GetRun(request, timeout=self._timeout))
        result: run_pb2.Run = response.run
        return result

    def handle(self, run_id: str) -> AsyncRun:
        """A handle on an existing run (no call is made; ``handle.run`` is empty
        until ``get``)."""
        return AsyncRun(self._client, run_pb2.Run(run_id=run_id))

    def list(
        self,
        *,
        agent_id: str = "",
        thread_id: str = "",
        state: run_pb2.RunState = run_pb2.RUN_STATE_UNSPECIFIED,
        page_size: int = 0,
        page_token: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> AsyncPager[run_pb2.Run]:
        """Runs, newest first, optionally of one agent, thread or state, and
        carrying every pair of ``labels`` (``ListRuns``; a filtered page may
        hold fewer than ``page_size``, even none, before the last)."""

        async def fetch(token: str) -> Page[run_pb2.Run]:
            request = run_service_pb2.ListRunsRequest(
                agent_id=agent_id,
                thread_id=thread_id,
                state=state,
                page_size=page_size,
                page_token=token,
                labels=dict(labels or {}),
            )
            response = await _unary(self._stubs.runs.ListRuns(request, timeout=self._timeout))
            return Page(list(response.runs), response.next_page_token)

        return AsyncPager(fetch, page_token)

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
    ) -> AsyncWatch[run_service_pb2.WatchRunsResponse]:
        """The caller's runs that match, then their changes (``WatchRuns``):
        without ``cursor``, every matching run (EXISTING), one SYNCED, then
        CREATED / UPDATED / ENDED as they happen; with ``cursor`` (a message's
        ``cursor``), only the changes after it. A change is sent when the run
        matches before or after it. Resumes by itself after a dropped
        connection or a draining server (``AsyncWatch``); no deadline.

        Raises (while iterating):
            OutOfRangeError: ``cursor`` is older than the changes kept (reason
                ``CURSOR_EXPIRED``): watch again without one.
        """
        request = run_service_pb2.WatchRunsRequest(
            agent_id=agent_id, thread_id=thread_id, states=list(states), labels=dict(labels or {})
        )

        def open_call(after: str) -> Any:
            request.cursor = after
            return self._stubs.runs.WatchRuns(request)

        return AsyncWatch(
            open_call,
            retry=self._client.retry,
            cursor=cursor,
            heartbeats=heartbeats,
            on_resume=on_resume,
        )

    async def cancel(self, run_id: str, *, reason: str = "") -> run_pb2.Run:
        """Cancels a run (``CancelRun``); returns it CANCELLING or already ended."""
        request = run_service_pb2.CancelRunRequest(run_id=run_id, reason=reason)
        response = await _unary(self._stubs.runs.CancelRun(request, timeout=self._timeout))
        result: run_pb2.Run = response.run
        return result

    async def pause(self, run_id: str, *, reason: str = "") -> run_pb2.Run:
        """Asks a run to pause at its next safe point, before its next model call
        or before the tool calls of the model reply in flight (``PauseRun``);
        it then logs ``state_changed`` PAUSED and waits for ``resume``. Its
        timeout keeps running; ``cancel`` still ends it.

        Args:
            run_id: The run.
            reason: Why, at most 4,000 characters; kept in the server log.

        Returns:
            The run when the request was recorded (usually still RUNNING);
            unchanged when it is paused already or has ended.

        Raises:
            NotFoundError: unknown run (``RUN_NOT_FOUND``).
            FailedPreconditionError: an in-process run sent to a replica that
                does not run it.
        """
        request = run_service_pb2.PauseRunRequest(run_id=run_id, reason=reason)
        response = await _unary(self._stubs.runs.PauseRun(request, timeout=self._timeout))
        result: run_pb2.Run = response.run
        return result

    async def resume(self, run_id: str) -> run_pb2.Run:
        """Continues a PAUSED run, or withdraws a pause it has not reached yet
        (``ResumeRun``); returns the run when the request was recorded
        (unchanged when neither, or ended). Raises as ``pause``."""
        request = run_service_pb2.ResumeRunRequest(run_id=run_id)
        response = await _unary(self._stubs.runs.ResumeRun(request, timeout=self._timeout))
        result: run_pb2.Run = response.run
        return result

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
    ) -> AsyncEventStream:
        """A run's events after ``after_sequence`` to its terminal event
        (``StreamRunEvents``; works on ended runs while their log is kept).
        Approvals and client tool calls logged before the stream opened are
        answered only while the run still waits for them. ``profile`` or
        ``event_types`` choose the events, as for ``stream``."""
        return AsyncEventStream(
            self._client,
            run_id=run_id,
            after_sequence=after_sequence,
            on_approval=on_approval,
            tools=tools,
            heartbeats=heartbeats,
            on_resume=on_resume,
            check_history=on_approval is not None or bool(tools),
            event_filter=_event_filter(profile, event_types),
        )

    def list_events(
        self,
        run_id: str,
        *,
        after_sequence: int = 0,
        page_size: int = 0,
        profile: event_pb2.EventProfile = event_pb2.EVENT_PROFILE_UNSPECIFIED,
        event_types: Sequence[event_pb2.EventType] = (),
    ) -> AsyncPager[event_pb2.RunEvent]:
        """A run's logged events, in sequence order (``ListRunEvents``); does not
        wait for more. ``profile`` or ``event_types`` choose the events, as for
        ``stream`` (a page of a sparse filter may hold fewer than ``page_size``)."""
        event_filter = _event_filter(profile, event_types)

        async def fetch(token: str) -> Page[event_pb2.RunEvent]:
            request = run_service_pb2.ListRunEventsRequest(
                run_id=run_id,
                after_sequence=after_sequence,
                page_size=page_size,
                page_token=token,
                filter=event_filter,
            )
            response = await _unary(self._stubs.runs.ListRunEvents(request, timeout=self._timeout))
            return Page(list(response.events), response.next_page_token)

        return AsyncPager(fetch)

    async def submit_tool_outputs(
        self, run_id: str, outputs: Sequence[run_pb2.ToolOutput]
    ) -> run_pb2.Run:
        """Answers client tool calls of a run that REQUIRES_ACTION (``SubmitToolOutputs``).

        Raises:
            FailedPreconditionError: the run does not wait for one of them.
        """
        request = run_service_pb2.SubmitToolOutputsRequest(run_id=run_id, tool_outputs=outputs)
        response = await _unary(self._stubs.runs.SubmitToolOutputs(request, timeout=self._timeout))
        result: run_pb2.Run = response.run
        return result

    async def submit_tool_output(
        self, run_id: str, tool_call_id: str, output: str, *, is_error: bool = False
    ) -> run_pb2.Run:
        """Answers one client tool call (``SubmitToolOutputs``)."""
        return await self.submit_tool_outputs(
            run_id,
            [run_pb2.ToolOutput(tool_call_id=tool_call_id, output=output, is_error=is_error)],
        )


class AsyncApprovals(_Resource):
    """``ApprovalService``: tool calls waiting for a person."""

    def list(
        self,
        *,
        run_id: str = "",
        state: approval_pb2.ApprovalState = approval_pb2.APPROVAL_STATE_UNSPECIFIED,
        page_size: int = 0,
        page_token: str = "",
    ) -> AsyncPager[approval_pb2.Approval]:
        """Approvals, newest first, optionally of one run or state (``ListApprovals``)."""

        async def fetch(token: str) -> Page[approval_pb2.Approval]:
            request = approval_pb2.ListApprovalsRequest(
                run_id=run_id, state=state, page_size=page_size, page_token=token
            )
            response = await _unary(
                self._stubs.approvals.ListApprovals(request, timeout=self._timeout)
            )
            return Page(list(response.approvals), response.next_page_token)

        return AsyncPager(fetch, page_token)

    def watch(
        self,
        *,
        run_id: str = "",
        agent_id: str = "",
        states: Sequence[approval_pb2.ApprovalState] = (),
        cursor: str = "",
        heartbeats: bool = False,
        on_resume: OnWatchResume | None = None,
    ) -> AsyncWatch[approval_pb2.WatchApprovalsResponse]:
        """The caller's approvals that match, then their changes
        (``WatchApprovals``), as ``runs.watch``: an inbox is
        ``watch(states=[APPROVAL_STATE_PENDING])`` (pending ones first, then each
        new one CREATED and each decided, expired or cancelled one ENDED).

        Raises (while iterating):
            OutOfRangeError: ``cursor`` is older than the changes kept (reason
                ``CURSOR_EXPIRED``): watch again without one.
        """
        request = approval_pb2.WatchApprovalsRequest(
            run_id=run_id, agent_id=agent_id, states=list(states)
        )

        def open_call(after: str) -> Any:
            request.cursor = after
            return self._stubs.approvals.WatchApprovals(request)

        return AsyncWatch(
            open_call,
            retry=self._client.retry,
            cursor=cursor,
            heartbeats=heartbeats,
            on_resume=on_resume,
        )

    async def get(self, approval_id: str) -> approval_pb2.Approval:
        """One approval (``GetApproval``). Raises ``NotFoundError`` if unknown."""
        request = approval_pb2.GetApprovalRequest(approval_id=approval_id)
        response = await _unary(self._stubs.approvals.GetApproval(request, timeout=self._timeout))
        result: approval_pb2.Approval = response.approval
        return result

    async def resolve(
        self,
        approval_id: str,
        approve: bool,
        *,
        reason: str = "",
        edited_arguments: Mapping[str, Any] | None = None,
    ) -> approval_pb2.Approval:
        """Approves (``approve=True``) or rejects a pending approval (``ResolveApproval``).

        Raises:
            NotFoundError: unknown approval. FailedPreconditionError
            (``APPROVAL_ALREADY_RESOLVED``): resolved otherwise, expired or
            cancelled. PermissionDeniedError: not one of the agent's approvers.
        """
        request = approval_pb2.ResolveApprovalRequest(
            approval_id=approval_id,
            decision=(
                approval_pb2.APPROVAL_DECISION_APPROVE
                if approve
                else approval_pb2.APPROVAL_DECISION_REJECT
            ),
            reason=reason,
        )
        if edited_arguments is not None:
            request.edited_arguments.CopyFrom(to_struct(edited_arguments))
        response = await _unary(
            self._stubs.approvals.ResolveApproval(request, timeout=self._timeout)
        )
        result: approval_pb2.Approval = response.approval
        return result

    async def approve(
        self,
        approval_id: str,
        *,
        reason: str = "",
        edited_arguments: Mapping[str, Any] | None = None,
    ) -> approval_pb2.Approval:
        """Approves, optionally with replacement arguments (see ``resolve``)."""
        return await self.resolve(
            approval_id, True, reason=reason, edited_arguments=edited_arguments
        )

    async def reject(self, approval_id: str, *, reason: str = "") -> approval_pb2.Approval:
        """Rejects; the model is told ``reason`` (see ``resolve``)."""
        return await self.resolve(approval_id, False, reason=reason)


class AsyncThreads(_Resource):
    """``ThreadService``: conversations that runs read and append to. (The
    service has no call listing threads.)"""

    async def create(
        self, thread_id: str = "", *, metadata: Mapping[str, str] | None = None
    ) -> thread_pb2.Thread:
        """Creates a thread (``CreateThread``); "" generates its id.
        Raises ``AlreadyExistsError`` if the id is taken."""
        request = thread_pb2.CreateThreadRequest(thread_id=thread_id, metadata=dict(metadata or {}))
        response = await _unary(self._stubs.threads.CreateThread(request, timeout=self._timeout))
        result: thread_pb2.Thread = response.thread
        return result

    async def get(self, thread_id: str) -> thread_pb2.Thread:
        """One thread (``GetThread``). Raises ``NotFoundError`` if unknown."""
        request = thread_pb2.GetThreadRequest(thread_id=thread_id)
        response = await _unary(self._stubs.threads.GetThread(request, timeout=self._timeout))
        result: thread_pb2.Thread = response.thread
        return result

    def messages(
        self, thread_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> AsyncPager[thread_pb2.Message]:
        """A thread's messages, oldest first (``ListThreadMessages``)."""

        async def fetch(token: str) -> Page[thread_pb2.Message]:
            request = thread_pb2.ListThreadMessagesRequest(
                thread_id=thread_id, page_size=page_size, page_token=token
            )
            response = await _unary(
                self._stubs.threads.ListThreadMessages(request, timeout=self._timeout)
            )
            return Page(list(response.messages), response.next_page_token)

        return AsyncPager(fetch, page_token)

    async def delete(self, thread_id: str) -> None:
        """Deletes a thread and its messages (``DeleteThread``).
        Raises ``FailedPreconditionError`` while a run on it goes on."""
        request = thread_pb2.DeleteThreadRequest(thread_id=thread_id)
        await _unary(self._stubs.threads.DeleteThread(request, timeout=self._timeout))


class AsyncTools(_Resource):
    """``ToolService``: the server's tools and MCP servers."""

    async def list(self) -> tool_pb2.ListToolsResponse:
        """Every tool of the server (built-in, Python, MCP) and every configured
        MCP server with its state, each ordered by name (``ListTools``)."""
        stub = tool_pb2_grpc.ToolServiceStub(self._stubs.channel)
        response: tool_pb2.ListToolsResponse = await _unary(
            stub.ListTools(tool_pb2.ListToolsRequest(), timeout=self._timeout)
        )
        return response


def resolve_address(address: str | None) -> str:
    """``address``, else ``RUNWIRE_ADDRESS``, else ``127.0.0.1:50051``."""
    return address or os.environ.get(ENV_ADDRESS, "") or DEFAULT_ADDRESS


class AsyncClient:
    """Runwire's asyncio client: ``client.agents``, ``client.runs``,
    ``client.approvals``, ``client.threads``, ``client.tools``.

    Open it with ``runwire.connect_async(address, ...)`` or ``AsyncClient(...)``
    inside a running event loop, close it with ``await client.close()`` or an
    ``async with`` block. TLS and the token come from the arguments, else from
    the environment (``RUNWIRE_TOKEN``, ``RUNWIRE_CA_FILE`` ...; see
    ``runwire.Credentials``); nothing is sent until the first call.

    Args:
        address: ``host:port``, ``unix:PATH`` or any gRPC target; None reads
            ``RUNWIRE_ADDRESS`` (default ``127.0.0.1:50051``).
        token, tls, ca_file, client_cert_file, client_key_file, server_name:
            As for ``runwire.Stubs.connect``; None reads the environment.
        credentials: All of them at once (the environment is not read).
        options: gRPC channel arguments.
        timeout: Deadline of each unary call, seconds; None: none.
        retry: Resume and retry policy of streams and run creations.
        stubs: Use these stubs (and their channel) instead of opening a channel.

    Attributes:
        stubs: The generated stubs the client calls (the seam tests replace
            methods of).
        address: The server's address.
        timeout: Deadline of each unary call, seconds.
        retry: The resume and retry policy.
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
        stubs: Stubs | None = None,
    ) -> None:
        self.stubs = stubs or Stubs.connect(
            resolve_address(address),
            options=options,
            token=token,
            ca_file=ca_file,
            client_cert_file=client_cert_file,
            client_key_file=client_key_file,
            server_name=server_name,
            tls=tls,
            credentials=credentials,
        )
        self.address = self.stubs.address
        self.timeout = timeout
        self.retry = retry or Retry()
        self.agents = AsyncAgents(self)
        self.runs = AsyncRuns(self)
        self.approvals = AsyncApprovals(self)
        self.threads = AsyncThreads(self)
        self.tools = AsyncTools(self)

    def __repr__(self) -> str:
        return f"AsyncClient({self.address!r})"

    async def close(self) -> None:
        """Closes the channel, cancelling calls still open."""
        await self.stubs.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


def connect_async(
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
) -> AsyncClient:
    """An ``AsyncClient`` for ``address`` (call it inside the event loop that uses it):
    ``async with runwire.connect_async("127.0.0.1:50051") as client: ...``.
    Arguments as for ``AsyncClient``.

    Raises:
        ValueError: a client certificate without its key, or the reverse.
        OSError: a certificate or key file cannot be read.
    """
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
