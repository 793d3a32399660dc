"""``python -m runwire_server.app``: the same as ``runwire serve``.

Arguments are passed to ``serve`` (``python -m runwire_server.app --listen unix:/tmp/rw.sock``)
unless the first one names another command (``python -m runwire_server.app run AGENT PROMPT``).
"""

from __future__ import annotations

import sys

from runwire_server.app.cli import app, main

_COMMANDS = {
    command.name or getattr(command.callback, "__name__", "") for command in app.registered_commands
}


def argv_for(args: list[str]) -> list[str]:
    """``args`` with ``serve`` put first unless they start with a command name."""
    if args and args[0] in _COMMANDS:
        return args
    return ["serve", *args]


if __name__ == "__main__":
    main(argv_for(sys.argv[1:]))
