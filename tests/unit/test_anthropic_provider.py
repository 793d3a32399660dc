"""The anthropic provider against a real loopback Messages API server.

The server (``tests.fake_models.LoopbackServer``, stdlib HTTP on 127.0.0.1) answers
``POST /v1/messages`` with queued replies: an SSE stream of events
(``message_start``, ``content_block_start``/``delta``/``stop``,
``message_delta``, ``message_stop``, or ``error``), an HTTP error with
headers, or a stream cut off mid-way. It records each request's headers and
JSON body.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runwire_server.service.core.messages import ChatMessage, Role, ToolCall, ToolSpec, Usage
from runwire_server.service.llm.anthropic import AnthropicProvider, to_anthropic_messages
from runwire_server.service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from runwire_server.service.llm.endpoints import EndpointRouter, ModelEndpoint
from runwire_server.service.llm.options import DEFAULT_ANTHROPIC_MAX_TOKENS, AnthropicOptions
from runwire_server.service.llm.registry import LazyProvider, ProviderRegistry
from tests.fake_models import FakeHandler, LoopbackServer, serving, without_proxies

Event = tuple[str, dict[str, Any]]


@dataclass
class Reply:
    """One queued answer: SSE ``events``; or ``status`` with an ``error`` body and
    ``headers``. ``cut`` drops the connection after the events (no terminating chunk)."""

    events: list[Event] = field(default_factory=list)
    status: int = 200
    error_type: str = "api_error"
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeMessagesServer(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        self.replies: list[Reply] = []
        self.received: list[Received] = []


class Handler(FakeHandler):
    server: FakeMessagesServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        self.server.received.append(
            Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if self.path != "/v1/messages" or not self.server.replies:
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error"}})
            return
        reply = self.server.replies.pop(0)
        if reply.status != 200:
            error = {"type": "error", "error": {"type": reply.error_type, "message": reply.error}}
            self.send_json(reply.status, error, reply.headers)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, data in reply.events:
            self._write_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n")
        if reply.cut:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMessagesServer]:
    without_proxies(
        monkeypatch,
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_CUSTOM_HEADERS",
    )
    with serving(FakeMessagesServer()) as fake:
        yield fake


@pytest.fixture
async def provider(server: FakeMessagesServer) -> AsyncIterator[AnthropicProvider]:
    anthropic_provider = AnthropicProvider(base_url=server.url, api_key=None, max_retries=0)
    yield anthropic_provider
    await anthropic_provider.aclose()


# ----------------------------------------------------------------------------- SSE events


def message_start(input_tokens: int = 0, output_tokens: int = 1, **usage: int) -> Event:
    return (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-test",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens, **usage},
            },
        },
    )


def text_start(index: int, text: str = "") -> Event:
    return (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "text", "text": text},
        },
    )


def text_delta(index: int, text: str) -> Event:
    return (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "text_delta", "text": text},
        },
    )


def tool_start(index: int, id: str, name: str, input: dict[str, Any] | None = None) -> Event:
    return (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": input or {}},
        },
    )


def json_delta(index: int, partial: str) -> Event:
    return (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "input_json_delta", "partial_json": partial},
        },
    )


def block_stop(index: int) -> Event:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def message_delta(output_tokens: int, stop_reason: str = "end_turn") -> Event:
    return (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )


MESSAGE_STOP: Event = ("message_stop", {"type": "message_stop"})
PING: Event = ("ping", {"type": "ping"})


def text_reply(*pieces: str) -> Reply:
    events = [message_start(10, 1), text_start(0)]
    events += [text_delta(0, piece) for piece in pieces]
    events += [block_stop(0), message_delta(len(pieces)), MESSAGE_STOP]
    return Reply(events=events)


def api_key_of(received: Received) -> str:
    """The key a request carried (``x-api-key``, or ``authorization: Bearer``)."""
    if "x-api-key" in received.headers:
        return received.headers["x-api-key"]
    return received.headers["authorization"].removeprefix("Bearer ")


async def collect(provider: AnthropicProvider, request: ModelRequest) -> list[ModelChunk]:
    return [item async for item in provider.stream(request)]


def calls_of(chunks: list[ModelChunk]) -> dict[int, tuple[str, str, str]]:
    calls: dict[int, tuple[str, str, str]] = {}
    for c in chunks:
        if isinstance(c, ToolCallDelta):
            id_, name, args = calls.get(c.index, ("", "", ""))
            calls[c.index] = (id_ + c.id, name + c.name, args + c.arguments)
    return calls


# ------------------------------------------------------------------------------- streaming


async def test_text_streams_with_usage_from_start_and_delta(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    server.replies.append(
        Reply(
            events=[
                message_start(21, 1, cache_read_input_tokens=4),
                text_start(0),
                PING,
                text_delta(0, "Hel"),
                text_delta(0, "lo, "),
                text_delta(0, "world"),
                block_stop(0),
                message_delta(7),
                MESSAGE_STOP,
            ]
        )
    )
    request = ModelRequest(model="claude-test", instructions="be brief")
    chunks = await collect(provider, request)

    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["Hel", "lo, ", "world"]
    # Input: input_tokens + cache reads (message_start); output: message_delta's total.
    assert chunks[-1] == UsageReport(usage=Usage(input_tokens=25, output_tokens=7))
    received = server.received[0]
    assert received.path == "/v1/messages"
    # This SDK sends the key as a bearer token (older ones used x-api-key).
    assert api_key_of(received) == "unused"
    body = received.body
    assert body["model"] == "claude-test"
    assert body["stream"] is True
    assert body["max_tokens"] == DEFAULT_ANTHROPIC_MAX_TOKENS == 1024
    assert body["system"] == "be brief"
    assert "tools" not in body
    assert "temperature" not in body


async def test_tool_use_streams_as_tool_call_deltas(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    server.replies.append(
        Reply(
            events=[
                message_start(30, 1),
                text_start(0),
                text_delta(0, "Let me compute."),
                block_stop(0),
                tool_start(1, "toolu_a", "calculator"),
                json_delta(1, ""),
                json_delta(1, '{"expre'),
                json_delta(1, 'ssion": "6*7"}'),
                block_stop(1),
                tool_start(2, "toolu_b", "echo"),
                json_delta(2, '{"text": "hi"}'),
                block_stop(2),
                message_delta(40, "tool_use"),
                MESSAGE_STOP,
            ]
        )
    )
    tools = (ToolSpec(name="calculator"), ToolSpec(name="echo"))
    chunks = await collect(provider, ModelRequest(model="claude-test", tools=tools))

    assert chunks[0] == TextDelta(text="Let me compute.")
    assert calls_of(chunks) == {
        0: ("toolu_a", "calculator", '{"expression": "6*7"}'),
        1: ("toolu_b", "echo", '{"text": "hi"}'),
    }
    # The first delta of each call carries id and name (and no empty argument pieces).
    firsts = [c for c in chunks if isinstance(c, ToolCallDelta) and c.id]
    assert [(c.index, c.name, c.arguments) for c in firsts] == [
        (0, "calculator", ""),
        (1, "echo", ""),
    ]
    assert chunks[-1] == UsageReport(usage=Usage(input_tokens=30, output_tokens=40))


async def test_tool_input_given_whole_in_block_start(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    server.replies.append(
        Reply(
            events=[
                message_start(5, 1),
                tool_start(0, "toolu_x", "echo", {"text": "whole"}),
                block_stop(0),
                message_delta(3, "tool_use"),
                MESSAGE_STOP,
            ]
        )
    )
    chunks = await collect(
        provider, ModelRequest(model="claude-test", tools=(ToolSpec(name="echo"),))
    )
    assert calls_of(chunks) == {0: ("toolu_x", "echo", '{"text": "whole"}')}


async def test_usage_is_estimated_when_the_server_sends_none(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    server.replies.append(
        Reply(events=[text_start(0), text_delta(0, "12345678"), block_stop(0), MESSAGE_STOP])
    )
    chunks = await collect(provider, ModelRequest(model="claude-test"))
    assert chunks[-1] == UsageReport(usage=Usage(input_tokens=0, output_tokens=2))


# ---------------------------------------------------------------------------- request body


async def test_request_body_maps_conversation_tools_and_sampling(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    server.replies.append(text_reply("ok"))
    schema = {"type": "object", "properties": {"expression": {"type": "string"}}}
    request = ModelRequest(
        model="claude-test",
        options={"temperature": 0.5, "top_p": 1, "max_tokens": 64.0},
        instructions="You are terse.",
        messages=(
            ChatMessage(role=Role.SYSTEM, content="Use metric units."),
            ChatMessage(role=Role.USER, content="6*7? and say hi"),
            ChatMessage(
                role=Role.ASSISTANT,
                content="Computing.",
                tool_calls=(
                    ToolCall(id="toolu_1", name="calculator", arguments='{"expression":"6*7"}'),
                    ToolCall(id="toolu_2", name="echo", arguments="not json"),
                ),
            ),
            ChatMessage(role=Role.TOOL, content="42", tool_call_id="toolu_1"),
            ChatMessage(role=Role.TOOL, content="error: bad arguments", tool_call_id="toolu_2"),
            ChatMessage(role=Role.ASSISTANT, content=""),  # said nothing: left out
            ChatMessage(role=Role.USER, content="Go on."),
        ),
        tools=(ToolSpec(name="calculator", description="math", parameters=schema),),
    )
    await collect(provider, request)

    body = server.received[0].body
    assert body["system"] == "You are terse.\n\nUse metric units."
    assert body["messages"] == [
        {"role": "user", "content": "6*7? and say hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Computing."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "calculator",
                    "input": {"expression": "6*7"},
                },
                # Malformed arguments cannot be a tool_use input: sent as {}.
                {"type": "tool_use", "id": "toolu_2", "name": "echo", "input": {}},
            ],
        },
        # Both results (and the user's next words) in one user turn, results first.
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "error: bad arguments",
                },
                {"type": "text", "text": "Go on."},
            ],
        },
    ]
    assert body["tools"] == [{"name": "calculator", "description": "math", "input_schema": schema}]
    assert body["temperature"] == 0.5
    assert body["top_p"] == 1
    assert body["max_tokens"] == 64
    assert isinstance(body["max_tokens"], int)


async def test_response_format_asks_for_json_in_the_system_prompt_without_tools(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    schema = {"type": "object", "required": ["answer"]}
    server.replies.append(text_reply('{"answer": 42}'))
    server.replies.append(text_reply("ok"))
    await collect(
        provider,
        ModelRequest(model="claude-test", instructions="Be exact.", response_format=schema),
    )
    await collect(
        provider,
        ModelRequest(model="claude-test", response_format=schema, tools=(ToolSpec(name="echo"),)),
    )
    first, second = (r.body for r in server.received)
    assert first["system"] == (
        'Be exact.\n\nAnswer with only JSON matching this schema: {"required":["answer"],'
        '"type":"object"}'
    )
    assert "system" not in second  # tools offered: no JSON instruction (and no instructions)


def test_to_anthropic_messages_merges_same_role_turns() -> None:
    messages = (
        ChatMessage(role=Role.USER, content="a"),
        ChatMessage(role=Role.USER, content="b"),
        ChatMessage(role=Role.ASSISTANT, content="c"),
    )
    assert to_anthropic_messages(messages) == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
        {"role": "assistant", "content": "c"},
    ]


# ---------------------------------------------------------------------------------- errors


async def test_http_529_overloaded_is_retryable_with_retry_after(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    server.replies.append(
        Reply(
            status=529,
            error_type="overloaded_error",
            error="Overloaded",
            headers={"retry-after": "7"},
        )
    )
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="claude-test"))
    error = caught.value
    assert error.retryable
    assert error.status_code == 529
    assert error.retry_after_seconds == 7.0
    assert error.provider == "anthropic"
    assert error.reason == "PROVIDER_UNAVAILABLE"
    assert "HTTP 529" in error.message
    assert "Overloaded" not in error.message  # no upstream body (issue 13)
    assert len(server.received) == 1  # max_retries=0: no SDK retries


#: (HTTP status, response headers) -> (retryable, retry_after_seconds)
HTTP_ERROR_CASES: dict[tuple[int, tuple[tuple[str, str], ...]], tuple[bool, float | None]] = {
    (429, (("retry-after-ms", "1500"),)): (True, 1.5),
    (408, ()): (True, None),
    (409, ()): (True, None),
    (500, (("retry-after", "0"),)): (True, 0.0),
    (503, ()): (True, None),
    (502, (("retry-after", "-3"),)): (True, None),  # malformed: the caller's backoff decides
    (400, ()): (False, None),
    (401, ()): (False, None),
    (404, ()): (False, None),
}


@pytest.mark.parametrize("case", list(HTTP_ERROR_CASES), ids=lambda case: str(case[0]))
async def test_http_errors_map_to_model_errors(
    server: FakeMessagesServer,
    provider: AnthropicProvider,
    case: tuple[int, tuple[tuple[str, str], ...]],
) -> None:
    status, headers = case
    retryable, retry_after = HTTP_ERROR_CASES[case]
    server.replies.append(Reply(status=status, error="nope " + "x" * 1000, headers=dict(headers)))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="claude-test"))
    error = caught.value
    assert (error.retryable, error.status_code, error.retry_after_seconds) == (
        retryable,
        status,
        retry_after,
    )
    assert error.reason == ("PROVIDER_UNAVAILABLE" if retryable else "MODEL_ERROR")
    assert len(error.message) <= 500


async def test_overloaded_error_event_mid_stream_is_retryable(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    error_event = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.replies.append(
        Reply(
            events=[
                message_start(3, 1),
                text_start(0),
                text_delta(0, "Hal"),
                ("error", error_event),
            ]
        )
    )
    chunks: list[ModelChunk] = []
    with pytest.raises(ModelError) as caught:
        async for chunk in provider.stream(ModelRequest(model="claude-test")):
            chunks.append(chunk)
    assert chunks == [TextDelta(text="Hal")]
    assert caught.value.retryable
    assert "overloaded_error" in caught.value.message


async def test_invalid_request_error_event_is_not_retryable(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    error_event = {"type": "error", "error": {"type": "invalid_request_error", "message": "no"}}
    server.replies.append(Reply(events=[message_start(), ("error", error_event)]))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="claude-test"))
    assert not caught.value.retryable


async def test_connection_cut_mid_stream_is_retryable(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    server.replies.append(
        Reply(events=[message_start(3, 1), text_start(0), text_delta(0, "Hal")], cut=True)
    )
    chunks: list[ModelChunk] = []
    with pytest.raises(ModelError) as caught:
        async for chunk in provider.stream(ModelRequest(model="claude-test")):
            chunks.append(chunk)
    assert chunks == [TextDelta(text="Hal")]
    assert caught.value.retryable
    assert caught.value.status_code is None


async def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = AnthropicProvider(base_url=f"http://127.0.0.1:{port}", api_key="k", max_retries=0)
    try:
        with pytest.raises(ModelError) as caught:
            await collect(provider, ModelRequest(model="claude-test"))
    finally:
        await provider.aclose()
    assert caught.value.retryable
    assert caught.value.status_code is None


async def test_bad_options_and_missing_model_fail_before_any_request(
    server: FakeMessagesServer, provider: AnthropicProvider
) -> None:
    for request in (
        ModelRequest(model="claude-test", options={"temperature": "hot"}),
        ModelRequest(model="claude-test", options={"stream_tools": False}),  # openai's only
        ModelRequest(model=""),
    ):
        with pytest.raises(ModelError) as caught:
            await collect(provider, request)
        assert not caught.value.retryable
    assert server.received == []


# ------------------------------------------------------------------------ keys and registry


async def test_keys_go_only_to_the_operators_endpoints(
    server: FakeMessagesServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_KEY", "from-env")
    other_url = server.url + "/"  # the same server, as a caller's URL
    router = EndpointRouter(
        [ModelEndpoint(name="team", provider="anthropic", base_url=server.url, api_key="team-key")],
        base_url_allowlist=[server.url],
    )
    provider = AnthropicProvider(
        base_url=server.url, api_key="configured", max_retries=0, router=router
    )
    try:
        for options in (
            {},
            {"endpoint": "team"},
            # A caller's (allowlisted) base_url gets no key at all.
            {"base_url": other_url},
        ):
            server.replies.append(text_reply("ok"))
            await collect(provider, ModelRequest(model="claude-test", options=options))
        # Refused before any request: a key option, an unknown endpoint, a URL off the list.
        for options in (
            {"api_key_env": "AGENT_KEY"},
            {"base_url": other_url, "api_key_env": "AGENT_KEY"},
            {"endpoint": "nope"},
            {"base_url": "http://127.0.0.2:9/v1"},
        ):
            with pytest.raises(ModelError) as caught:
                await collect(provider, ModelRequest(model="claude-test", options=options))
            assert not caught.value.retryable
            assert "from-env" not in caught.value.message
    finally:
        await provider.aclose()
    keys = [api_key_of(r) for r in server.received]
    assert keys == ["configured", "team-key", "unused"]


def test_anthropic_options() -> None:
    validate_anthropic_options = AnthropicOptions.violations
    assert validate_anthropic_options({"base_url": "http://x", "max_tokens": 5.0}) == {}
    assert AnthropicOptions.parse({"max_tokens": 5.0}).max_tokens_or_default == 5
    assert AnthropicOptions.parse({"max_tokens": None}).max_tokens_or_default == 1024
    assert validate_anthropic_options({"extra": 1}) == {
        "extra": "unknown option; anthropic takes: base_url, endpoint, max_tokens, "
        "temperature, thinking_budget_tokens, top_p"
    }
    assert validate_anthropic_options(
        {"base_url": 3, "endpoint": "", "temperature": True, "top_p": "1", "max_tokens": 0}
    ) == {
        "base_url": "must be a non-empty string",
        "endpoint": "must be a non-empty string",
        "temperature": "must be a number",
        "top_p": "must be a number",
        "max_tokens": "must be a whole number >= 1",
    }
    assert validate_anthropic_options({"base_url": "localhost:8080"}) == {
        "base_url": "must be an http:// or https:// URL"
    }


async def test_registry_offers_anthropic(server: FakeMessagesServer) -> None:
    registry = ProviderRegistry(anthropic_base_url=server.url, anthropic_max_retries=0)
    try:
        assert "anthropic" in registry.names()
        provider = registry.get("anthropic")
        assert isinstance(provider, LazyProvider)
        server.replies.append(text_reply("hi"))
        chunks = [c async for c in provider.stream(ModelRequest(model="claude-test"))]
        assert chunks[0] == TextDelta(text="hi")
        assert isinstance(provider.built, AnthropicProvider)
        assert registry.validate_options("anthropic", {"top_p": "x"}) == {
            "top_p": "must be a number"
        }
        assert registry.validate_options("anthropic", {"max_tokens": 100}) == {}
    finally:
        await registry.aclose()
