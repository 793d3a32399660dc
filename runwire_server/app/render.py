"""Run events on a terminal, shared by ``runwire run`` and ``runwire demo``.

``Renderer`` prints a run's events to a rich console as the Python client
hands them out (assistant text as it streams, tool calls, dimmed tool results,
approval outcomes, a pause and its resume, sub-agent runs, run errors) and its notices (a
resumed stream, an approval that could not be resolved). ``terminal_decider``
answers approvals at the terminal. Streaming, approvals and resuming are the
Python client's (``runwire.AsyncClient``); this module only draws.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from rich.console import Console
from rich.prompt import Confirm
from rich.text import Text
from runwire import Decide, RunOutcome, code_name
from runwire.v1 import approval_pb2, event_pb2, run_pb2

__all__ = ["REJECT_REASON", "Renderer", "in_thread", "terminal_decider", "tool_label"]

#: The reason sent with a rejection typed at the terminal.
REJECT_REASON = "rejected at the terminal"

#: Longest tool result shown, in characters; the rest is elided.
MAX_RESULT_CHARS = 400

T = TypeVar("T")


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
    _paused: bool = False

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

    def notice(self, text: str) -> None:
        """Prints a notice (a resumed stream) in yellow."""
        self.line(text, style="yellow")

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
        elif kind in ("tool_call_start", "tool_call_args"):
            self._track_call(event)
        elif kind == "tool_call_end":
            call_id = event.tool_call_end.tool_call_id
            self.line(f"→ {self.tool_label(call_id, '?', '')}", style="cyan")
        elif kind == "tool_call_result":
            result = event.tool_call_result
            style = "red" if result.is_error else "dim"
            self.line(f"← {_short(result.content)}", style=style)
        elif kind == "approval_resolved":
            self._render_resolved(event.approval_resolved)
        elif kind in ("sub_run_started", "sub_run_finished"):
            self._render_sub_run(event)
        elif kind == "client_tool_call_requested":
            request = event.client_tool_call_requested
            self.line(
                f"client tool call {tool_label(request.tool_name, request.arguments)} "
                "waits for SubmitToolOutputs",
                style="yellow",
            )
        elif kind == "state_changed":
            self._render_state(event.state_changed.state)
        elif kind == "run_error":
            error = event.run_error.error
            code = code_name(error.code)
            self.line(f"run failed: {code}: {error.message}", style="bold red")
        elif kind == "run_finished":
            self.line_break()

    def _track_call(self, event: event_pb2.RunEvent) -> None:
        """Keeps a streamed tool call's name and arguments for its label."""
        if event.HasField("tool_call_start"):
            start = event.tool_call_start
            self._names[start.tool_call_id] = start.tool_call_name
            self._args[start.tool_call_id] = []
        else:
            self._args.setdefault(event.tool_call_args.tool_call_id, []).append(
                event.tool_call_args.delta
            )

    def _render_state(self, state: run_pb2.RunState) -> None:
        """A pause and the resume after it; other states show in their events."""
        if state == run_pb2.RUN_STATE_PAUSED:
            self._paused = True
            self.line("paused: waits for ResumeRun (`runwire runs resume`)", style="yellow")
        elif self._paused and state == run_pb2.RUN_STATE_RUNNING:
            self._paused = False
            self.line("resumed", style="yellow")

    def _render_sub_run(self, event: event_pb2.RunEvent) -> None:
        """``⇢ sub-agent A runs as RUN`` when a delegation starts a child run;
        ``⇠ sub-agent A SUCCEEDED · tokens N`` when it ends, red unless it
        succeeded (its output follows as the tool result)."""
        if event.HasField("sub_run_started"):
            started = event.sub_run_started
            self.line(
                f"⇢ sub-agent {started.agent_id} runs as {started.child_run_id}", style="magenta"
            )
            return
        finished = event.sub_run_finished
        state = run_pb2.RunState.Name(finished.state).removeprefix("RUN_STATE_")
        text = f"⇠ sub-agent {finished.agent_id} {state} · tokens {finished.usage.total_tokens}"
        if finished.HasField("error"):
            text += f" · {code_name(finished.error.code)}: {finished.error.message}"
        succeeded = finished.state == run_pb2.RUN_STATE_SUCCEEDED
        self.line(text, style="magenta" if succeeded else "red")

    def _render_resolved(self, resolved: event_pb2.ApprovalResolved) -> None:
        state = approval_pb2.ApprovalState.Name(resolved.state).removeprefix("APPROVAL_STATE_")
        text = f"  {state.lower()}"
        if resolved.run_id:
            text += f" (sub-agent run {resolved.run_id})"
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
        if requested.run_id:  # a sub-agent's run waits for it: its call ids are its own
            label = f"{tool_label(requested.tool_name, requested.arguments)} in sub-agent run "
            label += requested.run_id
        else:
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
