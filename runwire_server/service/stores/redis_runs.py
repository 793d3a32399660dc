"""``RunStore`` in Redis, safe with writers in several processes.

Key layout (``{p}`` is the prefix):

- ``{p}:run-record:<run_id>`` hash: ``pb`` (the serialized ``runwire.v1.Run``)
  and ``request_id`` (the CreateRun request id, "" when none).
- ``{p}:runs`` sorted set (and its ``{p}:runs:counter``): the index of run
  ids, newest first like the memory store (``redis_index``,
  ``IndexOrder.NEWEST_FIRST``).
- ``{p}:active-runs:<tenant>`` set: the tenant's runs not yet ended (added
  with the record, removed when ``apply`` ends the run).
- ``{p}:request:<request_id>`` string: the id of the run that request
  created; expires ``request_ttl_seconds`` after the request. The record's
  ``fingerprint`` field holds the request's fingerprint.
- ``{p}:changes:<tenant>`` stream: the tenant's change log
  (``redis_changes``); ``create`` and ``apply`` append a change for a new
  record and for each state change, in the same script or transaction.

``create`` is one Lua script that writes the request key, the record and the
index entry together, so no process ever sees a request key without its run
(no waiting for a writer that is mid-create). ``apply`` folds events under
``WATCH`` on the record and retries on a conflict. When a run reaches a
terminal state, ``apply`` sets ``PEXPIRE retention_seconds`` on its record
(approvals expire on their own, see ``redis_approvals``). Index entries
whose record has expired are skipped and removed while listing; a page token
naming a removed run ends the listing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from runwire.v1 import event_pb2, run_pb2

from runwire_server.service.stores.changes import (
    CREATED,
    DEFAULT_MAX_CHANGES,
    run_change,
    run_snapshot,
)
from runwire_server.service.stores.clone import clone
from runwire_server.service.stores.paging import MAX_SCANNED_PER_PAGE
from runwire_server.service.stores.projection import TERMINAL_STATES, apply_event
from runwire_server.service.stores.redis_changes import (
    APPEND_LUA,
    append_args,
    queue_append,
    stream_key,
)
from runwire_server.service.stores.redis_client import (
    multi,
    optimistic,
    reply,
    require_bytes_client,
)
from runwire_server.service.stores.redis_index import IndexOrder, RedisIndex
from runwire_server.service.stores.runs import run_matches, run_not_found

_ORDER = IndexOrder.NEWEST_FIRST

# KEYS: record, index, index counter, tenant's active runs, tenant's change
# stream[, request key]. ARGV: run id, serialized run, request id, the run id the
# request key may be taken from ("" for none), the request's fingerprint, the
# request key's time to live in ms, then the change (kind, type, previous state,
# payload), the stream's MAXLEN and time to live in ms.
# Returns nil when stored, else the id of the run the request already created.
_CREATE = f"""
if #KEYS == 6 then
  local existing = redis.call('GET', KEYS[6])
  -- This very script ran already (a retry after a lost reply): all is stored.
  if existing == ARGV[1] then return false end
  if existing and existing ~= ARGV[4] then return existing end
  redis.call('SET', KEYS[6], ARGV[1], 'PX', ARGV[6])
end
-- A retry without a request id (after a lost reply) logs no second change.
local new = redis.call('EXISTS', KEYS[1]) == 0
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'pb', ARGV[2], 'request_id', ARGV[3], 'fingerprint', ARGV[5])
{_ORDER.lua_add(keys_at=2, member="ARGV[1]")}
local stream, kind, ctype, prev, payload = KEYS[5], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local maxlen, ttl = ARGV[11], ARGV[12]
if new then
{APPEND_LUA}
end
return false
"""

# Rounds of create: taking a request key whose run has expired needs a second one.
_CREATE_ATTEMPTS = 3


class RedisRunStore:
    """``RunStore`` in Redis (see the module docstring for the key layout).

    Args:
        client: A ``redis.asyncio.Redis`` with ``decode_responses=False``. Not
            closed by this class.
        prefix: Prepended to every key.
        retention_seconds: How long records are kept after the run ends.
        scan_batch: Index entries read per round trip while listing with a filter.
        max_scan: Index entries one filtered listing call reads at most.
        max_changes: Changes kept in each tenant's change stream (``redis_changes``).

    Raises:
        ValueError: ``client`` decodes responses.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "runwire",
        retention_seconds: float = 7 * 24 * 3600,
        request_ttl_seconds: float = 86_400.0,
        scan_batch: int = 200,
        max_scan: int = MAX_SCANNED_PER_PAGE,
        max_changes: int = DEFAULT_MAX_CHANGES,
    ) -> None:
        require_bytes_client(client, "RedisRunStore")
        self._client = client
        self._prefix = prefix
        self._retention_ms = max(1, round(retention_seconds * 1000))
        self._request_ttl_ms = max(1, round(request_ttl_seconds * 1000))
        self._index = RedisIndex(
            client,
            key=f"{prefix}:runs",
            order=_ORDER,
            record_key=self._record_key,
            record_field="pb",
            parse=run_pb2.Run.FromString,
            records_expire=True,
            scan_batch=scan_batch,
            max_scan=max_scan,
        )
        self._create = client.register_script(_CREATE)
        self._max_changes = max(1, max_changes)

    def _record_key(self, run_id: str) -> str:
        return f"{self._prefix}:run-record:{run_id}"

    def _request_key(self, request_id: str) -> str:
        return f"{self._prefix}:request:{request_id}"

    def _active_key(self, tenant: str) -> str:
        return f"{self._prefix}:active-runs:{tenant}"

    async def count_active(self, tenant: str, *, verify: bool = False) -> int:
        """How many of ``tenant``'s runs have not ended (``SCARD`` of its
        active set). ``verify`` reads every counted record and removes the
        ended or expired ones from the set first."""
        key = self._active_key(tenant)
        if not verify:
            return int(await reply(self._client.scard(key)))
        members = [cast("bytes", m).decode() for m in await reply(self._client.smembers(key))]
        async with self._client.pipeline(transaction=False) as pipe:
            for run_id in members:
                pipe.hget(self._record_key(run_id), "pb")
            records = await pipe.execute()
        gone = [
            run_id
            for run_id, data in zip(members, records, strict=True)
            if not data or run_pb2.Run.FromString(data).state in TERMINAL_STATES
        ]
        if gone:
            await reply(self._client.srem(key, *gone))
        return len(members) - len(gone)

    async def create(
        self, run: run_pb2.Run, *, request_id: str = "", fingerprint: str = ""
    ) -> tuple[run_pb2.Run, bool]:
        """Stores ``run``, unless ``request_id`` already created a run: then
        returns that run and ``False``. Atomic across processes.

        Raises:
            RuntimeError: the request key kept naming vanished runs (should not happen).
        """
        keys = [
            self._record_key(run.run_id),
            *self._index.keys,
            self._active_key(run.tenant),
            stream_key(self._prefix, run.tenant),
        ]
        if request_id:
            keys.append(self._request_key(request_id))
        stale = ""
        for _ in range(_CREATE_ATTEMPTS):
            args: list[str | bytes | int] = [
                run.run_id,
                run.SerializeToString(),
                request_id,
                stale,
                fingerprint,
                self._request_ttl_ms,
                *append_args("run", (CREATED, 0), run_snapshot(run)),
                self._max_changes,
                self._retention_ms,
            ]
            existing = cast("bytes | None", await self._create(keys=keys, args=args))
            if existing is None:
                return clone(run), True
            found = await self._find(existing.decode())
            if found is not None:
                return found, False
            stale = existing.decode()  # its run expired: take the request key over
        raise RuntimeError(f"request {request_id!r} keeps naming runs that do not exist")

    async def find_request(self, request_id: str) -> run_pb2.Run | None:
        """The run an earlier request with ``request_id`` created, if it is still kept."""
        run_id = await self._client.get(self._request_key(request_id))
        return await self._find(cast("bytes", run_id).decode()) if run_id else None

    async def request_fingerprint(self, run_id: str) -> str:
        """The fingerprint the run was created with ("" when none or unknown)."""
        data = await reply(self._client.hget(self._record_key(run_id), "fingerprint"))
        return cast("bytes", data).decode() if data else ""

    async def get(self, run_id: str) -> run_pb2.Run:
        """The run.

        Raises:
            NotFoundError: unknown run (``RUN_NOT_FOUND``).
        """
        run = await self._find(run_id)
        if run is None:
            raise run_not_found(run_id)
        return run

    async def _find(self, run_id: str) -> run_pb2.Run | None:
        data = await reply(self._client.hget(self._record_key(run_id), "pb"))
        return run_pb2.Run.FromString(cast("bytes", data)) if data else None

    async def list(
        self,
        *,
        agent_id: str,
        thread_id: str,
        state: run_pb2.RunState,
        page_size: int,
        page_token: str,
        tenant: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> tuple[list[run_pb2.Run], str]:
        """Runs newest first, filtered by the non-empty arguments (``labels``:
        runs carrying every pair); a page of at most ``page_size`` (>= 1) and
        the next page token ("" at the end).

        Filters are applied while scanning the index, ``scan_batch`` entries at
        a time and at most ``max_scan`` per call: a filtered page may end early
        (fewer runs, even none) with a token to go on (``redis_index``).

        Raises:
            InvalidArgumentError: a malformed ``page_token`` (``INVALID_PAGE_TOKEN``).
        """
        filtered = bool(agent_id or thread_id or state or tenant or labels)
        return await self._index.page(
            page_size=page_size,
            page_token=page_token,
            keep=(
                (
                    lambda r: run_matches(
                        r,
                        agent_id=agent_id,
                        thread_id=thread_id,
                        state=state,
                        tenant=tenant,
                        labels=labels,
                    )
                )
                if filtered
                else None
            ),
        )

    async def apply(self, events: Sequence[event_pb2.RunEvent]) -> run_pb2.Run:
        """Folds ``events`` (of one run, in sequence order) into its record with
        ``projection.apply_event``; already applied events are skipped. Uses
        optimistic ``WATCH``/``MULTI`` and retries when another writer changed
        the record meanwhile.

        Raises:
            NotFoundError: unknown run (``RUN_NOT_FOUND``).
        """
        run_id = events[0].run_id
        key = self._record_key(run_id)
        return await optimistic(
            self._client, lambda pipe: self._apply_once(pipe, key, run_id, events)
        )

    async def _apply_once(
        self, pipe: Pipeline, key: str, run_id: str, events: Sequence[event_pb2.RunEvent]
    ) -> run_pb2.Run:
        await pipe.watch(key)
        data = await reply(pipe.hget(key, "pb"))
        if data is None:
            raise run_not_found(run_id)
        run = run_pb2.Run.FromString(cast("bytes", data))
        was_ended = run.state in TERMINAL_STATES
        applied = False
        changes: list[tuple[tuple[int, int], bytes]] = []
        for event in events:
            before = run.state
            if not apply_event(run, event):
                continue
            applied = True
            change = run_change(before, run.state)
            if change is not None:
                changes.append((change, run_snapshot(run)))
        if not applied:
            return run  # ``optimistic`` resets the pipeline (UNWATCH)
        multi(pipe)
        pipe.hset(key, "pb", run.SerializeToString())  # type: ignore[arg-type]
        for change, snapshot in changes:
            queue_append(
                pipe,
                stream_key(self._prefix, run.tenant),
                "run",
                change,
                snapshot,
                max_changes=self._max_changes,
                ttl_ms=self._retention_ms,
            )
        if run.state in TERMINAL_STATES and not was_ended:
            pipe.pexpire(key, self._retention_ms)
            pipe.srem(self._active_key(run.tenant), run_id)
        await pipe.execute()
        return run
