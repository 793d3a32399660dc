"""The Go client (clients/go) against a real Runwire server.

Builds the quickstart example with `go build` from the committed generated code
(never regenerates it; the first build downloads the pinned modules from the Go
module proxy into the module cache, later builds work from it), runs it against
the session's `runwire serve` with TLS, mutual TLS and an API key
(tests/clients/secure_server.py; the example reads RUNWIRE_TOKEN,
RUNWIRE_CA_FILE and the client certificate from its environment), and checks
its output: every step in order, the approval resolved by the key's principal,
the deliberate disconnect and the resume without a gap or a duplicate, the final
output, the typed error. Then the Python stubs confirm the run on the server.
Without the token the example's first call is UNAUTHENTICATED. The client's own
unit tests (`go test`), `go vet` and `gofmt` run too: against fakes on bufconn,
and against real servers (runwire/live_test.go) through the variables of
``unit_test_env`` and ``lab_env``: the session's server directly and through a
``StreamBreaker`` that cuts connections, and the drain lab
(tests/clients/lab_drain.py), where a replica drains for real mid-stream.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from runwire.v1 import agent_pb2, approval_pb2, run_pb2, run_service_pb2

from tests.clients.lab_drain import DrainLab, lab_env, running_drain_lab
from tests.clients.secure_server import PRINCIPAL, SecureServer, clean_environment
from tests.clients.stream_breaker import StreamBreaker, unit_test_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
GO_CLIENT = ROOT / "clients" / "go"
GENERATED = GO_CLIENT / "runwire" / "v1"
EXAMPLE = GO_CLIENT / "bin" / "quickstart"
FINAL_TEXT = "Order A-17 has shipped; 3 items at 19 cost 57."
LOOKUP_OUTPUT = '{"order_id":"A-17","status":"shipped"}'
EVENT_LINE = re.compile(r"^#(\d+) (\w+)(?: (.*))?$")

# A cold build downloads the pinned modules (grpc, protobuf, genproto, protovalidate).
pytestmark = pytest.mark.timeout(600)


@dataclass
class Example:
    returncode: int
    stdout: str
    stderr: str


def go_env() -> dict[str, str]:
    # The checkout is a git repository; VCS stamping is of no use for a test build.
    return {**os.environ, "GOFLAGS": "-buildvcs=false"}


def run_go(*args: str, timeout: float = 540) -> subprocess.CompletedProcess[str]:
    go = shutil.which("go")
    assert go, "the Go client test needs `go` (1.25 or newer) on PATH"
    return subprocess.run(
        [go, *args],
        cwd=GO_CLIENT,
        env=go_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def example_binary() -> pathlib.Path:
    """Builds clients/go (client, generated code, example) and returns the example."""
    assert (GENERATED / "run_service_grpc.pb.go").is_file(), (
        "generated Go code is missing: run `make generate` and commit clients/go/runwire/v1"
    )
    build = run_go("build", "-o", str(EXAMPLE), "./examples/quickstart")
    assert build.returncode == 0, f"go build failed:\n{build.stdout}\n{build.stderr}"
    return EXAMPLE


async def run_example(
    binary: pathlib.Path, address: str, env: dict[str, str], limit_seconds: float = 60
) -> Example:
    process = await asyncio.create_subprocess_exec(
        str(binary),
        address,
        cwd=GO_CLIENT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), limit_seconds)
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        pytest.fail(
            f"the example did not finish in {limit_seconds} s:\n{out.decode()}{err.decode()}"
        )
    assert process.returncode is not None
    return Example(process.returncode, out.decode(), err.decode())


@dataclass
class Checked:
    agent_id: str
    run_id: str
    events: int


def check_output(stdout: str, report: str) -> Checked:
    """Asserts the example's output shows every step in order; returns its ids."""
    lines = stdout.splitlines()
    agent = next(
        (m for line in lines if (m := re.match(r"^agent (go-quickstart-[0-9a-f]{8}): ", line))),
        None,
    )
    assert agent, report
    assert (
        "creating it again fails as expected: code AlreadyExists, reason AGENT_ALREADY_EXISTS"
        in lines
    ), report
    run_ids = [line.removeprefix("run_id: ") for line in lines if line.startswith("run_id: ")]
    assert len(run_ids) == 1 and re.fullmatch(r"run_[0-9a-f]{32}", run_ids[0]), report

    # Every event on its own line "#SEQ KIND DETAIL", across both streams.
    events = [m for line in lines if (m := EVENT_LINE.match(line))]
    sequences = [int(m[1]) for m in events]
    kinds = [m[2] for m in events]
    assert sequences == list(range(1, len(events) + 1)), report  # gap-free, no duplicates
    assert kinds[0] == "run_started", report
    assert kinds[-1] == "run_finished", report
    assert events[-1][3] == "RUN_STATE_SUCCEEDED", report
    assert kinds.count("approval_requested") == 1, report
    assert kinds.count("client_tool_call_requested") == 1, report
    assert kinds.count("text_message_start") == 2, report
    assert kinds.count("tool_call_result") == 2, report

    # Both tool calls are handled (approved / answered here) before the final message.
    second_message = [i for i, k in enumerate(kinds) if k == "text_message_start"][1]
    approval = next(i for i, line in enumerate(lines) if " approval_requested " in line)
    assert lines[approval].endswith(' calculator({"expression":"19 * 3"}) -> approving'), report
    assert lines[approval + 1] == f"   approved by {PRINCIPAL}", report
    answer = next(i for i, line in enumerate(lines) if " client_tool_call_requested " in line)
    assert lines[answer].endswith(' lookup_order({"order_id":"A-17"}) -> running it in Go'), report
    assert lines[answer + 1] == f"   submitted {LOOKUP_OUTPUT}", report
    assert kinds.index("approval_requested") < second_message, report
    assert kinds.index("client_tool_call_requested") < second_message, report
    results = {m[3] for m in events if m[2] == "tool_call_result"}
    assert results == {"calculator -> 57", f"lookup_order -> {LOOKUP_OUTPUT}"}, report
    assert max(i for i, k in enumerate(kinds) if k == "tool_call_result") < second_message, report

    # The deliberate disconnect after a few deltas of the final message, then a resume
    # that continues with the very next sequence.
    disconnect = [i for i, line in enumerate(lines) if line.startswith("-- disconnected")]
    assert len(disconnect) == 1, report
    after = int(re.findall(r"after sequence (\d+);", lines[disconnect[0]])[0])
    assert f"StreamRunEvents(after_sequence={after})" in lines[disconnect[0]], report
    assert lines[disconnect[0] - 1].startswith(f"#{after} text_message_content "), report
    assert lines[disconnect[0] + 1].startswith(f"#{after + 1} "), report
    assert sequences.index(after) > second_message, report
    assert after < len(events) - 3, report  # the disconnect came before the end
    deltas = [m[3][1:-1] for m in events[second_message:] if m[2] == "text_message_content"]
    assert "".join(deltas) == FINAL_TEXT, report

    assert f"final output: {FINAL_TEXT}" in lines, report
    assert lines[-1].startswith(f"OK: {len(events)} events"), report
    return Checked(agent_id=agent[1], run_id=run_ids[0], events=len(events))


async def test_go_quickstart_streams_approves_answers_resumes_and_succeeds(
    example_binary: pathlib.Path, secure_server: SecureServer
) -> None:
    result = await run_example(example_binary, secure_server.address, secure_server.client_env())
    report = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, report
    checked = check_output(result.stdout, report)

    # The server agrees: the run exists and SUCCEEDED with that output and event count.
    stubs = secure_server.connect()
    try:
        request = run_service_pb2.GetRunRequest(run_id=checked.run_id)
        run = (await stubs.runs.GetRun(request)).run
        assert run.state == run_pb2.RUN_STATE_SUCCEEDED
        assert run.output == FINAL_TEXT
        assert run.agent_id == checked.agent_id
        assert run.last_sequence == checked.events
        approvals = await stubs.approvals.ListApprovals(
            approval_pb2.ListApprovalsRequest(run_id=checked.run_id)
        )
        assert [(a.tool_name, a.state) for a in approvals.approvals] == [
            ("calculator", approval_pb2.APPROVAL_STATE_APPROVED)
        ]
        agent = await stubs.agents.GetAgent(agent_pb2.GetAgentRequest(agent_id=checked.agent_id))
        assert agent.agent.approval_policy.mode == agent_pb2.APPROVAL_MODE_REQUIRE_ALL
        assert list(agent.agent.tools) == ["calculator"]
    finally:
        await stubs.channel.close()


async def test_go_quickstart_without_the_token_is_unauthenticated(
    example_binary: pathlib.Path, secure_server: SecureServer
) -> None:
    env = secure_server.client_env(token=False)
    result = await run_example(example_binary, secure_server.address, env, limit_seconds=30)
    assert result.returncode == 1, result
    assert (
        "FAILED: creating the agent: runwire: Unauthenticated (UNAUTHENTICATED)" in result.stderr
    ), result


async def test_go_quickstart_fails_clearly_without_a_server(example_binary: pathlib.Path) -> None:
    env = clean_environment()
    result = await run_example(example_binary, "127.0.0.1:1", env, limit_seconds=30)
    assert result.returncode == 1, result
    assert "FAILED: creating the agent: runwire: Unavailable" in result.stderr, result


@pytest.fixture(scope="module")
async def drain_lab(
    secure_server: SecureServer, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DrainLab]:
    async with running_drain_lab(
        secure_server, redis_url, tmp_path_factory.mktemp("go-drain-lab")
    ) as lab:
        yield lab


async def test_go_client_unit_tests_against_fakes_and_real_servers(
    example_binary: pathlib.Path,
    secure_server: SecureServer,
    stream_breaker: StreamBreaker,
    drain_lab: DrainLab,
) -> None:
    """`go test -v`: the bufconn tests and the live ones, none skipped; the proxy
    cut connections and the lab drained a replica."""
    go = shutil.which("go")
    assert go
    cuts, drains = stream_breaker.cuts, len(drain_lab.drained)
    env = unit_test_env(secure_server, stream_breaker) | lab_env(drain_lab)
    env["GOFLAGS"] = "-buildvcs=false"
    process = await asyncio.create_subprocess_exec(
        go,
        "test",
        "-count=1",
        "-v",
        "./...",
        cwd=GO_CLIENT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 540)
    output = out.decode()
    assert process.returncode == 0, f"go test failed:\n{output[-8000:]}"
    assert "--- SKIP" not in output, output[-8000:]
    live = re.findall(r"^--- PASS: (TestLive\w+)", output, re.MULTILINE)
    assert len(live) >= 3, output[-8000:]
    assert "TestLiveSubAgentsToolDiscoveryAndAChildApproval" in live, output[-8000:]
    assert stream_breaker.cuts > cuts, "no Go test cut a connection"
    assert len(drain_lab.drained) > drains, "no Go test drained a replica"


def test_go_vet_and_gofmt(example_binary: pathlib.Path) -> None:
    vet = run_go("vet", "./...")
    assert vet.returncode == 0, f"go vet failed:\n{vet.stdout}\n{vet.stderr}"
    goroot = run_go("env", "GOROOT").stdout.strip()
    gofmt = shutil.which("gofmt") or str(pathlib.Path(goroot, "bin", "gofmt"))
    unformatted = subprocess.run(
        [gofmt, "-l", "."], cwd=GO_CLIENT, capture_output=True, text=True, check=True
    ).stdout
    assert unformatted == "", f"files not gofmt-formatted:\n{unformatted}"


async def test_go_quickstart_checks_the_server_name(
    example_binary: pathlib.Path, secure_server: SecureServer
) -> None:
    """RUNWIRE_TLS_SERVER_NAME is the name checked: one the certificate lacks fails."""
    env = secure_server.client_env() | {"RUNWIRE_TLS_SERVER_NAME": "wrong.example"}
    result = await run_example(example_binary, secure_server.address, env, limit_seconds=30)
    assert result.returncode == 1, result
    assert "FAILED: creating the agent: runwire: Unavailable" in result.stderr, result
    assert "not wrong.example" in result.stderr, result
