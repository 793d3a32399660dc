"""docs/http.md's curl session, run as written against a real Runwire server.

The page's ```sh block is read into statements (the ``frame`` function, then one
curl command each); each command runs in bash with that function defined, with
``RUNWIRE_HTTP`` and ``RUNWIRE_TOKEN`` in its environment and only the
``run_...``/``apr_...`` placeholders and the resumed sequence replaced. The server is
a fresh ``runwire serve --http-listen`` subprocess with an API key configured, so
the bearer token is checked too. The stream runs in the background and is read as
it comes, as a reader would watch it in a second terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import re
import shlex
import shutil
import struct
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.clients.grpcurl_support import sh_block
from tests.serve_process import serve_process_addresses

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "http.md"
RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))
TOKEN = "curl-session-key"

pytestmark = pytest.mark.timeout(300)


def statements(block: str) -> list[str]:
    """The complete shell statements of ``block`` (comments and blank lines skipped;
    a statement goes on while its quotes are open, a line ends in ``\\`` or ``|``)."""
    found: list[str] = []
    pending = ""
    for line in block.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line
        text = pending.rstrip()
        if text.endswith(("\\", "|")):
            continue
        try:
            shlex.split(pending)
        except ValueError:  # a quoted payload spans more lines
            continue
        found.append(pending)
        pending = ""
    assert not pending, f"unterminated statement: {pending!r}"
    return found


def page_statements() -> tuple[str, dict[str, str]]:
    """The ``frame`` definition, and each curl command by the method it calls."""
    session = PAGE.read_text().partition("\n## curl\n")[2]
    frame, *commands = statements(sh_block(session, "docs/http.md's curl section"))
    assert frame.startswith("frame() {"), frame
    by_method: dict[str, str] = {}
    for command in commands:
        (method,) = re.findall(r"\$RUNWIRE_HTTP/runwire\.v1\.(\w+/\w+)", command)
        assert method not in by_method, method
        by_method[method] = command
    return frame, by_method


def enveloped(data: bytes) -> list[dict[str, Any]]:
    """The JSON messages of a Connect stream's body (5-byte envelopes; a partial
    last one is left out)."""
    messages: list[dict[str, Any]] = []
    position = 0
    while position + 5 <= len(data):
        (length,) = struct.unpack(">I", data[position + 1 : position + 5])
        if position + 5 + length > len(data):
            break
        messages.append(json.loads(data[position + 5 : position + 5 + length]))
        position += 5 + length
    return messages


class Session:
    """Runs the page's commands in bash against one server."""

    def __init__(self, frame: str, http: str) -> None:
        self.frame = frame
        self.env = {**os.environ, "RUNWIRE_HTTP": http, "RUNWIRE_TOKEN": TOKEN}

    async def start(self, command: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            shutil.which("bash") or "bash",
            "-c",
            f"{self.frame}\n{command}",
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def run(self, command: str) -> bytes:
        process = await self.start(command)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, (command, out, err)
        return out


@pytest.fixture(scope="module")
async def http_address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh `runwire serve` process with an HTTP listener and one API key."""
    directory = tmp_path_factory.mktemp("curl-session")
    key = directory / "key"
    key.write_text(TOKEN)
    config = directory / "runwire.toml"
    config.write_text(
        f'[[auth.api_keys]]\nprincipal = "curl"\nroles = ["admin"]\nkey_file = "{key}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RUNWIRE_LOG_LEVEL": "WARNING"}
    async with serve_process_addresses(
        RUNWIRE,
        "--http-listen",
        "127.0.0.1:0",
        "--config",
        str(config),
        cwd=ROOT,
        env=env,
        log=directory / "serve.log",
        ready_seconds=30,
    ) as addresses:
        (http,) = [address for address in addresses if address.startswith("http://")]
        yield http


def test_the_page_covers_a_run_with_an_approval() -> None:
    _, commands = page_statements()
    assert list(commands) == [
        "AgentService/CreateAgent",
        "RunService/StreamRun",
        "ApprovalService/ListApprovals",
        "ApprovalService/ResolveApproval",
        "RunService/StreamRunEvents",
        "RunService/GetRun",
    ]


async def test_the_curl_session(http_address: str) -> None:
    assert shutil.which("curl"), "curl is required"
    frame, commands = page_statements()
    session = Session(frame, http_address)

    created = json.loads(await session.run(commands["AgentService/CreateAgent"]))
    assert created["agent"]["agentId"] == "adder", created

    stream = await session.start(commands["RunService/StreamRun"])
    assert stream.stdout is not None
    body = b""
    try:
        while not any("approvalRequested" in m.get("event", {}) for m in enveloped(body)):
            chunk = await asyncio.wait_for(stream.stdout.read(65536), 60)
            assert chunk, f"the stream ended before the approval: {body!r}"
            body += chunk
        seen = [m["event"] for m in enveloped(body)]
        run_id = seen[0]["runId"]
        last = int(seen[-1]["sequence"])

        def filled(command: str, **values: str) -> str:
            for placeholder, value in values.items():
                command = command.replace(placeholder, value)
            return command

        listed = json.loads(
            await session.run(
                filled(commands["ApprovalService/ListApprovals"], **{"run_...": run_id})
            )
        )
        (approval,) = listed["approvals"]
        assert approval["toolName"] == "calculator", listed
        resolved = json.loads(
            await session.run(
                filled(
                    commands["ApprovalService/ResolveApproval"],
                    **{"apr_...": approval["approvalId"]},
                )
            )
        )
        assert resolved["approval"]["state"] == "APPROVAL_STATE_APPROVED", resolved
        rest, _ = await asyncio.wait_for(stream.communicate(), 60)
        body += rest
    finally:
        if stream.returncode is None:
            stream.kill()
            await stream.wait()
    messages = enveloped(body)
    assert messages[-1] == {}, messages[-1]  # the end of the stream: OK
    events = [m["event"] for m in messages[:-1]]
    assert [int(e["sequence"]) for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["runFinished"]["state"] == "RUN_STATE_SUCCEEDED", events[-1]

    # Resume after the sequence the page names, replaced by the last one seen before
    # the approval: the rest comes, without a gap or a repeat, although the run ended.
    resume = commands["RunService/StreamRunEvents"]
    assert '"after_sequence": 11' in resume, resume
    resumed_body = await session.run(
        resume.replace("run_...", run_id).replace(
            '"after_sequence": 11', f'"after_sequence": {last}'
        )
    )
    resumed = enveloped(resumed_body)
    assert resumed[-1] == {}, resumed[-1]
    assert [e["event"] for e in resumed[:-1]] == events[last:]

    got = json.loads(await session.run(commands["RunService/GetRun"].replace("run_...", run_id)))
    assert got["run"]["state"] == "RUN_STATE_SUCCEEDED", got
    missing = await session.run(
        commands["RunService/GetRun"].replace("run_...", "run_nope").rstrip()
        + " -w '\\n%{http_code}'"
    )
    text, _, status = missing.decode().rpartition("\n")
    error = json.loads(text)
    assert (status, error["code"]) == ("404", "not_found"), missing
    assert [d["type"] for d in error["details"]] == ["google.rpc.ErrorInfo"], error


async def test_a_wrong_token_is_refused(http_address: str) -> None:
    frame, commands = page_statements()
    session = Session(frame, http_address)
    session.env["RUNWIRE_TOKEN"] = "not-a-key"
    out = await session.run(commands["RunService/GetRun"].rstrip() + " -w '\\n%{http_code}'")
    text, _, status = out.decode().rpartition("\n")
    assert (status, json.loads(text)["code"]) == ("401", "unauthenticated"), out
