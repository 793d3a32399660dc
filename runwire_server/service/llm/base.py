"""The model-provider seam: one request shape in, a stream of chunks out.

Every provider (``scripted``, ``openai``, ``anthropic``) implements
``ModelProvider.stream``. The agent loop never sees a provider SDK: the model
turn (``runwire_server.service.agent.model_turn``) consumes these chunks, emits run events
and assembles the assistant message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol

from runwire_server.service.core.errors import (
    MAX_ERROR_MESSAGE_CHARS,
    RunwireError,
    safe_error_text,
)
from runwire_server.service.core.messages import ChatMessage, ToolSpec, Usage


@dataclass(frozen=True, kw_only=True)
class ModelRequest:
    """One call to a model.

    Attributes:
        model: The provider's model name (may be empty for ``scripted``).
        options: Provider options from ``Agent.model.options`` (JSON values).
        instructions: The system prompt; empty for none.
        messages: The conversation so far, oldest first.
        tools: Tools offered; empty means the model must answer in text.
        step: 1-based LLM round of the run (the scripted provider plays
            ``script[step - 1]``).
        response_format: JSON Schema the answer must satisfy (structured
            output), or None for free text. Providers that support it ask the
            model natively; the loop validates the final answer either way.
    """

    model: str
    options: dict[str, Any] = field(default_factory=dict)
    instructions: str = ""
    messages: tuple[ChatMessage, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    step: int = 1
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class TextDelta:
    """A piece of the assistant's text."""

    text: str


@dataclass(frozen=True, kw_only=True)
class ReasoningDelta:
    """A piece of the model's reasoning: an Anthropic thinking block, the
    ``reasoning_content`` of an OpenAI-compatible server.

    Reasoning is shown to clients (``reasoning_*`` events) and kept out of the
    answer. Consecutive deltas of one ``index`` form one reasoning block; a
    block ends when a chunk of another kind or index comes, or the stream ends.

    Attributes:
        index: The block's number within the turn (0-based, in order).
        text: Reasoning text to append (may be empty).
        signature: The provider's signature of the whole block (Anthropic's
            ``signature_delta``); a block with one is sent back to the provider
            on the following calls of the same tool-use turn.
        redacted: The opaque data of a redacted (encrypted) block (Anthropic's
            ``redacted_thinking``); such a block has no text and is sent back
            the same way.
    """

    index: int = 0
    text: str = ""
    signature: str = ""
    redacted: str = ""


@dataclass(frozen=True, kw_only=True)
class ToolCallDelta:
    """A piece of one tool call. The first delta of an ``index`` carries its
    ``id`` and ``name``; later ones append to its JSON ``arguments``.

    Attributes:
        index: Position of the call within the turn (0-based).
        id: The call's id (first delta only; empty otherwise).
        name: The tool's name (first delta only; empty otherwise).
        arguments: JSON text to append.
    """

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(frozen=True, kw_only=True)
class UsageReport:
    """Token usage of the whole call; providers send it once, last."""

    usage: Usage


ModelChunk = TextDelta | ReasoningDelta | ToolCallDelta | UsageReport


class ModelProvider(Protocol):
    """A language model behind one streaming call."""

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """Streams the model's answer to ``request``.

        Raises:
            ModelError: the provider failed (``retryable`` says whether a retry
                may succeed: timeouts, HTTP 408/409/429/5xx).
        """
        ...


class ModelError(RunwireError):
    """A model provider failed. The run fails with reason ``MODEL_ERROR``
    (or ``PROVIDER_UNAVAILABLE`` when ``retryable``)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retryable: bool = False,
        status_code: int | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(
            message,
            reason="PROVIDER_UNAVAILABLE" if retryable else "MODEL_ERROR",
            metadata={
                "provider": provider,
                **({"http_status": str(status_code)} if status_code else {}),
            },
        )
        self.provider = provider
        self.retryable = retryable
        self.status_code = status_code
        #: The provider's ``retry-after`` hint in seconds, if it sent one.
        self.retry_after_seconds = retry_after_seconds


def failure_text(provider: str, what: str, model: str) -> str:
    """``<provider>: <what>`` naming ``model``, sanitized and at most
    ``MAX_ERROR_MESSAGE_CHARS``: a failed call's error message. Upstream text (the
    response body, an exception's text) never goes into it: it may echo
    credentials, prompts or, from a hostile endpoint, anything."""
    named = f" (model {model!r})" if model else ""
    return safe_error_text(f"{provider}: {what}{named}", MAX_ERROR_MESSAGE_CHARS)


def status_text(status: int) -> str:
    """``HTTP 429 Too Many Requests`` (just ``HTTP 599`` for an unnamed status)."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


#: HTTP statuses below 500 a retry may fix (besides every 5xx).
RETRYABLE_STATUS = frozenset({408, 409, 429})

#: What failed, for ``model_failure``: the same words from every provider.
TIMED_OUT = "the model endpoint did not answer in time"
UNREACHABLE = "cannot connect to the model endpoint"
CONNECTION_LOST = "the connection to the model endpoint was lost"
UNUSABLE_ANSWER = "the model endpoint's answer could not be used"
UNEXPECTED_FAILURE = "the model call failed unexpectedly"


def retryable_status(status: int) -> bool:
    """Whether a model endpoint's HTTP ``status`` may pass on a retry (408, 409, 429, 5xx)."""
    return status in RETRYABLE_STATUS or status >= 500


def model_failure(
    provider: str,
    what: str,
    model: str,
    *,
    retryable: bool,
    status_code: int | None = None,
    retry_after_seconds: float | None = None,
) -> ModelError:
    """The ``ModelError`` of a failed call: message ``failure_text(provider, what,
    model)``, metadata ``provider``, ``http_status`` (with ``status_code``) and
    ``model`` (when not empty)."""
    error = ModelError(
        failure_text(provider, what, model),
        provider=provider,
        retryable=retryable,
        status_code=status_code,
        retry_after_seconds=retry_after_seconds,
    )
    if model:
        error.metadata["model"] = model
    return error
