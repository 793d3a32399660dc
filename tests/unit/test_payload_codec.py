"""The claim-check payload codec on the memory store and on a real Redis."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from temporalio.api.common.v1 import Payload

from runwire_server.service.core.messages import ChatMessage, Role
from runwire_server.service.llm.base import ModelRequest
from runwire_server.service.runtimes.payload_codec import (
    CLAIM_ENCODING,
    CLAIM_MIN_BYTES,
    CLAIM_SIZE_KEY,
    ClaimCheckCodec,
    ClaimNotFoundError,
    claim_check_converter,
)
from runwire_server.service.runtimes.temporal_contract import ModelCallInput
from runwire_server.service.stores.claims import (
    ClaimStore,
    MemoryClaimStore,
    RedisClaimStore,
)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[ClaimStore]:
    """Each claim store; Redis is the session's real server (``tests/conftest.py``)."""
    if request.param == "memory":
        yield MemoryClaimStore()
        return
    client = redis.Redis.from_url(redis_url)
    yield RedisClaimStore(client, prefix=f"test-{uuid.uuid4().hex[:12]}", ttl_seconds=60)
    await client.aclose()


def _payload(size: int) -> Payload:
    """A JSON payload of exactly ``size`` serialized bytes (200 to 16,000)."""
    payload = Payload(metadata={"encoding": b"json/plain"})
    # Field tag (1 byte) + length varint (2 bytes from 128 to 16,383) + data.
    payload.data = b"x" * (size - payload.ByteSize() - 3)
    assert payload.ByteSize() == size
    return payload


async def test_large_payloads_become_references_and_come_back(store: ClaimStore) -> None:
    codec = ClaimCheckCodec(store)
    small, large = _payload(200), _payload(4 * CLAIM_MIN_BYTES)
    encoded = await codec.encode([small, large])
    assert encoded[0] == small
    reference = encoded[1]
    assert reference.metadata["encoding"] == CLAIM_ENCODING
    assert int(reference.metadata[CLAIM_SIZE_KEY]) == large.ByteSize()
    assert reference.ByteSize() < 200
    assert reference.data.decode() == hashlib.sha256(large.SerializeToString()).hexdigest()
    assert await codec.decode(encoded) == [small, large]


async def test_the_threshold_is_on_serialized_bytes(store: ClaimStore) -> None:
    codec = ClaimCheckCodec(store, min_bytes=500)
    at, over = _payload(500), _payload(501)
    kept, claimed = await codec.encode([at, over])
    assert kept == at
    assert claimed.metadata["encoding"] == CLAIM_ENCODING
    assert await codec.decode([kept, claimed]) == [at, over]


async def test_identical_payloads_share_one_claim() -> None:
    store = MemoryClaimStore()
    codec = ClaimCheckCodec(store)
    large = _payload(4 * CLAIM_MIN_BYTES)
    first, second = await codec.encode([large, large])
    assert first == second
    assert store.total_bytes == len(large.SerializeToString())


async def test_an_unknown_claim_is_a_clear_error(store: ClaimStore) -> None:
    codec = ClaimCheckCodec(store)
    (reference,) = await ClaimCheckCodec(MemoryClaimStore()).encode([_payload(4 * CLAIM_MIN_BYTES)])
    with pytest.raises(ClaimNotFoundError) as caught:
        await codec.decode([reference])
    key = reference.data.decode()
    assert caught.value.reason == "CLAIM_NOT_FOUND"
    assert caught.value.metadata == {"claim": key}
    assert key in caught.value.message


async def test_the_memory_store_evicts_the_least_recently_used_claims() -> None:
    store = MemoryClaimStore(max_bytes=3 * 1000)
    for name in ("a", "b", "c"):
        await store.save_claim(name, name.encode() * 1000)
    assert await store.load_claim("a") == b"a" * 1000  # now the most recently used
    await store.save_claim("d", b"d" * 1000)
    assert await store.load_claim("b") is None
    assert [await store.load_claim(k) is not None for k in ("a", "c", "d")] == [True] * 3
    assert store.total_bytes == 3000


async def test_redis_claims_expire_with_the_event_retention(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        store = RedisClaimStore(client, prefix=f"test-{uuid.uuid4().hex[:12]}", ttl_seconds=90)
        await store.save_claim("k", b"data")
        ttl = await client.ttl(store.key("k"))
        assert 0 < ttl <= 90
    finally:
        await client.aclose()


async def test_a_whole_model_request_round_trips_through_the_converter(
    store: ClaimStore,
) -> None:
    converter = claim_check_converter(store)
    conversation = tuple(
        ChatMessage(role=Role.USER if i % 2 else Role.ASSISTANT, content=f"message {i} " * 40)
        for i in range(20)
    )
    call = ModelCallInput(
        run_id="run_1",
        provider="scripted",
        request=ModelRequest(model="m", instructions="be brief", messages=conversation),
        message_id="msg_1",
    )
    (payload,) = await converter.encode([call])
    assert payload.metadata["encoding"] == CLAIM_ENCODING
    assert b"message 3" not in payload.SerializeToString()
    assert await converter.decode([payload], [ModelCallInput]) == [call]
