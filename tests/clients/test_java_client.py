"""The Java client (clients/java) against a real Runwire server.

Builds the Maven project from the committed generated code (never regenerates
it; `mvn test-compile` downloads dependencies on the first run, then works from
~/.m2), runs the quickstart example (clients/java/examples) with plain
`java -cp` against the session's `runwire serve` with TLS, mutual TLS and an API
key (tests/clients/secure_server.py; `RunwireClient.connect` reads
RUNWIRE_TOKEN, RUNWIRE_CA_FILE and the client certificate from the
environment), and checks its output: every step in order, the approval
resolved by the key's principal, the deliberate disconnect and resume without a
gap or a duplicate, the final output, the typed error. Then the Python stubs
confirm the run on the server. Without the token the example's first call is
UNAUTHENTICATED.

The client's unit tests (`mvn test`: JUnit 5, src/test/java) run against the
same server, directly and through the TypeScript tests' ``StreamBreaker`` proxy,
which cuts live streams so the resume tests (blocking and async) break a
connection for real, and against the drain lab (tests/clients/lab_drain.py),
where a replica drains for real mid-stream.
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
from runwire.v1 import (
    agent_pb2,
    approval_pb2,
    run_pb2,
    run_service_pb2,
)

from tests.clients.lab_drain import DrainLab, lab_env, running_drain_lab
from tests.clients.secure_server import PRINCIPAL, SecureServer, clean_environment
from tests.clients.stream_breaker import StreamBreaker, unit_test_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
JAVA_CLIENT = ROOT / "clients" / "java"
GENERATED = JAVA_CLIENT / "src" / "generated" / "java" / "dev" / "runwire" / "v1"
FINAL_TEXT = "Order A-17 has shipped; 3 items at 19 cost 57."
EVENT_LINE = re.compile(r"^#(\d+) (\w+)(?: (.*))?$")

# A cold Maven build downloads ~45 MB of dependencies and plugins.
pytestmark = pytest.mark.timeout(900)


@dataclass
class Example:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def java_classpath() -> str:
    """Builds clients/java (client + example) and returns the example's classpath."""
    mvn, java = shutil.which("mvn"), shutil.which("java")
    assert mvn and java, "the Java client test needs `mvn` and `java` on PATH (Maven, JDK 17+)"
    assert (GENERATED / "RunServiceGrpc.java").is_file(), (
        "generated Java code is missing: run `make generate` and commit clients/java/src/generated"
    )
    build = subprocess.run(
        [mvn, "-q", "-B", "-f", str(JAVA_CLIENT / "pom.xml"), "test-compile"],
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert build.returncode == 0, f"mvn test-compile failed:\n{build.stdout}\n{build.stderr}"
    target = JAVA_CLIENT / "target"
    dependencies = (target / "classpath.txt").read_text().strip()
    return os.pathsep.join([str(target / "test-classes"), str(target / "classes"), dependencies])


async def run_example(
    classpath: str, address: str, env: dict[str, str], limit_seconds: float = 120
) -> Example:
    java = shutil.which("java")
    assert java
    process = await asyncio.create_subprocess_exec(
        java,
        "-cp",
        classpath,
        "dev.runwire.examples.Quickstart",
        address,
        cwd=JAVA_CLIENT,
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
    # The agent, then every event on its own line "#SEQ KIND DETAIL".
    agent = re.match(r"^agent (quickstart-[0-9a-f]{8}) created", lines[0])
    assert agent, report
    events = [m for line in lines if (m := EVENT_LINE.match(line))]
    sequences = [int(m[1]) for m in events]
    kinds = [m[2] for m in events]
    assert sequences == list(range(1, len(events) + 1)), report  # gap-free, no duplicates

    assert kinds[0] == "run_started", report
    run_id = events[0][3].removeprefix("run ")
    assert re.fullmatch(r"run_[0-9a-f]{32}", run_id), report
    assert kinds[-1] == "run_finished", report
    assert events[-1][3] == f'RUN_STATE_SUCCEEDED "{FINAL_TEXT}"', report
    assert kinds.count("approval_requested") == 1, report
    assert kinds.count("client_tool_call_requested") == 1, report
    assert kinds.count("text_message_start") == 2, report

    # Both tool calls are handled (approved / answered here) before the final message.
    second_message = [i for i, k in enumerate(kinds) if k == "text_message_start"][1]
    assert kinds.index("approval_requested") < second_message, report
    assert kinds.index("client_tool_call_requested") < second_message, report
    approval = next(i for i, line in enumerate(lines) if " approval_requested " in line)
    assert lines[approval].endswith('calculator {"expression":"19 * 3"}'), report
    assert re.fullmatch(r"  -> approved apr_[0-9a-f]{32}", lines[approval + 1]), report
    answer = next(i for i, line in enumerate(lines) if " client_tool_call_requested " in line)
    assert lines[answer].endswith('lookup_order {"order_id":"A-17"}'), report
    assert lines[answer + 1].startswith('  -> submitted {"order_id":"A-17"'), report
    assert {m[3] for m in events if m[2] == "tool_call_result"} == {
        "calculator -> 57",
        'lookup_order -> {"order_id":"A-17","status":"shipped","items":3}',
    }, report

    # The deliberate disconnect: after a few deltas of the final message, then a resume
    # that continues with the very next sequence.
    disconnect = [i for i, line in enumerate(lines) if line.startswith("disconnected after")]
    assert len(disconnect) == 1, report
    after = int(re.findall(r"\d+", lines[disconnect[0]])[0])
    assert lines[disconnect[0] - 1].startswith(f"#{after} text_message_content "), report
    assert lines[disconnect[0] + 1].startswith(f"#{after + 1} "), report
    assert sequences.index(after) > second_message, report
    deltas = [m[3][1:-1] for m in events[second_message:] if m[2] == "text_message_content"]
    assert "".join(deltas) == FINAL_TEXT, report

    assert f"final output: {FINAL_TEXT}" in lines, report
    assert "typed error: ALREADY_EXISTS AGENT_ALREADY_EXISTS (runwire.dev)" in lines, report
    resolved = [m[3] for m in events if m[2] == "approval_resolved"]
    assert resolved == [f"APPROVAL_STATE_APPROVED by {PRINCIPAL}"], report
    assert lines[-1] == "OK: every expected step happened", report
    return Checked(agent_id=agent[1], run_id=run_id, events=len(events))


async def test_java_quickstart_streams_approves_answers_resumes_and_succeeds(
    java_classpath: str, secure_server: SecureServer
) -> None:
    result = await run_example(java_classpath, secure_server.address, secure_server.client_env())
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
    finally:
        await stubs.channel.close()


async def test_java_quickstart_without_the_token_is_unauthenticated(
    java_classpath: str, secure_server: SecureServer
) -> None:
    env = secure_server.client_env(token=False)
    result = await run_example(java_classpath, secure_server.address, env, limit_seconds=60)
    assert result.returncode == 2, result
    assert "FAILED: call failed: UNAUTHENTICATED" in result.stdout, result


async def test_java_quickstart_fails_clearly_without_a_server(java_classpath: str) -> None:
    env = clean_environment()
    result = await run_example(java_classpath, "127.0.0.1:1", env, limit_seconds=60)
    assert result.returncode != 0
    assert "FAILED: call failed: UNAVAILABLE" in result.stdout, result


async def test_java_quickstart_checks_the_server_name(
    java_classpath: str, secure_server: SecureServer
) -> None:
    """RUNWIRE_TLS_SERVER_NAME is the name checked: one the certificate lacks fails."""
    env = secure_server.client_env() | {"RUNWIRE_TLS_SERVER_NAME": "wrong.example"}
    result = await run_example(java_classpath, secure_server.address, env, limit_seconds=60)
    assert result.returncode == 2, result
    assert "FAILED: call failed: UNAVAILABLE" in result.stdout, result


@pytest.fixture(scope="module")
async def drain_lab(
    secure_server: SecureServer, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DrainLab]:
    async with running_drain_lab(
        secure_server, redis_url, tmp_path_factory.mktemp("java-drain-lab")
    ) as lab:
        yield lab


async def test_java_unit_tests_pass_against_a_real_server(
    java_classpath: str,
    secure_server: SecureServer,
    stream_breaker: StreamBreaker,
    drain_lab: DrainLab,
) -> None:
    """`mvn test`: the client's JUnit tests, the resume tests through the proxy and
    the drain test in the drain lab included."""
    mvn = shutil.which("mvn")
    assert mvn
    reports = JAVA_CLIENT / "target" / "surefire-reports"
    cuts, drains = stream_breaker.cuts, len(drain_lab.drained)
    process = await asyncio.create_subprocess_exec(
        mvn,
        "-q",
        "-B",
        "-f",
        str(JAVA_CLIENT / "pom.xml"),
        "test",
        env=os.environ | unit_test_env(secure_server, stream_breaker) | lab_env(drain_lab),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 600)
    summaries = "\n".join(p.read_text() for p in sorted(reports.glob("*.txt")))
    report = f"{out.decode()[-6000:]}\n{summaries}"
    assert process.returncode == 0, report
    counts = re.findall(
        r"Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)", summaries
    )
    assert len(counts) == 4, report  # ClientTest, ErrorReasonsTest, SubAgentTest and WatchTest
    client_report = (reports / "TEST-dev.runwire.client.ClientTest.xml").read_text()
    live_sub_agents = 'name="subAgentsToolDiscoveryAndAChildApprovalInTheParentsStream"'
    assert live_sub_agents in client_report, report
    assert sum(int(run) for run, *_ in counts) >= 10, report
    assert all((f, e, s) == ("0", "0", "0") for _, f, e, s in counts), report
    assert stream_breaker.cuts > cuts, "no test cut a stream"
    assert len(drain_lab.drained) > drains, "no test drained a replica"
