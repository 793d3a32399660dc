"""The operator commands of ``runwire`` (``runwire.cli``: agents, runs, approvals,
threads) against a live server.

The server is the session's ``secure_server`` (tests/clients/conftest.py): a
``runwire serve`` subprocess with TLS, mutual TLS and an API key. The CLI runs
as users run it, a subprocess of the venv's ``runwire`` script, with the
connection from the environment (``SecureServer.client_env`` plus
``RUNWIRE_ADDRESS``) or from the options; a few cases run typer's ``CliRunner``
on the real app (``runwire.cli._app.build_app``), including the plugin
registration through the ``runwire.cli`` entry points. Setup (a run to follow, a
thread with messages) uses the Python client. Failures must exit with their
code and one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pytest
import runwire
import yaml
from runwire.cli import _app
from runwire.v1 import agent_pb2, run_pb2
from typer.testing import CliRunner

from tests.clients.secure_server import PRINCIPAL, SecureServer, clean_environment
from tests.support import polls, unique

RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))
#: Deadline of one CLI invocation, seconds: generous, for a busy machine.
CLI_SECONDS = 60.0
EVENT_LINE = re.compile(r"^#(\d+) (\w+)(?: (.*))?$")

CALCULATOR_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
    {"text": "6*7 = 42"},
]


@dataclass
class Result:
    """A finished ``runwire`` process: exit code and decoded output."""

    returncode: int
    stdout: str
    stderr: str


def _env(server: SecureServer, **extra: str) -> dict[str, str]:
    """The environment of a CLI process: the server's client settings and address."""
    env = server.client_env() | {"RUNWIRE_ADDRESS": server.address, "PYTHONUNBUFFERED": "1"}
    return env | extra


async def _start(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        RUNWIRE,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


async def cli(*args: str, env: dict[str, str], stdin: str = "") -> Result:
    """Runs ``runwire ARGS`` to its end and returns what it printed."""
    process = await _start(*args, env=env)
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), CLI_SECONDS)
    finally:
        await _kill(process)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def assert_one_error_line(result: Result, code: int, *needles: str) -> None:
    """``result`` exited ``code`` with one ``error: ...`` line holding ``needles``."""
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr + result.stdout, result
    assert len(result.stderr.strip().splitlines()) == 1, result
    assert result.stderr.startswith("error: "), result
    for needle in needles:
        assert needle in result.stderr, (needle, result)


@pytest.fixture
async def client(secure_server: SecureServer) -> AsyncIterator[runwire.AsyncClient]:
    async with runwire.connect_async(
        secure_server.address, credentials=secure_server.credentials()
    ) as c:
        yield c


async def _calculator_agent(client: runwire.AsyncClient) -> str:
    agent = await client.agents.create(
        unique("cli-op"),
        model=runwire.model("scripted", script=CALCULATOR_SCRIPT),
        tools=["calculator"],
        approval_mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
    )
    return agent.agent_id


def _agent_yaml(agent_id: str, display_name: str) -> str:
    return (
        f"agent_id: {agent_id}\n"
        f"display_name: {display_name}\n"
        "instructions: Use the calculator.\n"
        "model:\n"
        "  provider: scripted\n"
        "  options:\n"
        "    script:\n"
        "      - tool_calls: [{name: calculator, arguments: {expression: '6*7'}}]\n"
        "      - text: 6*7 = 42\n"
        "tools: [calculator]\n"
        "approval_policy:\n"
        "  mode: APPROVAL_MODE_REQUIRE_ALL\n"
    )


# --------------------------------------------------------------------------- agents


async def test_agents_apply_creates_then_updates_and_every_agent_command(
    secure_server: SecureServer, tmp_path: pathlib.Path
) -> None:
    env = _env(secure_server)
    agent_id = unique("cli-apply")
    path = tmp_path / "agent.yaml"
    path.write_text(_agent_yaml(agent_id, "Calculator"))

    created = await cli("agents", "apply", "-f", str(path), env=env)
    assert created.returncode == 0, created
    assert created.stdout == f"agent/{agent_id} created\n"
    again = await cli("agents", "apply", "-f", str(path), env=env)
    assert again.stdout == f"agent/{agent_id} unchanged\n", again

    before = yaml.safe_load((await cli("agents", "get", agent_id, "-o", "yaml", env=env)).stdout)
    assert before["display_name"] == "Calculator"
    assert before["model"]["options"]["script"][1] == {"text": "6*7 = 42"}
    path.write_text(_agent_yaml(agent_id, "Calculator two"))
    updated = await cli("agents", "apply", "-f", str(path), "-o", "json", env=env)
    assert updated.returncode == 0, updated
    after = json.loads(updated.stdout)
    assert after["agent_id"] == agent_id
    assert after["display_name"] == "Calculator two"
    assert after["etag"] != before["etag"]
    assert after["create_time"] == before["create_time"]

    table = await cli("agents", "get", agent_id, env=env)
    rows = dict(line.split(None, 1) for line in table.stdout.splitlines())
    assert rows["display_name"] == "Calculator two"
    assert rows["tools"] == '["calculator"]'

    listed = await cli("agents", "list", "-o", "json", env=env)
    assert agent_id in [agent["agent_id"] for agent in json.loads(listed.stdout)]
    lines = (await cli("agents", "list", env=env)).stdout.splitlines()
    assert lines[0].split() == [
        "AGENT_ID",
        "MODEL",
        "TOOLS",
        "APPROVAL",
        "RUNTIME",
        "UPDATED",
        "LABELS",
    ]
    row = next(line.split() for line in lines if line.startswith(agent_id + " "))
    assert row[1:4] == ["scripted", "calculator", "REQUIRE_ALL"]

    deleted = await cli("agents", "delete", agent_id, env=env)
    assert deleted.stdout == f"agent/{agent_id} deleted\n", deleted
    gone = await cli("agents", "get", agent_id, env=env)
    assert_one_error_line(gone, 1, "error: NOT_FOUND: ", "(reason AGENT_NOT_FOUND)")
    assert gone.stdout == ""


async def test_apply_of_a_json_file_from_stdin_with_a_stale_etag_is_aborted(
    secure_server: SecureServer, client: runwire.AsyncClient
) -> None:
    env = _env(secure_server)
    agent_id = await _calculator_agent(client)
    current = await client.agents.get(agent_id)
    document = {"agent_id": agent_id, "model": {"provider": "scripted"}, "etag": current.etag}
    await client.agents.update(agent_id, display_name="changed meanwhile")

    stale = await cli("agents", "apply", "-f", "-", "-o", "json", env=env, stdin=_json(document))
    assert_one_error_line(stale, 1, "error: ABORTED: ")
    assert (await client.agents.get(agent_id)).display_name == "changed meanwhile"

    document["etag"] = (await client.agents.get(agent_id)).etag
    fresh = await cli("agents", "apply", "-f", "-", "-o", "yaml", env=env, stdin=_json(document))
    assert fresh.returncode == 0, fresh
    assert yaml.safe_load(fresh.stdout)["model"] == {"provider": "scripted"}
    assert (await client.agents.get(agent_id)).display_name == ""  # every field replaced


def _json(value: Any) -> str:
    return json.dumps(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("agent_id: x\nno_such_field: 1\n", "not an Agent"),
        ("display_name: no id\n", "agent_id is required"),
        ("- a list\n", "an agent is a mapping"),
        ("agent_id: [unclosed\n", "not YAML"),
    ],
)
async def test_apply_of_a_bad_file_exits_2(
    secure_server: SecureServer, tmp_path: pathlib.Path, text: str, message: str
) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    result = await cli("agents", "apply", "-f", str(path), env=_env(secure_server))
    assert_one_error_line(result, 2, message)


# --------------------------------------------------------------------------- runs and approvals


async def _read_until_approval(process: asyncio.subprocess.Process, lines: list[str]) -> str:
    """Reads the follower's lines into ``lines`` until its approval_requested
    event; returns the approval's id."""
    assert process.stdout is not None
    while True:
        raw = await asyncio.wait_for(process.stdout.readline(), CLI_SECONDS)
        assert raw, f"the follower ended early: {lines}"
        line = raw.decode().rstrip("\n")
        lines.append(line)
        match = EVENT_LINE.match(line)
        assert match, line
        if match.group(2) == "approval_requested":
            approval = re.search(r"approval_id=(\S+)", line)
            assert approval
            return approval.group(1)


async def test_follow_a_run_while_a_second_invocation_approves_it(
    secure_server: SecureServer, client: runwire.AsyncClient
) -> None:
    env = _env(secure_server)
    agent_id = await _calculator_agent(client)
    run = await client.runs.create(agent_id, "6*7?")
    follower = await _start("runs", "events", run.run_id, "--follow", env=env)
    lines: list[str] = []
    try:
        approval_id = await _read_until_approval(follower, lines)

        pending = await cli("approvals", "list", "--state", "pending", "--run", run.run_id, env=env)
        table = pending.stdout.splitlines()
        assert table[0].split()[:3] == ["APPROVAL_ID", "RUN", "AGENT"]
        assert table[1].split()[:4] == [approval_id, run.run_id, agent_id, "calculator"]
        listed = await cli("runs", "list", "--agent", agent_id, env=env)
        assert f"approval {approval_id} (calculator)" in listed.stdout
        assert "REQUIRES_ACTION" in listed.stdout

        approved = await cli("approvals", "approve", approval_id, "--reason", "fine", env=env)
        assert approved.returncode == 0, approved
        assert approved.stdout == f"approval/{approval_id} APPROVED by {PRINCIPAL}\n"

        assert follower.stdout is not None
        rest, err = await asyncio.wait_for(follower.communicate(), CLI_SECONDS)
    finally:
        await _kill(follower)
    assert follower.returncode == 0, (lines, rest, err)
    lines += rest.decode().splitlines()
    sequences = [int(EVENT_LINE.match(line).group(1)) for line in lines]  # type: ignore[union-attr]
    assert sequences == list(range(1, len(lines) + 1))
    resolved = next(line for line in lines if " approval_resolved " in line)
    assert "state=APPROVAL_STATE_APPROVED" in resolved and f"resolved_by={PRINCIPAL}" in resolved
    assert lines[-1].startswith(f"#{len(lines)} run_finished state=RUN_STATE_SUCCEEDED")
    assert 'output="6*7 = 42"' in lines[-1]

    logged = await cli("runs", "events", run.run_id, "-o", "json", env=env)
    events = [json.loads(line) for line in logged.stdout.splitlines()]
    assert [int(e["sequence"]) for e in events] == sequences
    assert events[-1]["run_finished"]["state"] == "RUN_STATE_SUCCEEDED"
    after = await cli("runs", "events", run.run_id, "--after", str(len(lines) - 1), env=env)
    assert after.stdout.splitlines() == lines[-1:]
    documents = list(
        yaml.safe_load_all((await cli("runs", "events", run.run_id, "-o", "yaml", env=env)).stdout)
    )
    assert [d["sequence"] for d in documents] == [e["sequence"] for e in events]

    got = yaml.safe_load((await cli("runs", "get", run.run_id, "-o", "yaml", env=env)).stdout)
    assert got["state"] == "RUN_STATE_SUCCEEDED" and got["output"] == "6*7 = 42"
    runs = json.loads(
        (await cli("runs", "list", "--agent", agent_id, "-o", "json", env=env)).stdout
    )
    assert [r["run_id"] for r in runs] == [run.run_id]
    done = await cli("approvals", "get", approval_id, "-o", "json", env=env)
    assert json.loads(done.stdout)["reason"] == "fine"
    # Following a run that has ended prints its events and exits with its outcome.
    ended = await cli("runs", "events", run.run_id, "--follow", "-o", "json", env=env)
    assert ended.returncode == 0, ended
    assert len(ended.stdout.splitlines()) == len(lines)


async def test_reject_then_cancel_and_a_followed_run_that_did_not_succeed_exits_1(
    secure_server: SecureServer, client: runwire.AsyncClient
) -> None:
    env = _env(secure_server)
    agent_id = await _calculator_agent(client)
    rejected_run = await client.runs.create(agent_id, "6*7?")

    async def pending_approval(run_id: str) -> str:
        async for _ in polls():
            page = await client.approvals.list(run_id=run_id).first_page()
            if page.items:
                return page.items[0].approval_id
        raise AssertionError(f"no approval of run {run_id}")

    approval_id = await pending_approval(rejected_run.run_id)
    rejected = await cli(
        "approvals", "reject", approval_id, "--reason", "no", "-o", "json", env=env
    )
    assert rejected.returncode == 0, rejected
    answer = json.loads(rejected.stdout)
    assert answer["state"] == "APPROVAL_STATE_REJECTED" and answer["reason"] == "no"
    assert (await rejected_run.wait()).state == run_pb2.RUN_STATE_SUCCEEDED  # told, went on

    cancelled_run = await client.runs.create(agent_id, "6*7?")
    await pending_approval(cancelled_run.run_id)
    follower = await _start("runs", "events", cancelled_run.run_id, "--follow", env=env)
    try:
        await _read_until_approval(follower, [])
        cancel = await cli("runs", "cancel", cancelled_run.run_id, "--reason", "test", env=env)
        assert cancel.returncode == 0, cancel
        assert re.fullmatch(rf"run/{cancelled_run.run_id} CANCELL(ED|ING)\n", cancel.stdout)
        out, _ = await asyncio.wait_for(follower.communicate(), CLI_SECONDS)
    finally:
        await _kill(follower)
    assert follower.returncode == 1, out
    assert "state=RUN_STATE_CANCELLED" in out.decode().splitlines()[-1]
    listed = await cli("approvals", "list", "--run", cancelled_run.run_id, "-o", "yaml", env=env)
    assert [a["state"] for a in yaml.safe_load(listed.stdout)] != ["APPROVAL_STATE_PENDING"]


# --------------------------------------------------------------------------- threads


async def test_threads_get_messages_delete(
    secure_server: SecureServer, client: runwire.AsyncClient
) -> None:
    env = _env(secure_server)
    agent = await client.agents.create(
        unique("cli-thread"), model=runwire.model("scripted", script=[{"text": "Hello there."}])
    )
    thread = await client.threads.create(unique("thr"), metadata={"team": "ops"})
    run = await client.runs.create(agent.agent_id, "Hi!", thread_id=thread.thread_id)
    assert (await run.wait()).state == run_pb2.RUN_STATE_SUCCEEDED

    got = json.loads((await cli("threads", "get", thread.thread_id, "-o", "json", env=env)).stdout)
    assert got["thread_id"] == thread.thread_id and got["metadata"] == {"team": "ops"}
    table = (await cli("threads", "messages", thread.thread_id, env=env)).stdout.splitlines()
    assert table[0].split() == ["MESSAGE_ID", "ROLE", "RUN", "CREATED", "TEXT"]
    assert [line.split()[1:3] for line in table[1:]] == [
        ["USER", run.run_id],
        ["ASSISTANT", run.run_id],
    ]
    assert table[1].endswith("Hi!") and table[2].endswith("Hello there.")
    documents = yaml.safe_load(
        (await cli("threads", "messages", thread.thread_id, "-o", "yaml", env=env)).stdout
    )
    assert [m["content"] for m in documents] == ["Hi!", "Hello there."]
    listed = await cli("runs", "list", "--thread", thread.thread_id, "-o", "json", env=env)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run.run_id]

    deleted = await cli("threads", "delete", thread.thread_id, "-o", "json", env=env)
    assert json.loads(deleted.stdout) == {"thread_id": thread.thread_id, "deleted": True}
    gone = await cli("threads", "messages", thread.thread_id, env=env)
    assert_one_error_line(gone, 1, "error: NOT_FOUND: ", "(reason THREAD_NOT_FOUND)")
    no_list = await cli("threads", "list", env=env)
    assert_one_error_line(no_list, 2, "the service has no call that lists threads")


# --------------------------------------------------------------------------- connection and errors


async def test_tls_and_token_options_instead_of_the_environment(
    secure_server: SecureServer,
) -> None:
    pki = secure_server.pki
    options = [
        "--address",
        secure_server.address,
        "--token",
        secure_server.token,
        "--ca-file",
        str(pki.ca_file),
        "--client-cert",
        str(pki.client_cert_file),
        "--client-key",
        str(pki.client_key_file),
        "--tls-server-name",
        "localhost",
    ]
    env = clean_environment()
    result = await cli("agents", "list", "-o", "json", *options, env=env)
    assert result.returncode == 0, result
    assert isinstance(json.loads(result.stdout), list)

    bad_token = await cli("agents", "list", *options, "--token", "not-the-key", env=env)
    assert_one_error_line(bad_token, 1, "error: UNAUTHENTICATED: ", "(reason UNAUTHENTICATED)")
    no_token = await cli("runs", "list", env=_env(secure_server, RUNWIRE_TOKEN=""))
    assert_one_error_line(no_token, 1, "error: UNAUTHENTICATED: ")
    plaintext = await cli("agents", "list", "--address", secure_server.address, env=env)
    assert_one_error_line(plaintext, 1, f"cannot reach Runwire at {secure_server.address}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--client-cert", "client.pem"], "needs both its certificate and its key file"),
        (["--ca-file", "/nonexistent/ca.pem"], "cannot read /nonexistent/ca.pem"),
        (["--state", "done"], "want one of queued"),
        (["-o", "xml"], "xml"),
    ],
)
async def test_bad_options_exit_2(
    secure_server: SecureServer, args: list[str], message: str
) -> None:
    env = clean_environment() | {"RUNWIRE_ADDRESS": secure_server.address}
    result = await cli("runs", "list", *args, env=env)
    assert result.returncode == 2, result
    assert message in result.stderr, result
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- the app and its plugins


def test_the_app_has_the_operator_groups_and_the_servers_commands() -> None:
    app = _app.build_app()
    commands = {_app._command_name(command) for command in app.registered_commands}
    assert commands == {"serve", "health", "worker", "run", "demo", "local-model"}
    assert [group.name for group in app.registered_groups] == [
        "agents",
        "runs",
        "approvals",
        "threads",
        "tools",
    ]


def test_cli_runner_on_the_real_app(secure_server: SecureServer) -> None:
    runner = CliRunner()
    env = _env(secure_server)
    result = runner.invoke(_app.build_app(), ["agents", "list", "-o", "yaml"], env=env)
    assert result.exit_code == 0, result.output
    assert isinstance(yaml.safe_load(result.stdout), list)
    missing = runner.invoke(_app.build_app(), ["runs", "get", unique("nosuch")], env=env)
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: NOT_FOUND: "), missing.stderr


def test_a_broken_or_clashing_plugin_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "runwire.cli"
    plugins = [
        metadata.EntryPoint("broken", "runwire_no_such_module:app", group),
        metadata.EntryPoint("server", "runwire_server.app.cli:app", group),
        metadata.EntryPoint("server-again", "runwire_server.app.cli:app", group),
    ]
    monkeypatch.setattr(metadata, "entry_points", lambda group: plugins)
    app = _app.build_app()
    warnings = capsys.readouterr().err
    assert "warning: commands of broken (runwire_no_such_module:app) not loaded" in warnings
    assert "warning: command serve of server-again skipped: the name is taken" in warnings
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "serve" in result.stdout and "agents" in result.stdout


async def test_the_script_runs_the_servers_commands_too() -> None:
    result = await cli("--help", env=clean_environment() | {"COLUMNS": "200"})
    assert result.returncode == 0, result
    for name in ("serve", "health", "worker", "run", "demo", "local-model", "agents", "threads"):
        assert re.search(rf"│ {name}\s", result.stdout), name
    serve = await cli("serve", "--help", env=clean_environment())
    assert serve.returncode == 0 and "--listen" in serve.stdout, serve
