"""Runwire's one exception tree.

Every error a user can cause or see is a ``RunwireError`` subclass carrying a
gRPC status code, a machine-readable ``reason`` (UPPER_SNAKE, as in
``google.rpc.ErrorInfo``) and string ``metadata``. The API edge
(``runwire_server.service.api.errors``) maps them to ``google.rpc.Status`` once; transport
exceptions never reach callers. Every reason is a value name of the
``runwire.v1.ErrorReason`` enum (proto/runwire/v1/error_reason.proto), as
tests/unit/test_error_reasons.py checks; docs/errors.md has the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import grpc

#: The ``google.rpc.ErrorInfo.domain`` of every Runwire error.
ERROR_DOMAIN = "runwire.dev"


class RunwireError(Exception):
    """Root of Runwire's errors.

    Attributes:
        message: Human-readable text, safe to show to callers.
        reason: Machine-readable cause, UPPER_SNAKE (``ErrorInfo.reason``).
        metadata: Extra string facts (ids, limits) for ``ErrorInfo.metadata``.
        code: The gRPC status code this error maps to.
    """

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    default_reason = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgumentError(RunwireError):
    """The request is malformed. ``field_violations`` maps field paths
    (``agent.limits.max_iterations``) to what is wrong with them."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "INVALID_ARGUMENT"

    def __init__(
        self,
        message: str,
        *,
        field_violations: Mapping[str, str] | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        self.field_violations: dict[str, str] = dict(field_violations or {})


class NotFoundError(RunwireError):
    """An id names nothing (``AGENT_NOT_FOUND``, ``RUN_NOT_FOUND`` ...)."""

    code = grpc.StatusCode.NOT_FOUND
    default_reason = "NOT_FOUND"


class AlreadyExistsError(RunwireError):
    """An id is taken (``AGENT_ALREADY_EXISTS``, ``THREAD_ALREADY_EXISTS``)."""

    code = grpc.StatusCode.ALREADY_EXISTS
    default_reason = "ALREADY_EXISTS"


class FailedPreconditionError(RunwireError):
    """The target is not in a state that allows the call
    (``APPROVAL_ALREADY_RESOLVED``, ``TOOL_CALL_NOT_PENDING`` ...)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "FAILED_PRECONDITION"


class AbortedError(RunwireError):
    """A concurrency conflict (``THREAD_BUSY``, ``ETAG_MISMATCH``); retry later."""

    code = grpc.StatusCode.ABORTED
    default_reason = "ABORTED"


class OutOfRangeError(RunwireError):
    """A cursor is outside what is kept (``SEQUENCE_OUT_OF_RANGE``)."""

    code = grpc.StatusCode.OUT_OF_RANGE
    default_reason = "OUT_OF_RANGE"


class UnavailableError(RunwireError):
    """A runtime or the server cannot take the call now (``RUNTIME_UNAVAILABLE``,
    ``DRAINING``); retry elsewhere or later."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "UNAVAILABLE"


class DeadlineExceededError(RunwireError):
    """A wait ran out of time (``TIMEOUT``)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "TIMEOUT"


class UnauthenticatedError(RunwireError):
    """No credentials, or credentials the server does not accept
    (``UNAUTHENTICATED``, ``TOKEN_EXPIRED``, ``TOKEN_INVALID``)."""

    code = grpc.StatusCode.UNAUTHENTICATED
    default_reason = "UNAUTHENTICATED"


class PermissionDeniedError(RunwireError):
    """The caller is known but may not do this (``PERMISSION_DENIED``; metadata
    ``permission`` names what is missing)."""

    code = grpc.StatusCode.PERMISSION_DENIED
    default_reason = "PERMISSION_DENIED"


class ResourceExhaustedError(RunwireError):
    """A quota or size limit is reached (``QUOTA_EXCEEDED``). ``subject`` and
    ``limit`` name it for ``google.rpc.QuotaFailure``; ``metadata`` has
    ``limit`` (its setting) and ``value`` (its size)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "QUOTA_EXCEEDED"

    def __init__(
        self,
        message: str,
        *,
        subject: str,
        limit: str,
        value: int,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata={"limit": limit, "value": str(value)})
        self.subject = subject
        self.limit = limit


#: Longest text ``safe_error_text`` returns, in characters.
MAX_ERROR_MESSAGE_CHARS = 300

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#]+@")
_URL_QUERY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s?#]*)\?[^\s#]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;\"']+")
#: Secret keys by their common prefixes (``sk-``, ``sk-ant-``, ``sk_live_``, ``rk_``).
_KEY_LIKE = re.compile(r"\b(?:sk|rk)[-_][A-Za-z0-9_-]{16,}")
_NAMED_SECRET = re.compile(
    r"(?i)\b([a-z0-9_-]*(?:api[_-]?keys?|token|secret|password|passwd|credentials?))"
    r"([\"']?\s*[:=]\s*[\"']?)[^\s,;\"'&]+"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")


def safe_error_text(text: str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
    """``text`` made fit for an error message, an event or a log line.

    Credentials are replaced with ``[redacted]``: the user and password of a
    URL, its query string, ``Bearer``/``Basic`` credentials, key-like words
    (``sk-…``) and values of ``api_key=``/``token:``/``secret``/``password``
    pairs. Control characters and runs of white space become one space; the
    result is cut to ``limit`` characters (the last one ``…`` when cut).

    This is a last line of defence for texts Runwire writes itself; text
    from outside (an upstream response body, an exception's text) should not
    be put in a message at all.
    """
    text = _URL_USERINFO.sub(r"\1[redacted]@", text)
    text = _URL_QUERY.sub(r"\1?[redacted]", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    text = _NAMED_SECRET.sub(r"\1\2[redacted]", text)
    text = _KEY_LIKE.sub("[redacted]", text)
    text = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
