"""Provider SDK clients (and their HTTP connection pools), cached per endpoint.

Every HTTP provider keeps one ``ClientCache``: one SDK client per ``Endpoint``
(base URL and API key: what distinguishes two clients of one provider; timeouts and
SDK retries are the provider's, the same for all its clients). The cache is bounded:
past ``max_clients`` endpoints, the least recently used client is dropped. A call
holds its client with ``lease``, so a client dropped (or ``retire``-d) while calls
use it is closed when the last of them ends, never under a running call.

Which endpoint a call reaches is ``resolve_endpoint``'s rule: an agent's own
``base_url`` never receives the operator's configured key.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

__all__ = [
    "DEFAULT_MAX_CLIENTS",
    "PLACEHOLDER_API_KEY",
    "ClientCache",
    "Endpoint",
    "resolve_endpoint",
]

#: Clients a ``ClientCache`` keeps by default (distinct base URL and key pairs).
DEFAULT_MAX_CLIENTS = 16

#: The key sent when none is configured: local servers need none, but the SDKs require one.
PLACEHOLDER_API_KEY = "unused"


class _Closable(Protocol):
    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Closable)


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """What distinguishes one provider's clients.

    Attributes:
        base_url: The API's base URL; None for the SDK's default.
        api_key: The key sent (``PLACEHOLDER_API_KEY`` when there is none); left out
            of ``repr`` so it never reaches a log.
    """

    base_url: str | None
    api_key: str = field(repr=False)


def resolve_endpoint(
    *,
    base_url: str | None,
    api_key_env: str | None,
    default_base_url: str | None,
    default_api_key: str | None,
) -> Endpoint:
    """The endpoint a call reaches, and the key it sends there.

    The key is, in order: the environment variable named by ``api_key_env`` (when set
    and non-empty); else, when the call goes to ``default_base_url``,
    ``default_api_key``; else ``PLACEHOLDER_API_KEY``. So the configured key never
    goes to a ``base_url`` an agent names.

    Args:
        base_url: The agent's ``base_url`` option; None for ``default_base_url``.
        api_key_env: The agent's ``api_key_env`` option (an environment variable name).
        default_base_url: The provider's configured base URL; None for the SDK default.
        default_api_key: The key configured for ``default_base_url``.

    Returns:
        The endpoint (base URL and key).
    """
    url = base_url or default_base_url
    key = (os.environ.get(api_key_env) or None) if api_key_env else None
    if key is None and url == default_base_url:
        key = default_api_key
    return Endpoint(base_url=url, api_key=key or PLACEHOLDER_API_KEY)


@dataclass(eq=False)
class _Entry(Generic[ClientT]):
    client: ClientT
    leases: int = 0
    #: Dropped from the cache; closed when its last lease ends.
    retired: bool = False
    closed: bool = False


class ClientCache(Generic[ClientT]):
    """SDK clients per ``Endpoint``, at most ``max_clients``, least recently used
    dropped first. Use it from one event loop."""

    def __init__(
        self, build: Callable[[Endpoint], ClientT], *, max_clients: int = DEFAULT_MAX_CLIENTS
    ) -> None:
        """Creates an empty cache; ``build`` makes a client when an endpoint is first leased.

        Args:
            build: Creates the client of an endpoint (no network access expected).
            max_clients: Clients kept (>= 1).

        Raises:
            ValueError: ``max_clients`` < 1.
        """
        if max_clients < 1:
            raise ValueError(f"max_clients must be >= 1, not {max_clients}")
        self._build = build
        self._max_clients = max_clients
        self._entries: OrderedDict[Endpoint, _Entry[ClientT]] = OrderedDict()
        #: Dropped clients that calls still use, closed when the last lease ends.
        self._retired: list[_Entry[ClientT]] = []

    def __len__(self) -> int:
        """The number of cached clients (retired ones still in use not counted)."""
        return len(self._entries)

    @asynccontextmanager
    async def lease(self, endpoint: Endpoint) -> AsyncIterator[ClientT]:
        """Holds the client of ``endpoint`` (built on first use) for one call.

        Yields:
            The client; it stays open until the ``async with`` block ends, even if it
            is dropped from the cache meanwhile.
        """
        entry = self._entries.get(endpoint)
        if entry is None:
            entry = _Entry(self._build(endpoint))
            self._entries[endpoint] = entry
        self._entries.move_to_end(endpoint)
        entry.leases += 1
        try:
            await self._evict_beyond_limit()
            yield entry.client
        finally:
            entry.leases -= 1
            if entry.retired and entry.leases == 0:
                if entry in self._retired:  # not when ``aclose`` came first
                    self._retired.remove(entry)
                await self._close(entry)

    async def retire(self, client: ClientT) -> None:
        """Drops ``client`` from the cache, so the next lease of its endpoint builds a
        new one (with new connections). It is closed now if no call holds it, else
        when the last lease ends. A client no longer cached is left as it is."""
        for endpoint, entry in list(self._entries.items()):
            if entry.client is client:
                del self._entries[endpoint]
                await self._drop(entry)

    async def aclose(self) -> None:
        """Closes every client, cached or retired (also those calls still hold) and
        empties the cache; a later lease builds new clients."""
        entries = [*self._entries.values(), *self._retired]
        self._entries.clear()
        self._retired.clear()
        for entry in entries:
            await self._close(entry)

    async def _evict_beyond_limit(self) -> None:
        while len(self._entries) > self._max_clients:
            _, oldest = self._entries.popitem(last=False)
            await self._drop(oldest)

    async def _drop(self, entry: _Entry[ClientT]) -> None:
        if entry.leases == 0:
            await self._close(entry)
        else:
            entry.retired = True
            self._retired.append(entry)

    @staticmethod
    async def _close(entry: _Entry[ClientT]) -> None:
        if not entry.closed:
            entry.closed = True
            await entry.client.close()
