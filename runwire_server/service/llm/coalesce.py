"""Merging a model's text deltas into fewer, larger ones (opt-in).

Every text delta becomes one ``text_message_content`` event: one log append,
one run-record fold and one gRPC message per subscriber. A model (or the
scripted one) that streams one character per chunk is then limited by that
per-event cost: ``python -m bench --only 4`` measured 11.5x the characters per
second with 16-character deltas than with 1-character ones. ``coalesce_text``
merges consecutive text deltas until the merged text reaches ``max_chars`` or
the first of them has waited ``window_seconds``, whichever comes first; any
other chunk (a tool call delta, the usage report), the end of the stream or a
provider error flushes the merged text first, so the order of everything the
model said is kept. The added latency is at most ``window_seconds`` per delta.
Reasoning deltas (``ReasoningDelta``) are merged the same way, within one
reasoning block; one carrying a signature or redacted data is merged into
nothing and passed on as it is, after what was merged before it.

Configured server-wide by ``RUNWIRE_STREAM_COALESCE_MS`` (0, the default, turns
it off) and ``RUNWIRE_STREAM_COALESCE_CHARS`` (``runwire_server.app.config.Settings``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from runwire_server.service.llm.base import ModelChunk, ReasoningDelta, TextDelta


@dataclass(frozen=True)
class Coalescing:
    """How text deltas are merged.

    Attributes:
        window_seconds: Longest a delta waits for more text, seconds; > 0.
        max_chars: Merged text is sent once it has this many characters; ≥ 1.
    """

    window_seconds: float
    max_chars: int = 256

    @classmethod
    def from_settings(cls, window_ms: float, max_chars: int) -> Coalescing | None:
        """The coalescing a server's settings ask for; None when ``window_ms`` is 0."""
        if window_ms <= 0:
            return None
        return cls(window_seconds=window_ms / 1000, max_chars=max(1, max_chars))


#: What merged deltas are: text (None) or the reasoning block of this index.
_Kind = int | None


def _mergeable(chunk: ModelChunk) -> tuple[str, _Kind] | None:
    """The text and kind of a delta that merges with others of its kind; None
    for any other chunk."""
    if isinstance(chunk, TextDelta):
        return chunk.text, None
    if isinstance(chunk, ReasoningDelta) and not chunk.signature and not chunk.redacted:
        return chunk.text, chunk.index
    return None


class _Merged:
    """Deltas of one kind (text, or one reasoning block) waiting to be sent as one."""

    def __init__(self, coalescing: Coalescing) -> None:
        self._coalescing = coalescing
        self._parts: list[str] = []
        self._size = 0
        self.kind: _Kind = None
        #: ``loop.time()`` by which the merged text must be sent.
        self.deadline = 0.0

    def __bool__(self) -> bool:
        return bool(self._parts)

    def add(self, text: str, kind: _Kind, now: float) -> bool:
        """Adds ``text`` (of ``kind``: the caller flushed another kind first);
        True when the merged text is now long enough to send."""
        if not self._parts:
            self.deadline = now + self._coalescing.window_seconds
            self.kind = kind
        self._parts.append(text)
        self._size += len(text)
        return self._size >= self._coalescing.max_chars

    def push(self, text: str, kind: _Kind, now: float) -> list[TextDelta | ReasoningDelta]:
        """Adds ``text`` of ``kind``; returns what is ready to send: what was
        merged of another kind, and the merged text once it is long enough."""
        ready: list[TextDelta | ReasoningDelta] = []
        if not text:
            return ready
        if self._parts and self.kind != kind:
            ready.append(self.take())
        if self.add(text, kind, now):
            ready.append(self.take())
        return ready

    def take(self) -> TextDelta | ReasoningDelta:
        text = "".join(self._parts)
        merged: TextDelta | ReasoningDelta = (
            TextDelta(text=text)
            if self.kind is None
            else ReasoningDelta(index=self.kind, text=text)
        )
        self._parts.clear()
        self._size = 0
        return merged


class _NextChunk:
    """Waits for the next chunk, for at most until a deadline, without losing it."""

    def __init__(self, chunks: AsyncIterator[ModelChunk]) -> None:
        self._chunks = chunks
        self._pending: asyncio.Future[ModelChunk] | None = None

    async def get(self, deadline: float | None) -> ModelChunk | None:
        """The next chunk; None when ``deadline`` (``loop.time()``) came first.

        Raises:
            StopAsyncIteration: the stream ended; or what the stream raised.
        """
        if deadline is None and self._pending is None:
            return await anext(self._chunks)  # nothing is merged: no timer, no task
        if self._pending is None:
            self._pending = asyncio.ensure_future(anext(self._chunks))
        timeout = None if deadline is None else deadline - asyncio.get_running_loop().time()
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None  # still pending: the next call waits for the same chunk
        pending, self._pending = self._pending, None
        return pending.result()

    async def aclose(self) -> None:
        """Stops waiting for a chunk (the consumer left early) and closes the stream."""
        if self._pending is not None:
            if not self._pending.done():
                self._pending.cancel()
            # Retrieve its outcome: a chunk nobody takes, the stream's end or error.
            try:
                await self._pending
            except asyncio.CancelledError:
                if not self._pending.cancelled():
                    raise  # this task itself is being cancelled
            except Exception:  # StopAsyncIteration, or an error nobody awaits now
                pass
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


async def coalesce_text(
    chunks: AsyncIterator[ModelChunk], coalescing: Coalescing
) -> AsyncIterator[ModelChunk]:
    """``chunks`` with runs of consecutive ``TextDelta`` (and ``ReasoningDelta`` of one
    block) merged (see the module docstring).

    Raises:
        Whatever ``chunks`` raises (``ModelError``), after the text merged so far.
    """
    loop = asyncio.get_running_loop()
    merged = _Merged(coalescing)
    source = _NextChunk(chunks)
    try:
        while True:
            try:
                chunk = await source.get(merged.deadline if merged else None)
            except StopAsyncIteration:
                break
            except Exception:  # StopAsyncIteration, or an error nobody awaits now
                if merged:
                    yield merged.take()
                raise
            if chunk is None:  # the window closed before more text came
                yield merged.take()
                continue
            mergeable = _mergeable(chunk)
            if mergeable is not None:
                for ready in merged.push(*mergeable, loop.time()):
                    yield ready
            else:
                if merged:
                    yield merged.take()
                yield chunk
        if merged:
            yield merged.take()
    finally:
        await source.aclose()
