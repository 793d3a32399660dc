"""What every Redis store does with its client: check it, run optimistic transactions,
and ride out a Redis restart (``ReconnectRetry``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar, cast

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff
from redis.exceptions import AuthenticationError, WatchError

T = TypeVar("T")

#: The deadline of the retries in progress in this task (``ReconnectRetry``), loop time.
_DEADLINE: ContextVar[float | None] = ContextVar("runwire_redis_retry_deadline", default=None)

#: Seconds a command keeps retrying after its first failure (``ReconnectRetry``): less
#: than the time an in-process run's lease has left when it is renewed (three quarters
#: of ``run_lease_seconds``, 15 s by default), so a replica cut from Redis learns it in time.
RETRY_BUDGET_SECONDS = 10.0
#: First pause after a failure, seconds; it doubles per failure up to ``RETRY_MAX_PAUSE_SECONDS``.
RETRY_FIRST_PAUSE_SECONDS = 0.05
#: Longest pause between two attempts, seconds.
RETRY_MAX_PAUSE_SECONDS = 1.0


class ReconnectRetry(Retry):
    """redis-py's ``Retry`` bounded by time instead of a count: a command that fails
    with ``ConnectionError`` or ``TimeoutError`` (a lost connection, Redis restarting or
    still loading its append-only file: ``BusyLoadingError``) reconnects and is sent
    again after a jittered exponential pause (``RETRY_FIRST_PAUSE_SECONDS`` doubling up
    to ``RETRY_MAX_PAUSE_SECONDS``, each between half and all of it), until it succeeds
    or ``budget_seconds`` have passed since its first failure (then the last error is
    raised). Refused credentials (``AuthenticationError``) are raised at once.

    redis-py nests the reconnect's retries inside a command's: the nested ones keep to
    the deadline of the outer one (a context variable), so a command gives up about
    ``budget_seconds`` after its first failure, also when Redis went away for good.

    A command sent again may have run the first time (its reply was lost): every write
    a store sends through this client must be safe to repeat (docs/operations.md, Redis).

    Args:
        budget_seconds: How long to keep trying after the first failure, seconds (> 0).
    """

    def __init__(self, budget_seconds: float = RETRY_BUDGET_SECONDS) -> None:
        if budget_seconds <= 0:
            raise ValueError("budget_seconds must be > 0")
        backoff = EqualJitterBackoff(cap=RETRY_MAX_PAUSE_SECONDS, base=RETRY_FIRST_PAUSE_SECONDS)
        # The count only bounds redis-py's bookkeeping; the budget ends the retries.
        super().__init__(backoff, retries=1_000_000)
        self.budget_seconds = budget_seconds

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        """Runs ``do`` until it succeeds; after each retryable failure calls ``fail``
        (which drops the connection) and pauses. Raises the last error once the
        budget is spent, and any other error at once."""
        loop = asyncio.get_running_loop()
        deadline = _DEADLINE.get()  # set when nested in a command's retries
        token: Token[float | None] | None = None
        failures = 0
        try:
            while True:
                try:
                    return await do()
                except self._supported_errors as error:
                    if isinstance(error, AuthenticationError) or (
                        is_retryable is not None and not is_retryable(error)
                    ):
                        raise
                    failures += 1
                    await (fail(error, failures) if with_failure_count else fail(error))
                    now = loop.time()
                    if deadline is None:
                        deadline = now + self.budget_seconds
                        token = _DEADLINE.set(deadline)
                    pause = self._backoff.compute(failures)
                    if now + pause > deadline:
                        raise error
                    await asyncio.sleep(pause)
        finally:
            if token is not None:
                _DEADLINE.reset(token)


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
