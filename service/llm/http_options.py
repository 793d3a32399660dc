"""Option checks of the HTTP providers (``openai``, ``anthropic``).

Kept apart from the providers so that checking an agent's options does not
import the provider SDKs (``service.llm.registry`` imports those on first use).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

#: Options that must be non-empty strings when present.
STRING_OPTIONS = ("base_url", "api_key_env")
#: Sampling options that must be numbers when present (``max_tokens`` a whole number ≥ 1).
NUMBER_OPTIONS = ("temperature", "top_p", "max_tokens")
#: ``openai`` options that must be booleans when present.
OPENAI_BOOL_OPTIONS = ("stream_tools",)


def is_http_url(value: str) -> bool:
    """True for a well-formed ``http://`` or ``https://`` URL with a host."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def http_option_violations(options: dict[str, Any]) -> dict[str, str]:
    """Field violations (option → what is wrong) of the options every HTTP
    provider takes: ``base_url``, ``api_key_env``, ``temperature``, ``top_p``,
    ``max_tokens``. Unknown keys are allowed."""
    violations: dict[str, str] = {}
    for name in STRING_OPTIONS:
        value = options.get(name)
        if value is not None and not (isinstance(value, str) and value):
            violations[name] = "must be a non-empty string"
    base_url = options.get("base_url")
    if "base_url" not in violations and base_url is not None and not is_http_url(base_url):
        violations["base_url"] = "must be an http:// or https:// URL"
    for name in NUMBER_OPTIONS:
        value = options.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            violations[name] = "must be a number"
        elif name == "max_tokens" and (value < 1 or value != int(value)):
            violations[name] = "must be a whole number >= 1"
    return violations


def validate_openai_options(options: dict[str, Any]) -> dict[str, str]:
    """Checks ``openai`` options without calling the API.

    Args:
        options: ``Agent.model.options`` (JSON values). Unknown keys are allowed.

    Returns:
        Field violations (option name → what is wrong); empty when valid.
    """
    violations = http_option_violations(options)
    for name in OPENAI_BOOL_OPTIONS:
        value = options.get(name)
        if value is not None and not isinstance(value, bool):
            violations[name] = "must be a boolean"
    return violations


def validate_anthropic_options(options: dict[str, Any]) -> dict[str, str]:
    """Checks ``anthropic`` options without calling the API (the options every
    HTTP provider takes; see ``http_option_violations``).

    Args:
        options: ``Agent.model.options`` (JSON values). Unknown keys are allowed.

    Returns:
        Field violations (option name → what is wrong); empty when valid.
    """
    return http_option_violations(options)
