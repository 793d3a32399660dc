"""Model endpoints and their keys belong to the operator (issue 13, item 1).

A real Runwire server (in-process, and Temporal with its embedded worker) whose
configuration declares ``[[model_endpoints]]`` on a loopback listener, an allowlisted
origin (the same listener), an operator key for the default ``openai`` endpoint, and
canary values in the server process's environment. A second loopback listener, the
"attacker", counts every connection it gets.

What must hold:

* The exfiltration attempt (``base_url`` at the attacker, ``api_key_env`` naming a
  canary variable or the operator's own key variable) is refused at ``CreateAgent`` and
  ``UpdateAgent`` (``INVALID_ARGUMENT`` with field violations), and the attacker gets
  no connection at all.
* A ``base_url`` whose origin is not allowlisted is refused; an allowlisted one is
  called with no key (never the operator's).
* A named endpoint is called with its own key (from a variable or a file); the
  unnamed default keeps working with the operator's key.
* A failing endpoint's body does not come back in the run's error.
* 1,000 runs on 1,000 distinct allowlisted base URLs leave the client caches at their
  bound and the process's memory flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from runwire.v1 import agent_pb2, event_pb2, run_pb2, run_service_pb2

from runwire_server.app.server import RunwireServer
from runwire_server.service.llm.http_clients import DEFAULT_MAX_CALLER_CLIENTS
from runwire_server.service.llm.openai import OpenAIProvider
from runwire_server.service.llm.registry import LazyProvider
from tests.conftest import server_settings
from tests.support import (
    PARITY_TOKEN,
    Stubs,
    collect,
    parity_auth,
    running_server,
    status_details,
    struct,
    unique,
)

#: Runtimes whose model calls take different paths (the service, or a Temporal worker).
ENDPOINT_RUNTIMES = ("in_process", "temporal")

_SUFFIX = uuid.uuid4().hex[:12]
#: A secret in the server's environment that no caller may reach.
CANARY_VAR = f"RW_TEST_CANARY_{_SUFFIX.upper()}"
CANARY_VALUE = f"canary-secret-{_SUFFIX}"
#: The operator's key of the default openai endpoint (``openai_api_key``).
OPERATOR_KEY = f"sk-operator-{_SUFFIX}"
#: The key of the configured endpoint ``team``, from an environment variable.
TEAM_KEY_VAR = f"RW_TEST_TEAM_KEY_{_SUFFIX.upper()}"
TEAM_KEY = f"sk-team-{_SUFFIX}"
#: The key of the configured endpoint ``from-file``, from a file.
FILE_KEY = f"sk-file-{_SUFFIX}"
#: The key of the configured anthropic endpoint ``claude``.
CLAUDE_KEY_VAR = f"RW_TEST_CLAUDE_KEY_{_SUFFIX.upper()}"
CLAUDE_KEY = f"sk-ant-{_SUFFIX}"
#: What the failing endpoint answers; it must not come back in a run's error.
BODY_CANARY = f"upstream-body-canary-{_SUFFIX}"

SECRETS = (CANARY_VALUE, OPERATOR_KEY, TEAM_KEY, FILE_KEY, CLAUDE_KEY)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class Listener:
    """A loopback HTTP server that records every connection and request."""

    server: ThreadingHTTPServer
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def seen(self) -> list[Seen]:
        with self.lock:
            return list(self.requests)

    def connection_count(self) -> int:
        with self.lock:
            return self.connections


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    listener: Listener

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.listener.lock:
            self.listener.connections += 1
        return True


class _Handler(BaseHTTPRequestHandler):
    """OpenAI Chat Completions and Anthropic Messages, streamed; paths under
    ``/fail/`` answer HTTP 400 with ``BODY_CANARY`` in the body."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        listener = self.server.listener
        with listener.lock:
            listener.requests.append(
                Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
            )
        if "/fail/" in self.path:
            body = json.dumps({"error": {"message": BODY_CANARY, "type": "invalid"}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.endswith("/chat/completions"):
            self._stream([("", _openai_chunk({"role": "assistant", "content": "ok"}))])
        elif self.path.endswith("/v1/messages"):
            self._stream(_anthropic_events("ok"))
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _stream(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        text = "".join(
            (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
            for name, data in events
        )
        if not events[0][0]:  # Chat Completions ends with [DONE]
            text += "data: [DONE]\n\n"
        payload = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _openai_chunk(delta: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def _anthropic_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    return [
        ("message_start", {"type": "message_start", "message": message}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 1},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


@contextlib.contextmanager
def listening() -> Iterator[Listener]:
    server = _Server(("127.0.0.1", 0), _Handler)
    listener = Listener(server)
    server.listener = listener
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield listener
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def environment() -> Iterator[None]:
    """The server process's environment: canary values, endpoint keys, no proxy."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        patch.setenv(CANARY_VAR, CANARY_VALUE)
        patch.setenv(TEAM_KEY_VAR, TEAM_KEY)
        patch.setenv(CLAUDE_KEY_VAR, CLAUDE_KEY)
        yield


@pytest.fixture(scope="module")
def models(environment: None) -> Iterator[Listener]:
    """The operator's model server: every configured endpoint and the allowlisted origin."""
    with listening() as listener:
        yield listener


@pytest.fixture(scope="module")
def attacker(environment: None) -> Iterator[Listener]:
    """A listener no request may reach: on no allowlist, in no endpoint."""
    with listening() as listener:
        yield listener


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("keys") / "model-key"
    path.write_text(FILE_KEY + "\n")
    return path


def endpoint_settings(models: Listener, key_file: pathlib.Path) -> dict[str, Any]:
    origin = models.origin
    return {
        "openai_base_url": f"{origin}/default/v1",
        "openai_api_key": OPERATOR_KEY,
        "model_endpoints": [
            {
                "name": "team",
                "provider": "openai",
                "base_url": f"{origin}/team/v1",
                "api_key_env": TEAM_KEY_VAR,
            },
            {
                "name": "from-file",
                "provider": "openai",
                "base_url": f"{origin}/file/v1",
                "api_key_file": str(key_file),
                "models": ["gpt-small"],
            },
            {
                "name": "claude",
                "provider": "anthropic",
                "base_url": f"{origin}/claude",
                "api_key_env": CLAUDE_KEY_VAR,
            },
            {
                "name": "failing",
                "provider": "openai",
                "base_url": f"{origin}/fail/v1",
                "api_key_env": TEAM_KEY_VAR,
            },
        ],
        "model_base_url_allowlist": [origin],
    }


@pytest.fixture(scope="module", params=ENDPOINT_RUNTIMES)
async def endpoints_server(
    request: pytest.FixtureRequest,
    redis_url: str,
    temporal_address: str,
    models: Listener,
    key_file: pathlib.Path,
) -> AsyncIterator[RunwireServer]:
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        auth=parity_auth(),
        **endpoint_settings(models, key_file),
    )
    async with running_server(settings) as server:
        yield server


@pytest.fixture(scope="module")
async def stubs(endpoints_server: RunwireServer) -> AsyncIterator[Stubs]:
    client = Stubs.connect(endpoints_server.addresses[0], token=PARITY_TOKEN)
    yield client
    await client.channel.close()


def agent_on(
    options: dict[str, Any], *, provider: str = "openai", name: str = "gpt-test"
) -> agent_pb2.Agent:
    return agent_pb2.Agent(
        instructions="You are a test agent.",
        model=agent_pb2.Model(provider=provider, name=name, options=struct(options)),
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
    )


async def create(stubs: Stubs, agent: agent_pb2.Agent) -> str:
    agent_id = unique("agent")
    await stubs.agents.CreateAgent(agent_pb2.CreateAgentRequest(agent_id=agent_id, agent=agent))
    return agent_id


async def run(stubs: Stubs, agent_id: str) -> list[event_pb2.RunEvent]:
    request = run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt="Hello?")
    return await collect(stubs.runs.StreamRun(request, timeout=120))


def refused(caught: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> dict[str, str]:
    """The field violations of an INVALID_ARGUMENT; no secret in anything it says."""
    details = status_details(caught.value)
    assert details.code is grpc.StatusCode.INVALID_ARGUMENT, details
    said = f"{details.message} {details.field_violations} {details.metadata}"
    assert not any(secret in said for secret in SECRETS)
    return details.field_violations


# ------------------------------------------------------------------------- exfiltration


EXFILTRATION_KEYS = (CANARY_VAR, "RUNWIRE_OPENAI_API_KEY", "OPENAI_API_KEY", TEAM_KEY_VAR)


@pytest.mark.parametrize("variable", EXFILTRATION_KEYS)
async def test_the_exfiltration_attempt_is_refused_at_create_and_update(
    stubs: Stubs, attacker: Listener, variable: str
) -> None:
    assert os.environ[CANARY_VAR] == CANARY_VALUE  # in the server process's environment
    hostile = {"base_url": f"{attacker.origin}/v1", "api_key_env": variable}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(stubs, agent_on(hostile))
    assert set(refused(caught)) == {
        "agent.model.options.base_url",
        "agent.model.options.api_key_env",
    }
    # The same key option alone, and as a fallback model.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(stubs, agent_on({"api_key_env": variable}))
    assert set(refused(caught)) == {"agent.model.options.api_key_env"}
    with_fallback = agent_on({"endpoint": "team"})
    with_fallback.fallback_models.append(with_fallback.model)
    with_fallback.fallback_models[0].options.CopyFrom(struct(hostile))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(stubs, with_fallback)
    assert set(refused(caught)) == {
        "agent.fallback_models[0].options.base_url",
        "agent.fallback_models[0].options.api_key_env",
    }

    # Someone else's agent cannot be redirected either: UpdateAgent is refused and the
    # agent, and its next run, stay as they were.
    victim_id = await create(stubs, agent_on({"endpoint": "team"}))
    redirected = agent_on(hostile)
    redirected.agent_id = victim_id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.agents.UpdateAgent(agent_pb2.UpdateAgentRequest(agent=redirected))
    assert set(refused(caught)) == {
        "agent.model.options.base_url",
        "agent.model.options.api_key_env",
    }
    masked = agent_pb2.UpdateAgentRequest(agent=redirected)
    masked.update_mask.paths.append("model")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stubs.agents.UpdateAgent(masked)
    assert "agent.model.options.api_key_env" in refused(caught)
    stored = (await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=victim_id))).agent
    assert dict(stored.model.options) == {"endpoint": "team"}
    events = await run(stubs, victim_id)
    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, events[-1]

    assert attacker.connection_count() == 0
    assert attacker.seen() == []


async def test_a_base_url_off_the_allowlist_is_refused(
    stubs: Stubs, attacker: Listener, models: Listener
) -> None:
    port = models.origin.rsplit(":", 1)[1]
    for url in (
        f"{attacker.origin}/v1",
        f"http://localhost:{port}/v1",  # the allowlisted server under another origin
        f"https://127.0.0.1:{port}/v1",
        f"http://user:pw@127.0.0.1:{port}/v1",
        f"http://127.0.0.1:{port}@127.0.0.1:{attacker.origin.rsplit(':', 1)[1]}/v1",
        f"{models.origin}/v1?api-version=1",
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await create(stubs, agent_on({"base_url": url}))
        assert set(refused(caught)) == {"agent.model.options.base_url"}, url
    # An endpoint the server does not have, or of another provider; a model the
    # endpoint does not serve; endpoint and base_url together.
    for options, provider, name, path in (
        ({"endpoint": "nope"}, "openai", "gpt-test", "agent.model.options.endpoint"),
        ({"endpoint": "claude"}, "openai", "gpt-test", "agent.model.options.endpoint"),
        ({"endpoint": "team"}, "anthropic", "claude-test", "agent.model.options.endpoint"),
        ({"endpoint": "from-file"}, "openai", "gpt-big", "agent.model.name"),
        (
            {"endpoint": "team", "base_url": f"{models.origin}/v1"},
            "openai",
            "gpt-test",
            "agent.model.options.base_url",
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await create(stubs, agent_on(options, provider=provider, name=name))
        assert set(refused(caught)) == {path}, options
    assert attacker.connection_count() == 0


# ------------------------------------------------------------------------- keys


def requests_under(models: Listener, prefix: str, before: int) -> list[Seen]:
    return [seen for seen in models.seen()[before:] if seen.path.startswith(prefix)]


async def test_an_allowlisted_base_url_is_called_without_any_operator_key(
    stubs: Stubs, models: Listener
) -> None:
    before = len(models.seen())
    prefix = f"/caller-{uuid.uuid4().hex[:8]}"
    agent_id = await create(stubs, agent_on({"base_url": f"{models.origin}{prefix}/v1"}))
    events = await run(stubs, agent_id)

    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, events[-1]
    assert events[-1].run_finished.output == "ok"
    (seen,) = requests_under(models, prefix, before)
    assert seen.path == f"{prefix}/v1/chat/completions"
    assert key_of(seen) == "unused"
    assert not any(secret in value for value in seen.headers.values() for secret in SECRETS)


@dataclass(frozen=True)
class KeyCase:
    """An agent's model, and where and how its key must arrive."""

    options: dict[str, Any]
    provider: str
    name: str
    prefix: str  # of the request path on the models listener
    key: str


def key_of(seen: Seen) -> str:
    """The key a request carried (``x-api-key``, or ``authorization: Bearer``)."""
    if "x-api-key" in seen.headers:
        return seen.headers["x-api-key"]
    return seen.headers.get("authorization", "").removeprefix("Bearer ")


KEY_CASES = {
    "team": KeyCase({"endpoint": "team"}, "openai", "gpt-test", "/team/", TEAM_KEY),
    "from-file": KeyCase({"endpoint": "from-file"}, "openai", "gpt-small", "/file/", FILE_KEY),
    "anthropic": KeyCase(
        {"endpoint": "claude"}, "anthropic", "claude-test", "/claude/", CLAUDE_KEY
    ),
    # The built-in default endpoint keeps working, with the operator's key.
    "default": KeyCase({}, "openai", "gpt-test", "/default/", OPERATOR_KEY),
}


@pytest.mark.parametrize("case", list(KEY_CASES.values()), ids=list(KEY_CASES))
async def test_a_named_endpoint_is_called_with_its_own_key(
    stubs: Stubs, models: Listener, case: KeyCase
) -> None:
    before = len(models.seen())
    agent_id = await create(stubs, agent_on(case.options, provider=case.provider, name=case.name))
    events = await run(stubs, agent_id)

    assert events[-1].run_finished.state == run_pb2.RUN_STATE_SUCCEEDED, events[-1]
    seen = requests_under(models, case.prefix, before)
    assert seen, f"no request reached {case.prefix}"
    assert {key_of(s) for s in seen} == {case.key}
    others = [secret for secret in SECRETS if secret != case.key]
    assert not any(o in v for s in seen for v in s.headers.values() for o in others)


async def test_a_failing_endpoint_does_not_echo_its_body(stubs: Stubs, models: Listener) -> None:
    agent_id = await create(stubs, agent_on({"endpoint": "failing"}))
    events = await run(stubs, agent_id)

    failed = events[-1].run_error
    assert failed.finish_reason == "error", events[-1]
    assert failed.error.message
    said = str(failed.error)
    assert BODY_CANARY not in said
    assert not any(secret in said for secret in SECRETS)
    run_record = (
        await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[0].run_id))
    ).run
    assert BODY_CANARY not in str(run_record.error)


# ------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """This process's resident set size (Linux ``/proc``)."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


#: Distinct base URLs of the memory test.
DISTINCT_URLS = 1000
#: Allowlisted origins they are spread over: more than a provider keeps clients for,
#: so clients are dropped (and closed) and built again as the runs move on.
ORIGINS = DEFAULT_MAX_CALLER_CLIENTS + 4
#: Consecutive runs on one origin.
RUNS_PER_ORIGIN_SPELL = 25
#: Growth allowed over those runs: a cached client costs about 840 KB (issue 13), so
#: a client kept per URL would be far past this.
MAX_GROWTH_BYTES = 48 * 1024 * 1024


@pytest.mark.timeout(600)
async def test_distinct_base_urls_leave_memory_flat(
    redis_url: str, temporal_address: str, models: Listener, key_file: pathlib.Path
) -> None:
    with contextlib.ExitStack() as stack:
        listeners = [stack.enter_context(listening()) for _ in range(ORIGINS)]
        configured = endpoint_settings(models, key_file)
        configured["model_base_url_allowlist"] = [x.origin for x in listeners]
        settings = server_settings(
            "in_process",
            redis_url=redis_url,
            temporal_address=temporal_address,
            auth=parity_auth(),
            retained_runs=100,  # the runs' own records are not what this measures
            **configured,
        )
        async with running_server(settings) as server:
            client = Stubs.connect(server.addresses[0], token=PARITY_TOKEN)
            limit = asyncio.Semaphore(16)

            async def one(index: int) -> None:
                async with limit:
                    origin = listeners[abs(index) // RUNS_PER_ORIGIN_SPELL % ORIGINS].origin
                    url = f"{origin}/distinct/{index}/v1"
                    agent_id = await create(client, agent_on({"base_url": url}))
                    events = await run(client, agent_id)
                    state = events[-1].run_finished.state
                    assert state == run_pb2.RUN_STATE_SUCCEEDED, events[-1]
                    # Within the tenant's agent quota: the agents are not what this measures.
                    await client.agents.DeleteAgent(agent_pb2.DeleteAgentRequest(agent_id=agent_id))

            try:
                # Warm up: every origin once.
                warm_up = ORIGINS * RUNS_PER_ORIGIN_SPELL
                await asyncio.gather(*(one(-1 - i) for i in range(warm_up)))
                before = rss_bytes()
                await asyncio.gather(*(one(i) for i in range(DISTINCT_URLS)))
                grown = rss_bytes() - before
            finally:
                await client.channel.close()
            registry = server.app.providers
            provider = registry.get("openai")
            assert isinstance(provider, LazyProvider)
            built = provider.built
            assert isinstance(built, OpenAIProvider)
            assert built.cached_clients() <= 1 + DEFAULT_MAX_CALLER_CLIENTS
            assert len(registry._breakers) <= registry._breakers.max_breakers
        paths = {s.path for x in listeners for s in x.seen()}
    assert len(paths) == DISTINCT_URLS + warm_up
    assert grown < MAX_GROWTH_BYTES, f"RSS grew {grown / 2**20:.1f} MiB over {DISTINCT_URLS} URLs"
    print(f"RSS growth over {DISTINCT_URLS} distinct base URLs: {grown / 2**20:.1f} MiB")
