"""Merging text deltas (``runwire_server.service.llm.coalesce``): order, size and time windows,
flushes before other chunks and errors, and a server that streams fewer events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

import pytest
from runwire.v1 import run_service_pb2

from runwire_server.app.config import Settings
from runwire_server.service.core.messages import Usage
from runwire_server.service.llm.base import (
    ModelChunk,
    ModelError,
    TextDelta,
    ToolCallDelta,
    UsageReport,
)
from runwire_server.service.llm.coalesce import Coalescing, coalesce_text
from tests.support import CONDITION_SECONDS, Stubs, collect, create_agent, running_server


@dataclass
class Pause:
    """A step where the source stalls: it sets ``reached``, then waits for ``release``
    (never, unless the test sets it)."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


Step = ModelChunk | Pause | Exception


async def source(steps: list[Step], closed: list[bool] | None = None) -> AsyncIterator[ModelChunk]:
    """Yields the chunks; stalls at a ``Pause``; an exception is raised."""
    try:
        for step in steps:
            if isinstance(step, Pause):
                step.reached.set()
                await step.release.wait()
            elif isinstance(step, Exception):
                raise step
            else:
                yield step
    finally:
        if closed is not None:
            closed.append(True)


async def merged(steps: list[Step], coalescing: Coalescing) -> list[ModelChunk]:
    return [c async for c in coalesce_text(source(steps), coalescing)]


async def test_fast_deltas_merge_up_to_max_chars_in_order() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(100))
    # A window no test run reaches: only the size sends.
    out = await merged(
        [TextDelta(text=c) for c in text], Coalescing(window_seconds=3600.0, max_chars=16)
    )
    assert [len(c.text) for c in out if isinstance(c, TextDelta)] == [16] * 6 + [4]
    assert "".join(c.text for c in out if isinstance(c, TextDelta)) == text


async def test_a_stalled_stream_sends_the_merged_text_when_the_window_closes() -> None:
    # The source stalls until the merged text has been received: were it held
    # back until " world" came, the test would wait forever.
    stall = Pause()
    steps: list[Step] = [
        TextDelta(text="he"),
        TextDelta(text="llo"),
        stall,
        TextDelta(text=" world"),
    ]
    stream = coalesce_text(source(steps), Coalescing(window_seconds=0.05))
    async with asyncio.timeout(CONDITION_SECONDS):
        first = await anext(stream)
    assert first == TextDelta(text="hello")
    stall.release.set()
    assert [c async for c in stream] == [TextDelta(text=" world")]


async def test_other_chunks_and_the_end_flush_the_merged_text_first() -> None:
    call = ToolCallDelta(index=0, id="c1", name="echo", arguments="{}")
    usage = UsageReport(usage=Usage(input_tokens=1, output_tokens=2))
    steps: list[Step] = [
        TextDelta(text="a"),
        TextDelta(text=""),
        TextDelta(text="b"),
        call,
        TextDelta(text="c"),
        usage,
    ]
    out = await merged(steps, Coalescing(window_seconds=3600.0))
    assert out == [TextDelta(text="ab"), call, TextDelta(text="c"), usage]
    assert await merged([TextDelta(text="x"), TextDelta(text="y")], Coalescing(3600.0)) == [
        TextDelta(text="xy")
    ]


async def test_an_error_comes_after_the_text_merged_before_it() -> None:
    error = ModelError("boom", provider="fake", retryable=True)
    out: list[ModelChunk] = []
    with pytest.raises(ModelError):
        async for chunk in coalesce_text(
            source([TextDelta(text="par"), TextDelta(text="tial"), error]), Coalescing(3600.0)
        ):
            out.append(chunk)
    assert out == [TextDelta(text="partial")]


async def test_closing_early_closes_the_provider_stream() -> None:
    closed: list[bool] = []
    stall = Pause()
    steps: list[Step] = [TextDelta(text="a"), stall, TextDelta(text="never")]
    stream = coalesce_text(source(steps, closed), Coalescing(window_seconds=0.01))
    assert isinstance(stream, AsyncGenerator)
    assert await anext(stream) == TextDelta(text="a")
    await stall.reached.wait()
    await stream.aclose()  # while a chunk is awaited: cancelled, the source closed
    assert closed == [True]


def test_settings_turn_it_on() -> None:
    assert Coalescing.from_settings(0, 256) is None
    assert Coalescing.from_settings(20, 64) == Coalescing(window_seconds=0.02, max_chars=64)


async def test_a_server_with_coalescing_streams_fewer_larger_deltas() -> None:
    # The longest window: only the size (RUNWIRE_STREAM_COALESCE_CHARS) sends.
    settings = Settings(listen=["127.0.0.1:0"], log_level="WARNING", stream_coalesce_ms=10_000)
    async with running_server(settings) as server:
        stubs = Stubs.connect(server.addresses[0])
        try:
            text = "one character per delta, merged " * 20
            agent = await create_agent(stubs, [{"text": text}], chunk_chars=1)
            events = await collect(
                stubs.runs.StreamRun(
                    run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="p")
                )
            )
            deltas = [
                e.text_message_content.delta for e in events if e.HasField("text_message_content")
            ]
            assert "".join(deltas) == text
            assert len(deltas) == -(-len(text) // 256)  # RUNWIRE_STREAM_COALESCE_CHARS default
            assert events[-1].run_finished.output == text
        finally:
            await stubs.channel.close()


async def test_cancelling_the_consumer_while_text_waits_closes_the_source() -> None:
    closed: list[bool] = []
    stall = Pause()
    steps: list[Step] = [TextDelta(text="a"), stall, TextDelta(text="never")]

    async def consume() -> list[ModelChunk]:
        return [c async for c in coalesce_text(source(steps, closed), Coalescing(3600.0))]

    task = asyncio.ensure_future(consume())
    await stall.reached.wait()  # "a" is merged, the next chunk is awaited in a helper task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]
