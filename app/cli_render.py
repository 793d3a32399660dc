"""Streaming a run to the terminal, shared by ``runwire run`` and ``runwire demo``.

``stream_run`` calls ``RunService.StreamRun``, renders every event with a
``Renderer`` (assistant text as it streams, tool calls, dimmed tool results),
asks a ``Decide`` callback about every approval and resolves it through
``ApprovalService.ResolveApproval``, and resumes with ``StreamRunEvents`` when
the stream breaks. ``describe_rpc_error`` turns a failed call into the one
line shown to users.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console
from rich.prompt import Confirm
from rich.text import Text
from runwire.v1 import (
    agent_pb2_grpc,
    approval_pb2,
    approval_pb2_grpc,
    event_pb2,
    run_pb2,
    run_service_pb2,
    run_service_pb2_grpc,
)

#: Resume attempts in a row (without a new event between them) after a broken stream.
MAX_RESUMES = 3

#: The reason sent with a rejection typed at the terminal.
REJECT_REASON = "rejected at the terminal"

#: Longest tool result shown, in characters; the rest is elided.
MAX_RESULT_CHARS = 400

T = TypeVar("T")

#: Decides one approval: True approves, False rejects. May print (through the renderer).
Decide = Callable[[event_pb2.ApprovalRequested], Awaitable[bool]]


@dataclass
class Stubs:
    """The generated async stubs on one channel. Close with ``await stubs.close()``."""

    address: str
    channel: Any
    agents: Any
    runs: Any
    approvals: Any

    @classmethod
    def connect(cls, address: str) -> Stubs:
        """Opens a plaintext channel to ``address`` (``host:port`` or ``unix:PATH``);
        nothing is sent until the first call."""
        channel = grpc.aio.insecure_channel(address)
        return cls(
            address=address,
            channel=channel,
            agents=agent_pb2_grpc.AgentServiceStub(channel),
            runs=run_service_pb2_grpc.RunServiceStub(channel),
            approvals=approval_pb2_grpc.ApprovalServiceStub(channel),
        )

    async def close(self) -> None:
        """Closes the channel, cancelling calls still open."""
        await self.channel.close()


@dataclass
class RunOutcome:
    """How a streamed run ended.

    Attributes:
        run_id: The run's id.
        state: The terminal ``run_pb2.RunState``.
        finish_reason: "stop", "max_iterations", "timeout", "cancelled" or "error".
        output: The final text (empty unless SUCCEEDED).
        usage: Tokens of the whole run.
        error: The failure's message when FAILED, else empty.
        events: Logged events received (heartbeats not counted).
    """

    run_id: str
    state: int
    finish_reason: str
    output: str
    usage: run_pb2.Usage
    error: str = ""
    events: int = 0

    @property
    def state_name(self) -> str:
        """The state without its prefix: ``SUCCEEDED``, ``FAILED``, ``CANCELLED``."""
        return run_pb2.RunState.Name(self.state).removeprefix("RUN_STATE_")

    @property
    def succeeded(self) -> bool:
        """True when the run SUCCEEDED."""
        return self.state == run_pb2.RUN_STATE_SUCCEEDED


class StreamBrokenError(Exception):
    """The event stream ended or broke before the terminal event, and resuming failed."""


def error_reason(error: Any) -> str:
    """The ``google.rpc.ErrorInfo.reason`` of a failed call, or "" if it has none."""
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        return ""
    if status is None:
        return ""
    info = error_details_pb2.ErrorInfo()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
            return str(info.reason)
    return ""


def _unreachable_because(details: str) -> str:
    lowered = details.lower()
    for needle, why in (
        ("connection refused", "connection refused"),
        ("no such file or directory", "no such socket file"),
        ("permission denied", "permission denied"),
        ("domain name not found", "unknown host"),
        ("lookup", "unknown host"),
        ("timed out", "connection timed out"),
        ("deadline", "connection timed out"),
        ("connection reset", "connection reset"),
        ("socket closed", "connection closed"),
    ):
        if needle in lowered:
            return why
    return details or "unavailable"


def describe_rpc_error(error: Any, address: str) -> str:
    """One line about a failed call (a ``grpc.aio.AioRpcError``).

    Returns:
        ``cannot reach Runwire at ADDRESS: WHY`` when the server could not be
        reached, else ``CODE: MESSAGE (reason REASON)``.
    """
    code = error.code()
    details = str(error.details() or "")
    reason = error_reason(error)
    if code == grpc.StatusCode.UNAVAILABLE and not reason:
        return f"cannot reach Runwire at {address}: {_unreachable_because(details)}"
    line = f"{code.name}: {details}"
    return f"{line} (reason {reason})" if reason else line


def tool_label(name: str, arguments: str) -> str:
    """``name({"key": "value"})`` with the JSON arguments on one line."""
    try:
        shown = json.dumps(json.loads(arguments), ensure_ascii=False) if arguments else "{}"
    except ValueError:
        shown = arguments
    return f"{name}({shown})"


def _short(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


@dataclass
class Renderer:
    """Prints run events to a rich console: text deltas as they come (no newline per
    delta), tool calls, dimmed tool results, approval outcomes and run errors."""

    console: Console
    _names: dict[str, str] = field(default_factory=dict)
    _args: dict[str, list[str]] = field(default_factory=dict)
    _mid_line: bool = False

    def line(self, text: str | Text, style: str = "") -> None:
        """Prints one line, first ending a line of streamed text if one is open."""
        if self._mid_line:
            self.console.print()
            self._mid_line = False
        shown = text if isinstance(text, Text) else Text(text, style=style)
        self.console.print(shown, soft_wrap=True)

    def prompt(self, text: str) -> None:
        """Prints ``text`` without a newline (for an answer read from stdin next)."""
        self.line_break()
        self.console.print(Text(text, style="bold yellow"), end="", soft_wrap=True)

    def line_break(self) -> None:
        """Ends a line of streamed text if one is open."""
        if self._mid_line:
            self.console.print()
            self._mid_line = False

    def tool_label(self, tool_call_id: str, name: str, arguments: str) -> str:
        """The label of a tool call, using the arguments streamed so far if it is known."""
        streamed = "".join(self._args.get(tool_call_id, []))
        return tool_label(self._names.get(tool_call_id, name), arguments or streamed)

    def render(self, event: event_pb2.RunEvent) -> None:
        """Prints one event; events without a visible effect print nothing."""
        kind = event.WhichOneof("payload")
        if kind == "text_message_content":
            delta = event.text_message_content.delta
            if delta:
                self.console.print(Text(delta), end="", soft_wrap=True)
                self._mid_line = not delta.endswith("\n")
        elif kind == "text_message_end":
            self.line_break()
        elif kind == "tool_call_start":
            start = event.tool_call_start
            self._names[start.tool_call_id] = start.tool_call_name
            self._args[start.tool_call_id] = []
        elif kind == "tool_call_args":
            self._args.setdefault(event.tool_call_args.tool_call_id, []).append(
                event.tool_call_args.delta
            )
        elif kind == "tool_call_end":
            call_id = event.tool_call_end.tool_call_id
            self.line(f"→ {self.tool_label(call_id, '?', '')}", style="cyan")
        elif kind == "tool_call_result":
            result = event.tool_call_result
            style = "red" if result.is_error else "dim"
            self.line(f"← {_short(result.content)}", style=style)
        elif kind == "approval_resolved":
            self._render_resolved(event.approval_resolved)
        elif kind == "client_tool_call_requested":
            request = event.client_tool_call_requested
            self.line(
                f"client tool call {tool_label(request.tool_name, request.arguments)} "
                "waits for SubmitToolOutputs",
                style="yellow",
            )
        elif kind == "run_error":
            error = event.run_error.error
            code = _code_name(error.code)
            self.line(f"run failed: {code}: {error.message}", style="bold red")
        elif kind == "run_finished":
            self.line_break()

    def _render_resolved(self, resolved: event_pb2.ApprovalResolved) -> None:
        state = approval_pb2.ApprovalState.Name(resolved.state).removeprefix("APPROVAL_STATE_")
        text = f"  {state.lower()}"
        if resolved.resolved_by:
            text += f" by {resolved.resolved_by}"
        if resolved.reason:
            text += f": {resolved.reason}"
        self.line(text, style="dim")

    def summary(self, outcome: RunOutcome) -> Text:
        """``STATE · finish reason R · tokens T (in I, out O)``, coloured by outcome."""
        usage = outcome.usage
        text = Text()
        text.append(outcome.state_name, style="bold green" if outcome.succeeded else "bold red")
        text.append(f" · finish reason {outcome.finish_reason or '-'}")
        text.append(
            f" · tokens {usage.total_tokens} (in {usage.input_tokens}, out {usage.output_tokens})"
        )
        return text


def _code_name(code: int) -> str:
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return str(status.name)
    return str(code)


def _outcome(event: event_pb2.RunEvent, events: int) -> RunOutcome | None:
    if event.HasField("run_finished"):
        finished = event.run_finished
        return RunOutcome(
            run_id=event.run_id,
            state=finished.state,
            finish_reason=finished.finish_reason,
            output=finished.output,
            usage=finished.usage,
            events=events,
        )
    if event.HasField("run_error"):
        failed = event.run_error
        return RunOutcome(
            run_id=event.run_id,
            state=run_pb2.RUN_STATE_FAILED,
            finish_reason=failed.finish_reason,
            output="",
            usage=failed.usage,
            error=f"{_code_name(failed.error.code)}: {failed.error.message}",
            events=events,
        )
    return None


async def _resolve(
    stubs: Stubs, renderer: Renderer, requested: event_pb2.ApprovalRequested, approve: bool
) -> None:
    request = approval_pb2.ResolveApprovalRequest(
        approval_id=requested.approval_id,
        decision=(
            approval_pb2.APPROVAL_DECISION_APPROVE
            if approve
            else approval_pb2.APPROVAL_DECISION_REJECT
        ),
        reason="" if approve else REJECT_REASON,
    )
    try:
        await stubs.approvals.ResolveApproval(request)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise
        # Expired or cancelled meanwhile: the stream tells what happened next.
        renderer.line(f"approval not resolved: {describe_rpc_error(exc, stubs.address)}", "yellow")


async def stream_run(
    stubs: Stubs,
    request: run_service_pb2.StreamRunRequest,
    *,
    renderer: Renderer,
    decide: Decide,
    max_resumes: int = MAX_RESUMES,
    on_event: Callable[[event_pb2.RunEvent], None] | None = None,
) -> RunOutcome:
    """Starts a run with StreamRun and renders it until its terminal event.

    Every ``approval_requested`` event is passed to ``decide`` and resolved with
    ResolveApproval (REJECT carries ``REJECT_REASON``) before the next event is
    read. When the stream (or a ResolveApproval) breaks with UNAVAILABLE, or
    the stream ends early, after at least one event, it resumes with
    StreamRunEvents after the last sequence handled, up to ``max_resumes``
    attempts in a row (0.5 s, 1 s, 2 s apart); nothing is shown or asked twice.
    Heartbeats are skipped.

    Args:
        stubs: Connected stubs.
        request: The run to start; a ``request_id`` is added if it has none.
        renderer: Prints the events.
        decide: Answers approvals.
        max_resumes: Resume attempts in a row before giving up.
        on_event: Called with every logged event before it is rendered.

    Returns:
        The terminal state, output, finish reason and usage.

    Raises:
        grpc.aio.AioRpcError: the run could not be started, or a call failed
            with a code other than UNAVAILABLE, or resuming failed.
        StreamBrokenError: the stream kept ending without a terminal event.
    """
    if not request.request_id:
        request.request_id = f"cli-{uuid.uuid4().hex}"
    call = stubs.runs.StreamRun(request)
    # last_sequence: the last event fully handled (its approval resolved), where a
    # resume starts after; rendered: the last event shown. They differ only while
    # an approval is being resolved: if that breaks, the event comes again and
    # is resolved with the decision already made, without showing or asking twice.
    last_sequence, rendered, run_id, attempts, seen = 0, 0, "", 0, 0
    decisions: dict[str, bool] = {}
    while True:
        try:
            async for response in call:
                event = response.event
                if event.HasField("heartbeat") or event.sequence <= last_sequence:
                    continue
                attempts = 0
                run_id = event.run_id
                if event.sequence > rendered:
                    seen += 1
                    rendered = event.sequence
                    if on_event is not None:
                        on_event(event)
                    renderer.render(event)
                if event.HasField("approval_requested"):
                    requested = event.approval_requested
                    if requested.approval_id not in decisions:
                        decisions[requested.approval_id] = await decide(requested)
                    approve = decisions[requested.approval_id]
                    await _resolve(stubs, renderer, requested, approve)
                last_sequence = event.sequence
                outcome = _outcome(event, seen)
                if outcome is not None:
                    return outcome
            broken: Exception = StreamBrokenError(
                f"the event stream of run {run_id or '?'} ended before the run did"
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or not run_id:
                raise
            broken = exc
        if not run_id or attempts >= max_resumes:
            raise broken
        attempts += 1
        why = (
            describe_rpc_error(broken, stubs.address)
            if isinstance(broken, grpc.aio.AioRpcError)
            else str(broken)
        )
        renderer.line(
            f"stream interrupted ({why}); resuming after event {last_sequence} "
            f"(attempt {attempts}/{max_resumes})",
            style="yellow",
        )
        await asyncio.sleep(0.5 * 2 ** (attempts - 1))
        call = stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=run_id, after_sequence=last_sequence)
        )


def in_thread(fn: Callable[[], T]) -> Awaitable[T]:
    """Runs a blocking ``fn`` (terminal input) in a daemon thread.

    A daemon thread, not the default executor: if the awaiting task is
    cancelled (Ctrl-C), the process can exit without waiting for a line.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():  # the awaiting task was cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def work() -> None:
        value: T | None = None
        error: BaseException | None = None
        try:
            value = fn()
        except BaseException as exc:  # handed to the awaiting task
            error = exc
        # RuntimeError: the loop is closed, so nobody waits any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=work, name="runwire-input", daemon=True).start()
    return future


def _read_stdin_line() -> str:
    """One line from fd 0, byte by byte (so later lines stay unread); "" at EOF."""
    data = bytearray()
    while True:
        byte = os.read(0, 1)
        if not byte or byte == b"\n":
            return data.decode(errors="replace")
        data += byte


def terminal_decider(renderer: Renderer, *, yes: bool) -> Decide:
    """Approvals answered at the terminal.

    With ``yes`` every approval is approved without asking. Otherwise a TTY
    gets a rich ``Confirm`` prompt "Approve tool(args)? [y/n]"; a non-TTY
    stdin is read one line per approval: "y" or "yes" (any case) approves,
    anything else (or end of input) rejects.
    """

    async def decide(requested: event_pb2.ApprovalRequested) -> bool:
        label = renderer.tool_label(
            requested.tool_call_id, requested.tool_name, requested.arguments
        )
        if yes:
            renderer.line(f"approval requested for {label} → approving (--yes)", "yellow")
            return True
        question = f"Approve {label}?"
        if sys.stdin is not None and sys.stdin.isatty():
            renderer.line_break()
            prompt = Text(question, style="bold yellow")
            return await in_thread(lambda: Confirm.ask(prompt, console=renderer.console))
        renderer.prompt(f"{question} [y/n] ")
        answer = (await in_thread(_read_stdin_line)).strip()
        renderer.console.print(Text(answer or "(no answer)", style="dim"), soft_wrap=True)
        return answer.lower() in ("y", "yes")

    return decide
