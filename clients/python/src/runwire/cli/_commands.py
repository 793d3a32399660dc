"""The operator commands: ``agents``, ``runs``, ``approvals``, ``threads`` and ``tools``.

Each command is one or a few calls of ``runwire.Client``; ``_shared`` adds the
connection and output options and turns errors into exit codes.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Iterator
from typing import Annotated, Any, cast

import typer
from google.protobuf import json_format
from rich.text import Text

from runwire._errors import AlreadyExistsError, FailedPreconditionError, NotFoundError
from runwire._types import Resume
from runwire._watch import WatchResume
from runwire.cli._shared import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    Column,
    Context,
    Format,
    as_dict,
    compact,
    fail,
    operator_command,
    short,
    timestamp,
)
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
    tool_pb2,
    watch_pb2,
)

__all__ = ["agents", "approvals", "runs", "threads", "tools"]


def _group(name: str, help_text: str) -> typer.Typer:
    return typer.Typer(
        name=name,
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )


def _enum(enum_type: Any, value: int, prefix: str) -> str:
    return str(enum_type.Name(value)).removeprefix(prefix)


def _choice(enum_type: Any, prefix: str, text: str | None, option: str) -> int:
    """The value of an enum option given by its short name (``pending``), any case.

    Raises:
        typer.BadParameter: an unknown name (exit 2, with the names allowed).
    """
    if not text:
        return 0
    name = prefix + text.upper().removeprefix(prefix)
    names = [
        n.removeprefix(prefix).lower()
        for n in list(enum_type.keys())
        if not n.endswith("UNSPECIFIED")
    ]
    if name.endswith("UNSPECIFIED") or name not in list(enum_type.keys()):
        raise typer.BadParameter(f"{text!r}: want one of {', '.join(names)}", param_hint=option)
    return int(enum_type.Value(name))


PageSizeOption = Annotated[
    int,
    typer.Option("--page-size", min=0, max=1000, help="Items per call (0: the server's default)."),
]
LimitOption = Annotated[
    int, typer.Option("--limit", min=0, help="Print at most this many (0: all).")
]


LabelOption = Annotated[
    list[str] | None,
    typer.Option(
        "-l",
        "--label",
        metavar="KEY=VALUE",
        help="Only those carrying this label; repeat for more (every one must match).",
    ),
]


def _labels(pairs: list[str] | None) -> dict[str, str]:
    """``-l key=value`` options as a dict (a key given twice: the last value).

    Raises:
        typer.BadParameter: a pair without ``=`` or with an empty key (exit 2).
    """
    labels: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r}: want KEY=VALUE", param_hint="--label")
        labels[key] = value
    return labels


def _label_cell(message: Any) -> str:
    """A LABELS cell: ``key=value,key=value`` sorted by key."""
    return ",".join(f"{k}={v}" for k, v in sorted(message.labels.items()))


def _take(pager: Any, limit: int) -> list[Any]:
    items: list[Any] = []
    for item in pager:
        items.append(item)
        if limit and len(items) >= limit:
            break
    return items


# --------------------------------------------------------------------------- agents

agents = _group("agents", "Agent definitions: list, get, tools, apply -f FILE, delete.")

#: Fields of ``Agent`` the server sets; ``apply`` never sends them (but an
#: ``etag`` in the file is the version the update must apply to).
OUTPUT_ONLY = ("agent_id", "etag", "create_time", "update_time")

AGENT_COLUMNS: list[Column] = [
    ("AGENT_ID", lambda a: a.agent_id),
    ("MODEL", lambda a: "/".join(p for p in (a.model.provider, a.model.name) if p)),
    ("TOOLS", lambda a: ",".join(a.tools)),
    (
        "APPROVAL",
        lambda a: _enum(agent_pb2.ApprovalMode, a.approval_policy.mode, "APPROVAL_MODE_"),
    ),
    ("RUNTIME", lambda a: _enum(agent_pb2.Runtime, a.runtime, "RUNTIME_")),
    ("UPDATED", lambda a: timestamp(a.update_time)),
    ("LABELS", _label_cell),
]


@agents.command("list")
@operator_command
def agents_list(
    ctx: Context,
    *,
    label: LabelOption = None,
    page_size: PageSizeOption = 0,
    limit: LimitOption = 0,
) -> None:
    """List agents, ordered by id (with -l, those carrying every label given)."""
    pager = ctx.client.agents.list(page_size=page_size, labels=_labels(label))
    ctx.out.messages(_take(pager, limit), AGENT_COLUMNS)


@agents.command("get")
@operator_command
def agents_get(ctx: Context, agent_id: Annotated[str, typer.Argument(metavar="AGENT_ID")]) -> None:
    """Show one agent."""
    ctx.out.message(ctx.client.agents.get(agent_id))


def _tool_source(tool: Any) -> str:
    return _enum(agent_pb2.ToolSource, tool.source, "TOOL_SOURCE_").lower()


AGENT_TOOL_COLUMNS: list[Column] = [
    ("NAME", lambda t: t.name),
    ("SOURCE", _tool_source),
    ("FROM", lambda t: t.mcp_server or t.sub_agent_id),
    ("APPROVAL", lambda t: "required" if t.requires_approval else "no"),
    ("DESCRIPTION", lambda t: short(t.description, 60)),
]


@agents.command("tools")
@operator_command
def agents_tools(
    ctx: Context, agent_id: Annotated[str, typer.Argument(metavar="AGENT_ID")]
) -> None:
    """List the tools a run of the agent offers its model, in that order (server
    tools, MCP toolset tools, sub-agents), and whether a call needs an approval."""
    ctx.out.messages(ctx.client.agents.list_tools(agent_id), AGENT_TOOL_COLUMNS)


def _read_documents(path: str) -> list[Any]:
    """The documents of a YAML or JSON file (``-`` is stdin); a YAML file may
    hold several, separated by ``---``.

    Raises:
        typer.Exit: (code 2, after printing why) unreadable or not YAML/JSON.
    """
    try:
        text = sys.stdin.read() if path == "-" else pathlib.Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise fail(f"cannot read {path}: not UTF-8 text", EXIT_USAGE) from None
    if path.endswith(".json"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"{path}: not JSON: {exc}", EXIT_USAGE) from None
        return document if isinstance(document, list) else [document]
    try:
        import yaml  # noqa: PLC0415 - only apply -f needs it
    except ModuleNotFoundError:
        raise fail(
            "reading YAML needs PyYAML: pip install 'runwire-client[cli]'", EXIT_USAGE
        ) from None
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise fail(f"{path}: not YAML: {short(str(exc), 200)}", EXIT_USAGE) from None


def _parse_agent(document: Any, path: str, index: int) -> agent_pb2.Agent:
    """One document as an ``Agent`` (its proto JSON; ``agent_id`` required).

    Raises:
        typer.Exit: (code 2) not an Agent.
    """
    where = f"{path} (document {index + 1})" if index else path
    if not isinstance(document, dict):
        raise fail(f"{where}: an agent is a mapping of Agent fields", EXIT_USAGE)
    agent = agent_pb2.Agent()
    try:
        json_format.ParseDict(document, agent)
    except json_format.ParseError as exc:
        raise fail(f"{where}: not an Agent: {exc}", EXIT_USAGE) from None
    if not agent.agent_id:
        raise fail(f"{where}: agent_id is required", EXIT_USAGE)
    return agent


def _desired(current: agent_pb2.Agent, wanted: agent_pb2.Agent) -> agent_pb2.Agent:
    """``current`` with every field ``apply`` replaces taken from ``wanted``
    (what UpdateAgent with an empty mask stores)."""
    result = agent_pb2.Agent()
    result.CopyFrom(current)
    for field in agent_pb2.Agent.DESCRIPTOR.fields:
        if field.name not in OUTPUT_ONLY:
            result.ClearField(field.name)
    patch = agent_pb2.Agent()
    patch.CopyFrom(wanted)
    for name in OUTPUT_ONLY:
        patch.ClearField(name)
    result.MergeFrom(patch)
    return result


def _apply_one(ctx: Context, wanted: agent_pb2.Agent) -> tuple[str, agent_pb2.Agent]:
    """Creates or updates one agent; returns what was done and the agent now."""
    agent_id = wanted.agent_id
    try:
        current = ctx.client.agents.get(agent_id)
    except NotFoundError:
        fresh = agent_pb2.Agent()
        fresh.CopyFrom(wanted)
        for name in OUTPUT_ONLY:
            fresh.ClearField(name)
        try:
            return "created", ctx.client.agents.create(agent_id, fresh)
        except AlreadyExistsError:  # created meanwhile: update it instead
            current = ctx.client.agents.get(agent_id)
    if _desired(current, wanted) == current:
        return "unchanged", current
    update = agent_pb2.Agent()
    update.CopyFrom(wanted)
    # An etag in the file is the version it was read from: the update fails
    # (ABORTED) if the agent changed since. Without one, the version just read.
    update.etag = wanted.etag or current.etag
    return "configured", ctx.client.agents.update(update)


@agents.command("apply")
@operator_command
def agents_apply(
    ctx: Context,
    *,
    file: Annotated[
        str,
        typer.Option(
            "--filename",
            "-f",
            metavar="FILE",
            help="YAML or JSON of an Agent (its proto JSON, agent_id included); "
            "several YAML documents apply in turn; - reads stdin.",
        ),
    ],
) -> None:
    """Create an agent, or update it when it exists (every field the file gives;
    output-only fields are ignored, an etag is checked)."""
    wanted = [_parse_agent(d, file, i) for i, d in enumerate(_read_documents(file))]
    if not wanted:
        raise fail(f"{file}: no agent in the file", EXIT_USAGE)
    done: list[tuple[str, agent_pb2.Agent]] = [_apply_one(ctx, agent) for agent in wanted]
    if ctx.out.format is Format.table:
        for what, agent in done:
            ctx.out.done(f"agent/{agent.agent_id} {what}", {})
    elif len(done) == 1:
        ctx.out.message(done[0][1])
    else:
        ctx.out.messages([agent for _, agent in done], AGENT_COLUMNS)


@agents.command("delete")
@operator_command
def agents_delete(
    ctx: Context, agent_id: Annotated[str, typer.Argument(metavar="AGENT_ID")]
) -> None:
    """Delete an agent."""
    ctx.client.agents.delete(agent_id)
    ctx.out.done(f"agent/{agent_id} deleted", {"agent_id": agent_id, "deleted": True})


# --------------------------------------------------------------------------- runs

runs = _group("runs", "Runs: list, get, cancel, pause, resume, events [--follow], watch.")


def _waiting_for(run: run_pb2.Run) -> str:
    waits = []
    for action in run.required_actions:
        if action.type == run_pb2.REQUIRED_ACTION_TYPE_APPROVAL:
            waits.append(f"approval {action.approval_id} ({action.tool_name})")
        else:
            waits.append(f"client tool {action.tool_name} ({action.tool_call_id})")
    return "; ".join(waits)


RUN_COLUMNS: list[Column] = [
    ("RUN_ID", lambda r: r.run_id),
    ("AGENT", lambda r: r.agent_id),
    ("STATE", lambda r: _enum(run_pb2.RunState, r.state, "RUN_STATE_")),
    ("THREAD", lambda r: r.thread_id),
    ("EVENTS", lambda r: str(r.last_sequence)),
    ("CREATED", lambda r: timestamp(r.create_time)),
    ("WAITING_FOR", _waiting_for),
    ("LABELS", _label_cell),
]


RunArgument = Annotated[str, typer.Argument(metavar="RUN_ID")]


@runs.command("list")
@operator_command
def runs_list(
    ctx: Context,
    *,
    agent: Annotated[
        str, typer.Option("--agent", metavar="AGENT_ID", help="Runs of this agent.")
    ] = "",
    thread: Annotated[
        str, typer.Option("--thread", metavar="THREAD_ID", help="Runs on this thread.")
    ] = "",
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="queued, running, requires_action, paused, cancelling, succeeded, failed "
            "or cancelled.",
        ),
    ] = None,
    label: LabelOption = None,
    page_size: PageSizeOption = 0,
    limit: LimitOption = 0,
) -> None:
    """List runs, newest first (with -l, those carrying every label given)."""
    wanted = _choice(run_pb2.RunState, "RUN_STATE_", state, "--state")
    pager = ctx.client.runs.list(
        agent_id=agent,
        thread_id=thread,
        state=cast("run_pb2.RunState", wanted),
        page_size=page_size,
        labels=_labels(label),
    )
    ctx.out.messages(_take(pager, limit), RUN_COLUMNS)


@runs.command("get")
@operator_command
def runs_get(ctx: Context, run_id: RunArgument) -> None:
    """Show one run."""
    ctx.out.message(ctx.client.runs.get(run_id))


@runs.command("cancel")
@operator_command
def runs_cancel(
    ctx: Context,
    run_id: RunArgument,
    *,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded with the run).")] = "",
) -> None:
    """Cancel a run (it ends CANCELLED; an ended run is left as it is)."""
    run = ctx.client.runs.cancel(run_id, reason=reason)
    if ctx.out.format is Format.table:
        state = _enum(run_pb2.RunState, run.state, "RUN_STATE_")
        ctx.out.done(f"run/{run.run_id} {state}", {})
    else:
        ctx.out.message(run)


@runs.command("pause")
@operator_command
def runs_pause(
    ctx: Context,
    run_id: RunArgument,
    *,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the server log).")] = "",
) -> None:
    """Pause a run at its next safe point (before its next model call, or before
    the tool calls of the reply in flight); it shows PAUSED once there. Its
    timeout keeps running; a paused or ended run is left as it is."""
    _show_state(ctx, ctx.client.runs.pause(run_id, reason=reason))


@runs.command("resume")
@operator_command
def runs_resume(ctx: Context, run_id: RunArgument) -> None:
    """Resume a paused run (or withdraw a pause it has not reached yet)."""
    _show_state(ctx, ctx.client.runs.resume(run_id))


def _show_state(ctx: Context, run: run_pb2.Run) -> None:
    if ctx.out.format is Format.table:
        state = _enum(run_pb2.RunState, run.state, "RUN_STATE_")
        ctx.out.done(f"run/{run.run_id} {state}", {})
    else:
        ctx.out.message(run)


def event_line(event: event_pb2.RunEvent) -> Text:
    """``#SEQ KIND field=value ...``: one event on one line."""
    kind = event.WhichOneof("payload") or "unknown"
    fields = as_dict(getattr(event, kind)) if kind != "unknown" else {}
    text = Text(f"#{event.sequence} ", style="dim")
    style = {
        "run_error": "red",
        "approval_requested": "yellow",
        "run_finished": "bold",
        "sub_run_started": "magenta",
        "sub_run_finished": "magenta",
    }
    text.append(kind, style=style.get(kind, "cyan"))
    for name, value in fields.items():
        text.append(f" {name}={compact(value)}")
    return text


@runs.command("events")
@operator_command
def runs_events(
    ctx: Context,
    run_id: RunArgument,
    *,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Stream new events until the run ends (resuming after a disconnect); "
            "exit 1 unless it SUCCEEDED.",
        ),
    ] = False,
    after: Annotated[
        int, typer.Option("--after", metavar="SEQUENCE", min=0, help="Events after this one.")
    ] = 0,
) -> int:
    """Print a run's events: those logged so far, or with --follow every one to
    the run's end (approvals are not answered here: use `runwire approvals`)."""
    run = ctx.client.runs.get(run_id)  # NOT_FOUND now, not after a stream's retries
    if not follow:
        for _ in ctx.out.stream(
            ctx.client.runs.list_events(run_id, after_sequence=after), event_line
        ):
            pass
        return EXIT_OK
    stream = ctx.client.runs.events(run.run_id, after_sequence=after, on_resume=_say_resume)
    try:
        for _ in ctx.out.stream(stream, event_line):
            pass
    except KeyboardInterrupt:
        ctx.out.line_break()
        raise fail(f"interrupted; run {run_id} goes on on the server", EXIT_INTERRUPTED) from None
    terminal = stream.terminal_event
    # No terminal event: the run had ended before --after. After a run_error,
    # run_finished.state is RUN_STATE_UNSPECIFIED.
    state = ctx.client.runs.get(run_id).state if terminal is None else terminal.run_finished.state
    return EXIT_OK if state == run_pb2.RUN_STATE_SUCCEEDED else EXIT_FAILED


def _change_name(change: Any) -> str:
    return _enum(watch_pb2.ChangeType, change.type, "CHANGE_TYPE_")


def run_change_line(change: run_service_pb2.WatchRunsResponse) -> Text:
    """``TYPE run/ID STATE agent=... thread=... labels``: one run change on one line."""
    kind = _change_name(change)
    if change.type == watch_pb2.CHANGE_TYPE_SYNCED:
        return Text("SYNCED (existing runs listed; changes follow)", style="dim")
    run = change.run
    style = {"CREATED": "green", "ENDED": "bold", "EXISTING": "dim"}.get(kind, "cyan")
    text = Text(f"{kind:<8} ", style=style)
    text.append(f"run/{run.run_id} {_enum(run_pb2.RunState, run.state, 'RUN_STATE_')}")
    text.append(f" agent={run.agent_id}")
    if run.thread_id:
        text.append(f" thread={run.thread_id}")
    if run.labels:
        text.append(f" labels={_label_cell(run)}")
    waiting = _waiting_for(run)
    if waiting:
        text.append(f" waiting for {waiting}", style="yellow")
    return text


CursorOption = Annotated[
    str,
    typer.Option(
        "--cursor",
        metavar="CURSOR",
        help="Go on after this cursor (printed with -o json, and on Ctrl-C) instead of "
        "listing first.",
    ),
]
WatchLimitOption = Annotated[
    int,
    typer.Option(
        "--limit", min=0, help="Stop after this many runs or approvals printed (0: never)."
    ),
]


def _say_resume(notice: Resume | WatchResume) -> None:
    """One stderr line per reconnect of a stream or a watch (``on_resume``), so an
    operator sees a replica drain or a dropped connection being ridden out."""
    error = notice.error
    why = f"{error.code.name}{f' {error.reason}' if error.reason else ''}"
    if isinstance(notice, Resume):
        where = f"after sequence {notice.after_sequence}"
    else:
        where = f"after cursor {notice.cursor}" if notice.cursor else "listing again"
    sys.stderr.write(
        f"reconnecting ({why}; attempt {notice.attempt}/{notice.max_attempts}), {where}\n"
    )
    sys.stderr.flush()


def _watch_lines(ctx: Context, watch: Any, line: Any, limit: int) -> Iterator[Any]:
    """Prints each message of ``watch`` and yields it; stops after ``limit``
    resources (0: never). Ctrl-C exits 130 with the cursor to go on after."""
    printed = 0
    try:
        for change in ctx.out.stream(watch, line):
            yield change
            if change.type != watch_pb2.CHANGE_TYPE_SYNCED:
                printed += 1
                if limit and printed >= limit:
                    return
    except KeyboardInterrupt:
        ctx.out.line_break()
        hint = f"; go on with --cursor {watch.cursor}" if watch.cursor else ""
        raise fail(f"interrupted{hint}", EXIT_INTERRUPTED) from None


@runs.command("watch")
@operator_command
def runs_watch(
    ctx: Context,
    *,
    agent: Annotated[
        str, typer.Option("--agent", metavar="AGENT_ID", help="Runs of this agent.")
    ] = "",
    thread: Annotated[
        str, typer.Option("--thread", metavar="THREAD_ID", help="Runs on this thread.")
    ] = "",
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Runs in this state before or after a change; repeat for more "
            "(queued, running, requires_action, paused, cancelling, succeeded, failed, "
            "cancelled).",
        ),
    ] = None,
    label: LabelOption = None,
    cursor: CursorOption = "",
    limit: WatchLimitOption = 0,
) -> None:
    """Watch runs: those that match now (EXISTING), then every change (CREATED,
    UPDATED, ENDED) as it happens, until Ctrl-C; resumes by itself after a
    disconnect. -o json prints one JSON object per change, with its cursor."""
    states = [
        cast("run_pb2.RunState", _choice(run_pb2.RunState, "RUN_STATE_", s, "--state"))
        for s in state or ()
    ]
    watch = ctx.client.runs.watch(
        agent_id=agent,
        thread_id=thread,
        states=states,
        labels=_labels(label),
        cursor=cursor,
        on_resume=_say_resume,
    )
    for _ in _watch_lines(ctx, watch, run_change_line, limit):
        pass


# --------------------------------------------------------------------------- approvals

approvals = _group("approvals", "Tool-call approvals: list, get, approve, reject, watch.")

APPROVAL_COLUMNS: list[Column] = [
    ("APPROVAL_ID", lambda a: a.approval_id),
    ("RUN", lambda a: a.run_id),
    ("AGENT", lambda a: a.agent_id),
    ("TOOL", lambda a: a.tool_name),
    ("ARGUMENTS", lambda a: short(a.arguments, 50)),
    ("STATE", lambda a: _enum(approval_pb2.ApprovalState, a.state, "APPROVAL_STATE_")),
    ("CREATED", lambda a: timestamp(a.create_time)),
    ("RESOLVED_BY", lambda a: a.resolved_by),
]

ApprovalArgument = Annotated[str, typer.Argument(metavar="APPROVAL_ID")]
ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why; the model sees it on a rejection.")
]


@approvals.command("list")
@operator_command
def approvals_list(
    ctx: Context,
    *,
    run: Annotated[
        str, typer.Option("--run", metavar="RUN_ID", help="Approvals of this run.")
    ] = "",
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="pending, approved, rejected, expired or cancelled.",
        ),
    ] = None,
    page_size: PageSizeOption = 0,
    limit: LimitOption = 0,
) -> None:
    """List approvals, newest first."""
    wanted = _choice(approval_pb2.ApprovalState, "APPROVAL_STATE_", state, "--state")
    pager = ctx.client.approvals.list(
        run_id=run,
        state=cast("approval_pb2.ApprovalState", wanted),
        page_size=page_size,
    )
    ctx.out.messages(_take(pager, limit), APPROVAL_COLUMNS)


@approvals.command("get")
@operator_command
def approvals_get(ctx: Context, approval_id: ApprovalArgument) -> None:
    """Show one approval."""
    ctx.out.message(ctx.client.approvals.get(approval_id))


def _resolved(ctx: Context, approval: approval_pb2.Approval) -> None:
    if ctx.out.format is Format.table:
        state = _enum(approval_pb2.ApprovalState, approval.state, "APPROVAL_STATE_")
        by = f" by {approval.resolved_by}" if approval.resolved_by else ""
        ctx.out.done(f"approval/{approval.approval_id} {state}{by}", {})
    else:
        ctx.out.message(approval)


@approvals.command("approve")
@operator_command
def approvals_approve(
    ctx: Context,
    approval_id: ApprovalArgument,
    *,
    reason: ReasonOption = "",
    arguments: Annotated[
        str | None,
        typer.Option(
            "--arguments",
            metavar="JSON",
            help="Run the tool with these arguments (a JSON object) instead of the model's.",
        ),
    ] = None,
) -> None:
    """Approve a tool call: the run goes on and the tool runs."""
    edited: dict[str, Any] | None = None
    if arguments is not None:
        try:
            edited = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise fail(f"--arguments: not JSON: {exc}", EXIT_USAGE) from None
        if not isinstance(edited, dict):
            raise fail("--arguments: want a JSON object", EXIT_USAGE)
    _resolved(
        ctx, ctx.client.approvals.approve(approval_id, reason=reason, edited_arguments=edited)
    )


@approvals.command("reject")
@operator_command
def approvals_reject(
    ctx: Context, approval_id: ApprovalArgument, *, reason: ReasonOption = ""
) -> None:
    """Reject a tool call: the tool does not run and the model is told why."""
    _resolved(ctx, ctx.client.approvals.reject(approval_id, reason=reason))


def approval_change_line(change: approval_pb2.WatchApprovalsResponse) -> Text:
    """``TYPE approval/ID STATE tool(arguments) run/ID``: one approval change on one line."""
    kind = _change_name(change)
    if change.type == watch_pb2.CHANGE_TYPE_SYNCED:
        return Text("SYNCED (existing approvals listed; changes follow)", style="dim")
    a = change.approval
    pending = a.state == approval_pb2.APPROVAL_STATE_PENDING
    text = Text(f"{kind:<8} ", style="yellow" if pending else "dim")
    state = _enum(approval_pb2.ApprovalState, a.state, "APPROVAL_STATE_")
    text.append(f"approval/{a.approval_id} {state} {a.tool_name}({short(a.arguments, 80)})")
    text.append(f" run/{a.run_id} agent={a.agent_id}")
    if a.resolved_by:
        text.append(f" by {a.resolved_by}")
    return text


def _ask(approval: approval_pb2.Approval) -> str | None:
    """Asks on stderr whether to approve; reads the answer from stdin: "y", "n",
    "s" (skip), or None at the end of the input."""
    prompt = f"approve {approval.tool_name}({short(approval.arguments, 80)})? [y/n/s(kip)] "
    while True:
        sys.stderr.write(prompt)
        sys.stderr.flush()
        answer = sys.stdin.readline()
        if not answer:
            sys.stderr.write("\n")
            return None
        choice = answer.strip().lower()[:1] or "s"
        if choice in ("y", "n", "s"):
            return choice


@approvals.command("watch")
@operator_command
def approvals_watch(
    ctx: Context,
    *,
    run: Annotated[
        str, typer.Option("--run", metavar="RUN_ID", help="Approvals of this run.")
    ] = "",
    agent: Annotated[
        str, typer.Option("--agent", metavar="AGENT_ID", help="Approvals of this agent's runs.")
    ] = "",
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help="Approvals in this state before or after a change; repeat for more "
            "(pending, approved, rejected, expired, cancelled). Default with "
            "--interactive: pending.",
        ),
    ] = None,
    interactive: Annotated[
        bool,
        typer.Option(
            "--interactive",
            "-i",
            help="Ask y/n/skip for each pending approval as it arrives, and resolve it.",
        ),
    ] = False,
    reason: ReasonOption = "",
    cursor: CursorOption = "",
    limit: WatchLimitOption = 0,
) -> None:
    """Watch approvals (an inbox): those that match now, then each new one
    (CREATED) and each one decided, expired or cancelled (ENDED), until Ctrl-C
    (with --interactive, also the end of the input)."""
    names = state or (["pending"] if interactive else [])
    states = [
        cast(
            "approval_pb2.ApprovalState",
            _choice(approval_pb2.ApprovalState, "APPROVAL_STATE_", s, "--state"),
        )
        for s in names
    ]
    watch = ctx.client.approvals.watch(
        run_id=run, agent_id=agent, states=states, cursor=cursor, on_resume=_say_resume
    )
    arriving = (watch_pb2.CHANGE_TYPE_EXISTING, watch_pb2.CHANGE_TYPE_CREATED)
    for change in _watch_lines(ctx, watch, approval_change_line, limit):
        approval = change.approval
        if not (
            interactive
            and change.type in arriving
            and approval.state == approval_pb2.APPROVAL_STATE_PENDING
        ):
            continue
        answer = _ask(approval)
        if answer is None:
            return
        if answer == "s":
            continue
        try:
            resolved = ctx.client.approvals.resolve(
                approval.approval_id, answer == "y", reason=reason
            )
        except FailedPreconditionError as exc:  # decided elsewhere meanwhile
            sys.stderr.write(f"approval/{approval.approval_id}: {exc.message}\n")
            continue
        state_name = _enum(approval_pb2.ApprovalState, resolved.state, "APPROVAL_STATE_")
        sys.stderr.write(f"approval/{resolved.approval_id} {state_name}\n")


# --------------------------------------------------------------------------- threads

threads = _group(
    "threads",
    "Threads (conversations): get, messages, delete. There is no list: the service "
    "has no call that lists threads; `runwire runs list` shows each run's THREAD.",
)

ThreadArgument = Annotated[str, typer.Argument(metavar="THREAD_ID")]


def _message_text(message: thread_pb2.Message) -> str:
    parts = [message.content] if message.content else []
    parts += [f"→ {call.name}({call.arguments})" for call in message.tool_calls]
    if message.tool_call_id:
        parts.insert(0, f"[{message.tool_call_id}]")
    return short(" ".join(parts), 80)


MESSAGE_COLUMNS: list[Column] = [
    ("MESSAGE_ID", lambda m: m.message_id),
    ("ROLE", lambda m: _enum(thread_pb2.MessageRole, m.role, "MESSAGE_ROLE_")),
    ("RUN", lambda m: m.run_id),
    ("CREATED", lambda m: timestamp(m.create_time)),
    ("TEXT", _message_text),
]


@threads.command("get")
@operator_command
def threads_get(ctx: Context, thread_id: ThreadArgument) -> None:
    """Show one thread."""
    ctx.out.message(ctx.client.threads.get(thread_id))


@threads.command("messages")
@operator_command
def threads_messages(
    ctx: Context,
    thread_id: ThreadArgument,
    *,
    page_size: PageSizeOption = 0,
    limit: LimitOption = 0,
) -> None:
    """List a thread's messages, oldest first."""
    pager = ctx.client.threads.messages(thread_id, page_size=page_size)
    ctx.out.messages(_take(pager, limit), MESSAGE_COLUMNS)


@threads.command("delete")
@operator_command
def threads_delete(ctx: Context, thread_id: ThreadArgument) -> None:
    """Delete a thread and its messages (refused while a run on it goes on)."""
    ctx.client.threads.delete(thread_id)
    ctx.out.done(f"thread/{thread_id} deleted", {"thread_id": thread_id, "deleted": True})


#: Why there is no ``threads list``.
NO_THREAD_LIST = (
    "the service has no call that lists threads (ThreadService has no ListThreads); "
    "`runwire runs list` shows the thread of each run, `runwire threads get THREAD_ID` one thread"
)


@threads.command("list", hidden=True)
def threads_list() -> None:
    """Not available: the service has no call that lists threads."""
    raise fail(NO_THREAD_LIST, EXIT_USAGE)


# --------------------------------------------------------------------------- tools

tools = _group("tools", "The server's tools and MCP servers: list.")

TOOL_COLUMNS: list[Column] = [
    ("NAME", lambda t: t.name),
    ("SOURCE", _tool_source),
    ("MCP_SERVER", lambda t: t.mcp_server),
    ("DESCRIPTION", lambda t: short(t.description, 60)),
]

MCP_SERVER_COLUMNS: list[Column] = [
    ("MCP_SERVER", lambda s: s.name),
    (
        "TRANSPORT",
        lambda s: _enum(tool_pb2.McpServerTransport, s.transport, "MCP_SERVER_TRANSPORT_").lower(),
    ),
    ("STATE", lambda s: _enum(tool_pb2.McpServerState, s.state, "MCP_SERVER_STATE_")),
    ("TOOLS", lambda s: str(len(s.tool_names))),
    ("SINCE", lambda s: timestamp(s.update_time)),
    ("ERROR", lambda s: short(s.error, 60)),
]


@tools.command("list")
@operator_command
def tools_list(ctx: Context) -> None:
    """List the server's tools (built-in, Python, MCP) and its MCP servers with
    their state (a table each; -o json/yaml: one document with both)."""
    listing = ctx.client.tools.list()
    if ctx.out.format is not Format.table:
        ctx.out.message(listing)
        return
    ctx.out.messages(list(listing.tools), TOOL_COLUMNS)
    if listing.mcp_servers:
        sys.stdout.write("\n")
        ctx.out.messages(list(listing.mcp_servers), MCP_SERVER_COLUMNS)
