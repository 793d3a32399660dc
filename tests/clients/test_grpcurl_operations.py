"""docs/grpcurl.md's commands, run as written against a real Runwire server.

The page's ```sh block is one operator session: create an agent, open an
approvals inbox (WatchApprovals) and a dashboard watch (WatchRuns), stream a
labelled run without deltas, list the ticket's runs, pause the run, approve its
tool call (with the README's ResolveApproval command), see it PAUSED, resume
it. The two watches and the stream run as background grpcurl processes whose
output is read as it comes; only the address and the ``run_...``/``apr_...``
placeholders are replaced. The server is a fresh ``runwire serve`` subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import shlex
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.clients.grpcurl_support import (
    DOC_ADDRESS,
    grpcurl,
    install_grpcurl,
    json_documents,
    localize,
    sh_block,
    sh_commands,
)
from tests.clients.test_grpcurl import readme_command
from tests.serve_process import serve_process
from tests.support import polls

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "grpcurl.md"
RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))

# A cold `go install` of grpcurl downloads and compiles its modules (about a minute).
pytestmark = pytest.mark.timeout(600)

Documents = list[dict[str, Any]]


def page_commands() -> dict[str, list[str]]:
    """docs/grpcurl.md's commands by the method they call (each method once)."""
    commands = sh_commands(sh_block(PAGE.read_text(), "docs/grpcurl.md"))
    by_method = {argv[-1]: argv for argv in commands}
    assert len(by_method) == len(commands), [argv[-1] for argv in commands]
    assert all(DOC_ADDRESS in argv for argv in commands), commands
    return by_method


class Background:
    """A grpcurl command running in the background; its output read as it comes."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.text = ""
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while chunk := await self._process.stdout.read(4096):
            self.text += chunk.decode()

    @property
    def documents(self) -> Documents:
        return json_documents(self.text)

    async def until(self, what: str, condition: Callable[[Documents], bool]) -> Documents:
        """The documents printed once ``condition`` holds for them."""
        async for _ in polls(interval=0.1):
            documents = self.documents
            if condition(documents):
                return documents
            assert self._process is not None
            if self._process.returncode is not None and self._reader and self._reader.done():
                break
        pytest.fail(f"{shlex.join(self.argv)}: no {what} in:\n{self.text}")

    async def finish(self, seconds: float = 60) -> Documents:
        """Waits for the command to end by itself (a stream that ends); its documents."""
        assert self._process is not None and self._reader is not None
        code = await asyncio.wait_for(self._process.wait(), seconds)
        await self._reader
        assert code == 0, f"{shlex.join(self.argv)} exited {code}:\n{self.text}"
        return self.documents

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader


@pytest.fixture(scope="module")
async def address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh `runwire serve` process on a free loopback port."""
    log = tmp_path_factory.mktemp("grpcurl-operations") / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RUNWIRE_LOG_LEVEL": "WARNING"}
    async with serve_process(RUNWIRE, cwd=ROOT, env=env, log=log, ready_seconds=30) as served:
        yield served


def test_the_page_covers_the_operator_calls() -> None:
    assert list(page_commands()) == [
        "runwire.v1.AgentService/CreateAgent",
        "runwire.v1.ApprovalService/WatchApprovals",
        "runwire.v1.RunService/WatchRuns",
        "runwire.v1.RunService/StreamRun",
        "runwire.v1.RunService/ListRuns",
        "runwire.v1.RunService/PauseRun",
        "runwire.v1.RunService/ResumeRun",
    ]


def _types(documents: Documents) -> list[str]:
    return [d["type"].removeprefix("CHANGE_TYPE_") for d in documents]


async def test_an_operator_session(address: str) -> None:
    install_grpcurl()
    commands = page_commands()

    def at(method: str, **placeholders: str) -> list[str]:
        return localize(commands[f"runwire.v1.{method}"], address, **placeholders)

    created = (await grpcurl(at("AgentService/CreateAgent"))).strip()
    assert '"agentId": "adder"' in created and '"team": "support"' in created, created

    inbox = Background(at("ApprovalService/WatchApprovals"))
    dashboard = Background(at("RunService/WatchRuns"))
    stream = Background(at("RunService/StreamRun"))
    try:
        await inbox.start()
        await dashboard.start()
        await inbox.until("SYNCED", lambda d: "SYNCED" in _types(d))
        await dashboard.until("SYNCED", lambda d: "SYNCED" in _types(d))
        assert _types(inbox.documents) == ["SYNCED"]  # nothing pending yet

        await stream.start()
        pending = await inbox.until("a new approval", lambda d: "CREATED" in _types(d))
        approval = pending[-1]["approval"]
        assert (approval["toolName"], approval["state"]) == ("calculator", "APPROVAL_STATE_PENDING")
        run_id = approval["runId"]

        listed = await grpcurl(at("RunService/ListRuns"))
        (run,) = json_documents(listed)[0]["runs"]
        assert (run["runId"], run["labels"]) == (run_id, {"ticket": "RW-9"}), listed

        paused = await grpcurl(at("RunService/PauseRun", **{"run_...": run_id}))
        assert json_documents(paused)[0]["run"]["state"] == "RUN_STATE_REQUIRES_ACTION", paused
        resolve = localize(
            readme_command(method="runwire.v1.ApprovalService/ResolveApproval"),
            address,
            **{"apr_...": approval["approvalId"]},
        )
        await grpcurl(resolve)
        await inbox.until("the approval ended", lambda d: "ENDED" in _types(d))

        def states(documents: Documents) -> list[str]:
            return [d["run"]["state"] for d in documents if "run" in d]

        await dashboard.until("PAUSED", lambda d: "RUN_STATE_PAUSED" in states(d))
        resumed = await grpcurl(at("RunService/ResumeRun", **{"run_...": run_id}))
        assert json_documents(resumed)[0]["run"]["runId"] == run_id, resumed
        await dashboard.until("the run's end", lambda d: "ENDED" in _types(d))

        events = [document["event"] for document in await stream.finish()]
    finally:
        for process in (inbox, dashboard, stream):
            await process.stop()

    kinds = [next(key for key in event if key not in ("runId", "sequence", "createTime"))
             for event in events]  # fmt: skip
    assert "textMessageContent" not in kinds and "reasoningContent" not in kinds, kinds
    assert [e["textMessageEnd"]["text"] for e in events if "textMessageEnd" in e] == ["2+2 = 4"]
    assert [e["reasoningEnd"]["text"] for e in events if "reasoningEnd" in e] == [
        "The calculator said 4."
    ]
    assert events[-1]["runFinished"]["state"] == "RUN_STATE_SUCCEEDED", events[-1]
    sequences = [int(e["sequence"]) for e in events]
    assert sequences == sorted(sequences) and len(sequences) < sequences[-1], sequences
    assert states_seen(dashboard.documents, run_id) == [
        "RUN_STATE_QUEUED",
        "RUN_STATE_RUNNING",
        "RUN_STATE_REQUIRES_ACTION",
        "RUN_STATE_RUNNING",
        "RUN_STATE_PAUSED",
        "RUN_STATE_RUNNING",
        "RUN_STATE_SUCCEEDED",
    ]


def states_seen(documents: Documents, run_id: str) -> list[str]:
    """The states a watch reported for one run, in order."""
    return [d["run"]["state"] for d in documents if d.get("run", {}).get("runId") == run_id]
