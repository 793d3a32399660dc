"""The ``runwire`` command: an operator's CLI over ``runwire.Client``.

``pip install 'runwire-client[cli]'`` installs it (typer, rich and PyYAML are
the ``cli`` extra). Its own command groups operate a running server:

* ``runwire agents list|get|apply -f FILE|delete``
* ``runwire runs list|get|cancel|pause|resume|events RUN [--follow]``
* ``runwire approvals list|get|approve|reject``
* ``runwire threads get|messages|delete`` (there is no ``threads list``: the
  service has no call that lists threads)

Every one of them takes ``-o table|json|yaml``, ``--address`` (default
``$RUNWIRE_ADDRESS``, else ``127.0.0.1:50051``), ``--token``, ``--ca-file``,
``--client-cert``/``--client-key``, ``--tls-server-name``, ``--tls`` and
``--timeout``; a connection option left out comes from the environment, as in
``runwire.Credentials``.

Other installed distributions add commands through the entry-point group
``runwire.cli`` (``ENTRY_POINT_GROUP``): each entry point names a
``typer.Typer`` whose commands and command groups become top-level commands of
``runwire``. The server distribution (``runwire``) registers ``serve``,
``health``, ``worker``, ``run``, ``demo`` and ``local-model`` that way, so one
console script serves both.

Exit codes: 0 success; 1 a call failed, or a followed run did not succeed;
2 bad usage, options or input file; 130 interrupted. Errors are one line on
stderr (``error: CODE: MESSAGE (reason REASON)``), never a traceback.
"""

from __future__ import annotations

import sys

__all__ = ["ENTRY_POINT_GROUP", "main"]

#: The entry-point group other distributions register ``runwire`` commands under.
ENTRY_POINT_GROUP = "runwire.cli"

#: Why the command cannot run without its extra.
NO_CLI_EXTRA = (
    "error: the runwire command needs the cli extra of runwire-client: "
    "pip install 'runwire-client[cli]'"
)


def main(argv: list[str] | None = None) -> None:
    """The ``runwire`` console entry point; exits the process with the command's code.

    Args:
        argv: Arguments after the program name; default ``sys.argv[1:]``.
    """
    try:
        from runwire.cli._app import run  # noqa: PLC0415 - typer and rich are the cli extra
    except ModuleNotFoundError as exc:
        if exc.name not in ("typer", "rich", "click"):
            raise
        print(NO_CLI_EXTRA, file=sys.stderr)
        raise SystemExit(1) from None
    run(sys.argv[1:] if argv is None else argv)
