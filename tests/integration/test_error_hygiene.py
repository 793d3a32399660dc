"""Errors say what went wrong and nothing more (issue 13, item 5).

* Undecodable requests (raw bytes over a real channel: truncated varints,
  invalid UTF-8, garbage, a length prefix past the end, nesting past
  protobuf's depth limit) are INVALID_ARGUMENT with reason
  ``MALFORMED_REQUEST``, for unary, server-streaming and bidirectional
  methods, never UNKNOWN with Python class names, and leave at most one
  log line and no traceback per request.
* Page tokens of any shape that no response issued (deep JSON nesting,
  megabytes, not base64, base64 of non-JSON, wrong types) are
  INVALID_ARGUMENT / ``INVALID_PAGE_TOKEN`` on every List RPC.
* A run whose model endpoint (a loopback HTTP server posing as an
  OpenAI-compatible API) fails with a body holding canary values ends with
  a bounded message and ErrorInfo facts (provider, HTTP status, model), and
  no canary reaches the run's error, its events, the server's log lines or
  its spans.
* Secrets (the operator's model API key, callers' bearer tokens) appear in
  no log line, RPC error, event or span across failing and succeeding calls.

The first two parts run on the parity servers (``tests/conftest.py``); the
last two on this module's own server per runtime (in-process, Temporal: the
model call and its failure take a different path there), whose default
``openai`` endpoint is the fake and whose API key is a canary.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    event_pb2,
    run_pb2,
    run_service_pb2,
    thread_pb2,
)

import runwire_server.service.core.telemetry
from runwire_server.app.config import ModelEndpointSettings
from runwire_server.app.server import RunwireServer
from runwire_server.service.auth.config import AuthSettings
from runwire_server.service.core.errors import MAX_ERROR_MESSAGE_CHARS, safe_error_text
from runwire_server.service.core.logs import RunContextFilter, TextFormatter
from runwire_server.service.stores.paging import MAX_PAGE_TOKEN_CHARS, decode_token, encode_token
from tests.conftest import server_settings
from tests.fake_models import FakeHandler, LoopbackServer, serving, without_proxies
from tests.support import (
    Stubs,
    api_key,
    collect,
    create_agent,
    running_server,
    status_details,
    struct,
    unique,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT

Identity = Callable[[bytes], bytes]


def _identity(data: bytes) -> bytes:
    return data


# --- log capture --------------------------------------------------------------------------


@dataclass
class LogCapture:
    """Every log record of the process while a test runs, formatted as the server
    formats them (with tracebacks), and the records themselves."""

    out: io.StringIO = field(default_factory=io.StringIO)
    records: list[logging.LogRecord] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.out.getvalue()


class _Keep(logging.Handler):
    def __init__(self, capture: LogCapture) -> None:
        super().__init__(logging.DEBUG)
        self._capture = capture

    def emit(self, record: logging.LogRecord) -> None:
        self._capture.records.append(record)


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Log records at DEBUG and above of every logger (as ``configure_logging`` formats them)."""
    capture = LogCapture()
    text = logging.StreamHandler(capture.out)
    text.setFormatter(TextFormatter())
    text.addFilter(RunContextFilter())
    keep = _Keep(capture)
    root = logging.getLogger()
    level = root.level
    root.addHandler(text)
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(text)
        root.removeHandler(keep)
        root.setLevel(level)


# --- 1. undecodable requests ------------------------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    """Field ``number`` with wire type 2 (LEN) holding ``payload``."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _number(message: type[Message], name: str) -> int:
    return int(message.DESCRIPTOR.fields_by_name[name].number)


def nested_create_agent(depth: int) -> bytes:
    """A CreateAgentRequest whose ``agent.model.options`` holds a list nested
    ``depth`` deep (each level a Value and a ListValue): well-formed bytes."""
    value = b""
    for _ in range(depth):
        value = length_delimited(6, length_delimited(1, value))  # Value.list_value.values[0]
    options = length_delimited(1, length_delimited(1, b"x") + length_delimited(2, value))
    model = length_delimited(_number(agent_pb2.Model, "provider"), b"scripted")
    model += length_delimited(_number(agent_pb2.Model, "options"), options)
    agent = length_delimited(_number(agent_pb2.Agent, "model"), model)
    request = agent_pb2.CreateAgentRequest
    return length_delimited(_number(request, "agent_id"), b"deep-agent") + length_delimited(
        _number(request, "agent"), agent
    )


#: Bytes that are no protobuf message at all.
UNDECODABLE: dict[str, bytes] = {
    "truncated-varint": b"\x08\x80\x80",
    "truncated-length": b"\x0a\xff",
    "length-past-the-end": b"\x0a" + varint(2**31) + b"abc",
    "field-number-zero": b"\x00\x01",
    "garbage": bytes(range(256)) * 4,
    "all-ones": b"\xff" * 64,
    "stray-end-group": b"\x0c",
}

#: (method path, kind): unary, server-streaming, bidirectional (reflection).
METHODS = {
    "CreateAgent": ("/runwire.v1.AgentService/CreateAgent", "unary"),
    "GetRun": ("/runwire.v1.RunService/GetRun", "unary"),
    "ListAgents": ("/runwire.v1.AgentService/ListAgents", "unary"),
    "ResolveApproval": ("/runwire.v1.ApprovalService/ResolveApproval", "unary"),
    "StreamRun": ("/runwire.v1.RunService/StreamRun", "server_stream"),
    "StreamRunEvents": ("/runwire.v1.RunService/StreamRunEvents", "server_stream"),
    "HealthCheck": ("/grpc.health.v1.Health/Check", "unary"),
    "HealthWatch": ("/grpc.health.v1.Health/Watch", "server_stream"),
    "Reflection": ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "stream"),
}


async def call_raw(channel: grpc.aio.Channel, path: str, kind: str, data: bytes) -> list[bytes]:
    """Sends ``data`` as the request of ``path``; the raw responses."""
    if kind == "unary":
        unary = channel.unary_unary(
            path, request_serializer=_identity, response_deserializer=_identity
        )
        return [await unary(data, timeout=30)]
    if kind == "server_stream":
        stream = channel.unary_stream(
            path, request_serializer=_identity, response_deserializer=_identity
        )
        return [response async for response in stream(data, timeout=30)]
    bidi = channel.stream_stream(
        path, request_serializer=_identity, response_deserializer=_identity
    )
    return [response async for response in bidi(iter([data]), timeout=30)]


async def refusal(channel: grpc.aio.Channel, path: str, kind: str, data: bytes) -> Any:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call_raw(channel, path, kind, data)
    return caught.value


def assert_no_internals(error: grpc.aio.AioRpcError) -> None:
    """Neither UNKNOWN/INTERNAL nor Python's words in the status."""
    assert error.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), error
    text = f"{error.details()} {error.debug_error_string()}"
    for word in ("Traceback", "Error(", "Exception", "DecodeError", "<class", "google.protobuf"):
        assert word not in text, text


def _about_rpcs(record: logging.LogRecord) -> bool:
    """Whether ``record`` comes from the gRPC server or Runwire's API layer."""
    return record.name.startswith(
        ("grpc", "runwire_server.service.api", "runwire_server.app.server")
    )


@pytest.mark.parametrize("method", list(METHODS))
async def test_undecodable_requests_are_invalid_argument(
    stubs: Stubs, method: str, logs: LogCapture
) -> None:
    path, kind = METHODS[method]
    for name, data in UNDECODABLE.items():
        logs.records.clear()
        error = await refusal(stubs.channel, path, kind, data)
        assert_no_internals(error)
        details = status_details(error)
        assert (details.code, details.reason) == (INVALID, "MALFORMED_REQUEST"), (name, error)
        assert details.metadata["method"] == path
        # One concise line, no traceback (grpcio logged one per request before).
        about = [r for r in logs.records if _about_rpcs(r)]
        lines = [r for r in about if r.levelno >= logging.INFO]
        assert len(lines) <= 1, [r.getMessage() for r in lines]
        assert not any(r.exc_info for r in about), name


async def test_nesting_past_protobufs_depth_limit_is_invalid_argument(stubs: Stubs) -> None:
    path, kind = METHODS["CreateAgent"]
    error = await refusal(stubs.channel, path, kind, nested_create_agent(200))
    assert_no_internals(error)
    details = status_details(error)
    assert (details.code, details.reason) == (INVALID, "MALFORMED_REQUEST")


async def test_invalid_utf8_in_a_string_field_is_malformed(stubs: Stubs) -> None:
    """proto3 strings are UTF-8: field 1 of these requests is a string (an id)."""
    for method in ("GetRun", "CreateAgent", "StreamRunEvents", "HealthCheck"):
        path, kind = METHODS[method]
        error = await refusal(stubs.channel, path, kind, length_delimited(1, b"\xff\xfe"))
        assert_no_internals(error)
        assert status_details(error).reason == "MALFORMED_REQUEST", (method, error)


async def test_wrong_wire_types_are_unknown_fields_and_the_request_is_validated(
    stubs: Stubs,
) -> None:
    """A known field number with another wire type decodes as an unknown field
    (protobuf's rule): the request is then checked like any other."""
    for path, kind in (METHODS["GetRun"], METHODS["StreamRunEvents"]):
        for data in (b"\x08\x01", b"\x0d\x01\x02\x03\x04", b"\x09" + b"\x00" * 8):
            error = await refusal(stubs.channel, path, kind, data)
            assert_no_internals(error)
            details = status_details(error)
            assert (details.code, details.reason) == (INVALID, "INVALID_ARGUMENT"), error
            assert "run_id" in details.field_violations


async def test_undecodable_requests_of_unauthenticated_callers_are_unauthenticated(
    server: RunwireServer,
) -> None:
    """Authentication comes first: a caller without credentials learns nothing
    about what the server makes of its bytes."""
    async with Stubs.connect(server.addresses[0], token="") as anonymous:
        path, kind = METHODS["CreateAgent"]
        error = await refusal(anonymous.channel, path, kind, UNDECODABLE["garbage"])
        assert status_details(error).code == grpc.StatusCode.UNAUTHENTICATED
        # Health is open to everyone, and refuses undecodable bytes all the same.
        path, kind = METHODS["HealthCheck"]
        error = await refusal(anonymous.channel, path, kind, UNDECODABLE["garbage"])
        assert status_details(error).reason == "MALFORMED_REQUEST"


async def test_the_server_answers_well_formed_requests_after_malformed_ones(stubs: Stubs) -> None:
    path, kind = METHODS["ListAgents"]
    for data in UNDECODABLE.values():
        await refusal(stubs.channel, path, kind, data)
    listed = await stubs.agents.ListAgents(agent_pb2.ListAgentsRequest(page_size=1))
    assert isinstance(listed, agent_pb2.ListAgentsResponse)


# --- 2. page tokens ------------------------------------------------------------------------


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def as_token(value: Any) -> str:
    return b64(json.dumps(value).encode())


#: Page tokens no response issued, for every List RPC.
HOSTILE_TOKENS: dict[str, str] = {
    "deep-list": b64(b"[" * 100_000 + b"]" * 100_000),
    "deep-list-within-size": b64(b"[" * 380 + b"]" * 380),
    "deep-in-object": b64(b'{"after":' + b"[" * 360 + b"]" * 360 + b"}"),
    "deep-objects": b64(b'{"a":' * 150 + b"1" + b"}" * 150),
    "one-megabyte": "A" * 1_000_000,
    "just-over-the-limit": encode_token("x" * 2000),
    "not-base64": "%%%not a token%%%",
    "spaces": "eyJhZnRlciI6ICJ4In0 =",
    "non-ascii": "ëÿ",
    "padding-only": "====",
    "one-char": "a",
    "base64-of-garbage": b64(bytes(range(256))),
    "base64-of-invalid-utf8": b64(b'{"after":"\xff\xfe"}'),
    "base64-of-text": b64(b"not json"),
    "number": as_token(5),
    "huge-number": b64(b"9" * 700),
    "float-overflow": b64(b"1e999999"),
    "string": as_token("after"),
    "list": as_token(["after"]),
    "null": as_token(None),
    "no-cursor": as_token({"before": "x"}),
    "cursor-number": as_token({"after": 5}),
    "cursor-null": as_token({"after": None}),
    "cursor-list": as_token({"after": ["x"]}),
    "cursor-object": as_token({"after": {"a": 1}}),
    "cursor-and-more": as_token({"after": "x", "more": 1}),
    "cursor-control-chars": as_token({"after": "\x00\x01"}),
    "cursor-lone-surrogate": b64(b'{"after":"\\ud800"}'),
}

#: Tokens whose cursor must be a number (ListRunEvents, ListThreadMessages).
HOSTILE_INT_TOKENS: dict[str, str] = {
    **HOSTILE_TOKENS,
    "cursor-text": as_token({"after": "abc"}),
    "cursor-negative": as_token({"after": "-1"}),
    "cursor-19-digits": as_token({"after": "9" * 19}),
    "cursor-exponent": as_token({"after": "1e3"}),
    "cursor-arabic-digits": as_token({"after": "١٢"}),
}


@dataclass(frozen=True)
class Listed:
    """Data a List RPC can list: an agent with a finished run on a thread."""

    agent_id: str
    thread_id: str
    run_id: str


@pytest.fixture(scope="module")
async def listed(stubs: Stubs) -> Listed:
    agent = await create_agent(stubs, [{"text": "listed"}])
    thread_id = unique("thread")
    await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=thread_id))
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(
                agent_id=agent.agent_id, thread_id=thread_id, prompt="list me"
            )
        )
    )
    assert events[-1].HasField("run_finished"), events[-1]
    return Listed(agent_id=agent.agent_id, thread_id=thread_id, run_id=events[-1].run_id)


ListCall = Callable[[Stubs, Listed, str], Any]

LIST_RPCS: dict[str, tuple[ListCall, dict[str, str]]] = {
    "ListAgents": (
        lambda s, w, t: s.agents.ListAgents(agent_pb2.ListAgentsRequest(page_token=t)),
        HOSTILE_TOKENS,
    ),
    "ListRuns": (
        lambda s, w, t: s.runs.ListRuns(run_service_pb2.ListRunsRequest(page_token=t)),
        HOSTILE_TOKENS,
    ),
    "ListRuns-by-agent": (
        lambda s, w, t: s.runs.ListRuns(
            run_service_pb2.ListRunsRequest(agent_id=w.agent_id, page_token=t)
        ),
        HOSTILE_TOKENS,
    ),
    "ListApprovals": (
        lambda s, w, t: s.approvals.ListApprovals(approval_pb2.ListApprovalsRequest(page_token=t)),
        HOSTILE_TOKENS,
    ),
    "ListThreadMessages": (
        lambda s, w, t: s.threads.ListThreadMessages(
            thread_pb2.ListThreadMessagesRequest(thread_id=w.thread_id, page_token=t)
        ),
        HOSTILE_INT_TOKENS,
    ),
    "ListRunEvents": (
        lambda s, w, t: s.runs.ListRunEvents(
            run_service_pb2.ListRunEventsRequest(run_id=w.run_id, page_token=t)
        ),
        HOSTILE_INT_TOKENS,
    ),
}


@pytest.mark.parametrize("rpc", list(LIST_RPCS))
async def test_hostile_page_tokens_are_invalid_page_token(
    stubs: Stubs, listed: Listed, rpc: str
) -> None:
    call, tokens = LIST_RPCS[rpc]
    wrong: dict[str, str] = {}
    for name, token in tokens.items():
        try:
            await call(stubs, listed, token)
        except grpc.aio.AioRpcError as error:
            assert_no_internals(error)
            details = status_details(error)
            if (details.code, details.reason) != (INVALID, "INVALID_PAGE_TOKEN"):
                wrong[name] = f"{details.code.name} {details.reason}: {details.message}"
            elif "page_token" not in details.field_violations:
                wrong[name] = f"no field violation on page_token: {details.field_violations}"
        else:
            wrong[name] = "accepted"
    assert not wrong, wrong
    # The RPC still pages with the tokens it issues.
    assert await call(stubs, listed, "") is not None


def test_page_tokens_are_bounded_and_round_trip() -> None:
    assert decode_token(encode_token("agent-1")) == "agent-1"
    longest_id = "x" * 300
    assert len(encode_token(longest_id)) <= MAX_PAGE_TOKEN_CHARS
    assert decode_token(encode_token(longest_id)) == longest_id


# --- 3 and 4. run errors and secrets ---------------------------------------------------------

#: Secrets the server holds or is sent; none may come out anywhere.
CANARY_API_KEY = "sk-canary-key-" + uuid.uuid4().hex
CANARY_ANTHROPIC_KEY = "sk-ant-canary-" + uuid.uuid4().hex
CANARY_ADMIN_TOKEN = "rw-canary-admin-" + uuid.uuid4().hex
CANARY_VIEWER_TOKEN = "rw-canary-viewer-" + uuid.uuid4().hex
CANARY_UNKNOWN_TOKEN = "rw-canary-unknown-" + uuid.uuid4().hex
#: Put by the fake model endpoint in its error bodies (with a fake key and the key it was sent).
CANARY_BODY = "canary-upstream-body-" + uuid.uuid4().hex
CANARY_FAKE_KEY = "sk-canary-fake-" + uuid.uuid4().hex

CANARIES = (
    CANARY_API_KEY,
    CANARY_ANTHROPIC_KEY,
    CANARY_ADMIN_TOKEN,
    CANARY_VIEWER_TOKEN,
    CANARY_UNKNOWN_TOKEN,
    CANARY_BODY,
    CANARY_FAKE_KEY,
)

#: What the fake answers per model name (``Agent.model.name``).
MODEL_OK = "gpt-ok"
MODEL_400 = "gpt-400"
MODEL_500 = "gpt-500"
MODEL_GARBAGE = "gpt-garbage"
CLAUDE_400 = "claude-400"
CLAUDE_STREAM_ERROR = "claude-stream-error"
#: The ``[[model_endpoints]]`` entry of the fake's Messages API.
ANTHROPIC_ENDPOINT = "fake-anthropic"


class FakeModelEndpoint(LoopbackServer):
    """An OpenAI-compatible Chat Completions API and an Anthropic Messages API on
    loopback. ``gpt-ok`` streams an answer; ``gpt-400``/``gpt-500`` answer that
    status with an error body holding the canaries (and the key it received, as
    real APIs echo a wrong key); ``gpt-garbage`` streams events that are not JSON;
    ``claude-400`` answers 400 likewise; ``claude-stream-error`` starts a stream
    and breaks it off with an ``error`` event holding the canaries."""

    def __init__(self) -> None:
        super().__init__(_FakeHandler)
        self.authorizations: list[str] = []
        self.models: list[str] = []


class _FakeHandler(FakeHandler):
    server: FakeModelEndpoint

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        authorization = self.headers.get("Authorization") or self.headers.get("x-api-key") or ""
        model = str(body.get("model", ""))
        self.server.authorizations.append(authorization)
        self.server.models.append(model)
        message = (
            f"Incorrect API key provided: {authorization} {CANARY_FAKE_KEY}. {CANARY_BODY} "
            f"See https://user:{CANARY_FAKE_KEY}@example.invalid/v1?key={CANARY_BODY}"
        )
        if self.path.endswith("/messages"):
            self._messages(model, message)
        elif model in (MODEL_400, MODEL_500):
            error = {"message": message, "type": CANARY_BODY, "code": CANARY_BODY}
            self._send(400 if model == MODEL_400 else 500, {"error": error})
        elif model == MODEL_GARBAGE:
            self.send_events([f"data: {{{CANARY_BODY} {CANARY_FAKE_KEY}\n\n"])
        else:
            chunk = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [{"index": 0, "delta": {"content": "fine"}, "finish_reason": "stop"}],
            }
            self.send_events([f"data: {json.dumps(chunk)}\n\n", "data: [DONE]\n\n"])

    def _messages(self, model: str, message: str) -> None:
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
        if model != CLAUDE_STREAM_ERROR:
            self._send(400, error)
            return
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        }
        self.send_events(
            [
                f"event: message_start\ndata: {json.dumps(start)}\n\n",
                f"event: error\ndata: {json.dumps(error)}\n\n",
            ]
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        self.send_json(status, payload, {"retry-after": "0", "x-request-id": "req_fake"})


@pytest.fixture(scope="module")
def fake_endpoint() -> Iterator[FakeModelEndpoint]:
    with pytest.MonkeyPatch.context() as patch, serving(FakeModelEndpoint()) as fake:
        without_proxies(patch)
        yield fake


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans Runwire starts (``runwire_server.service.core.telemetry.start_span``) while this
    module's tests run, in memory. Runwire's tracer is swapped for one of a
    private provider: OpenTelemetry's global provider can be set only once per
    process, and other modules install theirs."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            runwire_server.service.core.telemetry, "TRACER", provider.get_tracer("runwire")
        )
        patch.setattr(runwire_server.service.core.telemetry, "tracing_configured", lambda: True)
        yield exporter
    provider.shutdown()


@pytest.fixture(scope="module", params=["in_process", "temporal"])
async def canary_server(
    request: pytest.FixtureRequest,
    fake_endpoint: FakeModelEndpoint,
    redis_url: str,
    temporal_address: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunwireServer]:
    """A server whose default ``openai`` endpoint is the fake, with the canary API
    key, whose ``anthropic`` endpoint ``fake-anthropic`` is the fake too (its
    canary key in a file), and whose callers are the canary tokens (an admin and
    a viewer)."""
    key_file = tmp_path_factory.mktemp("keys") / "anthropic.key"
    key_file.write_text(CANARY_ANTHROPIC_KEY + "\n")
    anthropic = ModelEndpointSettings(
        name=ANTHROPIC_ENDPOINT,
        provider="anthropic",
        base_url=fake_endpoint.url,
        api_key_file=key_file,
    )
    auth = AuthSettings(
        api_keys=[
            api_key(CANARY_ADMIN_TOKEN, "canary-admin", "admin", tenant="canary"),
            api_key(CANARY_VIEWER_TOKEN, "canary-viewer", "viewer", tenant="canary"),
        ]
    )
    settings = server_settings(
        request.param,
        redis_url=redis_url,
        temporal_address=temporal_address,
        auth=auth,
        openai_base_url=f"{fake_endpoint.url}/v1",
        openai_api_key=CANARY_API_KEY,
        model_endpoints=[anthropic],
    )
    async with running_server(settings) as srv:
        yield srv


@dataclass(frozen=True)
class Canary:
    """The canary server, its admin's stubs, the fake model endpoint, the spans."""

    server: RunwireServer
    admin: Stubs
    endpoint: FakeModelEndpoint
    spans: InMemorySpanExporter

    @property
    def on_temporal(self) -> bool:
        return bool(self.server.settings.temporal_address)


@pytest.fixture(scope="module")
async def canary(
    canary_server: RunwireServer, fake_endpoint: FakeModelEndpoint, spans: InMemorySpanExporter
) -> AsyncIterator[Canary]:
    async with Stubs.connect(canary_server.addresses[0], token=CANARY_ADMIN_TOKEN) as admin:
        yield Canary(server=canary_server, admin=admin, endpoint=fake_endpoint, spans=spans)


async def openai_agent(stubs: Stubs, model: str) -> str:
    """An agent on ``model`` of the fake: the server's default openai endpoint, or
    for ``claude-*`` its anthropic endpoint ``fake-anthropic``."""
    if model.startswith("claude-"):
        options = struct({"endpoint": ANTHROPIC_ENDPOINT})
        chosen = agent_pb2.Model(provider="anthropic", name=model, options=options)
    else:
        chosen = agent_pb2.Model(provider="openai", name=model)
    agent = agent_pb2.Agent(
        instructions="You are a test agent.",
        model=chosen,
        approval_policy=agent_pb2.ApprovalPolicy(mode=agent_pb2.APPROVAL_MODE_AUTO),
    )
    response = await stubs.agents.CreateAgent(
        agent_pb2.CreateAgentRequest(agent_id=unique("canary"), agent=agent)
    )
    return str(response.agent.agent_id)


async def run_to_end(stubs: Stubs, agent_id: str) -> list[event_pb2.RunEvent]:
    request = run_service_pb2.StreamRunRequest(agent_id=agent_id, prompt="Hello?")
    events = await collect(stubs.runs.StreamRun(request, timeout=120))
    assert events and events[-1].WhichOneof("payload") in ("run_finished", "run_error")
    return events


def error_info(status: Any) -> error_details_pb2.ErrorInfo:
    info = error_details_pb2.ErrorInfo()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
    return info


def leaks(text: str | bytes) -> list[str]:
    """The canaries found in ``text``."""
    data = text.encode() if isinstance(text, str) else text
    return [c for c in CANARIES if c.encode() in data]


def span_text(span: ReadableSpan) -> str:
    parts = [span.name, str(dict(span.attributes or {})), span.status.description or ""]
    for event in span.events:
        parts += [event.name, str(dict(event.attributes or {}))]
    return " ".join(parts)


def rpc_error_text(error: grpc.aio.AioRpcError) -> bytes:
    """Everything a caller gets with a failed call: details, trailers (with the
    ``google.rpc.Status`` bytes) and gRPC's debug string."""
    trailers = b"".join(
        value if isinstance(value, bytes) else value.encode()
        for _, value in (error.trailing_metadata() or ())
    )
    return f"{error.details()} {error.debug_error_string()}".encode() + trailers


async def all_events(stubs: Stubs, run_id: str) -> list[event_pb2.RunEvent]:
    response = await stubs.runs.ListRunEvents(
        run_service_pb2.ListRunEventsRequest(run_id=run_id, page_size=1000)
    )
    return list(response.events)


@dataclass(frozen=True)
class Failure:
    """How a run on ``model`` of the fake fails."""

    model: str
    code: grpc.StatusCode
    reason: str
    http_status: str | None
    provider: str = "openai"
    key: str = CANARY_API_KEY


FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

FAILURES = [
    Failure(MODEL_400, FAILED_PRECONDITION, "MODEL_ERROR", "400"),
    Failure(MODEL_GARBAGE, FAILED_PRECONDITION, "MODEL_ERROR", None),
    Failure(MODEL_500, grpc.StatusCode.UNAVAILABLE, "PROVIDER_UNAVAILABLE", "500"),
    Failure(
        CLAUDE_400, FAILED_PRECONDITION, "MODEL_ERROR", "400", "anthropic", CANARY_ANTHROPIC_KEY
    ),
    Failure(
        CLAUDE_STREAM_ERROR,
        FAILED_PRECONDITION,
        "MODEL_ERROR",
        None,
        "anthropic",
        CANARY_ANTHROPIC_KEY,
    ),
]


@pytest.mark.parametrize("failure", FAILURES, ids=lambda f: f.model)
async def test_a_failed_model_call_leaves_a_bounded_sanitized_run_error(
    canary: Canary, logs: LogCapture, failure: Failure
) -> None:
    admin, fake_endpoint, model = canary.admin, canary.endpoint, failure.model
    agent_id = await openai_agent(admin, model)
    events = await run_to_end(admin, agent_id)
    # The endpoint was called, with the operator's key: the canaries were in play.
    assert model in fake_endpoint.models
    assert any(failure.key in a for a in fake_endpoint.authorizations)

    failed = events[-1].run_error
    assert failed.error.code == failure.code.value[0], events[-1]
    assert len(failed.error.message) <= MAX_ERROR_MESSAGE_CHARS
    assert failed.error.message == safe_error_text(failed.error.message)
    info = error_info(failed.error)
    assert info.reason == failure.reason
    assert info.metadata["provider"] == failure.provider
    # On Temporal too: the activity's failure carries the metadata to the workflow.
    assert info.metadata["model"] == model
    assert info.metadata.get("http_status") == failure.http_status
    for word in ("Traceback", "Error:", "<class", "openai.", "anthropic.", "httpx", "{"):
        assert word not in failed.error.message, failed.error.message

    run = (await admin.runs.GetRun(run_service_pb2.GetRunRequest(run_id=events[-1].run_id))).run
    assert run.state == run_pb2.RUN_STATE_FAILED
    assert run.error == failed.error
    stored = await all_events(admin, run.run_id)
    assert [e.sequence for e in stored] == [e.sequence for e in events]
    for event in stored:
        assert not leaks(event.SerializeToString()), event
    assert not leaks(run.SerializeToString())
    assert logs.records, "no log line was captured"
    assert not leaks(logs.text), [line for line in logs.text.splitlines() if leaks(line)]
    for span in canary.spans.get_finished_spans():
        assert not leaks(span_text(span)), span_text(span)


async def test_no_secret_in_logs_errors_events_or_spans(canary: Canary, logs: LogCapture) -> None:
    """Succeeding and failing calls of callers holding the canary tokens, on a
    server holding the canary API key: no canary comes out anywhere."""
    admin, fake_endpoint = canary.admin, canary.endpoint
    address = canary.server.addresses[0]
    errors: list[grpc.aio.AioRpcError] = []

    async def refused(call: Any) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        errors.append(caught.value)

    # Succeeding calls: a run answered by the fake (with the canary key), a listing.
    agent_id = await openai_agent(admin, MODEL_OK)
    events = await run_to_end(admin, agent_id)
    assert events[-1].run_finished.output == "fine", events[-1]
    assert f"Bearer {CANARY_API_KEY}" in fake_endpoint.authorizations
    await admin.agents.ListAgents(agent_pb2.ListAgentsRequest())
    # A failing run.
    failing = await run_to_end(admin, await openai_agent(admin, MODEL_400))
    assert failing[-1].HasField("run_error")
    events += failing
    # Failing calls: unknown token, malformed header, a viewer writing, a bad
    # request, a missing run, undecodable bytes, a hostile page token.
    async with Stubs.connect(address, token=CANARY_UNKNOWN_TOKEN) as unknown:
        await refused(unknown.agents.ListAgents(agent_pb2.ListAgentsRequest()))
    async with Stubs.connect(address, token="") as anonymous:
        await refused(
            anonymous.agents.ListAgents(
                agent_pb2.ListAgentsRequest(),
                metadata=(("authorization", f"Basic {CANARY_UNKNOWN_TOKEN}"),),
            )
        )
        await refused(
            anonymous.agents.ListAgents(
                agent_pb2.ListAgentsRequest(),
                metadata=(("authorization", f"Bearer {CANARY_ADMIN_TOKEN}x"),),
            )
        )
    async with Stubs.connect(address, token=CANARY_VIEWER_TOKEN) as viewer:
        await refused(
            viewer.agents.CreateAgent(
                agent_pb2.CreateAgentRequest(agent_id=unique("nope"), agent=agent_pb2.Agent())
            )
        )
        await refused(viewer.runs.GetRun(run_service_pb2.GetRunRequest(run_id="run_missing")))
    await refused(admin.agents.CreateAgent(agent_pb2.CreateAgentRequest(agent_id="Bad Id")))
    await refused(call_raw(admin.channel, *METHODS["GetRun"], UNDECODABLE["garbage"]))
    await refused(
        admin.agents.ListAgents(agent_pb2.ListAgentsRequest(page_token=HOSTILE_TOKENS["list"]))
    )
    codes = {status_details(e).code for e in errors}
    assert codes == {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
    }, codes

    for error in errors:
        assert not leaks(rpc_error_text(error)), error
    for event in events:
        assert not leaks(event.SerializeToString()), event
    refusals = [r for r in logs.records if r.getMessage().startswith("refused ")]
    assert refusals, "the interceptor's refusals were not captured"
    assert not leaks(logs.text), [line for line in logs.text.splitlines() if leaks(line)]
    for record in logs.records:  # also what a JSON formatter would add
        assert not leaks(str(record.__dict__)), record.__dict__
    finished = canary.spans.get_finished_spans()
    assert any(s.name == "runwire.llm.call" for s in finished)
    for span in finished:
        assert not leaks(span_text(span)), span_text(span)


def test_safe_error_text_removes_credentials_and_bounds_the_length() -> None:
    key = "sk-proj-" + uuid.uuid4().hex
    text = safe_error_text(
        f"POST https://me:{key}@api.example/v1?api_key={key} failed\n"
        f"Authorization: Bearer {key}\x00 api_key={key} token: {key} {key} " + "x" * 1000
    )
    assert key not in text
    assert "\n" not in text and "\x00" not in text
    assert len(text) == MAX_ERROR_MESSAGE_CHARS and text.endswith("…")
    assert text.startswith("POST https://[redacted]@api.example/v1?[redacted] failed")
    ordinary = "openai: the model endpoint answered HTTP 400 Bad Request (model 'gpt-4o')"
    assert safe_error_text(ordinary) == ordinary
