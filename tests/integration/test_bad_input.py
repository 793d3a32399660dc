"""Bad input for every RPC: the right status code, field violations and ErrorInfo.

The table ``CASES`` holds one malformed or impossible request per row, built
from a ``World`` (an agent, a thread, a finished run and its approval stored on
the server), so the same rows can be fired at stored data to prove that no bad
request changes it. Rows needing a live run (busy thread, pending tool call)
are separate tests below the table.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from google.protobuf.message import Message
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
)

from tests.support import (
    StatusDetails,
    Stubs,
    collect,
    create_agent,
    status_details,
    struct,
    unique,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
ALREADY_EXISTS = grpc.StatusCode.ALREADY_EXISTS
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
ABORTED = grpc.StatusCode.ABORTED
OUT_OF_RANGE = grpc.StatusCode.OUT_OF_RANGE

#: RPCs whose error arrives on the response stream rather than as the call's result.
STREAMING = frozenset(
    {"runs.StreamRun", "runs.StreamRunEvents", "runs.WatchRuns", "approvals.WatchApprovals"}
)

STORED_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "stored"}}]},
    {"text": "the stored answer"},
]


@dataclass(frozen=True)
class World:
    """Data stored on the server that bad requests aim at (and must not change)."""

    agent_id: str
    etag: str
    thread_id: str
    run_id: str
    last_sequence: int
    approval_id: str
    tool_call_id: str


async def store_world(stubs: Stubs) -> World:
    """An agent (echo needs approval), a thread, and one finished run on it
    whose echo call was approved."""
    agent = await create_agent(
        stubs, STORED_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
    )
    thread_id = unique("thread")
    await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread_id=thread_id, metadata={"team": "qa"})
    )
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id, thread_id=thread_id, prompt="store me"
            )
        )
    ).run
    events = await run_approving_everything(stubs, run.run_id)
    assert events[-1].run_finished.output == "the stored answer"
    requested = next(e.approval_requested for e in events if e.HasField("approval_requested"))
    return World(
        agent_id=agent.agent_id,
        etag=agent.etag,
        thread_id=thread_id,
        run_id=run.run_id,
        last_sequence=events[-1].sequence,
        approval_id=requested.approval_id,
        tool_call_id=requested.tool_call_id,
    )


async def run_approving_everything(stubs: Stubs, run_id: str) -> list[event_pb2.RunEvent]:
    """Streams a run to its end, approving each approval as it is requested."""
    events = []
    async for response in stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(run_id=run_id)
    ):
        event = response.event
        if event.HasField("heartbeat"):
            continue
        events.append(event)
        if event.HasField("approval_requested"):
            await stubs.approvals.ResolveApproval(
                approval_pb2.ResolveApprovalRequest(
                    approval_id=event.approval_requested.approval_id,
                    decision=approval_pb2.APPROVAL_DECISION_APPROVE,
                )
            )
    return events


@pytest.fixture(scope="module")
async def world(stubs: Stubs) -> World:
    return await store_world(stubs)


# --- request builders -------------------------------------------------------------------


def model(script: Any = None, *, provider: str = "scripted", **options: Any) -> agent_pb2.Model:
    body: dict[str, Any] = dict(options)
    if script is not None:
        body["script"] = script
    return agent_pb2.Model(provider=provider, options=struct(body))


def valid_agent(**fields: Any) -> agent_pb2.Agent:
    """A valid agent definition with ``fields`` replaced."""
    fields.setdefault("model", model([{"text": "hi"}]))
    return agent_pb2.Agent(**fields)


def seconds(value: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=value)


def create_agent_req(**agent_fields: Any) -> agent_pb2.CreateAgentRequest:
    return agent_pb2.CreateAgentRequest(
        agent_id=unique("bad-agent"), agent=valid_agent(**agent_fields)
    )


def update_req(
    w: World, paths: list[str] | None, **agent_fields: Any
) -> agent_pb2.UpdateAgentRequest:
    agent = agent_pb2.Agent(agent_id=w.agent_id, **agent_fields)
    mask = field_mask_pb2.FieldMask(paths=paths) if paths is not None else None
    return agent_pb2.UpdateAgentRequest(agent=agent, update_mask=mask)


def token(value: Any) -> str:
    """A page token holding ``value`` as it would be encoded, for tokens nobody issued."""
    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: Page tokens no response ever returned.
GARBAGE_TOKENS = {
    "not-base64": "%%%not a token%%%",
    "not-json": base64.urlsafe_b64encode(b"not json").decode(),
    "no-cursor": token({"before": "x"}),
    "number-cursor": token({"after": 5}),
    "list": token(["after"]),
}

LONG_ID = "x" * 129

#: A number no enum of the contract defines (typed Any: the stubs only accept defined values).
UNDEFINED_ENUM: Any = 99


@dataclass(frozen=True)
class Case:
    """One bad request and what the server must answer.

    Attributes:
        rpc: ``<stub>.<Method>`` on ``Stubs`` (``agents.CreateAgent``).
        request: Builds the request from the stored world.
        code: The expected status code.
        field: With INVALID_ARGUMENT, a field path expected among the
            BadRequest field violations.
        reason: The expected ErrorInfo reason; "" accepts any non-empty one.
    """

    rpc: str
    request: Callable[[World], Message]
    code: grpc.StatusCode
    field: str = ""
    reason: str = ""


T = TypeVar("T")


def bound(value: T, build: Callable[[World, T], Message]) -> Callable[[World], Message]:
    """``build`` with ``value`` fixed now, for request builders made in a loop."""
    return lambda w: build(w, value)


def case(
    name: str,
    rpc: str,
    request: Callable[[World], Message],
    code: grpc.StatusCode = INVALID,
    *,
    field: str = "",
    reason: str = "",
) -> Any:
    method = rpc.split(".")[1]
    return pytest.param(
        Case(rpc=rpc, request=request, code=code, field=field, reason=reason),
        id=f"{method}-{name}",
    )


def agent_cases() -> list[Any]:
    c = "agents.CreateAgent"
    u = "agents.UpdateAgent"
    return [
        # CreateAgent: ids
        *(
            case(
                f"agent_id-{name}",
                c,
                bound(
                    bad,
                    lambda w, bad: agent_pb2.CreateAgentRequest(agent_id=bad, agent=valid_agent()),
                ),
                field="agent_id",
            )
            for name, bad in {
                "empty": "",
                "upper-case": "Agent-1",
                "leading-dash": "-agent",
                "slash": "agent/1",
                "space": "agent 1",
                "64-chars": "a" * 64,
            }.items()
        ),
        case(
            "id-taken",
            c,
            lambda w: agent_pb2.CreateAgentRequest(agent_id=w.agent_id, agent=valid_agent()),
            ALREADY_EXISTS,
            reason="AGENT_ALREADY_EXISTS",
        ),
        # CreateAgent: the definition
        case(
            "agent-missing",
            c,
            lambda w: agent_pb2.CreateAgentRequest(agent_id=unique("bad-agent")),
            field="agent",
        ),
        case(
            "model-missing",
            c,
            lambda w: agent_pb2.CreateAgentRequest(
                agent_id=unique("bad-agent"), agent=agent_pb2.Agent(instructions="x")
            ),
            field="agent",
        ),
        case(
            "provider-empty",
            c,
            lambda w: create_agent_req(model=model([], provider="")),
            field="agent.model.provider",
        ),
        case(
            "provider-unknown",
            c,
            lambda w: create_agent_req(model=model([], provider="no-such-provider")),
            field="agent.model.provider",
        ),
        case(
            "script-not-a-list",
            c,
            lambda w: create_agent_req(model=model("say hi")),
            field="agent.model.options.script",
        ),
        case(
            "script-turn-empty",
            c,
            lambda w: create_agent_req(model=model([{"text": "ok"}, {}])),
            field="agent.model.options.script[1]",
        ),
        case(
            "script-turn-unknown-key",
            c,
            lambda w: create_agent_req(model=model([{"txt": "typo"}])),
            field="agent.model.options.script[0].txt",
        ),
        case(
            "script-tool-call-without-name",
            c,
            lambda w: create_agent_req(model=model([{"tool_calls": [{"arguments": {}}]}])),
            field="agent.model.options.script[0].tool_calls[0].name",
        ),
        case(
            "script-tool-arguments-not-object",
            c,
            lambda w: create_agent_req(
                model=model([{"tool_calls": [{"name": "echo", "arguments": "text"}]}])
            ),
            field="agent.model.options.script[0].tool_calls[0].arguments",
        ),
        case(
            "scripted-chunk_chars-zero",
            c,
            lambda w: create_agent_req(model=model([], chunk_chars=0)),
            field="agent.model.options.chunk_chars",
        ),
        case(
            "scripted-delay_ms-text",
            c,
            lambda w: create_agent_req(model=model([], delay_ms="slow")),
            field="agent.model.options.delay_ms",
        ),
        case(
            "openai-base_url-not-http",
            c,
            lambda w: create_agent_req(model=model(provider="openai", base_url="ftp://example")),
            field="agent.model.options.base_url",
        ),
        case(
            "tool-unknown",
            c,
            lambda w: create_agent_req(tools=["no_such_tool"]),
            field="agent.tools[0]",
        ),
        case(
            "tool-unknown-after-known",
            c,
            lambda w: create_agent_req(tools=["echo", "no_such_tool"]),
            field="agent.tools[1]",
        ),
        case(
            "tool-name-malformed",
            c,
            lambda w: create_agent_req(tools=["bad name!"]),
            field="agent.tools[0]",
        ),
        case(
            "tools-duplicate",
            c,
            lambda w: create_agent_req(tools=["echo", "echo"]),
            field="agent.tools",
        ),
        case(
            "tools-65",
            c,
            lambda w: create_agent_req(tools=[f"t{i}" for i in range(65)]),
            field="agent.tools",
        ),
        case(
            "max_iterations-101",
            c,
            lambda w: create_agent_req(limits=agent_pb2.Limits(max_iterations=101)),
            field="agent.limits.max_iterations",
        ),
        case(
            "max_iterations-negative",
            c,
            lambda w: create_agent_req(limits=agent_pb2.Limits(max_iterations=-1)),
            field="agent.limits.max_iterations",
        ),
        case(
            "timeout-0s",
            c,
            lambda w: create_agent_req(limits=agent_pb2.Limits(timeout=seconds(0))),
            field="agent.limits.timeout",
        ),
        case(
            "timeout-2-days",
            c,
            lambda w: create_agent_req(limits=agent_pb2.Limits(timeout=seconds(2 * 86400))),
            field="agent.limits.timeout",
        ),
        case(
            "approval_timeout-0s",
            c,
            lambda w: create_agent_req(limits=agent_pb2.Limits(approval_timeout=seconds(0))),
            field="agent.limits.approval_timeout",
        ),
        case(
            "runtime-99",
            c,
            lambda w: create_agent_req(runtime=UNDEFINED_ENUM),
            field="agent.runtime",
        ),
        case(
            "approval-mode-99",
            c,
            lambda w: create_agent_req(
                approval_policy=agent_pb2.ApprovalPolicy(mode=UNDEFINED_ENUM)
            ),
            field="agent.approval_policy.mode",
        ),
        case(
            "display_name-201-chars",
            c,
            lambda w: create_agent_req(display_name="n" * 201),
            field="agent.display_name",
        ),
        # GetAgent / DeleteAgent
        case(
            "agent_id-empty",
            "agents.GetAgent",
            lambda w: agent_pb2.GetAgentRequest(),
            field="agent_id",
        ),
        case(
            "unknown",
            "agents.GetAgent",
            lambda w: agent_pb2.GetAgentRequest(agent_id=unique("missing")),
            NOT_FOUND,
            reason="AGENT_NOT_FOUND",
        ),
        case(
            "agent_id-empty",
            "agents.DeleteAgent",
            lambda w: agent_pb2.DeleteAgentRequest(),
            field="agent_id",
        ),
        case(
            "unknown",
            "agents.DeleteAgent",
            lambda w: agent_pb2.DeleteAgentRequest(agent_id=unique("missing")),
            NOT_FOUND,
            reason="AGENT_NOT_FOUND",
        ),
        # ListAgents
        case(
            "page_size-1001",
            "agents.ListAgents",
            lambda w: agent_pb2.ListAgentsRequest(page_size=1001),
            field="page_size",
        ),
        case(
            "page_size-negative",
            "agents.ListAgents",
            lambda w: agent_pb2.ListAgentsRequest(page_size=-1),
            field="page_size",
        ),
        *(
            case(
                f"page_token-{name}",
                "agents.ListAgents",
                bound(t, lambda w, t: agent_pb2.ListAgentsRequest(page_token=t)),
                field="page_token",
                reason="INVALID_PAGE_TOKEN",
            )
            for name, t in GARBAGE_TOKENS.items()
        ),
        # UpdateAgent
        case("agent-missing", u, lambda w: agent_pb2.UpdateAgentRequest(), field="agent"),
        case(
            "agent_id-missing",
            u,
            lambda w: agent_pb2.UpdateAgentRequest(
                agent=agent_pb2.Agent(instructions="x"),
                update_mask=field_mask_pb2.FieldMask(paths=["instructions"]),
            ),
            field="agent.agent_id",
        ),
        case(
            "unknown",
            u,
            lambda w: agent_pb2.UpdateAgentRequest(
                agent=agent_pb2.Agent(agent_id=unique("missing"), instructions="x"),
                update_mask=field_mask_pb2.FieldMask(paths=["instructions"]),
            ),
            NOT_FOUND,
            reason="AGENT_NOT_FOUND",
        ),
        *(
            case(
                f"mask-output-only-{path}",
                u,
                bound(path, lambda w, path: update_req(w, [path])),
                field="update_mask.paths[0]",
            )
            for path in ("agent_id", "etag", "create_time", "update_time")
        ),
        case(
            "mask-output-only-after-valid-path",
            u,
            lambda w: update_req(w, ["instructions", "etag"], instructions="x"),
            field="update_mask.paths[1]",
        ),
        case(
            "mask-unknown-path",
            u,
            lambda w: update_req(w, ["nickname"]),
            field="update_mask.paths[0]",
        ),
        case(
            "mask-path-inside-struct",
            u,
            lambda w: update_req(w, ["model.options.script"]),
            field="update_mask.paths[0]",
        ),
        case(
            "mask-empty-path",
            u,
            lambda w: update_req(w, [""]),
            field="update_mask.paths[0]",
        ),
        case(
            "mask-model-but-no-model",
            u,
            lambda w: update_req(w, ["model"]),
            field="agent.model",
        ),
        case(
            "empty-mask-replaces-without-model",
            u,
            lambda w: update_req(w, None, instructions="replacement without a model"),
            field="agent.model",
        ),
        case(
            "unknown-provider",
            u,
            lambda w: update_req(w, ["model.provider"], model=agent_pb2.Model(provider="nope")),
            field="agent.model.provider",
        ),
        case(
            "malformed-script",
            u,
            lambda w: update_req(w, ["model.options"], model=model([{"txt": "typo"}])),
            field="agent.model.options.script[0].txt",
        ),
        case(
            "unknown-tool",
            u,
            lambda w: update_req(w, ["tools"], tools=["echo", "no_such_tool"]),
            field="agent.tools[1]",
        ),
        case(
            "max_iterations-101",
            u,
            lambda w: update_req(w, ["limits"], limits=agent_pb2.Limits(max_iterations=101)),
            field="agent.limits.max_iterations",
        ),
        case(
            "runtime-99",
            u,
            lambda w: update_req(w, ["runtime"], runtime=UNDEFINED_ENUM),
            field="agent.runtime",
        ),
        case(
            "stale-etag",
            u,
            lambda w: update_req(w, ["instructions"], instructions="x", etag="stale-etag"),
            ABORTED,
            reason="ETAG_MISMATCH",
        ),
    ]


RUN_REQUESTS: dict[str, Callable[..., Message]] = {
    "runs.CreateRun": run_service_pb2.CreateRunRequest,
    "runs.StreamRun": run_service_pb2.StreamRunRequest,
    "runs.WaitRun": run_service_pb2.WaitRunRequest,
}


def run_start_cases() -> list[Any]:
    """The same bad starts for CreateRun, StreamRun and WaitRun."""

    def tool(name: str) -> run_pb2.ClientTool:
        return run_pb2.ClientTool(name=name, description="client side")

    def request(
        build: Callable[..., Message], fields: Callable[[World], dict[str, Any]]
    ) -> Callable[[World], Message]:
        return lambda w: build(**fields(w))

    rows: list[tuple[str, Callable[[World], dict[str, Any]], grpc.StatusCode, str, str]] = [
        ("agent_id-empty", lambda w: {"prompt": "p"}, INVALID, "agent_id", ""),
        (
            "agent_id-129-chars",
            lambda w: {"agent_id": LONG_ID, "prompt": "p"},
            INVALID,
            "agent_id",
            "",
        ),
        (
            "agent-unknown",
            lambda w: {"agent_id": unique("missing"), "prompt": "p"},
            NOT_FOUND,
            "",
            "AGENT_NOT_FOUND",
        ),
        (
            "prompt-empty",
            lambda w: {"agent_id": w.agent_id, "thread_id": w.thread_id},
            INVALID,
            "prompt",
            "",
        ),
        (
            "prompt-200001-chars",
            lambda w: {"agent_id": w.agent_id, "thread_id": w.thread_id, "prompt": "p" * 200_001},
            INVALID,
            "prompt",
            "",
        ),
        (
            "thread_id-129-chars",
            lambda w: {"agent_id": w.agent_id, "thread_id": LONG_ID, "prompt": "p"},
            INVALID,
            "thread_id",
            "",
        ),
        (
            "thread-unknown",
            lambda w: {"agent_id": w.agent_id, "thread_id": unique("missing"), "prompt": "p"},
            NOT_FOUND,
            "",
            "THREAD_NOT_FOUND",
        ),
        (
            "runtime-99",
            lambda w: {"agent_id": w.agent_id, "prompt": "p", "runtime": UNDEFINED_ENUM},
            INVALID,
            "runtime",
            "",
        ),
        (
            "request_id-129-chars",
            lambda w: {"agent_id": w.agent_id, "prompt": "p", "request_id": LONG_ID},
            INVALID,
            "request_id",
            "",
        ),
        (
            "client-tool-bad-name",
            lambda w: {"agent_id": w.agent_id, "prompt": "p", "client_tools": [tool("bad name!")]},
            INVALID,
            "client_tools[0].name",
            "",
        ),
        (
            "client-tool-empty-name",
            lambda w: {"agent_id": w.agent_id, "prompt": "p", "client_tools": [tool("")]},
            INVALID,
            "client_tools[0].name",
            "",
        ),
        (
            "client-tool-description-4001-chars",
            lambda w: {
                "agent_id": w.agent_id,
                "prompt": "p",
                "client_tools": [run_pb2.ClientTool(name="ok", description="d" * 4001)],
            },
            INVALID,
            "client_tools[0].description",
            "",
        ),
        (
            "client-tools-65",
            lambda w: {
                "agent_id": w.agent_id,
                "prompt": "p",
                "client_tools": [tool(f"t{i}") for i in range(65)],
            },
            INVALID,
            "client_tools",
            "",
        ),
        # These two pass protovalidate, claim the thread, then fail: the thread
        # must be released again (checked by test_nothing_already_stored_is_lost).
        (
            "client-tool-collides-with-server-tool",
            lambda w: {
                "agent_id": w.agent_id,
                "thread_id": w.thread_id,
                "prompt": "p",
                "client_tools": [tool("lookup"), tool("echo")],
            },
            INVALID,
            "client_tools[1].name",
            "",
        ),
        (
            "client-tools-duplicate",
            lambda w: {
                "agent_id": w.agent_id,
                "thread_id": w.thread_id,
                "prompt": "p",
                "client_tools": [tool("lookup"), tool("lookup")],
            },
            INVALID,
            "client_tools[1].name",
            "",
        ),
    ]
    out = []
    for rpc, build in RUN_REQUESTS.items():
        for name, fields, code, field, reason in rows:
            out.append(
                case(
                    name,
                    rpc,
                    request(build, fields),
                    code,
                    field=field,
                    reason=reason,
                )
            )
    wait = "runs.WaitRun"
    out += [
        case(
            "timeout-negative",
            wait,
            lambda w: run_service_pb2.WaitRunRequest(
                agent_id=w.agent_id, prompt="p", timeout=seconds(-1)
            ),
            field="timeout",
        ),
        case(
            "timeout-3601s",
            wait,
            lambda w: run_service_pb2.WaitRunRequest(
                agent_id=w.agent_id, prompt="p", timeout=seconds(3601)
            ),
            field="timeout",
        ),
    ]
    return out


def run_cases() -> list[Any]:
    r = run_service_pb2
    return [
        # GetRun
        case("run_id-empty", "runs.GetRun", lambda w: r.GetRunRequest(), field="run_id"),
        case(
            "run_id-129-chars",
            "runs.GetRun",
            lambda w: r.GetRunRequest(run_id=LONG_ID),
            field="run_id",
        ),
        case(
            "unknown",
            "runs.GetRun",
            lambda w: r.GetRunRequest(run_id=unique("run")),
            NOT_FOUND,
            reason="RUN_NOT_FOUND",
        ),
        # ListRuns
        case(
            "page_size-1001",
            "runs.ListRuns",
            lambda w: r.ListRunsRequest(page_size=1001),
            field="page_size",
        ),
        case(
            "state-99",
            "runs.ListRuns",
            lambda w: r.ListRunsRequest(state=UNDEFINED_ENUM),
            field="state",
        ),
        case(
            "agent_id-129-chars",
            "runs.ListRuns",
            lambda w: r.ListRunsRequest(agent_id=LONG_ID),
            field="agent_id",
        ),
        *(
            case(
                f"page_token-{name}",
                "runs.ListRuns",
                bound(t, lambda w, t: r.ListRunsRequest(agent_id=w.agent_id, page_token=t)),
                field="page_token",
                reason="INVALID_PAGE_TOKEN",
            )
            for name, t in GARBAGE_TOKENS.items()
        ),
        # CancelRun
        case("run_id-empty", "runs.CancelRun", lambda w: r.CancelRunRequest(), field="run_id"),
        case(
            "unknown",
            "runs.CancelRun",
            lambda w: r.CancelRunRequest(run_id=unique("run")),
            NOT_FOUND,
            reason="RUN_NOT_FOUND",
        ),
        case(
            "reason-4001-chars",
            "runs.CancelRun",
            lambda w: r.CancelRunRequest(run_id=w.run_id, reason="r" * 4001),
            field="reason",
        ),
        # StreamRunEvents
        case(
            "run_id-empty",
            "runs.StreamRunEvents",
            lambda w: r.StreamRunEventsRequest(),
            field="run_id",
        ),
        case(
            "unknown",
            "runs.StreamRunEvents",
            lambda w: r.StreamRunEventsRequest(run_id=unique("run")),
            NOT_FOUND,
            reason="RUN_NOT_FOUND",
        ),
        case(
            "after_sequence-negative",
            "runs.StreamRunEvents",
            lambda w: r.StreamRunEventsRequest(run_id=w.run_id, after_sequence=-1),
            field="after_sequence",
        ),
        case(
            "after_sequence-past-end-of-ended-run",
            "runs.StreamRunEvents",
            lambda w: r.StreamRunEventsRequest(run_id=w.run_id, after_sequence=w.last_sequence + 1),
            OUT_OF_RANGE,
            reason="SEQUENCE_OUT_OF_RANGE",
        ),
        # ListRunEvents
        case(
            "run_id-empty",
            "runs.ListRunEvents",
            lambda w: r.ListRunEventsRequest(),
            field="run_id",
        ),
        case(
            "unknown",
            "runs.ListRunEvents",
            lambda w: r.ListRunEventsRequest(run_id=unique("run")),
            NOT_FOUND,
            reason="RUN_NOT_FOUND",
        ),
        case(
            "after_sequence-negative",
            "runs.ListRunEvents",
            lambda w: r.ListRunEventsRequest(run_id=w.run_id, after_sequence=-5),
            field="after_sequence",
        ),
        case(
            "page_size-1001",
            "runs.ListRunEvents",
            lambda w: r.ListRunEventsRequest(run_id=w.run_id, page_size=1001),
            field="page_size",
        ),
        *(
            case(
                f"page_token-{name}",
                "runs.ListRunEvents",
                bound(t, lambda w, t: r.ListRunEventsRequest(run_id=w.run_id, page_token=t)),
                field="page_token",
                reason="INVALID_PAGE_TOKEN",
            )
            for name, t in GARBAGE_TOKENS.items()
        ),
        # SubmitToolOutputs
        case(
            "no-outputs",
            "runs.SubmitToolOutputs",
            lambda w: r.SubmitToolOutputsRequest(run_id=w.run_id),
            field="tool_outputs",
        ),
        case(
            "65-outputs",
            "runs.SubmitToolOutputs",
            lambda w: r.SubmitToolOutputsRequest(
                run_id=w.run_id,
                tool_outputs=[run_pb2.ToolOutput(tool_call_id=f"c{i}") for i in range(65)],
            ),
            field="tool_outputs",
        ),
        case(
            "run_id-empty",
            "runs.SubmitToolOutputs",
            lambda w: r.SubmitToolOutputsRequest(
                tool_outputs=[run_pb2.ToolOutput(tool_call_id="c")]
            ),
            field="run_id",
        ),
        case(
            "tool_call_id-empty",
            "runs.SubmitToolOutputs",
            lambda w: r.SubmitToolOutputsRequest(
                run_id=w.run_id, tool_outputs=[run_pb2.ToolOutput(output="x")]
            ),
            field="tool_outputs[0].tool_call_id",
        ),
        case(
            "output-1000001-chars",
            "runs.SubmitToolOutputs",
            lambda w: r.SubmitToolOutputsRequest(
                run_id=w.run_id,
                tool_outputs=[run_pb2.ToolOutput(tool_call_id="c", output="o" * 1_000_001)],
            ),
            field="tool_outputs[0].output",
        ),
        case(
            "unknown-run",
            "runs.SubmitToolOutputs",
            lambda w: r.SubmitToolOutputsRequest(
                run_id=unique("run"), tool_outputs=[run_pb2.ToolOutput(tool_call_id="c")]
            ),
            NOT_FOUND,
            reason="RUN_NOT_FOUND",
        ),
        case(
            "duplicate-tool_call_id",
            "runs.SubmitToolOutputs",
            lambda w: r.SubmitToolOutputsRequest(
                run_id=w.run_id,
                tool_outputs=[
                    run_pb2.ToolOutput(tool_call_id="call_1_0", output="a"),
                    run_pb2.ToolOutput(tool_call_id="call_1_0", output="b"),
                ],
            ),
            field="tool_outputs[1].tool_call_id",
        ),
        case(
            "ended-run",
            "runs.SubmitToolOutputs",
            lambda w: r.SubmitToolOutputsRequest(
                run_id=w.run_id,
                tool_outputs=[run_pb2.ToolOutput(tool_call_id=w.tool_call_id, output="late")],
            ),
            FAILED_PRECONDITION,
            reason="TOOL_CALL_NOT_PENDING",
        ),
    ]


def approval_cases() -> list[Any]:
    a = approval_pb2
    resolve = "approvals.ResolveApproval"
    return [
        # ListApprovals
        case(
            "page_size-1001",
            "approvals.ListApprovals",
            lambda w: a.ListApprovalsRequest(page_size=1001),
            field="page_size",
        ),
        case(
            "state-99",
            "approvals.ListApprovals",
            lambda w: a.ListApprovalsRequest(state=UNDEFINED_ENUM),
            field="state",
        ),
        case(
            "run_id-129-chars",
            "approvals.ListApprovals",
            lambda w: a.ListApprovalsRequest(run_id=LONG_ID),
            field="run_id",
        ),
        *(
            case(
                f"page_token-{name}",
                "approvals.ListApprovals",
                bound(t, lambda w, t: a.ListApprovalsRequest(run_id=w.run_id, page_token=t)),
                field="page_token",
                reason="INVALID_PAGE_TOKEN",
            )
            for name, t in GARBAGE_TOKENS.items()
        ),
        # GetApproval
        case(
            "approval_id-empty",
            "approvals.GetApproval",
            lambda w: a.GetApprovalRequest(),
            field="approval_id",
        ),
        case(
            "approval_id-129-chars",
            "approvals.GetApproval",
            lambda w: a.GetApprovalRequest(approval_id=LONG_ID),
            field="approval_id",
        ),
        case(
            "unknown",
            "approvals.GetApproval",
            lambda w: a.GetApprovalRequest(approval_id=unique("apr")),
            NOT_FOUND,
            reason="APPROVAL_NOT_FOUND",
        ),
        # ResolveApproval
        case(
            "approval_id-empty",
            resolve,
            lambda w: a.ResolveApprovalRequest(decision=a.APPROVAL_DECISION_APPROVE),
            field="approval_id",
        ),
        case(
            "decision-unspecified",
            resolve,
            lambda w: a.ResolveApprovalRequest(approval_id=w.approval_id),
            field="decision",
        ),
        case(
            "decision-99",
            resolve,
            lambda w: a.ResolveApprovalRequest(approval_id=w.approval_id, decision=UNDEFINED_ENUM),
            field="decision",
        ),
        case(
            "edited_arguments-with-reject",
            resolve,
            lambda w: a.ResolveApprovalRequest(
                approval_id=w.approval_id,
                decision=a.APPROVAL_DECISION_REJECT,
                edited_arguments=struct({"text": "edited"}),
            ),
            field="edited_arguments",
        ),
        case(
            "reason-4001-chars",
            resolve,
            lambda w: a.ResolveApprovalRequest(
                approval_id=w.approval_id, decision=a.APPROVAL_DECISION_REJECT, reason="r" * 4001
            ),
            field="reason",
        ),
        case(
            "unknown",
            resolve,
            lambda w: a.ResolveApprovalRequest(
                approval_id=unique("apr"), decision=a.APPROVAL_DECISION_APPROVE
            ),
            NOT_FOUND,
            reason="APPROVAL_NOT_FOUND",
        ),
        case(
            "other-decision-after-approval",
            resolve,
            lambda w: a.ResolveApprovalRequest(
                approval_id=w.approval_id, decision=a.APPROVAL_DECISION_REJECT, reason="too late"
            ),
            FAILED_PRECONDITION,
            reason="APPROVAL_ALREADY_RESOLVED",
        ),
    ]


def thread_cases() -> list[Any]:
    t = thread_pb2
    return [
        # CreateThread
        *(
            case(
                f"thread_id-{name}",
                "threads.CreateThread",
                bound(bad, lambda w, bad: t.CreateThreadRequest(thread_id=bad)),
                field="thread_id",
            )
            for name, bad in {
                "space": "my thread",
                "leading-dot": ".thread",
                "slash": "a/b",
                "129-chars": LONG_ID,
            }.items()
        ),
        case(
            "metadata-65-pairs",
            "threads.CreateThread",
            lambda w: t.CreateThreadRequest(metadata={f"k{i}": "v" for i in range(65)}),
            field="metadata",
        ),
        case(
            "id-taken",
            "threads.CreateThread",
            lambda w: t.CreateThreadRequest(thread_id=w.thread_id, metadata={"team": "other"}),
            ALREADY_EXISTS,
            reason="THREAD_ALREADY_EXISTS",
        ),
        # GetThread
        case(
            "thread_id-empty",
            "threads.GetThread",
            lambda w: t.GetThreadRequest(),
            field="thread_id",
        ),
        case(
            "thread_id-129-chars",
            "threads.GetThread",
            lambda w: t.GetThreadRequest(thread_id=LONG_ID),
            field="thread_id",
        ),
        case(
            "unknown",
            "threads.GetThread",
            lambda w: t.GetThreadRequest(thread_id=unique("missing")),
            NOT_FOUND,
            reason="THREAD_NOT_FOUND",
        ),
        # ListThreadMessages
        case(
            "thread_id-empty",
            "threads.ListThreadMessages",
            lambda w: t.ListThreadMessagesRequest(),
            field="thread_id",
        ),
        case(
            "unknown",
            "threads.ListThreadMessages",
            lambda w: t.ListThreadMessagesRequest(thread_id=unique("missing")),
            NOT_FOUND,
            reason="THREAD_NOT_FOUND",
        ),
        case(
            "page_size-1001",
            "threads.ListThreadMessages",
            lambda w: t.ListThreadMessagesRequest(thread_id=w.thread_id, page_size=1001),
            field="page_size",
        ),
        *(
            case(
                f"page_token-{name}",
                "threads.ListThreadMessages",
                bound(
                    tok,
                    lambda w, tok: t.ListThreadMessagesRequest(
                        thread_id=w.thread_id, page_token=tok
                    ),
                ),
                field="page_token",
                reason="INVALID_PAGE_TOKEN",
            )
            for name, tok in GARBAGE_TOKENS.items()
        ),
        # DeleteThread
        case(
            "thread_id-empty",
            "threads.DeleteThread",
            lambda w: t.DeleteThreadRequest(),
            field="thread_id",
        ),
        case(
            "unknown",
            "threads.DeleteThread",
            lambda w: t.DeleteThreadRequest(thread_id=unique("missing")),
            NOT_FOUND,
            reason="THREAD_NOT_FOUND",
        ),
    ]


def control_and_watch_cases() -> list[Any]:
    """ListAgentTools, sub-agents and toolsets, PauseRun, ResumeRun, the watches, and the
    labels, overrides and filters of run requests."""
    r = run_service_pb2
    a = approval_pb2
    e = event_pb2
    return [
        # ListAgentTools (ToolService.ListTools takes nothing a caller could get wrong)
        case(
            "agent_id-empty",
            "agents.ListAgentTools",
            lambda w: agent_pb2.ListAgentToolsRequest(),
            field="agent_id",
        ),
        case(
            "unknown",
            "agents.ListAgentTools",
            lambda w: agent_pb2.ListAgentToolsRequest(agent_id=unique("missing")),
            NOT_FOUND,
            reason="AGENT_NOT_FOUND",
        ),
        case(
            "sub_agent-unknown",
            "agents.CreateAgent",
            lambda w: agent_pb2.CreateAgentRequest(
                agent_id=unique("parent"),
                agent=agent_pb2.Agent(
                    model=agent_pb2.Model(provider="scripted"),
                    sub_agents=[agent_pb2.SubAgent(agent_id=unique("missing"))],
                ),
            ),
            field="agent.sub_agents[0].agent_id",
        ),
        case(
            "toolset-unknown",
            "agents.CreateAgent",
            lambda w: agent_pb2.CreateAgentRequest(
                agent_id=unique("tools"),
                agent=agent_pb2.Agent(
                    model=agent_pb2.Model(provider="scripted"), toolsets=["nowhere"]
                ),
            ),
            field="agent.toolsets[0]",
        ),
        # PauseRun / ResumeRun
        case("run_id-empty", "runs.PauseRun", lambda w: r.PauseRunRequest(), field="run_id"),
        case(
            "unknown",
            "runs.PauseRun",
            lambda w: r.PauseRunRequest(run_id=unique("run")),
            NOT_FOUND,
            reason="RUN_NOT_FOUND",
        ),
        case(
            "reason-4001-chars",
            "runs.PauseRun",
            lambda w: r.PauseRunRequest(run_id=w.run_id, reason="r" * 4001),
            field="reason",
        ),
        case("run_id-empty", "runs.ResumeRun", lambda w: r.ResumeRunRequest(), field="run_id"),
        case(
            "unknown",
            "runs.ResumeRun",
            lambda w: r.ResumeRunRequest(run_id=unique("run")),
            NOT_FOUND,
            reason="RUN_NOT_FOUND",
        ),
        # WatchRuns
        case(
            "states-unspecified",
            "runs.WatchRuns",
            lambda w: r.WatchRunsRequest(states=[run_pb2.RUN_STATE_UNSPECIFIED]),
            field="states[0]",
        ),
        case(
            "label-key-bad",
            "runs.WatchRuns",
            lambda w: r.WatchRunsRequest(labels={"no spaces": "v"}),
            field="labels['no spaces']",
        ),
        case(
            "cursor-garbage",
            "runs.WatchRuns",
            lambda w: r.WatchRunsRequest(cursor="not-a-cursor"),
            OUT_OF_RANGE,
            reason="CURSOR_EXPIRED",
        ),
        # WatchApprovals
        case(
            "states-99",
            "approvals.WatchApprovals",
            lambda w: a.WatchApprovalsRequest(states=[UNDEFINED_ENUM]),
            field="states[0]",
        ),
        case(
            "cursor-257-chars",
            "approvals.WatchApprovals",
            lambda w: a.WatchApprovalsRequest(cursor="c" * 257),
            field="cursor",
        ),
        # Labels, overrides and filters on the other calls
        case(
            "labels-33",
            "runs.CreateRun",
            lambda w: r.CreateRunRequest(
                agent_id=w.agent_id, prompt="p", labels={f"k{i}": "v" for i in range(33)}
            ),
            field="labels",
        ),
        case(
            "overrides-temperature-3",
            "runs.CreateRun",
            lambda w: r.CreateRunRequest(
                agent_id=w.agent_id, prompt="p", overrides=run_pb2.RunOverrides(temperature=3)
            ),
            field="overrides.temperature",
        ),
        case(
            "filter-profile-and-types",
            "runs.StreamRunEvents",
            lambda w: r.StreamRunEventsRequest(
                run_id=w.run_id,
                filter=e.EventFilter(
                    profile=e.EVENT_PROFILE_STATE, event_types=[e.EVENT_TYPE_RUN_STARTED]
                ),
            ),
            field="filter",
        ),
        case(
            "filter-type-unspecified",
            "runs.ListRunEvents",
            lambda w: r.ListRunEventsRequest(
                run_id=w.run_id, filter=e.EventFilter(event_types=[e.EVENT_TYPE_UNSPECIFIED])
            ),
            field="filter.event_types[0]",
        ),
    ]


CASES = [
    *agent_cases(),
    *run_start_cases(),
    *run_cases(),
    *approval_cases(),
    *thread_cases(),
    *control_and_watch_cases(),
]


# --- calling and checking ---------------------------------------------------------------


async def drain(stream: AsyncIterator[Any]) -> None:
    async for _ in stream:
        pass


async def expect_error(stubs: Stubs, rpc: str, request: Message) -> StatusDetails:
    """Calls ``rpc`` and returns the details of the error it must fail with."""
    stub_name, method = rpc.split(".")
    call = getattr(getattr(stubs, stub_name), method)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        if rpc in STREAMING:
            await asyncio.wait_for(drain(call(request)), timeout=30)
        else:
            await call(request)
    return status_details(caught.value)


def check(details: StatusDetails, expected: Case) -> None:
    assert details.code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), details
    assert details.code == expected.code, details
    assert details.domain == "runwire.dev", details
    assert details.reason, details
    if expected.reason:
        assert details.reason == expected.reason, details
    # A readable message: a sentence about the request, not a stack trace.
    assert len(details.message) >= 10, details
    assert "Traceback" not in details.message, details
    if expected.code == INVALID:
        assert expected.field in details.field_violations, details
        assert all(details.field_violations.values()), details  # each says what is wrong
    else:
        assert details.field_violations == {}, details


def outcome(rpc: str, code: grpc.StatusCode, *, field: str = "", reason: str = "") -> Case:
    """The expected answer of a call made outside the table (``check`` ignores the request)."""

    def not_in_table(w: World) -> Message:
        raise AssertionError("built by the test itself")

    return Case(rpc=rpc, request=not_in_table, code=code, field=field, reason=reason)


@pytest.mark.parametrize("bad", CASES)
async def test_bad_request_gets_the_right_error(stubs: Stubs, world: World, bad: Case) -> None:
    details = await expect_error(stubs, bad.rpc, bad.request(world))
    check(details, bad)


def test_every_rpc_has_bad_input_cases() -> None:
    services = {
        "agents": agent_pb2.DESCRIPTOR.services_by_name["AgentService"],
        "runs": run_service_pb2.DESCRIPTOR.services_by_name["RunService"],
        "approvals": approval_pb2.DESCRIPTOR.services_by_name["ApprovalService"],
        "threads": thread_pb2.DESCRIPTOR.services_by_name["ThreadService"],
    }
    every = {f"{stub}.{m.name}" for stub, s in services.items() for m in s.methods}
    covered = {p.values[0].rpc for p in CASES}
    assert every - covered == set()


# --- bad input that needs a live run ----------------------------------------------------


async def events_until(
    stubs: Stubs, run_id: str, kind: str
) -> tuple[list[event_pb2.RunEvent], event_pb2.RunEvent]:
    """Reads the run's events up to the first of payload ``kind``."""
    seen: list[event_pb2.RunEvent] = []
    async for response in stubs.runs.StreamRunEvents(
        run_service_pb2.StreamRunEventsRequest(run_id=run_id)
    ):
        event = response.event
        if event.HasField("heartbeat"):
            continue
        seen.append(event)
        if event.WhichOneof("payload") == kind:
            return seen, event
    raise AssertionError(f"run {run_id} ended without {kind}: {seen}")


async def start_waiting_for_approval(stubs: Stubs, thread_id: str) -> tuple[str, str]:
    """Starts a run on ``thread_id`` that waits for an approval; returns (run_id, approval_id)."""
    agent = await create_agent(
        stubs,
        [{"tool_calls": [{"name": "echo", "arguments": {"text": "wait"}}]}, {"text": "ok"}],
        tools=["echo"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    run = (
        await stubs.runs.CreateRun(
            run_service_pb2.CreateRunRequest(
                agent_id=agent.agent_id, thread_id=thread_id, prompt="needs approval"
            )
        )
    ).run
    _, requested = await events_until(stubs, run.run_id, "approval_requested")
    return run.run_id, requested.approval_requested.approval_id


async def cancel_and_wait(stubs: Stubs, run_id: str) -> list[event_pb2.RunEvent]:
    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run_id))
    return await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
    )


async def new_thread(stubs: Stubs) -> str:
    thread_id = unique("thread")
    await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=thread_id))
    return thread_id


async def test_delete_thread_while_a_run_waits_for_approval_is_thread_busy(
    stubs: Stubs,
) -> None:
    thread_id = await new_thread(stubs)
    run_id, _ = await start_waiting_for_approval(stubs, thread_id)

    details = await expect_error(
        stubs, "threads.DeleteThread", thread_pb2.DeleteThreadRequest(thread_id=thread_id)
    )
    check(
        details,
        outcome("threads.DeleteThread", FAILED_PRECONDITION, reason="THREAD_BUSY"),
    )
    assert details.metadata.get("run_id") == run_id
    # The thread is still there and the run still waits.
    await stubs.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))).run
    assert run.state == run_pb2.RUN_STATE_REQUIRES_ACTION

    events = await cancel_and_wait(stubs, run_id)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED
    # Once the run has ended the thread may be deleted.
    await stubs.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread_id))


@pytest.mark.parametrize("rpc", list(RUN_REQUESTS))
async def test_second_run_on_a_busy_thread_is_aborted(stubs: Stubs, rpc: str) -> None:
    thread_id = await new_thread(stubs)
    run_id, approval_id = await start_waiting_for_approval(stubs, thread_id)
    other = await create_agent(stubs, [{"text": "second"}])

    details = await expect_error(
        stubs, rpc, RUN_REQUESTS[rpc](agent_id=other.agent_id, thread_id=thread_id, prompt="2nd")
    )
    check(details, outcome(rpc, ABORTED, reason="THREAD_BUSY"))
    assert details.metadata.get("run_id") == run_id
    # No second run was created, and the first one is untouched.
    listed = await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(thread_id=thread_id))
    assert [r.run_id for r in listed.runs] == [run_id]

    await stubs.approvals.ResolveApproval(
        approval_pb2.ResolveApprovalRequest(
            approval_id=approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
        )
    )
    events = await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run_id))
    )
    assert events[-1].run_finished.output == "ok"
    # The thread is free again.
    second = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=other.agent_id, thread_id=thread_id, prompt="2nd")
    )
    assert second.run.output == "second"


async def start_waiting_for_client_tool(stubs: Stubs) -> run_pb2.Run:
    agent = await create_agent(
        stubs,
        [{"tool_calls": [{"name": "lookup", "arguments": {"key": "k"}}]}, {"text": "looked up"}],
    )
    response: run_service_pb2.WaitRunResponse = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(
            agent_id=agent.agent_id,
            prompt="look it up",
            client_tools=[run_pb2.ClientTool(name="lookup")],
        )
    )
    run = response.run
    assert run.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    return run


async def test_submit_unknown_tool_call_id_on_a_live_run_is_not_pending(stubs: Stubs) -> None:
    run = await start_waiting_for_client_tool(stubs)
    (action,) = run.required_actions
    assert action.type == run_pb2.REQUIRED_ACTION_TYPE_CLIENT_TOOL_CALL

    expected = outcome(
        "runs.SubmitToolOutputs", FAILED_PRECONDITION, reason="TOOL_CALL_NOT_PENDING"
    )
    for outputs in (
        [run_pb2.ToolOutput(tool_call_id="call_9_9", output="?")],
        # All or none: the known call in the same request is not taken either.
        [
            run_pb2.ToolOutput(tool_call_id=action.tool_call_id, output="v"),
            run_pb2.ToolOutput(tool_call_id="call_9_9", output="?"),
        ],
    ):
        details = await expect_error(
            stubs,
            "runs.SubmitToolOutputs",
            run_service_pb2.SubmitToolOutputsRequest(run_id=run.run_id, tool_outputs=outputs),
        )
        check(details, expected)
        assert details.metadata.get("tool_call_id") == "call_9_9"

    still = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run.run_id))).run
    assert still.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    assert list(still.required_actions) == [action]

    await stubs.runs.SubmitToolOutputs(
        run_service_pb2.SubmitToolOutputsRequest(
            run_id=run.run_id,
            tool_outputs=[run_pb2.ToolOutput(tool_call_id=action.tool_call_id, output="v")],
        )
    )
    events = await collect(
        stubs.runs.StreamRunEvents(run_service_pb2.StreamRunEventsRequest(run_id=run.run_id))
    )
    assert events[-1].run_finished.output == "looked up"
    results = [e.tool_call_result for e in events if e.HasField("tool_call_result")]
    assert [(r.tool_call_id, r.content) for r in results] == [(action.tool_call_id, "v")]


async def test_submit_output_for_a_call_waiting_for_approval_is_not_pending(
    stubs: Stubs,
) -> None:
    thread_id = await new_thread(stubs)
    run_id, approval_id = await start_waiting_for_approval(stubs, thread_id)
    approval = (
        await stubs.approvals.GetApproval(approval_pb2.GetApprovalRequest(approval_id=approval_id))
    ).approval
    details = await expect_error(
        stubs,
        "runs.SubmitToolOutputs",
        run_service_pb2.SubmitToolOutputsRequest(
            run_id=run_id,
            tool_outputs=[run_pb2.ToolOutput(tool_call_id=approval.tool_call_id, output="fake")],
        ),
    )
    check(
        details,
        outcome("runs.SubmitToolOutputs", FAILED_PRECONDITION, reason="TOOL_CALL_NOT_PENDING"),
    )
    events = await cancel_and_wait(stubs, run_id)
    # The server tool never ran with the client's fake output.
    assert not any(
        e.HasField("tool_call_result") and e.tool_call_result.content == "fake" for e in events
    )


async def test_dangling_client_tool_call_after_cancel_is_not_pending(stubs: Stubs) -> None:
    run = await start_waiting_for_client_tool(stubs)
    (action,) = run.required_actions
    events = await cancel_and_wait(stubs, run.run_id)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_CANCELLED
    details = await expect_error(
        stubs,
        "runs.SubmitToolOutputs",
        run_service_pb2.SubmitToolOutputsRequest(
            run_id=run.run_id,
            tool_outputs=[run_pb2.ToolOutput(tool_call_id=action.tool_call_id, output="late")],
        ),
    )
    check(
        details,
        outcome("runs.SubmitToolOutputs", FAILED_PRECONDITION, reason="TOOL_CALL_NOT_PENDING"),
    )


# --- non-finite numbers and odd page tokens ---


@pytest.mark.parametrize(
    "rpc",
    ["agents.CreateAgent", "runs.CreateRun", "approvals.ResolveApproval"],
)
async def test_non_finite_struct_number_is_invalid_argument(
    stubs: Stubs, world: World, rpc: str
) -> None:
    nan = float("nan")
    requests: dict[str, tuple[Message, str]] = {
        "agents.CreateAgent": (
            create_agent_req(model=model([{"text": "x"}], delay_ms=nan)),
            "agent.model.options",
        ),
        "runs.CreateRun": (
            run_service_pb2.CreateRunRequest(
                agent_id=world.agent_id,
                prompt="p",
                client_tools=[
                    run_pb2.ClientTool(name="lookup", parameters=struct({"maximum": nan}))
                ],
            ),
            "client_tools[0].parameters",
        ),
        "approvals.ResolveApproval": (
            approval_pb2.ResolveApprovalRequest(
                approval_id=world.approval_id,
                decision=approval_pb2.APPROVAL_DECISION_APPROVE,
                edited_arguments=struct({"text": nan}),
            ),
            "edited_arguments",
        ),
    }
    request, field = requests[rpc]
    details = await expect_error(stubs, rpc, request)
    assert details.code == INVALID, details
    assert any(f.startswith(field) for f in details.field_violations), details


@pytest.mark.parametrize("cursor", ["²", "9" * 5000], ids=["superscript-two", "5000-digits"])
@pytest.mark.parametrize("rpc", ["runs.ListRunEvents", "threads.ListThreadMessages"])
async def test_page_token_with_a_non_integer_digit_cursor_is_invalid(
    stubs: Stubs, world: World, rpc: str, cursor: str
) -> None:
    bad = token({"after": cursor})
    request: Message = (
        run_service_pb2.ListRunEventsRequest(run_id=world.run_id, page_token=bad)
        if rpc == "runs.ListRunEvents"
        else thread_pb2.ListThreadMessagesRequest(thread_id=world.thread_id, page_token=bad)
    )
    details = await expect_error(stubs, rpc, request)
    check(
        details,
        outcome(rpc, INVALID, field="page_token", reason="INVALID_PAGE_TOKEN"),
    )


# --- nothing already stored is lost ------------------------------------------------------


@dataclass
class Snapshot:
    agent: agent_pb2.Agent
    thread: thread_pb2.Thread
    messages: list[thread_pb2.Message]
    run: run_pb2.Run
    events: list[event_pb2.RunEvent]
    approval: approval_pb2.Approval
    runs_of_agent: list[str]
    approvals_of_run: list[str]


async def snapshot(stubs: Stubs, w: World) -> Snapshot:
    agent = (await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=w.agent_id))).agent
    thread = (
        await stubs.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=w.thread_id))
    ).thread
    messages = (
        await stubs.threads.ListThreadMessages(
            thread_pb2.ListThreadMessagesRequest(thread_id=w.thread_id, page_size=1000)
        )
    ).messages
    run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=w.run_id))).run
    events = (
        await stubs.runs.ListRunEvents(
            run_service_pb2.ListRunEventsRequest(run_id=w.run_id, page_size=1000)
        )
    ).events
    approval = (
        await stubs.approvals.GetApproval(
            approval_pb2.GetApprovalRequest(approval_id=w.approval_id)
        )
    ).approval
    runs = await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(agent_id=w.agent_id))
    approvals = await stubs.approvals.ListApprovals(
        approval_pb2.ListApprovalsRequest(run_id=w.run_id)
    )
    return Snapshot(
        agent=agent,
        thread=thread,
        messages=list(messages),
        run=run,
        events=list(events),
        approval=approval,
        runs_of_agent=[r.run_id for r in runs.runs],
        approvals_of_run=[a.approval_id for a in approvals.approvals],
    )


async def test_nothing_already_stored_is_lost(stubs: Stubs) -> None:
    w = await store_world(stubs)
    before = await snapshot(stubs, w)
    assert before.thread.metadata == {"team": "qa"}
    assert before.thread.message_count == len(before.messages) == 4
    assert before.runs_of_agent == [w.run_id]

    for param in CASES:
        bad: Case = param.values[0]
        details = await expect_error(stubs, bad.rpc, bad.request(w))
        check(details, bad)

    after = await snapshot(stubs, w)
    assert after.agent == before.agent
    assert after.thread == before.thread
    assert after.messages == before.messages
    assert after.run == before.run
    assert after.events == before.events
    assert after.approval == before.approval
    assert after.runs_of_agent == before.runs_of_agent  # no bad start made a run
    assert after.approvals_of_run == before.approvals_of_run
    # The failed starts that had claimed the thread released it: a run starts on it.
    plain = await create_agent(stubs, [{"text": "still usable"}])
    run = (
        await stubs.runs.WaitRun(
            run_service_pb2.WaitRunRequest(
                agent_id=plain.agent_id, thread_id=w.thread_id, prompt="anyone there?"
            )
        )
    ).run
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert run.output == "still usable"
