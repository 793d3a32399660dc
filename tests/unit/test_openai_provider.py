"""The openai provider against a real loopback Chat Completions server.

The server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1) answers
``POST /v1/chat/completions`` with queued replies: an SSE stream of chunks, one JSON
completion, or an HTTP error. It records each request's headers and JSON body. Like
llama.cpp's server (``llama_cpp.server``), it can refuse streamed requests that offer
tools (``refuse_streamed_tools``): llama-cpp-python 0.3.x answers 200 with an empty
event stream (the handler's error is only logged), other versions and servers an HTTP
error saying that streaming is not supported.
"""

from __future__ import annotations

import email.utils
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from runwire.v1 import event_pb2

from runwire_server.service.agent.model_turn import stream_model_turn
from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.core.messages import ChatMessage, Role, ToolCall, ToolSpec, Usage
from runwire_server.service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from runwire_server.service.llm.endpoints import EndpointRouter, ModelEndpoint
from runwire_server.service.llm.openai import MAX_REMEMBERED_REFUSALS, OpenAIProvider
from runwire_server.service.llm.options import OpenAIOptions
from runwire_server.service.llm.registry import LazyProvider, ProviderRegistry
from runwire_server.service.llm.scripted import ScriptedProvider


@dataclass
class Reply:
    """One queued answer: SSE ``chunks`` (then ``[DONE]``), a non-streamed ``completion``
    (for requests without ``stream: true``), or ``status`` + ``error`` (with ``headers``)."""

    chunks: list[dict[str, Any]] = field(default_factory=list)
    completion: dict[str, Any] | None = None
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.replies: list[Reply] = []
        self.received: list[Received] = []
        #: (status, message) sent, without using a reply, to each request with
        #: ``stream: true`` and ``tools``: an error, or for status 200 an empty event
        #: stream; None streams them like any other.
        self.refuse_streamed_tools: tuple[int, str] | None = None
        #: With an empty-stream refusal: keep the connection open this long (s), then
        #: close it without answering what came on it; None closes it at once.
        self.drop_after_refusal_seconds: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        self.server.received.append(
            Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        refusal = self.server.refuse_streamed_tools
        if refusal and body.get("stream") and body.get("tools"):
            status, message = refusal
            if status == 200:  # an event stream that ends at once: not even [DONE]
                drop_after = self.server.drop_after_refusal_seconds
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                if drop_after is None:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                if drop_after is not None:
                    # Keep-alive as announced, then close without reading the next request.
                    time.sleep(drop_after)
                    self.close_connection = True
                return
            error = {"message": message, "type": "internal_server_error", "param": None}
            self._send_json(status, {"error": error})
            return
        if not self.path.endswith("/chat/completions") or not self.server.replies:
            self._send_json(404, {"error": {"message": f"nothing for {self.path}"}})
            return
        reply = self.server.replies.pop(0)
        if reply.status != 200:
            error = {"message": reply.error, "type": "x"}
            self._send_json(reply.status, {"error": error}, reply.headers)
            return
        if not body.get("stream"):
            assert reply.completion is not None, "a non-streamed request needs a completion"
            self._send_json(200, reply.completion)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in reply.chunks:
            self._write_chunk(f"data: {json.dumps(chunk)}\n\n")
        self._write_chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    fake = FakeServer()
    thread = threading.Thread(target=fake.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()
    thread.join(timeout=5)


@pytest.fixture
async def provider(server: FakeServer) -> AsyncIterator[OpenAIProvider]:
    openai_provider = OpenAIProvider(base_url=server.base_url, api_key=None, max_retries=0)
    yield openai_provider
    await openai_provider.aclose()


def chunk(
    delta: dict[str, Any] | None = None,
    *,
    usage: dict[str, int] | None = None,
    finish: str | None = None,
) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": choices,
        "usage": usage,
    }


def tool_delta(index: int, arguments: str, *, id: str = "", name: str = "") -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if id:
        call["id"] = id
        call["type"] = "function"
    if name:
        call["function"]["name"] = name
    return {"tool_calls": [call]}


def completion(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A non-streamed chat completion (``tool_calls`` are sent as given)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": usage,
    }


async def collect(provider: OpenAIProvider, request: ModelRequest) -> list[ModelChunk]:
    return [item async for item in provider.stream(request)]


def calls_of(chunks: list[ModelChunk]) -> dict[int, tuple[str, str, str]]:
    calls: dict[int, tuple[str, str, str]] = {}
    for c in chunks:
        if isinstance(c, ToolCallDelta):
            id_, name, args = calls.get(c.index, ("", "", ""))
            calls[c.index] = (id_ + c.id, name + c.name, args + c.arguments)
    return calls


async def test_text_streams_with_server_usage(server: FakeServer, provider: OpenAIProvider) -> None:
    server.replies.append(
        Reply(
            chunks=[
                chunk({"role": "assistant", "content": ""}),
                chunk({"content": "Hel"}),
                chunk({"content": "lo, "}),
                chunk({"content": "world"}, finish="stop"),
                chunk(usage={"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}),
            ]
        )
    )
    chunks = await collect(provider, ModelRequest(model="m", instructions="be brief"))

    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["Hel", "lo, ", "world"]
    assert chunks[-1] == UsageReport(usage=Usage(input_tokens=11, output_tokens=3))
    body = server.received[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "m"
    assert "tools" not in body
    assert "tool_choice" not in body
    assert server.received[0].headers["authorization"] == "Bearer unused"


async def test_tool_call_split_over_chunks_reassembles(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    server.replies.append(
        Reply(
            chunks=[
                chunk(tool_delta(0, "", id="call_abc", name="calculator")),
                chunk(tool_delta(0, '{"expre')),
                chunk(tool_delta(0, 'ssion": "6*7"}')),
                chunk(tool_delta(1, '{"te', name="echo")),  # no id: generated
                chunk(tool_delta(1, 'xt": "hi"}'), finish="tool_calls"),
            ]
        )
    )
    request = ModelRequest(model="m", tools=(ToolSpec(name="calculator"),), step=3)
    chunks = await collect(provider, request)

    assert calls_of(chunks) == {
        0: ("call_abc", "calculator", '{"expression": "6*7"}'),
        1: ("call_3_1", "echo", '{"text": "hi"}'),
    }
    # No usage chunk from the server: estimated (36 chars of arguments -> 9 tokens).
    assert chunks[-1] == UsageReport(usage=Usage(input_tokens=0, output_tokens=9))


async def test_request_body_carries_conversation_and_tools(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
    schema = {"type": "object", "properties": {"expression": {"type": "string"}}}
    request = ModelRequest(
        model="gpt-x",
        options={"temperature": 0.5, "top_p": 1, "max_tokens": 64.0},
        instructions="You are terse.",
        messages=(
            ChatMessage(role=Role.USER, content="6*7?"),
            ChatMessage(
                role=Role.ASSISTANT,
                tool_calls=(
                    ToolCall(id="call_1", name="calculator", arguments='{"expression":"6*7"}'),
                ),
            ),
            ChatMessage(role=Role.TOOL, content="42", tool_call_id="call_1"),
        ),
        tools=(ToolSpec(name="calculator", description="math", parameters=schema),),
    )
    await collect(provider, request)

    body = server.received[0].body
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "6*7?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression":"6*7"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "calculator", "description": "math", "parameters": schema},
        }
    ]
    assert body["tool_choice"] == "auto"
    assert body["temperature"] == 0.5
    assert body["top_p"] == 1
    assert body["max_tokens"] == 64
    assert isinstance(body["max_tokens"], int)


async def test_http_500_is_retryable(server: FakeServer, provider: OpenAIProvider) -> None:
    server.replies.append(Reply(status=500, error="the engine is on fire"))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="m"))
    error = caught.value
    assert error.retryable
    assert error.status_code == 500
    assert error.provider == "openai"
    assert error.reason == "PROVIDER_UNAVAILABLE"
    assert "HTTP 500" in error.message
    assert "the engine is on fire" not in error.message  # no upstream body (issue 13)
    assert len(server.received) == 1  # max_retries=0


async def test_http_400_is_not_retryable(server: FakeServer, provider: OpenAIProvider) -> None:
    server.replies.append(Reply(status=400, error="bad model " + "x" * 1000))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="m"))
    assert not caught.value.retryable
    assert caught.value.status_code == 400
    assert caught.value.reason == "MODEL_ERROR"
    assert "HTTP 400" in caught.value.message
    assert "bad model" not in caught.value.message  # no upstream body (issue 13)
    assert len(caught.value.message) <= 500


async def test_http_429_is_retryable(server: FakeServer, provider: OpenAIProvider) -> None:
    server.replies.append(Reply(status=429, error="slow down"))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="m"))
    assert caught.value.retryable
    assert caught.value.status_code == 429


async def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OpenAIProvider(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0)
    try:
        with pytest.raises(ModelError) as caught:
            await collect(provider, ModelRequest(model="m"))
    finally:
        await provider.aclose()
    assert caught.value.retryable
    assert caught.value.status_code is None


async def test_keys_go_only_to_the_operators_endpoints(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_KEY", "from-env")
    other_url = server.base_url + "/"  # the same server, as a caller's URL
    router = EndpointRouter(
        [
            ModelEndpoint(
                name="team", provider="openai", base_url=server.base_url, api_key="team-key"
            ),
            ModelEndpoint(name="keyless", provider="openai", base_url=server.base_url),
            ModelEndpoint(
                name="small", provider="openai", base_url=server.base_url, models=frozenset({"s"})
            ),
        ],
        base_url_allowlist=[server.base_url.removesuffix("/v1")],
    )
    provider = OpenAIProvider(
        base_url=server.base_url, api_key="configured", max_retries=0, router=router
    )
    try:
        for _ in range(5):
            server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
        await collect(provider, ModelRequest(model="m"))
        await collect(provider, ModelRequest(model="m", options={"endpoint": "team"}))
        await collect(provider, ModelRequest(model="m", options={"endpoint": "keyless"}))
        await collect(provider, ModelRequest(model="s", options={"endpoint": "small"}))
        # A caller's (allowlisted) base_url gets no key at all.
        await collect(provider, ModelRequest(model="m", options={"base_url": other_url}))
        # Refused before any request: a key option, an unknown endpoint, a model the
        # endpoint does not serve, a URL off the allowlist, a URL with user info.
        for model, options in (
            ("m", {"api_key_env": "AGENT_KEY"}),
            ("m", {"base_url": other_url, "api_key_env": "AGENT_KEY"}),
            ("m", {"endpoint": "nope"}),
            ("m", {"endpoint": "small"}),
            ("m", {"base_url": server.base_url.replace("127.0.0.1", "localhost")}),
            ("m", {"base_url": other_url.replace("http://", "http://u:p@")}),
        ):
            with pytest.raises(ModelError) as caught:
                await collect(provider, ModelRequest(model=model, options=options))
            assert not caught.value.retryable
            assert "from-env" not in caught.value.message
    finally:
        await provider.aclose()
    keys = [r.headers["authorization"] for r in server.received]
    assert keys == [
        "Bearer configured",
        "Bearer team-key",
        "Bearer unused",  # an endpoint without a key
        "Bearer unused",
        "Bearer unused",  # the caller's URL
    ]


async def test_caller_urls_share_a_client_per_origin_and_few_are_kept(
    server: FakeServer,
) -> None:
    """Distinct allowlisted base URLs of one origin share its client (one connection
    pool); past ``max_caller_clients`` origins the least recently used client is
    dropped; the operator's client is never dropped."""
    origin = server.base_url.removesuffix("/v1")
    other_origin = origin.replace("127.0.0.1", "localhost")
    provider = OpenAIProvider(
        base_url=server.base_url,
        api_key="configured",
        max_retries=0,
        router=EndpointRouter(base_url_allowlist=[origin, other_origin]),
        max_caller_clients=1,
    )
    try:
        server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
        await collect(provider, ModelRequest(model="m"))
        for index in range(6):
            server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
            options = {"base_url": f"{origin}/v1/caller{index}"}
            await collect(provider, ModelRequest(model="m", options=options))
        assert provider.cached_clients() == 2  # the operator's, and the origin's
        first = next(iter(provider._caller_clients._entries.values())).client
        server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
        await collect(provider, ModelRequest(model="m", options={"base_url": f"{other_origin}/v1"}))
        assert provider.cached_clients() == 2
        assert first.is_closed()  # dropped for the other origin's, and closed
    finally:
        await provider.aclose()
    assert [r.path for r in server.received] == ["/v1/chat/completions"] + [
        f"/v1/caller{index}/chat/completions" for index in range(6)
    ] + ["/v1/chat/completions"]
    assert {r.headers["authorization"] for r in server.received[1:]} == {"Bearer unused"}


async def test_bad_options_raise_model_error(server: FakeServer, provider: OpenAIProvider) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"temperature": "hot"}, "temperature: must be a number"),
        ({"temperature": 0.2, "extra": 1}, "extra: unknown option; openai takes: "),
    ]
    for options, fragment in cases:
        with pytest.raises(ModelError) as caught:
            await collect(provider, ModelRequest(model="m", options=options))
        assert not caught.value.retryable
        assert caught.value.message.startswith("invalid openai options: ")
        assert fragment in caught.value.message
    assert server.received == []  # refused before any request


def test_openai_options() -> None:
    validate_openai_options = OpenAIOptions.violations
    good = {"base_url": "http://x/v1", "temperature": 0, "max_tokens": 64.0, "top_p": None}
    assert validate_openai_options(good) == {}
    parsed = OpenAIOptions.parse(good)
    assert (parsed.temperature, parsed.max_tokens, parsed.top_p) == (0.0, 64, None)
    assert isinstance(parsed.max_tokens, int)
    assert parsed.streams_tools
    assert validate_openai_options({"temprature": 0.5}) == {
        "temprature": "unknown option; openai takes: base_url, endpoint, max_tokens, "
        "stream_tools, temperature, top_p"
    }
    assert validate_openai_options({"temperature": float("inf")}) == {
        "temperature": "must be a finite number"
    }
    assert validate_openai_options({"max_tokens": "64"}) == {"max_tokens": "must be a number"}
    assert validate_openai_options(
        {"base_url": 3, "endpoint": "", "temperature": True, "top_p": "1", "max_tokens": 1.5}
    ) == {
        "base_url": "must be a non-empty string",
        "endpoint": "must be a non-empty string",
        "temperature": "must be a number",
        "top_p": "must be a number",
        "max_tokens": "must be a whole number >= 1",
    }
    for url in ("localhost:8000/v1", "ftp://host/v1", "http://[::1", "http://host:port/v1"):
        assert validate_openai_options({"base_url": url}) == {
            "base_url": "must be an http:// or https:// URL"
        }


async def test_provider_registry(server: FakeServer) -> None:
    registry = ProviderRegistry(openai_base_url=server.base_url, openai_max_retries=0)
    try:
        assert {"openai", "scripted"} <= set(registry.names())
        assert isinstance(registry.get("scripted"), ScriptedProvider)
        openai_provider = registry.get("openai")
        assert isinstance(openai_provider, LazyProvider)
        for _ in range(2):  # the first call builds the provider, the second reuses it
            server.replies.append(Reply(chunks=[chunk({"content": "hi"})]))
            chunks = [c async for c in openai_provider.stream(ModelRequest(model="m"))]
            assert chunks[0] == TextDelta(text="hi")
        assert isinstance(openai_provider.built, OpenAIProvider)
        assert registry.validate_options("openai", {"top_p": "x"}) == {"top_p": "must be a number"}
        assert registry.validate_options("scripted", {"script": [{"text": "a"}]}) == {}
        # Each provider takes only its own options.
        assert set(registry.validate_options("openai", {"script": [], "top_p": 1})) == {"script"}
        assert set(registry.validate_options("scripted", {"top_p": 1, "script": []})) == {"top_p"}
        assert "script[0]" in registry.validate_options("scripted", {"script": [{}]})
        for call in (lambda: registry.get("nope"), lambda: registry.validate_options("nope", {})):
            with pytest.raises(InvalidArgumentError) as caught:
                call()
            assert caught.value.reason == "UNKNOWN_PROVIDER"
            assert f"known providers: {', '.join(registry.names())}" in caught.value.message
    finally:
        await registry.aclose()


# --------------------------------------------------------------------------- tool streaming

#: Why llama.cpp's server (llama_cpp.server, chatml-function-calling) cannot stream a
#: call with automatic tool choice once the model picks a tool.
STREAM_REFUSAL = "Automatic streaming tool choice is not supported"

WEATHER = ToolSpec(
    name="get_weather",
    description="The forecast of a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)


def weather_completion(**usage: int) -> dict[str, Any]:
    return completion(
        "Checking.",
        [
            {
                "id": "call_w1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
        usage={**usage, "total_tokens": sum(usage.values())} if usage else None,
    )


@pytest.mark.parametrize("status", [200, 400, 500])
async def test_refused_tool_streaming_falls_back_to_one_response_and_is_remembered(
    server: FakeServer, provider: OpenAIProvider, status: int
) -> None:
    server.refuse_streamed_tools = (status, STREAM_REFUSAL)
    server.replies.append(
        Reply(completion=weather_completion(prompt_tokens=20, completion_tokens=7))
    )
    request = ModelRequest(model="m", tools=(WEATHER,), step=2)
    chunks = await collect(provider, request)

    # The same chunks as a streamed answer: text, the tool call, then the server's usage.
    assert chunks == [
        TextDelta(text="Checking."),
        ToolCallDelta(index=0, id="call_w1", name="get_weather", arguments='{"city": "Paris"}'),
        UsageReport(usage=Usage(input_tokens=20, output_tokens=7)),
    ]
    refused, answered = server.received
    assert refused.body["stream"] is True
    assert answered.body.get("stream") in (None, False)
    assert "stream_options" not in answered.body
    assert answered.body["tool_choice"] == refused.body["tool_choice"] == "auto"
    assert answered.body["tools"] == refused.body["tools"]
    assert answered.body["messages"] == refused.body["messages"]
    assert not provider.streams_tool_calls(server.base_url + "/")

    # Remembered for this base URL: the next call with tools is asked without streaming
    # at once; calls without tools still stream.
    server.replies.append(Reply(completion=completion("Sunny.")))
    server.replies.append(Reply(chunks=[chunk({"content": "Hi"})]))
    chunks = await collect(provider, request)
    assert chunks[0] == TextDelta(text="Sunny.")
    assert chunks[-1] == UsageReport(usage=Usage(input_tokens=0, output_tokens=2))  # estimate
    chunks = await collect(provider, ModelRequest(model="m"))
    assert chunks[0] == TextDelta(text="Hi")
    assert [r.body.get("stream") for r in server.received[2:]] == [False, True]


async def test_refusal_is_remembered_per_base_url(server: FakeServer) -> None:
    server.refuse_streamed_tools = (400, STREAM_REFUSAL)
    # The same server under another (allowlisted) base URL.
    other_url = server.base_url.replace("127.0.0.1", "localhost")
    router = EndpointRouter(base_url_allowlist=[other_url.removesuffix("/v1")])
    provider = OpenAIProvider(base_url=server.base_url, max_retries=0, router=router)
    request = ModelRequest(model="m", tools=(WEATHER,))
    for _ in range(3):
        server.replies.append(Reply(completion=weather_completion()))
    try:
        await collect(provider, request)
        await collect(provider, request)
        await collect(
            provider, ModelRequest(model="m", options={"base_url": other_url}, tools=(WEATHER,))
        )
    finally:
        await provider.aclose()
    assert [r.body.get("stream") for r in server.received] == [True, False, False, True, False]


def test_remembered_refusals_are_bounded() -> None:
    provider = OpenAIProvider(base_url="http://127.0.0.1:9/v1", max_retries=0)
    for index in range(MAX_REMEMBERED_REFUSALS + 10):
        provider._remember_refusal(f"http://127.0.0.1:9/v{index}/")
    assert not provider.streams_tool_calls(f"http://127.0.0.1:9/v{MAX_REMEMBERED_REFUSALS + 9}/")
    assert provider.streams_tool_calls("http://127.0.0.1:9/v0/")  # the oldest, forgotten
    assert len(provider._no_tool_streaming) == MAX_REMEMBERED_REFUSALS


async def test_stream_tools_false_never_streams_tool_calls(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    server.replies.append(
        Reply(completion=weather_completion(prompt_tokens=5, completion_tokens=3))
    )
    server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
    options = {"stream_tools": False}
    chunks = await collect(provider, ModelRequest(model="m", options=options, tools=(WEATHER,)))
    assert calls_of(chunks) == {0: ("call_w1", "get_weather", '{"city": "Paris"}')}
    await collect(provider, ModelRequest(model="m", options=options))  # no tools: streamed
    assert [r.body.get("stream") for r in server.received] == [False, True]
    assert provider.streams_tool_calls(server.base_url + "/")  # an option, not a refusal


async def test_other_errors_with_tools_are_not_taken_for_a_refusal(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    server.replies.append(Reply(status=400, error="unknown parameter: tools"))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="m", tools=(WEATHER,)))
    assert caught.value.status_code == 400
    assert len(server.received) == 1
    assert provider.streams_tool_calls(server.base_url + "/")


async def test_a_refusal_is_remembered_even_when_the_fallback_fails(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    """A retried call (a Temporal activity attempt, say) goes straight to one response."""
    server.refuse_streamed_tools = (400, STREAM_REFUSAL)
    server.replies.append(Reply(status=503, error="loading model"))
    request = ModelRequest(model="m", tools=(WEATHER,))
    with pytest.raises(ModelError) as caught:
        await collect(provider, request)
    assert caught.value.status_code == 503
    assert caught.value.retryable
    assert not provider.streams_tool_calls(server.base_url + "/")
    server.replies.append(Reply(completion=weather_completion()))
    await collect(provider, request)
    assert [r.body["stream"] for r in server.received] == [True, False, False]


async def test_the_connection_of_a_refused_stream_is_not_reused(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    """Like uvicorn after llama.cpp's handler failed behind a started stream: an empty
    stream on a keep-alive connection, then the connection closes without reading the
    next request, had one been sent on it. The fallback and later calls use new
    connections (a new client), with no retry needed (``max_retries=0``)."""
    server.refuse_streamed_tools = (200, "")
    server.drop_after_refusal_seconds = 0.3
    server.replies.append(
        Reply(completion=weather_completion(prompt_tokens=9, completion_tokens=2))
    )
    server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
    chunks = await collect(provider, ModelRequest(model="m", tools=(WEATHER,)))
    assert calls_of(chunks) == {0: ("call_w1", "get_weather", '{"city": "Paris"}')}
    assert chunks[-1] == UsageReport(usage=Usage(input_tokens=9, output_tokens=2))
    chunks = await collect(provider, ModelRequest(model="m"))
    assert chunks[0] == TextDelta(text="ok")
    assert [r.body["stream"] for r in server.received] == [True, False, True]


# --------------------------------------------------------------------------- loose tool calls


async def test_loose_tool_calls_in_a_completion(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    server.replies.append(
        Reply(
            completion=completion(
                None,
                [
                    # No id and no type; arguments as a JSON object.
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    # Malformed JSON: passed on as it is.
                    {"id": "c2", "function": {"name": "get_weather", "arguments": '{"city": Rome'}},
                    # No arguments at all.
                    {"id": "", "type": "function", "function": {"name": "get_weather"}},
                ],
            )
        )
    )
    options = {"stream_tools": False}
    request = ModelRequest(model="m", options=options, tools=(WEATHER,), step=4)
    chunks = await collect(provider, request)
    assert not [c for c in chunks if isinstance(c, TextDelta)]
    assert calls_of(chunks) == {
        0: ("call_4_0", "get_weather", '{"city": "Paris"}'),
        1: ("c2", "get_weather", '{"city": Rome'),
        2: ("call_4_2", "get_weather", ""),
    }


async def test_loose_tool_calls_in_a_stream(server: FakeServer, provider: OpenAIProvider) -> None:
    server.replies.append(
        Reply(
            chunks=[
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
                            }
                        ]
                    }
                ),
                chunk(tool_delta(1, '{"city": "Li', id="c9", name="get_weather")),
                chunk(tool_delta(1, "ma"), finish="tool_calls"),
            ]
        )
    )
    chunks = await collect(provider, ModelRequest(model="m", tools=(WEATHER,), step=1))
    assert calls_of(chunks) == {
        0: ("call_1_0", "get_weather", '{"city": "Oslo"}'),
        1: ("c9", "get_weather", '{"city": "Lima'),
    }


async def test_malformed_arguments_reach_the_loop_as_text(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    """The assembled message keeps the text; the loop's ``parse_arguments`` then fails
    with ValueError, which it reports to the model as a tool error."""
    server.replies.append(
        Reply(
            completion=completion(
                "", [{"function": {"name": "get_weather", "arguments": '{"city": "Paris"'}}]
            )
        )
    )
    emitted: list[event_pb2.RunEvent] = []

    async def emit(event: event_pb2.RunEvent) -> None:
        emitted.append(event)

    request = ModelRequest(model="m", options={"stream_tools": False}, tools=(WEATHER,))
    turn = await stream_model_turn(provider, request, message_id="msg_1", emit=emit)
    (call,) = turn.message.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_1_0", "get_weather", '{"city": "Paris"')
    with pytest.raises(ValueError):
        call.parse_arguments()
    assert [e.WhichOneof("payload") for e in emitted] == [
        "tool_call_start",
        "tool_call_args",
        "tool_call_end",
    ]


# --------------------------------------------------------------------------- retry-after


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({}, None),
        ({"retry-after": "later"}, None),
        ({"retry-after": "-3"}, None),
    ],
)
async def test_retry_after_header(
    server: FakeServer,
    provider: OpenAIProvider,
    headers: dict[str, str],
    expected: float | None,
) -> None:
    server.replies.append(Reply(status=429, error="slow down", headers=headers))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="m"))
    assert caught.value.retryable
    assert caught.value.retry_after_seconds == expected


async def test_retry_after_http_date(server: FakeServer, provider: OpenAIProvider) -> None:
    # The date is to the second, and read once the answer came: a little under 300 s.
    when = email.utils.formatdate(time.time() + 300, usegmt=True)
    server.replies.append(Reply(status=503, error="busy", headers={"Retry-After": when}))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="m"))
    seconds = caught.value.retry_after_seconds
    assert seconds is not None
    assert 240 <= seconds <= 300


# --------------------------------------------------------------------------- response_format


OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
}


async def test_response_format_is_sent_for_a_final_answer(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    server.replies.append(Reply(chunks=[chunk({"content": '{"answer": 42}'})]))
    await collect(provider, ModelRequest(model="m", response_format=OUTPUT_SCHEMA))
    assert server.received[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": OUTPUT_SCHEMA, "strict": False},
    }


async def test_response_format_is_not_sent_with_tools(
    server: FakeServer, provider: OpenAIProvider
) -> None:
    server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
    server.replies.append(Reply(completion=completion("ok")))
    await collect(
        provider, ModelRequest(model="m", tools=(WEATHER,), response_format=OUTPUT_SCHEMA)
    )
    await collect(
        provider,
        ModelRequest(
            model="m",
            options={"stream_tools": False},
            tools=(WEATHER,),
            response_format=OUTPUT_SCHEMA,
        ),
    )
    assert ["response_format" in r.body for r in server.received] == [False, False]


def test_validate_stream_tools_option() -> None:
    validate_openai_options = OpenAIOptions.violations
    assert validate_openai_options({"stream_tools": False}) == {}
    assert not OpenAIOptions.parse({"stream_tools": False}).streams_tools
    assert OpenAIOptions.parse({"stream_tools": None}).streams_tools
    assert validate_openai_options({"stream_tools": "no"}) == {"stream_tools": "must be a boolean"}
    assert validate_openai_options({"stream_tools": 0}) == {"stream_tools": "must be a boolean"}
