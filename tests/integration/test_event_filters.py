"""Event filters on StreamRun, StreamRunEvents and ListRunEvents, on every runtime.

A scripted run that reasons, talks, calls a tool behind an approval and answers
gives every kind of event. Its whole log (``ListRunEvents`` without a filter) is
the reference: a filtered stream or page must be exactly the log's matching
events, with the log's sequences, each once; the terminal event always comes.
Live streams are cut and resumed with the same filter; the Python client's own
resume is broken on purpose and must ask for the same events again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
import runwire
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_service_pb2,
)

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.app.wiring import Runwire
from runwire_server.service.api.event_filter import event_filter
from tests.support import (
    CONDITION_SECONDS,
    PARITY_TOKEN,
    Stubs,
    create_agent,
    kinds,
    run_until,
    status_details,
)

SCRIPT: list[dict[str, Any]] = [
    {
        "reasoning": "The user wants a product; use the calculator.",
        "text": "Let me compute that.",
        "tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}],
    },
    {"reasoning": "The tool said 42.", "text": "6 x 7 = 42."},
]

NO_DELTAS = event_pb2.EventFilter(profile=event_pb2.EVENT_PROFILE_NO_DELTAS)

FILTERS = {
    "all": event_pb2.EventFilter(profile=event_pb2.EVENT_PROFILE_ALL),
    "no_deltas": NO_DELTAS,
    "state": event_pb2.EventFilter(profile=event_pb2.EVENT_PROFILE_STATE),
    "reasoning_and_tools": event_pb2.EventFilter(
        event_types=[
            event_pb2.EVENT_TYPE_REASONING_END,
            event_pb2.EVENT_TYPE_TOOL_CALL_END,
            event_pb2.EVENT_TYPE_TOOL_CALL_RESULT,
        ]
    ),
}


async def approving_agent(stubs: Stubs, *, delay_ms: float = 0) -> agent_pb2.Agent:
    return await create_agent(
        stubs,
        SCRIPT,
        tools=["calculator"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        delay_ms=delay_ms,
    )


async def approve(stubs: Stubs, approval_id: str) -> None:
    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
        )
    )


async def whole_log(stubs: Stubs, run_id: str) -> list[event_pb2.RunEvent]:
    events: list[event_pb2.RunEvent] = []
    token = ""
    while True:
        response = await stubs.runs.ListRunEvents(
            run_service_pb2.ListRunEventsRequest(run_id=run_id, page_token=token, page_size=1000)
        )
        events.extend(response.events)
        token = response.next_page_token
        if not token:
            return events


def matching(
    events: list[event_pb2.RunEvent], request_filter: event_pb2.EventFilter
) -> list[event_pb2.RunEvent]:
    allowed = event_filter(request_filter)
    return [e for e in events if allowed is None or e.WhichOneof("payload") in allowed]


async def read(
    call: Any, into: list[event_pb2.RunEvent], *, until: str = "", count: int = 0
) -> None:
    """Reads ``call``'s events (heartbeats left out) into ``into``: to its end,
    through the first event of payload ``until``, or ``count`` events."""
    read_now = 0
    async with asyncio.timeout(CONDITION_SECONDS):
        async for response in call:
            event = response.event
            if event.HasField("heartbeat"):
                continue
            into.append(event)
            read_now += 1
            if (until and event.WhichOneof("payload") == until) or read_now == count:
                return


async def ended_run(stubs: Stubs) -> str:
    """A run of ``SCRIPT`` to its end (its approval given); its id."""
    agent = await approving_agent(stubs)
    call = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="What is 6 x 7?")
    )
    seen: list[event_pb2.RunEvent] = []
    await read(call, seen, until="approval_requested")
    await approve(stubs, seen[-1].approval_requested.approval_id)
    await read(call, seen)
    assert seen[-1].HasField("run_finished"), kinds(seen)
    return seen[-1].run_id


@pytest.fixture
async def ended(stubs: Stubs) -> tuple[str, list[event_pb2.RunEvent]]:
    run_id = await ended_run(stubs)
    return run_id, await whole_log(stubs, run_id)


@pytest.mark.parametrize("name", sorted(FILTERS))
async def test_a_filter_on_an_ended_run_streams_exactly_the_matching_events(
    stubs: Stubs, ended: tuple[str, list[event_pb2.RunEvent]], name: str
) -> None:
    run_id, log = ended
    assert {"reasoning_content", "tool_call_args", "approval_requested"} <= set(kinds(log))
    request_filter = FILTERS[name]
    streamed: list[event_pb2.RunEvent] = []
    await read(
        stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=run_id, filter=request_filter)
        ),
        streamed,
    )
    expected = matching(log, request_filter)
    assert streamed == expected
    assert streamed[-1].HasField("run_finished")
    if name != "all":
        assert len(streamed) < len(log)  # numbers are skipped, never renumbered

    # Pages: at most page_size matching events each, together the same events.
    paged: list[event_pb2.RunEvent] = []
    token = ""
    for _ in range(len(log) + 1):
        response = await stubs.runs.ListRunEvents(
            run_service_pb2.ListRunEventsRequest(
                run_id=run_id, page_size=3, page_token=token, filter=request_filter
            )
        )
        assert len(response.events) <= 3
        paged.extend(response.events)
        token = response.next_page_token
        if not token:
            break
    assert paged == expected


async def test_the_end_events_carry_the_text_a_no_deltas_client_shows(
    stubs: Stubs, ended: tuple[str, list[event_pb2.RunEvent]]
) -> None:
    _, log = ended
    shown = matching(log, NO_DELTAS)
    assert not {"text_message_content", "tool_call_args", "reasoning_content"} & set(kinds(shown))
    texts = [e.text_message_end.text for e in shown if e.HasField("text_message_end")]
    assert texts == ["Let me compute that.", "6 x 7 = 42."]
    reasoning = [e.reasoning_end.text for e in shown if e.HasField("reasoning_end")]
    assert reasoning == [SCRIPT[0]["reasoning"], SCRIPT[1]["reasoning"]]
    (arguments,) = [e.tool_call_end.arguments for e in shown if e.HasField("tool_call_end")]
    assert arguments == '{"expression":"6*7"}'


@pytest.mark.parametrize("name", ["no_deltas", "state", "reasoning_and_tools"])
async def test_a_filtered_live_stream_cut_and_resumed_sends_each_matching_event_once(
    stubs: Stubs, name: str
) -> None:
    request_filter = FILTERS[name]
    agent = await approving_agent(stubs, delay_ms=5)
    seen: list[event_pb2.RunEvent] = []
    # Cut after the first event (the run goes on, unobserved) ...
    first = stubs.runs.StreamRun(
        run_service_pb2.StreamRunRequest(
            agent_id=agent.agent_id, prompt="What is 6 x 7?", filter=request_filter
        )
    )
    await read(first, seen, count=1)
    first.cancel()
    run_id = seen[0].run_id
    # ... resume with the same filter while the run waits for its approval, cut again ...
    run = await run_until(stubs, run_id, lambda r: bool(r.required_actions), "waiting")
    second = stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(
            run_id=run_id, after_sequence=seen[-1].sequence, filter=request_filter
        )
    )
    await read(second, seen, count=1)
    second.cancel()
    # ... and resume once more after the approval, to the end.
    await approve(stubs, run.required_actions[0].approval_id)
    await read(
        stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(
                run_id=run_id, after_sequence=seen[-1].sequence, filter=request_filter
            )
        ),
        seen,
    )
    assert seen == matching(await whole_log(stubs, run_id), request_filter)
    assert seen[-1].HasField("run_finished")


async def test_a_terminal_event_ends_a_stream_whose_filter_leaves_everything_else_out(
    stubs: Stubs,
) -> None:
    agent = await create_agent(stubs, [{"reasoning": "Hmm.", "text": "done"}])
    nothing_logged = event_pb2.EventFilter(event_types=[event_pb2.EVENT_TYPE_MESSAGE_DISCARDED])
    events: list[event_pb2.RunEvent] = []
    await read(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, prompt="p", filter=nothing_logged
            )
        ),
        events,
    )
    assert kinds(events) == ["run_finished"]
    assert events[0].sequence == (await whole_log(stubs, events[0].run_id))[-1].sequence


BOTH = event_pb2.EventFilter(
    profile=event_pb2.EVENT_PROFILE_STATE, event_types=[event_pb2.EVENT_TYPE_USAGE]
)


async def test_profile_and_event_types_together_are_invalid_everywhere(
    stubs: Stubs, ended: tuple[str, list[event_pb2.RunEvent]]
) -> None:
    run_id, _ = ended
    agent = await create_agent(stubs, [{"text": "never"}])
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "StreamRun": lambda: _drain(
            stubs.runs.StreamRun(
                run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p", filter=BOTH)
            )
        ),
        "StreamRunEvents": lambda: _drain(
            stubs.runs.StreamRunEvents(
                run_service_pb2.StreamRunEventsRequest(run_id=run_id, filter=BOTH)
            )
        ),
        "ListRunEvents": lambda: stubs.runs.ListRunEvents(
            run_service_pb2.ListRunEventsRequest(run_id=run_id, filter=BOTH)
        ),
    }
    for name, call in calls.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call()
        details = status_details(caught.value)
        assert details.code is grpc.StatusCode.INVALID_ARGUMENT, name
        assert list(details.field_violations) == ["filter"], (name, details)
    # The refused StreamRun started no run.
    runs = await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(agent_id=agent.agent_id))
    assert list(runs.runs) == []


@pytest.mark.parametrize(
    "bad",
    [
        event_pb2.EventFilter(event_types=[0]),  # type: ignore[list-item]
        event_pb2.EventFilter(event_types=[7]),  # type: ignore[list-item]
        event_pb2.EventFilter(profile=9),  # type: ignore[arg-type]
        event_pb2.EventFilter(event_types=[event_pb2.EVENT_TYPE_USAGE, event_pb2.EVENT_TYPE_USAGE]),
    ],
)
async def test_filters_outside_the_contract_are_invalid(
    stubs: Stubs, ended: tuple[str, list[event_pb2.RunEvent]], bad: event_pb2.EventFilter
) -> None:
    run_id, _ = ended
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _drain(
            stubs.runs.StreamRunEvents(
                run_service_pb2.StreamRunEventsRequest(run_id=run_id, filter=bad)
            )
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert any(path.startswith("filter") for path in status_details(caught.value).field_violations)


async def _drain(call: Any) -> None:
    async for _ in call:
        pass


# --------------------------------------------------------------- the Python client


@pytest.fixture
async def client(server: RunwireServer) -> AsyncIterator[runwire.AsyncClient]:
    retry = runwire.Retry(max_attempts=5, backoff_seconds=0.01)
    async with runwire.connect_async(
        server.addresses[0], token=PARITY_TOKEN, tls=False, retry=retry
    ) as connected:
        yield connected


class Breaking:
    """A stream that fails with UNAVAILABLE after ``after`` events."""

    def __init__(self, call: Any, after: int) -> None:
        self._call = call
        self._after = after
        self._count = 0

    def __aiter__(self) -> Breaking:
        return self

    async def __anext__(self) -> Any:
        if self._count == self._after:
            self._call.cancel()
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "cut"
            )
        self._count += 1
        return await self._call.read()

    def cancel(self) -> None:
        self._call.cancel()


async def test_the_python_client_resumes_with_the_same_filter(
    client: runwire.AsyncClient, stubs: Stubs
) -> None:
    real_stream_run = client.stubs.runs.StreamRun
    real_events = client.stubs.runs.StreamRunEvents
    resumes: list[run_service_pb2.StreamRunEventsRequest] = []

    def stream_events(request: run_service_pb2.StreamRunEventsRequest) -> Breaking:
        resumes.append(request)
        return Breaking(real_events(request), 2)

    client.stubs.runs.StreamRun = lambda request: Breaking(real_stream_run(request), 2)
    client.stubs.runs.StreamRunEvents = stream_events
    agent = await approving_agent(stubs)
    stream = client.runs.stream(
        agent.agent_id,
        "What is 6 x 7?",
        profile=event_pb2.EVENT_PROFILE_NO_DELTAS,
        on_approval=lambda requested: True,
    )
    events = [event async for event in stream]
    assert resumes and all(r.filter == NO_DELTAS for r in resumes)
    log = await whole_log(stubs, stream.run_id)
    assert events == matching(log, NO_DELTAS)

    only = [event_pb2.EVENT_TYPE_REASONING_END]
    replayed = [e async for e in client.runs.events(stream.run_id, event_types=only)]
    assert kinds(replayed) == ["reasoning_end", "reasoning_end", "run_finished"]
    listed = await client.runs.list_events(stream.run_id, event_types=only, page_size=1).to_list()
    assert listed == replayed


# ------------------------------------------------------------------------- drain


async def test_a_drained_filtered_stream_names_the_last_event_it_read() -> None:
    """A filtered stream ended by a drain names in ``last_sequence`` the last event
    it read, even one its filter left out: a resume after it misses nothing."""
    settings = Settings(
        listen=["127.0.0.1:0"],
        tool_modules=["tests.tools_for_tests"],
        log_level="WARNING",
        heartbeat_interval_seconds=0.1,
        drain_timeout_seconds=0.5,
    )
    server = RunwireServer(await Runwire.create(settings), settings)
    await server.start()
    stubs = Stubs.connect(server.addresses[0])
    try:
        agent = await approving_agent(stubs)
        created = await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(agent_id=agent.agent_id, prompt="p")
        )
        run = await run_until(
            stubs, created.run.run_id, lambda r: bool(r.required_actions), "waiting"
        )
        only_start = event_pb2.EventFilter(event_types=[event_pb2.EVENT_TYPE_RUN_STARTED])
        call = stubs.runs.StreamRunEvents(
            run_service_pb2.StreamRunEventsRequest(run_id=run.run_id, filter=only_start)
        )
        sent: list[str] = []
        async for response in call:  # the logged events are read once heartbeats come
            sent.append(str(response.event.WhichOneof("payload")))
            if sent.count("heartbeat") == 2:
                break
        assert sent[0] == "run_started" and set(sent[1:]) == {"heartbeat"}
        stopping = asyncio.ensure_future(server.stop(grace_seconds=0.2))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for response in call:
                assert response.event.HasField("heartbeat"), response.event
        details = status_details(caught.value)
        assert details.reason == "DRAINING"
        assert details.metadata["last_sequence"] == str(run.last_sequence)
        await stopping
    finally:
        await stubs.channel.close()
        await server.stop(grace_seconds=0)
