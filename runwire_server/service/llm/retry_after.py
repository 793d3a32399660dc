"""The server's retry hint of an HTTP error response, in seconds.

One parser for every HTTP provider. It reads, in order:

* ``retry-after-ms``: milliseconds, a non-negative finite number (OpenAI's and
  Anthropic's APIs send it beside ``retry-after``);
* ``retry-after`` (RFC 9110, section 10.2.3): delta-seconds (a non-negative finite
  number; decimals are accepted) or an HTTP date in GMT, measured from now (0 when
  already past).

A header that does not parse (negative, not finite, not a number or a GMT date) is
skipped, so the caller falls back to its own backoff.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

__all__ = ["retry_after_seconds"]


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The server's retry hint from response headers, in seconds.

    Args:
        headers: Response headers. Lookups must be case-insensitive for real
            responses: pass an ``httpx.Headers``, or a dict with lower-case keys.
        now: The current time for HTTP dates, seconds since the Unix epoch;
            default ``time.time()``.

    Returns:
        Seconds to wait (>= 0, finite), or None when no header gives a usable hint.
    """
    millis = _non_negative_number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _non_negative_number(value)
    if seconds is not None:
        return seconds
    return _seconds_until(value, time.time() if now is None else now)


def _non_negative_number(value: str | None) -> float | None:
    """``value`` as a non-negative finite number, or None when it is not one."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _seconds_until(value: str, now: float) -> float | None:
    """Seconds from ``now`` until the HTTP date ``value`` (0 when past); None when
    ``value`` is not a date with a time zone (RFC 9110 dates are GMT)."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)
