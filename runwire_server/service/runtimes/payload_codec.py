"""The claim-check ``PayloadCodec``: large Temporal payloads live outside workflow history.

Every payload the service and the workers exchange through Temporal (workflow
inputs, activity inputs and results, update inputs) passes through
``ClaimCheckCodec``. One larger than ``CLAIM_MIN_BYTES`` is saved in the claim
store (``runwire_server.service.stores.claims.ClaimStore``) under the SHA-256 of
its serialized bytes, and history holds a small reference payload (encoding
``CLAIM_ENCODING``, data = the hex digest) instead. Decoding puts the payload
back, so neither the workflow nor the agent loop ever sees a reference.

Keys are content hashes: identical payloads are stored once, and re-encoding
a payload on replay writes the same key again. Both sides of Temporal must
use the same codec and the same store (Redis, or this process's memory with
the embedded worker). ``docs/temporal.md`` shows how to read a claim.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import grpc
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from runwire_server.service.core.errors import RunwireError
from runwire_server.service.stores.claims import ClaimStore

#: Payloads whose serialized size exceeds this many bytes are claimed.
#: Temporal's own limits (2 MiB per payload, 50 MiB per history) are far above
#: it; what sets it is keeping history per LLM turn flat. A turn's history holds
#: a handful of payloads (the model request and reply, tool arguments and
#: result, a batch of events), so each stays under this bound inline or becomes
#: a reference of about a hundred bytes, whatever the length of the
#: conversation, the prompt or a tool result. Smaller payloads (tool arguments,
#: short answers, decisions) stay inline and readable in the Temporal UI, and
#: cost no store round trip. It equals the former bound on tool results kept
#: out of history, so long results and client tool outputs still leave it.
CLAIM_MIN_BYTES = 2048
#: ``metadata["encoding"]`` of a reference payload.
CLAIM_ENCODING = b"binary/runwire-claim"
#: ``metadata`` key of a reference payload giving the claimed payload's size
#: (decimal bytes), for operators reading history.
CLAIM_SIZE_KEY = "runwire-claim-bytes"


class ClaimNotFoundError(RunwireError):
    """A reference payload names a claim the store does not hold (expired
    after the event retention, evicted from the memory store, or written to
    another store). ``metadata["claim"]`` is the key."""

    code = grpc.StatusCode.DATA_LOSS
    default_reason = "CLAIM_NOT_FOUND"


class ClaimCheckCodec(PayloadCodec):
    """Swaps payloads larger than ``min_bytes`` for references to ``store``.

    Args:
        store: Where claimed payloads are kept (serialized ``Payload`` bytes).
        min_bytes: Payloads of more serialized bytes than this are claimed.
    """

    def __init__(self, store: ClaimStore, *, min_bytes: int = CLAIM_MIN_BYTES) -> None:
        self._store = store
        self._min_bytes = min_bytes

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Claims each payload larger than ``min_bytes``; returns the others as they are."""
        return [await self._claim(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Puts claimed payloads back.

        Raises:
            ClaimNotFoundError: The store does not hold a referenced claim, or
                holds bytes that do not match its key.
        """
        return [await self._redeem(payload) for payload in payloads]

    async def _claim(self, payload: Payload) -> Payload:
        if payload.ByteSize() <= self._min_bytes:
            return payload
        data = payload.SerializeToString(deterministic=True)
        key = hashlib.sha256(data).hexdigest()
        await self._store.save_claim(key, data)
        return Payload(
            metadata={"encoding": CLAIM_ENCODING, CLAIM_SIZE_KEY: str(len(data)).encode()},
            data=key.encode(),
        )

    async def _redeem(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != CLAIM_ENCODING:
            return payload
        key = payload.data.decode()
        data = await self._store.load_claim(key)
        if data is None or hashlib.sha256(data).hexdigest() != key:
            raise ClaimNotFoundError(
                f"payload claim {key} is not in the claim store (expired after the event "
                "retention, evicted from process memory, or stored elsewhere)",
                metadata={"claim": key},
            )
        return Payload.FromString(data)


def claim_check_converter(store: ClaimStore, *, min_bytes: int = CLAIM_MIN_BYTES) -> DataConverter:
    """Temporal's pydantic data converter with a ``ClaimCheckCodec`` on ``store``:
    what the service's client, the workers and the replay test all use."""
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=ClaimCheckCodec(store, min_bytes=min_bytes)
    )
