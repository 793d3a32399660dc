"""Model providers by name (``Agent.model.provider``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service.errors import InvalidArgumentError
from service.llm.anthropic import AnthropicProvider, validate_anthropic_options
from service.llm.base import ModelProvider
from service.llm.breaker import CircuitBreakers
from service.llm.openai import OpenAIProvider, validate_openai_options
from service.llm.scripted import ScriptedProvider, validate_scripted_options

#: Checks a provider's options; returns field violations (path → message).
OptionsValidator = Callable[[dict[str, Any]], dict[str, str]]


def _no_violations(options: dict[str, Any]) -> dict[str, str]:
    return {}


class ProviderRegistry:
    """The model providers a server offers: ``anthropic``, ``openai`` and
    ``scripted``, plus any added with ``register``; and the process's circuit
    breakers of their endpoints (``breakers``)."""

    def __init__(
        self,
        *,
        openai_base_url: str | None = None,
        openai_api_key: str | None = None,
        openai_timeout_seconds: float = 60.0,
        openai_max_retries: int = 2,
        anthropic_base_url: str | None = None,
        anthropic_api_key: str | None = None,
        anthropic_timeout_seconds: float = 60.0,
        anthropic_max_retries: int = 2,
        breakers: CircuitBreakers | None = None,
    ) -> None:
        """Creates the built-in providers (no network access happens here).

        Args:
            openai_base_url: Default base URL of the ``openai`` provider; None for the
                SDK default.
            openai_api_key: Key for ``openai_base_url``; None for ``OPENAI_API_KEY``
                or, failing that, no key.
            openai_timeout_seconds: Per-HTTP-request timeout of ``openai``, seconds.
            openai_max_retries: SDK retries of retryable ``openai`` failures.
            anthropic_base_url: Default base URL of the ``anthropic`` provider; None
                for the SDK default.
            anthropic_api_key: Key for ``anthropic_base_url``; None for
                ``ANTHROPIC_API_KEY`` or, failing that, no key.
            anthropic_timeout_seconds: Per-HTTP-request timeout of ``anthropic``, seconds.
            anthropic_max_retries: SDK retries of retryable ``anthropic`` failures.
            breakers: The circuit breakers model calls through this registry use
                (``service.agent.resilient_turn``); None for new ones with defaults.
        """
        self._openai = OpenAIProvider(
            base_url=openai_base_url,
            api_key=openai_api_key,
            timeout_seconds=openai_timeout_seconds,
            max_retries=openai_max_retries,
        )
        self._anthropic = AnthropicProvider(
            base_url=anthropic_base_url,
            api_key=anthropic_api_key,
            timeout_seconds=anthropic_timeout_seconds,
            max_retries=anthropic_max_retries,
        )
        #: Circuit breakers per (provider, base URL), shared by every run of the process.
        self.breakers = breakers if breakers is not None else CircuitBreakers()
        self._providers: dict[str, ModelProvider] = {}
        self._validators: dict[str, OptionsValidator] = {}
        self.register("anthropic", self._anthropic, validate_anthropic_options)
        self.register("openai", self._openai, validate_openai_options)
        self.register("scripted", ScriptedProvider(), validate_scripted_options)

    def register(
        self,
        name: str,
        provider: ModelProvider,
        validate_options: OptionsValidator | None = None,
    ) -> None:
        """Adds a provider (e.g. a test double).

        Args:
            name: The name agents use in ``model.provider``.
            provider: The provider.
            validate_options: Checks its options; None accepts any options.

        Raises:
            ValueError: ``name`` is already registered.
        """
        if name in self._providers:
            raise ValueError(f"model provider {name!r} is already registered")
        self._providers[name] = provider
        self._validators[name] = validate_options or _no_violations

    def get(self, name: str) -> ModelProvider:
        """Returns the provider called ``name``.

        Raises:
            InvalidArgumentError: no such provider (reason ``UNKNOWN_PROVIDER``).
        """
        provider = self._providers.get(name)
        if provider is None:
            raise self._unknown(name)
        return provider

    def names(self) -> list[str]:
        """The provider names, sorted."""
        return sorted(self._providers)

    def validate_options(self, name: str, options: dict[str, Any]) -> dict[str, str]:
        """Checks ``options`` for provider ``name`` without calling a model.

        Returns:
            Field violations: path relative to ``options`` → message; empty when valid.

        Raises:
            InvalidArgumentError: no such provider (reason ``UNKNOWN_PROVIDER``).
        """
        validator = self._validators.get(name)
        if validator is None:
            raise self._unknown(name)
        return validator(options)

    async def aclose(self) -> None:
        """Releases the providers' resources (the ``openai`` and ``anthropic`` HTTP clients)."""
        await self._openai.aclose()
        await self._anthropic.aclose()

    def _unknown(self, name: str) -> InvalidArgumentError:
        known = ", ".join(self.names())
        return InvalidArgumentError(
            f"unknown model provider {name!r}; known providers: {known}",
            reason="UNKNOWN_PROVIDER",
            metadata={"provider": name},
        )
