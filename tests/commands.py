"""Running a command in a test: to its end or a deadline, output collected.

Standard library only, so the packaging tests (which must not import the
server) can use it too.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping


async def run_command(
    *args: str | os.PathLike[str],
    cwd: str | os.PathLike[str],
    seconds: float,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Runs a command in ``cwd`` (in ``env``, default the inherited environment;
    no standard input); returns its exit code and combined output. Past ``seconds``
    it is killed and the test fails with the end of its output."""
    words = [os.fspath(arg) for arg in args]
    process = await asyncio.create_subprocess_exec(
        *words,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=seconds)
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
        tail = out.decode(errors="replace")[-4000:]
        raise AssertionError(f"{' '.join(words)} timed out after {seconds} s:\n{tail}") from None
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")
