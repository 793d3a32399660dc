"""Which model endpoint a call reaches, and which key it sends there.

Endpoints and their keys belong to the operator (``[[model_endpoints]]`` in the
server's configuration, read by ``app``). An agent chooses among them; it never
names a URL the operator did not allow, an environment variable, a file or a key:

* ``model.options.endpoint = "NAME"``: the configured endpoint ``NAME`` of the
  model's provider, with its key; its ``models``, when not empty, list the model
  names it serves.
* neither ``endpoint`` nor ``base_url``: the provider's unnamed default endpoint
  (``openai_base_url``/``openai_api_key``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``;
  for ``anthropic`` its key and the SDK's URL), with the operator's default key; with
  neither a base URL nor a key configured there is none, and the call is refused
  (the SDK's public URL is never called unconfigured).
* ``model.options.base_url = URL``: only when the URL's origin (scheme, host, port)
  is in the operator's ``model_base_url_allowlist``; such a call carries no key at
  all (``runwire_server.service.llm.http_clients.PLACEHOLDER_API_KEY``): it is the caller's
  endpoint, not the operator's.

``EndpointRouter.violations`` checks an agent's model when it is created or updated
(field violations for the API); ``EndpointRouter.route`` decides again on every
call (a ``ModelError``), so an agent stored before a configuration change cannot
reach what the configuration no longer allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from runwire_server.service.llm.base import ModelError
from runwire_server.service.llm.http_clients import PLACEHOLDER_API_KEY, Endpoint

__all__ = [
    "ENDPOINT_NAME_PATTERN",
    "EndpointRouter",
    "ModelEndpoint",
    "caller_base_url",
    "origin_of",
    "pooled",
]

#: What an endpoint name looks like: a letter or digit, then letters, digits, ``_.-``; 1 to 64.
ENDPOINT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

#: A URL's host and port as accepted from a caller: a DNS name or IPv4 address, or a
#: bracketed IPv6 address, then an optional port. No user info, no percent escapes:
#: what is checked is what the HTTP client connects to.
_NETLOC = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, kw_only=True)
class ModelEndpoint:
    """One operator-configured model endpoint (a ``[[model_endpoints]]`` entry, its key read).

    Attributes:
        name: What agents call it (``model.options.endpoint``); matches
            ``ENDPOINT_NAME_PATTERN``.
        provider: The provider that speaks its API: ``openai`` or ``anthropic``.
        base_url: The API's base URL (``openai``: with the version path, e.g.
            ``https://api.openai.com/v1``; ``anthropic``: without ``/v1``).
        api_key: The key sent to it; None for none. Left out of ``repr``.
        models: Model names it serves (``Agent.model.name``); empty: any.
    """

    name: str
    provider: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    models: frozenset[str] = frozenset()


def origin_of(url: str) -> str | None:
    """The origin of an ``http://`` or ``https://`` URL: ``scheme://host[:port]``,
    lower-case, the scheme's default port left out; None for anything else (another
    scheme, no host, a malformed port, user info or escapes in the host part).

    ``origin_of("HTTP://Example.com:80/v1") == "http://example.com"``.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or not _NETLOC.match(parts.netloc):
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def caller_base_url(url: str) -> tuple[str, str]:
    """Checks a ``base_url`` a caller gave; returns its origin and the URL the call
    goes to (rebuilt from the origin and the path, so the HTTP client connects where
    the check looked).

    Raises:
        ValueError: not an ``http://`` or ``https://`` URL with a host, or it carries
            user info, escapes in the host part, a query or a fragment.
    """
    origin = origin_of(url)
    if origin is None:
        raise ValueError("must be an http:// or https:// URL without user info")
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError("must not have a query or a fragment")
    if any(c.isspace() or c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in parts.path):
        raise ValueError("must not contain spaces, control characters or backslashes")
    return origin, origin + parts.path


def pooled(endpoint: Endpoint) -> Endpoint:
    """The endpoint whose SDK client (and connection pool) a call to ``endpoint`` uses.

    A caller's ``base_url``s share one client per origin: the call goes out on a
    per-call view of it with its own base URL (``with_options``: no new pool), so
    distinct URLs neither build clients nor pile them up. Other endpoints are their
    own.
    """
    if not endpoint.caller or endpoint.base_url is None:
        return endpoint
    return replace(endpoint, base_url=origin_of(endpoint.base_url) or endpoint.base_url)


class EndpointRouter:
    """The operator's model endpoints and allowlist: checks agents' choices, routes calls.

    Immutable after construction; safe to share between providers and threads.
    """

    def __init__(
        self,
        endpoints: Sequence[ModelEndpoint] = (),
        *,
        base_url_allowlist: Iterable[str] = (),
    ) -> None:
        """Sets up the routing.

        Args:
            endpoints: The configured endpoints; names are unique.
            base_url_allowlist: Origins (``scheme://host[:port]``) a caller's
                ``base_url`` may point at; empty: callers cannot name a URL.

        Raises:
            ValueError: two endpoints share a name, a name does not match
                ``ENDPOINT_NAME_PATTERN``, an endpoint's ``base_url`` is not an http(s)
                URL, or an allowlist entry is not an origin.
        """
        self._endpoints: dict[str, ModelEndpoint] = {}
        for endpoint in endpoints:
            if not re.match(ENDPOINT_NAME_PATTERN, endpoint.name):
                raise ValueError(f"model endpoint name {endpoint.name!r} is malformed")
            if endpoint.name in self._endpoints:
                raise ValueError(f"model endpoint {endpoint.name!r} is configured twice")
            if origin_of(endpoint.base_url) is None:
                raise ValueError(
                    f"model endpoint {endpoint.name!r}: base_url must be an http(s) URL"
                )
            self._endpoints[endpoint.name] = endpoint
        allowed: set[str] = set()
        for entry in base_url_allowlist:
            origin = origin_of(entry)
            if origin is None or urlsplit(entry).path not in ("", "/"):
                raise ValueError(f"{entry!r} is not an origin (scheme://host[:port])")
            allowed.add(origin)
        self._allowlist = frozenset(allowed)

    @property
    def endpoints(self) -> dict[str, ModelEndpoint]:
        """The configured endpoints by name (a copy)."""
        return dict(self._endpoints)

    def names(self, provider: str) -> list[str]:
        """The names of ``provider``'s configured endpoints, sorted."""
        return sorted(n for n, e in self._endpoints.items() if e.provider == provider)

    def violations(self, provider: str, model: str, options: Mapping[str, Any]) -> dict[str, str]:
        """Checks an agent's choice of endpoint without calling it.

        Args:
            provider: ``Agent.model.provider`` (``openai`` or ``anthropic``).
            model: ``Agent.model.name``.
            options: ``Agent.model.options`` (JSON values); only ``endpoint`` and
                ``base_url`` are looked at (a non-text one is the options model's
                violation, not this one's).

        Returns:
            Field violations, paths relative to the ``Model`` message
            (``options.endpoint``, ``options.base_url``, ``name``); empty when allowed.
        """
        endpoint = options.get("endpoint")
        base_url = options.get("base_url")
        violations: dict[str, str] = {}
        if isinstance(endpoint, str) and isinstance(base_url, str):
            violations["options.base_url"] = (
                "give endpoint or base_url, not both (an endpoint has its own URL)"
            )
            return violations
        if isinstance(endpoint, str):
            configured = self._endpoints.get(endpoint)
            if configured is None or configured.provider != provider:
                violations["options.endpoint"] = self._unknown(provider, endpoint)
            elif configured.models and model not in configured.models:
                offered = ", ".join(sorted(configured.models))
                violations["name"] = (
                    f"model {model!r} is not served by endpoint {endpoint!r}; it serves: {offered}"
                )
        elif isinstance(base_url, str):
            problem = self._refused_base_url(base_url)
            if problem:
                violations["options.base_url"] = problem
        return violations

    def route(
        self,
        provider: str,
        model: str,
        *,
        endpoint: str | None,
        base_url: str | None,
        default: Endpoint | None,
    ) -> Endpoint:
        """The endpoint a call goes to, and its key.

        Args:
            provider: The provider making the call.
            model: The model name of the call.
            endpoint: The ``endpoint`` option; None for none.
            base_url: The ``base_url`` option; None for none.
            default: The provider's unnamed default endpoint (and its key); None
                when the operator configured neither its base URL nor its key (the
                SDK's public default is then never called).

        Returns:
            The configured endpoint named (``caller=False``, its key); ``default`` when
            neither option is given; for an allowlisted ``base_url``, that URL with
            ``PLACEHOLDER_API_KEY`` and ``caller=True``.

        Raises:
            ModelError: (``retryable=False``) the choice is not allowed: what
                ``violations`` reports, phrased for the run's error; or neither option
                is given and there is no ``default``.
        """
        problems = self.violations(
            provider,
            model,
            {
                **({"endpoint": endpoint} if endpoint is not None else {}),
                **({"base_url": base_url} if base_url is not None else {}),
            },
        )
        if problems:
            details = "; ".join(f"model.{path}: {text}" for path, text in problems.items())
            raise ModelError(f"{provider}: {details}", provider=provider, retryable=False)
        if endpoint is not None:
            configured = self._endpoints[endpoint]
            return Endpoint(
                base_url=configured.base_url,
                api_key=configured.api_key or PLACEHOLDER_API_KEY,
                name=configured.name,
            )
        if base_url is not None:
            _, url = caller_base_url(base_url)
            return Endpoint(base_url=url, api_key=PLACEHOLDER_API_KEY, caller=True)
        if default is None:
            names = self.names(provider)
            choice = (
                f"name one of its endpoints ({', '.join(names)}) with model.options.endpoint"
                if names
                else f"the operator must configure one for {provider}"
            )
            raise ModelError(
                f"{provider}: the server has no default {provider} endpoint (no base URL or "
                f"key configured): {choice}",
                provider=provider,
                retryable=False,
            )
        return default

    def _unknown(self, provider: str, name: str) -> str:
        names = self.names(provider)
        if not names:
            return f"unknown endpoint {name[:64]!r}: the server configures no {provider} endpoints"
        return f"unknown endpoint {name[:64]!r}; {provider} endpoints: {', '.join(names)}"

    def _refused_base_url(self, base_url: str) -> str:
        try:
            origin, _ = caller_base_url(base_url)
        except ValueError as error:
            return str(error)
        if origin in self._allowlist:
            return ""
        if not self._allowlist:
            return (
                "the server takes no model URL from agents: name one of its endpoints "
                "with endpoint, or leave both out for the provider's default"
            )
        return (
            f"origin {origin} is not in the server's model_base_url_allowlist: name one "
            "of its endpoints with endpoint"
        )
