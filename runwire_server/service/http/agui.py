"""The AG-UI endpoint: ``POST {prefix}/{agent_id}``, AG-UI's ``RunAgentInput`` in,
AG-UI events out over server-sent events (docs/agui.md).

One request is one AG-UI run. Every Runwire call goes through ``Calls`` (the
caller admitted from its ``Authorization`` header for each RPC, then the
servicer with its validation, tenants and quotas), so the endpoint can do
nothing a gRPC client with the same token could not.

- ``threadId`` names a Runwire thread (created when unknown).
- When no run of the thread is under way, the last ``user`` message is the
  prompt of a new run (``StreamRun``; the thread keeps the history), AG-UI
  ``tools`` are its client tools.
- When one is (it waits for a frontend tool result or an approval, or the
  previous response was cut), the request continues it: ``tool`` messages
  answering its waiting client tool calls go to ``SubmitToolOutputs``,
  ``resume`` entries answering its approvals (interrupt id = approval id) to
  ``ResolveApproval``; then the run's events after the last one delivered are
  streamed (``StreamRunEvents``; where the last response stopped is kept in the
  AG-UI state under ``runwire``).
- The response ends with ``RUN_FINISHED`` when the run ends or waits for the
  caller (``agui_translate.RunTranslator``), with ``RUN_ERROR`` when it fails;
  the run goes on if the client disconnects.

Errors before the stream starts are an HTTP status with a JSON body
``{code, message, reason}`` (``code`` as Connect names gRPC codes, ``reason`` the
``ErrorInfo`` reason); after it started, a ``RUN_ERROR`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
from ag_ui.core import (
    BaseEvent,
    RunAgentInput,
    RunErrorEvent,
    RunStartedEvent,
    ToolMessage,
    UserMessage,
)
from ag_ui.encoder import EventEncoder
from google.protobuf.message import Message
from google.rpc import status_pb2
from pydantic import ValidationError
from runwire.v1 import (
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
)

from runwire_server.service.core.errors import (
    AbortedError,
    FailedPreconditionError,
    InvalidArgumentError,
    RunwireError,
)
from runwire_server.service.http.agui_translate import (
    STATE_KEY,
    RunTranslator,
    error_reason,
    is_terminal,
)
from runwire_server.service.http.asgi import ASGIApp, Receive, Scope, Send, json_response
from runwire_server.service.http.calls import CallFailed, Calls

logger = logging.getLogger(__name__)

GET_THREAD = "/runwire.v1.ThreadService/GetThread"
CREATE_THREAD = "/runwire.v1.ThreadService/CreateThread"
LIST_RUNS = "/runwire.v1.RunService/ListRuns"
STREAM_RUN = "/runwire.v1.RunService/StreamRun"
STREAM_RUN_EVENTS = "/runwire.v1.RunService/StreamRunEvents"
SUBMIT_TOOL_OUTPUTS = "/runwire.v1.RunService/SubmitToolOutputs"
RESOLVE_APPROVAL = "/runwire.v1.ApprovalService/ResolveApproval"

#: What an agent id in the path may be (``StreamRunRequest.agent_id``'s bounds).
AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: Bodies larger than this are parsed off the event loop, in bytes.
OFF_LOOP_PARSE_BYTES = 64 * 1024
#: Seconds without an event after which a run that waits for the caller ends
#: the response although a call of its round has not started (calls run one
#: after the other): the rest comes in the response to the answer.
SETTLE_QUIET_SECONDS = 1.0
#: Runs of a thread looked at to find the one under way.
THREAD_RUNS_PAGE = 10
#: Longest error message of an HTTP error body, in characters.
MAX_ERROR_CHARS = 2000

#: HTTP status of each gRPC status code (Connect's mapping).
HTTP_STATUS = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_CODES = {code.value[0]: code for code in grpc.StatusCode}
_ENCODER = EventEncoder()
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store"),
    (b"x-accel-buffering", b"no"),
]
#: Sent for a Runwire heartbeat: an SSE comment, which clients skip.
KEEPALIVE = b": keepalive\n\n"


class _HttpError(Exception):
    """An error answered with an HTTP status before any SSE byte."""

    def __init__(self, status: int, code: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message[:MAX_ERROR_CHARS], "reason": reason}


def _from_status(status: status_pb2.Status) -> _HttpError:
    code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
    return _HttpError(
        HTTP_STATUS.get(code, 500),
        code.name.lower(),
        status.message,
        error_reason(status) or code.name,
    )


def _from_error(error: RunwireError) -> _HttpError:
    return _from_status(CallFailed.of(error).status)


class _Disconnected(Exception):
    """The client went away."""


@dataclass
class _Request:
    agent_id: str
    authorization: str | None
    input: RunAgentInput


class _Caller:
    """One request's calls: each RPC path admitted once, then called."""

    def __init__(self, calls: Calls, authorization: str | None) -> None:
        self._calls = calls
        self._authorization = authorization
        self._admitted: set[str] = set()

    async def admit(self, path: str) -> None:
        if path not in self._admitted:
            await self._calls.admit(path, self._authorization)
            self._admitted.add(path)

    async def unary(self, path: str, request: Message) -> Message:
        await self.admit(path)
        return await self._calls.unary(path, request)

    async def stream(self, path: str, request: Message) -> AsyncIterator[Message]:
        await self.admit(path)
        return self._calls.server_stream(path, request)


# -- the request -------------------------------------------------------------


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise _from_error(InvalidArgumentError("bad content-length header")) from None
            if declared > limit:
                raise _too_large(declared, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(size: int, limit: int) -> _HttpError:
    return _HttpError(
        413,
        "resource_exhausted",
        f"the request body is {size} bytes or more, over http_max_request_bytes ({limit})",
        "QUOTA_EXCEEDED",
    )


def _parse(body: bytes) -> RunAgentInput:
    """The body as a ``RunAgentInput``.

    Raises:
        _HttpError: 400, not JSON or not a RunAgentInput (pydantic's messages).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _from_error(InvalidArgumentError(f"the body is not JSON: {exc}")) from None
    if not isinstance(data, dict):
        raise _from_error(InvalidArgumentError("the body is not a JSON object (RunAgentInput)"))
    try:
        return RunAgentInput.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)[:20]
        )
        raise _from_error(InvalidArgumentError(f"not a RunAgentInput: {problems}")) from None


def _text(content: object) -> str:
    """A message's text: the string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(getattr(part, "text", "")) for part in content if part.type == "text")
    return ""


def _client_tools(data: RunAgentInput) -> list[run_pb2.ClientTool]:
    tools: list[run_pb2.ClientTool] = []
    for index, tool in enumerate(data.tools or ()):
        client_tool = run_pb2.ClientTool(name=tool.name, description=tool.description)
        if tool.parameters is not None:
            if not isinstance(tool.parameters, dict):
                raise _from_error(
                    InvalidArgumentError(
                        f"tools[{index}].parameters is not a JSON object",
                        field_violations={f"tools[{index}].parameters": "not a JSON object"},
                    )
                )
            try:
                client_tool.parameters.update(tool.parameters)
            except (ValueError, TypeError) as exc:
                raise _from_error(
                    InvalidArgumentError(f"tools[{index}].parameters: {exc}")
                ) from None
        tools.append(client_tool)
    return tools


def _prompt(data: RunAgentInput) -> str:
    last = data.messages[-1] if data.messages else None
    if not isinstance(last, UserMessage):
        raise _from_error(
            InvalidArgumentError(
                "nothing to run: the last message is not a user message, and no run of "
                f"thread {data.thread_id!r} waits for an answer"
            )
        )
    prompt = _text(last.content)
    if not prompt.strip():
        raise _from_error(InvalidArgumentError("the last user message has no text"))
    return prompt


def _delivered(data: RunAgentInput, run: run_pb2.Run) -> int:
    """Where the previous response of this run stopped: the sequence kept in
    the AG-UI state (when it names this run), else the run's last sequence.

    The state's sequence may be past the run record's ``last_sequence``: on
    Temporal the record follows the log with a lag, and the previous response
    may have delivered the run's end already. A sequence past the log's end
    (a state the caller made up) stops the replay once the log is idle."""
    state = data.state
    if isinstance(state, dict):
        kept = state.get(STATE_KEY)
        if isinstance(kept, dict) and kept.get("runId") == run.run_id:
            sequence = kept.get("sequence")
            if isinstance(sequence, int) and not isinstance(sequence, bool) and sequence >= 0:
                return sequence
    return run.last_sequence


def _decision(entry: Any) -> approval_pb2.ResolveApprovalRequest:
    """A resume entry as a ResolveApproval request (interrupt id = approval id).

    ``cancelled`` rejects; ``resolved`` takes its payload: ``true``/``false``, or
    ``{"approved": bool, "reason"?: str, "editedArguments"?: object}``.
    """
    request = approval_pb2.ResolveApprovalRequest(approval_id=entry.interrupt_id)
    if entry.status == "cancelled":
        request.decision = approval_pb2.APPROVAL_DECISION_REJECT
        request.reason = "the interrupt was cancelled"
        return request
    payload = entry.payload
    if isinstance(payload, bool):
        payload = {"approved": payload}
    if not isinstance(payload, dict) or not isinstance(payload.get("approved"), bool):
        raise _from_error(
            InvalidArgumentError(
                f"resume entry {entry.interrupt_id!r}: the payload must be true, false or "
                '{"approved": bool, "reason"?: string, "editedArguments"?: object}'
            )
        )
    approved = payload["approved"]
    request.decision = (
        approval_pb2.APPROVAL_DECISION_APPROVE
        if approved
        else approval_pb2.APPROVAL_DECISION_REJECT
    )
    reason = payload.get("reason")
    if reason is not None:
        if not isinstance(reason, str):
            raise _from_error(
                InvalidArgumentError(f"resume entry {entry.interrupt_id!r}: reason is not a string")
            )
        request.reason = reason
    edited = payload.get("editedArguments")
    if edited is not None:
        if not isinstance(edited, dict):
            raise _from_error(
                InvalidArgumentError(
                    f"resume entry {entry.interrupt_id!r}: editedArguments is not an object"
                )
            )
        try:
            request.edited_arguments.update(edited)
        except (ValueError, TypeError) as exc:
            raise _from_error(
                InvalidArgumentError(f"resume entry {entry.interrupt_id!r}: {exc}")
            ) from None
    return request


def _tool_outputs(data: RunAgentInput, waiting: Sequence[str]) -> list[run_pb2.ToolOutput]:
    """The request's ``tool`` messages that answer the waiting client tool calls."""
    outputs: dict[str, run_pb2.ToolOutput] = {}
    for message in data.messages:
        if isinstance(message, ToolMessage) and message.tool_call_id in waiting:
            text = _text(message.content)
            if message.error:
                outputs[message.tool_call_id] = run_pb2.ToolOutput(
                    tool_call_id=message.tool_call_id, output=text or message.error, is_error=True
                )
            else:
                outputs[message.tool_call_id] = run_pb2.ToolOutput(
                    tool_call_id=message.tool_call_id, output=text
                )
    return list(outputs.values())


def _request_id(data: RunAgentInput) -> str:
    """The idempotency key of the run an AG-UI run starts: a retried request
    (same thread and run ids) gets the same Runwire run."""
    digest = hashlib.sha256(f"{data.thread_id}\n{data.run_id}".encode()).hexdigest()
    return f"agui-{digest[:40]}"


# -- the run -----------------------------------------------------------------


async def _ensure_thread(caller: _Caller, thread_id: str) -> None:
    try:
        await caller.unary(GET_THREAD, thread_pb2.GetThreadRequest(thread_id=thread_id))
        return
    except CallFailed as failed:
        if error_reason(failed.status) != "THREAD_NOT_FOUND":
            raise
    try:
        await caller.unary(CREATE_THREAD, thread_pb2.CreateThreadRequest(thread_id=thread_id))
    except CallFailed as failed:
        if error_reason(failed.status) != "THREAD_ALREADY_EXISTS":
            raise


async def _active_run(caller: _Caller, thread_id: str) -> run_pb2.Run | None:
    """The thread's run that has not ended (a thread has one at a time), if any."""
    response = cast(
        "run_service_pb2.ListRunsResponse",
        await caller.unary(
            LIST_RUNS,
            run_service_pb2.ListRunsRequest(thread_id=thread_id, page_size=THREAD_RUNS_PAGE),
        ),
    )
    for run in response.runs:
        if not is_terminal(run.state):
            return run
    return None


class _Feed:
    """A Runwire event stream read by its own task into a queue, so the reader
    can wait with a deadline without cancelling the stream."""

    _END = object()

    def __init__(self, stream: AsyncIterator[Message]) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(stream), name="runwire-agui-feed")

    async def _pump(self, stream: AsyncIterator[Message]) -> None:
        try:
            async with contextlib.aclosing(cast("Any", stream)) as events:
                async for response in events:
                    await self._queue.put(cast("Any", response).event)
        except CallFailed as failed:
            await self._queue.put(failed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: the response ends with RUN_ERROR
            logger.exception("the AG-UI event feed failed")
            await self._queue.put(exc)
        await self._queue.put(self._END)

    async def next(self, within: float | None = None) -> event_pb2.RunEvent | None:
        """The next event; None when the stream ended.

        Raises:
            TimeoutError: none within ``within`` seconds.
            CallFailed: the stream failed.
        """
        async with asyncio.timeout(within):
            item = await self._queue.get()
        if item is self._END:
            self._queue.put_nowait(item)
            return None
        if isinstance(item, BaseException):
            raise item
        return cast("event_pb2.RunEvent", item)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class _Sse:
    """The SSE response: started once, then events and comments."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def start(self) -> None:
        await self._send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        self.started = True

    async def events(self, events: Sequence[BaseEvent]) -> None:
        if events:
            data = "".join(_ENCODER.encode(event) for event in events).encode()
            await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def comment(self) -> None:
        await self._send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})

    async def end(self) -> None:
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})


async def _stream_to_end(feed: _Feed, translator: RunTranslator, sse: _Sse) -> None:
    """Sends the run's events until it ends, or until it waits for the caller
    (then ``RUN_FINISHED`` with the interrupts or pending tool calls)."""
    if translator.settled():
        await sse.events(translator.finish_waiting())
        return
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while True:
        timeout = None
        if translator.waiting():
            timeout = max(0.0, quiet_since + SETTLE_QUIET_SECONDS - loop.time())
        try:
            event = await feed.next(timeout)
        except TimeoutError:
            await sse.events(translator.finish_waiting())
            return
        if event is None:
            await sse.events(
                [
                    RunErrorEvent(
                        message="the run's event stream ended before the run did",
                        code="UNAVAILABLE",
                    )
                ]
            )
            return
        if event.HasField("heartbeat"):
            await sse.comment()
            continue
        quiet_since = loop.time()
        await sse.events(translator.feed(event))
        if translator.terminal:
            return
        if translator.settled():
            await sse.events(translator.finish_waiting())
            return


async def _start(
    request: _Request, caller: _Caller, sse: _Sse, translator: RunTranslator
) -> tuple[_Feed, RunTranslator]:
    """Starts a run on the request's last user message (``StreamRun``); returns
    its feed once its first event came, with the SSE response started."""
    data = request.input
    if data.resume:
        raise _from_error(
            FailedPreconditionError(
                f"no run of thread {data.thread_id!r} waits for interrupt "
                f"{data.resume[0].interrupt_id!r}",
                reason="APPROVAL_NOT_PENDING",
            )
        )
    stream_request = run_service_pb2.StreamRunRequest(
        agent_id=request.agent_id,
        thread_id=data.thread_id,
        prompt=_prompt(data),
        client_tools=_client_tools(data),
        request_id=_request_id(data),
    )
    feed = _Feed(await caller.stream(STREAM_RUN, stream_request))
    try:
        first = await feed.next()
    except BaseException:
        await feed.close()
        raise
    await sse.start()
    await sse.events(_run_started(data))
    if first is not None and not first.HasField("heartbeat"):
        await sse.events(translator.feed(first))
    return feed, translator


async def _serve(
    request: _Request, caller: _Caller, sse: _Sse, state_is_object: bool
) -> tuple[_Feed, RunTranslator]:
    """Does what the request asks before the stream starts: the thread, the
    answers, the run; returns the feed to stream and the translator, with the
    SSE response started.

    Raises:
        CallFailed, _HttpError: before the response started.
    """
    data = request.input
    await _ensure_thread(caller, data.thread_id)
    translator = RunTranslator(data.thread_id, data.run_id, state_is_object=state_is_object)
    run = await _active_run(caller, data.thread_id)
    if run is None:
        return await _start(request, caller, sse, translator)
    if run.agent_id != request.agent_id:
        raise _from_error(
            AbortedError(
                f"thread {data.thread_id!r} has a run of agent {run.agent_id!r} under way",
                reason="THREAD_BUSY",
            )
        )
    delivered = _delivered(data, run)
    feed = _Feed(
        await caller.stream(
            STREAM_RUN_EVENTS, run_service_pb2.StreamRunEventsRequest(run_id=run.run_id)
        )
    )
    try:
        # Replay what was delivered before (folded, not sent), then answer.
        while translator.sequence < delivered:
            event = await feed.next()
            if event is None or event.HasField("heartbeat"):
                break  # the end, or an idle log: everything logged was read
            translator.feed(event)
        if translator.terminal:
            # The run ended (its record lags behind its log): a new run.
            await feed.close()
            fresh = RunTranslator(data.thread_id, data.run_id, state_is_object=state_is_object)
            return await _start(request, caller, sse, fresh)
        await _answer(caller, data, translator)
    except BaseException:
        await feed.close()
        raise
    await sse.start()
    await sse.events([*_run_started(data), *translator.reopen(), translator.state_event()])
    return feed, translator


async def _answer(caller: _Caller, data: RunAgentInput, translator: RunTranslator) -> None:
    """Submits the request's tool results and resume decisions to the run."""
    decisions = []
    for entry in data.resume or ():
        if entry.interrupt_id not in translator.approvals:
            raise _from_error(
                FailedPreconditionError(
                    f"resume names interrupt {entry.interrupt_id!r}, which the run of thread "
                    f"{data.thread_id!r} does not wait for",
                    reason="APPROVAL_NOT_PENDING",
                )
            )
        decisions.append(_decision(entry))
    outputs = _tool_outputs(data, list(translator.pending_client))
    if outputs:
        await caller.unary(
            SUBMIT_TOOL_OUTPUTS,
            run_service_pb2.SubmitToolOutputsRequest(
                run_id=translator.run_id, tool_outputs=outputs
            ),
        )
        translator.answered_calls.update(o.tool_call_id for o in outputs)
    for decision in decisions:
        await caller.unary(RESOLVE_APPROVAL, decision)
        translator.answered_approvals.add(decision.approval_id)


def _run_started(data: RunAgentInput) -> list[BaseEvent]:
    return [RunStartedEvent(thread_id=data.thread_id, run_id=data.run_id)]


# -- the application ---------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return cast("bytes", value).decode("latin-1")
    return None


async def _watch_disconnect(receive: Receive, task: asyncio.Task[Any], gone: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone.set()
            task.cancel()
            return


async def _report(sse: _Sse, send: Send, error: _HttpError) -> None:
    """An error: the HTTP status and JSON body, or ``RUN_ERROR`` once streaming."""
    if not sse.started:
        await json_response(send, error.status, error.body)
        return
    await sse.events([RunErrorEvent(message=error.body["message"], code=error.body["reason"])])


async def _handle(
    calls: Calls, scope: Scope, receive: Receive, send: Send, *, agent_id: str, limit: int
) -> None:
    """One AG-UI request to ``agent_id``, from its body to its last event."""
    sse = _Sse(send)
    gone = asyncio.Event()
    task = asyncio.current_task()
    assert task is not None
    watcher: asyncio.Task[None] | None = None
    feed: _Feed | None = None
    try:
        authorization = _header(scope, b"authorization")
        caller = _Caller(calls, authorization)
        # Authenticate first: nothing is read or parsed for a stranger.
        await caller.admit(GET_THREAD)
        body = await _read_body(scope, receive, limit)
        if len(body) > OFF_LOOP_PARSE_BYTES:
            data = await asyncio.to_thread(_parse, body)
        else:
            data = _parse(body)
        watcher = asyncio.create_task(_watch_disconnect(receive, task, gone))
        request = _Request(agent_id, authorization, data)
        feed, translator = await _serve(
            request, caller, sse, state_is_object=isinstance(data.state, dict)
        )
        await _stream_to_end(feed, translator, sse)
    except _Disconnected:
        return
    except asyncio.CancelledError:
        if not gone.is_set():
            raise
        task.uncancel()
        return
    except (CallFailed, _HttpError) as exc:
        await _report(sse, send, _from_status(exc.status) if isinstance(exc, CallFailed) else exc)
    except Exception:
        logger.exception("the AG-UI endpoint failed")
        await _report(sse, send, _HttpError(500, "internal", "internal error", "INTERNAL"))
    finally:
        if watcher is not None:
            watcher.cancel()
        if feed is not None:
            await feed.close()
    if sse.started and not gone.is_set():
        with contextlib.suppress(Exception):
            await sse.end()


def agui_application(calls: Calls, *, prefix: str, max_request_bytes: int) -> ASGIApp:
    """``POST {prefix}/{agent_id}``: AG-UI's RunAgentInput in, AG-UI events out over SSE.

    Args:
        calls: Runwire's RPCs, admitted and checked as on gRPC.
        prefix: The path prefix (``agui_path``).
        max_request_bytes: Largest body read; larger is 413.

    Responses: 200 ``text/event-stream`` of AG-UI events; before the stream,
    400 (bad JSON, not a RunAgentInput, a Runwire validation error, nothing to
    run), 401, 403, 404 (unknown agent or path), 405 (not POST), 409 (the
    thread's run belongs to another agent), 413 (body over
    ``max_request_bytes``), 429 (quotas), 503 (draining), with a JSON body
    ``{code, message, reason}``.
    """
    base = prefix.rstrip("/") + "/"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        agent_id = cast("str", scope["path"])[len(base) :]
        if not AGENT_ID.match(agent_id):
            await json_response(
                send,
                404,
                {
                    "code": "not_found",
                    "message": f"no AG-UI endpoint at {scope['path']}: POST {base}{{agent_id}}",
                    "reason": "NOT_FOUND",
                },
            )
            return
        if scope["method"] != "POST":
            await json_response(
                send,
                405,
                {
                    "code": "invalid_argument",
                    "message": f"{scope['method']} is not allowed: POST a RunAgentInput",
                    "reason": "INVALID_ARGUMENT",
                },
            )
            return
        await _handle(calls, scope, receive, send, agent_id=agent_id, limit=max_request_bytes)

    return app


__all__ = ["HTTP_STATUS", "KEEPALIVE", "agui_application"]
