"""A model turn that survives provider trouble: retries, circuit breakers, fallbacks.

``resilient_model_turn`` wraps ``stream_model_turn``:

* **Retries** a retryable ``ModelError`` (HTTP 408/409/429/5xx, timeouts,
  connection errors) up to ``RetryPolicy.max_attempts`` times per model, with
  exponential backoff and jitter, or after the provider's ``retry-after``
  hint (capped).
* **Falls back** along the chain: the run's model, then its
  ``fallback_models`` in order. The next model is tried once a model's
  retries are exhausted, or at once when its circuit breaker is open.
* **Circuit breakers** per (provider, base URL) come from the provider
  registry (``ProviderRegistry.breaker_for``), shared by the process's runs.
* **Attempts are numbered** across the whole call: attempt 1 streams under
  the turn's ``message_id``, attempt *n* under ``<message_id>-<n>``
  (``attempt_message_id``). An attempt that streamed something and failed is
  withdrawn with ``message_discarded`` (``discard_message``, keyed
  ``<message id>:discarded``) before the next one streams. The Temporal
  ``call_model`` activity numbers its retries the same way.

When no model of the chain can answer, the call fails with a retryable
``ModelError`` (reason ``PROVIDER_UNAVAILABLE``; the loop fails the run with
code UNAVAILABLE). A non-retryable error fails it at once. Every wait is
bounded (``RetryPolicy``), and so is every attempt (the provider's timeout).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from runwire.v1 import event_pb2

from runwire_server.service.agent.effects import ModelTurn
from runwire_server.service.agent.model_turn import stream_model_turn
from runwire_server.service.core.errors import InvalidArgumentError, safe_error_text
from runwire_server.service.core.spec import ModelRef
from runwire_server.service.core.telemetry import ATTR_PROVIDER, ATTR_RUN_ID
from runwire_server.service.llm.base import ModelError, ModelRequest
from runwire_server.service.llm.breaker import BreakerState, CircuitBreaker
from runwire_server.service.llm.registry import ProviderRegistry

logger = logging.getLogger(__name__)

#: Publishes a run event with its idempotency key (a runtime may ignore the key).
Publish = Callable[[event_pb2.RunEvent, str], Awaitable[None]]
#: Waits this many seconds (``asyncio.sleep``; injectable for tests).
Sleep = Callable[[float], Awaitable[None]]

#: ``message_discarded.reason`` is cut to this many characters.
MAX_REASON_TEXT = 300


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently one model is retried.

    Attributes:
        max_attempts: Calls per model, the first included (>= 1; 1 = no retries).
        initial_delay_seconds: Backoff before the first retry, seconds.
        backoff_factor: Growth of the backoff per retry (>= 1).
        max_delay_seconds: Upper bound of one backoff, seconds.
        max_retry_after_seconds: Upper bound of a wait the provider asks for
            with ``retry-after``, seconds.
        jitter: Fraction of the backoff taken off at random, 0..1: a backoff
            *d* becomes a delay in ``[d * (1 - jitter), d]``.
    """

    max_attempts: int = 3
    initial_delay_seconds: float = 0.5
    backoff_factor: float = 2.0
    max_delay_seconds: float = 8.0
    max_retry_after_seconds: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, not {self.max_attempts}")
        if self.initial_delay_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError("backoff delays must be >= 0 s")
        if self.max_retry_after_seconds < 0:
            raise ValueError("max_retry_after_seconds must be >= 0 s")
        if self.backoff_factor < 1:
            raise ValueError(f"backoff_factor must be >= 1, not {self.backoff_factor}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be within 0..1, not {self.jitter}")

    def delay_seconds(
        self,
        retry: int,
        *,
        retry_after_seconds: float | None = None,
        random_fraction: float = 1.0,
    ) -> float:
        """The wait before retry number ``retry``, in seconds.

        Args:
            retry: 1 for the first retry (the second attempt), 2 for the next, ...
            retry_after_seconds: The provider's ``retry-after`` hint; when given it
                is the delay (at least 0, at most ``max_retry_after_seconds``) and
                the backoff is not used.
            random_fraction: A random number in [0, 1) (0 takes off the full
                ``jitter``; 1 none).

        Raises:
            ValueError: ``retry`` < 1.
        """
        if retry < 1:
            raise ValueError(f"retry must be >= 1, not {retry}")
        if retry_after_seconds is not None:
            return min(max(retry_after_seconds, 0.0), self.max_retry_after_seconds)
        backoff = min(
            self.max_delay_seconds,
            self.initial_delay_seconds * self.backoff_factor ** (retry - 1),
        )
        return backoff * (1 - self.jitter * (1 - random_fraction))


#: The in-process default: 3 attempts per model, 0.5 s doubling to at most 8 s.
DEFAULT_RETRY_POLICY = RetryPolicy()
#: One attempt per model (Temporal's activity retry policy does the retries).
NO_RETRIES = RetryPolicy(max_attempts=1)


def attempt_message_id(message_id: str, attempt: int) -> str:
    """The message id attempt ``attempt`` (1-based) of a model call streams under:
    ``message_id`` for the first, ``<message_id>-<attempt>`` after."""
    return message_id if attempt <= 1 else f"{message_id}-{attempt}"


async def discard_message(publish: Publish, message_id: str, reason: str) -> None:
    """Withdraws a partly streamed message: publishes ``message_discarded`` with the
    key ``<message_id>:discarded`` (so a repeated discard logs nothing new)."""
    await publish(
        event_pb2.RunEvent(
            message_discarded=event_pb2.MessageDiscarded(
                message_id=message_id, reason=safe_error_text(reason, MAX_REASON_TEXT)
            )
        ),
        f"{message_id}:discarded",
    )


def model_chain(
    provider: str, request: ModelRequest, fallback_models: Sequence[ModelRef]
) -> tuple[ModelRef, ...]:
    """The models to try, in order: ``provider`` with ``request``'s model and
    options, then ``fallback_models``."""
    primary = ModelRef(provider=provider, model=request.model, options=dict(request.options))
    return (primary, *fallback_models)


def _label(model: ModelRef) -> str:
    return f"{model.provider}/{model.model}" if model.model else model.provider


@dataclass
class _Outcome:
    """Why one model of the chain did not answer."""

    model: ModelRef
    reason: str
    retry_after_seconds: float | None
    #: The ``ErrorInfo`` metadata of the last failure (``http_status``, ``model``).
    metadata: Mapping[str, str] = field(default_factory=dict)


async def resilient_model_turn(
    providers: ProviderRegistry,
    request: ModelRequest,
    *,
    provider: str,
    fallback_models: Sequence[ModelRef] = (),
    message_id: str,
    publish: Publish,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    first_attempt: int = 1,
    attributes: Mapping[str, str] | None = None,
    sleep: Sleep = asyncio.sleep,
    random_fraction: Callable[[], float] = random.random,
) -> ModelTurn:
    """Streams one model turn through the chain of models, retrying and falling back.

    Args:
        providers: The providers and their circuit breakers.
        request: The call, for the primary model (its ``model`` and ``options``).
        provider: The primary model's provider.
        fallback_models: The models tried, in order, when the primary is unavailable.
        message_id: The turn's message id (attempt 1 streams under it).
        publish: Publishes events with idempotency keys (``<attempt message
            id>:<position>`` for streamed events).
        policy: Retries per model (``NO_RETRIES`` under Temporal).
        first_attempt: Number of this call's first attempt (> 1 when an earlier
            try of the same call already used numbers, e.g. a retried activity).
        attributes: Telemetry attributes of the ``runwire.llm.call`` spans
            (``ATTR_PROVIDER`` is set per model).
        sleep: Waits between retries (seconds).
        random_fraction: Random numbers in [0, 1) for the jitter.

    Returns:
        The turn of the first model that answered; its message id is the
        attempt's (``attempt_message_id``).

    Raises:
        ModelError: a non-retryable error (at once: a fallback cannot fix a bad
            request), or, when no model could answer, a retryable error (reason
            ``PROVIDER_UNAVAILABLE``) naming each model's last failure, with
            ``retry_after_seconds`` = the soonest any of them may answer again
            when every one of them gave a hint (else None).
    """
    call = _ChainCall(
        providers=providers,
        request=request,
        message_id=message_id,
        publish=publish,
        policy=policy,
        attempt=first_attempt - 1,
        labels=dict(attributes or {}),
        sleep=sleep,
        random_fraction=random_fraction,
    )
    chain = model_chain(provider, request, fallback_models)
    outcomes: list[_Outcome] = []
    for position, model in enumerate(chain):
        result = await call.try_model(model)
        if isinstance(result, ModelTurn):
            return result
        outcomes.append(result)
        following = chain[position + 1] if position + 1 < len(chain) else None
        logger.warning(
            "model %s is unavailable (%s); %s",
            _label(model),
            result.reason,
            f"falling back to {_label(following)}" if following else "no fallback left",
            extra={"run_id": call.labels.get(ATTR_RUN_ID, "")},
        )
    raise _unavailable(provider, outcomes)


@dataclass(kw_only=True)
class _ChainCall:
    """The state of one ``resilient_model_turn`` call."""

    providers: ProviderRegistry
    request: ModelRequest
    message_id: str
    publish: Publish
    policy: RetryPolicy
    attempt: int  # the number of the last attempt made
    labels: dict[str, str]
    sleep: Sleep
    random_fraction: Callable[[], float]

    async def try_model(self, model: ModelRef) -> ModelTurn | _Outcome:
        """Calls ``model`` (with retries) until it answers or is found unavailable.

        Raises:
            ModelError: a non-retryable error (or an unknown provider).
        """
        try:
            provider = self.providers.get(model.provider)
        except InvalidArgumentError as exc:
            raise ModelError(exc.message, provider=model.provider, retryable=False) from exc
        request = replace(self.request, model=model.model, options=dict(model.options))
        breaker = self.providers.breaker_for(model.provider, model.options)
        outcome: _Outcome | None = None
        for retry in range(1, self.policy.max_attempts + 1):
            if not breaker.try_acquire():
                return _breaker_open(model, breaker, outcome)
            self.attempt += 1
            attempt_id = attempt_message_id(self.message_id, self.attempt)
            emitter = _KeyedEmitter(self.publish, attempt_id)
            try:
                turn = await stream_model_turn(
                    provider,
                    request,
                    message_id=attempt_id,
                    emit=emitter.emit,
                    attributes={**self.labels, ATTR_PROVIDER: model.provider},
                    coalescing=self.providers.coalescing,
                )
            except ModelError as error:
                outcome = await self._failed(model, breaker, error, streamed=emitter.position > 0)
            except BaseException:
                breaker.release()  # cancelled, or not a provider failure: no verdict
                raise
            else:
                breaker.record_success()
                return turn
            if breaker.state is BreakerState.OPEN:
                return _breaker_open(model, breaker, outcome)
            if retry < self.policy.max_attempts:
                await self._back_off(model, retry, outcome)
        assert outcome is not None  # max_attempts >= 1
        return outcome

    async def _failed(
        self, model: ModelRef, breaker: CircuitBreaker, error: ModelError, *, streamed: bool
    ) -> _Outcome:
        """Records a failed attempt: breaker verdict, ``message_discarded`` when it
        streamed; re-raises ``error`` when it is not retryable."""
        if error.retryable:
            breaker.record_failure()
        else:
            breaker.record_success()  # the endpoint answered
        if streamed:
            attempt_id = attempt_message_id(self.message_id, self.attempt)
            reason = f"model call attempt {self.attempt} failed ({_label(model)}): "
            await discard_message(self.publish, attempt_id, reason + error.message)
        if not error.retryable:
            raise error
        return _Outcome(model, error.message, error.retry_after_seconds, error.metadata)

    async def _back_off(self, model: ModelRef, retry: int, outcome: _Outcome) -> None:
        delay = self.policy.delay_seconds(
            retry,
            retry_after_seconds=outcome.retry_after_seconds,
            random_fraction=self.random_fraction(),
        )
        logger.warning(
            "model call attempt %d (%s) failed: %s; retrying in %.2f s",
            self.attempt,
            _label(model),
            outcome.reason,
            delay,
            extra={"run_id": self.labels.get(ATTR_RUN_ID, "")},
        )
        await self.sleep(delay)


class _KeyedEmitter:
    """Publishes one attempt's streamed events keyed ``<message id>:<position>``."""

    def __init__(self, publish: Publish, message_id: str) -> None:
        self._publish = publish
        self._message_id = message_id
        #: Events published so far (0: the attempt streamed nothing).
        self.position = 0

    async def emit(self, event: event_pb2.RunEvent) -> None:
        key = f"{self._message_id}:{self.position}"
        self.position += 1
        await self._publish(event, key)


def _breaker_open(model: ModelRef, breaker: CircuitBreaker, last: _Outcome | None) -> _Outcome:
    wait = breaker.retry_in_seconds()
    note = f"circuit breaker open for {wait:.1f} s more"
    reason = f"{last.reason}; {note}" if last is not None else note
    return _Outcome(model, reason, wait, last.metadata if last is not None else {})


def _unavailable(provider: str, outcomes: list[_Outcome]) -> ModelError:
    """The error of a chain no model answered: a bounded message naming each model's
    last failure; metadata ``provider`` and, of the primary's last failure,
    ``http_status`` and ``model``."""
    details = "; ".join(f"{_label(o.model)}: {o.reason}" for o in outcomes)
    hints = [o.retry_after_seconds for o in outcomes]
    retry_after = min(h for h in hints if h is not None) if hints and None not in hints else None
    error = ModelError(
        safe_error_text(f"no model is available ({details})"),
        provider=provider,
        retryable=True,
        retry_after_seconds=retry_after,
    )
    if outcomes:
        primary = outcomes[0].metadata
        error.metadata.update({k: primary[k] for k in ("http_status", "model") if k in primary})
    return error
