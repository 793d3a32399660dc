"""Property-based fuzzing of every RPC, built from the service descriptors (issue 13, item 6).

Every method of every ``runwire.v1`` service, and of ``grpc.health.v1.Health``, is found
from the descriptors (a new RPC is fuzzed with no change here) and sent requests drawn
by Hypothesis (``tests.fuzz.strategies``): valid-shaped messages with hostile values,
mutated encodings and raw bytes, over a real channel to a real in-process server with
authentication on, each RPC as the admin of a tenant of its own (so one RPC's quotas
and state never touch another's). Values that exist on the server (agents, runs parked
on an approval and on a client tool, a thread, page tokens) and valid templates of the
requests are mixed in, so requests reach past validation and lookups. An agent the
fuzzer manages to create or update is then run (``WaitRun`` for a second, cancelled if
it has not ended).

Invariants, per request (``tests.fuzz.harness.violations``, ``follow_up``):

* the status is never INTERNAL, UNKNOWN, UNAVAILABLE, UNIMPLEMENTED or DATA_LOSS;
  DEADLINE_EXCEEDED and CANCELLED only on the calls that may wait (``WAITING``), which
  the client's short deadline or its cancel after a few messages ends;
* every error of a ``runwire.v1`` RPC carries an ``ErrorInfo`` of domain
  ``runwire.dev``; no error message holds a traceback, a Python repr or the caller's
  token;
* a run of a fuzzed agent never fails with INTERNAL or UNKNOWN.

Per RPC: nothing this process does reaches beyond loopback (``NetworkGuard``: lookups
and connections elsewhere are refused and recorded), nothing is logged at ERROR or
with a traceback, and the health check answers within ``HEALTH_BOUND_SECONDS`` (the
event loop computing at most ``LOOP_CPU_BOUND_SECONDS`` meanwhile)
throughout (a probe on a channel of its own; a slow check names the requests in flight).
At the end, the process's resident memory (the server runs in it) has grown by less than
``RSS_GROWTH_BOUND_BYTES``. Cases the server does not handle yet are listed in
``tests.fuzz.known_issues`` and reported instead of failed.

The ``runwire.v1`` RPCs are fuzzed a second time through the HTTP listener (gRPC calls to
Hypercorn, answered by Connect through ``runwire_server.service.http.calls``), with a
quarter of the budget (``HTTP_EXAMPLES``): the same invariants hold on both transports.

Budget: ``RUNWIRE_FUZZ_EXAMPLES`` requests per RPC (default ``DEFAULT_EXAMPLES``, sized
for CI) from seed ``RUNWIRE_FUZZ_SEED`` (default 13); docs/development.md says how to run
it longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import zlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import duration_pb2
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, given, seed, settings
from runwire.v1 import agent_pb2, approval_pb2, run_pb2, run_service_pb2, thread_pb2

from runwire_server.app.server import RunwireServer
from runwire_server.service.auth.config import AuthSettings
from tests.conftest import server_settings
from tests.fuzz.conftest import Attempt, FuzzReport, Guards, RpcStats
from tests.fuzz.harness import (
    CALL_SECONDS,
    NOT_ENDED,
    Outcome,
    Target,
    Window,
    call,
    follow_up,
    settle,
    stalls,
    targets,
    violations,
)
from tests.fuzz.known_issues import known_issue, known_log_issue, known_network_issue
from tests.fuzz.strategies import Hints, Request, requests
from tests.health_probe import HealthProbe
from tests.support import Stubs, api_key, create_agent, running_server, struct, unique

pytestmark = pytest.mark.fuzz

T = TypeVar("T")

#: Requests per RPC in CI; ``RUNWIRE_FUZZ_EXAMPLES`` overrides it.
DEFAULT_EXAMPLES = 400
EXAMPLES = int(os.environ.get("RUNWIRE_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
#: Requests per RPC sent to the HTTP listener (the same server behind another transport).
HTTP_EXAMPLES = max(1, EXAMPLES // 4)
#: The seed of every RPC's examples (combined with the RPC's name).
SEED = int(os.environ.get("RUNWIRE_FUZZ_SEED", "13"))

#: Worst health-check latency allowed while an RPC is fuzzed, seconds: generous, so that
#: a busy machine passes; ``LOOP_CPU_BOUND_SECONDS`` is the sharp measure.
HEALTH_BOUND_SECONDS = 1.0
#: Most CPU the server's event-loop thread may spend while one health check waits,
#: seconds: what a request that blocks the loop shows whatever else the machine does
#: (the fuzzer's own thread and a full garbage collection included).
LOOP_CPU_BOUND_SECONDS = 0.3
#: A request slower than this is kept with its window, to name it if a health check was
#: slow meanwhile, and checked against the known issues; seconds.
SLOW_SECONDS = 0.1
#: Growth of the process's resident memory allowed over the whole fuzz run, bytes.
RSS_GROWTH_BOUND_BYTES = 256 * 2**20

#: RPCs whose agent the fuzzer runs when they succeed.
AGENT_WRITES = frozenset(
    {"runwire.v1.AgentService/CreateAgent", "runwire.v1.AgentService/UpdateAgent"}
)
BUILTIN_TOOLS = ("calculator", "echo", "current_time", "sleep")
#: Update mask paths: the agent's fields, nested ones, output-only ones and none.
MASK_PATHS = (
    "instructions", "model", "model.options", "tools", "approval_policy", "limits",
    "limits.timeout", "response_format", "fallback_models", "runtime", "display_name",
    "agent_id", "etag", "create_time", "",
)  # fmt: skip

TARGETS = targets()
#: One admin API key per RPC, each in a tenant of its own.
TOKENS = {name: f"rw-fuzz-{unique('key')}" for name in TARGETS}
TENANTS = {name: f"fuzz-{i}" for i, name in enumerate(TARGETS)}


def rss_bytes() -> int:
    """This process's resident memory (``/proc/self/statm``), bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
async def fuzz_server(fuzz_report: FuzzReport) -> AsyncIterator[RunwireServer]:
    """An in-process server, auth on, built-in tools only (no tool touches files),
    model calls tried once (a refused connection fails a run at once)."""
    keys = [
        api_key(TOKENS[name], f"fuzz-admin-{TENANTS[name]}", "admin", tenant=TENANTS[name])
        for name in TARGETS
    ]
    settings_ = server_settings(
        "in_process",
        redis_url="",
        temporal_address="",
        auth=AuthSettings(api_keys=keys),
        tool_modules=[],
        model_retry_attempts=1,
        http_listen=["127.0.0.1:0"],
    )
    async with running_server(settings_) as server:
        gc.collect()
        fuzz_report.rss_before_bytes = rss_bytes()
        yield server


@pytest.fixture(scope="module")
async def probe(fuzz_server: RunwireServer) -> AsyncIterator[HealthProbe]:
    health = HealthProbe(fuzz_server.addresses[0])
    task = asyncio.create_task(health.run())
    await health.answered_once_more()
    try:
        yield health
    finally:
        health.stop()
        await task
        await health.close()


async def seed_pool(stubs: Stubs) -> Hints:
    """Creates what requests should find (agents, a thread, runs that ended and runs
    parked on an approval and on a client tool) and returns it as hints."""
    echo = await create_agent(stubs, [{"text": "ok"}])
    approval = await create_agent(
        stubs,
        [{"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]}],
        tools=["calculator"],
        mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    client = await create_agent(
        stubs, [{"tool_calls": [{"name": "lookup", "arguments": {"q": "x"}}]}, {"text": "ok"}]
    )
    updated = await create_agent(stubs, [{"text": "ok"}])
    thread = await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread_id=unique("thread"))
    )
    thread_id = thread.thread.thread_id
    wait = duration_pb2.Duration(seconds=30)
    ended = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(
            agent_id=echo.agent_id, prompt="hello", thread_id=thread_id, timeout=wait
        )
    )
    approving = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(agent_id=approval.agent_id, prompt="6*7?", timeout=wait)
    )
    tooling = await stubs.runs.WaitRun(
        run_service_pb2.WaitRunRequest(
            agent_id=client.agent_id,
            prompt="look",
            client_tools=[run_pb2.ClientTool(name="lookup", description="Looks up q.")],
            timeout=wait,
        )
    )
    parked = [*approving.run.required_actions, *tooling.run.required_actions]
    assert len(parked) == 2, (approving.run, tooling.run)
    run_ids = [ended.run.run_id, approving.run.run_id, tooling.run.run_id]
    tokens = [
        (await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest(page_size=1))).next_page_token,
        (await stubs.runs.ListRuns(run_service_pb2.ListRunsRequest(page_size=1))).next_page_token,
        (
            await stubs.runs.ListRunEvents(
                run_service_pb2.ListRunEventsRequest(run_id=run_ids[0], page_size=1)
            )
        ).next_page_token,
        (
            await stubs.threads.ListThreadMessages(
                thread_pb2.ListThreadMessagesRequest(thread_id=thread_id, page_size=1)
            )
        ).next_page_token,
    ]
    agent = agent_pb2.Agent(
        display_name="fuzz",
        instructions="Be brief.",
        model=agent_pb2.Model(
            provider="scripted", options=struct({"script": [{"text": "ok"}], "chunk_chars": 8})
        ),
        tools=["calculator"],
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
        limits=agent_pb2.Limits(max_iterations=2, timeout=duration_pb2.Duration(seconds=10)),
    )
    target = agent_pb2.Agent()
    target.CopyFrom(agent)
    target.agent_id = updated.agent_id
    templates: list[Message] = [
        agent,
        agent.model,
        run_pb2.ClientTool(
            name="lookup",
            description="Looks up q.",
            parameters=struct({"type": "object", "properties": {"q": {"type": "string"}}}),
        ),
        run_pb2.ToolOutput(tool_call_id=parked[1].tool_call_id, output="42"),
        agent_pb2.CreateAgentRequest(agent=agent),  # agent_id: fresh
        agent_pb2.UpdateAgentRequest(agent=target),
        run_service_pb2.CreateRunRequest(agent_id=echo.agent_id, prompt="hello"),
        run_service_pb2.StreamRunRequest(agent_id=echo.agent_id, prompt="hello"),
        run_service_pb2.WaitRunRequest(
            agent_id=echo.agent_id, prompt="hello", timeout=duration_pb2.Duration(seconds=1)
        ),
        run_service_pb2.SubmitToolOutputsRequest(
            run_id=run_ids[2],
            tool_outputs=[run_pb2.ToolOutput(tool_call_id=parked[1].tool_call_id, output="42")],
        ),
        run_service_pb2.StreamRunEventsRequest(run_id=run_ids[0]),
        run_service_pb2.ListRunEventsRequest(run_id=run_ids[0], page_size=10),
        approval_pb2.ResolveApprovalRequest(
            approval_id=parked[0].approval_id, decision=approval_pb2.APPROVAL_DECISION_APPROVE
        ),
        thread_pb2.CreateThreadRequest(metadata={"k": "v"}),  # thread_id: fresh
        thread_pb2.ListThreadMessagesRequest(thread_id=thread_id, page_size=10),
    ]
    return Hints(
        templates={t.DESCRIPTOR.full_name: t for t in templates},
        fresh=frozenset(
            {"runwire.v1.CreateAgentRequest.agent_id", "runwire.v1.CreateThreadRequest.thread_id"}
        ),
        strings={
            "agent_id": [echo.agent_id, approval.agent_id, client.agent_id],
            "run_id": run_ids,
            "thread_id": [thread_id],
            "approval_id": [parked[0].approval_id],
            "tool_call_id": [action.tool_call_id for action in parked],
            "page_token": [token for token in tokens if token],
            "tools": BUILTIN_TOOLS,
            "auto_approved_tools": BUILTIN_TOOLS,
            "provider": ("scripted", "openai", "anthropic"),
            "name": ("lookup", "calculator", "gpt-4o-mini"),
            "prompt": ("hello", "What is 6*7?"),
            "approvers": ("role:approver", "role:admin", "someone"),
            "paths": MASK_PATHS,
            "service": ("", "runwire.v1.AgentService", "grpc.health.v1.Health"),
        },
    )


async def cancel_unended_runs(stubs: Stubs) -> None:
    """Cancels every run of the caller's tenant that has not ended."""
    for state in NOT_ENDED:
        page_token = ""
        while True:
            page = await stubs.runs.ListRuns(
                run_service_pb2.ListRunsRequest(state=state, page_size=1000, page_token=page_token)
            )
            for run in page.runs:
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await stubs.runs.CancelRun(run_service_pb2.CancelRunRequest(run_id=run.run_id))
            page_token = page.next_page_token
            if not page_token:
                break


@dataclass
class Sent:
    """What ``Fuzzer.send`` saw of one request (on the event loop)."""

    outcome: Outcome
    problems: list[str]
    start: float
    end: float


@dataclass
class Fuzzer:
    """Runs one RPC's Hypothesis examples against the server, from a worker thread.

    Hypothesis draws in the worker thread, which also judges each outcome; only the
    call (and a follow-up run) happens on the server's event loop
    (``run_coroutine_threadsafe``), so the fuzzer's own work adds little to the health
    checks' latency.
    """

    target: Target
    channel: grpc.aio.Channel
    stubs: Stubs
    token: str
    loop: asyncio.AbstractEventLoop
    stats: RpcStats
    report: FuzzReport
    examples: int
    windows: list[Window] = field(default_factory=list)

    def run(self, hints: Hints) -> None:
        @seed(SEED ^ zlib.crc32(self.target.name.encode()))
        @settings(
            max_examples=self.examples,
            deadline=None,
            database=None,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(requests(self.target.method.input_type, hints))
        def one(request: Request) -> None:
            self.check(request, self._on_loop(self.send(request)))

        one()

    def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(CALL_SECONDS * 4)

    async def send(self, request: Request) -> Sent:
        start = time.perf_counter()
        outcome = await call(self.channel, self.target, request.data, self.token)
        problems = []
        if self.target.name in AGENT_WRITES and outcome.code == grpc.StatusCode.OK:
            # CreateAgentResponse and UpdateAgentResponse: field 1 is the agent.
            agent = agent_pb2.CreateAgentResponse.FromString(outcome.response).agent
            self.stats.follow_ups += 1
            problems = await follow_up(self.stubs, agent.agent_id)
        return Sent(outcome, problems, start, time.perf_counter())

    def check(self, request: Request, sent: Sent) -> None:
        outcome = sent.outcome
        self.stats.examples += 1
        self.stats.kinds[request.kind] += 1
        self.stats.codes[outcome.code.name] += 1
        problems = violations(self.target, outcome, self.token) + sent.problems
        slow = sent.end - sent.start > SLOW_SECONDS
        label = known_issue(self.target, request.data, outcome) if problems or slow else None
        end = sent.end
        if label is not None and slow:  # what it left behind is charged to it
            self._on_loop(settle(self.channel))
            end = time.perf_counter()
        described = self.target.describe(request.data) if slow else ""
        self.windows.append(Window(sent.start, end, request.kind, outcome.code, described, label))
        if label is not None:
            self.report.known_issues[label] += 1
        if not problems or label is not None:
            return
        raise AssertionError(
            f"{self.target.name}: {'; '.join(problems)}\n"
            f"{request.kind} {self.target.describe(request.data)}"
        )


@pytest.mark.timeout(max(120.0, EXAMPLES * 2.0))
@pytest.mark.parametrize("name", list(TARGETS))
async def test_fuzz_rpc(
    name: str,
    fuzz_server: RunwireServer,
    probe: HealthProbe,
    guards: Guards,
    fuzz_report: FuzzReport,
) -> None:
    await fuzz(
        name,
        fuzz_server.addresses[0],
        examples=EXAMPLES,
        report_as=name,
        probe=probe,
        guards=guards,
        fuzz_report=fuzz_report,
    )


@pytest.mark.timeout(max(120.0, HTTP_EXAMPLES * 2.0))
@pytest.mark.parametrize("name", [name for name in TARGETS if TARGETS[name].runwire])
async def test_fuzz_rpc_over_http(
    name: str,
    fuzz_server: RunwireServer,
    probe: HealthProbe,
    guards: Guards,
    fuzz_report: FuzzReport,
) -> None:
    """The same requests, as gRPC calls to the HTTP listener (Hypercorn, Connect's gRPC
    protocol, ``runwire_server.service.http.calls``): the same invariants hold."""
    address = fuzz_server.http_addresses[0]
    await fuzz(
        name,
        address,
        examples=HTTP_EXAMPLES,
        report_as=f"http:{name}",
        probe=probe,
        guards=guards,
        fuzz_report=fuzz_report,
    )


async def fuzz(
    name: str,
    address: str,
    *,
    examples: int,
    report_as: str,
    probe: HealthProbe,
    guards: Guards,
    fuzz_report: FuzzReport,
) -> None:
    """Fuzzes RPC ``name`` at ``address`` with ``examples`` requests, reported as ``report_as``."""
    target = TARGETS[name]
    stats = fuzz_report.stats(report_as)
    stubs = Stubs.connect(address, token=TOKENS[name])
    channel = grpc.aio.insecure_channel(
        address, options=[("grpc.max_receive_message_length", 64 * 2**20)]
    )
    guards.network.take()  # what an earlier test left
    guards.logs.take()
    fuzzer = Fuzzer(
        target,
        channel,
        stubs,
        TOKENS[name],
        asyncio.get_running_loop(),
        stats,
        fuzz_report,
        examples,
    )
    try:
        hints = await seed_pool(stubs)
        mark = len(probe.samples)
        rss_before = rss_bytes()
        started = time.perf_counter()
        await asyncio.to_thread(fuzzer.run, hints)
        stats.seconds = time.perf_counter() - started
        await cancel_unended_runs(stubs)
        await probe.answered_once_more()
        stats.rss_growth_bytes = rss_bytes() - rss_before
    finally:
        await channel.close()
        await stubs.close()

    found = stalls(probe.samples[mark:], fuzzer.windows)
    stats.worst_health_seconds = found.worst
    stats.worst_loop_cpu_seconds = max((s.loop_cpu for s in probe.samples[mark:]), default=0.0)
    for label, seconds in found.known.items():
        known = fuzz_report.known_stall_seconds
        known[label] = max(known.get(label, 0.0), seconds)
    unknown: list[Attempt] = []
    for attempt in guards.network.take():
        issue = known_network_issue(attempt)
        if issue is None:
            unknown.append(attempt)
        else:
            fuzz_report.known_issues[issue] += 1
    assert not unknown, f"{name}: the server reached beyond loopback: {unknown}"
    logged: list[str] = []
    for line in guards.logs.take():
        issue = known_log_issue(line)
        if issue is None:
            logged.append(line)
        else:
            fuzz_report.known_issues[issue] += 1
    assert not logged, f"{name}: errors or tracebacks logged: {logged[:5]}"
    assert stats.examples >= 1
    culprits = "\n".join(w.summary() for w in found.culprits) or "(none: between requests)"
    assert found.worst < HEALTH_BOUND_SECONDS, (
        f"{name}: a health check took {found.worst * 1000:.0f} ms; in flight:\n{culprits}"
    )
    assert stats.worst_loop_cpu_seconds < LOOP_CPU_BOUND_SECONDS, (
        f"{name}: the event loop computed {stats.worst_loop_cpu_seconds * 1000:.0f} ms while "
        f"a health check waited; in flight:\n{culprits}"
    )


async def test_memory_stayed_bounded(fuzz_server: RunwireServer, fuzz_report: FuzzReport) -> None:
    """Runs after the fuzz tests (file order): the process's RSS grew within the bound."""
    assert fuzz_report.rpcs, "no RPC was fuzzed"
    gc.collect()
    fuzz_report.rss_after_bytes = rss_bytes()
    growth = fuzz_report.rss_after_bytes - fuzz_report.rss_before_bytes
    assert growth < RSS_GROWTH_BOUND_BYTES, f"RSS grew {growth / 2**20:.0f} MiB"
