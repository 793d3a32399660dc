"""Provider SDK clients (and their HTTP connection pools), cached per endpoint.

A ``ClientCache`` holds one SDK client per ``Endpoint`` (base URL and API key: what
distinguishes two clients of one provider; timeouts and SDK retries are the
provider's, the same for all its clients). It is bounded: past ``max_clients``
endpoints, the least recently used client is dropped and closed. A call holds its
client with ``lease``, so a client dropped (or ``retire``-d) while calls use it is
closed when the last of them ends, never under a running call.

Every HTTP provider keeps two caches: one for the operator's endpoints (the
configured ones and the provider's default: a fixed set, so nothing is ever
dropped), and a small one for the ``base_url``s callers name within the operator's
allowlist, one client per origin (``runwire_server.service.llm.endpoints.pooled``), so distinct
URLs neither build clients nor pile them up.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

__all__ = [
    "DEFAULT_MAX_CALLER_CLIENTS",
    "DEFAULT_MAX_CLIENTS",
    "PLACEHOLDER_API_KEY",
    "ClientCache",
    "Endpoint",
    "default_endpoint",
]

#: Clients a ``ClientCache`` keeps by default (distinct base URL and key pairs).
DEFAULT_MAX_CLIENTS = 16

#: Clients a provider keeps for callers' allowlisted ``base_url``s, by default.
DEFAULT_MAX_CALLER_CLIENTS = 8

#: The key sent when none is configured: local servers need none, but the SDKs require one.
PLACEHOLDER_API_KEY = "unused"


class _Closable(Protocol):
    async def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Closable)


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """Where a call goes, and what distinguishes one provider's clients.

    Attributes:
        base_url: The API's base URL; None for the SDK's default.
        api_key: The key sent (``PLACEHOLDER_API_KEY`` when there is none); left out
            of ``repr`` so it never reaches a log.
        name: The configured endpoint's name; empty for the provider's default and
            for a caller's ``base_url``.
        caller: True for a ``base_url`` a caller named (never with an operator key).
    """

    base_url: str | None
    api_key: str = field(repr=False)
    name: str = ""
    caller: bool = False


def default_endpoint(base_url: str | None, api_key: str | None) -> Endpoint | None:
    """A provider's unnamed default endpoint: its configured base URL (None: the
    SDK's) and key; None when the operator configured neither."""
    if not base_url and not api_key:
        return None
    return Endpoint(base_url=base_url or None, api_key=api_key or PLACEHOLDER_API_KEY)


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

        Building an SDK client loads CA certificates and sets up a connection pool,
        work that grows with the CA bundle: it runs in a worker thread, so the event
        loop keeps serving meanwhile. Two leases racing to build the same endpoint's client
        keep the first; the other is closed.

        Yields:
            The client; it stays open until the ``async with`` block ends, even if it
            is dropped from the cache meanwhile.
        """
        entry = self._entries.get(endpoint)
        if entry is None:
            built = await asyncio.to_thread(self._build, endpoint)
            entry = self._entries.get(endpoint)
            if entry is None:
                entry = _Entry(built)
                self._entries[endpoint] = entry
            else:
                await built.close()
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
