"""The ``runwire`` typer app: the operator groups plus the commands of plugins.

A plugin is an entry point of the group ``runwire.cli`` naming a
``typer.Typer``; its commands and command groups are added at the top level,
in the order of the entry points' names. A name already taken (by the
operator groups or an earlier plugin) is skipped with a warning; a plugin
that cannot be loaded is skipped with a one-line warning on stderr.
"""

from __future__ import annotations

from importlib import metadata

import typer
from rich.console import Console
from rich.text import Text

from runwire.cli import ENTRY_POINT_GROUP
from runwire.cli._commands import agents, approvals, runs, threads, tools

__all__ = ["OPERATOR_GROUPS", "build_app", "run"]

#: The command groups of the client distribution itself.
OPERATOR_GROUPS = (agents, runs, approvals, threads, tools)

_err = Console(stderr=True, highlight=False)


def _warn(message: str) -> None:
    _err.print(Text(f"warning: {message}", style="yellow"), soft_wrap=True)


def _command_name(command: typer.models.CommandInfo) -> str:
    if command.name:
        return command.name
    callback = command.callback
    return getattr(callback, "__name__", "").replace("_", "-")


def _add_plugins(app: typer.Typer, taken: set[str]) -> None:
    """Adds the commands of every ``runwire.cli`` entry point to ``app``."""
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            plugin = entry.load()
        except Exception as exc:  # a broken plugin must not break the CLI
            _warn(f"commands of {entry.name} ({entry.value}) not loaded: {exc!r}")
            continue
        if not isinstance(plugin, typer.Typer):
            _warn(
                f"{ENTRY_POINT_GROUP} entry point {entry.name} ({entry.value}) is not a typer.Typer"
            )
            continue
        for command in plugin.registered_commands:
            name = _command_name(command)
            if name in taken:
                _warn(f"command {name} of {entry.name} skipped: the name is taken")
                continue
            taken.add(name)
            app.registered_commands.append(command)
        for group in plugin.registered_groups:
            name = group.name or ""
            if not name or name in taken:
                _warn(f"command group {name or '?'} of {entry.name} skipped: the name is taken")
                continue
            taken.add(name)
            app.registered_groups.append(group)


def build_app(*, plugins: bool = True) -> typer.Typer:
    """The ``runwire`` app: the operator groups, and with ``plugins`` the
    commands registered under the ``runwire.cli`` entry points."""
    app = typer.Typer(
        name="runwire",
        help="Runwire: operate a server (agents, runs, approvals, threads, tools), and the "
        "commands of installed plugins (the server's serve, run, demo ...).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    taken: set[str] = set()
    for group in OPERATOR_GROUPS:
        name = group.info.name
        assert name is not None
        app.add_typer(group, name=name)
        taken.add(name)
    if plugins:
        _add_plugins(app, taken)
    return app


def run(argv: list[str]) -> None:
    """Runs the ``runwire`` command on ``argv`` (the arguments after the program
    name) and exits the process with its code. An operator command does not
    load the plugins (the server's imports are not needed for it)."""
    own = {group.info.name for group in OPERATOR_GROUPS}
    app = build_app(plugins=not (argv and argv[0] in own))
    app(args=argv, prog_name="runwire")
