"""Shared test helpers: agent factory, event checks, test servers, waiting.

The client helpers come from the Python client (``runwire``) and are re-exported
here for the tests: ``Stubs``, ``collect`` (``runwire.collect_events``) and
``StatusDetails``; ``status_details`` adds an assertion to the client's.

Tests wait for conditions, never for fixed times: ``wait_until`` (any
condition), ``run_until`` (a run's record), ``events_until`` (a run's event
stream) and ``polls`` (a loop of one's own) all give up after
``CONDITION_SECONDS``, generous so the suite passes on a busy machine (a
passing test waits only as long as it must).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
import runwire
from google.protobuf import duration_pb2, json_format, struct_pb2
from runwire import StatusDetails, Stubs
from runwire import collect_events as collect
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.app.wiring import Runwire
from runwire_server.service.auth.config import ApiKey, AuthSettings

__all__ = [
    "Script",
    "StatusDetails",
    "Stubs",
    "as_dict",
    "assert_gap_free",
    "collect",
    "create_agent",
    "events_until",
    "kinds",
    "polls",
    "run_until",
    "running_server",
    "status_details",
    "struct",
    "unique",
    "wait_until",
    "workflow_history_bytes",
]


Script = list[dict[str, Any]]
"""A scripted model's turns, as sent in the agent's model options."""


#: How long a test waits for a condition before it fails: generous, so the suite
#: passes on a busy machine (a passing test waits only as long as it must).
CONDITION_SECONDS = 60.0


#: The parity suite's API key (tests/conftest.py ``server``): an admin of ``PARITY_TENANT``.
PARITY_TOKEN = "rw-parity-" + uuid.uuid4().hex
PARITY_TENANT = "parity"
PARITY_PRINCIPAL = "parity-admin"
#: The one origin whose pages may call the parity server's HTTP listener (CORS).
PARITY_WEB_ORIGIN = "http://app.parity.test"


def api_key(token: str, principal: str, *roles: str, tenant: str = PARITY_TENANT) -> ApiKey:
    """An ``[[auth.api_keys]]`` entry for ``token`` (stored as its SHA-256)."""
    return ApiKey(
        principal=principal,
        tenant=tenant,
        roles=list(roles),  # type: ignore[arg-type]
        key_sha256=hashlib.sha256(token.encode()).hexdigest(),
    )


#: More callers of the parity server, by principal: (token, tenant, roles).
PARITY_CALLERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # The admin of another tenant: sees nothing of PARITY_TENANT.
    "other-admin": ("rw-other-" + uuid.uuid4().hex, "other", ("admin",)),
    # Approvers of PARITY_TENANT (for approval_policy.approvers).
    "carol": ("rw-carol-" + uuid.uuid4().hex, PARITY_TENANT, ("approver",)),
    "dave": ("rw-dave-" + uuid.uuid4().hex, PARITY_TENANT, ("approver",)),
}


def parity_auth() -> AuthSettings:
    """The parity suite's ``[auth]``: ``PARITY_TOKEN`` and ``PARITY_CALLERS``."""
    keys = [api_key(PARITY_TOKEN, PARITY_PRINCIPAL, "admin")]
    keys += [
        api_key(token, principal, *roles, tenant=tenant)
        for principal, (token, tenant, roles) in PARITY_CALLERS.items()
    ]
    return AuthSettings(api_keys=keys)


async def polls(
    *, interval: float = 0.05, seconds: float = CONDITION_SECONDS
) -> AsyncIterator[int]:
    """Yields attempt numbers 0, 1, … every ``interval`` seconds until ``seconds``
    have passed (``CONDITION_SECONDS`` by default), then stops without raising.

    For ``async for _ in polls(): if condition: break`` followed by an assertion
    of the condition (or a raise with a message of the caller's); the last
    attempt comes after the deadline, so a condition that became true meanwhile
    is seen. ``wait_until`` does both and fails with a message of its own.
    """
    deadline = time.monotonic() + seconds
    attempt = 0
    while True:
        yield attempt
        if time.monotonic() >= deadline:
            return
        attempt += 1
        await asyncio.sleep(interval)


async def wait_until(
    condition: Callable[[], object],
    what: str | Callable[[], str],
    *,
    interval: float = 0.05,
    seconds: float = CONDITION_SECONDS,
) -> None:
    """Returns once ``condition()`` is true, checking every ``interval`` seconds.

    Args:
        condition: A function of no arguments; when it returns an awaitable,
            its result is the answer (so an ``async def`` or a lambda calling one
            works).
        what: The condition in words, or a function returning them (called on
            failure, so it can describe what was seen).
        interval: Seconds between two checks.
        seconds: Deadline, ``CONDITION_SECONDS`` by default.

    Raises:
        AssertionError: still false after ``seconds`` (the message names ``what``).
    """
    async for _ in polls(interval=interval, seconds=seconds):
        answer = condition()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return
    described = what() if callable(what) else what
    raise AssertionError(f"not true within {seconds:g} s: {described}")


async def run_until(
    stubs: Stubs,
    run_id: str,
    done: Callable[[run_pb2.Run], bool],
    what: str,
    *,
    seconds: float = CONDITION_SECONDS,
) -> run_pb2.Run:
    """The run (``GetRun``) once ``done(run)`` holds, polled with ``polls``.

    Raises:
        AssertionError: not within ``seconds``; the message names ``what`` and
            the run's last state.
    """
    run = run_pb2.Run()
    async for _ in polls(seconds=seconds):
        response: run_service_pb2.GetRunResponse = await stubs.runs.GetRun(
            run_service_pb2.GetRunRequest(run_id=run_id)
        )
        run = response.run
        if done(run):
            return run
    state = run_pb2.RunState.Name(run.state)
    raise AssertionError(f"run {run_id}: not {what} within {seconds:g} s (last state {state})")


async def events_until(
    stubs: Stubs,
    run_id: str,
    done: Callable[[list[event_pb2.RunEvent]], bool],
    what: str,
    *,
    after_sequence: int = 0,
    heartbeats: bool = False,
    seconds: float = CONDITION_SECONDS,
) -> list[event_pb2.RunEvent]:
    """Streams run ``run_id``'s events after ``after_sequence`` (``StreamRunEvents``;
    heartbeats only with ``heartbeats``) until ``done(events so far)`` holds;
    returns those events.

    The stream is cancelled on return, so the run goes on unobserved.

    Raises:
        AssertionError: the stream ended first (the run ended), or ``seconds``
            passed; the message names ``what`` and the kinds of events seen.
    """
    events: list[event_pb2.RunEvent] = []
    call = stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(run_id=run_id, after_sequence=after_sequence)
    )
    try:
        async with asyncio.timeout(seconds):
            async for response in call:
                if response.event.HasField("heartbeat") and not heartbeats:
                    continue
                events.append(response.event)
                if done(events):
                    return events
    except TimeoutError:
        raise AssertionError(
            f"run {run_id}: no {what} within {seconds:g} s; events: {kinds(events)}"
        ) from None
    finally:
        call.cancel()
    raise AssertionError(f"run {run_id} ended before {what}; events: {kinds(events)}")


def unique(prefix: str) -> str:
    """A fresh id so tests sharing one server never collide."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


async def create_agent(
    stubs: Stubs,
    script: Script | None = None,
    *,
    tools: list[str] | None = None,
    mode: agent_pb2.ApprovalMode = agent_pb2.APPROVAL_MODE_AUTO,
    auto_approved: list[str] | None = None,
    max_iterations: int = 0,
    timeout_seconds: float | None = None,
    approval_timeout_seconds: float | None = None,
    chunk_chars: int = 4,
    delay_ms: float = 0,
    instructions: str = "You are a test agent.",
    response_format: dict[str, Any] | None = None,
    token_budget: int = 0,
    approvers: list[str] | None = None,
    agent_id: str | None = None,
) -> agent_pb2.Agent:
    """Creates an agent on the scripted model and returns it."""
    limits = agent_pb2.Limits(max_iterations=max_iterations, token_budget=token_budget)
    if timeout_seconds is not None:
        limits.timeout.CopyFrom(duration_pb2.Duration(seconds=int(timeout_seconds)))
    if approval_timeout_seconds is not None:
        limits.approval_timeout.CopyFrom(
            duration_pb2.Duration(seconds=int(approval_timeout_seconds))
        )
    options: dict[str, Any] = {"script": script or [], "chunk_chars": chunk_chars}
    if delay_ms:
        options["delay_ms"] = delay_ms
    agent = agent_pb2.Agent(
        display_name="test agent",
        instructions=instructions,
        model=agent_pb2.Model(provider="scripted", options=struct(options)),
        tools=tools or [],
        approval_policy=agent_pb2.ApprovalPolicy(
            mode=mode, auto_approved_tools=auto_approved or [], approvers=approvers or []
        ),
        limits=limits,
    )
    if response_format is not None:
        agent.response_format.CopyFrom(struct(response_format))
    response = await stubs.agents.CreateAgent(
        agent_pb2.CreateAgentRequest(agent_id=agent_id or unique("agent"), agent=agent)
    )
    return cast("agent_pb2.Agent", response.agent)


def kinds(events: list[event_pb2.RunEvent]) -> list[str]:
    """The payload case of each event."""
    return [str(e.WhichOneof("payload")) for e in events]


def assert_gap_free(events: list[event_pb2.RunEvent], start: int = 1) -> None:
    """Sequences are start, start+1, ... with no gap or repeat."""
    sequences = [e.sequence for e in events]
    assert sequences == list(range(start, start + len(events))), sequences


def status_details(error: grpc.aio.AioRpcError) -> StatusDetails:
    """``runwire.status_details``, asserting the call carried a ``google.rpc.Status``."""
    details = runwire.status_details(error)
    assert details.from_server, f"no rich status in {error!r}"
    return details


def as_dict(message: Any) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(message)
    return result


@contextlib.asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[RunwireServer]:
    """A Runwire server built from ``settings``, serving until the block ends
    (then stopped with the default grace)."""
    server = RunwireServer(await Runwire.create(settings), settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def workflow_history_bytes(server: RunwireServer, run_id: str) -> bytes:
    """The serialized events of run ``run_id``'s workflow history (the latest
    execution) on ``server``'s Temporal service; payloads appear in it as they are."""
    address = server.settings.temporal_address
    assert address is not None, "the server has no Temporal runtime"
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    history = await client.get_workflow_handle(run_id).fetch_history()
    return b"".join(event.SerializeToString() for event in history.events)


#: Longest a followed stream may take to end by itself once its run ended, seconds.
STREAM_END_SECONDS = 120.0


@dataclass
class Follower:
    """Streams a run's events (``StreamRunEvents`` from 0, heartbeats left out) in a
    background task: ``start``, then ``wait_for`` what the test needs, ``ended`` for
    the whole stream, ``close`` in a ``finally``."""

    stubs: Stubs
    run_id: str
    events: list[event_pb2.RunEvent] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        request = run_service_pb2.StreamRunEventsRequest(run_id=self.run_id)
        async for response in self.stubs.runs.StreamRunEvents(request):
            if not response.event.HasField("heartbeat"):
                self.events.append(response.event)

    async def wait_for(self, kind: str, count: int = 1) -> None:
        """Returns once ``count`` events of ``kind`` (a payload name) were streamed.

        Raises:
            AssertionError: the stream ended or ``CONDITION_SECONDS`` passed first.
        """
        async for _ in polls(interval=0.005):
            if kinds(self.events).count(kind) >= count:
                return
            if self.task is not None and self.task.done():
                self.task.result()
                break
        raise AssertionError(f"fewer than {count} {kind} in the stream: {kinds(self.events)}")

    async def ended(self) -> list[event_pb2.RunEvent]:
        """The events, once the stream ended by itself (after the terminal event)."""
        assert self.task is not None
        async with asyncio.timeout(STREAM_END_SECONDS):
            await self.task
        return self.events

    async def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await self.task
