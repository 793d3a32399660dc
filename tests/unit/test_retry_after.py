"""The one retry-after parser of the HTTP providers (``runwire_server.service.llm.retry_after``)."""

from __future__ import annotations

import email.utils

import httpx2
import pytest

from runwire_server.service.llm.retry_after import retry_after_seconds

NOW = 1_700_000_000.0


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(NOW + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        # delta-seconds, decimals accepted
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "2.5"}, 2.5),
        # HTTP dates (GMT), measured from now; a past date means now
        ({"retry-after": http_date(120)}, 120.0),
        ({"retry-after": http_date(-60)}, 0.0),
        # retry-after-ms wins over retry-after, unless it is unusable
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after-ms": "-5", "retry-after": "9"}, 9.0),
        ({"retry-after-ms": "nan", "retry-after": http_date(3)}, 3.0),
        # malformed values give no hint: the caller's own backoff decides
        ({"retry-after": ""}, None),
        ({"retry-after": "later"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:20 -0000"}, None),  # no time zone
        ({"retry-after": "Tue, 99 Nov 2023 25:13:20 GMT"}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == expected


def test_header_names_are_case_insensitive_with_sdk_headers() -> None:
    headers = httpx2.Headers({"Retry-After-Ms": "100", "Retry-After": "9"})
    assert retry_after_seconds(headers, now=NOW) == 0.1
    assert retry_after_seconds(httpx2.Headers({"RETRY-AFTER": http_date(30)}), now=NOW) == 30.0


def test_http_dates_are_measured_from_the_clock_by_default() -> None:
    when = email.utils.formatdate(None, usegmt=True)  # now, to the second
    seconds = retry_after_seconds({"retry-after": when})
    assert seconds is not None
    assert 0.0 <= seconds <= 1.0
