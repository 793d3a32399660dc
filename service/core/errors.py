"""Runwire's one exception tree.

Every error a user can cause or see is a ``RunwireError`` subclass carrying a
gRPC status code, a machine-readable ``reason`` (UPPER_SNAKE, as in
``google.rpc.ErrorInfo``) and string ``metadata``. The API edge
(``service.api.errors``) maps them to ``google.rpc.Status`` once; transport
exceptions never reach callers. Reasons are documented in docs/errors.md.
"""

from __future__ import annotations

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
