"""A Redis that requires a password: ``RUNWIRE_REDIS_PASSWORD_FILE`` (or a password in
``RUNWIRE_REDIS_URL``) is used by every Redis connection of the server and of its workers.

Real ``redis-server`` processes with ``requirepass`` (``tests.redis_server``): a server
given the password file stores a run in Redis; ``runwire serve`` and ``runwire worker``
(real subprocesses) with the file run a durable run on the Temporal dev server; a wrong,
missing or unreadable password stops either command at start with exit status 2 and one
line that names the setting to fix and never the password.
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import AsyncIterator
from typing import cast

import pydantic
import pytest
import redis.asyncio as redis
from pydantic import SecretStr
from runwire.v1 import agent_pb2, run_pb2, run_service_pb2

from runwire_server.app.config import Settings
from runwire_server.app.wiring import build_stores
from runwire_server.service.stores.redis_client import reply
from tests.conftest import server_settings
from tests.durability.processes import deployment, free_port
from tests.integration.test_cli import _env, assert_one_clean_line, closed_port, runwire
from tests.redis_server import RedisServer, running_redis
from tests.support import Stubs, collect, create_agent, running_server

PASSWORD = "pw-" + uuid.uuid4().hex
SCRIPT = [{"text": "Stored behind a password."}]


@pytest.fixture(scope="module")
async def locked_redis() -> AsyncIterator[RedisServer]:
    """A redis-server that requires ``PASSWORD``; its ``url`` holds no password."""
    async with running_redis(password=PASSWORD) as server:
        yield server


@pytest.fixture
def password_file(tmp_path: pathlib.Path) -> pathlib.Path:
    """``PASSWORD`` in a file as a secret is mounted: with a trailing newline."""
    path = tmp_path / "redis-password"
    path.write_text(PASSWORD + "\n")
    return path


async def keys_with_prefix(server: RedisServer, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(server.url, password=server.password)
    try:
        return list(await reply(client.keys(f"{prefix}:*")))
    finally:
        await client.aclose()


async def run_once(stubs: Stubs) -> run_pb2.Run:
    """Streams one run of a new scripted agent to its end; returns the run record."""
    agent = await create_agent(stubs, SCRIPT)
    events = await collect(
        stubs.runs.StreamRun(
            run_service_pb2.StreamRunRequest(agent_id=agent.agent_id, prompt="hello")
        )
    )
    run_id = events[0].run_id
    response = await stubs.runs.GetRun(run_service_pb2.GetRunRequest(run_id=run_id))
    return cast("run_pb2.Run", response.run)


async def test_a_server_with_the_password_file_stores_its_runs_in_redis(
    locked_redis: RedisServer, password_file: pathlib.Path
) -> None:
    settings = server_settings(
        "in_process_redis",
        redis_url=locked_redis.url,
        temporal_address="",
        redis_password_file=password_file,
    )
    async with running_server(settings) as server, Stubs.connect(server.addresses[0]) as stubs:
        run = await run_once(stubs)
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED, run
    assert await keys_with_prefix(locked_redis, settings.redis_prefix)


async def test_a_password_in_the_url_still_works(locked_redis: RedisServer) -> None:
    settings = server_settings(
        "in_process_redis",
        redis_url=locked_redis.url.replace("redis://", f"redis://:{PASSWORD}@"),
        temporal_address="",
    )
    assert settings.redis_password_file is None
    async with running_server(settings) as server, Stubs.connect(server.addresses[0]) as stubs:
        run = await run_once(stubs)
    assert run.state == run_pb2.RUN_STATE_SUCCEEDED, run
    assert await keys_with_prefix(locked_redis, settings.redis_prefix)


async def test_serve_and_a_separate_worker_run_a_durable_run_with_the_file(
    locked_redis: RedisServer,
    password_file: pathlib.Path,
    temporal_address: str,
    tmp_path: pathlib.Path,
) -> None:
    """The worker's activities publish the run's events into the locked Redis."""
    async with deployment(
        redis_url=locked_redis.url, temporal_address=temporal_address, directory=tmp_path
    ) as deployed:
        deployed.env["RUNWIRE_REDIS_PASSWORD_FILE"] = str(password_file)
        port = free_port()
        await deployed.start_service(port, bind_retry_seconds=10)
        await deployed.start_worker()
        async with Stubs.connect(f"127.0.0.1:{port}") as stubs:
            run = await run_once(stubs)
        assert run.state == run_pb2.RUN_STATE_SUCCEEDED, run
        assert run.runtime == agent_pb2.RUNTIME_TEMPORAL, run
        prefix = deployed.env["RUNWIRE_REDIS_PREFIX"]
        assert await keys_with_prefix(locked_redis, prefix)


def start_command(command: str) -> list[str]:
    """``runwire serve`` on loopback, or ``runwire worker``."""
    return ["serve", "--listen", "127.0.0.1:0"] if command == "serve" else ["worker"]


def start_env(redis_url: str, **variables: str) -> dict[str, str]:
    """The environment of a start: Redis at ``redis_url``, and a Temporal address a
    worker needs (nothing listens there: a worker that got past Redis would fail on it)."""
    return _env() | {
        "RUNWIRE_REDIS_URL": redis_url,
        "RUNWIRE_TEMPORAL_ADDRESS": f"127.0.0.1:{closed_port()}",
        "RUNWIRE_TEMPORAL_EMBEDDED_WORKER": "false",
        **variables,
    }


@pytest.mark.parametrize("command", ["serve", "worker"])
async def test_a_wrong_password_stops_the_start_with_one_line(
    command: str, locked_redis: RedisServer, tmp_path: pathlib.Path
) -> None:
    wrong = tmp_path / "redis-password"
    wrong.write_text("not-" + PASSWORD)
    env = start_env(locked_redis.url, RUNWIRE_REDIS_PASSWORD_FILE=str(wrong))
    result = await runwire(*start_command(command), env=env)
    assert result.returncode == 2, result
    assert_one_clean_line(result.stderr)
    assert "refused the credentials" in result.stderr, result.stderr
    assert f"RUNWIRE_REDIS_PASSWORD_FILE {wrong}" in result.stderr, result.stderr
    assert "Temporal" not in result.stderr  # it stopped at Redis, before Temporal
    assert PASSWORD not in result.stderr
    assert "serving on" not in result.stdout


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("no password", "set RUNWIRE_REDIS_PASSWORD_FILE"),
        ("missing file", "cannot read RUNWIRE_REDIS_PASSWORD_FILE"),
        ("empty file", "is empty"),
        ("password twice", "redis_url or redis_password_file, not both"),
    ],
)
async def test_a_password_missing_or_given_twice_stops_serve(
    problem: str, message: str, locked_redis: RedisServer, tmp_path: pathlib.Path
) -> None:
    redis_url, variables = locked_redis.url, {}
    file = tmp_path / "redis-password"
    if problem == "missing file":
        variables["RUNWIRE_REDIS_PASSWORD_FILE"] = str(file)
    elif problem == "empty file":
        file.write_text(" \n")
        variables["RUNWIRE_REDIS_PASSWORD_FILE"] = str(file)
    elif problem == "password twice":
        file.write_text(PASSWORD)
        redis_url = redis_url.replace("redis://", f"redis://:{PASSWORD}@")
        variables["RUNWIRE_REDIS_PASSWORD_FILE"] = str(file)
    result = await runwire(*start_command("serve"), env=start_env(redis_url, **variables))
    assert result.returncode == 2, result
    assert_one_clean_line(result.stderr)
    assert message in result.stderr, result.stderr
    assert PASSWORD not in result.stderr


def test_the_settings_never_print_the_redis_password(password_file: pathlib.Path) -> None:
    url = SecretStr(f"redis://:{PASSWORD}@127.0.0.1:6379/0")
    settings = Settings(redis_url=url)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)
    with pytest.raises(pydantic.ValidationError) as twice:
        Settings(redis_url=url, redis_password_file=password_file)
    assert PASSWORD not in str(twice.value)
    with pytest.raises(pydantic.ValidationError, match="needs redis_url"):
        Settings(redis_password_file=password_file)


async def test_an_unreachable_redis_does_not_stop_the_start(password_file: pathlib.Path) -> None:
    """Only refused credentials stop a start: a Redis not up yet is retried by each call."""
    settings = Settings(
        redis_url=SecretStr(f"redis://127.0.0.1:{closed_port()}/0"),
        redis_password_file=password_file,
    )
    stores = build_stores(settings)
    try:
        assert stores.redis_client is not None
        assert stores.redis_client.connection_pool.connection_kwargs["password"] == PASSWORD
    finally:
        await stores.aclose()
