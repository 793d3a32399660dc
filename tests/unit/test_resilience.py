"""Retries, backoff, circuit breakers and fallbacks of model calls.

Time is injected through the designed seams: ``RetryPolicy.delay_seconds``
takes the random fraction, ``CircuitBreaker``/``CircuitBreakers`` take a clock
and ``resilient_model_turn`` takes ``sleep`` and ``random_fraction``; the
sleep here advances the fake clock instead of waiting. Providers are
``ModelProvider`` test doubles registered in a real ``ProviderRegistry`` (its
documented extension point), playing scripted outcomes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from runwire.v1 import event_pb2

from runwire_server.service.agent.resilient_turn import (
    NO_RETRIES,
    RetryPolicy,
    attempt_message_id,
    resilient_model_turn,
)
from runwire_server.service.core.messages import Usage
from runwire_server.service.core.spec import ModelRef
from runwire_server.service.llm.base import (
    ModelChunk,
    ModelError,
    ModelRequest,
    TextDelta,
    UsageReport,
)
from runwire_server.service.llm.breaker import BreakerState, CircuitBreaker, CircuitBreakers
from runwire_server.service.llm.registry import ProviderRegistry


class FakeClock:
    """A monotonic clock that moves only when told (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ------------------------------------------------------------------------------- backoff


def test_backoff_doubles_from_half_a_second_up_to_eight() -> None:
    policy = RetryPolicy()
    delays = [policy.delay_seconds(retry, random_fraction=1.0) for retry in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_takes_off_up_to_half() -> None:
    policy = RetryPolicy()
    assert policy.delay_seconds(3, random_fraction=0.0) == 1.0
    assert policy.delay_seconds(3, random_fraction=0.5) == 1.5
    assert RetryPolicy(jitter=0).delay_seconds(3, random_fraction=0.0) == 2.0


def test_retry_after_replaces_the_backoff_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_seconds=30)
    assert policy.delay_seconds(1, retry_after_seconds=0) == 0.0
    assert policy.delay_seconds(1, retry_after_seconds=12.5) == 12.5
    assert policy.delay_seconds(5, retry_after_seconds=3) == 3.0  # not the 8 s backoff
    assert policy.delay_seconds(1, retry_after_seconds=3600) == 30.0
    assert policy.delay_seconds(1, retry_after_seconds=-4) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_delay_seconds": -1},
        {"max_delay_seconds": -1},
        {"max_retry_after_seconds": -1},
        {"backoff_factor": 0.5},
        {"jitter": 1.5},
    ],
)
def test_retry_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_delay_needs_a_retry_number() -> None:
    with pytest.raises(ValueError):
        RetryPolicy().delay_seconds(0)


def test_attempt_message_ids() -> None:
    assert [attempt_message_id("msg_1", n) for n in (1, 2, 3)] == ["msg_1", "msg_1-2", "msg_1-3"]


# ------------------------------------------------------------------------------- breaker


def state(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read afresh (a function, so type checkers do not
    narrow it across calls that change it)."""
    return breaker.state


def test_breaker_opens_after_consecutive_failures_and_cools_down() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("p", failure_threshold=3, cooldown_seconds=30, clock=clock)
    for _ in range(2):
        assert breaker.try_acquire()
        breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.try_acquire()
    assert breaker.retry_in_seconds() == 30
    clock.advance(29.5)
    assert not breaker.try_acquire()
    assert breaker.retry_in_seconds() == 0.5
    clock.advance(0.5)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.retry_in_seconds() == 0


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED


def test_half_open_lets_one_trial_through_and_its_success_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.try_acquire()  # the trial
    assert not breaker.try_acquire()  # others wait while it runs
    assert breaker.retry_in_seconds() == 10
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.try_acquire()


def test_a_failed_trial_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.try_acquire()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    assert breaker.retry_in_seconds() == 10


def test_a_released_or_abandoned_trial_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.try_acquire()
    breaker.release()  # e.g. the run was cancelled mid-call
    assert breaker.try_acquire()
    clock.advance(10)  # a trial that never reports back frees its slot after a cool-down
    assert breaker.try_acquire()


def test_failures_while_open_do_not_extend_the_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10, clock=clock)
    breaker.record_failure()
    clock.advance(6)
    breaker.record_failure()  # a call that started before the breaker opened
    assert breaker.retry_in_seconds() == 4


def test_breaker_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreakers(cooldown_seconds=-1)


def test_one_breaker_per_provider_and_base_url() -> None:
    breakers = CircuitBreakers(failure_threshold=2, cooldown_seconds=5, clock=FakeClock())
    a = breakers.get("openai", "http://a/v1")
    assert breakers.get("openai", "http://a/v1") is a
    assert breakers.get("openai", "http://b/v1") is not a
    assert breakers.get("anthropic", "http://a/v1") is not a
    assert breakers.get("openai") is not a
    assert (a.failure_threshold, a.cooldown_seconds) == (2, 5)


def test_registry_breaker_for_keys_by_provider_and_base_url_option() -> None:
    breakers = CircuitBreakers(failure_threshold=2, cooldown_seconds=5, clock=FakeClock())
    registry = ProviderRegistry(breakers=breakers)
    a = registry.breaker_for("openai", {"base_url": "http://a/v1", "temperature": 0})
    assert a is breakers.get("openai", "http://a/v1")  # the process's shared breakers
    assert registry.breaker_for("openai", {"base_url": "http://a/v1"}) is a
    assert registry.breaker_for("anthropic", {"base_url": "http://a/v1"}) is not a
    default = registry.breaker_for("openai", {})
    assert default is breakers.get("openai") is not a
    assert registry.breaker_for("openai", {"base_url": 3}) is default  # not a URL: default


# ---------------------------------------------------------------------- resilient turns


@dataclass
class Fail:
    """A call that streams ``text`` (if any), then raises ``error``."""

    error: ModelError
    text: str = ""


@dataclass
class Answer:
    text: str


@dataclass
class ScriptedOutcomes:
    """A ``ModelProvider`` test double: each call plays the next outcome (the last
    one repeats) and is recorded."""

    name: str
    outcomes: list[Fail | Answer]
    requests: list[ModelRequest] = field(default_factory=list)

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Answer):
            yield TextDelta(text=outcome.text)
            yield UsageReport(usage=Usage(input_tokens=1, output_tokens=1))
            return
        if outcome.text:
            yield TextDelta(text=outcome.text)
        raise outcome.error


def unavailable(status: int = 503, retry_after: float | None = None) -> ModelError:
    return ModelError(
        f"HTTP {status}: down",
        provider="test",
        retryable=True,
        status_code=status,
        retry_after_seconds=retry_after,
    )


@dataclass
class Harness:
    """A registry with two test providers, a fake clock, and recorded sleeps and events."""

    clock: FakeClock = field(default_factory=FakeClock)
    sleeps: list[float] = field(default_factory=list)
    published: list[tuple[event_pb2.RunEvent, str]] = field(default_factory=list)
    registry: ProviderRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.registry = ProviderRegistry(
            breakers=CircuitBreakers(failure_threshold=5, cooldown_seconds=30, clock=self.clock)
        )

    def add(self, name: str, *outcomes: Fail | Answer) -> ScriptedOutcomes:
        provider = ScriptedOutcomes(name, list(outcomes))
        self.registry.register(name, provider)
        return provider

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    async def publish(self, event: event_pb2.RunEvent, key: str) -> None:
        self.published.append((event, key))

    async def turn(
        self,
        provider: str,
        *fallbacks: str,
        policy: RetryPolicy | None = None,
        first_attempt: int = 1,
    ) -> str:
        """Runs a turn; returns its message id."""
        result = await resilient_model_turn(
            self.registry,
            ModelRequest(model="primary-model", options={"base_url": "http://primary/v1"}),
            provider=provider,
            fallback_models=[
                ModelRef(provider=name, model=f"{name}-model", options={"k": name})
                for name in fallbacks
            ],
            message_id="msg",
            publish=self.publish,
            policy=policy or RetryPolicy(),
            first_attempt=first_attempt,
            sleep=self.sleep,
            random_fraction=lambda: 1.0,
        )
        return result.message.message_id

    def events(self) -> list[tuple[str, str]]:
        """(payload kind, key) of each published event."""
        return [(str(e.WhichOneof("payload")), key) for e, key in self.published]

    def text_of(self, message_id: str) -> str:
        return "".join(
            e.text_message_content.delta
            for e, _ in self.published
            if e.HasField("text_message_content")
            and e.text_message_content.message_id == message_id
        )


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    yield h
    await h.registry.aclose()


async def test_a_retryable_failure_is_retried_with_backoff(harness: Harness) -> None:
    primary = harness.add("a", Fail(unavailable()), Fail(unavailable()), Answer("hello"))
    message_id = await harness.turn("a")

    assert message_id == "msg-3"
    assert harness.sleeps == [0.5, 1.0]
    assert len(primary.requests) == 3
    assert harness.text_of("msg-3") == "hello"
    # Nothing streamed before the failures: nothing to discard; keys per attempt id.
    assert harness.events() == [
        ("text_message_start", "msg-3:0"),
        ("text_message_content", "msg-3:1"),
        ("text_message_end", "msg-3:2"),
    ]


async def test_retry_after_is_honoured_and_capped(harness: Harness) -> None:
    harness.add(
        "a", Fail(unavailable(429, retry_after=2.5)), Fail(unavailable(429, 90)), Answer("ok")
    )
    await harness.turn("a", policy=RetryPolicy(max_retry_after_seconds=30))
    assert harness.sleeps == [2.5, 30.0]


async def test_a_partly_streamed_attempt_is_discarded_before_the_next(harness: Harness) -> None:
    harness.add("a", Fail(unavailable(), text="Half an ans"), Answer("A whole answer"))
    message_id = await harness.turn("a")

    assert message_id == "msg-2"
    kinds = harness.events()
    assert kinds[:3] == [
        ("text_message_start", "msg:0"),
        ("text_message_content", "msg:1"),
        ("message_discarded", "msg:discarded"),
    ]
    assert kinds[3] == ("text_message_start", "msg-2:0")
    discarded = harness.published[2][0].message_discarded
    assert discarded.message_id == "msg"
    assert "attempt 1 failed (a/primary-model)" in discarded.reason
    assert harness.text_of("msg-2") == "A whole answer"


async def test_falls_back_when_retries_are_exhausted(harness: Harness) -> None:
    primary = harness.add("a", Fail(unavailable()))
    fallback = harness.add("b", Answer("from b"))
    message_id = await harness.turn("a", "b")

    assert len(primary.requests) == 3
    assert harness.sleeps == [0.5, 1.0]  # no wait before the fallback
    assert message_id == "msg-4"
    assert harness.text_of("msg-4") == "from b"
    # The fallback gets its own model and options; the rest of the request is the same.
    assert (fallback.requests[0].model, fallback.requests[0].options) == ("b-model", {"k": "b"})
    assert primary.requests[0].model == "primary-model"


async def test_a_non_retryable_error_fails_at_once(harness: Harness) -> None:
    bad = ModelError("HTTP 400: bad request", provider="a", retryable=False, status_code=400)
    primary = harness.add("a", Fail(bad))
    fallback = harness.add("b", Answer("never"))
    with pytest.raises(ModelError) as caught:
        await harness.turn("a", "b")
    assert caught.value is bad
    assert len(primary.requests) == 1
    assert fallback.requests == []
    assert harness.sleeps == []


async def test_every_model_unavailable_fails_with_provider_unavailable(harness: Harness) -> None:
    harness.add("a", Fail(unavailable(503, retry_after=4)))
    harness.add("b", Fail(unavailable(529, retry_after=2)))
    with pytest.raises(ModelError) as caught:
        await harness.turn("a", "b")
    error = caught.value
    assert error.retryable
    assert error.reason == "PROVIDER_UNAVAILABLE"
    assert error.provider == "a"
    assert "a/primary-model: HTTP 503: down" in error.message
    assert "b/b-model: HTTP 529: down" in error.message
    assert error.retry_after_seconds == 2  # the soonest any model may answer again
    assert harness.sleeps == [4, 4, 2, 2]


async def test_no_retry_after_when_a_model_gave_no_hint(harness: Harness) -> None:
    harness.add("a", Fail(unavailable(503, retry_after=4)))
    harness.add("b", Fail(unavailable(503)))
    with pytest.raises(ModelError) as caught:
        await harness.turn("a", "b", policy=NO_RETRIES)
    assert caught.value.retry_after_seconds is None


async def test_an_open_breaker_skips_its_model_at_once(harness: Harness) -> None:
    primary = harness.add("a", Fail(unavailable()), Fail(unavailable()), Answer("a is back"))
    fallback = harness.add("b", Answer("from b"))
    breaker = harness.registry.breaker_for("a", {"base_url": "http://primary/v1"})
    for _ in range(5):
        breaker.record_failure()

    message_id = await harness.turn("a", "b")
    assert primary.requests == []
    assert harness.sleeps == []
    assert message_id == "msg"  # the first attempt made streams under the turn's id
    assert harness.text_of("msg") == "from b"
    assert len(fallback.requests) == 1


async def test_breaker_opening_mid_retries_moves_on_without_waiting(harness: Harness) -> None:
    primary = harness.add("a", Fail(unavailable()))
    harness.add("b", Answer("from b"))
    breaker = harness.registry.breaker_for("a", {"base_url": "http://primary/v1"})
    for _ in range(4):
        breaker.record_failure()

    await harness.turn("a", "b")
    assert len(primary.requests) == 1  # the 5th failure opened the breaker
    assert harness.sleeps == []
    assert state(breaker) is BreakerState.OPEN


async def test_after_the_cooldown_one_trial_call_closes_the_breaker(harness: Harness) -> None:
    primary = harness.add("a", Answer("a is back"))
    breaker = harness.registry.breaker_for("a", {"base_url": "http://primary/v1"})
    for _ in range(5):
        breaker.record_failure()
    harness.clock.advance(30)
    assert state(breaker) is BreakerState.HALF_OPEN

    await harness.turn("a")
    assert len(primary.requests) == 1
    assert state(breaker) is BreakerState.CLOSED


async def test_only_open_breakers_everywhere_fail_fast(harness: Harness) -> None:
    primary = harness.add("a", Answer("never"))
    for _ in range(5):
        harness.registry.breaker_for("a", {"base_url": "http://primary/v1"}).record_failure()
    harness.clock.advance(12)
    with pytest.raises(ModelError) as caught:
        await harness.turn("a")
    assert primary.requests == []
    assert caught.value.retryable
    assert "circuit breaker open for 18.0 s more" in caught.value.message
    assert caught.value.retry_after_seconds == 18


async def test_a_cancelled_trial_releases_the_breaker(harness: Harness) -> None:
    called = asyncio.Event()

    class Hangs:
        async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
            called.set()
            await asyncio.Event().wait()
            yield TextDelta(text="never")

    harness.registry.register("hangs", Hangs())
    breaker = harness.registry.breaker_for("hangs", {"base_url": "http://primary/v1"})
    for _ in range(5):
        breaker.record_failure()
    harness.clock.advance(30)
    task = asyncio.create_task(harness.turn("hangs"))
    await called.wait()
    assert not breaker.try_acquire()  # the trial is running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.try_acquire()  # its slot is free again


async def test_without_retries_each_model_is_called_once_numbered_from_first_attempt(
    harness: Harness,
) -> None:
    primary = harness.add("a", Fail(unavailable(), text="partial"))
    harness.add("b", Answer("from b"))
    message_id = await harness.turn("a", "b", policy=NO_RETRIES, first_attempt=3)

    assert len(primary.requests) == 1
    assert harness.sleeps == []
    assert message_id == "msg-4"
    assert ("message_discarded", "msg-3:discarded") in harness.events()


async def test_an_unknown_fallback_provider_is_a_model_error(harness: Harness) -> None:
    harness.add("a", Fail(unavailable()))
    with pytest.raises(ModelError) as caught:
        await harness.turn("a", "nope", policy=NO_RETRIES)
    assert not caught.value.retryable
    assert "unknown model provider 'nope'" in caught.value.message
