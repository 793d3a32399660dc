"""Running Node.js tools for the client tests: a command with a deadline, and
``npm ci`` only when a folder's install is older than its lock file."""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil


async def run_command(
    *args: str, cwd: pathlib.Path, seconds: float, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Runs a command in ``cwd`` (in ``env``, default the inherited environment);
    returns its exit code and combined output. Past ``seconds`` it is killed and
    the test fails with the end of its output."""
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=seconds)
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
        raise AssertionError(
            f"{' '.join(args)} timed out after {seconds} s:\n{out.decode()[-4000:]}"
        ) from None
    assert process.returncode is not None
    return process.returncode, out.decode()


def npm() -> str:
    """The ``npm`` executable (node must be there too)."""
    found = shutil.which("npm")
    assert found is not None and shutil.which("node") is not None, "node and npm are required"
    return found


async def npm_ci_if_stale(folder: pathlib.Path) -> None:
    """``npm ci`` in ``folder`` when its ``node_modules`` are missing or older than
    its lock file (no browser download: Debian's Chromium is used)."""
    installed = folder / "node_modules" / ".package-lock.json"
    lock = folder / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    env = os.environ | {"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    code, out = await run_command(
        npm(), "ci", "--no-audit", "--no-fund", cwd=folder, seconds=300, env=env
    )
    assert code == 0, f"npm ci in {folder} failed:\n{out[-4000:]}"
