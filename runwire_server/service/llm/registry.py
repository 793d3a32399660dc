"""Model providers by name (``Agent.model.provider``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

from runwire_server.service.core.errors import InvalidArgumentError
from runwire_server.service.llm.base import ModelChunk, ModelProvider, ModelRequest
from runwire_server.service.llm.breaker import CircuitBreaker, CircuitBreakers
from runwire_server.service.llm.coalesce import Coalescing
from runwire_server.service.llm.endpoints import EndpointRouter, ModelEndpoint
from runwire_server.service.llm.http_clients import DEFAULT_MAX_CALLER_CLIENTS
from runwire_server.service.llm.options import AnthropicOptions, HttpProviderOptions, OpenAIOptions
from runwire_server.service.llm.scripted import ScriptedOptions, ScriptedProvider

#: Checks a provider's options; returns field violations (path → message).
OptionsValidator = Callable[[dict[str, Any]], dict[str, str]]


def _no_violations(options: dict[str, Any]) -> dict[str, str]:
    return {}


class _HttpProvider(ModelProvider, Protocol):
    async def aclose(self) -> None: ...


class LazyProvider:
    """A ``ModelProvider`` built on its first call.

    Importing a provider SDK costs CPU time every process would pay at start,
    whether or not it ever calls that provider (measure it with ``python -X importtime
    -c "import runwire_server.service.llm.anthropic"``; ``tests/unit/test_lazy_imports.py``
    checks that the SDKs stay unloaded). Health checks, workers of scripted agents
    and a replacement worker resuming runs after a crash should not wait for that.
    The first call builds the provider (its import runs in a thread, so the event
    loop keeps serving other streams meanwhile); later calls go straight to it.
    ``runwire serve`` imports both SDK modules at start anyway, before it freezes
    the heap for the garbage collector (``runwire_server.app.server``); workers and the
    CLI stay lazy.

    Args:
        build: Creates the provider (and imports its module); called once.
    """

    def __init__(self, build: Callable[[], _HttpProvider]) -> None:
        self._build = build
        self._provider: _HttpProvider | None = None
        self._lock = threading.Lock()

    def _get(self) -> _HttpProvider:
        with self._lock:
            if self._provider is None:
                self._provider = self._build()
            return self._provider

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        """``ModelProvider.stream`` of the built provider."""
        if self._provider is not None:
            return self._provider.stream(request)
        return self._first_stream(request)

    async def _first_stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        provider = await asyncio.to_thread(self._get)
        async for chunk in provider.stream(request):
            yield chunk

    @property
    def built(self) -> _HttpProvider:
        """The provider, built now if it was not yet (imports in this thread)."""
        return self._get()

    async def aclose(self) -> None:
        """Closes the provider if it was built; nothing to do otherwise."""
        if self._provider is not None:
            await self._provider.aclose()


class ProviderRegistry:
    """The model providers a server offers: ``anthropic``, ``openai`` and
    ``scripted``, plus any added with ``register``; their options checks; the
    operator's model endpoints (``endpoints``, ``runwire_server.service.llm.endpoints``); and the
    process's circuit breakers of their endpoints (``breaker_for``)."""

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
        coalescing: Coalescing | None = None,
        endpoints: Sequence[ModelEndpoint] = (),
        base_url_allowlist: Sequence[str] = (),
        max_caller_clients: int = DEFAULT_MAX_CALLER_CLIENTS,
    ) -> None:
        """Sets up the built-in providers: no network access, and no provider SDK
        is imported until a model of that provider is first called (``LazyProvider``).

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
                (``runwire_server.service.agent.resilient_turn``); None for new ones with defaults.
            coalescing: How model calls through this registry merge text deltas
                into events (``runwire_server.service.llm.coalesce``); None sends each delta.
            endpoints: The operator's model endpoints (``[[model_endpoints]]``, keys
                read), named by agents with ``model.options.endpoint``.
            base_url_allowlist: Origins (``scheme://host[:port]``) an agent's
                ``model.options.base_url`` may point at (sent no key); empty: none.
            max_caller_clients: SDK clients each HTTP provider keeps for callers'
                allowlisted base URLs (least recently used closed first).

        Raises:
            ValueError: ``endpoints`` or ``base_url_allowlist`` is malformed
                (``runwire_server.service.llm.endpoints.EndpointRouter``).
        """
        #: The operator's endpoints and base URL allowlist.
        self.endpoints = EndpointRouter(endpoints, base_url_allowlist=base_url_allowlist)
        # One slot per configured endpoint of the provider, plus its default.
        openai_clients = 1 + len(self.endpoints.names("openai"))
        anthropic_clients = 1 + len(self.endpoints.names("anthropic"))

        def build_openai() -> _HttpProvider:
            from runwire_server.service.llm.openai import OpenAIProvider  # noqa: PLC0415 - see LazyProvider

            return OpenAIProvider(
                base_url=openai_base_url,
                api_key=openai_api_key,
                timeout_seconds=openai_timeout_seconds,
                max_retries=openai_max_retries,
                max_clients=openai_clients,
                router=self.endpoints,
                max_caller_clients=max_caller_clients,
            )

        def build_anthropic() -> _HttpProvider:
            from runwire_server.service.llm.anthropic import AnthropicProvider  # noqa: PLC0415 - see LazyProvider

            return AnthropicProvider(
                base_url=anthropic_base_url,
                api_key=anthropic_api_key,
                timeout_seconds=anthropic_timeout_seconds,
                max_retries=anthropic_max_retries,
                max_clients=anthropic_clients,
                router=self.endpoints,
                max_caller_clients=max_caller_clients,
            )

        self._openai = LazyProvider(build_openai)
        self._anthropic = LazyProvider(build_anthropic)
        #: Circuit breakers per (provider, base URL), shared by every run of the process.
        self._breakers = breakers if breakers is not None else CircuitBreakers()
        #: Text delta merging of model calls through this registry; None: off.
        self.coalescing = coalescing
        self._providers: dict[str, ModelProvider] = {}
        self._validators: dict[str, OptionsValidator] = {}
        self.register("anthropic", self._anthropic, self._http_options(AnthropicOptions))
        self.register("openai", self._openai, self._http_options(OpenAIOptions))
        self.register("scripted", ScriptedProvider(), ScriptedOptions.violations)

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
            validate_options: Checks its options, returning field violations (path
                relative to the options → message), e.g. ``violations`` of a
                ``runwire_server.service.llm.options.ProviderOptions`` subclass; None accepts any
                options.

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

    def validate_model(self, provider: str, model: str, options: dict[str, Any]) -> dict[str, str]:
        """Checks a model (``Agent.model`` or a fallback) without calling it: its
        options, and for ``openai`` and ``anthropic`` its endpoint
        (``runwire_server.service.llm.endpoints.EndpointRouter.violations``).

        Args:
            provider: ``Model.provider``.
            model: ``Model.name``.
            options: ``Model.options`` (JSON values).

        Returns:
            Field violations, paths relative to the ``Model`` message (``name``,
            ``options.temperature``, ``options.endpoint``); empty when valid.

        Raises:
            InvalidArgumentError: no such provider (reason ``UNKNOWN_PROVIDER``).
        """
        violations = {
            f"options.{path}" if path else "options": message
            for path, message in self.validate_options(provider, options).items()
        }
        if provider in ("openai", "anthropic"):
            for path, message in self.endpoints.violations(provider, model, options).items():
                violations.setdefault(path, message)
        return violations

    def breaker_for(self, provider: str, options: Mapping[str, Any]) -> CircuitBreaker:
        """The circuit breaker of the endpoint a call reaches, shared by every run of
        the process: one per provider and configured endpoint (the ``endpoint``
        option), per ``base_url`` option, or for the provider's default endpoint (no
        text in either).

        Args:
            provider: The provider's name (``Agent.model.provider``).
            options: The call's options (``ModelRequest.options``).

        Returns:
            The breaker (created closed on first use).
        """
        endpoint = options.get("endpoint")
        if isinstance(endpoint, str):
            return self._breakers.get(provider, f"endpoint:{endpoint}")
        base_url = options.get("base_url")
        return self._breakers.get(provider, base_url if isinstance(base_url, str) else "")

    async def aclose(self) -> None:
        """Releases the providers' resources (the ``openai`` and ``anthropic`` HTTP clients)."""
        await self._openai.aclose()
        await self._anthropic.aclose()

    def _http_options(self, options_model: type[HttpProviderOptions]) -> OptionsValidator:
        """An options check of an HTTP provider: its options model, then the
        endpoint rules that need no model name (the ``endpoint`` named exists for the
        provider, a ``base_url`` is allowlisted)."""
        provider = options_model.provider_name

        def validate(options: dict[str, Any]) -> dict[str, str]:
            violations = options_model.violations(options)
            # The model name is not known here; ``validate_model`` checks it.
            checked = {k: v for k, v in options.items() if k in ("endpoint", "base_url")}
            for path, message in self.endpoints.violations(provider, "", checked).items():
                if path.startswith("options."):
                    violations.setdefault(path.removeprefix("options."), message)
            return violations

        return validate

    def _unknown(self, name: str) -> InvalidArgumentError:
        known = ", ".join(self.names())
        return InvalidArgumentError(
            f"unknown model provider {name!r}; known providers: {known}",
            reason="UNKNOWN_PROVIDER",
            metadata={"provider": name},
        )
