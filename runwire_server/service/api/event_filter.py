"""``EventFilter``: which events of a run a stream or a page sends.

A filter is a profile (a named set of event types) or a list of event types,
never both. ``event_filter`` checks one and compiles it into the set of
``RunEvent.payload`` names it lets through; the terminal events
(``run_finished``, ``run_error``) and heartbeats always pass, so a filtered
stream ends exactly when the run does. ``None`` means "every event": the
servicer then streams without looking at each event (no cost per event).

Sequences are never renumbered: a filtered stream skips the numbers of the
events it leaves out, and resuming after the last sequence seen works as
without a filter (when the resume passes the same filter).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from runwire.v1 import event_pb2

from runwire_server.service.core.errors import InvalidArgumentError

#: Payloads every filter lets through: the terminal events and heartbeats.
ALWAYS = frozenset({"run_finished", "run_error", "heartbeat"})

#: The delta payloads ``EVENT_PROFILE_NO_DELTAS`` leaves out (their end events
#: carry the whole text).
DELTAS = frozenset({"text_message_content", "tool_call_args", "reasoning_content"})

#: What ``EVENT_PROFILE_STATE`` sends (with ``ALWAYS``): a dashboard's or an
#: approver's view of a run.
STATE = frozenset(
    {
        "run_started",
        "state_changed",
        "approval_requested",
        "approval_resolved",
        "client_tool_call_requested",
        "sub_run_started",
        "sub_run_finished",
    }
)

_PAYLOAD_OF_TYPE: dict[int, str] = {
    field.number: field.name
    for field in event_pb2.RunEvent.DESCRIPTOR.oneofs_by_name["payload"].fields
}

#: Every logged payload name (not heartbeats).
LOGGED = frozenset(name for name in _PAYLOAD_OF_TYPE.values() if name != "heartbeat")

_PROFILES: dict[int, frozenset[str] | None] = {
    event_pb2.EVENT_PROFILE_UNSPECIFIED: None,
    event_pb2.EVENT_PROFILE_ALL: None,
    event_pb2.EVENT_PROFILE_NO_DELTAS: (LOGGED - DELTAS) | ALWAYS,
    event_pb2.EVENT_PROFILE_STATE: STATE | ALWAYS,
}


def payload_name(event_type: int) -> str:
    """The ``RunEvent.payload`` field an ``EventType`` value stands for
    (``EVENT_TYPE_TEXT_MESSAGE_CONTENT`` → ``text_message_content``).

    Raises:
        InvalidArgumentError: not an event type of the contract (field ``filter``).
    """
    name = _PAYLOAD_OF_TYPE.get(event_type)
    if name is None or name == "heartbeat" or event_type not in event_pb2.EventType.values():
        raise _invalid(f"event type {event_type} is not an EventType")
    return name


def _invalid(what: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"filter: {what}", field_violations={"filter": what})


def event_filter(
    request: event_pb2.EventFilter | None,
) -> frozenset[str] | None:
    """The payload names ``request`` lets through, ``ALWAYS`` included; None when it
    lets every event through (no filter, ``EVENT_PROFILE_ALL``/``UNSPECIFIED``,
    or every type listed).

    Raises:
        InvalidArgumentError: both ``profile`` and ``event_types`` are set, or a
            value is not in the contract (field violation on ``filter``).
    """
    if request is None:
        return None
    if request.profile and request.event_types:
        raise _invalid("set profile or event_types, not both")
    if request.event_types:
        names = frozenset(payload_name(t) for t in request.event_types)
        return None if names >= LOGGED else names | ALWAYS
    if request.profile not in _PROFILES:
        raise _invalid(f"profile {request.profile} is not an EventProfile")
    return _PROFILES[request.profile]


def requested_filter(message: object) -> frozenset[str] | None:
    """``event_filter`` of a request's ``filter`` field (None when it has none set).

    Raises:
        InvalidArgumentError: as ``event_filter``.
    """
    has_field = getattr(message, "HasField", None)
    if has_field is None or not has_field("filter"):
        return None
    request: event_pb2.EventFilter = message.filter  # type: ignore[attr-defined]
    return event_filter(request)


class FilteredEvents:
    """The events of ``events`` whose payload is in ``allowed``, in order.

    ``scanned`` is the sequence of the last logged event read, sent or not:
    a stream cut here may resume after it without missing a matching event.
    Safe to cancel while waiting (the next ``__anext__`` goes on reading).
    """

    def __init__(self, events: AsyncIterator[event_pb2.RunEvent], allowed: frozenset[str]):
        self._events = events
        self._allowed = allowed
        self.scanned = 0

    def __aiter__(self) -> FilteredEvents:
        return self

    async def __anext__(self) -> event_pb2.RunEvent:
        """The next event that passes.

        Raises:
            StopAsyncIteration: the source ended.
        """
        while True:
            event = await anext(self._events)
            if event.WhichOneof("payload") in self._allowed:
                return event
            self.scanned = event.sequence

    async def aclose(self) -> None:
        """Closes the source."""
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()
