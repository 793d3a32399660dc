"""Opaque page tokens (AIP-158): base64url of a small JSON cursor; cutting pages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from service.core.errors import InvalidArgumentError

T = TypeVar("T")

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


def cut_page(
    matches: Sequence[T], *, page_size: int, id_of: Callable[[T], str]
) -> tuple[list[T], str]:
    """The first ``page_size`` of ``matches`` and the token of the next page.

    Args:
        matches: Records in listing order after the cursor, already filtered;
            one more than ``page_size`` is enough to tell that a next page exists.
        page_size: Records per page at most (>= 1).
        id_of: A record's id, the cursor of the next page.

    Returns:
        The page, and a token naming its last record ("" when nothing follows).
    """
    page = list(matches[:page_size])
    return page, encode_token(id_of(page[-1])) if len(matches) > page_size else ""


def page_after(
    ordered: Sequence[T],
    *,
    page_size: int,
    page_token: str,
    id_of: Callable[[T], str],
    keep: Callable[[T], bool],
) -> tuple[list[T], str]:
    """A page of the records ``keep`` accepts, after the token's cursor (memory stores).

    Args:
        ordered: Every record, in listing order.
        page_size: Records per page at most (>= 1).
        page_token: "" for the first page, else a token this function returned.
        id_of: A record's id.
        keep: Which records to list.

    Returns:
        The page and the next page token ("" at the end). A cursor naming no
        record of ``ordered`` (it was dropped) ends the listing.

    Raises:
        InvalidArgumentError: a malformed ``page_token`` (``INVALID_PAGE_TOKEN``).
    """
    after = decode_token(page_token)
    if after is not None:
        ids = [id_of(r) for r in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    return cut_page([r for r in ordered if keep(r)], page_size=page_size, id_of=id_of)
