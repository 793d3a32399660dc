"""Agent definitions, kept as ``runwire.v1.Agent`` messages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from runwire.v1 import agent_pb2

from runwire_server.service.core.errors import AbortedError, AlreadyExistsError, NotFoundError
from runwire_server.service.core.spec import labels_match
from runwire_server.service.core.timestamps import stamp_now
from runwire_server.service.stores.clone import clone
from runwire_server.service.stores.paging import cut_page, decode_token


class AgentStore(Protocol):
    """Where agents live."""

    async def create(self, agent: agent_pb2.Agent) -> agent_pb2.Agent:
        """Stores a new agent (``agent.agent_id`` set); sets etag and times.

        Raises:
            AlreadyExistsError: the id is taken (``AGENT_ALREADY_EXISTS``).
        """
        ...

    async def get(self, agent_id: str) -> agent_pb2.Agent:
        """Raises NotFoundError (``AGENT_NOT_FOUND``) for an unknown id."""
        ...

    async def list(
        self, *, page_size: int, page_token: str, labels: Mapping[str, str] | None = None
    ) -> tuple[list[agent_pb2.Agent], str]:
        """A page of agents ordered by id, and the next page token ("" at the end).

        ``labels``: only agents carrying every pair. A filtered page may hold
        fewer than ``page_size`` agents, even none, with a token to go on.
        """
        ...

    async def replace(self, agent: agent_pb2.Agent, *, expected_etag: str) -> agent_pb2.Agent:
        """Replaces a stored agent; a non-empty ``expected_etag`` must match.

        Raises:
            NotFoundError: unknown id. AbortedError: etag mismatch (``ETAG_MISMATCH``).
        """
        ...

    async def count(self) -> int:
        """How many agents the store holds."""
        ...

    async def delete(self, agent_id: str) -> None:
        """Raises NotFoundError for an unknown id."""
        ...


def agent_not_found(agent_id: str) -> NotFoundError:
    """The error for an unknown agent id (reason ``AGENT_NOT_FOUND``)."""
    return NotFoundError(
        f"agent {agent_id!r} does not exist",
        reason="AGENT_NOT_FOUND",
        metadata={"agent_id": agent_id},
    )


def agent_exists(agent_id: str) -> AlreadyExistsError:
    """The error for an agent id that is taken (reason ``AGENT_ALREADY_EXISTS``)."""
    return AlreadyExistsError(
        f"agent {agent_id!r} already exists",
        reason="AGENT_ALREADY_EXISTS",
        metadata={"agent_id": agent_id},
    )


def new_record(agent: agent_pb2.Agent) -> agent_pb2.Agent:
    """The record to store for a new ``agent``: a copy with create/update time and a fresh etag."""
    stored = clone(agent)
    now = datetime.now(UTC)
    stored.create_time.FromDatetime(now)
    stored.update_time.FromDatetime(now)
    stored.etag = _new_etag()
    return stored


def replacement(
    current: agent_pb2.Agent, agent: agent_pb2.Agent, *, expected_etag: str
) -> agent_pb2.Agent:
    """The record that replaces ``current`` with ``agent``: ``current``'s create
    time, a new update time and a fresh etag.

    Raises:
        AbortedError: a non-empty ``expected_etag`` is not ``current``'s (``ETAG_MISMATCH``).
    """
    if expected_etag and expected_etag != current.etag:
        raise AbortedError(
            f"agent {agent.agent_id!r} was changed meanwhile (etag {current.etag!r}, "
            f"request had {expected_etag!r}); get it again and retry",
            reason="ETAG_MISMATCH",
            metadata={"agent_id": agent.agent_id, "etag": current.etag},
        )
    stored = clone(agent)
    stored.create_time.CopyFrom(current.create_time)
    stamp_now(stored.update_time)
    stored.etag = _new_etag()
    return stored


def _new_etag() -> str:
    return uuid.uuid4().hex[:16]


class MemoryAgentStore:
    """``AgentStore`` in this process's memory."""

    def __init__(self) -> None:
        self._agents: dict[str, agent_pb2.Agent] = {}

    async def create(self, agent: agent_pb2.Agent) -> agent_pb2.Agent:
        if agent.agent_id in self._agents:
            raise agent_exists(agent.agent_id)
        stored = new_record(agent)
        self._agents[agent.agent_id] = stored
        return clone(stored)

    async def get(self, agent_id: str) -> agent_pb2.Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise agent_not_found(agent_id)
        return clone(agent)

    async def list(
        self, *, page_size: int, page_token: str, labels: Mapping[str, str] | None = None
    ) -> tuple[list[agent_pb2.Agent], str]:
        after = decode_token(page_token)
        ids = sorted(
            i
            for i, agent in self._agents.items()
            if (after is None or i > after) and labels_match(agent.labels, labels or {})
        )
        page, next_token = cut_page(ids, page_size=page_size, id_of=str)
        return [clone(self._agents[i]) for i in page], next_token

    async def replace(self, agent: agent_pb2.Agent, *, expected_etag: str) -> agent_pb2.Agent:
        current = self._agents.get(agent.agent_id)
        if current is None:
            raise agent_not_found(agent.agent_id)
        stored = replacement(current, agent, expected_etag=expected_etag)
        self._agents[agent.agent_id] = stored
        return clone(stored)

    async def count(self) -> int:
        return len(self._agents)

    async def delete(self, agent_id: str) -> None:
        if self._agents.pop(agent_id, None) is None:
            raise agent_not_found(agent_id)
