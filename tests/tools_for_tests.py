"""A tool module loaded by the test server (``tool_modules``): side-effect recording tools.

``record`` counts calls in this process (enough for an embedded server). The
file tools ``append_line`` and ``slow_append`` record their effects in files,
so tests can count executions across processes (separate Temporal workers that
may be killed mid-call). ``stamp`` notes when each call ran, so tests can tell
whether a side effect came before or after an RPC answered.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import time
from collections import Counter, defaultdict

from runwire_server.service.tools.registry import ToolRegistry

#: How often ``record`` ran per key; tests assert exactly-once execution with it.
CALLS: Counter[str] = Counter()


def record(key: str, value: str = "") -> str:
    """Records one execution under ``key`` and returns what it recorded."""
    CALLS[key] += 1
    return f"recorded {key}={value} (call {CALLS[key]})"


#: When each ``stamp`` call ran (``time.monotonic()``), per key: tests compare
#: a side effect's time with when an RPC answered (an embedded server's tools
#: run in the test process).
STAMPS: defaultdict[str, list[float]] = defaultdict(list)


def stamp(key: str) -> str:
    """Records the time of one execution under ``key`` (``STAMPS``)."""
    STAMPS[key].append(time.monotonic())
    return f"stamped {key} (call {len(STAMPS[key])})"


_ARRIVED: defaultdict[str, int] = defaultdict(int)
_ALL_THERE: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

#: How long a ``rendezvous`` call waits for the others, seconds: generous, as
#: ``tests.support.CONDITION_SECONDS`` (calls run one after the other never meet).
RENDEZVOUS_SECONDS = 60.0


async def rendezvous(key: str, parties: int) -> str:
    """Returns once ``parties`` calls with ``key`` are running at the same time;
    fails after ``RENDEZVOUS_SECONDS`` otherwise (proof that calls ran concurrently)."""
    _ARRIVED[key] += 1
    if _ARRIVED[key] >= parties:
        _ALL_THERE[key].set()
    try:
        await asyncio.wait_for(_ALL_THERE[key].wait(), timeout=RENDEZVOUS_SECONDS)
    except TimeoutError:
        raise RuntimeError(f"only {_ARRIVED[key]} of {parties} calls met") from None
    return f"met {parties}"


def explode(message: str) -> str:
    """Always fails with ``message``."""
    raise RuntimeError(message)


def append_line(path: str, line: str) -> str:
    """Appends ``line`` (and a newline) to the file at ``path``; returns ``line``."""
    with pathlib.Path(path).open("a", encoding="utf-8") as file:
        file.write(f"{line}\n")
    return line


def started_path(path: str) -> str:
    """The file where ``slow_append`` notes each start of a call that appends to ``path``."""
    return f"{path}.started"


async def slow_append(path: str, line: str, seconds: float) -> str:
    """Sleeps ``seconds``, then appends ``line`` to the file at ``path``; returns ``line``.

    Each call first notes ``line`` in ``started_path(path)``, so a test can
    tell that the call is under way (and count attempts); a process killed
    during the sleep has appended nothing to ``path``.
    """
    await asyncio.to_thread(append_line, started_path(path), line)
    await asyncio.sleep(seconds)
    return await asyncio.to_thread(append_line, path, line)


def log_line(message: str) -> str:
    """Logs ``message`` at WARNING on the ``tests.library`` logger, which knows
    nothing of runs (as a provider SDK's or a library's would)."""
    logging.getLogger("tests.library").warning("%s", message)
    return "logged"


def register_tools(registry: ToolRegistry) -> None:
    """Registers the test tools."""
    registry.register(record)
    registry.register(explode)
    registry.register(rendezvous)
    registry.register(append_line)
    registry.register(slow_append)
    registry.register(log_line)
    registry.register(stamp)
