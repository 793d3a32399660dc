"""A throwaway ``redis-server`` on loopback for tests.

``start_redis()`` starts one on a free 127.0.0.1 port in a temporary
directory, without persistence (with ``password``: requiring it), and returns
when it answers PING;
``RedisServer.stop()`` terminates it (killed after 5 s) and removes the
directory. ``running_redis()`` wraps both as an async context manager.

``OwnRedis`` is one a test kills (``kill -9``) or stops, and starts again on the same port
and files, with or without the append-only file (Redis restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as redis

from runwire_server.service.stores.redis_client import reply

#: Seconds to wait for a started server to answer PING (generous: a busy machine
#: starts processes slowly; a passing start waits only as long as it must).
START_TIMEOUT = 30.0
#: Seconds between SIGTERM and SIGKILL when stopping.
STOP_GRACE = 5.0
_PORT_ATTEMPTS = 3


@dataclass
class RedisServer:
    """A running ``redis-server``.

    Attributes:
        url: ``redis://127.0.0.1:<port>/0`` (without the password).
        process: The server process.
        directory: Its working directory (log file ``redis.log``), removed by ``stop``.
        password: The password it requires (``requirepass``), if any.
    """

    url: str
    process: subprocess.Popen[bytes]
    directory: Path
    password: str | None = None

    async def stop(self) -> None:
        """Terminates the server (SIGKILL after ``STOP_GRACE`` s) and removes its directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)
        shutil.rmtree(self.directory, ignore_errors=True)


def _executable() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(
            "redis-server is not installed; the Redis store tests need it. "
            "Run scripts/bootstrap.sh --dev (or install the redis-server package)."
        )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_redis(*, password: str | None = None) -> RedisServer:
    """Starts ``redis-server`` on a free loopback port and waits for PING.

    Args:
        password: The password it requires of every client (``requirepass``); None: none.

    Returns:
        The running server; call ``stop()`` when done.

    Raises:
        RuntimeError: ``redis-server`` is missing, or did not answer within
            ``START_TIMEOUT`` seconds (the message has the end of its log).
    """
    executable = _executable()
    failure = ""
    for _ in range(_PORT_ATTEMPTS):  # another process may take the port first
        directory = Path(tempfile.mkdtemp(prefix="runwire-redis-"))
        port = _free_port()
        command = [
            executable,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
            "--logfile", str(directory / "redis.log"),
            *(["--requirepass", password] if password is not None else []),
        ]  # fmt: skip
        process = await asyncio.to_thread(
            subprocess.Popen, command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        server = RedisServer(
            url=f"redis://127.0.0.1:{port}/0",
            process=process,
            directory=directory,
            password=password,
        )
        if await _answers_ping(server):
            return server
        failure = _log_tail(directory)
        await server.stop()
    raise RuntimeError(f"redis-server did not start; its log ends with:\n{failure}")


async def _answers_ping(server: RedisServer) -> bool:
    client = redis.Redis.from_url(server.url, password=server.password)
    try:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if await reply(client.ping()):
                    return True
            except redis.ConnectionError:
                await asyncio.sleep(0.02)
        return False
    finally:
        await client.aclose()


def _log_tail(directory: Path) -> str:
    try:
        return "\n".join((directory / "redis.log").read_text().splitlines()[-20:])
    except OSError:
        return "(no log)"


@asynccontextmanager
async def running_redis(*, password: str | None = None) -> AsyncIterator[RedisServer]:
    """``start_redis(password=...)`` for the duration of an ``async with`` block."""
    server = await start_redis(password=password)
    try:
        yield server
    finally:
        await server.stop()


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listened on a moment ago."""
    return _free_port()


@dataclass
class OwnRedis:
    """A redis-server of a test's own, restartable on the same port and files.

    ``appendonly``: the append-only file on, in ``directory``, fsync'ed as
    ``appendfsync`` says (``always`` by default: a ``kill`` loses nothing, so tests
    can count events).
    """

    directory: Path
    port: int
    appendonly: bool
    process: subprocess.Popen[bytes] | None = None
    appendfsync: str = "always"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Starts redis-server and waits until it answers PING (its data loaded)."""
        persistence = ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        self.process = await asyncio.to_thread(
            subprocess.Popen,
            [
                _executable(),
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *(persistence if self.appendonly else ["--appendonly", "no"]),
                *("--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        try:
            deadline = asyncio.get_running_loop().time() + START_TIMEOUT
            while asyncio.get_running_loop().time() < deadline:
                with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                    if await reply(client.ping()):
                        return
                await asyncio.sleep(0.02)
            log = _log_tail(self.directory)
            pytest.fail(f"redis-server did not start; its log ends with:\n{log}")
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """``kill -9``: no shutdown, no last write."""
        assert self.process is not None
        self.process.kill()
        await asyncio.to_thread(self.process.wait)

    async def stop(self) -> None:
        """SIGTERM: a clean shutdown (the append-only file is fsync'ed first)."""
        assert self.process is not None
        self.process.terminate()
        await asyncio.to_thread(self.process.wait)
