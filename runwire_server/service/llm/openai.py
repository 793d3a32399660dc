"""The ``openai`` provider: any OpenAI-compatible Chat Completions API.

Works with OpenAI itself and with local servers that speak the same protocol
(vLLM, Ollama, llama.cpp). Built on the official SDK (``openai.AsyncOpenAI``),
which also retries 408/409/429/5xx and connection failures ``max_retries`` times.

Options (``Agent.model.options``): ``runwire_server.service.llm.options.OpenAIOptions``
(``endpoint``, ``base_url``, ``temperature``, ``top_p``, ``max_tokens``, ``stream_tools``; unknown
keys are refused). Which endpoint a call reaches, with which key, is the operator's
configuration (``runwire_server.service.llm.endpoints``).

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
* Reasoning streamed as ``reasoning_content`` (vLLM, llama.cpp, DeepSeek) or
  ``reasoning`` becomes ``ReasoningDelta``s (reasoning events, never the answer). It
  is never sent back: assistant messages carry only their text and tool calls.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    completion_create_params,
)

from runwire_server.service.core.errors import safe_error_text
from runwire_server.service.core.messages import ChatMessage, Role, ToolSpec, Usage
from runwire_server.service.llm.base import (
    RETRYABLE_STATUS,
    TIMED_OUT,
    UNEXPECTED_FAILURE,
    UNREACHABLE,
    UNUSABLE_ANSWER,
    ModelChunk,
    ModelError,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    UsageReport,
    model_failure,
    retryable_status,
    status_text,
)
from runwire_server.service.llm.endpoints import EndpointRouter, pooled
from runwire_server.service.llm.http_clients import (
    DEFAULT_MAX_CALLER_CLIENTS,
    DEFAULT_MAX_CLIENTS,
    ClientCache,
    Endpoint,
    default_endpoint,
)
from runwire_server.service.llm.options import OpenAIOptions
from runwire_server.service.llm.retry_after import retry_after_seconds
from runwire_server.service.llm.usage import estimate_usage

logger = logging.getLogger(__name__)

_PROVIDER = "openai"


_T = TypeVar("_T")

#: The name given to ``response_format``'s schema in the request (``json_schema.name``).
RESPONSE_SCHEMA_NAME = "output"

#: Base URLs whose refusal to stream tool calls is remembered, at most (oldest forgotten).
MAX_REMEMBERED_REFUSALS = 256


def _to_model_error(error: openai.OpenAIError, model: str = "") -> ModelError:
    """Maps an SDK exception to a ``ModelError`` (retryable for timeouts, connection
    failures and HTTP 408/409/429/5xx; ``retry_after_seconds`` from the response's
    ``retry-after-ms`` / ``retry-after`` headers).

    The message says what failed (an HTTP status, a timeout, a connection
    failure) and names the model; the upstream body and the SDK's text are left
    out. Metadata: ``provider``, ``http_status`` (HTTP errors), ``model``.
    """
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        return model_failure(
            _PROVIDER,
            f"the model endpoint answered {status_text(status)}",
            model,
            retryable=retryable_status(status),
            status_code=status,
            retry_after_seconds=retry_after_seconds(error.response.headers),
        )
    if isinstance(error, openai.APITimeoutError):
        return model_failure(_PROVIDER, TIMED_OUT, model, retryable=True)
    if isinstance(error, openai.APIConnectionError):
        return model_failure(_PROVIDER, UNREACHABLE, model, retryable=True)
    return model_failure(_PROVIDER, UNUSABLE_ANSWER, model, retryable=False)


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
    if status in RETRYABLE_STATUS or not 400 <= status < 600:
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
            reasoning = reasoning_text(delta)
            if reasoning:
                out.append(ReasoningDelta(text=reasoning))
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
        reasoning = reasoning_text(message)
        if reasoning:
            out.append(ReasoningDelta(text=reasoning))
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


#: The fields OpenAI-compatible servers stream reasoning in, by preference:
#: ``reasoning_content`` (vLLM, llama.cpp, DeepSeek), ``reasoning`` (others).
REASONING_FIELDS = ("reasoning_content", "reasoning")


def reasoning_text(delta: object) -> str:
    """The reasoning text of a streamed delta or a completion's message: the first
    of ``REASONING_FIELDS`` that holds non-empty text; ``""`` when none does."""
    for name in REASONING_FIELDS:
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _text(value: object) -> str:
    """``value`` as text: ``""`` for None, ``str()`` of anything that is not text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class OpenAIProvider:
    """A ``ModelProvider`` for OpenAI-compatible Chat Completions APIs.

    Where a request goes is ``EndpointRouter.route``'s decision: the configured
    endpoint its ``endpoint`` option names (with that endpoint's key), an allowlisted
    ``base_url`` (with no key), or this provider's default ``base_url`` with its
    ``api_key`` (or ``OPENAI_API_KEY``). An agent cannot send a key anywhere else.

    ``AsyncOpenAI`` clients are cached per endpoint: the operator's (the default and
    the configured ones, at most ``max_clients``) and, apart, at most
    ``max_caller_clients`` for callers' allowlisted URLs, the least recently used
    closed first (``runwire_server.service.llm.http_clients.ClientCache``); ``aclose`` closes them.

    Calls are streamed, except calls that offer tools when the ``stream_tools`` option
    is false or the server refused to stream such a call before (see the module doc).
    Usage comes from the server's usage (the final chunk, with
    ``stream_options.include_usage``, or the completion's ``usage``); a server that
    sends none gets an estimate (``runwire_server.service.llm.usage.estimate_usage``).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_seconds: float = 60.0,
        max_retries: int = 2,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        router: EndpointRouter | None = None,
        max_caller_clients: int = DEFAULT_MAX_CALLER_CLIENTS,
    ) -> None:
        """Creates the provider; no connection is made until the first request.

        Args:
            base_url: Default API base URL; None for the SDK's default
                (``OPENAI_BASE_URL`` or ``https://api.openai.com/v1``).
            api_key: Key for ``base_url``; None falls back to ``OPENAI_API_KEY``.
            timeout_seconds: Per-HTTP-request timeout in seconds.
            max_retries: SDK retries of retryable failures (0 disables them).
            max_clients: SDK clients kept for the operator's endpoints (the default
                and the configured ones).
            router: The operator's endpoints and base URL allowlist; None for none
                (every call goes to ``base_url``).
            max_caller_clients: SDK clients kept for callers' allowlisted base URLs.

        Raises:
            ValueError: ``max_clients`` or ``max_caller_clients`` < 1.
        """
        self._base_url = base_url
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries
        self._router = router if router is not None else EndpointRouter()
        self._clients: ClientCache[openai.AsyncOpenAI] = ClientCache(
            self._build_client, max_clients=max_clients
        )
        self._caller_clients: ClientCache[openai.AsyncOpenAI] = ClientCache(
            self._build_client, max_clients=max_caller_clients
        )
        #: Base URLs (as the SDK resolved them) that refused to stream tool calls,
        #: oldest first, at most ``MAX_REMEMBERED_REFUSALS``.
        self._no_tool_streaming: OrderedDict[str, None] = OrderedDict()

    def _build_client(self, endpoint: Endpoint) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            timeout=self._timeout_seconds,
            max_retries=self._max_retries,
        )

    def _endpoint(self, request: ModelRequest, options: OpenAIOptions) -> Endpoint:
        default = default_endpoint(self._base_url, self._api_key)
        return self._router.route(
            _PROVIDER,
            request.model,
            endpoint=options.endpoint,
            base_url=options.base_url,
            default=default,
        )

    def _cache(self, endpoint: Endpoint) -> ClientCache[openai.AsyncOpenAI]:
        return self._caller_clients if endpoint.caller else self._clients

    @staticmethod
    def _for_call(client: openai.AsyncOpenAI, endpoint: Endpoint) -> openai.AsyncOpenAI:
        """The client a call uses: the cached one, or for a caller's URL a view of its
        origin's client with that URL (``runwire_server.service.llm.endpoints.pooled``)."""
        if not endpoint.caller or endpoint.base_url is None:
            return client
        return client.with_options(base_url=endpoint.base_url)

    def _remember_refusal(self, base_url: str) -> None:
        self._no_tool_streaming[base_url] = None
        self._no_tool_streaming.move_to_end(base_url)
        while len(self._no_tool_streaming) > MAX_REMEMBERED_REFUSALS:
            self._no_tool_streaming.popitem(last=False)

    def streams_tool_calls(self, base_url: str) -> bool:
        """False once the server at ``base_url`` (as the SDK resolved it, with a
        trailing ``/``) refused to stream a call that offers tools."""
        return base_url not in self._no_tool_streaming

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Streams a chat completion for ``request``.

        A call that offers tools is not streamed when the ``stream_tools`` option is
        false or its server refused that before; a streamed one the server refuses is
        asked again without streaming, on a new client. Either way the chunks look the
        same: text, then tool calls, then usage.

        Yields:
            ``TextDelta``s and ``ToolCallDelta``s as they arrive, then one
            ``UsageReport``.

        Raises:
            ModelError: malformed options or an endpoint the operator's configuration
                does not allow (``retryable=False``); HTTP errors
                (``retryable`` for 408/409/429/5xx, ``status_code`` and
                ``retry_after_seconds`` set); connection failures and timeouts
                (``retryable=True``); anything else the SDK raises (``retryable=False``).
        """
        options = OpenAIOptions.parse(request.options)
        endpoint = self._endpoint(request, options)
        clients = self._cache(endpoint)
        key = pooled(endpoint)
        mapper = _ChunkMapper(step=request.step)
        try:
            async with clients.lease(key) as cached:
                client = self._for_call(cached, endpoint)
                base_url = str(client.base_url)
                streamed = not request.tools or (
                    options.streams_tools and self.streams_tool_calls(base_url)
                )
                refused = False
                if streamed:
                    yielded = False
                    try:
                        async for item in self._streamed(client, request, options, mapper):
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
                    self._remember_refusal(base_url)
                    logger.info(
                        "openai: %s refused to stream a call with tools (an error about "
                        "streaming, or an empty stream); its tool calls are no longer "
                        "streamed",
                        safe_error_text(base_url),  # no URL credentials in logs
                    )
                    # Such a server may close the refused stream's keep-alive connection
                    # just after it, while the old pool would hand it out again ("Server
                    # disconnected"): the one-response call goes out on a new client.
                    await clients.retire(cached)
            if refused or not streamed:
                async with clients.lease(key) as cached:
                    completion = await self._create(
                        self._for_call(cached, endpoint), request, options
                    )
                for item in mapper.map_completion(completion):
                    yield item
        # ``from None``: the SDK's exception (with the upstream body) stays out of
        # tracebacks, spans and Temporal failures; the message says what failed.
        except openai.OpenAIError as error:
            raise _to_model_error(error, request.model) from None
        except Exception as error:  # the SDK's HTTP layer can raise its own errors
            logger.warning("openai: the model call failed unexpectedly (%s)", type(error).__name__)
            raise model_failure(
                _PROVIDER, UNEXPECTED_FAILURE, request.model, retryable=False
            ) from None
        for item in mapper.finish():
            yield item
        usage = mapper.usage or estimate_usage(request, mapper.output_chars)
        yield UsageReport(usage=usage)

    async def _streamed(
        self,
        client: openai.AsyncOpenAI,
        request: ModelRequest,
        options: OpenAIOptions,
        mapper: _ChunkMapper,
    ) -> AsyncIterator[ModelChunk]:
        stream = await client.chat.completions.create(
            model=request.model,
            messages=to_openai_messages(request.instructions, request.messages),
            tools=to_openai_tools(request.tools) or openai.omit,
            tool_choice="auto" if request.tools else openai.omit,
            response_format=_response_format(request),
            temperature=_or_omit(options.temperature),
            top_p=_or_omit(options.top_p),
            max_tokens=_or_omit(options.max_tokens),
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                for item in mapper.map(chunk):
                    yield item

    async def _create(
        self, client: openai.AsyncOpenAI, request: ModelRequest, options: OpenAIOptions
    ) -> ChatCompletion:
        return await client.chat.completions.create(
            model=request.model,
            messages=to_openai_messages(request.instructions, request.messages),
            tools=to_openai_tools(request.tools) or openai.omit,
            tool_choice="auto" if request.tools else openai.omit,
            response_format=_response_format(request),
            temperature=_or_omit(options.temperature),
            top_p=_or_omit(options.top_p),
            max_tokens=_or_omit(options.max_tokens),
            stream=False,
        )

    def cached_clients(self) -> int:
        """SDK clients held now: the operator's endpoints' and callers' (bounded)."""
        return len(self._clients) + len(self._caller_clients)

    async def aclose(self) -> None:
        """Closes the cached clients (their HTTP connection pools)."""
        await self._clients.aclose()
        await self._caller_clients.aclose()


def _or_omit(value: _T | None) -> _T | openai.Omit:
    """``value``, or ``openai.omit`` (the parameter is left out) when it is None."""
    return openai.omit if value is None else value


def _response_format(
    request: ModelRequest,
) -> completion_create_params.ResponseFormat | openai.Omit:
    """Structured output for a final answer: only when no tools are offered."""
    if request.response_format is None or request.tools:
        return openai.omit
    return to_openai_response_format(request.response_format)
