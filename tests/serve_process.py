"""A ``runwire serve`` subprocess for a test, on a free loopback port.

``serve_process(runwire, *args, cwd=..., env=..., log=...)`` starts
``RUNWIRE serve --listen 127.0.0.1:0 ARGS``, waits (up to ``ready_seconds``) for
its ``serving on ADDRESS`` line and yields the first address
(``serve_process_addresses``: all of them); stderr goes to
``log``. On exit the process is killed (``graceful``: sent SIGTERM, so it
drains) and waited for, so none outlives its test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path


@contextlib.asynccontextmanager
async def serve_process(
    runwire: str | os.PathLike[str],
    *args: str,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    ready_seconds: float = 60.0,
    graceful: bool = False,
) -> AsyncIterator[str]:
    """Yields the address of a ``runwire serve`` subprocess while it runs
    (``serve_process_addresses``' first)."""
    async with serve_process_addresses(
        runwire, *args, cwd=cwd, env=env, log=log, ready_seconds=ready_seconds, graceful=graceful
    ) as addresses:
        yield addresses[0]


@contextlib.asynccontextmanager
async def serve_process_addresses(
    runwire: str | os.PathLike[str],
    *args: str,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    ready_seconds: float = 60.0,
    graceful: bool = False,
) -> AsyncIterator[list[str]]:
    """Yields the addresses a ``runwire serve`` subprocess serves on while it runs:
    the gRPC ones, then its HTTP listener's (``http://host:port``) with ``--http-listen``.

    Raises:
        AssertionError: no ``serving on`` line came first (the message has the log).
    """
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(runwire),
            "serve",
            "--listen",
            "127.0.0.1:0",
            *args,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
        )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), ready_seconds)).decode().strip()
        if not line.startswith("serving on "):
            raise AssertionError((line, await asyncio.to_thread(log.read_text)))
        yield line.removeprefix("serving on ").split(", ")
    finally:
        if process.returncode is None:
            if graceful:
                process.terminate()
            else:
                process.kill()
        await process.communicate()
