"""The openai provider against a real loopback Chat Completions server.

The server (stdlib ``ThreadingHTTPServer`` on 127.0.0.1) answers
``POST /v1/chat/completions`` with queued replies: an SSE stream of chunks or an
HTTP error. It records each request's headers and JSON body.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.agent.types import ChatMessage, Role, ToolCall, ToolSpec, Usage
from service.errors import InvalidArgumentError
from service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from service.llm.openai import OpenAIProvider, validate_openai_options
from service.llm.registry import ProviderRegistry
from service.llm.scripted import ScriptedProvider


@dataclass
class Reply:
    """One queued answer: SSE ``chunks`` (then ``[DONE]``), or ``status`` + ``error``."""

    chunks: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    error: str = ""


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
        if self.path != "/v1/chat/completions" or not self.server.replies:
            self._send_json(404, {"error": {"message": f"nothing for {self.path}"}})
            return
        reply = self.server.replies.pop(0)
        if reply.status != 200:
            self._send_json(reply.status, {"error": {"message": reply.error, "type": "x"}})
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

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
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
    assert "the engine is on fire" in error.message
    assert len(server.received) == 1  # max_retries=0


async def test_http_400_is_not_retryable(server: FakeServer, provider: OpenAIProvider) -> None:
    server.replies.append(Reply(status=400, error="bad model " + "x" * 1000))
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="m"))
    assert not caught.value.retryable
    assert caught.value.status_code == 400
    assert caught.value.reason == "MODEL_ERROR"
    assert "bad model" in caught.value.message
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


async def test_api_key_resolution(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_KEY", "from-env")
    other_url = server.base_url + "/"  # same server, but not the configured URL
    provider = OpenAIProvider(base_url=server.base_url, api_key="configured", max_retries=0)
    try:
        for _ in range(4):
            server.replies.append(Reply(chunks=[chunk({"content": "ok"})]))
        await collect(provider, ModelRequest(model="m"))
        await collect(provider, ModelRequest(model="m", options={"api_key_env": "AGENT_KEY"}))
        # The configured key never goes to a base_url given in the options.
        await collect(provider, ModelRequest(model="m", options={"base_url": other_url}))
        await collect(
            provider,
            ModelRequest(model="m", options={"base_url": other_url, "api_key_env": "AGENT_KEY"}),
        )
    finally:
        await provider.aclose()
    keys = [r.headers["authorization"] for r in server.received]
    assert keys == ["Bearer configured", "Bearer from-env", "Bearer unused", "Bearer from-env"]


async def test_bad_options_raise_model_error(provider: OpenAIProvider) -> None:
    with pytest.raises(ModelError) as caught:
        await collect(provider, ModelRequest(model="m", options={"temperature": "hot"}))
    assert not caught.value.retryable
    assert "temperature" in caught.value.message


def test_validate_openai_options() -> None:
    assert validate_openai_options({"base_url": "http://x/v1", "temperature": 0, "extra": 1}) == {}
    assert validate_openai_options(
        {"base_url": 3, "api_key_env": "", "temperature": True, "top_p": "1", "max_tokens": 1.5}
    ) == {
        "base_url": "must be a non-empty string",
        "api_key_env": "must be a non-empty string",
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
        assert registry.names() == ["openai", "scripted"]
        assert isinstance(registry.get("scripted"), ScriptedProvider)
        openai_provider = registry.get("openai")
        assert isinstance(openai_provider, OpenAIProvider)
        server.replies.append(Reply(chunks=[chunk({"content": "hi"})]))
        chunks = [c async for c in openai_provider.stream(ModelRequest(model="m"))]
        assert chunks[0] == TextDelta(text="hi")
        assert registry.validate_options("openai", {"top_p": "x"}) == {"top_p": "must be a number"}
        assert registry.validate_options("scripted", {"script": [{"text": "a"}]}) == {}
        assert "script[0]" in registry.validate_options("scripted", {"script": [{}]})
        for call in (lambda: registry.get("nope"), lambda: registry.validate_options("nope", {})):
            with pytest.raises(InvalidArgumentError) as caught:
                call()
            assert caught.value.reason == "UNKNOWN_PROVIDER"
            assert "known providers: openai, scripted" in caught.value.message
    finally:
        await registry.aclose()
