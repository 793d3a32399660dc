"""The ``runwire`` command as users run it: real subprocesses of the venv's executable.

``serve`` is started on a free TCP port and a Unix socket and stopped with
SIGTERM; ``run`` answers an approval read from a piped stdin; ``run`` and
``health`` reach a server with TLS, mutual TLS and an API key through their
options or the environment; ``demo`` needs nothing else running;
``local-model`` without the dev tooling says how to get it.
The stream loop ``run`` and ``demo`` use (resume, approvals) is the Python
client's, tested in tests/clients/test_python_client.py. Expected failures must
exit with their code and one clear line, never a traceback. Every process started
here is killed in a ``finally`` if it is still running.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from runwire.v1 import agent_pb2

from runwire_server.app import cli
from runwire_server.app.server import RunwireServer
from tests.clients.secure_server import PRINCIPAL, SecureServer, start_secure_server
from tests.support import PARITY_TOKEN, Stubs, create_agent, unique

RUNWIRE = str(pathlib.Path(sys.executable).with_name("runwire"))
#: Deadline of a call or a stop that should be quick, seconds: generous, for a busy machine.
CALL_SECONDS = 30.0

ECHO_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "echo", "arguments": {"text": "ping"}}]},
    {"text": "The echo said ping."},
]


@dataclass
class Result:
    """A finished subprocess: exit code and decoded output."""

    returncode: int
    stdout: str
    stderr: str


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIRE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "200"
    return env


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


async def runwire(
    *args: str, stdin: str = "", limit_seconds: float = 60, env: dict[str, str] | None = None
) -> Result:
    """Runs ``runwire ARGS`` to its end (in ``env``, default ``_env()``) and
    returns what it printed."""
    process = await asyncio.create_subprocess_exec(
        RUNWIRE,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env if env is not None else _env(),
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), limit_seconds)
    finally:
        await _kill(process)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def assert_one_clean_line(text: str) -> None:
    """``text`` is one line and no traceback."""
    assert "Traceback" not in text, text
    assert len(text.strip().splitlines()) == 1, text


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Served:
    """A running ``runwire serve`` and the addresses it printed."""

    process: asyncio.subprocess.Process
    tcp: str
    unix: str
    log: pathlib.Path


@pytest.fixture
async def served(tmp_path: pathlib.Path) -> AsyncIterator[Served]:
    sock = tmp_path / "rw.sock"
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            RUNWIRE,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            f"unix:{sock}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            env=_env(),
        )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert line.startswith("serving on "), (line, log.read_text())
        tcp, unix = line.removeprefix("serving on ").split(", ")
        assert unix == f"unix:{sock}"
        assert tcp.startswith("127.0.0.1:") and not tcp.endswith(":0")
        yield Served(process=process, tcp=tcp, unix=unix, log=log)
    finally:
        await _kill(process)


async def test_demo_streams_a_run_and_approves_its_tool_call() -> None:
    result = await runwire("demo", limit_seconds=60)
    assert result.returncode == 0, result
    assert 'approval requested for calculator({"expression": "6 * 7"}) → approving (demo)' in (
        result.stdout
    )
    assert "6 × 7 = 42. The answer is 42." in result.stdout  # noqa: RUF001
    assert "SUCCEEDED" in result.stdout
    assert " events · run run_" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


async def test_serve_run_over_unix_socket_and_tcp_then_sigterm(served: Served) -> None:
    stubs = Stubs.connect(served.unix)
    try:
        agent = await create_agent(
            stubs, ECHO_SCRIPT, tools=["echo"], mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL
        )
    finally:
        await stubs.channel.close()

    # Approval answered on a piped stdin, over the Unix socket.
    approved = await runwire(
        "run", agent.agent_id, "say ping", "--address", served.unix, stdin="y\n"
    )
    assert approved.returncode == 0, approved
    assert 'Approve echo({"text": "ping"})? [y/n] y' in approved.stdout
    assert "← ping" in approved.stdout
    assert "The echo said ping." in approved.stdout
    assert "SUCCEEDED · finish reason stop · tokens" in approved.stdout

    # Rejected: the model is told, and the scripted run still succeeds.
    rejected = await runwire(
        "run", agent.agent_id, "say ping", "--address", served.tcp, stdin="n\n"
    )
    assert rejected.returncode == 0, rejected
    assert "rejected at the terminal" in rejected.stdout
    assert "← ping" not in rejected.stdout

    # --yes approves without reading stdin.
    yes = await runwire("run", agent.agent_id, "say ping", "--address", served.tcp, "--yes")
    assert yes.returncode == 0, yes
    assert "approving (--yes)" in yes.stdout and "The echo said ping." in yes.stdout

    served.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(served.process.wait(), CALL_SECONDS) == 0
    log = served.log.read_text()
    assert "SIGTERM received" in log and "Traceback" not in log


async def test_run_that_fails_exits_1_with_the_error(served: Served) -> None:
    stubs = Stubs.connect(served.tcp)
    try:
        script = [{"tool_calls": [{"name": "sleep", "arguments": {"seconds": 30}}]}]
        agent = await create_agent(stubs, script, tools=["sleep"], timeout_seconds=1)
    finally:
        await stubs.channel.close()
    result = await runwire("run", agent.agent_id, "p", "--address", served.tcp)
    assert result.returncode == 1, result
    assert "FAILED · finish reason timeout" in result.stdout
    assert "DEADLINE_EXCEEDED" in result.stdout


async def test_serve_with_a_missing_config_file_exits_2(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "missing.toml"
    result = await runwire("serve", "--config", str(missing))
    assert result.returncode == 2, result
    assert "missing.toml" in result.stderr
    assert_one_clean_line(result.stderr)


async def test_serve_with_a_bad_setting_exits_2(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "runwire.toml"
    config.write_text("max_iterations = 1000\n")
    result = await runwire("serve", "--config", str(config))
    assert result.returncode == 2, result
    assert "max_iterations" in result.stderr
    assert_one_clean_line(result.stderr)


async def test_serve_on_a_port_in_use_exits_2() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        result = await runwire("serve", "--listen", address, limit_seconds=30)
    assert result.returncode == 2, result
    assert f"cannot listen on {address}" in result.stderr
    assert_one_clean_line(result.stderr)


async def test_python_dash_m_runwire_server_app_is_serve(tmp_path: pathlib.Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runwire_server.app",
        "--config",
        str(tmp_path / "missing.toml"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await _kill(process)
    assert process.returncode == 2
    assert "missing.toml" in err.decode()


async def test_run_against_nothing_listening_says_cannot_reach() -> None:
    address = f"127.0.0.1:{closed_port()}"
    result = await runwire("run", "nosuch-agent", "x", "--address", address, limit_seconds=30)
    assert result.returncode == 1, result
    assert f"cannot reach Runwire at {address}: connection refused" in result.stderr
    assert_one_clean_line(result.stderr)
    assert "Traceback" not in result.stdout


async def test_run_of_an_unknown_agent_prints_not_found(server: RunwireServer) -> None:
    address = server.addresses[0]
    refused = await runwire("run", unique("nosuch"), "x", "--address", address, "--token", "")
    assert refused.returncode == 1, refused
    assert "UNAUTHENTICATED" in refused.stderr
    assert_one_clean_line(refused.stderr)
    result = await runwire(
        "run", unique("nosuch"), "x", "--address", address, "--token", PARITY_TOKEN
    )
    assert result.returncode == 1, result
    assert "NOT_FOUND" in result.stderr
    assert "AGENT_NOT_FOUND" in result.stderr
    assert_one_clean_line(result.stderr)


# --------------------------------------------------------------------------- TLS and auth

CALCULATOR_SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}]},
    {"text": "6*7 = 42"},
]


@pytest.fixture(scope="module")
async def secure(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SecureServer]:
    """``runwire serve`` with TLS, mutual TLS and one admin API key."""
    async with start_secure_server(tmp_path_factory.mktemp("cli-secure")) as server:
        yield server


async def _calculator_agent(server: SecureServer) -> str:
    async with server.connect() as stubs:
        agent = await create_agent(
            stubs,
            CALCULATOR_SCRIPT,
            tools=["calculator"],
            mode=agent_pb2.APPROVAL_MODE_REQUIRE_ALL,
        )
    return agent.agent_id


def _tls_options(server: SecureServer) -> list[str]:
    return [
        "--ca-file",
        str(server.pki.ca_file),
        "--client-cert",
        str(server.pki.client_cert_file),
        "--client-key",
        str(server.pki.client_key_file),
    ]


async def test_run_with_tls_and_token_options(secure: SecureServer) -> None:
    agent_id = await _calculator_agent(secure)
    args = ["run", agent_id, "6*7?", "--address", secure.address, "--yes"]
    result = await runwire(*args, "--token", secure.token, *_tls_options(secure))
    assert result.returncode == 0, result
    assert f"approved by {PRINCIPAL}" in result.stdout
    assert "6*7 = 42" in result.stdout and "SUCCEEDED" in result.stdout


async def test_run_with_tls_and_token_from_the_environment(secure: SecureServer) -> None:
    agent_id = await _calculator_agent(secure)
    env = _env() | secure.client_env()
    result = await runwire("run", agent_id, "6*7?", "--address", secure.address, "-y", env=env)
    assert result.returncode == 0, result
    assert f"approved by {PRINCIPAL}" in result.stdout


async def test_run_without_the_token_is_unauthenticated(secure: SecureServer) -> None:
    args = ["run", "any-agent", "p", "--address", secure.address, *_tls_options(secure)]
    result = await runwire(*args)
    assert result.returncode == 1, result
    assert result.stderr.startswith("error: UNAUTHENTICATED: "), result
    assert "(reason UNAUTHENTICATED)" in result.stderr
    assert_one_clean_line(result.stderr)


async def test_run_in_plaintext_against_tls_cannot_reach(secure: SecureServer) -> None:
    result = await runwire("run", "any-agent", "p", "--address", secure.address, "--token", "x")
    assert result.returncode == 1, result
    assert f"cannot reach Runwire at {secure.address}" in result.stderr
    assert_one_clean_line(result.stderr)


async def test_health_over_mutual_tls_needs_no_token(secure: SecureServer) -> None:
    args = ["health", "--address", secure.address, "--timeout", str(CALL_SECONDS)]
    result = await runwire(*args, *_tls_options(secure))
    assert result.returncode == 0, result
    assert result.stdout.strip() == "SERVING"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--client-cert", "client.pem"], "needs both its certificate and its key file"),
        (["--ca-file", "/nonexistent/ca.pem"], "cannot read /nonexistent/ca.pem"),
    ],
)
async def test_bad_tls_options_exit_2(options: list[str], message: str) -> None:
    result = await runwire("run", "any-agent", "p", *options)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert_one_clean_line(result.stderr)


def test_module_docstring_lists_every_command() -> None:
    assert cli.__doc__ is not None
    names = [
        command.name or getattr(command.callback, "__name__", "")
        for command in cli.app.registered_commands
    ]
    assert sorted(names) == ["demo", "health", "local-model", "run", "serve", "worker"]
    missing = [name for name in names if f"``runwire {name}" not in cli.__doc__]
    assert missing == []


@pytest.mark.parametrize("args", [["local-model"], ["demo", "--local-model"]])
async def test_local_model_without_devtools_says_how_to_install_it(args: list[str]) -> None:
    """As in the Docker image, where devtools/ (dev tooling, not in the wheel) is absent."""
    blocked = (
        "import sys; sys.modules['devtools'] = None; "
        f"from runwire_server.app.cli import main; main({args!r})"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        blocked,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await _kill(process)
    assert process.returncode == 1, (out, err)
    assert "error: the local model tooling (devtools.local_model) is not installed" in err.decode()
    assert "scripts/install_local_model.sh" in err.decode()
    assert_one_clean_line(err.decode())
