"""``EventFilter`` compiled: the profiles, event types, what always passes, bad filters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from runwire.v1 import event_pb2

from runwire_server.service.api.event_filter import (
    ALWAYS,
    LOGGED,
    FilteredEvents,
    event_filter,
    payload_name,
)
from runwire_server.service.core.errors import InvalidArgumentError


def test_every_event_type_names_a_payload_and_every_logged_payload_has_a_type() -> None:
    names = {payload_name(value) for value in event_pb2.EventType.values() if value}
    assert names == set(LOGGED)
    assert payload_name(event_pb2.EVENT_TYPE_REASONING_END) == "reasoning_end"


@pytest.mark.parametrize(
    "request_filter",
    [
        None,
        event_pb2.EventFilter(),
        event_pb2.EventFilter(profile=event_pb2.EVENT_PROFILE_ALL),
        event_pb2.EventFilter(event_types=[v for v in event_pb2.EventType.values() if v]),  # type: ignore[misc]
    ],
)
def test_filters_that_pass_everything_compile_to_none(
    request_filter: event_pb2.EventFilter | None,
) -> None:
    assert event_filter(request_filter) is None


def test_no_deltas_drops_exactly_the_three_delta_kinds() -> None:
    allowed = event_filter(event_pb2.EventFilter(profile=event_pb2.EVENT_PROFILE_NO_DELTAS))
    assert allowed is not None
    assert (LOGGED | ALWAYS) - allowed == {
        "text_message_content",
        "tool_call_args",
        "reasoning_content",
    }


def test_the_state_profile() -> None:
    allowed = event_filter(event_pb2.EventFilter(profile=event_pb2.EVENT_PROFILE_STATE))
    assert allowed == frozenset(
        {
            "run_started",
            "state_changed",
            "approval_requested",
            "approval_resolved",
            "client_tool_call_requested",
            "sub_run_started",
            "sub_run_finished",
            "run_finished",
            "run_error",
            "heartbeat",
        }
    )


def test_event_types_always_add_the_terminal_events_and_heartbeats() -> None:
    allowed = event_filter(
        event_pb2.EventFilter(event_types=[event_pb2.EVENT_TYPE_REASONING_CONTENT])
    )
    assert allowed == frozenset({"reasoning_content"}) | ALWAYS


def test_profile_and_event_types_together_are_refused_on_filter() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        event_filter(
            event_pb2.EventFilter(
                profile=event_pb2.EVENT_PROFILE_STATE,
                event_types=[event_pb2.EVENT_TYPE_USAGE],
            )
        )
    assert list(caught.value.field_violations) == ["filter"]


@pytest.mark.parametrize("value", [0, 60, 7, 999])
def test_values_outside_the_contract_are_refused(value: int) -> None:
    with pytest.raises(InvalidArgumentError):
        event_filter(event_pb2.EventFilter(event_types=[value]))  # type: ignore[list-item]
    if value:  # profile 0 is UNSPECIFIED: every event
        with pytest.raises(InvalidArgumentError):
            event_filter(event_pb2.EventFilter(profile=value))  # type: ignore[arg-type]


async def test_filtered_events_say_how_far_they_read() -> None:
    log = [
        event_pb2.RunEvent(sequence=1, run_started=event_pb2.RunStarted()),
        event_pb2.RunEvent(sequence=2, usage=event_pb2.RunEvent().usage),
        event_pb2.RunEvent(sequence=0, heartbeat=event_pb2.Heartbeat()),
        event_pb2.RunEvent(sequence=3, step_started=event_pb2.StepStarted(step=1)),
        event_pb2.RunEvent(sequence=4, run_finished=event_pb2.RunFinished()),
    ]

    async def source() -> AsyncIterator[event_pb2.RunEvent]:
        for event in log:
            yield event

    allowed = event_filter(event_pb2.EventFilter(event_types=[event_pb2.EVENT_TYPE_RUN_STARTED]))
    assert allowed is not None
    filtered = FilteredEvents(source(), allowed)
    assert (await anext(filtered)).sequence == 1
    assert (await anext(filtered)).HasField("heartbeat")
    assert filtered.scanned == 2
    assert (await anext(filtered)).sequence == 4
    assert filtered.scanned == 3
    with pytest.raises(StopAsyncIteration):
        await anext(filtered)
    await filtered.aclose()
