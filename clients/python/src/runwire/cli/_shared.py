"""What every operator command shares: the connection and output options, the
client they open, the way they fail, and how messages are printed.

``operator_command`` wraps a command function ``f(ctx, ...)``: it adds the
shared options to the function's signature (typer reads them from it), opens a
``runwire.Client`` from them, passes a ``Context`` and turns failures into one
line on stderr and an exit code.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import json
import pathlib
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, get_type_hints

import grpc
import typer
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message
from rich.console import Console
from rich.text import Text

from runwire._client import DEFAULT_ADDRESS, ENV_ADDRESS
from runwire._connect import Credentials
from runwire._errors import RunwireError, StreamBrokenError, describe_rpc_error
from runwire._sync import Client

#: Exit codes.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Deadline of each unary call when ``--timeout`` is not given, seconds.
DEFAULT_TIMEOUT_SECONDS = 30.0

err = Console(stderr=True, highlight=False)


def fail(message: str, code: int) -> typer.Exit:
    """Prints ``error: MESSAGE`` (one line) on stderr and returns the ``typer.Exit`` to raise."""
    line = " ".join(message.split("\n"))
    err.print(Text(f"error: {line}", style="bold red"), soft_wrap=True)
    return typer.Exit(code)


class Format(enum.StrEnum):
    """``-o``: how results are printed."""

    table = "table"
    json = "json"
    yaml = "yaml"


# --------------------------------------------------------------------------- options

OutputOption = Annotated[
    Format,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        help="table (for people), json or yaml (the messages' proto JSON, field names as in "
        "the proto).",
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        "-a",
        metavar="ADDRESS",
        help=f"host:port or unix:PATH of the server. Default: ${ENV_ADDRESS}, "
        f"else {DEFAULT_ADDRESS}.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        help="Bearer token (API key or JWT) sent on every call. Default: $RUNWIRE_TOKEN.",
        show_default=False,
    ),
]
CaFileOption = Annotated[
    pathlib.Path | None,
    typer.Option(
        "--ca-file",
        metavar="FILE",
        help="PEM CA bundle to trust; turns TLS on. Default: $RUNWIRE_CA_FILE.",
        show_default=False,
    ),
]
ClientCertOption = Annotated[
    pathlib.Path | None,
    typer.Option(
        "--client-cert",
        metavar="FILE",
        help="PEM client certificate (mutual TLS). Default: $RUNWIRE_CLIENT_CERT_FILE.",
        show_default=False,
    ),
]
ClientKeyOption = Annotated[
    pathlib.Path | None,
    typer.Option(
        "--client-key",
        metavar="FILE",
        help="PEM key of --client-cert. Default: $RUNWIRE_CLIENT_KEY_FILE.",
        show_default=False,
    ),
]
ServerNameOption = Annotated[
    str | None,
    typer.Option(
        "--tls-server-name",
        metavar="NAME",
        help="Name to check in the server's certificate instead of the address's host. "
        "Default: $RUNWIRE_TLS_SERVER_NAME.",
        show_default=False,
    ),
]
TlsOption = Annotated[
    bool,
    typer.Option(
        "--tls",
        help="Use TLS even without --ca-file (trusting the system's CAs).",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", metavar="SECONDS", min=0.001, help="Deadline of each call, seconds."),
]

#: The shared options: parameter name -> (type with its typer.Option, default).
_SHARED: dict[str, tuple[Any, Any]] = {
    "output": (OutputOption, Format.table),
    "address": (AddressOption, None),
    "token": (TokenOption, None),
    "ca_file": (CaFileOption, None),
    "client_cert": (ClientCertOption, None),
    "client_key": (ClientKeyOption, None),
    "tls_server_name": (ServerNameOption, None),
    "tls": (TlsOption, False),
    "timeout": (TimeoutOption, DEFAULT_TIMEOUT_SECONDS),
}


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """What a command gets: the open client and the output.

    Attributes:
        client: The ``runwire.Client``, closed when the command returns.
        out: Prints results (``-o``).
    """

    client: Client
    out: Output

    @property
    def address(self) -> str:
        """The server's address."""
        return self.client.address


def credentials_from_options(
    token: str | None,
    ca_file: pathlib.Path | None,
    client_cert: pathlib.Path | None,
    client_key: pathlib.Path | None,
    tls_server_name: str | None,
    *,
    tls: bool = False,
) -> Credentials:
    """The credentials from the connection options, each missing one from its
    environment variable (``Credentials.resolve``).

    Raises:
        typer.Exit: (code 2, after printing why) a certificate without its key,
            or a file that cannot be read.
    """
    try:
        credentials = Credentials.resolve(
            token=token,
            ca_file=ca_file,
            client_cert_file=client_cert,
            client_key_file=client_key,
            server_name=tls_server_name,
            tls=True if tls else None,
        )
        if credentials.tls:
            credentials.channel_credentials()  # reads the files: fail here, not at the first call
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    except OSError as exc:
        raise fail(f"cannot read {exc.filename}: {exc.strerror}", EXIT_USAGE) from None
    return credentials


def error_line(error: RunwireError, address: str) -> str:
    """One line about a failed call: ``CODE: MESSAGE (reason REASON)``, or
    ``cannot reach Runwire at ADDRESS: WHY`` when the server could not be reached."""
    cause = error.__cause__
    if isinstance(error, StreamBrokenError):
        return str(error)
    if isinstance(cause, grpc.aio.AioRpcError):
        return describe_rpc_error(cause, address)
    return str(error)


def operator_command(
    function: Callable[..., int | None],
) -> Callable[..., None]:
    """Makes ``function(ctx, **options)`` a command with the shared options.

    The returned function's signature is ``function``'s without ``ctx``, plus
    the shared options (``-o``, ``--address``, TLS, token, ``--timeout``). It
    opens the client, calls ``function`` and exits with its return value (None
    is 0). A ``RunwireError`` exits 1 with its line; Ctrl-C exits 130.
    """
    hints = get_type_hints(function, include_extras=True)
    own = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[name], default=param.default
        )
        for name, param in inspect.signature(function).parameters.items()
        if name != "ctx"
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
        for name, (kind, default) in _SHARED.items()
    ]
    parameters = own + shared

    @functools.wraps(function)
    def command(**values: Any) -> None:
        options = {name: values.pop(name) for name in _SHARED}
        credentials = credentials_from_options(
            options["token"],
            options["ca_file"],
            options["client_cert"],
            options["client_key"],
            options["tls_server_name"],
            tls=options["tls"],
        )
        output = Output(options["output"])
        try:
            client = Client(options["address"], credentials=credentials, timeout=options["timeout"])
        except (ValueError, OSError) as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        try:
            code = function(Context(client, output), **values)
        except RunwireError as exc:
            raise fail(error_line(exc, client.address), EXIT_FAILED) from None
        except KeyboardInterrupt:
            output.line_break()
            raise fail("interrupted", EXIT_INTERRUPTED) from None
        finally:
            with contextlib.suppress(Exception):
                client.close()
        raise typer.Exit(code or EXIT_OK)

    del command.__wrapped__  # typer must read the new signature, not function's
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


# --------------------------------------------------------------------------- output


def as_dict(message: Message) -> dict[str, Any]:
    """A message as proto JSON values, with the proto's field names."""
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def timestamp(value: timestamp_pb2.Timestamp) -> str:
    """``2026-12-04T17:30:05Z`` (seconds), or "" when unset."""
    if not value.seconds and not value.nanos:
        return ""
    return str(value.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ"))


def short(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters (an ellipsis marks a cut)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def compact(value: Any) -> str:
    """A JSON value as compact text: strings as they are (quoted when empty or
    spaced), the rest as JSON."""
    if isinstance(value, str):
        return value if value and not any(c.isspace() for c in value) else json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _aligned(rows: Sequence[Sequence[str]]) -> str:
    """``rows`` as text: columns padded to their widest cell, two spaces apart,
    no trailing space (cells are made one line first)."""
    cells = [[" ".join(cell.split()) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))] if cells else []
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    return "".join(line + "\n" for line in lines)


#: A column of a table: its header and how a cell is read from a message.
Column = tuple[str, Callable[[Any], str]]


class Output:
    """Prints results as ``-o`` asks: a table, JSON or YAML.

    A single message is a two-column table (field, value) or one JSON/YAML
    document; a list is a table with ``columns`` or a JSON array / YAML
    sequence; a stream of events is one line per event, or JSON Lines, or YAML
    documents separated by ``---``.
    """

    def __init__(self, fmt: Format) -> None:
        self.format = fmt
        # Piped output is not wrapped at 80 columns: tables stay one row per line.
        self.console = Console(highlight=False, soft_wrap=True, width=None)
        if not self.console.is_terminal:
            self.console = Console(highlight=False, soft_wrap=True, width=100_000)

    def _write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def _yaml(self, value: Any, *, document: bool = False) -> str:
        try:
            import yaml  # noqa: PLC0415 - only -o yaml needs it
        except ModuleNotFoundError:
            raise fail(
                "-o yaml needs PyYAML: pip install 'runwire-client[cli]'", EXIT_USAGE
            ) from None

        text: str = yaml.safe_dump(
            value, sort_keys=False, allow_unicode=True, explicit_start=document
        )
        return text

    def line_break(self) -> None:
        """Ends a partial line on a terminal (before an error)."""
        if self.console.is_terminal:
            self.console.print()

    def message(self, message: Message) -> None:
        """Prints one message."""
        values = as_dict(message)
        if self.format is Format.json:
            self._write(json.dumps(values, indent=2, ensure_ascii=False) + "\n")
        elif self.format is Format.yaml:
            self._write(self._yaml(values))
        else:
            rows = [
                [name, " ".join(value.split()) if isinstance(value, str) else compact(value)]
                for name, value in values.items()
            ]
            self._write(_aligned(rows))

    def messages(self, messages: Sequence[Message], columns: Sequence[Column]) -> None:
        """Prints a list of messages."""
        if self.format is Format.json:
            items = [as_dict(m) for m in messages]
            self._write(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
        elif self.format is Format.yaml:
            self._write(self._yaml([as_dict(m) for m in messages]) if messages else "[]\n")
        else:
            rows = [[header for header, _ in columns]]
            rows += [[read(message) for _, read in columns] for message in messages]
            self._write(_aligned(rows))

    def stream(self, messages: Iterable[Message], line: Callable[[Any], Text]) -> Iterator[Any]:
        """Prints each message as it comes (``line`` makes its table line) and
        yields it after it is printed."""
        for message in messages:
            if self.format is Format.json:
                self._write(json.dumps(as_dict(message), ensure_ascii=False) + "\n")
            elif self.format is Format.yaml:
                self._write(self._yaml(as_dict(message), document=True))
            else:
                self.console.print(line(message))
                self.console.file.flush()
            yield message

    def done(self, what: str, values: dict[str, Any]) -> None:
        """Reports an action without a message to print (``agent/x deleted``):
        the sentence as a table, ``values`` as JSON or YAML."""
        if self.format is Format.json:
            self._write(json.dumps(values, indent=2) + "\n")
        elif self.format is Format.yaml:
            self._write(self._yaml(values))
        else:
            self.console.print(Text(what))
