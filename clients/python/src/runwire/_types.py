"""Small values the client takes and gives: approval decisions, retry settings,
paging, resume notices, and builders for the messages a call needs most
(a model, a client tool)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from google.protobuf import json_format, struct_pb2

from runwire._errors import RunwireError
from runwire.v1 import agent_pb2, event_pb2, run_pb2

__all__ = [
    "ApprovalAnswer",
    "Decision",
    "OnApproval",
    "OnResume",
    "Page",
    "Resume",
    "Retry",
    "ToolFunction",
    "client_tool",
    "model",
    "to_struct",
]

T = TypeVar("T")


def to_struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    """A ``google.protobuf.Struct`` holding ``value`` (JSON-compatible values only).

    Raises:
        ValueError: a value JSON cannot hold.
    """
    message = struct_pb2.Struct()
    json_format.ParseDict(json.loads(json.dumps(dict(value))), message)
    return message


def model(provider: str, name: str = "", **options: Any) -> agent_pb2.Model:
    """An ``agent_pb2.Model``: ``model("openai", "gpt-4o-mini", temperature=0)``,
    ``model("scripted", script=[{"text": "hi"}], chunk_chars=4)``.

    Args:
        provider: ``scripted``, ``openai`` or ``anthropic``.
        name: The provider's model name ("" for scripted).
        **options: The provider's options (JSON-compatible; see ``Model.options``).
    """
    result = agent_pb2.Model(provider=provider, name=name)
    if options:
        result.options.CopyFrom(to_struct(options))
    return result


def client_tool(
    name: str, description: str = "", parameters: Mapping[str, Any] | None = None
) -> run_pb2.ClientTool:
    """A ``run_pb2.ClientTool`` the calling client executes.

    Args:
        name: The name the model calls (letters, digits, ``_ - .``, 1 to 64).
        description: What it does, shown to the model.
        parameters: JSON Schema of its arguments object; None: an object with
            no declared properties.
    """
    tool = run_pb2.ClientTool(name=name, description=description)
    if parameters is not None:
        tool.parameters.CopyFrom(to_struct(parameters))
    return tool


@dataclass(frozen=True)
class Decision:
    """An answer to an approval (what an ``on_approval`` callback may return;
    ``True`` and ``False`` are short for ``Decision.approve()`` and ``Decision.reject()``).

    Attributes:
        approve: True runs the tool call, False does not (the model is told).
        reason: Why; the model sees it on a rejection.
        edited_arguments: With an approval: the arguments to run the tool with
            instead of the model's.
    """

    approve: bool
    reason: str = ""
    edited_arguments: Mapping[str, Any] | None = None

    @classmethod
    def approved(
        cls, *, reason: str = "", edited_arguments: Mapping[str, Any] | None = None
    ) -> Decision:
        """An approval, optionally with replacement arguments."""
        return cls(True, reason, edited_arguments)

    @classmethod
    def rejected(cls, reason: str = "") -> Decision:
        """A rejection with its reason."""
        return cls(False, reason)


#: What an ``on_approval`` callback returns: a ``Decision``, or True (approve) / False (reject).
ApprovalAnswer = Decision | bool

#: Decides one approval from its ``approval_requested`` event; a plain function
#: runs in a worker thread (``asyncio.to_thread``), a coroutine function on the loop.
OnApproval = Callable[[event_pb2.ApprovalRequested], ApprovalAnswer | Awaitable[ApprovalAnswer]]

#: Executes one client tool: called with the arguments the model gave (the
#: parsed JSON object); returns the output (a ``str`` as it is, anything else as
#: JSON), or an awaitable of it. An exception is submitted as an error output
#: (``is_error``) with its message. A plain function runs in a worker thread.
ToolFunction = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Retry:
    """How often and how patiently the client resumes a broken stream and
    retries a run creation that failed with UNAVAILABLE.

    The defaults wait about 40 s in all: longer than a replica's drain
    timeout, during which a channel still connected to the draining replica
    is refused (``DRAINING``) until the replica goes away.

    Attributes:
        max_attempts: Attempts in a row (without a new event between them)
            before the error is raised.
        backoff_seconds: Pause before the first attempt, seconds; doubled
            before each next one.
        max_backoff_seconds: Longest pause, seconds.
    """

    max_attempts: int = 10
    backoff_seconds: float = 0.25
    max_backoff_seconds: float = 5.0

    def delay(self, attempt: int) -> float:
        """The pause before attempt ``attempt`` (1-based), seconds."""
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Resume:
    """A broken event stream being resumed (what ``on_resume`` callbacks get).

    Attributes:
        run_id: The run ("" when the stream broke before its first event: the
            run is started again with the same ``request_id``, which returns the
            same run).
        after_sequence: The stream goes on after this sequence.
        attempt: This attempt's number, from 1.
        max_attempts: Attempts allowed in a row.
        error: Why the stream broke (``UnavailableError``: reason ``DRAINING``
            on a server shutting down, "" on a dropped connection;
            ``StreamBrokenError`` when it ended early).
    """

    run_id: str
    after_sequence: int
    attempt: int
    max_attempts: int
    error: RunwireError


#: Told about every resume of a stream, before it is attempted.
OnResume = Callable[[Resume], None]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a List call.

    Attributes:
        items: The page's agents, runs, approvals, events or messages.
        next_page_token: The token of the next page; "" on the last page.
    """

    items: list[T] = field(default_factory=list)
    next_page_token: str = ""
