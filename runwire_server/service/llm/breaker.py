"""Circuit breakers for model endpoints, one per (provider, endpoint).

A breaker stops calling an endpoint that keeps failing, so a run falls back
to its next model at once instead of waiting out retries against a dead
endpoint:

* **closed**: calls go through; ``failure_threshold`` consecutive retryable
  failures open it.
* **open**: calls are refused for ``cooldown_seconds``.
* **half-open**: after the cool-down, one trial call goes through (others are
  refused while it runs); its success closes the breaker, its failure opens
  it for another cool-down. A trial that never reports back (cancelled, or
  hung) frees its slot after ``cooldown_seconds``, so a breaker never stays
  stuck.

Only *retryable* failures (HTTP 408/409/429/5xx, timeouts, connection
errors) count; an endpoint that answers, even with a non-retryable error,
is reachable and counts as a success. Breakers live in one process (the
service, or a worker) and are shared by all its runs; a process keeps at most
``max_breakers`` of them (closed ones without failures are forgotten first).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from enum import StrEnum

logger = logging.getLogger(__name__)

#: Consecutive retryable failures that open a breaker, by default.
DEFAULT_FAILURE_THRESHOLD = 5
#: How long an open breaker refuses calls before a trial call, by default (seconds).
DEFAULT_COOLDOWN_SECONDS = 30.0

#: Breakers a process keeps, by default (one per provider and endpoint called).
DEFAULT_MAX_BREAKERS = 1024

#: A monotonic clock in seconds (``time.monotonic``; injectable for tests).
Clock = Callable[[], float]


class BreakerState(StrEnum):
    """Where a breaker is in its cycle."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """The breaker of one endpoint. Not thread-safe: use it from one event loop."""

    def __init__(
        self,
        name: str = "",
        *,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        clock: Clock = time.monotonic,
    ) -> None:
        """Creates a closed breaker.

        Args:
            name: What it guards, for logs (e.g. ``openai http://host/v1``).
            failure_threshold: Consecutive retryable failures that open it (>= 1).
            cooldown_seconds: How long it stays open before a trial call (>= 0).
            clock: Monotonic time in seconds.

        Raises:
            ValueError: ``failure_threshold`` < 1 or ``cooldown_seconds`` < 0.
        """
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, not {failure_threshold}")
        if cooldown_seconds < 0:
            raise ValueError(f"cooldown_seconds must be >= 0, not {cooldown_seconds}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_started: float | None = None

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker turns half-open when its cool-down ends)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self.cooldown_seconds:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def retry_in_seconds(self) -> float:
        """Seconds until a call may go through again: 0 when one may now; the rest
        of the cool-down when open; when half-open with a trial running, until
        that trial's slot expires."""
        now = self._clock()
        state = self.state
        if state is BreakerState.OPEN and self._opened_at is not None:
            return max(0.0, self._opened_at + self.cooldown_seconds - now)
        if state is BreakerState.HALF_OPEN and self._trial_running(now):
            assert self._trial_started is not None
            return max(0.0, self._trial_started + self.cooldown_seconds - now)
        return 0.0

    def try_acquire(self) -> bool:
        """Asks to make a call; True when it may go through.

        Closed: always. Open: never. Half-open: True for the one trial call (the
        caller must then report ``record_success``, ``record_failure`` or
        ``release``), False while that trial runs.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        now = self._clock()
        if self._trial_running(now):
            return False
        self._trial_started = now
        logger.info("circuit breaker %s half-open: trial call", self.name)
        return True

    def record_success(self) -> None:
        """The endpoint answered (also with a non-retryable error): closes the breaker."""
        if self._opened_at is not None:
            logger.info("circuit breaker %s closed", self.name)
        self._failures = 0
        self._opened_at = None
        self._trial_started = None

    def record_failure(self) -> None:
        """A call failed retryably: counts towards opening; a failed trial re-opens."""
        state = self.state
        if state is BreakerState.OPEN:
            return  # a call that started before the breaker opened: already counted
        if state is BreakerState.HALF_OPEN:
            self._open("trial call failed")
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open(f"{self._failures} consecutive failures")

    @property
    def idle(self) -> bool:
        """Closed with no failure counted: forgetting it loses nothing."""
        return self._opened_at is None and self._failures == 0 and self._trial_started is None

    def release(self) -> None:
        """A permitted call ended without a verdict (e.g. cancelled): frees the trial slot."""
        self._trial_started = None

    def _trial_running(self, now: float) -> bool:
        return self._trial_started is not None and now - self._trial_started < self.cooldown_seconds

    def _open(self, why: str) -> None:
        self._failures = 0
        self._opened_at = self._clock()
        self._trial_started = None
        logger.warning(
            "circuit breaker %s open for %g s (%s)", self.name, self.cooldown_seconds, why
        )


class CircuitBreakers:
    """The breakers of one process, created on first use per (provider, endpoint).

    At most ``max_breakers`` are kept: past that, the least recently used idle one
    (closed, no failure counted) is forgotten, or, when none is idle, the least
    recently used one.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        clock: Clock = time.monotonic,
        max_breakers: int = DEFAULT_MAX_BREAKERS,
    ) -> None:
        """Configures the breakers to come (see ``CircuitBreaker``).

        Raises:
            ValueError: ``failure_threshold`` < 1, ``cooldown_seconds`` < 0 or
                ``max_breakers`` < 1.
        """
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, not {failure_threshold}")
        if cooldown_seconds < 0:
            raise ValueError(f"cooldown_seconds must be >= 0, not {cooldown_seconds}")
        if max_breakers < 1:
            raise ValueError(f"max_breakers must be >= 1, not {max_breakers}")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self.max_breakers = max_breakers
        self._clock = clock
        self._breakers: OrderedDict[tuple[str, str], CircuitBreaker] = OrderedDict()

    def __len__(self) -> int:
        """The number of breakers kept."""
        return len(self._breakers)

    def get(self, provider: str, base_url: str = "") -> CircuitBreaker:
        """The breaker of ``provider`` at ``base_url``: "" for the provider's default
        endpoint; a base URL, or ``endpoint:NAME`` for a configured endpoint."""
        key = (provider, base_url)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = CircuitBreaker(
                f"{provider} {base_url or '(default URL)'}",
                failure_threshold=self.failure_threshold,
                cooldown_seconds=self.cooldown_seconds,
                clock=self._clock,
            )
            self._forget_beyond_limit(room_for=1)
            self._breakers[key] = breaker
        self._breakers.move_to_end(key)
        return breaker

    def _forget_beyond_limit(self, *, room_for: int) -> None:
        while self._breakers and len(self._breakers) + room_for > self.max_breakers:
            idle = next((k for k, b in self._breakers.items() if b.idle), None)
            if idle is not None:
                del self._breakers[idle]
            else:
                self._breakers.popitem(last=False)
