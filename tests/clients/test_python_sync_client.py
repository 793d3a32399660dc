"""``runwire.Client`` (the blocking client) and the Python quickstart against a
real ``runwire serve`` with TLS, mutual TLS and an API key.

The server is the session's ``secure_server`` subprocess (tests/clients/conftest.py),
so the blocking calls of these tests never hold the server's event loop. The
quickstart (clients/python/examples/quickstart.py) runs as a subprocess with the
environment every Runwire example gets (``SecureServer.client_env``), as the Go,
TypeScript and Java examples do.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import runwire
from runwire.v1 import agent_pb2, approval_pb2, event_pb2, run_pb2

from tests.clients.secure_server import PRINCIPAL, SecureServer, clean_environment
from tests.support import assert_gap_free, unique

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "clients" / "python" / "examples" / "quickstart.py"
FINAL_TEXT = "Order A-17 has shipped; 3 items at 19 cost 57."
EVENT_LINE = re.compile(r"^#(\d+) (\w+)(?: (.*))?$")


@pytest.fixture
def client(secure_server: SecureServer) -> Iterator[runwire.Client]:
    with runwire.connect(
        secure_server.address,
        credentials=secure_server.credentials(),
        retry=runwire.Retry(max_attempts=3, backoff_seconds=0.01),
    ) as c:
        yield c


def _agent(client: runwire.Client, script: list[dict[str, Any]], **fields: Any) -> agent_pb2.Agent:
    return client.agents.create(
        unique("py-sync"), model=runwire.model("scripted", script=script), **fields
    )


def test_sync_client_covers_the_resources(client: runwire.Client) -> None:
    agent = _agent(
        client,
        [
            {
                "tool_calls": [
                    {"name": "calculator", "arguments": {"expression": "2 * 21"}},
                    {"name": "lookup", "arguments": {"key": "x"}},
                ]
            },
            {"text": "all done"},
        ],
        tools=["calculator"],
        approval_mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    assert client.agents.get(agent.agent_id) == agent
    assert agent.agent_id in [a.agent_id for a in client.agents.list(page_size=1)]
    assert client.agents.update(agent.agent_id, description="sync").description == "sync"

    threads_seen: list[str] = []

    def approve(requested: event_pb2.ApprovalRequested) -> bool:
        # A plain callback runs in a worker thread and may use the client itself.
        threads_seen.append(threading.current_thread().name)
        approval = client.approvals.get(requested.approval_id)
        return approval.state == approval_pb2.APPROVAL_STATE_PENDING

    def lookup(arguments: dict[str, Any]) -> str:
        return f"value of {arguments['key']}"

    thread = client.threads.create()
    stream = client.runs.stream(
        agent.agent_id,
        "p",
        thread_id=thread.thread_id,
        tools={"lookup": lookup},
        on_approval=approve,
    )
    events = list(stream)
    assert_gap_free(events)
    assert events[-1].run_finished.output == "all done"
    assert stream.terminal_event == events[-1] and stream.last_sequence == len(events)
    assert threads_seen and threads_seen[0] != threading.current_thread().name
    results = {e.tool_call_result.content for e in events if e.HasField("tool_call_result")}
    assert results == {"42", "value of x"}
    (approval,) = client.approvals.list(run_id=stream.run_id)
    assert approval.resolved_by == PRINCIPAL
    assert next(iter(client.threads.messages(thread.thread_id))).content == "p"
    assert client.threads.get(thread.thread_id).message_count >= 2

    # Declared but not executed here: after the approval the run waits for it.
    run = client.runs.create(agent.agent_id, "again", client_tools=[runwire.client_tool("lookup")])
    assert client.runs.get(run.run_id).agent_id == agent.agent_id
    approval_id = _wait_for_approval(run)
    (pending,) = client.approvals.list(
        run_id=run.run_id, state=approval_pb2.APPROVAL_STATE_PENDING
    ).to_list()
    assert pending.approval_id == approval_id
    approved = client.approvals.approve(approval_id)
    assert approved.state == approval_pb2.APPROVAL_STATE_APPROVED
    cancelled = run.cancel("enough")
    assert cancelled.state in (run_pb2.RUN_STATE_CANCELLING, run_pb2.RUN_STATE_CANCELLED)
    assert run.wait().state == run_pb2.RUN_STATE_CANCELLED
    assert [r.run_id for r in client.runs.list(agent_id=agent.agent_id)] == [
        run.run_id,
        stream.run_id,
    ]
    assert (
        len(client.runs.list_events(run.run_id, page_size=5).to_list()) == run.get().last_sequence
    )

    waited = client.runs.wait(agent.agent_id, "waited", timeout=30)
    assert waited.state == run_pb2.RUN_STATE_REQUIRES_ACTION
    client.runs.cancel(waited.run_id)

    client.threads.delete(thread.thread_id)
    client.agents.delete(agent.agent_id)
    with pytest.raises(runwire.NotFoundError) as caught:
        client.agents.get(agent.agent_id)
    assert caught.value.reason == "AGENT_NOT_FOUND"


def _wait_for_approval(run: runwire.Run) -> str:
    """The id of the run's first approval, read from its event stream."""
    for event in run.events():
        if event.HasField("approval_requested"):
            return event.approval_requested.approval_id
    raise AssertionError("the run ended without an approval")


def test_sync_client_reports_typed_errors(secure_server: SecureServer) -> None:
    with (
        runwire.connect(
            secure_server.address, credentials=secure_server.credentials(token=False)
        ) as anonymous,
        pytest.raises(runwire.UnauthenticatedError) as caught,
    ):
        anonymous.agents.list().to_list()
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    with runwire.connect(
        "127.0.0.1:1", token="", tls=False, retry=runwire.Retry(max_attempts=0)
    ) as nowhere:
        with pytest.raises(runwire.UnavailableError):
            nowhere.runs.create("a", "p")
        with pytest.raises(runwire.UnavailableError):
            list(nowhere.runs.stream("a", "p"))


def test_sync_client_closes_cleanly_and_refuses_calls_after(
    secure_server: SecureServer,
) -> None:
    client = runwire.connect(secure_server.address, credentials=secure_server.credentials())
    agent = _agent(client, [{"text": "x " * 50}])
    stream = iter(client.runs.stream(agent.agent_id, "p"))
    assert next(stream).HasField("run_started")
    del stream  # leaving a stream early closes it
    client.close()
    client.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        client.agents.get(agent.agent_id)


def test_sync_client_reads_the_environment(
    secure_server: SecureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in secure_server.client_env().items():
        if name.startswith("RUNWIRE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("RUNWIRE_ADDRESS", secure_server.address)
    with runwire.connect() as client:
        assert client.address == secure_server.address
        assert client.agents.list(page_size=1).first_page().items is not None


# --------------------------------------------------------------------------- quickstart


def run_quickstart(address: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(QUICKSTART), address],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_python_quickstart_streams_approves_answers_resumes_and_succeeds(
    secure_server: SecureServer,
) -> None:
    result = run_quickstart(secure_server.address, secure_server.client_env())
    report = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, report
    lines = result.stdout.splitlines()
    agent = next(m for line in lines if (m := re.match(r"^agent (py-quickstart-\w+): ", line)))
    assert (
        "creating it again fails as expected: AlreadyExistsError, reason AGENT_ALREADY_EXISTS"
        in lines
    ), report
    (run_id,) = [line.removeprefix("run_id: ") for line in lines if line.startswith("run_id: ")]
    events = [m for line in lines if (m := EVENT_LINE.match(line))]
    sequences = [int(m[1]) for m in events]
    kinds = [m[2] for m in events]
    assert sequences == list(range(1, len(events) + 1)), report  # no gap, no duplicate
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished", report
    assert events[-1][3] == "RUN_STATE_SUCCEEDED", report
    assert kinds.count("approval_requested") == 1, report
    assert kinds.count("client_tool_call_requested") == 1, report
    # The approval callback and the client tool ran right after their events.
    approval = next(i for i, line in enumerate(lines) if " approval_requested " in line)
    assert lines[approval].endswith(' calculator({"expression":"19 * 3"})'), report
    assert lines[approval + 1].startswith("   approving calculator (apr_"), report
    tool = next(i for i, line in enumerate(lines) if " client_tool_call_requested " in line)
    assert lines[tool + 1] == '   lookup_order runs in Python with {"order_id":"A-17"}', report
    resolved = [m for m in events if m[2] == "approval_resolved"]
    assert resolved[0][3] == f"APPROVAL_STATE_APPROVED by {PRINCIPAL}", report
    results = {m[3] for m in events if m[2] == "tool_call_result"}
    assert results == {
        "calculator -> 57",
        'lookup_order -> {"order_id":"A-17","status":"shipped"}',
    }, report
    # The deliberate disconnect, then a resume with the very next sequence.
    (disconnect,) = [i for i, line in enumerate(lines) if line.startswith("-- disconnected")]
    after = int(re.findall(r"after sequence (\d+);", lines[disconnect])[0])
    assert lines[disconnect - 1].startswith(f"#{after} text_message_content "), report
    assert lines[disconnect + 1].startswith(f"#{after + 1} "), report
    assert after < len(events) - 3, report
    assert f"final output: {FINAL_TEXT}" in lines, report
    assert lines[-1].startswith(f"OK: {len(events)} events"), report

    # The server agrees.
    with runwire.connect(secure_server.address, credentials=secure_server.credentials()) as c:
        run = c.runs.get(run_id)
        assert run.state == run_pb2.RUN_STATE_SUCCEEDED and run.output == FINAL_TEXT
        assert run.agent_id == agent[1] and run.last_sequence == len(events)
        outputs = [e for e in c.runs.list_events(run_id) if e.HasField("tool_call_result")]
        assert json.loads(outputs[-1].tool_call_result.content)["status"] == "shipped"


def test_python_quickstart_without_the_token_is_unauthenticated(
    secure_server: SecureServer,
) -> None:
    result = run_quickstart(secure_server.address, secure_server.client_env(token=False))
    assert result.returncode == 1, result
    assert "FAILED: creating the agent: UNAUTHENTICATED: " in result.stderr, result


def test_python_quickstart_fails_clearly_without_a_server() -> None:
    result = run_quickstart("127.0.0.1:1", clean_environment())
    assert result.returncode == 1, result
    assert "FAILED: creating the agent: UNAVAILABLE: " in result.stderr, result
