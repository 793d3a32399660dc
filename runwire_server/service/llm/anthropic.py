"""The ``anthropic`` provider: the Anthropic Messages API, streamed.

Built on the official SDK (``anthropic.AsyncAnthropic``), which also retries
408/409/429/5xx and connection failures ``max_retries`` times (0 turns that
off, as Runwire does: its own retry layer, or Temporal's, does retries).

Options (``Agent.model.options``): ``runwire_server.service.llm.options.AnthropicOptions``
(``endpoint``, ``base_url`` without ``/v1``, ``temperature``, ``top_p``,
``max_tokens``, which the API requires: default
``runwire_server.service.llm.options.DEFAULT_ANTHROPIC_MAX_TOKENS``; unknown keys are refused).
Which endpoint a call reaches, with which key, is the operator's configuration
(``runwire_server.service.llm.endpoints``).

Reasoning: with the ``thinking_budget_tokens`` option, extended thinking is on;
``thinking`` blocks stream as ``ReasoningDelta``s (their signature too), and a
``redacted_thinking`` block as one ``ReasoningDelta`` with its opaque data and no
text. The signed and redacted blocks come back on the assistant message
(``ChatMessage.reasoning``) and are sent again, first in their assistant turn,
on the following calls of the same tool-use turn (after the last user message),
as the API requires; never on later turns.

Structured output: when ``response_format`` is set and no tools are offered,
the system prompt asks for JSON matching the schema (this SDK path has no
JSON-schema mode); the agent loop validates the answer either way.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
from anthropic.types import (
    AssistantMessageParam,
    InputJSONDelta,
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStreamEvent,
    RedactedThinkingBlock,
    RedactedThinkingBlockParam,
    SignatureDelta,
    TextBlock,
    TextBlockParam,
    ThinkingBlock,
    ThinkingBlockParam,
    ThinkingConfigEnabledParam,
    ThinkingDelta,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
    UserMessageParam,
)
from anthropic.types import TextDelta as AnthropicTextDelta

from runwire_server.service.core.messages import (
    ChatMessage,
    ReasoningPart,
    Role,
    ToolSpec,
    Usage,
)
from runwire_server.service.llm.base import (
    CONNECTION_LOST,
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
from runwire_server.service.llm.options import AnthropicOptions
from runwire_server.service.llm.retry_after import retry_after_seconds
from runwire_server.service.llm.usage import estimate_usage

logger = logging.getLogger(__name__)

_PROVIDER = "anthropic"

#: Appended to the system prompt when ``response_format`` is set and no tools are offered.
JSON_INSTRUCTION = "Answer with only JSON matching this schema: {schema}"

#: Error types of an ``error`` event in a stream that already answered HTTP 200.
_RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "rate_limit_error", "api_error"})
#: The API's documented error types; a message names one of these, never other upstream text.
_KNOWN_ERROR_TYPES = _RETRYABLE_ERROR_TYPES | {
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "timeout_error",
}


def _error_type(error: anthropic.APIStatusError) -> str:
    """The API's error ``type`` (``overloaded_error``) when it is a documented one,
    else ``error``: a known type is kept, never the error's text."""
    kind = error.type or ""
    return kind if kind in _KNOWN_ERROR_TYPES else "error"


def _to_model_error(error: anthropic.AnthropicError, model: str = "") -> ModelError:
    """Maps an SDK exception to a ``ModelError`` (retryable for timeouts, connection
    failures, HTTP 408/409/429/5xx, and overload/rate-limit errors in a stream).

    The message says what failed (an HTTP status and the API's error type, a
    timeout, a connection failure) and names the model; the upstream error text
    is left out. Metadata: ``provider``, ``http_status`` (HTTP errors), ``model``.
    """
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        kind = _error_type(error)
        retry_after = retry_after_seconds(error.response.headers)
        if status == 200:  # an ``error`` event inside a stream that had started
            return model_failure(
                _PROVIDER,
                f"the stream failed with {kind}",
                model,
                retryable=kind in _RETRYABLE_ERROR_TYPES,
                retry_after_seconds=retry_after,
            )
        return model_failure(
            _PROVIDER,
            f"the model endpoint answered {status_text(status)}"
            + (f" ({kind})" if kind != "error" else ""),
            model,
            retryable=retryable_status(status),
            status_code=status,
            retry_after_seconds=retry_after,
        )
    if isinstance(error, anthropic.APITimeoutError):
        return model_failure(_PROVIDER, TIMED_OUT, model, retryable=True)
    if isinstance(error, anthropic.APIConnectionError):
        return model_failure(_PROVIDER, UNREACHABLE, model, retryable=True)
    return model_failure(_PROVIDER, UNUSABLE_ANSWER, model, retryable=False)


def system_prompt(
    instructions: str,
    messages: Iterable[ChatMessage],
    *,
    response_format: dict[str, Any] | None = None,
    tools_offered: bool = False,
) -> str:
    """The top-level ``system`` text: the instructions, then any system messages of
    the conversation (the API has no system role in ``messages``), then the JSON
    instruction when ``response_format`` is set and no tools are offered."""
    parts = [instructions] if instructions else []
    parts.extend(m.content for m in messages if m.role is Role.SYSTEM and m.content)
    if response_format is not None and not tools_offered:
        schema = json.dumps(response_format, separators=(",", ":"), sort_keys=True)
        parts.append(JSON_INSTRUCTION.format(schema=schema))
    return "\n\n".join(parts)


def _tool_input(arguments: str) -> dict[str, object]:
    """A tool call's arguments as the JSON object ``tool_use.input`` needs; ``{}``
    when the model gave malformed arguments (the tool result reports the error)."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_Block = (
    TextBlockParam
    | ToolUseBlockParam
    | ToolResultBlockParam
    | ThinkingBlockParam
    | RedactedThinkingBlockParam
)


def _reasoning_block(part: ReasoningPart) -> ThinkingBlockParam | RedactedThinkingBlockParam:
    if part.redacted:
        return RedactedThinkingBlockParam(type="redacted_thinking", data=part.redacted)
    return ThinkingBlockParam(type="thinking", thinking=part.text, signature=part.signature)


def to_anthropic_messages(messages: Iterable[ChatMessage]) -> list[MessageParam]:
    """Converts a conversation to Messages API turns.

    Assistant tool calls become ``tool_use`` blocks; tool results become
    ``tool_result`` blocks of a user turn. Consecutive messages of the same role
    (e.g. the results of parallel tool calls) are merged into one turn, as the
    API requires; empty texts are left out (the API rejects them) and system
    messages go to ``system_prompt``. A turn that is one text is sent as a string.
    The reasoning blocks of assistant messages after the last user message (the
    tool-use turn in progress) lead their turn (``thinking`` with its signature,
    ``redacted_thinking``); earlier reasoning is not sent.
    """
    messages = list(messages)
    current = max((i for i, m in enumerate(messages) if m.role is Role.USER), default=-1)
    turns: list[tuple[bool, list[_Block]]] = []  # (is_assistant, blocks)
    for position, message in enumerate(messages):
        if message.role is Role.SYSTEM:
            continue
        blocks: list[_Block] = []
        if message.role is Role.ASSISTANT and position > current:
            blocks.extend(_reasoning_block(part) for part in message.reasoning)
        if message.role is Role.TOOL:
            blocks.append(
                ToolResultBlockParam(
                    type="tool_result", tool_use_id=message.tool_call_id, content=message.content
                )
            )
        else:
            if message.content:
                blocks.append(TextBlockParam(type="text", text=message.content))
            blocks.extend(
                ToolUseBlockParam(
                    type="tool_use", id=call.id, name=call.name, input=_tool_input(call.arguments)
                )
                for call in message.tool_calls
            )
        if not blocks:
            continue
        assistant = message.role is Role.ASSISTANT
        if turns and turns[-1][0] == assistant:
            turns[-1][1].extend(blocks)
        else:
            turns.append((assistant, blocks))
    result: list[MessageParam] = []
    for assistant, blocks in turns:
        first = blocks[0]
        content: str | list[_Block] = (
            first["text"] if len(blocks) == 1 and first["type"] == "text" else blocks
        )
        if assistant:
            result.append(AssistantMessageParam(role="assistant", content=content))
        else:
            result.append(UserMessageParam(role="user", content=content))
    return result


def to_anthropic_tools(tools: Iterable[ToolSpec]) -> list[ToolParam]:
    """Converts tool specs to Messages API tool definitions."""
    return [
        {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
        for tool in tools
    ]


@dataclass
class _EventMapper:
    """Turns Messages API stream events into ``ModelChunk``s, statefully.

    Content blocks are numbered across text and tool use; tool calls are
    numbered 0, 1, ... in the order their ``tool_use`` blocks start.
    """

    calls: dict[int, int] = field(default_factory=dict)  # block index -> call index
    reasoning: dict[int, int] = field(default_factory=dict)  # block index -> reasoning index
    streamed_input: set[int] = field(default_factory=set)  # call indexes with JSON deltas
    initial_input: dict[int, dict[str, object]] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    output_chars: int = 0

    def map(self, event: RawMessageStreamEvent) -> list[ModelChunk]:
        if isinstance(event, RawMessageStartEvent):
            usage = event.message.usage
            self.input_tokens = (
                usage.input_tokens
                + (usage.cache_creation_input_tokens or 0)
                + (usage.cache_read_input_tokens or 0)
            )
            self.output_tokens = usage.output_tokens
        elif isinstance(event, RawMessageDeltaEvent):
            delta_usage = event.usage
            self.output_tokens = delta_usage.output_tokens
            if delta_usage.input_tokens is not None:
                self.input_tokens = (
                    delta_usage.input_tokens
                    + (delta_usage.cache_creation_input_tokens or 0)
                    + (delta_usage.cache_read_input_tokens or 0)
                )
        elif isinstance(event, RawContentBlockStartEvent):
            return self._start(event)
        elif isinstance(event, RawContentBlockDeltaEvent):
            return self._delta(event)
        return []

    def _start(self, event: RawContentBlockStartEvent) -> list[ModelChunk]:
        block = event.content_block
        if isinstance(block, TextBlock) and block.text:
            self.output_chars += len(block.text)
            return [TextDelta(text=block.text)]
        if isinstance(block, ToolUseBlock):
            index = len(self.calls)
            self.calls[event.index] = index
            if block.input:
                self.initial_input[index] = dict(block.input)
            return [ToolCallDelta(index=index, id=block.id, name=block.name)]
        if isinstance(block, ThinkingBlock | RedactedThinkingBlock):
            index = len(self.reasoning)
            self.reasoning[event.index] = index
            if isinstance(block, RedactedThinkingBlock):
                return [ReasoningDelta(index=index, redacted=block.data)]
            if block.thinking or block.signature:
                return [ReasoningDelta(index=index, text=block.thinking, signature=block.signature)]
        return []  # server-tool blocks are not part of the answer

    def _delta(self, event: RawContentBlockDeltaEvent) -> list[ModelChunk]:
        delta = event.delta
        if isinstance(delta, AnthropicTextDelta) and delta.text:
            self.output_chars += len(delta.text)
            return [TextDelta(text=delta.text)]
        if isinstance(delta, ThinkingDelta | SignatureDelta) and event.index in self.reasoning:
            index = self.reasoning[event.index]
            if isinstance(delta, SignatureDelta):
                return [ReasoningDelta(index=index, signature=delta.signature)]
            if delta.thinking:
                return [ReasoningDelta(index=index, text=delta.thinking)]
            return []
        if isinstance(delta, InputJSONDelta) and event.index in self.calls:
            index = self.calls[event.index]
            self.streamed_input.add(index)
            if delta.partial_json:
                self.output_chars += len(delta.partial_json)
                return [ToolCallDelta(index=index, arguments=delta.partial_json)]
        return []

    def finish(self) -> list[ModelChunk]:
        """Arguments of tool calls whose input came whole in ``content_block_start``."""
        out: list[ModelChunk] = []
        for index, value in sorted(self.initial_input.items()):
            if index not in self.streamed_input:
                arguments = json.dumps(value)
                self.output_chars += len(arguments)
                out.append(ToolCallDelta(index=index, arguments=arguments))
        return out

    def usage(self, request: ModelRequest) -> Usage:
        if self.input_tokens is None and self.output_tokens is None:
            return estimate_usage(request, self.output_chars)
        return Usage(input_tokens=self.input_tokens or 0, output_tokens=self.output_tokens or 0)


def _thinking(options: AnthropicOptions) -> ThinkingConfigEnabledParam | anthropic.Omit:
    """Extended thinking as the options ask for it (``thinking_budget_tokens``)."""
    if options.thinking_budget_tokens is None:
        return anthropic.omit
    return ThinkingConfigEnabledParam(type="enabled", budget_tokens=options.thinking_budget_tokens)


class AnthropicProvider:
    """A ``ModelProvider`` for the Anthropic Messages API.

    Where a request goes is ``EndpointRouter.route``'s decision: the configured
    endpoint its ``endpoint`` option names (with that endpoint's key), an allowlisted
    ``base_url`` (with no key), or this provider's default ``base_url`` with its
    ``api_key`` (or ``ANTHROPIC_API_KEY``). An agent cannot send a key anywhere else.

    ``AsyncAnthropic`` clients are cached per endpoint: the operator's (at most
    ``max_clients``) and, apart, at most ``max_caller_clients`` for callers'
    allowlisted URLs, the least recently used closed first
    (``runwire_server.service.llm.http_clients.ClientCache``); ``aclose`` closes them. Usage comes
    from ``message_start`` and ``message_delta``; a server that sends none gets an
    estimate (``runwire_server.service.llm.usage.estimate_usage``).
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
                (``ANTHROPIC_BASE_URL`` or ``https://api.anthropic.com``).
            api_key: Key for ``base_url``; None falls back to ``ANTHROPIC_API_KEY``.
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
        self._api_key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries
        self._router = router if router is not None else EndpointRouter()
        self._clients: ClientCache[anthropic.AsyncAnthropic] = ClientCache(
            self._build_client, max_clients=max_clients
        )
        self._caller_clients: ClientCache[anthropic.AsyncAnthropic] = ClientCache(
            self._build_client, max_clients=max_caller_clients
        )

    def _build_client(self, endpoint: Endpoint) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            timeout=self._timeout_seconds,
            max_retries=self._max_retries,
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Streams a message for ``request``.

        Yields:
            ``ReasoningDelta``s, ``TextDelta``s and ``ToolCallDelta``s as they
            arrive, then one ``UsageReport``.

        Raises:
            ModelError: malformed options, no model name or an endpoint the
                operator's configuration does not allow (``retryable=False``);
                HTTP errors (``retryable`` for 408/409/429/5xx incl. 529
                overloaded, ``status_code`` and ``retry_after_seconds`` set);
                an overload/rate-limit/api error event mid-stream, connection
                failures and timeouts (``retryable=True``); anything else
                (``retryable=False``).
        """
        options = AnthropicOptions.parse(request.options)
        if not request.model:
            raise ModelError(
                "anthropic: a model name is required (Agent.model.name)",
                provider=_PROVIDER,
                retryable=False,
            )
        sampling = {
            name: value
            for name, value in (("temperature", options.temperature), ("top_p", options.top_p))
            if value is not None
        }
        endpoint = self._router.route(
            _PROVIDER,
            request.model,
            endpoint=options.endpoint,
            base_url=options.base_url,
            default=default_endpoint(self._base_url, self._api_key),
        )
        clients = self._caller_clients if endpoint.caller else self._clients
        tools = to_anthropic_tools(request.tools)
        system = system_prompt(
            request.instructions,
            request.messages,
            response_format=request.response_format,
            tools_offered=bool(tools),
        )
        mapper = _EventMapper()
        try:
            async with clients.lease(pooled(endpoint)) as cached:
                # A caller's URL: a view of its origin's client (no new pool).
                client = (
                    cached.with_options(base_url=endpoint.base_url)
                    if endpoint.caller and endpoint.base_url is not None
                    else cached
                )
                stream = await client.messages.create(
                    model=request.model,
                    max_tokens=options.max_tokens_or_default,
                    messages=to_anthropic_messages(request.messages),
                    system=system or anthropic.omit,
                    tools=tools or anthropic.omit,
                    thinking=_thinking(options),
                    stream=True,
                    # This SDK has no sampling keywords; the API takes them in the body.
                    extra_body=sampling or None,
                )
                async with stream:
                    async for event in stream:
                        for item in mapper.map(event):
                            yield item
        # ``from None``: the SDK's exception (with the upstream body) stays out of
        # tracebacks, spans and Temporal failures; the message says what failed.
        except anthropic.AnthropicError as error:
            raise _to_model_error(error, request.model) from None
        except httpx2.TransportError:  # the connection broke mid-stream
            raise model_failure(_PROVIDER, CONNECTION_LOST, request.model, retryable=True) from None
        except Exception as error:  # the SDK's HTTP layer can raise its own errors
            logger.warning(
                "anthropic: the model call failed unexpectedly (%s)", type(error).__name__
            )
            raise model_failure(
                _PROVIDER, UNEXPECTED_FAILURE, request.model, retryable=False
            ) from None
        for item in mapper.finish():
            yield item
        yield UsageReport(usage=mapper.usage(request))

    def cached_clients(self) -> int:
        """SDK clients held now: the operator's endpoints' and callers' (bounded)."""
        return len(self._clients) + len(self._caller_clients)

    async def aclose(self) -> None:
        """Closes the cached clients (their HTTP connection pools)."""
        await self._clients.aclose()
        await self._caller_clients.aclose()
