"""Opaque page tokens (AIP-158): base64url of a small JSON cursor; cutting pages."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from runwire_server.service.core.errors import InvalidArgumentError

T = TypeVar("T")

#: Page size used when a request leaves ``page_size`` at 0.
DEFAULT_PAGE_SIZE = 100

#: Index entries a filtered listing of a Redis store reads per call at most
#: (``redis_index.RedisIndex``): past it, the page ends early with a token to go on.
MAX_SCANNED_PER_PAGE = 2_000

#: Longest page token accepted, in characters; longer ones are refused unread
#: (``INVALID_PAGE_TOKEN``). A token holds one id of at most a few hundred characters.
MAX_PAGE_TOKEN_CHARS = 1024

#: The base64url alphabet, unpadded (``encode_token`` strips the padding).
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def page_size(requested: int) -> int:
    """``requested`` or ``DEFAULT_PAGE_SIZE`` when 0 (the contract bounds it to 0..1,000)."""
    return requested or DEFAULT_PAGE_SIZE


def encode_token(cursor: str) -> str:
    """Wraps a cursor (the last key of a page) into an opaque token."""
    raw = json.dumps({"after": cursor}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid_token() -> InvalidArgumentError:
    return InvalidArgumentError(
        "page_token is not a token returned by this API",
        field_violations={"page_token": "not a token returned by a previous response"},
        reason="INVALID_PAGE_TOKEN",
    )


def decode_token(token: str) -> str | None:
    """The cursor inside ``token``; ``None`` for an empty token.

    A token longer than ``MAX_PAGE_TOKEN_CHARS`` is refused before it is
    decoded; the rest are checked strictly (base64url alphabet, one JSON
    object ``{"after": <printable string>}``), so no input, of any size or
    nesting, costs more than a token of that size.

    Raises:
        InvalidArgumentError: the token was not made by ``encode_token``
            (field ``page_token``, reason ``INVALID_PAGE_TOKEN``).
    """
    if not token:
        return None
    if len(token) > MAX_PAGE_TOKEN_CHARS or not _TOKEN_CHARS.fullmatch(token):
        raise _invalid_token()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)
        cursor = value["after"] if isinstance(value, dict) and len(value) == 1 else None
    # RecursionError: JSON nested deeper than the parser's stack (``[[[[...]]]]``).
    except (binascii.Error, ValueError, RecursionError, KeyError) as exc:
        raise _invalid_token() from exc
    # Cursors are ids: printable text (no control characters, no lone surrogates,
    # which no store could encode).
    if not isinstance(cursor, str) or not cursor.isprintable():
        raise _invalid_token()
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
        raise _invalid_token()
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
