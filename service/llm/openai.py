"""The ``openai`` provider: any OpenAI-compatible Chat Completions API.

Works with OpenAI itself and with local servers that speak the same protocol
(vLLM, Ollama, llama.cpp). Built on the official SDK (``openai.AsyncOpenAI``),
which also retries 408/409/429/5xx and connection failures ``max_retries`` times.

Options (``Agent.model.options``, all optional):

* ``base_url`` (http/https URL): the API's base URL, e.g. ``http://localhost:11434/v1``.
* ``api_key_env`` (string): name of an environment variable holding the key.
* ``temperature``, ``top_p`` (numbers), ``max_tokens`` (whole number >= 1): passed on.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import openai
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

from service.agent.types import ChatMessage, Role, ToolSpec, Usage
from service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from service.llm.scripted import estimate_usage

_PROVIDER = "openai"

#: Sent when no key is configured: local servers need none, but the SDK requires one.
PLACEHOLDER_API_KEY = "unused"

#: Provider error text in a ``ModelError`` message is cut to this many characters.
MAX_ERROR_TEXT = 500

_RETRYABLE_STATUS = frozenset({408, 409, 429})
_STRING_OPTIONS = ("base_url", "api_key_env")
_NUMBER_OPTIONS = ("temperature", "top_p", "max_tokens")


def validate_openai_options(options: dict[str, Any]) -> dict[str, str]:
    """Checks ``openai`` options without calling the API.

    Args:
        options: ``Agent.model.options`` (JSON values). Unknown keys are allowed.

    Returns:
        Field violations (option name → what is wrong); empty when valid.
    """
    violations: dict[str, str] = {}
    for name in _STRING_OPTIONS:
        value = options.get(name)
        if value is not None and not (isinstance(value, str) and value):
            violations[name] = "must be a non-empty string"
    base_url = options.get("base_url")
    if "base_url" not in violations and base_url is not None and not _is_http_url(base_url):
        violations["base_url"] = "must be an http:// or https:// URL"
    for name in _NUMBER_OPTIONS:
        value = options.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            violations[name] = "must be a number"
        elif name == "max_tokens" and (value < 1 or value != int(value)):
            violations[name] = "must be a whole number >= 1"
    return violations


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _shorten(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_model_error(error: openai.OpenAIError) -> ModelError:
    """Maps an SDK exception to a ``ModelError`` (retryable for timeouts, connection
    failures and HTTP 408/409/429/5xx)."""
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        return ModelError(
            _shorten(f"openai: HTTP {status}: {error.message}"),
            provider=_PROVIDER,
            retryable=status in _RETRYABLE_STATUS or status >= 500,
            status_code=status,
        )
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        return ModelError(
            _shorten(f"openai: {error.message}{cause}"), provider=_PROVIDER, retryable=True
        )
    return ModelError(_shorten(f"openai: {error}"), provider=_PROVIDER, retryable=False)


def to_openai_messages(
    instructions: str, messages: Iterable[ChatMessage]
) -> list[ChatCompletionMessageParam]:
    """Converts a conversation to Chat Completions messages.

    The instructions (when non-empty) become a leading ``system`` message. Assistant
    messages carry their ``tool_calls`` with ``content`` as a string (``""`` when the
    model said nothing; some servers reject ``null``); tool messages carry
    ``tool_call_id``.
    """
    result: list[ChatCompletionMessageParam] = []
    if instructions:
        result.append({"role": "system", "content": instructions})
    for message in messages:
        if message.role is Role.SYSTEM:
            result.append({"role": "system", "content": message.content})
        elif message.role is Role.USER:
            result.append({"role": "user", "content": message.content})
        elif message.role is Role.TOOL:
            result.append(
                {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
            )
        elif message.tool_calls:
            calls: list[ChatCompletionMessageFunctionToolCallParam] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ]
            result.append({"role": "assistant", "content": message.content, "tool_calls": calls})
        else:
            result.append({"role": "assistant", "content": message.content})
    return result


def to_openai_tools(tools: Iterable[ToolSpec]) -> list[ChatCompletionFunctionToolParam]:
    """Converts tool specs to Chat Completions function tools."""
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class _ChunkMapper:
    """Turns Chat Completions chunks into ``ModelChunk``s, statefully.

    A tool call's first ``ToolCallDelta`` waits until its name is known (some servers
    send the id first); argument pieces received before that are sent with it.
    """

    step: int
    started: set[int] = field(default_factory=set)
    pending: dict[int, _PendingCall] = field(default_factory=dict)
    usage: Usage | None = None
    output_chars: int = 0

    def map(self, chunk: ChatCompletionChunk) -> list[ModelChunk]:
        if chunk.usage is not None:
            self.usage = Usage(
                input_tokens=chunk.usage.prompt_tokens or 0,
                output_tokens=chunk.usage.completion_tokens or 0,
            )
        out: list[ModelChunk] = []
        for choice in chunk.choices:
            if choice.index != 0:  # only one choice is requested
                continue
            delta = choice.delta
            if delta.content:
                self.output_chars += len(delta.content)
                out.append(TextDelta(text=delta.content))
            for position, call in enumerate(delta.tool_calls or ()):
                index = call.index if isinstance(call.index, int) else position
                name = call.function.name if call.function else None
                arguments = (call.function.arguments if call.function else None) or ""
                self.output_chars += len(arguments)
                if index in self.started:
                    if arguments:
                        out.append(ToolCallDelta(index=index, arguments=arguments))
                    continue
                pending = self.pending.setdefault(index, _PendingCall())
                pending.id = pending.id or call.id or ""
                pending.arguments += arguments
                if name:
                    pending.name = name
                    out.append(self._start(index))
        return out

    def finish(self) -> list[ModelChunk]:
        """Flushes calls whose name never came (the loop reports them as unknown)."""
        return [self._start(index) for index in sorted(self.pending)]

    def _start(self, index: int) -> ToolCallDelta:
        pending = self.pending.pop(index)
        self.started.add(index)
        return ToolCallDelta(
            index=index,
            id=pending.id or f"call_{self.step}_{index}",
            name=pending.name,
            arguments=pending.arguments,
        )


class OpenAIProvider:
    """A ``ModelProvider`` for OpenAI-compatible Chat Completions APIs.

    The key for a request is, in order: the environment variable named by the
    ``api_key_env`` option (when set and non-empty); else, if the request uses the
    configured base URL, the configured ``api_key`` or ``OPENAI_API_KEY``; else the
    placeholder ``"unused"``. The configured key is never sent to a ``base_url``
    given in the options, so an agent cannot redirect it to another host.

    One ``AsyncOpenAI`` client is cached per (base_url, api_key); ``aclose`` closes them.

    Usage comes from the server's final usage chunk (``stream_options.include_usage``);
    a server that sends none gets the ``scripted`` provider's estimate
    (``service.llm.scripted.estimate_usage``).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_seconds: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        """Creates the provider; no connection is made until the first request.

        Args:
            base_url: Default API base URL; None for the SDK's default
                (``OPENAI_BASE_URL`` or ``https://api.openai.com/v1``).
            api_key: Key for ``base_url``; None falls back to ``OPENAI_API_KEY``.
            timeout_seconds: Per-HTTP-request timeout in seconds.
            max_retries: SDK retries of retryable failures (0 disables them).
        """
        self._base_url = base_url
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries
        self._clients: dict[tuple[str | None, str], openai.AsyncOpenAI] = {}

    def _client_for(self, options: dict[str, Any]) -> openai.AsyncOpenAI:
        option_url: str | None = options.get("base_url")
        base_url = option_url or self._base_url
        api_key: str | None = None
        if env_name := options.get("api_key_env"):
            api_key = os.environ.get(env_name) or None
        if api_key is None and base_url == self._base_url:
            api_key = self._api_key
        key = (base_url, api_key or PLACEHOLDER_API_KEY)
        client = self._clients.get(key)
        if client is None:
            client = openai.AsyncOpenAI(
                base_url=key[0],
                api_key=key[1],
                timeout=self._timeout_seconds,
                max_retries=self._max_retries,
            )
            self._clients[key] = client
        return client

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Streams a chat completion for ``request``.

        Yields:
            ``TextDelta``s and ``ToolCallDelta``s as they arrive, then one
            ``UsageReport``.

        Raises:
            ModelError: malformed options (``retryable=False``); HTTP errors
                (``retryable`` for 408/409/429/5xx, ``status_code`` set); connection
                failures and timeouts (``retryable=True``); anything else the SDK
                raises (``retryable=False``).
        """
        options = request.options
        if violations := validate_openai_options(options):
            details = "; ".join(f"{name}: {msg}" for name, msg in violations.items())
            raise ModelError(
                f"invalid openai options: {details}", provider=_PROVIDER, retryable=False
            )
        temperature, top_p, max_tokens = (
            options.get("temperature"),
            options.get("top_p"),
            options.get("max_tokens"),
        )
        tools = to_openai_tools(request.tools)

        mapper = _ChunkMapper(step=request.step)
        try:
            client = self._client_for(options)
            stream = await client.chat.completions.create(
                model=request.model,
                messages=to_openai_messages(request.instructions, request.messages),
                tools=tools or openai.omit,
                temperature=openai.omit if temperature is None else float(temperature),
                top_p=openai.omit if top_p is None else float(top_p),
                max_tokens=openai.omit if max_tokens is None else int(max_tokens),
                stream=True,
                stream_options={"include_usage": True},
            )
            async with stream:
                async for chunk in stream:
                    for item in mapper.map(chunk):
                        yield item
        except openai.OpenAIError as error:
            raise _to_model_error(error) from error
        except Exception as error:  # the SDK's HTTP layer can raise its own errors
            raise ModelError(
                _shorten(f"openai: {type(error).__name__}: {error}"),
                provider=_PROVIDER,
                retryable=False,
            ) from error
        for item in mapper.finish():
            yield item
        usage = mapper.usage or estimate_usage(request, mapper.output_chars)
        yield UsageReport(usage=usage)

    async def aclose(self) -> None:
        """Closes the cached clients (their HTTP connection pools)."""
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            await client.close()
