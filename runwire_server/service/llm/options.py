"""Provider options (``Agent.model.options``): one pydantic model per provider.

Each provider's options are a ``ProviderOptions`` subclass (frozen, unknown keys
refused, a description per field). The same model checks an agent's options when it
is created or updated (``ProviderOptions.violations``: field violations for the API)
and parses them on every model call (``ProviderOptions.parse``: a ``ModelError``).

This module imports no provider SDK: ``runwire_server.service.llm.registry`` checks options with it
without loading ``openai`` or ``anthropic``. The ``scripted`` model's options
(``runwire_server.service.llm.scripted.ScriptedOptions``) build on the same base.

Options arrive as JSON values from a ``google.protobuf.Struct``, where every number is
a double: whole-number options accept ``64.0``; booleans and numeric strings are not
taken for numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from runwire_server.service.llm.base import ModelError
from runwire_server.service.llm.endpoints import ENDPOINT_NAME_PATTERN

__all__ = [
    "DEFAULT_ANTHROPIC_MAX_TOKENS",
    "MAX_BASE_URL_CHARS",
    "AnthropicOptions",
    "HttpProviderOptions",
    "OpenAIOptions",
    "ProviderOptions",
    "is_http_url",
    "json_number",
]

#: ``AnthropicOptions.max_tokens`` when the options give none (the API requires one).
DEFAULT_ANTHROPIC_MAX_TOKENS = 1024


class ProviderOptions(BaseModel):
    """Base of every provider's options model: frozen, unknown keys refused.

    Subclasses set ``provider_name`` and declare their options as fields, each with
    ``Field(description=...)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The provider these options belong to (``Agent.model.provider``).
    provider_name: ClassVar[str] = ""
    #: Options refused with a reason of their own (instead of "unknown option").
    refused_options: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def violations(cls, options: Mapping[str, Any]) -> dict[str, str]:
        """Checks ``options`` without calling a model.

        Args:
            options: ``Agent.model.options`` (JSON values).

        Returns:
            Field violations: path relative to ``options`` (``temperature``,
            ``script[1].tool_calls[0].name``; an empty path means the options object
            itself) mapped to what is wrong. Empty when the options are valid.
        """
        try:
            cls.model_validate(options)
        except ValidationError as error:
            return cls._violations_of(error)
        return {}

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> Self:
        """Parses ``options`` for a model call.

        Args:
            options: ``ModelRequest.options`` (JSON values).

        Returns:
            The parsed options.

        Raises:
            ModelError: the options are malformed (``retryable=False``); the message
                lists the field violations.
        """
        try:
            return cls.model_validate(options)
        except ValidationError as error:
            details = "; ".join(
                f"{path or 'options'}: {message}"
                for path, message in cls._violations_of(error).items()
            )
            raise ModelError(
                f"invalid {cls.provider_name} options: {details}",
                provider=cls.provider_name,
                retryable=False,
            ) from None

    @classmethod
    def _violations_of(cls, error: ValidationError) -> dict[str, str]:
        violations: dict[str, str] = {}
        for item in error.errors(include_url=False):
            loc = item["loc"]
            path = _error_path(loc)
            if item["type"] == "extra_forbidden" and len(loc) == 1 and path in cls.refused_options:
                message = cls.refused_options[path]
            elif item["type"] == "extra_forbidden" and len(loc) == 1:
                known = ", ".join(sorted(cls.model_fields))
                message = f"unknown option; {cls.provider_name} takes: {known}"
            else:
                message = item["msg"].removeprefix("Value error, ")
            violations[path] = f"{violations[path]}; {message}" if path in violations else message
        return violations


def _error_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a field path: ``("script", 1, "text")`` is
    ``script[1].text``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def json_number(value: object) -> object:
    """Accepts only JSON numbers (int or float, not bool) that are finite; None passes.

    Lax pydantic would take ``"16"`` or ``True`` for numbers; options are JSON, so
    the kind must be right.

    Raises:
        ValueError: ``value`` is not a number (``"must be a number"``) or is not
            finite (``"must be a finite number"``).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def is_http_url(value: str) -> bool:
    """True for a well-formed ``http://`` or ``https://`` URL with a host."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _non_empty_string(value: object) -> object:
    if value is not None and not (isinstance(value, str) and value):
        raise ValueError("must be a non-empty string")
    return value


#: Longest ``base_url`` option, characters.
MAX_BASE_URL_CHARS = 2048


def _http_url(value: object) -> object:
    value = _non_empty_string(value)
    if isinstance(value, str) and len(value) > MAX_BASE_URL_CHARS:
        raise ValueError(f"must be at most {MAX_BASE_URL_CHARS} characters")
    if isinstance(value, str) and not is_http_url(value):
        raise ValueError("must be an http:// or https:// URL")
    return value


def _endpoint_name(value: object) -> object:
    value = _non_empty_string(value)
    if isinstance(value, str) and not re.match(ENDPOINT_NAME_PATTERN, value):
        raise ValueError("must be an endpoint name: letters, digits, '_', '.', '-'; 1 to 64")
    return value


def _whole_number(value: object) -> object:
    value = json_number(value)
    if not isinstance(value, int | float):
        return value  # None
    if value < 1 or value != int(value):
        raise ValueError("must be a whole number >= 1")
    return int(value)


def _boolean(value: object) -> object:
    if value is not None and not isinstance(value, bool):
        raise ValueError("must be a boolean")
    return value


_HttpUrl = Annotated[str | None, BeforeValidator(_http_url)]
_EndpointName = Annotated[str | None, BeforeValidator(_endpoint_name)]
_Number = Annotated[float | None, BeforeValidator(json_number)]
_Tokens = Annotated[int | None, BeforeValidator(_whole_number)]


#: Why a caller cannot give a key or say where one is: keys belong to the operator.
_NO_KEYS = (
    "not accepted: model keys belong to the server's configuration ([[model_endpoints]]); "
    "name one of its endpoints with endpoint"
)


class HttpProviderOptions(ProviderOptions):
    """The options every HTTP provider takes (all optional; JSON null means unset).

    Where the call goes is the operator's choice (``runwire_server.service.llm.endpoints``):
    ``endpoint`` names a configured endpoint (it comes with its key); ``base_url`` is
    accepted only for an origin on the operator's allowlist, and such a call carries
    no key; neither means the provider's default endpoint. No option names a key, an
    environment variable or a file (``api_key``, ``api_key_env`` and ``api_key_file``
    are refused with a reason).
    """

    refused_options: ClassVar[Mapping[str, str]] = {
        "api_key": _NO_KEYS,
        "api_key_env": _NO_KEYS,
        "api_key_file": _NO_KEYS,
    }

    endpoint: _EndpointName = Field(
        default=None,
        description="Name of one of the server's configured model endpoints "
        "([[model_endpoints]]) of this provider; unset for the provider's default.",
    )
    base_url: _HttpUrl = Field(
        default=None,
        description="The API's base URL (http:// or https://), accepted only when its "
        "origin is in the server's model_base_url_allowlist; sent no key. Unset for the "
        "endpoint's URL.",
    )
    temperature: _Number = Field(
        default=None, description="Sampling temperature, passed on; unset for the API default."
    )
    top_p: _Number = Field(
        default=None,
        description="Nucleus sampling probability mass, passed on; unset for the API default.",
    )
    max_tokens: _Tokens = Field(
        default=None,
        description="Upper bound of the answer's length, in tokens (a whole number >= 1).",
    )


class OpenAIOptions(HttpProviderOptions):
    """Options of the ``openai`` provider (OpenAI-compatible Chat Completions APIs).

    ``base_url`` includes the API version path, e.g. ``http://localhost:11434/v1``.
    """

    provider_name: ClassVar[str] = "openai"

    stream_tools: Annotated[bool | None, BeforeValidator(_boolean)] = Field(
        default=None,
        description="False asks calls that offer tools in one response instead of a "
        "stream (for servers that cannot stream tool calls); unset or true streams them.",
    )

    @property
    def streams_tools(self) -> bool:
        """Whether calls that offer tools may be streamed (``stream_tools`` is not false)."""
        return self.stream_tools is not False


class AnthropicOptions(HttpProviderOptions):
    """Options of the ``anthropic`` provider (the Anthropic Messages API).

    ``base_url`` excludes ``/v1``, e.g. ``https://api.anthropic.com``. The API requires
    a token limit: ``max_tokens`` defaults to ``DEFAULT_ANTHROPIC_MAX_TOKENS`` (plus
    ``thinking_budget_tokens`` when that is set).
    """

    provider_name: ClassVar[str] = "anthropic"

    max_tokens: _Tokens = Field(
        default=None,
        description="Upper bound of the answer's length, in tokens (a whole number >= 1); "
        "unset for DEFAULT_ANTHROPIC_MAX_TOKENS (plus thinking_budget_tokens), since the "
        "API requires one.",
    )
    thinking_budget_tokens: _Tokens = Field(
        default=None,
        description="Turns on extended thinking with this many tokens for it (a whole "
        "number; the API wants at least 1024 and less than max_tokens); the thinking is "
        "streamed as reasoning events. Unset: no thinking.",
    )

    @property
    def max_tokens_or_default(self) -> int:
        """``max_tokens``; when unset, ``DEFAULT_ANTHROPIC_MAX_TOKENS`` plus
        ``thinking_budget_tokens`` (if set)."""
        if self.max_tokens is not None:
            return self.max_tokens
        return DEFAULT_ANTHROPIC_MAX_TOKENS + (self.thinking_budget_tokens or 0)
