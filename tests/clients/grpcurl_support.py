"""Running the documentation's grpcurl commands as written (test_grpcurl.py: the
README's; test_grpcurl_operations.py: docs/grpcurl.md's).

Commands are read from a fenced ```sh block (comments and blank lines skipped,
backslash continuations and multi-line quoted ``-d`` payloads joined) and run
with the grpcurl that clients/go/install-tools.sh puts in build/bin, after
``localize`` swaps the documented address and placeholders for the test's.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import shlex
import subprocess
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GRPCURL = ROOT / "build" / "bin" / "grpcurl"
#: The address every documented command uses.
DOC_ADDRESS = "127.0.0.1:50051"


def sh_block(text: str, where: str) -> str:
    """The first ```sh block of ``text`` (``where`` names it in the failure)."""
    block = re.search(r"^```sh\n(.*?)^```", text, re.S | re.M)
    assert block, f"{where} has no ```sh block"
    return block[1]


def sh_commands(block: str) -> list[list[str]]:
    """The grpcurl commands of a ```sh block, as argv lists."""
    commands: list[list[str]] = []
    pending = ""
    for line in block.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line
        if pending.endswith("\\\n"):
            continue
        try:
            argv = shlex.split(pending.replace("\\\n", " "))
        except ValueError:  # a quoted -d payload spans more lines
            continue
        pending = ""
        assert argv[0] == "grpcurl", f"not a grpcurl command: {argv}"
        commands.append(argv)
    assert not pending, f"unterminated command: {pending!r}"
    return commands


def localize(argv: list[str], address: str, **placeholders: str) -> list[str]:
    """argv for the test: our grpcurl, our server, placeholders ("apr_...") replaced."""
    out = [str(GRPCURL)]
    for arg in argv[1:]:
        value = address if arg == DOC_ADDRESS else arg
        for placeholder, replacement in placeholders.items():
            value = value.replace(placeholder, replacement)
        out.append(value)
    return out


def json_documents(text: str) -> list[dict[str, Any]]:
    """The complete JSON objects grpcurl printed one after the other (a last one
    still being written is left out)."""
    decoder = json.JSONDecoder()
    documents: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            return documents
        try:
            document, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            return documents
        documents.append(document)


async def grpcurl(argv: list[str], limit_seconds: float = 30) -> str:
    """Runs one grpcurl command to its end; its stdout (fails the test on an error)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), limit_seconds)
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        pytest.fail(f"{shlex.join(argv)} did not finish in {limit_seconds} s:\n{out!r}\n{err!r}")
    assert process.returncode == 0, f"{shlex.join(argv)} failed:\n{out.decode()}{err.decode()}"
    return out.decode()


def install_grpcurl() -> pathlib.Path:
    """grpcurl at the pinned version in build/bin (go install; quick when already there)."""
    install = subprocess.run(
        ["bash", str(ROOT / "clients" / "go" / "install-tools.sh"), "grpcurl"],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert install.returncode == 0, f"installing grpcurl failed:\n{install.stderr}"
    assert GRPCURL.is_file()
    return GRPCURL
