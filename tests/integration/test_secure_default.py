"""Secure by default: without authentication, ``runwire serve`` (and
``RunwireServer.start``) binds only loopback addresses and Unix sockets.

Any other address is refused before anything is bound, with exit status 2 and a
message that says how to configure authentication or pass ``--insecure``. The
CLI runs as a real subprocess of the venv's ``runwire``; started servers are
stopped with SIGTERM (and killed in a ``finally`` if they are still running).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pathlib
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runwire_server.app.config import Settings
from runwire_server.app.server import RunwireServer
from runwire_server.app.tls import ListenConfigError, check_listen, is_local_address
from runwire_server.app.wiring import Runwire
from runwire_server.service.auth.config import ApiKey, AuthSettings
from tests.integration.test_cli import RUNWIRE, _env, _kill, assert_one_clean_line, runwire

#: What the refusal must tell the operator.
REFUSAL_HINTS = ("without authentication", "[[auth.api_keys]]", "docs/security.md", "--insecure")

EXPOSED = ["0.0.0.0:0", "[::]:0", ":0"]


def assert_refused(stderr: str, address: str) -> None:
    assert f"refusing to listen on {address} " in stderr, stderr
    for hint in REFUSAL_HINTS:
        assert hint in stderr, (hint, stderr)
    assert_one_clean_line(stderr)


@asynccontextmanager
async def serving(
    tmp_path: pathlib.Path, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[list[str]]:
    """Runs ``runwire serve ARGS`` until it prints ``serving on``; yields the
    addresses it printed; stops it with SIGTERM and expects exit status 0."""
    log = tmp_path / "serve.log"
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            RUNWIRE,
            "serve",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
            env=_env() | (env or {}),
        )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert line.startswith("serving on "), (line, log.read_text())
        yield line.removeprefix("serving on ").split(", ")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, log.read_text()
    finally:
        await _kill(process)


async def assert_serving(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=30
        )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1:50051", True),
        ("127.9.8.7:1", True),
        ("[::1]:50051", True),
        ("localhost:50051", True),
        ("LOCALHOST:0", True),
        ("unix:/tmp/runwire.sock", True),
        ("unix:///tmp/runwire.sock", True),
        ("unix-abstract:runwire", True),
        ("0.0.0.0:50051", False),
        ("[::]:50051", False),
        (":50051", False),
        ("10.1.2.3:50051", False),
        ("[::ffff:10.0.0.1]:50051", False),
        ("example.com:50051", False),
        ("localhost.example.com:50051", False),
        ("vsock:3:50051", False),
    ],
)
def test_which_addresses_are_local(address: str, local: bool) -> None:
    assert is_local_address(address) is local


@pytest.mark.parametrize("address", EXPOSED)
async def test_serve_refuses_a_non_loopback_address_without_auth(address: str) -> None:
    result = await runwire("serve", "--listen", address, limit_seconds=60)
    assert result.returncode == 2, result
    assert_refused(result.stderr, address)
    assert "serving on" not in result.stdout


async def test_serve_refuses_before_binding_anything(tmp_path: pathlib.Path) -> None:
    sock = tmp_path / "rw.sock"
    port = free_port()
    result = await runwire(
        "serve",
        "--listen",
        f"unix:{sock}",
        "--listen",
        f"127.0.0.1:{port}",
        "--listen",
        "0.0.0.0:0",
        limit_seconds=60,
    )
    assert result.returncode == 2, result
    assert_refused(result.stderr, "0.0.0.0:0")
    assert f"127.0.0.1:{port}" not in result.stderr, "only the refused address is named"
    assert not sock.exists(), "the Unix socket was bound before the refusal"


async def test_serve_refuses_a_non_loopback_address_from_the_environment() -> None:
    process = await asyncio.create_subprocess_exec(
        RUNWIRE,
        "serve",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env() | {"RUNWIRE_LISTEN": "127.0.0.1:0,0.0.0.0:0"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await _kill(process)
    assert process.returncode == 2, (out, err)
    assert_refused(err.decode(), "0.0.0.0:0")


async def test_serve_with_insecure_starts_on_a_non_loopback_address(
    tmp_path: pathlib.Path,
) -> None:
    async with serving(tmp_path, "--listen", "0.0.0.0:0", "--insecure") as addresses:
        (address,) = addresses
        assert address.startswith("0.0.0.0:") and not address.endswith(":0")
        await assert_serving(f"127.0.0.1:{address.rsplit(':', 1)[1]}")
    log = (tmp_path / "serve.log").read_text()
    assert "without authentication (insecure)" in log, log


async def test_runwire_insecure_in_the_environment_is_the_flag(tmp_path: pathlib.Path) -> None:
    async with serving(
        tmp_path, "--listen", "0.0.0.0:0", env={"RUNWIRE_INSECURE": "true"}
    ) as addresses:
        (address,) = addresses
        await assert_serving(f"127.0.0.1:{address.rsplit(':', 1)[1]}")


async def test_serve_on_loopback_and_a_unix_socket_needs_no_flag(tmp_path: pathlib.Path) -> None:
    sock = tmp_path / "rw.sock"
    listen = ("--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--listen", f"unix:{sock}")
    async with serving(tmp_path, *listen) as addresses:
        assert len(addresses) == 3, addresses
        for address in addresses:
            await assert_serving(address)


async def test_serve_with_auth_configured_starts_on_a_non_loopback_address(
    tmp_path: pathlib.Path,
) -> None:
    config = tmp_path / "runwire.toml"
    digest = hashlib.sha256(os.urandom(16)).hexdigest()
    config.write_text(
        f'[[auth.api_keys]]\nprincipal = "ops"\nroles = ["admin"]\nkey_sha256 = "{digest}"\n'
    )
    async with serving(tmp_path, "--listen", "0.0.0.0:0", "--config", str(config)) as addresses:
        (address,) = addresses
        await assert_serving(f"127.0.0.1:{address.rsplit(':', 1)[1]}")
    assert "insecure" not in (tmp_path / "serve.log").read_text()


def _settings(**values: Any) -> Settings:
    base: dict[str, Any] = {"shutdown_grace_seconds": 1.0, "log_level": "WARNING"}
    return Settings(**(base | values))


def test_check_listen_follows_auth_and_insecure() -> None:
    exposed = ["127.0.0.1:0", "0.0.0.0:0"]
    with pytest.raises(ListenConfigError, match=r"refusing to listen on 0\.0\.0\.0:0 without"):
        check_listen(_settings(listen=exposed))
    check_listen(_settings(listen=exposed, insecure=True))
    key = ApiKey(principal="ops", roles=["admin"], key_sha256="0" * 64)
    check_listen(_settings(listen=exposed, auth=AuthSettings(api_keys=[key])))
    check_listen(_settings(listen=["127.0.0.1:0", "[::1]:0", "unix:/tmp/x.sock"]))


async def test_server_start_refuses_a_non_loopback_address_without_auth() -> None:
    settings = _settings(listen=["0.0.0.0:0"])
    server = RunwireServer(await Runwire.create(settings), settings)
    try:
        with pytest.raises(ListenConfigError, match="--insecure"):
            await server.start()
        assert server.addresses == []
    finally:
        await server.app.aclose()
