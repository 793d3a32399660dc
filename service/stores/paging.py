"""Opaque page tokens (AIP-158): base64url of a small JSON cursor."""

from __future__ import annotations

import base64
import binascii
import json

from service.core.errors import InvalidArgumentError

#: Page size used when a request leaves ``page_size`` at 0.
DEFAULT_PAGE_SIZE = 100


def page_size(requested: int) -> int:
    """``requested`` or ``DEFAULT_PAGE_SIZE`` when 0 (the contract bounds it to 0..1,000)."""
    return requested or DEFAULT_PAGE_SIZE


def encode_token(cursor: str) -> str:
    """Wraps a cursor (the last key of a page) into an opaque token."""
    raw = json.dumps({"after": cursor}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> str | None:
    """The cursor inside ``token``; ``None`` for an empty token.

    Raises:
        InvalidArgumentError: the token was not made by ``encode_token``
            (field ``page_token``, reason ``INVALID_PAGE_TOKEN``).
    """
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        cursor = value["after"]
        if not isinstance(cursor, str):
            raise TypeError(cursor)
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidArgumentError(
            "page_token is not a token returned by this API",
            field_violations={"page_token": "not a token returned by a previous response"},
            reason="INVALID_PAGE_TOKEN",
        ) from exc
    return cursor


def decode_int_token(token: str) -> int | None:
    """The non-negative integer cursor (a sequence or an offset) inside ``token``.

    Raises:
        InvalidArgumentError: not a token with an integer cursor (``INVALID_PAGE_TOKEN``).
    """
    cursor = decode_token(token)
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise InvalidArgumentError(
            "page_token is not a token returned by this API",
            field_violations={"page_token": "not a token returned by a previous response"},
            reason="INVALID_PAGE_TOKEN",
        )
    return int(cursor)
