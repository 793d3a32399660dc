"""What a failed call says: its ``google.rpc.Status`` details, and one line for users.

Runwire puts a ``google.rpc.Status`` in every error it returns (the
``grpc-status-details-bin`` trailer), with an ``ErrorInfo`` (reason, domain
``runwire.dev``, metadata) and, for INVALID_ARGUMENT, a ``BadRequest`` with
field violations. Errors raised by the channel itself (UNAVAILABLE when nothing
listens, DEADLINE_EXCEEDED) carry none.

The reasons are the value names of the generated ``runwire.v1.ErrorReason`` enum
(exported as ``runwire.ErrorReason``): ``ErrorInfo.reason`` "AGENT_NOT_FOUND" is
``ErrorReason.AGENT_NOT_FOUND``, and ``ErrorReason.Name(value)`` gives the string back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from runwire.v1.error_reason_pb2 import ErrorReason

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "DataLossError",
    "DeadlineExceededError",
    "ErrorReason",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "RpcCancelledError",
    "RunwireError",
    "StatusDetails",
    "StreamBrokenError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnknownError",
    "code_name",
    "describe_rpc_error",
    "error_class",
    "error_from_rpc",
    "reason_value",
    "status_details",
]

#: ``ErrorInfo.domain`` of the errors a Runwire server sends.
RUNWIRE_DOMAIN = "runwire.dev"


def reason_value(reason: str, domain: str = RUNWIRE_DOMAIN) -> ErrorReason:
    """An ``ErrorInfo.reason`` string as its ``ErrorReason`` value.

    Args:
        reason: The reason (``"AGENT_NOT_FOUND"``).
        domain: ``ErrorInfo.domain``; "" is taken as Runwire's.

    Returns:
        The value of that name (``ErrorReason.AGENT_NOT_FOUND``);
        ``ErrorReason.ERROR_REASON_UNSPECIFIED`` for "", for another domain's
        reason, and for a reason this client does not know (a newer server's).
    """
    if domain not in ("", RUNWIRE_DOMAIN) or reason not in ErrorReason.DESCRIPTOR.values_by_name:
        return ErrorReason.ERROR_REASON_UNSPECIFIED
    return cast(ErrorReason, ErrorReason.Value(reason))


@dataclass(frozen=True)
class StatusDetails:
    """The status of a failed call, its details unpacked.

    Attributes:
        code: The gRPC status code.
        message: The status message.
        reason: ``ErrorInfo.reason`` (``AGENT_NOT_FOUND`` ...); "" without an ``ErrorInfo``.
        domain: ``ErrorInfo.domain`` (``runwire.dev``); "" without an ``ErrorInfo``.
        metadata: ``ErrorInfo.metadata``.
        field_violations: ``BadRequest.field_violations``, field path -> description.
        quota_violations: ``QuotaFailure.violations``, subject -> description.
        from_server: True when the call carried a ``google.rpc.Status`` (the server
            answered); False for errors the channel raised by itself.
    """

    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: dict[str, str] = field(default_factory=dict)
    quota_violations: dict[str, str] = field(default_factory=dict)
    from_server: bool = False


def status_details(error: grpc.aio.AioRpcError) -> StatusDetails:
    """Unpacks the ``google.rpc.Status`` of a failed call.

    Args:
        error: The exception a call raised.

    Returns:
        Its code, message, ``ErrorInfo`` and ``BadRequest`` field violations; a call
        without a ``google.rpc.Status`` gives its code and details only.
    """
    try:
        status = rpc_status.from_call(error)
    except ValueError:  # a status trailer that contradicts the call's code or message
        status = None
    if status is None:
        return StatusDetails(code=error.code(), message=str(error.details() or ""))
    info = error_details_pb2.ErrorInfo()
    bad = error_details_pb2.BadRequest()
    quota = error_details_pb2.QuotaFailure()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(bad.DESCRIPTOR):
            detail.Unpack(bad)
        elif detail.Is(quota.DESCRIPTOR):
            detail.Unpack(quota)
    return StatusDetails(
        code=error.code(),
        message=str(status.message),
        reason=str(info.reason),
        domain=str(info.domain),
        metadata=dict(info.metadata),
        field_violations={v.field: v.description for v in bad.field_violations},
        quota_violations={v.subject: v.description for v in quota.violations},
        from_server=True,
    )


def code_name(code: int) -> str:
    """The name of a numeric gRPC status code (``5`` -> ``NOT_FOUND``); unknown
    codes are returned as digits."""
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return str(status.name)
    return str(code)


_UNREACHABLE = (
    # TLS first: their details also name the connection attempt.
    ("hostname verification", "TLS: the server's certificate does not name this host"),
    ("certificate_verify_failed", "TLS: the server's certificate is not signed by a trusted CA"),
    ("wrong_version_number", "TLS handshake failed: the server does not speak TLS"),
    ("handshake failed", "TLS handshake failed"),
    ("connection refused", "connection refused"),
    ("no such file or directory", "no such socket file"),
    ("permission denied", "permission denied"),
    ("domain name not found", "unknown host"),
    ("lookup", "unknown host"),
    ("timed out", "connection timed out"),
    ("deadline", "connection timed out"),
    ("connection reset", "connection reset"),
    ("socket closed", "connection closed"),
)


def _unreachable_because(details: str) -> str:
    lowered = details.lower()
    for needle, why in _UNREACHABLE:
        if needle in lowered:
            return why
    return details or "unavailable"


def describe_rpc_error(error: grpc.aio.AioRpcError, address: str) -> str:
    """One line about a failed call, for a terminal or a log.

    Args:
        error: The exception a call raised.
        address: The server's address, as the channel was opened.

    Returns:
        ``cannot reach Runwire at ADDRESS: WHY`` when the server could not be
        reached (UNAVAILABLE without an ``ErrorInfo``), else
        ``CODE: MESSAGE (reason REASON)`` (no parenthesis without a reason).
    """
    code = error.code()
    details = str(error.details() or "")
    reason = status_details(error).reason
    if code == grpc.StatusCode.UNAVAILABLE and not reason:
        return f"cannot reach Runwire at {address}: {_unreachable_because(details)}"
    line = f"{code.name}: {details}"
    return f"{line} (reason {reason})" if reason else line


# --------------------------------------------------------------------------- typed errors


class RunwireError(Exception):
    """A call failed: the gRPC status and its ``google.rpc.ErrorInfo``, unpacked.

    Every method of ``runwire.Client`` and ``runwire.AsyncClient`` raises a
    subclass of this class, one per gRPC code (``NotFoundError``,
    ``InvalidArgumentError`` ...), built from the call's ``google.rpc.Status``
    by ``error_from_rpc``; the original ``grpc.aio.AioRpcError`` is its
    ``__cause__``.

    Attributes:
        code: The gRPC status code.
        message: The status message.
        reason: ``ErrorInfo.reason`` (``AGENT_NOT_FOUND``, ``DRAINING`` ...); ""
            when the error did not come from a Runwire server. Every reason a
            server sends is a value name of ``runwire.ErrorReason``; compare
            with ``error.reason == "AGENT_NOT_FOUND"`` or
            ``error.reason_enum == ErrorReason.AGENT_NOT_FOUND``.
        domain: ``ErrorInfo.domain`` (``runwire.dev``) or "".
        metadata: ``ErrorInfo.metadata`` (``run_id``, ``last_sequence`` ...).
        details: Everything the status carried (field and quota violations too).
    """

    #: The code of errors of this class when none is given.
    default_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str = "",
        domain: str = "",
        metadata: dict[str, str] | None = None,
        details: StatusDetails | None = None,
    ) -> None:
        super().__init__(message)
        self.code: grpc.StatusCode = code if code is not None else self.default_code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata: dict[str, str] = dict(metadata or {})
        self.details = details or StatusDetails(
            code=self.code,
            message=message,
            reason=reason,
            domain=domain,
            metadata=dict(self.metadata),
        )

    @property
    def field_violations(self) -> dict[str, str]:
        """``BadRequest`` field violations: field path -> description."""
        return self.details.field_violations

    @property
    def quota_violations(self) -> dict[str, str]:
        """``QuotaFailure`` violations: subject -> description."""
        return self.details.quota_violations

    @property
    def reason_enum(self) -> ErrorReason:
        """``reason`` as a ``runwire.ErrorReason`` value (``ErrorReason.AGENT_NOT_FOUND``
        ...); ``ErrorReason.ERROR_REASON_UNSPECIFIED`` when there is no reason or
        this client does not know it (``reason`` still has the string)."""
        return reason_value(self.reason, self.domain)

    @property
    def from_server(self) -> bool:
        """True when a Runwire server sent the status (it carried a ``google.rpc.Status``)."""
        return self.details.from_server

    def __str__(self) -> str:
        line = f"{self.code.name}: {self.message}"
        return f"{line} (reason {self.reason})" if self.reason else line

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code.name}, reason={self.reason!r}, message={self.message!r})"


class RpcCancelledError(RunwireError):
    """CANCELLED: the call was cancelled (by the client, or the server went away)."""

    default_code = grpc.StatusCode.CANCELLED


class UnknownError(RunwireError):
    """UNKNOWN."""

    default_code = grpc.StatusCode.UNKNOWN


class InvalidArgumentError(RunwireError):
    """INVALID_ARGUMENT: a malformed request; ``field_violations`` names the fields."""

    default_code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceededError(RunwireError):
    """DEADLINE_EXCEEDED: the call's deadline passed."""

    default_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFoundError(RunwireError):
    """NOT_FOUND: an unknown agent, run, approval or thread (or another tenant's)."""

    default_code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(RunwireError):
    """ALREADY_EXISTS: the id is taken."""

    default_code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDeniedError(RunwireError):
    """PERMISSION_DENIED: the caller's roles do not allow the call."""

    default_code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhaustedError(RunwireError):
    """RESOURCE_EXHAUSTED: a quota or limit; ``quota_violations`` names it."""

    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(RunwireError):
    """FAILED_PRECONDITION: the target is not in a state that allows the call."""

    default_code = grpc.StatusCode.FAILED_PRECONDITION


class AbortedError(RunwireError):
    """ABORTED: a conflict (an etag mismatch, a busy thread)."""

    default_code = grpc.StatusCode.ABORTED


class OutOfRangeError(RunwireError):
    """OUT_OF_RANGE: a cursor past the end of an ended run (``SEQUENCE_OUT_OF_RANGE``)."""

    default_code = grpc.StatusCode.OUT_OF_RANGE


class UnimplementedError(RunwireError):
    """UNIMPLEMENTED."""

    default_code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(RunwireError):
    """INTERNAL."""

    default_code = grpc.StatusCode.INTERNAL


class UnavailableError(RunwireError):
    """UNAVAILABLE: the server cannot be reached, is draining (reason ``DRAINING``)
    or its runtime is down; safe to retry."""

    default_code = grpc.StatusCode.UNAVAILABLE


class DataLossError(RunwireError):
    """DATA_LOSS."""

    default_code = grpc.StatusCode.DATA_LOSS


class UnauthenticatedError(RunwireError):
    """UNAUTHENTICATED: no token, or one the server does not accept."""

    default_code = grpc.StatusCode.UNAUTHENTICATED


class StreamBrokenError(UnavailableError):
    """A run's event stream ended or broke before its terminal event, and resuming failed.

    Its ``str`` is the message alone (as before it was a ``RunwireError``).
    """

    def __str__(self) -> str:
        return self.message


_ERROR_CLASSES: dict[grpc.StatusCode, type[RunwireError]] = {
    cls.default_code: cls
    for cls in (
        RpcCancelledError,
        UnknownError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
        UnauthenticatedError,
    )
}


def error_class(code: grpc.StatusCode) -> type[RunwireError]:
    """The ``RunwireError`` subclass of a gRPC code (``RunwireError`` for OK or an unknown one)."""
    return _ERROR_CLASSES.get(code, RunwireError)


def error_from_rpc(error: grpc.aio.AioRpcError) -> RunwireError:
    """The typed error of a failed call (its ``google.rpc.Status`` unpacked).

    Args:
        error: The exception a ``grpc.aio`` call raised.

    Returns:
        An instance of the subclass for the call's code (``NotFoundError`` ...),
        with reason, domain, metadata and details; not raised, and without a
        ``__cause__`` (``raise error_from_rpc(exc) from exc`` sets it).
    """
    details = status_details(error)
    return error_class(details.code)(
        details.message,
        code=details.code,
        reason=details.reason,
        domain=details.domain,
        metadata=details.metadata,
        details=details,
    )
