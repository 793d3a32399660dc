"""What a failed call says: its ``google.rpc.Status`` details, and one line for users.

Runwire puts a ``google.rpc.Status`` in every error it returns (the
``grpc-status-details-bin`` trailer), with an ``ErrorInfo`` (reason, domain
``runwire.dev``, metadata) and, for INVALID_ARGUMENT, a ``BadRequest`` with
field violations. Errors raised by the channel itself (UNAVAILABLE when nothing
listens, DEADLINE_EXCEEDED) carry none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

__all__ = [
    "StatusDetails",
    "StreamBrokenError",
    "code_name",
    "describe_rpc_error",
    "status_details",
]


class StreamBrokenError(Exception):
    """A run's event stream ended or broke before its terminal event, and resuming failed."""


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
