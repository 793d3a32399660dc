"""The README's grpcurl commands, run as written against a real Runwire server.

The commands are read from README.md's "With grpcurl" section, so the README
stays true: each is run with grpcurl (installed into build/bin at a pinned
version by clients/go/install-tools.sh, idempotent) after replacing only the
address 127.0.0.1:50051 with the test server's and the `apr_...` / `run_...`
placeholders with the ids the earlier commands printed. The server is a fresh
`runwire serve` subprocess, so the README's fixed agent id "calc" is free. The
README's TLS command runs against another one with TLS and an API key
(tests/clients/secure_server.py), its `ca.pem` and `$RUNWIRE_TOKEN` replaced
with the test PKI's CA and the key.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from runwire.v1 import run_pb2, run_service_pb2

from tests.clients.grpcurl_support import (
    DOC_ADDRESS,
    grpcurl,
    install_grpcurl,
    json_documents,
    localize,
    sh_block,
    sh_commands,
)
from tests.clients.secure_server import start_secure_server
from tests.serve_process import serve_process
from tests.support import Stubs, create_agent, polls

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))
README_ADDRESS = DOC_ADDRESS
SERVICES = {
    "runwire.v1.AgentService",
    "runwire.v1.RunService",
    "runwire.v1.ApprovalService",
    "runwire.v1.ThreadService",
    "runwire.v1.ToolService",
    "grpc.health.v1.Health",
}

# A cold `go install` of grpcurl downloads and compiles its modules (about a minute).
pytestmark = pytest.mark.timeout(600)


def readme_commands() -> list[list[str]]:
    """The grpcurl commands of README.md's "With grpcurl" section, as argv lists."""
    text = README.read_text()
    section = re.search(r"^### With grpcurl\n(.*?)(?=^##)", text, re.S | re.M)
    assert section, "README.md has no '### With grpcurl' section"
    return sh_commands(sh_block(section[1], "README.md's grpcurl section"))


def readme_command(*, method: str = "", verb: str = "") -> list[str]:
    """The README command calling `method` (or using the `verb` list/describe)."""
    found = [
        argv
        for argv in readme_commands()
        if (method and argv[-1] == method) or (verb and verb in argv[-3:])
    ]
    assert len(found) == 1, f"want one README grpcurl command for {method or verb}: {found}"
    argv = found[0]
    assert README_ADDRESS in argv, f"the README command does not use {README_ADDRESS}: {argv}"
    return argv


@pytest.fixture(scope="session")
def grpcurl_installed() -> pathlib.Path:
    """grpcurl at the pinned version in build/bin (go install; quick when already there)."""
    return install_grpcurl()


@pytest.fixture(scope="module")
async def address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh `runwire serve` process on a free loopback port."""
    log = tmp_path_factory.mktemp("grpcurl") / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RUNWIRE_LOG_LEVEL": "WARNING"}
    async with serve_process(RUNWIRE, cwd=ROOT, env=env, log=log, ready_seconds=30) as served:
        yield served


def test_readme_has_every_grpcurl_command() -> None:
    methods = [argv[-1] for argv in readme_commands()]
    assert methods == [
        "list",
        "runwire.v1.Agent",
        "runwire.v1.AgentService/CreateAgent",
        "runwire.v1.RunService/StreamRun",
        "runwire.v1.ApprovalService/ListApprovals",
        "runwire.v1.ApprovalService/ResolveApproval",
        "runwire.v1.RunService/StreamRunEvents",
        "runwire.v1.AgentService/ListAgents",
    ]


async def test_list_services_by_reflection(grpcurl_installed: pathlib.Path, address: str) -> None:
    out = await grpcurl(localize(readme_command(verb="list"), address))
    assert set(out.split()) >= SERVICES, out


async def test_describe_agent(grpcurl_installed: pathlib.Path, address: str) -> None:
    out = await grpcurl(localize(readme_command(verb="describe"), address))
    assert out.startswith("runwire.v1.Agent is a message:"), out
    assert "string agent_id = 1;" in out, out
    assert ".runwire.v1.ApprovalPolicy approval_policy = 7;" in out, out
    assert "(.buf.validate.field)" in out, out  # validation rules travel with reflection


async def test_create_agent_stream_run_approve_and_resume(
    grpcurl_installed: pathlib.Path, address: str
) -> None:
    # CreateAgent with the README's JSON.
    create = localize(readme_command(method="runwire.v1.AgentService/CreateAgent"), address)
    created = json.loads(await grpcurl(create))
    assert created["agent"]["agentId"] == "calc", created
    assert created["agent"]["approvalPolicy"]["mode"] == "APPROVAL_MODE_REQUIRE_ALL", created

    # StreamRun in the background: it pauses at REQUIRES_ACTION until the approval.
    stream = asyncio.create_task(
        grpcurl(localize(readme_command(method="runwire.v1.RunService/StreamRun"), address))
    )
    list_approvals = localize(
        readme_command(method="runwire.v1.ApprovalService/ListApprovals"), address
    )
    approvals: list[dict[str, Any]] = []
    async for _ in polls(interval=0.1):
        approvals = json.loads(await grpcurl(list_approvals)).get("approvals", [])
        if approvals:
            break
        assert not stream.done(), stream.result()
    assert len(approvals) == 1, approvals
    pending = approvals[0]
    assert (pending["agentId"], pending["toolName"], pending["state"]) == (
        "calc",
        "calculator",
        "APPROVAL_STATE_PENDING",
    ), pending
    assert not stream.done()

    # The second grpcurl call resolves it.
    resolve = localize(
        readme_command(method="runwire.v1.ApprovalService/ResolveApproval"),
        address,
        **{"apr_...": pending["approvalId"]},
    )
    resolved = json.loads(await grpcurl(resolve))["approval"]
    assert resolved["state"] == "APPROVAL_STATE_APPROVED", resolved
    assert resolved["decision"] == "APPROVAL_DECISION_APPROVE", resolved

    # The stream goes on and ends with runFinished / RUN_STATE_SUCCEEDED.
    events = [doc["event"] for doc in json_documents(await asyncio.wait_for(stream, 30))]
    sequences = [int(event["sequence"]) for event in events]
    assert sequences == list(range(1, len(events) + 1)), sequences
    run_id = events[0]["runId"]
    assert "approvalRequested" in {key for event in events for key in event}
    assert events[-1]["runFinished"]["state"] == "RUN_STATE_SUCCEEDED", events[-1]
    assert events[-1]["runFinished"]["output"] == "6*7 = 42", events[-1]
    results = [event["toolCallResult"] for event in events if "toolCallResult" in event]
    assert [result["content"] for result in results] == ["42"], results

    # Resume after sequence 7 (the README's command): the same events from 8 on.
    resume = localize(
        readme_command(method="runwire.v1.RunService/StreamRunEvents"),
        address,
        **{"run_...": run_id},
    )
    resumed = [doc["event"] for doc in json_documents(await grpcurl(resume))]
    assert resumed == events[7:], resumed

    # The Python stubs agree.
    stubs = Stubs.connect(address)
    try:
        run = (await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))).run
        assert run.state == run_pb2.RUN_STATE_SUCCEEDED
        assert run.agent_id == "calc"
        assert run.last_sequence == len(events)
    finally:
        await stubs.channel.close()


async def test_the_tls_command_lists_agents_with_the_token(
    grpcurl_installed: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """TLS (not mutual) and an API key: the README's command as written, and
    without its token header UNAUTHENTICATED."""
    async with start_secure_server(tmp_path, mutual_tls=False) as server:
        async with server.connect() as stubs:
            agent = await create_agent(stubs, [{"text": "hi"}])
        readme = readme_command(method="runwire.v1.AgentService/ListAgents")
        assert "-plaintext" not in readme, readme
        argv = localize(
            readme,
            server.address,
            **{"ca.pem": str(server.pki.ca_file), "$RUNWIRE_TOKEN": server.token},
        )
        listed = json.loads(await grpcurl(argv))
        assert [a["agentId"] for a in listed["agents"]] == [agent.agent_id], listed

        header = argv.index("-H")
        without_token = argv[:header] + argv[header + 2 :]
        process = await asyncio.create_subprocess_exec(
            *without_token,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode != 0
        assert "code = Unauthenticated" in err.decode(), err.decode()
