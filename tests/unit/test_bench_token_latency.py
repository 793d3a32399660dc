"""Scenario 11's stamps: the stamped model's notes, in this process and through a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import stamped_process, token_latency
from bench.token_latency import (
    PROVIDER,
    TOKEN_CHARS,
    StampedProvider,
    StampFile,
    answer,
    tokens,
)
from runwire_server.app.config import Settings
from runwire_server.app.wiring import build_providers
from runwire_server.service.llm.base import ModelRequest, TextDelta


def request(deltas: int) -> ModelRequest:
    """The scripted answer of scenario 11's agents, ``deltas`` deltas, no delay."""
    return ModelRequest(
        model="", options={"script": [{"text": answer(deltas)}], "chunk_chars": TOKEN_CHARS}
    )


async def stream(provider: StampedProvider, deltas: int) -> list[str]:
    """The texts ``provider`` streams for ``request(deltas)``."""
    return [
        chunk.text
        async for chunk in provider.stream(request(deltas))
        if isinstance(chunk, TextDelta)
    ]


def test_every_delta_is_one_distinct_token() -> None:
    text = answer(12)
    pieces = tokens(text)
    assert len(pieces) == 12
    assert len(set(pieces)) == 12
    assert all(len(piece) == TOKEN_CHARS for piece in pieces)
    assert "".join(pieces) == text


async def test_the_file_holds_the_stamps_of_each_model_call(tmp_path: Path) -> None:
    path = tmp_path / "stamps"
    stamps = StampFile(path)
    provider = StampedProvider(path)
    texts = await stream(provider, 5)
    assert texts == tokens(answer(5))
    taken = await stamps.take(5)
    assert taken == provider.stamps
    ordered = [taken[text] for text in texts]
    assert ordered == sorted(ordered)
    stamps.check_idle()
    await stream(provider, 3)
    with pytest.raises(RuntimeError, match="model ran in the stamps process"):
        stamps.check_idle()
    assert list(await stamps.take(3)) == tokens(answer(3))


async def test_take_fails_when_stamps_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_latency, "STAMPS_TIMEOUT", 0.0)
    stamps = StampFile(tmp_path / "stamps")
    await stream(StampedProvider(stamps.path), 2)
    with pytest.raises(RuntimeError, match="2 stamps for 3 deltas"):
        await stamps.take(3)


async def test_in_this_process_take_empties_the_notes() -> None:
    provider = StampedProvider()
    await stream(provider, 4)
    assert len(await provider.take(4)) == 4
    assert provider.stamps == {}


async def test_registries_built_in_a_child_hold_the_stamped_model(tmp_path: Path) -> None:
    build = stamped_process.with_stamped(build_providers, tmp_path / "stamps")
    registry = build(Settings())
    try:
        provider = registry.get(PROVIDER)
        assert isinstance(provider, StampedProvider)
        assert provider.path == tmp_path / "stamps"
        assert registry.get("scripted") is not None
    finally:
        await registry.aclose()


def test_a_child_needs_a_command_and_a_stamps_file(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit, match="usage"):
        stamped_process.main(["migrate"])
    monkeypatch.delenv(token_latency.STAMPS_ENV, raising=False)
    with pytest.raises(SystemExit, match=token_latency.STAMPS_ENV):
        stamped_process.main(["worker"])
