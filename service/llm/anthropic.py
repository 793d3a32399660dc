"""The ``anthropic`` provider: the Anthropic Messages API, streamed.

Built on the official SDK (``anthropic.AsyncAnthropic``), which also retries
408/409/429/5xx and connection failures ``max_retries`` times (0 turns that
off, as Runwire does: its own retry layer, or Temporal's, does retries).

Options (``Agent.model.options``, all optional):

* ``base_url`` (http/https URL): the API's base URL without ``/v1``, e.g.
  ``https://api.anthropic.com``.
* ``api_key_env`` (string): name of an environment variable holding the key.
* ``temperature``, ``top_p`` (numbers): passed on.
* ``max_tokens`` (whole number >= 1): the answer's token limit; the API
  requires one, default ``DEFAULT_MAX_TOKENS`` (1024).

Structured output: when ``response_format`` is set and no tools are offered,
the system prompt asks for JSON matching the schema (this SDK path has no
JSON-schema mode); the agent loop validates the answer either way.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
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
    TextBlock,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
    UserMessageParam,
)
from anthropic.types import TextDelta as AnthropicTextDelta

from service.core.messages import ChatMessage, Role, ToolSpec, Usage
from service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from service.llm.http_options import validate_anthropic_options
from service.llm.scripted import estimate_usage

_PROVIDER = "anthropic"

#: ``max_tokens`` when the options give none (the API requires a value).
DEFAULT_MAX_TOKENS = 1024

#: Sent when no key is configured (e.g. a local fake or proxy): the SDK requires one.
PLACEHOLDER_API_KEY = "unused"

#: Provider error text in a ``ModelError`` message is cut to this many characters.
MAX_ERROR_TEXT = 500

#: Appended to the system prompt when ``response_format`` is set and no tools are offered.
JSON_INSTRUCTION = "Answer with only JSON matching this schema: {schema}"

_RETRYABLE_STATUS = frozenset({408, 409, 429})
#: Error types of an ``error`` event in a stream that already answered HTTP 200.
_RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "rate_limit_error", "api_error"})


def _shorten(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The server's retry hint in seconds, or None when it sent none.

    Reads ``retry-after-ms`` (milliseconds), then ``retry-after`` (seconds, or an
    HTTP date). Negative values and dates in the past give 0.

    Args:
        headers: Response headers (case-insensitive lookup is the caller's: pass
            an ``httpx`` headers object or lower-case keys).
        now: The current time as a Unix timestamp (seconds), for HTTP dates;
            default ``time.time()``.
    """
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _to_model_error(error: anthropic.AnthropicError) -> ModelError:
    """Maps an SDK exception to a ``ModelError`` (retryable for timeouts, connection
    failures, HTTP 408/409/429/5xx, and overload/rate-limit errors in a stream)."""
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        text = error.api_message or error.message
        retry_after = parse_retry_after(error.response.headers)
        if status == 200:  # an ``error`` event inside a stream that had started
            kind = error.type or "error"
            return ModelError(
                _shorten(f"anthropic: stream failed: {kind}: {text}"),
                provider=_PROVIDER,
                retryable=kind in _RETRYABLE_ERROR_TYPES,
                retry_after_seconds=retry_after,
            )
        return ModelError(
            _shorten(f"anthropic: HTTP {status}: {text}"),
            provider=_PROVIDER,
            retryable=status in _RETRYABLE_STATUS or status >= 500,
            status_code=status,
            retry_after_seconds=retry_after,
        )
    if isinstance(error, anthropic.APIConnectionError):  # includes APITimeoutError
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        return ModelError(
            _shorten(f"anthropic: {error.message}{cause}"), provider=_PROVIDER, retryable=True
        )
    return ModelError(_shorten(f"anthropic: {error}"), provider=_PROVIDER, retryable=False)


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


_Block = TextBlockParam | ToolUseBlockParam | ToolResultBlockParam


def to_anthropic_messages(messages: Iterable[ChatMessage]) -> list[MessageParam]:
    """Converts a conversation to Messages API turns.

    Assistant tool calls become ``tool_use`` blocks; tool results become
    ``tool_result`` blocks of a user turn. Consecutive messages of the same role
    (e.g. the results of parallel tool calls) are merged into one turn, as the
    API requires; empty texts are left out (the API rejects them) and system
    messages go to ``system_prompt``. A turn that is one text is sent as a string.
    """
    turns: list[tuple[bool, list[_Block]]] = []  # (is_assistant, blocks)
    for message in messages:
        if message.role is Role.SYSTEM:
            continue
        blocks: list[_Block] = []
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
        return []  # thinking and server-tool blocks are not part of the answer

    def _delta(self, event: RawContentBlockDeltaEvent) -> list[ModelChunk]:
        delta = event.delta
        if isinstance(delta, AnthropicTextDelta) and delta.text:
            self.output_chars += len(delta.text)
            return [TextDelta(text=delta.text)]
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


class AnthropicProvider:
    """A ``ModelProvider`` for the Anthropic Messages API.

    The key for a request is, in order: the environment variable named by the
    ``api_key_env`` option (when set and non-empty); else, if the request uses the
    configured base URL, the configured ``api_key`` or ``ANTHROPIC_API_KEY``; else
    the placeholder ``"unused"``. The configured key is never sent to a
    ``base_url`` given in the options, so an agent cannot redirect it to another
    host.

    One ``AsyncAnthropic`` client is cached per (base_url, api_key); ``aclose``
    closes them. Usage comes from ``message_start`` and ``message_delta``; a
    server that sends none gets the ``scripted`` provider's estimate.
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
                (``ANTHROPIC_BASE_URL`` or ``https://api.anthropic.com``).
            api_key: Key for ``base_url``; None falls back to ``ANTHROPIC_API_KEY``.
            timeout_seconds: Per-HTTP-request timeout in seconds.
            max_retries: SDK retries of retryable failures (0 disables them).
        """
        self._base_url = base_url
        self._api_key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries
        self._clients: dict[tuple[str | None, str], anthropic.AsyncAnthropic] = {}

    def _client_for(self, options: dict[str, Any]) -> anthropic.AsyncAnthropic:
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
            client = anthropic.AsyncAnthropic(
                base_url=key[0],
                api_key=key[1],
                timeout=self._timeout_seconds,
                max_retries=self._max_retries,
            )
            self._clients[key] = client
        return client

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Streams a message for ``request``.

        Yields:
            ``TextDelta``s and ``ToolCallDelta``s as they arrive, then one
            ``UsageReport``.

        Raises:
            ModelError: malformed options or no model name (``retryable=False``);
                HTTP errors (``retryable`` for 408/409/429/5xx incl. 529
                overloaded, ``status_code`` and ``retry_after_seconds`` set);
                an overload/rate-limit/api error event mid-stream, connection
                failures and timeouts (``retryable=True``); anything else
                (``retryable=False``).
        """
        options = request.options
        if violations := validate_anthropic_options(options):
            details = "; ".join(f"{name}: {msg}" for name, msg in violations.items())
            raise ModelError(
                f"invalid anthropic options: {details}", provider=_PROVIDER, retryable=False
            )
        if not request.model:
            raise ModelError(
                "anthropic: a model name is required (Agent.model.name)",
                provider=_PROVIDER,
                retryable=False,
            )
        sampling = {
            name: float(options[name])
            for name in ("temperature", "top_p")
            if options.get(name) is not None
        }
        max_tokens = int(options.get("max_tokens") or DEFAULT_MAX_TOKENS)
        tools = to_anthropic_tools(request.tools)
        system = system_prompt(
            request.instructions,
            request.messages,
            response_format=request.response_format,
            tools_offered=bool(tools),
        )
        mapper = _EventMapper()
        try:
            client = self._client_for(options)
            stream = await client.messages.create(
                model=request.model,
                max_tokens=max_tokens,
                messages=to_anthropic_messages(request.messages),
                system=system or anthropic.omit,
                tools=tools or anthropic.omit,
                stream=True,
                # This SDK has no sampling keywords; the API takes them in the body.
                extra_body=sampling or None,
            )
            async with stream:
                async for event in stream:
                    for item in mapper.map(event):
                        yield item
        except anthropic.AnthropicError as error:
            raise _to_model_error(error) from error
        except httpx2.TransportError as error:  # the connection broke mid-stream
            raise ModelError(
                _shorten(f"anthropic: connection lost: {type(error).__name__}: {error}"),
                provider=_PROVIDER,
                retryable=True,
            ) from error
        except Exception as error:  # the SDK's HTTP layer can raise its own errors
            raise ModelError(
                _shorten(f"anthropic: {type(error).__name__}: {error}"),
                provider=_PROVIDER,
                retryable=False,
            ) from error
        for item in mapper.finish():
            yield item
        yield UsageReport(usage=mapper.usage(request))

    async def aclose(self) -> None:
        """Closes the cached clients (their HTTP connection pools)."""
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            await client.close()
