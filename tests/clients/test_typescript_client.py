"""The TypeScript client (clients/typescript) against a real Runwire server.

Installs the client's npm dependencies from its lock file when they are
missing or stale (`npm ci`), compiles the client and its quickstart with `tsc`
(`npm run build`; the generated code in src/gen is committed, never regenerated
here), runs the quickstart against the session's `runwire serve` with TLS,
mutual TLS and an API key (tests/clients/secure_server.py; the quickstart reads
RUNWIRE_TOKEN, RUNWIRE_CA_FILE and the client certificate from its
environment) and checks its output: the approval, the client tool call, both
tool results, the deliberate disconnect and resume, gap-free sequences and the
final answer. The Python stubs then confirm the run exists and SUCCEEDED.
Without the token the quickstart's first call is UNAUTHENTICATED.

The client's unit tests (`npm test`: node's test runner over test/*.test.ts)
run against the same server, directly (RUNWIRE_TEST_ADDRESS) and through a
``StreamBreaker`` (RUNWIRE_TEST_PROXY_ADDRESS): a TCP proxy whose control
endpoint (RUNWIRE_TEST_PROXY_CONTROL, ``POST /cut``) aborts every proxied
connection, so a resume test breaks a live stream for real. The Java client's
tests use the same proxy. The drain test runs against the drain lab
(tests/clients/lab_drain.py: RUNWIRE_TEST_DRAIN_ADDRESS, RUNWIRE_TEST_DRAIN_CONTROL),
where a replica drains for real mid-stream.
"""

from __future__ import annotations

import pathlib
import re
import shutil
from collections.abc import AsyncIterator

import pytest
from runwire.v1 import run_pb2, run_service_pb2

from tests.clients.lab_drain import DrainLab, lab_env, running_drain_lab
from tests.clients.node_support import npm_ci_if_stale
from tests.clients.secure_server import SecureServer
from tests.clients.stream_breaker import StreamBreaker, unit_test_env
from tests.commands import run_command

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
FINAL_TEXT = "Order A-17 has shipped; 3 items at 19 cost 57."

pytestmark = pytest.mark.timeout(600)


async def _run(*args: str, seconds: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Runs a command in clients/typescript (``node_support.run_command``)."""
    return await run_command(*args, cwd=CLIENT, seconds=seconds, env=env)


@pytest.fixture(scope="module")
async def built_client() -> pathlib.Path:
    """Installs (if needed) and compiles the client; returns the compiled quickstart."""
    npm = shutil.which("npm")
    assert npm is not None and shutil.which("node") is not None, "node and npm are required"
    await npm_ci_if_stale(CLIENT)
    code, out = await _run(npm, "run", "build", seconds=300)
    assert code == 0, f"tsc failed:\n{out[-4000:]}"
    quickstart = CLIENT / "dist" / "examples" / "quickstart.js"
    assert quickstart.exists(), f"no {quickstart} after the build"
    return quickstart


def _kinds(output: str) -> list[str]:
    """The event kinds the quickstart logged (`[seq] kind ...` lines), in order."""
    return re.findall(r"^\[\d+\] (\w+)", output, flags=re.MULTILINE)


async def test_quickstart_runs_against_a_real_server(
    secure_server: SecureServer, built_client: pathlib.Path
) -> None:
    code, out = await _run(
        "node",
        str(built_client),
        secure_server.address,
        seconds=60,
        env=secure_server.client_env(),
    )
    assert code == 0, f"quickstart exited {code}:\n{out}"

    assert "OK: every expected step happened" in out, out
    assert f"final output: {FINAL_TEXT}\n" in out, out
    assert re.search(r"^disconnected after sequence \d+; resuming", out, re.MULTILINE), out

    kinds = _kinds(out)
    assert kinds[0] == "run_started", kinds
    assert kinds[-1] == "run_finished", kinds
    assert kinds.count("approval_requested") == 1, kinds
    assert kinds.count("client_tool_call_requested") == 1, kinds
    assert kinds.count("tool_call_result") == 2, kinds
    # The approval and the client tool call come before their results, which
    # come before the final message.
    first_result = kinds.index("tool_call_result")
    assert kinds.index("approval_requested") < first_result, kinds
    assert kinds.index("client_tool_call_requested") < first_result, kinds
    assert max(i for i, k in enumerate(kinds) if k == "text_message_start") > first_result, kinds

    sequences = [int(s) for s in re.findall(r"^\[(\d+)\] ", out, flags=re.MULTILINE)]
    assert sequences == list(range(1, len(sequences) + 1)), sequences
    assert "tool_call_result calculator -> 57" in out, out
    assert 'tool_call_result lookup_order -> {"order_id":"A-17","status":"shipped"' in out, out
    assert f'run_finished SUCCEEDED "{FINAL_TEXT}"' in out, out

    run_ids = re.findall(r"^run (run_\w+)$", out, flags=re.MULTILINE)
    assert len(run_ids) == 1, out
    stubs = secure_server.connect()
    try:
        response = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_ids[0]))
    finally:
        await stubs.channel.close()
    assert response.run.state == run_pb2.RUN_STATE_SUCCEEDED
    assert response.run.output == FINAL_TEXT
    assert response.run.last_sequence == sequences[-1]


async def test_quickstart_without_the_token_is_unauthenticated(
    secure_server: SecureServer, built_client: pathlib.Path
) -> None:
    code, out = await _run(
        "node",
        str(built_client),
        secure_server.address,
        seconds=60,
        env=secure_server.client_env(token=False),
    )
    assert code == 2, out
    assert "FAILED: call failed with UNAUTHENTICATED (reason UNAUTHENTICATED)" in out, out


async def test_quickstart_checks_the_server_name(
    secure_server: SecureServer, built_client: pathlib.Path
) -> None:
    """RUNWIRE_TLS_SERVER_NAME is the name checked: one the certificate lacks fails."""
    code, out = await _run(
        "node",
        str(built_client),
        secure_server.address,
        seconds=60,
        env=secure_server.client_env() | {"RUNWIRE_TLS_SERVER_NAME": "wrong.example"},
    )
    assert code == 2, out
    assert "Host: wrong.example. is not in the cert's altnames" in out, out


@pytest.fixture(scope="module")
async def drain_lab(
    secure_server: SecureServer, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DrainLab]:
    async with running_drain_lab(
        secure_server, redis_url, tmp_path_factory.mktemp("ts-drain-lab")
    ) as lab:
        yield lab


async def test_unit_tests_pass_against_a_real_server(
    secure_server: SecureServer,
    stream_breaker: StreamBreaker,
    drain_lab: DrainLab,
    built_client: pathlib.Path,
) -> None:
    """`npm test`: the client's own tests (node --test), resume tests through the
    proxy and the drain test in the drain lab included."""
    npm = shutil.which("npm")
    assert npm is not None
    cuts, drains = stream_breaker.cuts, len(drain_lab.drained)
    env = unit_test_env(secure_server, stream_breaker) | lab_env(drain_lab)
    code, out = await _run(npm, "test", seconds=300, env=env)
    assert code == 0, f"npm test failed:\n{out[-6000:]}"
    assert re.search(r"^# fail 0$", out, re.MULTILINE), out[-4000:]
    assert re.search(r"^# skipped 0$", out, re.MULTILINE), out[-4000:]
    assert re.search(r"^ +ok \d+ - sub-agents: listAgentTools", out, re.MULTILINE), out[-4000:]
    assert stream_breaker.cuts > cuts, "no test cut a stream"
    assert len(drain_lab.drained) > drains, "no test drained a replica"
