"""A tool module loaded by the test server (``tool_modules``): side-effect recording tools."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

from service.tools.registry import ToolRegistry

#: How often ``record`` ran per key; tests assert exactly-once execution with it.
CALLS: Counter[str] = Counter()


def record(key: str, value: str = "") -> str:
    """Records one execution under ``key`` and returns what it recorded."""
    CALLS[key] += 1
    return f"recorded {key}={value} (call {CALLS[key]})"


_ARRIVED: defaultdict[str, int] = defaultdict(int)
_ALL_THERE: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)


async def rendezvous(key: str, parties: int) -> str:
    """Returns once ``parties`` calls with ``key`` are running at the same time;
    fails after 5 s otherwise (proof that calls ran concurrently)."""
    _ARRIVED[key] += 1
    if _ARRIVED[key] >= parties:
        _ALL_THERE[key].set()
    try:
        await asyncio.wait_for(_ALL_THERE[key].wait(), timeout=5)
    except TimeoutError:
        raise RuntimeError(f"only {_ARRIVED[key]} of {parties} calls met") from None
    return f"met {parties}"


def explode(message: str) -> str:
    """Always fails with ``message``."""
    raise RuntimeError(message)


def register_tools(registry: ToolRegistry) -> None:
    """Registers the test tools."""
    registry.register(record)
    registry.register(explode)
    registry.register(rendezvous)
