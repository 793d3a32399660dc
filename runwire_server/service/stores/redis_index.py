"""Record ids in a Redis sorted set, listed a page at a time.

Every Redis store that lists its records (agents, runs, approvals) keeps their
ids in one sorted set and pages through it with ``RedisIndex``, so the scan,
the filters, skipping vanished records and the page tokens are written once.
Two orders (``IndexOrder``):

- ``BY_ID``: ids with score 0, ascending (``ZRANGEBYLEX``: byte order, which
  for UTF-8 is code point order, as the memory stores' ``sorted``). Any id is
  a cursor: a page token naming a deleted record goes on after it.
- ``NEWEST_FIRST``: ids scored by first-add order from the counter key
  ``<index>:counter`` (``INCR``), listed newest first; an id added again keeps
  its place. A page token naming an id no longer in the index ends the listing
  (as with the memory stores' eviction).

A page token holds the last id of its page (``paging.encode_token``). A
filtered listing reads at most ``max_scan`` index entries per call (or
``page_size + 1`` when more): when that many are read before the page is
full, the page holds the matches found so far (maybe none) and its token names
the last entry read, so each call costs a bounded number of round trips
however rare the matches are, and the next call goes on where this one
stopped. An id is
added by the store's own Lua script, in one step with its record
(``IndexOrder.lua_add``), and removed by ``remove`` in the store's transaction
or, for records that expire, while listing (``records_expire``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import redis.asyncio as redis
from redis.asyncio.client import Pipeline

from runwire_server.service.stores.paging import (
    MAX_SCANNED_PER_PAGE,
    cut_page,
    decode_token,
    encode_token,
)

T = TypeVar("T")


class IndexOrder(enum.Enum):
    """How an index orders its ids (see the module docstring)."""

    BY_ID = "by_id"
    NEWEST_FIRST = "newest_first"

    def lua_add(self, *, keys_at: int, member: str) -> str:
        """A Lua statement that adds an id to the index, for a store's script.

        Args:
            keys_at: Where the script's ``KEYS`` hold ``RedisIndex.keys``
                (``KEYS[keys_at]`` is the sorted set, the counter follows).
            member: The Lua expression of the id, e.g. ``ARGV[1]``.

        Returns:
            Lua text; a no-op for an id already in the index.
        """
        index = f"KEYS[{keys_at}]"
        if self is IndexOrder.BY_ID:
            return f"redis.call('ZADD', {index}, 0, {member})"
        counter = f"KEYS[{keys_at + 1}]"
        return (
            f"if not redis.call('ZSCORE', {index}, {member}) then\n"
            f"  redis.call('ZADD', {index}, redis.call('INCR', {counter}), {member})\n"
            "end"
        )


class RedisIndex(Generic[T]):
    """The ids of one record type in a sorted set, and the listing of their records.

    Args:
        client: A ``redis.asyncio.Redis`` with ``decode_responses=False``.
        key: The sorted set's key (a ``NEWEST_FIRST`` counter is ``<key>:counter``).
        order: How ids are ordered.
        record_key: The key of an id's record.
        record_field: The hash field holding the serialized record; ``None``
            when the record key is a string.
        parse: Builds a record from its serialized bytes.
        records_expire: Records leave by expiry rather than by ``remove``:
            entries whose record is gone are removed while listing.
        scan_batch: Index entries read per round trip when listing with a filter.
        max_scan: Index entries a filtered listing reads per call at most
            (at least ``page_size + 1``).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        key: str,
        order: IndexOrder,
        record_key: Callable[[str], str],
        record_field: str | None,
        parse: Callable[[bytes], T],
        records_expire: bool,
        scan_batch: int = 200,
        max_scan: int = MAX_SCANNED_PER_PAGE,
    ) -> None:
        self._client = client
        self._key = key
        self._order = order
        self._record_key = record_key
        self._record_field = record_field
        self._parse = parse
        self._records_expire = records_expire
        self._scan_batch = max(1, scan_batch)
        self._max_scan = max(1, max_scan)

    @property
    def keys(self) -> list[str]:
        """The keys a store's script passes for ``IndexOrder.lua_add``, in order."""
        if self._order is IndexOrder.BY_ID:
            return [self._key]
        return [self._key, f"{self._key}:counter"]

    def remove(self, pipe: Pipeline, record_id: str) -> None:
        """Queues the removal of ``record_id`` in ``pipe`` (the store's transaction)."""
        pipe.zrem(self._key, record_id)

    async def page(
        self, *, page_size: int, page_token: str, keep: Callable[[T], bool] | None = None
    ) -> tuple[list[T], str]:
        """A page of records in index order after the token's cursor, and the next token.

        Args:
            page_size: Records per page at most (>= 1).
            page_token: "" for the first page, else a token this method returned.
            keep: Which records to list; ``None`` lists all. Filtered lists are
                scanned ``scan_batch`` entries at a time.

        Returns:
            The page and the next page token ("" at the end). A filtered page
            may hold fewer than ``page_size`` records, even none, and a token:
            the scan stopped at its bound (see the module docstring).

        Raises:
            InvalidArgumentError: a malformed ``page_token`` (``INVALID_PAGE_TOKEN``).
        """
        bound = await self._first_bound(decode_token(page_token))
        if bound is None:
            return [], ""
        budget = max(self._max_scan, page_size + 1)
        matches: list[tuple[str, T]] = []
        gone: list[str] = []
        scanned = 0
        last_read = ""
        stopped = False  # at the scan bound, with entries perhaps left
        while len(matches) <= page_size:
            if keep is not None and scanned >= budget:
                stopped = True
                break
            wanted = (
                min(self._scan_batch, budget - scanned)
                if keep
                else min(self._scan_batch, page_size + 1 - len(matches))
            )
            entries = await self._range(bound, wanted)
            if not entries:
                break
            ids = [record_id for record_id, _ in entries]
            for record_id, data in zip(ids, await self._read(ids), strict=True):
                if data is None:
                    gone.append(record_id)
                    continue
                record = self._parse(data)
                if keep is None or keep(record):
                    matches.append((record_id, record))
            scanned += len(entries)
            last_read = entries[-1][0]
            bound = entries[-1][1]
            if len(entries) < wanted:
                break
        if stopped:
            # The next page starts after the last entry read, which must stay
            # in the index to be found again (a NEWEST_FIRST cursor is its score).
            gone = [record_id for record_id in gone if record_id != last_read]
        if gone and self._records_expire:
            await self._client.zrem(self._key, *gone)
        if stopped and len(matches) <= page_size:
            return [record for _, record in matches], encode_token(last_read)
        page, next_token = cut_page(matches, page_size=page_size, id_of=lambda m: m[0])
        return [record for _, record in page], next_token

    async def _first_bound(self, after: str | None) -> str | None:
        """The range bound just past ``after``; ``None`` when the listing is over."""
        if self._order is IndexOrder.BY_ID:
            return "-" if after is None else f"({after}"
        if after is None:
            return "+inf"
        score = await self._client.zscore(self._key, after)
        return None if score is None else f"({int(score)}"

    async def _range(self, bound: str, count: int) -> list[tuple[str, str]]:
        """Up to ``count`` entries from ``bound`` on: (id, the bound past it)."""
        if self._order is IndexOrder.BY_ID:
            ids = cast(
                "list[bytes]",
                await self._client.zrangebylex(self._key, bound, "+", start=0, num=count),
            )
            return [(i.decode(), f"({i.decode()}") for i in ids]
        scored = cast(
            "list[tuple[bytes, float]]",
            await self._client.zrevrangebyscore(
                self._key, bound, "-inf", start=0, num=count, withscores=True
            ),
        )
        return [(i.decode(), f"({int(score)}") for i, score in scored]

    async def _read(self, ids: list[str]) -> list[bytes | None]:
        """The serialized records of ``ids`` (``None`` for a vanished one), in one round trip."""
        if self._record_field is None:
            return cast(
                "list[bytes | None]", await self._client.mget([self._record_key(i) for i in ids])
            )
        async with self._client.pipeline(transaction=False) as pipe:
            for record_id in ids:
                pipe.hget(self._record_key(record_id), self._record_field)
            return cast("list[bytes | None]", await pipe.execute())
