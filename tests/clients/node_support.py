"""Running Node.js tools for the client tests: ``npm``, and ``npm ci`` only when a
folder's install is older than its lock file (commands run with
``tests.commands.run_command``)."""

from __future__ import annotations

import os
import pathlib
import shutil

from tests.commands import run_command


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
