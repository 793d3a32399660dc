"""The ``openai`` provider: any OpenAI-compatible Chat Completions API.

Works with OpenAI itself and with local servers that speak the same protocol
(vLLM, Ollama, llama.cpp). Built on the official SDK (``openai.AsyncOpenAI``),
which also retries 408/409/429/5xx and connection failures ``max_retries`` times.

Options (``Agent.model.options``, all optional):

* ``base_url`` (http/https URL): the API's base URL, e.g. ``http://localhost:11434/v1``.
* ``api_key_env`` (string): name of an environment variable holding the key.
* ``temperature``, ``top_p`` (numbers), ``max_tokens`` (whole number >= 1): passed on.
* ``stream_tools`` (boolean, default true): false asks for calls that offer tools without
  streaming (one response, replayed as chunks), for servers that cannot stream tool calls.

Servers differ from OpenAI in small ways; the provider copes without knowing which
server it talks to:

* A server that refuses a streamed request offering tools (an HTTP error whose message
  mentions streaming, or a stream that ends without a single chunk, as llama.cpp's
  Python server does when the model picks a tool) gets the same request again without
  streaming, on a new HTTP client (such a server may drop the refused stream's
  keep-alive connection just after it, and the old pool would hand it out again). The
  provider remembers the refusal for that base URL (for its lifetime) and asks that
  server's tool-enabled calls without streaming from then on.
* Tool calls may come without an id (one is made up: ``call_<step>_<index>``) or with
  their arguments as a JSON object instead of JSON text (re-encoded). Arguments that
  are not valid JSON are passed on as text: the agent loop reports them to the model
  as a tool error instead of failing the run.
* Assistant messages with tool calls are sent with ``content: ""`` (never ``null``).
* Offered tools come with an explicit ``tool_choice: "auto"`` (OpenAI's default when
  tools are given; some servers ignore the tools without it).
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    completion_create_params,
)

from service.core.messages import ChatMessage, Role, ToolSpec, Usage
from service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from service.llm.http_options import validate_openai_options
from service.llm.scripted import estimate_usage

logger = logging.getLogger(__name__)

_PROVIDER = "openai"

#: Sent when no key is configured: local servers need none, but the SDK requires one.
PLACEHOLDER_API_KEY = "unused"

#: Provider error text in a ``ModelError`` message is cut to this many characters.
MAX_ERROR_TEXT = 500

_RETRYABLE_STATUS = frozenset({408, 409, 429})

#: The name given to ``response_format``'s schema in the request (``json_schema.name``).
RESPONSE_SCHEMA_NAME = "output"


def _shorten(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The server's retry hint from response headers, in seconds.

    ``retry-after-ms`` (milliseconds) wins over ``retry-after``, which may be a number
    of seconds or an HTTP date (measured from ``now``, and 0 when already past).

    Args:
        headers: Response headers; lookups must be case-insensitive for real responses.
        now: The current time, seconds since the epoch; default ``time.time()``.

    Returns:
        Seconds to wait (>= 0), or None when there is no usable hint.
    """
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _to_model_error(error: openai.OpenAIError) -> ModelError:
    """Maps an SDK exception to a ``ModelError`` (retryable for timeouts, connection
    failures and HTTP 408/409/429/5xx; ``retry_after_seconds`` from the response's
    ``retry-after-ms`` / ``retry-after`` headers)."""
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        return ModelError(
            _shorten(f"openai: HTTP {status}: {error.message}"),
            provider=_PROVIDER,
            retryable=status in _RETRYABLE_STATUS or status >= 500,
            status_code=status,
            retry_after_seconds=retry_after_seconds(error.response.headers),
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


def to_openai_response_format(
    schema: dict[str, Any],
) -> completion_create_params.ResponseFormat:
    """Maps a ``response_format`` JSON Schema to Chat Completions' structured output.

    ``strict`` is off: strict mode accepts only a subset of JSON Schema, and the agent
    loop validates the answer against the full schema anyway.
    """
    return {
        "type": "json_schema",
        "json_schema": {"name": RESPONSE_SCHEMA_NAME, "schema": schema, "strict": False},
    }


def arguments_text(value: object) -> str:
    """A tool call's arguments as JSON text, however the server sent them.

    Text is kept as it is (even when it is not valid JSON: the agent loop reports that
    to the model); None is ``""``; anything else (a JSON object, say) is JSON-encoded.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def refuses_streaming(error: openai.APIStatusError) -> bool:
    """Whether ``error`` looks like a server refusing to stream this request.

    True for an HTTP 4xx (other than 408/409/429) or 5xx error whose message mentions
    streaming, e.g. ``"Automatic streaming tool choice is not supported"``. The caller
    only asks this for streamed requests that offer tools. (A 5xx refusal comes after
    the SDK's own retries, if they are on.)
    """
    status = error.status_code
    if status in _RETRYABLE_STATUS or not 400 <= status < 600:
        return False
    return "stream" in f"{error.message} {error.body}".lower()


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class _ChunkMapper:
    """Turns Chat Completions chunks (or one whole completion) into ``ModelChunk``s.

    A streamed tool call's first ``ToolCallDelta`` waits until its name is known (some
    servers send the id first); argument pieces received before that are sent with it.
    """

    step: int
    started: set[int] = field(default_factory=set)
    pending: dict[int, _PendingCall] = field(default_factory=dict)
    usage: Usage | None = None
    output_chars: int = 0
    #: Chunks received (``map`` calls).
    chunks: int = 0

    def map(self, chunk: ChatCompletionChunk) -> list[ModelChunk]:
        self.chunks += 1
        if chunk.usage is not None:
            self._set_usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        out: list[ModelChunk] = []
        for choice in chunk.choices:
            if choice.index not in (0, None):  # only one choice is requested
                continue
            delta = choice.delta
            if delta.content:
                self.output_chars += len(delta.content)
                out.append(TextDelta(text=delta.content))
            for position, call in enumerate(delta.tool_calls or ()):
                index = call.index if isinstance(call.index, int) else position
                function = getattr(call, "function", None)
                name = getattr(function, "name", None)
                arguments = arguments_text(getattr(function, "arguments", None))
                self.output_chars += len(arguments)
                if index in self.started:
                    if arguments:
                        out.append(ToolCallDelta(index=index, arguments=arguments))
                    continue
                pending = self.pending.setdefault(index, _PendingCall())
                pending.id = pending.id or _text(getattr(call, "id", None))
                pending.arguments += arguments
                if name:
                    pending.name = str(name)
                    out.append(self._start(index))
        return out

    def map_completion(self, completion: ChatCompletion) -> list[ModelChunk]:
        """Maps a non-streamed completion: its text as one ``TextDelta``, each tool call
        as one ``ToolCallDelta`` (the usage is kept for ``UsageReport``)."""
        if completion.usage is not None:
            self._set_usage(completion.usage.prompt_tokens, completion.usage.completion_tokens)
        choice = next((c for c in completion.choices or () if c.index in (0, None)), None)
        if choice is None or choice.message is None:
            return []
        message = choice.message
        out: list[ModelChunk] = []
        content = _text(message.content)
        if content:
            self.output_chars += len(content)
            out.append(TextDelta(text=content))
        for index, call in enumerate(message.tool_calls or ()):
            function = getattr(call, "function", None)
            arguments = arguments_text(getattr(function, "arguments", None))
            self.output_chars += len(arguments)
            out.append(
                ToolCallDelta(
                    index=index,
                    id=_text(getattr(call, "id", None)) or self._made_up_id(index),
                    name=_text(getattr(function, "name", None)),
                    arguments=arguments,
                )
            )
        return out

    def finish(self) -> list[ModelChunk]:
        """Flushes calls whose name never came (the loop reports them as unknown)."""
        return [self._start(index) for index in sorted(self.pending)]

    def _set_usage(self, prompt_tokens: object, completion_tokens: object) -> None:
        self.usage = Usage(
            input_tokens=prompt_tokens if isinstance(prompt_tokens, int) else 0,
            output_tokens=completion_tokens if isinstance(completion_tokens, int) else 0,
        )

    def _made_up_id(self, index: int) -> str:
        return f"call_{self.step}_{index}"

    def _start(self, index: int) -> ToolCallDelta:
        pending = self.pending.pop(index)
        self.started.add(index)
        return ToolCallDelta(
            index=index,
            id=pending.id or self._made_up_id(index),
            name=pending.name,
            arguments=pending.arguments,
        )


def _text(value: object) -> str:
    """``value`` as text: ``""`` for None, ``str()`` of anything that is not text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class OpenAIProvider:
    """A ``ModelProvider`` for OpenAI-compatible Chat Completions APIs.

    The key for a request is, in order: the environment variable named by the
    ``api_key_env`` option (when set and non-empty); else, if the request uses the
    configured base URL, the configured ``api_key`` or ``OPENAI_API_KEY``; else the
    placeholder ``"unused"``. The configured key is never sent to a ``base_url``
    given in the options, so an agent cannot redirect it to another host.

    One ``AsyncOpenAI`` client is cached per (base_url, api_key); ``aclose`` closes them.

    Calls are streamed, except calls that offer tools when the ``stream_tools`` option
    is false or the server refused to stream such a call before (see the module doc).
    Usage comes from the server's usage (the final chunk, with
    ``stream_options.include_usage``, or the completion's ``usage``); a server that
    sends none gets the ``scripted`` provider's estimate
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
        #: Clients replaced after a refused stream, closed by ``aclose``.
        self._retired: list[openai.AsyncOpenAI] = []
        #: Base URLs (as the SDK resolved them) that refused to stream tool calls.
        self._no_tool_streaming: set[str] = set()

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

    def _renew_client(
        self, options: dict[str, Any], client: openai.AsyncOpenAI
    ) -> openai.AsyncOpenAI:
        """Replaces ``client`` (cached for ``options``) with a new one, with new connections.

        A server whose handler failed behind a refused stream may close that keep-alive
        connection just after the response, while the old pool would hand it out again
        (and the next request would fail: "Server disconnected"). Calls already running
        keep the old client; ``aclose`` closes it.
        """
        for key, cached in list(self._clients.items()):
            if cached is client:
                del self._clients[key]
                self._retired.append(client)
        return self._client_for(options)

    def streams_tool_calls(self, base_url: str) -> bool:
        """False once the server at ``base_url`` (as the SDK resolved it, with a
        trailing ``/``) refused to stream a call that offers tools."""
        return base_url not in self._no_tool_streaming

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Streams a chat completion for ``request``.

        A call that offers tools is not streamed when the ``stream_tools`` option is
        false or its server refused that before; a streamed one the server refuses is
        asked again without streaming. Either way the chunks look the same: text, then
        tool calls, then usage.

        Yields:
            ``TextDelta``s and ``ToolCallDelta``s as they arrive, then one
            ``UsageReport``.

        Raises:
            ModelError: malformed options (``retryable=False``); HTTP errors
                (``retryable`` for 408/409/429/5xx, ``status_code`` and
                ``retry_after_seconds`` set); connection failures and timeouts
                (``retryable=True``); anything else the SDK raises (``retryable=False``).
        """
        options = request.options
        if violations := validate_openai_options(options):
            details = "; ".join(f"{name}: {msg}" for name, msg in violations.items())
            raise ModelError(
                f"invalid openai options: {details}", provider=_PROVIDER, retryable=False
            )
        mapper = _ChunkMapper(step=request.step)
        try:
            client = self._client_for(options)
            base_url = str(client.base_url)
            streamed = not request.tools or (
                options.get("stream_tools", True) and self.streams_tool_calls(base_url)
            )
            refused = False
            if streamed:
                yielded = False
                try:
                    async for item in self._streamed(client, request, mapper):
                        yielded = True
                        yield item
                except openai.APIStatusError as error:
                    if yielded or not (request.tools and refuses_streaming(error)):
                        raise
                    refused = True
                else:
                    # Not even a role chunk: the server gave up on streaming this call.
                    refused = bool(request.tools) and mapper.chunks == 0
            if refused:
                # Remembered at once, so a retried call (say, a Temporal activity
                # attempt) does not try streaming again.
                self._no_tool_streaming.add(base_url)
                logger.info(
                    "openai: %s refused to stream a call with tools (an error about "
                    "streaming, or an empty stream); its tool calls are no longer streamed",
                    base_url,
                )
                client = self._renew_client(options, client)
            if refused or not streamed:
                completion = await self._create(client, request)
                for item in mapper.map_completion(completion):
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

    async def _streamed(
        self, client: openai.AsyncOpenAI, request: ModelRequest, mapper: _ChunkMapper
    ) -> AsyncIterator[ModelChunk]:
        options = request.options
        temperature, top_p, max_tokens = _sampling(options)
        stream = await client.chat.completions.create(
            model=request.model,
            messages=to_openai_messages(request.instructions, request.messages),
            tools=to_openai_tools(request.tools) or openai.omit,
            tool_choice="auto" if request.tools else openai.omit,
            response_format=_response_format(request),
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                for item in mapper.map(chunk):
                    yield item

    async def _create(self, client: openai.AsyncOpenAI, request: ModelRequest) -> ChatCompletion:
        temperature, top_p, max_tokens = _sampling(request.options)
        return await client.chat.completions.create(
            model=request.model,
            messages=to_openai_messages(request.instructions, request.messages),
            tools=to_openai_tools(request.tools) or openai.omit,
            tool_choice="auto" if request.tools else openai.omit,
            response_format=_response_format(request),
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stream=False,
        )

    async def aclose(self) -> None:
        """Closes the cached clients (their HTTP connection pools)."""
        clients = [*self._clients.values(), *self._retired]
        self._clients.clear()
        self._retired.clear()
        for client in clients:
            await client.close()


def _sampling(
    options: dict[str, Any],
) -> tuple[float | openai.Omit, float | openai.Omit, int | openai.Omit]:
    """``temperature``, ``top_p`` and ``max_tokens`` from validated options."""
    temperature, top_p, max_tokens = (
        options.get("temperature"),
        options.get("top_p"),
        options.get("max_tokens"),
    )
    return (
        openai.omit if temperature is None else float(temperature),
        openai.omit if top_p is None else float(top_p),
        openai.omit if max_tokens is None else int(max_tokens),
    )


def _response_format(
    request: ModelRequest,
) -> completion_create_params.ResponseFormat | openai.Omit:
    """Structured output for a final answer: only when no tools are offered."""
    if request.response_format is None or request.tools:
        return openai.omit
    return to_openai_response_format(request.response_format)
