"""What every Redis store does with its client: check it, and run optimistic transactions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

T = TypeVar("T")


def require_bytes_client(client: redis.Redis, owner: str) -> None:
    """Checks that ``client`` returns ``bytes`` (records are binary protobuf).

    Args:
        client: The store's client.
        owner: The store's class name, for the message.

    Raises:
        ValueError: ``client`` was made with ``decode_responses=True``.
    """
    if client.connection_pool.connection_kwargs.get("decode_responses"):
        raise ValueError(f"{owner} needs a client with decode_responses=False")


async def optimistic(client: redis.Redis, attempt: Callable[[Pipeline], Awaitable[T]]) -> T:
    """Runs ``attempt`` until no key it watched changed under it; returns its result.

    ``attempt`` gets a transaction pipeline: it ``WATCH``es its keys, reads them,
    then calls ``multi(pipe)``, queues its writes and ``execute``s. When another
    writer changes a watched key meanwhile, ``execute`` raises ``WatchError`` and
    ``attempt`` runs again on the same (reset) pipeline. Returning without
    ``execute`` is fine: leaving the pipeline resets it (``UNWATCH``).

    The transaction runs to its end even when the calling task is cancelled
    meanwhile (the caller still sees the cancellation at once): a write is
    never left half done, and the pipeline always gives its connection back.

    Raises:
        Exception: whatever ``attempt`` raises, except ``WatchError``.
    """

    async def transaction() -> T:
        async with client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    return await attempt(pipe)
                except WatchError:
                    continue

    return await asyncio.shield(transaction())


async def reply(result: Awaitable[T] | T) -> T:
    """The reply of a redis-py command. redis-py types a command's result as
    ``Awaitable[T] | T`` (one stub for its sync and async clients); on the
    asyncio client it is always awaitable."""
    return await result if isinstance(result, Awaitable) else result


def multi(pipe: Pipeline) -> None:
    """Starts the transaction block (``Pipeline.multi`` carries no annotations)."""
    cast("Callable[[], None]", pipe.multi)()
